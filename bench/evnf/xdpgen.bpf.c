// SPDX-License-Identifier: GPL-2.0
/*
 * The packet-rate programs of bench/evnf (docs/bench-evnf.md), loaded by
 * xdpgen.c:
 *
 *  xdpgen_tx    the traffic generator: run by BPF_PROG_TEST_RUN with
 *               BPF_F_TEST_XDP_LIVE_FRAMES on the client's interface, it
 *               writes the whole frame from a template and returns XDP_TX,
 *               which test_run turns into a redirect out of that interface.
 *  xdpgen_flood the same for floods (tests/integration/test_flood.sh): TCP
 *               SYNs or UDP datagrams, IPv4 or IPv6, each from a source
 *               address and port of its own, checksums right.
 *  xdpgen_sink  at the far end: counts the generator's datagrams by
 *               destination address and drops them; passes everything else.
 *               Or, for floods, every packet from a source prefix.
 *  xdpgen_fwd   the bare XDP forwarder the chains are compared with: MACs
 *               rewritten, TTL decremented, bpf_redirect() out of one fixed
 *               interface, nothing else.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP_ 0x0800
#define IPPROTO_UDP_ 17
#define GEN_LEN 60	/* 64 bytes on the wire with the FCS */

/* ---- generator ------------------------------------------------------------ */

/*
 * The frame, written in full on every send. Live frames live in a page pool
 * that the kernel recycles: a frame comes back with whatever the device under
 * test did to it (MACs, TTL, NAT, checksums), so editing only the source
 * port would send packets that drift further from the template each lap.
 */
const volatile __u64 gen_tmpl[8];	/* GEN_LEN bytes, zero padded */
const volatile __u16 gen_sport0;	/* first source port, host order */
const volatile __u16 gen_flows = 1;	/* source ports gen_sport0 .. + gen_flows - 1 */

/* key 0: the frames this CPU built; written and read by this program only. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xdpgen_seq SEC(".maps");

SEC("xdp")
int xdpgen_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 *w = data, *seq;
	struct udphdr *udp;
	__u32 k = 0;
	int i;

	if (data + GEN_LEN > end)
		return XDP_ABORTED;
#pragma unroll
	for (i = 0; i < GEN_LEN / 8; i++)
		w[i] = gen_tmpl[i];
	*(__u32 *)(data + 56) = ((const volatile __u32 *)gen_tmpl)[14];
	seq = bpf_map_lookup_elem(&xdpgen_seq, &k);
	if (!seq)
		return XDP_ABORTED;
	udp = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	/* The UDP checksum is 0 (none, RFC 768): the port can change freely. */
	udp->source = bpf_htons(gen_sport0 + (__u16)(*seq % gen_flows));
	(*seq)++;
	return XDP_TX;
}

/* ---- flood ----------------------------------------------------------------- */

#define ETH_P_IPV6_ 0x86DD
#define IPPROTO_TCP_ 6
#define FLOOD_LEN4 60	/* SYN: 54 bytes and 6 of Ethernet padding; UDP: 18 bytes of payload */
#define FLOOD_LEN6 82	/* SYN with 8 bytes of options (MSS, SACK permitted); UDP: 20 of payload */
#define FLOOD_WORDS6 ((FLOOD_LEN6 + 7) / 8)

/*
 * The frame, written in full on every send (see gen_tmpl), with the source
 * address's host bits and the source port zero; the checksums are those of
 * that template, and each send adds what it writes into them (RFC 1624).
 */
const volatile __u64 flood_tmpl[FLOOD_WORDS6];
const volatile __u8 flood_v6;		/* 0: IPv4, FLOOD_LEN4; 1: IPv6, FLOOD_LEN6 */
const volatile __u8 flood_tcp;		/* 1: TCP SYN; 0: UDP */
/*
 * Each send draws the source's host bits and port from a bijection of the
 * n-bit counter (seq << 8 | CPU), so that no two frames of a run share a
 * source address and port (until seq reaches 2^(n - 8)): every one opens a
 * connection and a flow of its own. n = host bits (at most 32, the low ones
 * of the address) + 16.
 */
const volatile __u8 flood_host_bits;

static __always_inline __u16 csum_add(__u16 check, __u32 add)
{
	__u32 c = (__u16)~check + add;

	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return ~c;
}

static __always_inline __u64 flood_draw(__u64 seq)
{
	__u32 n = flood_host_bits + 16;
	__u64 mask = (1ull << n) - 1;
	__u64 x = ((seq << 8) | (bpf_get_smp_processor_id() & 0xff)) & mask;

	/* An odd multiplier and a right xorshift are each one-to-one on n bits. */
	x = (x * 0x9E3779B97F4A7C15ull) & mask;
	x ^= x >> (n / 2);
	x = (x * 0xBF58476D1CE4E5B9ull) & mask;
	x ^= x >> (n / 2);
	return x;
}

