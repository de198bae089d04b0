"""One small HTTP server per stage: Prometheus `/metrics`, liveness `/healthz`, readiness `/readyz`."""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vitals_common.errors import StartupError

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], bool]

# Seconds between two evaluations of the readiness checks for the `vitals_ready` metrics. The
# checks run on a background thread, so a slow dependency never delays a Prometheus scrape.
READINESS_METRIC_INTERVAL_S = 5.0


class HealthState:
    """Liveness flag plus named readiness checks; `/readyz` is 200 only when checks exist and all pass."""

    def __init__(self) -> None:
        self.alive = True
        self._checks: dict[str, ReadinessCheck] = {}
        self._lock = threading.Lock()
        self._last: dict[str, bool] = {}

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        with self._lock:
            self._checks[name] = check

    def readiness(self) -> dict[str, bool]:
        """Run every check now; log each check whose result changed since the previous run."""
        with self._lock:
            checks = dict(self._checks)
        results = {}
        for name, check in checks.items():
            error = None
            try:
                results[name] = bool(check())
            except Exception as exc:  # a failing probe means "not ready", never a crashed server
                results[name] = False
                error = f"{exc.__class__.__name__}: {exc}"
            self._log_change(name, results[name], error)
        return results

    def last_readiness(self) -> dict[str, bool]:
        """Return the results of the latest run of the checks, without running them."""
        with self._lock:
            return dict(self._last)

    def _log_change(self, name: str, passed: bool, error: str | None) -> None:
        with self._lock:
            previous = self._last.get(name)
            self._last[name] = passed
        if previous == passed:
            return
        if passed:
            log.info("readiness check passed", extra={"check": name})
        else:
            log.warning("readiness check failed", extra={"check": name, "error": error or "returned false"})

    def refresh_forever(self, interval_s: float) -> None:
        """Run the checks every `interval_s` seconds while the stage is alive (a daemon thread's target)."""
        while self.alive:
            time.sleep(interval_s)
            self.readiness()


class ReadinessCollector(Collector):
    """Exports the latest readiness results as `vitals_ready` and `vitals_readiness_check_passed{check}`."""

    def __init__(self) -> None:
        self.state: HealthState | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        results = self.state.last_readiness() if self.state is not None else {}
        alive = self.state.alive if self.state is not None else False
        ready = GaugeMetricFamily(
            "vitals_ready", "1 when checks exist and all passed at the latest run, as /readyz requires, else 0"
        )
        ready.add_metric([], 1.0 if alive and results and all(results.values()) else 0.0)
        yield ready
        checks = GaugeMetricFamily(
            "vitals_readiness_check_passed", "1 when the named readiness check passed at the latest run", labels=["check"]
        )
        for name, passed in sorted(results.items()):
            checks.add_metric([name], 1.0 if passed else 0.0)
        yield checks


# One collector per registry, pointed at the state of the latest serve_health call.
_collectors: weakref.WeakKeyDictionary[CollectorRegistry, ReadinessCollector] = weakref.WeakKeyDictionary()


def _readiness_collector(registry: CollectorRegistry) -> ReadinessCollector:
    collector = _collectors.get(registry)
    if collector is None:
        collector = ReadinessCollector()
        registry.register(collector)
        _collectors[registry] = collector
    return collector


class _Handler(BaseHTTPRequestHandler):
    state: HealthState
    registry: CollectorRegistry

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            status = 200 if self.state.alive else 503
            self._send(status, json.dumps({"alive": self.state.alive}).encode(), "application/json")
        elif path == "/readyz":
            checks = self.state.readiness()
            # A stage registers its checks once its dependencies are known; before that it is starting.
            ready = self.state.alive and bool(checks) and all(checks.values())
            body = json.dumps({"ready": ready, "checks": checks}).encode()
            self._send(200 if ready else 503, body, "application/json")
        else:
            self._send(404, b"not found\n", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: keep quiet
        pass


def serve_health(
    host: str, port: int, state: HealthState, registry: CollectorRegistry = REGISTRY
) -> ThreadingHTTPServer | None:
    """Start the server and the readiness refresh on daemon threads; port 0 means the stage runs without them."""
    if port == 0:
        return None
    _readiness_collector(registry).state = state
    handler = type("Handler", (_Handler,), {"state": state, "registry": registry})
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise StartupError(
            f"cannot serve metrics and health on {host}:{port}: {exc.strerror}; stop the process that uses "
            "the port or set <STAGE>_METRICS_PORT (0 turns the server off)"
        ) from exc
    threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
    threading.Thread(
        target=state.refresh_forever, args=(READINESS_METRIC_INTERVAL_S,), name="readiness-refresh", daemon=True
    ).start()
    log.info("serving metrics and health", extra={"host": host, "port": port})
    return server
