#!/usr/bin/env bash
# bench/flood: SYNs per second from the agent's flood (raw socket, sendmmsg batches) against
# `hping3 --flood -S` aimed at the same lab target in the same run, each for DUR seconds,
# alternating, RUNS times.  Both spoof sources inside the lab's black hole (the agent cycles
# through 198.18.0.0/24; hping3 uses the fixed source 198.18.0.5: --rand-source would leave
# the lab's range).  SYNs are counted where they arrive: the target namespace's IpInReceives
# (/proc/net/snmp), with its TCP counters beside them.
#
# The lab is built by `labctl up --engine veth` (plain veth pairs: an up lab otherwise gets an
# engine that can impair later, userlink on a kernel without netem, whose forwarder would be
# what this measures); it names its black hole, so the
# victim routes it into labctl's sink as in any lab that floods.  Two targets:
#   listener  the server listens (backlog 1024, tcp_syncookies=1): each SYN costs it a SYN
#             cookie and a SYN+ACK into the sink.  Realistic; the victim's CPU can be the limit.
#   drop      the same server with rp_filter=1: SYNs from the black hole fail the reverse-path
#             check right after they are counted, so the victim is cheap and the senders are
#             what is measured.  The ratio of this mode is the headline.
# On a veth pair the receiver's work runs in the sender's softirq unless steered away, so
# with 2+ CPUs the senders are pinned to CPU 0 and the victim's receive work is steered to
# CPU 1 (RPS on its eth0).
#
#   bench/flood.sh [BUILD_DIR]        (default build/rel; needs root, hping3)
#   DUR=2 RUNS=3 MODES="drop listener"  knobs
# Timings never fail anything; a failed run prints why.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-build/rel}
TOOLS=$PWD/$OUT/tools
LABCTL=${LABCTL:-$PWD/$([ "$OUT" = build/rel ] && echo labctl/labctl || echo "$OUT/labctl")}
export LABCTL_AGENT=${LABCTL_AGENT:-$PWD/$([ "$OUT" = build/rel ] && echo agents || echo "$OUT")/labctl-agent}
DUR=${DUR:-2} RUNS=${RUNS:-3} MODES=${MODES:-drop listener}
[ "$(id -u)" = 0 ] || { echo "flood: needs root"; exit 2; }
command -v hping3 >/dev/null || { echo "flood: hping3 missing (make deps)"; exit 2; }
[ -x "$TOOLS/agentdrive" ] || { echo "flood: $TOOLS/agentdrive missing (make all)"; exit 2; }

SUF=$(printf '%04x' $RANDOM)
ID=flb-$SUF
TMP=$(mktemp -d /tmp/labctl-bench.XXXXXX)
cleanup() { "$LABCTL" down "$ID" >/dev/null 2>&1; rm -rf "$TMP"; }
trap cleanup EXIT
cat >"$TMP/flood.lab" <<'EOF'
lab floodbench
blackhole 198.18.0.0/24
host attacker addr 10.0.1.66/24
host server addr 10.0.1.2/24 sysctl net.ipv4.tcp_syncookies=1 sysctl net.ipv4.tcp_max_syn_backlog=1024
link attacker server
server listen :80 backlog 1024
EOF
"$LABCTL" up "$TMP/flood.lab" --id "$ID" --engine veth >/dev/null || { echo "flood: labctl up failed"; exit 1; }
A=$ID-attacker S=$ID-server TARGET=10.0.1.2
sleep 0.3  # the lab's one step (listen) runs under the supervisor

PIN=()
if [ "$(nproc)" -ge 2 ]; then
	PIN=(taskset -c 0)
	ip netns exec "$S" sh -c 'echo 2 >/sys/class/net/eth0/queues/rx-0/rps_cpus' ||
		echo "flood: could not steer the victim's receive work to CPU 1 (RPS)"
fi

# counters NS NAME...: values from /proc/net/snmp and /proc/net/netstat, by nstat name
counters() {
	local ns=$1; shift
	ip netns exec "$ns" cat /proc/net/snmp /proc/net/netstat | awk -v want="$*" '
		BEGIN { n = split(want, w, " ") }
		{ if (hdr[$1] == "") { hdr[$1] = $0; next }
		  split(hdr[$1], h, " "); p = substr($1, 1, length($1) - 1)
		  for (i = 2; i <= NF; i++) v[p h[i]] = $i; hdr[$1] = "" }
		END { for (i = 1; i <= n; i++) printf "%s ", (w[i] in v ? v[w[i]] : 0); print "" }'
}
NAMES="IpInReceives TcpExtTCPReqQFullDoCookies TcpExtSyncookiesSent TcpExtListenDrops TcpExtIPReversePathFilter"
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# delta BEFORE AFTER: field-wise difference
delta() { paste -d' ' <(tr ' ' '\n' <<<"$1") <(tr ' ' '\n' <<<"$2") | awk 'NF == 2 {printf "%d ", $2 - $1}'; }

