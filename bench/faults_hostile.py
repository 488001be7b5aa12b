#!/usr/bin/env python3
"""Hostile clients for bench/faults (DESIGN.md §9): without credentials, from one thread, keeps
  --slow-heads connections sending a request head one byte every --trickle seconds,
  --slow-tls connections that sent the first bytes of a TLS ClientHello record and nothing more,
  --non-readers connections that pipeline GET /metrics requests and never read an answer,
open against a running `eso-updater serve` until --stop-file exists or --max-seconds pass. A
connection the server closes is opened again --reopen seconds later, as a slowloris does (an
attacker reconnecting at once is a flood, another class). Against a plain-HTTP serve the half
ClientHellos are junk heads it refuses at once; against an HTTPS serve (--ca-file) they are slow
handshakes, and the slow heads are trickled inside a finished handshake. Prints how many
connections were opened and how many the server closed. Loopback only; every loop is bounded.

The client must cost little CPU, or it measures itself on a shared machine: one epoll, and the
non-readers (whose unread answers keep them readable) are watched for the server's close only
(EPOLLRDHUP), not polled for reading.
"""
import argparse
import os
import resource
import select
import socket
import ssl
import sys
import time

HEAD = b"POST /webhook HTTP/1.1\r\nHost: hostile\r\nContent-Type: application/json\r\nX-Pad: "
CLIENT_HELLO_START = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC])
METRICS = b"GET /metrics HTTP/1.1\r\nHost: hostile\r\n\r\n"


class Hostile:
    def __init__(self, port, trickle, reopen, tls):
        self.port = port
        self.tls = tls  # an ssl.SSLContext against an HTTPS serve, else None
        self.trickle = trickle
        self.reopen = reopen
        self.pending = []  # (when, kind): connections to open again
        self.epoll = select.epoll()
        self.conns = {}  # fd -> (socket, state)
        self.opened = 0
        self.closed_by_server = 0
        self.refused = 0

    def open(self, kind):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if kind == "reader":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", self.port))
            if self.tls is not None and kind != "tls":
                s = self.tls.wrap_socket(s, server_hostname="127.0.0.1")
        except OSError:
            self.refused += 1
            s.close()
            return
        s.setblocking(False)
        self.opened += 1
        state = {"kind": kind, "sent": 0, "next": time.monotonic()}
        if kind == "tls":
            self.send(s, CLIENT_HELLO_START)
        if kind == "reader":
            self.send(s, METRICS * 2000)
            events = select.EPOLLRDHUP  # the server's close only: answers stay unread
        else:
            events = select.EPOLLIN | select.EPOLLRDHUP  # answered or closed
        self.conns[s.fileno()] = (s, state)
        self.epoll.register(s.fileno(), events)

    def send(self, s, data):
        try:
            s.send(data)
        except OSError:  # incl. ssl.SSLWantWriteError: a non-reader's buffers are full
            pass

    def tick(self):
        now = time.monotonic()
        for s, state in self.conns.values():
            if state["kind"] != "head" or now < state["next"]:
                continue
            chunk = HEAD[state["sent"]:state["sent"] + 1] or b"a"
            self.send(s, chunk)
            state["sent"] += 1
            state["next"] = now + self.trickle

    def close(self, fd):
        s, state = self.conns.pop(fd)
        self.epoll.unregister(fd)
        s.close()
        self.closed_by_server += 1
        self.pending.append((time.monotonic() + self.reopen, state["kind"]))

    def reap(self, timeout):
        now = time.monotonic()
        due = [kind for when, kind in self.pending if when <= now]
        self.pending = [(when, kind) for when, kind in self.pending if when > now]
        for kind in due:
            self.open(kind)
        for fd, events in self.epoll.poll(timeout):
            s, state = self.conns[fd]
            if events & (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
                self.close(fd)
                continue
            try:
                data = s.recv(4096)
            except ssl.SSLWantReadError:
                continue  # part of a TLS record
            except OSError:
                data = b""
            if not data:
                self.close(fd)
            # else an answer (408): the close follows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--slow-heads", type=int, default=1000)
    p.add_argument("--slow-tls", type=int, default=100)
    p.add_argument("--non-readers", type=int, default=50)
    p.add_argument("--trickle", type=float, default=2.0)
    p.add_argument("--reopen", type=float, default=1.0)
    p.add_argument("--max-seconds", type=float, default=600)
    p.add_argument("--ca-file", help="serve speaks HTTPS with a certificate of this CA")
    a = p.parse_args()
    want = a.slow_heads + a.slow_tls + a.non_readers + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    port = int(open(a.port_file).read().strip())
    tls = ssl.create_default_context(cafile=a.ca_file) if a.ca_file else None
    h = Hostile(port, a.trickle, a.reopen, tls)
    for kind, n in (("head", a.slow_heads), ("tls", a.slow_tls), ("reader", a.non_readers)):
        for _ in range(n):
            h.open(kind)
    start = time.monotonic()
    while time.monotonic() - start < a.max_seconds and not os.path.exists(a.stop_file):
        h.tick()
        h.reap(0.05)
    print(f"hostile: {h.opened} connections opened, {h.closed_by_server} closed by serve, "
          f"{h.refused} refused; {len(h.conns)} open at the end", file=sys.stderr)
    for s, _ in h.conns.values():
        s.close()


if __name__ == "__main__":
    main()
