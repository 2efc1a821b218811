#!/usr/bin/env bash
# labctl run --report, --junit, --tap and --step, each read by the tool its readers use:
#
# - the HTML report is loaded by a real browser (Debian's chromium, headless) from a file URL
#   inside a network namespace with nothing but loopback (the network is off: the page must
#   not need it), which dumps its DOM and takes a screenshot.  reportcheck.py holds the DOM to
#   the run's own --json output: every step line with its verdict, one lane and one
#   state-machine figure per connection side, the highlighted transitions in order, the
#   textbook path on the handshake, the ladder's arrows, no http(s) URL.  xmllint checks the
#   page (well-formed XML, so every inline SVG is too) and every SVG the run wrote;
# - JUnit against tests/data/junit/junit.xsd (xmllint --schema); TAP through prove;
# - --step through a pseudo-terminal (stepdrive.py): Enter, c, and q, after which nothing of
#   the lab is left (binds, registry entry, processes in its namespaces).
#
# SHOT=FILE copies the screenshot there (docs/img/report.png was taken so).
source "$(dirname "$0")/lib.sh"
need_root
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/netns
LAB=$ROOT/labs/handshake.lab
WRONG=$ROOT/tests/labs-wrong/handshake-passive-time-wait.lab
XSD=$ROOT/tests/data/junit/junit.xsd
D=$T_TMP
cd "$D" || exit 1

# browser OUT_FLAG FILE...: headless chromium, no network, a profile of its own.
browser() {
	local prof; prof=$(mktemp -d "$D/chrome.XXXXXX")
	timeout 60 unshare -n chromium --headless --no-sandbox --disable-gpu --disable-quic \
		--no-first-run --disable-background-networking --disable-component-update \
		--disable-sync --user-data-dir="$prof" --hide-scrollbars "$@" 2>>"$D/chrome.err"
	local rc=$?
	rm -rf "$prof"
	return $rc
}

# ---- the report of a passing run, with the timeline's JSON to check it against ----
"$LABCTL" run "$LAB" --json --capture "$D/cap" --report "$D/h.html" --junit "$D/h.xml" \
	>"$D/h.jsonl" 2>"$D/h.err"
