"""Validation and matching of the age-banded threshold table."""

from __future__ import annotations

import pytest

from vitals_common.thresholds import InvalidThresholdTable, ThresholdTable

FIELDS = ("attribute", "low_age_limit", "high_age_limit", "low_range_value", "high_range_value", "alert_flag", "alert_message")


def table(*rows):
    return ThresholdTable.from_records((row[0], dict(zip(FIELDS, row[1:]))) for row in rows)


def rejection(*rows) -> str:
    with pytest.raises(InvalidThresholdTable) as caught:
        table(*rows)
    return str(caught.value)


LOW = ("1", "heartBeat", 0, 40, 0, 69, 1, "Low")
NORMAL = ("2", "heartBeat", 0, 40, 70, 78, 0, "Normal")
HIGH = ("3", "heartBeat", 0, 40, 79, 9999, 1, "High")


def test_capstone_rows_match_inclusive_bands():
    rules = table(LOW, NORMAL, HIGH)
    assert rules.match("heart_rate", 40, 69).rule_id == "1"
    assert rules.match("heart_rate", 40, 70).rule_id == "2"
    assert rules.match("heart_rate", 0, 78).rule_id == "2"
    assert rules.match("heart_rate", 40, 79).rule_id == "3"
    assert rules.match("heart_rate", 41, 79) is None
    assert rules.match("heart_rate", 40, 69.5) is None


def test_open_ended_limit_has_no_upper_bound():
    rules = table(LOW, NORMAL, HIGH)
    assert rules.match("heart_rate", 30, 9999).rule_id == "3"
    assert rules.match("heart_rate", 30, 25000).rule_id == "3"


def test_overlapping_bands_name_both_rows():
    message = rejection(LOW, ("2", "heartBeat", 30, 50, 60, 78, 0, "Normal"))
    assert "rows 1 and 2 overlap" in message


def test_inverted_bands_are_rejected():
    assert "row 9: age band inverted" in rejection(("9", "bp", 50, 40, 0, 10, 1, "x"))
    assert "row 9: value band inverted" in rejection(("9", "bp", 0, 40, 20, 10, 1, "x"))


def test_bad_values_are_rejected():
    assert "not a number" in rejection(("4", "bp", "zero", 40, 0, 10, 1, "x"))
    assert "must be finite" in rejection(("4", "bp", 0, 40, "nan", "nan", 1, "x"))
    assert "must be finite" in rejection(("4", "bp", 0, 40, 0, "inf", 1, "x"))
    assert "alert_flag='2' must be 0 or 1" in rejection(("4", "bp", 0, 40, 0, 10, 2, "x"))
    assert "unknown vital sign 'pressure'" in rejection(("4", "pressure", 0, 40, 0, 10, 1, "x"))
    assert "missing alert_message" in rejection(("4", "bp", 0, 40, 0, 10, 1, ""))


def test_duplicate_row_id_is_rejected():
    message = rejection(LOW, ("1", "heartBeat", 41, 100, 0, 65, 1, "Low"))
    assert "row id 1 appears more than once" in message


def test_empty_table_is_rejected():
    assert "no rows" in rejection()


def test_version_follows_content():
    assert table(LOW, NORMAL).version == table(NORMAL, LOW).version
    assert table(LOW, NORMAL).version != table(LOW, HIGH).version
