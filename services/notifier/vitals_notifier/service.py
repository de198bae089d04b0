"""Start-up of the notifier: check Kafka, SNS and the dedup store, then run the consumer loop."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from vitals_common.health import HealthState, serve_health
from vitals_common.kafka_admin import check_kafka, ensure_topic

from vitals_notifier.consumer import AlertProcessor, DeadLetterSender, NotifierLoop, build_consumer
from vitals_notifier.dedup_store import DedupStore
from vitals_notifier.settings import NotifierSettings
from vitals_notifier.sns_publisher import SnsPublisher, build_sns_client, resolve_topic_arn

log = logging.getLogger(__name__)

# Timeout of the requests behind /readyz; a probe must respond before the kubelet times out.
READINESS_TIMEOUT_S = 2.0


def run_notifier(settings: NotifierSettings, stop_event: threading.Event) -> dict[str, int]:
    """Check every dependency, then consume alerts until a stop request; return the outcome counts.

    Raises StartupError (exit 2) for an unreachable Kafka, SNS or dedup store.
    """
    admin = check_kafka(settings.kafka, settings.startup_timeout_s)
    ensure_topic(admin, settings.dead_letter_topic, 1, 1, settings.startup_timeout_s)
    if settings.topic not in admin.list_topics(timeout=settings.startup_timeout_s).topics:
        log.warning("alerts topic does not exist yet; waiting for the alerter to create it",
                    extra={"topic": settings.topic})

    client = build_sns_client(settings)
    topic_arn = resolve_topic_arn(client, settings)
    dedup = DedupStore.open(settings.dedup_url)
    pruned = dedup.prune(timedelta(hours=settings.dedup_retention_h))
    log.info("dedup store ready", extra={"pruned": pruned, "retention_h": settings.dedup_retention_h})

    publisher = SnsPublisher(
        client,
        topic_arn,
        max_retries=settings.max_retries,
        base_s=settings.retry_base_s,
        max_s=settings.retry_max_s,
        stop_event=stop_event,
    )
    health = HealthState()
    health.add_check("kafka", lambda: admin.list_topics(timeout=READINESS_TIMEOUT_S) is not None)
    health.add_check("sns", publisher.check)
    server = serve_health(settings.metrics_host, settings.metrics_port, health)

    processor = AlertProcessor(dedup, publisher, DeadLetterSender(settings.kafka, settings.dead_letter_topic))
    loop = NotifierLoop(build_consumer(settings), processor, settings, stop_event)
    try:
        return loop.run()
    finally:
        health.alive = False
        if server is not None:
            server.shutdown()
        dedup.close()
