"""Metrics, health, dashboards and alert rules, checked through the local stack's real Prometheus.

The live tests run one pipeline (producer, ingest, alerter, notifier) for the module, on names
unique to this run and on the metrics and Spark UI ports that the stack's Prometheus scrapes. It
uses the embedded capstone threshold table and the synthetic roster and vitals, so it needs no
reference data. Each counter read from Prometheus is compared with a number computed here from the
source rows, the roster and the threshold table, or read back from SNS through the SQS tap.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Producer

from e2e_support import CAPSTONE_VITALS, E2ERun, expected_alert_id, table_rows
from vitals_common.events import stable_id
from vitals_stack import lifecycle, prometheus, seed, synthetic
from vitals_stack.errors import StackError
from vitals_stack.reference_data import CAPSTONE_THRESHOLDS
from vitals_stack.settings import StackSettings

REPO = Path(__file__).resolve().parents[1]
DASHBOARD_DIR = REPO / "k8s" / "dashboards"
RULES_FILE = REPO / "k8s" / "prometheus" / "vitals-rules.yaml"
PROMETHEUS_RULE = REPO / "k8s" / "prometheus" / "vitals-prometheusrule.yaml"
RENDER_SCRIPT = REPO / "scripts" / "render-observability.py"

ROWS = 120
PATIENTS = 12
SOURCE_TABLE = "patients_vital_info"
ALERT_TIMEOUT_S = 300
# Prometheus scrapes every 2 s; a counter reaches its final value within a few scrapes.
SCRAPE_TIMEOUT_S = 60
# Grafana replaces $__rate_interval; one minute spans many 2 s scrapes.
GRAFANA_RATE_INTERVAL = "1m"
STAGES = ("producer", "ingest", "alerter", "notifier")
BAD_RECORDS = {
    "malformed_json": b"not json",
    "invalid_field_type": b'{"event_id": "obs-bad", "patient_id": "1001", "event_time": "2026-01-01T00:00:00Z", '
    b'"heart_rate": "fast"}',
}
SPARK_APPS = {"ingest": "vitals-ingest", "alerter": "vitals-alerter"}


# ---------------------------------------------------------------------------- Prometheus HTTP API


class PrometheusApi:
    """Instant queries against the Prometheus HTTP API."""

    def __init__(self, url: str):
        self.url = url

    def get(self, path: str, **params: str) -> dict:
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus rejected {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("/api/v1/query", query=expr)["result"]

    def value(self, expr: str) -> float | None:
        """Return the value of a query that yields one sample, or None when it yields none."""
        result = self.query(expr)
        if not result:
            return None
        assert len(result) == 1, f"{expr} returned {len(result)} series: {result}"
        return float(result[0]["value"][1])

    def by_labels(self, expr: str, *labels: str) -> dict[tuple[str, ...], float]:
        return {
            tuple(sample["metric"].get(label, "") for label in labels): float(sample["value"][1])
            for sample in self.query(expr)
        }

    def wait_for_value(self, expr: str, expected: float, timeout_s: float = SCRAPE_TIMEOUT_S) -> float | None:
        """Poll until the query returns `expected` or the deadline passes; return the last value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.value(expr)
            if value == expected or time.monotonic() > deadline:
                return value
            time.sleep(1)

    def wait_for_labels(self, expr: str, labels: tuple[str, ...], expected: dict, timeout_s: float = SCRAPE_TIMEOUT_S) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            values = self.by_labels(expr, *labels)
            if values == expected or time.monotonic() > deadline:
                return values
            time.sleep(1)


# ---------------------------------------------------------------------------- PromQL selectors

_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_TOKEN = re.compile(r"\"(?:\\.|[^\"\\])*\"|\{[^}]*\}|[A-Za-z_:][\w:]*|\S")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}


def selectors(expr: str) -> list[str]:
    """Return the vector selectors (`name{matchers}`) of a PromQL expression.

    A small scanner, enough for the expressions of this repository: grouping clauses and range
    durations are dropped, names followed by `(` are functions, and label matchers stay attached
    to their metric name.
    """
    text = _RANGE.sub("", _GROUPING.sub("", expr))
    tokens = _TOKEN.findall(text)
    found = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        previous = tokens[index - 1] if index else ""
        if token.startswith("{") and not re.fullmatch(r"[A-Za-z_:][\w:]*", previous):
            found.append(token)
        if not re.fullmatch(r"[A-Za-z_:][\w:]*", token) or token in _KEYWORDS or following == "(":
            continue
        if previous and previous[-1].isdigit():
            continue
        found.append(token + following if following.startswith("{") else token)
    return found


