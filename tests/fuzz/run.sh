#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] [-- LIBFUZZER_ARGS...]: build the lab parser fuzz target with
# clang (libFuzzer + ASan + UBSan) and run it for SECONDS (default 20) on a corpus seeded from
# labs/ and tests/data/labs/.  The corpus grows in build/fuzz/corpus-lab; crashes land in
# build/fuzz/ as crash-*.  Exit status is libFuzzer's (0 when nothing was found).
set -eu
cd "$(dirname "$0")/../.."
SECS=${1:-20}; shift || true
[ "${1:-}" = "--" ] && shift
OUT=build/fuzz
CORPUS=$OUT/corpus-lab
mkdir -p "$OUT" "$CORPUS"
CC=${FUZZ_CC:-clang}
"$CC" -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Ilabctl -Iagents \
	-o "$OUT/fuzz_lab" tests/fuzz/fuzz_lab.c labctl/lab/lab*.c labctl/base/err.c -lm
for f in labs/*.lab tests/data/labs/*.lab; do
	[ -f "$f" ] && cp -f "$f" "$CORPUS/seed-$(basename "$f")"
done
DICT=tests/fuzz/lab.dict
exec "$OUT/fuzz_lab" -max_total_time="$SECS" -max_len=4096 -artifact_prefix="$OUT/" \
	${DICT:+-dict=$DICT} -print_final_stats=1 "$@" "$CORPUS"
