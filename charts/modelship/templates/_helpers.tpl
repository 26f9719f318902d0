{{- define "modelship.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- define "modelship.labels" -}}
app.kubernetes.io/name: modelship
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "modelship.collectorUrl" -}}
http://{{ .Release.Name }}-collector.{{ .Release.Namespace }}.svc:9090
{{- end -}}
{{- define "modelship.collectorTokenSecret" -}}
{{ .Values.collector.auth.existingSecret | default (printf "%s-collector-token" .Release.Name) }}
{{- end -}}
