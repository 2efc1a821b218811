#!/usr/bin/env bash
# t_flood: the agent's SYN flood, counted independently with tcpdump at the target: it sends
# the requested number at the requested rate, from the requested sources only; and every
# request it must refuse (a target outside the lab, sources outside the black hole, a black
# hole that is too wide, IPv6, an agent in its parent's namespace) is refused before a single
# packet leaves (a capture on every interface of the sending namespace sees no SYN).  Also:
# labctl check and run refuse a lab that floods a non-lab address or from outside its black
# hole.  Everything is sent between the two namespaces this test makes.
source "$(dirname "$0")/lib.sh"
need_root
cd "$(dirname "$0")/../.."
AD=$TOOLS/agentdrive
if [ ! -x "$AD" ]; then not_ok "agentdrive is built ($AD)"; t_done; fi
command -v tcpdump >/dev/null || { skip "t_flood: no tcpdump"; t_done; }

t_netns A attacker
t_netns S server
ip link add "fa$T_SUFFIX" netns "$A" type veth peer name "fs$T_SUFFIX" netns "$S"
ip -n "$A" addr add 10.232.0.1/24 dev "fa$T_SUFFIX"
ip -n "$S" addr add 10.232.0.2/24 dev "fs$T_SUFFIX"
ip -n "$A" link set "fa$T_SUFFIX" up
ip -n "$S" link set "fs$T_SUFFIX" up
SA=10.232.0.2

# cap_start NS IFACE FILE: tcpdump of SYNs (without ACK) in NS; returns once it listens.
cap_start() {
	: >"$3.err"
	ip netns exec "$1" tcpdump --immediate-mode -B 32768 -U -n -i "$2" -w "$3" \
		'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' 2>"$3.err" &
	CAP_PID=$!
	T_PIDS+=("$CAP_PID")
	wait_for 5 grep -q "listening on" "$3.err"
}
cap_stop() { sleep 0.2; kill -INT "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null; }
# insegs NS: the namespace's Tcp InSegs (/proc/net/snmp, by column name)
insegs() {
	ip netns exec "$1" awk '$1 == "Tcp:" { if (!n) { for (i = 2; i <= NF; i++) if ($i == "InSegs") c = i; n = 1 }
		else print $c }' /proc/net/snmp
}
# syns FILE [FILTER]: SYNs in a capture (matching FILTER)
syns() { tcpdump -n -r "$1" ${2:+"$2"} 2>/dev/null | wc -l; }

# flood ARGS...: one flood through agentdrive in A; prints the agent's count, 'ERR text' else
flood() {
	local out
	out=$("$AD" -q attacker="/run/netns/$A" -c "flood $*" 2>&1)
	if [[ $out =~ flood\ ([0-9]+)\ in ]]; then echo "${BASH_REMATCH[1]}"
	else echo "ERR $(echo "$out" | tr '\n' ' ')"; fi
}

# --- it sends what was asked, at the rate asked, counted at the target
for spec in "2000 1s 2000" "200 2s 400"; do
	read -r rate dur want <<<"$spec"
	cap_start "$S" "fs$T_SUFFIX" "$T_TMP/r$rate.pcap" || not_ok "tcpdump starts"
	in0=$(insegs "$S")
	sent=$(flood "$SA:80 rate $rate for $dur")
	cap_stop
	got=$(syns "$T_TMP/r$rate.pcap")
	inseg=$(($(insegs "$S") - in0))
	check_eq "rate $rate/s for $dur: the agent reports $want SYNs" "$sent" "$want"
	check_eq "rate $rate/s for $dur: the target's TcpInSegs rose by $want" "$inseg" "$want"
	# tcpdump's ring may drop the odd packet on a busy 2-core machine; the counter is exact
	check "rate $rate/s for $dur: tcpdump at the target counts $want SYNs, within 1% ($got)" \
		awk -v g="$got" -v w="$want" 'BEGIN{exit !(g <= w && g >= w*0.99)}'
	# first to last SYN: (want - 1) / rate seconds; the halves of that span hold half each
	read -r span half1 < <(tcpdump -tt -n -r "$T_TMP/r$rate.pcap" 2>/dev/null |
		awk '{t[NR]=$1} END {s=t[NR]-t[1]; h=0; for (i=1;i<=NR;i++) if (t[i]-t[1] < s/2) h++;
			printf "%.3f %d\n", s, h}')
	lo=$(awk -v w="$want" -v r="$rate" 'BEGIN{printf "%.3f", (w-1)/r*0.95}')
	hi=$(awk -v w="$want" -v r="$rate" 'BEGIN{printf "%.3f", (w-1)/r*1.05}')
	check "rate $rate/s: first to last SYN ${span}s is within 5% of $(((want - 1) * 1000 / rate))ms" \
		awk -v s="$span" -v lo="$lo" -v hi="$hi" 'BEGIN{exit !(s >= lo && s <= hi)}'
	check "rate $rate/s: paced, not bursted ($half1 of $want in the first half of the span)" \
		awk -v h="$half1" -v w="$want" 'BEGIN{exit !(h >= w*0.45 && h <= w*0.55)}'
	check_eq "rate $rate/s: every source inside 198.18.0.0/24" \
		"$(syns "$T_TMP/r$rate.pcap" 'not src net 198.18.0.0/24')" 0
done

# --- from: a narrower source range inside the black hole
cap_start "$S" "fs$T_SUFFIX" "$T_TMP/from.pcap"
sent=$(flood "$SA:80 rate 1000 for 300ms from 198.18.0.16/28")
cap_stop
check_eq "from 198.18.0.16/28: 300 sent" "$sent" 300
check "from 198.18.0.16/28: tcpdump counts 300, within 1%" \
	awk -v g="$(syns "$T_TMP/from.pcap")" 'BEGIN{exit !(g <= 300 && g >= 297)}'
