#!/usr/bin/env bash
# Two labs with the same host names run side by side, each isolated from the other: one on
# the default engine of an up lab (one that can impair: netem or userlink), one on plain veth.
source "$(dirname "$0")/lib.sh"
need_root
A="pa-$T_SUFFIX" B="pb-$T_SUFFIX"
check "first lab comes up" "$LABCTL" up tests/data/labs/chain3.lab --id "$A" --no-steps
T_LABS+=("$A")
check "second lab with the same host names comes up" "$LABCTL" up tests/data/labs/chain3.lab --id "$B" --no-steps --engine veth
T_LABS+=("$B")
check "lab B's links are veth pairs (ip -d)" grep -q 'veth' <(ip -d -n "$B-client" link show eth0)
if ! ip netns exec "$A-client" tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
	check "no netem here, so lab A's links are userlink's TAPs (ip -d)" \
		grep -q 'tun type tap' <(ip -d -n "$A-client" link show eth0)
else
	ip netns exec "$A-client" tc qdisc del dev lo root
	skip "lab A's links: this kernel has netem (the wire engine's are veth too)"
fi
r=$(ip netns exec "$B-client" "$TOOLS/tcpprobe" connect 10.0.2.1 7002 1000)
check_eq "lab B's client reaches its own server's host (refused: nothing listens)" "$r" refused
check_eq "both labs' namespaces exist" "$(ip netns list | grep -cE "^($A|$B)-(client|router|server)")" 6
ip netns exec "$A-server" "$TOOLS/tcpprobe" listen 7001 1 >/dev/null &
T_PIDS+=($!)
wait_listening "$A-server" 7001 || not_ok "the test's listener came up"
check "client of lab A reaches its own server" ip netns exec "$A-client" "$TOOLS/tcpprobe" connect 10.0.2.1 7001 2000
r=$(ip netns exec "$B-client" "$TOOLS/tcpprobe" connect 10.0.2.1 7001 1000)
check_eq "client of lab B does not reach lab A's listener (same address, other lab)" "$r" refused
check "an id in use is refused" bash -c "! '$LABCTL' up tests/data/labs/chain3.lab --id '$A' --no-steps 2>/dev/null"
check "down A" "$LABCTL" down "$A"
check_eq "lab B is untouched by down A" "$(ip netns list | grep -c "^$B-")" 3
check "down B" "$LABCTL" down "$B"
check_eq "nothing of either lab remains" "$(ip netns list | grep -cE "^($A|$B)-")" 0
t_done
