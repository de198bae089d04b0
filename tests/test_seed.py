"""`vitals-seed thresholds` against the real HBase: validation before any write, replace and merge."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from vitals_alerter.threshold_store import connect, read_records
from vitals_stack import lifecycle
from vitals_stack.reference_data import THRESHOLD_COLUMNS
from vitals_stack.settings import StackSettings

pytestmark = pytest.mark.stack

HEADER = ",".join(THRESHOLD_COLUMNS)


@pytest.fixture(scope="module")
def stack():
    settings = StackSettings()
    hbase = [row for row in lifecycle.status(settings) if row.component == "hbase"]
    if not hbase or not hbase[0].ready:
        pytest.skip("HBase of the local stack is not running; start it with `make stack-up`")
    return settings


@pytest.fixture
def table_name():
    return f"thresholds_seed_{uuid.uuid4().hex[:8]}"


def seed(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vitals_stack.seed", "thresholds", *args], capture_output=True, text=True, timeout=120
    )


def stored(stack: StackSettings, table: str) -> dict[str, dict[str, str]]:
    connection = connect(stack.host, stack.hbase_thrift_port)
    try:
        if table.encode() not in connection.tables():
            return {}
        return dict(read_records(connection, table))
    finally:
        connection.close()


def write_csv(tmp_path, name: str, *rows: str):
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return str(path)


def test_invalid_csv_writes_nothing(stack, table_name, tmp_path):
    csv_path = write_csv(tmp_path, "overlap.csv", "1,heartBeat,0,40,0,69,1,Low", "2,heartBeat,0,40,60,78,0,Normal")
    result = seed("--csv", csv_path, "--table", table_name)
    assert result.returncode == 2
    assert "rows 1 and 2 overlap" in result.stderr
    assert "Traceback" not in result.stderr
    assert stored(stack, table_name) == {}


def test_default_replaces_whole_table(stack, table_name, tmp_path):
    assert seed("--table", table_name).returncode == 0
    assert len(stored(stack, table_name)) == 12
    csv_path = write_csv(tmp_path, "one.csv", "7,bp,0,120,0,90,1,Low BP")
    assert seed("--csv", csv_path, "--table", table_name).returncode == 0
    rows = stored(stack, table_name)
    assert list(rows) == ["7"]
    assert rows["7"]["alert_message"] == "Low BP"


def test_merge_keeps_other_rows(stack, table_name, tmp_path):
    assert seed("--table", table_name).returncode == 0
    csv_path = write_csv(tmp_path, "reword.csv", "2,heartBeat,0,40,70,78,0,Within range")
    assert seed("--csv", csv_path, "--table", table_name, "--merge").returncode == 0
    rows = stored(stack, table_name)
    assert len(rows) == 12
    assert rows["2"]["alert_message"] == "Within range"
    assert rows["1"]["alert_message"] == "Low Heart Rate than Normal"


def test_merge_that_overlaps_is_rejected(stack, table_name, tmp_path):
    assert seed("--table", table_name).returncode == 0
    csv_path = write_csv(tmp_path, "clash.csv", "13,heartBeat,30,50,0,60,1,Low")
    result = seed("--csv", csv_path, "--table", table_name, "--merge")
    assert result.returncode == 2
    assert "overlap" in result.stderr
    assert len(stored(stack, table_name)) == 12
