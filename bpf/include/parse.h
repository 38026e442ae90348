/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The entry's packet parser: Ethernet, up to two VLAN tags, IPv4 (with
 * options and fragments) or IPv6 (with up to SFC_PARSE_MAX_EXT extension
 * headers), then the TCP, UDP, ICMP or ICMPv6 header. The chain parses once,
 * here, and hands struct sfc_pkt down to every function.
 *
 * Every read goes through sfc_hdr(): the offset is a scalar with a bound the
 * verifier can see, and the access is checked against data_end right before
 * it. Lengths the packet claims (IPv4 tot_len, IPv6 payload_len, extension
 * header and TCP data offset lengths) are checked against l3_off + l3_len,
 * which is itself checked against the frame, so a header that fits in the
 * frame but not in the IP packet is still malformed.
 */
#ifndef SFC_PARSE_H
#define SFC_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "shared/sfc_abi.h"
#include "xdp_ctx.h"

/* vmlinux.h carries types, not macros. */
#ifndef ETH_P_IP
#define ETH_P_IP	0x0800
#endif
#ifndef ETH_P_IPV6
#define ETH_P_IPV6	0x86DD
#endif
#ifndef ETH_P_8021Q
#define ETH_P_8021Q	0x8100
#endif
#ifndef ETH_P_8021AD
#define ETH_P_8021AD	0x88A8
#endif
#ifndef IPPROTO_ICMP
#define IPPROTO_ICMP	1
#endif
#ifndef IPPROTO_TCP
#define IPPROTO_TCP	6
#endif
#ifndef IPPROTO_UDP
#define IPPROTO_UDP	17
#endif
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6	58
#endif
#ifndef NEXTHDR_HOP
#define NEXTHDR_HOP	0
#endif
#ifndef NEXTHDR_ROUTING
#define NEXTHDR_ROUTING	43
#endif
#ifndef NEXTHDR_FRAGMENT
#define NEXTHDR_FRAGMENT 44
#endif
#ifndef NEXTHDR_ESP
#define NEXTHDR_ESP	50
#endif
#ifndef NEXTHDR_AUTH
#define NEXTHDR_AUTH	51
#endif
#ifndef NEXTHDR_NONE
#define NEXTHDR_NONE	59
#endif
#ifndef NEXTHDR_DEST
#define NEXTHDR_DEST	60
#endif
#ifndef IP_MF
#define IP_MF		0x2000
#endif
#ifndef IP_OFFSET
#define IP_OFFSET	0x1FFF
#endif
#ifndef ICMP_ECHOREPLY
#define ICMP_ECHOREPLY	0
#endif
#ifndef ICMP_ECHO
#define ICMP_ECHO	8
#endif
#ifndef ICMPV6_ECHO_REQUEST
#define ICMPV6_ECHO_REQUEST 128
#endif
#ifndef ICMPV6_ECHO_REPLY
#define ICMPV6_ECHO_REPLY 129
#endif

/* IPv6 extension headers walked before giving up on the packet. */
#define SFC_PARSE_MAX_EXT 8

enum sfc_parse_result {
	SFC_PARSE_OK = 0,		/* IPv4/IPv6 parsed */
	SFC_PARSE_NOT_IP = 1,		/* ARP etc: hand to the kernel */
	SFC_PARSE_MALFORMED = 2,	/* drop */
};

/* Our own layouts: the kernel's differ in name between versions. */
struct sfc_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct sfc_ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;
	__be16 frag_off;	/* fragment header only: offset << 3 | M */
	__be32 rest;
};

struct sfc_icmp_hdr {
	__u8 type;
	__u8 code;
	__be16 csum;
	__be16 id;		/* echo request/reply only */
	__be16 seq;
};

/*
 * Anything the parser accepts lies below this offset: 22 bytes of L2, a
 * 40-byte IPv6 header and SFC_PARSE_MAX_EXT extension headers of at most
 * 2048 bytes each, plus a 60-byte TCP header. Every cursor is clamped to it
 * so that the verifier sees a bounded offset when it is added to
 * ctx->data, whatever it lost track of on the way.
 */
#define SFC_PARSE_MAX_OFF 0x7fff

/*
 * Returns a pointer to size bytes at data + off, or NULL when they are not
 * all inside the frame. The barrier stops clang from computing the checked
 * pointer and the returned one in different registers: the verifier only
 * learns the range of the register it saw compared with data_end.
 */
static __always_inline void *sfc_hdr(void *data, void *data_end, __u32 off, __u32 size)
{
	void *p;

	off &= SFC_PARSE_MAX_OFF;
	p = data + off;
	asm volatile("" : "+r"(p));
	if (p + size > data_end)
		return NULL;
	return p;
}

