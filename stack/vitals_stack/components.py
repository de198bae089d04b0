"""Start commands and readiness probes of each stack component."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import string
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vitals_stack import jars, procs, prometheus
from vitals_stack.errors import StackError
from vitals_stack.settings import REPO_ROOT, StackSettings

log = logging.getLogger(__name__)

CONF_DIR = REPO_ROOT / "stack" / "conf"
HTTP_TIMEOUT_SECONDS = 3.0

# Opens that Hadoop 3.5's launcher script (hadoop-functions.sh) adds on Java 17.
HADOOP_JAVA17_FLAGS = ["-XX:+IgnoreUnrecognizedVMOptions"] + [
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in (
        "java.io", "java.lang", "java.lang.reflect", "java.math", "java.net", "java.text", "java.util",
        "java.util.concurrent", "java.util.concurrent.atomic", "java.util.regex", "java.util.zip",
        "sun.security.util", "sun.security.x509",
    )
]

# Flags that HBase 2.6's bin/hbase adds on Java 11 and later.
HBASE_JAVA17_FLAGS = [
    "-Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true",
    "--add-modules", "jdk.unsupported",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.nio=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
    "--add-opens", "java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.security.jgss/sun.security.krb5=ALL-UNNAMED",
    "--add-exports", "java.base/sun.net.dns=ALL-UNNAMED",
    "--add-exports", "java.base/sun.net.util=ALL-UNNAMED",
]


@dataclass
class Component:
    """One service of the stack: its processes, ports, jar sets, dependencies and start routine."""

    name: str
    processes: list[str]
    ports: Callable[[StackSettings], dict[str, int]]
    main_port: Callable[[StackSettings], int | None]
    start: Callable[[StackSettings], None]
    is_ready: Callable[[StackSettings], bool]
    jar_sets: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    # Components that start first when they are selected too, without being selected by this one.
    starts_after: list[str] = field(default_factory=list)
    needs_java: bool = True

    def files(self, settings: StackSettings) -> list[procs.ProcessFiles]:
        return [procs.ProcessFiles(name, settings.component_dir(self.name)) for name in self.processes]

    def running_pids(self, settings: StackSettings) -> list[int | None]:
        return [procs.read_pid(files) for files in self.files(settings)]


# ---------------------------------------------------------------------------- helpers


def render(template_name: str, target: Path, **values: object) -> Path:
    """Fill ``${name}`` placeholders of a template in stack/conf/ and write the result to ``target``."""
    template = string.Template((CONF_DIR / template_name).read_text())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(template.substitute({key: str(value) for key, value in values.items()}))
    return target


def require_java(settings: StackSettings) -> None:
    """Raise StackError unless ``settings.java`` runs and reports Java 17 or newer."""
    java = shutil.which(settings.java)
    if java is None:
        raise StackError(
            f"java was not found (STACK_JAVA={settings.java}). Install OpenJDK 17, for example with "
            "'apt-get install openjdk-17-jdk-headless', or set STACK_JAVA to a Java 17 executable."
        )
    result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r'version "(\d+)', result.stderr)
    if match is None or int(match.group(1)) < 17:
        reported = (result.stderr.strip().splitlines() or ["no version output"])[0]
        raise StackError(
            f"{java} is not Java 17 or newer ({reported}). "
            "Install OpenJDK 17 or set STACK_JAVA to a Java 17 executable."
        )


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def java_command(settings: StackSettings, heap: str, classpath: list[str], flags: list[str]) -> list[str]:
    return [
        settings.java, f"-Xmx{heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        "-Djava.net.preferIPv4Stack=true", "-Djava.awt.headless=true",
        *flags, "-cp", os.pathsep.join(classpath),
    ]


def log4j2_flag() -> str:
    return f"-Dlog4j2.configurationFile=file:{CONF_DIR / 'log4j2.properties'}"


def start_and_wait(
    settings: StackSettings,
    component: str,
    process_name: str,
    command: list[str],
    is_ready: Callable[[], bool],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> None:
    files = procs.ProcessFiles(process_name, settings.component_dir(component))
    process = procs.start(files, command, env=env, cwd=cwd)
    procs.wait_ready(component, files, process, is_ready, settings.ready_timeout)


# ---------------------------------------------------------------------------- kafka


def kafka_ports(settings: StackSettings) -> dict[str, int]:
    return {"STACK_KAFKA_PORT": settings.kafka_port, "STACK_KAFKA_CONTROLLER_PORT": settings.kafka_controller_port}


def random_kafka_cluster_id() -> str:
    """Return a cluster id in Kafka's format: 16 random bytes, URL-safe base64 without padding."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def start_kafka(settings: StackSettings) -> None:
    home = settings.component_dir("kafka")
    data_dir = home / "data"
    config = render("kafka-server.properties", home / "server.properties",
                    kafka_port=settings.kafka_port, kafka_controller_port=settings.kafka_controller_port,
                    log_dirs=data_dir)
    base = java_command(settings, "512m", [jars.classpath("kafka", settings)], ["-Xms128m", log4j2_flag()])
    if not (data_dir / "meta.properties").is_file():
        format_command = base + ["kafka.tools.StorageTool", "format", "--standalone",
                                 "-t", random_kafka_cluster_id(), "-c", str(config), "--ignore-formatted"]
        log.info("kafka: formatting storage in %s", data_dir)
        result = subprocess.run(format_command, capture_output=True, text=True, timeout=180, check=False)
        (home / "format.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0:
            raise StackError(f"kafka: storage format failed (exit {result.returncode}):\n"
                             f"{procs.tail(home / 'format.log')}")
    start_and_wait(settings, "kafka", "kafka", base + ["kafka.Kafka", str(config)],
                   lambda: kafka_ready(settings))


def kafka_ready(settings: StackSettings) -> bool:
    if not procs.port_accepts(settings.kafka_port):
        return False
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "log_level": 0})
    metadata = admin.list_topics(timeout=3)
    return len(metadata.brokers) >= 1


