"""Offline checks of the Helm charts, the k8s/ manifests and skaffold.yaml.

Every chart is rendered with its defaults and with each `ci/*-values.yaml` file. Core resources
are validated strictly against the Kubernetes 1.37 schemas bundled in kubernetes-validate, the
SparkApplications against the spark-operator CRD, and every workload against the security,
resource, probe and configuration rules below.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from charts_support import (
    CHARTS,
    DEPLOYMENT_CHARTS,
    K8S,
    KUBERNETES_VERSION,
    LIBRARY_ENV,
    RECOMMENDED_LABELS,
    REPO,
    SCHEMAS,
    SECRET_ENV,
    SPARK_CHARTS,
    STAGES,
    build_dependencies,
    by_name,
    helm,
    helm_binary,
    load_yaml_documents,
    of_kind,
    one_of_kind,
    render,
    render_error,
    resolved_env,
    settings_class,
    settings_env_names,
    spark_application_schema,
    values_files,
    workloads,
)

if helm_binary() is None:
    pytest.skip("helm not found; run scripts/install-k8s-tools.sh", allow_module_level=True)

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate==1.37.0")

CRD_KINDS = {"SparkApplication", "ServiceMonitor", "PodMonitor"}
CHART_NAMES = tuple(STAGES)
RENDER_CASES = [
    pytest.param(chart, tuple(files), id=f"{chart}-{name}")
    for chart in CHART_NAMES
    for name, files in values_files(chart).items()
]


def needs_schemas() -> None:
    if not (SCHEMAS / "sparkoperator.k8s.io_sparkapplications.yaml").exists():
        pytest.skip(f"shared schemas not found at {SCHEMAS}; set VITALS_SHARED_SCHEMAS")


def strict_errors(doc: dict) -> str | None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return str(exc)
    return None


def load_values(chart: str, files: tuple[str, ...]) -> dict:
    values = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())
    for path in files:
        override = yaml.safe_load(Path(path).read_text())
        values = deep_merge(values, override)
    return values


def deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------- helm lint and schemas


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_helm_lint_passes(chart, files):
    build_dependencies(chart)
    args = ["lint", str(CHARTS / chart), "--strict"]
    for path in files:
        args += ["--values", path]
    result = helm(*args, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_core_resources_valid_for_kubernetes(chart, files):
    docs = render(chart, files)
    checked = 0
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        error = strict_errors(doc)
        assert error is None, f"{doc['kind']}/{doc['metadata']['name']}: {error}"
        checked += 1
    assert checked >= 1


@pytest.mark.parametrize("chart, files", [case for case in RENDER_CASES if case.values[0] in SPARK_CHARTS])
def test_sparkapplication_matches_crd(chart, files):
    needs_schemas()
    application = one_of_kind(render(chart, files), "SparkApplication")
    validator = jsonschema.Draft7Validator(spark_application_schema())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(application)]
    assert errors == []


def test_crd_schema_rejects_broken_application():
    needs_schemas()
    application = one_of_kind(render("vitals-ingest"), "SparkApplication")
    broken = json.loads(json.dumps(application))
    broken["spec"]["restartPolicy"]["type"] = "Sometimes"
    del broken["spec"]["sparkVersion"]
    messages = [e.message for e in jsonschema.Draft7Validator(spark_application_schema()).iter_errors(broken)]
    assert any("Sometimes" in m for m in messages)
    assert any("sparkVersion" in m for m in messages)


@pytest.mark.parametrize("chart, files", [case for case in RENDER_CASES if case.values[0] in SPARK_CHARTS])
def test_driver_pod_template_valid(chart, files):
    application = one_of_kind(render(chart, files), "SparkApplication")
    pod_template = {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "driver"},
        "template": application["spec"]["driver"]["template"],
    }
    assert strict_errors(pod_template) is None


def test_strict_validation_rejects_unknown_field():
    deployment = json.loads(json.dumps(one_of_kind(render("vitals-producer"), "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    assert strict_errors(deployment) is not None


WRONG_VALUES = [
    ("vitals-producer", "env.PRODUCER_PACING=sometimes", "PRODUCER_PACING"),
    ("vitals-producer", "env.PRODUCER_TOPICS=vitals", "PRODUCER_TOPICS"),
    ("vitals-producer", "replicaCount=2", "replicaCount"),
    ("vitals-notifier", "metrics.port=80", "port"),
    ("vitals-notifier", "env.NOTIFIER_MAX_RETRIES=99", "NOTIFIER_MAX_RETRIES"),
    ("vitals-notifier", "image.pullPolicy=Sometimes", "pullPolicy"),
    ("vitals-ingest", "env.INGEST_CHECKPOINT_PATH=file:///tmp/checkpoints", "INGEST_CHECKPOINT_PATH"),
    ("vitals-ingest", "spark.defaultFs=s3a://bucket", "defaultFs"),
    ("vitals-alerter", "env.ALERTER_HBASE_PORT=70000", "ALERTER_HBASE_PORT"),
    ("vitals-alerter", "driver.memory=lots", "memory"),
    ("vitals-alerter", "kafka.securityProtocol=TLS", "securityProtocol"),
]


@pytest.mark.parametrize("chart, override, field", WRONG_VALUES, ids=[f"{c}-{o}" for c, o, _ in WRONG_VALUES])
def test_values_schema_rejects_wrong_value(chart, override, field):
    error = render_error(chart, overrides=(override,))
    assert "values don't meet the specifications of the schema" in error
    assert field in error


def test_values_schemas_are_draft7():
    for chart in CHART_NAMES:
        schema = json.loads((CHARTS / chart / "values.schema.json").read_text())
        jsonschema.Draft7Validator.check_schema(schema)
        assert schema["additionalProperties"] is False, chart


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_values_schema_lists_stage_variables(chart):
    schema = json.loads((CHARTS / chart / "values.schema.json").read_text())
    prefix = STAGES[chart][0].upper() + "_"
    stage_names = {name for name in settings_env_names(settings_class(chart)) if name.startswith(prefix)}
    chart_managed = {prefix + "METRICS_HOST", prefix + "METRICS_PORT"}
    listed = set(schema["properties"]["env"]["properties"]) | set(schema["properties"]["secretEnv"]["properties"])
    assert sorted(stage_names - chart_managed - listed) == [], "variables the schema of env rejects"
    assert sorted(listed - stage_names - LIBRARY_ENV.get(STAGES[chart][0], set())) == []


# --------------------------------------------------------------------------- notifier replicas


def test_notifier_replicas_capped_by_partitions():
    error = render_error(
        "vitals-notifier",
        overrides=("alertTopicPartitions=3", "autoscaling.enabled=true", "autoscaling.maxReplicas=4"),
    )
    assert "autoscaling.maxReplicas 4 exceeds alertTopicPartitions 3" in error


def test_notifier_replica_count_capped_by_partitions():
    error = render_error("vitals-notifier", overrides=("alertTopicPartitions=2", "replicaCount=3"))
    assert "replicaCount 3 exceeds alertTopicPartitions 2" in error


def test_notifier_hpa_at_partition_count():
    docs = render(
        "vitals-notifier",
        overrides=(
            "alertTopicPartitions=4",
            "autoscaling.enabled=true",
            "autoscaling.maxReplicas=4",
            "existingSecretEnv[0].name=NOTIFIER_DEDUP_URL",
            "existingSecretEnv[0].secretName=dedup",
            "existingSecretEnv[0].key=url",
        ),
    )
    hpa = one_of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] == 4
    assert "replicas" not in one_of_kind(docs, "Deployment")["spec"]


def test_notifier_replicas_need_shared_dedup_store():
    error = render_error("vitals-notifier", overrides=("alertTopicPartitions=2", "replicaCount=2"))
    assert "shared dedup store" in error


def test_production_notifier_hpa_within_partitions():
    files = tuple(values_files("vitals-notifier")["production-values"])
    values = load_values("vitals-notifier", files)
    hpa = one_of_kind(render("vitals-notifier", files), "HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] <= values["alertTopicPartitions"]


# --------------------------------------------------------------------------- policies


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_workloads_run_restricted(chart, files):
    found = workloads(render(chart, files))
    assert found
    for workload in found:
        pod = workload.pod_security
        container = workload.container.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, workload.label
        assert container.get("runAsNonRoot") is True, workload.label
        assert pod.get("runAsUser", 0) > 0, workload.label
        assert container.get("readOnlyRootFilesystem") is True, workload.label
        assert container.get("allowPrivilegeEscalation") is False, workload.label
        assert container.get("capabilities", {}).get("drop") == ["ALL"], workload.label
        assert "add" not in container.get("capabilities", {}), workload.label
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", workload.label
        assert container.get("seccompProfile", {}).get("type") == "RuntimeDefault", workload.label


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_workloads_have_requests_and_limits(chart, files):
    for workload in workloads(render(chart, files)):
        if workload.kind == "Deployment":
            resources = workload.container.get("resources", {})
            for bound in ("requests", "limits"):
                assert set(resources.get(bound, {})) >= {"cpu", "memory"}, f"{workload.label} {bound}"
        else:
            # Spark sets the pod's memory request and limit both to memory + memoryOverhead.
            section = workload.container
            assert section.get("coreRequest"), workload.label
            assert section.get("coreLimit"), workload.label
            assert section.get("memory"), workload.label


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_workloads_have_probes(chart, files):
    for workload in workloads(render(chart, files)):
        if workload.label.endswith("/executor"):
            continue  # executors serve no health endpoint; the driver's probes cover the job
        probes = workload.probes_container
        assert probes, workload.label
        assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz", workload.label
        assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz", workload.label


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_no_secret_in_plain_config(chart, files):
    docs = render(chart, files)
    for config_map in of_kind(docs, "ConfigMap"):
        leaked = SECRET_ENV & set(config_map.get("data", {}))
        assert not leaked, f"ConfigMap {config_map['metadata']['name']} holds {leaked}"
        for key in config_map.get("data", {}):
            assert not re.search("PASSWORD|SECRET|TOKEN", key), key
    for workload in workloads(docs):
        for entry in workload.container.get("env", []):
            if entry["name"] in SECRET_ENV:
                assert "secretKeyRef" in entry.get("valueFrom", {}), f"{workload.label} {entry['name']}"


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_values_files_hold_no_credentials(chart):
    paths = [CHARTS / chart / "values.yaml", *sorted((CHARTS / chart / "ci").glob("*.yaml"))]
    for path in paths:
        values = yaml.safe_load(path.read_text())
        assert values["kafka"]["sasl"].get("password", "") == "", path
        for name, value in (values.get("secretEnv") or {}).items():
            assert not name.startswith("AWS_") or not value, f"{path}: {name}"
            assert not re.search(r"://[^/@:]+:[^/@]+@", str(value)), f"{path}: {name} has a password"


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_production_values_use_existing_secrets(chart):
    files = tuple(values_files(chart)["production-values"])
    docs = render(chart, files)
    assert of_kind(docs, "Secret") == []
    for workload in workloads(docs):
        if workload.label.endswith("/executor"):
            continue
        refs = {e["name"] for e in workload.container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
        assert "KAFKA_SASL_PASSWORD" in refs, workload.label


def test_notifier_irsa_annotation_on_service_account():
    files = tuple(values_files("vitals-notifier")["production-values"])
    account = one_of_kind(render("vitals-notifier", files), "ServiceAccount")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")


# --------------------------------------------------------------------------- configuration


def stage_container(chart: str, docs: tuple[dict, ...]) -> dict:
    if chart in SPARK_CHARTS:
        return one_of_kind(docs, "SparkApplication")["spec"]["driver"]
    return one_of_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_env_names_read_by_stage(chart, files):
    docs = render(chart, files)
    stage = STAGES[chart][0]
    known = settings_env_names(settings_class(chart)) | LIBRARY_ENV.get(stage, set())
    env = resolved_env(docs, stage_container(chart, docs))
    unknown = sorted(set(env) - known)
    assert unknown == [], f"{chart} sets variables {stage} does not read"
    assert env, chart


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_rendered_env_builds_settings(chart, files, monkeypatch):
    docs = render(chart, files)
    cls = settings_class(chart)
    for name in settings_env_names(cls):
        monkeypatch.delenv(name, raising=False)
    env = resolved_env(docs, stage_container(chart, docs))
    for name, source in env.items():
        # Values held in Secrets the release does not own get a stand-in of the right form.
        value = source.get("value", "sqlite:////tmp/stand-in.db" if name.endswith("_URL") else "stand-in")
        monkeypatch.setenv(name, value)
    settings = cls()
    values = load_values(chart, files)
    assert settings.metrics_host == "0.0.0.0"
    assert settings.metrics_port == values["metrics"]["port"]
    assert settings.kafka.bootstrap_servers == values["kafka"]["bootstrapServers"]
    assert settings.kafka.security_protocol == values["kafka"]["securityProtocol"]
    if chart in SPARK_CHARTS:
        assert settings.spark.default_fs == values["spark"]["defaultFs"]
        assert settings.spark.metastore_uri == values["spark"]["metastoreUri"]
        assert settings.spark.extra_conf.get("spark.ui.enabled") == "true"
        assert settings.spark.extra_conf.get("spark.sql.warehouse.dir", "").startswith("hdfs://")


def probe_port(container: dict, probe: dict) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    assert port in named, f"probe port {port} is not a port of the container"
    return named[port]


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_probe_ports_match_metrics_port(chart, files):
    docs = render(chart, files)
    container = stage_container(chart, docs)
    env = resolved_env(docs, container)
    prefix = STAGES[chart][0].upper()
    metrics_port = int(env[f"{prefix}_METRICS_PORT"]["value"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == metrics_port
    probes = container if chart in DEPLOYMENT_CHARTS else container["template"]["spec"]["containers"][0]
    assert probe_port(container, probes["livenessProbe"]) == metrics_port
    assert probe_port(container, probes["readinessProbe"]) == metrics_port


@pytest.mark.parametrize("chart, files", [case for case in RENDER_CASES if case.values[0] in DEPLOYMENT_CHARTS])
def test_service_and_monitor_reach_metrics(chart, files):
    docs = render(chart, files)
    deployment = one_of_kind(docs, "Deployment")
    service = one_of_kind(docs, "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    for monitor in of_kind(docs, "ServiceMonitor"):
        assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == [service["spec"]["ports"][0]["name"]]
    for policy in of_kind(docs, "NetworkPolicy"):
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()


@pytest.mark.parametrize("chart, files", [case for case in RENDER_CASES if case.values[0] in SPARK_CHARTS])
def test_podmonitor_selects_driver_ports(chart, files):
    docs = render(chart, files)
    application = one_of_kind(docs, "SparkApplication")
    driver = application["spec"]["driver"]
    for monitor in of_kind(docs, "PodMonitor"):
        selector = dict(monitor["spec"]["selector"]["matchLabels"])
        assert selector.pop("spark-role") == "driver"
        assert selector.items() <= driver["labels"].items()
        ports = {e["port"] for e in monitor["spec"]["podMetricsEndpoints"]}
        # spark-ui is the name Spark gives the driver's UI port; metrics is declared by the chart.
        assert ports == {"metrics", "spark-ui"}
        assert "metrics" in {p["name"] for p in driver["ports"]}


@pytest.mark.parametrize("chart, files", [case for case in RENDER_CASES if case.values[0] in SPARK_CHARTS])
def test_sparkapplication_streaming_settings(chart, files):
    docs = render(chart, files)
    spec = one_of_kind(docs, "SparkApplication")["spec"]
    assert spec["restartPolicy"]["type"] == "Always"
    assert spec["restartPolicy"]["onFailureRetryInterval"] >= 1
    assert spec["restartPolicy"]["onSubmissionFailureRetryInterval"] >= 1
    assert spec["type"] == "Python"
    assert spec["mainApplicationFile"].startswith("local:///")
    assert "packages" not in spec.get("deps", {}), "jars must be in the image, not downloaded at submit time"
    env = resolved_env(docs, spec["driver"])
    prefix = STAGES[chart][0].upper()
    checkpoint = env[f"{prefix}_CHECKPOINT_PATH"]["value"]
    default_fs = env["SPARK_DEFAULT_FS"]["value"]
    assert checkpoint.startswith("hdfs://") or (checkpoint.startswith("/") and default_fs.startswith("hdfs://"))
    sink = "spark.metrics.conf.*.sink.prometheusServlet.class"
    assert spec["sparkConf"][sink] == "org.apache.spark.metrics.sink.PrometheusServlet"


@pytest.mark.parametrize("chart", DEPLOYMENT_CHARTS)
def test_dev_values_run_reloader(chart):
    docs = render(chart, (str(CHARTS / chart / "dev-values.yaml"),))
    container = one_of_kind(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    stage = STAGES[chart][0]
    assert container["command"] == ["python", "/opt/vitals/bin/dev-reload.py", f"vitals_{stage}"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is False
    for error in (strict_errors(doc) for doc in docs if doc["kind"] not in CRD_KINDS):
        assert error is None


# --------------------------------------------------------------------------- labels and rollouts


@pytest.mark.parametrize("chart, files", RENDER_CASES)
def test_resources_carry_recommended_labels(chart, files):
    for doc in render(chart, files):
        labels = doc["metadata"].get("labels", {})
        missing = [label for label in RECOMMENDED_LABELS if label not in labels]
        assert missing == [], f"{doc['kind']}/{doc['metadata']['name']}"
        assert labels["app.kubernetes.io/name"] == chart


def pod_checksum(chart: str, overrides: tuple[str, ...] = ()) -> str:
    docs = render(chart, overrides=overrides)
    if chart in SPARK_CHARTS:
        return one_of_kind(docs, "SparkApplication")["spec"]["driver"]["annotations"]["checksum/config"]
    return one_of_kind(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


CHECKSUM_CHANGES = {
    "vitals-producer": "env.PRODUCER_RATE_PER_S=5",
    "vitals-notifier": "secretEnv.NOTIFIER_DEDUP_URL=sqlite:////var/lib/vitals-notifier/other.db",
    "vitals-ingest": "env.INGEST_TRIGGER_INTERVAL=30 seconds",
    "vitals-alerter": "spark.shufflePartitions=4",
}


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_config_change_rolls_pods(chart):
    assert pod_checksum(chart) == pod_checksum(chart)
    assert pod_checksum(chart) != pod_checksum(chart, (CHECKSUM_CHANGES[chart],))


# --------------------------------------------------------------------------- chart files


def leaf_paths(values: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("env", "secretEnv"):
            paths += leaf_paths(value, path + ".")
        else:
            paths.append(path)
    return paths


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_readme_documents_every_value(chart):
    readme = (CHARTS / chart / "README.md").read_text()
    table_keys = set(re.findall(r"^\| `([^`]+)` \|", readme, flags=re.MULTILINE))
    values = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())
    missing = [path for path in leaf_paths(values) if path not in table_keys]
    assert missing == []
    env_names = set(re.findall(r"`((?:PRODUCER|NOTIFIER|INGEST|ALERTER)_[A-Z_]+)`", readme))
    assert set(values["env"]) <= env_names


def render_notes(chart: str, tmp_path: Path) -> str:
    """Render NOTES.txt offline: `helm install --dry-run` needs a cluster, `helm template` skips it.

    A copy of the chart wraps the notes in a named template and emits them as a ConfigMap value.
    """
    copy = tmp_path / chart
    shutil.copytree(CHARTS / chart, copy)
    notes = (copy / "templates" / "NOTES.txt").read_text()
    (copy / "templates" / "_notes_check.tpl").write_text('{{- define "notes-check" -}}\n' + notes + "{{- end -}}\n")
    (copy / "templates" / "notes-check.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes-check\n"
        'data:\n  notes: {{ include "notes-check" . | toJson }}\n'
    )
    output = helm("template", "vitals", str(copy), "--namespace", "vitals", "--show-only", "templates/notes-check.yaml").stdout
    return yaml.safe_load(output)["data"]["notes"]


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_notes_name_release_resources(chart, tmp_path):
    build_dependencies(chart)
    notes = render_notes(chart, tmp_path)
    assert "vitals-" + chart.removeprefix("vitals-") in notes
    assert "kubectl -n vitals" in notes
    values = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())
    assert str(values["metrics"]["port"]) in notes


# --------------------------------------------------------------------------- k8s/ and skaffold.yaml


def k8s_manifests() -> list[Path]:
    return sorted(path for path in K8S.rglob("*.yaml") if path.name != "kustomization.yaml")


def test_k8s_manifests_valid_for_kubernetes():
    owned = [path for path in k8s_manifests() if path.parts[len(K8S.parts)] not in ("dashboards", "prometheus")]
    assert owned
    for path in owned:
        for doc in load_yaml_documents(path):
            assert strict_errors(doc) is None, f"{path.relative_to(REPO)} {doc['kind']}/{doc['metadata']['name']}"


def test_k8s_dev_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "dev" / "kustomization.yaml").read_text())
    listed = {(K8S / "dev" / entry).resolve() for entry in kustomization["resources"]}
    expected = {path.resolve() for path in (K8S / "dev").glob("*.yaml") if path.name != "kustomization.yaml"}
    expected |= {(K8S / "namespace.yaml").resolve(), (K8S / "spark-rbac.yaml").resolve()}
    assert listed == expected


def test_spark_service_account_matches_charts():
    docs = load_yaml_documents(K8S / "spark-rbac.yaml")
    account = next(doc for doc in docs if doc["kind"] == "ServiceAccount")
    binding = next(doc for doc in docs if doc["kind"] == "RoleBinding")
    assert binding["subjects"][0]["name"] == account["metadata"]["name"]
    for chart in SPARK_CHARTS:
        spec = one_of_kind(render(chart), "SparkApplication")["spec"]
        assert spec["driver"]["serviceAccount"] == account["metadata"]["name"]


def skaffold_config() -> list[dict]:
    return load_yaml_documents(REPO / "skaffold.yaml")


def test_skaffold_matches_schema():
    schema_path = SCHEMAS / "skaffold-v4beta14.json"
    if not schema_path.exists():
        pytest.skip(f"skaffold schema not found at {schema_path}; set VITALS_SHARED_SCHEMAS")
    schema = json.loads(schema_path.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    for document in skaffold_config():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator_class(schema).iter_errors(document)]
        assert errors == [], document["metadata"]["name"]


def test_skaffold_modules_deploy_charts():
    modules = {doc["metadata"]["name"]: doc for doc in skaffold_config() if doc.get("build")}
    assert set(modules) == {STAGES[chart][0] for chart in CHART_NAMES}
    for chart in CHART_NAMES:
        stage = STAGES[chart][0]
        module = modules[stage]
        image = module["build"]["artifacts"][0]["image"]
        values = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())
        assert image == values["image"]["repository"]
        release = module["deploy"]["helm"]["releases"][0]
        assert (REPO / release["chartPath"]).resolve() == (CHARTS / chart).resolve()
        assert release["setValueTemplates"]["image.repository"] == f"{{{{.IMAGE_REPO_{image_key(image)}}}}}"
        assert release["setValueTemplates"]["image.tag"] == f"{{{{.IMAGE_TAG_{image_key(image)}}}}}"


def wait_for_lines(path: Path, count: int, deadline_s: float = 30.0) -> list[str]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.2)
    raise AssertionError(f"{path} did not reach {count} lines within {deadline_s:.0f} s")


def test_dev_reload_restarts_on_change(tmp_path):
    package = tmp_path / "reload_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    starts = tmp_path / "starts.txt"
    (package / "__main__.py").write_text(
        "import os, time\n"
        "with open(os.environ['PROBE_STARTS'], 'a') as f:\n"
        "    f.write('start\\n')\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "PROBE_STARTS": str(starts)}
    reloader = subprocess.Popen([sys.executable, str(REPO / "scripts" / "dev-reload.py"), "reload_probe"], env=env)
    try:
        assert wait_for_lines(starts, 1) == ["start"]
        (package / "added.py").write_text("VALUE = 1\n")
        assert wait_for_lines(starts, 2) == ["start", "start"]
        reloader.send_signal(signal.SIGTERM)
        assert reloader.wait(timeout=30) == 0
    finally:
        if reloader.poll() is None:
            reloader.kill()
            reloader.wait()


def image_key(image: str) -> str:
    """Return skaffold's template key of an image: non-alphanumerics become underscores."""
    return re.sub(r"[^A-Za-z0-9]", "_", image)
