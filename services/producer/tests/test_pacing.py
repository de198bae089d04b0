from datetime import datetime, timedelta, timezone

import pytest

from vitals_producer.pacing import Pacer, next_rate_due, rebased_event_time, recorded_due

WALL_START = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


class FakeClock:
    """Monotonic seconds and a wall clock that advance together only when the test sets `now`."""

    def __init__(self, start: float = 1000.0):
        self.now = start
        self.start = start

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return WALL_START + timedelta(seconds=self.now - self.start)


def test_next_rate_due_spaces_rows():
    assert next_rate_due(None, 5.0, 2.0) == 5.0
    assert next_rate_due(5.0, 5.1, 2.0) == 5.5


def test_next_rate_due_never_bursts_after_delay():
    assert next_rate_due(5.0, 9.0, 2.0) == 9.0


def test_recorded_due_scales_gaps():
    first = datetime(2180, 1, 1, tzinfo=timezone.utc)
    later = first + timedelta(minutes=10)
    assert recorded_due(100.0, first, later, speedup=60.0) == pytest.approx(110.0)
    assert recorded_due(100.0, first, first - timedelta(minutes=1), speedup=1.0) == 100.0


def test_rebased_event_time_formula():
    first = datetime(2180, 1, 1, tzinfo=timezone.utc)
    recorded = first + timedelta(seconds=120)
    assert rebased_event_time(WALL_START, first, recorded, speedup=4.0) == WALL_START + timedelta(seconds=30)


def test_rate_pacer_with_fake_clock():
    clock = FakeClock()
    pacer = Pacer("rate", rate_per_s=1.0, monotonic=clock.monotonic, wall=clock.wall)
    first = pacer.plan(None)
    assert first.due == 1000.0
    assert first.event_time == WALL_START
    clock.now = 1000.2
    second = pacer.plan(None)
    assert second.due == pytest.approx(1001.0)
    # Without a time column the event time is the send time, i.e. the due time on the wall clock.
    assert second.event_time == WALL_START + timedelta(seconds=1)


def test_rate_pacer_keeps_recorded_time():
    clock = FakeClock()
    pacer = Pacer("rate", rate_per_s=10.0, monotonic=clock.monotonic, wall=clock.wall)
    recorded = datetime(2180, 1, 1, tzinfo=timezone.utc)
    assert pacer.plan(recorded).event_time == recorded


def test_fastest_pacer_is_due_now():
    clock = FakeClock()
    pacer = Pacer("fastest", monotonic=clock.monotonic, wall=clock.wall)
    assert pacer.plan(None).due == 1000.0
    assert pacer.plan(None).due == 1000.0
    clock.now = 1003.0
    assert pacer.plan(None).due == 1003.0


def test_recorded_pacer_rebases_to_run_start():
    clock = FakeClock()
    pacer = Pacer("recorded", speedup=2.0, monotonic=clock.monotonic, wall=clock.wall)
    first = datetime(2180, 7, 23, 14, 0, tzinfo=timezone.utc)
    slot_first = pacer.plan(first)
    assert slot_first.due == 1000.0
    assert slot_first.event_time == WALL_START

    clock.now = 1000.5
    slot_second = pacer.plan(first + timedelta(seconds=60))
    assert slot_second.due == pytest.approx(1030.0)
    assert slot_second.event_time == WALL_START + timedelta(seconds=30)


def test_recorded_pacer_needs_recorded_time():
    pacer = Pacer("recorded")
    with pytest.raises(ValueError, match="recorded time"):
        pacer.plan(None)
