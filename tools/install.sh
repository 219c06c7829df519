#!/bin/sh
# Installs what a command needs and a fresh machine lacks: the pinned tools, built once per user
# into a store outside the clone, and linked from the clone's .tools.
# Usage: sh tools/install.sh [COMMAND | GROUP]...   (none: helm)
#
# Commands and their groups (groups_of below):
#   test          system helm3 helm4 chart control kwok node lint argocd oci cosign renovate
#                 (`npm run tools`, npm test's pretest: what every suite runs)
#   test:cluster  system helm3 helm4 control kwok (tests/cluster: both Helms against the control
#                 plane and kwok's nodes)
#   bench         system helm3 control kwok node oci (the netns testbed, the real nodes, the kwok
#                 fleets; each renders and installs with helm3)
#   demo          system helm3 control node oci (the control plane without kwok, two real nodes,
#                 and the registry on their lan that oras fills with the images they pull)
#   helm, cluster, registry: helm3 helm4 chart, control kwok, oci cosign (the groups of old).
# Groups and their tools:
#   system    the Debian packages of the programs in tools/programs.tsv missing from PATH
#             (apt-get, so root; only when something is missing)
#   helm3     helm3: Helm 3 from the Go module proxy at HELM3_VERSION (tools/versions.env)
#   helm4     helm4: Helm 4 at HELM4_VERSION
#   chart     the chart tests' own: helm-unittest (tools/go.mod) and psa-check (tools/psa)
#   control   a control plane: etcd (tools/etcd), kube-apiserver, kube-controller-manager and
#             kube-scheduler (kube: tools/k8s at KUBE_VERSION, one binary for all six Kubernetes
#             commands, linked under each name; so `control` links kubelet, kube-proxy, kubectl too)
#   kwok      kwok, with its stages (share/kwok/stage), for fake nodes
#   node      what a real node runs: kubelet, kube-proxy and kubectl (kube, as the control
#             plane), containerd with its runc shim and ctr, runc (cgo, with libseccomp from
#             `system`), the CNI plugins bridge, host-local, loopback and portmap (into .tools/cni,
#             apart from iproute2's own `bridge`), and crictl to debug a node by hand
#   lint      actionlint (the release workflow) and shfmt (its parser lists the commands of
#             files/node-init.sh for the image tests)
#   argocd    Argo CD's one binary (tools/argocd), also linked as argocd-application-controller and
#             argocd-repo-server, with the manifests and hack/ scripts its tests apply and run
#             (share/argocd)
#   oci       CNCF Distribution's registry and oras: the OCI tests and the real nodes' lan
#   cosign    cosign, to sign and verify for the OCI tests
#   renovate  Renovate's config validator: tools/renovate's npm lock, with the Node release
#             Renovate needs (linux-x64, from the npm registry), as .tools/renovate
#
# The store, ${EDGE_TOOLS_STORE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-chart/tools}, holds each
# build as TOOL/STAMP/, laid out as .tools is (bin/NAME, cni/NAME, share/TOOL/, renovate/), with
# `recipe`: the text whose SHA-256 is STAMP, i.e. everything the build depends on (the pin, the
# go.mod, go.sum and sources of its tools/ module, ldflags, cgo, tags, GOFLAGS, the Go toolchain,
# the data copied beside it). .tools/bin/NAME, .tools/cni/NAME, .tools/share/TOOL and
# .tools/renovate are links into it, so a clone links what this user built before with the same
# inputs and builds only what is missing. An entry appears by one rename once complete: a killed
# build leaves no entry, and installs running at once each build their own and keep the first.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=/dev/null # the pins: assignments only
. "$root/tools/versions.env"
store=${EDGE_TOOLS_STORE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-chart/tools}
tools=$root/.tools
# Bumped when an entry's layout changes, so that no clone links an entry of another layout.
layout=1
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"
# What the next build uses besides its ldflags, for go_tools and its recipe.
cgo=0 tags='' data='' aliases=''

# Builds under way, removed however the script ends; a build killed harder is swept a day later.
temps=''
# shellcheck disable=SC2086 # one word per directory
trap 'rm -rf $temps' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# scratch DIR: a new empty directory inside DIR, in $new (same file system as the entry it becomes).
scratch() {
  mkdir -p "$1"
  new=$(mktemp -d "$1/.new.XXXXXX")
  temps="$temps $new"
}

