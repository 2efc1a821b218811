#!/usr/bin/env bash
# A link with 50 ms each way makes a TCP connect take about one RTT (100 ms), as measured by
# an independent client (netprobe's own clock); without impairment it takes well under 10 ms.
# ENGINE=userlink|netem picks the engine (netem runs inside User-Mode Linux).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/engine_lib.sh"
need_root

if ! el_up --both delay=50ms; then
	not_ok "$ENGINE: link with delay 50ms each way came up"; t_done
fi
ok "$ENGINE: link with delay 50ms each way came up ($(grep '^engine:' "$EL_OUT"))"
el_listen || not_ok "$ENGINE: listener on b:8080"
times=$(for i in 1 2 3 4 5; do el_connect 3000 | awk '/connect_us/ {print $2}'; done)
med=$(echo "$times" | median)
if [ "$med" -ge 95000 ] && [ "$med" -le 125000 ]; then
	ok "$ENGINE: connect takes ~100 ms (median ${med} us of: $(echo $times))"
else
	not_ok "$ENGINE: connect takes ~100 ms (median ${med} us of: $(echo $times))"
fi

if [ "$ENGINE" = netem ]; then
	# Cross-check with tc inside the wire namespace: the qdisc is where it should be.
	read -r _ wpath wdev < <(el_cmd wire)
	q=$(nsenter --net="$wpath" tc qdisc show dev b 2>&1)
	case "$q" in *netem*delay\ 50ms*) ok "tc sees netem delay 50ms on the wire (b egress)";;
		*) not_ok "tc sees netem delay 50ms on the wire (got: $q)";; esac
	q=$(tc -n "$EL_A" qdisc show dev eth0 2>&1)
	case "$q" in *netem*) not_ok "no netem on host a's own egress (got: $q)";;
		*) ok "no netem on host a's own egress";; esac
fi

# A live change: drop the delay, the connect gets fast.
r1=$(el_cmd "impair a2b delay=0ms"); r2=$(el_cmd "impair b2a delay=0ms")
check_eq "$ENGINE: live impair accepted" "$r1 $r2" "ok ok"
med=$(for i in 1 2 3; do el_connect 3000 | awk '/connect_us/ {print $2}'; done | median)
if [ "$med" -ge 0 ] && [ "$med" -lt 20000 ]; then
	ok "$ENGINE: after impair delay=0 connect takes ${med} us"
else
	not_ok "$ENGINE: after impair delay=0 connect takes ${med} us (want < 20000)"
fi
el_down
t_done
