#!/usr/bin/env python3
"""stepdrive.py KEYS LOG [--at N CMD] -- LABCTL ARGS...: drive `labctl run --step` through a
pseudo-terminal.  KEYS is a comma-separated list of answers, one per prompt: "enter", "c" or
"q".  Everything the program writes goes to LOG.  With --at N CMD, the shell command CMD runs
when the N-th prompt (1-based) is up, before its key is sent (the lab is paused there).
Exits with the program's exit status; 124 if it did not finish within 60 s."""
import os, pty, select, subprocess, sys, time

PROMPT = b"[q] stop and tear down > "

def main():
    keys, log = sys.argv[1].split(","), sys.argv[2]
    rest = sys.argv[3:]
    at, at_cmd = -1, None
    if rest[0] == "--at":
        at, at_cmd, rest = int(rest[1]), rest[2], rest[3:]
    assert rest[0] == "--"
    argv = rest[1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    out, seen, sent = b"", 0, 0
    deadline = time.time() + 60
    status = None
    with open(log, "wb") as lf:
        while time.time() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    # The terminal closed (EIO): the program is exiting.
                    _, status = os.waitpid(pid, 0)
                    break
                out += data
                lf.write(data)
                lf.flush()
            seen = out.count(PROMPT)
            if seen > sent and sent < len(keys):
                if seen == at and at_cmd:
                    subprocess.run(at_cmd, shell=True)
                k = keys[sent]
                os.write(fd, b"\r" if k == "enter" else k.encode())
                sent += 1
            p, st = os.waitpid(pid, os.WNOHANG)
            if p == pid:
                status = st
                # drain what is left
                try:
                    while True:
                        r, _, _ = select.select([fd], [], [], 0.2)
                        if not r:
                            break
                        data = os.read(fd, 4096)
                        if not data:
                            break
                        lf.write(data)
                except OSError:
                    pass
                break
    if status is None:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        sys.exit(124)
    sys.exit(os.waitstatus_to_exitcode(status))

main()
