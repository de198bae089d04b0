"""`vitals-seed`: load thresholds into HBase, contacts into Hive and vitals into the source database.

Without file arguments every command loads the project's embedded defaults (the capstone threshold
table, a synthetic roster and synthetic vitals from a fixed seed). With file arguments it loads the
capstone CSV layouts (`threshold_ref.csv`, `patients_information.csv`, `patients_vital_info.csv`)
or the MIMIC-IV demo extract, so existing users can load their own tables.
"""

from __future__ import annotations

import argparse
import csv
import logging
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, create_engine, insert

from vitals_common.errors import StartupError, run_cli
from vitals_common.logs import configure_logging
from vitals_common.thresholds import InvalidThresholdTable, ThresholdTable
from vitals_stack import synthetic
from vitals_stack.reference_data import capstone_threshold_rows
from vitals_stack.settings import StackSettings

log = logging.getLogger("vitals_seed")

WIDE_TABLE = "patients_vital_info"
LONG_TABLE = "vitals_long"
CONTACT_TABLE = "vitals.patients_contact_info"
HBASE_TABLE = "threshold_ref"
# Every MIMIC-IV patient's first reading is moved to this instant, so that patients whose
# de-identified dates lie centuries apart interleave like one ward admitted together.
MIMIC_ANCHOR = datetime(2026, 1, 1)


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise StartupError(f"input file {path} not found")
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _require_columns(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> None:
    present = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in present]
    if missing:
        raise StartupError(f"{path} lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}")


# Thresholds -> HBase ------------------------------------------------------------------------


def seed_thresholds(args: argparse.Namespace, stack: StackSettings) -> None:
    from vitals_alerter.threshold_store import connect, read_records, write_thresholds

    if args.csv:
        rows = _read_csv(Path(args.csv))
        records = [(row.get("ref_id") or str(i), row) for i, row in enumerate(rows, start=1)]
    else:
        records = capstone_threshold_rows()
    connection = connect(args.hbase_host or stack.host, args.hbase_port or stack.hbase_thrift_port)
    try:
        exists = args.table.encode() in connection.tables()
        if args.merge and exists:
            # The new rows replace stored rows with the same ref_id; the result must still be valid.
            new_ids = {str(rule_id) for rule_id, _ in records}
            kept = [(key, fields) for key, fields in read_records(connection, args.table) if key not in new_ids]
            records = kept + records
        try:
            table = ThresholdTable.from_records(records)
        except InvalidThresholdTable as exc:
            raise StartupError(f"{exc}; nothing was written to HBase table {args.table}") from exc
        if exists:
            connection.delete_table(args.table, disable=True)
        written = write_thresholds(connection, args.table, records)
    finally:
        connection.close()
    print(f"thresholds: {written} rows written to HBase table {args.table} (version {table.version})")


# Contacts -> Hive ---------------------------------------------------------------------------


def _age(path: Path, line: int, raw: str) -> int | None:
    if not raw.strip():
        return None
    try:
        return int(float(raw))
    except ValueError:
        raise StartupError(f"{path} line {line}: age={raw!r} is not a number; write whole years or leave it empty") from None


def _contacts_from_capstone(path: Path) -> list[tuple]:
    rows = _read_csv(path)
    _require_columns(path, rows, synthetic.CONTACT_COLUMNS[:6])
    return [
        (
            r["patientid"].strip(),
            r["patientname"],
            r["patientaddress"],
            r["phone_number"],
            r["admitted_ward"].strip(),
            _age(path, line, r["age"]),
            r.get("other_details") or None,
        )
        for line, r in enumerate(rows, start=2)
    ]


def _contacts_from_admissions(path: Path) -> list[tuple]:
    """Build one synthetic contact per MIMIC-IV subject, with the age at the subject's first admission."""
    rows = _read_csv(path)
    _require_columns(path, rows, ("subject_id", "admittime", "age_at_admission"))
    first: dict[str, dict[str, str]] = {}
    for row in sorted(rows, key=lambda r: (r["subject_id"], r["admittime"])):
        first.setdefault(row["subject_id"], row)
    contacts = []
    for index, (subject, row) in enumerate(sorted(first.items()), start=1):
        contacts.append(
            (subject, f"Demo Patient {index:03d}", f"ICU bed {index}", f"+1555020{index:04d}",
             f"ICU-{1 + index % 4}", int(row["age_at_admission"]), "MIMIC-IV demo subject")
        )
    return contacts


