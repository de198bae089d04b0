from datetime import datetime, timedelta, timezone

from vitals_notifier.dedup_store import DedupStore

NOW = datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)


def test_record_and_contains(tmp_path):
    store = DedupStore.open(f"sqlite:///{tmp_path / 'sub' / 'sent.db'}")
    assert not store.contains("a1")
    assert store.record("a1", NOW) is True
    assert store.contains("a1")
    assert store.record("a1", NOW) is False
    store.close()


def test_survives_reopen(tmp_path):
    url = f"sqlite:///{tmp_path / 'sent.db'}"
    first = DedupStore.open(url)
    first.record("a1", NOW)
    first.close()
    second = DedupStore.open(url)
    assert second.contains("a1")
    second.close()


def test_prune_removes_only_old_ids(tmp_path):
    store = DedupStore.open(f"sqlite:///{tmp_path / 'sent.db'}")
    store.record("old", NOW - timedelta(hours=73))
    store.record("recent", NOW - timedelta(hours=71))
    assert store.prune(timedelta(hours=72), now=NOW) == 1
    assert not store.contains("old")
    assert store.contains("recent")
    store.close()


def test_pending_then_sent_status(tmp_path):
    store = DedupStore.open(f"sqlite:///{tmp_path / 'pending.db'}")
    assert store.status("a1") is None
    store.mark_pending("a1")
    assert store.status("a1") == "pending"
    assert not store.contains("a1")
    assert store.record("a1") is True
    assert store.status("a1") == "sent"
    assert store.contains("a1")
    assert store.record("a1") is False
