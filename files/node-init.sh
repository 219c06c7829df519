#!/bin/sh
# edge node-init: make this network namespace's own addresses answer on the public ports
# (80/443) by sending that traffic to Kong's NodePorts (30080/30443).
#
# Verbs: apply | check | delete | run | status | ready | alive | serve-metrics. The script acts on
# the network namespace it runs in; entering the node's namespace is the container command's job
# (nsenter or hostNetwork). `ready` and `alive`, the probes, read files of the pod only;
# `serve-metrics` (the metrics container, non-root) serves the file the others write.
#
# Configuration, all from the environment (set as literal values by the chart, validated here):
#   NODE_INIT_PORTS           "80:30080 443:30443"  public port:NodePort pairs
#   NODE_INIT_TLS_PORTS       the public ports that serve TLS ("443"), for the probe in `status`
#   NODE_INIT_METHOD          auto | nftables | iptables-redirect
#   NODE_INIT_SOURCE_RANGES   client CIDRs allowed (space separated; empty = all)
#   NODE_INIT_INTERFACES      incoming interfaces (space separated, trailing * = prefix; empty = all)
#   NODE_INIT_RESYNC_SECONDS  seconds between full checks in `run` (ruleset changes wake it at once)
#   NODE_INIT_STATE_DIR       where `apply` records the ruleset `check` compares against
#   NODE_INIT_NAMESPACE, NODE_INIT_DAEMONSET
#                             the DaemonSet whose deletion (uninstall, nodeInit.enabled=false)
#                             makes `run` remove the rules when it is stopped
#   NODE_INIT_API_URL         Kubernetes API base URL (default: from KUBERNETES_SERVICE_HOST/PORT)
#   NODE_INIT_METRICS_ADDRESS, NODE_INIT_METRICS_PORT
#                             where `serve-metrics` listens (the pod's IP: the node's own address
#                             under hostNetwork)
#
# How the rules work: one nftables table of our own (inet family: IPv4 and IPv6) with chains on
# the prerouting and output hooks. Method `nftables` rewrites the destination port of a new
# connection at priority -150 (after conntrack, before kube-proxy's DNAT at -100): conntrack keeps
# the original port, so kube-proxy sees the NodePort, and the NAT binding made on that first
# packet translates the rest of the connection and its replies. A nat REDIRECT (method
# `iptables-redirect`) would bind NAT before kube-proxy's NodePort DNAT could, so it only works
# under kube-proxy IPVS mode, which serves NodePorts after PREROUTING.
#
# Only TCP addressed to where kube-proxy serves NodePorts is touched: a local, non-loopback
# address, not one kube-proxy IPVS holds for a Service on kube-ipvs0 and, when kube-proxy limits
# its NodePorts to some addresses (--nodeport-addresses; `primary` by default in its nftables
# mode), only those. No rules at all while no kube-proxy is found (it may not have started yet,
# or the cluster runs without it) or while a CNI hostPort claims a public port.
#
# nft output is read only where the script must: its own table, the names of tables and chains,
# kube-proxy's set nodeport-ips and chain KUBE-SERVICES, and portmap's CNI-DN-* chains. nft
# versions disagree about rules another version wrote; nothing else is listed.
# -f: no word of a value is ever expanded as a file name (an interface `e*` stays `e*`).
set -euf

TABLE=edge_node_init
FAMILY=inet
STATE_DIR=${NODE_INIT_STATE_DIR:-/run/edge-node-init}
# This network namespace's view of its sockets and legacy iptables tables (the parser tests point
# it at recorded copies).
PROC_NET=/proc/net

# The globals each phase sets: a POSIX shell function returns one status, so what it finds is left
# in these (each function's comment names those it sets), and lowercase names are its scratch.
#   load_config           the validated configuration: PORTS PUBLIC_PORTS TLS_PORTS METHOD
#                         SOURCE_RANGES SOURCES4 SOURCES6 INTERFACES IIFNAMES RESYNC OWNER
#   detect_proxy_mode     MODE (ipvs, nftables, iptables-nft, iptables-legacy or none) and TABLES
#                         (the `nft list chains` listing the other readers search)
#   listed_or_absent      LISTING (one chain's or set's listing, empty when absent)
#   every reader          NFT_ERROR (why nft, ip or /proc could not be read; the plan then fails)
#   plan                  USE BLOCKED WITHHELD SERVED NODEPORTS4 NODEPORTS6 SERVICES4 SERVICES6,
#                         from CLAIMS (hostport_claims), LISTENING (host_listeners), FOREIGN
#                         (foreign, foreign_owner) and TERSE (terse_table); SERVICES_READ says
#                         kube-ipvs0's addresses need no new read
#   install_rules         APPLIED, RECORDED and RECORDED_TERSE (the table as installed)
#   ready, check, intact  REASON (why not)
#   api                   BASE CACERT TOKEN (api_target) and API_CODE
#   run                   REPAIRS PLAN_ERRORS, LISTENERS (the last plan's LISTENING), its helpers'
#                         PIDs (TICKER MONITOR FILTER ADDRESS_MONITOR ADDRESS_FILTER REPORTER
#                         OWNER_WATCH OWNER_FILTER), OWNER_WATCHED, STOP (a SIGTERM held while a
#                         helper starts), and LINE_BUFFERED and AWK_LINES (what grep and awk can do)
REPAIRS=0 PLAN_ERRORS=0 ADDRESS_MONITOR="" SERVICES_READ="" RECORDED_TERSE="" NFT_ERROR=""

log() { printf '%s node-init: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

require() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' is not installed in this image"
  done
}

# --- validation: every value is checked before it can reach a rule --------------------------

# A decimal number as the schema writes it: digits, no leading zero (`010` would be read as 8 or
# 10 depending on the reader), at most 5 digits.
is_uint() { case $1 in '' | *[!0-9]* | 0?*) return 1 ;; esac; [ "${#1}" -le 5 ]; }

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
  for octet in "$@"; do is_uint "$octet" && [ "$octet" -le 255 ] || return 1; done
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

# An interface name nft accepts: at most 15 characters, a trailing `*` (prefix match) included.
valid_interface() { printf '%s\n' "$1" | grep -Eq '^([A-Za-z0-9_][A-Za-z0-9_.-]{0,14}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,13}[*])$'; }

load_config() {
  PORTS=${NODE_INIT_PORTS:-}
  METHOD=${NODE_INIT_METHOD:-auto}
  SOURCE_RANGES=${NODE_INIT_SOURCE_RANGES:-}
  INTERFACES=${NODE_INIT_INTERFACES:-}
  RESYNC=${NODE_INIT_RESYNC_SECONDS:-30}
  TLS_PORTS=${NODE_INIT_TLS_PORTS:-}

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
  PUBLIC_PORTS=$seen

  for port in $TLS_PORTS; do
    case $seen in *" $port "*) ;; *) die "NODE_INIT_TLS_PORTS: '$port' is not one of the public ports of NODE_INIT_PORTS" ;; esac
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

  # The release this node-init belongs to, written into the table it installs: one release's
  # rules on a node, never another's replaced or removed.
  OWNER=${NODE_INIT_NAMESPACE:-}/${NODE_INIT_DAEMONSET:-}
  printf '%s\n' "$OWNER" | grep -Eq '^([a-z0-9.-]+/[a-z0-9.-]+|/)$' ||
    die "NODE_INIT_NAMESPACE/NODE_INIT_DAEMONSET: '$OWNER' are not DNS names"
}

# --- what the node shows --------------------------------------------------------------------

# The kube-proxy mode this network namespace shows, in MODE: ipvs, nftables, iptables-nft,
# iptables-legacy or none. Sets TABLES (the `nft list chains` listing) for the other readers: nft
# 1.0.6 reads every set's elements for `list tables` (kube-proxy's maps, our Service addresses:
# thousands on a large cluster), not for `list chains`, and every table node-init looks for has
# chains. Fails, with nft's message in NFT_ERROR, when nft cannot read the ruleset (no
# CAP_NET_ADMIN, say), which must never look like "no kube-proxy".
detect_proxy_mode() {
  TABLES=$(nft list chains 2>&1) || { NFT_ERROR=$TABLES; return 1; }
  # IPVS mode always creates the dummy interface kube-ipvs0 to hold Service addresses.
  if link=$(ip -o link show dev kube-ipvs0 2>&1); then MODE=ipvs; return; fi
  case $link in *"does not exist"*) ;; *) NFT_ERROR="ip cannot read the links: $link"; return 1 ;; esac
  if has_table ip kube-proxy || has_table ip6 kube-proxy; then MODE=nftables; return; fi
  if has_table ip nat; then
    listed_or_absent ip nat KUBE-SERVICES || return 1
    [ -z "$LISTING" ] || { MODE=iptables-nft; return; }
  fi
  if grep -qx nat "$PROC_NET/ip_tables_names" 2>/dev/null; then MODE=iptables-legacy; else MODE=none; fi
}

