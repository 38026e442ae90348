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

static __always_inline void account(const struct sfc_flow_key *k, const struct sfc_pkt *pkt,
				    __u8 end)
{
	__u64 now = bpf_ktime_get_ns();
	struct sfc_flow *f;
	long err;

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
			return;
		}
		/* Another CPU created it in between: count into ours. */
		f = err == -EEXIST ? bpf_map_lookup_elem(&sfc_flowmon_flows, k) : NULL;
		if (!f) {
			count(SFC_FLOWMON_INSERT_FAILED);
			return;
		}
	}
	f->packets++;
	f->bytes += pkt->len;
	if (!f->first_ns)
		f->first_ns = now;
	f->last_ns = now;
	f->tcp_flags |= pkt->tcp_flags;
	mark_end(f, k, end);
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
		account(&key, pkt, end);
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

char LICENSE[] SEC("license") = "GPL";
