#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""fw_equiv.py - the firewall NF against iptables, verdict for verdict.

Draws randomized firewall rule sets and packets biased towards the rules'
values and edges, then decides every packet twice:

  firewall  the chain file's `type: firewall` function, applied with sfcctl;
            each frame runs once through the chain's pinned root_fwd under
            BPF_PROG_TEST_RUN (xdp_verdict): pass = allowed, drop = dropped;
  iptables  the same rules translated to iptables/ip6tables FORWARD rules
            (ipset hash:net for the sets) in a router namespace; each frame is
            injected with an AF_PACKET socket in front of the router and
            captured behind it: arrived = allowed.

and compares the two. A third opinion, a direct Python model of the rule
semantics, is printed next to every disagreement to tell a translation
error of this harness from a fault of the firewall.

  fw_equiv.py run  OPTIONS    compare (needs root; test_fw_equiv.sh sets up
                              the namespaces and passes their names)
  fw_equiv.py show --seed S --round K [--iptables]
                              print round K's chain file (and its iptables
                              rules) and packets; changes nothing

Round K of seed S is the same rule set and the same packets whatever the
number of rounds, so `run --only K` reproduces one round.

Exit status: 0 every verdict agreed, 1 a disagreement or a harness error
(lost packets, a chain file sfcctl refused...), 2 usage.

Python 3 standard library only.
"""

import argparse
import copy
import ctypes
import ipaddress
import json
import os
import random
import re
import select
import socket
import struct
import subprocess
import sys
import time

PROTO_ICMP, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6 = 1, 6, 17, 58
PROTO_NAMES = {PROTO_TCP: "tcp", PROTO_UDP: "udp", PROTO_ICMP: "icmp", PROTO_ICMPV6: "icmpv6"}
# Protocols without a header either side looks into. Not 0, 43, 44, 51, 59,
# 60 (IPv6 extension headers: ip6tables' -p walks past them) and not 1 or 58
# (ICMP is named, and it belongs to one family).
OTHER_PROTOS = [47, 50, 89, 103, 132]

TCP_FLAGS = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"]  # bit 0 .. bit 7

# Documentation and private ranges only: nothing a router treats as a
# martian, and nothing that could leave the lab.
ALLOWED = {
    4: [ipaddress.ip_network(n) for n in
        ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "192.0.2.0/24",
         "198.51.100.0/24", "203.0.113.0/24")],
    6: [ipaddress.ip_network(n) for n in ("2001:db8::/32", "fd00::/8")],
}
PLENS = {
    4: [0, 1, 8, 8, 12, 16, 16, 20, 23, 24, 24, 24, 25, 28, 30, 31, 32, 32, 32],
    6: [0, 8, 16, 32, 32, 48, 56, 63, 64, 64, 65, 96, 112, 120, 127, 128, 128, 128],
}
PORT_POOL = [1, 20, 21, 22, 53, 80, 123, 443, 1023, 1024, 3306, 8080, 8443, 32768,
             49151, 49152, 65534, 65535]
ICMP_TYPES = {4: [0, 3, 5, 8, 11, 12, 13, 14], 6: [1, 2, 3, 4, 128, 129, 133, 135]}
ICMP_NAMES = {4: {8: "echo-request", 0: "echo-reply"}, 6: {128: "echo-request", 129: "echo-reply"}}

# Marker packets, accepted by a first rule of their own, end each burst:
# their sources are outside every range the rounds draw from.
MARKER_SRC = {4: "100.64.9.9", 6: "3fff::9"}
MARKER_DST = {4: "100.64.9.10", 6: "3fff::a"}

ETH_P_ALL, ETH_P_IP, ETH_P_IPV6 = 0x0003, 0x0800, 0x86DD
PACKET_OUTGOING = 4
CLONE_NEWNET = 0x40000000
SO_RCVBUFFORCE = 33


def die(msg, code=1):
    print(f"fw_equiv: {msg}", file=sys.stderr)
    sys.exit(code)


# ---- rules --------------------------------------------------------------


class Rule:
    """One rule; None means the field is absent from the chain file."""

    def __init__(self):
        self.action = "drop"
        self.src = None       # ("net", IPv4Network|IPv6Network, written_as) | ("set", name)
        self.dst = None
        self.proto = None     # IPPROTO_* number
        self.proto_text = None  # as written: "tcp", 47 ...
        self.sport = None     # [(lo, hi), ...]
        self.sport_text = None
        self.dport = None
        self.dport_text = None
        self.itype = None
        self.itype_text = None
        self.icode = None
        self.flags = None     # (set mask, unset mask)
        self.fragment = None  # True | False
        self.family = None    # 4 | 6, the `family` key

    def families(self):
        """The families the rule applies to (an empty set: never)."""
        fams = {4, 6}
        if self.family:
            fams &= {self.family}
        for a in (self.src, self.dst):
            if a and a[0] == "net":
                fams &= {a[1].version}
        if self.proto == PROTO_ICMP:
            fams &= {4}
        elif self.proto == PROTO_ICMPV6:
            fams &= {6}
        return fams

    def needs_l4(self):
        return bool(self.sport or self.dport or self.itype is not None or self.flags)

    def config(self):
        """The rule as the chain file's mapping (insertion order kept)."""
        c = {"action": self.action}
        for key, a in (("src", self.src), ("dst", self.dst)):
            if a:
                c[key] = a[2] if a[0] == "net" else "@" + a[1]
        if self.family:
            c["family"] = f"ipv{self.family}"
        if self.proto_text is not None:
            c["protocol"] = self.proto_text
        if self.sport_text is not None:
            c["srcPort"] = self.sport_text
        if self.dport_text is not None:
            c["dstPort"] = self.dport_text
        if self.itype_text is not None:
            c["icmpType"] = self.itype_text
        if self.icode is not None:
            c["icmpCode"] = self.icode
        if self.flags:
            f = {}
            if self.flags[0]:
                f["set"] = [n for i, n in enumerate(TCP_FLAGS) if self.flags[0] >> i & 1]
            if self.flags[1]:
                f["unset"] = [n for i, n in enumerate(TCP_FLAGS) if self.flags[1] >> i & 1]
            c["tcpFlags"] = f
        if self.fragment is not None:
            c["fragment"] = self.fragment
        return c


class RuleSet:
    def __init__(self):
        self.default = "drop"
        self.sets = {}        # name -> [network, ...] (v4 and v6 mixed, in file order)
        self.rules = []
        self.write_default = True   # defaultAction drop may be left to the default
        self.write_stateful = True


