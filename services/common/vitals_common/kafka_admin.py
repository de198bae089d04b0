"""Kafka checks and topic creation through the AdminClient."""

from __future__ import annotations

import logging

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from vitals_common.errors import StartupError
from vitals_common.settings import KafkaSettings

log = logging.getLogger(__name__)


def admin_client(kafka: KafkaSettings) -> AdminClient:
    return AdminClient(kafka.client_config())


def check_kafka(kafka: KafkaSettings, timeout_s: float) -> AdminClient:
    """Return an AdminClient after the cluster returned metadata, else raise StartupError."""
    # librdkafka logs every refused connection (dozens a second), so the probe logs only critical lines and the error below reports the failure once.
    probe = AdminClient({**kafka.client_config(), "log_level": 2})
    try:
        probe.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise StartupError(
            f"Kafka at {kafka.bootstrap_servers} is unreachable ({exc.args[0]}); "
            "start it (make stack-up) or set KAFKA_BOOTSTRAP_SERVERS"
        ) from exc
    return admin_client(kafka)


def ensure_topic(
    admin: AdminClient, name: str, partitions: int, replication: int, timeout_s: float = 30.0
) -> bool:
    """Create the topic unless it exists; return True when this call created it."""
    if name in admin.list_topics(timeout=timeout_s).topics:
        return False
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication)],
        request_timeout=timeout_s,
    )
    try:
        futures[name].result(timeout=timeout_s)
    except KafkaException as exc:
        if exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return False
        raise StartupError(
            f"cannot create topic {name!r} with {partitions} partition(s) and replication "
            f"{replication}: {exc.args[0].str()}"
        ) from exc
    log.info("created topic", extra={"topic": name, "partitions": partitions, "replication": replication})
    return True
