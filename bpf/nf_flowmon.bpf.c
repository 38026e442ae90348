// SPDX-License-Identifier: GPL-2.0
/*
 * flowmon: counts packets and bytes per flow (one direction of a 5-tuple,
 * plus VLAN and chain direction) in a per-CPU LRU table that the agent
 * (sfcctl agent) expires and exports, and sfcctl flows lists. The ABI is
 * shared/sfc_flow.h.
 *
 * A monitor never drops: every packet is handed on. With sampling N > 1 one
 * packet in N, drawn at random, is accounted; a TCP FIN or RST still marks
 * the end of a flow that is in the table when its packet is not drawn, so
 * that the agent hears of the end at once whatever the sampling.
 *
 * A packet the monitor counted may still be dropped by a function after it
 * (in the reverse direction the functions run in reverse order), or sent on
 * by the egress. So the monitor that owns the chain's verdict hook
 * (sfc_hook_owner) arms it for each accounted packet, and its second
 * program, sfc_flowmon_vh, records the final verdict in the flow.
 */
#include "chain.h"
#include <bpf/bpf_endian.h>
#include "shared/sfc_flow.h"

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6	58
#endif
#define TCP_FIN		0x01
#define TCP_RST		0x04
#define EEXIST		17

/*
 * sfc_flowmon_flows: key struct sfc_flow_key, value struct sfc_flow, one copy
 * per CPU. Written here (created by a flow's first sampled packet, updated by
 * the next ones on each CPU), read and deleted by the agent, read by sfcctl
 * flows. Sized by maxFlows (prepare; 1 here is a placeholder); when full the
 * kernel evicts the least recently used entry. The common LRU list rather
 * than BPF_F_NO_COMMON_LRU: that flag rounds the size up to a multiple of the
 * CPUs, and a pinned table must keep the size the config gives it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1);
	__type(key, struct sfc_flow_key);
	__type(value, struct sfc_flow);
} sfc_flowmon_flows SEC(".maps");

/*
 * sfc_flowmon_ends: keys of flows whose FIN or RST was just seen. Written
 * here, consumed by the agent. A full ring loses the notice (counted); the
 * flow stays in the table with its end bits set.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SFC_FLOWMON_ENDS_BYTES);
} sfc_flowmon_ends SEC(".maps");

/* sfc_flowmon_stats: key enum sfc_flowmon_counter; written here, read by sfcctl and the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SFC_FLOWMON_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sfc_flowmon_stats SEC(".maps");

/*
 * sfc_flowmon_config: key 0. Written by the loader (configure) at every
 * apply, read per packet: an array lookup the verifier inlines.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sfc_flowmon_config);
} sfc_flowmon_config SEC(".maps");

/*
 * sfc_flowmon_exported: what the agent reported of each flow. Not used here;
 * declared so that the runtime creates it sized like the table (maxFlows),
 * pins it, keeps it across re-applies and removes it with the function.
 * Written and read by the agent only. Not preallocated: only the agent's
 * syscalls fill it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sfc_flow_key);
	__type(value, struct sfc_flow_export);
} sfc_flowmon_exported SEC(".maps");

/*
 * sfc_flowmon_pending: key 0, the flow of the packet being run on this CPU
 * and what that flow's copy on this CPU had recorded of verdicts when the
 * packet was accounted. Written by sfc_flowmon for each packet it accounts
 * and arms the verdict hook for; read by sfc_flowmon_vh at the packet's final
 * verdict, in the same run. Per-CPU, like sfc_scratch: no other packet runs
 * on this CPU in between. The key is kept rather than taken again from
 * sfc_pkt, which a later function may rewrite (a load balancer's NAT). One
 * entry.
 */
struct flowmon_pending {
	struct sfc_flow_key key;
	__u8 verdicts;		/* the flow's copy on this CPU, before the packet */
	__u8 drop_stage;
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flowmon_pending);
} sfc_flowmon_pending SEC(".maps");

static __always_inline void count(__u32 counter)
{
	__u64 *c = bpf_map_lookup_elem(&sfc_flowmon_stats, &counter);

	if (c)
		(*c)++;
}

