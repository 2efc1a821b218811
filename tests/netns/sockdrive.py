#!/usr/bin/env python3
"""sockdrive: hold TCP sockets in several test namespaces and drive them by commands on stdin.

One process keeps every socket so a test can walk connections through the TCP states step by
step (shutdown here, close there).  It enters a namespace only to create a socket, then
returns (ctypes setns: Python 3.11 has no os.setns).  Each command gets one reply line,
"ok" or "err MESSAGE".

  listen NAME NS ADDR PORT [BACKLOG]   connect NAME NS ADDR PORT (non-blocking)
  accept NAME LISTENER                 wait NAME (until connected, 5 s)
  shutdown NAME                        close NAME
  rst NAME (close with SO_LINGER 0)    quit
"""
import ctypes
import os
import select
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
socks = {}


def in_ns(ns, fn):
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
        try:
            return fn()
        finally:
            if libc.setns(orig, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(fd)
        os.close(orig)


def fam(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def cmd(words):
    op = words[0]
    if op == "listen":
        name, ns, addr, port = words[1:5]
        backlog = int(words[5]) if len(words) > 5 else 16

        def mk():
            s = socket.socket(fam(addr), socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, int(port)))
            s.listen(backlog)
            return s
        socks[name] = in_ns(ns, mk)
    elif op == "connect":
        name, ns, addr, port = words[1:5]

        def mk():
            s = socket.socket(fam(addr), socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((addr, int(port)))
            return s
        socks[name] = in_ns(ns, mk)
    elif op == "wait":
        s = socks[words[1]]
        _, w, _ = select.select([], [s], [], 5)
        if not w:
            raise OSError("not connected after 5 s")
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
    elif op == "accept":
        l = socks[words[2]]
        r, _, _ = select.select([l], [], [], 5)
        if not r:
            raise OSError("nothing to accept after 5 s")
        s, _ = l.accept()
        socks[words[1]] = s
    elif op == "shutdown":
        socks[words[1]].shutdown(socket.SHUT_WR)
    elif op == "close":
        socks.pop(words[1]).close()
    elif op == "rst":
        s = socks.pop(words[1])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    else:
        raise ValueError("unknown command " + op)


def main():
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            print("ok", flush=True)
            return
        try:
            cmd(words)
            print("ok", flush=True)
        except Exception as ex:  # report, keep serving: the test decides
            print("err %s" % ex, flush=True)


if __name__ == "__main__":
    main()
