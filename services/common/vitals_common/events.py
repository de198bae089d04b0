"""The vitals event: one JSON object per reading, keyed by patient id on the vitals topic."""

from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vitals_common.vitals import VITAL_NAMES

# Namespace for deterministic ids: the same source row always yields the same event id, and the
# same reading and rule always yield the same alert id, so replays and retries de-duplicate.
ID_NAMESPACE = uuid.UUID("6f1c7d3e-2b8a-4c39-9d53-4b0f2f8e7a11")

EVENT_SCHEMA_VERSION = 1


def stable_id(*parts: object) -> str:
    """Return a UUIDv5 string derived from the given parts."""
    return str(uuid.uuid5(ID_NAMESPACE, "/".join(str(p) for p in parts)))


def utc_iso(ts: datetime) -> str:
    """Format a timestamp as ISO-8601 UTC with millisecond precision and a Z suffix."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return ts.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class VitalsEvent(BaseModel):
    """One reading of one or more vital signs for one patient."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = EVENT_SCHEMA_VERSION
    event_id: str = Field(min_length=1)
    patient_id: str = Field(min_length=1)
    event_time: datetime
    source: str = Field(min_length=1, description="where the reading came from, e.g. table name")
    heart_rate: float | None = None
    bp_systolic: float | None = None
    bp_diastolic: float | None = None
    spo2: float | None = None
    resp_rate: float | None = None
    temp_c: float | None = None

    @field_validator("event_time")
    @classmethod
    def _require_timezone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _require_a_finite_vital(self) -> "VitalsEvent":
        present = self.vitals()
        if not present:
            raise ValueError(f"a vitals event needs at least one of: {', '.join(VITAL_NAMES)}")
        for name, value in present.items():
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        return self

    def vitals(self) -> dict[str, float]:
        """Return the vital signs present in this reading."""
        values = {name: getattr(self, name) for name in VITAL_NAMES}
        return {name: value for name, value in values.items() if value is not None}

    def to_json(self) -> bytes:
        body: dict[str, Any] = self.model_dump(exclude_none=True)
        body["event_time"] = utc_iso(self.event_time)
        return json.dumps(body, separators=(",", ":")).encode()

    def kafka_key(self) -> bytes:
        return self.patient_id.encode()
