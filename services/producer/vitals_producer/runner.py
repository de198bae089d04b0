"""The producer's main loop: read pages of rows, pace them, send events or dead letters, keep progress."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from vitals_producer import metrics
from vitals_producer.pacing import Pacer
from vitals_producer.progress_store import ProgressStore
from vitals_producer.publisher import Publisher
from vitals_producer.row_mapping import RejectedRow, RowMapper, build_event, raw_row
from vitals_producer.settings import ProducerSettings
from vitals_producer.source import SourceTable

log = logging.getLogger(__name__)

# Dead letters are logged one line each up to this many per reason, then counted only.
MAX_DEAD_LETTER_LOGS_PER_REASON = 100
# Minimum seconds between two writes of the progress file while rows keep coming. A crash (unlike
# SIGTERM, which saves on exit) can lose this much progress, so a restart resends those rows with
# the same event ids.
PROGRESS_SAVE_INTERVAL_S = 1.0
# Maximum single wait in seconds, so a stop request and delivery callbacks are served promptly.
MAX_WAIT_STEP_S = 0.2


class ProducerError(RuntimeError):
    """The run stopped before the end; the message states why and where a restart resumes."""


class DeliveryFailed(ProducerError):
    """Kafka rejected a message or did not confirm it in time; the run stopped before that row."""


class InvalidOrderColumn(ProducerError):
    """The order column's values are not unique, increasing integers or strings."""


@dataclass
class RunStats:
    rows_read: int = 0
    events_sent: int = 0
    dead_letters: int = 0
    skipped: int = 0


