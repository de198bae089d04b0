"""Producer against a real broker at KAFKA_BOOTSTRAP_SERVERS; skipped when none responds."""

import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from vitals_common.events import stable_id
from vitals_common.settings import KafkaSettings
from vitals_producer.service import run_producer
from vitals_producer.settings import ProducerSettings

pytestmark = pytest.mark.stack

COLUMNS = {"row_seq": sa.Integer, "customerId": sa.Text, "heartBeat": sa.Integer, "bp": sa.Text}
READ_DEADLINE_S = 30.0


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
    names = (f"test-vitals-{suffix}", f"test-vitals-dlq-{suffix}")
    yield names
    AdminClient(kafka.client_config()).delete_topics(list(names), operation_timeout=10)


def read_messages(kafka: KafkaSettings, topic: str, expected: int) -> list:
    """Read from the start of `topic` until `expected` messages arrived or the deadline passed."""
    consumer = Consumer({
        **kafka.client_config(),
        "group.id": f"test-reader-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    messages = []
    deadline = time.monotonic() + READ_DEADLINE_S
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                messages.append(message)
        # One more short poll so that a message beyond the expected count would show up.
        extra = consumer.poll(2.0)
        if extra is not None and not extra.error():
            messages.append(extra)
    finally:
        consumer.close()
    return messages


def producer_settings(url, tmp_path, topics, kafka) -> ProducerSettings:
    return ProducerSettings(
        kafka=kafka,
        topic=topics[0],
        dead_letter_topic=topics[1],
        partitions=2,
        source_url=url,
        progress_path=tmp_path / "progress.json",
        pacing="fastest",
        batch_size=3,
        startup_timeout_s=10,
    )


def test_publish_table_in_order_and_resume(kafka, topics, tmp_path, make_table, add_rows):
    rows = [{"row_seq": i, "customerId": f"p{i % 2}", "heartBeat": 60 + i, "bp": str(100 + i)} for i in range(1, 8)]
    rows[3]["bp"] = "n/a"
    url = make_table("patients_vital_info", COLUMNS, rows)
    settings = producer_settings(url, tmp_path, topics, kafka)

    stats = run_producer(settings, threading.Event())
    assert stats.events_sent == 6
    assert stats.dead_letters == 1

    events = read_messages(kafka, topics[0], 6)
    assert len(events) == 6
    for patient in ("p0", "p1"):
        keys = [json.loads(m.value())["event_id"] for m in events if m.key() == patient.encode()]
        expected = [stable_id("patients_vital_info", r["row_seq"]) for r in rows
                    if r["customerId"] == patient and r["row_seq"] != 4]
        assert keys == expected
    letters = read_messages(kafka, topics[1], 1)
    assert [json.loads(m.value())["order_key"] for m in letters] == [4]

    add_rows(url, "patients_vital_info", [{"row_seq": 8, "customerId": "p0", "heartBeat": 99, "bp": "140"}])
    second = run_producer(settings, threading.Event())
    assert second.rows_read == 1
    all_events = read_messages(kafka, topics[0], 7)
    ids = [json.loads(m.value())["event_id"] for m in all_events]
    assert len(ids) == 7
    assert len(set(ids)) == 7
    assert stable_id("patients_vital_info", 8) in ids
