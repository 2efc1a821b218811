/* libFuzzer target: the control-protocol decoder, fed whole datagrams the way the agent and
 * labctl read them (frames back to back).  Whatever decodes must encode back to a frame that
 * decodes to the same message.  Build and run: tests/fuzz/run_proto.sh */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, flen;
	while (off < size) {
		struct proto_msg m, back;
		uint8_t buf[PROTO_MAX_FRAME];
		if (proto_frame_len(data + off, size - off, &flen) < 0)
			break;
		if (proto_decode(data + off, flen, &m) == 0) {
			int n = proto_encode(&m, buf, sizeof(buf));
			if (n <= 0 || proto_decode(buf, (size_t)n, &back) != 0 ||
			    memcmp(&m, &back, sizeof(m)) != 0)
				abort();  /* decode and encode disagree */
		}
		off += flen;
	}
	return 0;
}
