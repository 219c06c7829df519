#!/bin/sh
# Fetches a newer nft than Debian bookworm's 1.0.6 — Debian trixie's nftables, with the libraries
# it loads — into .tools/nft-<version>/ and prints the path of a program that runs it on this
# machine through trixie's own dynamic loader. For recording node-init's listings with a second
# nft release (EDGE_LISTINGS_NFT, tests/nodes/e2e.test.ts). Uses the Debian archive through apt
# with lists and downloads of its own: the machine's apt configuration and packages stay as they are.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/archives/partial"
echo "deb http://deb.debian.org/debian trixie main" >"$work/sources.list"
apt() {
  "$@" -o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=/dev/null \
    -o Dir::State::Lists="$work/lists" -o Dir::Cache::Archives="$work/archives" -o Dir::State::status=/dev/null \
    -o APT::Architecture=amd64 -o APT::Sandbox::User=root
}
apt apt-get -qq update
version=$(apt apt-cache show nftables | sed -n 's/^Version: //p' | head -1)
dir="$root/.tools/nft-${version%%-*}"
if ! [ -x "$dir/nft" ]; then
  # nft and every library it loads, down to trixie's libc and loader.
  (cd "$work/archives" && apt apt-get -qq download nftables libnftables1 libnftnl11 libmnl0 libjansson4 libgmp10 \
    libxtables12 libedit2 libbsd0 libmd0 libtinfo6 libc6)
  rm -rf "$dir"
  mkdir -p "$dir/root"
  for deb in "$work"/archives/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
  lib="$dir/root/usr/lib/x86_64-linux-gnu"
  printf '#!/bin/sh\nexec "%s/ld-linux-x86-64.so.2" --library-path "%s" "%s/root/usr/sbin/nft" "$@"\n' "$lib" "$lib" "$dir" >"$dir/nft"
  chmod 755 "$dir/nft"
fi
"$dir/nft" --version >&2
echo "$dir/nft"