check_eq "from 198.18.0.16/28: every source inside it" \
	"$(syns "$T_TMP/from.pcap" 'not src net 198.18.0.16/28')" 0
check "from 198.18.0.16/28: several sources used" \
	test "$(tcpdump -n -r "$T_TMP/from.pcap" 2>/dev/null | awk '{print $3}' | cut -d. -f1-4 |
		sort -u | wc -l)" -ge 10

# --- refusals: an answer naming the reason, and no SYN anywhere in A
refuse() {
	local name=$1 want=$2; shift 2
	cap_start "$A" any "$T_TMP/ref.pcap" || not_ok "tcpdump starts in $A"
	local out
	out=$(flood "$@")
	cap_stop
	case $out in
	"ERR "*"$want"*) ok "refused: $name ($want)" ;;
	*) not_ok "refused: $name (got '$out', want an error with '$want')" ;;
	esac
	check_eq "refused: $name: no SYN left $A" "$(syns "$T_TMP/ref.pcap")" 0
}
refuse "a target outside the lab (no route to it)" "not a lab host" "192.0.2.1:80 rate 100 for 200ms"
refuse "sources outside the black hole" "not inside the lab's black hole" \
	"$SA:80 rate 100 for 200ms from 10.232.0.0/24"
refuse "sources wider than the black hole" "not inside the lab's black hole" \
	"$SA:80 rate 100 for 200ms from 198.18.0.0/16"
refuse "a black hole wider than a /8" "refusing to spoof" "$SA:80 rate 100 for 200ms range 0.0.0.0/0"
refuse "a target inside the black hole" "inside the black-hole range" \
	"198.18.0.9:80 rate 100 for 200ms"
refuse "a loopback target" "not a unicast host address" "127.0.0.1:80 rate 100 for 200ms"
refuse "an IPv6 target" "IPv4 only" "[fd00::2]:80 rate 100 for 200ms"

# An agent started in its parent's namespace (here A itself, so nothing could leave the test's
# namespaces even if the check failed) refuses: a flood needs a lab namespace of its own.
cap_start "$A" any "$T_TMP/self.pcap"
out=$(ip netns exec "$A" "$AD" -q self=/proc/self/ns/net -c "flood $SA:80 rate 100 for 200ms" 2>&1)
cap_stop
case $out in
*"namespace of the process that started"*) ok "refused: an agent in its parent's namespace" ;;
*) not_ok "refused: an agent in its parent's namespace (got '$out')" ;;
esac
check_eq "refused: parent's namespace: no SYN left $A" "$(syns "$T_TMP/self.pcap")" 0

# --- labctl refuses such labs before anything runs
cat >"$T_TMP/out.lab" <<'EOF'
host a addr 10.0.0.1/24
host b addr 10.0.0.2/24
link a b
a flood 192.0.2.1:80 rate 100/s for 1s
EOF
cat >"$T_TMP/src.lab" <<'EOF'
host a addr 10.0.0.1/24
host b addr 10.0.0.2/24
link a b
a flood b:80 rate 100/s for 1s from 10.0.0.0/24
EOF
for f in out src; do
	"$LABCTL" check "$T_TMP/$f.lab" >/dev/null 2>"$T_TMP/err"; rc=$?
	check_eq "labctl check refuses $f.lab (exit 2)" "$rc" 2
	"$LABCTL" run "$T_TMP/$f.lab" >"$T_TMP/run.out" 2>&1; rc=$?
	check_eq "labctl run refuses $f.lab (exit 2)" "$rc" 2
done
check "the target refusal names the address" grep -q "192.0.2.1 is not an address of any host" \
	<("$LABCTL" check "$T_TMP/out.lab" 2>&1)
check "the source refusal names the range" grep -q "not inside the blackhole range" \
	<("$LABCTL" check "$T_TMP/src.lab" 2>&1)

# --- a lab's flood: the step log shows the count; ss (independently of labctl's sock_diag)
# sees the victim's SYN queue full; the SYN+ACKs vanish into the sink (its TX drop counter)
cat >"$T_TMP/flood.lab" <<'EOF'
host a addr 10.0.0.1/24
host b addr 10.0.0.2/24 sysctl net.ipv4.tcp_syncookies=0
link a b
b listen :80 backlog 16
a flood b:80 rate 500/s for 400ms
expect b listen port 80 synrecv >= 16
wait 3s
EOF
rm -f "$T_TMP/run.out"
"$LABCTL" run --expose "$T_TMP/flood.lab" >"$T_TMP/run.out" 2>&1 &
RUN_PID=$!
T_PIDS+=("$RUN_PID")
wait_for 10 grep -q "expect b listen" "$T_TMP/run.out"
id=$(sed -n 's/.* id \([^,]*\), engine.*/\1/p' "$T_TMP/run.out" | head -1)
nsyn=$(ip netns exec "$id-b" ss -Htn state syn-recv '( sport = :80 )' 2>/dev/null | wc -l)
check "ss in the victim sees its SYN queue full ($nsyn SYN-RECV)" test "$nsyn" -ge 16
drops=$(ip -n "$id-b" -s -j link show blackhole0 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])' 2>/dev/null)
check "the victim's SYN+ACKs went into the sink (${drops:-no} TX drops on blackhole0)" \
	test "${drops:-0}" -ge 16
wait "$RUN_PID"; rc=$?
check_eq "a lab with a flood passes" "$rc" 0
check "the step log shows the SYNs sent" \
	grep -q "ok    a flood b:80 rate 500/s for 400ms   sent 200 SYNs" "$T_TMP/run.out"
t_done
