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

{{/*
edge.cidrPrefix: the network part of a CIDR as bits after its family: "4:00001010" for 10.0.0.0/8,
"6:11111101" for fd00::/8, "4:" for 0.0.0.0/0. Two ranges overlap exactly when one's result starts
with the other's. Takes a CIDR the schema accepted: IPv4, or IPv6 in any RFC 4291 text form
(`::`, upper case, an embedded IPv4 address).
Usage: {{ include "edge.cidrPrefix" "fd00::/8" }}
*/}}
{{- define "edge.cidrPrefix" -}}
{{- if not (and (kindIs "string" .) (eq (len (splitList "/" .)) 2)) -}}
{{- fail (printf "edge.cidrPrefix takes a CIDR such as 10.0.0.0/8, not %v" .) -}}
{{- end -}}
{{- $addr := lower (first (splitList "/" .)) -}}
{{- $length := int (last (splitList "/" .)) -}}
{{- $bits := "" -}}
{{- if not (contains ":" $addr) -}}
{{- range $octet := splitList "." $addr -}}
{{- $bits = print $bits (printf "%08b" (int $octet)) -}}
{{- end -}}
{{- printf "4:%s" (trunc $length $bits) -}}
{{- else -}}
{{- /* An embedded IPv4 address (::ffff:10.0.0.0) becomes the two hex groups it stands for. */ -}}
{{- $v4 := last (splitList ":" $addr) -}}
{{- if contains "." $v4 -}}
{{- $o := splitList "." $v4 -}}
{{- $addr = printf "%s%02x%02x:%02x%02x" (trimSuffix $v4 $addr) (int (index $o 0)) (int (index $o 1)) (int (index $o 2)) (int (index $o 3)) -}}
{{- end -}}
{{- /* "::" stands for as many zero groups as the eight need. */ -}}
{{- $halves := splitList "::" $addr -}}
{{- $head := list -}}
{{- $tail := list -}}
{{- with first $halves }}{{ $head = splitList ":" . }}{{ end -}}
{{- if eq (len $halves) 2 }}{{ with last $halves }}{{ $tail = splitList ":" . }}{{ end }}{{ end -}}
{{- $groups := $head -}}
{{- range until (int (sub 8 (add (len $head) (len $tail)))) }}{{ $groups = append $groups "0" }}{{ end -}}
{{- $nibbles := dict "0" "0000" "1" "0001" "2" "0010" "3" "0011" "4" "0100" "5" "0101" "6" "0110" "7" "0111" "8" "1000" "9" "1001" "a" "1010" "b" "1011" "c" "1100" "d" "1101" "e" "1110" "f" "1111" -}}
{{- range $group := concat $groups $tail -}}
{{- range $digit := splitList "" (trunc -4 (print "000" $group)) -}}
{{- $bits = print $bits (get $nibbles $digit) -}}
{{- end -}}
{{- end -}}
{{- printf "6:%s" (trunc $length $bits) -}}
{{- end -}}
{{- end -}}
