#!/usr/bin/env python3
"""Write the Grafana dashboards, their ConfigMaps and the PrometheusRule manifest under k8s/.

The dashboards are defined here, once, and written as plain JSON (k8s/dashboards/*.json) and as
ConfigMaps labelled `grafana_dashboard: "1"` for the Grafana sidecar. The PrometheusRule wraps
the groups of k8s/prometheus/vitals-rules.yaml, the file the local stack's Prometheus loads.

    python scripts/render-observability.py           # write the files
    python scripts/render-observability.py --check   # exit 1 when a written file is out of date

Panel queries use `$__rate_interval`, which Grafana replaces; every other part of an expression
is plain PromQL. Spark's driver metrics carry no application label, so their panels select the
scrape job by a regex on the stage name (`job=~".*ingest.*"`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DASHBOARD_DIR = REPO / "k8s" / "dashboards"
CONFIGMAPS = DASHBOARD_DIR / "dashboards-configmaps.yaml"
RULES = REPO / "k8s" / "prometheus" / "vitals-rules.yaml"
PROMETHEUS_RULE = REPO / "k8s" / "prometheus" / "vitals-prometheusrule.yaml"
NAMESPACE = "vitals"
PART_OF = "vitals-alerting"

RATE = "$__rate_interval"
STAGE_JOBS = 'job=~"vitals-(producer|ingest|alerter|notifier)"'
PANEL_WIDTH = 12
PANEL_HEIGHT = 8


# ---------------------------------------------------------------------------- panel helpers


def target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {"datasource": {"type": "prometheus", "uid": "${datasource}"}, "expr": expr, "legendFormat": legend, "refId": ref}


def panel(title: str, targets: list[tuple[str, str]], unit: str = "short", kind: str = "timeseries",
          description: str = "") -> dict[str, Any]:
    """Return a panel without id and position; `targets` are (expr, legend) pairs."""
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}} if kind == "timeseries" else {},
        "targets": [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(targets)],
    }


def quantiles(metric: str, by: str = "") -> list[tuple[str, str]]:
    """Return (expr, legend) pairs of the p50, p95 and p99 of a histogram over the rate interval."""
    group = f"le, {by}" if by else "le"
    prefix = f"{{{{{by}}}}} " if by else ""
    return [
        (f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket[{RATE}])))", f"{prefix}p{int(q * 100)}")
        for q in (0.5, 0.95, 0.99)
    ]


def dashboard(uid: str, title: str, description: str, panels: list[dict[str, Any]]) -> dict[str, Any]:
    """Lay the panels out two per row and wrap them in a dashboard with a Prometheus data-source variable."""
    placed = []
    for index, item in enumerate(panels):
        item = {**item, "id": index + 1}
        item["gridPos"] = {
            "h": PANEL_HEIGHT,
            "w": PANEL_WIDTH,
            "x": (index % 2) * PANEL_WIDTH,
            "y": (index // 2) * PANEL_HEIGHT,
        }
        placed.append(item)
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["vitals"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "links": [{"title": "Vitals dashboards", "type": "dashboards", "tags": ["vitals"], "asDropdown": True}],
        "panels": placed,
    }


# ---------------------------------------------------------------------------- dashboards


def overview() -> dict[str, Any]:
    panels = [
        panel("Stages up (scrape succeeded)", [(f"up{{{STAGE_JOBS}}}", "{{job}}")], kind="stat",
              description="1 when Prometheus could scrape the stage's /metrics."),
        panel("Stages ready (/readyz)", [("vitals_ready", "{{job}}")], kind="stat",
              description="1 when every dependency check of the stage passed; see each stage's dashboard for the checks."),
        panel("End-to-end latency: reading to SNS", quantiles("vitals_pipeline_end_to_end_latency_seconds"), unit="s",
              description="From the reading's event time to SNS accepting its alert, measured by the notifier."),
        panel("Throughput per stage", [
            (f"sum(rate(vitals_producer_messages_produced_total[{RATE}]))", "producer: messages to Kafka"),
            (f"sum(rate(vitals_ingest_rows_archived_total[{RATE}]))", "ingest: rows archived"),
            (f"sum(rate(vitals_alerter_readings_evaluated_total[{RATE}]))", "alerter: values evaluated"),
            (f"sum(rate(vitals_alerter_alerts_total[{RATE}]))", "alerter: alerts"),
            (f"sum(rate(vitals_notifier_messages_sent_total[{RATE}]))", "notifier: messages to SNS"),
        ], unit="ops"),
        panel("Alerts sent by ward and vital (last hour)",
              [("sum by (ward, vital) (increase(vitals_notifier_messages_sent_total[1h]))", "ward {{ward}} {{vital}}")],
              kind="bargauge"),
        panel("Alerts sent per second by ward",
              [(f"sum by (ward) (rate(vitals_notifier_messages_sent_total[{RATE}]))", "ward {{ward}}")], unit="ops"),
        panel("Dead letters per second", [
            (f"sum(rate(vitals_producer_dead_letters_total[{RATE}]))", "producer"),
            (f"sum(rate(vitals_ingest_dead_letters_total[{RATE}]))", "ingest"),
            (f"sum(rate(vitals_notifier_dead_letters_total[{RATE}]))", "notifier"),
        ], unit="ops"),
        panel("Readings that reached no clinician, per second",
              [(f"sum by (reason) (rate(vitals_alerter_unrouted_readings_total[{RATE}]))", "{{reason}}")], unit="ops"),
        panel("Backlog in records", [
            ("sum(vitals_producer_source_lag_rows)", "producer: source rows not yet sent"),
            ('max(vitals_ingest_kafka_max_offsets_behind_latest{query="vitals-archive"})', "ingest: vitals records not archived"),
            ("sum(vitals_notifier_consumer_lag_messages)", "notifier: alerts not yet sent"),
        ]),
        panel("Alerter event-time lag", [("max(vitals_alerter_event_time_lag_seconds)", "newest reading's age")], unit="s",
              description="Age of the newest evaluated reading when its micro-batch finished."),
    ]
    return dashboard("vitals-overview", "Vitals pipeline overview",
                     "Health, end-to-end latency, throughput, alerts by ward, dead letters and lag of all four stages.", panels)


def producer() -> dict[str, Any]:
    panels = [
        panel("Readiness checks", [('vitals_readiness_check_passed{job=~".*producer.*"}', "{{check}}")], kind="stat"),
        panel("Rows read per second", [(f"sum(rate(vitals_producer_rows_read_total[{RATE}]))", "rows")], unit="ops"),
        panel("Messages per second by topic", [
            (f"sum by (topic) (rate(vitals_producer_messages_produced_total[{RATE}]))", "confirmed {{topic}}"),
            (f"sum by (topic) (rate(vitals_producer_messages_failed_total[{RATE}]))", "failed {{topic}}"),
        ], unit="ops"),
        panel("Kafka delivery latency", quantiles("vitals_producer_delivery_latency_seconds"), unit="s"),
        panel("Source rows after the high-water mark", [("sum(vitals_producer_source_lag_rows)", "rows")]),
        panel("Dead letters per second by reason",
              [(f"sum by (reason) (rate(vitals_producer_dead_letters_total[{RATE}]))", "{{reason}}")], unit="ops"),
        panel("Rows skipped per second (no selected vital)",
              [(f"sum(rate(vitals_producer_rows_skipped_total[{RATE}]))", "rows")], unit="ops"),
    ]
    return dashboard("vitals-producer", "Vitals producer", "SQL table to the vitals topic.", panels)


def spark_panels(stage: str, query: str) -> list[dict[str, Any]]:
    """Panels of Spark's own metrics for one driver; `query` is the streaming query name with underscores."""
    job = f'job=~".*{stage}.*"'
    streaming = f"metrics_vitals_driver_spark_streaming_{query}"
    return [
        panel(f"Spark: query {query} latency", [(f"{streaming}_latency_Value{{{job}}}", "trigger latency")], unit="ms"),
        panel(f"Spark: query {query} rates", [
            (f"{streaming}_inputRate_total_Value{{{job}}}", "input rows/s"),
            (f"{streaming}_processingRate_total_Value{{{job}}}", "processed rows/s"),
        ], unit="ops"),
        panel("Spark: driver JVM heap", [
            (f"metrics_vitals_driver_ExecutorMetrics_JVMHeapMemory_Value{{{job}}}", "heap used"),
        ], unit="bytes"),
        panel("Spark: jobs and tasks", [
            (f"metrics_vitals_driver_DAGScheduler_job_activeJobs_Value{{{job}}}", "active jobs"),
            (f'sum(rate(metrics_executor_completedTasks_total{{application_name="vitals-{stage}"}}[{RATE}]))', "tasks completed/s"),
            (f'sum(rate(metrics_executor_failedTasks_total{{application_name="vitals-{stage}"}}[{RATE}]))', "tasks failed/s"),
        ]),
    ]


