/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The chain ABI on the BPF side: the maps every stage shares and the
 * verdict helpers every network function ends with.
 *
 * A network function is one SEC("xdp") program:
 *
 *	SEC("xdp")
 *	int sfc_example(struct xdp_md *ctx)
 *	{
 *		struct sfc_hop hop;
 *
 *		if (sfc_hop_begin(ctx, &hop, sfc_stage_id))
 *			return XDP_ABORTED;
 *		if (bad(hop.pkt))
 *			return sfc_drop(&hop);
 *		return sfc_next(ctx, &hop);
 *	}
 *
 * The loader gives each object the chain's maps (bpf_map__reuse_fd) and sets
 * sfc_stage_id before load.
 */
#ifndef SFC_CHAIN_H
#define SFC_CHAIN_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "shared/sfc_abi.h"
#include "xdp_ctx.h"

/*
 * sfc_progs: the program array of one generation of the chain.
 * key: slot (see SFC_DIR_SLOTS), value: program fd.
 * Written by the loader when it builds a generation, never changed after the
 * generation goes live (a new layout is a new generation, swapped in whole by
 * the root array). Read by every stage's tail call. Pinned while live: a
 * program array loses its entries when its last pin and fd go.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SFC_PROG_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} sfc_progs SEC(".maps");

/*
 * sfc_scratch: the parsed packet, key 0.
 * Written by the entry for every packet, read and updated by the stages
 * after it. Per-CPU is enough: an XDP program runs to completion on one CPU
 * with bottom halves off, so no other packet can reach this CPU's copy before
 * the chain is done with it. One entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sfc_pkt);
} sfc_scratch SEC(".maps");

/*
 * sfc_stats: per-hop counters, key SFC_STATS_KEY(stage id, dir).
 * Written by every stage, read (summed over CPUs) by sfcctl stats. Shared by
 * all generations, so counters survive re-applies. Bounded by SFC_MAX_STAGES.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SFC_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct sfc_hop_stats);
} sfc_stats SEC(".maps");

/* Set by the loader: this object's stage id (enum sfc_stage_id or an NF's). */
const volatile __u32 sfc_stage_id = 0;

/*
 * Set by the loader to 1 in the one function whose hook program fills
 * SFC_SLOT_HOOK in this generation. Only that function may set sfc_pkt.hook:
 * the hook reads what its own function noted for the packet, and another
 * function's note would be taken for it.
 */
const volatile __u8 sfc_hook_owner = 0;

struct sfc_hop {
	struct sfc_pkt *pkt;
	struct sfc_hop_stats *st;
	struct xdp_md *ctx;	/* for the verdict hook's tail call */
	__u32 id;		/* stage id, handed to the hook with the verdict */
};

static __always_inline struct sfc_hop_stats *sfc_stats_of(__u32 id, __u32 dir)
{
	__u32 key = SFC_STATS_KEY(id, dir & 1);

	return bpf_map_lookup_elem(&sfc_stats, &key);
}

static __always_inline struct sfc_pkt *sfc_pkt_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sfc_scratch, &zero);
}

/* Start of every stage after the entry: fetch the packet, count it in. */
static __always_inline int sfc_hop_begin(struct xdp_md *ctx, struct sfc_hop *hop, __u32 id)
{
	hop->ctx = ctx;
	hop->id = id;
	hop->pkt = sfc_pkt_get();
	if (!hop->pkt)
		return -1;
	hop->st = sfc_stats_of(id, hop->pkt->dir);
	if (hop->st) {
		hop->st->packets++;
		hop->st->bytes += sfc_ctx_len(ctx);
	}
	return 0;
}

static __always_inline int sfc_tail(struct xdp_md *ctx, struct sfc_hop *hop, __u32 hop_idx)
{
	__u32 slot;

	if (hop_idx > SFC_SLOT_EGRESS)
		hop_idx = SFC_SLOT_EGRESS;
	hop->pkt->hop = hop_idx;
	slot = hop->pkt->dir ? SFC_DIR_SLOTS + hop_idx : hop_idx;
	if (hop->st)
		hop->st->handed_on++;
	bpf_tail_call(ctx, &sfc_progs, slot);
	/*
	 * Only reached when the slot is empty: the chain is being torn down
	 * or was damaged. Fail closed: a packet must never skip a function
	 * that could have dropped it. The verdict hook is not told: its slot
	 * is as suspect as the one that was empty.
	 */
	if (hop->st) {
		hop->st->handed_on--;
		hop->st->tail_call_miss++;
		hop->st->dropped++;
	}
	return XDP_DROP;
}

/* Hand the packet on to the next function (or the egress after the last). */
static __always_inline int sfc_next(struct xdp_md *ctx, struct sfc_hop *hop)
{
	return sfc_tail(ctx, hop, hop->pkt->hop + 1);
}

/* Skip the remaining functions: straight to the egress stage. */
static __always_inline int sfc_to_egress(struct xdp_md *ctx, struct sfc_hop *hop)
{
	return sfc_tail(ctx, hop, SFC_SLOT_EGRESS);
}

/*
 * The packet's fate is decided: hand it to the verdict hook when a function
 * asked for it (pkt->hook), else return it. The hook returns pkt->verdict.
 * An XDP_REDIRECT keeps its target: bpf_redirect() left it in the per-CPU
 * redirect info, which a tail call does not touch. An empty hook slot makes
 * the tail call fall through, and the action stands as it is: unlike a
 * missed hop, no function is skipped.
 */
static __always_inline int sfc_verdict(struct sfc_hop *hop, int action)
{
	struct sfc_pkt *pkt = hop->pkt;

	if (pkt->hook) {
		pkt->verdict = action;
		pkt->verdict_stage = hop->id;
		bpf_tail_call(hop->ctx, &sfc_progs, SFC_SLOT_HOOK);
	}
	return action;
}

static __always_inline int sfc_drop(struct sfc_hop *hop)
{
	if (hop->st)
		hop->st->dropped++;
	return sfc_verdict(hop, XDP_DROP);
}

static __always_inline int sfc_invalid(struct sfc_hop *hop)
{
	if (hop->st) {
		hop->st->dropped++;
		hop->st->invalid++;
	}
	return sfc_verdict(hop, XDP_DROP);
}

static __always_inline int sfc_pass(struct sfc_hop *hop)
{
	if (hop->st)
		hop->st->passed++;
	return sfc_verdict(hop, XDP_PASS);
}

/* A function that rewrote the packet and sends it itself (XDP_TX/REDIRECT). */
static __always_inline int sfc_forward(struct sfc_hop *hop, int action)
{
	if (hop->st) {
		if (action == XDP_TX || action == XDP_REDIRECT)
			hop->st->forwarded++;
		else if (action == XDP_PASS)
			hop->st->passed++;
		else if (action == XDP_DROP)
			hop->st->dropped++;
		else
			hop->st->aborted++;
	}
	return sfc_verdict(hop, action);
}

#endif /* SFC_CHAIN_H */
