import os
import subprocess
import sys
from pathlib import Path

from vitals_notifier.settings import NotifierSettings

from notifier_fixtures import free_port

REPO = Path(__file__).resolve().parents[3]
PYTHONPATH = os.pathsep.join(str(REPO / "services" / p) for p in ("common", "notifier"))


def run_notifier(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFIER_", "KAFKA_"))}
    environment.update(PYTHONPATH=PYTHONPATH, **env)
    return subprocess.run(
        [sys.executable, "-m", "vitals_notifier", *args], env=environment, capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_variable_and_flag():
    result = run_notifier("--help")
    assert result.returncode == 0
    for name in NotifierSettings.model_fields:
        if name != "kafka":
            assert f"NOTIFIER_{name.upper()}" in result.stdout
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.stdout
    assert "--replay-from-beginning" in result.stdout


def test_invalid_configuration_exits_2():
    result = run_notifier(NOTIFIER_MAX_RETRIES="many")
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr


def test_unreachable_kafka_exits_2():
    port = free_port()
    result = run_notifier(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{port}", NOTIFIER_STARTUP_TIMEOUT_S="2")
    assert result.returncode == 2
    assert f"Kafka at 127.0.0.1:{port} is unreachable" in result.stderr


def test_settings_local_endpoint_detection():
    assert NotifierSettings(sns_endpoint_url="http://127.0.0.1:5000").endpoint_is_local
    assert NotifierSettings(sns_endpoint_url="http://localhost:5000").endpoint_is_local
    assert not NotifierSettings(sns_endpoint_url="https://sns.us-east-1.amazonaws.com").endpoint_is_local
    assert NotifierSettings(sns_endpoint_url="").sns_endpoint_url is None
