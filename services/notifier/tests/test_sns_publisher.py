import random
import threading

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from vitals_notifier.message import SnsMessage
from vitals_notifier.sns_publisher import (
    PublishAbandoned,
    PublishFailed,
    SnsPublisher,
    backoff_delay,
    is_retryable,
)

MESSAGE = SnsMessage("subject", "body", {"alert_id": {"DataType": "String", "StringValue": "a1"}})


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} message"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Publish",
    )


class FakeSnsClient:
    """Raises the queued errors one per call, then returns a message id."""

    def __init__(self, errors):
        self.errors = list(errors)
        self.calls = []

    def publish(self, **kwargs):
        self.calls.append(kwargs)
        if self.errors:
            raise self.errors.pop(0)
        return {"MessageId": f"msg-{len(self.calls)}"}


class RecordingStop(threading.Event):
    """A stop event whose wait() records the delay and returns at once."""

    def __init__(self, stop_after: int | None = None):
        super().__init__()
        self.waits = []
        self.stop_after = stop_after

    def wait(self, timeout=None):
        self.waits.append(timeout)
        return self.stop_after is not None and len(self.waits) >= self.stop_after


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("Throttling", 400), True),
        (client_error("ThrottlingException", 400), True),
        (client_error("ThrottledException", 400), True),
        (client_error("InternalError", 500), True),
        (client_error("ServiceUnavailable", 503), True),
        (client_error("InvalidParameter", 400), False),
        (client_error("AuthorizationError", 403), False),
        (client_error("NotFound", 404), False),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), True),
        (ValueError("not a botocore error"), False),
    ],
)
def test_is_retryable(error, expected):
    assert is_retryable(error) is expected


def test_backoff_delay_bounds():
    rng = random.Random(7)
    for attempt in range(10):
        cap = min(20.0, 0.2 * 2**attempt)
        for _ in range(50):
            assert 0.0 <= backoff_delay(attempt, 0.2, 20.0, rng) <= cap


def test_throttled_twice_then_succeeds():
    client = FakeSnsClient([client_error("Throttling", 400), client_error("ThrottlingException", 400)])
    stop = RecordingStop()
    publisher = SnsPublisher(client, "arn:topic", max_retries=8, base_s=0.2, max_s=20.0, stop_event=stop, rng=random.Random(1))
    assert publisher.publish(MESSAGE, "a1") == "msg-3"
    assert len(client.calls) == 3
    assert client.calls[0] == {
        "TopicArn": "arn:topic", "Subject": "subject", "Message": "body", "MessageAttributes": MESSAGE.attributes,
    }
    expected_rng = random.Random(1)
    assert stop.waits == [expected_rng.uniform(0, 0.2), expected_rng.uniform(0, 0.4)]


def test_non_retryable_error_raises_without_retry():
    client = FakeSnsClient([client_error("InvalidParameter", 400)])
    stop = RecordingStop()
    with pytest.raises(PublishFailed, match="InvalidParameter.*not retryable"):
        SnsPublisher(client, "arn:topic", stop_event=stop).publish(MESSAGE, "a1")
    assert len(client.calls) == 1
    assert stop.waits == []


def test_retries_run_out():
    client = FakeSnsClient([client_error("Throttling", 400)] * 4)
    with pytest.raises(PublishFailed, match="after 3 retries"):
        SnsPublisher(client, "arn:topic", max_retries=3, stop_event=RecordingStop()).publish(MESSAGE, "a1")
    assert len(client.calls) == 4


def test_stop_during_backoff_abandons():
    client = FakeSnsClient([client_error("Throttling", 400)] * 5)
    with pytest.raises(PublishAbandoned):
        SnsPublisher(client, "arn:topic", stop_event=RecordingStop(stop_after=1)).publish(MESSAGE, "a1")
    assert len(client.calls) == 1