def yaml_flow(v):
    """A value as a YAML flow node; strings double-quoted (JSON is YAML)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        # Words plain (allow, tcp, ipv4...), anything else quoted.
        return v if re.fullmatch(r"[a-z][a-z0-9-]*", v) else json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(yaml_flow(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {yaml_flow(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def chain_yaml(rs, name, ifname, fn_type):
    out = ["apiVersion: sfc/v1alpha1", "kind: Chain", "metadata:", f"  name: {name}", "spec:",
           f"  interface: {ifname}", "  egress: {action: pass}", "  functions:",
           "    - name: fw", f"      type: {fn_type}"]
    if fn_type == "firewall":
        out.append("      config:")
        if rs.write_default:
            out.append(f"        defaultAction: {rs.default}")
        if rs.write_stateful:
            out.append("        stateful: false")
        if rs.sets:
            out.append("        sets:")
            for n, members in rs.sets.items():
                out.append(f"          {n}: {yaml_flow([str(m) for m in members])}")
        out.append("        rules:" if rs.rules else "        rules: []")
        for r in rs.rules:
            out.append("          - " + yaml_flow(r.config()))
    return "\n".join(out) + "\n"


# ---- drawing rule sets --------------------------------------------------


def in_allowed(fam, addr):
    return any(addr in n for n in ALLOWED[fam])


def addr_cls(fam):
    return ipaddress.IPv4Address if fam == 4 else ipaddress.IPv6Address


def net_cls(fam):
    return ipaddress.IPv4Network if fam == 4 else ipaddress.IPv6Network


def bits(fam):
    return 32 if fam == 4 else 128


def port_masks(spec):
    """The distinct block sizes the firewall splits spec's ranges into
    (aligned power-of-two blocks; docs/firewall.md): one tuple each."""
    sizes = set()
    for lo, hi in spec or [(0, 0)]:
        while lo <= hi:
            size = lo & -lo if lo else 1 << 16
            while size > hi - lo + 1:
                size >>= 1
            sizes.add(size)
            lo += size
    return len(sizes)


# The firewall holds at most 256 tuples (rule shapes); a rule costs at most
# families x source port block sizes x destination port block sizes of them.
# Rule sets are drawn below this bound so that every one applies.
TUPLE_BUDGET = 240


def tuple_cost(rule):
    return len(rule.families()) * port_masks(rule.sport) * port_masks(rule.dport)


class Drawer:
    """Draws one round's rule set and packets from its own generator."""

    def __init__(self, seed, rnd):
        self.rng = random.Random(f"sfc-fw-equiv:{seed}:{rnd}")
        r = self.rng
        # A few anchors per family: rules and packets cluster around them, so
        # random packets hit random rules often enough to matter.
        self.anchors = {f: [self.uniform_addr(f) for _ in range(5)] for f in (4, 6)}
        self.ports = r.sample(PORT_POOL, 6) + [r.randint(1, 65535) for _ in range(3)]

    def uniform_addr(self, fam):
        n = self.rng.choice(ALLOWED[fam])
        return n[self.rng.randrange(n.num_addresses)]

    def addr(self, fam):
        """An allowed address, usually near an anchor."""
        r = self.rng
        if r.random() < 0.3:
            return self.uniform_addr(fam)
        for _ in range(20):
            a = r.choice(self.anchors[fam])
            k = r.choice([0, 0, 2, 4, 8, 12, 16] if fam == 4 else [0, 0, 4, 16, 32, 64, 80])
            b = addr_cls(fam)(int(a) ^ r.getrandbits(k) if k else int(a))
            if in_allowed(fam, b):
                return b
        return self.uniform_addr(fam)

    def prefix(self, fam):
        return net_cls(fam)((int(self.addr(fam)), self.rng.choice(PLENS[fam])), strict=False)

    def net_text(self, net):
        """How a rule writes net: a bare address for a host route, sometimes."""
        if net.prefixlen == bits(net.version) and self.rng.random() < 0.5:
            return str(net.network_address)
        return str(net)

    def port_spec(self):
        r = self.rng
        items = []
        for _ in range(r.choice([1, 1, 1, 2, 3, 4, 7])):
            lo = r.choice(self.ports) if r.random() < 0.7 else r.randint(0, 65535)
            if r.random() < 0.5:
                items.append((lo, lo))
            else:
                hi = min(65535, lo + r.choice([1, 2, 7, 100, 1000, 30000]))
                if r.random() < 0.3 and lo > 1:
                    lo, hi = max(1, lo - r.choice([1, 50])), lo
                items.append((lo, hi))
        txt = [lo if lo == hi else f"{lo}-{hi}" for lo, hi in items]
        if len(txt) == 1 and r.random() < 0.8:
            txt = txt[0]
        return items, txt

    def draw_sets(self, rs):
        r = self.rng
        for i in range(r.choice([0, 1, 1, 2, 3])):
            members = []
            for _ in range(r.randint(1, 5)):
                fam = 4 if r.random() < 0.55 else 6
                # hash:net holds no /0 (the translation splits it): rare.
                net = self.prefix(fam)
                # Nested prefixes, in this set or across sets: the firewall
                # folds covering prefixes into each trie entry.
                known = [m for ms in list(rs.sets.values()) + [members] for m in ms
                         if m.version == fam]
                if known and r.random() < 0.4:
                    base = r.choice(known)
                    plen = r.randint(max(1, base.prefixlen - 8), bits(fam))
                    net = net_cls(fam)((int(self.near(fam, base)), plen), strict=False)
                if net.prefixlen == 0 and r.random() < 0.7:
                    net = net_cls(fam)((int(self.addr(fam)), 1), strict=False)
                members.append(net)
            rs.sets[f"set{i}"] = members

    def draw_rule(self, rs):
        r = self.rng
        rule = Rule()
        rule.action = r.choice(["allow", "drop"])
        fam = r.choice([None, None, 4, 4, 6, 6])
        # Addresses: a prefix of the rule's family, a set, or nothing.
        for side in ("src", "dst"):
            p = r.random()
            if fam and p < 0.45:
                net = self.prefix(fam)
                setattr(rule, side, ("net", net, self.net_text(net)))
            elif rs.sets and p > 0.8:
                setattr(rule, side, ("set", r.choice(list(rs.sets))))
        has_net = any(a and a[0] == "net" for a in (rule.src, rule.dst))

        protos = [None, PROTO_TCP, PROTO_TCP, PROTO_UDP, PROTO_UDP, "other"]
        if fam != 6:
            protos.append(PROTO_ICMP)
        if fam != 4:
            protos.append(PROTO_ICMPV6)
        proto = r.choice(protos)
        if proto == "other":
            proto = r.choice(OTHER_PROTOS)
        if proto in (PROTO_ICMP, PROTO_ICMPV6):
            fam = 4 if proto == PROTO_ICMP else 6
        if proto is not None:
            rule.proto = proto
            rule.proto_text = PROTO_NAMES.get(proto, proto)
            # Named TCP and UDP by number too: the same thing.
            if proto in (PROTO_TCP, PROTO_UDP) and r.random() < 0.1:
                rule.proto_text = proto
        # Without addresses the family is the `family` key's, or both.
        if fam and not has_net and proto not in (PROTO_ICMP, PROTO_ICMPV6):
            rule.family = fam
        elif proto in (PROTO_ICMP, PROTO_ICMPV6) and not has_net and r.random() < 0.3:
            rule.family = fam

        if proto in (PROTO_TCP, PROTO_UDP):
            if r.random() < 0.45:
                rule.sport, rule.sport_text = self.port_spec()
            if r.random() < 0.6:
                rule.dport, rule.dport_text = self.port_spec()
            if proto == PROTO_TCP and rule.proto_text == "tcp" and r.random() < 0.3:
                mask = 0
                while not mask:
                    mask = r.getrandbits(8) & r.getrandbits(8)
                setm = r.getrandbits(8) & mask
                rule.flags = (setm, mask & ~setm)
        elif proto in (PROTO_ICMP, PROTO_ICMPV6) and r.random() < 0.7:
            # Not 255: iptables' --icmp-type 255 means any type (xt icmp).
            t = r.choice(ICMP_TYPES[fam]) if r.random() < 0.7 else r.randint(0, 254)
            rule.itype = t
            rule.itype_text = t
            if t in ICMP_NAMES[fam] and r.random() < 0.5:
                rule.itype_text = ICMP_NAMES[fam][t]
            if r.random() < 0.4:
                rule.icode = r.choice([0, 0, 1, 3, r.randint(0, 255)])
        # `fragment: true` with an L4 match could never match: not drawn.
        if r.random() < 0.15:
            rule.fragment = False if rule.needs_l4() else r.random() < 0.6
        return rule

    def mutate(self, old):
        """A near copy of an earlier rule, with either action: the same key
        (shadowed: the first one wins), a wider or narrower prefix, other
        destination ports."""
        r = self.rng
        rule = copy.copy(old)
        rule.action = r.choice(["allow", "drop"])
        for side in ("src", "dst"):
            a = getattr(rule, side)
            if a and a[0] == "net" and r.random() < 0.5:
                net = a[1]
                plen = min(bits(net.version), max(0, net.prefixlen + r.choice([-8, -1, 1, 8])))
                net = net_cls(net.version)((int(net.network_address), plen), strict=False)
                setattr(rule, side, ("net", net, self.net_text(net)))
        if rule.dport and r.random() < 0.3:
            rule.dport, rule.dport_text = self.port_spec()
        return rule

    @staticmethod
    def narrow_ports(rule):
        """Turns one port spec with ranges into its first ports; False when
        there is none left."""
        for side in ("sport", "dport"):
            spec = getattr(rule, side)
            if spec and port_masks(spec) > 1:
                spec = [(lo, lo) for lo, _ in spec]
                setattr(rule, side, spec)
                setattr(rule, side + "_text", [lo for lo, _ in spec])
                return True
        return False

    def ruleset(self):
        r = self.rng
        rs = RuleSet()
        rs.default = r.choice(["allow", "drop"])
        rs.write_default = rs.default == "allow" or r.random() < 0.7
        rs.write_stateful = r.random() < 0.7
        self.draw_sets(rs)
        budget = TUPLE_BUDGET
        for _ in range(r.choice([0, 1, 2, 4, 8, 12, 16, 24])):
            if rs.rules and r.random() < 0.2:
                rule = self.mutate(r.choice(rs.rules))
            else:
                rule = self.draw_rule(rs)
            # Ranges too wide for what is left: single ports instead.
            while tuple_cost(rule) > budget // 2 and self.narrow_ports(rule):
                pass
            if tuple_cost(rule) > budget:
                continue
            budget -= tuple_cost(rule)
            rs.rules.append(rule)
        # A catch-all now and then: everything after it is dead.
        if rs.rules and r.random() < 0.1:
            catch = Rule()
            catch.action = r.choice(["allow", "drop"])
            rs.rules.insert(r.randrange(len(rs.rules) + 1), catch)
        return rs

    # ---- packets --------------------------------------------------------

    def near(self, fam, net):
        """An address in net, at one of its edges, or just outside it; always
        an allowed one."""
        r = self.rng
        if net.prefixlen == 0:
            return self.addr(fam)
        first, last = int(net.network_address), int(net.broadcast_address)
        how = r.choice(["in", "in", "first", "last", "below", "above", "any"])
        if how == "any":
            return self.addr(fam)
        v = {"in": r.randint(first, last), "first": first, "last": last, "below": first - 1,
             "above": last + 1}[how]
        if 0 <= v < 1 << bits(fam) and in_allowed(fam, addr_cls(fam)(v)):
            return addr_cls(fam)(v)
        for _ in range(5):
            a = addr_cls(fam)(r.randint(first, last))
            if in_allowed(fam, a):
                return a
        return self.addr(fam)

    def side_addr(self, fam, spec, rs):
        if spec and spec[0] == "net" and spec[1].version == fam:
            return self.near(fam, spec[1])
        if spec and spec[0] == "set":
            members = [m for m in rs.sets[spec[1]] if m.version == fam]
            if members:
                return self.near(fam, self.rng.choice(members))
        return self.addr(fam)

    def port_near(self, spec):
        r = self.rng
        if not spec or r.random() < 0.1:
            return r.choice(self.ports + [0, r.randint(0, 65535)])
        lo, hi = r.choice(spec)
        v = r.choice([lo, hi, lo - 1, hi + 1, r.randint(lo, hi)])
        return min(65535, max(0, v))

    def packet(self, rs, ident):
        r = self.rng
        target = r.choice(rs.rules) if rs.rules and r.random() < 0.8 else None
        fams = sorted(target.families()) if target else [4, 6]
        p = Packet()
        p.ident = ident
        p.fam = r.choice(fams or [4, 6])
        p.src = self.side_addr(p.fam, target and target.src, rs)
        p.dst = self.side_addr(p.fam, target and target.dst, rs)
        if target and target.proto is not None and r.random() < 0.9:
            p.proto = target.proto
        else:
            p.proto = r.choice([PROTO_TCP, PROTO_TCP, PROTO_UDP, PROTO_UDP,
                                PROTO_ICMP if p.fam == 4 else PROTO_ICMPV6,
                                r.choice(OTHER_PROTOS)])
        if p.proto in (PROTO_TCP, PROTO_UDP):
            p.sport = self.port_near(target and target.sport)
            p.dport = self.port_near(target and target.dport)
            if p.proto == PROTO_TCP:
                p.flags = r.getrandbits(8)
                if target and target.flags:
                    setm, unsetm = target.flags
                    p.flags = (p.flags & ~(setm | unsetm)) | setm
                    if r.random() < 0.35:
                        p.flags ^= 1 << r.choice([i for i in range(8) if (setm | unsetm) >> i & 1])
                p.tcp_opt_words = r.choice([0, 0, 0, 1, 3])
        elif p.proto in (PROTO_ICMP, PROTO_ICMPV6):
            types = ICMP_TYPES[p.fam]
            if target and target.itype is not None:
                p.itype = min(255, max(0, target.itype + r.choice([0, 0, 0, -1, 1])))
            else:
                p.itype = r.choice(types) if r.random() < 0.7 else r.randint(0, 255)
            if target and target.icode is not None:
                p.icode = min(255, max(0, target.icode + r.choice([0, 0, 0, -1, 1])))
            else:
                p.icode = r.choice([0, 0, 0, 1, 3, r.randint(0, 255)])
        # Fragments: later ones carry no L4 header. A TCP fragment at offset 8
        # is left out: iptables' tcp match drops it (the flag-overwrite attack,
        # xt_tcpudp.c), a case of its own, not a rule's verdict.
        f = r.random()
        if target and target.fragment and f < 0.7:
            p.frag = "later"
        elif f < 0.12:
            p.frag = "later"
        elif f < 0.2:
            p.frag = "first"
        elif f < 0.24 and p.fam == 6:
            p.frag = "atomic"
        if p.frag == "later":
            p.frag_off = r.choice([2, 3, 100, 185, 8191])
            p.more = r.random() < 0.5
        p.ipid = r.getrandbits(16 if p.fam == 4 else 32)
        p.df = p.frag == "none" and r.random() < 0.5
        p.ip_opts = p.fam == 4 and r.random() < 0.1
        if p.fam == 6:
            p.ext = [e for e in ("hbh", "dst") if r.random() < 0.1]
            p.flow = r.getrandbits(20)
        p.pad = r.randbytes(r.choice([0, 1, 8, 23]))
        p.seq = r.getrandbits(32), r.getrandbits(32)
        return p


