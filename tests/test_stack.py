"""Tests of the local stack: unit tests of the tool, and live checks of each running service.

The live tests are marked ``stack``; they expect ``python -m vitals_stack up`` to have run and
are skipped, with the reason, when ``status`` reports the component as down.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import sys
import urllib.request
import uuid

import pytest

from vitals_stack import cli, lifecycle, procs
from vitals_stack.components import COMPONENTS, require_java
from vitals_stack.errors import StackError
from vitals_stack.settings import StackSettings

# ---------------------------------------------------------------------------- unit tests


@pytest.fixture
def busy_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_busy_port_names_port_and_setting(busy_port):
    with pytest.raises(StackError) as info:
        procs.require_free_ports("kafka", {"STACK_KAFKA_PORT": busy_port})
    message = str(info.value)
    assert f"port {busy_port}" in message
    assert "STACK_KAFKA_PORT" in message
    assert message.startswith("kafka:")


def test_up_on_busy_port_exits_nonzero(busy_port, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("STACK_HOME", str(tmp_path / "run"))
    monkeypatch.setenv("STACK_MOTO_PORT", str(busy_port))
    exit_code = cli.main(["up", "--only", "moto"])
    stderr = capsys.readouterr().err
    assert exit_code == 1
    assert f"port {busy_port}" in stderr
    assert "STACK_MOTO_PORT" in stderr


def test_missing_java_says_install_openjdk(monkeypatch):
    monkeypatch.setenv("STACK_JAVA", "/nonexistent/bin/java")
    with pytest.raises(StackError, match="OpenJDK 17"):
        require_java(StackSettings())


def test_settings_defaults(monkeypatch):
    for variable in ("STACK_KAFKA_PORT", "STACK_HDFS_PORT", "STACK_METASTORE_PORT", "STACK_MOTO_PORT",
                     "STACK_HBASE_THRIFT_PORT", "STACK_HOME"):
        monkeypatch.delenv(variable, raising=False)
    settings = StackSettings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.hdfs_url == "hdfs://127.0.0.1:8020"
    assert settings.metastore_uri == "thrift://127.0.0.1:9083"
    assert (settings.hbase_thrift_host, settings.hbase_thrift_port) == ("127.0.0.1", 9090)
    assert settings.sns_endpoint == "http://127.0.0.1:5000"
    assert settings.home.name == ".run"
    assert settings.source_db_url == f"sqlite:///{settings.home / 'source' / 'vitals.db'}"


def test_settings_env_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("STACK_KAFKA_PORT", "19092")
    monkeypatch.setenv("STACK_HDFS_PORT", "18020")
    monkeypatch.setenv("STACK_METASTORE_PORT", "19083")
    monkeypatch.setenv("STACK_MOTO_PORT", "15000")
    monkeypatch.setenv("STACK_SNS_TOPIC", "other-topic")
    monkeypatch.setenv("STACK_HOME", str(tmp_path))
    settings = StackSettings()
    assert settings.kafka_bootstrap == "127.0.0.1:19092"
    assert settings.hdfs_url == "hdfs://127.0.0.1:18020"
    assert settings.warehouse_dir == "hdfs://127.0.0.1:18020/warehouse"
    assert settings.metastore_uri == "thrift://127.0.0.1:19083"
    assert settings.sns_endpoint == "http://127.0.0.1:15000"
    assert settings.sns_topic_arn.endswith(":other-topic")
    assert settings.component_dir("kafka") == tmp_path / "kafka"


def test_only_adds_dependencies():
    assert lifecycle.resolve(["metastore"]) == ["hdfs", "metastore"]
    with pytest.raises(StackError, match="unknown component"):
        lifecycle.resolve(["mysql"])


def test_stop_kills_process_group(tmp_path):
    files = procs.ProcessFiles("sleeper", tmp_path)
    # The shell leaves a child in the same process group, as a JVM launcher would.
    process = procs.start(files, ["sh", "-c", "sleep 60 & wait"])
    assert procs.read_pid(files) == process.pid
    assert procs.stop(files, grace=5)
    assert process.wait(timeout=5) is not None
    assert not files.pid_file.exists()
    assert procs._group_members(process.pid) == []


def test_stop_after_leader_killed(tmp_path):
    files = procs.ProcessFiles("orphaned", tmp_path)
    process = procs.start(files, ["sh", "-c", "sleep 60 & sleep 60"])
    deadline = time.monotonic() + 5
    while len(procs._group_members(process.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=5)
    assert procs.read_pid(files) is None
    assert procs._group_members(process.pid) != []
    assert procs.stop(files, grace=5)
    assert procs._group_members(process.pid) == []


def test_stop_with_stale_pid_file(tmp_path):
    files = procs.ProcessFiles("gone", tmp_path)
    process = subprocess.Popen(["true"])
    process.wait()
    files.pid_file.write_text(f"{process.pid} 1\n")
    assert procs.read_pid(files) is None
    assert not procs.stop(files)
    assert not files.pid_file.exists()


# ---------------------------------------------------------------------------- live stack tests


@pytest.fixture(scope="module")
def settings() -> StackSettings:
    return StackSettings()


def require_up(name: str, settings: StackSettings) -> None:
    component = COMPONENTS[name]
    if not lifecycle._is_up(component, settings):
        pytest.skip(f"{name} is not running and ready; start it with 'python -m vitals_stack up'")


@pytest.mark.stack
def test_kafka_produce_consume(settings):
    require_up("kafka", settings)
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"stack-test-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(timeout=30)
    try:
        producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
        producer.produce(topic, key=b"patient-1", value=b'{"hr": 72}')
        assert producer.flush(30) == 0

        consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": topic,
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        message = None
        deadline = time.monotonic() + 60
        while message is None and time.monotonic() < deadline:
            candidate = consumer.poll(1.0)
            if candidate is not None and candidate.error() is None:
                message = candidate
        consumer.close()
        assert message is not None, "no record consumed within 60 s"
        assert message.key() == b"patient-1"
        assert message.value() == b'{"hr": 72}'
    finally:
        admin.delete_topics([topic])[topic].result(timeout=30)


@pytest.mark.stack
def test_hdfs_write_read_webhdfs(settings):
    require_up("hdfs", settings)
    path = f"/tmp/stack-test/{uuid.uuid4().hex}.txt"
    body = b"vitals over webhdfs\n"
    # WebHDFS CREATE returns 307 with the DataNode URL. urllib follows redirects only for GET, so do it by hand.
    create = urllib.request.Request(f"{settings.webhdfs_url}{path}?op=CREATE&user.name=stack&overwrite=true",
                                    method="PUT")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(create, timeout=30)
    assert redirect.value.code == 307
    datanode_url = redirect.value.headers["Location"]
    assert datanode_url.startswith("http://127.0.0.1:") or datanode_url.startswith("http://localhost:")
    with urllib.request.urlopen(urllib.request.Request(datanode_url, data=body, method="PUT"), timeout=30) as reply:
        assert reply.status == 201

    with urllib.request.urlopen(f"{settings.webhdfs_url}{path}?op=OPEN&user.name=stack", timeout=30) as reply:
        assert reply.read() == body
    with urllib.request.urlopen(f"{settings.webhdfs_url}{path}?op=GETFILESTATUS&user.name=stack",
                                timeout=30) as reply:
        assert json.load(reply)["FileStatus"]["length"] == len(body)
    delete = urllib.request.Request(f"{settings.webhdfs_url}{path}?op=DELETE&user.name=stack", method="DELETE")
    with urllib.request.urlopen(delete, timeout=30) as reply:
        assert json.load(reply)["boolean"] is True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


METASTORE_SCRIPT = """
import json, sys
from pyspark.sql import SparkSession

