/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small packet builder for the BPF fixtures. Headers are appended in wire
 * order; each takes the type of what follows it (ethertype, next header,
 * protocol), so odd chains are as easy to write as normal ones:
 *
 *	pkt_init(&b);
 *	pkt_eth(&b, ETH_P_8021Q);
 *	pkt_vlan(&b, 100, ETH_P_IP);
 *	pkt_ipv4(&b, IPPROTO_UDP, IP4(10, 0, 0, 1), IP4(10, 0, 0, 2));
 *	pkt_udp(&b, 1234, 53);
 *	pkt_payload(&b, 32);
 *	pkt_done(&b);		// IPv4 tot_len + checksum, IPv6 payload_len
 *	pkt_pad(&b, 6);		// Ethernet padding after the IP packet
 *
 * pkt_done() fills the lengths of the last IP header from what follows it;
 * a fixture that wants a lying length pokes it afterwards (pkt_ipv4_set_len()
 * keeps the checksum right, so the lie is the only fault in the packet).
 */
#ifndef SFC_TEST_PKT_H
#define SFC_TEST_PKT_H

#include <stdint.h>
#include <string.h>
#include <assert.h>
#include <arpa/inet.h>

#define PKT_MAX 2048

#define ETH_P_IP_	0x0800
#define ETH_P_ARP_	0x0806
#define ETH_P_IPV6_	0x86DD
#define ETH_P_8021Q_	0x8100
#define ETH_P_8021AD_	0x88A8

/* Network-order constants usable in static initializers. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BE16(x) ((uint16_t)((((x) & 0xff) << 8) | (((x) >> 8) & 0xff)))
#define BE32(x) ((uint32_t)BE16((x) >> 16) | (uint32_t)BE16((x) & 0xffff) << 16)
#define IP4(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#else
#define BE16(x) ((uint16_t)(x))
#define BE32(x) ((uint32_t)(x))
#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#endif

/* IPv6 2001:db8::<n> as the four network-order words of struct sfc_pkt. */
#define IP6_DOC(n) { BE32(0x20010db8), 0, 0, BE32(n) }

struct pkt_buf {
	uint8_t d[PKT_MAX];
	size_t len;
	int ip_off;		/* last IP header, -1 if none */
	int ip_ver;
	int udp_off;		/* last UDP header, -1 if none */
};

static void pkt_init(struct pkt_buf *b)
{
	memset(b, 0, sizeof(*b));
	b->ip_off = -1;
	b->udp_off = -1;
}

static uint8_t *pkt_put(struct pkt_buf *b, size_t n)
{
	uint8_t *p = b->d + b->len;

	assert(b->len + n <= PKT_MAX);
	memset(p, 0, n);
	b->len += n;
	return p;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void pkt_eth(struct pkt_buf *b, uint16_t proto)
{
	static const uint8_t macs[12] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01 };
	uint8_t *p = pkt_put(b, 14);

	memcpy(p, macs, sizeof(macs));
	put16(p + 12, proto);
}

/* A tag: TCI (PCP 5 set, so the parser has to mask it off) then ethertype. */
static void pkt_vlan(struct pkt_buf *b, uint16_t vid, uint16_t proto)
{
	uint8_t *p = pkt_put(b, 4);

	put16(p, 0xa000 | vid);
	put16(p + 2, proto);
}

static void pkt_arp(struct pkt_buf *b)
{
	uint8_t *p = pkt_put(b, 28);

	put16(p, 1);		/* Ethernet */
	put16(p + 2, ETH_P_IP_);
	p[4] = 6;
	p[5] = 4;
	put16(p + 6, 1);	/* request */
}

static uint16_t pkt_csum(const uint8_t *p, size_t n)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/*
 * IPv4 header with optlen bytes of options (a multiple of 4: NOPs ending in
 * EOL). frag is the host-order frag_off field (IP_MF_ | offset in 8-byte
 * units). Addresses are network order, as IP4() makes them.
 */
#define IP_DF_ 0x4000
#define IP_MF_ 0x2000

