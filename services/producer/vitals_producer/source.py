"""Batched, ordered reading of the source table through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, MetaData, Table, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchTableError, SQLAlchemyError

from vitals_common.errors import StartupError

Row = Mapping[str, Any]


def masked_url(url: str) -> str:
    """Return the URL with its password replaced by ***, or a placeholder when it cannot be parsed."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def create_source_engine(url: str) -> Engine:
    """Create the engine, or raise StartupError when the URL is invalid or its SQLite file does not exist."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StartupError(f"invalid PRODUCER_SOURCE_URL {masked_url(url)}: {exc}") from exc
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        if not Path(parsed.database).exists():
            raise StartupError(
                f"source database {masked_url(url)} does not exist; create it (vitals-seed) "
                "or set PRODUCER_SOURCE_URL"
            )
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise StartupError(f"cannot use source database {masked_url(url)}: {exc}") from exc


class SourceTable:
    """The source table, read in pages ordered by a unique, increasing column.

    Each page is one query, `WHERE order_column > :last ORDER BY order_column LIMIT n`, so memory
    stays bounded by the page size whatever the table size.

    NOTE: rows that share an order key with the last row of a page are never read, so the order
    column must be unique. The run detects duplicates only within one page.
    """

    def __init__(self, engine: Engine, table_name: str, order_column: str):
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=True)
        try:
            self.table = Table(table_name, MetaData(), autoload_with=engine)
        except NoSuchTableError as exc:
            raise StartupError(
                f"table {table_name!r} not found in source database {self.url}; "
                "create and fill it (vitals-seed) or set PRODUCER_SOURCE_TABLE"
            ) from exc
        except SQLAlchemyError as exc:
            raise StartupError(f"source database {self.url} is unreachable: {exc.__class__.__name__}: {exc}") from exc
        self.name = table_name
        self.require_columns([order_column])
        self.order_column = self.table.c[order_column]

    def require_columns(self, columns: Iterable[str]) -> None:
        """Raise StartupError naming the columns that the table lacks, and listing the ones it has."""
        missing = [c for c in columns if c not in self.table.c]
        if missing:
            raise StartupError(
                f"table {self.name!r} in {self.url} has no column(s) {', '.join(missing)}; "
                f"its columns are {', '.join(self.column_names)}"
            )

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.table.columns]

    def read_after(self, last_key: Any, limit: int) -> list[dict[str, Any]]:
        """Return up to `limit` rows whose order key is greater than `last_key` (all rows when None)."""
        query = select(self.table).order_by(self.order_column).limit(limit)
        if last_key is not None:
            query = query.where(self.order_column > last_key)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def count_after(self, last_key: Any) -> int:
        """Return how many rows have an order key greater than `last_key` (all rows when None)."""
        query = select(func.count()).select_from(self.table)
        if last_key is not None:
            query = query.where(self.order_column > last_key)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())
