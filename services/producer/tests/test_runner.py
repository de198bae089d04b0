import json
import threading

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from vitals_common.events import stable_id
from vitals_producer.pacing import Pacer
from vitals_producer.progress_store import DeliveryTracker, ProgressStore
from vitals_producer.publisher import Publisher
from vitals_producer.row_mapping import build_row_mapper
from vitals_producer.runner import DeliveryFailed, InvalidOrderColumn, ProducerRun
from vitals_producer.settings import ProducerSettings
from vitals_producer.source import SourceTable, create_source_engine

from producer_fakes import FakeKafkaProducer

WIDE_COLUMNS = {"row_seq": sa.Integer, "customerId": sa.Integer, "heartBeat": sa.Integer, "bp": sa.Text}


def wide_rows(start: int, stop: int) -> list[dict]:
    return [{"row_seq": i, "customerId": 100 + i % 3, "heartBeat": 60 + i, "bp": str(110 + i)} for i in range(start, stop)]


def run_once(url, tmp_path, fake, **overrides):
    options = dict(
        source_url=url,
        source_table="patients_vital_info",
        pacing="fastest",
        progress_path=tmp_path / "progress.json",
        batch_size=4,
    )
    options.update(overrides)
    settings = ProducerSettings(**options)
    source = SourceTable(create_source_engine(url), settings.source_table, settings.order_column)
    mapper = build_row_mapper(settings, source.column_names)
    store = ProgressStore(settings.progress_file, settings.source_table, settings.order_column)
    publisher = Publisher(fake, DeliveryTracker(store.load()))
    run = ProducerRun(settings, source, mapper, publisher, store, Pacer("fastest"), threading.Event())
    try:
        return run.run(), store
    finally:
        source.engine.dispose()


def sent_event_ids(fake, topic="vitals"):
    return [json.loads(value)["event_id"] for t, _, value in fake.delivered if t == topic]


def test_run_sends_every_row_and_saves_mark(make_table, tmp_path):
    url = make_table("patients_vital_info", WIDE_COLUMNS, wide_rows(1, 11))
    fake = FakeKafkaProducer(hold=3)
    stats, store = run_once(url, tmp_path, fake)
    assert stats.events_sent == 10
    assert sorted(sent_event_ids(fake)) == sorted(stable_id("patients_vital_info", i) for i in range(1, 11))
    assert store.load() == 10
    first = next(json.loads(v) for t, k, v in fake.delivered if json.loads(v)["event_id"] == stable_id("patients_vital_info", 1))
    assert first["patient_id"] == "101"
    assert first["heart_rate"] == 61
    assert first["bp_systolic"] == 111


def test_restart_resumes_without_repeating(make_table, add_rows, tmp_path):
    url = make_table("patients_vital_info", WIDE_COLUMNS, wide_rows(1, 6))
    first = FakeKafkaProducer(hold=2)
    run_once(url, tmp_path, first, max_rows=3)
    assert sorted(sent_event_ids(first)) == sorted(stable_id("patients_vital_info", i) for i in (1, 2, 3))

    add_rows(url, "patients_vital_info", wide_rows(6, 8))
    second = FakeKafkaProducer(hold=2)
    _, store = run_once(url, tmp_path, second)
    assert sorted(sent_event_ids(second)) == sorted(stable_id("patients_vital_info", i) for i in (4, 5, 6, 7))
    assert store.load() == 7

    third = FakeKafkaProducer()
    run_once(url, tmp_path, third)
    assert third.delivered == []


