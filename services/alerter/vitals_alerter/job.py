"""The alerter streaming job: parquet archive on HDFS -> threshold evaluation -> alerts on Kafka.

Each micro-batch runs in foreachBatch so that the reference tables can be reloaded between batches
without a restart. Writing to Kafka is at-least-once: a batch retried after a failure writes its
alerts again with the same deterministic alert ids, and the notifier drops the repeats.
"""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from vitals_alerter import metrics
from vitals_alerter.evaluate import UNROUTED_OUTCOMES, alert_records, evaluate, unrouted_records
from vitals_alerter.reference import ReferenceTables
from vitals_alerter.settings import AlerterSettings
from vitals_common.errors import StartupError
from vitals_common.kafka_admin import check_kafka, ensure_topic
from vitals_common.readiness import add_spark_dependency_checks, tcp_check
from vitals_common.spark_schemas import ARCHIVE_SCHEMA
from vitals_common.vitals import VITAL_NAMES

log = logging.getLogger(__name__)

QUERY_NAME = "vitals-alerts"


def check_metastore(spark: SparkSession, contact_table: str) -> None:
    """Log the metastore's databases and tables, and stop when the contact table is missing."""
    databases = [row[0] for row in spark.sql("SHOW DATABASES").collect()]
    for database in databases:
        tables = [row["tableName"] for row in spark.sql(f"SHOW TABLES IN `{database}`").collect()]
        log.info("metastore database", extra={"database": database, "tables": ",".join(tables)})
    database, _, table = contact_table.rpartition(".")
    database = database or "default"
    if not spark.catalog.tableExists(f"{database}.{table}"):
        raise StartupError(
            f"contact table {database}.{table} not found in the Hive metastore (databases: "
            f"{', '.join(databases)}); load it with `vitals-seed contacts` or set ALERTER_CONTACT_TABLE"
        )


def _count_outcomes(evaluated: DataFrame) -> list:
    return evaluated.groupBy("outcome", "vital", "rule_id").agg(F.count(F.lit(1)).alias("n")).collect()


def process_batch(
    batch: DataFrame, batch_id: int, reference: ReferenceTables, settings: AlerterSettings
) -> None:
    started = time.monotonic()
    reference.refresh_if_due()
    evaluated = evaluate(batch, reference.contacts_df, reference.thresholds_df).persist()
    try:
        counts = _count_outcomes(evaluated)
        if not counts:
            return
        kafka_options = settings.kafka.spark_options()
        alerts = sum(r["n"] for r in counts if r["outcome"] == "alert")
        if alerts:
            alert_records(evaluated, reference.thresholds.version).write.format("kafka").options(
                **kafka_options
            ).option("topic", settings.alert_topic).save()
        unrouted = sum(r["n"] for r in counts if r["outcome"] in UNROUTED_OUTCOMES)
        if unrouted:
            unrouted_records(evaluated).write.format("kafka").options(**kafka_options).option(
                "topic", settings.unrouted_topic
            ).save()
        _record_counts(counts, batch_id)
        # Epoch microseconds from Spark, because a collected timestamp is a naive datetime in the local zone.
        newest = evaluated.agg(F.max(F.unix_micros("event_time"))).first()[0]
        if newest is not None:
            metrics.EVENT_TIME_LAG.set(time.time() - newest / 1e6)
        log.info(
            "batch evaluated",
            extra={"batch_id": batch_id, "values": sum(r["n"] for r in counts), "alerts": alerts, "unrouted": unrouted},
        )
    finally:
        evaluated.unpersist()
        metrics.BATCH_DURATION.observe(time.monotonic() - started)


def _record_counts(counts: list, batch_id: int) -> None:
    for row in counts:
        outcome, vital, n = row["outcome"], row["vital"], row["n"]
        if outcome == "no_rule_for_vital":
            metrics.NOT_EVALUATED.labels(vital).inc(n)
            continue
        metrics.READINGS_EVALUATED.labels(vital).inc(n)
        if outcome == "alert":
            metrics.ALERTS.labels(vital, row["rule_id"]).inc(n)
        elif outcome in UNROUTED_OUTCOMES:
            metrics.UNROUTED.labels(outcome).inc(n)
            # Counts and reasons only: the unrouted topic has the event ids for follow-up.
            log.warning(
                "readings reached no clinician",
                extra={"batch_id": batch_id, "reason": outcome, "vital": vital, "count": n},
            )


def run(spark: SparkSession, settings: AlerterSettings, health) -> None:
    # Registered first so that /readyz stays false until the query runs, not only the dependencies.
    queries: list = []
    health.add_check("query_active", lambda: bool(queries) and queries[0].isActive)
    admin = check_kafka(settings.kafka, settings.startup_timeout_s)
    add_spark_dependency_checks(health, admin, settings.spark.default_fs, settings.spark.metastore_uri)
    health.add_check("hbase", tcp_check(settings.hbase_host, settings.hbase_port))
    ensure_topic(admin, settings.alert_topic, settings.alert_partitions, settings.replication_factor)
    ensure_topic(admin, settings.unrouted_topic, 1, settings.replication_factor)
    check_metastore(spark, settings.contact_table)
    metrics.init_labels(VITAL_NAMES, UNROUTED_OUTCOMES)
    reference = ReferenceTables(spark, settings)
    reference.load()
    spark.streams.addListener(metrics.ProgressListener())

    stream = spark.readStream.schema(ARCHIVE_SCHEMA)
    if settings.max_files_per_trigger:
        stream = stream.option("maxFilesPerTrigger", str(settings.max_files_per_trigger))
    readings = stream.parquet(settings.archive_path)
    query = (
        readings.writeStream.queryName(QUERY_NAME)
        .foreachBatch(lambda batch, batch_id: process_batch(batch, batch_id, reference, settings))
        .option("checkpointLocation", settings.checkpoint_path)
        .trigger(processingTime=settings.trigger_interval)
        .start()
    )
    queries.append(query)
    log.info("streaming started", extra={"query": QUERY_NAME, "archive": settings.archive_path})
    try:
        query.awaitTermination(settings.run_for_s or None)
    finally:
        log.info("stopping streaming query", extra={"query": QUERY_NAME})
        if query.isActive:
            query.stop()
