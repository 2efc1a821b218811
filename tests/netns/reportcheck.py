#!/usr/bin/env python3
"""reportcheck.py DOM JSONL LISTEN_PORT: check a report's DOM (as headless Chromium dumped it)
against the run's own JSON lines (labctl run --json).  Prints TAP lines "ok - ..." /
"not ok - ..."; exits 0.

- every step the JSON log shows has its line in the page, with the same verdict;
- one timeline lane and one state-machine figure per connection side of the JSON timeline,
  named by host, local and peer address;
- in each figure, the highlighted transitions (solid: edges of the figure; dashed: jumps)
  are, in the order of their numbers, the side's states from the JSON timeline, starting at
  LISTEN for a side whose local port is LISTEN_PORT (born of the listener), else at CLOSED;
  a transition is drawn solid exactly when the figure has that edge;
- on the handshake lab, the client side takes the textbook path (CLOSED, SYN_SENT,
  ESTABLISHED, FIN_WAIT_1, ..., TIME_WAIT) on solid edges only."""
import json, sys
from html.parser import HTMLParser

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.lines = {}        # data-line -> [verdicts]
        self.cur_line = None
        self.lanes = []        # (host, local, peer)
        self.figs = []         # dicts
        self.fig = None
        self.depth = 0
        self.ladder_depth = None
        self.arrows = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        self.depth += 1
        if "r-line" in cls:
            self.cur_line = int(a["data-line"])
            self.lines.setdefault(self.cur_line, [])
        if "r-verdict" in cls and self.cur_line is not None:
            self.lines[self.cur_line].append(a.get("data-result"))
        if "r-lane" in cls:
            self.lanes.append((a["data-host"], a["data-local"], a["data-peer"]))
        if tag == "figure" and "r-fsm" in cls:
            self.fig = dict(host=a["data-host"], local=a["data-local"], peer=a["data-peer"],
                            conn=a["data-conn"], edges=[], taken=[], depth=self.depth)
            self.figs.append(self.fig)
        if self.fig is not None and "fsm-edge" in cls:
            if "fsm-jump" not in cls:
                self.fig["edges"].append(a["data-edge"])
            if "fsm-taken" in cls or "fsm-jump" in cls:
                for o in a["data-order"].split(","):
                    self.fig["taken"].append((int(o), a["data-edge"], "fsm-jump" in cls))
        if "r-ladder" in cls:
            self.ladder_depth = self.depth
        if self.ladder_depth is not None and "marker-end" in a and tag == "line":
            self.arrows += 1

    def handle_endtag(self, tag):
        if tag == "div" and self.cur_line is not None:
            self.cur_line = None
        if self.fig is not None and tag == "figure":
            self.fig = None
        if self.ladder_depth is not None and self.depth == self.ladder_depth:
            self.ladder_depth = None
        self.depth -= 1

def main():
    dom_text = open(sys.argv[1], encoding="utf-8").read()
    recs = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
    listen_port = sys.argv[3]
    want_arrows = int(sys.argv[4]) if len(sys.argv) > 4 else -1
    d = Dom()
    d.feed(dom_text)
    fails = 0

    def check(ok, name):
        nonlocal fails
        print(("ok - " if ok else "not ok - ") + name)
        fails += not ok

    steps = [r for r in recs if r["type"] == "step"]
    bad = [s for s in steps if s["result"] not in d.lines.get(s["line"], [])]
    check(steps and not bad, "every step line (%d) is in the page with its verdict%s" %
          (len(steps), "" if not bad else ": missing " + repr(bad[:3])))
    sides = [r for r in recs if r["type"] == "timeline"
             and not (len(r["events"]) == 1 and r["events"][0]["state"] == "LISTEN")]
    keys = sorted((s["host"], s["local"], s["peer"]) for s in sides)
    check(sorted(d.lanes) == keys, "one lane per connection side (%d lanes, %d sides)" %
          (len(d.lanes), len(keys)))
    check(sorted((f["host"], f["local"], f["peer"]) for f in d.figs) == keys,
          "one state-machine figure per connection side (%d)" % len(d.figs))
    conns = len(set(f["conn"] for f in d.figs))
    check(conns == (len(keys) + 1) // 2 if keys else True,
          "figures grouped by connection (%d connections)" % conns)
    for s in sides:
        f = next((f for f in d.figs if (f["host"], f["local"], f["peer"]) ==
                  (s["host"], s["local"], s["peer"])), None)
        if f is None:
            continue
        prev = "LISTEN" if s["local"].endswith(":" + listen_port) else "CLOSED"
        want = []
        for e in s["events"]:
            if e["state"] != prev:
                want.append(prev + ">" + e["state"])
                prev = e["state"]
        got = [e for _, e, _ in sorted(f["taken"])]
        check(got == want, "%s %s: highlighted transitions are the timeline's: %s" %
              (s["host"], s["local"], " ".join(got)) + ("" if got == want else
                                                        " (want " + " ".join(want) + ")"))
        solid_ok = all(j == (e not in f["edges"]) for _, e, j in f["taken"])
        check(solid_ok, "%s %s: solid exactly on the figure's edges, dashed on jumps" %
              (s["host"], s["local"]))
        if s["host"] == "client" and not s["local"].endswith(":" + listen_port):
            textbook = (got[:3] == ["CLOSED>SYN_SENT", "SYN_SENT>ESTABLISHED",
                                    "ESTABLISHED>FIN_WAIT_1"] and got[-1].endswith(">TIME_WAIT")
                        and not any(j for _, _, j in f["taken"]))
            check(textbook, "client: the textbook path CLOSED, SYN_SENT, ESTABLISHED, "
                  "FIN_WAIT_1, ..., TIME_WAIT")
    if want_arrows >= 0:
        check(d.arrows == want_arrows, "the ladder's arrows (%d, want %d)" % (d.arrows, want_arrows))
    import re
    urls = re.findall(r"https?://[^\"'<> ]*", dom_text)
    check(not urls, "no http(s) URL in the DOM" + ("" if not urls else ": " + urls[0]))
    return 0

sys.exit(main())