def ingest() -> dict[str, Any]:
    panels = [
        panel("Readiness checks", [('vitals_readiness_check_passed{job=~".*ingest.*"}', "{{check}}")], kind="stat"),
        panel("Kafka records read per second by query",
              [(f"sum by (query) (rate(vitals_ingest_input_rows_total[{RATE}]))", "{{query}}")], unit="ops"),
        panel("Rows archived per second", [(f"sum(rate(vitals_ingest_rows_archived_total[{RATE}]))", "rows")], unit="ops"),
        panel("Dead letters per second by reason",
              [(f"sum by (reason) (rate(vitals_ingest_dead_letters_total[{RATE}]))", "{{reason}}")], unit="ops"),
        panel("Micro-batch duration", quantiles("vitals_ingest_batch_duration_seconds", "query"), unit="s"),
        panel("Input and processing rate of the last micro-batch", [
            ("vitals_ingest_input_rows_per_second", "input {{query}}"),
            ("vitals_ingest_processed_rows_per_second", "processed {{query}}"),
        ], unit="ops"),
        panel("Kafka records behind latest (largest partition)",
              [("vitals_ingest_kafka_max_offsets_behind_latest", "{{query}}")]),
        panel("Seconds since the last progress report",
              [("time() - vitals_ingest_last_progress_timestamp_seconds", "{{query}}")], unit="s"),
        *spark_panels("ingest", "vitals_archive"),
    ]
    return dashboard("vitals-ingest", "Vitals ingest", "Vitals topic to the parquet archive on HDFS (Spark).", panels)


