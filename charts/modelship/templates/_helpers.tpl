{{- define "modelship.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
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
{{/* "namespace" or "cluster": where the controller's RBAC applies (rbac.scope, auto follows controller.namespaces). */}}
{{- define "modelship.rbacScope" -}}
{{- $scope := .Values.rbac.scope -}}
{{- if eq $scope "auto" -}}
{{- $scope = "cluster" -}}
{{- if .Values.controller.namespaces }}{{ $scope = "namespace" }}{{ end -}}
{{- end -}}
{{- if and (eq $scope "namespace") (not .Values.controller.namespaces) -}}
{{- fail "rbac.scope namespace needs controller.namespaces: the namespaces the controller may act in" -}}
{{- end -}}
{{- $scope -}}
{{- end -}}
{{/*
What the controller does in each namespace it watches; docs/rbac.md says why each rule is there. A ClusterRole
in cluster scope, a Role in each watched namespace in namespace scope.
*/}}
{{- define "modelship.namespacedRules" -}}
- apiGroups: [modelship.io]
  resources: [modeldeployments]
  verbs: [get, list, watch]
- apiGroups: [modelship.io]
  resources: [modeldeployments/status]
  verbs: [get, patch]
- apiGroups: [modelship.io]
  resources: [modeldeployments/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [services, serviceaccounts, configmaps, secrets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [autoscaling]
  resources: [horizontalpodautoscalers]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [batch]
  resources: [cronjobs, jobs]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [gateway.networking.k8s.io]
  resources: [httproutes]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [networking.istio.io]
  resources: [virtualservices]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [keda.sh]
  resources: [scaledobjects]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [http.keda.sh]
  resources: [httpscaledobjects]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get]
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
{{/* Cluster-wide reads, in both scopes. */}}
{{- define "modelship.clusterReadRules" -}}
- apiGroups: [""]
  resources: [nodes]
  verbs: [list, watch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways]
  verbs: [get]
{{- end -}}
{{- define "modelship.controllerSelector" -}}
app.kubernetes.io/name: modelship
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}