# sweep: what builds killed more than a day ago left in the store.
sweep() {
  find "$store" -maxdepth 2 -name '.new.*' -mtime +0 -exec rm -rf {} + 2>/dev/null || true
}

# link TARGET PATH: .tools/PATH becomes a link to TARGET by one rename, so a test running meanwhile
# never finds it missing; a file or folder of the old in-clone layout there is replaced.
link() {
  [ "$(readlink "$tools/$2" 2>/dev/null)" != "$1" ] || return 0
  mkdir -p "$(dirname "$tools/$2")"
  [ -L "$tools/$2" ] || ! [ -d "$tools/$2" ] || rm -rf "${tools:?}/$2"
  ln -sfn "$1" "$tools/$2.new.$$"
  mv -fT "$tools/$2.new.$$" "$tools/$2"
}

# use: links what the store entry $tool/$stamp holds into .tools.
use() {
  entry=$store/$tool/$stamp
  for f in "$entry"/bin/* "$entry"/cni/* "$entry"/share/* "$entry"/renovate; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    link "$f" "${f#"$entry"/}"
  done
}

# commit: the complete entry $new becomes $tool/$stamp by one rename, with its recipe; when an
# install running at once got there first, its entry stays and this one goes.
commit() {
  printf '%s\n' "$recipe" >"$new/recipe"
  mv -T "$new" "$store/$tool/$stamp" 2>/dev/null || rm -rf "$new"
  [ -d "$store/$tool/$stamp" ] || { echo "tools: could not store $store/$tool/$stamp" >&2; exit 1; }
  use
}

# fresh TOOL WHAT: the one staleness check of every Go tool. Sets recipe to everything TOOL's build
# depends on (WHAT: its package at its pin, or its tools/ module's files; then ldflags, cgo, tags,
# GOFLAGS, the data and aliases beside it, the Go toolchain) and stamp to its SHA-256; true when
# the store holds that build.
fresh() {
  [ -n "${go_env:-}" ] || go_env=$(go version && go env GOOS GOARCH GOAMD64 GOEXPERIMENT | tr '\n' ' ')
  recipe="tool $1
build $2
ldflags -s -w $ldflags
CGO_ENABLED=$cgo tags=$tags GOFLAGS=$GOFLAGS
data $data
aliases $aliases
$go_env
layout $layout"
  stamp=$(printf '%s\n' "$recipe" | sha256sum | cut -d' ' -f1)
  [ -d "$store/$1/$stamp" ]
}

# share: copies $data (MODULE@VERSION, then paths in it, SRC or SRC=DEST) into $new/share/$tool:
# what the tests read at run time, from the module the build used. The module cache keeps files
# read-only and not executable; the copies are writable, and scripts (*.sh) executable.
share() {
  # shellcheck disable=SC2086 # one word per path
  set -- $data
  from=$(cd "$store" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  [ -d "$from" ] || { echo "tools: $1 is not in the Go module cache" >&2; exit 1; }
  shift
  for path in "$@"; do
    dest=$new/share/$tool/${path#*=}
    mkdir -p "$(dirname "$dest")"
    cp -R "$from/${path%%=*}" "$dest"
  done
  chmod -R u+w "$new/share"
  find "$new/share" -name '*.sh' -exec chmod 0755 {} +
}

# go_tools DIR SOURCE LDFLAGS NAME=PACKAGE...: the Go commands NAME, linked as .tools/DIR/NAME,
# those the store lacks built in one go. SOURCE is @VERSION (go install PACKAGE@VERSION: a module
# without replace directives, at its release) or tools/MOD@PIN (go build in the module tools/MOD,
# whose go.mod pins PIN). A command's store entry is TOOL: NAME, or DIR-NAME outside bin.
go_tools() {
  dir=$1 source=$2 ldflags=$3
  shift 3
  case $source in
    @*) mod='' at=$source ;;
    *)
      # The module's files: go.mod and go.sum, which pin what it builds, and its own sources.
      mod=$root/${source%%@*} pin=''
      case $source in *@*) pin=${source#*@} ;; esac
      at=" in ${source%%@*}${pin:+ at $pin}, files $(cd "$mod" && for f in go.mod go.sum *.go; do
        [ ! -f "$f" ] || { echo "$f"; cat "$f"; }
      done | sha256sum | cut -d' ' -f1)"
      ;;
  esac
  todo='' pkgs=''
  for spec in "$@"; do
    tool=${spec%%=*} pkg=${spec#*=}
    [ "$dir" = bin ] || tool=$dir-$tool
    if fresh "$tool" "$pkg$at"; then
      use
      continue
    fi
    todo="$todo $spec" pkgs="$pkgs $pkg"
    [ -n "$mod" ] || pkgs="$pkgs$at"
  done
  [ -n "$todo" ] || return 0
  sweep
  echo "tools: building$pkgs${mod:+ (${source%%@*})}" >&2
  scratch "$store"
  out=$new
  if [ -n "$mod" ]; then
    # shellcheck disable=SC2086 # one word per package
    (cd "$mod" && CGO_ENABLED=$cgo go build ${tags:+"-tags=$tags"} -ldflags "-s -w $ldflags" -o "$out/" $pkgs)
  else
    # shellcheck disable=SC2086 # one word per package
    GOBIN=$out CGO_ENABLED=$cgo go install ${tags:+"-tags=$tags"} -ldflags "-s -w $ldflags" $pkgs
  fi
  for spec in $todo; do
    name=${spec%%=*} pkg=${spec#*=}
    tool=$name
    [ "$dir" = bin ] || tool=$dir-$name
    fresh "$tool" "$pkg$at" || true
    # go names a binary after the last element of its package path, skipping a /vN suffix.
    file=$(basename "$pkg")
    case $file in v[0-9]*) file=$(basename "$(dirname "$pkg")") ;; esac
    scratch "$store/$tool"
    mkdir "$new/$dir"
    mv "$out/$file" "$new/$dir/$name"
    for alias in $aliases; do ln -s "$name" "$new/$dir/$alias"; done
    [ -z "$data" ] || share
    commit
  done
  rm -rf "$out"
}

# helm_tool NAME MODULE VERSION [LDFLAGS]: a Helm release under its own name, with the version
# stamps its release build sets.
helm_tool() {
  go_tools bin "@$3" "-X $2/internal/version.version=$3 ${4:-}" "$1=$2/cmd/helm"
}

helm3_tools() {
  helm_tool helm3 helm.sh/helm/v3 "$HELM3_VERSION" "\
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM3_KUBE_MINOR \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM3_KUBE_MINOR"
}

helm4_tools() {
  helm_tool helm4 helm.sh/helm/v4 "$HELM4_VERSION"
}

# chart_tools: helm-unittest from tools/go.mod (its own go.mod has a replace directive), and
# psa-check: the Pod Security Admission library, pinned by tools/psa/go.mod, and its main.go.
chart_tools() {
  go_tools bin "tools@$HELM_UNITTEST_VERSION" "" helm-unittest=github.com/helm-unittest/helm-unittest/cmd/helm-unittest
  go_tools bin tools/psa "" psa-check=edge.local/tools/psa
}

# kube_tools: kube, the commands of k8s.io/kubernetes at KUBE_VERSION as one binary (tools/k8s's
# main.go), with the version stamps of its release build, linked under each command's name.
# One binary links once what the six share, instead of six times.
kube_tools() {
  grep -q "^	k8s.io/kubernetes $KUBE_VERSION " "$root/tools/k8s/go.mod" || {
    echo "tools: tools/k8s/go.mod is not at k8s.io/kubernetes $KUBE_VERSION; run sh tools/k8s/update.sh" >&2
    exit 1
  }
  # The version stamps of the Kubernetes release build (hack/lib/version.sh), buildDate being the
  # release's commit time as the module proxy reports it; git commit and tree state are unknown.
  minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  ldflags=''
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  done
  kube_date=$(cd "$root/tools/k8s" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
  [ -z "$kube_date" ] || ldflags="$ldflags \
    -X k8s.io/client-go/pkg/version.buildDate=$kube_date -X k8s.io/component-base/version.buildDate=$kube_date"
  aliases='kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl'
  go_tools bin "tools/k8s@$KUBE_VERSION" "$ldflags" kube=edge.local/tools/k8s
  aliases=''
  kube_done=1
}

# control_tools: a real control plane at KUBE_VERSION and its etcd.
control_tools() {
  [ -n "${kube_done:-}" ] || kube_tools
  grep -q "^	go.etcd.io/etcd/server/v3 $ETCD_VERSION " "$root/tools/etcd/go.mod" || {
    echo "tools: tools/etcd/go.mod is not at go.etcd.io/etcd/server/v3 $ETCD_VERSION" >&2
    exit 1
  }
  # etcd's version is a constant; its build only adds the git SHA, which the module proxy lacks.
  go_tools bin "tools/etcd@$ETCD_VERSION" "" etcd=go.etcd.io/etcd/server/v3
}

# kwok_tools: kwok for fake nodes, and the stages the tests give it (kwokctl's defaults), from the
# same release. kwok's go.mod has no replace directives (and needs newer k8s.io libraries than
# tools/k8s pins), so it is go installed at its release like Helm.
kwok_tools() {
  data="sigs.k8s.io/kwok@$KWOK_VERSION kustomize/stage=stage"
  go_tools bin "@$KWOK_VERSION" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" kwok=sigs.k8s.io/kwok/cmd/kwok
  data=''
}

# node_tools: the programs of a real node, and kubectl to explore it. kubelet, kube-proxy and
# kubectl are the control plane's kube; containerd, runc and the CNI plugins are go installed at
# their releases with the version stamps of their release builds (Makefile LDFLAGS).
node_tools() {
  [ -n "${kube_done:-}" ] || kube_tools
  ctr=github.com/containerd/containerd/v2
  go_tools bin "@$CONTAINERD_VERSION" "-X $ctr/version.Version=$CONTAINERD_VERSION -X $ctr/version.Package=$ctr" \
    "containerd=$ctr/cmd/containerd" "containerd-shim-runc-v2=$ctr/cmd/containerd-shim-runc-v2" "ctr=$ctr/cmd/ctr"
  # runc needs cgo (its nsexec runs before the Go runtime) and libseccomp for seccomp profiles.
  cgo=1 tags=seccomp
  go_tools bin "@$RUNC_VERSION" "-X main.version=${RUNC_VERSION#v}" runc=github.com/opencontainers/runc
  cgo=0 tags=''
  cni=github.com/containernetworking/plugins
  go_tools cni "@$CNI_PLUGINS_VERSION" "-X $cni/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
    "bridge=$cni/plugins/main/bridge" "host-local=$cni/plugins/ipam/host-local" \
    "loopback=$cni/plugins/main/loopback" "portmap=$cni/plugins/meta/portmap"
  go_tools bin "@$CRICTL_VERSION" "" crictl=sigs.k8s.io/cri-tools/cmd/crictl
}

# argocd_tools: Argo CD at ARGOCD_VERSION from tools/argocd/go.mod. One binary serves every
# component; it picks one by the name it is run as (or ARGOCD_BINARY_NAME), hence the aliases.
# Beside it, the CRDs and configuration its tests apply and the scripts its image puts on the
# repo-server's PATH, from the same release.
argocd_tools() {
  if ! grep -q "^	github.com/argoproj/argo-cd/v3 $ARGOCD_VERSION " "$root/tools/argocd/go.mod" ||
    ! grep -q "=> github.com/argoproj/argo-cd/gitops-engine $ARGOCD_GITOPS_ENGINE_VERSION\$" "$root/tools/argocd/go.mod"; then
    echo "tools: tools/argocd/go.mod is not at argo-cd $ARGOCD_VERSION; run sh tools/argocd/update.sh" >&2
    exit 1
  fi
  # The version stamps of Argo CD's release build (its Makefile's LDFLAGS): buildDate is the
  # release's commit time as the module proxy reports it; git commit and tree state are unknown.
  pkg=github.com/argoproj/argo-cd/v3/common
  stamps=$(cd "$root/tools/argocd" && go list -m -f "{{if eq .Path \"k8s.io/kubectl\"}}-X $pkg.kubectlVersion={{.Version}}{{else}}\
{{with .Time}}-X $pkg.buildDate={{.UTC.Format \"2006-01-02T15:04:05Z\"}}{{end}}{{end}}" k8s.io/kubectl github.com/argoproj/argo-cd/v3 | tr '\n' ' ')
  data="github.com/argoproj/argo-cd/v3@$ARGOCD_VERSION manifests/crds/application-crd.yaml \
manifests/crds/appproject-crd.yaml manifests/core-install.yaml hack/git-verify-wrapper.sh hack/gpg-wrapper.sh"
  aliases='argocd-application-controller argocd-repo-server'
  go_tools bin "tools/argocd@$ARGOCD_VERSION $ARGOCD_GITOPS_ENGINE_VERSION" \
    "-X $pkg.version=${ARGOCD_VERSION#v} -X $pkg.gitTag=$ARGOCD_VERSION $stamps" argocd=github.com/argoproj/argo-cd/v3/cmd
  data='' aliases=''
}

# oci_tools and cosign_tools: each at its release, with the version stamps of its release build
# (Makefile LDFLAGS; oras reads its version from the build info).
oci_tools() {
  go_tools bin "@$DISTRIBUTION_VERSION" "-X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION" \
    registry=github.com/distribution/distribution/v3/cmd/registry
  go_tools bin "@$ORAS_VERSION" "" oras=oras.land/oras/cmd/oras
}

cosign_tools() {
  go_tools bin "@$COSIGN_VERSION" "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
    cosign=github.com/sigstore/cosign/v3/cmd/cosign
}

lint_tools() {
  go_tools bin "@$ACTIONLINT_VERSION" "" actionlint=github.com/rhysd/actionlint/cmd/actionlint
  go_tools bin "@$SHFMT_VERSION" "" shfmt=mvdan.cc/sh/v3/cmd/shfmt
}

# renovate_tools: npm ci of tools/renovate, stored under the SHA-256 of its package.json, its lock
# and the Node.js that installs it. Install scripts are skipped: the one that matters (re2's native
# build) downloads from GitHub, and the validator runs without it.
renovate_tools() {
  tool=renovate
  recipe="$(cd "$root/tools/renovate" && for f in package.json package-lock.json; do echo "$f"; cat "$f"; done | sha256sum)
node $(node --version)
layout $layout"
  stamp=$(printf '%s\n' "$recipe" | sha256sum | cut -d' ' -f1)
  if [ -d "$store/$tool/$stamp" ]; then
    use
    return 0
  fi
  sweep
  echo "tools: installing Renovate's config validator (tools/renovate)" >&2
  scratch "$store/$tool"
  mkdir "$new/renovate"
  cp "$root/tools/renovate/package.json" "$root/tools/renovate/package-lock.json" "$new/renovate/"
  (cd "$new/renovate" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  commit
}

# system_packages: apt-get install the packages of the programs in tools/programs.tsv missing
# from PATH; nothing when all are there.
system_packages() {
  missing=$(awk -F'\t' '!/^#/ && NF == 2 { print $1, $2 }' "$root/tools/programs.tsv" |
    while read -r program package; do
      case $program in
        /*) [ -e "$program" ] || echo "$package" ;; # a file, such as a C header cgo builds against
        *) command -v "$program" >/dev/null 2>&1 || echo "$package" ;;
      esac
    done | sort -u | tr '\n' ' ')
  [ -n "$missing" ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "tools: missing Debian packages: $missing" >&2
    echo "tools: install them as root: apt-get update && apt-get install --no-install-recommends $missing" >&2
    exit 1
  fi
  echo "tools: installing Debian packages: $missing" >&2
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# groups_of NAME: the groups of a command, or of a group name (those of old stand for theirs).
groups_of() {
  case $1 in
    test) echo system helm3 helm4 chart control kwok node lint argocd oci cosign renovate ;;
    test:cluster) echo system helm3 helm4 control kwok ;;
    bench) echo system helm3 control kwok node oci ;;
    demo) echo system helm3 control node oci ;;
    helm) echo helm3 helm4 chart ;;
    cluster) echo control kwok ;;
    registry) echo oci cosign ;;
    system | helm3 | helm4 | chart | control | kwok | node | lint | argocd | oci | cosign | renovate) echo "$1" ;;
    *) return 1 ;;
  esac
}

[ $# -gt 0 ] || set -- helm
groups=''
for name in "$@"; do
  of=$(groups_of "$name") || {
    echo "usage: sh tools/install.sh [test | test:cluster | bench | demo | GROUP]..." >&2
    echo "  groups: system helm3 helm4 chart control kwok node lint argocd oci cosign renovate (helm, cluster, registry)" >&2
    exit 2
  }
  for group in $of; do
    case " $groups " in *" $group "*) ;; *) groups="$groups $group" ;; esac
  done
done
# What the in-clone layout of old kept beside its binaries.
rm -f "$tools"/bin/.*.stamp "$tools"/cni/.*.stamp "$tools/bin/.helm-unittest.version" "$tools/bin/.psa-check.sha256"
for group in $groups; do
  case $group in
    system) system_packages ;;
    *) "${group}_tools" ;;
  esac
done
