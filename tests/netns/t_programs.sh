#!/usr/bin/env bash
# Programs in lab hosts (issue 13): a user's server and client run by the lab, as the
# invoking user, in their own PID namespace, resolving hosts by name; their sockets counted
# by labctl and by `ss -tanp` (an independent tool) and attributed to the same pid; exit-code
# verdicts both ways; SIGSTOP/SIGCONT seen in /proc/PID/stat and in the receive queue;
# labctl step/expect on an up lab; and nothing survives a SIGKILL of labctl, not even a
# daemonised grandchild.
cd "$(dirname "$0")/../.." || exit 1
. tests/netns/lib.sh
need_root
chmod 755 "$T_TMP"   # the programs run as nobody: the lab's directory must be readable
unset SUDO_UID SUDO_GID
ID=pg-$T_SUFFIX
MARK=mark$T_SUFFIX

cat >"$T_TMP/progs.lab" <<LAB
lab progs
host client addr 10.0.0.1/24
host server addr 10.0.0.2/24 sysctl net.ipv4.tcp_rmem="4096 8192 8192"
link client server delay 2ms
server start web ready port 80 -- python3 -m http.server 80
LAB

# ---- an up lab driven by labctl step / expect ----
if ! "$LABCTL" up "$T_TMP/progs.lab" --id "$ID" >"$T_TMP/up.out" 2>&1; then
	not_ok "labctl up a lab with a program"; cat "$T_TMP/up.out" | sed 's/^/# /'; t_done
fi
T_LABS+=("$ID")
ok "labctl up a lab whose server is python3 -m http.server on port 80"