def alerter() -> dict[str, Any]:
    panels = [
        panel("Readiness checks", [('vitals_readiness_check_passed{job=~".*alerter.*"}', "{{check}}")], kind="stat"),
        panel("Values evaluated per second by vital",
              [(f"sum by (vital) (rate(vitals_alerter_readings_evaluated_total[{RATE}]))", "{{vital}}")], unit="ops"),
        panel("Alerts per second by vital and rule",
              [(f"sum by (vital, rule_id) (rate(vitals_alerter_alerts_total[{RATE}]))", "{{vital}} rule {{rule_id}}")], unit="ops"),
        panel("Unrouted values per second by reason",
              [(f"sum by (reason) (rate(vitals_alerter_unrouted_readings_total[{RATE}]))", "{{reason}}")], unit="ops"),
        panel("Values without any rule per second by vital",
              [(f"sum by (vital) (rate(vitals_alerter_not_evaluated_total[{RATE}]))", "{{vital}}")], unit="ops"),
        panel("Threshold table in use", [
            ("vitals_alerter_threshold_rules", "rules"),
            ("vitals_alerter_threshold_table_info", "version {{version}}"),
        ]),
        panel("Seconds since the last successful reference load",
              [("time() - vitals_alerter_reference_loaded_timestamp_seconds", "{{table}}")], unit="s"),
        panel("Failed reference reloads per second",
              [(f"sum by (table) (rate(vitals_alerter_reference_load_failures_total[{RATE}]))", "{{table}}")], unit="ops"),
        panel("Micro-batch duration", quantiles("vitals_alerter_batch_duration_seconds"), unit="s"),
        panel("Event-time lag and seconds since the last progress report", [
            ("vitals_alerter_event_time_lag_seconds", "newest reading's age"),
            ("time() - vitals_alerter_last_progress_timestamp_seconds", "since last progress"),
        ], unit="s"),
        *spark_panels("alerter", "vitals_alerts"),
    ]
    return dashboard("vitals-alerter", "Vitals alerter",
                     "Parquet archive, Hive contacts and HBase thresholds to alerts on the doctor topic (Spark).", panels)


