"""`vitals-ingest`: run the archive and dead-letter streaming queries until stopped."""

from __future__ import annotations

import logging
import sys

from vitals_common.cli import parser_for
from vitals_common.errors import run_cli
from vitals_common.health import HealthState, serve_health
from vitals_common.logs import configure_logging, log_settings
from vitals_common.readiness import require_spark_dependencies
from vitals_ingest.settings import IngestSettings

log = logging.getLogger("vitals_ingest")


def _main(argv: list[str] | None) -> int:
    parser_for(
        "vitals-ingest",
        "Archive the vitals topic as date-partitioned parquet on HDFS and dead-letter bad records.",
        IngestSettings,
    ).parse_args(argv)
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level, settings.log_format)
    log_settings(log, settings)
    health = HealthState()
    serve_health(settings.metrics_host, settings.metrics_port, health)

    # Unreachable dependencies fail here in seconds, before a JVM starts.
    require_spark_dependencies(
        settings.kafka, settings.spark.default_fs, settings.spark.metastore_uri, settings.startup_timeout_s
    )

    # Imported here so that --help and configuration errors return without starting a JVM.
    from vitals_common.spark import build_session
    from vitals_ingest.job import run

    spark = build_session("vitals-ingest", settings.spark)
    try:
        run(spark, settings, health)
    finally:
        health.alive = False
        log.info("stopping Spark")
        spark.stop()
        log.info("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(lambda: _main(argv if argv is not None else sys.argv[1:]), "vitals-ingest")
