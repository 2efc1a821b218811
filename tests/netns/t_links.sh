#!/usr/bin/env bash
# What labctl run reports per impaired link (the engine's counters), checked against the
# packets tcpdump reads from the run's own captures at both ends; IPv4-only link ends carry
# no IPv6 (no MLD or router solicitations in captures and counters), while ends with an IPv6
# address keep it (checked with sysctl inside the namespaces).
source "$(dirname "$0")/lib.sh"
need_root

# rule-final-ack (syn-recv-held with `drop client>server tcp ACK first 3`, userlink engine).
CAP="$T_TMP/cap"; mkdir -p "$CAP"
"$LABCTL" run tests/data/labs/rule-final-ack.lab --engine userlink --capture "$CAP" --json >"$T_TMP/run.json" \
	2>"$T_TMP/run.err"
check_eq "rule-final-ack passes with captures" $? 0
field() {  # field FROM TO KEY: a number from the run's link object
	python3 -c "
import json,sys
for l in open(sys.argv[1]):
    o=json.loads(l)
    if o.get('type')=='link' and o['from']==sys.argv[2] and o['to']==sys.argv[3]:
        print(o.get(sys.argv[4],'absent'))" "$T_TMP/run.json" "$1" "$2" "$3"
}
check_eq "one link object per direction" "$(grep -c '"type":"link"' "$T_TMP/run.json")" 2
pc=$(ls "$CAP"/*-client-eth0.pcap 2>/dev/null) ps=$(ls "$CAP"/*-server-eth0.pcap 2>/dev/null)
check "captures at both ends" test -s "$pc" -a -s "$ps"
n() { tcpdump -nr "$1" "$2" 2>/dev/null | wc -l; }
c_sent=$(n "$pc" "src host 10.0.0.1") s_got=$(n "$ps" "src host 10.0.0.1")
s_sent=$(n "$ps" "src host 10.0.0.2") c_got=$(n "$pc" "src host 10.0.0.2")
echo "# tcpdump: client sent $c_sent, server got $s_got; server sent $s_sent, client got $c_got"
check_eq "client>server: 3 frames dropped by the rule" "$(field client server ruled)" 3
check_eq "client>server: none lost to the loss model" "$(field client server lost)" 0
check_eq "client>server delivered = frames from the client in the server's capture" \
	"$(field client server delivered)" "$s_got"
check_eq "client>server delivered + dropped = frames the client's capture shows it sent" \
	"$(( $(field client server delivered) + $(field client server dropped) ))" "$c_sent"
check_eq "server>client delivered = frames from the server in the client's capture" \
	"$(field server client delivered)" "$c_got"
check_eq "server>client: nothing dropped" "$(field server client dropped)" 0
check_eq "no IPv6 frame in an IPv4-only lab's captures" "$(( $(n "$pc" ip6) + $(n "$ps" ip6) ))" 0
check_eq "no other frame either (ARP, ...)" "$(( $(n "$pc" "") - c_sent - c_got ))" 0

# The text report says the same, with the reason for the drops.
"$LABCTL" run tests/data/labs/rule-final-ack.lab --engine userlink >"$T_TMP/run.txt" 2>&1
check "text report: client>server ... 3 dropped (... by rule 3)" \
	grep -qE '^  client>server +[0-9]+ frames delivered +3 dropped \(lost 0, over limit 0, by rule 3\)' "$T_TMP/run.txt"
# A lab with no impairment has no links section.
"$LABCTL" run tests/data/labs/wait.lab >"$T_TMP/wait.txt" 2>&1
check "no links section for a lab without impairments" bash -c "! grep -q '^links' '$T_TMP/wait.txt'"

# A link with no impairment in the file but an impair step during the run is reported.
cat >"$T_TMP/later.lab" <<'EOF'
lab later
host a addr 10.0.0.1/24
host b addr 10.0.0.2/24
link a b
b listen :8080
impair a>b loss 100%
a connect b:8080 as c
wait 1500ms
expect a SYN_SENT count 1
EOF
"$LABCTL" run --engine userlink "$T_TMP/later.lab" >"$T_TMP/later.txt" 2>&1
check_eq "a run whose connect meets an impair step's 100% loss passes" $? 0
check "the impaired link is reported, its SYNs dropped by the loss model" \
	grep -qE '^  a>b +0 frames delivered +[2-9] dropped \(lost [2-9], over limit 0, by rule 0\)' "$T_TMP/later.txt"

# IPv6 per link end: kept where the lab gives an IPv6 address, off where it gives none.
cat >"$T_TMP/mixed.lab" <<'EOF'
lab mixed
host a addr 10.0.1.1/24 addr fd00:1::1/64 addr 10.0.2.1/24
host b addr 10.0.1.2/24 addr fd00:1::2/64
host c addr 10.0.2.2/24
link a b
link a c
EOF
ID="tl-$T_SUFFIX"
"$LABCTL" up "$T_TMP/mixed.lab" --id "$ID" --no-steps >/dev/null && T_LABS+=("$ID")
v6off() { ip netns exec "$ID-$1" sysctl -n "net.ipv6.conf.$2.disable_ipv6" 2>/dev/null; }
check_eq "a's eth0 (IPv6 address fd00:1::1) keeps IPv6" "$(v6off a eth0)" 0
check_eq "a's eth1 (IPv4 only) has IPv6 off" "$(v6off a eth1)" 1
check_eq "c's eth0 (IPv4 only) has IPv6 off" "$(v6off c eth0)" 1
reach() {  # reach FROM TO_HOST ADDR: a TCP connection from FROM to a listener on TO_HOST
	ip netns exec "$ID-$2" python3 -c "
import socket,sys
s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.bind((sys.argv[1],7100)); s.listen(1); s.settimeout(5); s.accept()" "$3" &
	local lp=$!; T_PIDS+=("$lp")
	wait_listening "$ID-$2" 7100 &&
	ip netns exec "$ID-$1" python3 -c "
import socket,sys
socket.create_connection((sys.argv[1],7100),timeout=3)" "$3" && wait "$lp"
}
check "a reaches b over IPv6" reach a b fd00:1::2
check "a reaches c over IPv4" reach a c 10.0.2.2
check "down" "$LABCTL" down "$ID"
t_done
