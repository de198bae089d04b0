"""The stack's Prometheus: scrapes the four stages and the two Spark drivers, evaluates the alert rules.

The configuration is generated from the STACK_* settings into `<STACK_HOME>/prometheus/prometheus.yml`
on every start. Prometheus reads YAML, and JSON is valid YAML, so the file is written as JSON.
"""

from __future__ import annotations

import json
import shutil
from typing import Any

from vitals_stack import procs
from vitals_stack.errors import StackError
from vitals_stack.settings import LOOPBACK, REPO_ROOT, StackSettings

RULES_FILE = REPO_ROOT / "k8s" / "prometheus" / "vitals-rules.yaml"
SPARK_DRIVER_PATH = "/metrics/prometheus"
SPARK_EXECUTORS_PATH = "/metrics/executors/prometheus"
# Spark's UI answers slower than the stages' own servers while a driver starts on a busy machine,
# and a scrape that times out makes Jetty log a stack trace per request.
SPARK_SCRAPE_INTERVAL = "5s"


def stage_job(stage: str) -> str:
    """Return the scrape job name of a stage's own metrics, as the dashboards and rules select it."""
    return f"vitals-{stage}"


def spark_job(stage: str) -> str:
    """Return the scrape job name of a Spark stage's driver metrics."""
    return f"vitals-{stage}-spark"


def spark_executors_job(stage: str) -> str:
    return f"vitals-{stage}-spark-executors"


def scrape_config(settings: StackSettings) -> dict[str, Any]:
    """Return the Prometheus configuration: one job per stage and two per Spark driver, static targets."""
    jobs = []
    for stage, port in settings.stage_metrics_ports().items():
        jobs.append(_job(stage_job(stage), port, "/metrics", stage))
    for stage, port in settings.spark_ui_ports().items():
        for job in (_job(spark_job(stage), port, SPARK_DRIVER_PATH, stage),
                    _job(spark_executors_job(stage), port, SPARK_EXECUTORS_PATH, stage)):
            job["scrape_interval"] = job["scrape_timeout"] = SPARK_SCRAPE_INTERVAL
            jobs.append(job)
    return {
        "global": {
            "scrape_interval": settings.prometheus_scrape_interval,
            "scrape_timeout": settings.prometheus_scrape_interval,
            "evaluation_interval": settings.prometheus_scrape_interval,
        },
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": jobs,
    }


def _job(name: str, port: int, path: str, stage: str) -> dict[str, Any]:
    return {
        "job_name": name,
        "metrics_path": path,
        "static_configs": [{"targets": [f"{LOOPBACK}:{port}"], "labels": {"stage": stage}}],
    }


def prometheus_ports(settings: StackSettings) -> dict[str, int]:
    return {"STACK_PROMETHEUS_PORT": settings.prometheus_port}


def require_prometheus(settings: StackSettings) -> str:
    """Return the path of the Prometheus executable, or raise StackError saying how to install it."""
    path = shutil.which(settings.prometheus)
    if path is None:
        raise StackError(
            f"prometheus: the executable {settings.prometheus!r} was not found (STACK_PROMETHEUS). Install "
            "Debian's package with 'apt-get install prometheus' (scripts/install-system-packages.sh does it), "
            "or set STACK_PROMETHEUS to a Prometheus 2.x executable."
        )
    return path


def start_prometheus(settings: StackSettings) -> None:
    executable = require_prometheus(settings)
    home = settings.component_dir("prometheus")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(json.dumps(scrape_config(settings), indent=2) + "\n")
    command = [
        executable,
        f"--config.file={config}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address={LOOPBACK}:{settings.prometheus_port}",
        "--storage.tsdb.retention.time=2d",
        "--log.level=warn",
    ]
    files = procs.ProcessFiles("prometheus", home)
    process = procs.start(files, command)
    procs.wait_ready("prometheus", files, process, lambda: prometheus_ready(settings), settings.ready_timeout)


def prometheus_ready(settings: StackSettings) -> bool:
    from vitals_stack.components import http_get

    status, _ = http_get(f"{settings.prometheus_url}/-/ready")
    return status == 200