def seed_contacts(args: argparse.Namespace, stack: StackSettings) -> None:
    contacts: list[tuple] = []
    if args.csv:
        contacts += _contacts_from_capstone(Path(args.csv))
    if args.admissions:
        contacts += _contacts_from_admissions(Path(args.admissions))
    if not contacts:
        contacts = [p.contact_row() for p in synthetic.roster(args.synthetic_patients)]

    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is not None:
        # getOrCreate would hand back this process's session, which may lack Hive support or point
        # at another metastore, so the load runs in a process of its own.
        child = subprocess.run([sys.executable, "-m", "vitals_stack.seed", *args.argv])
        if child.returncode != 0:
            raise StartupError(f"loading contacts failed in a child process (exit {child.returncode}); see above")
        return

    from vitals_common.spark import SparkSettings, build_session

    # The stack's own addresses, so that changed STACK_* ports need no matching SPARK_* settings.
    spark_settings = SparkSettings(metastore_uri=stack.metastore_uri, default_fs=stack.hdfs_url)
    spark = build_session("vitals-seed", spark_settings)
    try:
        frame = spark.createDataFrame(
            contacts,
            "patientid string, patientname string, patientaddress string, phone_number string, "
            "admitted_ward string, age int, other_details string",
        )
        database = args.table.rpartition(".")[0] or "default"
        spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
        frame.write.mode("overwrite").format("parquet").saveAsTable(args.table)
        count = spark.table(args.table).count()
    finally:
        spark.stop()
    print(f"contacts: {count} rows written to Hive table {args.table}")


# Vitals -> source database ------------------------------------------------------------------


def _wide_table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("row_seq", Integer, primary_key=True),
        Column("customerId", String, nullable=True),
        Column("heartBeat", Float, nullable=True),
        Column("bp", Float, nullable=True),
    )


def _long_table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("row_id", Integer, primary_key=True),
        Column("subject_id", String, nullable=True),
        Column("charttime", String, nullable=True),
        Column("vital", String, nullable=True),
        Column("value", Float, nullable=True),
        Column("unit", String, nullable=True),
        Column("charttime_original", String, nullable=True),
    )


def _number(raw: str) -> float | None:
    raw = raw.strip()
    return float(raw) if raw else None


def _mimic_rows(path: Path, patients: int, skip: int, max_rows: int, vitals: set[str]) -> list[dict]:
    rows = _read_csv(path)
    _require_columns(path, rows, ("subject_id", "charttime", "vital", "value", "unit"))
    ordered = sorted({r["subject_id"] for r in rows})[skip:]
    subjects = set(ordered[:patients] if patients else ordered)
    chosen = [r for r in rows if r["subject_id"] in subjects and (not vitals or r["vital"] in vitals)]
    first_time: dict[str, datetime] = defaultdict(lambda: datetime.max)
    for r in chosen:
        ts = datetime.fromisoformat(r["charttime"])
        first_time[r["subject_id"]] = min(first_time[r["subject_id"]], ts)
    out = []
    for r in chosen:
        rebased = MIMIC_ANCHOR + (datetime.fromisoformat(r["charttime"]) - first_time[r["subject_id"]])
        out.append(
            {
                "subject_id": r["subject_id"],
                "charttime": rebased.isoformat(sep=" "),
                "vital": r["vital"],
                "value": _number(r["value"]),
                "unit": r["unit"],
                "charttime_original": r["charttime"],
            }
        )
    out.sort(key=lambda r: (r["charttime"], r["subject_id"], r["vital"]))
    if max_rows:
        out = out[:max_rows]
    for row_id, row in enumerate(out, start=1):
        row["row_id"] = row_id
    return out