# has_table FAMILY NAME: true iff TABLES lists exactly that table (`kube-proxy-old` is not
# `kube-proxy`).
has_table() {
  case "
$TABLES" in *"
table $1 $2 {
"*) return 0 ;; esac
  return 1
}

# listed_or_absent FAMILY TABLE CHAIN [set]: LISTING = nft's listing of the chain (or set), empty
# when there is none. Any other nft error fails, with the message in NFT_ERROR: a listing that
# could not be read must never look like an absent one (that would withdraw the rules).
listed_or_absent() {
  if LISTING=$(nft list "${4:-chain}" "$1" "$2" "$3" 2>&1); then return 0; fi
  case $LISTING in *"No such file or directory"*) LISTING=""; return 0 ;; esac
  NFT_ERROR=$LISTING
  return 1
}

# addresses FAMILY SOURCE: the valid addresses on stdin (one per line) as "a, b"; anything else is
# logged and left out, so no rule is ever built from it. One awk for the whole list: kube-ipvs0
# holds one address per Service, thousands on a large cluster.
addresses() {
  awk -v family="$1" -v source="$2" -v now="$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
    function ipv4(a,   n, o, i) {
      n = split(a, o, ".")
      if (n != 4) return 0
      for (i = 1; i <= 4; i++) if (o[i] !~ /^(0|[1-9][0-9]?[0-9]?)$/ || o[i] + 0 > 255) return 0
      return 1
    }
    # At most one "::", at most 8 groups of at most 4 hex digits (a dotted IPv4 tail allowed).
    function ipv6(a,   n, g, i) {
      if (a !~ /^[0-9A-Fa-f:.]+$/ || a !~ /:/ || length(a) > 45 || gsub(/::/, "::", a) > 1) return 0
      n = split(a, g, ":")
      if (n > 9) return 0
      for (i = 1; i <= n; i++) if (length(g[i]) > 4 && g[i] !~ /\./) return 0
      return 1
    }
    NF == 0 { next }
    (family == 4 ? ipv4($1) : ipv6($1)) && NF == 1 { out = out (out == "" ? "" : ", ") $1; next }
    { printf "%s node-init: ignoring '\''%s'\'' from %s: not an IPv%s address\n", now, $0, source, family > "/dev/stderr" }
    END { printf "%s", out }'
}

# ipvs_addresses FAMILY: SERVICES4 or SERVICES6 = the addresses kube-proxy IPVS assigns to
# kube-ipvs0 (Service IPs): local, but not the node's. Fails, with NFT_ERROR, if ip cannot list them.
ipvs_addresses() {
  found=""
  if [ "$MODE" = ipvs ]; then
    listing=$(ip -o "-$1" addr show dev kube-ipvs0 2>&1) || { NFT_ERROR="ip cannot list kube-ipvs0's addresses: $listing"; return 1; }
    found=$(printf '%s\n' "$listing" | awk '{ sub(/\/.*/, "", $4); print $4 }' | sort | addresses "$1" kube-ipvs0)
  fi
  if [ "$1" = 4 ]; then SERVICES4=$found; else SERVICES6=$found; fi
}

# nodeport_addresses FAMILY: NODEPORTS4 or NODEPORTS6 = where kube-proxy serves NodePorts for IPv4
# (4) or IPv6 (6): "*" for every local address, else the addresses as "a, b" (empty: none of this
# family). Fails, with NFT_ERROR, when a listing cannot be read. It sets its result rather than
# printing it: run in a subshell, it could not report its NFT_ERROR.
nodeport_addresses() {
  t=ip
  [ "$1" = 4 ] || t=ip6
  found='*'
  case $MODE in
    nftables)
      # A table per family served; its set nodeport-ips holds --nodeport-addresses (default
      # `primary`), and without that set kube-proxy serves every local address.
      if ! has_table "$t" kube-proxy; then
        found=""
      else
        listed_or_absent "$t" kube-proxy nodeport-ips set || return 1
        [ -z "$LISTING" ] || found=$(printf '%s\n' "$LISTING" | awk '
          /elements = \{/ { on = 1; sub(/.*elements = \{/, "") }
          on { line = $0; if (sub(/\}.*/, "", line)) on = 0; n = split(line, a, /[ \t,]+/); for (i = 1; i <= n; i++) if (a[i] != "") print a[i] }' |
          addresses "$1" "kube-proxy's nodeport-ips")
      fi
      ;;
    iptables-nft)
      # KUBE-SERVICES jumps to KUBE-NODEPORTS once per --nodeport-addresses address (ip daddr X),
      # or once for every local address.
      found=""
      if has_table "$t" nat; then
        listed_or_absent "$t" nat KUBE-SERVICES || return 1
        if [ -n "$LISTING" ]; then
          jumps=$(printf '%s\n' "$LISTING" | awk '
            /jump KUBE-NODEPORTS/ {
              for (i = 2; i < NF; i++) if ($i == "daddr" && ($(i - 1) == "ip" || $(i - 1) == "ip6")) { sub(/\/(32|128)$/, "", $(i + 1)); print $(i + 1); next }
              print "*"
            }')
          case $jumps in
            '' | *'*'*) found='*' ;;
            *) found=$(printf '%s\n' "$jumps" | addresses "$1" "kube-proxy's KUBE-SERVICES") ;;
          esac
        fi
      fi
      ;;
  esac
  if [ "$1" = 4 ]; then NODEPORTS4=$found; else NODEPORTS6=$found; fi
}

# hostport_claims: CLAIMS = "PORT what" lines, one for each public port a CNI portmap hostPort also
# claims: its DNAT runs after our rewrite, which would shadow it. Both portmap backends: iptables
# (a CNI-DN-* chain per pod in table nat) and nftables (chain hostports of table ip/ip6
# cni_hostport). Only those chains are listed, found by name; a listing that fails fails the plan
# (NFT_ERROR).
hostport_claims() {
  CLAIMS=""
  for t in ip ip6; do
    if has_table "$t" nat; then
      for chain in $(printf '%s\n' "$TABLES" |
        awk -v family="$t" '$1 == "table" { nat = ($2 == family && $3 == "nat") } nat && $1 == "chain" && $2 ~ /^CNI-DN-[0-9a-f]+$/ { print $2 }'); do
        listed_or_absent "$t" nat "$chain" || return 1
        CLAIMS="$CLAIMS$(printf '%s\n' "$LISTING" | claimed_ports "a CNI hostPort (portmap, iptables backend)")
"
      done
    fi
    if has_table "$t" cni_hostport; then
      listed_or_absent "$t" cni_hostport hostports || return 1
      CLAIMS="$CLAIMS$(printf '%s\n' "$LISTING" | claimed_ports "a CNI hostPort (portmap, nftables backend)")
"
    fi
  done
}

# claimed_ports WHAT: "PORT WHAT" for each public port a rule on stdin matches as its destination.
claimed_ports() {
  awk -v ports="$PUBLIC_PORTS" -v what="$1" '
    BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) public[p[i]] = 1 }
    { for (i = 1; i < NF; i++) if ($i == "dport" && ($(i + 1) in public)) print $(i + 1), what }'
}