# ---- packets ------------------------------------------------------------


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


class Packet:
    def __init__(self):
        self.fam = 4
        self.src = self.dst = None
        self.proto = PROTO_UDP
        self.sport = self.dport = 0
        self.itype = self.icode = 0
        self.flags = 0
        self.tcp_opt_words = 0
        self.frag = "none"     # none | first (offset 0, M) | later (offset > 0) | atomic (v6)
        self.frag_off = 0      # 8-byte units
        self.more = False
        self.ipid = 0
        self.df = False
        self.ip_opts = False
        self.ext = []
        self.flow = 0
        self.pad = b""
        self.seq = (0, 0)
        self.ident = 0

    def later(self):
        return self.frag == "later"

    def describe(self):
        fam = f"ipv{self.fam}"
        name = PROTO_NAMES.get(self.proto, str(self.proto))
        if self.fam == 6 and self.proto == PROTO_ICMP:
            name = "1"
        s, d = str(self.src), str(self.dst)
        if self.later():
            l4 = ""
        elif self.proto in (PROTO_TCP, PROTO_UDP):
            s, d = (f"[{s}]:{self.sport}", f"[{d}]:{self.dport}") if self.fam == 6 else \
                (f"{s}:{self.sport}", f"{d}:{self.dport}")
            l4 = ""
            if self.proto == PROTO_TCP:
                l4 = " flags " + ("|".join(n for i, n in enumerate(TCP_FLAGS) if self.flags >> i & 1)
                                  or "none") + f" (0x{self.flags:02x})"
        elif self.proto in (PROTO_ICMP, PROTO_ICMPV6):
            l4 = f" type {self.itype} code {self.icode}"
        else:
            l4 = ""
        extra = []
        if self.frag == "later":
            extra.append(f"non-first fragment (offset {self.frag_off * 8}{', more' if self.more else ''})")
        elif self.frag == "first":
            extra.append("first fragment")
        elif self.frag == "atomic":
            extra.append("atomic fragment header")
        if self.ip_opts:
            extra.append("IP options")
        if self.ext:
            extra.append("ext " + ",".join(self.ext))
        return f"{fam} {name} {s} > {d}{l4}" + (f" [{'; '.join(extra)}]" if extra else "")

    def l4(self, payload, pseudo):
        if self.later():
            return payload
        if self.proto == PROTO_TCP:
            opts = b"\x01" * (4 * self.tcp_opt_words)
            doff = 5 + self.tcp_opt_words
            h = struct.pack("!HHIIBBHHH", self.sport, self.dport, self.seq[0], self.seq[1],
                            doff << 4, self.flags, 8192, 0, 0) + opts
            c = csum(pseudo(len(h) + len(payload)) + h + payload)
            return h[:16] + struct.pack("!H", c) + h[18:] + payload
        if self.proto == PROTO_UDP:
            h = struct.pack("!HHHH", self.sport, self.dport, 8 + len(payload), 0)
            c = csum(pseudo(len(h) + len(payload)) + h + payload) or 0xFFFF
            return h[:6] + struct.pack("!H", c) + payload
        if self.proto in (PROTO_ICMP, PROTO_ICMPV6):
            h = struct.pack("!BBHHH", self.itype, self.icode, 0, self.seq[0] >> 16,
                            self.seq[0] & 0xFFFF)
            pre = pseudo(len(h) + len(payload)) if self.proto == PROTO_ICMPV6 else b""
            c = csum(pre + h + payload)
            return h[:2] + struct.pack("!H", c) + h[4:] + payload
        return payload

    def frame(self, magic, dst_mac, src_mac):
        """The Ethernet frame; its IP packet ends with magic and the ident."""
        payload = self.pad + magic + struct.pack("!I", self.ident)
        src, dst = self.src.packed, self.dst.packed
        if self.fam == 4:
            def pseudo(n):
                return src + dst + struct.pack("!BBH", 0, self.proto, n)
            l4 = self.l4(payload, pseudo)
            opts = b"\x01" * 4 if self.ip_opts else b""
            ihl = 5 + len(opts) // 4
            frag = 0x4000 if self.df else 0
            if self.frag == "first":
                frag = 0x2000
            elif self.later():
                frag = (0x2000 if self.more else 0) | self.frag_off
            h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(l4), self.ipid, frag,
                            64, self.proto, 0, src, dst) + opts
            h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
            return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + h + l4

        def pseudo6(n):
            return src + dst + struct.pack("!IxxxB", n, self.proto)
        body = self.l4(payload, pseudo6)
        nh = self.proto
        if self.frag != "none":
            off = self.frag_off << 3 | (1 if self.frag == "first" or self.more else 0)
            body = struct.pack("!BBHI", nh, 0, off, self.ipid) + body
            nh = 44
        for e in reversed(self.ext):
            # PadN of 4: an 8-byte header with nothing in it.
            body = struct.pack("!BB", nh, 0) + b"\x01\x04\0\0\0\0" + body
            nh = 0 if e == "hbh" else 60
        h = struct.pack("!IHBB16s16s", 6 << 28 | self.flow, len(body), nh, 64, src, dst)
        return dst_mac + src_mac + struct.pack("!H", ETH_P_IPV6) + h + body


