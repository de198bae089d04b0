"""Prometheus metrics of the notifier, in the default registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from vitals_common.labels import BoundedLabelValues

ALERTS_CONSUMED = Counter("vitals_notifier_alerts_consumed_total", "Messages read from the alerts topic")
# Number of distinct ward label values; later wards are counted as "other".
MAX_WARD_LABELS = 100

MESSAGES_SENT = Counter(
    "vitals_notifier_messages_sent_total", "Alerts SNS accepted, by ward and vital sign", ["ward", "vital"]
)
WARD_LABELS = BoundedLabelValues(MAX_WARD_LABELS)
MESSAGES_FAILED = Counter(
    "vitals_notifier_messages_failed_total", "Alerts SNS rejected or that still failed after all retries"
)
MESSAGES_DEDUPLICATED = Counter(
    "vitals_notifier_messages_deduplicated_total", "Alerts skipped because the dedup store had their id"
)
DEAD_LETTERS = Counter("vitals_notifier_dead_letters_total", "Unparsable alerts sent to the dead-letter topic")
PUBLISH_RETRIES = Counter("vitals_notifier_sns_publish_retries_total", "SNS publish attempts retried")
SNS_PUBLISH_LATENCY = Histogram(
    "vitals_notifier_sns_publish_latency_seconds",
    "Seconds one successful SNS Publish call took",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CONSUMER_LAG = Gauge(
    "vitals_notifier_consumer_lag_messages",
    "Messages in the partition after the group's committed offset",
    ["partition"],
)
END_TO_END_LATENCY = Histogram(
    "vitals_pipeline_end_to_end_latency_seconds",
    "Seconds from the reading's event_time to SNS accepting its alert",
    buckets=(0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0),
)
