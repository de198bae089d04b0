"""The notifier's consumer loop: one alert at a time, offset committed only after SNS accepted it."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from pydantic import ValidationError

from vitals_common.alerts import Alert
from vitals_common.labels import OVERFLOW_VALUE
from vitals_common.settings import KafkaSettings
from vitals_common.vitals import VITAL_NAMES

from vitals_notifier import metrics
from vitals_notifier.dedup_store import PENDING, DedupStore
from vitals_notifier.dedup_store import SENT as SENT_STATUS
from vitals_notifier.message import render_message
from vitals_notifier.settings import NotifierSettings
from vitals_notifier.sns_publisher import SnsPublisher

log = logging.getLogger(__name__)

SENT = "sent"
DEDUPLICATED = "deduplicated"
DEAD_LETTER = "dead_letter"

# Seconds between two log lines of the same consumer error code.
ERROR_LOG_INTERVAL_S = 60.0
DEAD_LETTER_FLUSH_TIMEOUT_S = 30.0


class DeadLetterFailed(RuntimeError):
    """The dead-letter topic did not confirm a message, so the bad alert's offset stays uncommitted."""


def parse_alert(value: bytes | None) -> tuple[Alert | None, str | None]:
    """Return the parsed alert, or None and a reason that names fields but never their values."""
    if value is None:
        return None, "empty_message"
    try:
        return Alert.from_json(value), None
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())
        return None, f"invalid_alert: {fields}"
    except (ValueError, TypeError) as exc:
        return None, f"invalid_json: {exc.__class__.__name__}"


class DeadLetterSender:
    """Sends unparsable alerts to the dead-letter topic and waits for Kafka to confirm each one."""

    def __init__(self, kafka: KafkaSettings, topic: str, producer: Any = None):
        self.topic = topic
        self.producer = producer or Producer(
            {**kafka.client_config(), "enable.idempotence": True, "acks": "all", "linger.ms": 0}
        )

    def send(self, key: bytes, body: dict[str, Any]) -> None:
        errors: list[KafkaError] = []

        def on_delivery(error: KafkaError | None, _message: object) -> None:
            if error is not None:
                errors.append(error)

        self.producer.produce(self.topic, key=key, value=json.dumps(body).encode(), on_delivery=on_delivery)
        outstanding = self.producer.flush(DEAD_LETTER_FLUSH_TIMEOUT_S)
        if errors or outstanding:
            reason = errors[0].str() if errors else f"not confirmed within {DEAD_LETTER_FLUSH_TIMEOUT_S:g} s"
            raise DeadLetterFailed(f"dead-letter topic {self.topic} did not accept the message: {reason}")


class AlertProcessor:
    """Handles one consumed message: de-duplicate, publish to SNS and record, or dead-letter it."""

    def __init__(
        self,
        dedup: DedupStore,
        publisher: SnsPublisher,
        dead_letters: DeadLetterSender,
        wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ):
        self.dedup = dedup
        self.publisher = publisher
        self.dead_letters = dead_letters
        self.wall = wall

    def process(self, value: bytes | None, topic: str, partition: int, offset: int) -> str:
        """Return SENT, DEDUPLICATED or DEAD_LETTER; raise when the offset must not be committed."""
        metrics.ALERTS_CONSUMED.inc()
        alert, problem = parse_alert(value)
        if alert is None:
            body = {
                "reason": problem,
                "stage": "notifier",
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "raw": None if value is None else value.decode("utf-8", "replace"),
            }
            self.dead_letters.send(f"{topic}/{partition}/{offset}".encode(), body)
            metrics.DEAD_LETTERS.inc()
            log.warning(
                "alert sent to the dead-letter topic",
                extra={"reason": problem, "partition": partition, "offset": offset},
            )
            return DEAD_LETTER

        previous = self.dedup.status(alert.alert_id)
        if previous == SENT_STATUS:
            metrics.MESSAGES_DEDUPLICATED.inc()
            log.info("alert already sent, skipped", extra={"alert_id": alert.alert_id, "offset": offset})
            return DEDUPLICATED

        possible_duplicate = previous == PENDING
        if possible_duplicate:
            log.warning(
                "re-sending an alert whose earlier send was interrupted",
                extra={"alert_id": alert.alert_id, "offset": offset},
            )
        self.dedup.mark_pending(alert.alert_id, self.wall())
        message_id = self.publisher.publish(render_message(alert, possible_duplicate), alert.alert_id)
        accepted_at = self.wall()
        metrics.MESSAGES_SENT.labels(ward=metrics.WARD_LABELS.value(alert.ward), vital=vital_label(alert.vital)).inc()
        metrics.END_TO_END_LATENCY.observe(max((accepted_at - alert.event_time).total_seconds(), 0.0))
        # A crash here, after SNS accepted and before the id is marked sent, re-sends this alert
        # once, flagged as a possible duplicate.
        self.dedup.record(alert.alert_id, accepted_at)
        log.info(
            "alert sent",
            extra={"alert_id": alert.alert_id, "sns_message_id": message_id, "partition": partition, "offset": offset},
        )
        return SENT


