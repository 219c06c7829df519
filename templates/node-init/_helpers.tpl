{{/*
edge.nodeInit.name: name of the node-init DaemonSet, ServiceAccount, Role and ConfigMap.
Usage: {{ include "edge.nodeInit.name" . }}
*/}}
{{- define "edge.nodeInit.name" -}}
{{- printf "%s-node-init" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
edge.nodeInit.command: the container command that runs one verb of node-init.sh in the node's
network namespace. hostPID: enter it with nsenter (the script itself never does); hostNetwork:
the pod already is in it. Renders a JSON list.
Usage: {{ include "edge.nodeInit.command" (dict "context" . "verb" "apply") }}
*/}}
{{- define "edge.nodeInit.command" -}}
{{- if not (has .verb (list "apply" "check" "delete" "run" "status" "alive")) -}}
{{- fail (printf "edge.nodeInit.command: unknown verb %q" .verb) -}}
{{- end -}}
{{- $script := list "/bin/sh" "/scripts/node-init.sh" .verb -}}
{{- if eq .context.Values.nodeInit.hostAccess "hostPID" -}}
{{- concat (list "nsenter" "--target" "1" "--net" "--") $script | toJson -}}
{{- else -}}
{{- $script | toJson -}}
{{- end -}}
{{- end -}}

{{/*
edge.nodeInit.securityContext: the container security context for the chosen host access, with
exactly the capabilities that mode needs (each measured; see README "Privileges").
Usage: {{ include "edge.nodeInit.securityContext" . }}
*/}}
{{- define "edge.nodeInit.securityContext" -}}
# root inside the container: netfilter changes need CAP_NET_ADMIN in the node's user namespace.
runAsUser: 0
runAsNonRoot: false
readOnlyRootFilesystem: true
privileged: false
seccompProfile:
  type: RuntimeDefault
capabilities:
  drop: ["ALL"]
{{- if eq .Values.nodeInit.hostAccess "hostPID" }}
  # NET_ADMIN: load the nftables table. SYS_ADMIN: setns() into PID 1's network namespace.
  # SYS_PTRACE: open /proc/1/ns/net of a process holding more capabilities than this one.
  add: ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"]
# allowPrivilegeEscalation is left unset: Kubernetes rejects false together with SYS_ADMIN.
{{- else }}
  # NET_ADMIN: load the nftables table; the pod already is in the node's network namespace.
  add: ["NET_ADMIN"]
allowPrivilegeEscalation: false
{{- end }}
{{- end -}}


{{/*
edge.nodeInit.container: the fields node-init's init and main containers share (image, command,
environment, security context, resources, mounts). The configuration reaches the script only as
literal environment values, which the script validates again; `run` also learns its pod's name,
UID and node from the downward API, for its Events. The mounts list comes last, so a container
can add its own.
Usage: {{ include "edge.nodeInit.container" (dict "context" . "verb" "run") }}
*/}}
{{- define "edge.nodeInit.container" -}}
{{- $ := .context -}}
{{- $v := $.Values.nodeInit -}}
image: {{ include "edge.image" $v.image | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
command: {{ include "edge.nodeInit.command" . }}
env:
  - name: NODE_INIT_PORTS
    value: {{ include "edge.portMap" $ | quote }}
  - name: NODE_INIT_TLS_PORTS
    value: {{ ternary (toString (int $.Values.kong.proxy.tls.servicePort)) "" $.Values.kong.proxy.tls.enabled | quote }}
  - name: NODE_INIT_METHOD
    value: {{ $v.method | quote }}
  - name: NODE_INIT_SOURCE_RANGES
    value: {{ join " " $v.sourceRanges | quote }}
  - name: NODE_INIT_INTERFACES
    value: {{ join " " $v.interfaces | quote }}
  - name: NODE_INIT_RESYNC_SECONDS
    value: {{ $v.resyncSeconds | int | toString | quote }}
  - name: NODE_INIT_STATE_DIR
    value: /run/edge-node-init
  - name: NODE_INIT_NAMESPACE
    value: {{ $v.namespace | quote }}
  - name: NODE_INIT_DAEMONSET
    value: {{ include "edge.nodeInit.name" $ | quote }}
{{- if eq .verb "run" }}
  # Who this pod is, for the Events it sends (downward API, not configuration).
  - name: NODE_INIT_POD_NAME
    valueFrom:
      fieldRef:
        fieldPath: metadata.name
  - name: NODE_INIT_POD_UID
    valueFrom:
      fieldRef:
        fieldPath: metadata.uid
  - name: NODE_INIT_NODE_NAME
    valueFrom:
      fieldRef:
        fieldPath: spec.nodeName
{{- end }}
securityContext:
  {{- include "edge.nodeInit.securityContext" $ | nindent 2 }}
resources:
  {{- toYaml $v.resources | nindent 2 }}
volumeMounts:
  - name: scripts
    mountPath: /scripts
    readOnly: true
  - name: state
    mountPath: /run/edge-node-init
{{- end -}}
