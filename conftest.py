"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vitals_stack.settings import StackSettings

REPO = Path(__file__).resolve().parent
# Tests that talk to Kafka directly follow the stack's port unless the caller chose a broker.
os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", StackSettings().kafka_bootstrap)
# The project's reference data lives beside the repository; tests that need it skip without it.
SHARED_DATA = Path(os.environ.get("VITALS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "threshold_ref.csv").exists():
        pytest.skip(f"reference data not found at {SHARED_DATA}; set VITALS_SHARED_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """A small local Spark session without Hive, for batch-mode tests of the transforms."""
    from pyspark.sql import SparkSession

    warehouse = tmp_path_factory.mktemp("warehouse")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("vitals-unit-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.memory", "1g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
