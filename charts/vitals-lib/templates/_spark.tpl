{{/*
Resources of a stage that runs as a Kubeflow spark-operator SparkApplication (ingest, alerter).
The image carries the Kafka connector jars in $SPARK_HOME/jars, so nothing is downloaded at submit
time, and the stage's entry file at /opt/vitals/bin/<stage>.py.
*/}}

{{- define "vitals-lib.sparkVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- with include "vitals-lib.kafkaCaMount" . }}
{{ . }}
{{- end }}
{{- end -}}

{{/* Spark's own metrics through the PrometheusServlet sink on the driver's UI port (4040). */}}
{{- define "vitals-lib.sparkMetricsConf" -}}
spark.ui.prometheus.enabled: "true"
spark.sql.streaming.metricsEnabled: "true"
spark.metrics.conf.*.sink.prometheusServlet.class: org.apache.spark.metrics.sink.PrometheusServlet
spark.metrics.conf.*.sink.prometheusServlet.path: /metrics/prometheus
spark.metrics.conf.master.sink.prometheusServlet.path: /metrics/master/prometheus
spark.metrics.conf.applications.sink.prometheusServlet.path: /metrics/applications/prometheus
{{- end -}}

{{- define "vitals-lib.sparkapplication" -}}
{{- $stage := include "vitals-lib.stage" . -}}
{{- $checksum := include "vitals-lib.configChecksum" . -}}
apiVersion: sparkoperator.k8s.io/v1beta2
kind: SparkApplication
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
  annotations:
    checksum/config: {{ $checksum }}
spec:
  type: Python
  pythonVersion: "3"
  mode: cluster
  image: {{ include "vitals-lib.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - {{ .name }}
    {{- end }}
  {{- end }}
  mainApplicationFile: {{ printf "local:///opt/vitals/bin/%s.py" $stage }}
  arguments: []
  sparkVersion: {{ .Values.spark.version | quote }}
  {{- /* Always: a streaming job is restarted after a failure and after an unexpected clean exit alike, without a retry limit. */}}
  restartPolicy:
    type: Always
    onFailureRetryInterval: {{ .Values.restartPolicy.onFailureRetryInterval }}
    onSubmissionFailureRetryInterval: {{ .Values.restartPolicy.onSubmissionFailureRetryInterval }}
  sparkConf:
    {{- $conf := fromYaml (include "vitals-lib.sparkMetricsConf" .) }}
    {{- $_ := set $conf "spark.kubernetes.executor.deleteOnTermination" "true" }}
    {{- toYaml (merge (dict) .Values.spark.conf $conf) | nindent 4 }}
  {{- with .Values.spark.hadoopConf }}
  hadoopConf:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.spark.tmpSize }}
    {{- with include "vitals-lib.kafkaCaVolume" . }}
    {{- . | nindent 4 }}
    {{- end }}
  driver:
    cores: {{ .Values.driver.cores }}
    coreRequest: {{ .Values.driver.coreRequest | quote }}
    coreLimit: {{ .Values.driver.coreLimit | quote }}
    memory: {{ .Values.driver.memory | quote }}
    memoryOverhead: {{ .Values.driver.memoryOverhead | quote }}
    serviceAccount: {{ .Values.spark.serviceAccount }}
    labels:
      {{- include "vitals-lib.labels" . | nindent 6 }}
    annotations:
      checksum/config: {{ $checksum }}
      {{- with .Values.podAnnotations }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    envFrom:
      {{- include "vitals-lib.envFrom" . | nindent 6 }}
    {{- with include "vitals-lib.secretKeyRefs" . }}
    env:
      {{- . | nindent 6 }}
    {{- end }}
    ports:
      - name: metrics
        containerPort: {{ .Values.metrics.port }}
        protocol: TCP
    podSecurityContext:
      {{- include "vitals-lib.podSecurityContext" . | nindent 6 }}
    securityContext:
      {{- include "vitals-lib.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
      {{- include "vitals-lib.sparkVolumeMounts" . | nindent 6 }}
    {{- /* Spark builds the driver container from this one, probes included. A port number, because the template container declares no ports. */}}
    template:
      spec:
        containers:
          - name: spark-kubernetes-driver
            {{- include "vitals-lib.probes" (dict "Values" .Values "port" .Values.metrics.port) | nindent 12 }}
  executor:
    instances: {{ .Values.executor.instances }}
    cores: {{ .Values.executor.cores }}
    coreRequest: {{ .Values.executor.coreRequest | quote }}
    coreLimit: {{ .Values.executor.coreLimit | quote }}
    memory: {{ .Values.executor.memory | quote }}
    memoryOverhead: {{ .Values.executor.memoryOverhead | quote }}
    serviceAccount: {{ .Values.spark.serviceAccount }}
    labels:
      {{- include "vitals-lib.labels" . | nindent 6 }}
    annotations:
      checksum/config: {{ $checksum }}
    podSecurityContext:
      {{- include "vitals-lib.podSecurityContext" . | nindent 6 }}
    securityContext:
      {{- include "vitals-lib.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
      {{- include "vitals-lib.sparkVolumeMounts" . | nindent 6 }}
{{- end -}}

{{/* Scrapes the driver: the stage's /metrics and Spark's PrometheusServlet endpoints. */}}
{{- define "vitals-lib.podmonitor" -}}
{{- if .Values.podMonitor.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
    {{- with .Values.podMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "vitals-lib.selectorLabels" . | nindent 6 }}
      spark-role: driver
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  podMetricsEndpoints:
    - port: metrics
      path: /metrics
      interval: {{ .Values.podMonitor.interval }}
    - port: spark-ui
      path: /metrics/prometheus
      interval: {{ .Values.podMonitor.interval }}
    - port: spark-ui
      path: /metrics/executors/prometheus
      interval: {{ .Values.podMonitor.interval }}
{{- end -}}
{{- end -}}
