#!/usr/bin/env bash
# t_agent: every agent operation against the real kernel, driven through agentctl by
# $TOOLS/agentdrive and checked independently with ss: half-close, abort (RST, no TIME_WAIT),
# the CLOSE_WAIT leak, a full accept queue, refused connects, close with unread data (RST),
# manual accept, error answers, and agents dying with their controller.
source "$(dirname "$0")/lib.sh"
need_root
AD=$TOOLS/agentdrive
if [ ! -x "$AD" ]; then not_ok "agentdrive is built ($AD)"; t_done; fi

t_netns C client
t_netns S server
ip link add "vc$T_SUFFIX" netns "$C" type veth peer name "vs$T_SUFFIX" netns "$S"
ip -n "$C" addr add 10.231.0.1/24 dev "vc$T_SUFFIX"
ip -n "$S" addr add 10.231.0.2/24 dev "vs$T_SUFFIX"
ip -n "$C" link set "vc$T_SUFFIX" up
ip -n "$S" link set "vs$T_SUFFIX" up
SA=10.231.0.2
LOG=$T_TMP/drive.log
: >"$LOG"

coproc DRIVE { exec "$AD" client="/run/netns/$C" server="/run/netns/$S" 2>&1; }
T_PIDS+=("$DRIVE_PID")

# ad [HOST] CMD...: one command; returns when its "done" line arrives.  Everything the driver
# prints (events included) goes to $LOG.
ad() {
	echo "$*" >&"${DRIVE[1]}"
	local line
	while IFS= read -r -t 30 line <&"${DRIVE[0]}"; do
		echo "$line" >>"$LOG"
		case $line in
		"done ok") return 0 ;;
		"done "*) echo "# $*: $line"; return 1 ;;
		esac
	done
	echo "# $*: no answer from agentdrive"
	return 1
}
# evn HOST KIND GROUP: events seen so far
evn() { grep -c "^event $1 $2 .*group=$3 " "$LOG"; }
# ssn NS STATE FILTER...: sockets in STATE matching the ss filter
ssn() { local ns=$1 st=$2; shift 2; ss -Htan -N "$ns" state "$st" "$@" | wc -l; }
eq() { [ "$("${@:2}")" = "$1" ]; }

check "agents start and answer" ad client ping
check "server agent answers" ad server ping

# --- half-close: after shutdown(SHUT_WR) the client still receives data
ad server listen :8001 on-eof keep as hc
ad client connect $SA:8001 as h
ad client wait-event connected 1 group h
ad server wait-event accepted 1 group hc
check "half-close: shutdown answered" ad client shutdown h
ad server wait-event eof 1 group hc
check "half-close: client FIN-WAIT-2 (ss)" wait_for 3 eq 1 ssn "$C" fin-wait-2 '( dport = :8001 )'
check "half-close: server CLOSE-WAIT (ss)" wait_for 3 eq 1 ssn "$S" close-wait '( sport = :8001 )'
ad server send hc 5000
ad client wait-event data 1 group h
ad client sleep 200ms
got=$(grep "^event client data .*group=h " "$LOG" | tail -1 | grep -o 'bytes=[0-9]*')
check_eq "half-close: client agent received the data after its FIN" "$got" "bytes=5000"
got=$(ss -Htin -N "$C" state fin-wait-2 '( dport = :8001 )' | grep -o 'bytes_received:[0-9]*')
check_eq "half-close: kernel counted 5000 bytes received (ss -i)" "$got" "bytes_received:5000"

# --- abort: RST, no TIME_WAIT; a plain close for contrast leaves TIME_WAIT
ad server listen :8002 as ab
ad client connect $SA:8002 as a
ad client wait-event connected 1 group a
ad server wait-event accepted 1 group ab
check "abort: answered" ad client abort a
check "abort: server agent saw a reset" ad server wait-event reset 1 group ab within 3s
check "abort: closed event says abort" grep -q "^event client closed .*group=a .* abort" "$LOG"
ad client sleep 200ms
check_eq "abort: no TIME-WAIT on the client (ss)" "$(ssn "$C" time-wait '( dport = :8002 )')" 0
check_eq "abort: nothing left on the server (ss)" \
	"$(ss -Htan -N "$S" '( sport = :8002 )' | grep -vc LISTEN)" 0
