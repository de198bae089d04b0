"""Alerter stage: compares archived readings with age-banded thresholds and raises alerts."""
