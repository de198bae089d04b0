import json

import pytest

from vitals_common.errors import StartupError
from vitals_producer.progress_store import DeliveryTracker, ProgressStore


def test_store_round_trip_and_atomic_files(tmp_path):
    path = tmp_path / "nested" / "progress.json"
    store = ProgressStore(path, "patients_vital_info", "row_seq")
    assert store.load() is None
    store.save(41)
    store.save(42)
    assert store.load() == 42
    assert json.loads(path.read_text())["high_water_mark"] == 42
    assert [p.name for p in path.parent.iterdir()] == ["progress.json"]


def test_store_rejects_other_table(tmp_path):
    path = tmp_path / "progress.json"
    ProgressStore(path, "table_a", "row_seq").save(3)
    with pytest.raises(StartupError, match="table_a"):
        ProgressStore(path, "table_b", "row_seq").load()


def test_store_rejects_corrupt_file(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text("{not json")
    with pytest.raises(StartupError, match="not valid"):
        ProgressStore(path, "t", "row_seq").load()


def test_tracker_advances_only_over_contiguous_confirmations():
    tracker = DeliveryTracker(high_water_mark=10)
    for key in (11, 12, 13, 14):
        tracker.register(key)
    tracker.confirm(13)
    tracker.confirm(12)
    assert tracker.high_water_mark == 10
    tracker.confirm(11)
    assert tracker.high_water_mark == 13
    assert tracker.in_flight == 1
    tracker.confirm(14)
    assert tracker.high_water_mark == 14
    assert tracker.in_flight == 0


def test_tracker_failure_holds_mark_before_failed_key():
    tracker = DeliveryTracker()
    for key in (1, 2, 3, 4):
        tracker.register(key)
    tracker.confirm(1)
    tracker.fail(2, "timed out")
    tracker.confirm(3)
    tracker.confirm(4)
    assert tracker.high_water_mark == 1
    assert tracker.failures == [(2, "timed out")]


def test_tracker_rejects_duplicate_key():
    tracker = DeliveryTracker()
    tracker.register(1)
    with pytest.raises(ValueError, match="unique"):
        tracker.register(1)
