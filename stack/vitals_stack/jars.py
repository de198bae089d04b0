"""Download of the stack's jars with Maven, one fetch-only pom per component."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import time
from pathlib import Path

from vitals_stack.errors import StackError
from vitals_stack.settings import REPO_ROOT, StackSettings

log = logging.getLogger(__name__)

MAVEN_DIR = REPO_ROOT / "stack" / "maven"
# Written into a component's jar folder once Maven copied all of its jars.
COMPLETE_MARKER = ".complete"
MAVEN_TIMEOUT_SECONDS = 1200

_MISSING_ARTIFACT = re.compile(
    r"(?:Could not find artifact|Could not transfer artifact|Failure to find|Missing artifact)\s+(\S+)"
)


def maven_components() -> list[str]:
    """Return the components that have a fetch-only pom under ``stack/maven/``."""
    return sorted(path.parent.name for path in MAVEN_DIR.glob("*/pom.xml"))


def pom_path(component: str) -> Path:
    return MAVEN_DIR / component / "pom.xml"


def jar_dir(component: str, settings: StackSettings | None = None) -> Path:
    settings = settings or StackSettings()
    return settings.jars / component


def is_fetched(component: str, settings: StackSettings | None = None) -> bool:
    return (jar_dir(component, settings) / COMPLETE_MARKER).is_file()


def fetch(component: str, settings: StackSettings | None = None, force: bool = False) -> Path:
    """Copy the runtime jars of one component into ``<jars>/<component>/``.

    Skips the download when the folder is already complete, unless ``force`` is set.
    Raises StackError naming the artifact and the pom when Maven cannot resolve it.
    """
    settings = settings or StackSettings()
    target = jar_dir(component, settings)
    if is_fetched(component, settings) and not force:
        log.info("%s: jars already in %s", component, target)
        return target

    pom = pom_path(component)
    if not pom.is_file():
        raise StackError(f"{component}: no Maven pom at {pom}")
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("mvn (Apache Maven) is not on PATH; install it, for example with 'apt-get install maven'.")

    # Copy into a sibling folder first so that an interrupted fetch never looks complete.
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = [
        mvn, "-q", "-B", "-Dstyle.color=never", "-f", str(pom), "dependency:copy-dependencies",
        f"-DoutputDirectory={partial}", "-DincludeScope=runtime",
    ]
    log.info("%s: fetching jars with %s", component, " ".join(command))
    started = time.monotonic()
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(
            f"{component}: Maven did not finish within {MAVEN_TIMEOUT_SECONDS} s for {pom}"
        ) from exc
    if result.returncode != 0:
        output = result.stdout + result.stderr
        missing = _MISSING_ARTIFACT.findall(output)
        unresolved = f"artifact {missing[0]}" if missing else "its dependencies"
        error_lines = [line for line in output.splitlines() if "ERROR" in line]
        tail = "\n".join(error_lines[:8])
        raise StackError(
            f"{component}: Maven could not fetch {unresolved} for {pom} (exit {result.returncode}).\n{tail}"
        )

    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / COMPLETE_MARKER).write_text(f"fetched in {time.monotonic() - started:.1f} s\n")
    log.info("%s: %d jars in %s (%.1f s)", component, len(list(target.glob("*.jar"))), target,
             time.monotonic() - started)
    return target


def classpath(component: str, settings: StackSettings | None = None) -> str:
    """Return a java ``-cp`` wildcard entry for the jars of one component."""
    return str(jar_dir(component, settings) / "*")


def spark_kafka_jars(settings: StackSettings | None = None, fetch_missing: bool = True) -> list[str]:
    """Return the local paths of spark-sql-kafka-0-10_2.13 4.2.0 and its runtime jars.

    The list contains the connector, the Kafka token provider, kafka-clients and commons-pool2,
    which pyspark 4.2.0 does not ship. Pass it as ``spark.jars`` (comma-joined).
    Downloads the jars first when they are missing and ``fetch_missing`` is true.
    """
    settings = settings or StackSettings()
    if not is_fetched("spark-kafka", settings):
        if not fetch_missing:
            raise StackError("spark-kafka: jars are missing; run 'python -m vitals_stack fetch'.")
        fetch("spark-kafka", settings)
    return sorted(str(path) for path in jar_dir("spark-kafka", settings).glob("*.jar"))
