"""Consumes alerts from the doctor topic and publishes each one once to an SNS topic."""
