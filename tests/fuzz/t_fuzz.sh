#!/usr/bin/env bash
# A short fuzzing pass in every `make check`: each libFuzzer target (lab parser, control
# protocol decoder, sock_diag reply parser) runs for FUZZ_SECONDS (default 10) from its seed
# corpus; a crash, leak or sanitizer report fails the test.  Longer runs: tests/fuzz/run*.sh.
set -u
cd "$(dirname "$0")/../.."
SECS=${FUZZ_SECONDS:-10}
if ! command -v clang >/dev/null; then echo "ok - fuzz # SKIP clang missing (make deps installs it)"; exit 0; fi
for t in run.sh run_proto.sh run_diag.sh; do
	[ -f "tests/fuzz/$t" ] || continue
	log=$(mktemp /tmp/labctl-fuzz.XXXXXX)
	if bash "tests/fuzz/$t" "$SECS" >"$log" 2>&1; then
		echo "ok - fuzz $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1) runs in ${SECS}s, no finding"
	else
		echo "not ok - fuzz $t found something"; grep -E 'ERROR|SUMMARY|crash-|leak' "$log" | head -10 | sed 's/^/# /'
	fi
	rm -f "$log"
done
