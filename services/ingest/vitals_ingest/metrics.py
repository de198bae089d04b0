"""Prometheus metrics of the ingest stage, fed by a StreamingQueryListener on the driver."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from pyspark.sql.streaming import StreamingQueryListener

ARCHIVED_OBSERVATION = "archived"

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


class IngestProgressListener(StreamingQueryListener):
    """Turns each query's progress report into the metrics above."""

    def __init__(self, archive_query_name: str):
        self.archive_query_name = archive_query_name

    def onQueryStarted(self, event) -> None:  # noqa: N802 (pyspark naming)
        pass

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

    def onQueryIdle(self, event) -> None:  # noqa: N802
        pass

    def onQueryTerminated(self, event) -> None:  # noqa: N802
        pass