SEC("xdp")
int xdpgen_flood(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	__u64 *w = data, *seq, x;
	__u16 *src, *sport, *l4check;
	__u32 k = 0, host, add;
	__be32 *saddr_low;
	__be16 port;
	__u16 *ipcheck = NULL;
	int i;

	seq = bpf_map_lookup_elem(&xdpgen_seq, &k);
	if (!seq)
		return XDP_ABORTED;
	if (flood_v6) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if (data + FLOOD_LEN6 > end)
			return XDP_ABORTED;
#pragma unroll
		for (i = 0; i < FLOOD_LEN6 / 8; i++)
			w[i] = flood_tmpl[i];
		*(__u16 *)(data + 80) = ((const volatile __u16 *)flood_tmpl)[40];
		saddr_low = &ip6->saddr.in6_u.u6_addr32[3];
		sport = (void *)(ip6 + 1);
	} else {
		struct iphdr *ip = data + sizeof(struct ethhdr);

		if (data + FLOOD_LEN4 > end)
			return XDP_ABORTED;
#pragma unroll
		for (i = 0; i < FLOOD_LEN4 / 8; i++)
			w[i] = flood_tmpl[i];
		*(__u32 *)(data + 56) = ((const volatile __u32 *)flood_tmpl)[14];
		saddr_low = &ip->saddr;
		ipcheck = &ip->check;
		sport = (void *)(ip + 1);
	}
	l4check = flood_tcp ? (void *)sport + 16 : (void *)sport + 6;

	x = flood_draw(*seq);
	(*seq)++;
	host = flood_host_bits ? (__u32)(x >> 16) : 0;
	port = bpf_htons((__u16)x ? (__u16)x : 1);	/* port 0 is no port */
	*saddr_low |= bpf_htonl(host);
	*sport = port;

	src = (__u16 *)saddr_low;
	add = (__u32)src[0] + src[1];
	if (ipcheck)
		*ipcheck = csum_add(*ipcheck, add);
	/* An IPv4 UDP checksum of 0 is none (RFC 768): it stays 0. */
	if (flood_tcp || flood_v6) {
		__u16 c = csum_add(*l4check, add + port);

		*l4check = !c && !flood_tcp ? 0xffff : c;
	}
	return XDP_TX;
}

/* ---- sink ------------------------------------------------------------------ */

const volatile __u16 sink_dport = 9;	/* host order */
/*
 * sink_by_src: count and drop, instead, every IPv4 or IPv6 packet whose
 * source is in sink_net4/sink_mask4 or sink_net6/sink_mask6 (network
 * order), whatever its protocol: a flood, after the chain.
 */
const volatile __u8 sink_by_src;
const volatile __be32 sink_net4, sink_mask4;
const volatile __be32 sink_net6[4], sink_mask6[4];

/*
 * Datagrams to sink_dport by the last byte of their IPv4 destination (the
 * backend a load balancer picked). Written here, read by xdpgen sink.
 * 256 entries: one per possible last byte.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} xdpgen_sink_cnt SEC(".maps");

SEC("xdp")
int xdpgen_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct udphdr *udp;
	__u64 *c;
	__u32 k;

	if (sink_by_src) {
		struct ipv6hdr *ip6 = data + sizeof(*eth);
		int i;

		if ((void *)(ip + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP_)) {
			if ((ip->saddr & sink_mask4) != sink_net4)
				return XDP_PASS;
			k = bpf_ntohl(ip->daddr) & 0xff;
		} else if ((void *)(ip6 + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IPV6_)) {
			for (i = 0; i < 4; i++)
				if ((ip6->saddr.in6_u.u6_addr32[i] & sink_mask6[i]) != sink_net6[i])
					return XDP_PASS;
			k = bpf_ntohl(ip6->daddr.in6_u.u6_addr32[3]) & 0xff;
		} else {
			return XDP_PASS;
		}
		c = bpf_map_lookup_elem(&xdpgen_sink_cnt, &k);
		if (c)
			(*c)++;
		return XDP_DROP;
	}
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP_) ||
	    ip->protocol != IPPROTO_UDP_ || ip->ihl != 5)
		return XDP_PASS;
	udp = (void *)(ip + 1);
	if ((void *)(udp + 1) > end || udp->dest != bpf_htons(sink_dport))
		return XDP_PASS;
	k = bpf_ntohl(ip->daddr) & 0xff;
	c = bpf_map_lookup_elem(&xdpgen_sink_cnt, &k);
	if (c)
		(*c)++;
	return XDP_DROP;
}

/* ---- bare forwarder ------------------------------------------------------- */

const volatile __u32 fwd_ifindex;
const volatile __u8 fwd_dmac[6], fwd_smac[6];

SEC("xdp")
int xdpgen_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 sum;
	int i;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP_) || ip->ttl <= 1)
		return XDP_PASS;
	/* TTL - 1 and the checksum updated incrementally, as ip_decrease_ttl(). */
	sum = (__u32)ip->check + bpf_htons(0x0100);
	ip->check = (__u16)(sum + (sum >= 0xffff));
	ip->ttl--;
	for (i = 0; i < 6; i++) {
		eth->h_dest[i] = fwd_dmac[i];
		eth->h_source[i] = fwd_smac[i];
	}
	return bpf_redirect(fwd_ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
