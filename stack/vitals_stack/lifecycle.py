"""Bring the stack up, take it down and report its status."""

from __future__ import annotations

import logging
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from vitals_stack import jars, procs, prometheus
from vitals_stack.components import COMPONENTS, Component, require_java
from vitals_stack.errors import StackError
from vitals_stack.settings import StackSettings

log = logging.getLogger(__name__)

# Start order; components without dependencies between them start in parallel.
ORDER = ["kafka", "hdfs", "metastore", "hbase", "moto", "source", "prometheus"]


def resolve(only: list[str] | None) -> list[str]:
    """Return the selected components plus their dependencies, in start order."""
    if not only:
        return list(ORDER)
    unknown = sorted(set(only) - set(COMPONENTS))
    if unknown:
        raise StackError(f"unknown component(s) {', '.join(unknown)}; choose from {', '.join(ORDER)}")
    selected = set(only)
    for name in only:
        selected.update(COMPONENTS[name].depends_on)
    return [name for name in ORDER if name in selected]


def fetch_all(settings: StackSettings, force: bool = False) -> None:
    """Download the jars of every component that has a Maven pom."""
    for component in jars.maven_components():
        jars.fetch(component, settings, force=force)


def _is_up(component: Component, settings: StackSettings) -> bool:
    pids = component.running_pids(settings)
    if not all(pid is not None for pid in pids):
        return False
    try:
        return component.is_ready(settings)
    except Exception as exc:  # a probe of a half-started server may fail in many ways
        log.debug("%s: readiness probe failed: %s", component.name, exc)
        return False


def _bring_up(component: Component, settings: StackSettings, dependencies: list[Future]) -> str:
    for dependency in dependencies:
        dependency.result()
    if _is_up(component, settings):
        return f"{component.name}: already running"
    # Leftovers of a crashed or half-started run would hold the ports or the data directories.
    for files in component.files(settings):
        procs.stop(files)
    procs.require_free_ports(component.name, component.ports(settings))
    component.start(settings)
    return f"{component.name}: ready"


def up(settings: StackSettings, only: list[str] | None = None) -> list[str]:
    """Start the selected components and wait until each is ready; return one line per component.

    A component that is already running and ready is left alone. Raises StackError listing
    every component that failed; the ones that did start keep running.
    """
    names = resolve(only)
    selected = [COMPONENTS[name] for name in names]
    if any(component.needs_java for component in selected):
        require_java(settings)
    if "prometheus" in names:
        prometheus.require_prometheus(settings)
    for component in selected:
        for jar_set in component.jar_sets:
            if not jars.is_fetched(jar_set, settings):
                jars.fetch(jar_set, settings)
    if "hbase" in names and not jars.is_fetched("spark-kafka", settings):
        # Not needed by any service, but the Spark jobs expect it next to the other jars.
        jars.fetch("spark-kafka", settings)
    settings.home.mkdir(parents=True, exist_ok=True)

    futures: dict[str, Future] = {}
    with ThreadPoolExecutor(max_workers=len(selected)) as pool:
        for component in selected:
            earlier = component.depends_on + component.starts_after
            dependencies = [futures[name] for name in earlier if name in futures]
            futures[component.name] = pool.submit(_bring_up, component, settings, dependencies)
    lines, errors = [], []
    for name, future in futures.items():
        try:
            lines.append(future.result())
        except StackError as exc:
            errors.append(str(exc))
        except Exception as exc:
            errors.append(f"{name}: failed to start: {exc!r}")
    if errors:
        raise StackError("\n\n".join(errors))
    return lines


def down(settings: StackSettings, wipe: bool = False) -> list[str]:
    """Stop every stack process, including those left behind by stale pid files.

    Processes stop in reverse start order. With ``wipe`` the whole ``STACK_HOME`` is deleted.
    """
    lines = []
    for name in reversed(ORDER):
        for files in reversed(COMPONENTS[name].files(settings)):
            if procs.stop(files):
                lines.append(f"{files.name}: stopped")
    if wipe and settings.home.exists():
        shutil.rmtree(settings.home)
        lines.append(f"deleted {settings.home}")
    return lines


@dataclass
class StatusRow:
    component: str
    pid: str
    port: str
    ready: bool


def status(settings: StackSettings) -> list[StatusRow]:
    rows = []
    for name in ORDER:
        component = COMPONENTS[name]
        pids = component.running_pids(settings)
        port = component.main_port(settings)
        rows.append(StatusRow(
            component=name,
            pid=",".join(str(pid) if pid else "-" for pid in pids) or "-",
            port=str(port) if port else "-",
            ready=_is_up(component, settings),
        ))
    return rows
