"""The age-banded threshold table and its validation.

The table keeps the capstone layout unchanged: one row per (attribute, age band, value band) with
`low_age_limit`, `high_age_limit`, `low_range_value`, `high_range_value`, `alert_flag` and
`alert_message`. Both limits of each band are inclusive and 9999 means open-ended. A reading
fires a rule when its attribute matches, the patient's age lies in the age band, the value lies in
the value band and `alert_flag` is 1.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from vitals_common.vitals import canonical_vital

OPEN_ENDED = 9999.0

FIELDS = (
    "attribute",
    "low_age_limit",
    "high_age_limit",
    "low_range_value",
    "high_range_value",
    "alert_flag",
    "alert_message",
)

# Qualifier spellings found in existing HBase threshold tables, mapped to the field names above.
QUALIFIER_ALIASES = {
    "low_value": "low_range_value",
    "high_value": "high_range_value",
    "attr": "attribute",
    "message": "alert_message",
    "msg": "alert_message",
    "flag": "alert_flag",
}


class InvalidThresholdTable(ValueError):
    """The threshold table cannot be used; the message lists every offending row."""


@dataclass(frozen=True)
class ThresholdRule:
    rule_id: str
    attribute: str
    low_age_limit: float
    high_age_limit: float
    low_range_value: float
    high_range_value: float
    alert_flag: int
    alert_message: str

    def matches(self, age: float, value: float) -> bool:
        return (
            self.low_age_limit <= age <= match_limit(self.high_age_limit)
            and self.low_range_value <= value <= match_limit(self.high_range_value)
        )

    def describe_range(self) -> str:
        high = "open" if self.high_range_value >= OPEN_ENDED else f"{self.high_range_value:g}"
        return f"{self.low_range_value:g}-{high}"


def _number(rule_id: str, field: str, raw: object, problems: list[str]) -> float:
    try:
        value = float(str(raw).strip())
    except (TypeError, ValueError):
        problems.append(f"row {rule_id}: {field}={raw!r} is not a number")
        return float("nan")
    if not math.isfinite(value):
        problems.append(f"row {rule_id}: {field}={raw!r} must be finite; write {OPEN_ENDED:g} for open-ended")
    return value


def match_limit(high: float) -> float:
    """Return the upper limit used for matching: 9999 and above mean no upper limit."""
    return math.inf if high >= OPEN_ENDED else high


def parse_rule(rule_id: str, fields: Mapping[str, object], problems: list[str]) -> ThresholdRule | None:
    """Build one rule from a mapping of field name to raw value, appending problems found."""
    normalised = {QUALIFIER_ALIASES.get(k.strip(), k.strip()): v for k, v in fields.items()}
    missing = [f for f in FIELDS if normalised.get(f) in (None, "")]
    if missing:
        problems.append(f"row {rule_id}: missing {', '.join(missing)}")
        return None
    try:
        attribute = canonical_vital(str(normalised["attribute"]))
    except ValueError as exc:
        problems.append(f"row {rule_id}: {exc}")
        return None
    numbers = {
        f: _number(rule_id, f, normalised[f], problems)
        for f in ("low_age_limit", "high_age_limit", "low_range_value", "high_range_value")
    }
    flag_raw = str(normalised["alert_flag"]).strip()
    if flag_raw not in ("0", "1"):
        problems.append(f"row {rule_id}: alert_flag={flag_raw!r} must be 0 or 1")
        return None
    return ThresholdRule(
        rule_id=str(rule_id),
        attribute=attribute,
        alert_flag=int(flag_raw),
        alert_message=str(normalised["alert_message"]).strip(),
        **numbers,
    )


def _overlap(a_low: float, a_high: float, b_low: float, b_high: float) -> bool:
    return a_low <= b_high and b_low <= a_high


class ThresholdTable:
    """A validated, immutable set of threshold rules with a content version."""

    def __init__(self, rules: Iterable[ThresholdRule]):
        self.rules: tuple[ThresholdRule, ...] = tuple(sorted(rules, key=_rule_sort_key))
        problems = validate_rules(self.rules)
        if problems:
            raise InvalidThresholdTable("invalid threshold table: " + "; ".join(problems))
        digest = hashlib.sha256()
        for rule in self.rules:
            digest.update(repr(asdict(rule)).encode())
        self.version = digest.hexdigest()[:12]

    def __len__(self) -> int:
        return len(self.rules)

    def attributes(self) -> set[str]:
        return {r.attribute for r in self.rules}

    def match(self, attribute: str, age: float, value: float) -> ThresholdRule | None:
        """Return the rule whose bands contain (age, value), or None when no band does."""
        for rule in self.rules:
            if rule.attribute == attribute and rule.matches(age, value):
                return rule
        return None

    def covers_age(self, attribute: str, age: float) -> bool:
        return any(
            r.attribute == attribute and r.low_age_limit <= age <= match_limit(r.high_age_limit)
            for r in self.rules
        )

    @classmethod
    def from_records(cls, records: Iterable[tuple[str, Mapping[str, object]]]) -> "ThresholdTable":
        """Build a table from (row id, fields) pairs, reporting every bad row at once."""
        problems: list[str] = []
        rules = []
        seen: set[str] = set()
        for rule_id, fields in records:
            if str(rule_id) in seen:
                problems.append(f"row id {rule_id} appears more than once; each rule needs its own ref_id")
                continue
            seen.add(str(rule_id))
            rule = parse_rule(rule_id, fields, problems)
            if rule is not None:
                rules.append(rule)
        if problems:
            raise InvalidThresholdTable("invalid threshold table: " + "; ".join(problems))
        if not rules:
            raise InvalidThresholdTable("invalid threshold table: it has no rows")
        return cls(rules)

    @classmethod
    def from_csv(cls, path: str | Path) -> "ThresholdTable":
        """Read the capstone `threshold_ref.csv` layout (a `ref_id` column is optional)."""
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            records = [
                (row.get("ref_id") or str(index), row) for index, row in enumerate(reader, start=1)
            ]
        return cls.from_records(records)


def _rule_sort_key(rule: ThresholdRule) -> tuple:
    return (rule.attribute, rule.low_age_limit, rule.low_range_value, rule.rule_id)


def validate_rules(rules: Iterable[ThresholdRule]) -> list[str]:
    """Return a description of every inverted band and every overlapping pair of rules."""
    rules = list(rules)
    problems = []
    for rule in rules:
        if rule.low_age_limit > rule.high_age_limit:
            problems.append(
                f"row {rule.rule_id}: age band inverted "
                f"({rule.low_age_limit:g} > {rule.high_age_limit:g})"
            )
        if rule.low_range_value > rule.high_range_value:
            problems.append(
                f"row {rule.rule_id}: value band inverted "
                f"({rule.low_range_value:g} > {rule.high_range_value:g})"
            )
        if rule.low_age_limit < 0 or rule.low_range_value < 0:
            problems.append(f"row {rule.rule_id}: limits must be >= 0")
    for i, a in enumerate(rules):
        for b in rules[i + 1 :]:
            if (
                a.attribute == b.attribute
                and _overlap(a.low_age_limit, a.high_age_limit, b.low_age_limit, b.high_age_limit)
                and _overlap(
                    a.low_range_value, a.high_range_value, b.low_range_value, b.high_range_value
                )
            ):
                problems.append(
                    f"rows {a.rule_id} and {b.rule_id} overlap for {a.attribute} "
                    f"(ages {a.low_age_limit:g}-{a.high_age_limit:g} / "
                    f"{b.low_age_limit:g}-{b.high_age_limit:g}, values "
                    f"{a.describe_range()} / {b.describe_range()})"
                )
    return problems
