"""Settings of the local stack, read from ``STACK_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# stack/vitals_stack/settings.py -> repository root.
REPO_ROOT = Path(__file__).resolve().parents[2]

LOOPBACK = "127.0.0.1"


class StackSettings(BaseSettings):
    """Locations, ports and names of the local stack services.

    Every field can be overridden by an environment variable with the ``STACK_`` prefix,
    for example ``STACK_KAFKA_PORT=19092``.
    """

    model_config = SettingsConfigDict(env_prefix="STACK_", extra="ignore")

    home: Path = Field(default=REPO_ROOT / ".run", description="Data and log root; one folder per component.")
    jars: Path = Field(default=REPO_ROOT / ".cache" / "jars", description="Jar cache; one folder per component.")

    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    hdfs_port: int = 8020
    hdfs_http_port: int = 9870
    metastore_port: int = 9083
    hbase_zookeeper_port: int = 2181
    hbase_master_port: int = 16000
    hbase_regionserver_port: int = 16020
    hbase_thrift_port: int = 9090
    moto_port: int = 5000
    prometheus_port: int = Field(default=9490, description="Prometheus web UI and HTTP API on 127.0.0.1.")

    # Ports of the pipeline's stages that the stack's Prometheus scrapes; the demo and the
    # end-to-end tests start the stages on these ports.
    producer_metrics_port: int = 9401
    ingest_metrics_port: int = 9402
    alerter_metrics_port: int = 9403
    notifier_metrics_port: int = 9404
    ingest_spark_ui_port: int = Field(default=4041, description="Spark UI of the ingest driver (/metrics/prometheus).")
    alerter_spark_ui_port: int = Field(default=4042, description="Spark UI of the alerter driver (/metrics/prometheus).")

    prometheus: str = Field(default="prometheus", description="Prometheus 2.x executable (Debian package prometheus).")
    prometheus_scrape_interval: str = Field(default="2s", description="Scrape and rule evaluation interval.")

    metastore_warehouse: str | None = Field(
        default=None, description="Hive warehouse URI; defaults to <hdfs_url>/warehouse."
    )

    sns_topic: str = "vitals-alerts"
    sqs_tap_queue: str = "vitals-alerts-tap"
    aws_region: str = "us-east-1"
    aws_access_key_id: str = "testing"
    aws_secret_access_key: str = "testing"

    java: str = Field(default="java", description="Java 17 executable used for every JVM of the stack.")
    ready_timeout: float = Field(default=180.0, description="Seconds each component may take to become ready.")

    def stage_metrics_ports(self) -> dict[str, int]:
        """Return the port of each stage's /metrics, /healthz and /readyz server, by stage name."""
        return {
            "producer": self.producer_metrics_port,
            "ingest": self.ingest_metrics_port,
            "alerter": self.alerter_metrics_port,
            "notifier": self.notifier_metrics_port,
        }

    def spark_ui_ports(self) -> dict[str, int]:
        """Return the Spark UI port of each Spark stage's driver, by stage name."""
        return {"ingest": self.ingest_spark_ui_port, "alerter": self.alerter_spark_ui_port}

    def component_dir(self, component: str) -> Path:
        """Return the data and log folder of one component, ``<home>/<component>``."""
        return self.home / component

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def kafka_bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.kafka_port}"

    @property
    def hdfs_url(self) -> str:
        return f"hdfs://{LOOPBACK}:{self.hdfs_port}"

    @property
    def webhdfs_url(self) -> str:
        return f"http://{LOOPBACK}:{self.hdfs_http_port}/webhdfs/v1"

    @property
    def metastore_uri(self) -> str:
        return f"thrift://{LOOPBACK}:{self.metastore_port}"

    @property
    def warehouse_dir(self) -> str:
        return self.metastore_warehouse or f"{self.hdfs_url}/warehouse"

    @property
    def hbase_thrift_host(self) -> str:
        return LOOPBACK

    @property
    def sns_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.moto_port}"

    @property
    def sqs_endpoint(self) -> str:
        return self.sns_endpoint

    @property
    def sns_topic_arn(self) -> str:
        # moto's default account id is 123456789012.
        return f"arn:aws:sns:{self.aws_region}:123456789012:{self.sns_topic}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{LOOPBACK}:{self.prometheus_port}"

    @property
    def source_db_path(self) -> Path:
        return self.component_dir("source") / "vitals.db"

    @property
    def source_db_url(self) -> str:
        return f"sqlite:///{self.source_db_path}"

    def aws_client_kwargs(self) -> dict[str, str]:
        """Return keyword arguments for ``boto3.client(...)`` that point at the moto server."""
        return {
            "endpoint_url": self.sns_endpoint,
            "region_name": self.aws_region,
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
        }
