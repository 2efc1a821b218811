#!/usr/bin/env bash
# Every lab in labs/ passes (exit 0) on this kernel's engine; every deliberately wrong copy in
# tests/labs-wrong/ fails (exit 1: an expectation failed, not a crash or a bad file).
# ENGINE=auto|userlink|netem picks the engine (tests/uml/ runs this with netem).
set -u
cd "$(dirname "$0")/.."
LABCTL=${LABCTL:-./labctl/labctl}
ENGINE=${ENGINE:-auto}
if [ "$(id -u)" != 0 ]; then echo "ok - labs # SKIP needs root"; exit 0; fi
LABCTL=$(realpath "$LABCTL")
log=$(mktemp /tmp/labctl-labs.XXXXXX)
# Labs run in an empty directory: a lab's `capture` statement writes pcaps to the current one.
wd=$(mktemp -d /tmp/labctl-labs-wd.XXXXXX)
trap 'rm -f "$log"; rm -rf "$wd"' EXIT
run_lab() {
	local lab=$PWD/$1
	rm -f "$wd"/*
	(cd "$wd" && exec "$LABCTL" run --engine "$ENGINE" "$lab")
}
# `drop` rules exist only on the userlink engine; on netem such a lab is refused (exit 2) by
# design, so it is skipped here rather than counted as a failure.
needs_userlink() { grep -qE '^[[:space:]]*drop[[:space:]]' "$1"; }
for f in labs/*.lab; do
	[ -f "$f" ] || continue
	if [ "$ENGINE" = netem ] && needs_userlink "$f"; then
		echo "ok - $f # SKIP drop rules need the userlink engine"; continue
	fi
	t0=$SECONDS
	run_lab "$f" >"$log" 2>&1; rc=$?
	if [ $rc -eq 0 ]; then echo "ok - $f passes on $ENGINE ($((SECONDS - t0))s)"
	else echo "not ok - $f exited $rc on $ENGINE"; sed 's/^/# /' "$log" | tail -40; fi
done
for f in tests/labs-wrong/*.lab; do
	[ -f "$f" ] || continue
	run_lab "$f" >"$log" 2>&1; rc=$?
	if [ $rc -eq 1 ] && grep -q '^FAIL' "$log"; then echo "ok - wrong lab $f fails (exit 1)"
	else echo "not ok - wrong lab $f exited $rc (want 1)"; sed 's/^/# /' "$log" | tail -20; fi
done
