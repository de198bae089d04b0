"""SNS subject, body and message attributes of one alert.

The subject is ASCII, has no line breaks or control characters and is shorter than 100
characters, which SNS requires of e-mail subjects. The body is kept within 1600 characters, the
length that SMS carriers commonly deliver as one concatenated message.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import timezone

from vitals_common.alerts import Alert
from vitals_common.vitals import VITAL_SIGNS, canonical_vital

MAX_SUBJECT_CHARS = 99
MAX_BODY_CHARS = 1600
# Caps of single fields in the body, so one long value cannot push the others out.
MAX_NAME_CHARS = 120
MAX_FIELD_CHARS = 60
OPEN_ENDED = 9999.0
ELLIPSIS = "..."


@dataclass(frozen=True)
class SnsMessage:
    subject: str
    body: str
    attributes: dict[str, dict[str, str]]


def _single_line(text: str) -> str:
    """Replace control characters (line breaks included) with spaces and collapse runs of spaces."""
    cleaned = "".join(" " if unicodedata.category(c).startswith("C") else c for c in text)
    return " ".join(cleaned.split())


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def to_ascii(text: str) -> str:
    """Fold accents to their base letters (María -> Maria) and drop what has no ASCII form."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("ascii", "ignore").decode("ascii")


def _number(value: float) -> str:
    return f"{value:g}"


def vital_label_and_unit(alert: Alert) -> tuple[str, str]:
    """Return the readable label and unit of the alert's vital, falling back to the raw name."""
    try:
        sign = VITAL_SIGNS[canonical_vital(alert.vital)]
    except ValueError:
        return alert.vital, alert.unit or ""
    return sign.label, alert.unit or sign.unit


def describe_range(low: float, high: float, unit: str) -> str:
    """Describe a rule's value band; 9999 marks an open upper end, as in the threshold table."""
    suffix = f" {unit}" if unit else ""
    if high >= OPEN_ENDED:
        return f"{_number(low)}{suffix} or above"
    return f"{_number(low)}-{_number(high)}{suffix}"


def render_subject(alert: Alert) -> str:
    """Return e.g. `Vitals alert ward 3: Higher Heart Rate than Normal`, ASCII and under 100 characters."""
    message = _single_line(to_ascii(alert.alert_message)) or "out-of-range reading"
    ward = _single_line(to_ascii(alert.ward or ""))
    prefix = f"Vitals alert ward {_truncate(ward, 20)}: " if ward else "Vitals alert: "
    return _truncate(prefix + message, MAX_SUBJECT_CHARS)


def render_body(alert: Alert) -> str:
    """Return short lines a clinician can read on a phone, at most 1600 characters in all.

    The alert message is shortened first when the whole body would be too long.
    """
    label, unit = vital_label_and_unit(alert)
    reading_time = alert.event_time.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    value = f"{_number(alert.value)} {unit}".strip()
    name = _truncate(_single_line(alert.patient_name or "") or "unknown", MAX_NAME_CHARS)
    ward = _truncate(_single_line(alert.ward or "") or "unknown", MAX_FIELD_CHARS)
    detail_lines = [
        f"{_truncate(_single_line(label), MAX_FIELD_CHARS)}: {value}",
        f"Alert range: {describe_range(alert.low_range_value, alert.high_range_value, unit)}",
        f"Patient: {name}",
        f"Ward: {ward}",
        f"Age: {_number(alert.age)}",
        f"Reading time: {reading_time}",
        f"Alert id: {_truncate(alert.alert_id, MAX_FIELD_CHARS)}",
    ]
    details = "\n".join(detail_lines)
    budget = MAX_BODY_CHARS - len(details) - 1
    headline = _truncate(_single_line(alert.alert_message) or "Out-of-range reading", budget)
    return f"{headline}\n{details}"


def render_attributes(alert: Alert, possible_duplicate: bool = False) -> dict[str, dict[str, str]]:
    """Return the `ward`, `vital` and `alert_id` String attributes; SNS rejects empty values, so none is empty.

    A re-send after an interrupted send also carries `possible_duplicate` = `true`.
    """
    try:
        vital = canonical_vital(alert.vital)
    except ValueError:
        vital = alert.vital
    values = {"ward": alert.ward or "unknown", "vital": vital or "unknown", "alert_id": alert.alert_id}
    if possible_duplicate:
        values["possible_duplicate"] = "true"
    return {key: {"DataType": "String", "StringValue": value} for key, value in values.items()}


def render_message(alert: Alert, possible_duplicate: bool = False) -> SnsMessage:
    return SnsMessage(render_subject(alert), render_body(alert), render_attributes(alert, possible_duplicate))
