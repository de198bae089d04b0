from datetime import datetime, timezone

import pytest

from vitals_common.events import stable_id
from vitals_producer.row_mapping import (
    INVALID_VALUE,
    MISSING_PATIENT,
    MISSING_TIME,
    NO_VITALS,
    NON_NUMERIC_VALUE,
    UNKNOWN_VITAL,
    LongRowMapper,
    RejectedRow,
    WideRowMapper,
    build_event,
    build_row_mapper,
    default_vital_columns,
    parse_time,
    raw_row,
)
from vitals_producer.settings import ProducerSettings

SEND_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def wide_mapper(**kwargs) -> WideRowMapper:
    options = dict(
        order_column="row_seq",
        patient_column="customerId",
        time_column=None,
        vital_columns={"heartBeat": "heart_rate", "bp": "bp_systolic"},
    )
    options.update(kwargs)
    return WideRowMapper(**options)


def long_mapper(**kwargs) -> LongRowMapper:
    options = dict(
        order_column="row_id",
        patient_column="subject_id",
        time_column="charttime",
        vital_name_column="vital",
        value_column="value",
    )
    options.update(kwargs)
    return LongRowMapper(**options)


def test_default_vital_columns_resolve_capstone_aliases():
    columns = ["row_seq", "customerId", "heartBeat", "bp", "note"]
    mapping = default_vital_columns(columns, excluded={"row_seq", "customerId"})
    assert mapping == {"heartBeat": "heart_rate", "bp": "bp_systolic"}


def test_wide_row_becomes_event():
    reading = wide_mapper().parse({"row_seq": 7, "customerId": 101, "heartBeat": 72, "bp": "118"})
    assert reading is not None
    event = build_event(reading, "patients_vital_info", SEND_TIME)
    assert event.event_id == stable_id("patients_vital_info", 7)
    assert event.patient_id == "101"
    assert event.heart_rate == 72.0
    assert event.bp_systolic == 118.0
    assert event.source == "patients_vital_info"
    assert event.event_time == SEND_TIME
    assert event.kafka_key() == b"101"


def test_wide_row_null_vital_omitted():
    reading = wide_mapper().parse({"row_seq": 1, "customerId": "p", "heartBeat": None, "bp": 130})
    assert reading is not None
    assert reading.vitals == {"bp_systolic": 130.0}


def test_wide_row_uses_configured_time_column():
    mapper = wide_mapper(time_column="ts")
    reading = mapper.parse({"row_seq": 1, "customerId": "p", "heartBeat": 80, "bp": 120, "ts": "2026-03-01 10:00:00"})
    assert reading is not None
    assert reading.recorded_time == datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"row_seq": 1, "customerId": None, "heartBeat": 80, "bp": 120}, MISSING_PATIENT),
        ({"row_seq": 1, "customerId": "  ", "heartBeat": 80, "bp": 120}, MISSING_PATIENT),
        ({"row_seq": 1, "customerId": "p", "heartBeat": "fast", "bp": 120}, NON_NUMERIC_VALUE),
        ({"row_seq": 1, "customerId": "p", "heartBeat": None, "bp": None}, NO_VITALS),
    ],
)
def test_wide_bad_rows_are_rejected(row, reason):
    with pytest.raises(RejectedRow) as raised:
        wide_mapper().parse(row)
    assert raised.value.reason == reason


def test_wide_negative_value_rejected_at_event():
    reading = wide_mapper().parse({"row_seq": 1, "customerId": "p", "heartBeat": -5, "bp": None})
    assert reading is not None
    with pytest.raises(RejectedRow) as raised:
        build_event(reading, "t", SEND_TIME)
    assert raised.value.reason == INVALID_VALUE
    assert "-5" not in str(raised.value)


def test_wide_allow_list_skips_row_without_allowed_vital():
    mapper = wide_mapper(allowed_vitals={"bp_systolic"})
    assert mapper.parse({"row_seq": 1, "customerId": "p", "heartBeat": 80, "bp": None}) is None
    reading = mapper.parse({"row_seq": 2, "customerId": "p", "heartBeat": 80, "bp": 120})
    assert reading is not None
    assert reading.vitals == {"bp_systolic": 120.0}


def test_long_row_maps_alias_names():
    mapper = long_mapper()
    row = {"row_id": 5, "subject_id": 10001, "charttime": "2180-07-23T14:00:00", "vital": "sbp", "value": 141.5}
    reading = mapper.parse(row)
    assert reading is not None
    assert reading.vitals == {"bp_systolic": 141.5}
    assert reading.patient_id == "10001"
    assert reading.recorded_time == datetime(2180, 7, 23, 14, 0, tzinfo=timezone.utc)
    event = build_event(reading, "vitals_long", reading.recorded_time)
    assert event.event_id == stable_id("vitals_long", 5)


def test_long_allow_list_skips_other_vitals():
    mapper = long_mapper(allowed_vitals={"heart_rate", "bp_systolic"})
    row = {"row_id": 5, "subject_id": 1, "charttime": "2180-07-23T14:00:00", "vital": "spo2", "value": 97}
    assert mapper.parse(row) is None


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"row_id": 1, "subject_id": 1, "charttime": "2180-07-23T14:00:00", "vital": "glucose", "value": 9}, UNKNOWN_VITAL),
        ({"row_id": 1, "subject_id": 1, "charttime": "2180-07-23T14:00:00", "vital": None, "value": 9}, UNKNOWN_VITAL),
        ({"row_id": 1, "subject_id": 1, "charttime": "2180-07-23T14:00:00", "vital": "hr", "value": "n/a"}, NON_NUMERIC_VALUE),
        ({"row_id": 1, "subject_id": 1, "charttime": "2180-07-23T14:00:00", "vital": "hr", "value": None}, NON_NUMERIC_VALUE),
        ({"row_id": 1, "subject_id": None, "charttime": "2180-07-23T14:00:00", "vital": "hr", "value": 80}, MISSING_PATIENT),
        ({"row_id": 1, "subject_id": 1, "charttime": None, "vital": "hr", "value": 80}, MISSING_TIME),
    ],
)
def test_long_bad_rows_are_rejected(row, reason):
    with pytest.raises(RejectedRow) as raised:
        long_mapper().parse(row)
    assert raised.value.reason == reason


def test_parse_time_accepts_epoch_and_offsets():
    assert parse_time(0) == datetime(1970, 1, 1, tzinfo=timezone.utc)
    assert parse_time("2026-01-01T02:00:00+02:00") == datetime(2026, 1, 1, 0, 0, tzinfo=timezone.utc)


def test_raw_row_renders_strings_and_nulls():
    assert raw_row({"a": 1, "b": None, "c": 1.5}) == {"a": "1", "b": None, "c": "1.5"}


def test_build_row_mapper_from_settings_vital_columns():
    settings = ProducerSettings(vital_columns='{"hb": "heartBeat", "sys": "bp"}')
    mapper = build_row_mapper(settings, ["row_seq", "customerId", "hb", "sys"])
    assert isinstance(mapper, WideRowMapper)
    assert mapper.vital_columns == {"hb": "heart_rate", "sys": "bp_systolic"}


def test_build_row_mapper_without_vital_columns_raises():
    with pytest.raises(ValueError, match="PRODUCER_VITAL_COLUMNS"):
        build_row_mapper(ProducerSettings(), ["row_seq", "customerId", "note"])


def test_settings_parse_vitals_allow_list():
    settings = ProducerSettings(layout="long", vitals="heart_rate, sbp")
    assert settings.vitals == ("heart_rate", "bp_systolic")
    assert settings.patient_column_name == "subject_id"
    assert settings.time_column_name == "charttime"
