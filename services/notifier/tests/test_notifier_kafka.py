"""Notifier against a real broker at KAFKA_BOOTSTRAP_SERVERS and moto; skipped when no broker responds."""

import json
import threading
import time
import uuid

import boto3
import pytest
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import REGISTRY

from vitals_common.alerts import alert_id
from vitals_common.settings import KafkaSettings
from vitals_notifier.service import run_notifier
from vitals_notifier.settings import NotifierSettings

from notifier_fixtures import make_alert

pytestmark = pytest.mark.stack

DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def kafka() -> KafkaSettings:
    settings = KafkaSettings()
    try:
        AdminClient(settings.client_config()).list_topics(timeout=3)
    except KafkaException:
        pytest.skip(f"no Kafka broker answers at {settings.bootstrap_servers}")
    return settings


@pytest.fixture
def topics(kafka):
    suffix = uuid.uuid4().hex[:8]
    names = (f"test-doctor-{suffix}", f"test-doctor-dlq-{suffix}")
    admin = AdminClient(kafka.client_config())
    admin.create_topics([NewTopic(names[0], num_partitions=1, replication_factor=1)])[names[0]].result(timeout=30)
    yield names
    admin.delete_topics(list(names), operation_timeout=10)


@pytest.fixture
def tap_queue(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    topic_name = f"test-alerts-{uuid.uuid4().hex[:8]}"
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{topic_name}-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return topic_arn, sqs, queue_url


def counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {DEADLINE_S:g} s waiting for {what}")
        time.sleep(0.2)


def run_until_consumed(settings: NotifierSettings, count: int) -> dict:
    """Run the notifier in a thread until it consumed `count` more messages, then stop it."""
    start = counter("vitals_notifier_alerts_consumed_total")
    stop = threading.Event()
    result: dict = {}

    def target():
        try:
            result["counts"] = run_notifier(settings, stop)
        except BaseException as exc:  # surfaced by the assertion below
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: "error" in result or counter("vitals_notifier_alerts_consumed_total") - start >= count,
            f"{count} consumed alerts",
        )
    finally:
        stop.set()
        thread.join(timeout=30)
    assert "error" not in result, result.get("error")
    return result["counts"]


def drain(sqs, queue_url, expected: int) -> list[dict]:
    received: list[dict] = []
    deadline = time.monotonic() + DEADLINE_S
    while len(received) < expected and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in batch:
            received.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return received


def test_consume_publish_and_no_resend_after_restart(kafka, topics, tap_queue, moto_endpoint, tmp_path):
    topic_arn, sqs, queue_url = tap_queue
    alerts = [
        make_alert(alert_id=alert_id(f"event-{i}", "heart_rate", "rule-7"), event_id=f"event-{i}") for i in range(3)
    ]
    producer = Producer(kafka.client_config())
    for alert in alerts:
        producer.produce(topics[0], key=alert.patient_id.encode(), value=alert.model_dump_json().encode())
    producer.produce(topics[0], value=b'{"alert_id": "broken"}')
    producer.produce(topics[0], value=alerts[0].model_dump_json().encode())
    assert producer.flush(30) == 0

    settings = NotifierSettings(
        kafka=kafka,
        topic=topics[0],
        dead_letter_topic=topics[1],
        group_id=f"test-notifier-{uuid.uuid4().hex[:8]}",
        sns_endpoint_url=moto_endpoint,
        sns_topic_arn=topic_arn,
        dedup_url=f"sqlite:///{tmp_path / 'sent.db'}",
        startup_timeout_s=10,
        poll_timeout_s=0.2,
    )
    first = run_until_consumed(settings, 5)
    assert first == {"sent": 3, "deduplicated": 1, "dead_letter": 1}
    received = drain(sqs, queue_url, 3)
    ids = sorted(m["MessageAttributes"]["alert_id"]["StringValue"] for m in received)
    assert ids == sorted(a.alert_id for a in alerts)

    replay = settings.model_copy(update={"replay_from_beginning": True})
    second = run_until_consumed(replay, 5)
    assert second == {"sent": 0, "deduplicated": 4, "dead_letter": 1}
    assert sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []) == []
