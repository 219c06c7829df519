#!/bin/sh
# edge node-init: make this network namespace's own addresses answer on the public ports
# (80/443) by sending that traffic to Kong's NodePorts (30080/30443).
#
# Verbs: apply | check | delete | run | status | alive. The script acts on the network namespace it
# runs in; entering the node's namespace is the container command's job (nsenter or hostNetwork).
#
# Configuration, all from the environment (set as literal values by the chart, validated here):
#   NODE_INIT_PORTS           "80:30080 443:30443"  public port:NodePort pairs
#   NODE_INIT_METHOD          auto | nftables | iptables-redirect
#   NODE_INIT_SOURCE_RANGES   client CIDRs allowed (space separated; empty = all)
#   NODE_INIT_INTERFACES      incoming interfaces (space separated, trailing * = prefix; empty = all)
#   NODE_INIT_RESYNC_SECONDS  seconds between drift checks in `run`
#   NODE_INIT_STATE_DIR       where `apply` records the ruleset `check` compares against
#   NODE_INIT_NAMESPACE, NODE_INIT_DAEMONSET
#                             the DaemonSet whose deletion (uninstall, nodeInit.enabled=false)
#                             makes `run` remove the rules when it is stopped
#   NODE_INIT_API_URL         Kubernetes API base URL (default: from KUBERNETES_SERVICE_HOST/PORT)
#
# How the rules work: one nftables table of our own (inet family: IPv4 and IPv6) with chains on
# the prerouting and output hooks. Method `nftables` rewrites the destination port at priority
# -150 (after conntrack, before kube-proxy's DNAT at -100): conntrack keeps the original port, so
# kube-proxy sees the NodePort and replies are translated back by conntrack itself. A nat REDIRECT
# (method `iptables-redirect`) would bind NAT for the connection before kube-proxy's NodePort DNAT
# could, so it only works under kube-proxy IPVS mode, which serves NodePorts after PREROUTING.
# Only TCP addressed to a local, non-loopback address is touched, and never an address kube-proxy
# IPVS holds for a Service on kube-ipvs0.
set -eu

TABLE=edge_node_init
FAMILY=inet
STATE_DIR=${NODE_INIT_STATE_DIR:-/run/edge-node-init}

log() { printf '%s node-init: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

require() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed in this image"
  done
}

# --- validation: every value is checked before it can reach a rule --------------------------

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; [ "${#1}" -le 5 ]; }

valid_port() { is_uint "$1" && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]; }

valid_ipv4_cidr() {
  case $1 in */*) ;; *) return 1 ;; esac
  addr=${1%/*} len=${1#*/}
  is_uint "$len" && [ "$len" -le 32 ] || return 1
  printf '%s\n' "$addr" | grep -Eq '^([0-9]{1,3}\.){3}[0-9]{1,3}$' || return 1
  old_ifs=$IFS; IFS=.
  # shellcheck disable=SC2086 # split on dots on purpose
  set -- $addr
  IFS=$old_ifs
  for octet in "$@"; do [ "$octet" -le 255 ] || return 1; done
}

valid_ipv6_cidr() {
  case $1 in */*) ;; *) return 1 ;; esac
  addr=${1%/*} len=${1#*/}
  is_uint "$len" && [ "$len" -le 128 ] || return 1
  printf '%s\n' "$addr" | grep -Eq '^[0-9A-Fa-f:.]{2,45}$' || return 1
  case $addr in *:*) ;; *) return 1 ;; esac
  # at most one "::", at most 8 groups of at most 4 hex digits
  [ "$(printf '%s' "$addr" | grep -o '::' | wc -l)" -le 1 ] || return 1
  printf '%s\n' "$addr" | awk -F: '{ if (NF > 9) exit 1; for (i = 1; i <= NF; i++) if (length($i) > 4 && $i !~ /\./) exit 1 }'
}

valid_interface() { printf '%s\n' "$1" | grep -Eq '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}[*]?$'; }