out=$("$LABCTL" step "$ID" client run -- curl -s -o /dev/null -w '%{http_code}' http://server/ 2>&1); rc=$?
check_eq "a client program reaches the server program by host name (curl http://server/)" "$rc/$(echo "$out" | grep -c '| 200')" "0/1" || echo "$out" | sed 's/^/# /'

out=$("$LABCTL" step "$ID" client run -- getent hosts server 2>&1)
check "getent in the lab resolves server to its lab address" grep -q '| 10.0.0.2 *server' <<<"$out" || echo "$out" | sed 's/^/# /'
out=$("$LABCTL" step "$ID" server run -- printenv LABCTL_HOST LABCTL_ADDR LABCTL_LAB 2>&1)
check "a program's environment names its lab, host and address" grep -qzE "\| server.*\| 10\.0\.0\.2.*\| $ID" <<<"$out" || echo "$out" | sed 's/^/# /'

# A client that holds 5 connections open; ss -tanp in the namespace against labctl.
out=$("$LABCTL" step "$ID" client start holder -- python3 -c "import socket,time; s=[socket.create_connection(('server',80)) for i in range(5)]; print('connected', flush=True); time.sleep(120) # $MARK" 2>&1)
hpid=$(sed -n 's/.*pid \([0-9]*\) as .*/\1/p' <<<"$out")
check "start answers with the program's pid" test -n "$hpid" || echo "$out" | sed 's/^/# /'
"$LABCTL" expect "$ID" client ESTABLISHED port 80 program holder count 5 within 3s >"$T_TMP/e1" 2>&1
check_eq "labctl expect: the holder program holds 5 ESTABLISHED (exit 0)" "$?" 0 || sed 's/^/# /' "$T_TMP/e1"
ss_n=$(ip netns exec "$ID-client" ss -Htanp state established '( dport = :80 )' | grep -c "pid=$hpid,")
check_eq "ss -tanp attributes the same 5 sockets to the same pid" "$ss_n" 5
"$LABCTL" expect "$ID" client ESTABLISHED port 80 program holder count 6 >"$T_TMP/e2" 2>&1
check_eq "labctl expect: a wrong count fails (exit 1)" "$?" 1
check "... and says what it saw instead" grep -q 'saw 5 ESTABLISHED on port 80 held by holder' "$T_TMP/e2" || sed 's/^/# /' "$T_TMP/e2"
"$LABCTL" expect "$ID" server ESTABLISHED port 80 program web count 5 within 3s >"$T_TMP/e3" 2>&1
check_eq "the server program holds the 5 accepted ones" "$?" 0 || sed 's/^/# /' "$T_TMP/e3"
ss_srv=$(ip netns exec "$ID-server" ss -Htanp state established '( sport = :80 )' | grep -c 'python3')
check_eq "ss -tanp on the server agrees" "$ss_srv" 5
uid=$(awk '/^Uid:/ {print $2}' /proc/"$hpid"/status 2>/dev/null)
check_eq "programs run as nobody when no SUDO_UID names the invoking user" "$uid" 65534
ns_prog=$(readlink /proc/"$hpid"/ns/net)
ns_host=$(ip netns exec "$ID-client" readlink /proc/self/ns/net)
check_eq "the program is in the client host's network namespace" "$ns_prog" "$ns_host"
pidns=$(readlink /proc/"$hpid"/ns/pid); mine=$(readlink /proc/self/ns/pid)
check "... and in a PID namespace of its own" test -n "$pidns" -a "$pidns" != "$mine"

# Bad lines exit 2 with the parser's message; an unknown program gets a suggestion.
"$LABCTL" step "$ID" client conect server:80 >"$T_TMP/b1" 2>&1
check_eq "labctl step: a bad line exits 2" "$?" 2
check "... with the parser's message and a suggestion" grep -q 'column 8: unknown step "conect"; did you mean connect?' "$T_TMP/b1" || sed 's/^/# /' "$T_TMP/b1"
"$LABCTL" step "$ID" signal holdr STOP >"$T_TMP/b2" 2>&1
check "an unknown program's name gets a suggestion" grep -q 'unknown program "holdr"; did you mean holder?' "$T_TMP/b2" || sed 's/^/# /' "$T_TMP/b2"
"$LABCTL" step "$ID" signal holder STP >"$T_TMP/b3" 2>&1
check "an unknown signal gets a suggestion" grep -q 'unknown signal "STP"; did you mean STOP?' "$T_TMP/b3" || sed 's/^/# /' "$T_TMP/b3"

# SIGSTOP freezes the server: /proc/PID/stat says T, its receive queue fills; CONT drains it.
cat >"$T_TMP/apps_sink.py" <<'PY'
import socket, sys
l = socket.create_server(("", 9000))
c, _ = l.accept()
while c.recv(65536):
    pass
PY
out=$("$LABCTL" step "$ID" server start sink2 ready port 9000 -- python3 apps_sink.py 2>&1)
spid=$(ip netns exec "$ID-server" ss -Htlnp '( sport = :9000 )' | sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -1)
check "the sink server listens (pid $spid)" test -n "$spid" || echo "$out" | sed 's/^/# /'
"$LABCTL" step "$ID" client connect server:9000 as c >/dev/null 2>&1
"$LABCTL" expect "$ID" server ESTABLISHED port 9000 program sink2 within 2s >/dev/null 2>&1
"$LABCTL" step "$ID" signal sink2 STOP >"$T_TMP/s1" 2>&1
state=$(awk '{print $3}' /proc/"$spid"/stat)
check_eq "signal sink2 STOP: /proc/PID/stat says stopped" "$state" T || sed 's/^/# /' "$T_TMP/s1"
"$LABCTL" step "$ID" client send c 60000 >/dev/null 2>&1
recvq() { ip netns exec "$ID-server" ss -Htn state established '( sport = :9000 )' | awk '{print $1}' | head -1; }
wait_for 3 bash -c "[ \"\$(ip netns exec $ID-server ss -Htn state established '( sport = :9000 )' | awk '{print \$1}')\" -gt 4000 ]"
q1=$(recvq)
check "the frozen server's receive queue fills ($q1 bytes unread)" test "${q1:-0}" -gt 4000
"$LABCTL" step "$ID" signal sink2 CONT >/dev/null 2>&1
state=$(awk '{print $3}' /proc/"$spid"/stat)
check "signal sink2 CONT: running again (state $state)" test "$state" != T
wait_for 3 bash -c "[ \"\$(ip netns exec $ID-server ss -Htn state established '( sport = :9000 )' | awk '{print \$1}')\" = 0 ]"
check_eq "... and it drains its queue" "$(recvq)" 0

# A program that ignores SIGTERM is killed after its grace, and the step log says so.
"$LABCTL" step "$ID" server start stubborn -- python3 -c "import signal,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)" >/dev/null 2>&1
sleep 0.3
out=$("$LABCTL" step "$ID" stop stubborn grace 300ms 2>&1)
check "stop: a program that ignores SIGTERM is killed after the grace period" grep -q 'ignored SIGTERM for 0.3 s: killed (SIGKILL)' <<<"$out" || echo "$out" | sed 's/^/# /'
"$LABCTL" expect "$ID" program stubborn exited signal KILL >/dev/null 2>&1
check_eq "expect program stubborn exited signal KILL" "$?" 0

out=$("$LABCTL" step "$ID" client run as-root -- id -u 2>&1); rc=$?
check_eq "labctl step: as-root on a lab brought up without --allow-root is refused (exit 2)" "$rc" 2 || echo "$out" | sed 's/^/# /'
check "... saying why" grep -q 'asks to run as root.*--allow-root' <<<"$out" || echo "$out" | sed 's/^/# /'

"$LABCTL" down "$ID" >/dev/null 2>&1
sleep 0.2
check "labctl down ends the lab's programs" test ! -e /proc/"$hpid"
T_LABS=()

# ---- labctl run: exit codes both ways, a missing command, identity ----
runlab() { # NAME BODY...: write and run a two-host lab; prints labctl's output, returns its exit
	local f="$T_TMP/$1.lab"; shift
	{ echo "lab x"; echo "host a addr 10.0.0.1/24"; echo "host b addr 10.0.0.2/24"; echo "link a b"; printf '%s\n' "$@"; } >"$f"
	"$LABCTL" run "$f" 2>&1
}
out=$(runlab ex1 'a run exit 3 -- python3 -c "import sys; sys.exit(3)"'); rc=$?
check_eq "run exit 3: a command that exits 3 passes" "$rc" 0 || echo "$out" | sed 's/^/# /'
out=$(runlab ex2 'a run -- python3 -c "import sys; print(\"boom\"); sys.exit(4)"'); rc=$?
check_eq "run: a non-zero exit fails the lab (exit 1)" "$rc" 1
check "... and the step log shows its exit and its output" grep -qzE 'exit 4 after .*expected exit 0.*\| boom' <<<"$out" || echo "$out" | sed 's/^/# /'
"$LABCTL" run --report "$T_TMP/ex2.html" "$T_TMP/ex2.lab" >/dev/null 2>&1
check "the report holds the program's log" grep -q 'boom' "$T_TMP/ex2.html"
out=$(runlab ex3 'a run -- no-such-command-here'); rc=$?
check_eq "a command that is not found: exit 2" "$rc" 2
check "... which says so" grep -q 'command not found: no-such-command-here' <<<"$out" || echo "$out" | sed 's/^/# /'
out=$(runlab ex4 'a run timeout 300ms -- sleep 5'); rc=$?
check_eq "run timeout: a command past its deadline fails (exit 1)" "$rc" 1
check "... and is stopped" grep -q 'did not finish within 0.3 s; stopped' <<<"$out" || echo "$out" | sed 's/^/# /'
out=$(runlab ex5 'a run as-root -- id -u'); rc=$?
check_eq "as-root without --allow-root: exit 2" "$rc" 2
check "... saying what to add" grep -q 'asks to run as root.*--allow-root' <<<"$out" || echo "$out" | sed 's/^/# /'
out=$("$LABCTL" run --allow-root "$T_TMP/ex5.lab" 2>&1)
check "as-root with --allow-root runs as uid 0" grep -q '| 0$' <<<"$out" || echo "$out" | sed 's/^/# /'
out=$(SUDO_UID=4242 SUDO_GID=4343 runlab ex6 'a run -- id -u' 'a run -- id -g')
check "through sudo, programs run as SUDO_UID/SUDO_GID" grep -qzE '\| 4242.*\| 4343' <<<"$out" || echo "$out" | sed 's/^/# /'
out=$(runlab ex7 'b start srv ready port 8080 -- python3 -c "import socket,time; l=socket.create_server((\"\",8080)); time.sleep(9)"' 'expect b LISTEN port 8080 program srv' 'stop srv' 'expect program srv exited signal TERM within 1s'); rc=$?
check_eq "a server started, checked, stopped; its exit by SIGTERM is expected" "$rc" 0 || echo "$out" | sed 's/^/# /'

out=$(runlab ex8 'b start quick -- python3 -c "import sys; print(\"cannot open config\", file=sys.stderr); sys.exit(3)"' 'wait 300ms'); rc=$?
check_eq "a background program that ends by itself with a failure fails the run" "$rc" 1
check "... and the log shows why, with its stderr" grep -qzE 'FAIL  program quick on b ended by itself \(exit 3.*\| cannot open config' <<<"$out" || echo "$out" | sed 's/^/# /'

# labctl check lists every command a lab runs, argument by argument, and flags a shell.
out=$("$LABCTL" check "$T_TMP/ex7.lab" "$T_TMP/ex2.lab" 2>&1)
check "labctl check lists each program with its host and argv" grep -q 'line 5    b          start srv          python3 -c .import socket,time; l=socket.create_server' <<<"$out" || echo "$out" | sed 's/^/# /'
printf 'lab s\nhost a addr 10.0.0.1/24\na run shell -- "echo hi | tr a-z A-Z"\n' >"$T_TMP/sh.lab"
out=$("$LABCTL" check "$T_TMP/sh.lab" 2>&1)
check "... and says when a step goes through a shell" grep -q "/bin/sh -c 'echo hi | tr a-z A-Z'   \[through a shell: the step says shell\]" <<<"$out" || echo "$out" | sed 's/^/# /'

# ---- SIGKILL of labctl at any moment: nothing of the programs survives ----
cat >"$T_TMP/daemon.lab" <<LAB
lab daemon
host a addr 10.0.0.1/24
host b addr 10.0.0.2/24
link a b delay 1ms
b start d -- python3 -c "import os,time,sys; os.fork() and sys.exit(0); os.setsid(); os.fork() and sys.exit(0); print('daemon', os.getpid(), flush=True); time.sleep(300) # $MARK"
b start w -- sleep 300
wait 30s
LAB
survivors() { local p c; for p in /proc/[0-9]*; do c=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null); case $c in *"$MARK"*|"sleep 300 ") echo "${p#/proc/}";; esac; done; }
# Ctrl-C (SIGINT) tears the lab down, programs included.
"$LABCTL" run "$T_TMP/daemon.lab" >"$T_TMP/int.out" 2>&1 &
lp=$!; T_PIDS+=("$lp")
wait_for 10 bash -c "grep -q 'start w' '$T_TMP/int.out'"
sleep 0.2
before=$(survivors | wc -l)
kill -INT "$lp"; wait "$lp"; rc=$?; tail -3 "$T_TMP/int.out" | sed "s/^/# /"
sleep 0.2
check "SIGINT: the run stops (exit $rc) with its programs running before ($before processes)" test "$before" -ge 2 -a "$rc" -ne 0
check_eq "... and none of them survives" "$(survivors | wc -l)" 0
left=0
for delay in 0 0.02 0.05 0.1 0.2 0.3 0.5 0.8; do
	"$LABCTL" run "$T_TMP/daemon.lab" >/dev/null 2>&1 &
	lp=$!; T_PIDS+=("$lp")
	sleep "$delay"
	kill -9 "$lp" 2>/dev/null; wait "$lp" 2>/dev/null
	sleep 0.3
	s=$(survivors)
	[ -n "$s" ] && { left=$((left + 1)); echo "# after SIGKILL at ${delay}s: survivors $s"; for p in $s; do kill -9 "$p"; done; }
done
check_eq "SIGKILL of labctl at 8 moments: no program, child or daemon survives" "$left" 0
t_done
