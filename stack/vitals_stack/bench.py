"""`python -m vitals_stack.bench`: measure throughput, alert latency and memory of the whole pipeline.

Runs on a running local stack with synthetic data: seeds N readings, starts the four stages with
the producer at full speed, and waits until every expected alert has reached SNS. It samples the
resident memory of every stack and stage process twice a second and prints a Markdown table for
the benchmark page.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from vitals_stack import seed
from vitals_stack.demo import expected_alert_count
from vitals_stack.memory import MemorySampler, stack_process_groups
from vitals_stack.pipeline import SqsTap, StageProcess, metric_sum, scrape, stage_env, topic_message_count, wait_ready
from vitals_stack.settings import StackSettings

def _histogram_quantile(samples: dict, name: str, quantile: float) -> float | None:
    """Estimate a quantile from cumulative buckets, as PromQL's histogram_quantile does."""
    buckets = sorted(
        (float(dict(labels)["le"]), value) for (sample, labels), value in samples.items() if sample == f"{name}_bucket"
    )
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = quantile * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / max(count - lower_count, 1e-9)
        lower_bound, lower_count = bound, count
    return None


def run_bench(rows: int, patients: int, timeout_s: float) -> int:
    stack = StackSettings()
    seed.main(["thresholds"])
    seed.main(["contacts", "--synthetic-patients", str(patients)])
    seed.main(["vitals", "--rows", str(rows), "--synthetic-patients", str(patients)])
    expected, _ = expected_alert_count(rows, patients)
    run_dir = stack.home / "bench"
    run_id = time.time_ns()
    # A fresh progress file and dedup store per run: the seeded rows keep their event ids, so a
    # second run would otherwise be skipped by the producer or de-duplicated by the notifier.
    env_extra = {
        "PRODUCER_PACING": "fastest",
        "PRODUCER_PROGRESS_PATH": str(run_dir / f"progress-{run_id}.json"),
        "NOTIFIER_DEDUP_URL": f"sqlite:///{run_dir / f'sent-alerts-{run_id}.db'}",
    }

    tap = SqsTap(stack.sns_endpoint, stack.aws_region, stack.sqs_tap_queue)
    tap.drain()
    tap.messages.clear()
    stages = {name: StageProcess(name, {**stage_env(stack, name), **env_extra}, run_dir) for name in stack.stage_metrics_ports()}
    groups = stack_process_groups(stack)
    sampler = MemorySampler(groups)
    try:
        for name in ("ingest", "alerter", "notifier"):
            stages[name].start()
            groups[name] = {stages[name].process.pid}
        sampler.start()
        wait_ready([stages[n] for n in ("ingest", "alerter", "notifier")], stack.stage_metrics_ports(), timeout_s)
        readings_before = topic_message_count(stack.kafka_bootstrap, "vitals")
        started = time.monotonic()
        stages["producer"].start()
        groups["producer"] = {stages["producer"].process.pid}
        first_alert = last_alert = None
        deadline = started + timeout_s
        sent_s = None
        while len(tap.messages) < expected and time.monotonic() < deadline:
            if sent_s is None and stages["producer"].process.poll() is not None:
                sent_s = time.monotonic() - started
            if tap.drain():
                now = time.monotonic() - started
                first_alert = first_alert if first_alert is not None else now
                last_alert = now
            time.sleep(0.5)
        samples = {name: _safe_scrape(port) for name, port in stack.stage_metrics_ports().items()}
        readings_sent = topic_message_count(stack.kafka_bootstrap, "vitals") - readings_before
    finally:
        sampler.stopped.set()
        for stage in stages.values():
            stage.stop()

    notifier = samples["notifier"]
    latency = "vitals_pipeline_end_to_end_latency_seconds"
    count = metric_sum(notifier, f"{latency}_count")
    mean = metric_sum(notifier, f"{latency}_sum") / count if count else float("nan")
    p50 = _histogram_quantile(notifier, latency, 0.5)
    p95 = _histogram_quantile(notifier, latency, 0.95)
    mib = 1024 * 1024
    print(f"| machine | {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()} |")
    print("| --- | --- |")
    print(f"| readings sent | {readings_sent} |")
    print(f"| alerts expected / delivered | {expected} / {len(tap.messages)} |")
    if sent_s is not None:
        print(f"| producer finished after | {sent_s:.1f} s |")
    print(f"| first alert after | {first_alert:.1f} s |" if first_alert is not None else "| first alert | none |")
    print(f"| last alert after | {last_alert:.1f} s |" if last_alert is not None else "| last alert | none |")
    if last_alert:
        print(f"| delivery throughput | {len(tap.messages) / last_alert:.1f} alerts/s over the whole run |")
    print(f"| end-to-end latency (event time to SNS) | mean {mean:.1f} s, p50 ~{p50 or float('nan'):.1f} s, p95 ~{p95 or float('nan'):.1f} s (from histogram buckets) |")
    print(f"| peak resident memory, all processes | {sampler.peak_total / mib:.0f} MiB |")
    for label, peak in sorted(sampler.peak_by_label.items()):
        print(f"| peak resident memory, {label} | {peak / mib:.0f} MiB |")
    return 0 if len(tap.messages) == expected else 1


def _safe_scrape(port: int) -> dict:
    try:
        return scrape(port)
    except OSError:
        return {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vitals-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000, help="synthetic readings (default: %(default)s)")
    parser.add_argument("--patients", type=int, default=30, help="roster size (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for all alerts (default: %(default)s)")
    args = parser.parse_args(argv)
    return run_bench(args.rows, args.patients, args.timeout)


if __name__ == "__main__":
    raise SystemExit(main())
