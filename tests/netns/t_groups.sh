#!/usr/bin/env bash
# Group steps act on every connection the kernel calls ESTABLISHED (run several times: the
# race it guards against is between the kernel and the agent's event loop), and wait for the
# handshakes they find in flight (issue 13 item 8), checked with ss in the exposed namespaces.
source "$(dirname "$0")/lib.sh"
need_root
pass=0
for i in 1 2 3 4 5; do
	if (cd "$T_TMP" && "$LABCTL" run -q "$OLDPWD/tests/data/labs/close-right-away.lab" >out.$i 2>&1); then
		pass=$((pass + 1))
	else
		sed 's/^/# /' "$T_TMP/out.$i" | tail -5
	fi
done
check_eq "close right after the kernel established 20 connections closes all 20 (5 runs)" "$pass" 5

# --- connect count 3, then at once close, on a 5 ms link (userlink): the close waits for the
# three handshakes, so their FINs reach the server (on-eof keep): 3 CLOSE_WAIT.
CWC=tests/data/labs/close-while-connecting.lab
pass=0
for i in 1 2 3 4 5; do
	if "$LABCTL" run --engine userlink "$CWC" >"$T_TMP/cwc.$i" 2>&1; then
		pass=$((pass + 1))
	else
		sed 's/^/# /' "$T_TMP/cwc.$i" | tail -8
	fi
done
check_eq "close while 3 connects are in flight: 3 CLOSE_WAIT on the server (5 runs)" "$pass" 5
check "the close says it waited for the 3 handshakes (5 runs)" bash -c \
	"[ \$(grep -lE '  ok    client close leak   3 connections \(waited [0-9.]+ ms for 3 handshakes\)\$' $T_TMP/cwc.* | wc -l) = 5 ]"

# run_held NAME: the lab $T_TMP/NAME.lab, exposed, in the background (ID, RUN_PID)
run_held() {
	ID="lg-$1-$T_SUFFIX"
	"$LABCTL" run --engine userlink --expose --id "$ID" "$T_TMP/$1.lab" >"$T_TMP/$1.out" 2>&1 &
	RUN_PID=$!
	T_PIDS+=("$RUN_PID")
}
logged() { grep -qF -- "$2" "$T_TMP/$1.out"; }
ssn() { ss -N "$ID-$1" -Htan state "$2" "$3" 2>/dev/null | wc -l; }

{ cat "$CWC"; echo "wait 3s"; } >"$T_TMP/held.lab"
run_held held
if wait_for 20 logged held "ok    expect server CLOSE_WAIT port 9000 count 3"; then
	check_eq "ss: 3 CLOSE-WAIT on the server" "$(ssn server close-wait '( sport = :9000 )')" 3
	check_eq "ss: 3 FIN-WAIT-2 on the client" "$(ssn client fin-wait-2 '( dport = :9000 )')" 3
else
	not_ok "the held lab reached its expectation"; sed 's/^/# /' "$T_TMP/held.out"
fi
wait "$RUN_PID"
check_eq "the held lab passes" "$?" 0

# --- the old behaviour on purpose: wait-connect 0 closes the sockets in SYN_SENT
sed 's/^client close leak$/client close leak wait-connect 0/; /^expect server CLOSE_WAIT/d' "$CWC" >"$T_TMP/now.lab"
cat >>"$T_TMP/now.lab" <<'EOF2'
expect client event closed group leak count 3
expect client event connected group leak count 0
wait 200ms
expect server CLOSE_WAIT port 9000 count 0
expect server ESTABLISHED port 9000 count 0
wait 3s
EOF2
run_held now
if wait_for 20 logged now "ok    expect server ESTABLISHED port 9000 count 0"; then
	check_eq "wait-connect 0, ss: nothing on the client's side of port 9000" \
		"$(ss -N "$ID-client" -Htan '( dport = :9000 )' 2>/dev/null | wc -l)" 0
	check_eq "wait-connect 0, ss: no connection on the server, only its listener" \
		"$(ss -N "$ID-server" -Htan '( sport = :9000 )' 2>/dev/null | grep -vc LISTEN)" 0
else
	not_ok "the wait-connect 0 lab reached its expectations"; sed 's/^/# /' "$T_TMP/now.out"
fi
check "wait-connect 0: the close says it abandoned the 3 handshakes" logged now \
	"ok    client close leak wait-connect 0   0 connections (wait-connect 0: 3 still connecting, abandoned in SYN_SENT)"
wait "$RUN_PID"
check_eq "the wait-connect 0 lab passes" "$?" 0
t_done
