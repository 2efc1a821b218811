#!/usr/bin/env bash
# t_listen_families: `HOST listen :PORT` listens on every family HOST has.  An IPv6-only host
# gets an IPv6 listener (it used to get 0.0.0.0 alone, and every connect was refused); a
# dual-stack host one IPv6 socket with IPV6_V6ONLY 0 that takes IPv4 too, so the port has one
# accept queue; an IPv4-only host keeps 0.0.0.0.  Checked inside the namespaces with ss (an
# independent tool) while `labctl run --expose` holds the lab in a `wait`.
source "$(dirname "$0")/lib.sh"
need_root

# run_lab NAME: run $T_TMP/NAME.lab exposed, in the background; sets ID and RUN_PID.
run_lab() {
	ID="lf-$1-$T_SUFFIX"
	rm -f "$T_TMP/$1.out"
	"$LABCTL" run --expose --id "$ID" "$T_TMP/$1.lab" >"$T_TMP/$1.out" 2>&1 &
	RUN_PID=$!
	T_PIDS+=("$RUN_PID")
}
# logged NAME TEXT: the run's step log has a line with TEXT (fixed string)
logged() { grep -qF -- "$2" "$T_TMP/$1.out"; }
# finish NAME WHAT: the run exits 0 (else its log goes to the TAP output)
finish() {
	wait "$RUN_PID"
	check_eq "$2: the lab passes" "$?" 0 || sed 's/^/# /' "$T_TMP/$1.out"
}
# ssn HOST ARGS...: ss inside the lab's host namespace, no header
ssn() { local h=$1; shift; ss -N "$ID-$h" -H "$@" 2>/dev/null; }

# --- IPv6 only: the lab of the bug report
cat >"$T_TMP/v6.lab" <<'EOF'
lab v6
host client addr fd00::1/64
host server addr fd00::2/64
link client server delay 5ms
server listen :8080
client connect server:8080
expect client ESTABLISHED port 8080 within 2s
expect server ESTABLISHED port 8080 within 2s
wait 4s
EOF
run_lab v6
if wait_for 20 logged v6 "ok    expect server ESTABLISHED port 8080"; then
	ok "IPv6-only host: a connect to server:8080 is ESTABLISHED at both ends"
	check_eq "ss: one listener on port 8080, on every address (*:8080, not 0.0.0.0)" \
		"$(ssn server -tln 'sport = :8080' | awk '{print $4}' | tr '\n' ' ')" "*:8080 "
	check_eq "ss: the server's connection comes from [fd00::1]" \
		"$(ssn server -tn state established '( sport = :8080 )' | awk '{sub(/:[0-9]+$/, "", $4); print $4}')" \
		"[fd00::1]"
	check_eq "ss: the client is connected to [fd00::2]:8080" \
		"$(ssn client -tn state established '( dport = :8080 )' | awk '{print $4}')" "[fd00::2]:8080"
else
	not_ok "IPv6-only host: a connect to server:8080 is ESTABLISHED at both ends"
fi
check "the step log says what the listener is" \
	logged v6 "ok    server listen :8080   [::]:8080: IPv6 and IPv4, one socket (one accept queue)"
finish v6 "IPv6-only host"

# --- dual stack: two IPv4 and three IPv6 connections wait in one accept queue
cat >"$T_TMP/dual.lab" <<'EOF'
lab dual
host client addr 10.0.0.1/24 addr fd00::1/64
host server addr 10.0.0.2/24 addr fd00::2/64
link client server delay 5ms
server listen :8080 backlog 8 accept never
client connect 10.0.0.2:8080 count 2 as v4
client connect [fd00::2]:8080 count 3 as v6
expect client ESTABLISHED port 8080 count 5 within 2s
expect server listen port 8080 queue 5 backlog 8 within 2s
wait 3s
server accept s
expect server ESTABLISHED port 8080 count 5 within 2s
expect server ESTABLISHED port 8080 peer client count 5
wait 3s
EOF
run_lab dual
if wait_for 20 logged dual "ok    expect server listen port 8080 queue 5 backlog 8"; then
	ok "dual-stack host: labctl sees one queue of 5 (both families) against backlog 8"
	check_eq "ss: one listener, *:8080, with 5 waiting and backlog 8 (Recv-Q Send-Q)" \
		"$(ssn server -tln 'sport = :8080' | awk '{print $4, $2, $3}' | tr '\n' ' ')" "*:8080 5 8 "
else
	not_ok "dual-stack host: labctl sees one queue of 5 (both families) against backlog 8"
fi
if wait_for 20 logged dual "ok    expect server ESTABLISHED port 8080 peer client count 5"; then
	peers=$(ssn server -tn state established '( sport = :8080 )' |
		awk '{sub(/:[0-9]+$/, "", $4); print $4}' | sort | uniq -c | awk '{print $2 "x" $1}' | tr '\n' ' ')
	check_eq "ss: accepted 2 over IPv4 (as ::ffff:10.0.0.1) and 3 over IPv6" \
		"$peers" "[::ffff:10.0.0.1]x2 [fd00::1]x3 "
else
	not_ok "dual-stack host: the 5 accepted connections are ESTABLISHED"
fi
finish dual "dual-stack host"

# --- IPv4 only: unchanged, 0.0.0.0, and nothing more said in the step log
cat >"$T_TMP/v4.lab" <<'EOF'
lab v4
host client addr 10.0.0.1/24
host server addr 10.0.0.2/24
link client server
server listen :8080
client connect server:8080
expect server ESTABLISHED port 8080 within 2s
wait 3s
EOF
run_lab v4
if wait_for 20 logged v4 "ok    expect server ESTABLISHED port 8080"; then
	check_eq "IPv4-only host: ss shows the listener on 0.0.0.0:8080" \
		"$(ssn server -tln 'sport = :8080' | awk '{print $4}' | tr '\n' ' ')" "0.0.0.0:8080 "
else
	not_ok "IPv4-only host: a connect to server:8080 is ESTABLISHED"
fi
check "IPv4-only host: the listen step's log line is as before" \
	grep -qx '  *[0-9.]*s  ok    server listen :8080' "$T_TMP/v4.out"
finish v4 "IPv4-only host"
t_done