# one SENDER: prints "RATE_AT_TARGET SENT SECONDS CPU_SECONDS COUNTER_DELTAS..."
# CPU seconds: user + system time of the sender (the agent, reaped by agentdrive; hping3,
# reaped by timeout), from /usr/bin/time.  Softirq work done on the sender's CPU is charged
# to it; the victim's (steered to CPU 1) is not.
one() {
	local c0 c1 t0 t1 sent secs out cpu
	c0=$(counters "$S" $NAMES)
	if [ "$1" = agent ]; then
		out=$("${PIN[@]}" /usr/bin/time -f "cpu %U %S" -o "$TMP/cpu" "$TOOLS/agentdrive" -q \
			a="/run/netns/$A" -c "flood $TARGET:80 rate 100000000 for ${DUR}s") ||
			{ echo "agent failed: $out" >&2; return 1; }
		sent=$(sed -n 's/^flood \([0-9]*\) in \([0-9.]*\) s.*/\1/p' <<<"$out")
		secs=$(sed -n 's/^flood \([0-9]*\) in \([0-9.]*\) s.*/\2/p' <<<"$out")
	else
		t0=$(now)
		out=$(ip netns exec "$A" "${PIN[@]}" /usr/bin/time -f "cpu %U %S" -o "$TMP/cpu" \
			timeout -s INT "$DUR" hping3 --flood -S -p 80 -a 198.18.0.5 "$TARGET" 2>&1)
		t1=$(now)
		sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' <<<"$out")
		secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
		[ -n "$sent" ] || { echo "hping3 failed: $out" >&2; return 1; }
	fi
	cpu=$(awk '/^cpu/ {printf "%.2f", $2 + $3}' "$TMP/cpu")
	sleep 0.2  # let the victim's backlog drain before reading its counters
	c1=$(counters "$S" $NAMES)
	local d
	d=$(delta "$c0" "$c1")
	awk -v r="${d%% *}" -v s="$secs" 'BEGIN {printf "%d ", r / s}'
	echo "$sent $secs $cpu $d"
}

echo "flood: $RUNS runs of ${DUR}s per sender and target, alternating; SYNs counted at the target ($S)"
printf '  %-9s %-7s %10s %10s %10s %6s %11s   %s\n' target sender "rx SYN/s" sent rx "cpu s" \
	"sent/cpu-s" "victim: DoCookies SyncookiesSent ListenDrops RPFilter"
declare -A med
for mode in $MODES; do
	if [ "$mode" = drop ]; then
		ip netns exec "$S" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
	else
		ip netns exec "$S" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.eth0.rp_filter=0
	fi
	ag=() hp=() agc=() hpc=() pair=()
	for r in $(seq "$RUNS"); do
		last=
		for who in agent hping3; do
			ip netns list | grep -q "^$S" || { echo "flood: the lab is gone (labctl down --all elsewhere?)"; exit 1; }
			res=$(one "$who") || continue
			read -r rate sent secs cpu rx dc cs ld rp <<<"$res"
			eff=$(awk -v n="$sent" -v c="$cpu" 'BEGIN {printf "%d", (c > 0 ? n / c : 0)}')
			printf '  %-9s %-7s %10d %10d %10d %6.2f %11d   %d %d %d %d\n' "$mode" "$who" "$rate" \
				"$sent" "$rx" "$cpu" "$eff" "$dc" "$cs" "$ld" "$rp"
			if [ "$who" = agent ]; then ag+=("$rate") agc+=("$eff") last=$rate
			else
				hp+=("$rate") hpc+=("$eff")
				[ -n "$last" ] && pair+=("$(awk -v a="$last" -v h="$rate" 'BEGIN {printf "%.3f", (h > 0 ? a / h : 0)}')")
			fi
		done
	done
	med[$mode-agent]=$(printf '%s\n' "${ag[@]:-0}" | median)
	med[$mode-hping3]=$(printf '%s\n' "${hp[@]:-0}" | median)
	med[$mode-agentc]=$(printf '%s\n' "${agc[@]:-0}" | median)
	med[$mode-hping3c]=$(printf '%s\n' "${hpc[@]:-0}" | median)
	med[$mode-pair]=$(printf '%s\n' "${pair[@]:-0}" | median)
done
ratio() { awk -v a="$1" -v h="$2" 'BEGIN {printf "%.2f", (h > 0 ? a / h : 0)}'; }
for mode in $MODES; do
	a=${med[$mode-agent]} h=${med[$mode-hping3]}
	echo "flood ($mode): agent $a SYN/s, hping3 $h SYN/s at the target: ratio $(ratio "$a" "$h")" \
		"(median of back-to-back pairs ${med[$mode-pair]}; target >= 2)"
	a=${med[$mode-agentc]} h=${med[$mode-hping3c]}
	echo "flood ($mode): per CPU-second of the sender: agent $a SYNs, hping3 $h SYNs: ratio $(ratio "$a" "$h")"
done
