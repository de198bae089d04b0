"""Publishing to SNS with exponential backoff and jitter for throttling and transient errors."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, HTTPClientError

from vitals_common.errors import StartupError

from vitals_notifier import metrics
from vitals_notifier.message import SnsMessage
from vitals_notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException"})
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class PublishFailed(RuntimeError):
    """SNS rejected an alert with a non-retryable error, or retries ran out; the offset stays uncommitted."""


class PublishAbandoned(RuntimeError):
    """A stop was requested while waiting to retry; the alert stays uncommitted and is delivered again."""


def is_retryable(error: BaseException) -> bool:
    """Return True for throttling, 5xx responses and connection or timeout errors."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        return code in THROTTLING_CODES or int(status) >= 500
    return isinstance(error, (BotoConnectionError, HTTPClientError))


def error_summary(error: BaseException) -> str:
    if isinstance(error, ClientError):
        body = error.response.get("Error", {})
        return f"{body.get('Code', 'unknown')}: {body.get('Message', '')}".strip()
    return f"{error.__class__.__name__}: {error}"


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Return the wait before retry `attempt` (0-based): uniform in [0, min(max_s, base_s * 2**attempt)]."""
    return rng.uniform(0.0, min(max_s, base_s * (2**attempt)))


def build_sns_client(settings: NotifierSettings) -> Any:
    """Create an SNS client without botocore's own retries, so this module alone decides them.

    Credentials come from the usual boto3 chain. Only for a loopback endpoint (moto) and only when
    the chain finds none, the client uses the `testing` key pair.
    """
    session = boto3.session.Session(region_name=settings.aws_region)
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)
    extra: dict[str, str] = {}
    if settings.endpoint_is_local and session.get_credentials() is None:
        extra = LOCAL_CREDENTIALS
    return session.client("sns", endpoint_url=settings.sns_endpoint_url, config=config, **extra)


def resolve_topic_arn(client: Any, settings: NotifierSettings) -> str:
    """Return the configured ARN after checking it exists, or create the named topic (idempotent)."""
    where = settings.sns_endpoint_url or "the AWS endpoint"
    try:
        if settings.sns_topic_arn:
            client.get_topic_attributes(TopicArn=settings.sns_topic_arn)
            return settings.sns_topic_arn
        return client.create_topic(Name=settings.sns_topic_name)["TopicArn"]
    except ClientError as exc:
        raise StartupError(
            f"SNS at {where} rejected the topic lookup ({error_summary(exc)}); check NOTIFIER_SNS_TOPIC_ARN, "
            "NOTIFIER_SNS_TOPIC_NAME and the credentials"
        ) from exc
    except BotoCoreError as exc:
        raise StartupError(
            f"SNS at {where} is unreachable ({error_summary(exc)}); start moto (python -m vitals_stack up "
            "--only moto) or set NOTIFIER_SNS_ENDPOINT_URL"
        ) from exc


class SnsPublisher:
    """Publishes one rendered message, retrying throttling and transient errors with full jitter."""

    def __init__(
        self,
        client: Any,
        topic_arn: str,
        max_retries: int = 8,
        base_s: float = 0.2,
        max_s: float = 20.0,
        stop_event: threading.Event | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.topic_arn = topic_arn
        self.max_retries = max_retries
        self.base_s = base_s
        self.max_s = max_s
        self.stop_event = stop_event or threading.Event()
        self.rng = rng or random.Random()
        self.monotonic = monotonic

    def publish(self, message: SnsMessage, alert_id: str) -> str:
        """Publish and return the SNS message id.

        Raises PublishFailed for a non-retryable error or when retries run out, and PublishAbandoned
        when a stop is requested during a backoff wait.
        """
        attempt = 0
        while True:
            started = self.monotonic()
            try:
                response = self.client.publish(
                    TopicArn=self.topic_arn,
                    Subject=message.subject,
                    Message=message.body,
                    MessageAttributes=message.attributes,
                )
            except (ClientError, BotoCoreError) as exc:
                if not is_retryable(exc):
                    metrics.MESSAGES_FAILED.inc()
                    raise PublishFailed(
                        f"SNS rejected alert {alert_id} ({error_summary(exc)}); not retryable"
                    ) from exc
                if attempt >= self.max_retries:
                    metrics.MESSAGES_FAILED.inc()
                    raise PublishFailed(
                        f"SNS still failing for alert {alert_id} after {self.max_retries} retries "
                        f"({error_summary(exc)})"
                    ) from exc
                delay = backoff_delay(attempt, self.base_s, self.max_s, self.rng)
                metrics.PUBLISH_RETRIES.inc()
                log.warning(
                    "SNS publish failed, retrying",
                    extra={
                        "alert_id": alert_id,
                        "attempt": attempt + 1,
                        "delay_s": round(delay, 3),
                        "error": error_summary(exc),
                    },
                )
                attempt += 1
                if self.stop_event.wait(delay):
                    raise PublishAbandoned(f"stop requested while retrying alert {alert_id}") from exc
                continue
            metrics.SNS_PUBLISH_LATENCY.observe(self.monotonic() - started)
            return str(response["MessageId"])

    def check(self) -> bool:
        """Look up the topic for the readiness probe; raise when SNS is unreachable."""
        self.client.get_topic_attributes(TopicArn=self.topic_arn)
        return True
