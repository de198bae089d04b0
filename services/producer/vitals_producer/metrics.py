"""Prometheus metrics of the producer, in the default registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ROWS_READ = Counter("vitals_producer_rows_read_total", "Rows read from the source table")
MESSAGES_PRODUCED = Counter(
    "vitals_producer_messages_produced_total", "Messages Kafka confirmed, events and dead letters"
)
MESSAGES_FAILED = Counter("vitals_producer_messages_failed_total", "Messages whose delivery Kafka reported failed")
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
