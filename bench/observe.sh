#!/usr/bin/env bash
# bench/observe: the event observer (eBPF) against the sock_diag poller (1 ms), in one run, on
# bench/diag.sh's polling workloads: 10 and 1,000 ESTABLISHED sockets held in a namespace with
# its own 1024-bucket established hash, idle, and with connections churning beside them
# (connloop: connect, accept, close as fast as one thread goes, on the namespace's loopback).
#
# Per row and observer (`labctl watch --netns NS --observer X --stats`, DUR s idle, or for as
# long as the churn lasts):
#   cpu%      the watcher's CPU (user+sys) over the window, % of a core
#   records/s event records read from the ring (events) or polls made (poll)
#   seen      transitions in the watcher's timeline for the churn's port (the listener's
#             left out), against what happened: 10 per completed cycle (client SYN_SENT
#             ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT, server SYN_RECV ESTABLISHED
#             CLOSE_WAIT LAST_ACK CLOSED).  A few more happen: loopback reuses ports in
#             TIME_WAIT (tcp_tw_reuse=2), and each reuse ends a TIME_WAIT early.
#   lost      ring drops + recursion misses (events only)
# Both watchers run at the same time on the same churn, so "seen" compares like with like;
# each one's CPU is its own.  Then the delay from a packet's capture time to its transition
# (tests/netns/t_observer.sh's method on a lab run with a capture), median and max.
# Goals (issue 14): 0 missed; idle costs no polls; churning, at most a tenth of the poller's
# CPU; within 50 us of the packet.  Needs root.  Removes everything it makes.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-build/rel}
LABCTL=${LABCTL:-./labctl/labctl}
DUR=${DUR:-4}
CYCLES=${CYCLES:-20000}
MKSOCKS="$OUT/tools/mksocks" CONNLOOP="$OUT/tools/connloop"
[ "$(id -u)" = 0 ] || { echo "bench/observe: needs root" >&2; exit 2; }
[ -x "$LABCTL" ] && [ -x "$MKSOCKS" ] && [ -x "$CONNLOOP" ] || { echo "bench/observe: run make first" >&2; exit 2; }

