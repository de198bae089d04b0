"""Producer settings, read from `PRODUCER_*` variables (Kafka connection from `KAFKA_*`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from vitals_common.settings import KafkaSettings, ServiceSettings
from vitals_common.vitals import canonical_vital

# Defaults point into the repository's runtime folder; a deployment sets both paths.
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SOURCE_URL = f"sqlite:///{REPO_ROOT / '.run' / 'source' / 'vitals.db'}"

_SAFE_FILE_PART = re.compile(r"[^A-Za-z0-9_.-]+")


class ProducerSettings(ServiceSettings):
    """Producer configuration: the source table and layout, the Kafka topics, the pacing and the progress file."""

    model_config = SettingsConfigDict(env_prefix="PRODUCER_", extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    topic: str = Field("vitals", min_length=1, description="Kafka topic of the vitals events")
    partitions: int = Field(1, ge=1, description="partition count used when the topic is created")
    replication: int = Field(1, ge=1, description="replication factor used when the topic is created")
    dead_letter_topic: str = Field(
        "vitals-dlq", min_length=1, description="topic that receives rows that cannot become events"
    )
    delivery_timeout_s: float = Field(
        120.0, gt=0, description="seconds Kafka may take to confirm one message before it counts as failed"
    )
    flush_timeout_s: float = Field(30.0, gt=0, description="seconds to wait for outstanding deliveries on exit")

    source_url: str = Field(DEFAULT_SOURCE_URL, description="SQLAlchemy URL of the source database")
    source_table: str = Field("patients_vital_info", min_length=1, description="table to read")
    order_column: str = Field(
        "row_seq", min_length=1, description="unique, increasing column that orders the rows and resumes a run"
    )
    batch_size: int = Field(500, ge=1, le=100_000, description="rows fetched per query")
    layout: Literal["wide", "long"] = Field(
        "wide", description="wide: one column per vital; long: one row per reading with name and value columns"
    )
    patient_column: str | None = Field(
        None, description="column with the patient id (default: customerId for wide, subject_id for long)"
    )
    time_column: str | None = Field(
        None,
        description="column with the reading time (default: none for wide, so event time is the send time; "
        "charttime for long)",
    )
    vital_columns: Annotated[dict[str, str] | None, NoDecode] = Field(
        None,
        description='wide layout: JSON object of column to vital name, e.g. {"heartBeat":"heart_rate"} '
        "(default: every column named like a known vital)",
    )
    vital_name_column: str = Field("vital", description="long layout: column with the vital name")
    value_column: str = Field("value", description="long layout: column with the reading's value")
    vitals: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="comma-separated vitals to send; rows with none of them are skipped and counted; "
        "empty sends all",
    )

    pacing: Literal["rate", "fastest", "recorded"] = Field(
        "rate", description="rate: fixed rows per second; fastest: no wait; recorded: the recorded gaps"
    )
    rate_per_s: float = Field(1.0, gt=0, description="rows per second with pacing=rate")
    replay_speedup: float = Field(1.0, gt=0, description="divides the recorded gaps with pacing=recorded")

    progress_path: Path | None = Field(
        None, description="JSON file of the high-water mark (default: .run/producer/progress-<table>.json)"
    )
    max_rows: int = Field(0, ge=0, description="stop after this many rows; 0 reads all")
    stop_at_end: bool = Field(True, description="exit at the end of the table; false keeps polling for new rows")
    poll_interval_s: float = Field(5.0, gt=0, description="seconds between polls for new rows at the end")
    progress_every_s: float = Field(10.0, gt=0, description="seconds between progress log lines")

    @field_validator("vital_columns", mode="before")
    @classmethod
    def _parse_vital_columns(cls, value: object) -> object:
        if isinstance(value, str):
            if not value.strip():
                return None
            return json.loads(value)
        return value

    @field_validator("vital_columns")
    @classmethod
    def _canonical_vital_columns(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        mapped = {column: canonical_vital(name) for column, name in value.items()}
        duplicated = sorted({v for v in mapped.values() if list(mapped.values()).count(v) > 1})
        if duplicated:
            raise ValueError(f"more than one column maps to {', '.join(duplicated)}")
        return mapped

    @field_validator("vitals", mode="before")
    @classmethod
    def _split_vitals(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("vitals")
    @classmethod
    def _canonical_vitals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(canonical_vital(name) for name in value)

    @field_validator("source_table", "order_column")
    @classmethod
    def _plain_identifier(cls, value: str) -> str:
        if not value.strip() or value != value.strip():
            raise ValueError("must be a non-empty name without surrounding spaces")
        return value

    @model_validator(mode="after")
    def _check_layout(self) -> "ProducerSettings":
        if self.pacing == "recorded" and self.layout == "wide" and not self.time_column:
            raise ValueError("pacing=recorded needs PRODUCER_TIME_COLUMN for the wide layout")
        return self

    @property
    def patient_column_name(self) -> str:
        if self.patient_column:
            return self.patient_column
        return "customerId" if self.layout == "wide" else "subject_id"

    @property
    def time_column_name(self) -> str | None:
        if self.time_column:
            return self.time_column
        return None if self.layout == "wide" else "charttime"

    @property
    def progress_file(self) -> Path:
        if self.progress_path is not None:
            return self.progress_path
        safe_table = _SAFE_FILE_PART.sub("_", self.source_table)
        return REPO_ROOT / ".run" / "producer" / f"progress-{safe_table}.json"
