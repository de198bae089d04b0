"""End to end on the local stack: SQL rows in, SNS messages out, compared with an independent oracle.

One pipeline (ingest, alerter, notifier) runs for the whole module on names unique to this run.
Each scenario sends its own source table through the producer and reads back, through the SQS
queue subscribed to the SNS topic, exactly the alerts the oracle computed from the threshold table.
"""

from __future__ import annotations

import csv
import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from e2e_support import (
    MIMIC_VITALS,
    CAPSTONE_VITALS,
    E2ERun,
    expected_alerts,
    read_rules,
    table_rows,
)
from vitals_common.events import stable_id
from vitals_stack import lifecycle, seed
from vitals_stack.settings import StackSettings

pytestmark = pytest.mark.stack

ALERT_TIMEOUT_S = 300
MIMIC_PATIENTS = 12
MIMIC_ROWS = 2400


def _stack_ready(stack: StackSettings) -> bool:
    return all(row.ready for row in lifecycle.status(stack))


@pytest.fixture(scope="module")
def pipeline(shared_data: Path, tmp_path_factory):
    stack = StackSettings()
    if not _stack_ready(stack):
        pytest.skip("the local stack is not running; start it with `make stack-up`")
    run = E2ERun(stack, tmp_path_factory.mktemp("e2e"))
    n = run.names
    assert seed.main(["thresholds", "--csv", str(shared_data / "threshold_ref.csv"), "--table", n["hbase_table"]]) == 0
    assert seed.main([
        "contacts", "--csv", str(shared_data / "patients_information.csv"),
        "--admissions", str(shared_data / "mimic_iv_demo_admissions_age.csv"), "--table", n["contact_table"],
    ]) == 0
    assert seed.main(["vitals", "--csv", str(shared_data / "patients_vital_info.csv"), "--url", run.source_url]) == 0
    for table, skip in (("mimic_a", 0), ("mimic_b", MIMIC_PATIENTS)):
        assert seed.main([
            "vitals", "--mimic-long", str(shared_data / "mimic_iv_demo_vitals_long.csv"), "--url", run.source_url,
            "--table", table, "--patients", str(MIMIC_PATIENTS), "--skip-patients", str(skip),
            "--rows", str(MIMIC_ROWS),
        ]) == 0
    tap = run.make_tap()
    for stage in ("ingest", "alerter", "notifier"):
        run.start(stage)
    yield run, tap
    run.stop_all()


