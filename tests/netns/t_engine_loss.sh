#!/usr/bin/env bash
# 100% loss makes a connect time out; a live "impair" back to 0% (a healed partition) lets
# the next one through.  ENGINE=userlink|netem.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/engine_lib.sh"
need_root

if ! el_up --both loss=100; then
	not_ok "$ENGINE: link with loss 100% came up"; t_done
fi
el_listen || not_ok "$ENGINE: listener on b:8080"
out=$(el_connect 1500)
check_eq "$ENGINE: connect over a 100% loss link times out" "$out" "timeout"
# The engine's counters (what `labctl run` prints per link): nothing delivered a->b, the SYN
# and its retransmission dropped.  Under netem, checked against tc's own statistics.
read -r _ _ _ del _ drop < <(el_cmd stats | grep a2b)
check_eq "$ENGINE: stats: nothing delivered a->b over 100% loss" "$del" 0
if [ "${drop:-0}" -ge 2 ]; then ok "$ENGINE: stats: $drop frames dropped a->b (SYN and retries)"
else not_ok "$ENGINE: stats: frames dropped a->b (got '$drop', want >= 2)"; fi
if [ "$ENGINE" = netem ]; then
	read -r _ wpath _ < <(el_cmd wire)
	for dd in a2b:b b2a:a; do   # direction : the wire device whose egress carries it
		read -r _ _ _ del _ drop < <(el_cmd stats | grep "${dd%:*}")
		tcs=$(nsenter --net="$wpath" tc -s qdisc show dev "${dd#*:}" | tr '\n' ' ')
		want=$(echo "$tcs" | sed -n 's/.*Sent [0-9]* bytes \([0-9]*\) pkt (dropped \([0-9]*\),.*/\1 \2/p')
		check_eq "netem: stats ${dd%:*} ($del delivered, $drop dropped) match tc -s qdisc" "$del $drop" "$want"
	done
fi
r1=$(el_cmd "impair a2b loss=0"); r2=$(el_cmd "impair b2a loss=0")
check_eq "$ENGINE: partition healed live" "$r1 $r2" "ok ok"
out=$(el_connect 3000)
case "$out" in connect_us*) ok "$ENGINE: connect after healing ($out)";;
	*) not_ok "$ENGINE: connect after healing (got: $out)";; esac
if [ "$ENGINE" = userlink ]; then
	c=$(el_cmd counters | awk '/a2b/ {print $8}')
	if [ "${c:-0}" -ge 1 ]; then ok "forwarder counted $c lost frames a->b"
	else not_ok "forwarder counted lost frames a->b (got '$c')"; fi
fi
el_down
t_done
