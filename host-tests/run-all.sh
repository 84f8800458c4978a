#!/usr/bin/env bash
# The whole suite (npm test): build the simulator, then static checks, C unit
# tests, end-to-end tests in network namespaces and the short hostile run,
# one file at a time (the end-to-end tests share the bench namespaces); then
# the NAPT end-to-end tests once more with the fast path off (FASTPATH=off).
# `run-all.sh hostile` (npm run hostile) runs only the hostile run, longer:
# HOSTILE_SECONDS per attack, HOSTILE_CUTS power cuts and HOSTILE_RATE SYN
# frames a second, unless set.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "$(id -u)" != 0 ]; then
  echo "npm test: run as root (TAP devices and network namespaces need it)" >&2
  exit 1
fi
files=(host-tests/*.test.mjs host-tests/e2e/*.test.mjs host-tests/hostile/*.test.mjs)
if [ "${1:-}" = hostile ]; then
  export HOSTILE_SECONDS=${HOSTILE_SECONDS:-120} HOSTILE_CUTS=${HOSTILE_CUTS:-30} HOSTILE_RATE=${HOSTILE_RATE:-5000}
  files=(host-tests/hostile/*.test.mjs)
elif [ -n "${1:-}" ]; then
  echo "usage: run-all.sh [hostile]" >&2
  exit 2
fi
node tools/build-sim.mjs
# The end-to-end tests run the same firmware built with ASan and UBSan.
node tools/build-sim.mjs --sanitize --out build/sim-asan
export ROUTER_SIM=build/sim-asan/router-sim
export ASAN_OPTIONS=abort_on_error=0:detect_leaks=1
# Leftovers from an interrupted run would make the bench refuse to start.
bash host-tests/bench/netns.sh down
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
[ "${1:-}" = hostile ] && exit 0
# The NAPT end-to-end tests again with the forwarding fast path off: lwIP
# alone must forward everything they assert, as the fast path does.
FASTPATH=off exec node --test --test-concurrency=1 --test-reporter=spec host-tests/e2e/napt*.test.mjs
