"""Health server, readiness checks, bounded label values, Spark UI settings and the masked configuration log."""

from __future__ import annotations

import json
import logging
import socket
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from vitals_common.errors import StartupError
from vitals_common.health import HealthState, serve_health
from vitals_common.labels import BoundedLabelValues
from vitals_common.logs import masked_settings
from vitals_common.readiness import add_spark_dependency_checks, tcp_check, uri_endpoint
from vitals_common.spark import SparkSettings, log_ui_address, ui_conf


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def listening_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def samples(body: bytes) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_readyz_fails_while_a_check_fails():
    state = HealthState()
    state.add_check("kafka", lambda: True)
    state.add_check("hdfs", lambda: False)
    port = free_port()
    server = serve_health("127.0.0.1", port, state, CollectorRegistry())
    try:
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503
        assert json.loads(body) == {"ready": False, "checks": {"kafka": True, "hdfs": False}}
        status, _ = get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
    finally:
        server.shutdown()


def test_readiness_metrics_follow_latest_run():
    state = HealthState()
    dependency_up = {"value": False}
    state.add_check("hbase", lambda: dependency_up["value"])
    registry = CollectorRegistry()
    port = free_port()
    server = serve_health("127.0.0.1", port, state, registry)
    try:
        state.readiness()
        _, body = get(f"http://127.0.0.1:{port}/metrics")
        assert samples(body)[("vitals_ready", ())] == 0.0
        assert samples(body)[("vitals_readiness_check_passed", (("check", "hbase"),))] == 0.0
        dependency_up["value"] = True
        state.readiness()
        _, body = get(f"http://127.0.0.1:{port}/metrics")
        assert samples(body)[("vitals_ready", ())] == 1.0
        assert samples(body)[("vitals_readiness_check_passed", (("check", "hbase"),))] == 1.0
    finally:
        server.shutdown()


def test_raising_check_logged_once_per_change(caplog):
    state = HealthState()

    def unreachable() -> bool:
        raise ConnectionRefusedError("connection refused")

    state.add_check("metastore", unreachable)
    with caplog.at_level(logging.INFO, logger="vitals_common.health"):
        assert state.readiness() == {"metastore": False}
        assert state.readiness() == {"metastore": False}
    failures = [r for r in caplog.records if r.getMessage() == "readiness check failed"]
    assert len(failures) == 1
    assert failures[0].check == "metastore"
    assert "connection refused" in failures[0].error


def test_tcp_check_passes_on_listening_port(listening_port):
    assert tcp_check("127.0.0.1", listening_port)() is True


def test_tcp_check_raises_on_closed_port():
    with pytest.raises(OSError):
        tcp_check("127.0.0.1", free_port(), timeout_s=1.0)()


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("hdfs://127.0.0.1:8020", ("127.0.0.1", 8020)),
        ("hdfs://namenode", ("namenode", 8020)),
        ("thrift://metastore:9083", ("metastore", 9083)),
        ("thrift://a:9083,thrift://b:9083", ("a", 9083)),
        ("file:///tmp/archive", None),
        ("s3a://bucket/archive", None),
    ],
)
def test_uri_endpoint(uri, expected):
    assert uri_endpoint(uri) == expected


def test_spark_dependency_checks_skip_local_file_system():
    state = HealthState()

    class Admin:
        def list_topics(self, timeout):
            raise AssertionError("not called while adding checks")

    added = add_spark_dependency_checks(state, Admin(), "file:///tmp", "thrift://127.0.0.1:9083")
    assert added == ["kafka", "metastore"]


def test_bounded_labels_cap_distinct_values():
    labels = BoundedLabelValues(max_values=2)
    assert labels.value("ICU-1") == "ICU-1"
    assert labels.value("ICU-2") == "ICU-2"
    assert labels.value("ICU-3") == "other"
    assert labels.value("ICU-1") == "ICU-1"
    assert labels.value(None) == "unknown"
    assert labels.value("  ") == "unknown"


def test_bounded_labels_truncate_long_values():
    labels = BoundedLabelValues(max_values=5, max_length=4)
    assert labels.value("cardiology") == "card"


def test_ui_port_zero_disables_ui():
    assert ui_conf(0) == {"spark.ui.enabled": "false"}


def test_ui_port_enables_prometheus_servlet():
    conf = ui_conf(4041)
    assert conf["spark.ui.enabled"] == "true"
    assert conf["spark.ui.port"] == "4041"
    assert conf["spark.metrics.conf.*.sink.prometheusServlet.class"] == "org.apache.spark.metrics.sink.PrometheusServlet"
    assert conf["spark.metrics.conf.*.sink.prometheusServlet.path"] == "/metrics/prometheus"
    assert conf["spark.ui.prometheus.enabled"] == "true"


def test_spark_ui_port_setting_from_env(monkeypatch):
    monkeypatch.setenv("SPARK_UI_PORT", "4042")
    assert SparkSettings().ui_port == 4042


def test_busy_metrics_port_raises_startup_error(listening_port):
    with pytest.raises(StartupError, match=f"127.0.0.1:{listening_port}.*METRICS_PORT"):
        serve_health("127.0.0.1", listening_port, HealthState(), CollectorRegistry())


def test_moved_spark_ui_logs_warning(caplog):
    with caplog.at_level(logging.INFO, logger="vitals_common.spark"):
        log_ui_address("http://127.0.0.1:4043", 4042)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert caplog.records[0].configured_port == 4042


def test_spark_ui_on_configured_port_logs_info(caplog):
    with caplog.at_level(logging.INFO, logger="vitals_common.spark"):
        log_ui_address("http://127.0.0.1:4042", 4042)
    assert [r.getMessage() for r in caplog.records] == ["Spark UI started"]


def test_readyz_fails_before_checks_are_added():
    port = free_port()
    server = serve_health("127.0.0.1", port, HealthState(), CollectorRegistry())
    try:
        status, body = get(f"http://127.0.0.1:{port}/readyz")
        assert status == 503
        assert json.loads(body) == {"ready": False, "checks": {}}
    finally:
        server.shutdown()


def test_masked_settings_hide_secrets_in_extra_conf():
    settings = SparkSettings(
        extra_conf={
            "spark.hadoop.fs.s3a.secret.key": "s3-secret",
            "spark.sql.shuffle.partitions": "4",
            "spark.hadoop.javax.jdo.option.ConnectionURL": "postgresql://hive:pw@db:5432/metastore",
        }
    )
    extra = masked_settings(settings)["extra_conf"]
    assert extra["spark.hadoop.fs.s3a.secret.key"] == "***"
    assert extra["spark.sql.shuffle.partitions"] == "4"
    assert extra["spark.hadoop.javax.jdo.option.ConnectionURL"] == "postgresql://***@db:5432/metastore"
