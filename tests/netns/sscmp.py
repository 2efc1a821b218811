#!/usr/bin/env python3
"""sscmp: normalise socket listings to sorted "STATE LOCAL PEER" lines.

  sscmp.py ss [STATE] < `ss -tan` output (STATE: ss was given one state and left out
                  its State column)
  sscmp.py json < `labctl ss --json` output (also checks every line is a JSON object with
                  the required fields)
  sscmp.py table < `labctl ss` table output
States become the textbook names; ss's "*" wildcard for IPv6 becomes "[::]".
"""
import json
import sys

SS_STATES = {
    "ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT_1", "FIN-WAIT-2": "FIN_WAIT_2", "TIME-WAIT": "TIME_WAIT",
    "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK", "LISTEN": "LISTEN",
    "CLOSING": "CLOSING", "UNCONN": "CLOSED",
}


def norm_addr(a):
    if a.startswith("*:"):
        return "[::]:" + a[2:]
    return a


def main():
    mode = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) > 2 else None
    out = []
    for i, line in enumerate(sys.stdin):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if mode == "json":
            o = json.loads(line)
            for k in ("state", "local", "peer", "recv_q", "send_q"):
                if k not in o:
                    sys.exit("line %d lacks %s" % (i + 1, k))
            out.append("%s %s %s" % (o["state"], o["local"], o["peer"]))
            continue
        w = line.split()
        if i == 0 and w[0] in ("State", "Recv-Q"):
            continue
        if only:
            w = [only] + w
        if line.startswith("\t"):
            continue  # -i detail line
        st = SS_STATES.get(w[0], w[0]) if mode == "ss" else w[0]
        out.append("%s %s %s" % (st, norm_addr(w[3]), norm_addr(w[4])))
    for l in sorted(out):
        print(l)


main()