def frame_tag(frame, magic):
    """The ident at the end of an IP packet carrying magic, else None."""
    if len(frame) < 14 + 20:
        return None
    et = struct.unpack_from("!H", frame, 12)[0]
    if et == ETH_P_IP:
        end = 14 + struct.unpack_from("!H", frame, 16)[0]
    elif et == ETH_P_IPV6 and len(frame) >= 54:
        end = 54 + struct.unpack_from("!H", frame, 18)[0]
    else:
        return None
    if end > len(frame) or frame[end - 8:end - 4] != magic:
        return None
    return struct.unpack_from("!I", frame, end - 4)[0]


# ---- the model ----------------------------------------------------------


def addr_match(spec, addr, fam, rs):
    if spec is None:
        return True
    if spec[0] == "net":
        return spec[1].version == fam and addr in spec[1]
    return any(m.version == fam and addr in m for m in rs.sets[spec[1]])


def rule_match(rule, p, rs):
    if p.fam not in rule.families():
        return False
    if not addr_match(rule.src, p.src, p.fam, rs) or not addr_match(rule.dst, p.dst, p.fam, rs):
        return False
    if rule.proto is not None and p.proto != rule.proto:
        return False
    if rule.fragment is not None and p.later() != rule.fragment:
        return False
    if rule.needs_l4():
        # Like iptables: no port, type or flag match on a later fragment.
        if p.later():
            return False
        for spec, v in ((rule.sport, p.sport), (rule.dport, p.dport)):
            if spec and not any(lo <= v <= hi for lo, hi in spec):
                return False
        if rule.itype is not None and p.itype != rule.itype:
            return False
        if rule.icode is not None and p.icode != rule.icode:
            return False
        if rule.flags and p.flags & (rule.flags[0] | rule.flags[1]) != rule.flags[0]:
            return False
    return True


