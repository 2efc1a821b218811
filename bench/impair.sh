#!/usr/bin/env bash
# bench/impair.sh: how well the engines impair.  For each engine that runs here:
#   - one-way delay for 1, 10 and 100 ms: median and p99 of |measured - configured|, and the
#     median signed error (bias); measured by netprobe from the sender's CLOCK_REALTIME stamp
#     to the receiver's kernel receive timestamp (SO_TIMESTAMPNS), both on this machine's clock
#   - loss rate for 1% and 10% (20000 datagrams)
#   - the userlink forwarder's maximum packets per second (64-byte UDP, a flood), through TAPs
#     (userlink) and through packet sockets on veth ends (pktlink, what rootless labs use), against a
#     plain veth pair (the veth engine) measured in the same run
# netem only runs inside User-Mode Linux here (this kernel has no sch_netem): this script
# re-runs itself there (tests/uml/run.sh) unless BENCH_NO_UML=1.  UML's timers are emulated:
# its figures describe netem under UML, not netem on a real kernel.
# Targets (issue 5): median delay error <= 50 us, p99 <= 0.5 ms.  Never fails: it prints.
# userlink's delays are measured twice: as labs run by default, and with --low-latency (a PM
# QoS request that keeps idle CPUs from sleeping, labctl/kernel/pmqos.h), labelled "userlink-ll".
# The figures depend on the machine's load (printed first): on a shared 2-core machine a
# busy neighbour moves the tails by milliseconds.  Inside UML the loss runs slower (300 us
# between datagrams): at 20k/s UML's own drops add to netem's.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"
OUT=${BENCH_BUILD:-build/rel}
export TOOLS=${TOOLS:-$HERE/$OUT/tools}
[ -x "$TOOLS/enginedrive" ] || make --no-print-directory all >/dev/null
source tests/netns/lib.sh
source tests/netns/engine_lib.sh
need_root

ENGINES=${ENGINES:-userlink pktlink}
# The sender runs real-time (when chrt works) so that its own preemption between taking the
# send stamp and handing the datagram to the kernel does not count against the engine.
RT=""
chrt -f 5 true 2>/dev/null && RT="chrt -f 5"
N_DELAY=${N_DELAY:-1000}

# delay_bench ENGINE MS [ll]: ll holds the CPUs out of idle (--low-latency), label ENGINE-ll
delay_bench() {
	local e=$1 ms=$2
	local args=(--a2b "delay=${ms}ms")
	[ "$ms" = 0 ] && args=()   # no impairment: the engine's own path latency
	[ "${3:-}" = ll ] && args+=(--low-latency 0)
	ENGINE=$e el_up "${args[@]}" || { echo "  $e delay ${ms}ms: link failed: $(cat "$EL_ERR")"; return; }
	rm -f "$T_TMP/d" "$T_TMP/l" "$T_TMP/p"   # a stale "bound" would start the sender early
	ip netns exec "$EL_B" "$TOOLS/netprobe" udprecv 9000 $((ms + 3000)) delays >"$T_TMP/d" {EL_IN}>&- &
	local rp=$!
	wait_for 30 grep -q bound "$T_TMP/d"
	ip netns exec "$EL_A" $RT "$TOOLS/netprobe" udpsend "$EL_IP_B" 9000 "$N_DELAY" 1000 {EL_IN}>&-
	wait "$rp"
	el_down
	# mawk has no asort: sort outside awk, then pick ranks.
	local n med p99 bias
	awk -v want=$((ms * 1000000)) 'NF == 2 && $1 ~ /^[0-9]+$/ { d = $2 - want; print (d < 0 ? -d : d), d }' \
		"$T_TMP/d" >"$T_TMP/err"
	n=$(wc -l <"$T_TMP/err")
	if [ "$n" -eq 0 ]; then printf "  %-11s delay %3d ms: nothing received\n" "$e" "$ms"; return; fi
	med=$(cut -d' ' -f1 "$T_TMP/err" | sort -n | sed -n "$(((n + 1) / 2))p")
	p99=$(cut -d' ' -f1 "$T_TMP/err" | sort -n | sed -n "$(( (n * 99 + 99) / 100 ))p")
	bias=$(cut -d' ' -f2 "$T_TMP/err" | sort -n | sed -n "$(((n + 1) / 2))p")
	[ "${3:-}" = ll ] && e="$e-ll"
	awk -v e="$e" -v ms="$ms" -v n="$n" -v m="$med" -v p="$p99" -v b="$bias" 'BEGIN {
		printf "  %-11s delay %3d ms: n=%d  |error| median %6.1f us  p99 %7.1f us  bias (median signed) %+7.1f us\n",
			e, ms, n, m / 1000, p / 1000, b / 1000 }'

}

