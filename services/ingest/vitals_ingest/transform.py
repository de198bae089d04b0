"""Parsing and validation of raw Kafka records; pure DataFrame functions, testable in batch mode."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from vitals_common.events import EVENT_SCHEMA_VERSION
from vitals_common.vitals import VITAL_NAMES
from vitals_common.spark_schemas import ARCHIVE_SCHEMA, CORRUPT_RECORD, EVENT_PARSE_SCHEMA, REQUIRED_FIELDS

PARSE_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_RECORD}


def parse_records(kafka_records: DataFrame) -> DataFrame:
    """Parse the JSON value of each Kafka record and attach a `dead_letter_reason` (null when valid)."""
    value = F.col("value").cast("string")
    parsed = kafka_records.select(
        value.alias("raw_value"),
        F.col("key").cast("string").alias("raw_key"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.from_json(value, EVENT_PARSE_SCHEMA, PARSE_OPTIONS).alias("event"),
        # A JSON object parses as a map even when a field has the wrong type; anything else does not.
        F.from_json(value, "map<string,string>").alias("as_map"),
    )
    return parsed.withColumn("dead_letter_reason", _reason()).withColumn("dead_letter_detail", _detail())


def _mistyped(name: str) -> Column:
    """True when the field is present in the JSON object but could not be read with its type."""
    return F.col("as_map").getItem(name).isNotNull() & F.col(f"event.{name}").isNull()


def _absent(name: str) -> Column:
    """True when a required field is null, or a string field holds only whitespace."""
    column = F.col(f"event.{name}")
    if name == "event_time":
        return column.isNull()
    return column.isNull() | (F.trim(column) == "")


def _vitals_present() -> Column:
    return F.greatest(*[F.col(f"event.{name}").isNotNull().cast("int") for name in VITAL_NAMES]) == 1


def _bad_vital_value() -> Column:
    infinity = F.lit(float("inf"))
    checks = [
        F.col(f"event.{name}").isNotNull()
        & (
            F.isnan(F.col(f"event.{name}"))
            | (F.col(f"event.{name}") < 0)
            # JSON Infinity and overflowing numbers such as 1e400 both parse as infinity.
            | (F.col(f"event.{name}") == infinity)
        )
        for name in VITAL_NAMES
    ]
    result = checks[0]
    for check in checks[1:]:
        result = result | check
    return result


def _mistyped_fields() -> Column:
    names = [f.name for f in EVENT_PARSE_SCHEMA.fields if f.name != CORRUPT_RECORD]
    return F.concat_ws(",", *[F.when(_mistyped(n), F.lit(n)) for n in names])


def _reason() -> Column:
    """Return a short machine-readable reason code. The first failing rule wins."""
    raw = F.col("raw_value")
    missing = [_absent(name) & ~_mistyped(name) for name in REQUIRED_FIELDS]
    any_missing = missing[0] | missing[1] | missing[2]
    return (
        F.when(raw.isNull() | (F.trim(raw) == ""), F.lit("empty_value"))
        .when(F.col("as_map").isNull(), F.lit("malformed_json"))
        .when(F.col(f"event.{CORRUPT_RECORD}").isNotNull(), F.lit("invalid_field_type"))
        .when(any_missing, F.lit("missing_required_field"))
        .when(
            F.coalesce(F.col("event.schema_version"), F.lit(EVENT_SCHEMA_VERSION)) > EVENT_SCHEMA_VERSION,
            F.lit("unsupported_schema_version"),
        )
        .when(~_vitals_present(), F.lit("no_vital_sign"))
        .when(_bad_vital_value(), F.lit("invalid_vital_value"))
    )


def _detail() -> Column:
    """Return a sentence for the operator that says what is wrong with the record and what to fix."""
    missing = F.concat_ws(
        ",", *[F.when(_absent(n), F.lit(n)) for n in REQUIRED_FIELDS]
    )
    reason = F.col("dead_letter_reason")
    return (
        F.when(reason == "empty_value", F.lit("the record value is empty; send one JSON object per reading"))
        .when(reason == "malformed_json", F.lit("the value is not a JSON object; check the producer's serializer"))
        .when(
            reason == "invalid_field_type",
            F.concat(
                F.lit("field(s) with a value of the wrong type: "),
                _mistyped_fields(),
                F.lit("; vitals must be numbers and event_time an ISO-8601 timestamp"),
            ),
        )
        .when(reason == "missing_required_field", F.concat(F.lit("missing required field(s): "), missing))
        .when(
            reason == "unsupported_schema_version",
            F.concat(
                F.lit("schema_version "),
                F.col("event.schema_version").cast("string"),
                F.lit(f" is newer than this ingest job supports ({EVENT_SCHEMA_VERSION}); upgrade the job"),
            ),
        )
        .when(reason == "no_vital_sign", F.lit("the event has no vital sign; expected one of " + ", ".join(VITAL_NAMES)))
        .when(reason == "invalid_vital_value", F.lit("a vital sign is negative, NaN or infinite; values must be finite and >= 0"))
    )


def valid_readings(parsed: DataFrame) -> DataFrame:
    """Return the archive rows of the records that passed validation."""
    events = parsed.where(F.col("dead_letter_reason").isNull())
    columns = [F.col(f"event.{f.name}").alias(f.name) for f in EVENT_PARSE_SCHEMA.fields if f.name != CORRUPT_RECORD]
    out = events.select(
        *columns,
        "kafka_topic",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
        F.current_timestamp().alias("ingest_time"),
    )
    out = out.withColumn(
        "schema_version", F.coalesce(F.col("schema_version"), F.lit(EVENT_SCHEMA_VERSION))
    ).withColumn("event_date", F.to_date("event_time"))
    return out.select(*[F.col(f.name).cast(f.dataType) for f in ARCHIVE_SCHEMA.fields])


def dead_letters(parsed: DataFrame, stage: str = "ingest") -> DataFrame:
    """Return Kafka-sink rows (key, value) for the records that failed, with reason and source offset."""
    bad = parsed.where(F.col("dead_letter_reason").isNotNull())
    body = F.struct(
        F.col("dead_letter_reason").alias("reason"),
        F.col("dead_letter_detail").alias("detail"),
        F.lit(stage).alias("stage"),
        F.col("kafka_topic").alias("source_topic"),
        F.col("kafka_partition").alias("source_partition"),
        F.col("kafka_offset").alias("source_offset"),
        F.col("kafka_timestamp").alias("source_timestamp"),
        F.col("raw_value").alias("value"),
        F.current_timestamp().alias("dead_lettered_at"),
    )
    return bad.select(F.col("raw_key").alias("key"), F.to_json(body).alias("value"))
