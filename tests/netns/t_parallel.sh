#!/usr/bin/env bash
# Two labs with the same host names run side by side, each isolated from the other.
source "$(dirname "$0")/lib.sh"
need_root
A="pa-$T_SUFFIX" B="pb-$T_SUFFIX"
check "first lab comes up" "$LABCTL" up tests/data/labs/chain3.lab --id "$A" --no-steps
T_LABS+=("$A")
check "second lab with the same host names comes up" "$LABCTL" up tests/data/labs/chain3.lab --id "$B" --no-steps
T_LABS+=("$B")
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
