"""Structured logging: one line per event, a message followed by key=value pairs (or JSON)."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _render(value: Any) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text)
    return text


class KeyValueFormatter(logging.Formatter):
    """`2026-12-04T15:00:00.123Z INFO producer message key=value ...`"""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        ts = self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z"
        fields = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        parts = [ts, record.levelname, self.service, record.getMessage()]
        parts += [f"{k}={_render(v)}" for k, v in fields.items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(KeyValueFormatter):
    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "message": record.getMessage(),
        }
        body.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str)


def configure_logging(service: str, level: str = "INFO", fmt: str = "keyvalue") -> None:
    import time

    handler = logging.StreamHandler(sys.stdout)
    formatter = JsonFormatter(service) if fmt == "json" else KeyValueFormatter(service)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # py4j logs every gateway call at INFO; keep it to warnings.
    logging.getLogger("py4j").setLevel(logging.WARNING)


_SECRET_KEY = re.compile(r"password|secret|token|credential|key", re.IGNORECASE)


def _mask_url_credentials(value: Any) -> Any:
    """Return a URL with its user and password replaced by ***; other values unchanged."""
    if isinstance(value, str) and "://" in value and "@" in value:
        scheme, rest = value.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return value


def masked_settings(settings: BaseModel) -> dict[str, Any]:
    """Return the settings as a flat dict with secrets and URL passwords masked."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(f"{prefix}{name}.", getattr(value, name))
            return
        key = prefix.rstrip(".")
        if isinstance(value, SecretStr):
            flat[key] = "***" if value.get_secret_value() else ""
        elif isinstance(value, str):
            flat[key] = _mask_url_credentials(value)
        elif isinstance(value, Mapping):
            # Free-form maps such as SPARK_EXTRA_CONF may carry credentials under any key.
            flat[key] = {
                name: "***" if _SECRET_KEY.search(str(name)) else _mask_url_credentials(item)
                for name, item in value.items()
            }
        else:
            flat[key] = value

    walk("", settings)
    return flat


def log_settings(logger: logging.Logger, settings: BaseModel) -> None:
    """Log the effective configuration once at start, secrets masked."""
    logger.info("effective configuration", extra={"config": json.dumps(masked_settings(settings), default=str)})
