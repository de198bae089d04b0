"""Batch-mode tests of parsing and validation of raw vitals records."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from vitals_common.spark_schemas import ARCHIVE_SCHEMA
from vitals_ingest.transform import dead_letters, parse_records, valid_readings

pytestmark = pytest.mark.spark

GOOD = {
    "schema_version": 1,
    "event_id": "e-1",
    "patient_id": "7",
    "event_time": "2026-03-01T10:15:30.250Z",
    "source": "unit",
    "heart_rate": 71,
    "bp_systolic": 182.5,
}


def kafka_frame(spark, values):
    rows = [
        (None if v is None else v.encode(), b"7", "vitals", 0, offset, datetime(2026, 3, 1, tzinfo=timezone.utc))
        for offset, v in enumerate(values)
    ]
    return spark.createDataFrame(
        rows, "value binary, key binary, topic string, partition int, offset long, timestamp timestamp"
    )


def reasons(spark, values):
    parsed = parse_records(kafka_frame(spark, values))
    return [row["dead_letter_reason"] for row in parsed.orderBy("kafka_offset").collect()]


def test_valid_event_is_archived_with_its_values(spark):
    parsed = parse_records(kafka_frame(spark, [json.dumps(GOOD)]))
    rows = valid_readings(parsed).collect()
    assert len(rows) == 1
    row = rows[0]
    assert row["event_id"] == "e-1"
    assert row["patient_id"] == "7"
    assert row["heart_rate"] == 71.0
    assert row["bp_systolic"] == 182.5
    assert row["spo2"] is None
    assert row["event_time"] == datetime(2026, 3, 1, 10, 15, 30, 250000)
    assert str(row["event_date"]) == "2026-03-01"
    assert row["kafka_offset"] == 0
    assert dead_letters(parsed).count() == 0


def test_archive_columns_follow_the_archive_schema(spark):
    parsed = parse_records(kafka_frame(spark, [json.dumps(GOOD)]))
    actual = [(f.name, f.dataType) for f in valid_readings(parsed).schema.fields]
    assert actual == [(f.name, f.dataType) for f in ARCHIVE_SCHEMA.fields]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "empty_value"),
        (None, "empty_value"),
        ("not json", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ('{"event_id": "e-1", "patient_id": "7"', "malformed_json"),
        (json.dumps({**GOOD, "heart_rate": "fast"}), "invalid_field_type"),
        (json.dumps({**GOOD, "event_time": "yesterday"}), "invalid_field_type"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "patient_id"}), "missing_required_field"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "event_time"}), "missing_required_field"),
        (json.dumps({**GOOD, "schema_version": 2}), "unsupported_schema_version"),
        (json.dumps({**GOOD, "heart_rate": None, "bp_systolic": None}), "no_vital_sign"),
        (json.dumps({**GOOD, "heart_rate": -5}), "invalid_vital_value"),
        ('{"event_id": "e", "patient_id": "7", "event_time": "2026-03-01T10:00:00Z", "heart_rate": Infinity}', "invalid_vital_value"),
        ('{"event_id": "e", "patient_id": "7", "event_time": "2026-03-01T10:00:00Z", "heart_rate": 1e400}', "invalid_vital_value"),
        (json.dumps({**GOOD, "patient_id": ""}), "missing_required_field"),
        (json.dumps({**GOOD, "event_id": "  "}), "missing_required_field"),
    ],
)
def test_bad_record_gets_reason(spark, value, expected):
    assert reasons(spark, [value]) == [expected]


def test_dead_letter_names_field_and_offset(spark):
    bad = json.dumps({**GOOD, "heart_rate": "fast"})
    parsed = parse_records(kafka_frame(spark, [json.dumps(GOOD), bad]))
    letters = [json.loads(r["value"]) for r in dead_letters(parsed).collect()]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["reason"] == "invalid_field_type"
    assert "heart_rate" in letter["detail"]
    assert letter["source_offset"] == 1
    assert letter["source_partition"] == 0
    assert letter["source_topic"] == "vitals"
    assert letter["value"] == bad
    assert valid_readings(parsed).count() == 1


def test_unknown_extra_field_is_ignored(spark):
    parsed = parse_records(kafka_frame(spark, [json.dumps({**GOOD, "device": "monitor-3"})]))
    assert valid_readings(parsed).count() == 1
