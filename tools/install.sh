#!/bin/sh
# Builds the pinned test tools (tools/versions.env) into .tools/bin from the Go module proxy.
# A tool already on PATH is reused when its version matches; a built one is kept until the pin changes.
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
