"""Sent-message counter labels: ward and vital, bounded."""

from __future__ import annotations

from prometheus_client import REGISTRY

from vitals_notifier.consumer import SENT, AlertProcessor, vital_label
from vitals_notifier.dedup_store import DedupStore

from notifier_fixtures import make_alert


class RecordingPublisher:
    def __init__(self):
        self.published = []

    def publish(self, message, alert_id):
        self.published.append(alert_id)
        return f"msg-{len(self.published)}"


def sent(ward: str, vital: str) -> float:
    return REGISTRY.get_sample_value("vitals_notifier_messages_sent_total", {"ward": ward, "vital": vital}) or 0.0


def test_sent_counter_labelled_by_ward_and_vital(tmp_path):
    dedup = DedupStore.open(f"sqlite:///{tmp_path / 'sent.db'}")
    processor = AlertProcessor(dedup, RecordingPublisher(), dead_letters=None)
    before = sent("ward-metrics-test", "spo2")
    alert = make_alert(alert_id="a" * 32, ward="ward-metrics-test", vital="spo2")
    try:
        assert processor.process(alert.model_dump_json().encode(), "doctor", 0, 1) == SENT
    finally:
        dedup.close()
    assert sent("ward-metrics-test", "spo2") - before == 1


def test_sent_counter_has_no_patient_labels():
    for metric in REGISTRY.collect():
        if metric.name == "vitals_notifier_messages_sent":
            for sample in metric.samples:
                assert set(sample.labels) <= {"ward", "vital"}


def test_unknown_vital_label_is_other():
    assert vital_label("heart_rate") == "heart_rate"
    assert vital_label("patient-42") == "other"
