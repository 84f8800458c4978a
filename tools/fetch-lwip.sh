#!/usr/bin/env bash
# Fetch lwIP 2.1.3 from Debian's source package (pinned by version and the
# sha256 of the upstream tarball) into third_party/lwip. Set LWIP_DIR to use
# another lwIP 2.1.x tree instead; then nothing is fetched.
set -euo pipefail
LWIP_DEB_VERSION=2.1.3+dfsg1-2
LWIP_ORIG=lwip_2.1.3+dfsg1.orig.tar.xz
LWIP_SHA256=0a8276d09fc4e97bbba2f953d74af2388fc2195ea156be9d7589e297a68fde24

top=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${LWIP_DIR:-}" ]; then
  [ -f "$LWIP_DIR/src/include/lwip/init.h" ] || {
    echo "fetch-lwip: LWIP_DIR=$LWIP_DIR is not an lwIP tree (no src/include/lwip/init.h)" >&2; exit 1; }
  exit 0
fi
dest="$top/third_party/lwip"
stamp="$dest/.fetched-$LWIP_DEB_VERSION"
[ -f "$stamp" ] && exit 0

# apt-get source needs a deb-src entry for the running suite.
if ! apt-cache showsrc lwip 2>/dev/null | grep -q "^Version: $LWIP_DEB_VERSION"; then
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  cat > /etc/apt/sources.list.d/natbridge-deb-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi

work=$(mktemp -d)
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get source -qq --download-only "lwip=$LWIP_DEB_VERSION" >/dev/null 2>&1)
echo "$LWIP_SHA256  $work/$LWIP_ORIG" | sha256sum -c --quiet - || {
  echo "fetch-lwip: checksum mismatch for $LWIP_ORIG" >&2; exit 1; }
rm -rf "$dest"
mkdir -p "$dest"
tar -xJf "$work/$LWIP_ORIG" -C "$dest" --strip-components=1
touch "$stamp"
echo "fetch-lwip: lwIP $LWIP_DEB_VERSION in $dest"