/*
 * One packet in n: r * n >> 32 is uniform over 0..n-1 for a uniform 32-bit
 * r (Lemire's multiply-shift), with no division on the hot path. It is 0
 * with probability ceil(2^32 / n) / 2^32, within 2^-32 of 1/n.
 */
static __always_inline bool sampled(void)
{
	struct sfc_flowmon_config *cfg;
	__u32 zero = 0, n;

	cfg = bpf_map_lookup_elem(&sfc_flowmon_config, &zero);
	n = cfg ? cfg->sampling : 1;
	if (n <= 1)
		return true;
	return !(((__u64)bpf_get_prandom_u32() * n) >> 32);
}

static __always_inline void key_of(const struct sfc_pkt *pkt, struct sfc_flow_key *k)
{
	__builtin_memcpy(k->src, pkt->src, sizeof(k->src));
	__builtin_memcpy(k->dst, pkt->dst, sizeof(k->dst));
	k->family = pkt->family;
	k->proto = pkt->l4_proto;
	k->vlan = pkt->n_vlan ? pkt->vlan[0] : 0;
	k->dir = pkt->dir & 1;
	/* The parser sets SFC_PKT_L4 for TCP, UDP and the family's ICMP only,
	 * and leaves the ports of anything else, later fragments included, 0. */
	if (!(pkt->flags & SFC_PKT_L4))
		return;
	k->sport = pkt->sport;
	if (pkt->l4_proto == IPPROTO_ICMP || pkt->l4_proto == IPPROTO_ICMPV6)
		k->dport = bpf_htons((__u16)pkt->icmp_type << 8 | pkt->icmp_code);
	else
		k->dport = pkt->dport;
}

static __always_inline void notify_end(const struct sfc_flow_key *k)
{
	if (bpf_ringbuf_output(&sfc_flowmon_ends, (void *)k, sizeof(*k), 0))
		count(SFC_FLOWMON_ENDS_LOST);
	else
		count(SFC_FLOWMON_ENDS);
}

/* Ends are recorded per CPU copy: a notice for each new kind of end seen. */
static __always_inline void mark_end(struct sfc_flow *f, const struct sfc_flow_key *k, __u8 end)
{
	if (!end || !(end & ~f->end))
		return;
	f->end |= end;
	notify_end(k);
}

/*
 * Count the packet into its flow. Returns the flow's copy on this CPU as it
 * was (NULL: a new flow, nothing recorded yet) through *seen, and -1 when
 * the table refused a new flow.
 */
static __always_inline int account(const struct sfc_flow_key *k, const struct sfc_pkt *pkt,
				   __u8 end, struct sfc_flow **seen)
{
	__u64 now = bpf_ktime_get_ns();
	struct sfc_flow *f;
	long err;

	*seen = NULL;
	f = bpf_map_lookup_elem(&sfc_flowmon_flows, k);
	if (!f) {
		struct sfc_flow v = {
			.packets = 1,
			.bytes = pkt->len,
			.first_ns = now,
			.last_ns = now,
			.tcp_flags = pkt->tcp_flags,
			.end = end,
		};

		/* The kernel zeroes the other CPUs' copies of a new entry. */
		err = bpf_map_update_elem(&sfc_flowmon_flows, k, &v, BPF_NOEXIST);
		if (!err) {
			count(SFC_FLOWMON_NEW_FLOWS);
			if (end)
				notify_end(k);
			return 0;
		}
		/* Another CPU created it in between: count into ours. */
		f = err == -EEXIST ? bpf_map_lookup_elem(&sfc_flowmon_flows, k) : NULL;
		if (!f) {
			count(SFC_FLOWMON_INSERT_FAILED);
			return -1;
		}
	}
	f->packets++;
	f->bytes += pkt->len;
	if (!f->first_ns)
		f->first_ns = now;
	f->last_ns = now;
	f->tcp_flags |= pkt->tcp_flags;
	mark_end(f, k, end);
	*seen = f;
	return 0;
}

/*
 * Note the flow for the verdict hook and arm it. What the flow already
 * recorded goes along, so that the hook can leave the table alone when the
 * verdict is no news, as it is for nearly every packet of a flow.
 */
