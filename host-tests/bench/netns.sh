#!/usr/bin/env bash
# The test bench's network: namespaces made here and removed here.
#   rtr  the simulator's own namespace; it creates its TAP ports there
#   lan  a home PC: the LAN TAP port, 192.168.4.2/24, default route via the router
#   wan  the ISP: the WAN TAP port, 198.51.100.1/24, dnsmasq serving DHCP and DNS;
#        it routes between the router and far
#   far  a peer on the Internet: 203.0.113.10, .11 and .12/24 on a veth pair
#        to wan (203.0.113.1), default route via wan. Nothing routes
#        192.168.4.0/24 back from wan or far: without NAPT, replies to the
#        LAN host are lost.
#
# With BENCH_ROUTERS=2, a second router shares the ISP's segment, as two
# homes on one cable network do:
#   rtr2  the second simulator's namespace (TAP ports rtr2-wan, rtr2-lan)
#   lan2  the PC behind it: the same 192.168.4.2/24 behind the same
#         192.168.4.1 as in lan (both homes use the same private range)
#   wan   then holds a bridge, isp (198.51.100.1/24), with both routers'
#         WAN ports on it; one dnsmasq serves both on the bridge
#
#   netns.sh up          create the namespaces (removes leftovers first)
#   netns.sh attach      wait for the simulators' TAP ports in rtr (and rtr2),
#                        move them into lan and wan (and lan2), address them,
#                        start dnsmasq
#   netns.sh down        stop dnsmasq, delete the namespaces (both kinds)
# Everything stays inside these namespaces; only documentation ranges are used.
set -euo pipefail

# BENCH_NS_PREFIX names a separate set of namespaces (e.g. "h1-"), so two
# benches can run side by side; the links inside them keep their names.
P=${BENCH_NS_PREFIX:-}
STATE=${BENCH_STATE:-/tmp/natbridge-bench${P:+-$P}}
WAN_TAP=${WAN_TAP:-rtr-wan}
LAN_TAP=${LAN_TAP:-rtr-lan}
WAN2_TAP=rtr2-wan LAN2_TAP=rtr2-lan
ISP_BRIDGE=isp
RTR=${P}rtr LAN=${P}lan WAN=${P}wan FAR=${P}far RTR2=${P}rtr2 LAN2=${P}lan2
ROUTERS=${BENCH_ROUTERS:-1}
case "$ROUTERS" in
  1) NAMESPACES="$RTR $LAN $WAN $FAR" ;;
  2) NAMESPACES="$RTR $LAN $WAN $FAR $RTR2 $LAN2" ;;
  *) echo "netns.sh: BENCH_ROUTERS is 1 or 2, not $ROUTERS" >&2; exit 2 ;;
esac
# down removes either kind of bench: a two-router run leaves no lan2 behind.
ALL_NAMESPACES="$RTR $LAN $WAN $FAR $RTR2 $LAN2"

down() {
  if [ -f "$STATE/dnsmasq.pid" ]; then
    kill "$(cat "$STATE/dnsmasq.pid")" 2>/dev/null || true
    rm -f "$STATE/dnsmasq.pid"
  fi
  for ns in $ALL_NAMESPACES; do
    if ip netns list | grep -qw "^$ns"; then
      # Anything still running in the namespace goes with it.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

up() {
  down
  mkdir -p "$STATE"
  for ns in $NAMESPACES; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
  done

  # far, one hop behind the ISP.
  ip link add wan-far netns "$WAN" type veth peer name far-wan netns "$FAR"
  ip -n "$WAN" addr add 203.0.113.1/24 dev wan-far
  ip -n "$WAN" link set wan-far up
  for a in 203.0.113.10 203.0.113.11 203.0.113.12; do
    ip -n "$FAR" addr add "$a/24" dev far-wan
  done
  ip -n "$FAR" link set far-wan up
  ip -n "$FAR" route add default via 203.0.113.1
  ip netns exec "$WAN" sysctl -qw net.ipv4.ip_forward=1
}

wait_for_tap() {
  local ns=$1 dev=$2
  for _ in $(seq 1 100); do
    ip -n "$ns" link show "$dev" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "netns.sh: the simulator did not create $dev in namespace $ns within 10 s" >&2
  return 1
}

# A router's LAN port into its home's namespace: the PC at 192.168.4.2.
attach_lan() {
  local rtr=$1 tap=$2 lan=$3
  ip -n "$rtr" link set "$tap" netns "$lan"
  ip -n "$lan" addr add 192.168.4.2/24 dev "$tap"
  ip -n "$lan" link set "$tap" up
  ip -n "$lan" route add default via 192.168.4.1
}

attach() {
  local isp_if
  wait_for_tap "$RTR" "$WAN_TAP"
  wait_for_tap "$RTR" "$LAN_TAP"
  if [ "$ROUTERS" = 2 ]; then
    wait_for_tap "$RTR2" "$WAN2_TAP"
    wait_for_tap "$RTR2" "$LAN2_TAP"
  fi
  ip -n "$RTR" link set "$WAN_TAP" netns "$WAN"
  attach_lan "$RTR" "$LAN_TAP" "$LAN"

  if [ "$ROUTERS" = 2 ]; then
    # One segment for both WAN ports: a bridge in the ISP, which is the
    # ISP's address. No STP: ports forward as soon as they are up.
    ip -n "$RTR2" link set "$WAN2_TAP" netns "$WAN"
    attach_lan "$RTR2" "$LAN2_TAP" "$LAN2"
    ip -n "$WAN" link add "$ISP_BRIDGE" type bridge stp_state 0
    ip -n "$WAN" addr add 198.51.100.1/24 dev "$ISP_BRIDGE"
    ip -n "$WAN" link set "$ISP_BRIDGE" up
    for tap in "$WAN_TAP" "$WAN2_TAP"; do
      ip -n "$WAN" link set "$tap" master "$ISP_BRIDGE"
      ip -n "$WAN" link set "$tap" up
    done
    isp_if=$ISP_BRIDGE
  else
    ip -n "$WAN" addr add 198.51.100.1/24 dev "$WAN_TAP"
    ip -n "$WAN" link set "$WAN_TAP" up
    isp_if=$WAN_TAP
  fi
  : > "$STATE/dnsmasq.leases"
  ip netns exec "$WAN" dnsmasq \
    --conf-file=/dev/null --no-resolv --no-hosts --bind-interfaces \
    --interface="$isp_if" --except-interface=lo \
    --dhcp-range=198.51.100.100,198.51.100.199,255.255.255.0,1h \
    --dhcp-option=option:router,198.51.100.1 \
    --dhcp-option=option:dns-server,198.51.100.1 \
    --dhcp-leasefile="$STATE/dnsmasq.leases" \
    --dhcp-authoritative \
    --address=/isp.example/198.51.100.53 \
    --pid-file="$STATE/dnsmasq.pid" \
    --log-facility="$STATE/dnsmasq.log" --log-dhcp
}

case "${1:-}" in
  up) up ;;
  attach) attach ;;
  down) down ;;
  *) echo "usage: netns.sh up|attach|down" >&2; exit 2 ;;
esac
