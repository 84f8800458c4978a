#!/usr/bin/env bash
# TypeScript 6 beside the project's own 5.9 (package.json), in build/ts6:
# Moddable SDK 8.2.3's mcconfig compiles the firmware's TypeScript with
# --target es2025 --lib es2025, which TypeScript 5.9 rejects (TS6046); the
# suite checks the sources against that setting (host-tests/board-config.test.mjs).
set -euo pipefail
TS6_VERSION=6.0.3
top=$(cd "$(dirname "$0")/.." && pwd)
dest="$top/build/ts6"
if [ -x "$dest/node_modules/.bin/tsc" ] && "$dest/node_modules/.bin/tsc" --version | grep -qx "Version $TS6_VERSION"; then
  exit 0
fi
mkdir -p "$dest"
npm install --prefix "$dest" --no-save --no-audit --no-fund --loglevel=error "typescript@$TS6_VERSION" >/dev/null
echo "fetch-typescript6: TypeScript $TS6_VERSION in $dest"
