#!/bin/bash
# Entry point of the Spark stage images (vitals-ingest, vitals-alerter).
#
# Spark on Kubernetes (and so the spark-operator) starts the driver pod with the arguments
# `driver --properties-file FILE --class org.apache.spark.deploy.PythonRunner APP [ARGS]` and each
# executor pod with the argument `executor` plus SPARK_EXECUTOR_* variables. Any other command
# runs as given, so `podman run IMAGE python -m vitals_ingest --help` works.
set -euo pipefail

spark_java_options() {
    # Spark passes executor JVM options as SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in that order.
    env | grep -E '^SPARK_JAVA_OPT_[0-9]+=' | sort -t_ -k4 -n | sed -E 's/^SPARK_JAVA_OPT_[0-9]+=//'
}

case "${1:-}" in
    driver)
        shift
        exec "$SPARK_HOME/bin/spark-submit" \
            --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:-0.0.0.0}" \
            --deploy-mode client \
            "$@"
        ;;
    executor)
        shift
        # NOTE: this branch follows the variables Spark 4.2's KubernetesExecutorBackend pods get;
        # it has not been run in a cluster from this repository.
        mapfile -t java_options < <(spark_java_options)
        exec java "${java_options[@]}" \
            -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" \
            -cp "${SPARK_CLASSPATH:+$SPARK_CLASSPATH:}$SPARK_HOME/jars/*" \
            org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
            --driver-url "$SPARK_DRIVER_URL" \
            --executor-id "$SPARK_EXECUTOR_ID" \
            --cores "$SPARK_EXECUTOR_CORES" \
            --app-id "$SPARK_APPLICATION_ID" \
            --hostname "$SPARK_EXECUTOR_POD_IP" \
            --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
            --podName "$SPARK_EXECUTOR_POD_NAME"
        ;;
    *)
        exec "$@"
        ;;
esac
