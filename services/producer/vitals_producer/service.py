"""Start-up of the producer: check dependencies, create topics, then build and run the main loop."""

from __future__ import annotations

import logging
import threading

from vitals_common.errors import StartupError
from vitals_common.health import HealthState, serve_health
from vitals_common.kafka_admin import check_kafka, ensure_topic

from vitals_producer import metrics
from vitals_producer.pacing import Pacer
from vitals_producer.progress_store import DeliveryTracker, ProgressStore
from vitals_producer.publisher import Publisher, build_kafka_producer
from vitals_producer.row_mapping import REASON_CODES, build_row_mapper
from vitals_producer.runner import ProducerRun, RunStats
from vitals_producer.settings import ProducerSettings
from vitals_producer.source import SourceTable, create_source_engine

log = logging.getLogger(__name__)

# Timeout of the metadata request behind /readyz; a probe must respond before the kubelet times out.
READINESS_TIMEOUT_S = 2.0


def run_producer(settings: ProducerSettings, stop_event: threading.Event) -> RunStats:
    """Check Kafka and the source table, create the topics, and run until the end or a stop request.

    Raises StartupError (exit 2) for an unreachable Kafka or database, a missing table or column, or
    an unusable progress file.
    """
    admin = check_kafka(settings.kafka, settings.startup_timeout_s)
    ensure_topic(admin, settings.topic, settings.partitions, settings.replication, settings.startup_timeout_s)
    ensure_topic(
        admin, settings.dead_letter_topic, settings.partitions, settings.replication, settings.startup_timeout_s
    )

    source = SourceTable(create_source_engine(settings.source_url), settings.source_table, settings.order_column)
    try:
        mapper = build_row_mapper(settings, source.column_names)
    except ValueError as exc:
        raise StartupError(f"table {settings.source_table!r}: {exc}") from exc
    source.require_columns(mapper.required_columns)

    store = ProgressStore(settings.progress_file, settings.source_table, settings.order_column)
    tracker = DeliveryTracker(store.load())

    metrics.init_labels((settings.topic, settings.dead_letter_topic), REASON_CODES)
    health = HealthState()
    health.add_check("kafka", lambda: admin.list_topics(timeout=READINESS_TIMEOUT_S) is not None)
    server = serve_health(settings.metrics_host, settings.metrics_port, health)

    producer = build_kafka_producer(settings.kafka, settings.delivery_timeout_s)
    pacer = Pacer(settings.pacing, rate_per_s=settings.rate_per_s, speedup=settings.replay_speedup)
    run = ProducerRun(settings, source, mapper, Publisher(producer, tracker), store, pacer, stop_event)
    try:
        return run.run()
    finally:
        health.alive = False
        if server is not None:
            server.shutdown()
        source.engine.dispose()