def test_bad_rows_go_to_dead_letter_topic(make_table, tmp_path):
    rows = wide_rows(1, 4)
    rows[1]["bp"] = "high"
    rows[2]["customerId"] = None
    url = make_table("patients_vital_info", WIDE_COLUMNS, rows)
    before = REGISTRY.get_sample_value("vitals_producer_dead_letters_total", {"reason": "non_numeric_value"}) or 0.0
    fake = FakeKafkaProducer(hold=1)
    stats, store = run_once(url, tmp_path, fake)

    assert stats.events_sent == 1
    assert stats.dead_letters == 2
    letters = [json.loads(v) for t, _, v in fake.delivered if t == "vitals-dlq"]
    by_key = {letter["order_key"]: letter for letter in letters}
    assert by_key[2]["reason"] == "non_numeric_value"
    assert by_key[2]["stage"] == "producer"
    assert by_key[2]["source_table"] == "patients_vital_info"
    assert by_key[2]["raw"] == {"row_seq": "2", "customerId": "102", "heartBeat": "62", "bp": "high"}
    assert by_key[3]["reason"] == "missing_patient"
    assert store.load() == 3
    after = REGISTRY.get_sample_value("vitals_producer_dead_letters_total", {"reason": "non_numeric_value"})
    assert after - before == 1


def test_failed_delivery_stops_before_failed_row(make_table, tmp_path):
    url = make_table("patients_vital_info", WIDE_COLUMNS, wide_rows(1, 9))
    failing_id = stable_id("patients_vital_info", 3).encode()
    fake = FakeKafkaProducer(hold=4, fail_when=lambda topic, value: failing_id in value)
    with pytest.raises(DeliveryFailed, match="order key 3"):
        run_once(url, tmp_path, fake)
    store = ProgressStore(tmp_path / "progress.json", "patients_vital_info", "row_seq")
    assert store.load() == 2

    retry = FakeKafkaProducer(hold=1)
    run_once(url, tmp_path, retry)
    assert sent_event_ids(retry) == [stable_id("patients_vital_info", i) for i in range(3, 9)]


def test_long_layout_skips_vitals_outside_allow_list(make_table, tmp_path):
    columns = {"row_id": sa.Integer, "subject_id": sa.Integer, "charttime": sa.Text, "vital": sa.Text, "value": sa.Float}
    rows = [
        {"row_id": 1, "subject_id": 7, "charttime": "2180-01-01T00:00:00", "vital": "heart_rate", "value": 88},
        {"row_id": 2, "subject_id": 7, "charttime": "2180-01-01T00:00:00", "vital": "spo2", "value": 97},
        {"row_id": 3, "subject_id": 7, "charttime": "2180-01-01T00:01:00", "vital": "sbp", "value": 150},
    ]
    url = make_table("vitals_long", columns, rows)
    settings_overrides = dict(source_table="vitals_long")
    fake = FakeKafkaProducer(hold=1)
    settings = ProducerSettings(
        source_url=url, layout="long", order_column="row_id", vitals="heart_rate,sbp", pacing="fastest",
        progress_path=tmp_path / "p.json", **settings_overrides,
    )
    source = SourceTable(create_source_engine(url), "vitals_long", "row_id")
    store = ProgressStore(settings.progress_file, "vitals_long", "row_id")
    run = ProducerRun(
        settings, source, build_row_mapper(settings, source.column_names), Publisher(fake, DeliveryTracker()),
        store, Pacer("fastest"), threading.Event(),
    )
    stats = run.run()
    events = [json.loads(v) for t, _, v in fake.delivered]
    assert stats.skipped == 1
    assert [e["event_id"] for e in events] == [stable_id("vitals_long", 1), stable_id("vitals_long", 3)]
    assert events[1]["bp_systolic"] == 150
    assert events[0]["event_time"] == "2180-01-01T00:00:00.000Z"
    assert store.load() == 3


def test_non_unique_order_column_raises(make_table, tmp_path):
    columns = {"id": sa.Integer, "row_seq": sa.Integer, "customerId": sa.Integer, "heartBeat": sa.Integer}
    url = make_table("patients_vital_info", columns, [
        {"id": 1, "row_seq": 1, "customerId": 1, "heartBeat": 70},
        {"id": 2, "row_seq": 1, "customerId": 1, "heartBeat": 71},
    ])
    with pytest.raises(InvalidOrderColumn, match="unique"):
        run_once(url, tmp_path, FakeKafkaProducer(hold=1))
