#!/usr/bin/env bash
# tests/run.sh [BUILD_DIR]: every test tier, in order: unit (cmocka, no root), netns (root,
# this kernel), labs (every labs/*.lab must pass; tests/labs-wrong/*.lab must fail), uml (the
# netem engine inside User-Mode Linux).  Each test prints TAP lines ("ok - NAME",
# "not ok - NAME", "ok - NAME # SKIP why"); this script counts them and ends with one line:
# "N passed, N failed".  A test program that exits non-zero without a "not ok" line counts as
# one failure.  ONLY=unit|netns|fuzz|labs|uml runs one tier; FILTER=regex picks scripts by name.
set -u
cd "$(dirname "$0")/.."
OUT=${1:-build/san}
export LABCTL="$PWD/$OUT/labctl" LABCTL_AGENT="$PWD/$OUT/labctl-agent" TOOLS="$PWD/$OUT/tools"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# TEST_LOGDIR: tests/uml runs this script inside UML on the same filesystem: own log dir.
LOGDIR="${TEST_LOGDIR:-$PWD/build/test-logs}"; rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
# A run's files go under the user's cache (labctl/run/rundir.h): the tests' runs go here.
export XDG_CACHE_HOME="$LOGDIR/cache"
pass=0 fail=0 skip=0
failed=()

# run_tap NAME CMD...: run CMD, echo its TAP lines, count them.
run_tap() {
	local name=$1; shift
	local log="$LOGDIR/${name//\//_}.log" t0=$SECONDS rc
	"$@" >"$log" 2>&1; rc=$?
	local p f s
	p=$(grep -cE '^ok( |$)' "$log" | tr -d ' ')
	s=$(grep -cE '^ok.*# (SKIP|skip)' "$log" | tr -d ' ')
	f=$(grep -cE '^not ok( |$)' "$log" | tr -d ' ')
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited $rc" >>"$log"; fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	printf '%-44s %3d ok %3d failed %3d skipped  (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - t0))
	if [ "$f" -gt 0 ]; then
		failed+=("$name")
		grep -E '^not ok' "$log" | sed 's/^/    /'
		echo "    --- last lines of $log:"; tail -n 15 "$log" | sed 's/^/    | /'
	fi
}

want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
picked() { [ -z "${FILTER:-}" ] || [[ "$1" =~ $FILTER ]]; }

if want unit; then
	echo "== unit"
	for t in "$OUT"/unit/test_*; do
		[ -x "$t" ] || continue; picked "$t" || continue
		CMOCKA_MESSAGE_OUTPUT=TAP run_tap "unit/$(basename "$t")" "$t"
	done
	picked layers && run_tap "unit/layers" bash tests/layers.sh
fi

if want netns; then
	echo "== netns"
	for t in tests/netns/t_*.sh; do
		[ -f "$t" ] || continue; picked "$t" || continue
		run_tap "netns/$(basename "$t" .sh)" bash "$t"
	done
fi

if want fuzz; then
	echo "== fuzz (libFuzzer, short)"
	run_tap "fuzz/short" bash tests/fuzz/t_fuzz.sh
fi

if want labs; then
	echo "== labs (userlink engine on this kernel)"
	ENGINE=${ENGINE:-userlink} run_tap "labs/catalogue" bash tests/labs.sh
fi

if want uml; then
	echo "== uml (netem engine inside User-Mode Linux)"
	if [ -f tests/uml/run.sh ]; then run_tap "uml/suite" bash tests/uml/run.sh "$OUT"; fi
fi

echo
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}  (logs in $LOGDIR)"
[ "$skip" -eq 0 ] || echo "($skip skipped; see the logs for why)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