# host_listeners: LISTENING = "PORT a host process listens on ADDRESS" lines, for each TCP socket of this network
# namespace listening on a public port at an address the rules would rewrite (a wildcard, or an
# address where kube-proxy serves NodePorts): the rewrite would shadow it. Loopback and IPVS
# Service addresses (kube-ipvs0) are never rewritten. Reads /proc/net/tcp and tcp6 (this
# namespace's sockets), so it needs no tool.
host_listeners() {
  LISTENING=""
  for f in "$PROC_NET/tcp" "$PROC_NET/tcp6"; do
    [ -r "$f" ] || { NFT_ERROR="cannot read $f, needed to find host processes listening on the public ports"; return 1; }
  done
  # The Service addresses (thousands under IPVS: too many for an argument) wait on stdin, read only
  # when a socket listens at a specific address, the one case they decide.
  LISTENING=$( { printf '%s\n%s\n' "$SERVICES4" "$SERVICES6" 2>/dev/null; } | awk -v ports="$PUBLIC_PORTS" -v served4="$NODEPORTS4" -v served6="$NODEPORTS6" '
    function hex(h,   i, n) { n = 0; for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789abcdef", tolower(substr(h, i, 1))) - 1; return n }
    # /proc/net/tcp writes addresses as 32-bit words in host order (little-endian here).
    function word(h) { return substr(h, 7, 2) substr(h, 5, 2) substr(h, 3, 2) substr(h, 1, 2) }
    function pad(g) { while (length(g) < 4) g = "0" g; return g }
    # An IPv6 address with every group written out: the one form both sides can be compared in.
    function full6(a,   at, l, r, nl, nr, L, R, i, out) {
      at = index(a, "::")
      if (at) { l = substr(a, 1, at - 1); r = substr(a, at + 2) } else { l = a; r = "" }
      nl = l == "" ? 0 : split(l, L, ":"); nr = r == "" ? 0 : split(r, R, ":")
      for (i = 1; i <= nl; i++) out = out (out == "" ? "" : ":") pad(L[i])
      if (at) for (i = 0; i < 8 - nl - nr; i++) out = out (out == "" ? "" : ":") "0000"
      for (i = 1; i <= nr; i++) out = out (out == "" ? "" : ":") pad(R[i])
      return tolower(out)
    }
    BEGIN {
      n = split(ports, p, " "); for (i = 1; i <= n; i++) public[p[i]] = 1
      n = split(served4, a, /, */); for (i = 1; i <= n; i++) s4[a[i]] = 1
      n = split(served6, a, /, */); for (i = 1; i <= n; i++) s6[full6(a[i])] = 1
    }
    FNR == 1 || $4 != "0A" { next }  # the header; sockets not in LISTEN
    {
      split($2, local, ":"); port = hex(local[2])
      if (!(port in public)) next
      h = local[1]
      if (length(h) == 8) {
        b = word(h); addr = hex(substr(b, 1, 2)) "." hex(substr(b, 3, 2)) "." hex(substr(b, 5, 2)) "." hex(substr(b, 7, 2))
        if (addr ~ /^127\./) next
        wildcard = addr == "0.0.0.0"
        rewritten = wildcard || served4 == "*" || (addr in s4)
        shown = addr
      } else {
        b = tolower(word(substr(h, 1, 8)) word(substr(h, 9, 8)) word(substr(h, 17, 8)) word(substr(h, 25, 8)))
        addr = ""; for (i = 0; i < 8; i++) addr = addr (i ? ":" : "") substr(b, 4 * i + 1, 4)
        if (b == "00000000000000000000000000000001") next
        wildcard = b ~ /^0+$/
        if (wildcard) addr = "::"
        rewritten = wildcard || served6 == "*" || (addr in s6)
        shown = "[" addr "]"
      }
      if (!rewritten) next
      found++; at[found] = addr; line[found] = port " a host process listens on " shown ":" port
      if (!wildcard) specific = 1
    }
    END {
      if (specific) while ((getline services < "/dev/stdin") > 0) {
        n = split(services, a, /, */); for (i = 1; i <= n; i++) svc[a[i] ~ /:/ ? full6(a[i]) : a[i]] = 1
      }
      for (i = 1; i <= found; i++) if (!(at[i] in svc)) print line[i]
    }' "$PROC_NET/tcp" "$PROC_NET/tcp6") || { NFT_ERROR="cannot read the sockets listening on this node"; return 1; }
}

# plan: what this node needs now, in MODE, USE (the method; empty for none), BLOCKED (why no rules
# at all may be installed; empty if they may), WITHHELD (the public ports left to what already
# claims them, with why, one "PORT why" per line), SERVED (the PORTS pairs to install),
# NODEPORTS4/6 and SERVICES4/6. Fails as detect_proxy_mode, and wherever a listing fails: what
# cannot be read must never look like "nothing there".
plan() {
  detect_proxy_mode || return 1
  BLOCKED=""
  if [ "$METHOD" != auto ]; then
    USE=$METHOD
  else
    case $MODE in
      ipvs) USE=iptables-redirect ;;
      none)
        USE=""
        BLOCKED="no kube-proxy found (no kube-ipvs0, no kube-proxy table, no KUBE-SERVICES chain): waiting for kube-proxy. A cluster without kube-proxy (Cilium's kube-proxy replacement, Calico eBPF) serves NodePorts before netfilter, where node-init cannot reach them: see the README for the alternatives, or set nodeInit.method to force a method"
        ;;
      *) USE=nftables ;;
    esac
  fi
  nodeport_addresses 4 || { NFT_ERROR="cannot list kube-proxy's IPv4 NodePort addresses: $NFT_ERROR"; return 1; }
  nodeport_addresses 6 || { NFT_ERROR="cannot list kube-proxy's IPv6 NodePort addresses: $NFT_ERROR"; return 1; }
  # kube-ipvs0's addresses (one per Service: thousands on a large cluster) are read again only
  # when run's address monitor reported a change (or is not running), not at every tick.
  if [ "$MODE" != ipvs ] || [ "$SERVICES_READ" != ipvs ] || [ -e "$STATE_DIR/kube-ipvs0-changed" ]; then
    SERVICES_READ=""
    rm -f "$STATE_DIR/kube-ipvs0-changed"
    ipvs_addresses 4 || return 1
    ipvs_addresses 6 || return 1
    [ -z "$ADDRESS_MONITOR" ] || SERVICES_READ=$MODE
  fi
  hostport_claims || return 1
  host_listeners || return 1
  WITHHELD=$(printf '%s\n%s\n' "$CLAIMS" "$LISTENING" | awk 'NF && !seen[$0]++' | sort -n)
  SERVED=""
  for pair in $PORTS; do
    case "
$WITHHELD" in *"
${pair%%:*} "*) ;; *) SERVED="$SERVED${SERVED:+ }$pair" ;; esac
  done
  [ -n "$SERVED" ] || [ -n "$BLOCKED" ] || BLOCKED="every public port is taken on this node: $(withheld_text)"
  # Last, so it wins: two releases would rewrite the same ports, each re-applying over the other.
  foreign_owner || return 1
  [ -z "$FOREIGN" ] || BLOCKED="table $FAMILY $TABLE belongs to another release of edge (DaemonSet $FOREIGN): one release per cluster serves the node ports. Uninstall one of them; if $FOREIGN is gone and left its table, delete it on this node (nft delete table $FAMILY $TABLE)"
}

# foreign LISTING: true iff a listing of our table names another release (namespace/DaemonSet)
# in its comment, then in FOREIGN. A table without an owner (an older version wrote it) is ours.
foreign() {
  FOREIGN=""
  case $1 in *'comment "edge node-init of '*) ;; *) return 1 ;; esac
  FOREIGN=${1#*comment \"edge node-init of }
  FOREIGN=${FOREIGN%%:*}
  [ "$FOREIGN" != "$OWNER" ] || { FOREIGN=""; return 1; }
}

# foreign_owner: FOREIGN = the release owning our table on this node when it is not this one.
foreign_owner() {
  FOREIGN=""
  has_table "$FAMILY" "$TABLE" || return 0
  terse_table || { NFT_ERROR="cannot list table $FAMILY $TABLE: $NFT_ERROR"; return 1; }
  foreign "$TERSE" || true
}

# terse_table: TERSE = our table as nft lists it without counters nor set elements (empty if
# absent), for a cost that does not grow with kube-ipvs0's Service addresses: nft 1.0.6 reads a
# table's set elements even under -t, but not a family's ruleset's. Fails with NFT_ERROR.
terse_table() {
  TERSE=$(nft -st list ruleset "$FAMILY" 2>&1) || { NFT_ERROR=$TERSE; return 1; }
  case "
$TERSE" in
    *"
table $FAMILY $TABLE {
"*)
      TERSE=${TERSE#*"table $FAMILY $TABLE {
"}
      TERSE="table $FAMILY $TABLE {
${TERSE%%"
}"*}
}"
      ;;
    *) TERSE="" ;;
  esac
}

# withheld_text: WITHHELD for humans, with what to do.
withheld_text() {
  printf '%s\n' "$WITHHELD" | awk 'NF { p = $1; $1 = ""; printf "%sport %s:%s", sep, p, $0; sep = "; " }'
  printf '. edge would shadow what is there (its rewrite runs first): free the port on this node, or move Kong'"'"'s public ports (kong.proxy.*.servicePort)'
}

# A fingerprint of what `plan` decided; a change means the rules must be rebuilt.
intent() { printf '%s\n' "$SERVED|$USE|$SOURCE_RANGES|$INTERFACES|$NODEPORTS4|$NODEPORTS6|$SERVICES4|$SERVICES6|$BLOCKED|$WITHHELD"; }

# served NODEPORTS: a nodeport_addresses result, for humans.
served() { if [ "$1" = '*' ]; then echo "every local address"; else echo "${1:-none}"; fi; }

# --- the ruleset ----------------------------------------------------------------------------

# ruleset: the nft script that replaces our table atomically (create, delete, recreate in one
# transaction, so there is never a moment without rules and re-running changes nothing).
ruleset() {
  if [ "$USE" = nftables ]; then
    chain_type=filter priority=-150
  else
    chain_type=nat priority=-101
  fi
  cat <<EOF
table $FAMILY $TABLE
delete table $FAMILY $TABLE
table $FAMILY $TABLE {
  comment "edge node-init of $OWNER: node ports to Kong NodePorts (method $USE)"
  set sources4 {
    type ipv4_addr; flags interval; auto-merge;$(elements "$SOURCES4")
  }
  set sources6 {
    type ipv6_addr; flags interval; auto-merge;$(elements "$SOURCES6")
  }
  set services4 {
    type ipv4_addr;$(elements "$SERVICES4")
  }
  set services6 {
    type ipv6_addr;$(elements "$SERVICES6")
  }
  set nodeports4 {
    type ipv4_addr;$(elements "$(listed "$NODEPORTS4")")
  }
  set nodeports6 {
    type ipv6_addr;$(elements "$(listed "$NODEPORTS6")")
  }
  chain prerouting {
    type $chain_type hook prerouting priority $priority; policy accept;
$(rules prerouting)
  }
  chain output {
    type $chain_type hook output priority $priority; policy accept;
$(rules output)
  }
  chain guard {
    type filter hook prerouting priority -140; policy accept;
$(guard)
  }
}
EOF
}

