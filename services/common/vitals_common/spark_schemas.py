"""Explicit Spark schemas of the vitals event JSON and of the parquet archive, shared by both Spark stages."""

from __future__ import annotations

from pyspark.sql import types as T

from vitals_common.vitals import VITAL_NAMES

CORRUPT_RECORD = "_corrupt_record"
REQUIRED_FIELDS = ("event_id", "patient_id", "event_time")

EVENT_FIELDS = [
    T.StructField("schema_version", T.IntegerType()),
    T.StructField("event_id", T.StringType()),
    T.StructField("patient_id", T.StringType()),
    T.StructField("event_time", T.TimestampType()),
    T.StructField("source", T.StringType()),
    *[T.StructField(name, T.DoubleType()) for name in VITAL_NAMES],
]

# The parse schema carries the corrupt-record column so that a value of the wrong type marks the
# record as unreadable instead of quietly becoming null.
EVENT_PARSE_SCHEMA = T.StructType([*EVENT_FIELDS, T.StructField(CORRUPT_RECORD, T.StringType())])

ARCHIVE_SCHEMA = T.StructType(
    [
        *EVENT_FIELDS,
        T.StructField("kafka_topic", T.StringType()),
        T.StructField("kafka_partition", T.IntegerType()),
        T.StructField("kafka_offset", T.LongType()),
        T.StructField("kafka_timestamp", T.TimestampType()),
        T.StructField("ingest_time", T.TimestampType()),
        T.StructField("event_date", T.DateType()),
    ]
)

PARTITION_COLUMN = "event_date"
