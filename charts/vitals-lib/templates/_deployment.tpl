{{/* Resources of a stage that runs as a Deployment (producer, notifier). */}}

{{- define "vitals-lib.serviceaccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "vitals-lib.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end -}}
{{- end -}}

{{- define "vitals-lib.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    {{- toYaml .Values.updateStrategy | nindent 4 }}
  selector:
    matchLabels:
      {{- include "vitals-lib.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "vitals-lib.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include "vitals-lib.configChecksum" . }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "vitals-lib.serviceAccountName" . }}
      {{- /* The stages never call the Kubernetes API; an IRSA token is projected separately by EKS. */}}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "vitals-lib.podSecurityContext" . | nindent 8 }}
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      containers:
        - name: {{ include "vitals-lib.stage" . }}
          image: {{ include "vitals-lib.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          {{- with .Values.command }}
          command:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: metrics
              containerPort: {{ .Values.metrics.port }}
              protocol: TCP
          envFrom:
            {{- include "vitals-lib.envFrom" . | nindent 12 }}
          {{- with include "vitals-lib.secretKeyRefs" . }}
          env:
            {{- . | nindent 12 }}
          {{- end }}
          {{- include "vitals-lib.probes" (dict "Values" .Values "port" "metrics") | nindent 10 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- include "vitals-lib.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .Values.persistence }}
            - name: data
              mountPath: {{ .mountPath }}
            {{- end }}
            {{- with include "vitals-lib.kafkaCaMount" . }}
            {{- . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
        {{- with .Values.persistence }}
        - name: data
          {{- if .enabled }}
          persistentVolumeClaim:
            claimName: {{ default (include "vitals-lib.fullname" $) .existingClaim }}
          {{- else }}
          emptyDir:
            sizeLimit: {{ .size }}
          {{- end }}
        {{- end }}
        {{- with include "vitals-lib.kafkaCaVolume" . }}
        {{- . | nindent 8 }}
        {{- end }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{- define "vitals-lib.pvc" -}}
{{- with .Values.persistence -}}
{{- if and .enabled (not .existingClaim) -}}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ include "vitals-lib.fullname" $ }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" $ | nindent 4 }}
spec:
  accessModes:
    - ReadWriteOnce
  {{- with .storageClassName }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ .size }}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vitals-lib.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "vitals-lib.fullname" . }}-metrics
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "vitals-lib.selectorLabels" . | nindent 4 }}
  ports:
    - name: metrics
      port: {{ .Values.metrics.port }}
      targetPort: metrics
      protocol: TCP
{{- end -}}

{{- define "vitals-lib.pdb" -}}
{{- if .Values.podDisruptionBudget.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "vitals-lib.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/*
maxReplicas is checked by the chart that includes this template (for example against the
partition count of the consumed topic) before it is rendered.
*/}}
{{- define "vitals-lib.hpa" -}}
{{- if .Values.autoscaling.enabled -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "vitals-lib.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
  {{- with .Values.autoscaling.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/*
Ingress: only the metrics port, from the namespaces in networkPolicy.metricsNamespaces and from
this namespace. Egress: DNS plus the ports listed in networkPolicy.egressPorts (Kafka, SNS, the
source database, ...), to any address because broker and AWS addresses are not stable.
*/}}
{{- define "vitals-lib.networkpolicy" -}}
{{- if .Values.networkPolicy.enabled -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "vitals-lib.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    - ports:
        - port: metrics
          protocol: TCP
      from:
        - podSelector: {}
        {{- range .Values.networkPolicy.metricsNamespaces }}
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: {{ . }}
        {{- end }}
  egress:
    - ports:
        - port: 53
          protocol: UDP
        - port: 53
          protocol: TCP
    {{- with .Values.networkPolicy.egressPorts }}
    - ports:
        {{- range . }}
        - port: {{ . }}
          protocol: TCP
        {{- end }}
    {{- end }}
{{- end -}}
{{- end -}}

{{- define "vitals-lib.servicemonitor" -}}
{{- if .Values.serviceMonitor.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "vitals-lib.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "vitals-lib.labels" . | nindent 4 }}
    {{- with .Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "vitals-lib.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout }}
{{- end -}}
{{- end -}}
