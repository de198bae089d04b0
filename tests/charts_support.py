"""Helpers of the chart and image tests: run helm, render charts, read rendered workloads.

Independent of the charts' templates: the variable names a stage reads come from its
pydantic-settings class, and the spark-operator CRD and skaffold schemas are files read from
VITALS_SHARED_SCHEMAS at run time.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic_settings import BaseSettings

REPO = Path(__file__).resolve().parent.parent
CHARTS = REPO / "charts"
K8S = REPO / "k8s"
SCHEMAS = Path(os.environ.get("VITALS_SHARED_SCHEMAS", REPO.parent / "shared" / "schemas"))
KUBERNETES_VERSION = "1.37.0"

# Chart name -> (stage, settings class as "module:Class").
STAGES = {
    "vitals-producer": ("producer", "vitals_producer.settings:ProducerSettings"),
    "vitals-notifier": ("notifier", "vitals_notifier.settings:NotifierSettings"),
    "vitals-ingest": ("ingest", "vitals_ingest.settings:IngestSettings"),
    "vitals-alerter": ("alerter", "vitals_alerter.settings:AlerterSettings"),
}
DEPLOYMENT_CHARTS = ("vitals-producer", "vitals-notifier")
SPARK_CHARTS = ("vitals-ingest", "vitals-alerter")

# Variables a stage reads through a library rather than its settings class: boto3's credential
# chain reads these in the notifier (botocore's EnvProvider).
LIBRARY_ENV = {
    "notifier": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"},
}

# Variables whose values are credentials or may contain them (database URLs carry passwords).
SECRET_ENV = {
    "KAFKA_SASL_PASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PRODUCER_SOURCE_URL",
    "NOTIFIER_DEDUP_URL",
}

RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
)


def helm_binary() -> str | None:
    """Return the helm to use: $HELM, the project's .cache/bin/helm, or helm on PATH."""
    candidates = [os.environ.get("HELM"), str(REPO / ".cache" / "bin" / "helm"), shutil.which("helm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = helm_binary()
    if binary is None:
        raise FileNotFoundError("helm not found; run scripts/install-k8s-tools.sh")
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


@cache
def build_dependencies(chart: str) -> None:
    """Copy the library chart into the chart's charts/ folder (file:// dependency, no network)."""
    helm("dependency", "update", "--skip-refresh", str(CHARTS / chart))


def values_files(chart: str) -> dict[str, list[str]]:
    """Return the value sets each chart is tested with: its defaults and its CI files."""
    sets = {"defaults": []}
    for path in sorted((CHARTS / chart / "ci").glob("*-values.yaml")):
        sets[path.stem] = [str(path)]
    return sets


def template_args(chart: str, files: list[str], overrides: tuple[str, ...] = ()) -> list[str]:
    args = ["template", "vitals", str(CHARTS / chart), "--namespace", "vitals"]
    for path in files:
        args += ["--values", path]
    for override in overrides:
        args += ["--set", override]
    return args


@cache
def render(chart: str, files: tuple[str, ...] = (), overrides: tuple[str, ...] = ()) -> tuple[dict, ...]:
    """Render a chart with `helm template` and return its documents (empty ones dropped)."""
    build_dependencies(chart)
    output = helm(*template_args(chart, list(files), overrides)).stdout
    return tuple(doc for doc in yaml.safe_load_all(output) if doc)


def render_error(chart: str, files: tuple[str, ...] = (), overrides: tuple[str, ...] = ()) -> str:
    """Render a chart that is expected to fail and return helm's error output."""
    build_dependencies(chart)
    result = helm(*template_args(chart, list(files), overrides), check=False)
    if result.returncode == 0:
        raise AssertionError(f"helm template {chart} with {overrides} succeeded but should have failed")
    return result.stderr


def of_kind(docs: tuple[dict, ...], kind: str) -> list[dict]:
    return [doc for doc in docs if doc["kind"] == kind]


def one_of_kind(docs: tuple[dict, ...], kind: str) -> dict:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def by_name(docs: tuple[dict, ...], kind: str, name: str) -> dict | None:
    for doc in of_kind(docs, kind):
        if doc["metadata"]["name"] == name:
            return doc
    return None


@dataclass
class Workload:
    """One container of a rendered workload, with the pod-level fields the policies look at.

    For a SparkApplication the "container" is the driver or executor section, whose fields
    (env, envFrom, securityContext, podSecurityContext, ports) the spark-operator copies onto
    the pod it creates.
    """

    label: str
    container: dict
    pod_security: dict
    probes_container: dict | None
    kind: str


def workloads(docs: tuple[dict, ...]) -> list[Workload]:
    found = []
    for doc in of_kind(docs, "Deployment"):
        spec = doc["spec"]["template"]["spec"]
        for container in spec["containers"]:
            label = f"Deployment/{doc['metadata']['name']}/{container['name']}"
            found.append(Workload(label, container, spec.get("securityContext", {}), container, "Deployment"))
    for doc in of_kind(docs, "SparkApplication"):
        for role in ("driver", "executor"):
            section = doc["spec"][role]
            probes = None
            if role == "driver":
                containers = section.get("template", {}).get("spec", {}).get("containers", [])
                probes = containers[0] if containers else {}
            label = f"SparkApplication/{doc['metadata']['name']}/{role}"
            found.append(Workload(label, section, section.get("podSecurityContext", {}), probes, "SparkApplication"))
    return found


def resolved_env(docs: tuple[dict, ...], container: dict) -> dict[str, dict]:
    """Return every variable a container gets: name -> {"value": str} or {"secretKeyRef": ...}.

    envFrom sources are looked up among the rendered documents; a referenced ConfigMap or
    Secret that the release does not render is an error, because its keys cannot be checked.
    """
    env: dict[str, dict] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            config_map = by_name(docs, "ConfigMap", source["configMapRef"]["name"])
            assert config_map is not None, f"envFrom ConfigMap {source['configMapRef']['name']} is not rendered"
            for key, value in config_map.get("data", {}).items():
                env[key] = {"value": value, "from": "configMap"}
        if "secretRef" in source:
            secret = by_name(docs, "Secret", source["secretRef"]["name"])
            assert secret is not None, f"envFrom Secret {source['secretRef']['name']} is not rendered"
            for key, value in {**secret.get("stringData", {}), **secret.get("data", {})}.items():
                env[key] = {"value": value, "from": "secret"}
    for entry in container.get("env", []):
        if "valueFrom" in entry:
            env[entry["name"]] = {**entry["valueFrom"], "from": "valueFrom"}
        else:
            env[entry["name"]] = {"value": entry.get("value", ""), "from": "literal"}
    return env


def settings_class(chart: str) -> type[BaseSettings]:
    module_name, class_name = STAGES[chart][1].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def settings_env_names(settings_cls: type[BaseSettings]) -> set[str]:
    """Return the variable names a settings class reads, nested settings classes included.

    A nested BaseSettings field is built by its default factory, which reads the variables of
    the nested class's own prefix (KAFKA_*, SPARK_*).
    """
    prefix = settings_cls.model_config.get("env_prefix", "")
    names = set()
    for field_name, field in settings_cls.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            names |= settings_env_names(annotation)
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names


def load_yaml_documents(path: Path) -> list[dict]:
    with open(path) as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def spark_application_schema() -> dict[str, Any]:
    """Return the openAPIV3Schema of the v1beta2 SparkApplication CRD."""
    crd = load_yaml_documents(SCHEMAS / "sparkoperator.k8s.io_sparkapplications.yaml")[0]
    for version in crd["spec"]["versions"]:
        if version["name"] == "v1beta2":
            return version["schema"]["openAPIV3Schema"]
    raise AssertionError("the SparkApplication CRD has no v1beta2 version")
