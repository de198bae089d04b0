"""Notifier settings, read from `NOTIFIER_*` variables (Kafka connection from `KAFKA_*`)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from vitals_common.settings import KafkaSettings, ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DEDUP_URL = f"sqlite:///{REPO_ROOT / '.run' / 'notifier' / 'sent-alerts.db'}"


class NotifierSettings(ServiceSettings):
    """Notifier configuration: the consumed topic, the SNS target, the dedup store and the retry policy."""

    model_config = SettingsConfigDict(env_prefix="NOTIFIER_", extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    topic: str = Field("doctor", min_length=1, description="Kafka topic of the alerts")
    group_id: str = Field("vitals-notifier", min_length=1, description="Kafka consumer group")
    dead_letter_topic: str = Field(
        "doctor-dlq", min_length=1, description="topic that receives alerts that cannot be parsed"
    )
    replay_from_beginning: bool = Field(
        False, description="seek every assigned partition to its first offset (the dedup store still applies)"
    )
    poll_timeout_s: float = Field(1.0, gt=0, description="seconds one consumer poll waits for a message")

    sns_topic_arn: str | None = Field(None, description="ARN of the SNS topic; empty resolves NOTIFIER_SNS_TOPIC_NAME")
    sns_topic_name: str = Field(
        "vitals-alerts", min_length=1, description="SNS topic created (idempotently) when no ARN is set"
    )
    sns_endpoint_url: str | None = Field(
        "http://127.0.0.1:5000", description="SNS endpoint, e.g. moto; empty uses the real AWS endpoint"
    )
    aws_region: str = Field("us-east-1", min_length=1, description="AWS region of the SNS topic")
    max_retries: int = Field(8, ge=0, le=30, description="retries of a throttled or transient SNS error")
    retry_base_s: float = Field(0.2, gt=0, description="first backoff in seconds, doubled on every retry")
    retry_max_s: float = Field(20.0, gt=0, description="maximum backoff in seconds before jitter")

    dedup_url: str = Field(
        DEFAULT_DEDUP_URL, description="SQLAlchemy URL of the store of sent alert ids; share it between replicas"
    )
    dedup_retention_h: float = Field(72.0, gt=0, description="hours an alert id is kept; older ones are pruned at start")
    lag_every_s: float = Field(15.0, gt=0, description="seconds between updates of the consumer-lag gauge")

    @field_validator("sns_topic_arn", "sns_endpoint_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("sns_endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and urlparse(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL, or empty for the real AWS endpoint")
        return value

    @property
    def endpoint_is_local(self) -> bool:
        """Whether the SNS endpoint is on this host (moto), which allows the `testing` credentials."""
        if self.sns_endpoint_url is None:
            return False
        host = urlparse(self.sns_endpoint_url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
