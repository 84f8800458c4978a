#!/usr/bin/env bash
# Fetch the XS engine sources from the npm package @agoric/xsnap (pinned by
# version and sha256) into third_party/xsnap. We only use moddable/xs; the
# package's own build and dependencies are not needed (we build XS ourselves).
set -euo pipefail
XSNAP_VERSION=0.15.0
XSNAP_SHA256=ba82e67dc4bf31a4f0084cd7eb251d0a9c9a671c914494d1f6c2fe61272ceceb

top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/third_party/xsnap"
stamp="$dest/.fetched-$XSNAP_VERSION"
[ -f "$stamp" ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@agoric/xsnap@$XSNAP_VERSION" >/dev/null)
tgz="$work/agoric-xsnap-$XSNAP_VERSION.tgz"
echo "$XSNAP_SHA256  $tgz" | sha256sum -c --quiet - || {
  echo "fetch-xs: checksum mismatch for @agoric/xsnap@$XSNAP_VERSION" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
tar -xzf "$tgz" -C "$dest" --strip-components=1 package/moddable package/LICENSE
touch "$stamp"
echo "fetch-xs: XS sources from @agoric/xsnap@$XSNAP_VERSION in $dest/moddable/xs"
