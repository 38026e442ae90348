#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The eVNF comparison: the sfc chain (firewall -> flowmon -> load balancer,
XDP) against the same chain of kernel-path VNFs (iptables + conntrack,
softflowd, nftables DNAT), and HAProxy in place of the kernel LB for wrk.
See docs/bench-evnf.md; bench/evnf/run.sh is the one command.

Arms (the same policy in each):
  sfc         sfcctl apply: firewall (N rules, stateful) -> flowmon (sampling
              1, IPFIX through `sfcctl agent`) -> loadbalancer (nat)
  kernel      iptables-restore (FORWARD, conntrack ESTABLISHED first, the
              same N rules), softflowd (libpcap, IPFIX) on sfc-in, nftables
              DNAT spread by numgen as kube-proxy's nftables mode does
  haproxy     the same iptables rules on INPUT, softflowd, HAProxy (mode
              tcp) on the VIP: wrk only
  xdp-fwd     a bare XDP forwarder (xdpgen fwd): packet rate only
  kernel-fwd  plain kernel forwarding, no rules, no conntrack: packet rate only

Workloads: pps (xdpgen live frames, 64-byte frames), tcp1/tcp4 (iperf3 TCP,
1 and 4 streams), udp64/udp512/udp1400 (iperf3 UDP payload sizes), wrk-ka and
wrk-new (keep-alive and one connection per request, nginx on every backend).

