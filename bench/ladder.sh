#!/usr/bin/env bash
# Benchmark: labctl ladder on a ~100k-packet capture made here (10,000 short connections
# between two test namespaces, captured with labctl's capture module), against tshark reading
# the same file as the peer.  Prints times and ratios; never fails a build.
source "$(dirname "$0")/../tests/netns/lib.sh"
need_root
CONNS=${CONNS:-10000}
t_netns C bc && t_netns S bs || exit 1
ip link add va netns "$C" type veth peer name vb netns "$S"
ip -n "$C" addr add 10.0.0.1/24 dev va; ip -n "$C" link set va up
ip -n "$S" addr add 10.0.0.2/24 dev vb; ip -n "$S" link set vb up
ip netns exec "$S" python3 -c '
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.0.0.2", 9000)); l.listen(512)
while True:
    c, _ = l.accept(); c.recv(100); c.sendall(b"pong"); c.recv(100); c.close()
' & T_PIDS+=($!)
sleep 0.3
mkfifo "$T_TMP/in"
"$TOOLS/capdrive" "/run/netns/$C" va "$T_TMP/big.pcap" <"$T_TMP/in" >"$T_TMP/cap.out" &
cpid=$!; T_PIDS+=($cpid)
exec 7>"$T_TMP/in"
wait_for 5 grep -q ready "$T_TMP/cap.out"
ip netns exec "$C" python3 -c "
import socket
for i in range($CONNS):
    s = socket.create_connection(('10.0.0.2', 9000)); s.sendall(b'ping'); s.recv(100); s.close()
"
exec 7>&-; wait $cpid
echo "capture: $(cat "$T_TMP/cap.out"), $(stat -c %s "$T_TMP/big.pcap") bytes"
[ -n "${KEEP:-}" ] && cp "$T_TMP/big.pcap" "$KEEP"
t() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
a=$(t "$LABCTL" ladder "$T_TMP/big.pcap" --all -o /dev/null)
s=$(t "$LABCTL" ladder "$T_TMP/big.pcap" --all --svg "$T_TMP/big.svg")
li=$(t "$LABCTL" ladder "$T_TMP/big.pcap" --list)
one=$(t "$LABCTL" ladder "$T_TMP/big.pcap" --conn 5000)
ts=$(t tshark -r "$T_TMP/big.pcap" -T fields -e tcp.flags.str)
echo "labctl ladder ASCII, all $CONNS connections: ${a}s"
echo "labctl ladder SVG, all connections:        ${s}s ($(stat -c %s "$T_TMP/big.svg") bytes)"
echo "labctl ladder --list:                      ${li}s"
echo "labctl ladder --conn 5000:                 ${one}s"
echo "tshark -T fields (peer):                   ${ts}s"
echo "ratio ladder ASCII / tshark: $(echo "scale=3; $a / $ts" | bc)"
kill "${T_PIDS[0]}" 2>/dev/null; wait 2>/dev/null
