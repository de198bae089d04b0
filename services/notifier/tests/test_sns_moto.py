"""SNS path against moto on a free loopback port, read back through a subscribed SQS queue."""

import json
from datetime import datetime, timezone

import boto3
import pytest

from vitals_notifier.message import render_message
from vitals_notifier.settings import NotifierSettings
from vitals_notifier.sns_publisher import SnsPublisher, build_sns_client, resolve_topic_arn

from notifier_fixtures import make_alert


@pytest.fixture
def sns_and_queue(moto_endpoint, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    settings = NotifierSettings(sns_endpoint_url=moto_endpoint, sns_topic_name="test-vitals-alerts")
    client = build_sns_client(settings)
    topic_arn = resolve_topic_arn(client, settings)
    sqs = boto3.client(
        "sqs", endpoint_url=moto_endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )
    queue_url = sqs.create_queue(QueueName="test-vitals-tap")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    yield settings, client, topic_arn, sqs, queue_url
    sqs.delete_queue(QueueUrl=queue_url)


def test_resolve_topic_is_idempotent(sns_and_queue):
    settings, client, topic_arn, _, _ = sns_and_queue
    assert resolve_topic_arn(client, settings) == topic_arn
    assert topic_arn.endswith(":test-vitals-alerts")


def test_published_alert_reads_back_from_queue(sns_and_queue):
    _, client, topic_arn, sqs, queue_url = sns_and_queue
    alert = make_alert(event_time=datetime(2026, 4, 1, 8, 30, 15, tzinfo=timezone.utc))
    message = render_message(alert)
    message_id = SnsPublisher(client, topic_arn).publish(message, alert.alert_id)

    received = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(received) == 1
    body = received[0]["Body"]
    assert body == message.body
    assert "Patient: José Müller" in body
    attributes = {k: v["StringValue"] for k, v in received[0]["MessageAttributes"].items()}
    assert attributes == {"ward": "3", "vital": "heart_rate", "alert_id": alert.alert_id}
    assert message_id
