from vitals_notifier.message import MAX_BODY_CHARS, render_attributes, render_body, render_subject

from notifier_fixtures import make_alert


def test_subject_example(alert):
    assert render_subject(alert) == "Vitals alert ward 3: Higher Heart Rate than Normal"


def test_subject_is_ascii_single_line_and_short():
    alert = make_alert(alert_message="Fréquence cardiaque élevée\n" + "x" * 300, ward="Süd\r\n2")
    subject = render_subject(alert)
    assert subject.isascii()
    assert "\n" not in subject
    assert "\r" not in subject
    assert len(subject) < 100
    assert subject.startswith("Vitals alert ward Sud 2: Frequence cardiaque elevee x")
    assert subject.endswith("...")


def test_subject_without_ward():
    assert render_subject(make_alert(ward=None)) == "Vitals alert: Higher Heart Rate than Normal"


def test_body_lines(alert):
    lines = render_body(alert).split("\n")
    assert lines == [
        "Higher Heart Rate than Normal",
        "Heart rate: 131 bpm",
        "Alert range: 101 bpm or above",
        "Patient: José Müller",
        "Ward: 3",
        "Age: 67",
        "Reading time: 2026-04-01 08:30:15 UTC",
        f"Alert id: {alert.alert_id}",
    ]


def test_body_closed_range_and_capstone_vital_name():
    body = render_body(make_alert(vital="bp", unit=None, value=85, low_range_value=0, high_range_value=89))
    assert "Systolic blood pressure: 85 mmHg" in body
    assert "Alert range: 0-89 mmHg" in body


def test_body_long_message_truncated():
    alert = make_alert(alert_message="Ä" * 5000, patient_name="Zoë " * 100)
    body = render_body(alert)
    assert len(body) <= MAX_BODY_CHARS
    assert body.split("\n")[0].endswith("...")
    assert f"Alert id: {alert.alert_id}" in body
    assert "Reading time: 2026-04-01 08:30:15 UTC" in body


def test_attributes(alert):
    assert render_attributes(alert) == {
        "ward": {"DataType": "String", "StringValue": "3"},
        "vital": {"DataType": "String", "StringValue": "heart_rate"},
        "alert_id": {"DataType": "String", "StringValue": alert.alert_id},
    }


def test_attributes_never_empty():
    attributes = render_attributes(make_alert(ward=None, vital="heartBeat"))
    assert attributes["ward"]["StringValue"] == "unknown"
    assert attributes["vital"]["StringValue"] == "heart_rate"
