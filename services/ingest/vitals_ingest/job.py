"""The ingest streaming job: Kafka -> validated readings -> parquet on HDFS, bad records -> dead letters.

Two queries read the same topic. The archive query uses the file sink, whose checkpoint and
`_spark_metadata` log make the archive exactly-once. The dead-letter query writes to Kafka from
foreachBatch so that it can count reasons; a retried batch may repeat a dead letter (at-least-once).
"""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from vitals_common.kafka_admin import check_kafka, ensure_topic
from vitals_common.readiness import add_spark_dependency_checks
from vitals_ingest import metrics
from vitals_common.spark_schemas import ARCHIVE_SCHEMA, PARTITION_COLUMN
from vitals_ingest.settings import IngestSettings
from vitals_ingest.transform import dead_letters, parse_records, valid_readings

log = logging.getLogger(__name__)

ARCHIVE_QUERY = "vitals-archive"
DEAD_LETTER_QUERY = "vitals-dead-letters"


def kafka_stream(spark: SparkSession, settings: IngestSettings) -> DataFrame:
    reader = spark.readStream.format("kafka").options(**settings.kafka.spark_options())
    reader = reader.option("subscribe", settings.topic).option("startingOffsets", settings.starting_offsets)
    # A topic deleted and re-created (for example by a wiped test stack) must fail loudly, not skip data.
    reader = reader.option("failOnDataLoss", "true")
    if settings.max_offsets_per_trigger:
        reader = reader.option("maxOffsetsPerTrigger", str(settings.max_offsets_per_trigger))
    return reader.load()


def start_archive(parsed: DataFrame, settings: IngestSettings) -> StreamingQuery:
    readings = valid_readings(parsed).observe(metrics.ARCHIVED_OBSERVATION, F.count(F.lit(1)).alias("rows"))
    return (
        readings.writeStream.queryName(ARCHIVE_QUERY)
        .format("parquet")
        .partitionBy(PARTITION_COLUMN)
        .option("path", settings.archive_path)
        .option("checkpointLocation", f"{settings.checkpoint_path}/archive")
        .trigger(processingTime=settings.trigger_interval)
        .outputMode("append")
        .start()
    )


def start_dead_letters(parsed: DataFrame, settings: IngestSettings) -> StreamingQuery:
    kafka_options = settings.kafka.spark_options()
    bad = parsed.where(F.col("dead_letter_reason").isNotNull())

    def write_batch(batch: DataFrame, batch_id: int) -> None:
        batch = batch.persist()
        try:
            counts = batch.groupBy("dead_letter_reason").count().collect()
            if not counts:
                return
            dead_letters(batch).write.format("kafka").options(**kafka_options).option(
                "topic", settings.dead_letter_topic
            ).save()
            for row in counts:
                metrics.DEAD_LETTERS.labels(row["dead_letter_reason"]).inc(row["count"])
                log.warning(
                    "dead-lettered records",
                    extra={"batch_id": batch_id, "reason": row["dead_letter_reason"], "count": row["count"]},
                )
        finally:
            batch.unpersist()

    return (
        bad.writeStream.queryName(DEAD_LETTER_QUERY)
        .foreachBatch(write_batch)
        .option("checkpointLocation", f"{settings.checkpoint_path}/dead-letters")
        .trigger(processingTime=settings.trigger_interval)
        .start()
    )


def archive_table_ddl(settings: IngestSettings, location: str) -> str:
    columns = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}" for f in ARCHIVE_SCHEMA.fields if f.name != PARTITION_COLUMN
    )
    return (
        f"CREATE TABLE IF NOT EXISTS `{settings.hive_database}`.`{settings.hive_table}` "
        f"({columns}, `{PARTITION_COLUMN}` date) USING parquet "
        f"PARTITIONED BY (`{PARTITION_COLUMN}`) LOCATION '{location}'"
    )


def register_archive_table(spark: SparkSession, settings: IngestSettings) -> None:
    """Create the analysts' table over the archive directory in the Hive metastore."""
    if not settings.hive_database:
        return
    location = qualified_path(spark, settings.archive_path)
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{settings.hive_database}`")
    spark.sql(archive_table_ddl(settings, location))
    log.info(
        "registered archive table",
        extra={"table": f"{settings.hive_database}.{settings.hive_table}", "location": location},
    )


def repair_partitions(spark: SparkSession, settings: IngestSettings) -> None:
    if settings.hive_database:
        spark.sql(f"ALTER TABLE `{settings.hive_database}`.`{settings.hive_table}` RECOVER PARTITIONS")


def qualified_path(spark: SparkSession, path: str) -> str:
    """Return the path with the scheme and authority of fs.defaultFS, as the metastore needs them."""
    jvm = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return fs.makeQualified(hadoop_path).toString()


def run(spark: SparkSession, settings: IngestSettings, health) -> None:
    # Registered first so that /readyz stays false until the queries run, not only the dependencies.
    queries: list[StreamingQuery] = []
    health.add_check("queries_active", lambda: bool(queries) and all(q.isActive for q in queries))
    admin = check_kafka(settings.kafka, settings.startup_timeout_s)
    add_spark_dependency_checks(health, admin, settings.spark.default_fs, settings.spark.metastore_uri)
    ensure_topic(admin, settings.dead_letter_topic, settings.dead_letter_partitions, settings.replication_factor)
    metrics.init_labels((ARCHIVE_QUERY, DEAD_LETTER_QUERY))
    spark.streams.addListener(metrics.IngestProgressListener(ARCHIVE_QUERY))
    # The table first: a metastore problem then stops the job before any query runs.
    register_archive_table(spark, settings)
    parsed = parse_records(kafka_stream(spark, settings))
    queries += [start_archive(parsed, settings), start_dead_letters(parsed, settings)]
    log.info("streaming started", extra={"queries": ",".join(q.name for q in queries)})

    deadline = time.monotonic() + settings.run_for_s if settings.run_for_s else None
    try:
        while True:
            wait_s = settings.partition_repair_interval_s
            if deadline is not None:
                wait_s = max(0.0, min(wait_s, deadline - time.monotonic()))
            # Returns early (True) when any query stops; its exception is raised by awaitTermination.
            if spark.streams.awaitAnyTermination(wait_s):
                for query in queries:
                    if query.exception() is not None:
                        raise RuntimeError(f"query {query.name} failed: {query.exception()}")
                break
            repair_partitions(spark, settings)
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        log.info("stopping streaming queries")
        for query in queries:
            if query.isActive:
                query.stop()
        repair_partitions(spark, settings)