/*
 * Returns off unchanged, but as a value the verifier knows nothing about
 * (x ^ y ^ y with an unknown y). In the extension header loop every path
 * leaves off with a different range (+8, +8..2048, +8..1028), the ranges
 * matter because off is added to a packet pointer, and so the states never
 * prune: eight headers cost 166k processed instructions. Forgotten, they all
 * look alike and the walk is linear; sfc_hdr() bounds off again before use.
 */
static __always_inline __u32 sfc_forget(__u32 off, __u32 any)
{
	__u64 v = off, k = any;

	asm volatile("%0 ^= %1; %0 ^= %1" : "+r"(v) : "r"(k));
	return v;
}

/*
 * Parses the L4 header at off, which must lie within the IP packet that ends
 * at lim (an offset already checked against the frame). Returns an
 * enum sfc_parse_result.
 */
static __always_inline int sfc_parse_l4(void *data, void *data_end, __u32 off, __u32 lim,
					struct sfc_pkt *pkt)
{
	__u8 proto = pkt->l4_proto;
	__u32 hlen;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = sfc_hdr(data, data_end, off, sizeof(*th));

		if (!th || off + sizeof(*th) > lim)
			return SFC_PARSE_MALFORMED;
		hlen = th->doff * 4;
		if (hlen < sizeof(*th) || off + hlen > lim)
			return SFC_PARSE_MALFORMED;
		pkt->sport = th->source;
		pkt->dport = th->dest;
		pkt->tcp_flags = ((__u8 *)th)[13];
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = sfc_hdr(data, data_end, off, sizeof(*uh));

		hlen = sizeof(*uh);
		if (!uh || off + hlen > lim)
			return SFC_PARSE_MALFORMED;
		pkt->sport = uh->source;
		pkt->dport = uh->dest;
	} else if ((proto == IPPROTO_ICMP && pkt->family == SFC_FAMILY_IPV4) ||
		   (proto == IPPROTO_ICMPV6 && pkt->family == SFC_FAMILY_IPV6)) {
		/* Both have an 8-byte header: type, code, checksum, 4 more. */
		struct sfc_icmp_hdr *ih = sfc_hdr(data, data_end, off, sizeof(*ih));

		hlen = sizeof(*ih);
		if (!ih || off + hlen > lim)
			return SFC_PARSE_MALFORMED;
		pkt->icmp_type = ih->type;
		pkt->icmp_code = ih->code;
		/* The echo identifier plays the source port in flow keys. */
		if (proto == IPPROTO_ICMP ?
		    (ih->type == ICMP_ECHO || ih->type == ICMP_ECHOREPLY) :
		    (ih->type == ICMPV6_ECHO_REQUEST || ih->type == ICMPV6_ECHO_REPLY))
			pkt->sport = ih->id;
	} else {
		/* ESP, no next header, GRE, SCTP...: not ours to look into. */
		return SFC_PARSE_OK;
	}
	pkt->l4_off = off;
	pkt->payload_off = off + hlen;
	pkt->flags |= SFC_PKT_L4;
	return SFC_PARSE_OK;
}

static __always_inline int sfc_parse_ipv4(void *data, void *data_end, __u32 off, __u32 len,
					  struct sfc_pkt *pkt)
{
	struct iphdr *iph = sfc_hdr(data, data_end, off, sizeof(*iph));
	__u32 hlen, tot, frag;

	if (!iph)
		return SFC_PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return SFC_PARSE_MALFORMED;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	/* A frame longer than tot_len carries Ethernet padding: fine. */
	if (tot < hlen || off + tot > len)
		return SFC_PARSE_MALFORMED;

	pkt->family = SFC_FAMILY_IPV4;
	pkt->l3_len = tot;
	pkt->ttl = iph->ttl;
	pkt->l4_proto = iph->protocol;
	pkt->src[0] = iph->saddr;
	pkt->dst[0] = iph->daddr;
	if (hlen > sizeof(*iph))
		pkt->flags |= SFC_PKT_IP_OPTS;

	frag = bpf_ntohs(iph->frag_off);
	if (frag & (IP_MF | IP_OFFSET))
		pkt->flags |= SFC_PKT_FRAG;
	/* RFC 791: only the fragment at offset 0 carries the L4 header. */
	if (frag & IP_OFFSET) {
		pkt->flags |= SFC_PKT_FRAG_LATER;
		return SFC_PARSE_OK;
	}
	return sfc_parse_l4(data, data_end, off + hlen, off + tot, pkt);
}

static __always_inline int sfc_parse_ipv6(void *data, void *data_end, __u32 off, __u32 len,
					  struct sfc_pkt *pkt)
{
	struct ipv6hdr *ip6h = sfc_hdr(data, data_end, off, sizeof(*ip6h));
	__u32 lim, hlen, frag;
	__u8 nh;
	int i;