# guard: with source ranges or interfaces set, the same allowlist on Kong's NodePorts, so a client
# refused on :80 is not served on :30080 either. New connections to a local address only, from
# outside: the node's own connections arrive on lo (a REDIRECT's too); at -140, after our rewrite
# (whose connections come from allowed clients) and before kube-proxy's DNAT.
guard() {
  [ -n "$SOURCE_RANGES$INTERFACES" ] || return 0
  for pair in $PORTS; do
    nodeport=${pair#*:}
    match="iifname != \"lo\" tcp dport $nodeport ct state new fib daddr type local"
    comment="comment \"edge allowlist :$nodeport\""
    [ -z "$IIFNAMES" ] || echo "    iifname != { $IIFNAMES } $match counter drop $comment"
    if [ -n "$SOURCE_RANGES" ]; then
      echo "    meta nfproto ipv4 ip saddr != @sources4 $match counter drop $comment"
      echo "    meta nfproto ipv6 ip6 saddr != @sources6 $match counter drop $comment"
    fi
  done
}

# elements LIST: the elements clause of a set, or nothing for an empty set.
elements() { [ -z "$1" ] || printf ' elements = { %s };' "$1"; }

# listed NODEPORTS: the addresses of a nodeport_addresses result ("*": none to list, all served).
listed() { [ "$1" = '*' ] || printf '%s' "$1"; }

# rules HOOK: one rule per served public port and address family kube-proxy serves.
rules() {
  hook=$1
  iif="" src4="" src6="" new="" dst4="" dst6=""
  if [ "$hook" = prerouting ]; then
    [ -z "$IIFNAMES" ] || iif="iifname { $IIFNAMES } "
    if [ -n "$SOURCE_RANGES" ]; then src4="ip saddr @sources4 " src6="ip6 saddr @sources6 "; fi
  fi
  # Only a connection's first packet needs the rewrite: the NAT binding kube-proxy's DNAT makes
  # on it translates the rest. (A nat chain sees only first packets anyway.)
  [ "$USE" != nftables ] || new="ct state new "
  [ "$NODEPORTS4" = '*' ] || dst4="ip daddr @nodeports4 "
  [ "$NODEPORTS6" = '*' ] || dst6="ip6 daddr @nodeports6 "
  for pair in $SERVED; do
    public=${pair%%:*} nodeport=${pair#*:}
    if [ "$USE" = nftables ]; then verdict="tcp dport set $nodeport"; else verdict="redirect to :$nodeport"; fi
    comment="comment \"edge $public->$nodeport\""
    if [ -n "$NODEPORTS4" ] && { [ -z "$SOURCE_RANGES" ] || [ -n "$SOURCES4" ]; }; then
      echo "    ${iif}meta nfproto ipv4 ${src4}tcp dport $public ${new}fib daddr type local ip daddr != 127.0.0.0/8 ${dst4}ip daddr != @services4 counter $verdict $comment"
    fi
    if [ -n "$NODEPORTS6" ] && { [ -z "$SOURCE_RANGES" ] || [ -n "$SOURCES6" ]; }; then
      echo "    ${iif}meta nfproto ipv6 ${src6}tcp dport $public ${new}fib daddr type local ip6 daddr != ::1 ${dst6}ip6 daddr != @services6 counter $verdict $comment"
    fi
  done
}

# --- verbs ----------------------------------------------------------------------------------

# install_rules: make the rules what `plan` decided (none while BLOCKED, none for a WITHHELD
# port), and record the result: the table as installed, the intent, and why rules are withheld
# (if they are).
install_rules() {
  mkdir -p "$STATE_DIR"
  rm -f "$STATE_DIR/error"
  APPLIED=$(date +%s)
  if [ -n "$BLOCKED" ]; then
    remove_table || true
    RECORDED="" RECORDED_TERSE=""
    : >"$STATE_DIR/table"
    printf '%s\n' "$BLOCKED" >"$STATE_DIR/withheld"
    intent >"$STATE_DIR/intent"
    log "no rules installed: $BLOCKED"
    metrics
    return 0
  fi
  ruleset | nft -f - || die "nft rejected the ruleset (method $USE)"
  RECORDED=$(nft -s list table "$FAMILY" "$TABLE" 2>/dev/null) || RECORDED=""
  terse_table || TERSE=""
  RECORDED_TERSE=$TERSE
  printf '%s\n' "$RECORDED" >"$STATE_DIR/table"
  intent >"$STATE_DIR/intent"
  if [ -n "$WITHHELD" ]; then
    withheld_text >"$STATE_DIR/withheld"
    log "rules in place for $SERVED only, withheld: $(withheld_text)"
  else
    rm -f "$STATE_DIR/withheld"
    log "rules in place: $SERVED; IPv4: $(served "$NODEPORTS4"); IPv6: $(served "$NODEPORTS6")"
  fi
  metrics
}

# metrics: this node's state in Prometheus text format, in $STATE_DIR/metrics/metrics, which
# `serve-metrics` serves: the rules installed per public port and address family, the ports
# withheld and why, repairs, plan errors, the last apply and the last probe of each address and
# port. Written whole, then renamed: a scrape never reads half of it.
metrics() {
  mkdir -p "$STATE_DIR/metrics"
  case $BLOCKED in
    "") why="" ;;
    "no kube-proxy"*) why=no_kube_proxy ;;
    *"belongs to another release"*) why=other_release ;;
    *) why="" ;; # every port taken: each port's own reason, from WITHHELD
  esac
  probes=/dev/null
  [ ! -s "$STATE_DIR/probe" ] || probes=$STATE_DIR/probe
  printf '%s\n' "$WITHHELD" | awk -v ports="$PORTS" -v served=" $SERVED " -v v4="$NODEPORTS4" -v v6="$NODEPORTS6" \
    -v blocked="$BLOCKED" -v why="$why" -v repairs="$REPAIRS" -v errors="$PLAN_ERRORS" -v applied="${APPLIED:-0}" '
    function help(name, type, text) { printf "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type }
    FILENAME == "-" {
      if (!NF) next
      reason[$1] = $0 ~ /CNI hostPort/ ? "hostport" : "listener"
      next
    }
    # probe lines: "probe URL: HTTP 200, ..." or "probe URL: failed: ..."
    $1 == "probe" {
      url = $2; sub(/:$/, "", url); sub(/^[a-z]+:\/\//, "", url); sub(/\/$/, "", url)
      port = url; sub(/.*:/, "", port)
      address = substr(url, 1, length(url) - length(port) - 1); gsub(/[][]/, "", address)
      probe[++probes] = sprintf("edge_node_init_probe_success{address=\"%s\",port=\"%s\"} %d", address, port, $3 == "HTTP")
    }
    END {
      n = split(ports, p, " ")
      help("edge_node_init_rules_installed", "gauge", "1 when node-init forwards this public port to its NodePort on this node, for this address family.")
      for (i = 1; i <= n; i++) {
        split(p[i], q, ":")
        on = blocked == "" && index(served, " " p[i] " ") > 0
        printf "edge_node_init_rules_installed{port=\"%s\",nodeport=\"%s\",family=\"ipv4\"} %d\n", q[1], q[2], on && v4 != ""
        printf "edge_node_init_rules_installed{port=\"%s\",nodeport=\"%s\",family=\"ipv6\"} %d\n", q[1], q[2], on && v6 != ""
      }
      help("edge_node_init_rules_withheld", "gauge", "1 when node-init withholds this public port on purpose: hostport (a CNI hostPort), listener (a host process), no_kube_proxy, other_release (another release of edge owns the table).")
      for (i = 1; i <= n; i++) {
        split(p[i], q, ":")
        r = why != "" ? why : reason[q[1]]
        if (r != "") printf "edge_node_init_rules_withheld{port=\"%s\",reason=\"%s\"} 1\n", q[1], r
      }
      help("edge_node_init_repairs_total", "counter", "Times node-init re-applied its rules after they drifted (a flush, a firewall reload).")
      printf "edge_node_init_repairs_total %d\n", repairs
      help("edge_node_init_plan_errors_total", "counter", "Times node-init could not read what decides its rules (the pod is un-Ready meanwhile).")
      printf "edge_node_init_plan_errors_total %d\n", errors
      help("edge_node_init_last_apply_timestamp_seconds", "gauge", "When node-init last installed its rules or decided to withhold them.")
      printf "edge_node_init_last_apply_timestamp_seconds %d\n", applied
      help("edge_node_init_probe_success", "gauge", "1 when the last request from this node to this address and public port got an HTTP answer (through the rules and Kong).")
      for (i = 1; i <= probes; i++) print probe[i]
    }' - "$probes" >"$STATE_DIR/metrics/.metrics" && mv "$STATE_DIR/metrics/.metrics" "$STATE_DIR/metrics/metrics"
}

# apply: plan and install. Withheld rules (no kube-proxy yet, a hostPort or a host listener on a
# public port) are not an error: that is this node's state, reported by `check`, `status`, the
# log and an Event from `run`, which installs them once it may.
apply() {
  plan || die "cannot read what decides the rules: $NFT_ERROR"
  if [ "$METHOD" = auto ]; then log "kube-proxy mode: $MODE; method: ${USE:-none} (auto)"
  else log "kube-proxy mode: $MODE; method: $USE (forced)"; fi
  install_rules
}

# ready: the readiness probe. Exit 0 iff node-init has converged on a decision (rules installed,
# or withheld on purpose) and `run` has not failed to carry it out since; sets REASON to why not.
# A node that withholds its rules is Ready: an un-Ready pod would stop the DaemonSet's rolling
# update on every other node. It trusts `run`, which checks the live table at every change nft
# reports and every resync, repairs it at once, and records an error when it cannot read the
# ruleset; so the probe reads files of the pod, needs neither nft nor the node's namespace, and a
# stuck loop is the liveness probe's (`alive`) to catch.
ready() {
  if [ -s "$STATE_DIR/error" ]; then
    read -r REASON <"$STATE_DIR/error" || true
    return 1
  fi
  [ -s "$STATE_DIR/intent" ] || { REASON="no rules applied yet"; return 1; }
}

# check: exit 0 iff every public port is served and our table is exactly what the last apply
# installed; sets REASON to why not (rules withheld, with why; the table missing or altered).
# One nft call and no subshell of its own: `run` makes it at every event on our table.
check() {
  ready || return 1
  if [ -s "$STATE_DIR/withheld" ]; then
    read -r REASON <"$STATE_DIR/withheld" || true
    REASON="rules withheld: $REASON"
    return 1
  fi
  intact
}

# intact [terse]: true iff our table is what the last install left (no table, if it installed
# none). terse leaves out the elements of its sets (kube-ipvs0's Service addresses: thousands on a
# large IPVS cluster), so its cost does not grow with them; `run` checks tersely at the ticks
# between two full checks, as nft monitor reports a change of those elements at once.
intact() {
  [ -n "${RECORDED:-}" ] || recorded
  expected=$RECORDED
  [ "${1:-}" != terse ] || expected=$RECORDED_TERSE
  # A listing can come back altered while kube-proxy commits its own transactions (seen once in
  # many runs under CPU load, in iptables-nft mode): only a second listing that differs too is drift.
  for _ in 1 2; do
    # The live table without counter values, as nft lists it (empty if absent).
    if [ "${1:-}" = terse ]; then
      terse_table || TERSE=""
      live=$TERSE
    else
      live=$(nft -s list table "$FAMILY" "$TABLE" 2>/dev/null) || live=""
    fi
    [ "$live" != "$expected" ] || break
  done
  # Another release's table (this node then withholds its rules) is none of ours to repair.
  ! foreign "$live" || live=""
  [ -n "$expected" ] || [ -z "$live" ] || { REASON="table $FAMILY $TABLE is there while no rules may be"; return 1; }
  [ -n "$live" ] || [ -z "$expected" ] || { REASON="table $FAMILY $TABLE is missing"; return 1; }
  [ "$live" = "$expected" ] || { REASON="table $FAMILY $TABLE was altered"; return 1; }
}

# recorded: RECORDED = the table as the last apply left it, read by the shell alone.
recorded() {
  RECORDED=""
  [ -e "$STATE_DIR/table" ] || return 0
  while IFS= read -r line; do RECORDED="$RECORDED$line
"; done <"$STATE_DIR/table"
  RECORDED=${RECORDED%
}
}

# remove_table: delete our table; fails if there was none, or it belongs to another release.
remove_table() {
  listing=$(nft -t list table "$FAMILY" "$TABLE" 2>/dev/null) || return 1
  if foreign "$listing"; then
    log "table $FAMILY $TABLE belongs to DaemonSet $FOREIGN: left alone"
    return 1
  fi
  nft delete table "$FAMILY" "$TABLE"
}

delete() {
  if remove_table; then log "rules removed"; else log "no rules to remove"; fi
  rm -f "$STATE_DIR/table" "$STATE_DIR/intent" "$STATE_DIR/withheld" "$STATE_DIR/error"
}

# probe: one line per served address and public port: a real request from this node to
# <address>:<port> through the output hook (our rewrite, kube-proxy, Kong), with the HTTP status,
# Kong's Server or Via header when present, and the time it took.
probe() {
  for fam in 4 6; do
    if [ "$fam" = 4 ]; then served=$NODEPORTS4; else served=$NODEPORTS6; fi
    if [ "$served" = '*' ]; then
      served=$(ip -o "-$fam" addr show scope global 2>/dev/null |
        awk '$2 != "kube-ipvs0" { sub(/\/.*/, "", $4); print $4 }' | addresses "$fam" "the node's addresses")
    fi
    old_ifs=$IFS
    IFS=', '
    # shellcheck disable=SC2086 # split "a, b" on purpose
    set -- $served
    IFS=$old_ifs
    for a in "$@"; do
      host=$a
      [ "$fam" = 4 ] || host="[$a]"
      for pair in $SERVED; do
        public=${pair%%:*} scheme=http
        case " $TLS_PORTS " in *" $public "*) scheme=https ;; esac
        url="$scheme://$host:$public/"
        if out=$(curl --silent --show-error --insecure --noproxy '*' --max-time 3 --output /dev/null \
          --dump-header - --write-out 'time %{time_total}\n' "$url" 2>&1); then
          printf '%s\n' "$out" | awk -v url="$url" '
            NR == 1 { status = $2 }
            tolower($1) == "server:" || tolower($1) == "via:" { sub(/\r$/, ""); hdr = hdr ", " $0 }
            $1 == "time" { t = $2 }
            END { printf "probe %s: HTTP %s%s, %ss\n", url, status, hdr, t }'
        else
          echo "probe $url: failed: ${out%%
*}"
        fi
      done
    done
  done
}

