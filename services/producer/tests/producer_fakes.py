"""A stand-in for confluent_kafka.Producer that delivers on poll() in a chosen order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class FakeError:
    message: str

    def str(self) -> str:
        return self.message

    def __str__(self) -> str:
        return self.message


@dataclass
class FakeKafkaProducer:
    """Holds messages until `hold` are queued (or flush), then delivers them newest first.

    `fail_when(topic, value)` returning True makes that message's delivery fail.
    """

    hold: int = 3
    fail_when: Callable[[str, bytes], bool] = lambda topic, value: False
    queued: list[tuple[str, bytes, bytes, Any]] = field(default_factory=list)
    delivered: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        self.queued.append((topic, key, value, on_delivery))

    def _deliver_all(self) -> int:
        count = len(self.queued)
        for topic, key, value, callback in reversed(self.queued):
            if self.fail_when(topic, value):
                callback(FakeError("Local: Message timed out"), None)
            else:
                self.delivered.append((topic, key, value))
                callback(None, None)
        self.queued.clear()
        return count

    def poll(self, timeout: float) -> int:
        if len(self.queued) >= self.hold:
            return self._deliver_all()
        return 0

    def flush(self, timeout: float) -> int:
        self._deliver_all()
        return 0
