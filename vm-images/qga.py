#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""qga.py SOCKET COMMAND - talk to the sfc guest's QEMU guest agent.

vm-images/boot.sh connects the guest's qemu-guest-agent (virtio-serial port
org.qemu.guest_agent.0) to a UNIX socket on the host; this is the host's
end, with Python's standard library only.

  qga.py SOCK wait [--timeout S]            until the agent answers (exit 1 at S)
  qga.py SOCK exec [--timeout S] -- CMD...  run CMD in the guest; its stdout and
                                            stderr are printed here, and its exit
                                            status is ours (124: timed out)
  qga.py SOCK sh [--timeout S] 'SCRIPT'     the same with /bin/sh -c SCRIPT
  qga.py SOCK put [--mode M] LOCAL REMOTE   copy a file into the guest
  qga.py SOCK shutdown                      power the guest off (systemd's way)

The protocol is QMP's framing over the port: one JSON object per line. A new
connection first sends 0xFF (which resets the agent's parser) and
guest-sync-delimited with a fresh id, and skips whatever comes back until the
reply with that id: the agent may answer requests an earlier client left
behind, or requests sent before it was running, which the port held.
"""

import argparse
import base64
import json
import random
import socket
import sys
import time


class AgentError(Exception):
    pass


class Agent:
    def __init__(self, path):
        self.path = path
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def connect(self, deadline):
        self.close()
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
                self.sock = s
                return
            except OSError as e:
                s.close()
                if time.monotonic() >= deadline:
                    raise AgentError(f"cannot connect to {self.path}: {e}")
                time.sleep(0.2)

    def _send(self, obj, prefix=b""):
        self.sock.sendall(prefix + json.dumps(obj).encode() + b"\n")

    def _recv(self, deadline):
        """The next JSON object from the agent, or None at the deadline."""
        while True:
            # 0xFF (the delimiter of guest-sync-delimited) and blank lines
            # separate replies; neither is part of one.
            self.buf = self.buf.lstrip(b"\xff\r\n ")
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl], self.buf[nl + 1:]
                try:
                    return json.loads(line.strip(b"\xff\r "))
                except ValueError:
                    continue  # a line torn by an agent restart
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(min(left, 1.0))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise AgentError("the agent closed the connection")
            self.buf += data

    def sync(self, timeout):
        """Connect (again) and sync until the agent answers, within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self.connect(deadline)
            sid = random.randrange(1, 2**31)
            try:
                self._send({"execute": "guest-sync-delimited", "arguments": {"id": sid}}, b"\xff")
                # One try lasts a few seconds: an agent that is not running
                # yet leaves the request in the port, and a new connection
                # (with a new id) is the clean way to try again.
                try_until = min(deadline, time.monotonic() + 5)
                while True:
                    r = self._recv(try_until)
                    if r is None or r.get("return") == sid:
                        break
            except (AgentError, OSError):
                r = None
            if r is not None:
                return
            if time.monotonic() >= deadline:
                raise AgentError(f"no answer from the guest agent on {self.path} in {timeout:g} s")
            time.sleep(0.5)

    def call(self, name, args=None, timeout=30):
        req = {"execute": name}
        if args is not None:
            req["arguments"] = args
        self._send(req)
        r = self._recv(time.monotonic() + timeout)
        if r is None:
            raise AgentError(f"{name}: no reply in {timeout} s")
        if "error" in r:
            raise AgentError(f"{name}: {r['error'].get('desc', r['error'])}")
        return r.get("return")

    def put(self, local, remote):
        """Copy the file local to remote in the guest, in 48 KiB writes."""
        h = self.call("guest-file-open", {"path": remote, "mode": "wb"})
        try:
            with open(local, "rb") as f:
                while True:
                    chunk = f.read(48 * 1024)
                    if not chunk:
                        break
                    self.call("guest-file-write", {"handle": h, "buf-b64": base64.b64encode(chunk).decode()})
        finally:
            self.call("guest-file-close", {"handle": h})

    def exec(self, argv, timeout):
        """Run argv in the guest: (status, stdout bytes, stderr bytes)."""
        pid = self.call("guest-exec", {"path": argv[0], "arg": argv[1:], "capture-output": True})["pid"]
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            st = self.call("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", ""))
                err = base64.b64decode(st.get("err-data", ""))
                if "signal" in st:
                    return 128 + st["signal"], out, err
                return st.get("exitcode", 1), out, err
            if time.monotonic() >= deadline:
                return 124, b"", f"qga.py: {argv[0]} still running after {timeout:g} s\n".encode()
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def main():
    ap = argparse.ArgumentParser(prog="qga.py", description=__doc__.split("\n")[0])
    ap.add_argument("socket")
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wait")
    w.add_argument("--timeout", type=float, default=600)
    e = sub.add_parser("exec")
    e.add_argument("--timeout", type=float, default=300)
    e.add_argument("argv", nargs=argparse.REMAINDER)
    s = sub.add_parser("sh")
    s.add_argument("--timeout", type=float, default=300)
    s.add_argument("script")
    p = sub.add_parser("put")
    p.add_argument("--mode", help="chmod MODE afterwards (octal)")
    p.add_argument("local")
    p.add_argument("remote")
    sub.add_parser("shutdown")
    a = ap.parse_args()

    agent = Agent(a.socket)
    try:
        if a.cmd == "wait":
            agent.sync(a.timeout)
            return 0
        agent.sync(60)
        if a.cmd == "shutdown":
            # No reply on success: the agent is gone with the guest.
            agent._send({"execute": "guest-shutdown", "arguments": {"mode": "powerdown"}})
            return 0
        if a.cmd == "put":
            agent.put(a.local, a.remote)
            if a.mode:
                rc, out, err = agent.exec(["chmod", a.mode, a.remote], 60)
                sys.stderr.buffer.write(err)
                return rc
            return 0
        argv = a.argv[1:] if a.cmd == "exec" and a.argv[:1] == ["--"] else getattr(a, "argv", None)
        if a.cmd == "sh":
            argv = ["/bin/sh", "-c", a.script]
        if not argv:
            ap.error("exec: no command")
        rc, out, err = agent.exec(argv, a.timeout)
        sys.stdout.buffer.write(out)
        sys.stderr.buffer.write(err)
        return rc
    except AgentError as e:
        print(f"qga.py: {e}", file=sys.stderr)
        return 1
    finally:
        agent.close()


if __name__ == "__main__":
    sys.exit(main())