	if (!ip6h)
		return SFC_PARSE_MALFORMED;
	if (ip6h->version != 6)
		return SFC_PARSE_MALFORMED;
	lim = off + sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len);
	if (lim > len)
		return SFC_PARSE_MALFORMED;

	pkt->family = SFC_FAMILY_IPV6;
	pkt->l3_len = lim - off;
	pkt->ttl = ip6h->hop_limit;
	__builtin_memcpy(pkt->src, &ip6h->saddr, sizeof(pkt->src));
	__builtin_memcpy(pkt->dst, &ip6h->daddr, sizeof(pkt->dst));
	nh = ip6h->nexthdr;
	off += sizeof(*ip6h);

	/* RFC 8200 4.1: the chain is unbounded; we bound it and drop beyond. */
	for (i = 0; i < SFC_PARSE_MAX_EXT; i++) {
		struct sfc_ipv6_ext *ext;

		if (nh != NEXTHDR_HOP && nh != NEXTHDR_ROUTING && nh != NEXTHDR_DEST &&
		    nh != NEXTHDR_FRAGMENT && nh != NEXTHDR_AUTH)
			break;
		ext = sfc_hdr(data, data_end, off, sizeof(*ext));
		if (!ext || off + sizeof(*ext) > lim)
			return SFC_PARSE_MALFORMED;
		pkt->flags |= SFC_PKT_IPV6_EXT;
		if (nh == NEXTHDR_FRAGMENT) {
			hlen = sizeof(*ext);
			frag = bpf_ntohs(ext->frag_off);
			if (frag & 0xfff9)	/* offset or M; bits 1-2 reserved */
				pkt->flags |= SFC_PKT_FRAG;
			if (frag & 0xfff8) {
				pkt->flags |= SFC_PKT_FRAG_LATER;
				pkt->l4_proto = ext->nexthdr;
				return SFC_PARSE_OK;
			}
		} else if (nh == NEXTHDR_AUTH) {
			/* RFC 4302 2.2: AH counts 4-byte units, minus 2. */
			hlen = (ext->hdrlen + 2) * 4;
		} else {
			/* RFC 8200 4.3: 8-byte units, not counting the first 8. */
			hlen = (ext->hdrlen + 1) * 8;
		}
		if (off + hlen > lim)
			return SFC_PARSE_MALFORMED;
		nh = ext->nexthdr;
		off = sfc_forget(off + hlen, len);
	}
	if (nh == NEXTHDR_HOP || nh == NEXTHDR_ROUTING || nh == NEXTHDR_DEST ||
	    nh == NEXTHDR_FRAGMENT || nh == NEXTHDR_AUTH)
		return SFC_PARSE_MALFORMED;

	pkt->l4_proto = nh;
	return sfc_parse_l4(data, data_end, off, lim, pkt);
}

/*
 * Fills every field of *pkt above the chain state; leaves dir, hop, mark and
 * nf_data alone. For SFC_PARSE_NOT_IP, h_proto, the VLAN fields and len are
 * set, and l3_off is where the payload of h_proto starts. For
 * SFC_PARSE_MALFORMED the fields hold whatever was parsed before the fault.
 */
static __always_inline int sfc_parse(struct xdp_md *ctx, struct sfc_pkt *pkt)
{
	void *data = sfc_ctx_ptr(ctx, data);
	void *data_end = sfc_ctx_ptr(ctx, data_end);
	struct ethhdr *eth;
	__u32 off, len;
	__be16 proto;
	int i;

	__builtin_memset(pkt, 0, __builtin_offsetof(struct sfc_pkt, dir));
	len = data_end - data;
	pkt->len = len;

	eth = sfc_hdr(data, data_end, 0, sizeof(*eth));
	if (!eth)
		return SFC_PARSE_MALFORMED;
	proto = eth->h_proto;
	off = sizeof(*eth);

#pragma unroll
	for (i = 0; i < 2; i++) {
		struct sfc_vlan_hdr *vh;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vh = sfc_hdr(data, data_end, off, sizeof(*vh));
		if (!vh)
			return SFC_PARSE_MALFORMED;
		pkt->vlan[i] = bpf_ntohs(vh->tci) & 0x0fff;
		pkt->n_vlan = i + 1;
		proto = vh->proto;
		off += sizeof(*vh);
	}
	pkt->h_proto = proto;
	pkt->l3_off = off;

	/* A third tag (or anything not IP) is the kernel's business. */
	if (proto == bpf_htons(ETH_P_IP))
		return sfc_parse_ipv4(data, data_end, off, len, pkt);
	if (proto == bpf_htons(ETH_P_IPV6))
		return sfc_parse_ipv6(data, data_end, off, len, pkt);
	return SFC_PARSE_NOT_IP;
}

#endif /* SFC_PARSE_H */
