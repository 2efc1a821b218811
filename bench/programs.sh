#!/usr/bin/env bash
# bench/programs: what a program step costs (issue 13).
#   1. start latency: a `run -- true` step, from labctl's spawn to the program's exit (PID and
#      mount namespaces, hosts file, identity, exec), against `ip netns exec NS true` in the
#      same run (a network and mount namespace and an exec: the peer a user would reach for).
#   2. attribution on a host with 1,000 sockets held by one program: `labctl expect ...
#      program NAME` against the same expect without `program` (the difference is the walk of
#      the program's /proc/PID/fd), and against `ss -tanp` in the namespace (which walks /proc
#      the same way to print users:(...)).
# Medians of RUNS (default 21).  Needs root.  Prints ratios; never fails on a timing.
set -u
cd "$(dirname "$0")/.."
RUNS=${RUNS:-21}
LABCTL=$(realpath "${LABCTL:-./labctl/labctl}")
[ "$(id -u)" = 0 ] || { echo "bench/programs: needs root" >&2; exit 2; }
[ -x "$LABCTL" ] || { echo "bench/programs: run make first" >&2; exit 2; }
TMP=$(mktemp -d /tmp/labctl-bench-prog.XXXXXX)
chmod 755 "$TMP"
ID=bp-$(printf '%04x' $RANDOM)
trap '"$LABCTL" down "$ID" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }

# ---- 1. start latency ----
{
	echo "lab bp"; echo "host client addr 10.0.0.1/24"; echo "host server addr 10.0.0.2/24"
	echo "link client server"
	for i in $(seq "$RUNS"); do echo "client run -- true"; done
} >"$TMP/start.lab"
"$LABCTL" run "$TMP/start.lab" >"$TMP/start.out" 2>&1 || { echo "bench/programs: the start lab failed"; cat "$TMP/start.out"; exit 1; }
lab_ms=$(sed -n 's/.*exit 0 after \([0-9.]*\) ms.*/\1/p' "$TMP/start.out" | median)
"$LABCTL" up "$TMP/start.lab" --id "$ID" --no-steps >/dev/null
for i in $(seq "$RUNS"); do t0=$(now_us); ip netns exec "$ID-client" true; echo $(( $(now_us) - t0 )); done >"$TMP/ipn"
ipn_ms=$(median <"$TMP/ipn" | awk '{printf "%.2f", $1/1000}')
echo "start latency (spawn to exit of \`true\`, median of $RUNS):"
printf '  labctl run step      %6.2f ms   (own PID + mount namespace, hosts file, drop to nobody)\n' "$lab_ms"
printf '  ip netns exec NS     %6.2f ms   (fork+exec of ip, mount namespace, exec)\n' "$ipn_ms"
awk -v a="$lab_ms" -v b="$ipn_ms" 'BEGIN {printf "  ratio                %6.2fx\n", a/b}'
"$LABCTL" down "$ID" >/dev/null 2>&1

# ---- 2. attribution on a 1,000-socket host ----
cat >"$TMP/hold.lab" <<LAB
lab bh
host client addr 10.0.0.1/24
host server addr 10.0.0.2/24
link client server
server start holder -- python3 -c "import socket,time; l=socket.create_server(('127.0.0.1',7000),backlog=1024); c=[socket.create_connection(('127.0.0.1',7000)) for i in range(500)]; a=[l.accept()[0] for i in range(500)]; print('ready',flush=True); time.sleep(600)"
expect server ESTABLISHED program holder count 1000 within 20s
LAB
"$LABCTL" up "$TMP/hold.lab" --id "$ID" >/dev/null || exit 1
"$LABCTL" expect "$ID" server ESTABLISHED program holder count 1000 within 20s >/dev/null || { echo "bench/programs: the holder did not get its 1000 sockets"; exit 1; }
t_of() { local i t0; for i in $(seq "$RUNS"); do t0=$(now_us); "$@" >/dev/null 2>&1; echo $(( $(now_us) - t0 )); done | median; }
plain=$(t_of "$LABCTL" expect "$ID" server ESTABLISHED count 1000)
owned=$(t_of "$LABCTL" expect "$ID" server ESTABLISHED program holder count 1000)
ssp=$(t_of ip netns exec "$ID-server" ss -tanp state established)
echo "attribution, 1000 sockets held by one program (labctl expect round trip incl. its start, median of $RUNS):"
awk -v p="$plain" -v o="$owned" -v s="$ssp" 'BEGIN {
	printf "  expect ... count 1000                 %7.2f ms\n", p/1000
	printf "  expect ... program holder count 1000  %7.2f ms   (attribution adds %.2f ms)\n", o/1000, (o-p)/1000
	printf "  ip netns exec NS ss -tanp             %7.2f ms\n", s/1000
	printf "  ratio (labctl attributed / ss -tanp)  %7.2fx\n", o/s }'
