"""Metric label values with a bounded number of distinct values."""

from __future__ import annotations

import threading

OVERFLOW_VALUE = "other"
MISSING_VALUE = "unknown"


class BoundedLabelValues:
    """Passes through the first `max_values` distinct values and maps every later one to "other".

    Prometheus keeps one time series per label value, so a label fed from data (a ward name from
    the contact table) needs a cap. Values are never patient-identifying by contract of the caller.
    """

    def __init__(self, max_values: int, max_length: int = 64):
        self.max_values = max_values
        self.max_length = max_length
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def value(self, raw: str | None) -> str:
        """Return the label value for `raw`: itself (truncated), "unknown" when empty, or "other" past the cap."""
        text = (raw or "").strip()[: self.max_length]
        if not text:
            return MISSING_VALUE
        with self._lock:
            if text in self._seen:
                return text
            if len(self._seen) >= self.max_values:
                return OVERFLOW_VALUE
            self._seen.add(text)
            return text
