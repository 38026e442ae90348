// SPDX-License-Identifier: GPL-2.0
/*
 * The root programs: what is attached to the interfaces. They never change
 * while the chain lives; each tail-calls the current generation's entry
 * through sfc_root_progs, so a new generation goes live with a single
 * atomic slot update, whatever attached the root (bpf_link or libxdp).
 */
#include "chain.h"

/*
 * sfc_root_progs: key enum sfc_dir, value: that direction's entry program
 * of the live generation. Written by the loader when a generation goes
 * live; read by the root programs. Two entries.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} sfc_root_progs SEC(".maps");

static __always_inline int root(struct xdp_md *ctx, __u32 dir)
{
	struct sfc_hop_stats *st;

	bpf_tail_call(ctx, &sfc_root_progs, dir);
	/* No live generation: fail closed, as a missed hop does. */
	st = sfc_stats_of(SFC_STAGE_ENTRY, dir);
	if (st) {
		st->packets++;
		st->bytes += sfc_ctx_len(ctx);
		st->tail_call_miss++;
		st->dropped++;
	}
	return XDP_DROP;
}

SEC("xdp")
int sfc_root_fwd(struct xdp_md *ctx)
{
	return root(ctx, SFC_DIR_FWD);
}

SEC("xdp")
int sfc_root_rev(struct xdp_md *ctx)
{
	return root(ctx, SFC_DIR_REV);
}

char LICENSE[] SEC("license") = "GPL";
