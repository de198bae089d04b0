import os
import socket
import subprocess
import sys
from pathlib import Path

from vitals_producer.settings import ProducerSettings

REPO = Path(__file__).resolve().parents[3]
PYTHONPATH = os.pathsep.join(str(REPO / "services" / p) for p in ("common", "producer"))


def run_producer(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PRODUCER_", "KAFKA_"))}
    environment.update(PYTHONPATH=PYTHONPATH, **env)
    return subprocess.run(
        [sys.executable, "-m", "vitals_producer", *args], env=environment, capture_output=True, text=True, timeout=60
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_help_lists_every_variable():
    result = run_producer("--help")
    assert result.returncode == 0
    for name in ProducerSettings.model_fields:
        if name != "kafka":
            assert f"PRODUCER_{name.upper()}" in result.stdout
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.stdout


def test_invalid_configuration_exits_2():
    result = run_producer(PRODUCER_PACING="sometimes")
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert "PACING" in result.stderr.upper()


def test_recorded_pacing_without_time_column_exits_2():
    result = run_producer(PRODUCER_PACING="recorded")
    assert result.returncode == 2
    assert "PRODUCER_TIME_COLUMN" in result.stderr


def test_unreachable_kafka_exits_2():
    port = free_port()
    result = run_producer(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}", PRODUCER_STARTUP_TIMEOUT_S="2")
    assert result.returncode == 2
    assert f"Kafka at 127.0.0.1:{port} is unreachable" in result.stderr
