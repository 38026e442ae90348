/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The chain ABI: the only copy of the types both the BPF programs and
 * userspace use. Plain __u8..__u64 with explicit padding, so the layout is
 * the same for clang -target bpf and for the host compiler.
 *
 * Compatibility: every pinned map of a chain carries these layouts.
 * SFC_ABI_VERSION changes whenever one of them changes; a chain pinned by
 * another ABI version is refused rather than misread.
 */
#ifndef SFC_SHARED_ABI_H
#define SFC_SHARED_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SFC_ABI_VERSION 1

/*
 * Tail-call budget. The kernel allows 33 tail calls per packet
 * (MAX_TAIL_CALL_CNT). A packet takes root -> entry -> NF 1..n -> egress,
 * that is n + 2 tail calls; the 33rd is the verdict hook's (SFC_SLOT_HOOK),
 * reached from the stage that decides the packet's fate, at most the egress.
 * So no function may split itself into two programs.
 */
#define SFC_MAX_FUNCTIONS 30

/*
 * Slots of a generation's program array. Direction d uses slots
 * d * SFC_DIR_SLOTS .. d * SFC_DIR_SLOTS + SFC_DIR_SLOTS - 1: the functions in
 * the order that direction runs them, then the egress program in every
 * remaining slot, so that both "next after the last function" and
 * SFC_SLOT_EGRESS reach it. Never renumbered.
 */
#define SFC_DIR_SLOTS (SFC_MAX_FUNCTIONS + 2)
#define SFC_SLOT_EGRESS (SFC_DIR_SLOTS - 1)
/*
 * The verdict hook, after both directions: the program a function asked to
 * see every final verdict with (a flow monitor recording which verdict each
 * flow got), or empty. A stage that ends a packet whose sfc_pkt.hook is set
 * stores the action in sfc_pkt.verdict and tail-calls this slot; the hook
 * returns sfc_pkt.verdict. One per generation: the runtime fills it with the
 * hook of the first function, in file order, whose type has one. The program
 * array is created for each generation, so adding the slot changed no
 * pinned map.
 */
#define SFC_SLOT_HOOK (2 * SFC_DIR_SLOTS)
#define SFC_PROG_SLOTS (2 * SFC_DIR_SLOTS + 1)

enum sfc_dir {
	SFC_DIR_FWD = 0,	/* arrived on spec.interface */
	SFC_DIR_REV = 1,	/* arrived on spec.egress.interface */
};

/*
 * Stage ids: the key of the per-hop counters is id * 2 + dir. The runtime
 * gives every function a stable id at its first apply and keeps it across
 * re-applies, so counters survive reordering.
 */
enum sfc_stage_id {
	SFC_STAGE_ENTRY = 0,	/* root + entry parser */
	SFC_STAGE_EGRESS = 1,
	SFC_STAGE_FIRST_NF = 2,
};
#define SFC_MAX_STAGES 64
#define SFC_STATS_KEY(id, dir) ((id) * 2 + (dir))
#define SFC_STATS_ENTRIES (SFC_MAX_STAGES * 2)

struct sfc_hop_stats {
	__u64 packets;		/* packets that reached the stage */
	__u64 bytes;
	__u64 handed_on;	/* tail-called the next stage */
	__u64 dropped;		/* XDP_DROP, including invalid */
	__u64 passed;		/* XDP_PASS to the local stack */
	__u64 forwarded;	/* XDP_TX or XDP_REDIRECT */
	__u64 aborted;		/* XDP_ABORTED or internal error */
	__u64 tail_call_miss;	/* tail call failed: default verdict applied */
	__u64 invalid;		/* malformed packets (subset of dropped) */
};

/* sfc_pkt.flags */
#define SFC_PKT_L4		(1 << 0)	/* l4_off..payload_off is a whole L4 header */
#define SFC_PKT_FRAG		(1 << 1)	/* IPv4 MF/offset or IPv6 fragment header */
#define SFC_PKT_FRAG_LATER	(1 << 2)	/* fragment offset != 0: no L4 header */
#define SFC_PKT_IP_OPTS		(1 << 3)	/* IPv4 IHL > 5 */
#define SFC_PKT_IPV6_EXT	(1 << 4)	/* one or more IPv6 extension headers */

/* sfc_pkt.family */
#define SFC_FAMILY_IPV4 4
#define SFC_FAMILY_IPV6 6

/*
 * What the entry parser found, handed to every function through the
 * per-CPU scratch map rather than XDP metadata: older kernels cap metadata at
 * 32 bytes, drivers without metadata support refuse it, and it rides along
 * on PASS/REDIRECT; the cost is about the same (docs/handoff.md). Offsets
 * count from ctx->data; a function that moves the packet head must update
 * them.
 */
struct sfc_pkt {
	__u16 l3_off;		/* IP header */
	__u16 l4_off;		/* L4 header; 0 without SFC_PKT_L4 */
	__u16 payload_off;	/* L4 payload; 0 without SFC_PKT_L4 */
	__u16 l3_len;		/* IPv4 tot_len / IPv6 40 + payload_len */
	__be16 h_proto;		/* innermost ethertype, network order */
	__u16 vlan[2];		/* VLAN ids, outer first, host order */
	__u8 n_vlan;
	__u8 family;		/* SFC_FAMILY_* */
	__u8 l4_proto;		/* IPPROTO_*, after extension headers */
	__u8 flags;		/* SFC_PKT_* */
	__u8 tcp_flags;		/* TCP byte 13: CWR..FIN */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 ttl;		/* TTL or hop limit */
	__be16 sport;		/* TCP/UDP ports; ICMP echo id in sport */
	__be16 dport;
	__u8 verdict_stage;	/* runtime: stage id that set verdict */
	__u8 pad1;
	__be32 src[4];		/* IPv4 address in src[0] */
	__be32 dst[4];
	__u32 len;		/* frame length when the entry saw it */
	/* chain state, owned by the runtime */
	__u8 dir;		/* enum sfc_dir */
	__u8 hop;		/* slot being run, within the direction */
	__u8 hook;		/* 1: call SFC_SLOT_HOOK with the final verdict;
				 * set by a function, reset by the entry */
	__u8 verdict;		/* XDP action handed to the hook */
	__u32 mark;		/* free for the functions to pass a note on */
	__u64 nf_data[2];	/* free for the functions */
};

/* Egress configuration of a generation (rodata of the entry object). */
enum sfc_egress_action {
	SFC_EGRESS_PASS = 0,
	SFC_EGRESS_TX = 1,
	SFC_EGRESS_REDIRECT = 2,
};

struct sfc_egress_cfg {
	__u32 ifindex[2];	/* [dir]: where the packet arrived */
	__u8 action;		/* enum sfc_egress_action */
	__u8 has_next_hop;	/* forward direction uses next_hop_mac */
	__u8 next_hop_mac[6];
	__u8 out_mac[6];	/* source MAC towards next_hop_mac */
	__u16 pad0;
};

#endif /* SFC_SHARED_ABI_H */
