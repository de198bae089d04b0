"""Alert samples and a free loopback port for the notifier tests."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

from vitals_common.alerts import Alert, alert_id


def make_alert(**overrides) -> Alert:
    fields = dict(
        alert_id=alert_id("event-1", "heart_rate", "rule-7"),
        event_id="event-1",
        patient_id="patient-42",
        patient_name="José Müller",
        patient_address="1 Main Street",
        phone_number="+15550100",
        ward="3",
        age=67,
        vital="heart_rate",
        value=131,
        unit="bpm",
        low_range_value=101,
        high_range_value=9999,
        rule_id="rule-7",
        alert_message="Higher Heart Rate than Normal",
        event_time=datetime(2026, 4, 1, 8, 30, 15, tzinfo=timezone.utc),
        generated_at=datetime(2026, 4, 1, 8, 30, 16, tzinfo=timezone.utc),
    )
    fields.update(overrides)
    return Alert(**fields)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
