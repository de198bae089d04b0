"""Readiness checks of a stage's dependencies, for `HealthState.add_check`.

Each check is cheap and bounded by a short timeout, so that `/readyz` responds before a kubelet
probe times out.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from confluent_kafka.admin import AdminClient

from vitals_common.health import HealthState, ReadinessCheck

# Seconds each check may take.
CHECK_TIMEOUT_S = 2.0
DEFAULT_PORTS = {"hdfs": 8020, "thrift": 9083}


def tcp_check(host: str, port: int, timeout_s: float = CHECK_TIMEOUT_S) -> ReadinessCheck:
    """Return a check that passes when `host:port` accepts a TCP connection."""

    def check() -> bool:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True

    return check


def kafka_check(admin: AdminClient, timeout_s: float = CHECK_TIMEOUT_S) -> ReadinessCheck:
    """Return a check that passes when the cluster returns metadata with at least one broker."""
    return lambda: len(admin.list_topics(timeout=timeout_s).brokers) > 0


def uri_endpoint(uri: str) -> tuple[str, int] | None:
    """Return (host, port) of an `hdfs://` or `thrift://` URI, or None for other schemes such as `file:`."""
    parts = urlsplit(uri.split(",")[0].strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]


def add_spark_dependency_checks(
    health: HealthState, admin: AdminClient, default_fs: str, metastore_uri: str
) -> list[str]:
    """Add Kafka, HDFS NameNode and Hive metastore checks; return the names of the checks added.

    HDFS and the metastore are checked by TCP connect only, because a Hadoop or Hive client call
    retries a refused connection for tens of seconds.
    """
    health.add_check("kafka", kafka_check(admin))
    added = ["kafka"]
    # NOTE: for an HA name service URI (hdfs://<nameservice>) this connects to a host of that name,
    # which usually does not resolve, so the stage never reports ready.
    for name, uri in (("hdfs", default_fs), ("metastore", metastore_uri)):
        endpoint = uri_endpoint(uri)
        if endpoint is not None:
            health.add_check(name, tcp_check(*endpoint))
            added.append(name)
    return added


def require_spark_dependencies(kafka, default_fs: str, metastore_uri: str, timeout_s: float) -> AdminClient:
    """Check Kafka, the HDFS NameNode and the metastore before a JVM starts; raise StartupError naming the one down.

    Returns the Kafka AdminClient for topic creation.
    """
    from vitals_common.errors import StartupError
    from vitals_common.kafka_admin import check_kafka

    admin = check_kafka(kafka, timeout_s)
    for name, uri, setting in (
        ("HDFS NameNode", default_fs, "SPARK_DEFAULT_FS"),
        ("Hive metastore", metastore_uri, "SPARK_METASTORE_URI"),
    ):
        endpoint = uri_endpoint(uri)
        if endpoint is None:
            continue
        try:
            tcp_check(*endpoint, timeout_s=min(timeout_s, 5.0))()
        except OSError as exc:
            raise StartupError(
                f"{name} at {uri} is unreachable ({exc.strerror or exc}); start it (make stack-up) or set {setting}"
            ) from exc
    return admin
