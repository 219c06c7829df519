#!/bin/sh
# Builds the node-init image from the Debian packages pinned in packages.lock, without a container
# engine: download each .deb (checked against the lock's SHA-256), `dpkg-deb -x` it, keep only
# the programs `definition` names and the files they need (ELF interpreter and libraries, followed
# through symlinks), then write an OCI image layout and an OCI archive. Same inputs, same bytes:
# every timestamp is the lock's source-date-epoch, owners are 0, entries are sorted.
#
# Usage: sh images/node-init/build.sh [ARCH...]      ARCH: amd64 (the default), arm64
# Environment:
#   OUT            output folder (default .cache/images/node-init)
#   LOCK           lock file (default packages.lock next to this script)
#   IMAGE          name recorded in the layout (default ghcr.io/edge-chart/edge-node-init:<chart version>)
#   DEB_CACHE      downloaded .debs, shared by builds (default .cache/images/node-init/debs)
#   DEBIAN_MIRROR  where the lock's pool paths are fetched (default http://deb.debian.org); a
#                  version the mirror has dropped is fetched from snapshot.debian.org instead.
#   FORCE=1        rebuild even when OUT was built from the same inputs
# Writes into OUT:
#   <arch>/rootfs        the image's file tree        <arch>/packages  its packages (name=version)
#   <arch>/digest        the arch's manifest digest    digest           the multi-arch index's digest
#   oci/                 OCI image layout: one index of every ARCH, named IMAGE
#   edge-node-init.oci.tar  the same layout as an OCI archive (`ctr images import`, `skopeo copy oci-archive:`)
# Needs: curl, dpkg-deb, readelf (binutils), flock (util-linux), GNU tar, gzip, sha256sum, realpath.
set -eu
umask 022
export LC_ALL=C TZ=UTC

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
def=$here/definition
lock=${LOCK:-$here/packages.lock}
out=${OUT:-$root/.cache/images/node-init}
debs=${DEB_CACHE:-$root/.cache/images/node-init/debs}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org}
image=${IMAGE:-ghcr.io/edge-chart/edge-node-init:$(sed -n 's/^version: *//p' "$root/Chart.yaml")}
source=$(sed -n 's/^home: *//p' "$root/Chart.yaml")
[ $# -gt 0 ] || set -- amd64

die() { echo "build: $*" >&2; exit 1; }

# One build per output folder at a time (tests build from several processes); a build waiting
# here finds the folder up to date when the one before it had the same inputs.
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9

inputs=$({ cat "$here/build.sh" "$def" "$lock"; echo "$image $source $*"; } | sha256sum | cut -c1-64)
if [ "${FORCE:-}" != 1 ] && [ -s "$out/digest" ] && [ "$(cat "$out/inputs" 2>/dev/null)" = "$inputs" ]; then
  echo "build: $out is up to date: $(cat "$out/digest")" >&2
  exit 0
fi

sde=$(sed -n 's/^source-date-epoch //p' "$lock")
snapshot=$(sed -n 's/^snapshot //p' "$lock")
[ -n "$sde" ] || die "$lock has no source-date-epoch line"
created=$(date -u -d "@$sde" +%Y-%m-%dT%H:%M:%SZ)
mkdir -p "$debs"

# fetch POOLPATH SHA256: the .deb into $debs, checked against the lock. POOLPATH is relative to
# the mirror (debian/pool/… or debian-security/pool/…), as on snapshot.debian.org.
fetch() {
  file=$debs/${1##*/}
  echo "$2  $file" | sha256sum -c --status 2>/dev/null && return 0
  part=$file.part.$$
  curl -fsS --retry 3 -o "$part" "$mirror/$1" ||
    curl -fsS --retry 3 -o "$part" "https://snapshot.debian.org/archive/${1%%/*}/$snapshot/${1#*/}" ||
    die "cannot download $1; if Debian has replaced that version, run images/node-init/update-lock.sh"
  echo "$2  $part" | sha256sum -c --status || die "$1 does not match its SHA-256 in $lock"
  mv "$part" "$file"
}

# owner PATH: the package in the stage that ships PATH (a file or a symlink; never followed).
owner() {
  for p in $pkgs; do
    if [ -L "$stage/$p$1" ] || [ -f "$stage/$p$1" ]; then echo "$p"; return 0; fi
  done
  return 1
}

# library SONAME: where the dynamic loader finds SONAME (Debian's search path, no ld.so.cache).
library() {
  for d in "/lib/$triplet" "/usr/lib/$triplet" /lib /usr/lib; do
    if owner "$d/$1" >/dev/null; then echo "$d/$1"; return 0; fi
  done
  return 1
}

# select_files: the closure of the definition's programs and files over symlinks, ELF
# interpreters and DT_NEEDED libraries, as "package path" lines in $dir/files.
select_files() {
  : >"$dir/files"
  : >"$dir/seen"
  : >"$dir/links"
  queue=$dir/queue
  sed -n 's/^file //p' "$def" | while read -r path pkg; do
    [ "$(owner "$path")" = "$pkg" ] || die "$path: not shipped by $pkg"
    echo "$path"
  done >"$queue"
  sed -n 's/^program //p' "$def" | while read -r name pkg file; do
    for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
      # -L first: -f alone would follow an absolute link to the build machine's own files.
      [ -L "$stage/$pkg$d/${file:-$name}" ] || [ -f "$stage/$pkg$d/${file:-$name}" ] || continue
      echo "$d/${file:-$name}" >>"$queue"
      # The link the package's maintainer script would make (dash: /bin/sh, mawk: awk).
      [ -z "$file" ] || echo "$file $d/$name" >>"$dir/links"
      continue 2
    done
    die "program $name: $pkg has no ${file:-$name} in a PATH directory"
  done
  while [ -s "$queue" ]; do
    path=$(sed -n 1p "$queue")
    sed -i 1d "$queue"
    ! grep -qxF "$path" "$dir/seen" || continue
    echo "$path" >>"$dir/seen"
    pkg=$(owner "$path") || die "$path: no package in the lock ships it"
    echo "$pkg $path" >>"$dir/files"
    f=$stage/$pkg$path
    if [ -L "$f" ]; then
      target=$(readlink "$f")
      case $target in /*) ;; *) target=${path%/*}/$target ;; esac
      realpath -sm "$target" >>"$queue"
    elif readelf -h "$f" >/dev/null 2>&1; then
      ! readelf -dW "$f" | grep -q '(RPATH)\|(RUNPATH)' || die "$path has an RPATH/RUNPATH, which library() does not follow"
      readelf -lW "$f" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]$/\1/p' >>"$queue"
      for soname in $(readelf -dW "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
        library "$soname" >>"$queue" || die "$path needs $soname, which no package in the lock ships"
      done
    fi
  done
  # Each package's copyright file goes with it (licences), where the package has its own.
  cut -d' ' -f1 "$dir/files" | sort -u | while read -r pkg; do
    [ -L "$stage/$pkg/usr/share/doc/$pkg" ] || [ ! -f "$stage/$pkg/usr/share/doc/$pkg/copyright" ] ||
      echo "$pkg /usr/share/doc/$pkg/copyright"
  done >"$dir/copyrights"
  cat "$dir/copyrights" >>"$dir/files"
}

# status_d PKG DEB: the package's metadata as distroless images carry it, so that scanners (syft,
# trivy) list it: its control fields, and the md5sums of the files kept from it.
status_d() {
  status=$rootfs/var/lib/dpkg/status.d
  mkdir -p "$status"
  dpkg-deb --field "$2" >"$status/$1"
  awk -v p="$1" '$1 == p { print substr($2, 2) }' "$dir/files" >"$dir/kept"
  dpkg-deb --ctrl-tarfile "$2" | tar -xOf - ./md5sums 2>/dev/null |
    awk 'NR == FNR { kept[$0]; next } ($2 in kept)' "$dir/kept" - >"$status/$1.md5sums"
  [ -s "$status/$1.md5sums" ] || rm "$status/$1.md5sums"
}

# reproducible_tar DIR TAR: DIR's contents as a tar whose bytes depend only on the files' contents,
# modes and the source date (names sorted, no owners, atimes or ctimes).
reproducible_tar() {
  (cd "$1" && find . -mindepth 1 | sed 's,^\./,,' | sort) >"$2.list"
  tar --create --file "$2" --directory "$1" --no-recursion --files-from "$2.list" \
    --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --mtime="@$sde" --owner=0 --group=0 --numeric-owner
  rm "$2.list"
}

# blob FILE: stores FILE in the layout; prints its descriptor fields "digest":…,"size":….
blob() {
  hex=$(sha256sum "$1" | cut -c1-64)
  cp "$1" "$oci/blobs/sha256/$hex"
  printf '"digest":"sha256:%s","size":%s' "$hex" "$(wc -c <"$1")"
}

json_env=$(sed -n 's/^env //p' "$def" | awk '{ printf "%s\"%s\"", sep, $0; sep = "," }')
oci=$out/oci
rm -rf "$oci" "$out/digest" "$out/inputs"
mkdir -p "$oci/blobs/sha256"
manifests=""

for arch in "$@"; do
  case $arch in
    amd64) triplet=x86_64-linux-gnu platform='"architecture":"amd64","os":"linux"' ;;
    arm64) triplet=aarch64-linux-gnu platform='"architecture":"arm64","os":"linux","variant":"v8"' ;;
    *) die "unknown architecture '$arch' (amd64, arm64)" ;;
  esac
  dir=$out/$arch stage=$out/$arch/stage rootfs=$out/$arch/rootfs
  rm -rf "$dir"
  mkdir -p "$stage" "$rootfs"
  grep "^$arch " "$lock" >"$dir/lock" || die "$lock pins no packages for $arch"
  pkgs=$(awk '{ sub(/=.*/, "", $2); print $2 }' "$dir/lock")
  awk '$1 == "program" || $1 == "file" { print $3, $2 }' "$def" | while read -r pkg what; do
    echo "$pkgs" | grep -qxF "$pkg" || die "$lock pins no $pkg for $arch, which $what comes from"
  done
  while read -r _ pin sha path; do
    fetch "$path" "$sha"
    dpkg-deb -x "$debs/${path##*/}" "$stage/${pin%%=*}"
  done <"$dir/lock"

  select_files
  sort -u "$dir/files" | while read -r pkg path; do
    mkdir -p "$rootfs${path%/*}"
    cp -a "$stage/$pkg$path" "$rootfs$path"
  done
  while read -r file link; do ln -s "$file" "$rootfs$link"; done <"$dir/links"
  cut -d' ' -f1 "$dir/files" | sort -u | while read -r pkg; do
    deb=$debs/$(awk -v p="$pkg" '{ split($2, a, "="); if (a[1] == p) { n = split($4, f, "/"); print f[n] } }' "$dir/lock")
    status_d "$pkg" "$deb"
    echo "$pkg=$(dpkg-deb --field "$deb" Version)"
  done >"$dir/packages"
  rm -rf "$stage" "$dir/seen" "$dir/queue" "$dir/kept" "$dir/copyrights"

  reproducible_tar "$rootfs" "$dir/layer.tar"
  diff_id=$(sha256sum "$dir/layer.tar" | cut -c1-64)
  gzip -n <"$dir/layer.tar" >"$dir/layer.tar.gz"
  layer=$(blob "$dir/layer.tar.gz")
  rm "$dir/layer.tar" "$dir/layer.tar.gz"
  printf '{%s,"created":"%s","config":{"Env":[%s],"Cmd":["/bin/sh"],"Labels":{"org.opencontainers.image.source":"%s"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"images/node-init/build.sh"}]}' \
    "$platform" "$created" "$json_env" "$source" "$diff_id" "$created" >"$dir/config.json"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json",%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip",%s}]}' \
    "$(blob "$dir/config.json")" "$layer" >"$dir/manifest.json"
  manifest=$(blob "$dir/manifest.json")
  echo "$manifest" | sed 's/^"digest":"\([^"]*\)".*/\1/' >"$dir/digest"
  rm "$dir/config.json" "$dir/manifest.json"
  manifests="$manifests${manifests:+,}{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",$manifest,\"platform\":{$platform}}"
done

# The multi-arch index is what a registry serves under the tag; index.json names it.
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s],"annotations":{"org.opencontainers.image.source":"%s"}}' \
  "$manifests" "$source" >"$out/index.json"
index=$(blob "$out/index.json")
rm "$out/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json",%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$index" "$image" "${image##*:}" >"$oci/index.json"
reproducible_tar "$oci" "$out/edge-node-init.oci.tar"
echo "$index" | sed 's/^"digest":"\([^"]*\)".*/\1/' >"$out/digest"
echo "$inputs" >"$out/inputs"
echo "build: $image $(cat "$out/digest") ($*)" >&2
