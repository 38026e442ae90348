/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Flow monitor ABI: the flow table bpf/nf_flowmon.bpf.c fills and the agent
 * (sfcctl agent) and sfcctl flows read. Pinned under
 * <chain>/nf/<function>/ (kept across generations):
 *
 *   sfc_flowmon_flows	LRU_PERCPU_HASH struct sfc_flow_key -> struct sfc_flow,
 *			maxFlows entries. Each CPU counts into its own copy:
 *			no atomics, no locks on the hot path. Readers sum the
 *			copies (first_ns: smallest non-zero; last_ns: largest).
 *   sfc_flowmon_ends	RINGBUF of struct sfc_flow_key: flows whose FIN or RST
 *			was just seen, so the agent reports them at once.
 *			SFC_FLOWMON_ENDS_BYTES. A notice per new end bit of
 *			one CPU's copy (a retransmitted FIN is not news); an
 *			end is noticed even when sampling skips its packet, if
 *			the flow is in the table. The same flow may be noticed
 *			twice (FIN then RST, or from two CPUs).
 *   sfc_flowmon_stats	PERCPU_ARRAY [SFC_FLOWMON_MAX] __u64 counters.
 *   sfc_flowmon_exported  HASH struct sfc_flow_key -> struct sfc_flow_export,
 *			written by the agent only: what it has reported of each
 *			flow, so that a restarted agent reports deltas, not
 *			the whole flow again.
 *   sfc_flowmon_config	ARRAY [1] struct sfc_flowmon_config: what the data
 *			path needs of the config (sampling). Written by libsfc
 *			(configure) at every apply, read per packet.
 *   sfc_flowmon_agent	ARRAY [SFC_FLOWMON_AGENT_MAX] __u64: the agent's own
 *			counters (enum sfc_flowmon_agent_counter), written by
 *			the agent only, read by sfcctl flows.
 *   sfc_flowmon_pending  PERCPU_ARRAY [1]: the data path's own, between the
 *			monitor and its verdict hook (bpf/nf_flowmon.bpf.c);
 *			no reader outside it.
 *
 * Who creates them: the first five, and sfc_flowmon_pending, are declared in
 * bpf/nf_flowmon.bpf.c, so the runtime creates and pins them with the
 * function, sized from the config
 * (sfc_flowmon_flows and sfc_flowmon_exported: maxFlows entries each), keeps
 * them across re-applies and removes them with the function (and with
 * anything else in its folder). The agent opens their pins, and creates and
 * pins sfc_flowmon_agent itself when it is missing, so that its presence
 * tells sfcctl flows that an agent has worked on the table:
 *   sfc_flowmon_agent	BPF_MAP_TYPE_ARRAY, key 4, value 8 bytes,
 *			max_entries SFC_FLOWMON_AGENT_MAX, map_flags 0,
 *			pinned as <chain>/nf/<function>/sfc_flowmon_agent
 * Should the agent ever have to create sfc_flowmon_exported (a chain pinned
 * by an older sfcctl), it must use exactly the object's attributes, or the
 * next apply refuses the pinned map as "another layout": BPF_MAP_TYPE_HASH,
 * key 44, value 24 bytes, max_entries = sfc_flowmon_flows' max_entries,
 * map_flags BPF_F_NO_PREALLOC.
 *
 * The config itself (timeouts, IPFIX, Prometheus) is for the agent: it reads
 * the function's canonical config from the chain's spec pin, exactly
 *   {"max_flows": N, "active_timeout_ms": N, "inactive_timeout_ms": N,
 *    "sampling": N, "ipfix": {"collector": "ADDR:PORT", "transport": "udp",
 *    "observation_domain": N}, "prometheus": {"listen": "ADDR:PORT"}}
 * with "ipfix" and "prometheus" absent when not configured; ADDR:PORT is
 * "192.0.2.1:4739" or "[2001:db8::1]:4739" (addresses in inet_ntop's form),
 * and the collector may also be a host name in lower case
 * ("collector.example:4739"), which the agent resolves. transport is "udp"
 * or "tcp".
 * A change of timeouts, ipfix, prometheus or sampling is applied in place
 * (no new generation): the agent must re-read the spec pin (its content
 * changes at each apply) rather than cache it.
 *
 * Evictions: the kernel's LRU evicts silently, so they are derived:
 * created (SFC_FLOWMON_NEW_FLOWS) - removed by the agent
 * (SFC_FLOWMON_AGENT_REMOVED) - present. The LRU hands free entries out to
 * CPUs in batches, so on a machine with several CPUs it may start evicting
 * a little before the table is full.
 */
#ifndef SFC_SHARED_FLOW_H
#define SFC_SHARED_FLOW_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * The flowmon type's map ABI: the layout and meaning of what it keeps pinned
 * in nf/<function>/ (its maps, but those that belong to a generation).
 * Bump it whenever one of them changes in a way a chain applied before
 * cannot be read with, and teach loader/lib/compat.c the migration or
 * let it refuse (docs/design.md, "Versions and upgrades"). 1: sfc 0.1.0.
 */
#define SFC_FLOWMON_MAP_ABI 1

#define SFC_FLOWMON_MAX_FLOWS	(16 * 1024 * 1024)
#define SFC_FLOWMON_DEFAULT_FLOWS	262144
#define SFC_FLOWMON_MAX_SAMPLING	65535
/* sfc_flowmon_ends: 256 KiB, about 4600 notices (8-byte header + 48 each). */
#define SFC_FLOWMON_ENDS_BYTES	(256 * 1024)

/*
 * One direction of a flow as the chain saw it. Unused address words are 0.
 * Ports are in network order. ICMP and ICMPv6: dport is type << 8 | code
 * (also network order: the bytes are type, code), sport the echo id of echo
 * requests and replies, 0 otherwise. Non-first fragments (no L4 header) and
 * protocols without ports: both 0, so the later fragments of a datagram
 * make a flow of their own.
 */
struct sfc_flow_key {
	__be32 src[4];		/* IPv4 in [0] */
	__be32 dst[4];
	__be16 sport;		/* TCP/UDP ports; ICMP: type << 8 | code in dport, echo id in sport */
	__be16 dport;
	__u8 family;		/* 4 or 6 */
	__u8 proto;
	__u16 vlan;		/* outer VLAN id, 0 untagged */
	__u8 dir;		/* enum sfc_dir of the chain */
	__u8 pad[3];
};

/* sfc_flow.end */
#define SFC_FLOW_END_FIN	0x01
#define SFC_FLOW_END_RST	0x02

/*
 * sfc_flow.verdicts: what the chain finally did with the flow's accounted
 * packets, seen through the chain's verdict hook (SFC_SLOT_HOOK) after every
 * later function and the egress. Only the flowmon that owns the hook (the
 * first in file order) records them; another one leaves them 0 (unknown),
 * as does a chain pinned before the hook existed.
 */
#define SFC_FLOW_V_FORWARDED	0x01	/* XDP_TX or XDP_REDIRECT */
#define SFC_FLOW_V_PASSED	0x02	/* XDP_PASS: to the kernel's stack */
#define SFC_FLOW_V_DROPPED	0x04	/* XDP_DROP */
#define SFC_FLOW_V_ABORTED	0x08	/* XDP_ABORTED, or an action unknown here */

struct sfc_flow {
	__u64 packets;		/* sampled packets (see sampling) */
	__u64 bytes;
	__u64 first_ns;		/* bpf_ktime_get_ns(), CLOCK_MONOTONIC */
	__u64 last_ns;
	__u8 tcp_flags;		/* OR of the TCP flags seen */
	__u8 end;		/* SFC_FLOW_END_* */
	__u8 verdicts;		/* OR of SFC_FLOW_V_* */
	__u8 drop_stage;	/* stage id (sfc_abi.h) of the stage that last
				 * dropped a packet of the flow on this CPU; 0 none */
	__u8 pad[4];
};

enum sfc_flowmon_counter {
	SFC_FLOWMON_PACKETS = 0,	/* packets that reached the monitor */
	SFC_FLOWMON_SAMPLED,		/* of those, accounted (1 in sampling) */
	SFC_FLOWMON_NEW_FLOWS,		/* flow entries created */
	SFC_FLOWMON_ENDS,		/* FIN/RST notices queued */
	SFC_FLOWMON_ENDS_LOST,		/* ... not queued: ring buffer full */
	SFC_FLOWMON_INSERT_FAILED,	/* sampled packets of a new flow the table
					 * refused (no entry to give): not in any flow */
	SFC_FLOWMON_MAX,
};

/*
 * The data path's part of the config, written by configure() so that a
 * change of sampling is a config-only change (rodata would need a reload).
 */
struct sfc_flowmon_config {
	__u32 sampling;		/* account 1 in N packets; 0 is taken as 1 */
	__u32 pad;
};

/*
 * sfc_flowmon_agent: counters only the agent writes (a plain array: one
 * writer, from userspace). Created by the agent (see above), kept while the
 * function runs: counts add up over agent restarts.
 */
enum sfc_flowmon_agent_counter {
	SFC_FLOWMON_AGENT_REMOVED = 0,		/* flow entries it deleted (expired, ended) */
	SFC_FLOWMON_AGENT_EXPORTED,		/* IPFIX data records sent */
	SFC_FLOWMON_AGENT_EXPORT_ERRORS,	/* IPFIX messages that could not be sent */
	SFC_FLOWMON_AGENT_MAX,
};

struct sfc_flow_export {
	__u64 packets;		/* already reported */
	__u64 bytes;
	__u64 last_export_ns;	/* CLOCK_MONOTONIC */
};

#endif /* SFC_SHARED_FLOW_H */
