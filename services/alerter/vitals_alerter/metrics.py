"""Prometheus metrics of the alerter stage."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from pyspark.sql.streaming import StreamingQueryListener

READINGS_EVALUATED = Counter(
    "vitals_alerter_readings_evaluated_total", "vital-sign values compared with the thresholds", ["vital"]
)
ALERTS = Counter("vitals_alerter_alerts_total", "alerts written to the alert topic", ["vital", "rule_id"])
UNROUTED = Counter(
    "vitals_alerter_unrouted_readings_total",
    "vital-sign values that reached no clinician, by reason (no_contact, no_age_band, no_range_band)",
    ["reason"],
)
NOT_EVALUATED = Counter(
    "vitals_alerter_not_evaluated_total", "vital-sign values with no rule in the threshold table", ["vital"]
)
THRESHOLD_RULES = Gauge("vitals_alerter_threshold_rules", "rules in the threshold table in use")
THRESHOLD_VERSION = Gauge(
    "vitals_alerter_threshold_table_info", "content version of the threshold table in use", ["version"]
)
REFERENCE_LOADED = Gauge(
    "vitals_alerter_reference_loaded_timestamp_seconds",
    "Unix time of the last successful load of the table (thresholds or contacts); a failed reload leaves it",
    ["table"],
)
REFERENCE_LOAD_FAILURES = Counter(
    "vitals_alerter_reference_load_failures_total", "failed reloads; the previous tables stay in use", ["table"]
)
BATCH_DURATION = Histogram(
    "vitals_alerter_batch_duration_seconds",
    "wall time of one micro-batch",
    buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120),
)
EVENT_TIME_LAG = Gauge(
    "vitals_alerter_event_time_lag_seconds", "age of the newest reading's event time when its batch finished"
)
LAST_PROGRESS = Gauge(
    "vitals_alerter_last_progress_timestamp_seconds",
    "Unix time of the query's last progress or idle report; a query that stops reporting is stalled",
)

REFERENCE_TABLES = ("thresholds", "contacts")


def init_labels(vitals: tuple[str, ...], unrouted_reasons: tuple[str, ...]) -> None:
    """Create the labelled series with value 0, so that dashboards and rate() see them before the first reading."""
    for vital in vitals:
        READINGS_EVALUATED.labels(vital)
        NOT_EVALUATED.labels(vital)
    for reason in unrouted_reasons:
        UNROUTED.labels(reason)
    for table in REFERENCE_TABLES:
        REFERENCE_LOAD_FAILURES.labels(table)


class ProgressListener(StreamingQueryListener):
    """Records when the streaming query last reported progress or idleness."""

    def onQueryStarted(self, event) -> None:  # noqa: N802 (pyspark naming)
        LAST_PROGRESS.set_to_current_time()

    def onQueryProgress(self, event) -> None:  # noqa: N802
        LAST_PROGRESS.set_to_current_time()

    def onQueryIdle(self, event) -> None:  # noqa: N802
        # Spark reports an idle query every spark.sql.streaming.noDataProgressEventInterval (10 s).
        LAST_PROGRESS.set_to_current_time()

    def onQueryTerminated(self, event) -> None:  # noqa: N802
        pass