load_config() {
  PORTS=${NODE_INIT_PORTS:-}
  METHOD=${NODE_INIT_METHOD:-auto}
  SOURCE_RANGES=${NODE_INIT_SOURCE_RANGES:-}
  INTERFACES=${NODE_INIT_INTERFACES:-}
  RESYNC=${NODE_INIT_RESYNC_SECONDS:-30}

  [ -n "$PORTS" ] || die "NODE_INIT_PORTS is empty; expected pairs like '80:30080 443:30443'"
  seen=" "
  for pair in $PORTS; do
    case $pair in *:*) ;; *) die "NODE_INIT_PORTS: '$pair' is not PUBLIC:NODEPORT" ;; esac
    public=${pair%%:*} nodeport=${pair#*:}
    valid_port "$public" || die "NODE_INIT_PORTS: public port '$public' in '$pair' is not a port (1-65535)"
    valid_port "$nodeport" || die "NODE_INIT_PORTS: NodePort '$nodeport' in '$pair' is not a port (1-65535)"
    [ "$public" != "$nodeport" ] || die "NODE_INIT_PORTS: '$pair' maps a port to itself"
    case $seen in *" $public "*) die "NODE_INIT_PORTS: public port $public appears twice" ;; esac
    seen="$seen$public "
  done

  case $METHOD in auto | nftables | iptables-redirect) ;;
    *) die "NODE_INIT_METHOD: '$METHOD' is not one of auto, nftables, iptables-redirect" ;; esac

  SOURCES4="" SOURCES6=""
  for cidr in $SOURCE_RANGES; do
    if valid_ipv4_cidr "$cidr"; then SOURCES4="$SOURCES4${SOURCES4:+, }$cidr"
    elif valid_ipv6_cidr "$cidr"; then SOURCES6="$SOURCES6${SOURCES6:+, }$cidr"
    else die "NODE_INIT_SOURCE_RANGES: '$cidr' is not an IPv4 or IPv6 CIDR (e.g. 10.0.0.0/8, fd00::/8)"
    fi
  done

  IIFNAMES=""
  for name in $INTERFACES; do
    valid_interface "$name" || die "NODE_INIT_INTERFACES: '$name' is not an interface name (at most 15 of A-Z a-z 0-9 _ . -, optional trailing *)"
    IIFNAMES="$IIFNAMES${IIFNAMES:+, }\"$name\""
  done

  is_uint "$RESYNC" && [ "$RESYNC" -ge 1 ] && [ "$RESYNC" -le 3600 ] ||
    die "NODE_INIT_RESYNC_SECONDS: '$RESYNC' is not a whole number of seconds (1-3600)"
}

# --- detection ------------------------------------------------------------------------------

# The kube-proxy mode this network namespace shows: ipvs, nftables, iptables-nft,
# iptables-legacy or none.
detect_proxy_mode() {
  # IPVS mode always creates the dummy interface kube-ipvs0 to hold Service addresses.
  if ip -o link show dev kube-ipvs0 >/dev/null 2>&1; then
    echo ipvs
  elif nft list table ip kube-proxy >/dev/null 2>&1 || nft list table ip6 kube-proxy >/dev/null 2>&1; then
    echo nftables
  elif nft list chain ip nat KUBE-SERVICES >/dev/null 2>&1; then
    echo iptables-nft
  elif grep -qx nat /proc/net/ip_tables_names 2>/dev/null; then
    echo iptables-legacy
  else
    echo none
  fi
}

# The method to use: forced by NODE_INIT_METHOD, else chosen by the kube-proxy mode.
choose_method() {
  if [ "$METHOD" != auto ]; then echo "$METHOD"; return; fi
  case $1 in
    ipvs) echo iptables-redirect ;;
    *) echo nftables ;;
  esac
}

# Addresses kube-proxy IPVS assigns to kube-ipvs0 (Service IPs): local, but not the node's.
ipvs_addresses() {
  family=$1
  ip -o "-$family" addr show dev kube-ipvs0 2>/dev/null |
    awk '{ sub(/\/.*/, "", $4); print $4 }' | sort | awk '{ printf "%s%s", sep, $0; sep = ", " }'
}

# --- the ruleset ----------------------------------------------------------------------------

# ruleset METHOD: the nft script that replaces our table atomically (create, delete, recreate in
# one transaction, so there is never a moment without rules and re-running changes nothing).
ruleset() {
  method=$1
  if [ "$method" = nftables ]; then
    chain_type=filter priority=-150
  else
    chain_type=nat priority=-101
  fi
  cat <<EOF
table $FAMILY $TABLE
delete table $FAMILY $TABLE
table $FAMILY $TABLE {
  comment "edge node-init: node ports to Kong NodePorts (method $method)"
  set sources4 {
    type ipv4_addr; flags interval;$(elements "$SOURCES4")
  }
  set sources6 {
    type ipv6_addr; flags interval;$(elements "$SOURCES6")
  }
  set services4 {
    type ipv4_addr;$(elements "$(ipvs_addresses 4)")
  }
  set services6 {
    type ipv6_addr;$(elements "$(ipvs_addresses 6)")
  }
  chain prerouting {
    type $chain_type hook prerouting priority $priority; policy accept;
$(rules "$method" prerouting)
  }
  chain output {
    type $chain_type hook output priority $priority; policy accept;
$(rules "$method" output)
  }
}
EOF
}

