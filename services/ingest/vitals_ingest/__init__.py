"""Ingest stage: archives the vitals topic as date-partitioned parquet on HDFS."""