check_eq "handshake with --report --junit --capture passes" "$?" 0 || tail -5 "$D/h.err"
check "the report is a file" test -s "$D/h.html"
check "the report is well-formed (xmllint): so is every inline SVG" xmllint --noout "$D/h.html"
nsvg=0 badsvg=""
for f in "$D"/cap/*.svg; do
	nsvg=$((nsvg + 1))
	xmllint --noout "$f" 2>>"$D/xmllint.err" || badsvg+=" $f"
done
check_eq "every SVG the run wrote is valid XML ($nsvg: ladder and state machines)" "$badsvg" ""
nfsm=$(ls "$D"/cap/*-fsm-*.svg 2>/dev/null | wc -l)
# a listener's record (LISTEN only: the event observer reports it) is no connection side
nside=$(grep '"type":"timeline"' "$D/h.jsonl" | grep -vc '"peer":"\(0\.0\.0\.0\|\[::\]\):\*"')
check_eq "one state-machine SVG per connection side beside the pcaps" "$nfsm" "$nside"
check_eq "the page names no http(s) URL" "$(grep -Eoc 'https?://' "$D/h.html")" 0

# The same figure from the packets alone (labctl ladder --fsm): the capture sees every
# state, even the server's CLOSE_WAIT that the 1 ms poller may miss.
edges() {
	grep -o 'data-edge="[^"]*" data-order="[^"]*"' "$1" | sed 's/data-edge="\([^"]*\)" data-order="\([^"]*\)"/\2 \1/' |
		sort -n | cut -d' ' -f2 | tr '\n' ' '
}
"$LABCTL" ladder "$D"/cap/*.pcap --fsm "$D/pf" -o /dev/null
check_eq "ladder --fsm writes both sides' figures" "$(ls "$D"/pf-1-left.svg "$D"/pf-1-right.svg 2>/dev/null | wc -l)" 2
check "... valid XML" xmllint --noout "$D/pf-1-left.svg" "$D/pf-1-right.svg"
check "... labelled as inferred from packets" grep -q 'inferred from packets' "$D/pf-1-left.svg"
# The server's ACK of the client's FIN may ride on its own FIN or go first (FIN_WAIT_2).
got=$(edges "$D/pf-1-left.svg")
case "$got" in
"CLOSED>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT_1 FIN_WAIT_1>TIME_WAIT " | \
"CLOSED>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT_1 FIN_WAIT_1>FIN_WAIT_2 FIN_WAIT_2>TIME_WAIT ")
	ok "ladder --fsm: the client's textbook path ($got)" ;;
*) not_ok "ladder --fsm: the client's textbook path (got '$got')" ;;
esac
check_eq "ladder --fsm: the server's, CLOSE_WAIT included" "$(edges "$D/pf-1-right.svg")" \
	"LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSED "

if ! command -v chromium >/dev/null; then
	skip "report in a browser: no chromium (make deps installs it)"
else
	browser --dump-dom "file://$D/h.html" >"$D/dom.html"
	check "chromium loads the page offline and dumps its DOM" test -s "$D/dom.html" ||
		tail -5 "$D/chrome.err"
	arrows=$("$LABCTL" ladder "$D"/cap/*.pcap | grep -c arrives)
	python3 "$HERE/reportcheck.py" "$D/dom.html" "$D/h.jsonl" 8080 "$arrows" >"$D/check.tap"
	cat "$D/check.tap"
	T_FAILS=$((T_FAILS + $(grep -c '^not ok' "$D/check.tap")))
	browser --window-size=1100,2300 --screenshot="$D/shot.png" "file://$D/h.html" >/dev/null
	check "chromium takes a screenshot" bash -c "[ \"\$(head -c 4 '$D/shot.png' | od -An -c | tr -d ' ')\" = '211PNG' ] && [ \$(stat -c %s '$D/shot.png') -gt 20000 ]"
	[ -n "${SHOT:-}" ] && cp "$D/shot.png" "$SHOT"
fi

check "JUnit validates against the schema" xmllint --noout --schema "$XSD" "$D/h.xml"
check_eq "JUnit: one testcase per expectation" "$(grep -c '<testcase ' "$D/h.xml")" \
	"$(grep -c '^expect' "$LAB")"

# ---- a directory run: a passing and a failing lab; index page, JUnit, TAP ----
"$LABCTL" run "$LAB" "$WRONG" --report "$D/rep" --junit "$D/two.xml" --tap >"$D/two.tap" 2>"$D/two.err"
check_eq "a run with a failing lab exits 1" "$?" 1
check "index page and one page per lab" test -s "$D/rep/index.html" -a -s "$D/rep/handshake.html" \
	-a -s "$D/rep/handshake-passive-time-wait.html"
check "the index links each lab's page" bash -c "grep -q 'href=\"handshake.html\"' '$D/rep/index.html' && grep -q 'href=\"handshake-passive-time-wait.html\"' '$D/rep/index.html'"
fline=$(grep -n 'expect server TIME_WAIT port 8080' "$WRONG" | cut -d: -f1)
check "the failing step's line is marked FAIL in its page" \
	grep -q "data-line=\"$fline\".*data-result=\"FAIL\"" "$D/rep/handshake-passive-time-wait.html"
check "JUnit of two labs validates" xmllint --noout --schema "$XSD" "$D/two.xml"
check_eq "JUnit: two testsuites" "$(grep -c '<testsuite ' "$D/two.xml")" 2
check "JUnit: the failure says what was seen" grep -q '<failure message="saw 0 TIME_WAIT' "$D/two.xml"
prove --exec cat "$D/two.tap" >"$D/prove.out" 2>&1
check_eq "prove reads the TAP and finds the failure" "$?" 1
check "prove: 1 of the test points failed" grep -q 'Failed 1/' "$D/prove.out" || cat "$D/prove.out"
"$LABCTL" run "$LAB" --tap 2>/dev/null >"$D/one.tap"
prove --exec cat "$D/one.tap" >"$D/prove1.out" 2>&1
check_eq "prove passes the handshake's TAP" "$?" 0 || cat "$D/prove1.out"

# ---- one directory for a run's files ----
export XDG_CACHE_HOME=$D/cache
mkdir -p "$D/wd"
(cd "$D/wd" && "$LABCTL" run "$LAB" --report "$D/wd/r.html") >"$D/rd.out" 2>&1
check_eq "a lab with capture statements, run without --capture, passes" "$?" 0
check_eq "... and writes nothing into the current directory but the report" "$(ls "$D/wd")" "r.html"
rd=$(sed -n 's/^files: //p' "$D/rd.out")
check_eq "... prints its run directory once" "$(grep -c '^files: ' "$D/rd.out")" 1
check "... under \$XDG_CACHE_HOME/labctl/runs/LABID, with the pcaps and the ladder" bash -c \
	"[[ '$rd' == '$D/cache/labctl/runs/'* ]] && ls '$rd'/*-client-eth0.pcap '$rd'/*.svg"
check "... linked from the report" grep -q "id=\"rundir\" href=\"file://$rd/\"" "$D/wd/r.html"
check "-q prints no line per capture file" bash -c "! (cd '$D/wd' && '$LABCTL' run -q '$LAB') | grep -q capture"
# Pruning: 55 old marked run directories and a directory labctl did not make.
base=$D/cache/labctl/runs
for i in $(seq 1 55); do mkdir -p "$base/old-$i" && touch "$base/old-$i/.labctl-run" "$base/old-$i/x.pcap" &&
	touch -d "2020-01-01 00:00:$((i % 60))" "$base/old-$i"; done
mkdir -p "$base/not-ours" && touch "$base/not-ours/keep.pcap"
"$LABCTL" run -q "$LAB" >/dev/null 2>&1
check_eq "old run directories are pruned to the newest 50" "$(ls -d "$base"/*/.labctl-run | wc -l)" 50
check "... the run just made is among them" test -d "$(ls -td "$base"/handshake-* | head -1)"
check "... a directory without labctl's marker is left alone" test -f "$base/not-ours/keep.pcap"
"$LABCTL" run --out "$D/o" "$LAB" >"$D/out.out" 2>&1
check "--out DIR takes the run's files" bash -c "ls '$D'/o/*-server-eth0.pcap '$D'/o/*.svg >/dev/null"
check_eq "... and says so once" "$(grep -c "^files: $D/o\$" "$D/out.out")" 1

