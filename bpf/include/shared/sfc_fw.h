/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Firewall ABI: the compiled rule set as libsfc writes it (loader/lib/
 * nf_firewall.c) and bpf/nf_firewall.bpf.c reads it.
 *
 * Classifier: tuple space search. Every rule is compiled into one or more
 * keys; a key belongs to a tuple, the set of masks (prefix lengths, which
 * fields are wildcards, port classes or blocks, set memberships) its rule
 * uses. A packet is classified by masking its fields with each tuple's
 * masks in turn and looking the result up in one hash table: the cost grows
 * with the number of distinct rule shapes, not with the number of rules.
 * The IPv4 tuples come first, then the IPv6 ones, so a packet walks only its
 * family's; within a family tuples are sorted by the lowest rule index they
 * hold, so the search stops as soon as the best match so far comes before
 * every rule of the tuples left (first match wins).
 *
 * Expansions: a rule without addresses gets a key in an IPv4 and an IPv6
 * tuple; a list gets one key per element; 0-65535 is a 0 mask, a port range
 * one key per port class it covers (below), and a single port an exact
 * match (0xffff mask), or its class where a rule of the same shape has a
 * range by class. Two keys of one tuple that are equal keep the lower rule.
 *
 * Port classes (the first phase of Recursive Flow Classification): the
 * bounds of the rule set's port ranges (and of the single ports by class)
 * cut 0..65535 into elementary intervals, per field; sfc_fw_sport_class and
 * sfc_fw_dport_class map each port to its interval's index, the class id.
 * A tuple whose sport (dport) is in class mode (SFC_FW_TF_SPORT_CLASS,
 * SFC_FW_TF_DPORT_CLASS) matches the packet's class id instead of its port:
 * all ranges and ports of one rule shape share one tuple, where power-of-two
 * blocks need a port mask, so a tuple, per block size. The data path looks
 * the two class ids up once per packet, only when sfc_fw_class_lookups says
 * a tuple of the packet's family needs them. A rule whose ranges would
 * cover too many classes (the loader's FW_CLASS_KEYS) has them split into
 * aligned power-of-two blocks instead: a value under a port mask, at most
 * 30 for 1-65534.
 *
 * All addresses, ports and their masks are in network byte order: masking
 * commutes with the byte swap, so the data path swaps only to index the
 * class maps (by port in host order, readable in a map dump). Class ids are
 * not ports: a key holds the class map's __u16 value as it is, under a
 * 0xffff mask.
 */
#ifndef SFC_SHARED_FW_H
#define SFC_SHARED_FW_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <linux/bpf.h>	/* struct bpf_spin_lock */
#endif

/*
 * The firewall type's map ABI: the layout and meaning of what it keeps pinned
 * in nf/<function>/ (its maps, but those that belong to a generation).
 * Bump it whenever one of them changes in a way a chain applied before
 * cannot be read with, and teach loader/lib/compat.c the migration or
 * let it refuse (docs/design.md, "Versions and upgrades"). 1: sfc 0.1.0.
 */
#define SFC_FW_MAP_ABI 1

#define SFC_FW_MAX_RULES	262144
#define SFC_FW_MAX_TUPLES	256
#define SFC_FW_MAX_SETS		64
#define SFC_FW_MAX_KEYS		(4 * 1024 * 1024)
#define SFC_FW_NO_RULE		0xffffffffu

/* sfc_fw_key.pflags */
#define SFC_FW_PF_L4	0x01	/* the packet has a whole L4 header (ports, ICMP, flags) */
#define SFC_FW_PF_FRAG	0x02	/* non-first fragment (no L4 header) */

/*
 * The packet fields a rule can match, masked by a tuple. A rule that matches
 * ports, ICMP type/code or TCP flags also requires SFC_FW_PF_L4 (mask and
 * value), like iptables, whose port matches never match a later fragment.
 * `fragment: true|false` puts SFC_FW_PF_FRAG into mask and value.
 */
struct sfc_fw_key_hdr {
	__u16 tuple;		/* index into sfc_fw_tuples */
	__u8 proto;		/* IPPROTO_*; 0 with a 0 mask */
	__u8 pflags;		/* SFC_FW_PF_* */
	__be16 sport;		/* TCP/UDP ports; in class mode, the class id */
	__be16 dport;
	__u16 vlan;		/* outer VLAN id, host order; 0 untagged */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 tcp_flags;		/* TCP byte 13 */
	__u8 pad[3];
};

struct sfc_fw_key4 {
	struct sfc_fw_key_hdr h;
	__be32 src;
	__be32 dst;
};

struct sfc_fw_key6 {
	struct sfc_fw_key_hdr h;
	__be32 src[4];
	__be32 dst[4];
};

/* sfc_fw_tuple.flags: the key's port holds the packet's port class id. */
#define SFC_FW_TF_SPORT_CLASS	0x01
#define SFC_FW_TF_DPORT_CLASS	0x02

/*
 * One tuple. A packet of another family skips it; so does a packet whose
 * source (destination) is not in set src_set - 1 (dst_set - 1) when that is
 * not 0. Otherwise its fields are masked with these masks and looked up.
 */
struct sfc_fw_tuple {
	__u32 min_rule;		/* lowest rule index among the tuple's keys */
	__u8 family;		/* 4 or 6 */
	__u8 proto_mask;	/* 0 or 0xff */
	__u8 pflags_mask;
	__u8 tcp_flags_mask;
	__be16 sport_mask;	/* 0xffff in class mode */
	__be16 dport_mask;
	__u16 vlan_mask;	/* 0 or 0xfff */
	__u8 icmp_type_mask;	/* 0 or 0xff */
	__u8 icmp_code_mask;
	__u8 src_set;		/* 0: none; else set index + 1 */
	__u8 dst_set;
	__u8 flags;		/* SFC_FW_TF_* */
	__u8 pad;
	__be32 src_mask[4];	/* IPv4 uses [0] */
	__be32 dst_mask[4];
};

enum sfc_fw_action {
	SFC_FW_DROP = 0,
	SFC_FW_ALLOW = 1,
};

/* sfc_fw_rule.flags */
#define SFC_FW_RULE_LIMIT	0x01	/* token bucket: over the rate, the packet is dropped */

struct sfc_fw_rule {
	__u8 action;		/* enum sfc_fw_action */
	__u8 flags;		/* SFC_FW_RULE_* */
	__u16 pad;
	__u32 line;		/* where the rule is in the chain file */
	__u64 cost_ps;		/* a packet's cost in picoseconds: 1e12 / pps */
	__u64 burst_ps;		/* bucket size: burst * cost_ps */
};

/* Token bucket of a rate-limited rule, shared by all CPUs. */
struct sfc_fw_bucket {
	struct bpf_spin_lock lock;
	__u32 pad;
	__u64 credit_ps;	/* time credit, at most burst_ps */
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last refill */
};

struct sfc_fw_counter {
	__u64 packets;
	__u64 bytes;
};

/* Keys of the per-verdict counters (sfc_fw_verdicts). Never renumbered. */
enum sfc_fw_verdict {
	SFC_FW_V_RULE_ALLOW = 0,	/* a rule allowed it */
	SFC_FW_V_RULE_DROP,		/* a rule dropped it */
	SFC_FW_V_DEFAULT_ALLOW,		/* no rule matched, defaultAction allow */
	SFC_FW_V_DEFAULT_DROP,		/* no rule matched, defaultAction drop */
	SFC_FW_V_ESTABLISHED,		/* stateful: part of an allowed connection */
	SFC_FW_V_RELATED,		/* stateful: ICMP error about an allowed connection */
	SFC_FW_V_INVALID,		/* stateful: out of window, or TCP without a connection */
	SFC_FW_V_RATE_LIMITED,		/* a rule matched but its rate was exceeded */
	SFC_FW_V_CT_NEW,		/* connections created (not a verdict) */
	SFC_FW_V_MAX,
};

/* sfc_fw_set_lookups: which addresses some tuple needs the sets of. */
#define SFC_FW_SETS_SRC4	0x01
#define SFC_FW_SETS_DST4	0x02
#define SFC_FW_SETS_SRC6	0x04
#define SFC_FW_SETS_DST6	0x08

/*
 * sfc_fw_class_lookups: the port class lookups some tuple needs, per family
 * (a tuple of that family has the matching SFC_FW_TF_*_CLASS flag).
 */
#define SFC_FW_CLASS_SPORT4	0x01
#define SFC_FW_CLASS_DPORT4	0x02
#define SFC_FW_CLASS_SPORT6	0x04
#define SFC_FW_CLASS_DPORT6	0x08
#define SFC_FW_PORTS		65536	/* entries of a port class map */

/* LPM keys of the set tries; the value is a __u64 bitmap of set indexes. */
struct sfc_fw_lpm4 {
	__u32 prefixlen;
	__be32 addr;
};

struct sfc_fw_lpm6 {
	__u32 prefixlen;
	__be32 addr[4];
};

/*
 * Connection table (stateful mode). The key orders the two endpoints, lower
 * (address, port) first, so both directions find one entry; `orig` in the
 * value says which endpoint opened the connection. ICMP echo uses the echo
 * id as both ports.
 */
struct sfc_fw_ct_key {
	__be32 addr[2][4];
	__be16 port[2];
	__u8 family;
	__u8 proto;
	__u16 vlan;
};

enum sfc_fw_ct_state {
	SFC_FW_CT_NONE = 0,
	SFC_FW_CT_SYN_SENT,	/* TCP: SYN seen */
	SFC_FW_CT_SYN_RECV,	/* TCP: SYN+ACK seen */
	SFC_FW_CT_ESTABLISHED,	/* TCP: handshake done; others: reply seen */
	SFC_FW_CT_FIN_WAIT,	/* TCP: one FIN seen */
	SFC_FW_CT_CLOSING,	/* TCP: both FINs seen */
	SFC_FW_CT_CLOSED,	/* TCP: RST seen */
	SFC_FW_CT_UNREPLIED,	/* UDP, ICMP: no reply yet */
};

/* TCP window tracking of one endpoint (the sender of the packets). */
struct sfc_fw_ct_side {
	__u32 end;		/* highest seq + len sent */
	__u32 maxend;		/* highest ack + window the peer advertised */
	__u32 maxwin;		/* largest window advertised, scaled */
	__u8 wscale;		/* window scale from its SYN */
	__u8 flags;		/* SFC_FW_CTS_* */
	__u16 pad;
};

#define SFC_FW_CTS_SEEN		0x01	/* sent a SYN (initiator) or SYN+ACK */
#define SFC_FW_CTS_WSCALE	0x02	/* its SYN carried the window scale option */
#define SFC_FW_CTS_FIN		0x04	/* sent a FIN */

struct sfc_fw_ct {
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last packet */
	__u8 state;		/* enum sfc_fw_ct_state */
	__u8 orig;		/* endpoint index (0 or 1) that opened it */
	__u16 pad;
	__u32 rule;		/* the rule that allowed it; SFC_FW_NO_RULE: default */
	struct sfc_fw_ct_side side[2];	/* [endpoint index] */
};

#endif /* SFC_SHARED_FW_H */
