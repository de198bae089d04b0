"""The capstone threshold table, embedded so the demo needs no download.

These are the 12 rows published by the "Instant Health Alert System" data-engineering capstone
(HBase table `threshold_ref`): age-banded heart rate (`heartBeat`) and single-integer blood
pressure (`bp`) ranges, inclusive, 9999 meaning open-ended. They are course-made numbers, not
clinical guidance.
"""

from __future__ import annotations

THRESHOLD_COLUMNS = (
    "ref_id",
    "attribute",
    "low_age_limit",
    "high_age_limit",
    "low_range_value",
    "high_range_value",
    "alert_flag",
    "alert_message",
)

CAPSTONE_THRESHOLDS = (
    (1, "heartBeat", 0, 40, 0, 69, 1, "Low Heart Rate than Normal"),
    (2, "heartBeat", 0, 40, 70, 78, 0, "Normal"),
    (3, "heartBeat", 0, 40, 79, 9999, 1, "Higher Heart Rate than Normal"),
    (4, "bp", 0, 40, 0, 160, 1, "Low BP than Normal"),
    (5, "bp", 0, 40, 161, 220, 0, "Normal"),
    (6, "bp", 0, 40, 221, 9999, 1, "Higher BP than Normal"),
    (7, "heartBeat", 41, 100, 0, 65, 1, "Low Heart Rate than Normal"),
    (8, "heartBeat", 41, 100, 66, 73, 0, "Normal"),
    (9, "heartBeat", 41, 100, 74, 9999, 1, "Higher Heart Rate than Normal"),
    (10, "bp", 41, 100, 0, 150, 1, "Low BP than Normal"),
    (11, "bp", 41, 100, 151, 180, 0, "Normal"),
    (12, "bp", 41, 100, 181, 9999, 1, "Higher BP than Normal"),
)


def capstone_threshold_rows() -> list[tuple[str, dict[str, object]]]:
    """Return the embedded table as (ref_id, fields) pairs, the shape the threshold store writes."""
    return [(str(row[0]), dict(zip(THRESHOLD_COLUMNS[1:], row[1:]))) for row in CAPSTONE_THRESHOLDS]
