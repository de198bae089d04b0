"""Batch-mode tests of threshold evaluation against the capstone threshold table."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from vitals_alerter.evaluate import (
    alert_records,
    evaluate,
    normalise_contacts,
    thresholds_frame,
    unrouted_records,
)
from vitals_common.alerts import Alert, alert_id
from vitals_common.thresholds import ThresholdTable

pytestmark = pytest.mark.spark

# The capstone table: heartBeat and bp bands for ages 0-40 and 41-100.
CAPSTONE = [
    ("1", "heartBeat", 0, 40, 0, 69, 1, "Low Heart Rate than Normal"),
    ("2", "heartBeat", 0, 40, 70, 78, 0, "Normal"),
    ("3", "heartBeat", 0, 40, 79, 9999, 1, "Higher Heart Rate than Normal"),
    ("4", "bp", 0, 40, 0, 160, 1, "Low BP than Normal"),
    ("5", "bp", 0, 40, 161, 220, 0, "Normal"),
    ("6", "bp", 0, 40, 221, 9999, 1, "Higher BP than Normal"),
    ("7", "heartBeat", 41, 100, 0, 65, 1, "Low Heart Rate than Normal"),
    ("8", "heartBeat", 41, 100, 66, 73, 0, "Normal"),
    ("9", "heartBeat", 41, 100, 74, 9999, 1, "Higher Heart Rate than Normal"),
    ("10", "bp", 41, 100, 0, 150, 1, "Low BP than Normal"),
    ("11", "bp", 41, 100, 151, 180, 0, "Normal"),
    ("12", "bp", 41, 100, 181, 9999, 1, "Higher BP than Normal"),
]
FIELDS = ("attribute", "low_age_limit", "high_age_limit", "low_range_value", "high_range_value", "alert_flag", "alert_message")


@pytest.fixture(scope="module")
def table():
    return ThresholdTable.from_records((row[0], dict(zip(FIELDS, row[1:]))) for row in CAPSTONE)


@pytest.fixture(scope="module")
def contacts(spark):
    rows = [
        (1, "Patient 1", "Addr 1", "5550100001", 1, 40, None),
        (2, "Patient 2", "Addr 2", "5550100002", 2, 41, None),
        (3, "Patient 3", "Addr 3", "5550100003", 3, 101, None),
        (4, "Patient 4", "Addr 4", "5550100004", 4, None, None),
    ]
    frame = spark.createDataFrame(
        rows,
        "patientid int, patientname string, patientaddress string, phone_number string, "
        "admitted_ward int, age int, other_details string",
    )
    return normalise_contacts(frame)


def _num(value):
    return None if value is None else float(value)


def readings(spark, rows):
    """rows: (event_id, patient_id, heart_rate, bp_systolic, spo2)"""
    return spark.createDataFrame(
        [(e, p, datetime(2026, 3, 1, 10, 0), _num(hr), _num(bp), _num(sp)) for e, p, hr, bp, sp in rows],
        "event_id string, patient_id string, event_time timestamp, heart_rate double, "
        "bp_systolic double, spo2 double",
    ).selectExpr("*", "cast(null as double) as bp_diastolic", "cast(null as double) as resp_rate", "cast(null as double) as temp_c")


def outcomes(spark, table, contacts, rows):
    result = evaluate(readings(spark, rows), contacts, thresholds_frame(spark, table))
    return {(r["event_id"], r["vital"]): (r["outcome"], r["rule_id"]) for r in result.collect()}


def expected_outcome(table, age, vital, value):
    """Independent oracle: the pure-Python matcher of the threshold table."""
    if age is None or not table.covers_age(vital, age):
        return "no_age_band", None
    rule = table.match(vital, age, value)
    if rule is None:
        return "no_range_band", None
    return ("alert" if rule.alert_flag else "normal"), rule.rule_id


@pytest.mark.parametrize("value", [0, 68, 69, 69.5, 70, 78, 78.5, 79, 250, 9999, 12000])
@pytest.mark.parametrize("patient,age", [("1", 40), ("2", 41)])
def test_heart_rate_boundaries_match_oracle(spark, table, contacts, value, patient, age):
    got = outcomes(spark, table, contacts, [("e", patient, value, None, None)])
    assert got[("e", "heart_rate")] == expected_outcome(table, age, "heart_rate", value)


def test_inclusive_edges_fire_expected_rules(spark, table, contacts):
    got = outcomes(
        spark,
        table,
        contacts,
        [
            ("a", "1", 69, 160, None),  # both upper edges of the low bands, age 40
            ("b", "1", 79, 221, None),  # both lower edges of the high bands
            ("c", "2", 66, 151, None),  # age 41: lower edges of the normal bands
        ],
    )
    assert got[("a", "heart_rate")] == ("alert", "1")
    assert got[("a", "bp_systolic")] == ("alert", "4")
    assert got[("b", "heart_rate")] == ("alert", "3")
    assert got[("b", "bp_systolic")] == ("alert", "6")
    assert got[("c", "heart_rate")] == ("normal", "8")
    assert got[("c", "bp_systolic")] == ("normal", "11")


def test_unroutable_readings_are_classified(spark, table, contacts):
    got = outcomes(
        spark,
        table,
        contacts,
        [
            ("nc", "99", 120, None, None),  # no contact row
            ("old", "3", 120, None, None),  # age 101: no band
            ("noage", "4", 120, None, None),  # contact without age
            ("gap", "1", 69.5, None, None),  # between integer bands
            ("sp", "1", None, None, 88),  # no rule for spo2 in this table
        ],
    )
    assert got[("nc", "heart_rate")] == ("no_contact", None)
    assert got[("old", "heart_rate")] == ("no_age_band", None)
    assert got[("noage", "heart_rate")] == ("no_age_band", None)
    assert got[("gap", "heart_rate")] == ("no_range_band", None)
    assert got[("sp", "spo2")] == ("no_rule_for_vital", None)


def test_alert_json_carries_context_and_stable_id(spark, table, contacts):
    evaluated = evaluate(readings(spark, [("e-9", "2", 120, 150, None)]), contacts, thresholds_frame(spark, table))
    alerts = sorted((Alert.from_json(r["value"]) for r in alert_records(evaluated, table.version).collect()), key=lambda a: a.vital)
    assert [a.vital for a in alerts] == ["bp_systolic", "heart_rate"]
    bp, hr = alerts
    assert hr.alert_id == alert_id("e-9", "heart_rate", "9")
    assert bp.alert_id == alert_id("e-9", "bp_systolic", "10")
    assert hr.alert_message == "Higher Heart Rate than Normal"
    assert hr.value == 120
    assert hr.high_range_value == 9999
    assert hr.ward == "2"
    assert hr.age == 41
    assert hr.patient_name == "Patient 2"
    assert hr.threshold_version == table.version
    assert hr.unit == "bpm"


def test_unrouted_records_name_the_reason(spark, table, contacts):
    evaluated = evaluate(readings(spark, [("nc", "99", 120, None, None), ("ok", "1", 75, None, None)]), contacts, thresholds_frame(spark, table))
    letters = [json.loads(r["value"]) for r in unrouted_records(evaluated).collect()]
    assert [(x["reason"], x["event_id"], x["vital"]) for x in letters] == [("no_contact", "nc", "heart_rate")]
    assert alert_records(evaluated, table.version).count() == 0


def test_contact_table_without_age_column_is_rejected(spark):
    frame = spark.createDataFrame([(1, "x")], "patientid int, patientname string")
    with pytest.raises(ValueError, match="age"):
        normalise_contacts(frame)
