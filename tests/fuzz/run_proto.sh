#!/usr/bin/env bash
# Fuzz the control-protocol decoder with libFuzzer (clang; ASan + UBSan).
#   tests/fuzz/run_proto.sh [SECONDS]      (default 120)
# Seeds are valid frames of every op (written by the unit test's encoder through a tiny
# generator below); the corpus and any crash land in build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-120}
OUT=build/fuzz
mkdir -p "$OUT/corpus"
clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Iagents -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -o "$OUT/fuzz_proto" tests/fuzz/fuzz_proto.c agents/proto.c
# seeds: one valid frame per op
clang -g -std=gnu11 -D_GNU_SOURCE -Iagents -o "$OUT/seeds" -x c - agents/proto.c <<'C'
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "proto.h"
int main(int argc, char **argv)
{
	static const uint16_t ops[] = {1,2,3,4,5,6,7,8,9,10,11,0x40,0x41,0x80,0x81,0x82,0x83,0x84,
				       0x85,0x86,0x87,0x88};
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct proto_msg m; uint8_t buf[PROTO_MAX_FRAME]; char path[512];
		proto_msg_init(&m, ops[i], (uint32_t)i);
		struct sockaddr_in *s4 = (struct sockaddr_in *)&m.addr;
		s4->sin_family = AF_INET; s4->sin_port = htons(8080);
		inet_pton(AF_INET, "10.0.0.2", &s4->sin_addr);
		m.local = m.addr; m.peer = m.addr;
		m.have |= PA_BIT(PA_ADDR) | PA_BIT(PA_COUNT) | PA_BIT(PA_BYTES);
		proto_set_group(&m, "c");
		if (ops[i] == 0x41) proto_set_error(&m, 98, "in use");
		if (ops[i] == 8) {  /* flood: rate, duration and the black-hole range */
			struct sockaddr_in *r4 = (struct sockaddr_in *)&m.range;
			r4->sin_family = AF_INET;
			inet_pton(AF_INET, "198.18.0.0", &r4->sin_addr);
			m.range_prefix = 24; m.rate_milli = 1000000; m.duration_ns = 1000000;
			m.have |= PA_BIT(PA_RATE_MILLI) | PA_BIT(PA_DURATION_NS) | PA_BIT(PA_RANGE) |
				  PA_BIT(PA_RANGE_PREFIX);
		}
		if (ops[i] >= 0x80) { m.conn = 1; m.ts_ns = 5; m.have |= PA_BIT(PA_CONN) |
			PA_BIT(PA_TS_NS) | PA_BIT(PA_LOCAL) | PA_BIT(PA_PEER); }
		int n = proto_encode(&m, buf, sizeof(buf));
		if (n <= 0) continue;  /* ops needing other attributes: the fuzzer finds them */
		snprintf(path, sizeof(path), "%s/seed-%02x", argc > 1 ? argv[1] : ".", ops[i]);
		FILE *f = fopen(path, "wb"); fwrite(buf, 1, (size_t)n, f); fclose(f);
	}
	return 0;
}
C
"$OUT/seeds" "$OUT/corpus"
cd "$OUT"
./fuzz_proto -max_total_time="$SECS" -max_len=8192 -print_final_stats=1 corpus 2>&1 | tail -25
