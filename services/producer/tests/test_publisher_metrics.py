"""Delivery callbacks count confirmed and failed messages per topic."""

from __future__ import annotations

from prometheus_client import REGISTRY

from vitals_producer.progress_store import DeliveryTracker
from vitals_producer.publisher import Publisher

from producer_fakes import FakeKafkaProducer


def sample(name: str, topic: str) -> float:
    return REGISTRY.get_sample_value(name, {"topic": topic}) or 0.0


def test_counters_split_by_topic():
    producer = FakeKafkaProducer(hold=1, fail_when=lambda topic, value: value == b"bad")
    publisher = Publisher(producer, DeliveryTracker(None))
    produced = {t: sample("vitals_producer_messages_produced_total", t) for t in ("metrics-a", "metrics-b")}
    failed = sample("vitals_producer_messages_failed_total", "metrics-b")

    publisher.send("metrics-a", b"k", b"ok", 1)
    publisher.send("metrics-a", b"k", b"ok", 2)
    publisher.send("metrics-b", b"k", b"ok", 3)
    publisher.send("metrics-b", b"k", b"bad", 4)
    publisher.flush(1.0)

    assert sample("vitals_producer_messages_produced_total", "metrics-a") - produced["metrics-a"] == 2
    assert sample("vitals_producer_messages_produced_total", "metrics-b") - produced["metrics-b"] == 1
    assert sample("vitals_producer_messages_failed_total", "metrics-b") - failed == 1
