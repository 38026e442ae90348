#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""iptables forwarding with the rules of bench/fw (docs/bench-firewall.md).

The kernel's forwarding path has no BPF_PROG_TEST_RUN, so it is timed with
real frames. Each rule set gets a lane of its own, so that no rule set is
reloaded between samples:

    sender netns --veth--> router netns --veth--> sink netns
    (fw_blast)             FORWARD: the rules     (drops: wrong MAC)

fw_blast sends one frame over and over through an AF_PACKET socket on one
CPU; the whole path (the router's ip_rcv, FORWARD, ip_output, the sink's
ip_rcv dropping the frame as PACKET_OTHERHOST) runs in softirq on that CPU,
inside the send or, past the softirq's 2 ms budget, in ksoftirqd. A sample
is the CPU time of the sending thread plus ksoftirqd/CPU (scheduler runtime,
ns) divided by the frames the router took in. Three baselines, per backend
and family, are measured in the same rounds:

    arrival drop   the frame has a wrong destination MAC: the router drops
                   it in ip_rcv; what the sender and veth cost
    empty accept   empty FORWARD chain, policy ACCEPT: the forwarding path
    empty drop     empty FORWARD chain, policy DROP

so that "router" = sample - arrival drop is the router's ns per packet, and
"rules" = sample - empty (the baseline with the same verdict) is what the
rules cost. Before timing, each case sends 1000 frames and checks that the
router forwarded (or dropped) them all and that the ip(6)tables counter of
the rule the packet is meant for (or the policy) counted each one.

Prints markdown on stdout, progress on stderr; writes the medians as TSV with
--tsv. Needs root.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROUTER_MAC = "02:00:00:00:01:01"
BOGUS_MAC = "02:00:00:00:0e:0e"       # nobody's: the router drops frames sent to it
NEXT_HOP_MAC = "02:00:00:00:0f:0f"    # nobody's: the sink drops what it gets

EMPTY = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD %s [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"


def log(*a):
    print("ipt_bench:", *a, file=sys.stderr, flush=True)


def sh(*cmd, input=None, check=True):
    r = subprocess.run(cmd, input=input, capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip() or r.returncode))
    return r.stdout


def nsx(ns, *cmd, **kw):
    return sh("ip", "netns", "exec", ns, *cmd, **kw)


def read_pkts(path):
    facts, pkts = {}, []
    with open(path) as f:
        for line in f:
            m = re.match(r"# (\w+) (\d+)$", line.strip())
            if m:
                facts[m.group(1)] = int(m.group(2))
            if line.startswith("#") or not line.strip():
                continue
            w = line.split()
            pkts.append({"line": " ".join(w[:9]), "tag": w[0], "verdict": w[1],
                         "family": int(w[3]), "ipt": w[9] if len(w) > 9 else "-"})
    return facts, pkts