# ---------------------------------------------------------------------------- hdfs


def hdfs_ports(settings: StackSettings) -> dict[str, int]:
    return {"STACK_HDFS_PORT": settings.hdfs_port, "STACK_HDFS_HTTP_PORT": settings.hdfs_http_port}


def start_hdfs(settings: StackSettings) -> None:
    home = settings.component_dir("hdfs")
    data_dir = home / "data"
    formatted_marker = home / "formatted"
    options = {
        "hdfs.minidfs.basedir": data_dir,
        "dfs.permissions.enabled": "false",
        "dfs.replication": "1",
        "dfs.namenode.rpc-bind-host": "127.0.0.1",
        "dfs.namenode.http-bind-host": "127.0.0.1",
        "dfs.namenode.safemode.extension": "0",
        "dfs.datanode.address": "127.0.0.1:0",
        "dfs.datanode.http.address": "127.0.0.1:0",
        "dfs.datanode.ipc.address": "127.0.0.1:0",
    }
    command = java_command(settings, "512m", [jars.classpath("hdfs", settings)],
                           [*HADOOP_JAVA17_FLAGS, log4j2_flag(), f"-Dtest.build.data={data_dir}"])
    command += ["org.apache.hadoop.test.MiniDFSClusterManager",
                "-nnport", str(settings.hdfs_port), "-httpport", str(settings.hdfs_http_port),
                "-datanodes", "1", "-writeConfig", str(home / "hdfs-site.xml")]
    # -format wipes the NameNode; without it the cluster restarts on the existing data.
    if not formatted_marker.is_file():
        command.append("-format")
    for key, value in options.items():
        command += ["-D", f"{key}={value}"]
    start_and_wait(settings, "hdfs", "hdfs", command, lambda: hdfs_ready(settings))
    formatted_marker.write_text("formatted\n")