status() {
  plan || die "nft cannot read the ruleset: $NFT_ERROR"
  echo "kube-proxy mode: $MODE"
  echo "method: ${USE:-none} (configured: $METHOD)"
  echo "NodePort addresses: IPv4 $(served "$NODEPORTS4"); IPv6 $(served "$NODEPORTS6")"
  if check; then echo "rules: in place"; else echo "rules: $REASON"; fi
  nft list table "$FAMILY" "$TABLE" 2>/dev/null | awk -v ports="$SERVED" '
    BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) { pk[p[i]] = 0; by[p[i]] = 0 } }
    /comment "edge [0-9]+->[0-9]+"/ {
      match($0, /edge [0-9]+->[0-9]+/); key = substr($0, RSTART + 5, RLENGTH - 5); sub(/->/, ":", key)
      for (i = 1; i <= NF; i++) { if ($i == "packets") pk[key] += $(i + 1); if ($i == "bytes") by[key] += $(i + 1) }
    }
    END {
      for (i = 1; i <= n; i++) { split(p[i], q, ":"); printf "port %s -> %s: %d packets, %d bytes\n", q[1], q[2], pk[p[i]], by[p[i]] }
    }'
  [ -n "$BLOCKED" ] || probe
}

# api_target: BASE (the API server's URL), CACERT (its CA file, if mounted) and TOKEN (the pod's
# ServiceAccount token, if mounted); fails when there is no usable address.
api_target() {
  BASE=${NODE_INIT_API_URL:-https://${KUBERNETES_SERVICE_HOST:-}:${KUBERNETES_SERVICE_PORT:-443}}
  printf '%s\n' "$BASE" | grep -Eq '^https?://[][A-Za-z0-9.:-]+$' || { log "no usable API address ($BASE)"; return 1; }
  sa=/var/run/secrets/kubernetes.io/serviceaccount
  CACERT="" TOKEN=""
  [ ! -r "$sa/ca.crt" ] || CACERT=$sa/ca.crt
  [ ! -r "$sa/token" ] || read -r TOKEN <"$sa/token" || true
}

# token_config: the curl config line that sends TOKEN. curl reads it on its standard input
# (--config -), never from a command line, which every user of the node could read in
# /proc/PID/cmdline under hostPID.
token_config() { [ -z "$TOKEN" ] || printf 'header = "Authorization: Bearer %s"\n' "$TOKEN"; }

# api METHOD PATH [BODY]: one Kubernetes API request with the pod's ServiceAccount token; the
# response body lands in $STATE_DIR/api.json, the HTTP status (000: no answer) in API_CODE.
api() {
  API_CODE=000
  method=$1 path=$2 body=${3:-}
  api_target || return 1
  set -- --silent --show-error --max-time 5 --config - --request "$method" --output "$STATE_DIR/api.json" \
    --write-out '%{http_code}' --header 'Accept: application/json'
  [ -z "$body" ] || set -- "$@" --header 'Content-Type: application/json' --data-binary "$body"
  [ -z "$CACERT" ] || set -- "$@" --cacert "$CACERT"
  API_CODE=$(token_config | curl "$@" "$BASE$path" 2>/dev/null) || API_CODE=000
}

# deletion_timestamp: .metadata.deletionTimestamp of the JSON object in $STATE_DIR/api.json (a
# label or annotation that merely contains the word is not it).
deletion_timestamp() { jq -r '.metadata.deletionTimestamp // empty' "$STATE_DIR/api.json"; }

# UNWANTED: a jq program over [DaemonSet, Node]. It prints why the DaemonSet no longer wants a pod
# on that node, as its controller decides to delete one (pkg/controller/daemon,
# NodeShouldRunDaemonPod: shouldContinueRunning): the template names another node, a nodeSelector
# label or the required node affinity does not match, or a NoExecute taint is not tolerated (by
# the template's tolerations or those the controller adds to every daemon pod). An untolerated
# NoSchedule taint keeps a running daemon pod, so it keeps the rules too. Prints nothing while
# the node is wanted, else the first reason; fails on what it cannot judge.
# shellcheck disable=SC2016 # the $ names are jq variables
UNWANTED='
def requirement($labels):
  (.values // []) as $values | $labels[.key] as $v |
  if .operator == "In" then $v != null and any($values[]; . == $v)
  elif .operator == "NotIn" then $v == null or all($values[]; . != $v)
  elif .operator == "Exists" then $v != null
  elif .operator == "DoesNotExist" then $v == null
  elif .operator == "Gt" then ($v | tonumber? // null) as $n | $n != null and $n > ($values[0] | tonumber)
  elif .operator == "Lt" then ($v | tonumber? // null) as $n | $n != null and $n < ($values[0] | tonumber)
  else error("unknown operator \(.operator)") end;
def term($labels; $fields):
  (.matchExpressions // []) as $e | (.matchFields // []) as $f |
  ($e + $f | length) > 0 and all($e[]; requirement($labels)) and all($f[]; requirement($fields));
def tolerates($taint):
  ((.effect // "") == "" or .effect == $taint.effect) and ((.key // "") == "" or .key == $taint.key) and
  ((.operator // "Equal") == "Exists" or (.value // "") == ($taint.value // ""));
.[0].spec.template.spec as $pod | .[1] as $node | ($node.metadata.labels // {}) as $labels |
(($pod.tolerations // []) + [
  { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" }
]) as $tolerations |
[
if ($pod.nodeName // "") != "" and $pod.nodeName != $node.metadata.name then "its pods are for node \($pod.nodeName)"
else empty end,
($pod.nodeSelector // {} | to_entries[] | select($labels[.key] != .value) | "nodeSelector \(.key)=\(.value) does not match"),
($pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms // null |
  if . == null or any(.[]; term($labels; { "metadata.name": $node.metadata.name })) then empty
  else "its required node affinity does not match" end),
($node.spec.taints // [] | .[] | select(.effect == "NoExecute") | . as $taint |
  select(any($tolerations[]; tolerates($taint)) | not) |
  "taint \(.key)\(if .value then "=" + .value else "" end):NoExecute is not tolerated")
] | .[0] // empty
'

# node_unwanted: true when the DaemonSet in $STATE_DIR/api.json no longer wants a pod on this node
# (a nodeSelector, affinity or toleration change: its controller deletes the pod and starts none
# here). Reads the Node; when it cannot read or judge it, the node is taken as wanted.
node_unwanted() {
  [ -n "${NODE_INIT_NODE_NAME:-}" ] || { log "no node name: cannot tell whether the DaemonSet still selects this node"; return 1; }
  cat "$STATE_DIR/api.json" >"$STATE_DIR/daemonset.json"
  api GET "/api/v1/nodes/$NODE_INIT_NODE_NAME" || return 1
  [ "$API_CODE" = 200 ] || { log "cannot read node $NODE_INIT_NODE_NAME (HTTP $API_CODE): taking it as still selected"; return 1; }
  why=$(jq -rs "$UNWANTED" "$STATE_DIR/daemonset.json" "$STATE_DIR/api.json" 2>&1) ||
    { log "cannot tell whether the DaemonSet still selects this node ($why): taking it as selected"; return 1; }
  [ -n "$why" ] || return 1
  log "the DaemonSet no longer selects this node: $why"
}

# watch_owner: from run's start, a watch on the release's node-init ConfigMap (this script; it
# has the DaemonSet's name): when it is deleted, $STATE_DIR/owner-deleted is made and "owner
# deleted" goes to the events FIFO (for the log). An uninstall (or nodeInit.enabled=false) deletes
# the DaemonSet, its Role and RoleBinding and this ConfigMap, in that order, while the pods stop:
# an established watch sees the deletion, where a request at stop time gets the 403 that an
# authorizer outage, a deleted RoleBinding or a pod without a token would get too. The ConfigMap,
# not the DaemonSet: it changes only with the chart, where the DaemonSet's status changes with
# every pod of the fleet, and each change would reach every node. Metadata only, for the same
# reason. The API server ends a watch after timeoutSeconds (4 to 6 minutes); run starts the next.
watch_owner() {
  OWNER_WATCH="" OWNER_FILTER=""
  [ "$OWNER" != / ] || return 0
  api_target || return 0
  rm -f "$STATE_DIR/owner"
  mkfifo -m 600 "$STATE_DIR/owner"
  set -- --silent --no-buffer --config - --header 'Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1'
  [ -z "$CACERT" ] || set -- "$@" --cacert "$CACERT"
  timeout=$((240 + $(date +%s) % 120))
  token_config | curl "$@" "$BASE/api/v1/namespaces/$NODE_INIT_NAMESPACE/configmaps?watch=1&fieldSelector=metadata.name%3D$NODE_INIT_DAEMONSET&timeoutSeconds=$timeout" \
    >"$STATE_DIR/owner" 2>/dev/null &
  OWNER_WATCH=$!
  # One line per event: "owner watched" once the object came, "owner deleted" (and the mark) on
  # its deletion; at the end "owner watch ended" (run starts the next at once), or "owner watch
  # failed" when it never delivered the object (no API, 403: the next tick tries again). The API
  # server writes each event on a line of its own, "type" first; grep passes only that much.
  (
    if [ "$LINE_BUFFERED" = yes ]; then grep --line-buffered -oE '^\{"type":"[A-Z]+"'; else cat; fi <"$STATE_DIR/owner" | {
      seen=""
      while read -r line; do
        case $line in
          '{"type":"ADDED"'* | '{"type":"MODIFIED"'*) [ -n "$seen" ] || echo "owner watched"; seen=1 ;;
          '{"type":"DELETED"'*) : >"$STATE_DIR/owner-deleted"; echo "owner deleted" ;;
        esac
      done
      if [ -n "$seen" ]; then echo "owner watch ended"; else echo "owner watch failed"; fi
    }
  ) >"$STATE_DIR/events" 3<&- &
  OWNER_FILTER=$!
}

# owner_watching: true while the watch on our ConfigMap and its filter both run.
owner_watching() { kill -0 "$OWNER_WATCH" 2>/dev/null && kill -0 "$OWNER_FILTER" 2>/dev/null; }

# rewatch_owner: a new watch on our ConfigMap in place of the last.
rewatch_owner() {
  kill "$OWNER_WATCH" "$OWNER_FILTER" 2>/dev/null || true
  hold_term
  watch_owner
  release_term
}

# rules_unwanted: true when this node's rules must go with this pod: our release is being removed
# (uninstall, or nodeInit.enabled=false: our ConfigMap's deletion seen by the watch, or the API's
# answer now that our DaemonSet is gone or being deleted), or our DaemonSet no longer selects this
# node. A restart, an update, an unreachable API and an answer that cannot tell (401, 403) keep
# the rules.
rules_unwanted() {
  [ "$OWNER" != / ] || { log "no DaemonSet configured: keeping rules"; return 1; }
  [ ! -e "$STATE_DIR/owner-deleted" ] || { log "node-init's ConfigMap deleted (seen by the watch): the release is being removed"; return 0; }
  api GET "/apis/apps/v1/namespaces/$NODE_INIT_NAMESPACE/daemonsets/$NODE_INIT_DAEMONSET" || { log "keeping rules"; return 1; }
  case $API_CODE in
    200) if [ -n "$(deletion_timestamp)" ]; then log "DaemonSet is being deleted"; return 0; fi
      ! node_unwanted || return 0
      log "DaemonSet still exists and selects this node: keeping rules (restart or update)"; return 1 ;;
    404) log "DaemonSet is gone (HTTP 404)"; return 0 ;;
    401 | 403)
      # An uninstall deletes the RBAC, then the ConfigMap: give the watch a moment to tell.
      for try in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
        [ ! -e "$STATE_DIR/owner-deleted" ] || { log "node-init's ConfigMap deleted (seen by the watch): the release is being removed"; return 0; }
        sleep 0.2
      done
      log "API answered HTTP $API_CODE and no deletion of the release was seen: keeping rules. A token or authorization problem answers the same as an uninstall; if edge was uninstalled, remove them on this node: nft delete table $FAMILY $TABLE"
      return 1 ;;
    *) log "API answered HTTP $API_CODE: keeping rules"; return 1 ;;
  esac
}

# event TYPE REASON MESSAGE: a core/v1 Event about this pod (NODE_INIT_POD_NAME, _POD_UID,
# NODE_INIT_NODE_NAME from the downward API), in the background.
event() {
  printf '%s\n' "$NODE_INIT_POD_NAME${NODE_INIT_POD_UID:-}${NODE_INIT_NODE_NAME:-}" | grep -Eq '^[a-z0-9.-]+$' ||
    { log "pod name, UID or node name are not DNS names: no Event"; return 0; }
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  # Our own messages hold no quote or backslash; escape them all the same.
  message=$(printf '%s' "$3" | awk '{ gsub(/[\\"]/, "\\\\&"); printf "%s", $0 }')
  body=$(printf '{"apiVersion":"v1","kind":"Event","metadata":{"generateName":"%s.","namespace":"%s"},"involvedObject":{"apiVersion":"v1","kind":"Pod","name":"%s","namespace":"%s","uid":"%s"},"type":"%s","reason":"%s","message":"%s","source":{"component":"edge-node-init","host":"%s"},"reportingComponent":"edge-node-init","reportingInstance":"%s","firstTimestamp":"%s","lastTimestamp":"%s","count":1}' \
    "$NODE_INIT_POD_NAME" "$NODE_INIT_NAMESPACE" "$NODE_INIT_POD_NAME" "$NODE_INIT_NAMESPACE" "${NODE_INIT_POD_UID:-}" \
    "$1" "$2" "$message" "${NODE_INIT_NODE_NAME:-}" "${NODE_INIT_NODE_NAME:-}" "$now" "$now")
  (
    # A few tries: an API that is briefly unreachable must not lose the one Event of a change.
    for try in 1 2 3; do
      api POST "/api/v1/namespaces/$NODE_INIT_NAMESPACE/events" "$body" || true
      case $API_CODE in 2??) log "Event $2 sent"; exit 0 ;; esac
      [ "$try" = 3 ] || sleep 2
    done
    log "Event $2 not sent (HTTP $API_CODE)"
  ) 3<&- &
}

# The run loop's heartbeat: the modification time of a file, refreshed (by the shell alone, no
# process) at every turn of the loop and read by `alive` (the liveness probe).
beat() { : >"$STATE_DIR/heartbeat"; }

# alive: exit 0 iff `run` refreshed its heartbeat within two resync periods plus a minute (time for
# a slow check and apply). Drift does not matter here: the loop repairs it; only a stuck loop fails.
alive() {
  last=$(date -r "$STATE_DIR/heartbeat" +%s 2>/dev/null) || { echo "no heartbeat yet"; return 1; }
  case $last in '' | *[!0-9]*) echo "heartbeat '$last' is not a time"; return 1 ;; esac
  age=$(($(date +%s) - last)) limit=$((2 * RESYNC + 60))
  [ "$age" -le "$limit" ] || { echo "run loop stuck: last heartbeat ${age}s ago (limit ${limit}s)"; return 1; }
}

# start_events: start the event sources `run` waits on, writing lines into one FIFO read on fd 3:
# `nft monitor` (every ruleset change; a transaction ends with a "# new generation" line), `ip
# monitor address` (kube-ipvs0's Service addresses), the watch on our ConfigMap (watch_owner) and
# a ticker (`tick` every period in $STATE_DIR/tick: the safety net, and the only signal for
# iptables-legacy rules, which nftables does not report).
start_events() {
  fifo="$STATE_DIR/events"
  rm -f "$fifo"
  mkfifo -m 600 "$fifo"
  # Read-write, before any writer exists: a read-only open waits for a writer, and a SIGTERM in
  # that wait fails the open, which ends the shell without its trap and strands the writers.
  exec 3<>"$fifo"
  hold_term
  start_monitor
  watch_owner
  (
    # Stopped by run's on_term: take the sleep along, which would otherwise outlive us. (Should a
    # stop come between its start and its PID, it holds no more than the FIFO until it ends.)
    sleeper=""
    trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
    while :; do
      read -r period <"$STATE_DIR/tick" || period=$RESYNC
      sleep "$period" 2>/dev/null &
      sleeper=$!
      wait "$sleeper"
      echo tick
    done
  ) >"$fifo" &
  TICKER=$!
  release_term
}

# The `nft monitor` lines `run` acts on (see its loop). Everything else — kube-proxy rewriting its
# Service chains, thousands of lines per sync on a large cluster — is dropped by grep, which reads
# the stream in blocks, before the shell's `read` (one read() per byte) would see it. "# ERROR"
# is nft's word that its socket overflowed and events were lost.
EVENTS='^# new generation|^# ERROR|table ip6? (kube-proxy|nat|cni_hostport)( |$)| kube-proxy nodeport-ips| nat (KUBE-SERVICES|CNI-)| cni_hostport | inet edge_node_init( |$)'

# start_monitor: nft monitor into a FIFO of its own, filtered by grep into the events FIFO.
# Without a grep that line-buffers (busybox), cat passes every line instead. Then ip monitor,
# whose changes of kube-ipvs0's addresses (and lost messages: "No buffer space") awk reduces to
# one "kube-ipvs0 changed" line until `plan` has read them: kube-proxy binding thousands of
# Service addresses wakes run once per plan, not once per address.
start_monitor() {
  rm -f "$STATE_DIR/monitor" "$STATE_DIR/addresses"
  mkfifo -m 600 "$STATE_DIR/monitor" "$STATE_DIR/addresses"
  nft monitor >"$STATE_DIR/monitor" 2>/dev/null &
  MONITOR=$!
  if [ "$LINE_BUFFERED" = yes ]; then
    grep --line-buffered -E "$EVENTS" <"$STATE_DIR/monitor" >"$STATE_DIR/events" &
  else
    cat <"$STATE_DIR/monitor" >"$STATE_DIR/events" &
  fi
  FILTER=$!
  # Not -o: its one-line form ends a message with the next one.
  ip monitor address >"$STATE_DIR/addresses" 2>&1 &
  ADDRESS_MONITOR=$!
  # shellcheck disable=SC2086 # no option, or one option and its argument
  awk $AWK_LINES -v flag="$STATE_DIR/kube-ipvs0-changed" '/kube-ipvs0|No buffer space/ {
    missing = (getline line <flag) < 0
    close(flag)
    if (missing) { printf "" >flag; close(flag); print "kube-ipvs0 changed"; fflush() }
  }' <"$STATE_DIR/addresses" >"$STATE_DIR/events" &
  ADDRESS_FILTER=$!
  # What changed before the monitor listened: read again, now.
  SERVICES_READ=""
  [ "$MODE" != ipvs ] || echo "kube-ipvs0 changed" >"$STATE_DIR/events"
}

# monitoring: true while both monitors and their filters run.
monitoring() {
  for pid in "$MONITOR" "$FILTER" "$ADDRESS_MONITOR" "$ADDRESS_FILTER"; do kill -0 "$pid" 2>/dev/null || return 1; done
}

# The ticker's period: every 2 s while rules are withheld (kube-proxy in iptables-legacy mode
# sends no event when it starts; a host process that frees a port sends none either), else every
# resync.
set_tick() {
  if [ -n "$BLOCKED$WITHHELD" ]; then echo 2; else echo "$RESYNC"; fi >"$STATE_DIR/tick"
}

# reconcile [terse]: plan again; rebuild the rules if the plan changed, repair them (intact,
# tersely or not) if they drifted. A plan that cannot be made (nft or /proc unreadable) is
# recorded, so the pod turns un-Ready until the next one succeeds: node-init then fails to do what
# it decided.
reconcile() {
  if ! plan; then
    log "cannot read what decides the rules ($NFT_ERROR); trying again at the next change or tick"
    mkdir -p "$STATE_DIR"
    printf 'cannot read what decides the rules: %s\n' "$NFT_ERROR" >"$STATE_DIR/error"
    echo 2 >"$STATE_DIR/tick"
    PLAN_ERRORS=$((PLAN_ERRORS + 1))
    metrics
    return 0
  fi
  rm -f "$STATE_DIR/error"
  if [ "$(intent)" != "$(cat "$STATE_DIR/intent" 2>/dev/null)" ]; then
    log "plan changed: kube-proxy mode $MODE; method ${USE:-none}; IPv4 $(served "$NODEPORTS4"); IPv6 $(served "$NODEPORTS6")"
    install_rules
  else
    repair "${1:-}"
  fi
  LISTENERS=$LISTENING
  set_tick
  announce
}

# repair [terse]: re-apply if our table is not what was installed (intact, tersely or not).
repair() {
  if ! intact "${1:-}"; then
    log "drift: $REASON; re-applying"
    REPAIRS=$((REPAIRS + 1))
    install_rules
  fi
}

# listeners_moved: true when the host processes listening on public ports differ from the last
# plan's (nftables reports no socket, so each tick looks: one awk over /proc/net/tcp and tcp6).
listeners_moved() {
  host_listeners || return 0
  [ "$LISTENING" != "${LISTENERS:-}" ]
}

# announce: a Kubernetes Event on this pod when the decision changes (rules withheld, and why;
# rules back in place), once per change: the pod stays Ready, so the Event, the log, `status`,
# `check` and the metrics are where a refusal shows. Sent in the background: a slow API never
# delays a repair.
announce() {
  [ -n "${NODE_INIT_POD_NAME:-}" ] || return 0
  now=""
  [ ! -s "$STATE_DIR/withheld" ] || read -r now <"$STATE_DIR/withheld" || true
  last=""
  [ ! -e "$STATE_DIR/announced" ] || read -r last <"$STATE_DIR/announced" || true
  [ "$now" != "$last" ] || return 0
  printf '%s\n' "$now" >"$STATE_DIR/announced"
  if [ -n "$now" ]; then
    event Warning RulesWithheld "node-init withholds rules on this node: $now"
  else
    event Normal RulesInstalled "node-init serves every public port on this node again: $PORTS"
  fi
}

# report: log the probe results when they change (times aside), from a background process: a
# probe waits up to 3 s per address and port for Kong, and a repair never waits for it. One report
# at a time; the last outcome is kept in the pod's state. Informational: readiness never depends
# on it, so a Kong outage never flaps node-init.
report() {
  [ -z "$BLOCKED" ] || return 0
  ! kill -0 "${REPORTER:-}" 2>/dev/null || return 0
  hold_term
  (
    # The probe's loop runs in this process, so stopping it (on_term) leaves at most one curl.
    probe >"$STATE_DIR/probe"
    outcome=$(awk '{ sub(/, [0-9.]+s$/, ""); sub(/\) .*/, ")"); print }' "$STATE_DIR/probe")
    last=$(cat "$STATE_DIR/probed" 2>/dev/null) || last=""
    [ "$outcome" != "$last" ] || exit 0
    printf '%s\n' "$outcome" >"$STATE_DIR/probed"
    while read -r line; do log "$line"; done <"$STATE_DIR/probe"
  ) 3<&- &
  REPORTER=$!
  release_term
}

# stop_helpers: end run's background processes. One forked a moment ago may still hold our TERM
# handler and lose the signal (it would then wait forever on a FIFO): what is left after a second
# is killed.
stop_helpers() {
  set -- $TICKER $MONITOR $FILTER $ADDRESS_MONITOR $ADDRESS_FILTER ${REPORTER:-} $OWNER_WATCH $OWNER_FILTER
  [ $# -gt 0 ] || return 0
  kill "$@" 2>/dev/null || true
  for try in 1 2 3 4 5 6 7 8 9 10; do
    left=""
    for pid; do ! kill -0 "$pid" 2>/dev/null || left="$left $pid"; done
    [ -n "$left" ] || return 0
    sleep 0.1
  done
  kill -KILL $left 2>/dev/null || true
}

# hold_term / release_term: around forking a helper and recording its PID. A SIGTERM between the
# two would run on_term with the PID unknown and leave the helper running: held, it is acted on
# once the PID is known.
hold_term() { trap 'STOP=1' TERM INT; }
release_term() {
  trap on_term TERM INT
  [ -z "$STOP" ] || on_term
}

on_term() {
  log "stopping"
  # Decided while the watch on our ConfigMap still runs (rules_unwanted may wait for it).
  if rules_unwanted; then gone=1; else gone=""; fi
  stop_helpers
  [ -z "$gone" ] || delete
  exit 0
}

# run: apply, then wait for events: repair at once when a transaction touches our table, plan
# again when it touches what decides the plan (kube-proxy's tables and NodePort addresses, the
# nat table's KUBE-SERVICES, CNI hostPort chains and tables) or kube-ipvs0's Service addresses
# change (ip monitor). A tick checks the table, and plans
# again (every tick where nftables cannot report the change, every tenth elsewhere). Anything
# else (kube-proxy rewriting its Service rules) never reaches the shell but for the one
# "# new generation" line of each transaction (see EVENTS).
run() {
  require curl mkfifo jq
  TICKER="" MONITOR="" FILTER="" ADDRESS_FILTER="" REPORTER="" OWNER_WATCH="" OWNER_FILTER="" OWNER_WATCHED="" STOP="" pending="" ticks=0
  LINE_BUFFERED=no
  if printf 'x\n' | grep --line-buffered -q x 2>/dev/null; then LINE_BUFFERED=yes; fi
  # mawk reads a pipe in blocks, waiting for a full one, unless told to read it line by line.
  AWK_LINES=""
  if awk -W interactive 'BEGIN { exit }' </dev/null 2>/dev/null; then AWK_LINES="-W interactive"; fi
  trap on_term TERM INT
  apply
  set_tick
  beat
  start_events
  log "watching ruleset changes; full check every ${RESYNC}s"
  LISTENERS=$LISTENING
  announce
  report
  while :; do
    read -r event <&3 || die "cannot read the event FIFO"
    case $event in
      tick)
        ticks=$((ticks + 1))
        [ -z "$OWNER_WATCH" ] || owner_watching || rewatch_owner
        if ! monitoring; then
          log "nft monitor or ip monitor exited; restarting them"
          kill "$MONITOR" "$FILTER" "$ADDRESS_MONITOR" "$ADDRESS_FILTER" 2>/dev/null || true
          hold_term
          start_monitor
          release_term
          reconcile
        elif [ $((ticks % 10)) = 0 ]; then
          reconcile
          report
        else
          # nftables reports every ruleset change that matters in kube-proxy's nftables mode and
          # with iptables' nf_tables backend, so a tick there checks our table (one nft call) and
          # the sockets on the public ports (one awk), and plans again only when those moved, a
          # port is withheld or the last plan failed. Between two full checks (every tenth
          # tick), our table is checked without its sets' elements, which nft monitor reports.
          case $MODE in
            nftables | iptables-nft)
              if [ -n "$BLOCKED$WITHHELD" ] || [ -e "$STATE_DIR/error" ] || listeners_moved; then reconcile terse; else repair terse; fi ;;
            *) reconcile terse ;;
          esac
        fi
        # The reporter's last probe, into the metrics.
        metrics
        ;;
      "owner deleted") log "node-init's ConfigMap deleted: the release is being removed; the rules go when this pod stops" ;;
      "owner watched")
        [ "$OWNER_WATCHED" = yes ] || log "watching node-init's ConfigMap: an uninstall is recognised even after its RBAC is gone"
        OWNER_WATCHED=yes
        ;;
      "owner watch ended") rewatch_owner ;;
      "owner watch failed")
        # The first failure of a streak is tried again a second later (an API server briefly
        # away, a pod whose network is not up yet), then at every tick.
        if [ "$OWNER_WATCHED" != no ]; then
          log "cannot watch node-init's ConfigMap (no answer, or not allowed): when stopped, only the DaemonSet's answer tells an uninstall; trying again now, then at every tick"
          OWNER_WATCHED=no
          sleep 1
          rewatch_owner
        fi
        ;;
      "kube-ipvs0 changed") reconcile ;;
      "# ERROR"*)
        # What was lost may be anything, our table's deletion included: look at everything now.
        log "nft monitor lost events (its socket overflowed); planning again"
        reconcile
        pending=""
        ;;
      "# new generation"*)
        case $pending in
          plan) reconcile ;;
          ours) repair ;;
        esac
        pending=""
        ;;
      *"table ip kube-proxy"* | *"table ip6 kube-proxy"* | *" kube-proxy nodeport-ips"* | \
        *"table ip nat"* | *"table ip6 nat"* | *" nat KUBE-SERVICES"* | *" nat CNI-"* | *" cni_hostport"*)
        pending=plan
        ;;
      *" $FAMILY $TABLE"*) [ "$pending" = plan ] || pending=ours ;;
    esac
    beat
  done
}