static __always_inline void arm_hook(struct sfc_pkt *pkt, const struct sfc_flow_key *k,
				     const struct sfc_flow *seen)
{
	struct flowmon_pending *pd;
	__u32 zero = 0;

	pd = bpf_map_lookup_elem(&sfc_flowmon_pending, &zero);
	if (!pd)
		return;
	__builtin_memcpy(&pd->key, k, sizeof(pd->key));
	pd->verdicts = seen ? seen->verdicts : 0;
	pd->drop_stage = seen ? seen->drop_stage : 0;
	pkt->hook = 1;
}

SEC("xdp")
int sfc_flowmon(struct xdp_md *ctx)
{
	struct sfc_flow_key key = {};
	struct sfc_flow *f;
	struct sfc_hop hop;
	struct sfc_pkt *pkt;
	__u8 end = 0;

	if (sfc_hop_begin(ctx, &hop, sfc_stage_id))
		return XDP_ABORTED;
	pkt = hop.pkt;
	count(SFC_FLOWMON_PACKETS);
	if (pkt->l4_proto == IPPROTO_TCP) {
		if (pkt->tcp_flags & TCP_FIN)
			end |= SFC_FLOW_END_FIN;
		if (pkt->tcp_flags & TCP_RST)
			end |= SFC_FLOW_END_RST;
	}
	if (sampled()) {
		count(SFC_FLOWMON_SAMPLED);
		key_of(pkt, &key);
		/* sfc_hook_owner is rodata: the verifier drops this for the others. */
		if (!account(&key, pkt, end, &f) && sfc_hook_owner)
			arm_hook(pkt, &key, f);
	} else if (end) {
		/* Not drawn, but an end is news: only for a flow already known. */
		key_of(pkt, &key);
		f = bpf_map_lookup_elem(&sfc_flowmon_flows, &key);
		if (f) {
			f->tcp_flags |= pkt->tcp_flags;
			mark_end(f, &key, end);
		}
	}
	return sfc_next(ctx, &hop);
}

static __always_inline __u8 verdict_bit(__u8 action)
{
	switch (action) {
	case XDP_TX:
	case XDP_REDIRECT:
		return SFC_FLOW_V_FORWARDED;
	case XDP_PASS:
		return SFC_FLOW_V_PASSED;
	case XDP_DROP:
		return SFC_FLOW_V_DROPPED;
	default:
		return SFC_FLOW_V_ABORTED;
	}
}

/*
 * The verdict hook (SFC_SLOT_HOOK): tail-called by the stage that decided
 * the fate of a packet sfc_flowmon armed it for. Records the verdict in the
 * flow's copy on this CPU, which the packet was just counted into, and
 * writes it only when that is news: a packet of a flow whose verdicts do not
 * change costs no lookup in the table and dirties no cache line. Returns the
 * verdict it was given: the hook never changes what happens to the packet.
 */
SEC("xdp")
int sfc_flowmon_vh(struct xdp_md *ctx)
{
	struct flowmon_pending *pd;
	struct sfc_flow *f;
	struct sfc_pkt *pkt;
	__u8 bit, stage;
	__u32 zero = 0;

	pkt = sfc_pkt_get();
	if (!pkt)
		return XDP_ABORTED;	/* cannot happen: the stage before had it */
	pd = bpf_map_lookup_elem(&sfc_flowmon_pending, &zero);
	if (!pd)
		return pkt->verdict;
	bit = verdict_bit(pkt->verdict);
	stage = bit == SFC_FLOW_V_DROPPED ? pkt->verdict_stage : pd->drop_stage;
	if ((pd->verdicts & bit) && stage == pd->drop_stage)
		return pkt->verdict;
	/* The agent may have removed the flow since: then nothing to record. */
	f = bpf_map_lookup_elem(&sfc_flowmon_flows, &pd->key);
	if (f) {
		f->verdicts |= bit;
		f->drop_stage = stage;
	}
	return pkt->verdict;
}

char LICENSE[] SEC("license") = "GPL";
