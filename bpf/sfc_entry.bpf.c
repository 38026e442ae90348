// SPDX-License-Identifier: GPL-2.0
/*
 * A generation's entry and egress stages.
 *
 * The entry parses each packet once into the per-CPU scratch and hands it to
 * the first function of its direction. The egress runs after the last
 * function and sends the packet where the chain's spec.egress says.
 */
#include "chain.h"
#include "parse.h"
#include <bpf/bpf_endian.h>

#ifndef ETH_ALEN
#define ETH_ALEN 6
#endif
#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* Set by the loader for each generation. */
const volatile struct sfc_egress_cfg sfc_egress_cfg = {};

static __always_inline int entry(struct xdp_md *ctx, __u32 dir)
{
	struct sfc_hop hop;
	int ret;

	hop.ctx = ctx;
	hop.id = SFC_STAGE_ENTRY;
	hop.pkt = sfc_pkt_get();
	if (!hop.pkt)
		return XDP_ABORTED;
	hop.st = sfc_stats_of(SFC_STAGE_ENTRY, dir);
	if (hop.st) {
		hop.st->packets++;
		hop.st->bytes += sfc_ctx_len(ctx);
	}

	ret = sfc_parse(ctx, hop.pkt);
	hop.pkt->dir = dir;
	hop.pkt->hop = 0;
	hop.pkt->hook = 0;	/* before any verdict, the entry's own included */
	hop.pkt->mark = 0;
	hop.pkt->nf_data[0] = 0;
	hop.pkt->nf_data[1] = 0;
	if (ret == SFC_PARSE_NOT_IP)
		/* ARP, LLDP and the like belong to the kernel, as with iptables. */
		return sfc_pass(&hop);
	if (ret != SFC_PARSE_OK)
		return sfc_invalid(&hop);
	return sfc_tail(ctx, &hop, 0);
}

SEC("xdp")
int sfc_entry_fwd(struct xdp_md *ctx)
{
	return entry(ctx, SFC_DIR_FWD);
}

SEC("xdp")
int sfc_entry_rev(struct xdp_md *ctx)
{
	return entry(ctx, SFC_DIR_REV);
}

static __always_inline void set_macs(struct ethhdr *eth, const __u8 *dst, const __u8 *src)
{
	__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);
	__builtin_memcpy(eth->h_source, src, ETH_ALEN);
}

/* RFC 1624 incremental update for the TTL decrement (TTL is the high byte). */
static __always_inline void ipv4_dec_ttl(struct iphdr *iph)
{
	__u32 check = iph->check;

	check += bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

/*
 * Route the packet with the kernel's FIB. When it goes out of `want`, write
 * the MACs, decrement the TTL and return 0. Otherwise return -1 with the
 * packet untouched, for the kernel to handle: no neighbour yet, a local
 * address, fragmentation needed, TTL expiring, VLAN, or another route.
 */
static __always_inline int fib_forward(struct xdp_md *ctx, struct sfc_pkt *pkt, __u32 want)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6;
	struct iphdr *iph;
	__u16 off = pkt->l3_off;
	int rc;

	if (pkt->n_vlan || pkt->ttl <= 1 || off > 64)
		return -1;
	if ((void *)(eth + 1) > data_end)
		return -1;
	fib.ifindex = ctx->ingress_ifindex;
	fib.l4_protocol = pkt->l4_proto;
	fib.sport = pkt->sport;
	fib.dport = pkt->dport;
	if (pkt->family == SFC_FAMILY_IPV4) {
		iph = data + off;
		if ((void *)(iph + 1) > data_end)
			return -1;
		fib.family = AF_INET;
		fib.tos = iph->tos;
		fib.tot_len = bpf_ntohs(iph->tot_len);
		fib.ipv4_src = iph->saddr;
		fib.ipv4_dst = iph->daddr;
	} else {
		ip6 = data + off;
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		fib.family = AF_INET6;
		fib.flowinfo = *(__be32 *)ip6 & bpf_htonl(0x0FFFFFFF);
		fib.tot_len = bpf_ntohs(ip6->payload_len);
		__builtin_memcpy(fib.ipv6_src, &ip6->saddr, 16);
		__builtin_memcpy(fib.ipv6_dst, &ip6->daddr, 16);
	}

	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS || fib.ifindex != want)
		return -1;

	if (pkt->family == SFC_FAMILY_IPV4) {
		iph = data + off;
		if ((void *)(iph + 1) > data_end)
			return -1;
		ipv4_dec_ttl(iph);
	} else {
		ip6 = data + off;
		if ((void *)(ip6 + 1) > data_end)
			return -1;
		ip6->hop_limit--;
	}
	set_macs(eth, fib.dmac, fib.smac);
	return 0;
}

SEC("xdp")
int sfc_egress(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;
	struct sfc_hop hop;
	__u32 dir, in, out;

	if (sfc_hop_begin(ctx, &hop, SFC_STAGE_EGRESS))
		return XDP_ABORTED;
	dir = hop.pkt->dir & 1;
	in = sfc_egress_cfg.ifindex[dir];
	out = sfc_egress_cfg.ifindex[dir ^ 1];

	switch (sfc_egress_cfg.action) {
	case SFC_EGRESS_TX:
		out = in;
		break;
	case SFC_EGRESS_REDIRECT:
		break;
	default:
		return sfc_pass(&hop);
	}

	if (dir == SFC_DIR_FWD && sfc_egress_cfg.has_next_hop) {
		if ((void *)(eth + 1) > data_end)
			return sfc_invalid(&hop);
		/*
		 * Byte by byte through the volatile object: a cast that drops
		 * volatile lets clang fold the all-zero initializer instead.
		 */
		__u8 dst[ETH_ALEN], src[ETH_ALEN];
		int i;

		for (i = 0; i < ETH_ALEN; i++) {
			dst[i] = sfc_egress_cfg.next_hop_mac[i];
			src[i] = sfc_egress_cfg.out_mac[i];
		}
		set_macs(eth, dst, src);
	} else if (fib_forward(ctx, hop.pkt, out)) {
		return sfc_pass(&hop);
	}
	if (out == in)
		return sfc_forward(&hop, XDP_TX);
	return sfc_forward(&hop, bpf_redirect(out, 0));
}

char LICENSE[] SEC("license") = "GPL";
