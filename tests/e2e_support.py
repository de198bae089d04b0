"""Helpers of the end-to-end tests: an independent alert oracle and a pipeline on unique names."""

from __future__ import annotations

import csv
import hashlib
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from vitals_common.events import stable_id
from vitals_stack.pipeline import SqsTap, StageProcess
from vitals_stack.settings import StackSettings

# Independent of the pipeline's code: the capstone column names and the canonical names they mean.
CAPSTONE_VITALS = {"heartBeat": "heart_rate", "bp": "bp_systolic"}
MIMIC_VITALS = {"heart_rate": "heart_rate", "sbp": "bp_systolic"}


def _upper(raw: str) -> float:
    """The documented meaning of an upper limit: 9999 and above are open-ended."""
    value = float(raw)
    return float("inf") if value >= 9999 else value


def read_rules(threshold_csv: Path) -> list[dict]:
    with open(threshold_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {
            "rule_id": r["ref_id"],
            "vital": CAPSTONE_VITALS[r["attribute"]],
            "ages": (float(r["low_age_limit"]), _upper(r["high_age_limit"])),
            "values": (float(r["low_range_value"]), _upper(r["high_range_value"])),
            "alert": r["alert_flag"] == "1",
        }
        for r in rows
    ]


def expected_alert_id(event_id: str, vital: str, rule_id: str) -> str:
    return hashlib.sha256(f"{event_id}/{vital}/{rule_id}".encode()).hexdigest()[:32]


def expected_alerts(rules: list[dict], readings: list[tuple[str, str, str, float]], ages: dict[str, float]) -> set[str]:
    """Alert ids for readings (event_id, patient_id, vital, value) with inclusive band matching."""
    fired = set()
    for event_id, patient_id, vital, value in readings:
        age = ages.get(patient_id)
        if age is None:
            continue
        for rule in rules:
            if (
                rule["vital"] == vital
                and rule["ages"][0] <= age <= rule["ages"][1]
                and rule["values"][0] <= value <= rule["values"][1]
                and rule["alert"]
            ):
                fired.add(expected_alert_id(event_id, vital, rule["rule_id"]))
    return fired


def table_rows(db_path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db_path) as connection:
        return connection.execute(query).fetchall()


