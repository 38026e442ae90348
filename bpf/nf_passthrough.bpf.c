// SPDX-License-Identifier: GPL-2.0
/*
 * passthrough: hands every packet on; the smallest network function, the
 * baseline a benchmark compares real ones with, and a template for them.
 */
#include "chain.h"

/*
 * sfc_pass_mark: key 0, value: the mark to give every packet (0: leave it).
 * Written by the loader (config `mark`), read here. One entry. The mark is
 * sfc_pkt.mark, a note for the functions after this one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sfc_pass_mark SEC(".maps");

SEC("xdp")
int sfc_passthrough(struct xdp_md *ctx)
{
	struct sfc_hop hop;
	__u32 zero = 0, *mark;

	if (sfc_hop_begin(ctx, &hop, sfc_stage_id))
		return XDP_ABORTED;
	mark = bpf_map_lookup_elem(&sfc_pass_mark, &zero);
	if (mark && *mark)
		hop.pkt->mark = *mark;
	return sfc_next(ctx, &hop);
}

char LICENSE[] SEC("license") = "GPL";