static void pkt_ipv4_opt(struct pkt_buf *b, uint8_t proto, uint32_t saddr, uint32_t daddr,
			 size_t optlen, uint16_t frag)
{
	uint8_t *p;

	assert(optlen % 4 == 0 && optlen <= 40);
	b->ip_off = b->len;
	b->ip_ver = 4;
	p = pkt_put(b, 20 + optlen);
	p[0] = 0x40 | (20 + optlen) / 4;
	put16(p + 4, 0x1234);	/* id */
	put16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, &saddr, 4);
	memcpy(p + 16, &daddr, 4);
	memset(p + 20, 1, optlen);	/* NOP */
	if (optlen)
		p[20 + optlen - 1] = 0;	/* EOL */
}

static void pkt_ipv4(struct pkt_buf *b, uint8_t proto, uint32_t saddr, uint32_t daddr)
{
	pkt_ipv4_opt(b, proto, saddr, daddr, 0, IP_DF_);
}

static void pkt_ipv4_csum(struct pkt_buf *b)
{
	uint8_t *p = b->d + b->ip_off;
	size_t hlen = (p[0] & 0xf) * 4;

	put16(p + 10, 0);
	put16(p + 10, pkt_csum(p, hlen < 20 ? 20 : hlen));
}

/* Overrides tot_len (after pkt_done) and keeps the checksum right. */
static void pkt_ipv4_set_len(struct pkt_buf *b, uint16_t tot_len)
{
	put16(b->d + b->ip_off + 2, tot_len);
	pkt_ipv4_csum(b);
}

/* Overrides the version/IHL byte. */
static void pkt_ipv4_set_vihl(struct pkt_buf *b, uint8_t vihl)
{
	b->d[b->ip_off] = vihl;
	pkt_ipv4_csum(b);
}

/* IPv6 header, addresses 2001:db8::<src> and 2001:db8::<dst>. */
static void pkt_ipv6(struct pkt_buf *b, uint8_t nexthdr, uint16_t src, uint16_t dst)
{
	uint8_t *p;

	b->ip_off = b->len;
	b->ip_ver = 6;
	p = pkt_put(b, 40);
	put32(p, 0x60000000 | 0x12345);	/* flow label */
	p[6] = nexthdr;
	p[7] = 64;
	put16(p + 8, 0x2001);
	put16(p + 10, 0x0db8);
	put16(p + 22, src);
	put16(p + 24, 0x2001);
	put16(p + 26, 0x0db8);
	put16(p + 38, dst);
}

/* IPv6 header with any addresses: src and dst are 16 bytes, network order. */
static inline void pkt_ipv6_addr(struct pkt_buf *b, uint8_t nexthdr, const void *src, const void *dst)
{
	pkt_ipv6(b, nexthdr, 0, 0);
	memcpy(b->d + b->ip_off + 8, src, 16);
	memcpy(b->d + b->ip_off + 24, dst, 16);
}

/* Hop-by-hop, routing or destination options: (units + 1) * 8 bytes. */
static void pkt_ip6_ext(struct pkt_buf *b, uint8_t nexthdr, uint8_t units)
{
	uint8_t *p = pkt_put(b, (units + 1) * 8);

	p[0] = nexthdr;
	p[1] = units;
	/* PadN over the rest, so it is a valid options header. */
	p[2] = 1;
	p[3] = (units + 1) * 8 - 4;
}

/* Fragment header; offset in 8-byte units. */
static void pkt_ip6_frag(struct pkt_buf *b, uint8_t nexthdr, uint16_t offset, int more)
{
	uint8_t *p = pkt_put(b, 8);

	p[0] = nexthdr;
	put16(p + 2, offset << 3 | !!more);
	put32(p + 4, 0xdeadbeef);
}

/* Authentication header: (units + 2) * 4 bytes (RFC 4302). */
static void pkt_ip6_ah(struct pkt_buf *b, uint8_t nexthdr, uint8_t units)
{
	uint8_t *p = pkt_put(b, (units + 2) * 4);

	p[0] = nexthdr;
	p[1] = units;
	put32(p + 4, 0x100);	/* SPI */
}

/* TCP with optlen bytes of options (NOPs), flags in byte 13. */
static void pkt_tcp_opt(struct pkt_buf *b, uint16_t sport, uint16_t dport, uint8_t flags,
			size_t optlen)
{
	uint8_t *p;

	assert(optlen % 4 == 0 && optlen <= 40);
	p = pkt_put(b, 20 + optlen);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, 1000);
	p[12] = (20 + optlen) / 4 << 4;
	p[13] = flags;
	put16(p + 14, 65535);
	memset(p + 20, 1, optlen);
}

