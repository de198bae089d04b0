"""A synthetic patient roster and synthetic vitals, made from a fixed seed.

The vitals follow the capstone's wide layout (`row_seq, customerId, heartBeat, bp`): one row per
reading, cycling through the roster. Most readings sit in each patient's normal band; a few
episodes per patient push heart rate or blood pressure out of range for several readings in a row,
so a run raises a predictable, modest number of alerts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DEFAULT_SEED = 20261204
CONTACT_COLUMNS = (
    "patientid",
    "patientname",
    "patientaddress",
    "phone_number",
    "admitted_ward",
    "age",
    "other_details",
)


@dataclass(frozen=True)
class Patient:
    patient_id: str
    name: str
    address: str
    phone: str
    ward: str
    age: int | None
    other_details: str | None = None

    def contact_row(self) -> tuple:
        return (self.patient_id, self.name, self.address, self.phone, self.ward, self.age, self.other_details)


def roster(count: int = 12, seed: int = DEFAULT_SEED) -> list[Patient]:
    """Return `count` patients with ids 1001.. and ages spread over both capstone age bands.

    The last patient is 102 years old, older than every band of the capstone table, so the demo
    shows how a reading that no rule can evaluate is counted and sent to the unrouted topic.
    """
    rng = random.Random(seed)
    patients = []
    for index in range(count):
        age = 102 if index == count - 1 and count > 1 else rng.randint(18, 95)
        patients.append(
            Patient(
                patient_id=str(1001 + index),
                name=f"Synthetic Patient {index + 1:02d}",
                address=f"Block {chr(65 + index % 4)}, bed {index + 1}",
                phone=f"+1555010{index + 1:04d}",  # 555-01xx numbers are reserved for fiction
                ward=str(1 + index % 5),
                age=age,
            )
        )
    return patients


def _normal_ranges(age: int | None) -> tuple[tuple[int, int], tuple[int, int]]:
    """Heart-rate and bp ranges that are normal in the capstone table for this age."""
    if age is not None and age <= 40:
        return (70, 78), (161, 220)
    return (66, 73), (151, 180)


def wide_vitals(patients: list[Patient], rows: int = 300, seed: int = DEFAULT_SEED) -> list[tuple]:
    """Return `rows` capstone-layout rows (row_seq, customerId, heartBeat, bp)."""
    rng = random.Random(seed + 1)
    # Each patient gets episodes: a start (in that patient's own reading count) and a kind.
    per_patient = max(1, rows // max(1, len(patients)))
    episodes = {}
    for patient in patients:
        starts = rng.sample(range(per_patient), k=min(2, per_patient))
        episodes[patient.patient_id] = {s: rng.choice(("tachycardia", "bradycardia", "hypertension", "hypotension")) for s in starts}
    out = []
    for row_seq in range(1, rows + 1):
        patient = patients[(row_seq - 1) % len(patients)]
        nth = (row_seq - 1) // len(patients)
        (hr_low, hr_high), (bp_low, bp_high) = _normal_ranges(patient.age)
        heart_rate = rng.randint(hr_low, hr_high)
        bp = rng.randint(bp_low, bp_high)
        kind = next((k for s, k in episodes[patient.patient_id].items() if s <= nth < s + 3), None)
        if kind == "tachycardia":
            heart_rate = rng.randint(hr_high + 15, hr_high + 60)
        elif kind == "bradycardia":
            heart_rate = rng.randint(max(30, hr_low - 25), hr_low - 2)
        elif kind == "hypertension":
            bp = rng.randint(bp_high + 5, bp_high + 40)
        elif kind == "hypotension":
            bp = rng.randint(max(80, bp_low - 50), bp_low - 2)
        out.append((row_seq, patient.patient_id, heart_rate, bp))
    return out
