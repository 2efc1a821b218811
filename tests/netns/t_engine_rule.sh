#!/usr/bin/env bash
# The scripted rule "drop a>b tcp ACK first 3" holds the server in SYN_RECV while the client,
# whose handshake ACK never arrives, is already ESTABLISHED (as the textbooks draw it); ss
# is the independent witness.  Under ENGINE=netem the same rule must be refused, naming the
# engine that can do it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/engine_lib.sh"
need_root

if [ "$ENGINE" = netem ]; then
	if el_up --rule "a>b ACK first 3" 2>"$T_TMP/err"; then
		not_ok "netem refuses drop rules"
	else
		grep -q "drop rules need the userlink engine" "$T_TMP/err" "$EL_ERR" &&
			ok "netem refuses drop rules and names userlink" ||
			not_ok "netem refuses drop rules and names userlink (got: $(cat "$EL_ERR"))"
	fi
	t_done
fi

el_up --rule "a>b ACK first 3" || { not_ok "link with a drop rule came up"; t_done; }
el_listen || not_ok "listener on b:8080"
ip netns exec "$EL_A" "$TOOLS/netprobe" connect "$EL_IP_B" 8080 2000 5000 >"$T_TMP/conn" {EL_IN}>&- &
T_PIDS+=($!)
wait_for 3 grep -q connect_us "$T_TMP/conn" || not_ok "client connected"
sleep 0.3
srv=$(ss -N "$EL_B" -tan state syn-recv '( sport = :8080 )' | tail -n +2 | wc -l)
cli=$(ss -N "$EL_A" -tan state established '( dport = :8080 )' | tail -n +2 | wc -l)
check_eq "server holds the connection in SYN_RECV (ss)" "$srv" 1
check_eq "client is ESTABLISHED (ss)" "$cli" 1
c=$(el_cmd counters | awk '/a2b/ {print $12}')
check_eq "forwarder dropped exactly one ACK so far" "$c" 1
# The client re-ACKs each retransmitted SYN-ACK (at ~1 s and ~3 s); the rule eats those two
# as well, and the fourth ACK (at ~7 s) would complete the handshake: not waited for here.
el_down
t_done