def vital_label(vital: str) -> str:
    """Return the vital as a metric label value; names outside the known vitals become "other"."""
    return vital if vital in VITAL_NAMES else OVERFLOW_VALUE


def build_consumer(settings: NotifierSettings) -> Consumer:
    return Consumer(
        {
            **settings.kafka.client_config(),
            "group.id": settings.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )


class NotifierLoop:
    """Polls the alerts topic and commits each message's offset synchronously after it is handled."""

    def __init__(
        self,
        consumer: Any,
        processor: AlertProcessor,
        settings: NotifierSettings,
        stop_event: threading.Event,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.consumer = consumer
        self.processor = processor
        self.settings = settings
        self.stop_event = stop_event
        self.monotonic = monotonic
        self.counts = {SENT: 0, DEDUPLICATED: 0, DEAD_LETTER: 0}
        self._replayed: set[tuple[str, int]] = set()
        self._last_error_log: dict[int, float] = {}
        self._next_lag_update = monotonic()
        self._last_lag_error_log = float("-inf")

    def on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        """Seek newly assigned partitions to the beginning when replay was requested, once per partition."""
        if self.settings.replay_from_beginning:
            for partition in partitions:
                key = (partition.topic, partition.partition)
                if key not in self._replayed:
                    partition.offset = OFFSET_BEGINNING
                    self._replayed.add(key)
        consumer.assign(partitions)
        log.info("partitions assigned", extra={"partitions": ",".join(str(p.partition) for p in partitions)})

    def run(self) -> dict[str, int]:
        """Consume until a stop is requested; return the count of each outcome.

        Raises PublishFailed or DeadLetterFailed, leaving that message's offset uncommitted.
        """
        self.consumer.subscribe([self.settings.topic], on_assign=self.on_assign)
        log.info("consuming alerts", extra={"topic": self.settings.topic, "group_id": self.settings.group_id})
        try:
            while not self.stop_event.is_set():
                self._update_lag()
                message = self.consumer.poll(self.settings.poll_timeout_s)
                if message is None:
                    continue
                if message.error():
                    self._handle_consumer_error(message.error())
                    continue
                outcome = self.processor.process(
                    message.value(), message.topic(), message.partition(), message.offset()
                )
                self.counts[outcome] += 1
                self._commit(message)
        finally:
            self.consumer.close()
            log.info("consumer closed", extra=dict(self.counts))
        return self.counts

    def _commit(self, message: Any) -> None:
        try:
            self.consumer.commit(message=message, asynchronous=False)
        except KafkaException as exc:
            # The alert is sent and its id stored, so a redelivery after this failure is skipped.
            log.warning(
                "offset commit failed; a redelivery will be de-duplicated",
                extra={"partition": message.partition(), "offset": message.offset(), "error": str(exc.args[0])},
            )

    def _handle_consumer_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        now = self.monotonic()
        if now - self._last_error_log.get(error.code(), float("-inf")) >= ERROR_LOG_INTERVAL_S:
            self._last_error_log[error.code()] = now
            log.warning("Kafka consumer error", extra={"code": error.name(), "error": error.str()})

    def _update_lag(self) -> None:
        now = self.monotonic()
        if now < self._next_lag_update:
            return
        self._next_lag_update = now + self.settings.lag_every_s
        try:
            assignment = self.consumer.assignment()
            if not assignment:
                return
            for partition in self.consumer.committed(assignment, timeout=5):
                low, high = self.consumer.get_watermark_offsets(partition, timeout=5)
                start = partition.offset if partition.offset >= 0 else low
                metrics.CONSUMER_LAG.labels(partition=str(partition.partition)).set(max(high - start, 0))
        except KafkaException as exc:
            # The gauge keeps its last value; the next update retries after lag_every_s.
            if now - self._last_lag_error_log >= ERROR_LOG_INTERVAL_S:
                self._last_lag_error_log = now
                log.warning("cannot update consumer lag", extra={"topic": self.settings.topic, "error": str(exc.args[0])})
