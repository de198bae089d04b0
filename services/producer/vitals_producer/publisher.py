"""Idempotent Kafka producer whose delivery callbacks feed the metrics and the high-water mark."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from confluent_kafka import KafkaError, Producer

from vitals_common.settings import KafkaSettings

from vitals_producer import metrics
from vitals_producer.progress_store import DeliveryTracker

log = logging.getLogger(__name__)


class KafkaProducerLike(Protocol):
    """The part of confluent_kafka.Producer the publisher uses; tests pass a fake."""

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Callable[..., None]) -> None: ...

    def poll(self, timeout: float) -> int: ...

    def flush(self, timeout: float) -> int: ...


def build_kafka_producer(kafka: KafkaSettings, delivery_timeout_s: float) -> Producer:
    """Create a producer with idempotence and acks=all, so retries neither duplicate nor reorder messages."""
    config: dict[str, Any] = {
        **kafka.client_config(),
        "enable.idempotence": True,
        "acks": "all",
        "message.timeout.ms": int(delivery_timeout_s * 1000),
        "linger.ms": 5,
        "error_cb": _log_client_error,
    }
    return Producer(config)


def _log_client_error(error: KafkaError) -> None:
    # librdkafka retries broker connections by itself; these are reports, fatal ones stop the run
    # through the failed deliveries they cause.
    log.warning("Kafka client error", extra={"error": error.str(), "code": error.name(), "fatal": error.fatal()})


class Publisher:
    """Sends messages keyed by order key and records each delivery result in the tracker."""

    def __init__(
        self,
        producer: KafkaProducerLike,
        tracker: DeliveryTracker,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.producer = producer
        self.tracker = tracker
        self.monotonic = monotonic
        self.delivered = 0
        self.failed = 0

    def send(self, topic: str, key: bytes, value: bytes, order_key: Any) -> None:
        """Queue one message; its delivery callback runs in a later poll() or flush()."""
        self.tracker.register(order_key)
        sent_at = self.monotonic()

        def on_delivery(error: KafkaError | None, _message: object) -> None:
            metrics.DELIVERY_LATENCY.observe(self.monotonic() - sent_at)
            if error is None:
                self.delivered += 1
                metrics.MESSAGES_PRODUCED.labels(topic=topic).inc()
                self.tracker.confirm(order_key)
                return
            self.failed += 1
            metrics.MESSAGES_FAILED.labels(topic=topic).inc()
            self.tracker.fail(order_key, error.str() if hasattr(error, "str") else str(error))
            log.error(
                "Kafka delivery failed", extra={"topic": topic, "order_key": order_key, "error": str(error)}
            )

        while True:
            try:
                self.producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                # The local queue is full: serve delivery callbacks until there is room.
                self.producer.poll(0.5)
        self.producer.poll(0)

    def skip(self, order_key: Any) -> None:
        """Record a row that needs no message, so the high-water mark can move past it."""
        self.tracker.register(order_key)
        self.tracker.confirm(order_key)

    def poll(self, timeout: float = 0.0) -> None:
        self.producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for outstanding deliveries; return how many are still outstanding."""
        return self.producer.flush(timeout)
