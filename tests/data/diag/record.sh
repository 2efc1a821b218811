#!/usr/bin/env bash
# Record the sock_diag replies replayed by tests/unit/test_diag.c (run once, as root, from the
# repository root after `make`): sockets in every TCP state, built by tests/netns/states.sh.
#   client.bin  namespace A, with tcp_info/memory/cong (labctl ss --json)
#   server.bin  namespace B, likewise
#   server_plain.bin  namespace B without extensions (labctl ss)
# plus ss -tan of each namespace for reference (*.ss.txt).
set -eu
cd "$(dirname "$0")/../../.."
source tests/netns/lib.sh
source tests/netns/states.sh
LABCTL=${LABCTL:-./labctl/labctl}
out=tests/data/diag
states_build || { echo "building the states failed" >&2; exit 1; }
"$LABCTL" ss --netns "$NS_A" --json --record "$out/client.bin" >/dev/null
"$LABCTL" ss --netns "$NS_B" --json --record "$out/server.bin" >/dev/null
"$LABCTL" ss --netns "$NS_B" --record "$out/server_plain.bin" >/dev/null
ss -tan -N "$NS_A" >"$out/client.ss.txt"
ss -tan -N "$NS_B" >"$out/server.ss.txt"
ls -l "$out"
