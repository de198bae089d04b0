"""Prometheus metrics of the producer, in the default registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ROWS_READ = Counter("vitals_producer_rows_read_total", "Rows read from the source table")
MESSAGES_PRODUCED = Counter(
    "vitals_producer_messages_produced_total",
    "Messages Kafka confirmed, by topic (the vitals topic and the dead-letter topic)",
    ["topic"],
)
MESSAGES_FAILED = Counter(
    "vitals_producer_messages_failed_total", "Messages whose delivery Kafka reported failed, by topic", ["topic"]
)
DEAD_LETTERS = Counter(
    "vitals_producer_dead_letters_total", "Rows sent to the dead-letter topic, by reason", ["reason"]
)
ROWS_SKIPPED = Counter(
    "vitals_producer_rows_skipped_total", "Rows not sent because PRODUCER_VITALS leaves none of their vitals"
)
DELIVERY_LATENCY = Histogram(
    "vitals_producer_delivery_latency_seconds",
    "Seconds from produce() to Kafka's delivery confirmation",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SOURCE_LAG = Gauge("vitals_producer_source_lag_rows", "Rows in the source table after the high-water mark")


def init_labels(topics: tuple[str, ...], reasons: tuple[str, ...]) -> None:
    """Create the labelled series with value 0, so that dashboards and rate() see them before the first event."""
    for topic in topics:
        MESSAGES_PRODUCED.labels(topic=topic)
        MESSAGES_FAILED.labels(topic=topic)
    for reason in reasons:
        DEAD_LETTERS.labels(reason=reason)