ad client connect $SA:8002 as a2
ad client wait-event connected 1 group a2
ad client close a2
check "close (contrast): TIME-WAIT on the client (ss)" \
	wait_for 3 eq 1 ssn "$C" time-wait '( dport = :8002 )'

# --- on-eof keep: the CLOSE_WAIT leak
ad server listen :8003 on-eof keep as leak
ad client connect $SA:8003 count 5 as k
ad client wait-event connected 5 group k
ad server wait-event accepted 5 group leak
ad client close k
ad server wait-event eof 5 group leak
check "on-eof keep: 5 sockets in CLOSE-WAIT (ss)" \
	wait_for 3 eq 5 ssn "$S" close-wait '( sport = :8003 )'
check "on-eof keep: client FIN-WAIT-2 x5 (ss)" \
	wait_for 3 eq 5 ssn "$C" fin-wait-2 '( dport = :8003 )'
check_eq "on-eof keep: server agent closed nothing" "$(evn server closed leak)" 0

# --- accept never: the accept queue fills to backlog+1
ad server listen :8004 backlog 4 accept never as q
ad client connect $SA:8004 count 10 as qc
ad client wait-event connected 5 group qc
recvq() { ss -Htln -N "$S" '( sport = :8004 )' | awk '{print $2}'; }
check "accept never: listen Recv-Q = backlog+1 = 5 (ss)" wait_for 3 eq 5 recvq
check_eq "accept never: nothing accepted" "$(evn server accepted q)" 0
check "accept GROUP: accepts what is pending" ad server accept q
check "accept GROUP: 5 accepted" ad server wait-event accepted 5 group q within 2s

# --- manual accept: only as many as asked
ad server listen :8007 accept manual as m
ad client connect $SA:8007 count 3 as mc
ad client wait-event connected 3 group mc
ad server accept m count 2
ad server wait-event accepted 2 group m within 2s
ad server sleep 200ms
check_eq "accept manual: 2 of 3 accepted" "$(evn server accepted m)" 2
recvq7() { ss -Htln -N "$S" '( sport = :8007 )' | awk '{print $2}'; }
check_eq "accept manual: 1 left in the queue (ss)" "$(recvq7)" 1

# --- unlisten: closing the listener resets what waits in its accept queue; accepted stay
check "unlisten: answered" ad server unlisten m
check_eq "unlisten: no LISTEN on :8007 any more (ss)" "$(ss -Htln -N "$S" '( sport = :8007 )' | wc -l)" 0
check "unlisten: the queued connection's client saw a reset" ad client wait-event reset 1 group mc within 3s
check_eq "unlisten: only that one was reset" "$(evn client reset mc)" 1
check_eq "unlisten: the 2 accepted connections live on (ss, server)" \
	"$(ssn "$S" established '( sport = :8007 )')" 2
check_eq "unlisten: and on the client (ss)" "$(ssn "$C" established '( dport = :8007 )')" 2
ad client connect $SA:8007 as ml
check "unlisten: a new connect is refused" ad client wait-event refused 1 group ml within 3s
if ad server unlisten m; then not_ok "unlisten twice is an error"; else
	check "unlisten twice: EBADF named" grep -q "^done error: server: unlisten m: EBADF" "$LOG"; fi
if ad server accept m; then not_ok "accept after unlisten is an error"; else ok "accept after unlisten is an error"; fi

# --- refused
check "refused: connect answered" ad client connect $SA:8999 as r
check "refused: event" ad client wait-event refused 1 group r within 3s
check "refused: errno named" grep -q "^event client refused .*group=r .*err=ECONNREFUSED" "$LOG"

