#!/usr/bin/env bash
# t_ss: labctl ss agrees with ss on every TCP state, in two namespaces holding sockets in all
# of them (built by states.sh); filters agree with ss's filters; labctl watch shows a
# handshake's SYN_SENT and the server's SYN_RECV -> ESTABLISHED.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/states.sh"
need_root
D=$(dirname "$0")
cmp_py() { python3 "$D/sscmp.py" "$@"; }

if ! states_build; then not_ok "build sockets in every state"; t_done; fi
ok "build sockets in every state"

all_states=""
for ns in "$NS_A" "$NS_B"; do
	side=client; [ "$ns" = "$NS_B" ] && side=server
	ss -tan -N "$ns" | cmp_py ss >"$T_TMP/ss.$side"
	"$LABCTL" ss --netns "$ns" --json >"$T_TMP/json.raw.$side"; rc=$?
	check_eq "$side: labctl ss --json exits 0" "$rc" 0
	cmp_py json <"$T_TMP/json.raw.$side" >"$T_TMP/json.$side"
	check "$side: --json lines are objects with state/local/peer/recv_q/send_q" test $? = 0
	"$LABCTL" ss --netns "$ns" | cmp_py table >"$T_TMP/table.$side"
	# every state, one by one: counts and the local/peer pairs
	for st in LISTEN SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 CLOSE_WAIT CLOSING \
		LAST_ACK TIME_WAIT; do
		want=$(grep -c "^$st " "$T_TMP/ss.$side")
		got=$(grep -c "^$st " "$T_TMP/json.$side")
		check_eq "$side: $st count agrees with ss ($want)" "$got" "$want"
		[ "$want" -gt 0 ] && all_states="$all_states $st"
	done
	check "$side: --json sockets equal ss's (state, local, peer)" \
		diff -u "$T_TMP/ss.$side" "$T_TMP/json.$side"
	check "$side: table equals --json" diff -u "$T_TMP/json.$side" "$T_TMP/table.$side"
done
n=$(echo $all_states | tr ' ' '\n' | sort -u | wc -l)
check_eq "the namespaces hold all 10 states" "$n" 10

