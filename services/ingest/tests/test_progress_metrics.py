"""Kafka backlog taken from a query's progress report."""

from __future__ import annotations

from types import SimpleNamespace

from vitals_ingest.metrics import offsets_behind


def source(metrics):
    return SimpleNamespace(metrics=metrics)


def test_offsets_behind_takes_largest_source():
    sources = [source({"maxOffsetsBehindLatest": "4"}), source({"maxOffsetsBehindLatest": "17"})]
    assert offsets_behind(sources) == 17.0


def test_offsets_behind_none_without_kafka_metrics():
    assert offsets_behind([source({}), source(None)]) is None
    assert offsets_behind([]) is None
