#!/usr/bin/env bash
# Cross-check labctl ladder against tshark, the independent reader, on every recorded capture
# in tests/data/pcap (ours: Ethernet; tcpdump's: Linux cooked SLL2): for each TCP packet the
# frame number, flags, relative seq/ack, payload length and the analysis marks (retransmission,
# fast retransmission, dup ACK #n, keep-alive, zero window, zero window probe, window update)
# must agree.  Also: --svg output is well-formed
# (xmllint), --abs agrees with tshark's absolute numbers, and bad input exits 2.
# Needs no root: nothing here touches the network.
source "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || { skip "t_ladder_tshark: no tshark"; exit 0; }
DATA=$(cd "$(dirname "$0")/../data/pcap" && pwd)

# tshark's view, one line per TCP packet: "FRAME FLAGS seq=S [ack=A ]len=L" ($2: relative?).
theirs() {
	tshark -r "$1" -Y tcp -o tcp.relative_sequence_numbers:"$2" -T fields -E separator=' ' \
		-e frame.number -e tcp.flags.syn -e tcp.flags.fin -e tcp.flags.reset -e tcp.flags.push \
		-e tcp.flags.ack -e tcp.seq -e tcp.ack -e tcp.len 2>/dev/null |
	awk '{
		f = ""; split("SYN FIN RST PSH ACK", names, " ")
		for (i = 1; i <= 5; i++) if ($(i + 1) == "1" || $(i + 1) == "True") f = f (f == "" ? "" : "+") names[i]
		line = $1 " " f " seq=" $7
		if ($6 == "1" || $6 == "True") line = line " ack=" $8
		print line " len=" $9
	}'
}

# Our view from the ASCII diagram: "FRAME FLAGS seq=S [ack=A ]len=L [MARK]".
ours() {
	"$LABCTL" ladder "$1" $2 | sed -n 's/^ *\([0-9][0-9]*\) *[-0-9.]* *[|]<*-* \([A-Z+]*\) \(seq=[0-9]* \(ack=[0-9]* \)\{0,1\}len=[0-9]*\) -*>*[|]\( \[\(.*\)\]\)\{0,1\}$/\1 \2 \3|\6/p'
}

for f in "$DATA"/*.pcap; do
	b=$(basename "$f" .pcap)
	rel=$(ours "$f" "" | sed 's/|.*//')
	trel=$(theirs "$f" TRUE | sed 's/|.*//')
	[ -n "$rel" ] || not_ok "$b: ladder drew nothing"
	check_eq "$b: frames, flags, relative seq/ack, len as tshark" "$rel" "$trel"
	abs=$(ours "$f" --abs | sed 's/|.*//')
	tabs=$(theirs "$f" FALSE | sed 's/|.*//')
	check_eq "$b: absolute seq/ack as tshark" "$abs" "$tabs"
	check_eq "$b: packet count as tshark" "$(echo "$rel" | wc -l)" \
		"$(tshark -r "$f" -Y tcp 2>/dev/null | wc -l | tr -d ' ')"
	# Analysis marks at the same frames as tshark's: retransmission, fast retransmission, dup
	# ACK #n, keep-alive, zero window, zero window probe, window update (each frame's marks
	# sorted, since a zero window can come with another mark).  tshark's other expert notes
	# (window full, D-SACK, ...) are not drawn and not compared.
	om=$(ours "$f" "" | awk -F'|' '$2 != "" { split($1, a, " "); n = split($2, m, ", ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (m[j] < m[i]) { t = m[i]; m[i] = m[j]; m[j] = t }
		s = m[1]; for (i = 2; i <= n; i++) s = s ", " m[i]; print a[1] " " s }')
	tm=$(tshark -r "$f" -Y 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.duplicate_ack || tcp.analysis.keep_alive || tcp.analysis.zero_window || tcp.analysis.zero_window_probe || tcp.analysis.window_update' \
		-T fields -E separator='|' -e frame.number -e _ws.expert.message 2>/dev/null |
		awk -F'|' '{ n = 0; fast = ($2 ~ /[Ff]ast retransmission/)
		       k = split($2, x, ",")
		       for (i = 1; i <= k; i++) {
			       e = x[i]; m = ""
			       if (e ~ /retransmission/) m = fast ? "fast retransmission" : "retransmission"
			       else if (e ~ /[Dd]uplicate ACK/) { match(e, /[0-9]+/); m = "dup ACK #" substr(e, RSTART, RLENGTH) }
			       else if (e ~ /[Kk]eep-[Aa]live/ && e !~ /ACK/) m = "keep-alive"
			       else if (e ~ /Zero Window Probe/ && e !~ /ACK/) m = "zero window probe"
			       else if (e ~ /Zero Window segment/) m = "zero window"
			       else if (e ~ /window update/) m = "window update"
			       if (m == "") continue
			       dup = 0; for (j = 1; j <= n; j++) if (ms[j] == m) dup = 1
			       if (!dup) ms[++n] = m }
		       for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (ms[j] < ms[i]) { t = ms[i]; ms[i] = ms[j]; ms[j] = t }
		       if (n) { s = ms[1]; for (i = 2; i <= n; i++) s = s ", " ms[i]; print $1 " " s } }')
	check_eq "$b: analysis marks as tshark" "$om" "$tm"
	[ -n "$om" ] && echo "# $b marks: $(echo $om)"
	svg="$T_TMP/$b.svg"
	if "$LABCTL" ladder "$f" --svg "$svg" && xmllint --noout "$svg"; then
		ok "$b: SVG well-formed"
	else
		not_ok "$b: SVG well-formed"
	fi