class ProducerRun:
    """One run over the source table, from the saved high-water mark to the end (or forever)."""

    def __init__(
        self,
        settings: ProducerSettings,
        source: SourceTable,
        mapper: RowMapper,
        publisher: Publisher,
        store: ProgressStore,
        pacer: Pacer,
        stop_event: threading.Event,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self.source = source
        self.mapper = mapper
        self.publisher = publisher
        self.tracker = publisher.tracker
        self.store = store
        self.pacer = pacer
        self.stop_event = stop_event
        self.monotonic = monotonic
        self.stats = RunStats()
        self._dead_letter_logs: Counter[str] = Counter()
        self._saved_mark: Any = self.tracker.high_water_mark
        self._last_save = monotonic()
        self._started = monotonic()
        self._next_progress_log = self._started + settings.progress_every_s

    def run(self) -> RunStats:
        """Send rows until the end of the table, PRODUCER_MAX_ROWS, a stop request or a failed delivery.

        Raises DeliveryFailed or InvalidOrderColumn after saving the high-water mark of the confirmed rows.
        """
        log.info(
            "producer run started",
            extra={"table": self.source.name, "resume_after": self.tracker.high_water_mark, "pacing": self.pacer.mode},
        )
        self._update_source_lag()
        try:
            self._send_rows()
        finally:
            outstanding = self.publisher.flush(self.settings.flush_timeout_s)
            self._save_progress(force=True)
            self._log_progress(final=True)
        self._raise_on_failure()
        if outstanding:
            raise DeliveryFailed(
                f"{outstanding} message(s) were not confirmed within PRODUCER_FLUSH_TIMEOUT_S="
                f"{self.settings.flush_timeout_s:g}; progress is saved at order key "
                f"{self.tracker.high_water_mark!r} and a restart resends the rest"
            )
        return self.stats

    def _send_rows(self) -> None:
        last_read = self.tracker.high_water_mark
        while not self.stop_event.is_set():
            limit = self._page_limit()
            if limit == 0:
                log.info("reached PRODUCER_MAX_ROWS", extra={"max_rows": self.settings.max_rows})
                return
            rows = self.source.read_after(last_read, limit)
            if not rows:
                if self.settings.stop_at_end:
                    log.info("reached the end of the source table", extra={"table": self.source.name})
                    return
                self._idle(self.settings.poll_interval_s)
                continue
            for row in rows:
                key = self._order_key(row, last_read)
                if not self._process(row, key):
                    return
                last_read = key
                self._raise_on_failure()
                self._save_progress()
                self._log_progress()
                if self.stop_event.is_set():
                    return

    def _page_limit(self) -> int:
        if not self.settings.max_rows:
            return self.settings.batch_size
        return min(self.settings.batch_size, self.settings.max_rows - self.stats.rows_read)

    def _order_key(self, row: Mapping[str, Any], last_read: Any) -> Any:
        key = row[self.settings.order_column]
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise InvalidOrderColumn(
                f"order column {self.settings.order_column!r} has values of type {type(key).__name__}; "
                "use an integer or text column"
            )
        if last_read is not None and not key > last_read:
            raise InvalidOrderColumn(
                f"order column {self.settings.order_column!r} is not unique and increasing "
                f"(key {key!r} after {last_read!r}); set PRODUCER_ORDER_COLUMN to a unique key"
            )
        return key

    def _process(self, row: Mapping[str, Any], key: Any) -> bool:
        """Send one row; return False when a stop request came while it waited for its turn."""
        self.stats.rows_read += 1
        metrics.ROWS_READ.inc()
        try:
            reading = self.mapper.parse(row)
            if reading is None:
                self.publisher.skip(key)
                self.stats.skipped += 1
                metrics.ROWS_SKIPPED.inc()
                return True
            slot = self.pacer.plan(reading.recorded_time)
            event = build_event(reading, self.source.name, slot.event_time)
        except RejectedRow as rejected:
            self._send_dead_letter(row, key, rejected.reason, rejected.detail)
            return True
        if not self._wait_until(slot.due):
            return False
        self.publisher.send(self.settings.topic, event.kafka_key(), event.to_json(), key)
        self.stats.events_sent += 1
        return True

    def _send_dead_letter(self, row: Mapping[str, Any], key: Any, reason: str, detail: str = "") -> None:
        body = {
            "reason": reason,
            "detail": detail,
            "stage": "producer",
            "source_table": self.source.name,
            "order_key": key,
            "raw": raw_row(row),
        }
        value = json.dumps(body, default=str).encode()
        self.publisher.send(self.settings.dead_letter_topic, f"{self.source.name}/{key}".encode(), value, key)
        self.stats.dead_letters += 1
        metrics.DEAD_LETTERS.labels(reason=reason).inc()
        self._dead_letter_logs[reason] += 1
        count = self._dead_letter_logs[reason]
        if count <= MAX_DEAD_LETTER_LOGS_PER_REASON:
            extra = {"reason": reason, "order_key": key, "topic": self.settings.dead_letter_topic}
            if count == MAX_DEAD_LETTER_LOGS_PER_REASON:
                extra["note"] = "further rows with this reason are counted in vitals_producer_dead_letters_total only"
            log.warning("row sent to the dead-letter topic", extra=extra)

    def _wait_until(self, due: float) -> bool:
        """Serve delivery callbacks until `due`; return False when a stop was requested first."""
        while True:
            left = due - self.monotonic()
            if self.stop_event.is_set():
                return False
            if left <= 0:
                return True
            self.publisher.poll(min(left, MAX_WAIT_STEP_S))

    def _idle(self, seconds: float) -> None:
        deadline = self.monotonic() + seconds
        while not self.stop_event.is_set() and self.monotonic() < deadline:
            self.publisher.poll(min(deadline - self.monotonic(), MAX_WAIT_STEP_S))
            self._save_progress()
            self._log_progress()

    def _raise_on_failure(self) -> None:
        if not self.tracker.failures:
            return
        key, error = self.tracker.failures[0]
        raise DeliveryFailed(
            f"Kafka did not accept the message of order key {key!r}: {error}; progress is saved at order key "
            f"{self.tracker.high_water_mark!r} and a restart resends from the row after it"
        )

    def _save_progress(self, force: bool = False) -> None:
        mark = self.tracker.high_water_mark
        if mark == self._saved_mark:
            return
        now = self.monotonic()
        if not force and now - self._last_save < PROGRESS_SAVE_INTERVAL_S:
            return
        self.store.save(mark)
        self._saved_mark = mark
        self._last_save = now

    def _update_source_lag(self) -> int | None:
        """Count the rows after the high-water mark, set the source-lag gauge and return the count."""
        try:
            remaining = self.source.count_after(self.tracker.high_water_mark)
        except SQLAlchemyError as exc:
            log.warning(
                "cannot count the rows remaining", extra={"table": self.source.name, "error": exc.__class__.__name__}
            )
            return None
        metrics.SOURCE_LAG.set(remaining)
        return remaining

    def _log_progress(self, final: bool = False) -> None:
        now = self.monotonic()
        if not final and now < self._next_progress_log:
            return
        self._next_progress_log = now + self.settings.progress_every_s
        remaining = self._update_source_lag()
        elapsed = max(now - self._started, 1e-9)
        log.info(
            "producer finished" if final else "producer progress",
            extra={
                "rows_read": self.stats.rows_read,
                "sent": self.publisher.delivered,
                "failed": self.publisher.failed,
                "dead_letters": self.stats.dead_letters,
                "skipped": self.stats.skipped,
                "rate_per_s": round(self.publisher.delivered / elapsed, 2),
                "rows_remaining": remaining,
                "high_water_mark": self.tracker.high_water_mark,
            },
        )
