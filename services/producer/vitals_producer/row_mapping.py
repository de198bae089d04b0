"""Turn source rows (wide or long layout) into readings, and readings into vitals events.

A row that cannot become an event raises RejectedRow with a short reason code. The code is a
metric label and goes to the dead-letter topic, so it never contains a value from the row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from vitals_common.events import VitalsEvent, stable_id
from vitals_common.vitals import canonical_vital

from vitals_producer.settings import ProducerSettings

# Reason codes, used as the `reason` label of the dead-letter counter.
MISSING_PATIENT = "missing_patient"
MISSING_TIME = "missing_time"
INVALID_TIME = "invalid_time"
NON_NUMERIC_VALUE = "non_numeric_value"
UNKNOWN_VITAL = "unknown_vital"
NO_VITALS = "no_vitals"
INVALID_VALUE = "invalid_value"
REASON_CODES = (MISSING_PATIENT, MISSING_TIME, INVALID_TIME, NON_NUMERIC_VALUE, UNKNOWN_VITAL, NO_VITALS, INVALID_VALUE)


class RejectedRow(ValueError):
    """A row that cannot become a vitals event; `reason` is one of the reason codes above."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Reading:
    """The parts of one source row that make an event; `recorded_time` is None without a time column."""

    order_key: Any
    patient_id: str
    recorded_time: datetime | None
    vitals: dict[str, float]


def parse_number(value: Any) -> float:
    """Return the value as a float, or raise RejectedRow(non_numeric_value)."""
    if isinstance(value, bool):
        raise RejectedRow(NON_NUMERIC_VALUE, "boolean value")
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, (str, bytes)):
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return float(text.strip())
        except ValueError:
            raise RejectedRow(NON_NUMERIC_VALUE, "value is not a number") from None
    raise RejectedRow(NON_NUMERIC_VALUE, f"value of type {type(value).__name__}")


def parse_time(value: Any) -> datetime:
    """Return the value as an aware UTC datetime; naive values and strings are taken as UTC.

    Accepts datetime objects, ISO-8601 strings and numbers of seconds since the Unix epoch.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise RejectedRow(INVALID_TIME, "time is not finite")
        parsed = datetime.fromtimestamp(seconds, tz=timezone.utc)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RejectedRow(INVALID_TIME, "time is not ISO-8601") from None
    else:
        raise RejectedRow(INVALID_TIME, f"time of type {type(value).__name__}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _patient_id(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    text = "" if value is None else str(value).strip()
    if not text:
        raise RejectedRow(MISSING_PATIENT, f"column {column} is empty")
    return text


def _recorded_time(row: Mapping[str, Any], column: str | None) -> datetime | None:
    if column is None:
        return None
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RejectedRow(MISSING_TIME, f"column {column} is empty")
    return parse_time(value)


def default_vital_columns(columns: Iterable[str], excluded: Iterable[str]) -> dict[str, str]:
    """Map every column named like a known vital (canonical name or alias) to its canonical name."""
    skip = set(excluded)
    mapping: dict[str, str] = {}
    for column in columns:
        if column in skip:
            continue
        try:
            mapping[column] = canonical_vital(column)
        except ValueError:
            continue
    return mapping


class WideRowMapper:
    """Rows with one column per vital, like `patients_vital_info(row_seq, customerId, heartBeat, bp)`."""

    def __init__(
        self,
        order_column: str,
        patient_column: str,
        time_column: str | None,
        vital_columns: Mapping[str, str],
        allowed_vitals: Iterable[str] = (),
    ):
        if not vital_columns:
            raise ValueError("the wide layout needs at least one vital column")
        self.order_column = order_column
        self.patient_column = patient_column
        self.time_column = time_column
        self.vital_columns = dict(vital_columns)
        self.allowed = frozenset(allowed_vitals)

    @property
    def required_columns(self) -> list[str]:
        columns = [self.patient_column, *self.vital_columns]
        return columns + ([self.time_column] if self.time_column else [])

    def parse(self, row: Mapping[str, Any]) -> Reading | None:
        """Return the row's reading, None when the allow-list leaves no vital, or raise RejectedRow."""
        patient_id = _patient_id(row, self.patient_column)
        recorded_time = _recorded_time(row, self.time_column)
        vitals: dict[str, float] = {}
        left_out = 0
        for column, vital in self.vital_columns.items():
            value = row.get(column)
            if value is None:
                continue
            if self.allowed and vital not in self.allowed:
                left_out += 1
                continue
            vitals[vital] = parse_number(value)
        if not vitals:
            if left_out:
                return None
            raise RejectedRow(NO_VITALS, "every vital column is empty")
        return Reading(row[self.order_column], patient_id, recorded_time, vitals)