# loss_bench ENGINE PCT
loss_bench() {
	local e=$1 pct=$2 n=${N_LOSS:-20000}
	ENGINE=$e el_up --a2b "loss=$pct" --seed 12345 || { echo "  $e loss $pct%: link failed"; return; }
	rm -f "$T_TMP/d" "$T_TMP/l" "$T_TMP/p"   # a stale "bound" would start the sender early
	ip netns exec "$EL_B" "$TOOLS/netprobe" udprecv 9000 3000 >"$T_TMP/l" {EL_IN}>&- &
	local rp=$!
	wait_for 30 grep -q bound "$T_TMP/l"
	ip netns exec "$EL_A" "$TOOLS/netprobe" udpsend "$EL_IP_B" 9000 $n "${LOSS_IV:-50}" {EL_IN}>&-
	wait "$rp"
	el_down
	local got
	got=$(grep -cE '^[0-9]+$' "$T_TMP/l")
	awk -v n=$n -v got="$got" -v e="$e" -v pct="$pct" 'BEGIN {
		printf "  %-11s loss %4.1f%%: measured %6.3f%% (%d of %d lost; binomial sd %.3f%%)\n",
			e, pct, 100 * (n - got) / n, n - got, n, 100 * sqrt(pct / 100 * (1 - pct / 100) / n) }'
}

# pps_bench ENGINE: prints the rate and sets PPS
pps_bench() {
	local e=$1 n=${N_PPS:-300000}
	ENGINE=$e el_up || { echo "  $e pps: link failed"; PPS=0; return; }
	rm -f "$T_TMP/d" "$T_TMP/l" "$T_TMP/p"   # a stale "bound" would start the sender early
	ip netns exec "$EL_B" "$TOOLS/netprobe" udprecv 9000 500 >"$T_TMP/p" {EL_IN}>&- &
	local rp=$!
	wait_for 30 grep -q bound "$T_TMP/p"
	ip netns exec "$EL_A" "$TOOLS/netprobe" udpsend "$EL_IP_B" 9000 "$n" 0 {EL_IN}>&-
	wait "$rp"
	el_down
	PPS=$(awk '/^received/ { printf "%d", ($4 > 0 ? $2 / $4 : 0) }' "$T_TMP/p")
	awk -v e="$e" -v n="$n" '/^received/ {
		printf "  %-11s max rate: %d of %d datagrams arrived in %.3f s: %d packets/s\n",
			e, $2, n, $4, ($4 > 0 ? $2 / $4 : 0) }' "$T_TMP/p"
}

if [ "${BENCH_INSIDE:-}" = 1 ]; then
	for e in $ENGINES; do
		for ms in 0 1 10 100; do delay_bench "$e" "$ms"; done
		for pct in 1 10; do loss_bench "$e" "$pct"; done
	done
	exit 0
fi

echo "bench/impair: kernel $(uname -r), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  (delay 0 ms = no impairment: the path's own latency; veth is the reference)"
if [ -z "${BENCH_PPS_ONLY:-}" ]; then
	delay_bench veth 0
	for e in $ENGINES; do
		for ms in 0 1 10 100; do delay_bench "$e" "$ms"; done
		case $e in userlink|pktlink) for ms in 0 1 10 100; do delay_bench "$e" "$ms" ll; done;; esac
		for pct in 1 10; do loss_bench "$e" "$pct"; done
	done
fi
pps_bench veth; ref=$PPS
pps_bench userlink; ul=$PPS
awk -v a="$ul" -v b="$ref" 'BEGIN { if (b > 0) printf "  userlink forwarder / veth: %.2fx packets per second\n", a / b }'
# pktlink: the same forwarder through packet sockets on veth ends (what rootless labs use)
pps_bench pktlink; pl=$PPS
awk -v a="$pl" -v b="$ref" -v u="$ul" 'BEGIN { if (b > 0 && u > 0) printf "  pktlink forwarder / veth: %.2fx packets per second (%.2fx userlink TAP)\n", a / b, a / u }'

if [ "${BENCH_NO_UML:-0}" != 1 ]; then
	echo "netem inside User-Mode Linux (emulated timers; see the header):"
	UML_FILTER='^$' UML_LABS=0 UML_TIMEOUT=900 \
		UML_EXTRA="BENCH_INSIDE=1 ENGINES=netem N_DELAY=300 N_LOSS=10000 LOSS_IV=300 bash bench/impair.sh" \
		bash tests/uml/run.sh | grep -E '^# +netem ' | sed 's/^# //'
fi