# elements LIST: the elements clause of a set, or nothing for an empty set.
elements() { [ -z "$1" ] || printf ' elements = { %s };' "$1"; }

# rules METHOD HOOK: one rule per public port and address family.
rules() {
  method=$1 hook=$2
  iif="" src4="" src6=""
  if [ "$hook" = prerouting ]; then
    [ -z "$IIFNAMES" ] || iif="iifname { $IIFNAMES } "
    if [ -n "$SOURCE_RANGES" ]; then src4="ip saddr @sources4 " src6="ip6 saddr @sources6 "; fi
  fi
  for pair in $PORTS; do
    public=${pair%%:*} nodeport=${pair#*:}
    if [ "$method" = nftables ]; then verdict="tcp dport set $nodeport"; else verdict="redirect to :$nodeport"; fi
    comment="comment \"edge $public->$nodeport\""
    if [ -z "$SOURCE_RANGES" ] || [ -n "$SOURCES4" ]; then
      echo "    ${iif}meta nfproto ipv4 ${src4}fib daddr type local ip daddr != 127.0.0.0/8 ip daddr != @services4 tcp dport $public counter $verdict $comment"
    fi
    if [ -z "$SOURCE_RANGES" ] || [ -n "$SOURCES6" ]; then
      echo "    ${iif}meta nfproto ipv6 ${src6}fib daddr type local ip6 daddr != ::1 ip6 daddr != @services6 tcp dport $public counter $verdict $comment"
    fi
  done
}

# The live table without counter values, as nft lists it (empty if absent).
live_table() { nft -s list table "$FAMILY" "$TABLE" 2>/dev/null || true; }

# A fingerprint of the intended configuration, including the addresses that change over time.
intent() { printf '%s\n' "$PORTS|$1|$SOURCE_RANGES|$INTERFACES|$(ipvs_addresses 4)|$(ipvs_addresses 6)"; }

# --- verbs ----------------------------------------------------------------------------------

apply() {
  mode=$(detect_proxy_mode)
  method=$(choose_method "$mode")
  if [ "$METHOD" = auto ]; then log "kube-proxy mode: $mode; method: $method (auto)"
  else log "kube-proxy mode: $mode; method: $method (forced)"; fi
  ruleset "$method" | nft -f - || die "nft rejected the ruleset (method $method)"
  mkdir -p "$STATE_DIR"
  live_table >"$STATE_DIR/table"
  intent "$method" >"$STATE_DIR/intent"
  log "rules in place: $PORTS"
}

# check: exit 0 iff our table is exactly what the last apply installed, for the current intent.
# Prints the reason when it is not.
check() {
  mode=$(detect_proxy_mode)
  method=$(choose_method "$mode")
  [ -s "$STATE_DIR/table" ] || { echo "no rules applied yet"; return 1; }
  [ "$(intent "$method")" = "$(cat "$STATE_DIR/intent" 2>/dev/null)" ] ||
    { echo "configuration or Service addresses changed (method $method)"; return 1; }
  live=$(live_table)
  [ -n "$live" ] || { echo "table $FAMILY $TABLE is missing"; return 1; }
  [ "$live" = "$(cat "$STATE_DIR/table")" ] || { echo "table $FAMILY $TABLE was altered"; return 1; }
}

delete() {
  if nft list table "$FAMILY" "$TABLE" >/dev/null 2>&1; then
    nft delete table "$FAMILY" "$TABLE"
    log "rules removed"
  else
    log "no rules to remove"
  fi
  rm -f "$STATE_DIR/table" "$STATE_DIR/intent"
}

status() {
  mode=$(detect_proxy_mode)
  echo "kube-proxy mode: $mode"
  echo "method: $(choose_method "$mode") (configured: $METHOD)"
  if reason=$(check); then echo "rules: in place"; else echo "rules: $reason"; fi
  nft list table "$FAMILY" "$TABLE" 2>/dev/null | awk -v ports="$PORTS" '
    BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) { pk[p[i]] = 0; by[p[i]] = 0 } }
    /comment "edge [0-9]+->[0-9]+"/ {
      match($0, /edge [0-9]+->[0-9]+/); key = substr($0, RSTART + 5, RLENGTH - 5); sub(/->/, ":", key)
      for (i = 1; i <= NF; i++) { if ($i == "packets") pk[key] += $(i + 1); if ($i == "bytes") by[key] += $(i + 1) }
    }
    END {
      for (i = 1; i <= n; i++) { split(p[i], q, ":"); printf "port %s -> %s: %d packets, %d bytes\n", q[1], q[2], pk[p[i]], by[p[i]] }
    }'
}