# ---- --step through a pseudo-terminal ----
"$LABCTL" run --step "$LAB" </dev/null >/dev/null 2>"$D/noterm.err"
check_eq "--step without a terminal exits 2" "$?" 2
check "... saying it needs one" grep -q 'needs a terminal' "$D/noterm.err"
ID=rep$T_SUFFIX
python3 "$HERE/stepdrive.py" enter,enter,c "$D/step.log" -- "$LABCTL" run --step --id "$ID" "$LAB"
check_eq "--step: Enter, Enter, c runs the lab to PASS (exit 0)" "$?" 0 || tail -5 "$D/step.log"
check_eq "--step: paused three times (listen, connect, then c)" \
	"$(grep -c 'stop and tear down >' "$D/step.log")" 3
check "--step: shows the touched host's sockets between steps" grep -q -- '--- sockets of server' "$D/step.log"
check "--step: PASS" grep -q '^PASS handshake' "$D/step.log"
# q: while the lab is paused, record its namespaces and the processes in them (pid and
# start time: a pid may be reused), then check that none outlives labctl.  Inode numbers of
# freed namespaces are reused at once by other tests' namespaces, so processes are matched
# by identity, not by the namespace they are in later.
cat >"$D/snap.sh" <<SNAP
for n in /run/netns/$ID-*; do stat -L -c %i "\$n"; done > '$D/inodes'
ls /run/labctl > '$D/reg' 2>/dev/null
for p in /proc/[0-9]*; do
	ino=\$(stat -L -c %i "\$p/ns/net" 2>/dev/null) || continue
	grep -qx "\$ino" '$D/inodes' && echo "\${p#/proc/} \$(cut -d' ' -f22 "\$p/stat" 2>/dev/null)"
done > '$D/procs'
SNAP
python3 "$HERE/stepdrive.py" enter,q "$D/stepq.log" --at 2 "bash '$D/snap.sh'" \
	-- "$LABCTL" run --step --id "$ID" "$LAB"
rc=$?
check_eq "--step: q stops the run (exit 2)" "$rc" 2
check_eq "--step: the lab was exposed while paused (two binds)" "$(wc -l <"$D/inodes")" 2
check "--step: it was registered while paused" grep -q "^$ID" "$D/reg"
check "--step: its agents were running while paused" test -s "$D/procs"
check_eq "--step: after q no bind is left" "$(ls /run/netns | grep -c "^$ID-")" 0
check_eq "--step: after q no registry entry is left" "$(ls /run/labctl 2>/dev/null | grep -c "^$ID")" 0
# still_there: the recorded processes that are still alive (same pid, same start time).
still_there() {
	local pid start
	while read -r pid start; do
		[ "$(cut -d' ' -f22 /proc/"$pid"/stat 2>/dev/null)" = "$start" ] && echo "$pid"
	done <"$D/procs"
}
# Agents die by PDEATHSIG, asynchronously: wait for the condition, not for a time.
wait_for 10 bash -c "[ -z \"\$(D='$D'; $(declare -f still_there); still_there)\" ]"
check_eq "--step: after q no process of the lab is left" "$(still_there | tr '\n' ' ')" ""

t_done
