"""Send times and event times of each row, as pure functions of clock readings.

Times come in two kinds: `monotonic` seconds decide when a row is sent, and wall-clock `datetime`
values become event times. Both clocks are injected so tests can drive them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

PacingMode = Literal["rate", "fastest", "recorded"]


def next_rate_due(previous_due: float | None, now: float, rate_per_s: float) -> float:
    """Return when the next row is due at `rate_per_s` rows per second.

    Rows are spaced 1/rate apart. A producer that fell behind sends the next row at once but never
    bursts to catch up, so the rate is a maximum.
    """
    if previous_due is None:
        return now
    return max(previous_due + 1.0 / rate_per_s, now)


def recorded_due(run_start: float, first_recorded: datetime, recorded: datetime, speedup: float) -> float:
    """Return when a reading is due so that gaps between recorded times are kept, divided by `speedup`.

    A reading recorded before the run's first reading is due at once (at `run_start`).
    """
    offset = (recorded - first_recorded).total_seconds() / speedup
    return run_start + max(offset, 0.0)


def rebased_event_time(
    run_start_wall: datetime, first_recorded: datetime, recorded: datetime, speedup: float
) -> datetime:
    """Return the event time of a replayed reading: run start + (recorded - first recorded) / speedup."""
    return run_start_wall + (recorded - first_recorded) / speedup


@dataclass(frozen=True)
class Slot:
    """When to send one row (monotonic seconds) and its event time."""

    due: float
    event_time: datetime


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Pacer:
    """Plans each row's send time and event time in the configured mode.

    Event time in `rate` and `fastest` mode is the recorded time when the table has one, else the
    wall-clock time at which the row is planned (the send time, as the original capstone producer
    did). In `recorded` mode the run's first reading gets "now" and later ones keep their gaps.
    """

    def __init__(
        self,
        mode: PacingMode,
        rate_per_s: float = 1.0,
        speedup: float = 1.0,
        monotonic: Callable[[], float] | None = None,
        wall: Callable[[], datetime] = _utc_now,
    ):
        if rate_per_s <= 0 or speedup <= 0:
            raise ValueError("rate_per_s and speedup must be > 0")
        self.mode = mode
        self.rate_per_s = rate_per_s
        self.speedup = speedup
        self.monotonic = monotonic or time.monotonic
        self.wall = wall
        self._previous_due: float | None = None
        self._run_start: float | None = None
        self._run_start_wall: datetime | None = None
        self._first_recorded: datetime | None = None

    def plan(self, recorded_time: datetime | None) -> Slot:
        now = self.monotonic()
        if self.mode == "recorded":
            if recorded_time is None:
                raise ValueError("pacing=recorded needs a recorded time for every row")
            if self._first_recorded is None:
                self._run_start, self._run_start_wall, self._first_recorded = now, self.wall(), recorded_time
            assert self._run_start is not None and self._run_start_wall is not None
            due = recorded_due(self._run_start, self._first_recorded, recorded_time, self.speedup)
            event_time = rebased_event_time(self._run_start_wall, self._first_recorded, recorded_time, self.speedup)
            return Slot(due, event_time)

        if self.mode == "rate":
            due = next_rate_due(self._previous_due, now, self.rate_per_s)
        else:
            due = now
        self._previous_due = due
        if recorded_time is not None:
            return Slot(due, recorded_time)
        # The event time is the send time: the wall clock now plus the wait until `due`.
        return Slot(due, self.wall() + timedelta(seconds=max(due - now, 0.0)))