class Lane:
    """A sender, a router with one rule set, and a veth into the sink."""

    def __init__(self, run, k, backend, name, policy=None, gen=None):
        self.k, self.backend, self.name, self.policy = k, backend, name, policy
        self.snd, self.rtr = "%ss%d" % (run.prefix, k), "%sr%d" % (run.prefix, k)
        self.sink, self.out = run.sink, "o0"
        self.gen = gen
        self.load_s = 0.0

    def setup(self):
        snd, rtr = self.snd, self.rtr
        sh("ip", "netns", "add", snd)
        sh("ip", "netns", "add", rtr)
        for ns in (snd,):
            nsx(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1")
        nsx(rtr, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
            "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
        sh("ip", "-n", snd, "link", "add", "s0", "type", "veth", "peer", "name", "r0",
           "netns", rtr)
        sh("ip", "-n", rtr, "link", "set", "r0", "address", ROUTER_MAC)
        sh("ip", "-n", rtr, "link", "add", "o0", "type", "veth", "peer", "name",
           "k%d" % self.k, "netns", self.sink)
        for ns, dev in ((snd, "lo"), (snd, "s0"), (rtr, "lo"), (rtr, "r0"), (rtr, "o0"),
                        (self.sink, "k%d" % self.k)):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", rtr, "addr", "add", "169.254.1.1/30", "dev", "o0")
        sh("ip", "-n", rtr, "neigh", "add", "169.254.1.2", "lladdr", NEXT_HOP_MAC, "dev", "o0",
           "nud", "permanent")
        sh("ip", "-n", rtr, "route", "add", "default", "via", "169.254.1.2", "dev", "o0")
        sh("ip", "-n", rtr, "-6", "addr", "add", "fd00:1::1/64", "dev", "o0", "nodad")
        sh("ip", "-n", rtr, "-6", "neigh", "add", "fd00:1::2", "lladdr", NEXT_HOP_MAC, "dev",
           "o0", "nud", "permanent")
        sh("ip", "-n", rtr, "-6", "route", "add", "default", "via", "fd00:1::2", "dev", "o0")
        t0 = time.monotonic()
        if self.gen is None:
            v4 = v6 = EMPTY % self.policy
        else:
            if os.path.exists(self.gen + ".ipset"):
                with open(self.gen + ".ipset") as f:
                    nsx(rtr, "ipset", "restore", input=f.read())
            with open(self.gen + ".ipt") as f:
                v4 = f.read()
            with open(self.gen + ".ip6t") as f:
                v6 = f.read()
        nsx(rtr, "iptables-%s-restore" % self.backend, input=v4)
        nsx(rtr, "ip6tables-%s-restore" % self.backend, input=v6)
        self.load_s = time.monotonic() - t0

    def forwarded(self):
        out = json.loads(sh("ip", "-n", self.rtr, "-s", "-j", "link", "show", "dev", "o0"))
        return out[0]["stats64"]["tx"]["packets"]

    def counters(self, family):
        """(policy packets, {rule number: packets}) of FORWARD."""
        tool = "%s-%s" % ("iptables" if family == 4 else "ip6tables", self.backend)
        out = nsx(self.rtr, tool, "-L", "FORWARD", "-v", "-x", "-n", "--line-numbers")
        lines = out.splitlines()
        m = re.search(r"policy \w+ (\d+) packets", lines[0])
        rules = {}
        for ln in lines[2:]:
            w = ln.split()
            if len(w) > 2 and w[0].isdigit():
                rules[int(w[0])] = int(w[1])
        return int(m.group(1)) if m else -1, rules

    def zero(self):
        nsx(self.rtr, "iptables-%s" % self.backend, "-Z", "FORWARD")
        nsx(self.rtr, "ip6tables-%s" % self.backend, "-Z", "FORWARD")


class Case:
    def __init__(self, lane, pkt, kind, mac=ROUTER_MAC):
        self.lane, self.pkt, self.kind, self.mac = lane, pkt, kind, mac
        self.ns, self.n, self.sirq, self.dropped = [], [], [], []

    @property
    def label(self):
        return self.kind if self.lane.gen is None else self.lane.name

    @property
    def verdict(self):
        if self.kind == "arrival drop":
            return "drop"
        return self.pkt["verdict"] if self.lane.gen else (
            "pass" if self.lane.policy == "ACCEPT" else "drop")


class Run:
    def __init__(self, a):
        self.a = a
        self.prefix = "fwi%d" % (os.getpid() % 100000)
        self.sink = self.prefix + "k"
        self.lanes, self.cases = [], []

    def blast(self, case, seconds=None, count=None):
        cmd = [self.a.blast, "-n", case.lane.snd, "-i", "s0", "-m", case.mac,
               "-c", str(self.a.cpu)]
        cmd += ["-N", str(count), "-w", "0"] if count else ["-t", str(seconds)]
        out = sh(*cmd, case.pkt["line"])
        return {k: int(v) for k, v in (kv.split("=") for kv in out.split())}

    def check(self, case):
        lane, fam = case.lane, case.pkt["family"]
        lane.zero()
        f0 = lane.forwarded()
        r = self.blast(case, count=1000)
        fwd = lane.forwarded() - f0
        tx = r["tx"]
        # A few frames of the router's own (IPv6 ND/MLD) may go out too.
        ok = tx > 0 and (tx <= fwd <= tx + 20 if case.verdict == "pass" else fwd <= 20)
        if not ok:
            raise RuntimeError("%s %s %s: sent %d, forwarded %d, want %s"
                               % (lane.backend, case.label, case.pkt["tag"], tx, fwd,
                                  case.verdict))
        if case.kind == "arrival drop":
            return
        policy, rules = lane.counters(fam)
        want = case.pkt["ipt"] if lane.gen else "-"
        got = policy if want == "-" else rules.get(int(want), -1)
        if got != tx:
            raise RuntimeError("%s %s %s: %s counted %d of %d frames"
                               % (lane.backend, case.label, case.pkt["tag"],
                                  "the policy" if want == "-" else "rule %s" % want, got, tx))

    def setup(self, names):
        sh("ip", "netns", "add", self.sink)
        nsx(self.sink, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1")
        k = 0
        base_pkts = {}
        for name in names:
            _, pkts = read_pkts(os.path.join(self.a.dir, name + ".pkts"))
            for p in pkts:
                if p["tag"] in ("v4-last", "v6-last"):
                    base_pkts.setdefault(p["family"], p)
        fams = [f for f in self.a.families if f in base_pkts]
        for b in self.a.backends:
            acc = Lane(self, k, b, "empty accept", policy="ACCEPT")
            drp = Lane(self, k + 1, b, "empty drop", policy="DROP")
            k += 2
            self.lanes += [acc, drp]
            for f in fams:
                self.cases += [Case(acc, base_pkts[f], "arrival drop", BOGUS_MAC),
                               Case(acc, base_pkts[f], "empty accept"),
                               Case(drp, base_pkts[f], "empty drop")]
            for name in names:
                gen = os.path.join(self.a.dir, name)
                facts, pkts = read_pkts(gen + ".pkts")
                lane = Lane(self, k, b, name, gen=gen)
                lane.facts = facts
                k += 1
                self.lanes.append(lane)
                self.cases += [Case(lane, p, "rules") for p in pkts if p["family"] in fams]
        for lane in self.lanes:
            log("lane %s %s: setting up" % (lane.backend, lane.name))
            lane.setup()
        for c in self.cases:
            self.check(c)
        log("%d cases pass their checks" % len(self.cases))

    def teardown(self):
        for lane in self.lanes:
            sh("ip", "netns", "del", lane.snd, check=False)
            sh("ip", "netns", "del", lane.rtr, check=False)
        sh("ip", "netns", "del", self.sink, check=False)

    def measure(self):
        for r in range(self.a.rounds):
            log("round %d/%d" % (r + 1, self.a.rounds))
            for c in self.cases:
                s = self.blast(c, seconds=self.a.seconds)
                if s["tx"] <= 0:
                    raise RuntimeError("%s: no frames" % c.label)
                c.ns.append((s["cpu_ns"] + s["ksoftirqd_ns"]) / s["tx"])
                c.n.append(s["tx"])
                c.dropped.append(s["tx_dropped"])
                c.sirq.append(s["softirq_ticks"] / s["busy_ticks"] if s["busy_ticks"] else 0)

    def base(self, c, kind):
        for b in self.cases:
            if (b.lane.backend == c.lane.backend and b.kind == kind
                    and b.pkt["family"] == c.pkt["family"]):
                return statistics.median(b.ns)
        return None

    def report(self, tsv):
        a = self.a
        print("## iptables forwarding: ns per packet\n")
        print("Each sample: %.1f s of frames from one CPU (CPU %d), CPU time of the sender "
              "and ksoftirqd/%d over the frames the router took in; %d samples, round-robin. "
              "*router*: minus the arrival-drop baseline (what forwarding the packet costs); "
              "*rules*: minus the empty FORWARD chain with the same verdict (what the rules "
              "cost). *softirq*: the share of the CPU's busy ticks in softirq (/proc/stat, "
              "4 ms samples).\n" % (a.seconds, a.cpu, a.cpu, a.rounds))
        for b in a.backends:
            ver = sh("iptables-%s" % b, "--version").strip()
            lanes = [ln for ln in self.lanes if ln.backend == b and ln.gen]
            print("### %s\n" % ver)
            print("Rule sets loaded: " + ", ".join(
                "%s %d IPv4 + %d IPv6 rules%s in %.1f s" % (
                    ln.name, ln.facts.get("v4rules", 0), ln.facts.get("v6rules", 0),
                    " and a %d-prefix ipset" % ln.facts["set"] if ln.facts.get("set") else "",
                    ln.load_s) for ln in lanes) + ".\n")
            print("| case | packet | verdict | ns/packet | min .. max | router | rules "
                  "| frames per sample | softirq |")
            print("|------|--------|---------|----------:|-----------:|-------:|------:"
                  "|------------------:|--------:|")
            for c in self.cases:
                if c.lane.backend != b:
                    continue
                m = statistics.median(c.ns)
                arr = self.base(c, "arrival drop")
                emp = self.base(c, "empty accept" if c.verdict == "pass" else "empty drop")
                router = "%+.0f" % (m - arr) if c.kind != "arrival drop" else ""
                rules = "%+.0f" % (m - emp) if c.kind == "rules" else ""
                print("| %s | %s | %s | %.0f | %.0f .. %.0f | %s | %s | %d | %.0f%% |" % (
                    c.label, c.pkt["tag"] if c.kind == "rules" else "IPv%d" % c.pkt["family"],
                    c.verdict, m, min(c.ns), max(c.ns), router, rules,
                    statistics.median(c.n), 100 * statistics.median(c.sirq)))
                if tsv:
                    tsv.write("%s\t%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%d\n" % (
                        b, c.label, c.pkt["tag"] if c.kind == "rules" else c.kind,
                        c.verdict, m, m - arr, m - emp, statistics.median(c.n)))
            drops = [c for c in self.cases if c.lane.backend == b and max(c.dropped)]
            if drops:
                print("Frames the router's backlog refused (not counted, their sending is): " +
                      ", ".join("%s %s up to %d per sample" % (c.label, c.pkt["tag"],
                                                               max(c.dropped))
                                for c in drops) + ".\n")
            print()

    def compare(self, xdp_tsv):
        """The firewall's XDP numbers next to iptables', per rule set and packet."""
        xdp = {}
        with open(xdp_tsv) as f:
            head = f.readline().rstrip("\n").split("\t")
            for line in f:
                row = dict(zip(head, line.rstrip("\n").split("\t")))
                xdp[(row["chain"], row["tag"])] = row
        ipt = {}
        for c in self.cases:
            if c.kind == "rules":
                m = statistics.median(c.ns)
                emp = self.base(c, "empty accept" if c.verdict == "pass" else "empty drop")
                ipt[(c.lane.backend, c.lane.name, c.pkt["tag"])] = (m - emp, m - self.base(
                    c, "arrival drop"))
        bk = self.a.backends
        print("## The firewall next to iptables (ns per packet, medians)\n")
        print("*firewall*: the XDP firewall's increment over the passthrough chain (A and B "
              "from bench_fw) and its whole chain (A); *iptables rules*: the rules' increment "
              "over an empty FORWARD chain; *iptables router*: the whole forwarding path "
              "with the rules (minus the arrival-drop baseline).\n")
        print("| rule set | packet | firewall A | firewall B | chain A | " +
              " | ".join("%s rules | %s router" % (b, b) for b in bk) + " | " +
              " | ".join("%s rules / firewall A" % b for b in bk) + " |")
        print("|---|---|--:|--:|--:|" + "--:|--:|" * len(bk) + "--:|" * len(bk))
        for c in self.cases:
            if c.kind != "rules" or c.lane.backend != bk[0]:
                continue
            x = xdp.get((c.lane.name, c.pkt["tag"]))
            if not x:
                continue
            fa = float(x["a_inc"])
            cells = []
            ratios = []
            for b in bk:
                r, rt = ipt.get((b, c.lane.name, c.pkt["tag"]), (None, None))
                cells.append("%.0f | %.0f" % (r, rt) if r is not None else "n/a | n/a")
                ratios.append("%.1f" % (r / fa) if r is not None and fa > 0 else "n/a")
            print("| %s | %s | %.0f | %.1f | %.0f | %s | %s |" % (
                c.lane.name, c.pkt["tag"], fa, float(x["b_inc"]), float(x["a"]),
                " | ".join(cells), " | ".join(ratios)))
        print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="+", help="rule sets (gen_rules.py --name) in --dir")
    ap.add_argument("--dir", required=True, help="gen_rules.py's output directory")
    ap.add_argument("--blast", required=True, help="the fw_blast binary")
    ap.add_argument("--backends", default="nft,legacy",
                    help="iptables backends, comma-separated (default nft,legacy)")
    ap.add_argument("--families", default="4", help="4, 6 or 4,6 (default 4)")
    ap.add_argument("--seconds", type=float, default=1.0, help="per sample (default 1)")
    ap.add_argument("--rounds", type=int, default=9, help="samples per case (default 9)")
    ap.add_argument("--cpu", type=int, default=1, help="CPU to send from (default 1)")
    ap.add_argument("--tsv", help="also write the medians here")
    ap.add_argument("--xdp-tsv", help="bench_fw -t output: print the two side by side")
    a = ap.parse_args()
    a.backends = a.backends.split(",")
    a.families = [int(f) for f in a.families.split(",")]
    if os.geteuid():
        sys.exit("ipt_bench: needs root (netns, iptables)")
    run = Run(a)
    tsv = None
    try:
        run.setup(a.names)
        run.measure()
        if a.tsv:
            tsv = open(a.tsv, "w")
        run.report(tsv)
        if a.xdp_tsv:
            run.compare(a.xdp_tsv)
    except (RuntimeError, KeyboardInterrupt) as e:
        log("error: %s" % e)
        return 1
    finally:
        if tsv:
            tsv.close()
        run.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
