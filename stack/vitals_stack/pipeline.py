"""Run the four stages as local processes and read back what they did.

Used by `make demo` and by the end-to-end tests: each stage is its real command
(`vitals-producer`, `vitals-ingest`, ...) in its own process group, configured only through
environment variables, with its output in `<STACK_HOME>/pipeline/<name>.log`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import boto3
from prometheus_client.parser import text_string_to_metric_families

from vitals_stack.settings import StackSettings

STAGE_COMMANDS = {
    "producer": "vitals_producer",
    "ingest": "vitals_ingest",
    "alerter": "vitals_alerter",
    "notifier": "vitals_notifier",
}


class StageProcess:
    """One stage running as `python -m <package>` with the given environment."""

    def __init__(
        self, name: str, env: Mapping[str, str], log_dir: Path, args: tuple[str, ...] = (), stage: str | None = None
    ):
        self.name = name
        self.stage = stage or name
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.log_path = log_dir / f"{name}.log"
        self.args = args
        self.process: subprocess.Popen | None = None

    def start(self) -> "StageProcess":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        command = [sys.executable, "-m", STAGE_COMMANDS[self.stage], *self.args]
        self.process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait(self, timeout_s: float) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout_s)

    def signal(self, sig: int) -> None:
        if self.running:
            os.killpg(self.process.pid, sig)

    def stop(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM the process group, then SIGKILL after the grace period; return the exit code."""
        if self.process is None:
            return None
        if self.running:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(timeout=10)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash would."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def scrape(port: int, timeout_s: float = 3.0) -> dict[tuple[str, tuple], float]:
    """Return every sample of a stage's /metrics as {(name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def metric_sum(samples: Mapping[tuple[str, tuple], float], name: str) -> float:
    return sum(value for (sample, _), value in samples.items() if sample == name)


class SqsTap:
    """Reads back what was published to the SNS topic through the SQS queue subscribed to it."""

    def __init__(self, endpoint: str, region: str, queue_name: str):
        self.sqs = boto3.client(
            "sqs", endpoint_url=endpoint, region_name=region,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        self.queue_url = self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        self.messages: list[dict] = []

    def drain(self) -> list[dict]:
        """Receive and delete everything waiting; return the new messages (body and attributes)."""
        new = []
        while True:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
            )
            batch = response.get("Messages", [])
            if not batch:
                break
            for message in batch:
                attributes = {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()}
                new.append({"body": message["Body"], "attributes": attributes, "received_at": time.time()})
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        self.messages += new
        return new

    def wait_for(self, count: int, timeout_s: float, poll_s: float = 1.0, stages: tuple[StageProcess, ...] = ()) -> list[dict]:
        """Drain until `count` messages arrived in total or the deadline passed; fail fast if a stage died."""
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            self.drain()
            for stage in stages:
                if stage.process is not None and not stage.running and stage.process.returncode not in (0, None):
                    raise RuntimeError(f"stage {stage.name} exited with {stage.process.returncode}:\n{stage.log_tail()}")
            if len(self.messages) < count:
                time.sleep(poll_s)
        return self.messages


def stage_env(stack: StackSettings, name: str) -> dict[str, str]:
    """Return the environment that points one stage at the local stack's addresses and ports."""
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "SPARK_METASTORE_URI": stack.metastore_uri,
        "SPARK_DEFAULT_FS": stack.hdfs_url,
        "SPARK_DRIVER_MEMORY": "768m",
        # The ports the stack's Prometheus scrapes (STACK_*_METRICS_PORT, STACK_*_SPARK_UI_PORT).
        f"{name.upper()}_METRICS_PORT": str(stack.stage_metrics_ports()[name]),
    }
    if name in stack.spark_ui_ports():
        common["SPARK_UI_PORT"] = str(stack.spark_ui_ports()[name])
        # Spark binds its UI to SPARK_LOCAL_IP, and to every interface without it.
        common["SPARK_LOCAL_IP"] = stack.host
    specific = {
        "producer": {"PRODUCER_SOURCE_URL": stack.source_db_url},
        "ingest": {},
        "alerter": {"ALERTER_HBASE_PORT": str(stack.hbase_thrift_port)},
        "notifier": {
            "NOTIFIER_SNS_ENDPOINT_URL": stack.sns_endpoint,
            "NOTIFIER_SNS_TOPIC_NAME": stack.sns_topic,
            "NOTIFIER_AWS_REGION": stack.aws_region,
        },
    }
    return {**common, **specific[name]}


def topic_message_count(bootstrap: str, topic: str, timeout_s: float = 10.0) -> int:
    """Return how many records the topic holds: the sum of its partitions' end minus start offsets."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "vitals-stack-count", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        total = 0
        for partition in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            total += high - low
        return total
    finally:
        consumer.close()


def wait_ready(stages: list[StageProcess], ports: dict[str, int], timeout_s: float) -> float:
    """Poll each stage's /readyz until all return 200; return the seconds waited.

    Raises RuntimeError naming a stage that exited or that was not ready by the deadline.
    """
    started = time.monotonic()
    pending = {stage.name for stage in stages}
    while pending:
        for stage in stages:
            if stage.name not in pending:
                continue
            if not stage.running:
                raise RuntimeError(f"stage {stage.name} exited with {stage.process.returncode}:\n{stage.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ports[stage.name]}/readyz", timeout=3) as response:
                    if response.status == 200:
                        pending.discard(stage.name)
            except OSError:
                pass
        if pending and time.monotonic() - started > timeout_s:
            raise RuntimeError(f"stage(s) {', '.join(sorted(pending))} not ready after {timeout_s:.0f} s")
        if pending:
            time.sleep(1)
    return time.monotonic() - started
