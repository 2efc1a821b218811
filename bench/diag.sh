#!/usr/bin/env bash
# bench/diag: listing 100k TCP sockets of one namespace.  `labctl ss --netns` (table and
# --json) against `ss -tan` (and `ss -tani`, the like of --json: ss asks the kernel for
# tcp_info too) in the same run, median of RUNS; plus the parser alone on a recorded dump
# (`labctl ss --replay`), and the CPU cost of polling at 1 ms (`labctl watch --stats`).
# Targets (issue 3): labctl ss at most 0.5x ss's time; at least 1M sockets/s parsed.
# Needs root.  Everything it makes lives in namespaces it creates and removes.
set -u
cd "$(dirname "$0")/.."
N=${N:-100000}
RUNS=${RUNS:-5}
OUT=${OUT:-build/rel}
LABCTL=${LABCTL:-./labctl/labctl}
MKSOCKS="$OUT/tools/mksocks"
[ "$(id -u)" = 0 ] || { echo "bench/diag: needs root" >&2; exit 2; }
[ -x "$LABCTL" ] && [ -x "$MKSOCKS" ] || { echo "bench/diag: run make first" >&2; exit 2; }

SUF=$(printf '%04x%04x' $RANDOM $RANDOM)
NS=lb-diag-$SUF
TMP=$(mktemp -d /tmp/labctl-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	exec 7>&- 2>/dev/null
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS-small" 2>/dev/null
	ip netns del "$NS-mother" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$NS" && ip -n "$NS" link set lo up || exit 2

# hold N sockets; the helper exits when fd 7 closes
mkfifo "$TMP/hold"
"$MKSOCKS" "/run/netns/$NS" "$N" <"$TMP/hold" >"$TMP/ready" &
PIDS+=($!)
exec 7>"$TMP/hold"
for _ in $(seq 600); do grep -q ready "$TMP/ready" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$TMP/ready" || { echo "bench/diag: the socket helper did not get ready" >&2; exit 2; }

# median_ms CMD...: median over RUNS runs of wall time and of CPU time (user+sys), in ms,
# printed as "WALL CPU".  CPU time is the steadier figure on a shared machine.
median_ms() {
	local i t0 t1 ws=() cs=() c TIMEFORMAT='%3U %3S'
	for i in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		c=$( { time "$@" >/dev/null 2>&1; } 2>&1 )
		t1=$(date +%s%N)
		ws+=($(( (t1 - t0) / 1000 )))
		cs+=($(echo "$c" | awk '{printf "%d", ($1 + $2) * 1000000}'))
	done
	local w c2
	w=$(printf '%s\n' "${ws[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
	c2=$(printf '%s\n' "${cs[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
	awk -v w="$w" -v c="$c2" 'BEGIN { printf "%.1f %.1f", w / 1000, c / 1000 }'
}

count=$("$LABCTL" ss --netns "$NS" -H | wc -l)
ss_count=$(ss -tanH -N "$NS" | wc -l)
echo "sockets in the namespace: labctl ss $count, ss $ss_count"

read -r t_ss c_ss < <(median_ms ss -tan -N "$NS")
read -r t_ssi c_ssi < <(median_ms ss -tani -N "$NS")
read -r t_l c_l < <(median_ms "$LABCTL" ss --netns "$NS")
read -r t_lj c_lj < <(median_ms "$LABCTL" ss --netns "$NS" --json)
"$LABCTL" ss --netns "$NS" --record "$TMP/plain.bin" >/dev/null
"$LABCTL" ss --netns "$NS" --json --record "$TMP/info.bin" >/dev/null
read -r t_rp c_rp < <(median_ms "$LABCTL" ss --replay "$TMP/plain.bin")
read -r t_rj c_rj < <(median_ms "$LABCTL" ss --replay "$TMP/info.bin" --json)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
rate() { awk -v n="$count" -v ms="$1" 'BEGIN { printf "%.2fM/s", n / ms / 1000 }'; }
echo "(median of $RUNS; wall and CPU = user+sys of the command; ratios against ss -tan,"
echo " and for --json also against ss -tani, which asks the kernel for tcp_info too)"
printf '%-34s %8s %8s  %-22s %s\n' "" "wall ms" "cpu ms" "ratio wall / cpu" "sockets/s (wall)"
row() {  # row NAME WALL CPU [REF_WALL REF_CPU]
	local r=""
	[ $# -ge 5 ] && r="$(ratio "$2" "$4") / $(ratio "$3" "$5")"
	printf '%-34s %8s %8s  %-22s %s\n' "$1" "$2" "$3" "$r" "$(rate "$2")"
}
row "ss -tan" "$t_ss" "$c_ss"
row "ss -tani" "$t_ssi" "$c_ssi"
row "labctl ss --netns" "$t_l" "$c_l" "$t_ss" "$c_ss"
row "labctl ss --netns --json" "$t_lj" "$c_lj" "$t_ss" "$c_ss"
row "  (vs ss -tani)" "$t_lj" "$c_lj" "$t_ssi" "$c_ssi"
row "parser alone: --replay" "$t_rp" "$c_rp"
row "parser alone: --replay --json" "$t_rj" "$c_rj"

# Polling cost at 1 ms, 10 and 1000 sockets.  Two kinds of namespace:
#  - "shared ehash": a plain namespace uses the kernel's global established-socket hash
#    (net.ipv4.tcp_ehash_entries, 262144 buckets here), and every dump walks all of it;
#  - "own ehash": a namespace created from a parent whose net.ipv4.tcp_child_ehash_entries
#    is 1024 gets a hash of its own, so a dump walks 1024 buckets.
echo "polling every 1 ms (labctl watch --stats, 3 s each):"
exec 7>&-
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
PIDS=()
ip netns del "$NS"
ip netns add "$NS-mother" || exit 2
ip netns exec "$NS-mother" sysctl -qw net.ipv4.tcp_child_ehash_entries=1024
ip netns exec "$NS-mother" unshare -n sh -c "echo \$\$ >$TMP/holder.pid; exec sleep 600" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$TMP/holder.pid" ] && break; sleep 0.1; done
ip netns attach "$NS-small" "$(cat "$TMP/holder.pid")" || exit 2
kill "$(cat "$TMP/holder.pid")" 2>/dev/null  # the bind mount keeps the namespace
ip netns add "$NS" || exit 2
for ns in "$NS" "$NS-small"; do ip -n "$ns" link set lo up; done
kind() { [ "$1" = "$NS" ] && echo "shared ehash" || echo "own ehash"; }
for ns in "$NS" "$NS-small"; do
	for n in 10 1000; do
		rm -f "$TMP/hold" "$TMP/ready"; mkfifo "$TMP/hold"
		"$MKSOCKS" "/run/netns/$ns" "$n" 30000 <"$TMP/hold" >"$TMP/ready" &
		PIDS+=($!)
		exec 7>"$TMP/hold"
		for _ in $(seq 100); do grep -q ready "$TMP/ready" 2>/dev/null && break; sleep 0.05; done
		for filt in "" "-4 port 30000"; do
			line=$("$LABCTL" watch --netns "$ns" --observer poll --for 3s --stats $filt 2>&1 >/dev/null | tail -1)
			printf '  %-12s %5d sockets %-14s %s\n' "$(kind "$ns")" "$n" "${filt:-(no filter)}" \
				"$(echo "${line#labctl watch: }" | sed 's/, [0-9]* connections.*//')"
		done
		exec 7>&-
		wait "${PIDS[-1]}" 2>/dev/null
	done
done
ip netns del "$NS-mother"