class LongRowMapper:
    """Rows with one reading each, like the MIMIC extract `(row_id, subject_id, charttime, vital, value)`."""

    def __init__(
        self,
        order_column: str,
        patient_column: str,
        time_column: str,
        vital_name_column: str,
        value_column: str,
        allowed_vitals: Iterable[str] = (),
    ):
        self.order_column = order_column
        self.patient_column = patient_column
        self.time_column = time_column
        self.vital_name_column = vital_name_column
        self.value_column = value_column
        self.allowed = frozenset(allowed_vitals)

    @property
    def required_columns(self) -> list[str]:
        return [self.patient_column, self.time_column, self.vital_name_column, self.value_column]

    def parse(self, row: Mapping[str, Any]) -> Reading | None:
        """Return the row's reading, None when its vital is not in the allow-list, or raise RejectedRow."""
        patient_id = _patient_id(row, self.patient_column)
        recorded_time = _recorded_time(row, self.time_column)
        name = row.get(self.vital_name_column)
        try:
            vital = canonical_vital(str(name)) if name is not None else None
        except ValueError:
            vital = None
        if vital is None:
            raise RejectedRow(UNKNOWN_VITAL, f"column {self.vital_name_column} is not a known vital")
        if self.allowed and vital not in self.allowed:
            return None
        value = row.get(self.value_column)
        if value is None:
            raise RejectedRow(NON_NUMERIC_VALUE, f"column {self.value_column} is empty")
        return Reading(row[self.order_column], patient_id, recorded_time, {vital: parse_number(value)})


RowMapper = WideRowMapper | LongRowMapper


def build_row_mapper(settings: ProducerSettings, table_columns: Iterable[str]) -> RowMapper:
    """Build the mapper the settings describe; raise ValueError when the wide layout finds no vital column."""
    if settings.layout == "long":
        return LongRowMapper(
            order_column=settings.order_column,
            patient_column=settings.patient_column_name,
            time_column=settings.time_column_name or "charttime",
            vital_name_column=settings.vital_name_column,
            value_column=settings.value_column,
            allowed_vitals=settings.vitals,
        )
    vital_columns = settings.vital_columns
    if vital_columns is None:
        excluded = {settings.order_column, settings.patient_column_name, settings.time_column_name}
        vital_columns = default_vital_columns(table_columns, excluded - {None})
    if not vital_columns:
        raise ValueError(
            f"no vital column found among {', '.join(table_columns)}; set PRODUCER_VITAL_COLUMNS, "
            'e.g. {"heartBeat":"heart_rate"}'
        )
    return WideRowMapper(
        order_column=settings.order_column,
        patient_column=settings.patient_column_name,
        time_column=settings.time_column_name,
        vital_columns=vital_columns,
        allowed_vitals=settings.vitals,
    )


def build_event(reading: Reading, source_table: str, event_time: datetime) -> VitalsEvent:
    """Build the event of a reading, or raise RejectedRow(invalid_value) for a negative or non-finite value."""
    try:
        return VitalsEvent(
            event_id=stable_id(source_table, reading.order_key),
            patient_id=reading.patient_id,
            event_time=event_time,
            source=source_table,
            **reading.vitals,
        )
    except ValidationError:
        # The validation message contains the value, so only the reason code leaves this function.
        raise RejectedRow(INVALID_VALUE, "a vital is negative or not finite") from None


def raw_row(row: Mapping[str, Any]) -> dict[str, str | None]:
    """Return the row with every value as a string (None stays None) for the dead-letter message."""
    return {column: None if value is None else str(value) for column, value in row.items()}