done

# Both ends merged: still well-formed, one arrow per packet.
"$LABCTL" ladder "$DATA/normal.pcap" "$DATA/normal-tcpdump.pcap" --svg "$T_TMP/m.svg" &&
	xmllint --noout "$T_TMP/m.svg" && ok "merged SVG well-formed" || not_ok "merged SVG well-formed"

# pcapng (as Wireshark saves) reads the same as pcap.
if command -v editcap >/dev/null; then
	editcap -F pcapng "$DATA/normal.pcap" "$T_TMP/n.pcapng"
	check_eq "pcapng draws as pcap" "$("$LABCTL" ladder "$T_TMP/n.pcapng")" "$("$LABCTL" ladder "$DATA/normal.pcap")"
fi

# Bad input: exit 2 with a message naming the file.
"$LABCTL" ladder "$T_TMP/none.pcap" 2>"$T_TMP/err"; rc=$?
check_eq "missing file exits 2" "$rc" 2
check "missing file named" grep -q none.pcap "$T_TMP/err"
head -c 100 "$DATA/normal.pcap" >"$T_TMP/cut.pcap"
"$LABCTL" ladder "$T_TMP/cut.pcap" 2>"$T_TMP/err"; rc=$?
check_eq "truncated file exits 2" "$rc" 2
echo "not a capture" >"$T_TMP/text.pcap"
"$LABCTL" ladder "$T_TMP/text.pcap" 2>"$T_TMP/err"; rc=$?
check_eq "text file exits 2" "$rc" 2
"$LABCTL" ladder "$DATA/normal.pcap" --conn 9 2>/dev/null; check_eq "--conn beyond the last exits 2" "$?" 2
"$LABCTL" ladder "$DATA/normal.pcap" --port 1 2>/dev/null; check_eq "--port without a match exits 2" "$?" 2
check_eq "--port picks the connection" "$("$LABCTL" ladder "$DATA/normal.pcap" --port 8080 | head -1 | cut -d, -f1)" "connection 1: 10.0.0.1:48720 -> 10.0.0.2:8080"
# --state marks a lifeline (IPv4 and IPv6 endpoints); a malformed one exits 2.
check "--state on the client's lifeline" bash -c '"$LABCTL" ladder "$0/normal.pcap" --state 0.05,10.0.0.1:48720,MY_STATE | grep -q "MY_STATE \*"' "$DATA"
check "--state on an IPv6 server's lifeline" bash -c '"$LABCTL" ladder "$0/synthetic-ipv6.pcap" --state 0.05,[fd00::2]:80,V6_STATE | grep -q "\* V6_STATE"' "$DATA"
check_eq "--state for another endpoint draws nothing" "$("$LABCTL" ladder "$DATA/normal.pcap" --state 0.05,10.0.0.9:1,XX | grep -c XX)" 0
"$LABCTL" ladder "$DATA/normal.pcap" --state 0.05,10.0.0.1,NOPORT 2>/dev/null; check_eq "malformed --state exits 2" "$?" 2
check "--help" bash -c '"$LABCTL" ladder --help >/dev/null'

# labctl run --capture also writes the ladder as SVG beside the pcaps: valid XML, one arrow
# label per TCP segment tshark counts in the server's capture (the merged ladder pairs each
# segment's two sightings into one arrow), and the states sock_diag saw.
CAP="$T_TMP/runcap"
"$LABCTL" run labs/handshake.lab --capture "$CAP" --json >"$T_TMP/run.json" 2>&1
check_eq "handshake with --capture passes" $? 0
svg=$(python3 -c "
import json,sys
for l in open(sys.argv[1]):
    o=json.loads(l)
    if o.get('type')=='ladder': print(o.get('file',''))" "$T_TMP/run.json")
check "the JSON names the SVG ladder ($svg)" test -s "$svg"
check "the SVG ladder is well-formed XML (xmllint)" xmllint --noout "$svg"
segs=$(tshark -r "$(ls "$CAP"/*-server-eth0.pcap)" -Y tcp 2>/dev/null | wc -l | tr -d ' ')
check_eq "one arrow per TCP segment ($segs by tshark)" "$(grep -c '<text class="lab"' "$svg")" "$segs"
# (not CLOSE_WAIT: this server closes at once on EOF, often within one 1 ms poll)
for st in SYN_SENT SYN_RECV ESTABLISHED FIN_WAIT_1 LAST_ACK TIME_WAIT; do
	check "the SVG marks $st" grep -q ">$st<" "$svg"
done
"$LABCTL" run labs/handshake.lab --capture "$CAP" >"$T_TMP/run.txt" 2>&1
check "the text run names its SVG" grep -q "^ladder: $CAP/handshake-[0-9a-f]*\.svg" "$T_TMP/run.txt"
t_done
