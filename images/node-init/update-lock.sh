#!/bin/sh
# Refreshes packages.lock: resolves the packages `definition` names, with their dependencies, in
# Debian bookworm (main, updates, security) for each architecture, then pins only those that ship
# a file of the image (a build from the whole closure tells which). apt runs on a private state
# under .cache: the machine's apt configuration is neither read nor changed.
# Run it for Debian's security updates; commit the lock; the image's digest changes with it.
#
# Usage: sh images/node-init/update-lock.sh [ARCH...]        (default: amd64 arm64)
# Needs: apt-get, the debian-archive-keyring package, and what build.sh needs.
set -eu
export LC_ALL=C TZ=UTC

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
lock=$here/packages.lock
mirror=${DEBIAN_MIRROR:-http://deb.debian.org}
work=$root/.cache/images/node-init/update
debs=${DEB_CACHE:-$root/.cache/images/node-init/debs}
archs=${*:-amd64 arm64}

roots=$(awk '$1 == "program" || $1 == "file" { print $3 }' "$here/definition" | sort -u)
rm -rf "$work/probe"
mkdir -p "$work"
# The snapshot.debian.org time build.sh falls back to once the mirror has dropped these versions.
{ echo "source-date-epoch 0"; echo "snapshot $(date -u +%Y%m%dT%H%M%SZ)"; } >"$work/closure.lock"

for arch in $archs; do
  apt=$work/apt-$arch
  mkdir -p "$apt/etc/apt/apt.conf.d" "$apt/etc/apt/preferences.d" "$apt/etc/apt/sources.list.d" \
    "$apt/var/lib/apt/lists/partial" "$apt/var/cache/apt/archives/partial"
  : >"$apt/status"
  for suite in bookworm bookworm-updates; do
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror/debian $suite main"
  done >"$apt/etc/apt/sources.list"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror/debian-security bookworm-security main" \
    >>"$apt/etc/apt/sources.list"
  set -- -o "Dir=$apt" -o "Dir::State::status=$apt/status" -o "APT::Architecture=$arch" \
    -o "APT::Architectures::=$arch" -o Debug::NoLocking=1 -o Acquire::Languages=none
  apt-get "$@" update -qq
  # The whole dependency closure, as apt would install it on an empty system.
  # shellcheck disable=SC2086 # one word per package
  apt-get "$@" install --simulate --no-install-recommends $roots |
    sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*/\1=\2/p' >"$work/pins"
  # Lines "ARCH PACKAGE=VERSION SHA256 POOLPATH"; apt prints one URI per package, named
  # PACKAGE_VERSION_ARCH.deb, so the package name is the file name up to its first "_".
  # shellcheck disable=SC2046
  apt-get "$@" download --print-uris $(cat "$work/pins") |
    sed -n "s|^'$mirror/\([^']*\)' [^ ]* [0-9]* SHA256:\([0-9a-f]*\)\$|\2 \1|p" |
    while read -r sha path; do
      file=${path##*/}
      echo "$arch $(grep "^${file%%_*}=" "$work/pins") $sha $path"
    done >>"$work/closure.lock"
  [ "$(grep -c "^$arch " "$work/closure.lock")" = "$(wc -l <"$work/pins")" ] ||
    { echo "update-lock: $arch: apt printed no URI for some of: $(cat "$work/pins")" >&2; exit 1; }
done

# Build from the whole closure; keep the packages the image holds files of.
# shellcheck disable=SC2086 # one word per architecture
OUT=$work/probe LOCK=$work/closure.lock FORCE=1 DEB_CACHE=$debs sh "$here/build.sh" $archs
for arch in $archs; do
  while read -r pin; do grep "^$arch $pin " "$work/closure.lock"; done <"$work/probe/$arch/packages"
done | sort >"$work/pins"

# The image's timestamps: the newest file in those packages (Debian clamps a package's files to
# its changelog date), so the same packages always give the same source date.
epoch=$(while read -r _ _ _ path; do
  dpkg-deb --fsys-tarfile "$debs/${path##*/}" | tar -tv --full-time | awk '{ print $4 "T" $5 }'
done <"$work/pins" | sort | tail -n 1)
epoch=$(date -u -d "$(echo "$epoch" | tr T ' ')" +%s)

if [ -f "$lock" ] && [ "$(grep '^[a-z0-9]* [^ ]*=' "$lock")" = "$(cat "$work/pins")" ]; then
  echo "update-lock: $lock is current" >&2
else
  {
    echo "# The Debian packages of the node-init image, written by update-lock.sh (do not edit)."
    echo "# ARCH PACKAGE=VERSION SHA256 POOLPATH (relative to http://deb.debian.org/)"
    echo "source-date-epoch $epoch"
    sed -n 's/^snapshot /snapshot /p' "$work/closure.lock"
    cat "$work/pins"
  } >"$lock"
  echo "update-lock: wrote $lock ($(wc -l <"$work/pins") packages, source date $(date -u -d "@$epoch" +%F))" >&2
fi
