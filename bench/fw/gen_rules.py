#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Generate a firewall rule set for the firewall benchmark (bench/fw).

For one rule count N it writes, into --out:

  NAME.yaml   a chain with one `firewall` function holding the N rules
              (egress pass), for bench_fw / sfcctl
  NAME.ipt    the IPv4 rules as an iptables-restore file (FORWARD, policy DROP)
  NAME.ip6t   the IPv6 rules as an ip6tables-restore file
  NAME.ipset  with a set: `ipset restore` input creating it (hash:net)
  NAME.pkts   the benchmark packets, each with the verdict and the first
              rule it must match (checked here with a linear reference
              classifier over the same rules), and facts about the rule set
  NAME.set    with --set-size: the generated prefix set, one per line

Rule shapes. A tuple space search costs one hash lookup per distinct rule
shape (which fields a rule matches and at what prefix length / port mask),
whatever the number of rules, so the rules are drawn from a fixed, small set
of shapes, as real rule sets are (SHAPES below). Port ranges are the
exception that multiplies shapes: a range is split into aligned power-of-two
blocks, one port mask each, so the ranges used are also fixed (RANGES).

Packets (TAG): v4-early / v6-early match one of the first rules; v4-last /
v6-last match the last IPv4 / IPv6 rule (the two last rules) and nothing
before; v4-none / v6-none match nothing (the default action, drop);
set-hit has its source in the set (the first rule drops it).

