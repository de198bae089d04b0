from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa


@pytest.fixture
def make_table(tmp_path: Path) -> Callable[..., str]:
    """Return a function that creates a SQLite table from column types and rows, and returns its URL."""

    def create(name: str, columns: dict[str, Any], rows: list[dict[str, Any]], db: str = "source.db") -> str:
        url = f"sqlite:///{tmp_path / db}"
        engine = sa.create_engine(url)
        metadata = sa.MetaData()
        table = sa.Table(
            name,
            metadata,
            *(sa.Column(col, kind, primary_key=(i == 0)) for i, (col, kind) in enumerate(columns.items())),
        )
        metadata.create_all(engine)
        if rows:
            with engine.begin() as connection:
                connection.execute(sa.insert(table), rows)
        engine.dispose()
        return url

    return create


@pytest.fixture
def add_rows() -> Callable[[str, str, list[dict[str, Any]]], None]:
    def insert(url: str, name: str, rows: list[dict[str, Any]]) -> None:
        engine = sa.create_engine(url)
        table = sa.Table(name, sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            connection.execute(sa.insert(table), rows)
        engine.dispose()

    return insert
