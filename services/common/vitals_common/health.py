"""One small HTTP server per stage: Prometheus `/metrics`, liveness `/healthz`, readiness `/readyz`."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], bool]


class HealthState:
    """Liveness flag plus named readiness checks; `/readyz` is 200 only when every check passes."""

    def __init__(self) -> None:
        self.alive = True
        self._checks: dict[str, ReadinessCheck] = {}
        self._lock = threading.Lock()

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        with self._lock:
            self._checks[name] = check

    def readiness(self) -> dict[str, bool]:
        with self._lock:
            checks = dict(self._checks)
        results = {}
        for name, check in checks.items():
            try:
                results[name] = bool(check())
            except Exception:  # a failing probe means "not ready", never a crashed server
                log.debug("readiness check raised", exc_info=True, extra={"check": name})
                results[name] = False
        return results


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
            ready = self.state.alive and all(checks.values())
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
    """Start the server on a daemon thread; port 0 means the stage runs without one."""
    if port == 0:
        return None
    handler = type("Handler", (_Handler,), {"state": state, "registry": registry})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="health-http", daemon=True).start()
    log.info("serving metrics and health", extra={"host": host, "port": port})
    return server