Deterministic: the same arguments give the same files (--seed).
"""
import argparse
import ipaddress
import os
import random
import sys

TCP_PORTS = [22, 25, 53, 80, 110, 143, 389, 443, 465, 587, 636, 993, 995, 1433,
             1521, 2049, 3306, 3389, 5432, 5671, 6379, 6443, 8080, 8443, 9090,
             9200, 11211, 27017]
UDP_PORTS = [53, 67, 123, 161, 162, 500, 514, 1812, 4500, 4789]
RANGES = [(1024, 65535), (49152, 65535), (5000, 5100), (8000, 8099),
          (33434, 33534)]

# (shape, weight, description). The weights add up to 100.
SHAPES = [
    ("A", 35, "allow tcp, src /24, dst /32, dstPort"),
    ("B", 10, "allow tcp, src /16, dst /32, dstPort"),
    ("C", 10, "allow tcp, any src, dst /32, dstPort"),
    ("D", 10, "allow udp, src /32, dst /24, dstPort"),
    ("E", 5, "allow udp, any src, dst /32, dstPort range (RANGES)"),
    ("F", 5, "allow tcp, src /24, dst /24, any port"),
    ("G", 10, "drop, src /32, anything"),
    ("H", 5, "drop tcp, src /24, dst /32, dstPort (A's shape)"),
    ("I", 7, "allow tcp, IPv6 src /48, dst /128, dstPort"),
    ("J", 3, "drop, IPv6 src /64, anything"),
]

PROTO = {"tcp": 6, "udp": 17}


class Rule:
    __slots__ = ("action", "family", "src", "dst", "proto", "dport", "set")

    def __init__(self, action, family, src=None, dst=None, proto=None,
                 dport=None, set_=None):
        self.action = action      # "allow" | "drop"
        self.family = family      # 4 | 6 | 0 (a set rule: the set's families)
        self.src = src            # ip_network or None
        self.dst = dst
        self.proto = proto        # "tcp" | "udp" | None
        self.dport = dport        # None | int | (lo, hi)
        self.set = set_           # set name for src, or None

    # -- output ---------------------------------------------------------
    def yaml(self):
        f = ["action: %s" % self.action]
        if self.set:
            f.append('src: "@%s"' % self.set)
        elif self.src is not None:
            f.append("src: %s" % fmt_net(self.src))
        if self.dst is not None:
            f.append("dst: %s" % fmt_net(self.dst))
        if self.proto:
            f.append("protocol: %s" % self.proto)
        if isinstance(self.dport, tuple):
            f.append('dstPort: "%d-%d"' % self.dport)
        elif self.dport is not None:
            f.append("dstPort: %d" % self.dport)
        return "{" + ", ".join(f) + "}"

    def ipt(self, family):
        a = ["-A FORWARD"]
        if self.set:
            a.append("-m set --match-set %s src" % ipset_name(self.set, family))
        elif self.src is not None:
            a.append("-s %s" % self.src)
        if self.dst is not None:
            a.append("-d %s" % self.dst)
        if self.proto:
            a.append("-p %s" % self.proto)
            if self.dport is not None:
                a.append("-m %s" % self.proto)
                if isinstance(self.dport, tuple):
                    a.append("--dport %d:%d" % self.dport)
                else:
                    a.append("--dport %d" % self.dport)
        a.append("-j ACCEPT" if self.action == "allow" else "-j DROP")
        return " ".join(a)

    # -- reference classifier --------------------------------------------
    def matches(self, p, sets):
        if self.family and p["family"] != self.family:
            return False
        if self.set and not in_set(sets[self.set], p["src"]):
            return False
        if self.src is not None and p["src"] not in self.src:
            return False
        if self.dst is not None and p["dst"] not in self.dst:
            return False
        if self.proto and PROTO[self.proto] != p["proto"]:
            return False
        if isinstance(self.dport, tuple):
            return self.dport[0] <= p["dport"] <= self.dport[1]
        if self.dport is not None:
            return self.dport == p["dport"]
        return True

    # -- the tuple(s) a compiler puts it in ------------------------------
    def tuples(self, set_families):
        if not self.family:
            return set().union(*(Rule(self.action, f, self.src, self.dst, self.proto,
                                      self.dport, self.set).tuples(set_families)
                                 for f in set_families))
        src = ("set", self.set) if self.set else (
            self.src.prefixlen if self.src is not None else 0)
        dst = self.dst.prefixlen if self.dst is not None else 0
        base = (self.family, src, dst, bool(self.proto))
        if isinstance(self.dport, tuple):
            return {base + (16 - k,) for k in port_blocks(*self.dport)}
        if self.dport is not None:
            return {base + (16,)}
        return {base + (0,)}


def fmt_net(n):
    return str(n.network_address) if n.prefixlen == n.max_prefixlen else str(n)


def ipset_name(name, family):
    return name if family == 4 else name + "6"


def port_blocks(lo, hi):
    """Sizes (log2) of the aligned power-of-two blocks that cover lo..hi."""
    ks = []
    while lo <= hi:
        k = 0
        while k < 16 and lo % (1 << (k + 1)) == 0 and lo + (1 << (k + 1)) - 1 <= hi:
            k += 1
        ks.append(k)
        lo += 1 << k
    return ks


def in_set(s, addr):
    """s: {prefixlen: set(network ints)} of one family."""
    a = int(addr)
    bits = addr.max_prefixlen
    for plen, nets in s.get(addr.version, {}).items():
        if (a >> (bits - plen) << (bits - plen)) in nets:
            return True
    return False


def net4(r, plen, base, base_len):
    """A random /plen inside base/base_len."""
    host = r.getrandbits(32 - base_len)
    a = (int(ipaddress.IPv4Address(base)) | host) >> (32 - plen) << (32 - plen)
    return ipaddress.IPv4Network((a, plen))


def net6(r, plen, base, base_len):
    host = r.getrandbits(128 - base_len)
    a = (int(ipaddress.IPv6Address(base)) | host) >> (128 - plen) << (128 - plen)
    return ipaddress.IPv6Network((a, plen))


def random_rule(r, shape):
    if shape in ("A", "H"):
        return Rule("allow" if shape == "A" else "drop", 4, net4(r, 24, "10.0.0.0", 8),
                    net4(r, 32, "192.168.0.0", 16), "tcp", r.choice(TCP_PORTS))
    if shape == "B":
        return Rule("allow", 4, net4(r, 16, "172.16.0.0", 12),
                    net4(r, 32, "192.168.0.0", 16), "tcp", r.choice(TCP_PORTS))
    if shape == "C":
        return Rule("allow", 4, None, net4(r, 32, "192.168.0.0", 16), "tcp",
                    r.choice(TCP_PORTS))
    if shape == "D":
        return Rule("allow", 4, net4(r, 32, "10.0.0.0", 8),
                    net4(r, 24, "192.168.0.0", 16), "udp", r.choice(UDP_PORTS))
    if shape == "E":
        return Rule("allow", 4, None, net4(r, 32, "192.168.0.0", 16), "udp",
                    r.choice(RANGES))
    if shape == "F":
        return Rule("allow", 4, net4(r, 24, "10.0.0.0", 8),
                    net4(r, 24, "192.168.0.0", 16), "tcp")
    if shape == "G":
        return Rule("drop", 4, net4(r, 32, "100.64.0.0", 10))
    if shape == "I":
        return Rule("allow", 6, net6(r, 48, "2001:db8::", 32),
                    net6(r, 128, "2001:db8:ffff::", 48), "tcp", r.choice(TCP_PORTS))
    if shape == "J":
        return Rule("drop", 6, net6(r, 64, "2001:db8::", 32))
    raise ValueError(shape)


def gen_set(r, n):
    """n distinct IPv4 prefixes, lengths like a public blocklist's (mostly
    hosts and /24s), in 1.0.0.0-99.255.255.255 without 10.0.0.0/8: apart
    from the addresses the rules and packets use."""
    lens = [32] * 60 + [24] * 30 + [20, 21, 22, 23] * 2 + [16, 17, 18, 19][:2]
    out = set()
    while len(out) < n:
        plen = r.choice(lens)
        a = r.randrange(0x01000000, 0x64000000)
        if a >> 24 == 10:
            continue
        out.add(ipaddress.IPv4Network((a >> (32 - plen) << (32 - plen), plen)))
    return sorted(out, key=lambda x: (int(x.network_address), x.prefixlen))


def read_set(path):
    out = []
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if line:
                try:
                    out.append(ipaddress.ip_network(line, strict=False))
                except ValueError as e:
                    sys.exit("%s:%d: %s" % (path, ln, e))
    return out


def index_set(prefixes):
    s = {}
    for p in prefixes:
        s.setdefault(p.version, {}).setdefault(p.prefixlen, set()).add(
            int(p.network_address))
    return s


def packet(tag, family, proto, src, dst, sport, dport):
    return {"tag": tag, "family": family, "proto": PROTO[proto], "pname": proto,
            "src": ipaddress.ip_address(src), "dst": ipaddress.ip_address(dst),
            "sport": sport, "dport": dport}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, required=True, help="number of rules (>= 5)")
    ap.add_argument("--name", required=True, help="chain name and file stem")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--set-size", type=int, default=0,
                    help="generate a prefix set of this size, dropped by rule 0")
    ap.add_argument("--set-file", help="use this prefix file as the set (one per line)")
    ap.add_argument("--interface", default="fwb0", help="spec.interface of the chain")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-ranges", action="store_true",
                    help="leave out shape E (port ranges), to see what ranges cost")
    a = ap.parse_args()
    if a.rules < 5:
        ap.error("--rules must be at least 5")
    os.makedirs(a.out, exist_ok=True)
    r = random.Random(a.seed)
    stem = os.path.join(os.path.abspath(a.out), a.name)

    sets, set_prefixes, set_file = {}, [], None
    if a.set_file:
        set_file = os.path.abspath(a.set_file)
        set_prefixes = read_set(set_file)
    elif a.set_size:
        set_prefixes = gen_set(random.Random(a.seed + 1), a.set_size)
        set_file = stem + ".set"
        with open(set_file, "w") as f:
            f.writelines("%s\n" % p for p in set_prefixes)
    if set_prefixes:
        sets["blocklist"] = index_set(set_prefixes)

    # Fixed rules: the set first, then the early ones; the last two at the
    # end. Their addresses (198.18.0.0/15, 2001:db8:fffe::/48) are used by
    # no random rule, so nothing before them matches their packets.
    head = []
    set_families = sorted({p.version for p in set_prefixes})
    if set_prefixes:
        head.append(Rule("drop", 0, set_="blocklist"))
    head.append(Rule("allow", 4, ipaddress.ip_network("10.255.1.0/24"),
                     ipaddress.ip_network("192.168.255.10/32"), "tcp", 443))
    head.append(Rule("allow", 6, ipaddress.ip_network("2001:db8:ffff::/48"),
                     ipaddress.ip_network("2001:db8:ffff:1::10/128"), "tcp", 443))
    tail = [Rule("allow", 6, ipaddress.ip_network("2001:db8:fffe::/48"),
                 ipaddress.ip_network("2001:db8:fffe:1::10/128"), "tcp", 8443),
            Rule("allow", 4, ipaddress.ip_network("198.18.1.0/24"),
                 ipaddress.ip_network("198.19.0.10/32"), "tcp", 8443)]
    n_mid = a.rules - len(head) - len(tail)
    if n_mid < 0:
        ap.error("--rules too small for the fixed rules (%d)" % (len(head) + len(tail)))
    population = [s for s, w, _ in SHAPES for _ in range(w)
                  if not (a.no_ranges and s == "E")]
    drawn = [r.choice(population) for _ in range(n_mid)]
    rules = head + [random_rule(r, s) for s in drawn] + tail
    # The fixed rules have shapes A and I; the set rule is one more.
    shapes = set(drawn) | {"A", "I"} | ({"set"} if set_prefixes else set())

    set_hit_src = None
    for p in set_prefixes:
        if p.version == 4:
            set_hit_src = p.network_address + (1 if p.prefixlen < 32 else 0)
            break
    i_early4 = len(head) - 2
    pkts = [
        (packet("v4-early", 4, "tcp", "10.255.1.7", "192.168.255.10", 40000, 443), i_early4),
        (packet("v4-last", 4, "tcp", "198.18.1.7", "198.19.0.10", 40000, 8443), len(rules) - 1),
        (packet("v4-none", 4, "tcp", "203.0.113.7", "192.0.2.99", 40000, 443), None),
        (packet("v6-early", 6, "tcp", "2001:db8:ffff::7", "2001:db8:ffff:1::10", 40000, 443),
         i_early4 + 1),
        (packet("v6-last", 6, "tcp", "2001:db8:fffe::7", "2001:db8:fffe:1::10", 40000, 8443),
         len(rules) - 2),
        (packet("v6-none", 6, "tcp", "2001:db8:dead::7", "2001:db8:beef::99", 40000, 443), None),
    ]
    if set_hit_src is not None:
        pkts.append((packet("set-hit", 4, "tcp", str(set_hit_src), "192.168.1.1", 40000, 443), 0))

    # The reference classifier must agree with what each packet is for.
    pkt_lines = []
    for p, want in pkts:
        got = next((i for i, ru in enumerate(rules) if ru.matches(p, sets)), None)
        if got != want:
            sys.exit("gen_rules: %s matches rule %s, meant %s (seed %d)"
                     % (p["tag"], got, want, a.seed))
        verdict = "drop" if got is None else ("pass" if rules[got].action == "allow" else "drop")
        pkt_lines.append((p, got, verdict))

    tuples = set()
    for ru in rules:
        tuples |= ru.tuples(set_families)
    v4 = [ru for ru in rules if ru.family in (0, 4) and (ru.family or 4 in set_families)]
    v6 = [ru for ru in rules if ru.family in (0, 6) and (ru.family or 6 in set_families)]

    with open(stem + ".yaml", "w") as f:
        f.write("# Generated by bench/fw/gen_rules.py --rules %d%s --seed %d: %d rules,\n"
                "# %d expected tuples. Not an example to copy: see chains/.\n"
                % (a.rules, " (with a %d-prefix set)" % len(set_prefixes) if set_prefixes else "",
                   a.seed, len(rules), len(tuples)))
        f.write("apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: %s\n" % a.name)
        f.write("spec:\n  interface: %s\n  egress: {action: pass}\n  functions:\n" % a.interface)
        f.write("    - name: fw\n      type: firewall\n      config:\n")
        f.write("        defaultAction: drop\n        stateful: false\n")
        if set_prefixes:
            f.write("        sets: {blocklist: {file: %s}}\n" % set_file)
        f.write("        rules:\n")
        f.writelines("          - %s\n" % ru.yaml() for ru in rules)

    for path, rs, fam in ((stem + ".ipt", v4, 4), (stem + ".ip6t", v6, 6)):
        with open(path, "w") as f:
            f.write("# Generated by bench/fw/gen_rules.py: the rules of %s.yaml\n" % a.name)
            f.write("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n")
            f.writelines(ru.ipt(fam) + "\n" for ru in rs)
            f.write("COMMIT\n")

    if set_prefixes:
        with open(stem + ".ipset", "w") as f:
            for fam in set_families:
                n = sum(1 for p in set_prefixes if p.version == fam)
                name = ipset_name("blocklist", fam)
                f.write("create %s hash:net family %s hashsize %d maxelem %d\n"
                        % (name, "inet" if fam == 4 else "inet6",
                           1 << max(10, (n - 1).bit_length()), max(65536, 2 * n)))
                f.writelines("add %s %s\n" % (name, p) for p in set_prefixes if p.version == fam)

    # Where each packet's rule is in the ip(6)tables FORWARD chain (1-based).
    lines = []
    for p, got, verdict in pkt_lines:
        ipt = "-"
        if got is not None:
            rs = v4 if p["family"] == 4 else v6
            ipt = str(next(i for i, ru in enumerate(rs, 1) if ru is rules[got]))
        lines.append("%s %s %s %d %s %s %s %d %d %s\n" % (
            p["tag"], verdict, "-" if got is None else got, p["family"], p["pname"],
            p["src"], p["dst"], p["sport"], p["dport"], ipt))

    with open(stem + ".pkts", "w") as f:
        f.write("# Generated by bench/fw/gen_rules.py for %s.yaml\n" % a.name)
        f.write("# rules %d\n# v4rules %d\n# v6rules %d\n# tuples %d\n# shapes %d\n# set %d\n"
                % (len(rules), len(v4), len(v6), len(tuples), len(shapes), len(set_prefixes)))
        f.write("# TAG VERDICT RULE FAMILY PROTO SRC DST SPORT DPORT IPTRULE\n")
        f.writelines(lines)

    print("gen_rules: %s: %d rules (%d IPv4, %d IPv6), %d expected tuples, set %d prefixes"
          % (a.name, len(rules), len(v4), len(v6), len(tuples), len(set_prefixes)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
