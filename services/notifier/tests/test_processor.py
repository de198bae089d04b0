import json
import logging

import pytest
from prometheus_client import REGISTRY

from vitals_common.logs import KeyValueFormatter

from vitals_notifier.consumer import DEAD_LETTER, DEDUPLICATED, SENT, AlertProcessor
from vitals_notifier.dedup_store import DedupStore
from vitals_notifier.sns_publisher import PublishFailed

from notifier_fixtures import make_alert


class FakePublisher:
    def __init__(self, error=None):
        self.published = []
        self.error = error

    def publish(self, message, alert_id):
        if self.error:
            raise self.error
        self.published.append((message, alert_id))
        return f"msg-{len(self.published)}"


class FakeDeadLetters:
    def __init__(self):
        self.sent = []

    def send(self, key, body):
        self.sent.append((key, body))


def logged_lines(caplog) -> str:
    """Render captured records as the service writes them, extra fields included."""
    formatter = KeyValueFormatter("notifier")
    return "\n".join(formatter.format(record) for record in caplog.records)


def counter(name):
    return REGISTRY.get_sample_value(name) or 0.0


@pytest.fixture
def dedup(tmp_path):
    store = DedupStore.open(f"sqlite:///{tmp_path / 'sent.db'}")
    yield store
    store.close()


def test_sends_once_then_deduplicates(dedup, caplog):
    publisher = FakePublisher()
    processor = AlertProcessor(dedup, publisher, FakeDeadLetters())
    alert = make_alert()
    raw = alert.model_dump_json().encode()
    before = counter("vitals_notifier_messages_deduplicated_total")

    with caplog.at_level(logging.INFO):
        assert processor.process(raw, "doctor", 0, 10) == SENT
        assert processor.process(raw, "doctor", 0, 11) == DEDUPLICATED

    assert len(publisher.published) == 1
    assert publisher.published[0][1] == alert.alert_id
    assert dedup.contains(alert.alert_id)
    assert counter("vitals_notifier_messages_deduplicated_total") - before == 1
    lines = logged_lines(caplog)
    for text in ("José", "patient-42", "Main Street", "5550100"):
        assert text not in lines
    assert f"alert_id={alert.alert_id}" in lines


def test_failed_publish_records_nothing(dedup):
    processor = AlertProcessor(dedup, FakePublisher(error=PublishFailed("rejected")), FakeDeadLetters())
    alert = make_alert()
    with pytest.raises(PublishFailed):
        processor.process(alert.model_dump_json().encode(), "doctor", 0, 1)
    assert not dedup.contains(alert.alert_id)


def test_unparsable_alert_goes_to_dead_letters(dedup, caplog):
    dead_letters = FakeDeadLetters()
    processor = AlertProcessor(dedup, FakePublisher(), dead_letters)
    body = json.dumps({"alert_id": "x", "patient_name": "Secret Name"}).encode()
    with caplog.at_level(logging.INFO):
        assert processor.process(body, "doctor", 2, 99) == DEAD_LETTER
        assert processor.process(b"{not json", "doctor", 2, 100) == DEAD_LETTER

    (key, first), (_, second) = dead_letters.sent
    assert key == b"doctor/2/99"
    assert first["stage"] == "notifier"
    assert first["partition"] == 2
    assert first["offset"] == 99
    assert first["reason"].startswith("invalid_alert: ")
    assert "event_id: Field required" in first["reason"]
    assert first["raw"] == body.decode()
    assert second["reason"] == "invalid_json: JSONDecodeError"
    lines = logged_lines(caplog)
    assert "Secret Name" not in lines
    assert "offset=99" in lines


def test_interrupted_send_is_flagged(dedup):
    publisher = FakePublisher()
    processor = AlertProcessor(dedup, publisher, FakeDeadLetters())
    alert = make_alert()
    # A previous process stored the id as pending and died before the SNS call returned.
    dedup.mark_pending(alert.alert_id)

    outcome = processor.process(alert.model_dump_json().encode(), "doctor", 0, 7)

    assert outcome == SENT
    assert len(publisher.published) == 1
    message, _ = publisher.published[0]
    assert message.attributes["possible_duplicate"]["StringValue"] == "true"
    assert dedup.status(alert.alert_id) == "sent"


def test_first_send_has_no_duplicate_flag(dedup):
    publisher = FakePublisher()
    processor = AlertProcessor(dedup, publisher, FakeDeadLetters())
    processor.process(make_alert().model_dump_json().encode(), "doctor", 0, 8)
    message, _ = publisher.published[0]
    assert "possible_duplicate" not in message.attributes
