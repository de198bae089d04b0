"""Reference tables on the driver: thresholds from HBase and contacts from Hive, reloaded on an interval."""

from __future__ import annotations

import logging
import time

from pyspark.sql import DataFrame, SparkSession

from vitals_alerter import metrics
from vitals_alerter.evaluate import normalise_contacts, thresholds_frame
from vitals_alerter.settings import AlerterSettings
from vitals_alerter.threshold_store import connect, load_thresholds
from vitals_common.thresholds import ThresholdTable

log = logging.getLogger(__name__)


class ReferenceTables:
    """Holds the current threshold table and contact roster as small cached DataFrames.

    A failed reload (HBase down, an invalid table, the Hive table unreadable) keeps the previous
    tables in use, logs the error and counts it; only the first load is fatal.
    """

    def __init__(self, spark: SparkSession, settings: AlerterSettings, clock=time.monotonic):
        self.spark = spark
        self.settings = settings
        self.clock = clock
        self.thresholds: ThresholdTable | None = None
        self.thresholds_df: DataFrame | None = None
        self.contacts_df: DataFrame | None = None
        self.loaded_at = float("-inf")

    def load(self) -> None:
        """Load both tables now; raises on the first load, keeps the old ones afterwards."""
        first = self.thresholds is None
        try:
            table = self._read_thresholds()
            metrics.REFERENCE_LOADED.labels("thresholds").set_to_current_time()
        except Exception as exc:  # HBase unreachable, InvalidThresholdTable, Thrift errors
            if first:
                raise
            metrics.REFERENCE_LOAD_FAILURES.labels("thresholds").inc()
            log.error(
                "threshold reload failed; keeping version %s",
                self.thresholds.version,
                extra={"table": self.settings.hbase_table, "error": str(exc)},
            )
            table = self.thresholds
        try:
            contacts = normalise_contacts(self.spark.table(self.settings.contact_table)).cache()
            contact_count = contacts.count()
            metrics.REFERENCE_LOADED.labels("contacts").set_to_current_time()
        except Exception as exc:
            if first:
                raise
            metrics.REFERENCE_LOAD_FAILURES.labels("contacts").inc()
            log.error(
                "contact reload failed; keeping the previous roster",
                extra={"table": self.settings.contact_table, "error": str(exc)},
            )
            contacts, contact_count = self.contacts_df, None

        if self.thresholds is None or table.version != self.thresholds.version:
            if self.thresholds is not None:
                metrics.THRESHOLD_VERSION.remove(self.thresholds.version)
                if self.thresholds_df is not None:
                    self.thresholds_df.unpersist()
            self.thresholds = table
            self.thresholds_df = thresholds_frame(self.spark, table).cache()
            metrics.THRESHOLD_RULES.set(len(table))
            metrics.THRESHOLD_VERSION.labels(table.version).set(1)
            for rule in table.rules:
                if rule.alert_flag:
                    metrics.ALERTS.labels(rule.attribute, rule.rule_id)
            log.info("threshold table loaded", extra={"version": table.version, "rules": len(table)})
        if contacts is not self.contacts_df:
            if self.contacts_df is not None:
                self.contacts_df.unpersist()
            self.contacts_df = contacts
            log.info("contact table loaded", extra={"table": self.settings.contact_table, "patients": contact_count})
        self.loaded_at = self.clock()

    def refresh_if_due(self) -> None:
        if self.clock() - self.loaded_at >= self.settings.reference_refresh_s:
            self.load()

    def _read_thresholds(self) -> ThresholdTable:
        connection = connect(self.settings.hbase_host, self.settings.hbase_port)
        try:
            return load_thresholds(connection, self.settings.hbase_table)
        finally:
            connection.close()
