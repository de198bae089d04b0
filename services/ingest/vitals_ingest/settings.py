"""Ingest settings, read from `INGEST_*` variables (plus `KAFKA_*` and `SPARK_*`)."""

from __future__ import annotations

import json

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from vitals_common.settings import KafkaSettings, ServiceSettings, check_trigger_interval
from vitals_common.spark import SparkSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    topic: str = Field("vitals", description="Kafka topic of vitals events")
    starting_offsets: str = Field("earliest", description="where a new checkpoint starts: earliest or latest")
    max_offsets_per_trigger: int = Field(0, ge=0, description="cap on records per micro-batch; 0 = no cap")
    archive_path: str = Field("/vitals/readings", description="parquet archive directory (on fs.defaultFS)")
    checkpoint_path: str = Field("/vitals/checkpoints/ingest", description="checkpoint root on HDFS")
    trigger_interval: str = Field("10 seconds", description="processing-time trigger of both queries")
    dead_letter_topic: str = Field("vitals-dlq", description="topic for unreadable or invalid records")
    dead_letter_partitions: int = Field(1, ge=1, description="partitions of the dead-letter topic when this stage creates it")
    replication_factor: int = Field(1, ge=1, description="replication of the topics this stage creates")
    hive_database: str = Field("vitals", description="database of the archive table; empty disables registration")
    hive_table: str = Field("readings", description="name of the archive table for analysts")
    partition_repair_interval_s: float = Field(60.0, gt=0, description="how often new date partitions are registered")
    run_for_s: float = Field(0.0, ge=0, description="stop after this many seconds; 0 runs until stopped")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)

    @field_validator("trigger_interval")
    @classmethod
    def _valid_interval(cls, value: str) -> str:
        return check_trigger_interval(value)

    @field_validator("starting_offsets")
    @classmethod
    def _valid_offsets(cls, value: str) -> str:
        value = value.strip()
        if value in ("earliest", "latest"):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ValueError(
                f"{value!r} is not earliest, latest or a JSON object of offsets per topic and partition"
            )
        return value