def hdfs_ready(settings: StackSettings) -> bool:
    status, _ = http_get(f"{settings.webhdfs_url}/?op=LISTSTATUS&user.name=stack")
    if status != 200:
        return False
    base = f"http://127.0.0.1:{settings.hdfs_http_port}/jmx?qry=Hadoop:service=NameNode,name="
    status, body = http_get(base + "FSNamesystemState")
    beans = json.loads(body).get("beans", []) if status == 200 else []
    if not beans or beans[0].get("NumLiveDataNodes", 0) < 1:
        return False
    status, body = http_get(base + "NameNodeInfo")
    beans = json.loads(body).get("beans", []) if status == 200 else []
    # "Safemode" is an empty string once the NameNode accepts writes.
    return bool(beans) and beans[0].get("Safemode", "x") == ""


# ---------------------------------------------------------------------------- metastore


def pyspark_jar_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent / "jars"


def metastore_ports(settings: StackSettings) -> dict[str, int]:
    return {"STACK_METASTORE_PORT": settings.metastore_port}


def start_metastore(settings: StackSettings) -> None:
    home = settings.component_dir("metastore")
    conf_dir = home / "conf"
    render("hive-site.xml", conf_dir / "hive-site.xml",
           derby_dir=home / "metastore_db", warehouse_dir=settings.warehouse_dir, default_fs=settings.hdfs_url)
    command = java_command(settings, "512m", [str(conf_dir), str(pyspark_jar_dir() / "*")],
                           [*HADOOP_JAVA17_FLAGS, f"-Dderby.stream.error.file={home / 'derby.log'}",
                            # Without these, Hive's bundled log4j2 config writes to /tmp/<user>/hive.log.
                            "-Dhive.root.logger=console", f"-Dhive.log.dir={home}"])
    command += ["org.apache.hadoop.hive.metastore.HiveMetaStore", "-p", str(settings.metastore_port)]
    start_and_wait(settings, "metastore", "metastore", command, lambda: metastore_ready(settings), cwd=home)


def metastore_ready(settings: StackSettings) -> bool:
    # HiveMetaStore opens its Thrift port only after the Derby schema exists.
    return procs.port_accepts(settings.metastore_port)


# ---------------------------------------------------------------------------- hbase


def hbase_ports(settings: StackSettings) -> dict[str, int]:
    return {
        "STACK_HBASE_ZOOKEEPER_PORT": settings.hbase_zookeeper_port,
        "STACK_HBASE_MASTER_PORT": settings.hbase_master_port,
        "STACK_HBASE_REGIONSERVER_PORT": settings.hbase_regionserver_port,
        "STACK_HBASE_THRIFT_PORT": settings.hbase_thrift_port,
    }


def hbase_conf_dir(settings: StackSettings) -> Path:
    return settings.component_dir("hbase") / "conf"


def start_hbase(settings: StackSettings) -> None:
    home = settings.component_dir("hbase")
    render("hbase-site.xml", hbase_conf_dir(settings) / "hbase-site.xml",
           rootdir=f"file://{home / 'data'}", tmpdir=home / "tmp", zookeeper_dir=home / "zookeeper",
           zookeeper_port=settings.hbase_zookeeper_port, master_port=settings.hbase_master_port,
           regionserver_port=settings.hbase_regionserver_port, thrift_port=settings.hbase_thrift_port)
    classpath = [str(hbase_conf_dir(settings)), jars.classpath("hbase", settings)]
    master = java_command(settings, "768m", classpath, [*HBASE_JAVA17_FLAGS, log4j2_flag(),
                                                        f"-Dhbase.log.dir={home}"])
    master += ["org.apache.hadoop.hbase.master.HMaster", "start"]
    start_and_wait(settings, "hbase", "hbase", master, lambda: hbase_master_ready(settings))

    from vitals_stack import hbase_thrift

    # The gateway runs "python -m vitals_stack.hbase_thrift", which needs this package on its path.
    python_path = os.pathsep.join(filter(None, [str(REPO_ROOT / "stack"), os.environ.get("PYTHONPATH")]))
    start_and_wait(settings, "hbase", "hbase-thrift", hbase_thrift.command(settings),
                   lambda: hbase_ready(settings), env={"PYTHONPATH": python_path})


