"""The stage images, built with buildah and run with podman against the local stack.

Every container gets exactly the environment its rendered chart gives: the chart is rendered with
`--set` overrides for the local stack's addresses and for names unique to this run, and the
variables are read from the rendered ConfigMap and Secret. The Spark stages run in their images
the way a Spark-on-Kubernetes driver pod does (`driver --properties-file ...` through the image's
entrypoint), with the properties taken from the rendered SparkApplication and a local master in
place of the Kubernetes one. Containers use the host network, a read-only root filesystem, user
10001 and no capabilities, like the pods.

The first run builds the images (scripts/build-images.sh; see the README for times); later runs
reuse the image store under VITALS_IMAGES_ROOT.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from charts_support import REPO, STAGES, one_of_kind, render, resolved_env
from e2e_support import E2ERun, expected_alerts, read_rules, table_rows
from vitals_common.events import stable_id

pytestmark = pytest.mark.images

if shutil.which("podman") is None or shutil.which("buildah") is None:
    pytest.skip("podman and buildah not found; run scripts/install-k8s-tools.sh --images", allow_module_level=True)

BUILD_SCRIPT = REPO / "scripts" / "build-images.sh"
IMAGE_TAG = "0.1.0"
BUILD_TIMEOUT_S = 40 * 60
READY_TIMEOUT_S = 240
ALERT_TIMEOUT_S = 420
CAPSTONE_VITALS = {"heartBeat": "heart_rate", "bp": "bp_systolic"}


def container_env() -> dict[str, str]:
    """Return the variables that point podman at the project's image store."""
    output = subprocess.run([str(BUILD_SCRIPT), "--print-env"], capture_output=True, text=True, check=True).stdout
    env = {}
    for assignment in output.removeprefix("export ").split():
        name, value = assignment.split("=", 1)
        env[name] = value.strip("'")
    return env


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **container_env()}
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def image_name(stage: str) -> str:
    return f"localhost/vitals-{stage}:{IMAGE_TAG}"


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """Build the four images (cached layers make this quick after the first run)."""
    started = time.monotonic()
    # The wheelhouse is built with the pip of this interpreter (the project virtualenv under make).
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        [str(BUILD_SCRIPT), "all"], capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, env=env
    )
    assert result.returncode == 0, result.stderr[-5000:]
    print(f"image build took {time.monotonic() - started:.0f} s")
    return {stage: image_name(stage) for stage, _ in STAGES.values()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


class Container:
    """A detached container of one stage, removed by stop()."""

    def __init__(self, name: str, image: str, env: dict[str, str], work: Path):
        self.name = name
        self.image = image
        self.env = env
        self.work = work

    def start(self, args: tuple[str, ...] = (), mounts: tuple[tuple[Path, str], ...] = ()) -> "Container":
        env_file = self.work / f"{self.name}.env"
        env_file.write_text("".join(f"{key}={value}\n" for key, value in self.env.items()))
        command = [
            "run", "--detach", "--name", self.name, "--network", "host",
            "--read-only", "--tmpfs", "/tmp:rw,size=1g,mode=1777",
            "--user", "10001:10001", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--env-file", str(env_file),
        ]
        for host_path, container_path in mounts:
            command += ["--volume", f"{host_path}:{container_path}"]
        podman(*command, self.image, *args)
        return self

    def running(self) -> bool:
        result = podman("inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return result.stdout.strip() == "true"

    def logs(self, lines: int = 60) -> str:
        result = podman("logs", "--tail", str(lines), self.name, check=False)
        return result.stdout + result.stderr

    def stop(self) -> None:
        podman("stop", "--time", "30", self.name, check=False, timeout=90)
        podman("rm", "--force", self.name, check=False)


def wait_for(check, description: str, containers: list[Container], timeout_s: float = READY_TIMEOUT_S, poll_s: float = 2.0):
    """Poll check() until it returns a truthy value; fail early when a container exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        for container in containers:
            if not container.running():
                raise AssertionError(f"{container.name} exited while waiting for {description}:\n{container.logs()}")
        time.sleep(poll_s)
    logs = "\n".join(f"--- {c.name}\n{c.logs(20)}" for c in containers)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {description}\n{logs}")


def chart_env(chart: str, overrides: tuple[str, ...]) -> tuple[dict[str, str], tuple[dict, ...]]:
    """Return the variables the rendered chart gives the stage's container, and the documents."""
    docs = render(chart, (), overrides)
    if chart in ("vitals-ingest", "vitals-alerter"):
        container = one_of_kind(docs, "SparkApplication")["spec"]["driver"]
    else:
        container = one_of_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    env = resolved_env(docs, container)
    missing = [name for name, source in env.items() if "value" not in source]
    assert missing == [], f"{chart}: variables from Secrets outside the release cannot be run locally"
    return {name: source["value"] for name, source in env.items()}, docs


def driver_properties(application: dict, ui_port: int) -> str:
    """Return the spark.properties a driver pod of this SparkApplication would get, for local mode.

    The spark-operator passes sparkConf and hadoopConf (as spark.hadoop.*) to spark-submit, and the
    driver and executor sections become spark.driver.* and spark.executor.* settings. Only the
    master and the driver's address change: local[2] on loopback instead of the cluster.
    """
    spec = application["spec"]
    properties = dict(spec.get("sparkConf", {}))
    for key, value in spec.get("hadoopConf", {}).items():
        properties[f"spark.hadoop.{key}"] = value
    properties.update({
        "spark.app.name": application["metadata"]["name"],
        "spark.master": "local[2]",
        "spark.submit.deployMode": "client",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.cores": str(spec["driver"]["cores"]),
        "spark.driver.memory": spec["driver"]["memory"],
        "spark.executor.cores": str(spec["executor"]["cores"]),
        "spark.executor.memory": spec["executor"]["memory"],
        "spark.executor.instances": str(spec["executor"]["instances"]),
        "spark.ui.port": str(ui_port),
    })
    return "".join(f"{key}={value}\n" for key, value in properties.items())


def driver_args(application: dict) -> tuple[str, ...]:
    """Return the container arguments of a Spark-on-Kubernetes driver pod for this application."""
    spec = application["spec"]
    return (
        "driver", "--properties-file", "/opt/spark/conf/spark.properties",
        "--class", "org.apache.spark.deploy.PythonRunner",
        spec["mainApplicationFile"], *spec.get("arguments", []),
    )


# --------------------------------------------------------------------------- images alone


@pytest.mark.parametrize("stage", [stage for stage, _ in STAGES.values()])
def test_image_runs_as_non_root(images, stage):
    image = images[stage]
    if stage in ("ingest", "alerter"):
        output = podman("run", "--rm", image, "id", "-u").stdout
    else:
        output = podman("run", "--rm", "--entrypoint", "id", image, "-u").stdout
    assert output.strip() == "10001"


@pytest.mark.parametrize("chart", list(STAGES))
def test_image_help_lists_chart_variables(images, chart):
    stage = STAGES[chart][0]
    image = images[stage]
    if stage in ("ingest", "alerter"):
        output = podman("run", "--rm", image, "python", "-m", f"vitals_{stage}", "--help").stdout
    else:
        output = podman("run", "--rm", image, "--help").stdout
    env, _ = chart_env(chart, ())
    stage_vars = [name for name in env if name.startswith(stage.upper() + "_") or name.startswith(("KAFKA_", "SPARK_"))]
    assert stage_vars
    for name in stage_vars:
        assert f"  {name}" in output, f"{name} is not a variable of the {stage} image"


@pytest.mark.parametrize("stage", ["ingest", "alerter"])
def test_spark_image_carries_kafka_connector(images, stage):
    output = podman("run", "--rm", images[stage], "sh", "-c", 'ls "$SPARK_HOME/jars"').stdout.split()
    assert any(name.startswith("spark-sql-kafka-0-10_2.13-") for name in output)
    assert any(name.startswith("kafka-clients-") for name in output)
    assert any(name.startswith("spark-kubernetes_2.13-") for name in output)


# --------------------------------------------------------------------------- pipeline of images


def seed_contacts_on_hdfs(stack, patients_csv: Path, table: str) -> None:
    """Load the contact table in a fresh Spark process whose warehouse is on HDFS.

    vitals-seed creates the Hive database under spark.sql.warehouse.dir, which defaults to a
    local folder, so a driver in a container (or a pod) would find the table's files missing.
    """
    code = "import sys; from vitals_stack.seed import main; raise SystemExit(main(sys.argv[1:]))"
    env = {**os.environ, "SPARK_EXTRA_CONF": json.dumps({"spark.sql.warehouse.dir": stack.warehouse_dir})}
    result = subprocess.run(
        [sys.executable, "-c", code, "contacts", "--csv", str(patients_csv), "--table", table],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def image_pipeline(images, shared_data, tmp_path_factory):
    from vitals_stack import lifecycle, seed
    from vitals_stack.settings import StackSettings

    stack = StackSettings()
    if not all(row.ready for row in lifecycle.status(stack)):
        pytest.skip("the local stack is not running; start it with `make stack-up`")
    work = tmp_path_factory.mktemp("images")
    run = E2ERun(stack, work)
    n = run.names
    producer_data = work / "producer-data"
    notifier_data = work / "notifier-data"
    for folder in (producer_data / "source", notifier_data):
        folder.mkdir(parents=True)
    source_db = producer_data / "source" / "vitals.db"
    assert seed.main(["thresholds", "--csv", str(shared_data / "threshold_ref.csv"), "--table", n["hbase_table"]]) == 0
    seed_contacts_on_hdfs(stack, shared_data / "patients_information.csv", n["contact_table"])
    assert seed.main(["vitals", "--csv", str(shared_data / "patients_vital_info.csv"), "--url", f"sqlite:///{source_db}"]) == 0
    # The containers run as user 10001, which must write the SQLite files and their journals.
    for path in [producer_data, *producer_data.rglob("*"), notifier_data]:
        path.chmod(0o777 if path.is_dir() else 0o666)
    tap = run.make_tap()

    kafka = f"kafka.bootstrapServers={stack.kafka_bootstrap}"
    spark = (f"spark.defaultFs={stack.hdfs_url}", f"spark.metastoreUri={stack.metastore_uri}")
    root = n["hdfs_root"]
    ports = {stage: free_port() for stage in ("producer", "notifier", "ingest", "alerter")}
    ui_ports = {"ingest": free_port(), "alerter": free_port()}
    overrides = {
        "producer": (
            kafka, f"metrics.port={ports['producer']}", f"env.PRODUCER_TOPIC={n['vitals_topic']}",
            f"env.PRODUCER_DEAD_LETTER_TOPIC={n['dead_letter_topic']}", "env.PRODUCER_PACING=fastest",
        ),
        "ingest": (
            kafka, *spark, f"metrics.port={ports['ingest']}", f"env.INGEST_TOPIC={n['vitals_topic']}",
            f"env.INGEST_DEAD_LETTER_TOPIC={n['dead_letter_topic']}", f"env.INGEST_ARCHIVE_PATH={root}/readings",
            f"env.INGEST_CHECKPOINT_PATH={root}/checkpoints/ingest", "env.INGEST_TRIGGER_INTERVAL=2 seconds",
            f"env.INGEST_HIVE_DATABASE={n['hive_db']}",
        ),
        "alerter": (
            kafka, *spark, f"metrics.port={ports['alerter']}", f"env.ALERTER_ARCHIVE_PATH={root}/readings",
            f"env.ALERTER_CHECKPOINT_PATH={root}/checkpoints/alerter", "env.ALERTER_TRIGGER_INTERVAL=2 seconds",
            f"env.ALERTER_CONTACT_TABLE={n['contact_table']}", f"env.ALERTER_HBASE_HOST={stack.hbase_thrift_host}",
            f"env.ALERTER_HBASE_PORT={stack.hbase_thrift_port}", f"env.ALERTER_HBASE_TABLE={n['hbase_table']}",
            f"env.ALERTER_ALERT_TOPIC={n['alert_topic']}", f"env.ALERTER_UNROUTED_TOPIC={n['unrouted_topic']}",
        ),
        "notifier": (
            kafka, f"metrics.port={ports['notifier']}", f"env.NOTIFIER_TOPIC={n['alert_topic']}",
            f"env.NOTIFIER_GROUP_ID=notifier-images-{run.run_id}", f"env.NOTIFIER_DEAD_LETTER_TOPIC={n['notifier_dlq']}",
            f"env.NOTIFIER_SNS_ENDPOINT_URL={stack.sns_endpoint}", f"env.NOTIFIER_SNS_TOPIC_NAME={n['sns_topic']}",
            f"env.NOTIFIER_AWS_REGION={stack.aws_region}",
        ),
    }
    containers: dict[str, Container] = {}
    try:
        for stage in ("ingest", "alerter"):
            env, docs = chart_env(f"vitals-{stage}", overrides[stage])
            application = one_of_kind(docs, "SparkApplication")
            conf_dir = work / f"{stage}-conf"
            conf_dir.mkdir()
            (conf_dir / "spark.properties").write_text(driver_properties(application, ui_ports[stage]))
            conf_dir.chmod(0o755)
            # Spark on Kubernetes sets this on the driver pod; here the driver binds to loopback.
            env["SPARK_DRIVER_BIND_ADDRESS"] = "127.0.0.1"
            name = f"vitals-{stage}-{run.run_id}"
            containers[stage] = Container(name, images[stage], env, work).start(
                driver_args(application), mounts=((conf_dir, "/opt/spark/conf:ro"),)
            )
        env, _ = chart_env("vitals-notifier", overrides["notifier"])
        containers["notifier"] = Container(f"vitals-notifier-{run.run_id}", images["notifier"], env, work).start(
            mounts=((notifier_data, "/var/lib/vitals-notifier"),)
        )
        env, _ = chart_env("vitals-producer", overrides["producer"])
        containers["producer"] = Container(f"vitals-producer-{run.run_id}", images["producer"], env, work).start(
            mounts=((producer_data, "/var/lib/vitals-producer"),)
        )
        yield {"run": run, "tap": tap, "containers": containers, "ports": ports, "ui_ports": ui_ports,
               "source_db": source_db}
    finally:
        for container in containers.values():
            container.stop()


@pytest.mark.stack
@pytest.mark.parametrize("stage", ["producer", "notifier", "ingest", "alerter"])
def test_stage_container_serves_health_and_metrics(image_pipeline, stage):
    port = image_pipeline["ports"][stage]
    containers = list(image_pipeline["containers"].values())
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(f"{base}/readyz")[0] == 200, f"{stage} /readyz", containers)
    status, body = http_get(f"{base}/healthz")
    assert status == 200
    assert json.loads(body) == {"alive": True}
    # Some stage metrics appear only after the first micro-batch or message, so wait for them.

    def stage_metrics() -> str | None:
        status, text = http_get(f"{base}/metrics")
        return text if status == 200 and f"\nvitals_{stage}_" in text else None

    metrics = wait_for(stage_metrics, f"vitals_{stage}_* samples on {base}/metrics", containers)
    assert "vitals_readiness_check_passed" in metrics


@pytest.mark.stack
@pytest.mark.parametrize("stage", ["ingest", "alerter"])
def test_spark_container_serves_prometheus_servlet(image_pipeline, stage):
    port = image_pipeline["ui_ports"][stage]
    containers = list(image_pipeline["containers"].values())
    url = f"http://127.0.0.1:{port}/metrics/prometheus"

    def servlet_body() -> str | None:
        status, body = http_get(url)
        return body if status == 200 else None

    body = wait_for(servlet_body, f"{stage} {url}", containers)
    assert "metrics_" in body
    assert "_driver_" in body


def ages_of(patients_csv: Path) -> dict[str, float]:
    with open(patients_csv, newline="") as handle:
        return {row["patientid"]: float(row["age"]) for row in csv.DictReader(handle)}


@pytest.mark.stack
def test_out_of_range_reading_reaches_sns(image_pipeline, shared_data):
    tap = image_pipeline["tap"]
    rows = table_rows(image_pipeline["source_db"], "SELECT row_seq, customerId, heartBeat, bp FROM patients_vital_info")
    readings = [
        (stable_id("patients_vital_info", seq), str(patient), CAPSTONE_VITALS[column], value)
        for seq, patient, heart_rate, bp in rows
        for column, value in (("heartBeat", heart_rate), ("bp", bp))
    ]
    expected = expected_alerts(read_rules(shared_data / "threshold_ref.csv"), readings, ages_of(shared_data / "patients_information.csv"))
    assert expected
    containers = list(image_pipeline["containers"].values())

    def all_arrived():
        tap.drain()
        received = {m["attributes"].get("alert_id") for m in tap.messages}
        return expected <= received

    wait_for(all_arrived, f"{len(expected)} alerts through SNS", containers, timeout_s=ALERT_TIMEOUT_S, poll_s=3.0)
    received = [m["attributes"].get("alert_id") for m in tap.messages]
    assert set(received) == expected
    assert len(received) == len(set(received))


def skaffold_verify_container() -> dict:
    documents = list(yaml.safe_load_all((REPO / "skaffold.yaml").read_text()))
    verify = next(doc for doc in documents if doc["metadata"]["name"] == "verify")
    return verify["verify"][0]["container"]


def run_verify(image_pipeline, images, **extra: str) -> subprocess.CompletedProcess[str]:
    spec = skaffold_verify_container()
    names = image_pipeline["run"].names
    env = {entry["name"]: entry["value"] for entry in spec.get("env", [])}
    # The cluster addresses and topic names of skaffold.yaml, mapped to the local stack and this run.
    env.update({
        "KAFKA_BOOTSTRAP_SERVERS": image_pipeline["run"].stack.kafka_bootstrap,
        "VERIFY_VITALS_TOPIC": names["vitals_topic"],
        "VERIFY_ALERT_TOPIC": names["alert_topic"],
        **extra,
    })
    args = ["run", "--rm", "--network", "host", "--read-only", "--user", "10001:10001", "--cap-drop", "ALL"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    assert spec["image"] == images["producer"].rsplit(":", 1)[0]
    args += ["--entrypoint", spec["command"][0], images["producer"], *spec["command"][1:], *spec.get("args", [])]
    return podman(*args, check=False, timeout=400)


@pytest.mark.stack
def test_skaffold_verify_step_sees_alert(image_pipeline, images, shared_data):
    spec_env = {entry["name"]: entry["value"] for entry in skaffold_verify_container()["env"]}
    patient, value = spec_env["VERIFY_PATIENT_ID"], float(spec_env["VERIFY_VALUE"])
    rules = read_rules(shared_data / "threshold_ref.csv")
    fired = expected_alerts(rules, [("probe", patient, spec_env["VERIFY_VITAL"], value)], ages_of(shared_data / "patients_information.csv"))
    assert fired, "the verify step's reading must be out of range for its patient"
    result = run_verify(image_pipeline, images)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "arrived for event" in result.stdout


@pytest.mark.stack
def test_skaffold_verify_step_fails_without_alert(image_pipeline, images):
    # No contact row exists for this patient, so the alerter routes the reading to the unrouted topic.
    result = run_verify(image_pipeline, images, VERIFY_PATIENT_ID=f"unknown-{uuid.uuid4().hex[:6]}", VERIFY_TIMEOUT_S="20")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no alert for event" in result.stderr
