// SPDX-License-Identifier: GPL-2.0
/*
 * The packet-rate programs of bench/evnf (docs/bench-evnf.md), loaded by
 * xdpgen.c:
 *
 *  xdpgen_tx    the traffic generator: run by BPF_PROG_TEST_RUN with
 *               BPF_F_TEST_XDP_LIVE_FRAMES on the client's interface, it
 *               writes the whole frame from a template and returns XDP_TX,
 *               which test_run turns into a redirect out of that interface.
 *  xdpgen_sink  at the far end: counts the generator's datagrams by
 *               destination address and drops them; passes everything else.
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

/* ---- sink ------------------------------------------------------------------ */

const volatile __u16 sink_dport = 9;	/* host order */

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
