"""The alert: one JSON object per fired rule, written to the `doctor` topic."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict

ALERT_ID_LENGTH = 32


def alert_id(event_id: str, vital: str, rule_id: str) -> str:
    """Return the deterministic id of the alert raised by one rule on one reading.

    The alerter computes the same value in Spark SQL as
    `substring(sha2(concat_ws('/', event_id, vital, rule_id), 256), 1, 32)`; a test keeps the two
    in step.
    """
    digest = hashlib.sha256(f"{event_id}/{vital}/{rule_id}".encode()).hexdigest()
    return digest[:ALERT_ID_LENGTH]


class Alert(BaseModel):
    """An out-of-range reading with the patient's contact context and the rule that fired."""

    model_config = ConfigDict(extra="ignore")

    alert_id: str
    event_id: str
    patient_id: str
    patient_name: str | None = None
    patient_address: str | None = None
    phone_number: str | None = None
    ward: str | None = None
    age: float
    vital: str
    value: float
    unit: str | None = None
    low_range_value: float
    high_range_value: float
    rule_id: str
    alert_message: str
    threshold_version: str | None = None
    event_time: datetime
    generated_at: datetime

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Alert":
        return cls.model_validate(json.loads(raw))
