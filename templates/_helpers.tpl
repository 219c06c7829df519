{{/*
edge.name: the chart name, for the app.kubernetes.io/name label.
Usage: {{ include "edge.name" . }}
*/}}
{{- define "edge.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
edge.labels: labels every object of the chart carries.
Usage: {{ include "edge.labels" (dict "context" . "component" "node-init") }}
*/}}
{{- define "edge.labels" -}}
{{- if not (and (hasKey . "context") (hasKey . "component")) -}}
{{- fail "edge.labels takes (dict \"context\" $ \"component\" NAME)" -}}
{{- end -}}
helm.sh/chart: {{ printf "%s-%s" .context.Chart.Name .context.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
app.kubernetes.io/part-of: {{ include "edge.name" .context }}
app.kubernetes.io/version: {{ .context.Chart.AppVersion | quote }}
{{ include "edge.selectorLabels" . }}
{{- end -}}

{{/*
edge.selectorLabels: the immutable subset of edge.labels used in selectors.
Usage: {{ include "edge.selectorLabels" (dict "context" . "component" "node-init") }}
*/}}
{{- define "edge.selectorLabels" -}}
{{- if not (and (hasKey . "context") (hasKey . "component")) -}}
{{- fail "edge.selectorLabels takes (dict \"context\" $ \"component\" NAME)" -}}
{{- end -}}
app.kubernetes.io/name: {{ include "edge.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
edge.portMap: the public port → NodePort pairs node-init forwards, derived from the Kong proxy
listeners so the two halves can never disagree. Renders "80:30080 443:30443" (enabled listeners only).
Usage: {{ include "edge.portMap" . }}
*/}}
{{- define "edge.portMap" -}}
{{- $pairs := list -}}
{{- range $name := list "http" "tls" -}}
{{- $listener := index $.Values.kong.proxy $name -}}
{{- if $listener.enabled -}}
{{- $pairs = append $pairs (printf "%d:%d" (int $listener.servicePort) (int $listener.nodePort)) -}}
{{- end -}}
{{- end -}}
{{- join " " $pairs -}}
{{- end -}}

{{/*
edge.podSecurityLabels: Pod Security admission labels enforcing, auditing and warning at one level.
Usage: {{ include "edge.podSecurityLabels" "restricted" }}
*/}}
{{- define "edge.podSecurityLabels" -}}
{{- if not (has . (list "privileged" "baseline" "restricted")) -}}
{{- fail (printf "edge.podSecurityLabels: unknown Pod Security level %q" .) -}}
{{- end -}}
{{- range $mode := list "enforce" "audit" "warn" }}
pod-security.kubernetes.io/{{ $mode }}: {{ $ }}
pod-security.kubernetes.io/{{ $mode }}-version: latest
{{- end }}
{{- end -}}

{{/*
edge.kong.fullname: the name the Kong subchart gives its objects (its kong.fullname helper), so
edge's objects can point at them.
Usage: {{ include "edge.kong.fullname" . }}
*/}}
{{- define "edge.kong.fullname" -}}
{{- $kong := .Values.kong -}}
{{- if $kong.fullnameOverride -}}
{{- $kong.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (default "kong" $kong.nameOverride) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
edge.kong.podLabels: labels that select Kong's gateway pods (the Kong chart's selector labels).
Usage: {{ include "edge.kong.podLabels" . }}
*/}}
{{- define "edge.kong.podLabels" -}}
app.kubernetes.io/name: {{ default "kong" .Values.kong.nameOverride }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
app.kubernetes.io/component: app
{{- end -}}

{{/*
edge.image: an image reference from a {repository, tag, digest} value: repository:tag, or
repository:tag@digest when a digest is set (the runtime pulls by digest; the tag is for humans).
Usage: {{ include "edge.image" .Values.nodeInit.image }}
*/}}
{{- define "edge.image" -}}
{{- if not (and (hasKey . "repository") (hasKey . "tag")) -}}
{{- fail "edge.image takes an image value with repository, tag and digest" -}}
{{- end -}}
{{- if .digest -}}
{{- printf "%s:%s@%s" .repository .tag .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
{{- end -}}