def notifier() -> dict[str, Any]:
    panels = [
        panel("Readiness checks", [('vitals_readiness_check_passed{job=~".*notifier.*"}', "{{check}}")], kind="stat"),
        panel("Alerts per second by outcome", [
            (f"sum(rate(vitals_notifier_alerts_consumed_total[{RATE}]))", "consumed"),
            (f"sum(rate(vitals_notifier_messages_sent_total[{RATE}]))", "sent"),
            (f"sum(rate(vitals_notifier_messages_deduplicated_total[{RATE}]))", "de-duplicated"),
            (f"sum(rate(vitals_notifier_messages_failed_total[{RATE}]))", "failed"),
            (f"sum(rate(vitals_notifier_dead_letters_total[{RATE}]))", "dead-lettered"),
        ], unit="ops"),
        panel("Messages sent per second by ward and vital",
              [(f"sum by (ward, vital) (rate(vitals_notifier_messages_sent_total[{RATE}]))", "ward {{ward}} {{vital}}")], unit="ops"),
        panel("SNS publish latency", quantiles("vitals_notifier_sns_publish_latency_seconds"), unit="s"),
        panel("SNS publish retries per second",
              [(f"sum(rate(vitals_notifier_sns_publish_retries_total[{RATE}]))", "retries")], unit="ops"),
        panel("Consumer lag by partition", [("vitals_notifier_consumer_lag_messages", "partition {{partition}}")]),
        panel("End-to-end latency: reading to SNS", quantiles("vitals_pipeline_end_to_end_latency_seconds"), unit="s"),
    ]
    return dashboard("vitals-notifier", "Vitals notifier", "Doctor topic to SNS, once per alert.", panels)


DASHBOARDS = {
    "vitals-overview": overview,
    "vitals-producer": producer,
    "vitals-ingest": ingest,
    "vitals-alerter": alerter,
    "vitals-notifier": notifier,
}


# ---------------------------------------------------------------------------- manifests


class _Literal(str):
    """A string that YAML writes as a literal block."""


def _literal_representer(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


yaml.SafeDumper.add_representer(_Literal, _literal_representer)


def dashboard_json(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2) + "\n"


def configmaps() -> str:
    documents = []
    for name in DASHBOARDS:
        documents.append({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"{name}-dashboard",
                "namespace": NAMESPACE,
                "labels": {"grafana_dashboard": "1", "app.kubernetes.io/part-of": PART_OF},
            },
            "data": {f"{name}.json": _Literal(dashboard_json(name))},
        })
    header = "# Generated by scripts/render-observability.py from its dashboard definitions; do not edit.\n"
    return header + yaml.safe_dump_all(documents, sort_keys=False, width=120)


def prometheus_rule() -> str:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    manifest = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "vitals-pipeline",
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": PART_OF},
        },
        "spec": {"groups": groups},
    }
    header = "# Generated by scripts/render-observability.py from vitals-rules.yaml; do not edit.\n"
    return header + yaml.safe_dump(manifest, sort_keys=False, width=120)


def rendered_files() -> dict[Path, str]:
    files = {DASHBOARD_DIR / f"{name}.json": dashboard_json(name) for name in DASHBOARDS}
    files[CONFIGMAPS] = configmaps()
    files[PROMETHEUS_RULE] = prometheus_rule()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered_files().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(str(path.relative_to(REPO)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print("out of date, run scripts/render-observability.py: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