def model_verdict(rs, p):
    """(allowed, index of the deciding rule or None for the default)."""
    for i, rule in enumerate(rs.rules):
        if rule_match(rule, p, rs):
            return rule.action == "allow", i
    return rs.default == "allow", None


# ---- iptables translation ----------------------------------------------


def ipset_name(set_name, fam):
    return f"fweq_{set_name}_{fam}"


def ipset_members(net):
    """hash:net takes prefix lengths from 1: /0 becomes its two halves."""
    if net.prefixlen:
        return [net]
    return list(net.subnets(new_prefix=1))


def ports_opts(spec, direction):
    """--sport/--dport for one item, -m multiport for a list."""
    if len(spec) == 1:
        lo, hi = spec[0]
        return [f"--{direction}", str(lo) if lo == hi else f"{lo}:{hi}"]
    return ["-m", "multiport", f"--{direction}s",
            ",".join(str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in spec)]


def ipt_rules(rule, i, fam, rs, sets_mode, explicit_frag=False):
    """(lines for FORWARD, {chain: lines}) of rule i in family fam.

    explicit_frag: exclude later fragments from every rule with an L4 match
    in so many words. iptables' matches do that themselves (x_tables:
    xt_tcpudp, xt_multiport, icmp), and iptables-legacy is the reference;
    but the native nftables expressions iptables-nft compiles --dport,
    --tcp-flags and --icmp-type into read a later fragment's payload (IPv4)
    or its IPv6 header (thoff 0) as the L4 header on this kernel (6.18)."""
    target = "ACCEPT" if rule.action == "allow" else "DROP"
    # Sets: a match on an ipset, or (expand) one rule per member and side.
    sides = []
    for flag, spec, direction in (("-s", rule.src, "src"), ("-d", rule.dst, "dst")):
        if spec is None:
            sides.append([[]])
        elif spec[0] == "net":
            sides.append([[flag, str(spec[1])]])
        elif sets_mode == "ipset":
            sides.append([["-m", "set", "--match-set", ipset_name(spec[1], fam), direction]])
        else:
            sides.append([[flag, str(m)] for m in rs.sets[spec[1]] if m.version == fam])
    m = []
    if rule.proto is not None:
        name = PROTO_NAMES.get(rule.proto, str(rule.proto))
        m += ["-p", "ipv6-icmp" if name == "icmpv6" else name]
    # The tcp/udp match's own options first: multiport takes --dport too.
    ports = [ports_opts(spec, d) for spec, d in ((rule.sport, "sport"), (rule.dport, "dport"))
             if spec]
    m += [x for p in ports if p[0] != "-m" for x in p]
    if rule.itype is not None:
        tc = str(rule.itype) + (f"/{rule.icode}" if rule.icode is not None else "")
        m += ["--icmp-type" if fam == 4 else "--icmpv6-type", tc]
    fragment = rule.fragment
    if explicit_frag and rule.needs_l4():
        fragment = False
    if rule.flags:
        # --tcp-flags knows FIN..URG only; ECE and CWR go to the ecn match.
        def names(mask):
            return ",".join(n.upper() for k, n in enumerate(TCP_FLAGS[:6]) if mask >> k & 1) or "NONE"
        setm, mask = rule.flags[0], rule.flags[0] | rule.flags[1]
        m += ["--tcp-flags", names(mask), names(setm)]
        if mask & 0xC0:
            m += ["-m", "ecn"]
            for bit, opt in ((0x40, "--ecn-tcp-ece"), (0x80, "--ecn-tcp-cwr")):
                if mask & bit:
                    m += [opt] if setm & bit else ["!", opt]
        if not mask & 0x3F:
            # Then --tcp-flags NONE NONE, which iptables-nft turns into
            # nothing, and the ecn match reads any later fragment as a TCP
            # header: exclude those (as every L4 match does) explicitly.
            fragment = False
    m += [x for p in ports if p[0] == "-m" for x in p]
    chains = {}
    jump = target
    if fragment is not None:
        if fam == 4:
            m += ["-f"] if fragment else ["!", "-f"]
        else:
            # ip6tables has no -f, and its frag match cannot say "not the
            # first": a chain of its own returns what is not wanted.
            jump = f"FRAG{i}"
            if fragment:
                m += ["-m", "frag"]
                chains[jump] = [f"-A {jump} -m frag --fragfirst -j RETURN", f"-A {jump} -j {target}"]
            else:
                chains[jump] = [f"-A {jump} -m frag --fragfirst -j {target}",
                                f"-A {jump} -m frag -j RETURN", f"-A {jump} -j {target}"]
    lines = []
    for s in sides[0]:
        for d in sides[1]:
            lines.append(" ".join(["-A", "FORWARD"] + s + d + m + ["-j", jump]))
    return lines, chains


