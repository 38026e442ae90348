#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""vm_traffic.py - the traffic of test_vm_guest.sh, from the host's namespaces.

  serve NAME ADDR PORT            an HTTP/1.1 server on ADDR:PORT answering
                                  NAME to every GET, keep-alive (a backend)
  hold VIP PORT N OUT RELEASE     N connections to VIP:PORT, one GET on each;
                                  writes {"answers": {NAME: count}, ...} to OUT
                                  once all have answered, keeps them open until
                                  the file RELEASE exists (at most 600 s), then
                                  closes them (FIN) and exits
  udp DST PORT K                  K datagrams to DST:PORT
  connect DST PORT TIMEOUT        exit 0 if a TCP connection opens in TIMEOUT s

Every wait is bounded; nothing here measures time.
"""

import http.server
import json
import os
import socket
import socketserver
import sys
import time


def serve(name, addr, port):
    body = (name + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True
        address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    Server((addr, int(port)), Handler).serve_forever()


def get(sock, host):
    """One GET on an open connection; the body, stripped."""
    sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        if not data:
            raise OSError("connection closed before the response")
        buf += data
    head, body = buf.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n")[0]
    if b" 200 " not in status + b" ":
        raise OSError(f"unexpected status {status!r}")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        data = sock.recv(4096)
        if not data:
            raise OSError("connection closed in the body")
        body += data
    return body[:length].decode().strip()


def hold(vip, port, n, out, release):
    socks, answers, ports, errors = [], {}, [], []
    for i in range(int(n)):
        try:
            s = socket.create_connection((vip, int(port)), timeout=30)
            s.settimeout(30)
            name = get(s, vip)
            answers[name] = answers.get(name, 0) + 1
            ports.append(s.getsockname()[1])
            socks.append(s)
        except OSError as e:
            errors.append(f"connection {i}: {e}")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"answers": answers, "client_ports": ports, "errors": errors}, f)
    os.rename(tmp, out)
    deadline = time.monotonic() + 600
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.1)
    for s in socks:
        s.close()
    return 0 if not errors else 1


def udp(dst, port, k):
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        for i in range(int(k)):
            s.sendto(b"refused %d" % i, (dst, int(port)))
            # Paced, so that no datagram waits on an unresolved neighbour
            # behind another (the kernel queues only a few).
            time.sleep(0.01)
    return 0


def connect(dst, port, timeout):
    try:
        socket.create_connection((dst, int(port)), timeout=float(timeout)).close()
        return 0
    except OSError:
        return 1


def main():
    cmds = {"serve": (serve, 3), "hold": (hold, 5), "udp": (udp, 3), "connect": (connect, 3)}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds or len(sys.argv) != 2 + cmds[sys.argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = cmds[sys.argv[1]]
    return fn(*sys.argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main())