def test_selectors_of_nested_expression():
    expr = (
        'sum by (job) (rate(vitals_ingest_dead_letters_total[5m])) / sum by (job) '
        '(rate(vitals_ingest_input_rows_total{query="vitals-dead-letters"}[5m])) > 0.05 and on (job) up == 0'
    )
    assert selectors(expr) == [
        "vitals_ingest_dead_letters_total",
        'vitals_ingest_input_rows_total{query="vitals-dead-letters"}',
        "up",
    ]


def test_selectors_skip_functions_and_numbers():
    assert selectors("vector(1)") == []
    assert selectors("time() - max(vitals_alerter_last_progress_timestamp_seconds) > 1e3") == [
        "vitals_alerter_last_progress_timestamp_seconds"
    ]


# ---------------------------------------------------------------------------- dashboards and rules (offline)


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARD_DIR.glob("*.json"))


def dashboard_queries() -> list[tuple[str, str, str]]:
    """Return (dashboard file, panel title, expression) for every panel target."""
    queries = []
    for path in dashboard_files():
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                queries.append((path.name, panel["title"], target["expr"]))
    return queries


def rule_expressions() -> list[tuple[str, str]]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    return [(rule["alert"], rule["expr"]) for group in groups for rule in group["rules"]]


def test_dashboards_exist_for_overview_and_stages():
    names = {path.stem for path in dashboard_files()}
    assert names == {"vitals-overview", *(f"vitals-{stage}" for stage in STAGES)}


def test_dashboard_configmaps_embed_json():
    documents = list(yaml.safe_load_all((DASHBOARD_DIR / "dashboards-configmaps.yaml").read_text()))
    embedded = {}
    for document in documents:
        assert document["kind"] == "ConfigMap"
        assert document["metadata"]["labels"]["grafana_dashboard"] == "1"
        embedded.update(document["data"])
    assert set(embedded) == {path.name for path in dashboard_files()}
    for path in dashboard_files():
        assert json.loads(embedded[path.name]) == json.loads(path.read_text()), path.name


def test_prometheus_rule_matches_rules_file():
    manifest = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["spec"]["groups"] == yaml.safe_load(RULES_FILE.read_text())["groups"]