Outputs in --out: runs.csv and runs.json (one row per run), summary.json
(medians), micro.json, env.json, report.md and plots/*.png.
"""
import argparse
import csv
import ipaddress
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(ROOT, "bench", "fw"))
import gen_rules as G  # noqa: E402  (the firewall benchmark's rule generator)

VIP = "10.10.9.10"
CLIENT_NET = "10.10.1.0/24"
# name, protocol, port, which backends: all of them or the first only
# (iperf3 runs a control and data connections that must meet one server).
SERVICES = [("http", "tcp", 80, "all"), ("iperf", "tcp", 5201, "first"),
            ("iperf-u", "udp", 5201, "first"), ("discard", "udp", 9, "all")]
WORKLOADS = ["pps", "tcp1", "tcp4", "udp64", "udp512", "udp1400", "wrk-ka", "wrk-new"]
ARM_WORKLOADS = {
    "sfc": WORKLOADS, "kernel": WORKLOADS, "haproxy": ["wrk-ka", "wrk-new"],
    "xdp-fwd": ["pps"], "kernel-fwd": ["pps"],
}
UNIT = {"pps": "Mpps", "tcp1": "Gbit/s", "tcp4": "Gbit/s", "udp64": "Gbit/s",
        "udp512": "Gbit/s", "udp1400": "Gbit/s", "wrk-ka": "k req/s", "wrk-new": "k req/s"}
BODY = ("<!DOCTYPE html><html><head><title>evnf</title></head><body>" + "x" * 552 +
        "</body></html>\n")  # 612 bytes, nginx's default index.html size
LAB_PREFIX = "evnf-"
SINK_PORT_SFC, SINK_PORT_KERNEL = 47391, 47392  # IPFIX collectors (a UDP sink)

VERBOSE = True
PROCS = []  # background processes to stop on exit


def log(msg):
    if VERBOSE:
        print("evnf: " + msg, file=sys.stderr, flush=True)


class HarnessError(Exception):
    """The harness broke (a tool missing, a chain not applying, no traffic)."""


def sh(cmd, check=True, timeout=600, inp=None):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, input=inp)
    if check and r.returncode != 0:
        raise HarnessError("failed (%d): %s\n%s" % (r.returncode, " ".join(map(shlex.quote, cmd)),
                                                   (r.stderr or r.stdout)[-2000:]))
    return r


def spawn(cmd, stdin=False, stdout=None):
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                         stdout=stdout if stdout is not None else subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    PROCS.append(p)
    return p


def stop(p, timeout=10):
    if p is None or p.poll() is not None:
        return
    if p.stdin:
        try:
            p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            pass
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def cpulist(cpus):
    return ",".join(str(c) for c in cpus)


def med(v):
    return statistics.median(v) if v else None


# ---- topology ----------------------------------------------------------------

class Topo:
    """Where things run. A host is {"exec": [prefix...], ...}: commands for it
    are prefix + command. The lab kind builds namespaces with scripts/lab.sh;
    a topology file (JSON, see docs/bench-evnf.md) names real hosts and
    interfaces instead."""

    def __init__(self, spec, lab=False):
        self.spec = spec
        self.lab = lab
        self.sfc = spec["sfc"]
        self.client = spec["client"]
        self.backends = spec["backends"]
        self.sink = spec["sink"]
        self.vip = spec.get("vip", VIP)
        self.ncpu = spec.get("cpus", os.cpu_count())
        self.threads = {"sfc": [], "gen": []}   # NAPI kthreads (lab)
        self.sfc_cpus = self.gen_cpus = list(range(self.ncpu))

    def x(self, host, cmd, cpus=None):
        pre = list(host["exec"])
        if cpus is not None and self.lab:
            pre += ["taskset", "-c", cpulist(cpus)]
        return pre + cmd

    def mac(self, host, dev):
        out = sh(self.x(host, ["ip", "-br", "link", "show", "dev", dev])).stdout.split()
        return out[2]

    def set_profile(self, profile):
        """The senders' segmentation offload. "wire": TSO off on the client
        and the backends, so that every veth carries MTU-sized frames as a
        physical link does (software GSO segments them on the sender's CPU,
        GRO on the receivers merges them again); "veth": the lab's defaults,
        where a TSO sender hands 64 KB super-packets through the veth, to a
        kernel-path SFC node, but not to one with native XDP on sfc-in (the
        kernel drops TSO on the peer of a veth with an XDP program)."""
        self.profile = profile
        if not self.lab:
            return
        v = "off" if profile == "wire" else "on"
        for h, dev in [(self.client, self.client["if"])] + [(b, b["if"]) for b in self.backends]:
            sh(self.x(h, ["ethtool", "-K", dev, "tso", v]), check=False)

    def place(self, k):
        """Give the SFC node k CPUs: its NAPI threads (and userspace VNFs,
        started later) on the last k CPUs; traffic generators, servers, the
        switch and the receivers' NAPI threads on the others (all of them
        when k is every CPU)."""
        n = self.ncpu
        self.sfc_cpus = list(range(n - k, n))
        self.gen_cpus = list(range(0, n - k)) if k < n else list(range(n))
        if not self.lab:
            return
        mask = "%x" % sum(1 << c for c in self.gen_cpus)
        for n, dev in getattr(self, "rps", []):
            for q in range(self.ncpu):
                sh(["ip", "netns", "exec", LAB_PREFIX + n, "sh", "-c",
                    "echo %s > /sys/class/net/%s/queues/rx-%d/rps_cpus" % (mask, dev, q)])
        for pid in self.threads["sfc"]:
            sh(["taskset", "-p", "-c", cpulist(self.sfc_cpus), str(pid)])
        for pid in self.threads["gen"]:
            sh(["taskset", "-p", "-c", cpulist(self.gen_cpus), str(pid)])
        for p in getattr(self, "servers", []):
            sh(["taskset", "-a", "-p", "-c", cpulist(self.gen_cpus), str(p.pid)], check=False)


def napi_pids():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/comm" % d) as f:
                    c = f.read().strip()
            except OSError:
                continue
            if c.startswith("napi/"):
                out[int(d)] = c
    return out


def lab_up(nb, ncpu):
    P = LAB_PREFIX
    sh(["bash", os.path.join(ROOT, "scripts", "lab.sh"), "down", "--prefix", P], check=False)
    log("lab: scripts/lab.sh up --prefix %s --backends %d" % (P, nb))
    sh(["bash", os.path.join(ROOT, "scripts", "lab.sh"), "up", "--prefix", P, "--backends", str(nb)])

    def nsx(n):
        return ["nsenter", "--net=/run/netns/" + P + n]
    spec = {
        "sfc": {"exec": nsx("sfc"), "netns": P + "sfc", "in": "sfc-in", "out": "sfc-out",
                "in_addr": "10.10.1.254", "out_addr": "10.10.2.254"},
        "client": {"exec": nsx("client"), "if": "eth0", "addr": "10.10.1.1"},
        "backends": [{"exec": nsx("b%d" % k), "if": "eth0", "addr": "10.10.2.%d" % (10 + k)}
                     for k in range(1, nb + 1)],
        "sink": {"exec": nsx("br"), "if": "sfc"},
        "cpus": ncpu,
    }
    t = Topo(spec, lab=True)
    # Queues: as many as CPUs on every veth of the path (a VM's vNIC with a
    # queue pair per vCPU), so that flows spread over the SFC node's CPUs.
    devs = [("client", "eth0", "gen"), ("sfc", "sfc-in", "sfc"), ("sfc", "sfc-out", "sfc"),
            ("br", "sfc", "gen")] + [("b%d" % k, "eth0", "gen") for k in range(1, nb + 1)]
    for n, dev, _ in devs:
        sh(nsx(n) + ["ethtool", "-L", dev, "rx", str(ncpu), "tx", str(ncpu)], check=False)
    # Threaded NAPI: each receive queue's work in a kthread of its own, which
    # can be pinned; softirq processing would run on whatever CPU sent.
    for n, dev, role in devs:
        before = napi_pids()
        sh(["ip", "netns", "exec", P + n, "sh", "-c", "echo 1 > /sys/class/net/%s/threaded" % dev])
        new = sorted(set(napi_pids()) - set(before))
        if not new:
            raise HarnessError("threaded NAPI on %s%s %s made no kthread" % (P, n, dev))
        t.threads[role] += new
    # Receive processing comes before userspace, as a softirq does: in a
    # kthread of the default class it would share its CPU with iperf3, wrk
    # and nginx on equal terms, fall behind, and the XDP redirects into its
    # ring (no backpressure there) would drop. SCHED_FIFO puts it first; the
    # kernel's RT throttling (95%) still leaves userspace its share.
    for pid in t.threads["sfc"] + t.threads["gen"]:
        sh(["chrt", "-f", "-p", "50", str(pid)])
    log("lab: NAPI kthreads: SFC node %s, generators %s" % (t.threads["sfc"], t.threads["gen"]))
    # A qdisc on every veth: a veth transmits into its peer's ring, and with
    # the peer's NAPI in a kthread on another CPU the sender outruns it; with
    # the default noqueue a full ring drops (measured: 113,892 drops and as
    # many TCP retransmits in 3 s of iperf3), with a qdisc the kernel stops
    # the queue until the ring drains (backpressure). XDP_REDIRECT into a
    # veth (ndo_xdp_xmit) bypasses qdiscs: a full ring drops, and is counted.
    for n, dev in [("client", "eth0"), ("sfc", "sfc-in"), ("sfc", "sfc-out"), ("br", "sfc"),
                   ("br", "server"), ("server", "eth0")] + \
            [("br", "b%d" % k) for k in range(1, nb + 1)] + [("b%d" % k, "eth0") for k in range(1, nb + 1)]:
        sh(nsx(n) + ["tc", "qdisc", "replace", "dev", dev, "root", "pfifo", "limit", "1000"])
    # Where receive processing runs. veth_xmit hands a frame to the peer's
    # NAPI (a kthread here) only if the sending device has no TSO; a TSO
    # sender's frames go through netif_rx to the backlog of the *sending*
    # CPU. So: no TSO on the switch's ports (a switch does not segment),
    # and RPS on the receivers of the SFC node's TSO-capable interfaces
    # (the client, the switch's port facing sfc-out) sends their backlog to
    # the generators' CPUs (set in place()); otherwise the client's and the
    # backends' TCP receive work would run on, and be charged to, the SFC
    # node's CPU in the kernel chain (seen with perf), never in the XDP one.
    for dev in ["sfc", "server"] + ["b%d" % k for k in range(1, nb + 1)]:
        sh(nsx("br") + ["ethtool", "-K", dev, "tso", "off"])
    t.rps = [("client", "eth0"), ("br", "sfc")]
    # Client: many connections (wrk-new). Everyone: neighbours resolved.
    sh(nsx("client") + ["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65535",
                        "net.ipv4.tcp_tw_reuse=1"])
    for b in spec["backends"]:
        sh(b["exec"] + ["sysctl", "-qw", "net.core.somaxconn=8192",
                        "net.ipv4.tcp_max_syn_backlog=8192"])
    return t


def topo_file(path):
    with open(path) as f:
        spec = json.load(f)
    for h in [spec["sfc"], spec["client"], spec["sink"]] + spec["backends"]:
        h["exec"] = shlex.split(h.get("exec", ""))
    return Topo(spec, lab=False)


def prime_neighbours(t):
    for b in t.backends:
        sh(t.x(t.sfc, ["ping", "-c", "1", "-W", "1", b["addr"]]), check=False)
    sh(t.x(t.sfc, ["ping", "-c", "1", "-W", "1", t.client["addr"]]), check=False)


def offloads(t):
    """The offloads that matter on this path, per interface."""
    keys = {"tx-checksumming": "tx-csum", "tcp-segmentation-offload": "tso",
            "generic-segmentation-offload": "gso", "generic-receive-offload": "gro",
            "rx-gro-list": "gro-list", "rx-udp-gro-forwarding": "udp-gro-fwd"}
    out = {}
    for name, host, dev in [("client " + t.client["if"], t.client, t.client["if"]),
                            ("sfc " + t.sfc["in"], t.sfc, t.sfc["in"]),
                            ("sfc " + t.sfc["out"], t.sfc, t.sfc["out"]),
                            ("sink " + t.sink["if"], t.sink, t.sink["if"]),
                            ("backend " + t.backends[0]["if"], t.backends[0], t.backends[0]["if"])]:
        r = sh(t.x(host, ["ethtool", "-k", dev]), check=False)
        on = []
        for line in r.stdout.splitlines():
            k, _, v = line.strip().partition(":")
            if k in keys and v.strip().startswith("on"):
                on.append(keys[k])
        xdp = sh(t.x(host, ["ip", "link", "show", "dev", dev]), check=False).stdout
        mode = "xdp" if " xdp " in xdp or "prog/xdp" in xdp else ""
        out[name] = " ".join(on) + (" [XDP]" if mode else "")
    return out


# ---- servers on the backends ---------------------------------------------------

def start_servers(t, tmp):
    t.servers = []
    for i, b in enumerate(t.backends, 1):
        d = os.path.join(tmp, "b%d" % i)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("""daemon off;
worker_processes 1;
user root;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log crit;
worker_rlimit_nofile 65536;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path %(d)s/body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    default_type text/html;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    server {
        listen %(addr)s:80 backlog=8192 reuseport;
        location / { return 200 '%(body)s'; }
    }
}
""" % {"d": d, "addr": b["addr"], "body": BODY})
        t.servers.append(spawn(t.x(b, ["nginx", "-c", d + "/nginx.conf", "-e", d + "/error.log"],
                                   t.gen_cpus)))
    b1 = t.backends[0]
    t.servers.append(spawn(t.x(b1, ["iperf3", "-s", "-p", "5201", "--bind", b1["addr"]], t.gen_cpus)))
    time.sleep(1)
    for p in t.servers:
        if p.poll() is not None:
            raise HarnessError("a server did not start: %s" % p.stderr.read()[-500:])
    for b in t.backends:
        r = sh(t.x(t.sfc, ["python3", "-c", "import socket,sys; socket.create_connection("
                           "(sys.argv[1], 80), timeout=3).close()", b["addr"]]), check=False)
        if r.returncode:
            raise HarnessError("nginx on %s does not answer" % b["addr"])


# ---- the policy -------------------------------------------------------------------

def bench_packets():
    return [G.packet("bench", 4, proto, "10.10.1.1", VIP, 40000, port)
            for _, proto, port, _ in SERVICES]


def gen_rules(n, seed=1):
    """n firewall rules: random ones drawn like bench/fw's, then the rules
    that allow the benchmark's services, last (so iptables walks them all).
    No random rule decides a benchmark packet."""
    r = random.Random(seed)
    bench = [G.Rule("allow", 4, ipaddress.ip_network(CLIENT_NET),
                    ipaddress.ip_network(VIP + "/32"), proto, port)
             for _, proto, port, _ in SERVICES]
    pkts = bench_packets()
    population = [s for s, w, _ in G.SHAPES for _ in range(w)]
    mid = []
    while len(mid) < max(0, n - len(bench)):
        ru = G.random_rule(r, r.choice(population))
        if not any(ru.matches(p, {}) for p in pkts):
            mid.append(ru)
    return mid, bench


def backends_of(svc_which, t, nb):
    return t.backends[:1] if svc_which == "first" else t.backends[:nb]


def sfc_chain(path, t, mid, bench, nb):
    svcs = []
    for _, proto, port, which in SERVICES:
        bs = ", ".join("{address: %s}" % b["addr"] for b in backends_of(which, t, nb))
        svcs.append("          - {vip: %s, port: %d, protocol: %s, mode: nat, backends: [%s]}"
                    % (t.vip, port, proto, bs))
    with open(path, "w") as f:
        f.write("""# Generated by bench/evnf/evnf.py: %d firewall rules -> flowmon -> loadbalancer
apiVersion: sfc/v1alpha1
kind: Chain
metadata: {name: evnf}
spec:
  interface: %s
  xdpMode: native
  egress: {action: redirect, interface: %s}
  functions:
    - name: fw
      type: firewall
      config:
        defaultAction: drop
        stateful: true
        maxConnections: 262144
        rules:
""" % (len(mid) + len(bench), t.sfc["in"], t.sfc["out"]))
        f.writelines("          - %s\n" % ru.yaml() for ru in mid + bench)
        f.write("""    - name: mon
      type: flowmon
      config:
        maxFlows: 262144
        sampling: 1
        activeTimeout: 60s
        inactiveTimeout: 15s
        ipfix: {collector: "127.0.0.1:%d", transport: udp}
    - name: lb
      type: loadbalancer
      config:
        maxConnections: 1048576
        services:
""" % SINK_PORT_SFC)
        f.write("\n".join(svcs) + "\n")


def micro_chains(d, t, mid, bench, nb):
    """The chains of the micro-benchmark: each function alone, and chains of
    length 1..3, all with the live run's configs. Each twice: with the live
    run's egress (redirect, which rewrites MACs and TTL: timed with repeat=1
    only, @rw) and with egress pass (-p), which leaves the packet as it is
    unless the chain has the load balancer, so that method A (repeat=10^6)
    can time it."""
    sfc_chain(os.path.join(d, "full.yaml"), t, mid, bench, nb)
    with open(os.path.join(d, "full.yaml")) as f:
        text = f.read()
    head, _, funcs = text.partition("  functions:\n")
    parts = {}
    cur = None
    for line in funcs.splitlines(True):
        if line.startswith("    - name: "):
            cur = line.split()[-1]
            parts[cur] = ""
        parts[cur] += line
    out = []
    for name, fns in [("evnf-pt", None), ("evnf-fw", ["fw"]), ("evnf-fm", ["mon"]),
                      ("evnf-lb", ["lb"]), ("evnf-fw-fm", ["fw", "mon"]),
                      ("evnf-fw-fm-lb", ["fw", "mon", "lb"])]:
        body = ("    - name: pt\n      type: passthrough\n" if fns is None
                else "".join(parts[x] for x in fns))
        for suffix in ("", "-p"):
            h = head.replace("metadata: {name: evnf}", "metadata: {name: %s%s}" % (name, suffix))
            if suffix:
                h = h.replace("egress: {action: redirect, interface: %s}" % t.sfc["out"],
                              "egress: {action: pass}")
            p = os.path.join(d, name + suffix + ".yaml")
            with open(p, "w") as f:
                f.write(h + "  functions:\n" + body)
            rw = not suffix or (fns and "lb" in fns)
            out.append(p + ("@rw" if rw else ""))
    return out


def ipt_rules(mid, bench, chain):
    """iptables-restore input: conntrack first, the same rules, the
    benchmark's allows. FORWARD sees the packet after DNAT: its allows match
    the original destination (--ctorigdst), as the sfc firewall, which runs
    before the load balancer, matches the VIP."""
    lines = ["*filter", ":INPUT %s [0:0]" % ("DROP" if chain == "INPUT" else "ACCEPT"),
             ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    if chain == "INPUT":
        lines.append("-A INPUT -i lo -j ACCEPT")
    lines.append("-A %s -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT" % chain)
    lines += [ru.ipt(4).replace("-A FORWARD", "-A " + chain) for ru in mid if ru.family == 4]
    for ru in bench:
        if chain == "FORWARD":
            lines.append("-A FORWARD -s %s -p %s -m conntrack --ctorigdst %s -m %s --dport %d -j ACCEPT"
                         % (CLIENT_NET, ru.proto, VIP, ru.proto, ru.dport))
        else:
            lines.append("-A INPUT -s %s -d %s -p %s -m %s --dport %d -j ACCEPT"
                         % (CLIENT_NET, VIP, ru.proto, ru.proto, ru.dport))
    lines.append("COMMIT")
    v6 = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
    v6 += [ru.ipt(6).replace("-A FORWARD", "-A " + chain) for ru in mid if ru.family == 6]
    v6.append("COMMIT")
    return "\n".join(lines) + "\n", "\n".join(v6) + "\n"


def nft_lb(t, nb):
    """kube-proxy's nftables mode: a service chain per VIP:port picks an
    endpoint chain with `numgen random mod N vmap`, the endpoint chain DNATs;
    conntrack keeps the flow there and undoes the NAT on the replies."""
    out = ["table ip evnf_lb {"]
    pre = []
    for name, proto, port, which in SERVICES:
        bs = backends_of(which, t, nb)
        svc = "svc-%s" % name
        pre.append("    ip daddr %s %s dport %d jump %s" % (t.vip, proto, port, svc))
        for i, b in enumerate(bs):
            out.append("  chain %s-ep%d {\n    dnat to %s\n  }" % (svc, i, b["addr"]))
        vm = ", ".join("%d : goto %s-ep%d" % (i, svc, i) for i in range(len(bs)))
        out.append("  chain %s {\n    numgen random mod %d vmap { %s }\n  }" % (svc, len(bs), vm))
    out.append("  chain prerouting {\n    type nat hook prerouting priority dstnat; policy accept;")
    out += pre
    out.append("  }\n}")
    return "\n".join(out) + "\n"


# ---- arms -------------------------------------------------------------------------

class Env:
    def __init__(self, a, t, tmp):
        self.a, self.t, self.tmp = a, t, tmp
        self.sfcctl = a.sfcctl
        self.pin_root = "/sys/fs/bpf/sfc-evnf-%d" % os.getpid()
        self.xdpgen = a.xdpgen
        self.userspace = []  # the SFC node's userspace VNF processes of the arm up now
        self.ipt = a.iptables

    def sfcctl_cmd(self, *args):
        s = self.t.sfc
        if s.get("netns"):
            return [self.sfcctl, "--pin-root", self.pin_root, "-n", s["netns"]] + list(args)
        return list(s["exec"]) + [self.sfcctl, "--pin-root", self.pin_root] + list(args)


def collector(env, port):
    """A UDP sink for IPFIX on the SFC node's loopback (the agent runs in the
    host's netns: in the lab, the host's loopback)."""
    code = ("import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            "s.bind(('127.0.0.1',int(sys.argv[1])))\nwhile True: s.recv(65536)\n")
    t = env.t
    pre = [] if (t.lab and port == SINK_PORT_SFC) else list(t.sfc["exec"])
    return spawn(pre + ["python3", "-c", code, str(port)])


def arm_up(env, arm, rules, nb, k):
    t = env.t
    d = env.tmp
    mid, bench = gen_rules(rules)
    env.userspace = []
    if arm == "sfc":
        path = os.path.join(d, "evnf-%d-%d.yaml" % (rules, nb))
        sfc_chain(path, t, mid, bench, nb)
        sh(env.sfcctl_cmd("apply", path))
        env.userspace.append(collector(env, SINK_PORT_SFC))
        pre = [] if t.sfc.get("netns") else list(t.sfc["exec"])
        env.agent = spawn(pre + (["taskset", "-c", cpulist(t.sfc_cpus)] if t.lab else []) +
                          [env.sfcctl, "--pin-root", env.pin_root, "agent", "--interval", "1s"])
        env.userspace.append(env.agent)
    elif arm in ("kernel", "haproxy"):
        chain = "FORWARD" if arm == "kernel" else "INPUT"
        v4, v6 = ipt_rules(mid, bench, chain)
        sh(t.x(t.sfc, [env.ipt + "-restore"]), inp=v4)
        sh(t.x(t.sfc, [env.ipt.replace("iptables", "ip6tables") + "-restore"]), inp=v6)
        if arm == "kernel":
            sh(t.x(t.sfc, ["nft", "-f", "-"]), inp=nft_lb(t, nb))
        sh(t.x(t.sfc, ["conntrack", "-F"]), check=False)
        env.userspace.append(collector(env, SINK_PORT_KERNEL))
        ctl = os.path.join(d, "softflowd.ctl")
        env.userspace.append(spawn(t.x(t.sfc, [
            "softflowd", "-d", "-i", t.sfc["in"], "-v", "10", "-n", "127.0.0.1:%d" % SINK_PORT_KERNEL,
            "-m", "262144", "-t", "maxlife=60", "-t", "general=15", "-c", ctl,
            "-p", os.path.join(d, "softflowd.pid")], t.sfc_cpus)))
        if arm == "haproxy":
            sh(t.x(t.sfc, ["ip", "addr", "add", t.vip + "/32", "dev", "lo"]), check=False)
            cfg = os.path.join(d, "haproxy.cfg")
            with open(cfg, "w") as f:
                f.write("global\n  nbthread %d\n  maxconn 8000\n"
                        "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n"
                        "  timeout server 60s\n  maxconn 8000\n"
                        "frontend fe\n  bind %s:80\n  default_backend be\n"
                        "backend be\n  balance roundrobin\n" % (len(t.sfc_cpus), t.vip))
                for i, b in enumerate(t.backends[:nb], 1):
                    f.write("  server b%d %s:80 weight 1\n" % (i, b["addr"]))
            env.userspace.append(spawn(t.x(t.sfc, ["haproxy", "-db", "-f", cfg], t.sfc_cpus)))
    elif arm == "xdp-fwd":
        smac = t.mac(t.sink, t.sink["if"])
        p = spawn(t.x(t.sfc, [env.xdpgen, "fwd", "-i", t.sfc["in"], "-o", t.sfc["out"],
                              "--dmac", smac]), stdin=True, stdout=subprocess.PIPE)
        line = p.stdout.readline()
        if "attached" not in line:
            raise HarnessError("xdpgen fwd: %s" % p.stderr.read()[-500:])
        env.fwd = p
    elif arm == "kernel-fwd":
        pass
    time.sleep(1.0)
    for p in env.userspace:
        if p.poll() is not None:
            raise HarnessError("%s: a VNF process exited: %s" % (arm, p.stderr.read()[-800:]))
    prime_neighbours(t)


def arm_down(env, arm):
    t = env.t
    for p in env.userspace:
        stop(p)
    env.userspace = []
    if arm == "sfc":
        sh(env.sfcctl_cmd("delete", "evnf"), check=False)
    elif arm in ("kernel", "haproxy"):
        sh(t.x(t.sfc, ["nft", "flush", "ruleset"]), check=False)
        if "legacy" in env.ipt:
            for tool in ("iptables-legacy", "ip6tables-legacy"):
                sh(t.x(t.sfc, [tool, "-F"]), check=False)
                for c in ("INPUT", "FORWARD"):
                    sh(t.x(t.sfc, [tool, "-P", c, "ACCEPT"]), check=False)
        sh(t.x(t.sfc, ["conntrack", "-F"]), check=False)
        if arm == "haproxy":
            sh(t.x(t.sfc, ["ip", "addr", "del", t.vip + "/32", "dev", "lo"]), check=False)
    elif arm == "xdp-fwd":
        stop(getattr(env, "fwd", None))


# ---- drops ---------------------------------------------------------------------

DROP_KEYS = ("drops", "xdp_xmit_err", "xdp_tx_err", "peer_tx_drops", "rx_drops", "tx_drops")


def drop_counters(t):
    """Packets lost inside the lab: per device, ip's tx/rx dropped and the
    veth's drop counters (ethtool -S), summed over queues."""
    out = {}
    for name, host, dev in [("client", t.client, t.client["if"]), ("sfc-in", t.sfc, t.sfc["in"]),
                            ("sfc-out", t.sfc, t.sfc["out"]), ("sink", t.sink, t.sink["if"])]:
        n = 0
        r = sh(t.x(host, ["ip", "-s", "link", "show", "dev", dev]), check=False).stdout.split("\n")
        try:
            n += int(r[3].split()[3]) + int(r[5].split()[3])
        except (IndexError, ValueError):
            pass
        for line in sh(t.x(host, ["ethtool", "-S", dev]), check=False).stdout.splitlines():
            k, _, v = line.strip().partition(":")
            if k.endswith(DROP_KEYS) and v.strip().isdigit():
                n += int(v)
        out[name] = n
    return out


# ---- CPU ---------------------------------------------------------------------------

def sched_ns(pids):
    """ns on CPU of every thread of pids (schedstat's first field)."""
    total = 0
    for pid in pids:
        try:
            tasks = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
    return total


class CpuMeter:
    """mpstat over the run for the SFC node's CPUs, and the exact CPU time
    of the SFC node's threads (its NAPI kthreads and userspace VNFs)."""

    def __init__(self, env, seconds):
        self.env, self.seconds = env, max(1, int(seconds))

    def __enter__(self):
        t = self.env.t
        self.pids = (t.threads["sfc"] + [p.pid for p in self.env.userspace]) if t.lab else []
        self.mp = spawn(t.x(t.sfc, ["mpstat", "-P", "ALL", "-o", "JSON", "1", str(self.seconds)]),
                        stdout=subprocess.PIPE)
        self.t0 = time.monotonic()
        self.ns0 = sched_ns(self.pids)
        self.d0 = drop_counters(t)
        return self

    def __exit__(self, *exc):
        self.wall = time.monotonic() - self.t0
        self.ns1 = sched_ns(self.pids)
        try:
            out, _ = self.mp.communicate(timeout=self.seconds + 10)
        except subprocess.TimeoutExpired:
            self.mp.kill()
            out = ""
        self.result = self._parse(out)
        d1 = drop_counters(self.env.t)
        dd = {k: d1[k] - self.d0.get(k, 0) for k in d1}
        self.result["drops"] = sum(dd.values())
        self.result["drops_by_dev"] = json.dumps({k: v for k, v in dd.items() if v})
        return False

    def _parse(self, out):
        t = self.env.t
        cpus = [str(c) for c in t.sfc_cpus] if t.lab else ["all"]
        acc = {k: [] for k in ("usr", "sys", "soft", "irq", "idle")}
        per_cpu = {}
        try:
            stats = json.loads(out)["sysstat"]["hosts"][0]["statistics"]
        except (ValueError, KeyError, IndexError):
            stats = []
        for s in stats:
            for c in s["cpu-load"]:
                per_cpu.setdefault(c["cpu"], []).append(c)
        r = {}
        for k in acc:
            vals = []
            for c in cpus:
                samples = per_cpu.get(c, [])
                if samples:
                    vals.append(sum(x[k] for x in samples) / len(samples))
            r["mp_" + k] = sum(vals) if t.lab else (vals[0] * t.ncpu if vals else None)
        busy = [r["mp_" + k] for k in ("usr", "sys", "soft", "irq")]
        r["mp_cores"] = sum(busy) / 100 if None not in busy else None
        r["mp_all_cores"] = None
        if "all" in per_cpu:
            a = per_cpu["all"]
            r["mp_all_cores"] = sum(100 - x["idle"] for x in a) / len(a) / 100 * t.ncpu
        r["thr_cores"] = (self.ns1 - self.ns0) / 1e9 / self.wall if self.pids else None
        return r


# ---- workloads ---------------------------------------------------------------------

def w_pps(env, arm, seconds):
    t = env.t
    dst = t.vip if arm in ("sfc", "kernel") else t.backends[0]["addr"]
    sink = spawn(t.x(t.sink, [env.xdpgen, "sink", "-i", t.sink["if"], "--dport", "9"]),
                 stdin=True, stdout=subprocess.PIPE)
    try:
        if "attached" not in sink.stdout.readline():
            raise HarnessError("xdpgen sink: %s" % sink.stderr.read()[-500:])

        def counts():
            sink.stdin.write("\n")
            sink.stdin.flush()
            return json.loads(sink.stdout.readline())
        cmac = t.mac(t.client, t.client["if"])
        smac = t.mac(t.sfc, t.sfc["in"])
        gen = t.x(t.client, [env.xdpgen, "send", "-i", t.client["if"], "--smac", cmac,
                             "--dmac", smac, "--src", t.client["addr"], "--dst", dst,
                             "--dport", "9", "--flows", "256", "-t", str(seconds),
                             "--cpus", cpulist(t.gen_cpus)])
        c0 = counts()
        with CpuMeter(env, seconds) as m:
            r = sh(gen, timeout=seconds + 60)
        time.sleep(0.3)
        c1 = counts()
    finally:
        stop(sink)
    g = json.loads(r.stdout)
    got = c1["total"] - c0["total"]
    by = {k: c1["by_dst"].get(k, 0) - c0["by_dst"].get(k, 0) for k in c1["by_dst"]}
    row = {"value": got / g["seconds"] / 1e6, "offered_mpps": g["runs"] / g["seconds"] / 1e6,
           "received": got, "by_dst": json.dumps({k: v for k, v in by.items() if v})}
    row.update(m.result)
    return row


def w_iperf(env, arm, seconds, streams=1, udp_len=None):
    t = env.t
    cmd = ["iperf3", "-c", t.vip, "-p", "5201", "-t", str(seconds), "-J", "--connect-timeout", "10000"]
    if udp_len:
        cmd += ["-u", "-b", "0", "-l", str(udp_len)]
    else:
        cmd += ["-P", str(streams)]
    with CpuMeter(env, seconds) as m:
        r = sh(t.x(t.client, cmd, t.gen_cpus), check=False, timeout=seconds + 60)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        raise HarnessError("iperf3 gave no JSON: %s" % (r.stderr or r.stdout)[-500:])
    if "error" in j:
        raise HarnessError("iperf3: %s" % j["error"])
    e = j["end"]
    row = {}
    if udp_len:
        s = e["sum"]
        # The receiver's count: what the server got (lost = sent - received).
        sec = s.get("seconds") or seconds
        rcv = s["packets"] - s["lost_packets"]
        row["value"] = rcv * udp_len * 8 / sec / 1e9
        row["kpps"] = rcv / sec / 1e3
        row["loss_pct"] = s["lost_percent"]
        row["sent_gbps"] = s["bits_per_second"] / 1e9
    else:
        row["value"] = e["sum_received"]["bits_per_second"] / 1e9
        row["retransmits"] = e["sum_sent"].get("retransmits")
    row.update(m.result)
    return row


def w_wrk(env, arm, seconds, keepalive):
    t = env.t
    cmd = ["wrk", "-t", str(len(t.gen_cpus)), "-c", "64", "-d", "%ds" % seconds, "--timeout", "2s",
           "-s", os.path.join(HERE, "wrk_report.lua")]
    if not keepalive:
        cmd += ["-H", "Connection: close"]
    cmd.append("http://%s/" % t.vip)
    with CpuMeter(env, seconds) as m:
        r = sh(t.x(t.client, cmd, t.gen_cpus), check=False, timeout=seconds + 60)
    line = [x for x in r.stdout.splitlines() if x.startswith("EVNF_WRK ")]
    if not line:
        raise HarnessError("wrk gave no report: %s" % (r.stderr or r.stdout)[-500:])
    j = json.loads(line[-1][len("EVNF_WRK "):])
    sec = j["duration_us"] / 1e6
    row = {"value": j["requests"] / sec / 1e3, "errors": sum(j["errors"].values())}
    for k, v in j["latency_us"].items():
        row["lat_" + k] = v
    row.update(m.result)
    return row


def run_workload(env, arm, w, seconds):
    if w == "pps":
        return w_pps(env, arm, seconds)
    if w in ("tcp1", "tcp4"):
        return w_iperf(env, arm, seconds, streams=int(w[3:]))
    if w.startswith("udp"):
        return w_iperf(env, arm, seconds, udp_len=int(w[3:]))
    return w_wrk(env, arm, seconds, keepalive=(w == "wrk-ka"))


def per_unit(row, w):
    """SFC-node CPU (cores) per unit of work: per Gbit/s, per Mpps, per 1k req/s."""
    for src in ("thr_cores", "mp_cores"):
        c = row.get(src)
        v = row.get("value")
        row[src.replace("cores", "per_unit")] = (c / v) if (c is not None and v) else None


# ---- the sweep ---------------------------------------------------------------------

def plan(a, ncpu):
    """The points to run: (profile, k, rules, backends, arm, workloads)."""
    ks = a.cpus or list(range(1, ncpu + 1))
    pts = []
    nb0, r0, p0 = a.backends[-1], a.rules[0], a.offloads[0]

    def add(k, rules, nb, arms, wls, prof=p0):
        for arm in arms:
            w = [x for x in wls if x in ARM_WORKLOADS[arm]]
            if w:
                pts.append((prof, k, rules, nb, arm, w))
    main_arms = [x for x in a.arms if x in ("sfc", "kernel", "haproxy")]
    base_arms = [x for x in a.arms if x in ("xdp-fwd", "kernel-fwd")]
    for k in ks:  # the CPU sweep: every workload
        add(k, r0, nb0, main_arms, a.workloads)
    add(ks[0], r0, nb0, base_arms, ["pps"])
    for rules in a.rules[1:]:  # the rule sweep
        add(ks[0], rules, nb0, main_arms, [w for w in a.rule_workloads if w in a.workloads])
    for nb in a.backends[:-1]:  # the backend sweep
        add(ks[0], r0, nb, main_arms, [w for w in a.backend_workloads if w in a.workloads])
    for prof in a.offloads[1:]:  # the other offload profiles
        add(ks[0], r0, nb0, [x for x in main_arms if x != "haproxy"],
            [w for w in a.offload_workloads if w in a.workloads], prof)
    return pts


def sweep(env, a):
    t = env.t
    pts = plan(a, t.ncpu)
    rows = []
    total = sum(len(x[-1]) for x in pts) * a.reps
    done = 0
    t_start = time.monotonic()
    for rep in range(a.reps):
        # Repetitions outermost, so that a disturbance hits every arm alike.
        for prof, k, rules, nb, arm, wls in pts:
            t.place(k)
            t.set_profile(prof)
            log("rep %d/%d: offloads=%s k=%d rules=%d backends=%d arm=%s" % (
                rep + 1, a.reps, prof, k, rules, nb, arm))
            arm_up(env, arm, rules, nb, k)
            try:
                offl = offloads(t)
                for w in wls:
                    row = {"rep": rep, "profile": prof, "k": k, "rules": rules, "backends": nb, "arm": arm,
                           "workload": w, "unit": UNIT[w], "seconds": a.duration,
                           "sfc_cpus": cpulist(t.sfc_cpus), "gen_cpus": cpulist(t.gen_cpus),
                           "loadavg": open("/proc/loadavg").read().split()[0],
                           "offloads": json.dumps(offl, sort_keys=True)}
                    try:
                        res = run_workload(env, arm, w, a.duration)
                    except HarnessError as e:
                        # One retry: a tool that timed out once on a busy
                        # machine is not a broken harness; twice is.
                        log("  %s/%s failed, once more: %s" % (arm, w, e))
                        row["retried"] = str(e)[:200]
                        time.sleep(2)
                        try:
                            res = run_workload(env, arm, w, a.duration)
                        except HarnessError as e2:
                            if arm == "sfc":
                                st = sh(env.sfcctl_cmd("stats", "evnf"), check=False).stdout
                                raise HarnessError("%s\nsfcctl stats:\n%s" % (e2, st))
                            raise
                    row.update(res)
                    per_unit(row, w)
                    if arm == "sfc":
                        st = sh(env.sfcctl_cmd("-j", "stats", "evnf"), check=False)
                        row["sfc_stats_ok"] = st.returncode == 0
                    rows.append(row)
                    done += 1
                    el = time.monotonic() - t_start
                    log("  %-8s %-10s %8.3f %s  sfc cpu %s  (%d/%d, %.0f s, ~%.0f s left)" % (
                        w, arm, row["value"] or 0, UNIT[w],
                        "%.2f" % row["thr_cores"] if row.get("thr_cores") is not None else "-",
                        done, total, el, el / done * (total - done)))
                    if not row["value"]:
                        raise HarnessError("%s/%s: no traffic went through" % (arm, w))
            finally:
                arm_down(env, arm)
    return rows


def summarize(rows):
    groups = {}
    for r in rows:
        groups.setdefault((r["profile"], r["k"], r["rules"], r["backends"], r["arm"], r["workload"]),
                          []).append(r)
    out = []
    for key, rs in sorted(groups.items(), key=lambda x: tuple(str(v) for v in x[0])):
        s = dict(zip(("profile", "k", "rules", "backends", "arm", "workload"), key))
        s["unit"] = rs[0]["unit"]
        s["n"] = len(rs)
        for f in ("value", "thr_cores", "mp_cores", "thr_per_unit", "mp_per_unit", "mp_usr",
                  "mp_sys", "mp_soft", "mp_irq", "lat_p50", "lat_p99", "lat_p99.9", "loss_pct",
                  "retransmits", "offered_mpps", "kpps", "errors", "mp_all_cores", "drops"):
            v = [r[f] for r in rs if r.get(f) is not None]
            if v:
                s[f] = med(v)
                s[f + "_min"] = min(v)
                s[f + "_max"] = max(v)
        s["offloads"] = rs[0]["offloads"]
        s["by_dst"] = rs[0].get("by_dst")
        out.append(s)
    return out


# ---- micro-benchmark ---------------------------------------------------------------

def micro(env, a, t):
    d = os.path.join(env.tmp, "micro")
    os.makedirs(d, exist_ok=True)
    mid, bench = gen_rules(a.rules[0])
    files = micro_chains(d, t, mid, bench, a.backends[-1])
    cpu = t.ncpu - 1
    cmd = [a.evnf_micro, "-c", str(cpu), "-r", str(a.micro_rounds), "-n", str(a.micro_repeat),
           "-s", str(a.micro_shots), "--src", "10.10.1.1", "--dst", VIP, "--sport", "10000",
           "--dport", "9"] + files
    log("micro: " + " ".join(cmd))
    r = sh(cmd, timeout=1800)
    j = json.loads(r.stdout)
    j["rules"] = a.rules[0]
    return j


# ---- report ------------------------------------------------------------------------

def fmt(v, nd=2):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.*f" % (nd, v)


def spread(s, f, nd=2):
    if s.get(f) is None:
        return "-"
    if s.get("n", 1) > 1:
        return "%s (%s..%s)" % (fmt(s[f], nd), fmt(s[f + "_min"], nd), fmt(s[f + "_max"], nd))
    return fmt(s[f], nd)


def find(summ, **kw):
    for s in summ:
        if all(s.get(k) == v for k, v in kw.items()):
            return s
    return None


def ratio(a, b):
    return a / b if (a is not None and b) else None


def headline(summ, k, rules, nb):
    rows = []
    for w in WORKLOADS:
        s = find(summ, k=k, rules=rules, backends=nb, arm="sfc", workload=w)
        kk = find(summ, k=k, rules=rules, backends=nb, arm="kernel", workload=w)
        if not s or not kk:
            continue
        rows.append((w, s, kk, ratio(s["value"], kk["value"]),
                     ratio(s.get("thr_per_unit"), kk.get("thr_per_unit")),
                     ratio(s.get("mp_per_unit"), kk.get("mp_per_unit"))))
    return rows


def report(out, a, env_info, summ_all, micro_res, cmdline):
    p0 = a.offloads[0]
    summ = [s for s in summ_all if s["profile"] == p0]
    L = []
    L.append("# sfc vs kernel-path chain: run report\n")
    L.append("- command: `%s`" % cmdline)
    for k in ("date", "host", "kernel", "cpu", "ncpu", "sfc", "loadavg_before", "loadavg_after",
              "duration_s", "iptables", "tools"):
        if k in env_info:
            L.append("- %s: %s" % (k.replace("_", " "), env_info[k]))
    L.append("- topology: %s" % env_info.get("topology"))
    L.append("- CPUs given to the SFC node (k): its NAPI kthreads and userspace VNFs pinned to "
             "the last k CPUs; generators, servers and the switch on the others (on all CPUs "
             "when k = every CPU). `thr` = the SFC node's threads' own CPU time (schedstat), "
             "`mp` = mpstat's %usr+%sys+%soft+%irq summed over the SFC node's CPUs, both in "
             "cores. See docs/bench-evnf.md.")
    L.append("- repetitions per point: %d, %d s each; figures are median (min..max)\n" %
             (a.reps, a.duration))
    ks = sorted({s["k"] for s in summ})
    r0, nb0 = a.rules[0], a.backends[-1]
    L.append("## Headline: sfc / kernel chain (rules %d, backends %d, offloads %s)\n" % (r0, nb0, p0))
    L.append("Throughput ratio > 1: sfc ahead. CPU ratio < 1: sfc uses less SFC-node CPU per "
             "unit of work.\n")
    L.append("| workload | unit | CPUs | sfc | kernel | throughput ratio | CPU/unit ratio (thr) | CPU/unit ratio (mpstat) |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|")
    for k in ks:
        for w, s, kk, tr, cr, mr in headline(summ, k, r0, nb0):
            L.append("| %s | %s | %d | %s | %s | %s | %s | %s |" % (
                w, UNIT[w], k, fmt(s["value"]), fmt(kk["value"]), fmt(tr), fmt(cr), fmt(mr)))
    L.append("")
    L.append("## Every point\n")
    L.append("Value in the workload's unit; SFC-node CPU in cores (thr, mp) and per unit of work; "
             "mpstat's split over the SFC node's CPUs in % of one CPU.\n")
    L.append("| offloads | k | rules | backends | workload | arm | value | thr cores | thr/unit | mp cores | mp/unit | usr | sys | soft | irq | extra |")
    L.append("|---|--:|--:|--:|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for s in sorted(summ_all, key=lambda s: (WORKLOADS.index(s["workload"]), s["profile"] != p0,
                                             s["k"], s["rules"], s["backends"], s["arm"])):
        extra = []
        if s.get("lat_p50") is not None:
            extra.append("p50/p99/p99.9 %s/%s/%s us" % (fmt(s["lat_p50"]), fmt(s["lat_p99"]),
                                                        fmt(s["lat_p99.9"])))
        if s.get("loss_pct") is not None:
            extra.append("loss %s%%, %s kpps" % (fmt(s["loss_pct"]), fmt(s.get("kpps"))))
        if s.get("offered_mpps") is not None:
            extra.append("offered %s Mpps" % fmt(s["offered_mpps"]))
        if s.get("retransmits") is not None:
            extra.append("retr %s" % fmt(s["retransmits"], 0))
        if s.get("errors"):
            extra.append("errors %s" % fmt(s["errors"], 0))
        if s.get("drops"):
            extra.append("drops %s" % fmt(s["drops"], 0))
        L.append("| %s | %d | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s["profile"], s["k"], s["rules"], s["backends"], s["workload"], s["arm"], spread(s, "value"),
            spread(s, "thr_cores"), fmt(s.get("thr_per_unit"), 3), spread(s, "mp_cores"),
            fmt(s.get("mp_per_unit"), 3), fmt(s.get("mp_usr")), fmt(s.get("mp_sys")),
            fmt(s.get("mp_soft")), fmt(s.get("mp_irq")), "; ".join(extra)))
    L.append("")
    others = [p for p in a.offloads[1:] if any(s["profile"] == p for s in summ_all)]
    if others:
        L.append("## Offload profiles: sfc / kernel under each\n")
        L.append("| workload | CPUs | offloads | sfc | kernel | throughput ratio | CPU/unit ratio (thr) |")
        L.append("|---|--:|---|--:|--:|--:|--:|")
        k0 = min(s["k"] for s in summ_all)
        for w in WORKLOADS:
            for p in [p0] + others:
                s = find(summ_all, profile=p, k=k0, rules=r0, backends=nb0, arm="sfc", workload=w)
                kk = find(summ_all, profile=p, k=k0, rules=r0, backends=nb0, arm="kernel", workload=w)
                if s and kk and any(x["profile"] != p0 and x["workload"] == w for x in summ_all):
                    L.append("| %s | %d | %s | %s | %s | %s | %s |" % (
                        w, k0, p, fmt(s["value"]), fmt(kk["value"]), fmt(ratio(s["value"], kk["value"])),
                        fmt(ratio(s.get("thr_per_unit"), kk.get("thr_per_unit")))))
        L.append("")
    L.append("## Targets\n")
    k1 = ks[0]
    L.append("Measured side by side in this run (k = %d).\n" % k1)
    L.append("| target | measured | verdict |")
    L.append("|---|--:|---|")
    for rules, want in ((10, 4), (1000, 20)):
        s = find(summ, k=k1, rules=rules, backends=nb0, arm="sfc", workload="pps")
        kk = find(summ, k=k1, rules=rules, backends=nb0, arm="kernel", workload="pps")
        if s and kk:
            v = ratio(s["value"], kk["value"])
            L.append("| pps, %d rules: sfc >= %dx kernel | %sx (%s / %s Mpps) | %s |" % (
                rules, want, fmt(v), fmt(s["value"], 3), fmt(kk["value"], 3),
                "met" if v and v >= want else "missed"))
    fw = find(summ, k=k1, rules=r0, backends=nb0, arm="xdp-fwd", workload="pps")
    s = find(summ, k=k1, rules=r0, backends=nb0, arm="sfc", workload="pps")
    if fw and s:
        v = ratio(s["value"], fw["value"])
        L.append("| pps: sfc >= 70%% of a bare XDP forwarder | %s%% (%s / %s Mpps) | %s |" % (
            fmt(100 * v, 0) if v else "-", fmt(s["value"], 3), fmt(fw["value"], 3),
            "met" if v and v >= 0.7 else "missed"))
    for w, want in (("tcp1", 1.26), ("tcp4", 1.26), ("udp64", 1.26), ("udp512", 1.26),
                    ("udp1400", 1.26), ("wrk-ka", 1.37), ("wrk-new", 1.37)):
        for k in ks:
            s = find(summ, k=k, rules=r0, backends=nb0, arm="sfc", workload=w)
            kk = find(summ, k=k, rules=r0, backends=nb0, arm="kernel", workload=w)
            if not s or not kk:
                continue
            tr = ratio(s["value"], kk["value"])
            cr = ratio(s.get("thr_per_unit"), kk.get("thr_per_unit"))
            ok = tr is not None and tr >= want and cr is not None and cr < 1
            L.append("| %s, %d CPU: sfc >= %.2fx kernel, less CPU/unit | %sx, CPU/unit %sx | %s |" % (
                w, k, want, fmt(tr), fmt(cr), "met" if ok else "missed"))
    L.append("")
    if micro_res:
        L.append("## Micro-benchmark: ns per packet (BPF_PROG_TEST_RUN)\n")
        L.append("CPU %d, %d rounds; A: repeat=%d (not for chains that rewrite the packet), "
                 "B: %d runs of repeat=1 (includes the kernel's two timer reads). Firewall with "
                 "%d rules; a 60-byte UDP packet to the VIP that the last rule allows. "
                 "Chains named -p have egress pass; the others the live run's egress "
                 "(redirect, with its FIB lookup).\n" % (
                     micro_res["cpu"], micro_res["rounds"], micro_res["repeat"],
                     micro_res["shots"], micro_res["rules"]))
        cs = micro_res["cases"]
        ea = med(cs[0].get("a", [])) or None
        eb = med(cs[0]["b"])
        L.append("| case | verdict | A ns | A x empty | B ns | B x empty | B - empty |")
        L.append("|---|--:|--:|--:|--:|--:|--:|")
        vnames = {2: "pass", 3: "tx", 4: "redirect"}
        for c in cs:
            a_ = med(c["a"]) if c.get("a") else None
            b_ = med(c["b"])
            L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                c["name"], vnames.get(c["verdict"], c["verdict"]), fmt(a_, 1),
                fmt(ratio(a_, ea)), "%s (%s..%s)" % (fmt(b_, 1), fmt(min(c["b"]), 1), fmt(max(c["b"]), 1)),
                fmt(ratio(b_, eb)), fmt(b_ - eb, 1)))
        L.append("")
    L.append("## Offloads\n")
    seen = {}
    for s in summ_all:
        seen.setdefault(s["offloads"], []).append("%s %s k=%d" % (s["profile"], s["arm"], s["k"]))
    for o, who in seen.items():
        L.append("- %s:" % ", ".join(sorted(set(who))))
        for dev, v in json.loads(o).items():
            L.append("  - %s: %s" % (dev, v or "(none)"))
    L.append("")
    L.append("## Plots\n")
    for p in sorted(os.listdir(os.path.join(out, "plots"))) if os.path.isdir(os.path.join(out, "plots")) else []:
        L.append("![%s](plots/%s)" % (p, p))
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def plots(out, summ_all, env_info, a):
    summ = [s for s in summ_all if s["profile"] == a.offloads[0]]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise HarnessError("matplotlib missing (Debian: python3-matplotlib): %s" % e)
    d = os.path.join(out, "plots")
    os.makedirs(d, exist_ok=True)
    import textwrap
    foot = "\n".join(textwrap.wrap("%s, kernel %s, %s CPUs; %s" % (
        env_info.get("host"), env_info.get("kernel"), env_info.get("ncpu"),
        env_info.get("offloads_short")), 150))
    colors = {"sfc": "tab:blue", "kernel": "tab:red", "haproxy": "tab:orange",
              "xdp-fwd": "tab:green", "kernel-fwd": "tab:gray"}
    r0, nb0 = a.rules[0], a.backends[-1]

    def grid(x_key, fixed, fname, title, field="value", ylab=None):
        wls = [w for w in WORKLOADS
               if len({s[x_key] for s in summ if s["workload"] == w and
                       all(s[k] == v for k, v in fixed.items())}) > (1 if x_key != "k" else 0)]
        n = len(wls)
        if not n:
            return
        cols = min(4, n)
        rowsn = (n + cols - 1) // cols
        fig, axs = plt.subplots(rowsn, cols, figsize=(4 * cols, 3.2 * rowsn + 0.6), squeeze=False)
        for i, w in enumerate(wls):
            ax = axs[i // cols][i % cols]
            for arm in colors:
                pts = sorted([s for s in summ if s["workload"] == w and s["arm"] == arm and
                              all(s[k] == v for k, v in fixed.items()) and s.get(field) is not None],
                             key=lambda s: s[x_key])
                if not pts:
                    continue
                xs = [s[x_key] for s in pts]
                ys = [s[field] for s in pts]
                lo = [s[field] - s.get(field + "_min", s[field]) for s in pts]
                hi = [s.get(field + "_max", s[field]) - s[field] for s in pts]
                ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=arm,
                            color=colors[arm])
            ax.set_title(w, fontsize=10)
            ax.set_xlabel(x_key if x_key != "k" else "CPUs given to the SFC node")
            if x_key == "rules":
                ax.set_xscale("log")
            ax.set_ylabel(ylab or UNIT[w])
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        for j in range(n, rowsn * cols):
            axs[j // cols][j % cols].axis("off")
        fig.suptitle(title, fontsize=11)
        fig.text(0.01, 0.005, foot, fontsize=6)
        fig.tight_layout(rect=(0, 0.05, 1, 0.97))
        fig.savefig(os.path.join(d, fname), dpi=90)
        plt.close(fig)

    grid("k", {"rules": r0, "backends": nb0}, "throughput_vs_cpus.png",
         "Throughput vs CPUs given to the SFC node (rules %d, backends %d)" % (r0, nb0))
    grid("k", {"rules": r0, "backends": nb0}, "cpu_vs_cpus.png",
         "SFC-node CPU per unit of work (thr) vs CPUs (rules %d)" % r0, "thr_per_unit",
         "cores per unit")
    ks = sorted({s["k"] for s in summ})
    grid("rules", {"k": ks[0], "backends": nb0}, "throughput_vs_rules.png",
         "Throughput vs firewall rules (%d CPU)" % ks[0])
    grid("rules", {"k": ks[0], "backends": nb0}, "cpu_vs_rules.png",
         "SFC-node CPU per unit of work vs firewall rules (%d CPU)" % ks[0], "thr_per_unit",
         "cores per unit")
    if len(a.backends) > 1:
        grid("backends", {"k": ks[0], "rules": r0}, "throughput_vs_backends.png",
             "Throughput vs backends (%d CPU)" % ks[0])
    # latency percentiles
    lat = [s for s in summ if s.get("lat_p50") is not None and s["rules"] == r0 and s["backends"] == nb0]
    if lat:
        combos = sorted({(s["workload"], s["k"]) for s in lat})
        fig, axs = plt.subplots(1, len(combos), figsize=(3.6 * len(combos), 3.6), squeeze=False)
        for i, (w, k) in enumerate(combos):
            ax = axs[0][i]
            arms = [s for s in lat if s["workload"] == w and s["k"] == k]
            arms.sort(key=lambda s: list(colors).index(s["arm"]))
            width = 0.8 / max(1, len(arms))
            for j, s in enumerate(arms):
                vals = [s["lat_p50"], s["lat_p99"], s["lat_p99.9"]]
                ax.bar([x + j * width for x in range(3)], [v / 1000 for v in vals], width,
                       label=s["arm"], color=colors[s["arm"]])
            ax.set_xticks([x + width * (len(arms) - 1) / 2 for x in range(3)])
            ax.set_xticklabels(["p50", "p99", "p99.9"])
            ax.set_yscale("log")
            ax.set_ylabel("ms")
            ax.set_title("%s, %d CPU" % (w, k), fontsize=10)
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3, axis="y")
        fig.suptitle("wrk latency percentiles (rules %d, backends %d)" % (r0, nb0), fontsize=11)
        fig.text(0.01, 0.005, foot, fontsize=6)
        fig.tight_layout(rect=(0, 0.08, 1, 0.95))
        fig.savefig(os.path.join(d, "latency.png"), dpi=90)
        plt.close(fig)


# ---- main --------------------------------------------------------------------------

def env_info(a, t, env):
    def first(cmd):
        try:
            r = sh(cmd, check=False)
            return (r.stdout.strip() or r.stderr.strip()).splitlines()[0]
        except (IndexError, OSError):
            return "?"
    rev = first(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", ROOT, "status", "--porcelain"], check=False).stdout.strip()
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "date": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "host": os.uname().nodename, "kernel": os.uname().release, "cpu": model,
        "ncpu": t.ncpu, "sfc": rev + (" (with uncommitted changes)" if dirty else ""),
        "iptables": first([env.ipt, "--version"]),
        "tools": sh(["dpkg-query", "-W", "-f", "${Package} ${Version}, ", "iperf3", "wrk",
                     "haproxy", "nginx-light", "softflowd", "nftables", "iptables", "conntrack",
                     "sysstat"], check=False).stdout.strip(", "),
        "topology": "namespace lab (scripts/lab.sh --backends %d, veth)" % len(t.backends)
        if t.lab else "file %s" % a.topology,
    }


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="CI: every arm and workload once, briefly")
    ap.add_argument("--topology", help="a topology file (JSON) instead of the namespace lab")
    ap.add_argument("--cpus", help="CPU counts for the SFC node, e.g. 1,2 (default 1..nproc)")
    ap.add_argument("--rules", default="10,1000,10000", help="rule counts; the first is the main grid's")
    ap.add_argument("--backends", default="2,4", help="backend counts; the last is the main grid's")
    ap.add_argument("--arms", default="sfc,kernel,haproxy,xdp-fwd,kernel-fwd")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--rule-workloads", default="pps,tcp1,wrk-new")
    ap.add_argument("--backend-workloads", default="wrk-ka")
    ap.add_argument("--offloads", default="wire",
                    help="offload profiles (wire, veth); the first is the main grid's")
    ap.add_argument("--offload-workloads", default="tcp1,tcp4,wrk-ka")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=8, help="seconds per run")
    ap.add_argument("--micro-rounds", type=int, default=5)
    ap.add_argument("--micro-repeat", type=int, default=1000000)
    ap.add_argument("--micro-shots", type=int, default=50000)
    ap.add_argument("--no-micro", action="store_true")
    ap.add_argument("--sfcctl", required=True)
    ap.add_argument("--xdpgen", required=True)
    ap.add_argument("--evnf-micro", required=True)
    ap.add_argument("--iptables", default="iptables", help="iptables (Debian: nft backend) or iptables-legacy")
    ap.add_argument("--cmdline", default=" ".join(sys.argv))
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite report.md and plots/ from --out's runs.json (same options)")
    ap.add_argument("-q", action="store_true")
    a = ap.parse_args()
    VERBOSE = not a.q
    if a.quick:
        a.reps, a.duration = 1, 2
        a.rules = a.rules if a.rules != "10,1000,10000" else "10,1000"
        a.backends = a.backends if a.backends != "2,4" else "2"
        a.micro_rounds, a.micro_repeat, a.micro_shots = 1, 100000, 5000
    a.cpus = [int(x) for x in a.cpus.split(",")] if a.cpus else None
    a.rules = [int(x) for x in a.rules.split(",")]
    a.backends = [int(x) for x in a.backends.split(",")]
    a.arms = a.arms.split(",")
    a.workloads = a.workloads.split(",")
    a.rule_workloads = a.rule_workloads.split(",")
    a.backend_workloads = a.backend_workloads.split(",")
    a.offloads = a.offloads.split(",")
    a.offload_workloads = a.offload_workloads.split(",")
    if a.quick and a.cpus is None:
        a.cpus = [1]
    if a.report_only:
        with open(os.path.join(a.out, "runs.json")) as f:
            rows = json.load(f)
        with open(os.path.join(a.out, "env.json")) as f:
            info = json.load(f)
        micro_res = None
        if os.path.exists(os.path.join(a.out, "micro.json")):
            with open(os.path.join(a.out, "micro.json")) as f:
                micro_res = json.load(f)
        summ = summarize(rows)
        with open(os.path.join(a.out, "summary.json"), "w") as f:
            json.dump(summ, f, indent=1)
        plots(a.out, summ, info, a)
        report(a.out, a, info, summ, micro_res, info.get("command", a.cmdline))
        return
    for tool in ("iperf3", "wrk", "nginx", "haproxy", "softflowd", "nft", "conntrack", "mpstat",
                 "ethtool", "taskset", a.iptables + "-restore"):
        if not shutil.which(tool):
            raise HarnessError("%s not found (scripts/setup.sh installs it)" % tool)
    os.makedirs(a.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="evnf.")
    t = None
    env = None
    try:
        load0 = open("/proc/loadavg").read().split()[:3]
        ncpu = os.cpu_count()
        t = topo_file(a.topology) if a.topology else lab_up(max(a.backends), ncpu)
        t.place(t.ncpu if not a.cpus else a.cpus[0])
        env = Env(a, t, tmp)
        info = env_info(a, t, env)
        start_servers(t, tmp)
        prime_neighbours(t)
        t0 = time.monotonic()
        micro_res = None
        if not a.no_micro:
            micro_res = micro(env, a, t)
            with open(os.path.join(a.out, "micro.json"), "w") as f:
                json.dump(micro_res, f, indent=1)
        rows = sweep(env, a)
        info["duration_s"] = "%.0f" % (time.monotonic() - t0)
        info["command"] = a.cmdline
        info["loadavg_before"] = " ".join(load0)
        info["loadavg_after"] = " ".join(open("/proc/loadavg").read().split()[:3])
        offl = json.loads(rows[0]["offloads"]) if rows else {}
        info["offloads_short"] = "offloads: " + "; ".join("%s: %s" % kv for kv in offl.items())
        summ = summarize(rows)
        keys = sorted({k for r in rows for k in r})
        with open(os.path.join(a.out, "runs.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(rows)
        with open(os.path.join(a.out, "runs.json"), "w") as f:
            json.dump(rows, f, indent=1)
        with open(os.path.join(a.out, "summary.json"), "w") as f:
            json.dump(summ, f, indent=1)
        with open(os.path.join(a.out, "env.json"), "w") as f:
            json.dump(info, f, indent=1)
        info["offloads_short"] = "offloads %s: %s" % (a.offloads[0], info["offloads_short"])
        with open(os.path.join(a.out, "env.json"), "w") as f:
            json.dump(info, f, indent=1)
        plots(a.out, summ, info, a)
        report(a.out, a, info, summ, micro_res, a.cmdline)
        log("wrote %s/report.md, runs.csv, runs.json, summary.json, plots/" % a.out)
    finally:
        for p in reversed(PROCS):
            stop(p)
        if env:
            sh(env.sfcctl_cmd("delete", "evnf"), check=False)
            sh(["rm", "-rf", env.pin_root], check=False)
        if t is not None and t.lab:
            sh(["bash", os.path.join(ROOT, "scripts", "lab.sh"), "down", "--prefix", LAB_PREFIX],
               check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    # SIGTERM (ctest's timeout, a kill) unwinds like an error: cleanup runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    except HarnessError as e:
        print("evnf: error: %s" % e, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
