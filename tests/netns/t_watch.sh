#!/usr/bin/env bash
# t_watch: on a lab brought up with a 10 ms one-way delay (20 ms RTT), `labctl watch ID HOST`
# catches the client's SYN_SENT (a sub-RTT state) and the whole close, and the server's
# SYN_RECV -> ESTABLISHED -> CLOSE_WAIT -> LAST_ACK; `labctl ss ID HOST` sees the TIME_WAIT
# that ss sees.
source "$(dirname "$0")/lib.sh"
need_root
ID=lw$T_SUFFIX
cat >"$T_TMP/w.lab" <<'LAB'
lab watch
host client addr 10.0.0.1/24
host server addr 10.0.0.2/24
link client server delay 10ms
LAB
# up in the background: its return is checked separately below, the rest needs only the lab
"$LABCTL" up "$T_TMP/w.lab" --id "$ID" >"$T_TMP/up.log" 2>&1 &
UP=$!; T_PIDS+=("$UP"); T_LABS+=("$ID")
if ! wait_for 10 test -e "/run/netns/$ID-server" -a -e "/run/netns/$ID-client"; then
	not_ok "labctl up made the lab ($(tail -1 "$T_TMP/up.log"))"; t_done
fi
ok "labctl up made the lab"
sleep 0.5  # the supervisor finishes exposing and starting the forwarder
if wait_for 10 eval "! kill -0 $UP 2>/dev/null"; then
	wait "$UP"; check_eq "labctl up returned 0" $? 0
else
	not_ok "labctl up did not return within 10 s (a forked child of the supervisor keeps the status pipe open?)"
fi

ip netns exec "$ID-server" python3 -c "
import socket,time
l=socket.socket(); l.bind(('10.0.0.2',8080)); l.listen(5)
s,_=l.accept(); time.sleep(0.5); s.close(); time.sleep(3)" &
T_PIDS+=($!)
wait_listening "$ID-server" 8080 || not_ok "the test's listener came up"
"$LABCTL" watch "$ID" client --json --for 3s port 8080 >"$T_TMP/wc" 2>"$T_TMP/wc.err" &
WC=$!; T_PIDS+=("$WC")
"$LABCTL" watch "$ID" server --json --for 3s port 8080 >"$T_TMP/ws" 2>"$T_TMP/ws.err" &
WS=$!; T_PIDS+=("$WS")
wait_polling "$WC" "$WS" || not_ok "both watches started polling"
ip netns exec "$ID-client" python3 -c "
import socket,time
c=socket.create_connection(('10.0.0.2',8080)); time.sleep(0.2); c.shutdown(socket.SHUT_WR); time.sleep(1)"
wait "$WC"; check_eq "watch client exits 0" $? 0
wait "$WS"; check_eq "watch server exits 0" $? 0

# "STATE:ms-in-state ..." of the one connection on each side
seq_ms() { python3 -c "
import json,sys
ev=[o for o in map(json.loads, open(sys.argv[1])) if not o['peer'].endswith(':*')]
out=[]
for a,b in zip(ev, ev[1:]+[None]):
    out.append('%s:%d' % (a['to'], (b['mono_ns']-a['mono_ns'])//1000000 if b else -1))
print(' '.join(out))" "$1"; }
c=$(seq_ms "$T_TMP/wc"); s=$(seq_ms "$T_TMP/ws")
echo "# client: $c"; echo "# server: $s"
states() { echo "$1" | sed 's/:[-0-9]*//g'; }
check_eq "client: SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT" "$(states "$c")" \
	"SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT"
check_eq "server: SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED" "$(states "$s")" \
	"SYN_RECV ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED"
syn=$(echo "$c" | sed -n 's/.*SYN_SENT:\([0-9]*\).*/\1/p')
check "SYN_SENT lasted at least one RTT (${syn}ms >= 19)" test "${syn:-0}" -ge 19
fw1=$(echo "$c" | sed -n 's/.*FIN_WAIT_1:\([0-9]*\).*/\1/p')
check "FIN_WAIT_1 lasted about one RTT (${fw1}ms in 19..60)" test "${fw1:-0}" -ge 19 -a "${fw1:-0}" -le 60

got=$("$LABCTL" ss "$ID" client TIME_WAIT --json | python3 -c "
import json,sys; print(' '.join(o['local']+'>'+o['peer'] for o in map(json.loads, sys.stdin)))")
want=$(ss -tanH -N "$ID-client" state time-wait | awk '{print $3">"$4}')
check_eq "labctl ss ID HOST TIME_WAIT = ss" "$got" "$want"
t_done