# owner_gone: true only when the API says our DaemonSet is gone or being deleted (uninstall, or
# nodeInit.enabled=false). A restart, an update or an unreachable API keeps the rules.
owner_gone() {
  [ -n "${NODE_INIT_DAEMONSET:-}" ] && [ -n "${NODE_INIT_NAMESPACE:-}" ] || { log "no DaemonSet configured: keeping rules"; return 1; }
  printf '%s\n' "$NODE_INIT_DAEMONSET$NODE_INIT_NAMESPACE" | grep -Eq '^[a-z0-9.-]+$' || die "NODE_INIT_DAEMONSET/NODE_INIT_NAMESPACE are not DNS names"
  base=${NODE_INIT_API_URL:-https://${KUBERNETES_SERVICE_HOST:-}:${KUBERNETES_SERVICE_PORT:-443}}
  printf '%s\n' "$base" | grep -Eq '^https?://[][A-Za-z0-9.:-]+$' || { log "no usable API address ($base): keeping rules"; return 1; }
  sa=/var/run/secrets/kubernetes.io/serviceaccount
  set -- --silent --show-error --max-time 5 --output "$STATE_DIR/owner.json" --write-out '%{http_code}'
  [ ! -r "$sa/token" ] || set -- "$@" --header "Authorization: Bearer $(cat "$sa/token")"
  [ ! -r "$sa/ca.crt" ] || set -- "$@" --cacert "$sa/ca.crt"
  code=$(curl "$@" "$base/apis/apps/v1/namespaces/$NODE_INIT_NAMESPACE/daemonsets/$NODE_INIT_DAEMONSET" 2>/dev/null) || code=000
  case $code in
    200) if grep -q '"deletionTimestamp"' "$STATE_DIR/owner.json"; then log "DaemonSet is being deleted"; return 0; fi
      log "DaemonSet still exists: keeping rules (restart or update)"; return 1 ;;
    # Our DaemonSet, its RBAC or our ServiceAccount are gone: the release is being removed.
    404 | 401 | 403) log "DaemonSet or its access is gone (HTTP $code)"; return 0 ;;
    *) log "API answered HTTP $code: keeping rules"; return 1 ;;
  esac
}

# The run loop's heartbeat: refreshed once per loop, read by `alive` (the liveness probe).
beat() { date +%s >"$STATE_DIR/heartbeat"; }

# alive: exit 0 iff `run` refreshed its heartbeat within two resync periods plus a minute (time for
# a slow check and apply). Drift does not matter here: the loop repairs it; only a stuck loop fails.
alive() {
  last=$(cat "$STATE_DIR/heartbeat" 2>/dev/null) || { echo "no heartbeat yet"; return 1; }
  case $last in '' | *[!0-9]*) echo "heartbeat '$last' is not a time"; return 1 ;; esac
  age=$(($(date +%s) - last)) limit=$((2 * RESYNC + 60))
  [ "$age" -le "$limit" ] || { echo "run loop stuck: last heartbeat ${age}s ago (limit ${limit}s)"; return 1; }
}

on_term() {
  log "stopping"
  if owner_gone; then delete; fi
  exit 0
}

run() {
  require curl
  trap on_term TERM INT
  apply
  beat
  while :; do
    sleep "$RESYNC" &
    wait $! || true
    if ! reason=$(check); then
      log "drift: $reason; re-applying"
      apply
    fi
    beat
  done
}

verb=${1:-}
require nft ip awk grep sort
load_config
case $verb in
  apply) apply ;;
  check) reason=$(check) || { echo "$reason" >&2; exit 1; } ;;
  delete) delete ;;
  run) run ;;
  status) status ;;
  alive) reason=$(alive) || { echo "$reason" >&2; exit 1; } ;;
  *) echo "usage: $0 apply|check|delete|run|status|alive" >&2; exit 2 ;;
esac
