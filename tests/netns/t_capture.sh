#!/usr/bin/env bash
# Capture with labctl's capture module (tests/tools/capdrive: capture_start/capture_stop) on
# the client's veth while tcpdump, the independent tool, captures on the server's side
# (-i any: Linux cooked SLL2 frames).  Four exchanges: handshake + data + four-way close,
# a simultaneous close, an RST (SO_LINGER 0) and a retransmitted SYN.  tshark checks that our
# file holds every packet tcpdump saw, with the same flags, and that each exchange looks as
# it should; labctl ladder must draw both files and, merged, show each packet's travel.
#
# RECORD=1 also copies the pcaps into tests/data/pcap/ (the unit tests' golden inputs).
source "$(dirname "$0")/lib.sh"
need_root
command -v tshark >/dev/null || { skip "t_capture: no tshark"; exit 0; }
command -v tcpdump >/dev/null || { skip "t_capture: no tcpdump"; exit 0; }
DATA=$(cd "$(dirname "$0")/../data/pcap" && pwd)

t_netns C cli && t_netns S srv || { not_ok "make namespaces"; t_done; }
ip link add va netns "$C" type veth peer name vb netns "$S" || { not_ok "make veth"; t_done; }
ip -n "$C" addr add 10.0.0.1/24 dev va
ip -n "$C" link set va up
ip -n "$S" link set vb up
S_MAC=$(ip -n "$S" -o link show vb | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
# A permanent neighbour entry: the retransmitted-SYN case sends a SYN before the server has
# an address (so nobody would answer ARP) and the SYN must still leave the client.
ip -n "$C" neigh replace 10.0.0.2 lladdr "$S_MAC" dev va nud permanent

# flags FILE: one line per TCP packet, "srcport>dstport flags seq ack len" (relative numbers).
flags() { tshark -r "$1" -Y tcp -T fields -E separator=' ' -e tcp.srcport -e tcp.dstport \
	-e tcp.flags.str -e tcp.seq -e tcp.ack -e tcp.len 2>/dev/null; }

# scenario NAME PORT [PRE_HOOK]: capture one exchange with both tools.
scenario() {
	local name=$1 port=$2 ours="$T_TMP/$1.pcap" theirs="$T_TMP/$1-tcpdump.pcap"
	# Fresh output files: a previous scenario's "ready"/"listening" would end the waits below
	# before this scenario's capturers are live.
	rm -f "$T_TMP/cap.in" "$T_TMP/cap.out" "$T_TMP/td.err"; mkfifo "$T_TMP/cap.in"
	"$TOOLS/capdrive" "/run/netns/$C" va "$ours" <"$T_TMP/cap.in" >"$T_TMP/cap.out" 2>&1 &
	local cpid=$!; T_PIDS+=("$cpid")
	exec 7>"$T_TMP/cap.in"
	ip netns exec "$S" tcpdump -Z root --immediate-mode -i any -s 256 -U -n -w "$theirs" tcp >/dev/null 2>"$T_TMP/td.err" 7>&- &
	local tpid=$!; T_PIDS+=("$tpid")
	wait_for 5 grep -q ready "$T_TMP/cap.out" || not_ok "$name: capdrive ready ($(cat "$T_TMP/cap.out"))"
	wait_for 5 grep -q listening "$T_TMP/td.err" || not_ok "$name: tcpdump ready"
	[ $# -ge 3 ] && $3
	if "$TOOLS/tcpscen" "$name" "/run/netns/$C" "/run/netns/$S" 10.0.0.2 "$port"; then
		ok "$name: exchange played"
	else
		not_ok "$name: exchange played"
	fi
	exec 7>&-
	wait "$cpid"
	kill -TERM "$tpid"; wait "$tpid" 2>/dev/null
	local n; n=$(sed -n 's/^packets \([0-9]*\) .*/\1/p' "$T_TMP/cap.out")
	check_eq "$name: capture_stop counts what tshark reads" "$n" "$(tshark -r "$ours" 2>/dev/null | wc -l | tr -d ' ')"
	# Sorted: with a queue on the link the two capture points see the directions interleave
	# differently (ours after the client's qdisc, tcpdump's at the server's ingress).
	check_eq "$name: same packets and flags as tcpdump" "$(flags "$ours" | sort)" "$(flags "$theirs" | sort)"
	grep -q 'dropped 0' "$T_TMP/cap.out" && ok "$name: no kernel drops" || not_ok "$name: drops ($(cat "$T_TMP/cap.out"))"
	if [ -x "$LABCTL" ] && [ "${NO_LADDER:-0}" != 1 ]; then
		check "$name: labctl ladder draws ours" "$LABCTL" ladder "$ours" -o /dev/null
		check "$name: labctl ladder draws tcpdump's" "$LABCTL" ladder "$theirs" -o /dev/null
		# Merged: each packet was seen at both ends, so each becomes one slanted arrow.
		local merged; merged=$("$LABCTL" ladder "$ours" "$theirs")
		check_eq "$name: merged files pair every packet" "$(grep -c arrives <<<"$merged")" "$(flags "$ours" | wc -l)"
		# Our stamps and tcpdump's agree: every client->server packet was seen first in our
		# file (client side), every server->client one first in tcpdump's (server side),
		# and none spent more than 100 ms in flight (the tbf queue of simclose is < 100 ms).
		local wrong; wrong=$(grep arrives <<<"$merged" | grep -v -e '~~>| \[1:' -e '|<~~ .*| \[2:')
		check_eq "$name: each packet seen first at its sender's end" "$wrong" ""
		local slow; slow=$(grep -o '[0-9.]* ms in flight' <<<"$merged" | awk '$1 >= 100' | head -1)
		check_eq "$name: flight times under 100 ms" "$slow" ""
	fi
	if [ "${RECORD:-0}" = 1 ]; then cp "$ours" "$DATA/$name.pcap"; cp "$theirs" "$DATA/$name-tcpdump.pcap"; fi
}

ip -n "$S" addr add 10.0.0.2/24 dev vb

scenario normal 8080
check "normal: SYN, SYN+ACK, two FINs, no RST" bash -c \
	"[[ '$(flags "$T_TMP/normal.pcap" | awk '{print $3}' | grep -c S)' == 2 && \
	    '$(flags "$T_TMP/normal.pcap" | awk '{print $3}' | grep -c F)' == 2 && \
	    '$(flags "$T_TMP/normal.pcap" | awk '{print $3}' | grep -c R)' == 0 ]]"

# Both links get a token bucket small enough that a FIN right after a data byte waits ~30 ms:
# both sides are in FIN_WAIT_1 before either FIN arrives.
tbf_on() {
	ip netns exec "$C" tc qdisc add dev va root tbf rate 8kbit burst 100 limit 10000
	ip netns exec "$S" tc qdisc add dev vb root tbf rate 8kbit burst 100 limit 10000
}
scenario simclose 8081 tbf_on
ip netns exec "$C" tc qdisc del dev va root 2>/dev/null
ip netns exec "$S" tc qdisc del dev vb root 2>/dev/null
# Crossed FINs: neither FIN acknowledges the other (each FIN's ack is below the peer FIN's seq+1).
fins=$(flags "$T_TMP/simclose.pcap" | awk '$3 ~ /F/ && !seen[$1]++ {print $4, $5}')
a=($fins)
if [ ${#a[@]} -eq 4 ] && [ "${a[1]}" -le "${a[2]}" ] && [ "${a[3]}" -le "${a[0]}" ]; then
	ok "simclose: the two FINs crossed"
else
	not_ok "simclose: the two FINs crossed (FIN seq/ack: $fins)"
fi

scenario rst 8082
check_eq "rst: one RST from the client" "$(flags "$T_TMP/rst.pcap" | awk '$3 ~ /R/ {print $1}' | wc -l)" 1

# The first SYN finds no address at the server and is dropped; the address appears 300 ms
# later and the client's retransmitted SYN (RTO 1 s) is answered.
ip -n "$S" addr del 10.0.0.2/24 dev vb
late_addr() { (sleep 0.3; ip -n "$S" addr add 10.0.0.2/24 dev vb) & }
scenario synretrans 8083 late_addr
check_eq "synretrans: tshark sees the SYN retransmitted" \
	"$(tshark -r "$T_TMP/synretrans.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission' 2>/dev/null | wc -l | tr -d ' ')" 1

# Errors: a missing interface fails with the interface named, and nothing is left running.
"$TOOLS/capdrive" "/run/netns/$C" nosuchif0 "$T_TMP/x.pcap" </dev/null >"$T_TMP/o" 2>&1; rc=$?
check_eq "capture on a missing interface exits 2" "$rc" 2
check "the error names the interface" grep -q nosuchif0 "$T_TMP/o"

t_done