def ipt_restore_text(rs, fam, sets_mode, explicit_frag=False):
    policy = "ACCEPT" if rs.default == "allow" else "DROP"
    chains, lines = {}, [f"-A FORWARD -s {MARKER_SRC[fam]} -j ACCEPT"]
    for i, rule in enumerate(rs.rules):
        if fam not in rule.families():
            continue
        ls, cs = ipt_rules(rule, i, fam, rs, sets_mode, explicit_frag)
        lines += ls
        chains.update(cs)
    out = ["*filter", ":INPUT ACCEPT [0:0]", f":FORWARD {policy} [0:0]", ":OUTPUT ACCEPT [0:0]"]
    out += [f":{c} - [0:0]" for c in chains]
    for c in chains.values():
        out += c
    return "\n".join(out + lines + ["COMMIT", ""])


def ipset_restore_text(rs):
    out = []
    for name, members in rs.sets.items():
        for fam in (4, 6):
            n = ipset_name(name, fam)
            out.append(f"create {n} hash:net family {'inet' if fam == 4 else 'inet6'}")
            out += [f"add {n} {x} -exist" for m in members if m.version == fam
                    for x in ipset_members(m)]
    return "\n".join(out) + "\n"


# ---- namespaces and sockets ----------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def in_netns(ns, fn):
    """fn() with this thread in network namespace ns; sockets made there
    stay there."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET):
            e = ctypes.get_errno()
            raise OSError(e, f"setns {ns}: {os.strerror(e)}")
        try:
            return fn()
        finally:
            if _libc.setns(home, CLONE_NEWNET):
                die("cannot return to the original network namespace")
    finally:
        os.close(fd)
        os.close(home)


def ns_run(ns, argv, stdin=None, check=True):
    r = subprocess.run(["nsenter", f"--net=/run/netns/{ns}"] + argv, input=stdin,
                       capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError(f"{' '.join(argv)} in {ns} failed ({r.returncode}): "
                           f"{r.stderr.strip() or r.stdout.strip()}")
    return r


def mac_of(ns, ifname):
    info = json.loads(ns_run(ns, ["ip", "-j", "link", "show", "dev", ifname]).stdout)
    return bytes.fromhex(info[0]["address"].replace(":", ""))


class Wire:
    """AF_PACKET in front of the router (sender) and behind it (receiver)."""

    def __init__(self, a):
        self.dst_mac = mac_of(a.router, a.router_in)
        self.src_mac = mac_of(a.sender, a.sender_if)

        def tx():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            s.bind((a.sender_if, 0))
            return s

        def rx():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
            s.bind((a.receiver_if, ETH_P_ALL))
            s.setblocking(False)
            return s

        self.tx = in_netns(a.sender, tx)
        self.rx = in_netns(a.receiver, rx)

    def drain(self, magic, seen):
        while True:
            try:
                data, addr = self.rx.recvfrom(65535)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            t = frame_tag(data, magic)
            if t is not None:
                seen[t] = seen.get(t, 0) + 1

    def exchange(self, frames, markers, magic, burst, gap):
        """Sends frames, then the markers; returns {ident: copies} of what
        arrived, once every marker has (or after 3 s)."""
        seen = {}
        self.drain(magic, {})
        for i, f in enumerate(frames):
            self.tx.send(f)
            if i % burst == burst - 1:
                time.sleep(gap)
                self.drain(magic, seen)
        for f in markers.values():
            self.tx.send(f)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and not all(m in seen for m in markers):
            select.select([self.rx], [], [], 0.05)
            self.drain(magic, seen)
        # A marker overtaking a packet on another CPU's backlog: let it land.
        time.sleep(0.03)
        self.drain(magic, seen)
        return seen


# ---- one round ----------------------------------------------------------


class Tools:
    def __init__(self, a):
        pre = a.iptables
        self.restore = {4: f"iptables-{pre}-restore", 6: f"ip6tables-{pre}-restore"}
        self.save = {4: f"iptables-{pre}-save", 6: f"ip6tables-{pre}-save"}


def ipt_counters(a, tools, fam):
    """(accepted, total) packets of the test rules and the policy."""
    text = ns_run(a.router, [tools.save[fam], "-c", "-t", "filter"]).stdout
    acc = tot = 0
    for line in text.splitlines():
        if line.startswith(":FORWARD "):
            n = int(line.rsplit("[", 1)[1].split(":")[0])
            tot += n
            acc += n if " ACCEPT " in line else 0
        elif line.startswith("[") and " -A " in line and MARKER_SRC[fam] not in line:
            n = int(line[1:].split(":")[0])
            if line.endswith("-j ACCEPT"):
                acc += n
                tot += n
            elif line.endswith("-j DROP"):
                tot += n
    return acc, tot


def ipt_decider(a, tools, wire, rs, frame, markers, magic):
    """The iptables rule (or policy) that counted frame, sent alone."""
    load_iptables(a, tools, rs)
    wire.exchange([frame], markers, magic, 1, 0)
    hits = []
    for fam in (4, 6):
        text = ns_run(a.router, [tools.save[fam], "-c", "-t", "filter"]).stdout
        for line in text.splitlines():
            if MARKER_SRC[fam] in line:
                continue
            if line.startswith(":FORWARD ") and not line.endswith("[0:0]"):
                hits.append(f"{'ip6tables' if fam == 6 else 'iptables'} policy {line.split()[1]}")
            elif line.startswith("[") and not line.startswith("[0:"):
                hits.append(line.split("] ", 1)[1])
    return "; ".join(hits) or "none (lost before FORWARD?)"


def load_iptables(a, tools, rs):
    empty = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
    for fam in (4, 6):
        ns_run(a.router, [tools.restore[fam]], stdin=empty)
    if a.sets_mode == "ipset":
        ns_run(a.router, ["ipset", "destroy"])
        if rs.sets:
            ns_run(a.router, ["ipset", "restore"], stdin=ipset_restore_text(rs))
    for fam in (4, 6):
        text = ipt_restore_text(rs, fam, a.sets_mode, a.iptables == "nft")
        ns_run(a.router, [tools.restore[fam]], stdin=text)


def bpf_verdicts(a, frames):
    pin = os.path.join(a.pin_root, a.chain, "root_fwd")
    r = subprocess.run([a.xdp_verdict, pin], input="\n".join(f.hex() for f in frames) + "\n",
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"xdp_verdict: {r.stderr.strip()}")
    out = r.stdout.split()
    if len(out) != len(frames):
        raise RuntimeError(f"xdp_verdict: {len(out)} verdicts for {len(frames)} frames")
    return out


def fw_counts(a):
    """{what: packets} of the firewall's rules and verdict counters."""
    argv = [a.sfcctl, "-j"] + (["--pin-root", a.pin_root] if a.pin_root_arg else [])
    r = subprocess.run(argv + ["rules", a.chain, "fw"], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"sfcctl rules: {r.stdout.strip()} {r.stderr.strip()}")
    fw = json.loads(r.stdout)["firewalls"][0]
    counts = {f"rule #{x['index']}": x["packets"] for x in fw["rules"]}
    counts.update({k: v["packets"] for k, v in fw["verdicts"].items()})
    return counts