def test_rendered_manifests_up_to_date():
    result = subprocess.run([sys.executable, str(RENDER_SCRIPT), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_rules_cover_required_alerts():
    names = {name for name, _ in rule_expressions()}
    for required in ("Watchdog", "VitalsStageDown", "VitalsSparkQueryStalled", "VitalsNotifierLagGrowing",
                     "VitalsDeadLetterSpike"):
        assert required in names


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed: apt-get install prometheus")
def test_promtool_accepts_rules():
    result = subprocess.run(["promtool", "check", "rules", str(RULES_FILE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rule_expressions())} rules found" in result.stdout


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed: apt-get install prometheus")
def test_promtool_accepts_stack_config(tmp_path):
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps(prometheus.scrape_config(StackSettings())))
    result = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stack_config_scrapes_stages_and_spark(monkeypatch):
    monkeypatch.setenv("STACK_NOTIFIER_METRICS_PORT", "19404")
    monkeypatch.setenv("STACK_ALERTER_SPARK_UI_PORT", "14042")
    monkeypatch.setenv("STACK_PRODUCER_METRICS_PORT", "9401")
    monkeypatch.setenv("STACK_PROMETHEUS_SCRAPE_INTERVAL", "2s")
    config = prometheus.scrape_config(StackSettings())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["vitals-notifier"]["static_configs"][0]["targets"] == ["127.0.0.1:19404"]
    assert jobs["vitals-producer"]["static_configs"][0]["targets"] == ["127.0.0.1:9401"]
    assert jobs["vitals-alerter-spark"]["static_configs"][0]["targets"] == ["127.0.0.1:14042"]
    assert jobs["vitals-alerter-spark"]["metrics_path"] == "/metrics/prometheus"
    assert jobs["vitals-ingest-spark-executors"]["metrics_path"] == "/metrics/executors/prometheus"
    assert jobs["vitals-ingest-spark"]["scrape_timeout"] == "5s"
    assert len(jobs) == 8
    assert config["global"]["scrape_interval"] == "2s"
    assert config["rule_files"] == [str(RULES_FILE)]


def test_missing_prometheus_error_names_apt_get(monkeypatch):
    monkeypatch.setenv("STACK_PROMETHEUS", "/nonexistent/prometheus")
    with pytest.raises(StackError, match="apt-get install prometheus"):
        prometheus.require_prometheus(StackSettings())


# ---------------------------------------------------------------------------- the oracle


def threshold_rules() -> list[dict]:
    """The embedded capstone table in the oracle's shape, with the test's own vital mapping."""
    return [
        {
            "rule_id": str(ref_id),
            "vital": CAPSTONE_VITALS[attribute],
            # 9999 and above mean open-ended, as the threshold table documents.
            "ages": (float(low_age), float("inf") if high_age >= 9999 else float(high_age)),
            "values": (float(low), float("inf") if high >= 9999 else float(high)),
            "alert": flag == 1,
        }
        for ref_id, attribute, low_age, high_age, low, high, flag, _ in CAPSTONE_THRESHOLDS
    ]


def expected_outcomes(rows: list[tuple], roster: list[synthetic.Patient]) -> dict:
    """Alert ids by (ward, vital), and the count of values whose age lies outside every band."""
    patients = {p.patient_id: p for p in roster}
    rules = threshold_rules()
    alerts: dict[str, tuple[str, str]] = {}
    outside_age_bands = 0
    for row_seq, patient_id, heart_rate, bp in rows:
        patient = patients[patient_id]
        event_id = stable_id(SOURCE_TABLE, row_seq)
        for column, value in (("heartBeat", heart_rate), ("bp", bp)):
            vital = CAPSTONE_VITALS[column]
            bands = [r for r in rules if r["vital"] == vital and r["ages"][0] <= patient.age <= r["ages"][1]]
            if not bands:
                outside_age_bands += 1
            for rule in bands:
                if rule["alert"] and rule["values"][0] <= value <= rule["values"][1]:
                    alerts[expected_alert_id(event_id, vital, rule["rule_id"])] = (patient.ward, vital)
    return {"alerts": alerts, "outside_age_bands": outside_age_bands}


# ---------------------------------------------------------------------------- the live pipeline


@pytest.fixture(scope="module")
def prom() -> PrometheusApi:
    stack = StackSettings()
    if not all(row.ready for row in lifecycle.status(stack)):
        pytest.skip("the local stack (with prometheus) is not running; start it with `make stack-up`")
    return PrometheusApi(stack.prometheus_url)


@pytest.fixture(scope="module")
def observed(prom, tmp_path_factory):
    stack = StackSettings()
    run = E2ERun(stack, tmp_path_factory.mktemp("observability"))
    n = run.names
    assert seed.main(["thresholds", "--table", n["hbase_table"]]) == 0
    assert seed.main(["contacts", "--synthetic-patients", str(PATIENTS), "--table", n["contact_table"]]) == 0
    assert seed.main([
        "vitals", "--rows", str(ROWS), "--synthetic-patients", str(PATIENTS), "--url", run.source_url,
    ]) == 0
    rows = table_rows(run.source_db, f"SELECT row_seq, customerId, heartBeat, bp FROM {SOURCE_TABLE} ORDER BY row_seq")
    oracle = expected_outcomes(rows, synthetic.roster(PATIENTS))
    tap = run.make_tap()
    try:
        run.start("ingest")
        run.start("alerter")
        run.start("notifier", NOTIFIER_LAG_EVERY_S="2")
        # The producer keeps polling at the end of the table, so its metrics stay up for Prometheus.
        run.start(
            "producer", PRODUCER_SOURCE_TABLE=SOURCE_TABLE, PRODUCER_STOP_AT_END="false",
            PRODUCER_PROGRESS_EVERY_S="1",
        )
        stages = tuple(run.stages.values())
        tap.wait_for(len(oracle["alerts"]), ALERT_TIMEOUT_S, stages=stages)
        # The producer created the topic; these records go to the ingest dead-letter query.
        kafka = Producer({"bootstrap.servers": stack.kafka_bootstrap})
        for value in BAD_RECORDS.values():
            kafka.produce(n["vitals_topic"], key=b"1001", value=value)
        assert kafka.flush(30) == 0
        yield {"run": run, "tap": tap, "rows": rows, "oracle": oracle}
    finally:
        run.stop_all()


def stage_job_selector(stage: str) -> str:
    return f'job="{prometheus.stage_job(stage)}"'


@pytest.mark.stack
def test_prometheus_scrapes_every_target(prom, observed):
    expected = {(job,): 1.0 for job in [
        *(prometheus.stage_job(s) for s in STAGES),
        *(prometheus.spark_job(s) for s in SPARK_APPS),
        *(prometheus.spark_executors_job(s) for s in SPARK_APPS),
    ]}
    up = prom.wait_for_labels('up{job=~"vitals-.*"}', ("job",), expected)
    assert up == expected


@pytest.mark.stack
def test_sent_counter_matches_tap(prom, observed):
    tap, alerts = observed["tap"], observed["oracle"]["alerts"]
    tap.drain()
    received = {m["attributes"].get("alert_id") for m in tap.messages}
    assert received == set(alerts)
    assert len(tap.messages) == len(alerts)
    sent = prom.wait_for_value("sum(vitals_notifier_messages_sent_total)", len(tap.messages))
    assert sent == len(tap.messages)
    consumed = prom.wait_for_value("vitals_notifier_alerts_consumed_total", len(tap.messages))
    assert consumed == len(tap.messages)
    assert prom.value("vitals_notifier_messages_failed_total") == 0
    assert prom.value("vitals_notifier_messages_deduplicated_total") == 0


@pytest.mark.stack
def test_sent_by_ward_and_vital_matches_oracle(prom, observed):
    expected = {key: float(count) for key, count in Counter(observed["oracle"]["alerts"].values()).items()}
    assert len({ward for ward, _ in expected}) > 1
    actual = prom.wait_for_labels(
        "sum by (ward, vital) (vitals_notifier_messages_sent_total)", ("ward", "vital"), expected
    )
    assert actual == expected


@pytest.mark.stack
def test_latency_histogram_counts_every_sent_alert(prom, observed):
    sent = len(observed["oracle"]["alerts"])
    count = prom.wait_for_value("vitals_pipeline_end_to_end_latency_seconds_count", sent)
    assert count == sent
    assert prom.value('vitals_pipeline_end_to_end_latency_seconds_bucket{le="+Inf"}') == sent
    assert prom.value("vitals_pipeline_end_to_end_latency_seconds_sum") > 0
    assert prom.value("vitals_notifier_sns_publish_latency_seconds_count") == sent


@pytest.mark.stack
def test_producer_counters_match_source_rows(prom, observed):
    topic = observed["run"].names["vitals_topic"]
    rows = len(observed["rows"])
    assert rows == ROWS
    produced = prom.wait_for_value(f'vitals_producer_messages_produced_total{{topic="{topic}"}}', rows)
    assert produced == rows
    assert prom.value("vitals_producer_rows_read_total") == rows
    assert prom.value(f'vitals_producer_messages_failed_total{{topic="{topic}"}}') == 0
    assert prom.value("sum(vitals_producer_dead_letters_total)") == 0
    assert prom.value("vitals_producer_delivery_latency_seconds_count") == rows
    assert prom.wait_for_value("vitals_producer_source_lag_rows", 0) == 0


@pytest.mark.stack
def test_ingest_counters_match_source_rows(prom, observed):
    rows = len(observed["rows"])
    archived = prom.wait_for_value("vitals_ingest_rows_archived_total", rows)
    assert archived == rows
    read = prom.wait_for_value('vitals_ingest_input_rows_total{query="vitals-archive"}', rows + len(BAD_RECORDS))
    assert read == rows + len(BAD_RECORDS)


@pytest.mark.stack
def test_ingest_dead_letters_counted_by_reason(prom, observed):
    expected = {(reason,): 1.0 for reason in BAD_RECORDS}
    actual = prom.wait_for_labels("vitals_ingest_dead_letters_total > 0", ("reason",), expected)
    assert actual == expected
    # Reasons that did not occur are exported as zero, so rate() and the dashboards see them.
    assert prom.value('vitals_ingest_dead_letters_total{reason="no_vital_sign"}') == 0


@pytest.mark.stack
def test_alerter_counters_match_oracle(prom, observed):
    oracle = observed["oracle"]
    expected_by_vital = {(vital,): float(n) for vital, n in Counter(v for _, v in oracle["alerts"].values()).items()}
    actual = prom.wait_for_labels("sum by (vital) (vitals_alerter_alerts_total) > 0", ("vital",), expected_by_vital)
    assert actual == expected_by_vital
    assert oracle["outside_age_bands"] > 0
    unrouted = prom.value('vitals_alerter_unrouted_readings_total{reason="no_age_band"}')
    assert unrouted == oracle["outside_age_bands"]
    evaluated = prom.value("sum(vitals_alerter_readings_evaluated_total)")
    assert evaluated == 2 * len(observed["rows"])
    assert prom.value("vitals_alerter_threshold_rules") == len(CAPSTONE_THRESHOLDS)
    assert prom.value("sum(vitals_alerter_reference_load_failures_total)") == 0


@pytest.mark.stack
def test_stages_ready_with_dependency_checks(prom, observed):
    expected_checks = {
        "producer": {"kafka"},
        "ingest": {"kafka", "hdfs", "metastore", "queries_active"},
        "alerter": {"kafka", "hdfs", "metastore", "hbase", "query_active"},
        "notifier": {"kafka", "sns"},
    }
    stack = observed["run"].stack
    for stage, port in stack.stage_metrics_ports().items():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200, stage
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            body = json.load(response)
        assert body["ready"] is True, (stage, body)
        assert set(body["checks"]) == expected_checks[stage], stage
    ready = prom.wait_for_labels("vitals_ready", ("job",), {(prometheus.stage_job(s),): 1.0 for s in STAGES})
    assert ready == {(prometheus.stage_job(s),): 1.0 for s in STAGES}


@pytest.mark.stack
def test_spark_driver_metrics_scraped(prom, observed):
    for stage, app in SPARK_APPS.items():
        job = f'job="{prometheus.spark_job(stage)}"'
        assert prom.query(f"metrics_vitals_driver_DAGScheduler_job_allJobs_Value{{{job}}} > 0"), stage
        executors = prom.query(f'metrics_executor_totalTasks_total{{application_name="{app}"}} > 0')
        assert executors, stage
    archive_rate = prom.query('metrics_vitals_driver_spark_streaming_vitals_archive_inputRate_total_Value')
    assert archive_rate


@pytest.mark.stack
def test_no_patient_data_in_metric_labels(prom, observed):
    roster = synthetic.roster(PATIENTS)
    forbidden = {value for p in roster for value in (p.patient_id, p.name, p.address, p.phone)}
    series = prom.get("/api/v1/series", **{"match[]": '{job=~"vitals-.*"}'})
    assert series
    leaked = [s for s in series if forbidden & {v for k, v in s.items() if k != "__name__"}]
    assert leaked == []


@pytest.mark.stack
@pytest.mark.parametrize("dashboard, title, expr", dashboard_queries())
def test_dashboard_query_returns_data(prom, observed, dashboard, title, expr):
    result = prom.query(expr.replace("$__rate_interval", GRAFANA_RATE_INTERVAL))
    assert result, f"{dashboard}: panel {title!r} returned no data for {expr}"


@pytest.mark.stack
@pytest.mark.parametrize("alert, expr", rule_expressions())
def test_rule_query_runs_on_exported_metrics(prom, observed, alert, expr):
    prom.query(expr)  # raises with Prometheus's error for an invalid expression
    for selector in selectors(expr):
        assert prom.query(selector), f"{alert}: {selector} selects no series"


@pytest.mark.stack
def test_watchdog_alert_fires(prom, observed):
    alerts = prom.get("/api/v1/alerts")["alerts"]
    firing = {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}
    assert "Watchdog" in firing