# --- close with unread data: the kernel sends RST instead of FIN
ad server listen :8006 data ignore as ig
ad client connect $SA:8006 as u
ad client wait-event connected 1 group u
ad server wait-event accepted 1 group ig
ad client send u 3000
unread() { ss -Htan -N "$S" state established '( sport = :8006 )' | awk '{print $1}'; }
check "close unread: 3000 bytes unread on the server (ss Recv-Q)" wait_for 3 eq 3000 unread
ad server close ig
check "close unread: the client agent saw a reset" ad client wait-event reset 1 group u within 3s
check_eq "close unread: no TIME-WAIT or FIN-WAIT on the server (ss)" \
	"$(ss -Htan -N "$S" '( sport = :8006 )' | grep -vc LISTEN)" 0

# --- data modes: echo returns what it gets; source writes without being asked
# last_bytes HOST GROUP: the newest data event's byte total
last_bytes() { grep "^event $1 data .*group=$2 " "$LOG" | tail -1 | sed -n 's/.*bytes=\([0-9]*\).*/\1/p'; }
settle() { local i; for i in $(seq 30); do [ "$(last_bytes "$1" "$2")" = "$3" ] && return 0; ad "$1" sleep 100ms; done; return 1; }
ad server listen :8008 data echo as e
ad client connect $SA:8008 as ec
ad client wait-event connected 1 group ec
ad client send ec 100000
check "data echo: the client gets its 100000 bytes back" settle client ec 100000
ad server listen :8009 data source as so
ad client connect $SA:8009 as sc
ad client wait-event connected 1 group sc
ad client sleep 300ms
got=$(last_bytes client sc)
check "data source: the server streams unasked (${got:-0} bytes in 300 ms)" [ "${got:-0}" -gt 100000 ]
ad client abort sc
check "data source: the server sees the abort as a reset" ad server wait-event reset 1 group so within 3s

# --- cycle (the benchmark op): N connect+close cycles, answered when done
ad server listen :8010 as cy
check "cycle: 500 cycles answered" ad client cycle $SA:8010 count 500 concurrency 4
check "cycle: the server accepted 500" ad server wait-event accepted 500 group cy within 5s
check "cycle: the server saw 500 EOFs" ad server wait-event eof 500 group cy within 5s
check_eq "cycle: no connection left open on the client (ss)" \
	"$(ssn "$C" established '( dport = :8010 )')" 0

# --- group steps on connects in flight: 10.231.0.77 never answers ARP, so its connects sit in
# SYN_SENT (for ~3 s, then EHOSTUNREACH).  A step waits for them at most its wait-connect, then
# does what it always did (close abandons the handshake, send skips it) and says so.
note() { grep "^note client: " "$LOG" | tail -1 | sed 's/^note client: //; s/waited [0-9.]* ms/waited T ms/'; }
syn_sent() { ssn "$C" syn-sent '( dport = :80 )'; }
ad client connect 10.231.0.77:80 count 2 as nx
check "in flight: 2 connects in SYN-SENT (ss)" wait_for 3 eq 2 syn_sent
ad client mark
check "in flight: send with wait-connect 0 answers at once" ad client send nx 100 wait-connect 0
check_eq "in flight: ... and says it skipped them" "$(note)" \
	"0 connections (wait-connect 0: 2 still connecting, skipped)"
check "in flight: close with wait-connect 300ms answered" ad client close nx wait-connect 300ms
ad client elapsed
t=$(grep '^elapsed' "$LOG" | tail -1 | awk '{print $2}')
check "in flight: ... after waiting its bound (${t}s)" awk -v t="$t" 'BEGIN { exit !(t >= 0.29 && t < 2) }'
check_eq "in flight: ... and says it abandoned them" "$(note)" \
	"0 connections (waited T ms for 2 handshakes: 2 still connecting, abandoned in SYN_SENT)"
check_eq "in flight: nothing left in SYN-SENT (ss)" "$(syn_sent)" 0
check_eq "in flight: 2 closed events" "$(evn client closed nx)" 2
ad client connect 10.231.0.77:80 count 2 as nx2
check "in flight: abort with wait-connect 10s waits for the handshakes to fail" \
	ad client abort nx2 wait-connect 10s
check_eq "in flight: ... and says how they ended" "$(note)" \
	"0 connections (waited T ms for 2 handshakes: 2 failed)"
