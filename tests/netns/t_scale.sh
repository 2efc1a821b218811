#!/usr/bin/env bash
# 100k concurrent connections in one lab (tests/data/labs/scale-100k.lab), counted by ss (an
# independent tool) while the lab holds them, with the agents' memory per connection.
source "$(dirname "$0")/lib.sh"
need_root
ID="sc-$T_SUFFIX"
t0=$SECONDS
"$LABCTL" run --expose --id "$ID" tests/data/labs/scale-100k.lab >"$T_TMP/run.out" 2>&1 &
pid=$!
T_PIDS+=("$pid")
if wait_for 90 grep -q 'ok  *expect c5 event connected' "$T_TMP/run.out"; then
	est=$(ip netns exec "$ID-server" ss -Htn state established '( sport = :80 )' | wc -l)
	check "ss counts at least 100000 established connections on the server ($est)" test "$est" -ge 100000
	clients=0
	for i in 0 1 2 3 4 5; do
		n=$(ip netns exec "$ID-c$i" ss -Htn state established '( dport = :80 )' | wc -l)
		clients=$((clients + n))
	done
	check "ss counts at least 100000 on the clients' side ($clients)" test "$clients" -ge 100000
	rss=0
	for p in $(pgrep -f -- "--host $ID-"); do
		r=$(awk '/^VmRSS/{print $2}' /proc/"$p"/status 2>/dev/null); rss=$((rss + ${r:-0}))
	done
	echo "# agents' RSS: $rss KiB for $clients client + $est server connections" \
		"($(( rss * 1024 / (clients > 0 ? clients : 1) )) bytes per client connection, all agents)"
else
	not_ok "the lab reached 100k connections"
fi
wait "$pid"; rc=$?
check_eq "labctl run of the 100k lab passes" "$rc" 0
echo "# took $((SECONDS - t0)) s"
grep -E 'expect server|PASS|FAIL' "$T_TMP/run.out" | sed 's/^/# /'
t_done