def seed_vitals(args: argparse.Namespace, stack: StackSettings) -> None:
    url = args.url or stack.source_db_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    metadata = MetaData()
    if args.mimic_long:
        table = _long_table(metadata, args.table or LONG_TABLE)
        vitals = {v.strip() for v in args.vitals.split(",") if v.strip()}
        rows = _mimic_rows(Path(args.mimic_long), args.patients, args.skip_patients, args.rows, vitals)
    elif args.csv:
        table = _wide_table(metadata, args.table or WIDE_TABLE)
        source = _read_csv(Path(args.csv))
        _require_columns(Path(args.csv), source, ("row_seq", "customerId", "heartBeat", "bp"))
        rows = [
            {"row_seq": int(r["row_seq"]), "customerId": r["customerId"].strip(),
             "heartBeat": _number(r["heartBeat"]), "bp": _number(r["bp"])}
            for r in source
        ]
    else:
        table = _wide_table(metadata, args.table or WIDE_TABLE)
        patients = synthetic.roster(args.synthetic_patients)
        rows = [
            {"row_seq": seq, "customerId": pid, "heartBeat": float(hr), "bp": float(bp)}
            for seq, pid, hr, bp in synthetic.wide_vitals(patients, args.rows or 300)
        ]
    with engine.begin() as connection:
        table.drop(connection, checkfirst=True)
        table.create(connection)
        if rows:
            connection.execute(insert(table), rows)
    print(f"vitals: {len(rows)} rows written to table {table.name} at {engine.url.render_as_string(hide_password=True)}")


def seed_all(args: argparse.Namespace, stack: StackSettings) -> None:
    for command in (seed_thresholds, seed_contacts, seed_vitals):
        command(_defaults_for(command.__name__), stack)


def _defaults_for(name: str) -> argparse.Namespace:
    argv = [name.removeprefix("seed_")]
    args = build_parser().parse_args(argv)
    args.argv = argv
    return args


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitals-seed",
        description="Load thresholds into HBase, contacts into Hive and vitals into the source database.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    thresholds = sub.add_parser("thresholds", help="load the threshold table into HBase")
    thresholds.add_argument("--csv", help="a threshold_ref.csv file; default: the embedded capstone table")
    thresholds.add_argument("--table", default=HBASE_TABLE, help="HBase table name (default: %(default)s)")
    thresholds.add_argument("--hbase-host", help="HBase Thrift host (default: the local stack's)")
    thresholds.add_argument("--hbase-port", type=int, help="HBase Thrift port (default: the local stack's)")
    thresholds.add_argument(
        "--merge", action="store_true",
        help="keep stored rows whose ref_id the input lacks (default: the input replaces the whole table)",
    )
    thresholds.set_defaults(func=seed_thresholds)

    contacts = sub.add_parser("contacts", help="load the patient contact table into Hive")
    contacts.add_argument("--csv", help="a patients_information.csv file")
    contacts.add_argument("--admissions", help="a MIMIC-IV demo admissions file: one synthetic contact per subject")
    contacts.add_argument("--synthetic-patients", type=int, default=12, help="roster size when no file is given")
    contacts.add_argument("--table", default=CONTACT_TABLE, help="Hive table, database.table (default: %(default)s)")
    contacts.set_defaults(func=seed_contacts)

    vitals = sub.add_parser("vitals", help="load vitals rows into the source database (replaces the table)")
    vitals.add_argument("--csv", help="a patients_vital_info.csv file (wide layout)")
    vitals.add_argument("--mimic-long", help="the MIMIC-IV demo long extract (long layout)")
    vitals.add_argument("--patients", type=int, default=0, help="MIMIC: first N subjects by id; 0 = all")
    vitals.add_argument("--skip-patients", type=int, default=0, help="MIMIC: skip the first N subjects by id")
    vitals.add_argument("--vitals", default="heart_rate,sbp", help="MIMIC: vital names to keep (default: %(default)s)")
    vitals.add_argument("--rows", type=int, default=0, help="maximum rows; synthetic default 300; 0 = all")
    vitals.add_argument("--synthetic-patients", type=int, default=12, help="roster size of the synthetic vitals")
    vitals.add_argument("--url", help="SQLAlchemy URL (default: the local stack's SQLite file)")
    vitals.add_argument("--table", help=f"table name (default: {WIDE_TABLE}, or {LONG_TABLE} for --mimic-long)")
    vitals.set_defaults(func=seed_vitals)

    everything = sub.add_parser("all", help="load the embedded defaults into all three stores")
    everything.set_defaults(func=seed_all)
    return parser


def _main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(argv)
    configure_logging("seed", "WARNING")
    args.func(args, StackSettings())
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_cli(lambda: _main(argv if argv is not None else sys.argv[1:]), "vitals-seed")


if __name__ == "__main__":
    raise SystemExit(main())
