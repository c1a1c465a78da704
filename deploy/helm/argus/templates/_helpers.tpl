{{- define "argus.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "argus.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "argus.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "argus.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "argus.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-env" (include "argus.fullname" .)) -}}
{{- end -}}

{{/* envFrom shared by every Argus container: the ConfigMap, then the Secret. */}}
{{- define "argus.envFrom" -}}
- configMapRef:
    name: {{ include "argus.fullname" . }}-config
- secretRef:
    name: {{ include "argus.secretName" . }}
{{- end -}}

{{/* Writable folders (the root file system is read-only): work folders and /tmp; and the
     backends' TLS files when backendTls.secretName is set. */}}
{{- define "argus.dataVolume" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- with .Values.backendTls.secretName }}
- name: backend-tls
  secret:
    secretName: {{ . }}
{{- end }}
{{- end -}}

{{- define "argus.dataMounts" -}}
- name: data
  mountPath: /var/lib/argus
- name: tmp
  mountPath: /tmp
{{- if .Values.backendTls.secretName }}
- name: backend-tls
  mountPath: {{ .Values.backendTls.mountPath }}
  readOnly: true
{{- end }}
{{- end -}}