def fw_decider(a, frame):
    """The firewall's rule (or verdict counter) that counted frame."""
    try:
        before = fw_counts(a)
        bpf_verdicts(a, [frame])
        after = fw_counts(a)
    except (RuntimeError, ValueError, KeyError, IndexError) as e:
        return f"unknown ({e})"
    return ", ".join(k for k in after if after[k] != before.get(k)) or "nothing"


def apply_chain(a, rs, path):
    with open(path, "w") as f:
        f.write(chain_yaml(rs, a.chain, a.fw_if, a.bpf))
    argv = [a.sfcctl, "-n", a.fw_netns]
    if a.pin_root_arg:
        argv += ["--pin-root", a.pin_root]
    r = subprocess.run(argv + ["apply", path], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"sfcctl apply: {r.stderr.strip() or r.stdout.strip()}")


def print_ruleset(rs, a):
    print("  chain file:")
    for line in chain_yaml(rs, a.chain, a.fw_if, "firewall").splitlines():
        print("    " + line)
    for fam in (4, 6):
        print(f"  {'iptables' if fam == 4 else 'ip6tables'}-restore:")
        for line in ipt_restore_text(rs, fam, a.sets_mode, a.iptables == "nft").splitlines():
            print("    " + line)


class Totals:
    def __init__(self):
        self.cases = self.allowed = self.dropped = self.by_rule = 0
        self.mismatch = self.model_off = self.errors = 0


def run_round(a, k, tools, wire, tot, tmp):
    d = Drawer(a.seed, k)
    rs = d.ruleset()
    magic = b"\xfe\x9a" + struct.pack("!H", k & 0xFFFF)
    pkts = [d.packet(rs, k << 16 | j) for j in range(a.packets)]
    frames = [p.frame(magic, wire.dst_mac, wire.src_mac) for p in pkts]
    markers = {}
    for fam in (4, 6):
        m = Packet()
        m.fam, m.proto, m.sport, m.dport = fam, PROTO_UDP, 9, 9
        m.src, m.dst = ipaddress.ip_address(MARKER_SRC[fam]), ipaddress.ip_address(MARKER_DST[fam])
        m.ident = 0xFFFF0000 | fam
        markers[m.ident] = m.frame(magic, wire.dst_mac, wire.src_mac)
    if a.keep:
        with open(os.path.join(a.keep, f"round{k}.frames"), "w") as f:
            f.writelines(f"{p.describe()}\n{fr.hex()}\n" for p, fr in zip(pkts, frames))

    try:
        apply_chain(a, rs, os.path.join(a.keep or tmp, f"round{k}.yaml"))
        bpf = bpf_verdicts(a, frames)
    except RuntimeError as e:
        print(f"round {k}: ERROR {e}")
        print_ruleset(rs, a)
        tot.errors += 1
        return

    # The kernel path, retried (slower) if a packet went missing on the way:
    # the counters of FORWARD and the capture must account for every frame.
    for attempt in range(3):
        burst, gap = (16, 0.001) if attempt == 0 else (4, 0.002 * attempt)
        try:
            load_iptables(a, tools, rs)   # also zeroes the counters
        except RuntimeError as e:
            print(f"round {k}: ERROR {e}")
            print_ruleset(rs, a)
            tot.errors += 1
            return
        seen = wire.exchange(frames, markers, magic, burst, gap)
        acc = tot_n = 0
        for fam in (4, 6):
            x, y = ipt_counters(a, tools, fam)
            acc, tot_n = acc + x, tot_n + y
        arrived = sum(1 for p in pkts if p.ident in seen)
        dup = [p.ident for p in pkts if seen.get(p.ident, 0) > 1]
        missing_markers = [m for m in markers if m not in seen]
        if tot_n == len(pkts) and acc == arrived and not dup and not missing_markers:
            break
        print(f"round {k}: harness: {len(pkts)} sent, {tot_n} counted in FORWARD, "
              f"{acc} accepted, {arrived} arrived, {len(dup)} duplicated, markers "
              f"missing {missing_markers}; {'retrying' if attempt < 2 else 'giving up'}")
    else:
        print_ruleset(rs, a)
        tot.errors += 1
        return

    bad = 0
    allowed = 0
    mismatched = []
    for j, p in enumerate(pkts):
        ipt = p.ident in seen
        want, rule_i = model_verdict(rs, p)
        allowed += ipt
        tot.by_rule += rule_i is not None
        if a.bpf == "firewall":
            if bpf[j] not in ("pass", "drop"):
                b = None
            else:
                b = bpf[j] == "pass"
            ok = b == ipt
        else:
            # No firewall in the chain: it must pass all, and iptables must
            # do what the model says (the harness checks itself).
            b = bpf[j] == "pass"
            ok = b and ipt == want
        if want != ipt:
            tot.model_off += 1
        if ok:
            continue
        bad += 1
        if bad <= a.show:
            which = "firewall " + bpf[j] + ", " if a.bpf == "firewall" else \
                f"chain ({a.bpf}) {bpf[j]}, "
            print(f"MISMATCH round {k} packet {j}: {which}iptables "
                  f"{'allow' if ipt else 'drop'}, model {'allow' if want else 'drop'} "
                  f"({'rule #' + str(rule_i) if rule_i is not None else 'default'})")
            print(f"  packet: {p.describe()}")
            print(f"  frame:  {frames[j].hex()}")
            if rule_i is not None:
                print(f"  model's rule #{rule_i}: {yaml_flow(rs.rules[rule_i].config())}")
            mismatched.append(j)
    # Once more, one by one, to name the rules that decided.
    for j in mismatched:
        print(f"  packet {j}: iptables counted it in: "
              f"{ipt_decider(a, tools, wire, rs, frames[j], markers, magic)}")
        if a.bpf == "firewall":
            print(f"  packet {j}: the firewall counted it in: {fw_decider(a, frames[j])}")
    if bad:
        print(f"round {k}: {bad} of {len(pkts)} verdicts differ; the rule set:")
        print_ruleset(rs, a)
    tot.mismatch += bad
    tot.cases += len(pkts)
    tot.allowed += allowed
    tot.dropped += len(pkts) - allowed
    if a.verbose:
        print(f"round {k}: {len(rs.rules)} rules, {len(rs.sets)} sets, default {rs.default}: "
              f"{allowed} allowed, {len(pkts) - allowed} dropped, {bad} differ")