# queues, timers and tcp_info on known sockets
j() { python3 -c "
import json,sys
for l in open(sys.argv[1]):
    o=json.loads(l)
    if o['state']==sys.argv[2] and (sys.argv[3]=='' or o['local'].endswith(':'+sys.argv[3])):
        print(eval(sys.argv[4], {}, o)); break" "$@"; }
check_eq "LISTEN send_q is the backlog" "$(j "$T_TMP/json.raw.server" LISTEN 8080 send_q)" 16
check_eq "CLOSE_WAIT recv_q counts the FIN" "$(j "$T_TMP/json.raw.server" CLOSE_WAIT 8084 recv_q)" 1
check_eq "TIME_WAIT has the timewait timer" "$(j "$T_TMP/json.raw.client" TIME_WAIT '' timer)" timewait
check_eq "SYN_SENT is retransmitting" "$(j "$T_TMP/json.raw.client" SYN_SENT '' timer)" on
check "ESTABLISHED has tcp_info (rtt, cwnd)" test "$(j "$T_TMP/json.raw.client" ESTABLISHED '' \
	"tcp_info['snd_cwnd'] > 0 and 'rtt_us' in tcp_info")" = True
check_eq "LAST_ACK queues agree with ss" "$(j "$T_TMP/json.raw.server" LAST_ACK '' \
	"'%d %d' % (recv_q, send_q)")" "$(ss -tanH -N "$NS_B" state last-ack | awk '{print $1" "$2}')"

# -i adds a tcp_info line under each full socket
check "-i shows rtt and cwnd" eval "\"$LABCTL\" ss --netns \"$NS_A\" -i estab | grep -q 'rtt:.*cwnd:'"

# filters, against ss's own
f_cmp() {  # f_cmp NAME NS "labctl args" "ss filter args" [STATE ss omits]
	local name=$1 ns=$2 largs=$3 sargs=$4
	ss -tan -N "$ns" $sargs | cmp_py ss ${5:-} >"$T_TMP/f.ss"
	"$LABCTL" ss --netns "$ns" --json $largs | cmp_py json >"$T_TMP/f.l"
	if [ ! -s "$T_TMP/f.ss" ]; then not_ok "$name (ss found nothing: bad test)"; return; fi
	check "$name" diff -u "$T_TMP/f.ss" "$T_TMP/f.l"
}
f_cmp "port 8082 filter = ss '( sport = :8082 or dport = :8082 )'" "$NS_B" "port 8082" \
	"( sport = :8082 or dport = :8082 )"
f_cmp "two ports = ss's or" "$NS_A" "port 8083 port 8084" \
	"( dport = :8083 or dport = :8084 or sport = :8083 or sport = :8084 )"
f_cmp "state fin-wait-1 = ss state fin-wait-1" "$NS_A" "fin-wait-1" "state fin-wait-1" FIN_WAIT_1
f_cmp "states estab + syn_sent" "$NS_A" "estab SYN-SENT" "state established state syn-sent"
f_cmp "addr ::1 = ss '( src [::1] or dst [::1] )'" "$NS_A" "addr ::1" "( src [::1] or dst [::1] )"
f_cmp "addr 10.77.0.0/24 and port 8080" "$NS_B" "addr 10.77.0.0/24 port 8080" \
	"( src 10.77.0.0/24 or dst 10.77.0.0/24 ) and ( sport = :8080 or dport = :8080 )"
f_cmp "SYN_RECV lists request sockets" "$NS_B" "syn_recv" "state syn-recv" SYN_RECV

# ID HOST names /run/netns/ID-HOST
check "ss ID HOST opens ID-HOST" eval "\"$LABCTL\" ss lt-client \"$T_SUFFIX\" | grep -q FIN_WAIT_2"
"$LABCTL" ss no-such-lab host >/dev/null 2>&1
check_eq "a missing namespace exits 2" $? 2
"$LABCTL" ss --netns "$NS_A" FIN_WAIT3 2>"$T_TMP/err" >/dev/null
check_eq "an unknown state exits 2" $? 2
check "and suggests a name" grep -q "did you mean" "$T_TMP/err"

# watch: a handshake held in SYN_SENT by dropped SYN-ACKs, then let through
drv listen L8086 "$NS_B" 10.77.0.2 8086 || not_ok "listen 8086"
"$LABCTL" watch --netns "$NS_A" --json --for 4s port 8086 >"$T_TMP/wa" 2>"$T_TMP/wa.err" &
WA=$!; T_PIDS+=("$WA")
"$LABCTL" watch --netns "$NS_B" --json --for 4s port 8086 >"$T_TMP/wb" 2>"$T_TMP/wb.err" &
WB=$!; T_PIDS+=("$WB")
wait_polling "$WA" "$WB" || not_ok "both watches started polling"
drop_add "$NS_A" a0 6 match ip sport 8086 0xffff
drv connect w1 "$NS_A" 10.77.0.2 8086
sleep 0.3
drop_del "$NS_A" a0 6
# hold each state for 200 ms so that even a slow (sanitizer) build's polls see it
drv wait w1 && sleep 0.2 && drv accept w1s L8086 && drv shutdown w1 && sleep 0.2 && drv close w1s
wait "$WA"; check_eq "watch (client) exits 0" $? 0
wait "$WB"; check_eq "watch (server) exits 0" $? 0
seq_of() { python3 -c "
import json,sys
print(' '.join(o['to'] for o in map(json.loads, open(sys.argv[1])) if not o['local'].endswith(':8086')))" "$1"; }
seq_srv() { python3 -c "
import json,sys
print(' '.join(o['to'] for o in map(json.loads, open(sys.argv[1])) if o['local'].endswith(':8086') and not o['peer'].endswith(':*')))" "$1"; }
a_seq=$(seq_of "$T_TMP/wa")
case "$a_seq" in
"SYN_SENT ESTABLISHED "*) ok "watch shows the client's SYN_SENT then ESTABLISHED ($a_seq)" ;;
*) not_ok "watch client sequence: $a_seq" ;;
esac
check "the client then closes (FIN_WAIT_*/TIME_WAIT)" eval "echo '$a_seq' | grep -qE 'TIME_WAIT'"
b_seq=$(seq_srv "$T_TMP/wb")
case "$b_seq" in
"SYN_RECV ESTABLISHED "*) ok "watch stitches the server's SYN_RECV -> ESTABLISHED ($b_seq)" ;;
*) not_ok "watch server sequence: $b_seq" ;;
esac
t_done
