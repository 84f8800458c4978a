#!/usr/bin/env bash
# Build the simulator and run the router between the bench namespaces, with
# its serial console on this terminal. From another terminal:
#   ip netns exec lan ping 192.168.4.1
#   ip netns exec wan ping <the WAN address the console shows>
# Ctrl-C stops it and removes the namespaces.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ -x build/sim/router-sim ] && [ -z "${REBUILD:-}" ] || node tools/build-sim.mjs
prefs=${PREFS:-$top/build/router.prefs}
bench=host-tests/bench/netns.sh

bash $bench up
trap 'bash $bench down' EXIT
bash $bench attach &
attach=$!
ip netns exec rtr build/sim/router-sim --wan rtr-wan --lan rtr-lan --prefs "$prefs" || true
wait $attach 2>/dev/null || true
