"""Canonical vital-sign names, the legacy names still accepted, units and LOINC codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VitalSign:
    name: str
    unit: str
    loinc: str
    label: str


VITAL_SIGNS: dict[str, VitalSign] = {
    v.name: v
    for v in (
        VitalSign("heart_rate", "bpm", "8867-4", "Heart rate"),
        VitalSign("bp_systolic", "mmHg", "8480-6", "Systolic blood pressure"),
        VitalSign("bp_diastolic", "mmHg", "8462-4", "Diastolic blood pressure"),
        VitalSign("spo2", "%", "59408-5", "Oxygen saturation"),
        VitalSign("resp_rate", "breaths/min", "9279-1", "Respiratory rate"),
        VitalSign("temp_c", "degC", "8310-5", "Body temperature"),
    )
}

VITAL_NAMES: tuple[str, ...] = tuple(VITAL_SIGNS)

# Names used by existing tables. The capstone schema has `heartBeat` and a single integer `bp`,
# which is the systolic pressure; the MIMIC-IV extract uses `sbp`, `dbp` and `temp_c`.
VITAL_ALIASES: dict[str, str] = {
    "heartbeat": "heart_rate",
    "heart_beat": "heart_rate",
    "hr": "heart_rate",
    "pulse": "heart_rate",
    "bp": "bp_systolic",
    "sbp": "bp_systolic",
    "systolic": "bp_systolic",
    "dbp": "bp_diastolic",
    "diastolic": "bp_diastolic",
    "spo2": "spo2",
    "sao2": "spo2",
    "resp_rate": "resp_rate",
    "respiratory_rate": "resp_rate",
    "rr": "resp_rate",
    "temp": "temp_c",
    "temperature": "temp_c",
}


def canonical_vital(name: str) -> str:
    """Map a canonical or legacy vital name to its canonical name.

    Raises ValueError naming the unknown value and the accepted names.
    """
    key = name.strip()
    if key in VITAL_SIGNS:
        return key
    lowered = key.lower()
    if lowered in VITAL_SIGNS:
        return lowered
    if lowered in VITAL_ALIASES:
        return VITAL_ALIASES[lowered]
    accepted = ", ".join(VITAL_NAMES + ("heartBeat", "bp", "sbp", "dbp"))
    raise ValueError(f"unknown vital sign {name!r}; use one of: {accepted}")
