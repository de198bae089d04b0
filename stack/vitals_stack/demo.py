"""`python -m vitals_stack.demo`: run the whole pipeline once on the embedded defaults.

Expects a fresh, running local stack (`make demo` wipes and starts it). It seeds the capstone
threshold table, the synthetic roster and synthetic vitals, then starts ingest, alerter and
notifier and sends the vitals at 20 rows per second. When every expected alert has reached SNS it
prints a summary and stops the stages. The stack keeps running for exploration.
"""

from __future__ import annotations

import argparse
import sys
import time

from vitals_common.thresholds import ThresholdTable
from vitals_common.vitals import canonical_vital
from vitals_stack import seed, synthetic
from vitals_stack.memory import MemorySampler, stack_process_groups
from vitals_stack.pipeline import (
    SqsTap,
    StageProcess,
    metric_sum,
    scrape,
    stage_env,
    topic_message_count,
    wait_ready,
)
from vitals_stack.reference_data import capstone_threshold_rows
from vitals_stack.settings import StackSettings

STAGES = ("producer", "ingest", "alerter", "notifier")


def expected_alert_count(rows: int, patients: int) -> tuple[int, int]:
    """Count alerts and unrouted values of the synthetic data with the pure-Python matcher."""
    table = ThresholdTable.from_records(capstone_threshold_rows())
    ages = {p.patient_id: p.age for p in synthetic.roster(patients)}
    alerts = unrouted = 0
    for _, patient_id, heart_rate, bp in synthetic.wide_vitals(synthetic.roster(patients), rows):
        for column, value in (("heartBeat", heart_rate), ("bp", bp)):
            vital = canonical_vital(column)
            age = ages[patient_id]
            rule = table.match(vital, age, value) if age is not None else None
            if rule is None:
                unrouted += 1
            elif rule.alert_flag:
                alerts += 1
    return alerts, unrouted


RATE_PER_S = 20


def run_demo(rows: int, patients: int, timeout_s: float) -> int:
    stack = StackSettings()
    log_dir = stack.home / "pipeline"
    started = time.monotonic()
    print("seeding thresholds (HBase), contacts (Hive) and vitals (SQLite) ...", flush=True)
    seed.main(["thresholds"])
    seed.main(["contacts", "--synthetic-patients", str(patients)])
    seed.main(["vitals", "--rows", str(rows), "--synthetic-patients", str(patients)])
    expected, expected_unrouted = expected_alert_count(rows, patients)

    tap = SqsTap(stack.sns_endpoint, stack.aws_region, stack.sqs_tap_queue)
    tap.drain()
    tap.messages.clear()
    producer_env = {"PRODUCER_RATE_PER_S": str(RATE_PER_S)}
    stages = {name: StageProcess(name, stage_env(stack, name), log_dir) for name in STAGES}
    stages["producer"].env.update(producer_env)
    groups = stack_process_groups(stack)
    sampler = MemorySampler(groups)
    sampler.start()
    try:
        for name in ("ingest", "alerter", "notifier"):
            stages[name].start()
            groups[name] = {stages[name].process.pid}
        print("started ingest, alerter and notifier; waiting until each reports ready ...", flush=True)
        ready_s = wait_ready([stages[n] for n in ("ingest", "alerter", "notifier")], stack.stage_metrics_ports(), timeout_s)
        print(f"stages ready after {ready_s:.0f} s; sending vitals at {RATE_PER_S} rows/s ...", flush=True)
        send_started = time.monotonic()
        stages["producer"].start()
        groups["producer"] = {stages["producer"].process.pid}
        first_alert_s = None
        deadline = time.monotonic() + timeout_s
        while len(tap.messages) < expected and time.monotonic() < deadline:
            if tap.drain() and first_alert_s is None:
                first_alert_s = time.monotonic() - send_started
            for stage in stages.values():
                code = stage.process.poll() if stage.process else None
                if code not in (None, 0):
                    print(f"stage {stage.name} failed (exit {code}); last log lines:\n{stage.log_tail()}", file=sys.stderr)
                    return 1
            time.sleep(1)
        # Let the last micro-batches finish so the counters below are final.
        time.sleep(3)
        tap.drain()
        summary = {name: _scrape_or_empty(port) for name, port in stack.stage_metrics_ports().items()}
        readings_sent = topic_message_count(stack.kafka_bootstrap, "vitals")
    finally:
        sampler.stopped.set()
        for stage in stages.values():
            stage.stop()

    delivered = len(tap.messages)
    print()
    print("demo summary")
    print(f"  readings sent           {readings_sent} of {rows} (records in the vitals topic)")
    print(f"  readings archived       {metric_sum(summary['ingest'], 'vitals_ingest_rows_archived_total'):.0f}")
    print(f"  dead-lettered           {metric_sum(summary['ingest'], 'vitals_ingest_dead_letters_total'):.0f}")
    print(f"  alerts raised           {metric_sum(summary['alerter'], 'vitals_alerter_alerts_total'):.0f} (expected {expected})")
    print(f"  unrouted values         {metric_sum(summary['alerter'], 'vitals_alerter_unrouted_readings_total'):.0f} (expected {expected_unrouted}; patient older than every age band)")
    print(f"  messages delivered      {delivered} read back from SNS via SQS queue {stack.sqs_tap_queue}")
    if first_alert_s is not None:
        print(f"  time to first alert     {first_alert_s:.1f} s after the producer started (stages were ready)")
    else:
        print("  time to first alert     none")
    print(f"  total time              {time.monotonic() - started:.0f} s")
    print(f"  peak memory             {sampler.peak_total / 2**20:.0f} MiB resident, stack and stages together")
    print("where the data lives")
    print(f"  source database         {stack.source_db_url}")
    print(f"  parquet archive         {stack.hdfs_url}/vitals/readings (Hive table vitals.readings)")
    print(f"  contacts                Hive table vitals.patients_contact_info (metastore {stack.metastore_uri})")
    print(f"  thresholds              HBase table threshold_ref (Thrift 127.0.0.1:{stack.hbase_thrift_port})")
    print(f"  stage logs              {log_dir}")
    print(f"  metrics history         {stack.prometheus_url} (the stack's Prometheus; dashboards in k8s/dashboards/)")
    print("sample messages")
    for message in tap.messages[:3]:
        print("  ---\n  " + message["body"].replace("\n", "\n  "))
    print("\nthe stack is still running: `make stack-status`, `make stack-down` to stop it")
    return 0 if delivered == expected else 1


def _scrape_or_empty(port: int) -> dict:
    try:
        return scrape(port)
    except OSError:
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vitals-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300, help="synthetic readings to send (default: %(default)s)")
    parser.add_argument("--patients", type=int, default=12, help="synthetic roster size (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for all alerts (default: %(default)s)")
    args = parser.parse_args(argv)
    return run_demo(args.rows, args.patients, args.timeout)


if __name__ == "__main__":
    raise SystemExit(main())
