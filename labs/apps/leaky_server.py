#!/usr/bin/env python3
"""A small TCP server with the classic CLOSE_WAIT bug (labs/app-close-wait-leak.lab).

It accepts connections, reads what the client sends, and when the client closes (read
returns b"", the client's FIN) it forgets the connection without close(): the socket stays
in CLOSE_WAIT for as long as the process lives.  With --fixed it closes, as it should.

usage: leaky_server.py [--fixed] PORT
"""
import selectors
import socket
import sys


def main():
    args = sys.argv[1:]
    fixed = "--fixed" in args
    port = int([a for a in args if a != "--fixed"][0])
    sel = selectors.DefaultSelector()
    lsock = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True,
                                 backlog=128)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ)
    leaked = []
    print(f"listening on port {port} ({'fixed' if fixed else 'leaky'})")
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if s is lsock:
                conn, peer = lsock.accept()
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
                print(f"accepted {peer[0]}:{peer[1]}")
                continue
            data = s.recv(65536)
            if data:
                continue
            sel.unregister(s)
            if fixed:
                s.close()
                print("client closed: closed ours too")
            else:
                leaked.append(s)  # the bug: never s.close()
                print(f"client closed: not closing ours ({len(leaked)} leaked)")


if __name__ == "__main__":
    main()