@dataclass
class E2ERun:
    """Unique names for one test run, so that it neither reads nor changes another run's data."""

    stack: StackSettings
    work: Path
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    stages: dict[str, StageProcess] = field(default_factory=dict)

    @property
    def names(self) -> dict[str, str]:
        r = self.run_id
        return {
            "vitals_topic": f"vitals-e2e-{r}",
            "dead_letter_topic": f"vitals-dlq-e2e-{r}",
            "alert_topic": f"doctor-e2e-{r}",
            "unrouted_topic": f"vitals-unrouted-e2e-{r}",
            "notifier_dlq": f"doctor-dlq-e2e-{r}",
            "hive_db": f"e2e_{r}",
            "contact_table": f"e2e_{r}.patients_contact_info",
            "hbase_table": f"thresholds_e2e_{r}",
            "sns_topic": f"alerts-e2e-{r}",
            "tap_queue": f"tap-e2e-{r}",
            "hdfs_root": f"/e2e/{r}",
        }

    @property
    def source_db(self) -> Path:
        return self.work / "source.db"

    @property
    def source_url(self) -> str:
        return f"sqlite:///{self.source_db}"

    def common_env(self) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.kafka_bootstrap,
            "SPARK_METASTORE_URI": self.stack.metastore_uri,
            "SPARK_DEFAULT_FS": self.stack.hdfs_url,
            "SPARK_DRIVER_MEMORY": "768m",
            "SPARK_MASTER": "local[1]",
        }

    def env(self, stage: str, **extra: str) -> dict[str, str]:
        n = self.names
        table = extra.get("PRODUCER_SOURCE_TABLE", "patients_vital_info")
        root = n["hdfs_root"]
        per_stage = {
            "ingest": {
                "INGEST_TOPIC": n["vitals_topic"],
                "INGEST_DEAD_LETTER_TOPIC": n["dead_letter_topic"],
                "INGEST_ARCHIVE_PATH": f"{root}/readings",
                "INGEST_CHECKPOINT_PATH": f"{root}/checkpoints/ingest",
                "INGEST_TRIGGER_INTERVAL": "2 seconds",
                "INGEST_HIVE_DATABASE": n["hive_db"],
                "INGEST_PARTITION_REPAIR_INTERVAL_S": "10",
            },
            "alerter": {
                "ALERTER_ARCHIVE_PATH": f"{root}/readings",
                "ALERTER_CHECKPOINT_PATH": f"{root}/checkpoints/alerter",
                "ALERTER_TRIGGER_INTERVAL": "2 seconds",
                "ALERTER_CONTACT_TABLE": n["contact_table"],
                "ALERTER_HBASE_PORT": str(self.stack.hbase_thrift_port),
                "ALERTER_HBASE_TABLE": n["hbase_table"],
                "ALERTER_ALERT_TOPIC": n["alert_topic"],
                "ALERTER_UNROUTED_TOPIC": n["unrouted_topic"],
            },
            "notifier": {
                "NOTIFIER_TOPIC": n["alert_topic"],
                "NOTIFIER_GROUP_ID": f"notifier-e2e-{self.run_id}",
                "NOTIFIER_DEAD_LETTER_TOPIC": n["notifier_dlq"],
                "NOTIFIER_SNS_ENDPOINT_URL": self.stack.sns_endpoint,
                "NOTIFIER_SNS_TOPIC_NAME": n["sns_topic"],
                "NOTIFIER_AWS_REGION": self.stack.aws_region,
                "NOTIFIER_DEDUP_URL": f"sqlite:///{self.work / 'sent-alerts.db'}",
            },
            "producer": {
                "PRODUCER_TOPIC": n["vitals_topic"],
                "PRODUCER_DEAD_LETTER_TOPIC": n["dead_letter_topic"],
                "PRODUCER_SOURCE_URL": self.source_url,
                "PRODUCER_PACING": "fastest",
                "PRODUCER_PROGRESS_PATH": str(self.work / f"progress-{table}.json"),
            },
        }
        return {**self.common_env(), **per_stage[stage], **self.observability_env(stage), **extra}

    def observability_env(self, stage: str) -> dict[str, str]:
        """Serve the stage's metrics, and a Spark driver's UI, on the ports the stack's Prometheus scrapes."""
        env = {f"{stage.upper()}_METRICS_PORT": str(self.stack.stage_metrics_ports()[stage])}
        spark_ui_port = self.stack.spark_ui_ports().get(stage)
        if spark_ui_port is not None:
            env["SPARK_UI_PORT"] = str(spark_ui_port)
            # Spark binds its UI to SPARK_LOCAL_IP, and to every interface without it.
            env["SPARK_LOCAL_IP"] = self.stack.host
        return env

    def start(self, stage: str, name: str | None = None, **extra: str) -> StageProcess:
        process = StageProcess(name or stage, self.env(stage, **extra), self.work / "logs", stage=stage)
        self.stages[name or stage] = process.start()
        return process

    def make_tap(self) -> SqsTap:
        """Create the SNS topic and an SQS queue subscribed to it with raw delivery."""
        kwargs = self.stack.aws_client_kwargs()
        sns = boto3.client("sns", **kwargs)
        sqs = boto3.client("sqs", **kwargs)
        topic_arn = sns.create_topic(Name=self.names["sns_topic"])["TopicArn"]
        queue_url = sqs.create_queue(QueueName=self.names["tap_queue"])["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )
        return SqsTap(self.stack.sns_endpoint, self.stack.aws_region, self.names["tap_queue"])

    def stop_all(self) -> None:
        for process in self.stages.values():
            process.stop()


def capstone_event_id(table: str, row_seq: int) -> str:
    return stable_id(table, row_seq)
