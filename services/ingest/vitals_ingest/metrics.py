"""Prometheus metrics of the ingest stage, fed by a StreamingQueryListener on the driver."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from pyspark.sql.streaming import StreamingQueryListener

ARCHIVED_OBSERVATION = "archived"
# The reason codes that `transform.parse_records` assigns to bad records.
DEAD_LETTER_REASONS = (
    "empty_value",
    "malformed_json",
    "invalid_field_type",
    "missing_required_field",
    "unsupported_schema_version",
    "no_vital_sign",
    "invalid_vital_value",
)

INPUT_ROWS = Counter("vitals_ingest_input_rows_total", "Kafka records read", ["query"])
ROWS_ARCHIVED = Counter("vitals_ingest_rows_archived_total", "valid readings appended to the parquet archive")
DEAD_LETTERS = Counter("vitals_ingest_dead_letters_total", "records sent to the dead-letter topic", ["reason"])
BATCH_DURATION = Histogram(
    "vitals_ingest_batch_duration_seconds",
    "wall time of one micro-batch",
    ["query"],
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
INPUT_RATE = Gauge("vitals_ingest_input_rows_per_second", "input rate of the last micro-batch", ["query"])
PROCESSING_RATE = Gauge(
    "vitals_ingest_processed_rows_per_second", "processing rate of the last micro-batch", ["query"]
)
OFFSETS_BEHIND = Gauge(
    "vitals_ingest_kafka_max_offsets_behind_latest",
    "largest number of records in one Kafka partition after the query's end offset at its last micro-batch",
    ["query"],
)
LAST_PROGRESS = Gauge(
    "vitals_ingest_last_progress_timestamp_seconds",
    "Unix time of the query's last progress or idle report; a query that stops reporting is stalled",
    ["query"],
)


def init_labels(query_names: tuple[str, ...]) -> None:
    """Create the labelled series with value 0, so that dashboards and rate() see them before the first record."""
    for reason in DEAD_LETTER_REASONS:
        DEAD_LETTERS.labels(reason)
    for name in query_names:
        INPUT_ROWS.labels(name)
        BATCH_DURATION.labels(name)


class IngestProgressListener(StreamingQueryListener):
    """Turns each query's progress report into the metrics above."""

    def __init__(self, archive_query_name: str):
        self.archive_query_name = archive_query_name
        # Idle events carry the query id only.
        self._names: dict[str, str] = {}

    def onQueryStarted(self, event) -> None:  # noqa: N802 (pyspark naming)
        self._names[str(event.id)] = event.name or "unnamed"

    def onQueryProgress(self, event) -> None:  # noqa: N802
        progress = event.progress
        name = progress.name or "unnamed"
        rows = progress.numInputRows or 0
        INPUT_ROWS.labels(name).inc(rows)
        # The file sink reports no row count, so the archive query counts its rows with observe().
        observed = (progress.observedMetrics or {}).get(ARCHIVED_OBSERVATION)
        if name == self.archive_query_name and observed is not None:
            ROWS_ARCHIVED.inc(observed["rows"] or 0)
        duration_ms = (progress.durationMs or {}).get("triggerExecution")
        if duration_ms is not None:
            BATCH_DURATION.labels(name).observe(duration_ms / 1000.0)
        INPUT_RATE.labels(name).set(progress.inputRowsPerSecond or 0.0)
        PROCESSING_RATE.labels(name).set(progress.processedRowsPerSecond or 0.0)
        behind = offsets_behind(progress.sources or [])
        if behind is not None:
            OFFSETS_BEHIND.labels(name).set(behind)
        LAST_PROGRESS.labels(name).set_to_current_time()

    def onQueryIdle(self, event) -> None:  # noqa: N802
        # Spark reports an idle query every spark.sql.streaming.noDataProgressEventInterval (10 s).
        LAST_PROGRESS.labels(self._names.get(str(event.id), "unnamed")).set_to_current_time()

    def onQueryTerminated(self, event) -> None:  # noqa: N802
        pass


def offsets_behind(sources) -> float | None:
    """Return the largest `maxOffsetsBehindLatest` of the query's Kafka sources, or None when none reports it."""
    values = [
        float(source.metrics["maxOffsetsBehindLatest"])
        for source in sources
        if source.metrics and source.metrics.get("maxOffsetsBehindLatest") is not None
    ]
    return max(values) if values else None
