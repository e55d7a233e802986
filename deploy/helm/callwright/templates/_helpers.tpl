{{- define "callwright.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "callwright.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "callwright.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "callwright.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The settings every container of the chart shares. */}}
{{- define "callwright.env" -}}
- name: CALLWRIGHT_ENV
  value: production
- name: CALLWRIGHT_PUBLIC_URL
  value: {{ .Values.publicUrl | quote }}
- name: CALLWRIGHT_VAR_DIR
  value: /var/lib/callwright
{{- range $name, $value := .Values.env }}
{{- if has $name (list "CALLWRIGHT_SECRET_KEY" "CALLWRIGHT_PREVIOUS_SECRET_KEYS" "CALLWRIGHT_ADMIN_TOKEN" "CALLWRIGHT_DATABASE_URL" "CALLWRIGHT_REDIS_URL") }}
{{- fail (printf "env.%s: a secret; put it in the Secret %q (existingSecret), not in values" $name $.Values.existingSecret) }}
{{- end }}
{{- if hasSuffix "_API_KEY" $name }}
{{- fail (printf "env.%s: a key; put it in the Secret %q (existingSecret), not in values" $name $.Values.existingSecret) }}
{{- end }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
