"""The Spark session both Spark stages use: Hive support, the Kafka connector, HDFS defaults."""

from __future__ import annotations

import glob
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# Metric name prefix of Spark's own metrics: `metrics_vitals_driver_...` instead of one that
# contains the application id, which changes on every start.
SPARK_METRICS_NAMESPACE = "vitals"
PROMETHEUS_SERVLET_PATH = "/metrics/prometheus"

# Where `vitals-stack fetch` puts the Kafka connector jars; images bake them into $SPARK_HOME/jars
# instead, so there the list below is empty and nothing is added.
_REPO_JARS = Path(__file__).resolve().parents[3] / ".cache" / "jars" / "spark-kafka"


class SparkSettings(BaseSettings):
    """Spark settings, read from `SPARK_*` variables by the ingest and alerter stages."""

    model_config = SettingsConfigDict(env_prefix="SPARK_", extra="ignore")

    master: str = Field("local[2]", description="Spark master URL; ignored when spark-submit sets one")
    metastore_uri: str = Field("thrift://127.0.0.1:9083", description="Hive metastore Thrift URI")
    default_fs: str = Field("hdfs://127.0.0.1:8020", description="fs.defaultFS for relative paths")
    warehouse_dir: str = Field(
        "/warehouse", description="spark.sql.warehouse.dir for new databases; relative to SPARK_DEFAULT_FS"
    )
    driver_host: str = Field("127.0.0.1", description="address the driver binds and advertises in local mode")
    driver_memory: str = Field("1g", description="driver heap in local mode")
    shuffle_partitions: int = Field(2, ge=1, description="spark.sql.shuffle.partitions")
    jars: str = Field("", description="comma-separated local jars to add; empty finds the stack's Kafka connector")
    ui_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="port of the driver's Spark UI, which also serves Prometheus metrics at "
        "/metrics/prometheus (driver) and /metrics/executors/prometheus; 0 turns the UI off",
    )
    extra_conf: dict[str, str] = Field(default_factory=dict, description="JSON object of extra Spark settings")

    @field_validator("extra_conf", mode="before")
    @classmethod
    def _parse_json(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    def warehouse_uri(self) -> str:
        if "://" in self.warehouse_dir:
            return self.warehouse_dir
        return self.default_fs.rstrip("/") + "/" + self.warehouse_dir.lstrip("/")

    def jar_list(self) -> list[str]:
        if self.jars.strip():
            return [j.strip() for j in self.jars.split(",") if j.strip()]
        return sorted(glob.glob(str(_REPO_JARS / "*.jar")))


def ui_conf(ui_port: int) -> dict[str, str]:
    """Return the Spark settings of the driver UI and its Prometheus endpoints; port 0 turns the UI off."""
    if ui_port == 0:
        return {"spark.ui.enabled": "false"}
    return {
        "spark.ui.enabled": "true",
        "spark.ui.port": str(ui_port),
        "spark.ui.showConsoleProgress": "false",
        # Driver metrics (DAG scheduler, block manager, JVM, streaming queries) in Prometheus format.
        "spark.metrics.conf.*.sink.prometheusServlet.class": "org.apache.spark.metrics.sink.PrometheusServlet",
        "spark.metrics.conf.*.sink.prometheusServlet.path": PROMETHEUS_SERVLET_PATH,
        "spark.metrics.namespace": SPARK_METRICS_NAMESPACE,
        # Executor metrics at /metrics/executors/prometheus.
        "spark.ui.prometheus.enabled": "true",
        # Input rate, processing rate, latency and event-time watermark of each named query.
        "spark.sql.streaming.metricsEnabled": "true",
    }


def build_session(app_name: str, settings: SparkSettings) -> "SparkSession":
    """Create (or return) the session with Hive support against the configured metastore."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName(app_name)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.hadoop.hive.metastore.uris", settings.metastore_uri)
        .config("spark.hadoop.fs.defaultFS", settings.default_fs)
        # Without it a database created here lands in ./spark-warehouse on the local disk, which
        # another host's alerter cannot read.
        .config("spark.sql.warehouse.dir", settings.warehouse_uri())
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        .enableHiveSupport()
    )
    for key, value in ui_conf(settings.ui_port).items():
        builder = builder.config(key, value)
    # Under spark-submit (the spark-operator's way) the JVM gateway already exists and carries the
    # master and driver memory; setting them here would override the submitted values.
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = (
            builder.master(settings.master)
            .config("spark.driver.memory", settings.driver_memory)
            .config("spark.driver.host", settings.driver_host)
            .config("spark.driver.bindAddress", settings.driver_host)
        )
    jars = settings.jar_list()
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    for key, value in settings.extra_conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if settings.ui_port:
        log_ui_address(spark.sparkContext.uiWebUrl, settings.ui_port)
    return spark


def log_ui_address(url: str | None, ui_port: int) -> None:
    """Log where the Spark UI listens, and warn when Spark moved it off the configured port.

    Spark binds the next free port when SPARK_UI_PORT is taken, so a scraper of the configured port
    would read another process's metrics.
    """
    bound_port = urlsplit(url).port if url else None
    if bound_port is not None and bound_port != ui_port:
        log.warning(
            "Spark UI port taken, Spark bound another port; Prometheus scrapes the configured one",
            extra={"configured_port": ui_port, "url": url},
        )
        return
    log.info("Spark UI started", extra={"url": url, "metrics_path": PROMETHEUS_SERVLET_PATH})
