#!/usr/bin/env bash
# The SIP ALG message layer's cost (issue 5): instructions per sip_rewrite()
# of a typical outbound INVITE with SDP (audio + video, RTP and RTCP each),
# counted by valgrind callgrind inside the calls only (through the wrapper
# bench_rewrite(), whose own instructions are subtracted); the same for
# sip_message_length() on it (TCP framing); and ns per call natively (best
# of five, wall time on a shared machine: indicative only).
# Builds host-tests/bench/sip_bench.c with modules/sipalg/sip_msg.c at
# -O2 -g, as the simulator, without sanitizers; for the host's own width
# (x86-64), not -m32 as the simulator, so docs/bench/sip.md's instruction
# counts stay comparable with earlier runs and the NAPT bench's. Prints
# Markdown.
#   bash host-tests/bench/sip-bench.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

BUILD=build/bench
CALLS=${SIP_BENCH_CALLS:-20000}
TIME_CALLS=${SIP_BENCH_TIME_CALLS:-200000}

for tool in valgrind callgrind_annotate cc; do
  command -v "$tool" >/dev/null || { echo "sip-bench: $tool is missing (bash tools/setup.sh installs it)" >&2; exit 1; }
done

mkdir -p "$BUILD"
bench="$BUILD/sip_bench"
cc -O2 -g -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Imodules/sipalg \
  host-tests/bench/sip_bench.c modules/sipalg/sip_msg.c -o "$bench"
rtp="$BUILD/rtp_bench"
cc -O2 -g -std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -Imodules/sipalg -Imodules/napt \
  host-tests/bench/rtp_bench.c modules/sipalg/sip_msg.c modules/sipalg/sip_dialog.c \
  modules/napt/napt_table.c modules/napt/napt_translate.c -o "$rtp"

# Instructions per call inside a wrapper: its inclusive cost minus its own, over the calls.
per_call() {   # file function calls
  local inc self
  inc=$(callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$1" | awk -v f=":$2 " 'index($0, f) { gsub(",", "", $1); print $1; exit }')
  self=$(callgrind_annotate --auto=no --threshold=100 "$1" | awk -v f=":$2 " 'index($0, f) { gsub(",", "", $1); print $1; exit }')
  [ -n "$inc" ] && [ -n "$self" ] || { echo "sip-bench: no callgrind cost for $2 in $1" >&2; exit 1; }
  awk -v i="$inc" -v s="$self" -v c="$3" 'BEGIN { printf "%.0f", (i - s) / c }'
}

field() {   # "k=v k=v" key
  tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

cg="$BUILD/callgrind.sip"
valgrind --tool=callgrind --callgrind-out-file="$cg" --toggle-collect=bench_rewrite --toggle-collect=bench_length \
  "$bench" count "$CALLS" >"$cg.out" 2>"$cg.log" \
  || { echo "sip-bench: $bench failed under callgrind:" >&2; tail -5 "$cg.log" >&2; exit 1; }
rewrite=$(per_call "$cg" bench_rewrite "$CALLS")
length=$(per_call "$cg" bench_length "$CALLS")
line=$("$bench" time "$TIME_CALLS")

cgr="$BUILD/callgrind.rtp"
valgrind --tool=callgrind --callgrind-out-file="$cgr" --toggle-collect=bench_invite \
  --toggle-collect=bench_rtp_in --toggle-collect=bench_rtp_out \
  "$rtp" count "$CALLS" >"$cgr.out" 2>"$cgr.log" \
  || { echo "sip-bench: $rtp failed under callgrind:" >&2; tail -5 "$cgr.log" >&2; exit 1; }
alg=$(per_call "$cgr" bench_invite "$CALLS")
rtp_in=$(per_call "$cgr" bench_rtp_in "$CALLS")
rtp_out=$(per_call "$cgr" bench_rtp_out "$CALLS")

echo "## SIP ALG message layer (sip_msg.c)"
echo
echo "A typical outbound INVITE, $(field "$line" bytes_in) bytes ($(field "$line" bytes_out) rewritten): 13 headers, SDP with"
echo "audio and video (a=rtcp on both); Via, Contact, From, o=, c=, two m= and two a=rtcp ports and"
echo "Content-Length rewritten. Built -O2 -g. *Instructions*: valgrind callgrind, inside the calls"
echo "only, $CALLS calls. *ns*: native, best of 5, $TIME_CALLS calls (indicative only)."
echo
echo "| call | instructions | ns |"
echo "|---|---:|---:|"
echo "| sip_rewrite() of the INVITE | $rewrite | $(field "$line" ns_rewrite) |"
echo "| sip_message_length() of it (TCP framing) | $length | $(field "$line" ns_length) |"
echo "| the INVITE through the ALG with its state: sip_rewrite() with the dialog layer's media callback, then sip_dialog_after() (dialog found, two pinholes kept and refreshed in the NAPT table) | $alg | |"
echo
echo "## RTP through a pinhole"
echo
echo "A 200-byte G.711 RTP datagram, through napt_process() (the whole per-packet path for media:"
echo "the ALG looks only at SIP ports), callgrind, $CALLS packets each way."
echo
echo "| packet | instructions |"
echo "|---|---:|"
echo "| from the far end to the advertised external port (the pinhole's flow) | $rtp_in |"
echo "| from the phone back out by the same port | $rtp_out |"
