"""Threshold evaluation as pure DataFrame functions, testable in batch mode.

Each reading is split into one row per vital sign present, joined with the patient's contact row
and with the rule whose age band and value band contain it. Every row gets an `outcome`:

- `alert`: a rule with `alert_flag` 1 matched; `to_be_alerted` is true.
- `normal`: a rule with `alert_flag` 0 matched.
- `no_contact`: the patient has no contact row, so no clinician and no age are known.
- `no_age_band`: the contact row has no age, or no band of this vital covers the age.
- `no_range_band`: a band covers the age but no value band contains the value, e.g. 69.5 between
  the integer bands 0-69 and 70-78.
- `no_rule_for_vital`: the threshold table has no rule for this vital at all (not evaluated).

The three middle outcomes are "unrouted": they cannot reach a clinician through this table, so the
job writes them to the unrouted topic and counts them, rather than dropping them.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from vitals_common.alerts import ALERT_ID_LENGTH
from vitals_common.thresholds import OPEN_ENDED, ThresholdTable
from vitals_common.vitals import VITAL_NAMES, VITAL_SIGNS

UNROUTED_OUTCOMES = ("no_contact", "no_age_band", "no_range_band")

# Capstone column names of the Hive contact table, mapped to the names alerts use.
CONTACT_COLUMNS = {
    "patientid": "patient_id",
    "patientname": "patient_name",
    "patientaddress": "patient_address",
    "phone_number": "phone_number",
    "admitted_ward": "ward",
    "age": "age",
}

THRESHOLD_DDL = (
    "rule_id string, attribute string, low_age_limit double, high_age_limit double, "
    "low_range_value double, high_range_value double, alert_flag int, alert_message string"
)


def thresholds_frame(spark: SparkSession, table: ThresholdTable) -> DataFrame:
    rows = [
        (
            r.rule_id,
            r.attribute,
            r.low_age_limit,
            r.high_age_limit,
            r.low_range_value,
            r.high_range_value,
            r.alert_flag,
            r.alert_message,
        )
        for r in table.rules
    ]
    frame = spark.createDataFrame(rows, THRESHOLD_DDL)
    # Matching treats 9999 and above as no upper limit; the alert still shows the table's value.
    return frame.withColumn("match_high_age", _match_limit("high_age_limit")).withColumn(
        "match_high_value", _match_limit("high_range_value")
    )


def _match_limit(column: str) -> Column:
    return F.when(F.col(column) >= OPEN_ENDED, F.lit(float("inf"))).otherwise(F.col(column))


def normalise_contacts(contacts: DataFrame) -> DataFrame:
    """Select and rename the contact columns; one row per patient id."""
    lower = {c.lower(): c for c in contacts.columns}
    missing = [c for c in CONTACT_COLUMNS if c not in lower]
    if missing:
        raise ValueError(
            f"contact table lacks column(s) {', '.join(missing)}; expected {', '.join(CONTACT_COLUMNS)}"
        )
    selected = contacts.select(
        *[
            F.col(lower[source]).cast("double" if target == "age" else "string").alias(target)
            for source, target in CONTACT_COLUMNS.items()
        ]
    )
    # NOTE: a roster with two rows for one patient keeps an arbitrary one of them.
    return selected.where(F.col("patient_id").isNotNull()).dropDuplicates(["patient_id"])


def explode_vitals(readings: DataFrame) -> DataFrame:
    """Return one row per (reading, vital sign present)."""
    pairs = ", ".join(f"'{name}', cast(`{name}` as double)" for name in VITAL_NAMES)
    units = F.create_map(*[x for name in VITAL_NAMES for x in (F.lit(name), F.lit(VITAL_SIGNS[name].unit))])
    exploded = readings.select(
        "event_id",
        F.col("patient_id").cast("string").alias("patient_id"),
        "event_time",
        F.expr(f"stack({len(VITAL_NAMES)}, {pairs}) as (vital, value)"),
    )
    return exploded.where(F.col("value").isNotNull()).withColumn("unit", units[F.col("vital")])


def _age_bands(thresholds: DataFrame) -> DataFrame:
    return thresholds.groupBy(F.col("attribute").alias("band_attribute")).agg(
        F.collect_list(F.struct("low_age_limit", "match_high_age")).alias("age_bands")
    )


def evaluate(readings: DataFrame, contacts: DataFrame, thresholds: DataFrame) -> DataFrame:
    """Return one row per (reading, vital) with its matched rule, `to_be_alerted` and `outcome`."""
    vitals = explode_vitals(readings)
    with_contact = vitals.join(F.broadcast(contacts), "patient_id", "left").withColumn(
        "has_contact", F.col("ward").isNotNull() | F.col("patient_name").isNotNull() | F.col("age").isNotNull()
    )
    rules = F.broadcast(thresholds.alias("t"))
    matched = with_contact.alias("r").join(
        rules,
        (F.col("r.vital") == F.col("t.attribute"))
        & F.col("r.age").between(F.col("t.low_age_limit"), F.col("t.match_high_age"))
        & F.col("r.value").between(F.col("t.low_range_value"), F.col("t.match_high_value")),
        "left",
    )
    bands = F.broadcast(_age_bands(thresholds))
    matched = matched.join(bands, F.col("vital") == F.col("band_attribute"), "left")
    age_covered = F.exists(
        "age_bands", lambda b: F.col("age").between(b["low_age_limit"], b["match_high_age"])
    )
    outcome = (
        F.when(~F.col("has_contact"), F.lit("no_contact"))
        .when(F.col("band_attribute").isNull(), F.lit("no_rule_for_vital"))
        .when(F.col("age").isNull() | ~age_covered, F.lit("no_age_band"))
        .when(F.col("rule_id").isNull(), F.lit("no_range_band"))
        .when(F.col("alert_flag") == 1, F.lit("alert"))
        .otherwise(F.lit("normal"))
    )
    return (
        matched.withColumn("outcome", outcome)
        .withColumn("to_be_alerted", F.col("outcome") == "alert")
        .drop("band_attribute", "age_bands", "attribute", "has_contact", "match_high_age", "match_high_value")
    )


def alert_id_column() -> Column:
    """Return the deterministic alert id, equal to `vitals_common.alerts.alert_id` for the same inputs."""
    return F.substring(F.sha2(F.concat_ws("/", "event_id", "vital", "rule_id"), 256), 1, ALERT_ID_LENGTH)


def alert_records(evaluated: DataFrame, threshold_version: str) -> DataFrame:
    """Kafka-sink rows (key = patient id, value = alert JSON) for every fired rule."""
    alerts = evaluated.where(F.col("to_be_alerted"))
    body = F.struct(
        alert_id_column().alias("alert_id"),
        "event_id",
        "patient_id",
        "patient_name",
        "patient_address",
        "phone_number",
        "ward",
        "age",
        "vital",
        "value",
        "unit",
        "low_range_value",
        "high_range_value",
        "rule_id",
        "alert_message",
        F.lit(threshold_version).alias("threshold_version"),
        "event_time",
        F.current_timestamp().alias("generated_at"),
    )
    return alerts.select(F.col("patient_id").alias("key"), F.to_json(body).alias("value"))


def unrouted_records(evaluated: DataFrame) -> DataFrame:
    """Return Kafka-sink rows, with the reason, for readings that cannot be routed to a clinician."""
    unrouted = evaluated.where(F.col("outcome").isin(*UNROUTED_OUTCOMES))
    body = F.struct(
        F.col("outcome").alias("reason"),
        F.lit("alerter").alias("stage"),
        "event_id",
        "patient_id",
        "vital",
        "value",
        "age",
        "event_time",
        F.current_timestamp().alias("unrouted_at"),
    )
    return unrouted.select(F.col("patient_id").alias("key"), F.to_json(body).alias("value"))
