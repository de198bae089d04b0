"""Alerter settings, read from `ALERTER_*` variables (plus `KAFKA_*` and `SPARK_*`)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from vitals_common.settings import KafkaSettings, ServiceSettings, check_trigger_interval
from vitals_common.spark import SparkSettings


class AlerterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTER_", extra="ignore")

    archive_path: str = Field("/vitals/readings", description="parquet archive written by the ingest stage")
    checkpoint_path: str = Field("/vitals/checkpoints/alerter", description="checkpoint directory on HDFS")
    trigger_interval: str = Field("5 seconds", description="processing-time trigger")
    max_files_per_trigger: int = Field(0, ge=0, description="cap on new parquet files per micro-batch; 0 = no cap")
    contact_table: str = Field("vitals.patients_contact_info", description="Hive table of patient contacts")
    hbase_host: str = Field("127.0.0.1", description="HBase Thrift server host")
    hbase_port: int = Field(9090, ge=1, le=65535, description="HBase Thrift server port")
    hbase_table: str = Field("threshold_ref", description="HBase table of age-banded thresholds")
    reference_refresh_s: float = Field(
        60.0, gt=0, description="how often the threshold and contact tables are reloaded"
    )
    alert_topic: str = Field("doctor", description="Kafka topic the alerts are written to")
    alert_partitions: int = Field(1, ge=1, description="partitions of the alert topic when this stage creates it")
    unrouted_topic: str = Field(
        "vitals-unrouted", description="topic for readings that cannot be routed to a clinician"
    )
    replication_factor: int = Field(1, ge=1, description="replication of the topics this stage creates")
    run_for_s: float = Field(0.0, ge=0, description="stop after this many seconds; 0 runs until stopped")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)

    @field_validator("trigger_interval")
    @classmethod
    def _valid_interval(cls, value: str) -> str:
        return check_trigger_interval(value)