SUF=$(printf '%04x%04x' $RANDOM $RANDOM)
NS=lb-obs-$SUF
TMP=$(mktemp -d /tmp/labctl-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	exec 7>&- 2>/dev/null
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	ip netns del "$NS-mother" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# a namespace with its own established hash (bench/diag.sh's "own ehash")
ip netns add "$NS-mother" || exit 2
ip netns exec "$NS-mother" sysctl -qw net.ipv4.tcp_child_ehash_entries=1024
ip netns exec "$NS-mother" unshare -n sh -c "echo \$\$ >$TMP/holder.pid; exec sleep 600" &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$TMP/holder.pid" ] && break; sleep 0.1; done
ip netns attach "$NS" "$(cat "$TMP/holder.pid")" || exit 2
kill "$(cat "$TMP/holder.pid")" 2>/dev/null
ip -n "$NS" link set lo up
# 20,000 cycles leave 20,000 TIME_WAITs: room for them and for the ports
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="10000 60999"

PORT=41500
printf '%-6s %-6s %-7s %7s %10s %16s %6s\n' sockets load observer "cpu%" "records/s" "seen/happened" lost
for n in 10 1000; do
	rm -f "$TMP/hold" "$TMP/ready"; mkfifo "$TMP/hold"
	"$MKSOCKS" "/run/netns/$NS" "$n" 30000 <"$TMP/hold" >"$TMP/ready" &
	PIDS+=($!)
	exec 7>"$TMP/hold"
	for _ in $(seq 100); do grep -q ready "$TMP/ready" 2>/dev/null && break; sleep 0.05; done
	for load in idle churn; do
		PORT=$((PORT + 1))
		for o in events poll; do
			# LISTEN: print only the listener's changes; printing 200,000 lines would
			# cost more than observing them.  The timeline still records everything.
			"$LABCTL" watch --netns "$NS" --observer "$o" --for 600s --stats --json \
				LISTEN port "$PORT" >"$TMP/$o.out" 2>"$TMP/$o.err" &
			eval "W_$o=\$!"
		done
		sleep 0.5
		happened=0
		if [ "$load" = churn ]; then
			# the watchers stop (SIGINT) once the churn is over and has settled, however
			# long a busy machine made it take
			c=$("$CONNLOOP" "/run/netns/$NS" "/run/netns/$NS" 127.0.0.1 "$PORT" "$CYCLES" 2>&1)
			happened=$(( $(echo "$c" | awk '/cycles/ {print $2}') * 10 ))
			echo "# $c" >&2
			sleep 0.5
		else
			sleep "$DUR"
		fi
		kill -INT "$W_events" "$W_poll"
		wait "$W_events" "$W_poll"
		for o in events poll; do
			line=$(tail -1 "$TMP/$o.err")
			cpu=$(echo "$line" | sed -n 's/.* = \([0-9.]*\)% of a core.*/\1/p')
			seen=$(( $(echo "$line" | sed -n 's/.* \([0-9]*\) events.*/\1/p') - $(grep -c '"to"' "$TMP/$o.out") ))
			if [ "$o" = events ]; then
				rate=$(echo "$line" | sed -n 's/.* records in [0-9.]* s (\([0-9]*\)\/s).*/\1/p')
				lost=$(echo "$line" | sed -n 's/.*, \([0-9]*\) ring drops, \([0-9]*\) recursion.*/\1+\2/p')
			else
				rate=$(echo "$line" | sed -n 's/.* polls in [0-9.]* s (\([0-9]*\)\/s).*/\1/p')
				lost=-
			fi
			printf '%-6s %-6s %-7s %7s %10s %16s %6s\n' "$n" "$load" "$o" "${cpu:-?}" "${rate:-?}" \
				"$seen/$happened" "$lost"
		done
	done
	exec 7>&-
	wait "${PIDS[-1]}" 2>/dev/null
done

# Delay from the packet to its transition: one four-way close on an undelayed link.
cat >"$TMP/fw.lab" <<'LAB'
lab benchfw
host client addr 10.0.0.1/24
host server addr 10.0.0.2/24
link client server
capture all
server listen :8080 on-eof keep
client connect server:8080
expect server event accepted within 1s
client close c
expect server event eof within 1s
wait 20ms
server close s
expect client TIME_WAIT within 1s
LAB
for o in events poll; do
	mkdir -p "$TMP/cap-$o"
	"$LABCTL" run "$TMP/fw.lab" --observer "$o" --json --capture "$TMP/cap-$o" >"$TMP/fw-$o.json" 2>&1
	python3 - "$TMP/fw-$o.json" "$TMP/cap-$o" "$o" <<'PY'
import json, subprocess, sys, glob
js, cap, o = sys.argv[1:4]
tl = {}
for x in map(json.loads, open(js)):
    if x.get('type') == 'timeline' and not x['peer'].endswith(':*'):
        tl[x['host']] = {e['state']: e['ts_ns'] for e in x['events']}
def frames(host):
    f = glob.glob(cap + '/*-%s-eth0.pcap' % host)
    out = subprocess.run(['tshark', '-r', f[0], '-T', 'fields', '-e', 'frame.time_epoch', '-e',
                          'tcp.srcport', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e',
                          'tcp.flags.fin', 'tcp'], capture_output=True, text=True).stdout
    r = []
    for line in out.strip().split('\n'):
        p = line.split('\t'); s, _, fr = p[0].partition('.')
        ns = int(s) * 10**9 + int((fr + '000000000')[:9])
        d = '>' if (p[1] == '8080') == (host == 'server') else '<'
        fl = ('S' if p[2] in ('1', 'True') else '') + ('F' if p[4] in ('1', 'True') else '') + ('A' if p[3] in ('1', 'True') else '')
        r.append((ns, d + fl))
    return r
fc, fs = frames('client'), frames('server')
def t(fr, k, n=1):
    m = [a for a, b in fr if b == k]; return m[n - 1] if len(m) >= n else None
# the packet that causes each transition (sent right after it, or received right before it)
pairs = [('client', 'SYN_SENT', t(fc, '>S')), ('client', 'ESTABLISHED', t(fc, '<SA')),
         ('server', 'SYN_RECV', t(fs, '<S')), ('server', 'ESTABLISHED', t(fs, '<A', 1)),
         ('client', 'FIN_WAIT_1', t(fc, '>FA', 1)), ('server', 'CLOSE_WAIT', t(fs, '<FA', 1)),
         ('client', 'FIN_WAIT_2', t(fc, '<A', 1)), ('server', 'LAST_ACK', t(fs, '>FA', 1)),
         ('client', 'TIME_WAIT', t(fc, '<FA', 1)), ('server', 'CLOSED', t(fs, '<A', 2))]
d = []; missed = []
for h, s, pk in pairs:
    st = tl.get(h, {}).get(s)
    if st is None or pk is None:
        missed.append('%s:%s' % (h, s)); continue
    d.append(abs(st - pk) / 1000)
d.sort()
med = d[len(d) // 2] if d else float('nan')
print('delay packet -> transition, %-6s: %2d of 10 transitions, median %8.1f us, max %8.1f us%s' %
      (o, len(d), med, d[-1] if d else float('nan'), ('; missed ' + ' '.join(missed)) if missed else ''))
PY
done