def conntrack_quiet(a):
    """Whether conntrack tracked nothing in the router: no defragmentation,
    no INVALID; the rules alone decided."""
    r = ns_run(a.router, ["cat", "/proc/sys/net/netfilter/nf_conntrack_count"], check=False)
    return r.returncode != 0 or r.stdout.strip() == "0", r.stdout.strip()


def cmd_run(a):
    if a.sets_mode == "auto":
        ok = ns_run(a.router, ["ipset", "create", "fweq_probe", "hash:net"], check=False)
        a.sets_mode = "ipset" if ok.returncode == 0 else "expand"
        ns_run(a.router, ["ipset", "destroy", "fweq_probe"], check=False)
    a.pin_root_arg = a.pin_root is not None
    a.pin_root = a.pin_root or "/sys/fs/bpf/sfc"
    tools = Tools(a)
    wire = Wire(a)
    tot = Totals()
    rounds = [a.only] if a.only is not None else range(a.rounds)
    print(f"fw_equiv: seed {a.seed}, {len(rounds)} rule sets x {a.packets} packets, "
          f"chain function {a.bpf}, iptables-{a.iptables}, sets via {a.sets_mode}")
    t0 = time.monotonic()
    for k in rounds:
        run_round(a, k, tools, wire, tot, a.tmp)
    quiet, count = conntrack_quiet(a)
    if not quiet:
        print(f"harness: conntrack tracked {count} connections in {a.router}: "
              "it may have defragmented or marked packets")
        tot.errors += 1
    print(f"fw_equiv: {tot.cases} cases: {tot.allowed} allowed, {tot.dropped} dropped by iptables; "
          f"{tot.by_rule} decided by a rule, {tot.cases - tot.by_rule} by the default; "
          f"{tot.mismatch} mismatches, {tot.errors} harness errors "
          f"({time.monotonic() - t0:.1f} s)")
    if tot.model_off:
        print(f"fw_equiv: note: the model disagreed with iptables {tot.model_off} times")
    if tot.mismatch or tot.errors or not tot.cases:
        print(f"fw_equiv: FAILED; reproduce one round: SEED={a.seed} ... --only K")
        return 1
    return 0


def cmd_show(a):
    d = Drawer(a.seed, a.round)
    rs = d.ruleset()
    print(chain_yaml(rs, "show", "eth0", "firewall"), end="")
    if a.iptables_text:
        for fam in (4, 6):
            print(f"# {'iptables' if fam == 4 else 'ip6tables'}-restore")
            print(ipt_restore_text(rs, fam, "ipset"), end="")
        print("# ipset restore")
        print(ipset_restore_text(rs), end="")
    for j in range(a.packets):
        p = d.packet(rs, j)
        allow, i = model_verdict(rs, p)
        print(f"# {j}: {p.describe()} -> {'allow' if allow else 'drop'} "
              f"({'rule #' + str(i) if i is not None else 'default'})")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="compare the firewall with iptables")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--rounds", type=int, default=60, help="rule sets")
    r.add_argument("--packets", type=int, default=200, help="packets per rule set")
    r.add_argument("--only", type=int, help="run round K alone")
    r.add_argument("--sfcctl", required=True)
    r.add_argument("--xdp-verdict", required=True)
    r.add_argument("--chain", required=True, help="chain name (created or updated)")
    r.add_argument("--pin-root", help="sfcctl --pin-root")
    r.add_argument("--bpf", choices=["firewall", "passthrough"], default="firewall",
                   help="function type of the chain (passthrough: check the harness)")
    r.add_argument("--fw-netns", required=True, help="netns of the chain's interface")
    r.add_argument("--fw-if", required=True, help="the chain's interface (no traffic)")
    r.add_argument("--router", required=True, help="netns that forwards and runs iptables")
    r.add_argument("--router-in", required=True, help="its interface facing the sender")
    r.add_argument("--sender", required=True)
    r.add_argument("--sender-if", required=True)
    r.add_argument("--receiver", required=True)
    r.add_argument("--receiver-if", required=True)
    r.add_argument("--iptables", choices=["nft", "legacy"], default="legacy",
                   help="backend (nft: later fragments excluded explicitly)")
    r.add_argument("--sets", dest="sets_mode", choices=["auto", "ipset", "expand"], default="auto")
    r.add_argument("--show", type=int, default=5, help="mismatches shown per round")
    r.add_argument("--keep", help="directory to keep chain files and frames in")
    r.add_argument("--tmp", default="/tmp")
    r.add_argument("-v", "--verbose", action="store_true", help="a line per round")
    s = sub.add_parser("show", help="print a round's rule set and packets")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--round", type=int, default=0)
    s.add_argument("--packets", type=int, default=20)
    s.add_argument("--iptables", dest="iptables_text", action="store_true")
    a = ap.parse_args()
    sys.exit(cmd_run(a) if a.cmd == "run" else cmd_show(a))


if __name__ == "__main__":
    main()
