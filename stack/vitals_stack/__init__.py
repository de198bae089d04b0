"""Local development stack for the vitals pipeline: Kafka, HDFS, Hive metastore, HBase and moto."""
