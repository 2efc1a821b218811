#!/usr/bin/env bash
# bench/connrate: connect+accept+close cycles per second between two namespaces, driven by
# the agents (client agent `cycle` op, server agent `listen accept auto on-eof close`),
# against bench/tools/connloop (one bare blocking C loop doing the same cycle) in the same
# run; then the time to open 100k concurrent connections and the agents' RSS per connection.
#
#   bench/connrate.sh [BUILD_DIR]        (default build/rel; needs root)
#   N=50000 RUNS=3 CONNS=100000 CONC=1 RATE=0   knobs (RATE: connects/s for the 100k part,
#   per source address; 0 = as fast as the agent goes)
#
# Both peers run with the same sysctls: a wide ephemeral port range, and a small
# tcp_max_tw_buckets so the client's TIME_WAIT sockets do not turn every connect() into a
# long search for a free port (that would measure the kernel's port allocator, not us).
set -u
cd "$(dirname "$0")/.."
OUT=${1:-build/rel}
TOOLS=$PWD/$OUT/tools
export LABCTL_AGENT=${LABCTL_AGENT:-$PWD/$([ "$OUT" = build/rel ] && echo agents || echo "$OUT")/labctl-agent}
N=${N:-50000} RUNS=${RUNS:-3} CONNS=${CONNS:-100000} CONC=${CONC:-1} RATE=${RATE:-0}
[ "$(id -u)" = 0 ] || { echo "connrate: needs root"; exit 2; }
for t in agentdrive connloop; do
	[ -x "$TOOLS/$t" ] || { echo "connrate: $TOOLS/$t missing (make all)"; exit 2; }
done

SUF=$(printf '%04x%04x' $RANDOM $RANDOM)
A=lb-cli-$SUF B=lb-srv-$SUF
cleanup() { ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; }
trap cleanup EXIT
ip netns add "$A" && ip netns add "$B" || exit 2
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip link add "bc$SUF" netns "$A" type veth peer name "bs$SUF" netns "$B"
ip -n "$A" addr add 10.232.0.1/24 dev "bc$SUF"
ip -n "$A" addr add 10.232.0.11/24 dev "bc$SUF"   # a second source address for 100k
ip -n "$B" addr add 10.232.0.2/24 dev "bs$SUF"
ip -n "$A" link set "bc$SUF" up; ip -n "$B" link set "bs$SUF" up
for ns in "$A" "$B"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65535" \
		net.ipv4.tcp_max_tw_buckets=4096 net.core.somaxconn=8192 \
		net.ipv4.tcp_max_syn_backlog=8192
done
PA=/run/netns/$A PB=/run/netns/$B

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
bare=() agent=()
echo "connrate: $N cycles per run, $RUNS runs each, alternating (agent cycle concurrency $CONC)"
for r in $(seq "$RUNS"); do
	out=$("$TOOLS/connloop" "$PA" "$PB" 10.232.0.2 $((9000 + r)) "$N") || { echo "connloop failed: $out"; exit 1; }
	b=$(echo "$out" | sed -n 's/.*: \([0-9]*\)\/s$/\1/p')
	out=$("$TOOLS/agentdrive" -q c="$PA" s="$PB" -c "s listen :$((9100 + r)) backlog 4096" \
		-c "c cycle 10.232.0.2:$((9100 + r)) count $N concurrency $CONC") || { echo "agent cycle failed: $out"; exit 1; }
	g=$(echo "$out" | sed -n 's/^cycle .*: \([0-9]*\)\/s$/\1/p')
	echo "  run $r: bare $b/s  agent $g/s"
	bare+=("$b") agent+=("$g")
done
mb=$(printf '%s\n' "${bare[@]}" | median)
mg=$(printf '%s\n' "${agent[@]}" | median)
echo "connrate: bare loop $mb cycles/s, agents $mg cycles/s, ratio $(awk -v g="$mg" -v b="$mb" 'BEGIN {printf "%.2f", g / b}') (target >= 0.80)"

# Each agent holds one descriptor per connection: without CAP_SYS_RESOURCE it cannot raise
# RLIMIT_NOFILE past the hard limit it inherits, so measure what fits and say so.
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$CONNS" -gt $((hard - 100)) ] &&
   ! prlimit --nofile="$((CONNS + 100)):$((CONNS + 100))" true 2>/dev/null; then
	echo "connrate: RLIMIT_NOFILE hard limit is $hard and raising it is not permitted here" \
	     "(no CAP_SYS_RESOURCE): measuring $((hard - 100)) connections instead of $CONNS"
	CONNS=$((hard - 100))
fi
half=$((CONNS / 2))
BIG=$(mktemp /tmp/connrate.XXXXXX)
# in the background, so ss can count the connections while the agents hold them
"$TOOLS/agentdrive" -q c="$PA" s="$PB" \
	-c "s listen :9200 backlog 8192 as big" -c "c ping" -c "c rss" -c "s rss" -c "mark" \
	-c "c connect 10.232.0.2:9200 count $half rate $RATE as g1 from 10.232.0.1" \
	-c "c connect 10.232.0.2:9200 count $((CONNS - half)) rate $RATE as g2 from 10.232.0.11" \
	-c "c wait-event connected $CONNS within 600s" -c "elapsed" \
	-c "s wait-event accepted $CONNS within 120s" -c "elapsed" \
	-c "c rss" -c "s rss" -c "c count error" -c "c count refused" -c "c count timeout" \
	-c "sleep 3s" >"$BIG" 2>&1 &
DPID=$!
for _ in $(seq 3000); do
	grep -q '^count timeout' "$BIG" && break
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
estab=$(ss -Htan -N "$B" state established '( sport = :9200 )' | wc -l)
wait "$DPID"
rc=$?
out=$(cat "$BIG"); rm -f "$BIG"
rss=($(echo "$out" | sed -n 's/^rss //p'))
el=($(echo "$out" | sed -n 's/^elapsed //p'))
errs=$(echo "$out" | sed -n 's/^count \(error\|refused\|timeout\) \([0-9]*\)/\1=\2/p' | tr '\n' ' ')
if [ $rc -ne 0 ] || [ ${#rss[@]} -ne 4 ]; then
	echo "connrate: $CONNS connections failed (driver exit $rc):"; echo "$out" | grep -v '^done ok' | tail -5
	echo "  established on the server (ss): $estab"
	exit 1
fi
echo "connrate: $CONNS connections open in ${el[0]} s (all accepted at ${el[1]} s); ss counted $estab established on the server; $errs"
awk -v c0="${rss[0]}" -v s0="${rss[1]}" -v c1="${rss[2]}" -v s1="${rss[3]}" -v n="$CONNS" 'BEGIN {
	printf "connrate: agent RSS client %d -> %d KiB (%.0f B/conn), server %d -> %d KiB (%.0f B/conn)\n",
		c0, c1, (c1 - c0) * 1024 / n, s0, s1, (s1 - s0) * 1024 / n }'
