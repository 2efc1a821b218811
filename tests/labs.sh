#!/usr/bin/env bash
# Every lab in labs/ passes (exit 0) on this kernel's engine; every deliberately wrong copy in
# tests/labs-wrong/ fails (exit 1: an expectation failed, not a crash or a bad file).
# ENGINE=auto|userlink|netem picks the engine (tests/uml/ runs this with netem), and
# OBSERVER=auto|events|poll the observer (auto: events where they load, else the poller).
set -u
cd "$(dirname "$0")/.."
LABCTL=${LABCTL:-./labctl/labctl}
ENGINE=${ENGINE:-auto}
OBSERVER=${OBSERVER:-auto}
if [ "$(id -u)" != 0 ]; then echo "ok - labs # SKIP needs root"; exit 0; fi
LABCTL=$(realpath "$LABCTL")
log=$(mktemp /tmp/labctl-labs.XXXXXX)
# Labs run in an empty directory, which must stay empty: a run's files go to its own
# directory under the cache (labctl/run/rundir.h), here a private one.
wd=$(mktemp -d /tmp/labctl-labs-wd.XXXXXX)
export XDG_CACHE_HOME=$wd/.cache
trap 'rm -f "$log"; rm -rf "$wd"' EXIT
# Each run also writes its HTML report (--report), which must come out well-formed.
run_lab() {
	local lab=$PWD/$1
	rm -f "$wd"/*
	(cd "$wd" && exec "$LABCTL" run --engine "$ENGINE" --observer "$OBSERVER" --report "$wd/report.html" "$lab")
}
report_ok() { [ -s "$wd/report.html" ] && { ! command -v xmllint >/dev/null || xmllint --noout "$wd/report.html"; }; }
# The catalogue, plus the labs that use drop rules (tests/data/labs/rule-*.lab): those must
# pass on userlink and be refused on netem with the reason.
for f in labs/*.lab tests/data/labs/rule-*.lab; do
	[ -f "$f" ] || continue
	t0=$SECONDS
	engine=$ENGINE
	if [ "$ENGINE" = netem ] && grep -qE '^[[:space:]]*drop[[:space:]]' "$f"; then
		# Drop rules need userlink: netem must refuse (exit 2, naming userlink); the lab
		# then runs on userlink, which this kernel also has.
		ENGINE=netem run_lab "$f" >"$log" 2>&1; rc=$?
		if [ $rc -eq 2 ] && grep -q 'need the userlink engine' "$log"; then
			echo "ok - $f (drop rules) refused on netem, naming userlink"
		else echo "not ok - $f (drop rules) on netem exited $rc (want 2 and a reason)"; sed 's/^/# /' "$log" | tail -5; fi
		engine=userlink
	fi
	ENGINE=$engine run_lab "$f" >"$log" 2>&1; rc=$?
	if [ $rc -eq 0 ]; then echo "ok - $f passes on $engine ($((SECONDS - t0))s)"
	else echo "not ok - $f exited $rc on $engine"; sed 's/^/# /' "$log" | tail -40; fi
	if report_ok; then echo "ok - $f writes its report ($(grep -o '^report: .*' "$log" | sed 's/.*(//; s/)$//'))"
	else echo "not ok - $f: no well-formed report"; fi
	stray=$(ls "$wd" | grep -v '^report.html$')
	[ -z "$stray" ] || echo "not ok - $f left files in the current directory: $stray"
done
for f in tests/labs-wrong/*.lab; do
	[ -f "$f" ] || continue
	run_lab "$f" >"$log" 2>&1; rc=$?
	if [ $rc -eq 1 ] && grep -q '^FAIL' "$log"; then echo "ok - wrong lab $f fails (exit 1)"
	else echo "not ok - wrong lab $f exited $rc (want 1)"; sed 's/^/# /' "$log" | tail -20; fi
done
