#!/usr/bin/env bash
# The forwarding path (lwIP 2.1.3 with the simulator's options, the input
# hook, NAPT, the fast path, napt_bench.c) for an Xtensa lx106 core with
# Debian's gcc-xtensa-lx106 and picolibc, gcc -O2, one image per run
# (the arguments are compiled in: qemu's sim machine passes none).
#   build.sh <out-dir> <name> <napt_bench arguments...>
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
out=$1 name=$2
shift 2
mkdir -p "$out/obj"
CC=xtensa-lx106-elf-gcc
LWIPDIR=$top/third_party/lwip/src
INCLUDES="-I$top/boards/sim/lwip -I$LWIPDIR/include -I$top/modules/lwip-hooks -I$top/modules/net -I$top/modules/napt -I$top/host-tests/lib"
FLAGS="-O2 -mlongcalls -mtext-section-literals -ffunction-sections -fdata-sections --specs=/usr/lib/xtensa-lx106-elf/picolibc.specs"
lwip=$(make -s -f - print LWIPDIR="$LWIPDIR" <<'MK'
include $(LWIPDIR)/Filelists.mk
print: ; @echo $(COREFILES) $(CORE4FILES) $(LWIPDIR)/netif/ethernet.c
MK
)
ours="$top/modules/napt/napt_table.c $top/modules/napt/napt_translate.c $top/modules/napt/napt_lwip.c \
  $top/modules/napt/napt_fastpath.c $top/modules/lwip-hooks/router_hooks.c $top/modules/lwip-hooks/router_ethernet.c $top/host-tests/lib/rig_ports.c \
  $top/host-tests/bench/napt_bench.c"
objs=()
for src in $lwip $ours; do
  obj="$out/obj/$(basename "${src%.c}").o"
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ]; then
    case "$src" in
      "$LWIPDIR"/*) $CC $FLAGS -w $INCLUDES -c "$src" -o "$obj" ;;
      *) $CC $FLAGS -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Wno-missing-field-initializers $INCLUDES -c "$src" -o "$obj" ;;
    esac
  fi
  objs+=("$obj")
done
args=""
for a in "$@"; do args="$args\"$a\","; done
$CC $FLAGS -std=c11 -Wall -Wextra -Werror "-DXT_ARGS=${args%,}" -c "$top/host-tests/bench/xtensa/xt_rt.c" -o "$out/obj/xt_rt.$name.o"
$CC $FLAGS -c "$top/host-tests/bench/xtensa/crt0.S" -o "$out/obj/crt0.o"
$CC $FLAGS -nostartfiles -T "$top/host-tests/bench/xtensa/xt.ld" -Wl,--gc-sections \
  "$out/obj/crt0.o" "${objs[@]}" "$out/obj/xt_rt.$name.o" -lc -lgcc -o "$out/$name.elf"
