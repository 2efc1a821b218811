#!/usr/bin/env bash
# Regenerate the ladder figures of docs/ladder.md from the recorded captures:
#   bash docs/img/ladder.sh [LABCTL]
# The state marks of the first figure are the textbook transitions placed at the packet times
# that cause them (in a lab run, labctl feeds the real sock_diag timeline instead).
set -eu
cd "$(dirname "$0")/../.."
L=${1:-labctl/labctl}
P=tests/data/pcap
c=10.0.0.1:48720 s=10.0.0.2:8080
"$L" ladder $P/normal.pcap $P/normal-tcpdump.pcap --svg docs/img/ladder-normal.svg \
	--state -0.001,$c,SYN_SENT --state 0.019,$s,SYN_RECV --state 0.102,$c,ESTABLISHED \
	--state 0.118,$s,ESTABLISHED --state 50.442,$c,FIN_WAIT_1 --state 50.460,$s,CLOSE_WAIT \
	--state 92.942,$c,FIN_WAIT_2 --state 350.718,$s,LAST_ACK --state 350.742,$c,TIME_WAIT \
	--state 350.800,$s,CLOSED
"$L" ladder $P/simclose.pcap $P/simclose-tcpdump.pcap --svg docs/img/ladder-simclose.svg
for f in normal simclose; do
	xmllint --noout docs/img/ladder-$f.svg
	rsvg-convert docs/img/ladder-$f.svg -o docs/img/ladder-$f.png
done
"$L" ladder $P/normal.pcap --state -0.001,$c,SYN_SENT --state 0.102,$c,ESTABLISHED \
	--state 50.442,$c,FIN_WAIT_1 --state 92.942,$c,FIN_WAIT_2 --state 350.742,$c,TIME_WAIT \
	>docs/img/ladder-normal.txt
