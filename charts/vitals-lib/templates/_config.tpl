{{/*
Configuration of a stage as environment variables. Plain settings go into a ConfigMap, inline
secrets into a Secret, and both reach the container through envFrom; values held in existing
Secrets are referenced one by one with secretKeyRef.
*/}}

{{/* Where the Kafka CA bundle is mounted when kafka.tls.caSecret is set. */}}
{{- define "vitals-lib.kafkaCaDir" -}}/etc/vitals/kafka-ca{{- end -}}

{{- define "vitals-lib.configData" -}}
{{- $prefix := include "vitals-lib.envPrefix" . -}}
{{- $data := dict -}}
{{- range $key, $value := .Values.env -}}
{{- if not (kindIs "invalid" $value) -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $data (printf "%s_METRICS_HOST" $prefix) "0.0.0.0" -}}
{{- $_ := set $data (printf "%s_METRICS_PORT" $prefix) (toString .Values.metrics.port) -}}
{{- $kafka := .Values.kafka -}}
{{- $_ := set $data "KAFKA_BOOTSTRAP_SERVERS" $kafka.bootstrapServers -}}
{{- $_ := set $data "KAFKA_SECURITY_PROTOCOL" $kafka.securityProtocol -}}
{{- if $kafka.sasl.mechanism -}}
{{- $_ := set $data "KAFKA_SASL_MECHANISM" $kafka.sasl.mechanism -}}
{{- end -}}
{{- if $kafka.sasl.username -}}
{{- $_ := set $data "KAFKA_SASL_USERNAME" $kafka.sasl.username -}}
{{- end -}}
{{- if $kafka.tls.caSecret -}}
{{- $_ := set $data "KAFKA_SSL_CA_LOCATION" (printf "%s/%s" (include "vitals-lib.kafkaCaDir" .) $kafka.tls.caKey) -}}
{{- end -}}
{{- with .Values.spark -}}
{{- $_ := set $data "SPARK_METASTORE_URI" .metastoreUri -}}
{{- $_ := set $data "SPARK_DEFAULT_FS" .defaultFs -}}
{{- $_ := set $data "SPARK_SHUFFLE_PARTITIONS" (toString .shufflePartitions) -}}
{{- /* The stage's session builder turns the Spark UI off, but the PrometheusServlet sink lives on the UI server.
Without a warehouse on HDFS, Spark creates Hive databases under the driver's working directory. */ -}}
{{- $defaults := dict "spark.ui.enabled" "true" "spark.sql.warehouse.dir" (printf "%s/warehouse" (trimSuffix "/" .defaultFs)) -}}
{{- $_ := set $data "SPARK_EXTRA_CONF" (merge (dict) .extraConf $defaults | toJson) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{- define "vitals-lib.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
data:
  {{- include "vitals-lib.configData" . | nindent 2 }}
{{- end -}}

{{/*
Inline secrets, keyed by the variable that carries them. Empty values are left out, and so are
variables that existingSecretEnv takes from another Secret (values files merge maps, so a
default in secretEnv cannot be removed by an override file).
*/}}
{{- define "vitals-lib.secretData" -}}
{{- $data := dict -}}
{{- $external := list -}}
{{- range .Values.existingSecretEnv -}}
{{- $external = append $external .name -}}
{{- end -}}
{{- range $key, $value := .Values.secretEnv -}}
{{- if and $value (not (has $key $external)) -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.kafka.sasl.password (not .Values.kafka.sasl.existingSecret) -}}
{{- $_ := set $data "KAFKA_SASL_PASSWORD" .Values.kafka.sasl.password -}}
{{- end -}}
{{- if $data -}}
{{- toYaml $data -}}
{{- end -}}
{{- end -}}

{{- define "vitals-lib.secret" -}}
{{- $data := include "vitals-lib.secretData" . -}}
{{- if $data -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
type: Opaque
stringData:
  {{- $data | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "vitals-lib.envFrom" -}}
- configMapRef:
    name: {{ include "vitals-lib.fullname" . }}
{{- if include "vitals-lib.secretData" . }}
- secretRef:
    name: {{ include "vitals-lib.fullname" . }}
{{- end }}
{{- end -}}

{{/* Variables read from Secrets that the release does not own. */}}
{{- define "vitals-lib.secretKeyRefs" -}}
{{- $refs := list -}}
{{- with .Values.kafka.sasl.existingSecret -}}
{{- $refs = append $refs (dict "name" "KAFKA_SASL_PASSWORD" "valueFrom" (dict "secretKeyRef" (dict "name" . "key" $.Values.kafka.sasl.passwordKey))) -}}
{{- end -}}
{{- range .Values.existingSecretEnv -}}
{{- $refs = append $refs (dict "name" .name "valueFrom" (dict "secretKeyRef" (dict "name" .secretName "key" .key))) -}}
{{- end -}}
{{- if $refs -}}
{{- toYaml $refs -}}
{{- end -}}
{{- end -}}

{{- define "vitals-lib.kafkaCaVolume" -}}
{{- if .Values.kafka.tls.caSecret -}}
- name: kafka-ca
  secret:
    secretName: {{ .Values.kafka.tls.caSecret }}
    items:
      - key: {{ .Values.kafka.tls.caKey }}
        path: {{ .Values.kafka.tls.caKey }}
{{- end -}}
{{- end -}}

{{- define "vitals-lib.kafkaCaMount" -}}
{{- if .Values.kafka.tls.caSecret -}}
- name: kafka-ca
  mountPath: {{ include "vitals-lib.kafkaCaDir" . }}
  readOnly: true
{{- end -}}
{{- end -}}
