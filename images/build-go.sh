#!/bin/sh
# Builds the image of one of the small static Go programs here (images/NAME/main.go, module
# images/go.mod) without a container engine: a single layer holding the program, written as an
# OCI image layout and an OCI archive for `ctr images import`. Same sources and Go, same bytes:
# -trimpath, no build ID, every timestamp the Unix epoch, owners 0, entries sorted.
#
# Usage: sh images/build-go.sh NAME     NAME: pause | kong-stand-in
# Environment:
#   OUT    output folder (default .cache/images/NAME)
#   IMAGE  name recorded in the archive (default edge.test/NAME:<chart version>)
# Writes into OUT: NAME.oci.tar (the archive), digest (its manifest's digest), rootfs/.
# The images run only in the tests' own nodes; kong-stand-in is a stand-in, not Kong.
set -eu
umask 022
export LC_ALL=C TZ=UTC CGO_ENABLED=0
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
name=${1:?usage: sh images/build-go.sh NAME}
out=${OUT:-$root/.cache/images/$name}
image=${IMAGE:-edge.test/$name:$(sed -n 's/^version: *//p' "$root/Chart.yaml")}
arch=$(go env GOARCH)

# The program's path in the image, its other names (links), its user and entrypoint.
case $name in
  pause) program=/pause links='' user=65535 ;;
  # The names Kong's pods run: the entrypoint, `kong quit` (preStop), `rm` (clear-stale-pid).
  kong-stand-in) program=/usr/local/bin/kong-stand-in links='/usr/local/bin/kong /bin/rm' user=1000:1000 ;;
  *) echo "build-go: unknown image $name" >&2; exit 2 ;;
esac

mkdir -p "$out"
exec 9>"$out/.lock"
flock 9
inputs=$({ cat "$here/build-go.sh" "$here/go.mod" "$here/$name"/*.go; go version; echo "$image $arch"; } | sha256sum | cut -c1-64)
if [ -s "$out/digest" ] && [ "$(cat "$out/inputs" 2>/dev/null)" = "$inputs" ]; then
  exit 0
fi
rm -rf "$out/rootfs" "$out/oci" "$out/digest"
mkdir -p "$out/rootfs${program%/*}" "$out/oci/blobs/sha256"
(cd "$here" && go build -trimpath -ldflags "-s -w -buildid=" -o "$out/rootfs$program" "./$name")
for link in $links; do
  mkdir -p "$out/rootfs${link%/*}"
  ln -s "$program" "$out/rootfs$link"
done
mkdir -m 1777 "$out/rootfs/tmp"

# tar_of DIR TAR: DIR's contents, names sorted, no owners, times at the epoch.
tar_of() {
  (cd "$1" && find . -mindepth 1 | sed 's,^\./,,' | sort) >"$2.list"
  tar --create --file "$2" --directory "$1" --no-recursion --files-from "$2.list" \
    --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --mtime=@0 --owner=0 --group=0 --numeric-owner
  rm "$2.list"
}
# blob FILE: FILE stored in the layout; prints its descriptor's "digest":…,"size":….
blob() {
  hex=$(sha256sum "$1" | cut -c1-64)
  cp "$1" "$out/oci/blobs/sha256/$hex"
  printf '"digest":"sha256:%s","size":%s' "$hex" "$(wc -c <"$1")"
}
tmp=$(mktemp -d)
tar_of "$out/rootfs" "$tmp/layer.tar"
diff_id=$(sha256sum "$tmp/layer.tar" | cut -c1-64)
gzip -n <"$tmp/layer.tar" >"$tmp/layer.tar.gz"
printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:00Z","config":{"User":"%s","Env":["PATH=/usr/local/bin:/usr/bin:/bin"],"Entrypoint":["%s"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$arch" "$user" "$program" "$diff_id" >"$tmp/config.json"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json",%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",%s}]}' \
  "$(blob "$tmp/config.json")" "$(blob "$tmp/layer.tar.gz")" >"$tmp/manifest.json"
manifest=$(blob "$tmp/manifest.json")
printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci/oci-layout"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json",%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$arch" "$image" "${image##*:}" >"$out/oci/index.json"
tar_of "$out/oci" "$out/$name.oci.tar"
rm -rf "$tmp"
echo "$manifest" | sed 's/^"digest":"\([^"]*\)".*/\1/' >"$out/digest"
echo "$inputs" >"$out/inputs"
echo "build-go: $image $(cat "$out/digest")" >&2