uri, warehouse, database = sys.argv[1:4]
spark = (
    SparkSession.builder.master("local[1]")
    .appName("stack-test-metastore")
    .config("spark.driver.memory", "512m")
    .config("spark.ui.enabled", "false")
    .config("spark.sql.shuffle.partitions", "1")
    .config("spark.hadoop.hive.metastore.uris", uri)
    .config("spark.sql.warehouse.dir", warehouse)
    .enableHiveSupport()
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
try:
    spark.sql(f"CREATE DATABASE {database}")
    created = [row[0] for row in spark.sql("SHOW DATABASES").collect()]
    info = spark.sql(f"DESCRIBE DATABASE {database}").filter("info_name = 'Location'").collect()[0][1]
    spark.sql(f"DROP DATABASE {database}")
    dropped = [row[0] for row in spark.sql("SHOW DATABASES").collect()]
finally:
    spark.sql(f"DROP DATABASE IF EXISTS {database}")
    spark.stop()
print("RESULT " + json.dumps({"created": created, "location": info, "dropped": dropped}))
"""


@pytest.mark.stack
def test_metastore_database_lifecycle(settings):
    require_up("metastore", settings)
    database = f"stack_test_{uuid.uuid4().hex[:8]}"
    # A process of its own: in this one getOrCreate could return another test's session without Hive.
    result = subprocess.run(
        [sys.executable, "-c", METASTORE_SCRIPT, settings.metastore_uri, settings.warehouse_dir, database],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")][-1]
    outcome = json.loads(line.removeprefix("RESULT "))
    assert database in outcome["created"]
    assert outcome["location"].startswith(settings.warehouse_dir)
    assert database not in outcome["dropped"]


@pytest.mark.stack
def test_hbase_put_get_happybase(settings):
    require_up("hbase", settings)
    import happybase

    connection = happybase.Connection(settings.hbase_thrift_host, settings.hbase_thrift_port)
    table_name = f"stack_test_{uuid.uuid4().hex[:8]}".encode()
    try:
        connection.create_table(table_name, {"v": {"max_versions": 1}})
        assert table_name in connection.tables()
        table = connection.table(table_name)
        table.put(b"patient-1", {b"v:hr": b"72", b"v:spo2": b"97"})
        assert table.row(b"patient-1") == {b"v:hr": b"72", b"v:spo2": b"97"}
        assert table.row(b"patient-1", columns=[b"v:hr"]) == {b"v:hr": b"72"}
        assert [key for key, _ in table.scan()] == [b"patient-1"]
        table.delete(b"patient-1")
        assert table.row(b"patient-1") == {}
    finally:
        if table_name in connection.tables():
            connection.delete_table(table_name, disable=True)
        connection.close()


@pytest.mark.stack
def test_sns_publish_reaches_sqs_tap(settings):
    require_up("moto", settings)
    import boto3

    sns = boto3.client("sns", **settings.aws_client_kwargs())
    sqs = boto3.client("sqs", **settings.aws_client_kwargs())
    queue_url = sqs.get_queue_url(QueueName=settings.sqs_tap_queue)["QueueUrl"]
    # Drain messages left by earlier runs, so the queue contains only this test's message.
    while sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        sqs.purge_queue(QueueUrl=queue_url)

    text = json.dumps({"patient_id": "p-1", "alert": "tachycardia", "nonce": uuid.uuid4().hex})
    sns.publish(TopicArn=settings.sns_topic_arn, Message=text, Subject="vitals alert")
    messages = []
    deadline = time.monotonic() + 30
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", [])
    assert len(messages) == 1
    # RawMessageDelivery=true: the body is the published text, not the SNS JSON envelope.
    assert messages[0]["Body"] == text
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])


@pytest.mark.stack
def test_source_db_folder_exists(settings):
    require_up("source", settings)
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.source_db_url)
    with engine.connect() as connection:
        assert connection.execute(text("select 1")).scalar() == 1
    engine.dispose()
