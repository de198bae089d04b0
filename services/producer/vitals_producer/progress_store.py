"""The high-water mark: the last order key whose delivery, and every earlier key's, Kafka confirmed."""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vitals_common.errors import StartupError


class ProgressStore:
    """A JSON file holding the high-water mark of one table, replaced atomically on every save."""

    def __init__(self, path: Path, source_table: str, order_column: str):
        self.path = Path(path)
        self.source_table = source_table
        self.order_column = order_column

    def load(self) -> Any:
        """Return the saved high-water mark, or None when no run has confirmed a row yet.

        Raises StartupError when the file is unreadable or belongs to another table or order column,
        because resuming from it would skip or repeat rows.
        """
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StartupError(f"cannot read progress file {self.path}: {exc.strerror}") from exc
        try:
            body = json.loads(text)
            saved_table, saved_column = body["source_table"], body["order_column"]
            high_water_mark = body["high_water_mark"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StartupError(
                f"progress file {self.path} is not valid ({exc.__class__.__name__}); "
                "fix or delete it (deleting it resends the whole table)"
            ) from exc
        if (saved_table, saved_column) != (self.source_table, self.order_column):
            raise StartupError(
                f"progress file {self.path} belongs to table {saved_table!r} ordered by {saved_column!r}, "
                f"not {self.source_table!r} ordered by {self.order_column!r}; set PRODUCER_PROGRESS_PATH"
            )
        return high_water_mark

    def save(self, high_water_mark: Any) -> None:
        """Write the mark to a temporary file in the same folder, fsync it and rename it over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "source_table": self.source_table,
            "order_column": self.order_column,
            "high_water_mark": high_water_mark,
            "updated_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        fd, temp_name = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(body, handle, default=str)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise


class DeliveryTracker:
    """Order keys in flight, and the high-water mark their delivery confirmations allow.

    Keys are registered in send order. Delivery callbacks may confirm them in any order (messages
    of different partitions complete independently), but the mark only moves past a key when that
    key and every key registered before it are confirmed. A failed key keeps the mark before it for
    the rest of the run, so a restart resends it.
    """

    def __init__(self, high_water_mark: Any = None):
        self.high_water_mark = high_water_mark
        self._pending: OrderedDict[Any, bool] = OrderedDict()
        self.failures: list[tuple[Any, str]] = []

    def register(self, key: Any) -> None:
        if key in self._pending:
            raise ValueError(f"order key {key!r} registered twice; the order column must be unique")
        self._pending[key] = False

    def confirm(self, key: Any) -> None:
        if key not in self._pending:
            return
        self._pending[key] = True
        self._advance()

    def fail(self, key: Any, error: str) -> None:
        self.failures.append((key, error))

    def _advance(self) -> None:
        failed = {key for key, _ in self.failures}
        while self._pending:
            key, confirmed = next(iter(self._pending.items()))
            if not confirmed or key in failed:
                return
            self._pending.popitem(last=False)
            self.high_water_mark = key

    @property
    def in_flight(self) -> int:
        return sum(1 for confirmed in self._pending.values() if not confirmed)