# serve_metrics: the metrics container's command, as its non-root user: mini_httpd serves
# $STATE_DIR/metrics (the one file `metrics` writes) on NODE_INIT_METRICS_ADDRESS, port
# NODE_INIT_METRICS_PORT. When it cannot listen (the port taken on the node) it says so and tries
# again every 10 s, never crash-looping: an un-Ready pod would stop the DaemonSet's rollout.
serve_metrics() {
  address=${NODE_INIT_METRICS_ADDRESS:-} port=${NODE_INIT_METRICS_PORT:-}
  valid_port "$port" || die "NODE_INIT_METRICS_PORT: '$port' is not a port (1-65535)"
  valid_ipv4_cidr "$address/32" || valid_ipv6_cidr "$address/128" ||
    die "NODE_INIT_METRICS_ADDRESS: '$address' is not an IPv4 or IPv6 address"
  server=""
  trap 'kill "$server" 2>/dev/null; exit 0' TERM INT
  while :; do
    if [ -d "$STATE_DIR/metrics" ]; then
      log "serving metrics on $address port $port"
      mini_httpd -D -h "$address" -p "$port" -d "$STATE_DIR/metrics" &
      server=$!
      wait "$server" || true
      log "metrics server ended (is port $port taken on $address?); starting it again in 10 s"
    fi
    sleep 10 &
    server=$!
    wait "$server" || true
  done
}

# Sourced with NODE_INIT_LIBRARY=1, the script ends here, its functions defined: the parser tests
# replay recorded listings through them, without root.
[ "${NODE_INIT_LIBRARY:-}" != 1 ] || return 0
verb=${1:-}
if [ "$verb" = serve-metrics ]; then
  require mini_httpd
  serve_metrics
fi
require nft ip awk grep sort mv
load_config
case $verb in
  apply) apply ;;
  check) check || { echo "$REASON" >&2; exit 1; } ;;
  ready) ready || { echo "$REASON" >&2; exit 1; } ;;
  delete) delete ;;
  run) run ;;
  status) status ;;
  alive) reason=$(alive) || { echo "$reason" >&2; exit 1; } ;;
  *) echo "usage: $0 apply|check|delete|run|status|ready|alive|serve-metrics" >&2; exit 2 ;;
esac
