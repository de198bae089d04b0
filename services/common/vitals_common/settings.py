"""Settings shared by every stage, read from environment variables by pydantic-settings."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Kafka connection settings, read from `KAFKA_*` variables by every stage."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = Field("127.0.0.1:9092", description="host:port list of brokers")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: str | None = Field(None, description="e.g. SCRAM-SHA-512 or PLAIN")
    sasl_username: str | None = Field(None, description="SASL user name")
    sasl_password: SecretStr | None = Field(None, description="SASL password; masked in logs")
    ssl_ca_location: str | None = Field(None, description="path of the CA bundle for TLS")

    def client_config(self) -> dict[str, str]:
        """Return the librdkafka properties that connect a confluent-kafka client."""
        config = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            config["ssl.ca.location"] = self.ssl_ca_location
        return config

    def spark_options(self) -> dict[str, str]:
        """Return the same connection as `kafka.`-prefixed options of Spark's Kafka source and sink."""
        options = {
            "kafka.bootstrap.servers": self.bootstrap_servers,
            "kafka.security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            options["kafka.sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username and self.sasl_password:
            # The Java client takes SASL credentials as a JAAS line rather than separate keys.
            module = (
                "org.apache.kafka.common.security.plain.PlainLoginModule"
                if self.sasl_mechanism == "PLAIN"
                else "org.apache.kafka.common.security.scram.ScramLoginModule"
            )
            secret = self.sasl_password.get_secret_value()
            options["kafka.sasl.jaas.config"] = (
                f'{module} required username="{self.sasl_username}" password="{secret}";'
            )
        if self.ssl_ca_location:
            options["kafka.ssl.truststore.location"] = self.ssl_ca_location
            options["kafka.ssl.truststore.type"] = "PEM"
        return options


class ServiceSettings(BaseSettings):
    """Settings every stage has: where metrics and health are served and how it logs."""

    metrics_host: str = Field(
        "127.0.0.1", description="address of the /metrics, /healthz and /readyz server; 0.0.0.0 in a pod"
    )
    metrics_port: int = Field(0, ge=0, le=65535, description="port of that server; 0 turns it off")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["keyvalue", "json"] = Field(
        "keyvalue", description="keyvalue: a message then key=value pairs; json: one JSON object per line"
    )
    startup_timeout_s: float = Field(30.0, gt=0, description="how long to wait for dependencies at start")


# Spark's processing-time trigger takes an interval string such as "10 seconds" or "500 milliseconds".
_TRIGGER_INTERVAL = re.compile(
    r"^\s*\d+(\.\d+)?\s*(millisecond|second|minute|hour|day)s?\s*$", re.IGNORECASE
)


def check_trigger_interval(value: str) -> str:
    """Validate a Spark trigger interval before a JVM starts, so a typo fails in a second, not minutes."""
    if not _TRIGGER_INTERVAL.match(value):
        raise ValueError(
            f"{value!r} is not a Spark interval; write a number and a unit, e.g. '10 seconds' or '500 milliseconds'"
        )
    return value.strip()
