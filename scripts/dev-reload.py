"""Run a stage (`python -m MODULE`) and restart it whenever one of its Python files changes.

Used by skaffold's dev profile, whose file sync copies changed files into the running container:
the stage gets SIGTERM, finishes its in-flight work as on any stop, and starts again on the new
code. The reloader exits with the stage's status when the stage stops on its own.

    python /opt/vitals/bin/dev-reload.py vitals_producer
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_INTERVAL_S = 1.0
STOP_TIMEOUT_S = 60.0


def watched_files(packages: list[str]) -> dict[Path, float]:
    """Return the modification time of every .py file of the given packages."""
    times = {}
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"dev-reload: package {package} not found")
        for folder in spec.submodule_search_locations:
            for path in Path(folder).rglob("*.py"):
                times[path] = path.stat().st_mtime
    return times


def stop(child: subprocess.Popen) -> None:
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: dev-reload.py MODULE", file=sys.stderr)
        return 2
    module = sys.argv[1]
    packages = [module, "vitals_common"]
    child = subprocess.Popen([sys.executable, "-m", module])
    signal.signal(signal.SIGTERM, lambda *_: stop(child) or sys.exit(0))
    known = watched_files(packages)
    while True:
        time.sleep(POLL_INTERVAL_S)
        if child.poll() is not None:
            return child.returncode
        current = watched_files(packages)
        if current != known:
            changed = sorted(str(p) for p in set(current) | set(known) if current.get(p) != known.get(p))
            print(f"dev-reload: restarting {module} after changes to {', '.join(changed)}", file=sys.stderr, flush=True)
            stop(child)
            child = subprocess.Popen([sys.executable, "-m", module])
            known = current


if __name__ == "__main__":
    raise SystemExit(main())