def hbase_master_ready(settings: StackSettings) -> bool:
    return all(procs.port_accepts(port) for port in (
        settings.hbase_zookeeper_port, settings.hbase_master_port, settings.hbase_regionserver_port))


def hbase_ready(settings: StackSettings) -> bool:
    import happybase

    connection = happybase.Connection(settings.hbase_thrift_host, settings.hbase_thrift_port, timeout=10_000)
    try:
        connection.tables()
    finally:
        connection.close()
    return True


# ---------------------------------------------------------------------------- moto


def moto_ports(settings: StackSettings) -> dict[str, int]:
    return {"STACK_MOTO_PORT": settings.moto_port}


def start_moto(settings: StackSettings) -> None:
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(settings.moto_port)]
    start_and_wait(settings, "moto", "moto", command, lambda: moto_server_ready(settings))
    create_alert_topic(settings)


def moto_server_ready(settings: StackSettings) -> bool:
    status, _ = http_get(f"{settings.sns_endpoint}/moto-api/")
    return status == 200


def create_alert_topic(settings: StackSettings) -> None:
    """Create the SNS alert topic and the SQS tap queue subscribed to it with raw delivery.

    Every call is idempotent in moto: creating an existing topic, queue or subscription
    returns the existing one.
    """
    import boto3

    sns = boto3.client("sns", **settings.aws_client_kwargs())
    sqs = boto3.client("sqs", **settings.aws_client_kwargs())
    topic_arn = sns.create_topic(Name=settings.sns_topic)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=settings.sqs_tap_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    log.info("moto: topic %s delivers raw messages to queue %s", topic_arn, queue_url)


def moto_ready(settings: StackSettings) -> bool:
    if not moto_server_ready(settings):
        return False
    import boto3

    sns = boto3.client("sns", **settings.aws_client_kwargs())
    sns.get_topic_attributes(TopicArn=settings.sns_topic_arn)
    return True


# ---------------------------------------------------------------------------- source database


def start_source(settings: StackSettings) -> None:
    settings.source_db_path.parent.mkdir(parents=True, exist_ok=True)


def source_ready(settings: StackSettings) -> bool:
    return settings.source_db_path.parent.is_dir()


# ---------------------------------------------------------------------------- registry

COMPONENTS: dict[str, Component] = {
    component.name: component
    for component in (
        Component("kafka", ["kafka"], kafka_ports, lambda s: s.kafka_port, start_kafka, kafka_ready,
                  jar_sets=["kafka"]),
        Component("hdfs", ["hdfs"], hdfs_ports, lambda s: s.hdfs_port, start_hdfs, hdfs_ready,
                  jar_sets=["hdfs"]),
        # The metastore keeps its warehouse on HDFS, so HDFS must be up first.
        Component("metastore", ["metastore"], metastore_ports, lambda s: s.metastore_port, start_metastore,
                  metastore_ready, depends_on=["hdfs"]),
        Component("hbase", ["hbase", "hbase-thrift"], hbase_ports, lambda s: s.hbase_thrift_port, start_hbase,
                  hbase_ready, jar_sets=["hbase"]),
        Component("moto", ["moto"], moto_ports, lambda s: s.moto_port, start_moto, moto_ready,
                  needs_java=False),
        Component("source", [], lambda s: {}, lambda s: None, start_source, source_ready, needs_java=False),
        # Scrapes the pipeline's stages, which run outside the stack, so it needs no other component.
        Component("prometheus", ["prometheus"], prometheus.prometheus_ports, lambda s: s.prometheus_port,
                  prometheus.start_prometheus, prometheus.prometheus_ready,
                  starts_after=["kafka", "hdfs", "metastore", "hbase", "moto", "source"], needs_java=False),
    )
}