check "in flight: ... EHOSTUNREACH" grep -q "^event client error .*group=nx2 .*err=EHOSTUNREACH" "$LOG"
check_eq "in flight: nothing was left to abort" "$(evn client closed nx2)" 0

# --- reuseaddr off: a restart while the old connections sit in TIME_WAIT (issue 18)
ad server listen :8110 as ra
ad client connect $SA:8110 count 3 as rc
ad client wait-event connected 3 group rc
ad server wait-event accepted 3 group ra
ad server close ra                       # the server closes first: TIME_WAIT is its own
ad client wait-event closed 3 group rc   # the clients close on EOF
check "reuseaddr: 3 TIME-WAIT on the server (ss)" \
	wait_for 3 eq 3 ssn "$S" time-wait '( sport = :8110 )'
check "reuseaddr: unlisten" ad server unlisten ra
check "reuseaddr off: the listen step is answered" ad server listen :8110 reuseaddr off as rb
snote() { grep "^note server: " "$LOG" | tail -1 | sed 's/^note server: //'; }
check_eq "reuseaddr off: ... with a note" "$(snote)" \
	"bind 0.0.0.0:8110: EADDRINUSE (Address already in use): no listener, an error event"
check "reuseaddr off: an error event with EADDRINUSE" \
	grep -q "^event server error .*group=rb .*err=EADDRINUSE" "$LOG"
check_eq "reuseaddr off: nothing listens (ss)" "$(ss -Htln -N "$S" '( sport = :8110 )' | wc -l)" 0
if ad server unlisten rb; then not_ok "reuseaddr off: unlisten of the group without a listener fails"
else ok "reuseaddr off: unlisten of the group without a listener fails"; fi
check "reuseaddr on: the same bind works through the TIME-WAITs" ad server listen :8110 as rd
check_eq "reuseaddr on: LISTEN (ss)" "$(ss -Htln -N "$S" '( sport = :8110 )' | wc -l)" 1
ad client connect $SA:8110 as re
check "reuseaddr on: and accepts" ad server wait-event accepted 1 group rd within 2s

# --- keepalive: SO_KEEPALIVE on the listener, inherited by what it accepts (issue 18)
ad server listen :8111 keepalive on as ka
ad server listen :8112 as nk
ad client connect $SA:8111 as kc
ad client connect $SA:8112 as nc
ad server wait-event accepted 1 group ka
ad server wait-event accepted 1 group nk
check "keepalive: the accepted connection has a keepalive timer (ss -o)" \
	bash -c "ss -Htano -N '$S' state established '( sport = :8111 )' | grep -q 'timer:(keepalive'"
check "keepalive: the listener without it gives none" \
	bash -c "! ss -Htano -N '$S' state established '( sport = :8112 )' | grep -q 'timer:(keepalive'"
check "keepalive: the client side has none (its option is the listener's)" \
	bash -c "! ss -Htano -N '$C' state established '( dport = :8111 )' | grep -q 'timer:(keepalive'"

# --- errors are answers, not crashes
if ad client connect $SA:8001 as bad from 10.231.0.99; then
	not_ok "error answer: connect from a foreign address fails"
else
	check "error answer: EADDRNOTAVAIL named" grep -q "^done error: client: connect bad: EADDRNOTAVAIL" "$LOG"
fi
if ad server close nosuch; then not_ok "error answer: unknown group"; else ok "error answer: unknown group"; fi
check "agents still answer after errors" ad client ping

ad client sleep 100ms
check "no sanitizer report from agentdrive or the agents" bash -c "! grep -q Sanitizer '$LOG'"

# --- the agents die with their controller (PR_SET_PDEATHSIG)
ad client pid
ad server pid
pids=$(grep -o '^pid [0-9]*' "$LOG" | awk '{print $2}')
check_eq "two agent pids" "$(echo "$pids" | wc -w)" 2
kill -9 "$DRIVE_PID"
gone() { for p in $pids; do [ -d "/proc/$p" ] && [ "$(awk '{print $3}' /proc/$p/stat)" != Z ] && return 1; done; return 0; }
check "agents exit when agentdrive is killed" wait_for 3 gone
t_done
