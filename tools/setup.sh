#!/usr/bin/env bash
# Everything the project needs on a fresh Debian 12 (bookworm) machine, as
# root: system packages, npm packages, the XS and lwIP sources. Safe to run
# again; it only does what is missing.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (packages, TAP devices and network namespaces need it)" >&2
  exit 1
fi

packages=(
  build-essential make xz-utils ca-certificates   # compilers, lwIP tarball
  gcc-multilib lib32asan8 lib32ubsan1             # the simulator and C tests are 32-bit (-m32), as the ESP32;
                                                  # gcc-multilib pulls libc6-dev-i386 and lib32gcc-12-dev
  lib32stdc++-12-dev                              # libFuzzer's C++ runtime for the 32-bit harnesses
  iproute2 iputils-ping procps                    # the bench: namespaces, ping, sysctl
  dnsmasq-base                                    # the ISP's DHCP/DNS server (no system service)
  python3                                         # test peers
  curl iperf3 traceroute                          # NAPT: peers in far (HTTP, throughput, hops)
  dnsutils                                        # DNS forwarder: dig as the LAN client
  busybox isc-dhcp-client                         # LAN DHCP server: udhcpc and dhclient as clients
  tcpdump                                         # WAN lifecycle: the DHCP client's packets seen from the ISP
  coturn                                          # NAPT: turnserver as STUN, turnutils_natdiscovery
  miniupnpc python3-miniupnpc                     # UPnP: upnpc and the python module as LAN clients
  natpmpc                                         # NAT-PMP: natpmpc as a LAN client (python3-libnatpmp: see README)
  sip-tester baresip-core                         # SIP ALG: sipp and baresip as phones, registrar and far end
  kamailio                                        # SIP ALG: a registrar and proxy in far for two routers (no system service)
  valgrind                                        # memory checks of the C
  clang-14 libfuzzer-14-dev libclang-rt-14-dev    # fuzzing harnesses: libFuzzer and the sanitizer runtimes
  gcc-xtensa-lx106 picolibc-xtensa-lx106-elf      # the Xtensa compile check of the native code
  qemu-system-misc                                # qemu-system-xtensa: instructions per packet on an Xtensa core (bench)
)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  # Packages that ship a daemon (iperf3, coturn, kamailio) must not start it: the tests
  # run their own servers inside namespaces. iperf3 asks; invoke-rc.d obeys a
  # policy-rc.d that says no (only ours, only for this install).
  echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    own_policy=1
  fi
  status=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [ -z "$own_policy" ] || rm -f "$policy"
  [ "$status" = 0 ] || exit "$status"
fi

# npm packages, exactly as locked.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

bash tools/fetch-xs.sh
bash tools/fetch-lwip.sh
bash tools/fetch-typescript6.sh
echo "setup: done"
