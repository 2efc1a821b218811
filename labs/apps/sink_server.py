#!/usr/bin/env python3
"""A TCP server that reads and discards what it gets (labs/app-frozen-server.lab).

Each connection gets a thread that reads until EOF, then closes.  Frozen by SIGSTOP, it
stops reading: its receive queue fills and its window closes.

usage: sink_server.py PORT
"""
import socket
import sys
import threading


def serve(conn, peer):
    total = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        total += len(data)
    conn.close()
    print(f"{peer[0]}:{peer[1]}: {total} bytes, then EOF; closed")


def main():
    port = int(sys.argv[1])
    lsock = socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
    print(f"listening on port {port}")
    while True:
        conn, peer = lsock.accept()
        threading.Thread(target=serve, args=(conn, peer), daemon=True).start()


if __name__ == "__main__":
    main()
