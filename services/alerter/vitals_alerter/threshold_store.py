"""The threshold table in HBase, read and written with happybase over the Thrift1 server.

Layout: one row per rule, the row key is the rule id (the capstone `ref_id`), and the cells are
`attr:attribute`, `limit:low_age_limit`, `limit:high_age_limit`, `limit:low_range_value`,
`limit:high_range_value`, `alert:alert_flag` and `alert:alert_message`, all UTF-8 strings. The
reader looks only at qualifiers, so tables that use other family names (`attribute:`,
`Limit:`) or the `low_value`/`high_value` qualifiers load unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import happybase

from vitals_common.errors import StartupError
from vitals_common.thresholds import ThresholdTable

FAMILIES = {"attr": "attribute", "limit": "limit", "alert": "alert"}
CELL_FAMILY = {
    "attribute": "attr",
    "low_age_limit": "limit",
    "high_age_limit": "limit",
    "low_range_value": "limit",
    "high_range_value": "limit",
    "alert_flag": "alert",
    "alert_message": "alert",
}


def connect(host: str, port: int, timeout_ms: int = 20000) -> happybase.Connection:
    try:
        connection = happybase.Connection(host, port, timeout=timeout_ms, autoconnect=False)
        connection.open()
        connection.tables()
    except Exception as exc:  # thriftpy2 raises several transport errors; all mean "unreachable"
        raise StartupError(
            f"HBase Thrift server at {host}:{port} is unreachable ({type(exc).__name__}: {exc}); "
            "start it (make stack-up) or set ALERTER_HBASE_HOST / ALERTER_HBASE_PORT"
        ) from exc
    return connection


def _decode_row(cells: Mapping[bytes, bytes]) -> dict[str, str]:
    return {column.decode().split(":", 1)[-1]: value.decode() for column, value in cells.items()}


def load_thresholds(connection: happybase.Connection, table_name: str) -> ThresholdTable:
    """Scan the whole table and validate it; raises InvalidThresholdTable naming bad rows."""
    if table_name.encode() not in connection.tables():
        raise StartupError(
            f"HBase table {table_name!r} not found; load it with `vitals-seed thresholds` "
            "or set ALERTER_HBASE_TABLE"
        )
    return ThresholdTable.from_records(read_records(connection, table_name))


def read_records(connection: happybase.Connection, table_name: str) -> list[tuple[str, dict[str, str]]]:
    """Return every row as (row key, {qualifier: value}), the raw form `from_records` validates."""
    table = connection.table(table_name)
    return [(key.decode(), _decode_row(cells)) for key, cells in table.scan()]


def write_thresholds(
    connection: happybase.Connection, table_name: str, rows: Iterable[tuple[str, Mapping[str, object]]]
) -> int:
    """Create the table if needed and put each (rule id, fields) row; return the number written."""
    if table_name.encode() not in connection.tables():
        connection.create_table(table_name, {family: {"max_versions": 1} for family in FAMILIES})
    table = connection.table(table_name)
    written = 0
    with table.batch() as batch:
        for rule_id, fields in rows:
            cells = {
                f"{CELL_FAMILY[name]}:{name}".encode(): str(fields[name]).encode()
                for name in CELL_FAMILY
            }
            batch.put(str(rule_id).encode(), cells)
            written += 1
    return written