static void pkt_tcp(struct pkt_buf *b, uint16_t sport, uint16_t dport, uint8_t flags)
{
	pkt_tcp_opt(b, sport, dport, flags, 0);
}

static void pkt_udp(struct pkt_buf *b, uint16_t sport, uint16_t dport)
{
	uint8_t *p;

	b->udp_off = b->len;
	p = pkt_put(b, 8);
	put16(p, sport);
	put16(p + 2, dport);
}

/* ICMP and ICMPv6 share the layout: type, code, checksum, id, seq. */
static void pkt_icmp(struct pkt_buf *b, uint8_t type, uint8_t code, uint16_t id, uint16_t seq)
{
	uint8_t *p = pkt_put(b, 8);

	p[0] = type;
	p[1] = code;
	put16(p + 4, id);
	put16(p + 6, seq);
}

static void pkt_payload(struct pkt_buf *b, size_t n)
{
	uint8_t *p = pkt_put(b, n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = 0x30 + i % 64;
}

/* Lengths of the last IP (and UDP) header from everything after it. */
static void pkt_done(struct pkt_buf *b)
{
	uint8_t *p = b->d + b->ip_off;

	if (b->udp_off >= 0)
		put16(b->d + b->udp_off + 4, b->len - b->udp_off);
	if (b->ip_off < 0)
		return;
	if (b->ip_ver == 4) {
		put16(p + 2, b->len - b->ip_off);
		pkt_ipv4_csum(b);
	} else {
		put16(p + 4, b->len - b->ip_off - 40);
	}
}

/* Ethernet padding: bytes after the IP packet that its length does not count. */
static void pkt_pad(struct pkt_buf *b, size_t n)
{
	memset(pkt_put(b, n), 0, n);
}

/*
 * The TCP, UDP or ICMPv6 checksum of the segment seg (len bytes) of the IP
 * packet whose header is at ip (IPv4 or IPv6, told by its version), computed
 * in full over the pseudo-header (RFC 793 3.1, RFC 768, RFC 8200 8.1) and
 * the whole segment, checksum field included: 0 when a received segment's
 * checksum is right; the value to store when its checksum field is 0.
 */
static uint16_t pkt_l4_csum(const uint8_t *ip, const uint8_t *seg, size_t len, uint8_t proto)
{
	uint8_t buf[40 + PKT_MAX];
	size_t n;

	assert(len <= PKT_MAX);
	memset(buf, 0, 40);
	if ((ip[0] >> 4) == 4) {
		memcpy(buf, ip + 12, 8);	/* source, destination */
		buf[9] = proto;
		put16(buf + 10, len);
		n = 12;
	} else {
		memcpy(buf, ip + 8, 32);
		put32(buf + 32, len);
		buf[39] = proto;
		n = 40;
	}
	memcpy(buf + n, seg, len);
	return pkt_csum(buf, n + len);
}

/*
 * Fills the TCP or UDP checksum of the last IP packet, after pkt_done(). The
 * L4 header follows the IPv4 header (options included) or a bare IPv6
 * header. A UDP checksum that comes out 0 is sent as 0xFFFF (RFC 768).
 */
static inline void pkt_l4_fill(struct pkt_buf *b)
{
	uint8_t *ip = b->d + b->ip_off, proto, *seg;
	size_t hlen, len;
	uint16_t c;

	if (b->ip_ver == 4) {
		hlen = (ip[0] & 0xf) * 4;
		len = (ip[2] << 8 | ip[3]) - hlen;
		proto = ip[9];
	} else {
		hlen = 40;
		len = ip[4] << 8 | ip[5];
		proto = ip[6];
	}
	seg = ip + hlen;
	assert(proto == 6 || proto == 17);
	put16(seg + (proto == 6 ? 16 : 6), 0);
	c = pkt_l4_csum(ip, seg, len, proto);
	if (proto == 17 && !c)
		c = 0xffff;
	put16(seg + (proto == 6 ? 16 : 6), c);
}

#endif /* SFC_TEST_PKT_H */
