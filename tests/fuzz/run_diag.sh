#!/usr/bin/env bash
# Fuzz the sock_diag reply parser and the counters parser with libFuzzer (clang; ASan+UBSan).
#   tests/fuzz/run_diag.sh [SECONDS]      (default 60)
# Seeds: the recorded dumps in tests/data/diag and the counters in tests/data/nstat.  The
# corpus and any crash land in build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
OUT=build/fuzz
CORPUS=$OUT/corpus-diag
mkdir -p "$CORPUS"
clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Ilabctl -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -o "$OUT/fuzz_diag" tests/fuzz/fuzz_diag.c \
	labctl/kernel/diag.c labctl/kernel/nstat.c labctl/render/sockfmt.c labctl/kernel/netns.c labctl/lab/lab_names.c \
	labctl/base/err.c -lmnl
# seeds: whole recordings, and each message of them on its own
python3 - "$CORPUS" tests/data/diag/*.bin <<'PY'
import struct, sys
out = sys.argv[1]
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    name = path.rsplit("/", 1)[-1]
    open("%s/seed-%s" % (out, name), "wb").write(data)
    off = i = 0
    while off + 16 <= len(data):
        n = struct.unpack_from("=I", data, off)[0]
        if n < 16:
            break
        open("%s/seed-%s-%d" % (out, name, i), "wb").write(data[off:off + n])
        off += (n + 3) & ~3
        i += 1
PY
cp -f tests/data/nstat/*.txt "$CORPUS/"
exec "$OUT/fuzz_diag" -max_total_time="$SECS" -max_len=65536 -artifact_prefix="$OUT/" \
	-print_final_stats=1 "$CORPUS"
