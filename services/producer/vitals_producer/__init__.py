"""Reads vitals rows from a SQL table and publishes them as events to Kafka."""
