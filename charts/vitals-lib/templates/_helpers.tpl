{{/*
Names and labels. The stage is the chart name without its "vitals-" prefix, and the stage's
environment prefix is that stage in upper case (PRODUCER, INGEST, ALERTER, NOTIFIER), the prefix
the stage's pydantic-settings class reads.
*/}}

{{- define "vitals-lib.stage" -}}
{{- .Chart.Name | trimPrefix "vitals-" -}}
{{- end -}}

{{- define "vitals-lib.envPrefix" -}}
{{- include "vitals-lib.stage" . | upper -}}
{{- end -}}

{{- define "vitals-lib.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "vitals-lib.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vitals-lib.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vitals-lib.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vitals-lib.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vitals-lib.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ include "vitals-lib.stage" . }}
app.kubernetes.io/part-of: vitals-alerting
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "vitals-lib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "vitals-lib.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "vitals-lib.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}

{{/* A hash of the rendered ConfigMap and Secret: pods roll whenever either changes. */}}
{{- define "vitals-lib.configChecksum" -}}
{{- printf "%s\n%s" (include "vitals-lib.configmap" .) (include "vitals-lib.secret" .) | sha256sum -}}
{{- end -}}

{{/* Pod-level security: a fixed non-root user, the runtime's default seccomp profile. */}}
{{- define "vitals-lib.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
fsGroup: {{ .Values.securityContext.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "vitals-lib.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.securityContext.runAsUser }}
runAsGroup: {{ .Values.securityContext.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ ne (toString .Values.securityContext.readOnlyRootFilesystem) "false" }}
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Call with (dict "Values" .Values "port" <port name or number>). */}}
{{- define "vitals-lib.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  initialDelaySeconds: {{ .Values.probes.liveness.initialDelaySeconds }}
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  initialDelaySeconds: {{ .Values.probes.readiness.initialDelaySeconds }}
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
{{- end -}}