def contact_ages(shared_data: Path) -> dict[str, float]:
    """Ages as the test reads them from the input files: capstone rows, then each subject's first admission."""
    ages = {}
    with open(shared_data / "patients_information.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            ages[row["patientid"]] = float(row["age"])
    with open(shared_data / "mimic_iv_demo_admissions_age.csv", newline="") as handle:
        admissions = sorted(csv.DictReader(handle), key=lambda r: (r["subject_id"], r["admittime"]))
    for row in admissions:
        ages.setdefault(row["subject_id"], float(row["age_at_admission"]))
    return ages


def run_producer(run: E2ERun, name: str, **env: str):
    # Producers share one metrics port, so an earlier one that is still flushing must stop first.
    for stage in run.stages.values():
        if stage.stage == "producer" and stage.running:
            stage.stop()
    return run.start("producer", name=name, **env)


def collect(run: E2ERun, tap, expected: set[str], start_index: int, producer=None) -> Counter:
    stages = tuple(run.stages[s] for s in ("ingest", "alerter", "notifier") if s in run.stages)
    tap.wait_for(start_index + len(expected), ALERT_TIMEOUT_S, stages=stages)
    # Anything extra (a duplicate) would arrive within a few micro-batches after the last alert.
    time.sleep(6)
    tap.drain()
    if producer is not None:
        assert producer.wait(60) == 0, producer.log_tail()
    return Counter(m["attributes"].get("alert_id") for m in tap.messages[start_index:])


def mimic_readings(run: E2ERun, table: str) -> list[tuple[str, str, str, float]]:
    rows = table_rows(run.source_db, f"SELECT row_id, subject_id, vital, value FROM {table} ORDER BY row_id")
    return [(stable_id(table, row_id), subject, MIMIC_VITALS[vital], value) for row_id, subject, vital, value in rows]


def test_capstone_alerts_match_oracle(pipeline, shared_data):
    run, tap = pipeline
    rows = table_rows(run.source_db, "SELECT row_seq, customerId, heartBeat, bp FROM patients_vital_info")
    readings = [
        (stable_id("patients_vital_info", seq), patient, CAPSTONE_VITALS[column], value)
        for seq, patient, heart_rate, bp in rows
        for column, value in (("heartBeat", heart_rate), ("bp", bp))
    ]
    expected = expected_alerts(read_rules(shared_data / "threshold_ref.csv"), readings, contact_ages(shared_data))
    assert len(rows) == 51
    assert expected, "the capstone rows must raise some alerts"
    tap.drain()
    start = len(tap.messages)
    producer = run_producer(run, "producer-capstone", PRODUCER_SOURCE_TABLE="patients_vital_info")
    received = collect(run, tap, expected, start, producer)
    assert set(received) == expected
    assert max(received.values()) == 1


def test_mimic_replay_alerts_match_oracle(pipeline, shared_data):
    run, tap = pipeline
    readings = mimic_readings(run, "mimic_a")
    assert len(readings) >= 2000
    assert len({patient for _, patient, _, _ in readings}) >= 10
    expected = expected_alerts(read_rules(shared_data / "threshold_ref.csv"), readings, contact_ages(shared_data))
    tap.drain()
    start = len(tap.messages)
    producer = run_producer(
        run, "producer-mimic", PRODUCER_SOURCE_TABLE="mimic_a", PRODUCER_LAYOUT="long",
        PRODUCER_ORDER_COLUMN="row_id", PRODUCER_PACING="recorded", PRODUCER_REPLAY_SPEEDUP="100000",
    )
    received = collect(run, tap, expected, start, producer)
    assert set(received) == expected
    assert max(received.values()) == 1


def test_notifier_killed_mid_run_loses_and_repeats_nothing(pipeline, shared_data):
    run, tap = pipeline
    readings = mimic_readings(run, "mimic_b")
    expected = expected_alerts(read_rules(shared_data / "threshold_ref.csv"), readings, contact_ages(shared_data))
    assert len(expected) > 100
    tap.drain()
    start = len(tap.messages)
    producer = run_producer(
        run, "producer-mimic-b", PRODUCER_SOURCE_TABLE="mimic_b", PRODUCER_LAYOUT="long", PRODUCER_ORDER_COLUMN="row_id",
    )
    # Kill the notifier once a quarter of the alerts went out, with SIGKILL so nothing is flushed.
    tap.wait_for(start + len(expected) // 4, ALERT_TIMEOUT_S, poll_s=0.2)
    assert len(tap.messages) - start < len(expected), "the notifier finished before it could be killed"
    run.stages["notifier"].signal(signal.SIGKILL)
    run.stages["notifier"].process.wait(timeout=10)
    time.sleep(2)
    run.start("notifier", name="notifier-restarted")
    run.stages["notifier"] = run.stages.pop("notifier-restarted")
    received = collect(run, tap, expected, start, producer)
    assert set(received) == expected
    repeated = {alert_id for alert_id, count in received.items() if count > 1}
    # Only an alert SNS accepted in the instant before the kill may go out again, and the notifier
    # flags such a re-send so that the receiving side can drop it.
    flagged = {
        m["attributes"].get("alert_id")
        for m in tap.messages[start:]
        if m["attributes"].get("possible_duplicate") == "true"
    }
    assert repeated <= flagged
    assert len(repeated) <= 1


def test_bad_records_reach_dead_letter_topic(pipeline):
    run, _ = pipeline
    n = run.names
    bootstrap = run.stack.kafka_bootstrap
    producer = Producer({"bootstrap.servers": bootstrap})
    bad_values = [b"not json", b'{"event_id": "x", "patient_id": "1", "event_time": "2026-01-01T00:00:00Z", "heart_rate": "fast"}']
    for value in bad_values:
        producer.produce(n["vitals_topic"], key=b"1", value=value)
    unknown = {"event_id": f"unknown-{run.run_id}", "patient_id": "no-such-patient", "event_time": "2026-01-01T00:00:00Z", "source": "e2e", "heart_rate": 150}
    producer.produce(n["vitals_topic"], key=b"no-such-patient", value=json.dumps(unknown).encode())
    assert producer.flush(30) == 0

    def read(topic: str, count: int, keep=lambda record: True) -> list[dict]:
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"e2e-read-{topic}", "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        out, deadline = [], time.monotonic() + 120
        while len(out) < count and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and not message.error():
                record = json.loads(message.value())
                if keep(record):
                    out.append(record)
        consumer.close()
        return out

    letters = read(n["dead_letter_topic"], 2, lambda r: r.get("stage") == "ingest")
    assert sorted(x["reason"] for x in letters) == ["invalid_field_type", "malformed_json"]
    assert all(isinstance(x["source_offset"], int) for x in letters)
    assert all(x["source_topic"] == n["vitals_topic"] for x in letters)
    unrouted = read(n["unrouted_topic"], 1, lambda r: r["event_id"] == unknown["event_id"])
    assert [(x["reason"], x["event_id"]) for x in unrouted] == [("no_contact", unknown["event_id"])]
