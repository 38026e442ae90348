// SPDX-License-Identifier: GPL-2.0
/* passthrough: hands every packet on; the smallest network function. */
#include "chain.h"

SEC("xdp")
int sfc_passthrough(struct xdp_md *ctx)
{
	struct sfc_hop hop;

	if (sfc_hop_begin(ctx, &hop, sfc_stage_id))
		return XDP_ABORTED;
	return sfc_next(ctx, &hop);
}

char LICENSE[] SEC("license") = "GPL";
