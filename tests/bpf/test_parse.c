// SPDX-License-Identifier: GPL-2.0
/*
 * Fixture tests for bpf/include/parse.h, katran's way: a table of packets,
 * each with the result and the struct sfc_pkt the parser must produce, run
 * through BPF_PROG_TEST_RUN on tests/bpf/parse_prog.bpf.c. Then every
 * fixture again, cut short at every length, and 20000 random mutations, all
 * held to the invariant in check_sane().
 *
 * Needs CAP_BPF (root): prints SKIP and exits 77 without it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "testlib.h"
#include "shared/sfc_abi.h"
#include "pkt.h"
#include "test_parse_prog.skel.h"

/* Mirrors enum sfc_parse_result in bpf/include/parse.h (a BPF-only header). */
enum {
	R_OK = 0,
	R_NOT_IP = 1,
	R_MALFORMED = 2,
};

static const char *const result_name[] = { "OK", "NOT_IP", "MALFORMED" };

#define RNAME(r) ((unsigned int)(r) < 3 ? result_name[r] : "?")

#define P_TCP	6
#define P_UDP	17
#define P_ICMP	1
#define P_ICMP6	58
#define P_GRE	47
#define N_HOP	0
#define N_ROUT	43
#define N_FRAG	44
#define N_ESP	50
#define N_AH	51
#define N_NONE	59
#define N_DEST	60

#define TCP_SYN 0x02
#define TCP_ACK 0x10
#define TCP_PSH 0x08

/* What the parser must not touch: prefilled before every run, checked after. */
#define CHAIN_OFF offsetof(struct sfc_pkt, dir)
#define FILL 0xa5

#define A1 IP4(10, 0, 0, 1)
#define A2 IP4(192, 168, 7, 2)

struct fixture {
	const char *desc;
	void (*build)(struct pkt_buf *b);
	int result;
	struct sfc_pkt want;	/* above the chain state; len is the frame's */
};

/* Builders: one per fixture, in wire order. */

static void v4(struct pkt_buf *b, uint8_t proto)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_ipv4(b, proto, A1, A2);
}

static void v6(struct pkt_buf *b, uint8_t nexthdr)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IPV6_);
	pkt_ipv6(b, nexthdr, 1, 2);
}

static void b_v4_tcp_syn(struct pkt_buf *b)
{
	v4(b, P_TCP);
	pkt_tcp(b, 40000, 80, TCP_SYN);
	pkt_done(b);
	pkt_pad(b, 6);
}

static void b_v4_tcp_opts(struct pkt_buf *b)
{
	v4(b, P_TCP);
	pkt_tcp_opt(b, 443, 51000, TCP_ACK | TCP_PSH, 12);
	pkt_payload(b, 100);
	pkt_done(b);
}

static void b_v4_udp(struct pkt_buf *b)
{
	v4(b, P_UDP);
	pkt_udp(b, 5353, 53);
	pkt_payload(b, 32);
	pkt_done(b);
}

static void b_v4_udp_padded(struct pkt_buf *b)
{
	v4(b, P_UDP);
	pkt_udp(b, 1, 2);
	pkt_payload(b, 2);
	pkt_done(b);
	pkt_pad(b, 16);
}

static void b_v4_icmp_echo(struct pkt_buf *b)
{
	v4(b, P_ICMP);
	pkt_icmp(b, 8, 0, 0x4242, 1);
	pkt_payload(b, 56);
	pkt_done(b);
}

static void b_v4_icmp_reply(struct pkt_buf *b)
{
	v4(b, P_ICMP);
	pkt_icmp(b, 0, 0, 0x0707, 9);
	pkt_payload(b, 56);
	pkt_done(b);
}

static void b_v4_icmp_unreach(struct pkt_buf *b)
{
	v4(b, P_ICMP);
	pkt_icmp(b, 3, 4, 0, 1400);	/* frag needed, MTU in the "seq" half */
	pkt_payload(b, 28);
	pkt_done(b);
}

static void b_v4_opts_udp(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_ipv4_opt(b, P_UDP, A1, A2, 40, 0);
	pkt_udp(b, 1000, 2000);
	pkt_payload(b, 10);
	pkt_done(b);
}

static void b_v4_opt1_tcp(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_ipv4_opt(b, P_TCP, A1, A2, 4, IP_DF_);
	pkt_tcp(b, 22, 60000, TCP_ACK);
	pkt_done(b);
}

static void b_v4_frag_first(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_ipv4_opt(b, P_UDP, A1, A2, 0, IP_MF_);
	pkt_udp(b, 4789, 4789);
	pkt_payload(b, 64);
	pkt_done(b);
}

static void b_v4_frag_later(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_ipv4_opt(b, P_UDP, A1, A2, 0, IP_MF_ | 185);
	pkt_payload(b, 64);	/* looks like a UDP header: must not be read as one */
	pkt_done(b);
}

static void b_v4_frag_last(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_ipv4_opt(b, P_TCP, A1, A2, 8, 100);
	pkt_payload(b, 30);
	pkt_done(b);
	pkt_pad(b, 4);
}

static void b_v4_gre(struct pkt_buf *b)
{
	v4(b, P_GRE);
	pkt_payload(b, 24);
	pkt_done(b);
}

static void b_dot1q_v4_udp(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_8021Q_);
	pkt_vlan(b, 100, ETH_P_IP_);
	pkt_ipv4(b, P_UDP, A1, A2);
	pkt_udp(b, 123, 123);
	pkt_payload(b, 48);
	pkt_done(b);
}

static void b_qinq_v4_tcp(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_8021AD_);
	pkt_vlan(b, 300, ETH_P_8021Q_);
	pkt_vlan(b, 4094, ETH_P_IP_);
	pkt_ipv4(b, P_TCP, A1, A2);
	pkt_tcp(b, 1234, 5678, TCP_SYN | TCP_ACK);
	pkt_done(b);
}

static void b_dot1q2_v4_icmp(struct pkt_buf *b)
{
	/* pre-802.1ad QinQ: two 0x8100 tags */
	pkt_init(b);
	pkt_eth(b, ETH_P_8021Q_);
	pkt_vlan(b, 1, ETH_P_8021Q_);
	pkt_vlan(b, 2, ETH_P_IP_);
	pkt_ipv4(b, P_ICMP, A1, A2);
	pkt_icmp(b, 8, 0, 77, 1);
	pkt_done(b);
}

static void b_dot1q_v6_udp(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_8021Q_);
	pkt_vlan(b, 42, ETH_P_IPV6_);
	pkt_ipv6(b, P_UDP, 1, 2);
	pkt_udp(b, 546, 547);
	pkt_payload(b, 20);
	pkt_done(b);
}

static void b_qinq_v6_tcp(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_8021AD_);
	pkt_vlan(b, 10, ETH_P_8021Q_);
	pkt_vlan(b, 20, ETH_P_IPV6_);
	pkt_ipv6(b, P_TCP, 1, 2);
	pkt_tcp_opt(b, 8080, 33000, TCP_ACK, 20);
	pkt_payload(b, 5);
	pkt_done(b);
}

static void b_v6_tcp(struct pkt_buf *b)
{
	v6(b, P_TCP);
	pkt_tcp(b, 50000, 443, TCP_SYN);
	pkt_done(b);
}

static void b_v6_udp(struct pkt_buf *b)
{
	v6(b, P_UDP);
	pkt_udp(b, 9999, 53);
	pkt_payload(b, 40);
	pkt_done(b);
}

static void b_v6_udp_padded(struct pkt_buf *b)
{
	v6(b, P_UDP);
	pkt_udp(b, 7, 7);
	pkt_done(b);
	pkt_pad(b, 10);
}

static void b_v6_icmp6_echo(struct pkt_buf *b)
{
	v6(b, P_ICMP6);
	pkt_icmp(b, 128, 0, 0xbeef, 3);
	pkt_payload(b, 56);
	pkt_done(b);
}

static void b_v6_icmp6_reply(struct pkt_buf *b)
{
	v6(b, P_ICMP6);
	pkt_icmp(b, 129, 0, 0x0102, 3);
	pkt_done(b);
}

static void b_v6_icmp6_ns(struct pkt_buf *b)
{
	v6(b, P_ICMP6);
	pkt_icmp(b, 135, 0, 0, 0);
	pkt_payload(b, 16);
	pkt_done(b);
}

static void b_v6_ext_chain(struct pkt_buf *b)
{
	v6(b, N_HOP);
	pkt_ip6_ext(b, N_ROUT, 0);	/* 8 */
	pkt_ip6_ext(b, N_DEST, 2);	/* 24 */
	pkt_ip6_ext(b, P_TCP, 1);	/* 16 */
	pkt_tcp(b, 179, 40001, TCP_PSH | TCP_ACK);
	pkt_payload(b, 19);
	pkt_done(b);
}

static void b_v6_frag_first(struct pkt_buf *b)
{
	v6(b, N_FRAG);
	pkt_ip6_frag(b, P_UDP, 0, 1);
	pkt_udp(b, 5000, 6000);
	pkt_payload(b, 64);
	pkt_done(b);
}

static void b_v6_frag_later(struct pkt_buf *b)
{
	v6(b, N_FRAG);
	pkt_ip6_frag(b, P_TCP, 9, 1);
	pkt_payload(b, 64);
	pkt_done(b);
}

static void b_v6_hop_frag_later(struct pkt_buf *b)
{
	v6(b, N_HOP);
	pkt_ip6_ext(b, N_FRAG, 0);
	pkt_ip6_frag(b, P_UDP, 300, 0);
	pkt_payload(b, 8);
	pkt_done(b);
}

static void b_v6_frag_off1(struct pkt_buf *b)
{
	/* offset 8 bytes: only the lowest offset bit set */
	v6(b, N_FRAG);
	pkt_ip6_frag(b, P_UDP, 1, 0);
	pkt_payload(b, 8);
	pkt_done(b);
}

static void b_v4_frag_off1(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_ipv4_opt(b, P_TCP, A1, A2, 0, 1);
	pkt_payload(b, 26);
	pkt_done(b);
}

static void b_v6_atomic_frag(struct pkt_buf *b)
{
	/* RFC 6946: offset 0 and no M is a whole packet */
	v6(b, N_FRAG);
	pkt_ip6_frag(b, P_UDP, 0, 0);
	pkt_udp(b, 1, 2);
	pkt_done(b);
}

static void b_v6_ah_tcp(struct pkt_buf *b)
{
	v6(b, N_AH);
	pkt_ip6_ah(b, P_TCP, 4);	/* 24 */
	pkt_tcp(b, 1, 2, TCP_ACK);
	pkt_done(b);
}

static void b_v6_esp(struct pkt_buf *b)
{
	v6(b, N_ESP);
	pkt_payload(b, 40);
	pkt_done(b);
}

static void b_v6_none(struct pkt_buf *b)
{
	v6(b, N_DEST);
	pkt_ip6_ext(b, N_NONE, 0);
	pkt_done(b);
}

static void b_v6_ext8(struct pkt_buf *b)
{
	int i;

	v6(b, N_DEST);
	for (i = 0; i < 7; i++)
		pkt_ip6_ext(b, N_DEST, 0);
	pkt_ip6_ext(b, P_UDP, 0);
	pkt_udp(b, 11, 22);
	pkt_done(b);
}

static void b_arp(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_ARP_);
	pkt_arp(b);
	pkt_pad(b, 18);
}

static void b_dot1q_arp(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_8021Q_);
	pkt_vlan(b, 5, ETH_P_ARP_);
	pkt_arp(b);
}

static void b_three_tags(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_8021AD_);
	pkt_vlan(b, 7, ETH_P_8021Q_);
	pkt_vlan(b, 8, ETH_P_8021Q_);
	pkt_vlan(b, 9, ETH_P_IP_);
	pkt_ipv4(b, P_UDP, A1, A2);
	pkt_udp(b, 1, 2);
	pkt_done(b);
}

/* Malformed */

static void b_bad_ihl0(struct pkt_buf *b) { b_v4_tcp_syn(b); pkt_ipv4_set_vihl(b, 0x40); }
static void b_bad_ihl1(struct pkt_buf *b) { b_v4_tcp_syn(b); pkt_ipv4_set_vihl(b, 0x41); }
static void b_bad_ihl2(struct pkt_buf *b) { b_v4_tcp_syn(b); pkt_ipv4_set_vihl(b, 0x42); }
static void b_bad_ihl3(struct pkt_buf *b) { b_v4_tcp_syn(b); pkt_ipv4_set_vihl(b, 0x43); }
static void b_bad_ihl4(struct pkt_buf *b) { b_v4_tcp_syn(b); pkt_ipv4_set_vihl(b, 0x44); }
static void b_v4_ver6(struct pkt_buf *b) { b_v4_udp(b); pkt_ipv4_set_vihl(b, 0x65); }

static void b_v6_ver4(struct pkt_buf *b)
{
	b_v6_udp(b);
	b->d[14] = 0x40;
}

static void b_v4_totlen_big(struct pkt_buf *b)
{
	b_v4_udp(b);
	pkt_ipv4_set_len(b, b->len - 14 + 1);
}

static void b_v4_totlen_small(struct pkt_buf *b)
{
	b_v4_udp(b);
	pkt_ipv4_set_len(b, 19);
}

static void b_v4_totlen_lt_ihl(struct pkt_buf *b)
{
	b_v4_opts_udp(b);	/* IHL 15 */
	pkt_ipv4_set_len(b, 56);
}

static void b_v6_paylen_big(struct pkt_buf *b)
{
	b_v6_udp(b);
	put16(b->d + 14 + 4, b->len - 14 - 40 + 1);
}

static void b_tcp_doff4(struct pkt_buf *b)
{
	b_v4_tcp_opts(b);
	b->d[14 + 20 + 12] = 4 << 4;
}

static void b_tcp_doff0(struct pkt_buf *b)
{
	b_v6_tcp(b);
	b->d[14 + 40 + 12] = 0;
}

static void b_tcp_opts_past_frame(struct pkt_buf *b)
{
	b_v4_tcp_syn(b);
	pkt_ipv4_set_len(b, 40);	/* drop the padding's share */
	b->len -= 6;
	b->d[14 + 20 + 12] = 15 << 4;
}

static void b_tcp_opts_past_ip(struct pkt_buf *b)
{
	/* the options' bytes are in the frame, but only as padding */
	b_v4_tcp_syn(b);
	b->d[14 + 20 + 12] = 6 << 4;
}

static void b_v4_first_frag_short(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_ipv4_opt(b, P_TCP, A1, A2, 0, IP_MF_);
	pkt_payload(b, 8);	/* RFC 1858: a tiny first fragment */
	pkt_done(b);
}

static void b_v6_first_frag_short(struct pkt_buf *b)
{
	v6(b, N_FRAG);
	pkt_ip6_frag(b, P_TCP, 0, 1);
	pkt_payload(b, 16);
	pkt_done(b);
}

static void b_udp_short(struct pkt_buf *b)
{
	b_v4_udp(b);
	pkt_ipv4_set_len(b, 24);	/* frame still holds the rest */
}

static void b_icmp_short(struct pkt_buf *b)
{
	v4(b, P_ICMP);
	pkt_payload(b, 4);
	pkt_done(b);
}

static void b_v6_ext9(struct pkt_buf *b)
{
	int i;

	v6(b, N_HOP);
	for (i = 0; i < 8; i++)
		pkt_ip6_ext(b, N_DEST, 0);
	pkt_ip6_ext(b, P_UDP, 0);
	pkt_udp(b, 11, 22);
	pkt_done(b);
}

static void b_v6_ext_past_frame(struct pkt_buf *b)
{
	v6(b, N_HOP);
	pkt_ip6_ext(b, P_UDP, 0);
	pkt_udp(b, 1, 2);
	pkt_done(b);
	b->d[14 + 40 + 1] = 10;	/* claims 88 bytes; 16 follow */
}

static void b_v6_ext_past_ip(struct pkt_buf *b)
{
	v6(b, N_ROUT);
	pkt_ip6_ext(b, P_UDP, 0);
	pkt_udp(b, 1, 2);
	pkt_done(b);
	pkt_pad(b, 64);
	b->d[14 + 40 + 1] = 2;	/* 24 bytes: in the frame, not in the packet */
}

static void b_v6_ext_past_ip_none(struct pkt_buf *b)
{
	/* nothing after it to trip over: only the length check can catch it */
	v6(b, N_DEST);
	pkt_ip6_ext(b, N_NONE, 0);
	pkt_done(b);
	pkt_pad(b, 32);
	b->d[14 + 40 + 1] = 1;
}

static void b_v6_ah_past_ip_esp(struct pkt_buf *b)
{
	v6(b, N_AH);
	pkt_ip6_ah(b, N_ESP, 1);	/* 12 */
	pkt_payload(b, 8);
	pkt_done(b);
	b->d[14 + 40 + 1] = 4;		/* 24: 4 bytes past payload_len */
	pkt_pad(b, 8);
}

static void b_v6_frag_past_ip(struct pkt_buf *b)
{
	/* a later fragment's header, half of it past payload_len */
	v6(b, N_FRAG);
	pkt_ip6_frag(b, P_UDP, 100, 1);
	pkt_done(b);
	put16(b->d + 14 + 4, 4);
}

static void b_v6_ah_past_frame(struct pkt_buf *b)
{
	b_v6_ah_tcp(b);
	b->d[14 + 40 + 1] = 20;
}

static void b_runt(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	b->len = 13;
}

static void b_vlan_cut(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_8021Q_);
	pkt_put(b, 2);
}

static void b_v4_hdr_cut(struct pkt_buf *b)
{
	pkt_init(b);
	pkt_eth(b, ETH_P_IP_);
	pkt_put(b, 19)[0] = 0x45;
}

#define V4 .family = SFC_FAMILY_IPV4, .h_proto = BE16(ETH_P_IP_), .ttl = 64, \
	.src = { A1 }, .dst = { A2 }
#define V6 .family = SFC_FAMILY_IPV6, .h_proto = BE16(ETH_P_IPV6_), .ttl = 64, \
	.src = IP6_DOC(1), .dst = IP6_DOC(2)
#define L4 SFC_PKT_L4

static const struct fixture fixtures[] = {
	{ "v4 tcp syn, padded", b_v4_tcp_syn, R_OK,
	  { V4, .l3_off = 14, .l4_off = 34, .payload_off = 54, .l3_len = 40, .l4_proto = P_TCP,
	    .flags = L4, .tcp_flags = TCP_SYN, .sport = BE16(40000), .dport = BE16(80) } },
	{ "v4 tcp options + payload", b_v4_tcp_opts, R_OK,
	  { V4, .l3_off = 14, .l4_off = 34, .payload_off = 66, .l3_len = 152, .l4_proto = P_TCP,
	    .flags = L4, .tcp_flags = TCP_ACK | TCP_PSH, .sport = BE16(443), .dport = BE16(51000) } },
	{ "v4 udp", b_v4_udp, R_OK,
	  { V4, .l3_off = 14, .l4_off = 34, .payload_off = 42, .l3_len = 60, .l4_proto = P_UDP,
	    .flags = L4, .sport = BE16(5353), .dport = BE16(53) } },
	{ "v4 udp, 16 bytes padding", b_v4_udp_padded, R_OK,
	  { V4, .l3_off = 14, .l4_off = 34, .payload_off = 42, .l3_len = 30, .l4_proto = P_UDP,
	    .flags = L4, .sport = BE16(1), .dport = BE16(2) } },
	{ "v4 icmp echo request", b_v4_icmp_echo, R_OK,
	  { V4, .l3_off = 14, .l4_off = 34, .payload_off = 42, .l3_len = 84, .l4_proto = P_ICMP,
	    .flags = L4, .icmp_type = 8, .sport = BE16(0x4242) } },
	{ "v4 icmp echo reply", b_v4_icmp_reply, R_OK,
	  { V4, .l3_off = 14, .l4_off = 34, .payload_off = 42, .l3_len = 84, .l4_proto = P_ICMP,
	    .flags = L4, .icmp_type = 0, .sport = BE16(0x0707) } },
	{ "v4 icmp frag needed: no id", b_v4_icmp_unreach, R_OK,
	  { V4, .l3_off = 14, .l4_off = 34, .payload_off = 42, .l3_len = 56, .l4_proto = P_ICMP,
	    .flags = L4, .icmp_type = 3, .icmp_code = 4 } },
	{ "v4 IHL 15 + udp", b_v4_opts_udp, R_OK,
	  { V4, .l3_off = 14, .l4_off = 74, .payload_off = 82, .l3_len = 78, .l4_proto = P_UDP,
	    .flags = L4 | SFC_PKT_IP_OPTS, .sport = BE16(1000), .dport = BE16(2000) } },
	{ "v4 IHL 6 + tcp", b_v4_opt1_tcp, R_OK,
	  { V4, .l3_off = 14, .l4_off = 38, .payload_off = 58, .l3_len = 44, .l4_proto = P_TCP,
	    .flags = L4 | SFC_PKT_IP_OPTS, .tcp_flags = TCP_ACK, .sport = BE16(22),
	    .dport = BE16(60000) } },
	{ "v4 first fragment (MF)", b_v4_frag_first, R_OK,
	  { V4, .l3_off = 14, .l4_off = 34, .payload_off = 42, .l3_len = 92, .l4_proto = P_UDP,
	    .flags = L4 | SFC_PKT_FRAG, .sport = BE16(4789), .dport = BE16(4789) } },
	{ "v4 middle fragment", b_v4_frag_later, R_OK,
	  { V4, .l3_off = 14, .l3_len = 84, .l4_proto = P_UDP,
	    .flags = SFC_PKT_FRAG | SFC_PKT_FRAG_LATER } },
	{ "v4 last fragment, options, padded", b_v4_frag_last, R_OK,
	  { V4, .l3_off = 14, .l3_len = 58, .l4_proto = P_TCP,
	    .flags = SFC_PKT_FRAG | SFC_PKT_FRAG_LATER | SFC_PKT_IP_OPTS } },
	{ "v4 gre: no L4 parse", b_v4_gre, R_OK,
	  { V4, .l3_off = 14, .l3_len = 44, .l4_proto = P_GRE } },
	{ "802.1Q v4 udp", b_dot1q_v4_udp, R_OK,
	  { V4, .vlan = { 100 }, .n_vlan = 1, .l3_off = 18, .l4_off = 38, .payload_off = 46,
	    .l3_len = 76, .l4_proto = P_UDP, .flags = L4, .sport = BE16(123), .dport = BE16(123) } },
	{ "QinQ 802.1ad+802.1Q v4 tcp", b_qinq_v4_tcp, R_OK,
	  { V4, .vlan = { 300, 4094 }, .n_vlan = 2, .l3_off = 22, .l4_off = 42, .payload_off = 62,
	    .l3_len = 40, .l4_proto = P_TCP, .flags = L4, .tcp_flags = TCP_SYN | TCP_ACK,
	    .sport = BE16(1234), .dport = BE16(5678) } },
	{ "two 802.1Q tags v4 icmp", b_dot1q2_v4_icmp, R_OK,
	  { V4, .vlan = { 1, 2 }, .n_vlan = 2, .l3_off = 22, .l4_off = 42, .payload_off = 50,
	    .l3_len = 28, .l4_proto = P_ICMP, .flags = L4, .icmp_type = 8, .sport = BE16(77) } },
	{ "802.1Q v6 udp", b_dot1q_v6_udp, R_OK,
	  { V6, .vlan = { 42 }, .n_vlan = 1, .l3_off = 18, .l4_off = 58, .payload_off = 66,
	    .l3_len = 68, .l4_proto = P_UDP, .flags = L4, .sport = BE16(546), .dport = BE16(547) } },
	{ "QinQ v6 tcp options", b_qinq_v6_tcp, R_OK,
	  { V6, .vlan = { 10, 20 }, .n_vlan = 2, .l3_off = 22, .l4_off = 62, .payload_off = 102,
	    .l3_len = 85, .l4_proto = P_TCP, .flags = L4, .tcp_flags = TCP_ACK,
	    .sport = BE16(8080), .dport = BE16(33000) } },
	{ "v6 tcp", b_v6_tcp, R_OK,
	  { V6, .l3_off = 14, .l4_off = 54, .payload_off = 74, .l3_len = 60, .l4_proto = P_TCP,
	    .flags = L4, .tcp_flags = TCP_SYN, .sport = BE16(50000), .dport = BE16(443) } },
	{ "v6 udp", b_v6_udp, R_OK,
	  { V6, .l3_off = 14, .l4_off = 54, .payload_off = 62, .l3_len = 88, .l4_proto = P_UDP,
	    .flags = L4, .sport = BE16(9999), .dport = BE16(53) } },
	{ "v6 udp, padded", b_v6_udp_padded, R_OK,
	  { V6, .l3_off = 14, .l4_off = 54, .payload_off = 62, .l3_len = 48, .l4_proto = P_UDP,
	    .flags = L4, .sport = BE16(7), .dport = BE16(7) } },
	{ "v6 icmpv6 echo request", b_v6_icmp6_echo, R_OK,
	  { V6, .l3_off = 14, .l4_off = 54, .payload_off = 62, .l3_len = 104, .l4_proto = P_ICMP6,
	    .flags = L4, .icmp_type = 128, .sport = BE16(0xbeef) } },
	{ "v6 icmpv6 echo reply", b_v6_icmp6_reply, R_OK,
	  { V6, .l3_off = 14, .l4_off = 54, .payload_off = 62, .l3_len = 48, .l4_proto = P_ICMP6,
	    .flags = L4, .icmp_type = 129, .sport = BE16(0x0102) } },
	{ "v6 icmpv6 neighbor solicitation", b_v6_icmp6_ns, R_OK,
	  { V6, .l3_off = 14, .l4_off = 54, .payload_off = 62, .l3_len = 64, .l4_proto = P_ICMP6,
	    .flags = L4, .icmp_type = 135 } },
	{ "v6 hop-by-hop + routing + dest opts + tcp", b_v6_ext_chain, R_OK,
	  { V6, .l3_off = 14, .l4_off = 102, .payload_off = 122, .l3_len = 127, .l4_proto = P_TCP,
	    .flags = L4 | SFC_PKT_IPV6_EXT, .tcp_flags = TCP_PSH | TCP_ACK, .sport = BE16(179),
	    .dport = BE16(40001) } },
	{ "v6 first fragment", b_v6_frag_first, R_OK,
	  { V6, .l3_off = 14, .l4_off = 62, .payload_off = 70, .l3_len = 120, .l4_proto = P_UDP,
	    .flags = L4 | SFC_PKT_IPV6_EXT | SFC_PKT_FRAG, .sport = BE16(5000),
	    .dport = BE16(6000) } },
	{ "v6 later fragment", b_v6_frag_later, R_OK,
	  { V6, .l3_off = 14, .l3_len = 112, .l4_proto = P_TCP,
	    .flags = SFC_PKT_IPV6_EXT | SFC_PKT_FRAG | SFC_PKT_FRAG_LATER } },
	{ "v6 hop-by-hop + last fragment", b_v6_hop_frag_later, R_OK,
	  { V6, .l3_off = 14, .l3_len = 64, .l4_proto = P_UDP,
	    .flags = SFC_PKT_IPV6_EXT | SFC_PKT_FRAG | SFC_PKT_FRAG_LATER } },
	{ "v6 last fragment at offset 8", b_v6_frag_off1, R_OK,
	  { V6, .l3_off = 14, .l3_len = 56, .l4_proto = P_UDP,
	    .flags = SFC_PKT_IPV6_EXT | SFC_PKT_FRAG | SFC_PKT_FRAG_LATER } },
	{ "v4 last fragment at offset 8", b_v4_frag_off1, R_OK,
	  { V4, .l3_off = 14, .l3_len = 46, .l4_proto = P_TCP,
	    .flags = SFC_PKT_FRAG | SFC_PKT_FRAG_LATER } },
	{ "v6 atomic fragment", b_v6_atomic_frag, R_OK,
	  { V6, .l3_off = 14, .l4_off = 62, .payload_off = 70, .l3_len = 56, .l4_proto = P_UDP,
	    .flags = L4 | SFC_PKT_IPV6_EXT, .sport = BE16(1), .dport = BE16(2) } },
	{ "v6 AH + tcp", b_v6_ah_tcp, R_OK,
	  { V6, .l3_off = 14, .l4_off = 78, .payload_off = 98, .l3_len = 84, .l4_proto = P_TCP,
	    .flags = L4 | SFC_PKT_IPV6_EXT, .tcp_flags = TCP_ACK, .sport = BE16(1),
	    .dport = BE16(2) } },
	{ "v6 esp: stop", b_v6_esp, R_OK,
	  { V6, .l3_off = 14, .l3_len = 80, .l4_proto = N_ESP } },
	{ "v6 dest opts + no next header", b_v6_none, R_OK,
	  { V6, .l3_off = 14, .l3_len = 48, .l4_proto = N_NONE, .flags = SFC_PKT_IPV6_EXT } },
	{ "v6 eight extension headers", b_v6_ext8, R_OK,
	  { V6, .l3_off = 14, .l4_off = 118, .payload_off = 126, .l3_len = 112, .l4_proto = P_UDP,
	    .flags = L4 | SFC_PKT_IPV6_EXT, .sport = BE16(11), .dport = BE16(22) } },
	{ "arp", b_arp, R_NOT_IP,
	  { .h_proto = BE16(ETH_P_ARP_), .l3_off = 14 } },
	{ "802.1Q arp", b_dot1q_arp, R_NOT_IP,
	  { .h_proto = BE16(ETH_P_ARP_), .vlan = { 5 }, .n_vlan = 1, .l3_off = 18 } },
	{ "three tags", b_three_tags, R_NOT_IP,
	  { .h_proto = BE16(ETH_P_8021Q_), .vlan = { 7, 8 }, .n_vlan = 2, .l3_off = 22 } },

	{ "v4 IHL 0", b_bad_ihl0, R_MALFORMED },
	{ "v4 IHL 1", b_bad_ihl1, R_MALFORMED },
	{ "v4 IHL 2", b_bad_ihl2, R_MALFORMED },
	{ "v4 IHL 3", b_bad_ihl3, R_MALFORMED },
	{ "v4 IHL 4", b_bad_ihl4, R_MALFORMED },
	{ "version 6 under ETH_P_IP", b_v4_ver6, R_MALFORMED },
	{ "version 4 under ETH_P_IPV6", b_v6_ver4, R_MALFORMED },
	{ "v4 tot_len past the frame", b_v4_totlen_big, R_MALFORMED },
	{ "v4 tot_len 19", b_v4_totlen_small, R_MALFORMED },
	{ "v4 tot_len < IHL*4", b_v4_totlen_lt_ihl, R_MALFORMED },
	{ "v6 payload_len past the frame", b_v6_paylen_big, R_MALFORMED },
	{ "tcp doff 4", b_tcp_doff4, R_MALFORMED },
	{ "v6 tcp doff 0", b_tcp_doff0, R_MALFORMED },
	{ "tcp options past the frame", b_tcp_opts_past_frame, R_MALFORMED },
	{ "tcp options in the padding", b_tcp_opts_past_ip, R_MALFORMED },
	{ "v4 first fragment too short for tcp", b_v4_first_frag_short, R_MALFORMED },
	{ "v6 first fragment too short for tcp", b_v6_first_frag_short, R_MALFORMED },
	{ "udp header past tot_len", b_udp_short, R_MALFORMED },
	{ "icmp header 4 bytes", b_icmp_short, R_MALFORMED },
	{ "v6 nine extension headers", b_v6_ext9, R_MALFORMED },
	{ "v6 hop-by-hop length past the frame", b_v6_ext_past_frame, R_MALFORMED },
	{ "v6 routing length past payload_len", b_v6_ext_past_ip, R_MALFORMED },
	{ "v6 AH length past the frame", b_v6_ah_past_frame, R_MALFORMED },
	{ "v6 fragment header past payload_len", b_v6_frag_past_ip, R_MALFORMED },
	{ "v6 dest opts past payload_len, then none", b_v6_ext_past_ip_none, R_MALFORMED },
	{ "v6 AH past payload_len, then esp", b_v6_ah_past_ip_esp, R_MALFORMED },
	{ "13-byte frame", b_runt, R_MALFORMED },
	{ "vlan tag cut", b_vlan_cut, R_MALFORMED },
	{ "v4 header cut", b_v4_hdr_cut, R_MALFORMED },
};

#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static int prog_fd, map_fd;

/*
 * Runs the parser on len bytes. test_run refuses a frame shorter than
 * ETH_HLEN, but since 6.x it takes ctx_in.data_end below data_size_in and
 * puts the rest in a fragment: the program then sees data_end - data == len,
 * which is how the frames of 0..13 bytes reach the parser.
 */
static int run(const uint8_t *frame, size_t len, struct sfc_pkt *out, int *res)
{
	uint8_t in[PKT_MAX];
	struct xdp_md ctx = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .repeat = 1);
	uint32_t zero = 0;
	int err;

	memset(out, FILL, sizeof(*out));
	if (bpf_map_update_elem(map_fd, &zero, out, BPF_ANY))
		return -errno;
	memcpy(in, frame, len);
	opts.data_size_in = len;
	if (len < 14) {
		memset(in + len, 0, 14 - len);
		opts.data_size_in = 14;
		ctx.data_end = len;
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return -errno;
	*res = opts.retval;
	if (bpf_map_lookup_elem(map_fd, &zero, out))
		return -errno;
	return 0;
}

static int chain_state_kept(const struct sfc_pkt *p)
{
	const uint8_t *b = (const uint8_t *)p;
	size_t i;

	for (i = CHAIN_OFF; i < sizeof(*p); i++)
		if (b[i] != FILL)
			return 0;
	return 1;
}

static uint16_t get16(const uint8_t *f, size_t off)
{
	return f[off] << 8 | f[off + 1];
}

static int is_ext(uint8_t nh)
{
	return nh == N_HOP || nh == N_ROUT || nh == N_DEST || nh == N_FRAG || nh == N_AH;
}

/*
 * The IPv6 extension header chain as RFC 8200 and 4302 lay it out, walked
 * again here: an OK parse must agree with it on where the chain ends
 * (l4_off), what it ends in (l4_proto) and the fragment flags, and the
 * chain must fit in the packet.
 */
static const char *walk_ext(const uint8_t *f, size_t ip, size_t end, const struct sfc_pkt *p)
{
	size_t off = ip + 40, hlen;
	uint8_t nh = f[ip + 6], flags = 0;
	int n;

	for (n = 0; is_ext(nh); n++) {
		if (n == 8)
			return "more than 8 extension headers accepted";
		if (off + 8 > end)
			return "extension header past the packet accepted";
		flags |= SFC_PKT_IPV6_EXT;
		if (nh == N_FRAG) {
			uint16_t fo = get16(f, off + 2);

			if (fo & 0xfff9)
				flags |= SFC_PKT_FRAG;
			if (fo & 0xfff8) {
				flags |= SFC_PKT_FRAG_LATER;
				nh = f[off];
				break;
			}
			hlen = 8;
		} else {
			hlen = nh == N_AH ? (f[off + 1] + 2) * 4 : (f[off + 1] + 1) * 8;
		}
		if (off + hlen > end)
			return "extension header length past the packet accepted";
		nh = f[off];
		off += hlen;
	}
	if (p->l4_proto != nh)
		return "v6 l4_proto is not where the chain ends";
	if ((p->flags & (SFC_PKT_IPV6_EXT | SFC_PKT_FRAG | SFC_PKT_FRAG_LATER)) != flags)
		return "v6 EXT/FRAG flags do not match the chain";
	if ((p->flags & SFC_PKT_L4) && p->l4_off != off)
		return "v6 l4_off is not where the chain ends";
	return NULL;
}

/*
 * The invariant every run must satisfy, whatever the input: returns NULL or
 * what is wrong. A result is one of the three; OK and NOT_IP describe only
 * bytes inside the frame, and every field agrees with the bytes it came
 * from. Precisely, for a frame f of length n:
 *   - len == n, chain state untouched, n_vlan <= 2, l3_off == 14 + 4 * n_vlan
 *     <= n, h_proto == the ethertype at l3_off - 2, vlan ids match the tags;
 *   - NOT_IP: h_proto is not IPv4/IPv6, family, flags, L4 fields all zero;
 *   - OK: l3_off + l3_len <= n and l3_len equals tot_len (v4) or 40 +
 *     payload_len (v6), which covers the IP header (IHL*4, >= 20; 40);
 *     ttl, addresses, protocol and flags match the header, and for v6 the
 *     extension header chain, walked again by walk_ext();
 *   - with SFC_PKT_L4: l3_off + IP header <= l4_off < payload_off <=
 *     l3_off + l3_len; TCP is doff*4 >= 20 long, UDP/ICMP 8; ports, TCP
 *     flags and ICMP type/code/id match the bytes at l4_off; no FRAG_LATER;
 *   - without it: l4_off, payload_off, ports, tcp_flags, icmp all zero, and
 *     l4_proto is one we parse only if the packet is a later fragment.
 */
static const char *check_sane(const uint8_t *f, size_t n, int res, const struct sfc_pkt *p)
{
	size_t ip, ihl = 0, l4, l4len, end;
	const char *why;
	uint8_t proto;
	int i;

	if (res != R_OK && res != R_NOT_IP && res != R_MALFORMED)
		return "result not OK/NOT_IP/MALFORMED";
	if (!chain_state_kept(p))
		return "chain state changed";
	if (p->len != n)
		return "len is not the frame length";
	if (res == R_MALFORMED)
		return NULL;
	if (p->n_vlan > 2)
		return "n_vlan > 2";
	ip = 14 + 4 * p->n_vlan;
	if (p->l3_off != ip || ip > n)
		return "l3_off not after the tags, or past the frame";
	if (p->h_proto != htons(get16(f, ip - 2)))
		return "h_proto is not the last ethertype";
	for (i = 0; i < p->n_vlan; i++)
		if (p->vlan[i] != (get16(f, 14 + 4 * i) & 0xfff))
			return "vlan id does not match its tag";
	if (res == R_NOT_IP) {
		if (p->h_proto == htons(ETH_P_IP_) || p->h_proto == htons(ETH_P_IPV6_))
			return "NOT_IP for an IP ethertype";
		if (p->family || p->flags || p->l4_off || p->payload_off || p->l3_len ||
		    p->l4_proto || p->sport || p->dport)
			return "NOT_IP with IP fields set";
		return NULL;
	}

	if (p->l3_off + p->l3_len > n)
		return "l3_off + l3_len past the frame";
	if (p->family == SFC_FAMILY_IPV4) {
		uint32_t a;

		if (p->h_proto != htons(ETH_P_IP_) || ip + 20 > n)
			return "v4 under the wrong ethertype or cut";
		ihl = (f[ip] & 0xf) * 4;
		if (f[ip] >> 4 != 4 || ihl < 20 || p->l3_len < ihl)
			return "v4 header accepted with a bad version/IHL/tot_len";
		if (p->l3_len != get16(f, ip + 2) || p->ttl != f[ip + 8] ||
		    p->l4_proto != f[ip + 9])
			return "v4 tot_len/ttl/protocol mismatch";
		memcpy(&a, f + ip + 12, 4);
		if (p->src[0] != a || p->src[1] || p->src[2] || p->src[3])
			return "v4 src mismatch";
		memcpy(&a, f + ip + 16, 4);
		if (p->dst[0] != a || p->dst[1] || p->dst[2] || p->dst[3])
			return "v4 dst mismatch";
		if (!!(p->flags & SFC_PKT_IP_OPTS) != (ihl > 20))
			return "IP_OPTS does not match IHL";
		if (!!(p->flags & SFC_PKT_FRAG) != !!(get16(f, ip + 6) & 0x3fff))
			return "FRAG does not match MF/offset";
		if (!!(p->flags & SFC_PKT_FRAG_LATER) != !!(get16(f, ip + 6) & 0x1fff))
			return "FRAG_LATER does not match the offset";
		if (p->flags & SFC_PKT_IPV6_EXT)
			return "IPV6_EXT on v4";
		proto = P_ICMP;
	} else if (p->family == SFC_FAMILY_IPV6) {
		if (p->h_proto != htons(ETH_P_IPV6_) || ip + 40 > n)
			return "v6 under the wrong ethertype or cut";
		ihl = 40;
		if (f[ip] >> 4 != 6 || p->l3_len != 40 + get16(f, ip + 4) ||
		    p->ttl != f[ip + 7])
			return "v6 version/payload_len/hop limit mismatch";
		if (memcmp(p->src, f + ip + 8, 16) || memcmp(p->dst, f + ip + 24, 16))
			return "v6 address mismatch";
		if (p->flags & SFC_PKT_IP_OPTS)
			return "IP_OPTS on v6";
		why = walk_ext(f, ip, ip + p->l3_len, p);
		if (why)
			return why;
		proto = P_ICMP6;
	} else {
		return "OK with no family";
	}
	if ((p->flags & SFC_PKT_FRAG_LATER) && !(p->flags & SFC_PKT_FRAG))
		return "FRAG_LATER without FRAG";

	end = p->l3_off + p->l3_len;
	if (!(p->flags & SFC_PKT_L4)) {
		if (p->l4_off || p->payload_off || p->sport || p->dport || p->tcp_flags ||
		    p->icmp_type || p->icmp_code)
			return "L4 fields set without SFC_PKT_L4";
		if (!(p->flags & SFC_PKT_FRAG_LATER) &&
		    (p->l4_proto == P_TCP || p->l4_proto == P_UDP || p->l4_proto == proto))
			return "TCP/UDP/ICMP of a whole packet left unparsed";
		return NULL;
	}
	if (p->flags & SFC_PKT_FRAG_LATER)
		return "L4 parsed in a later fragment";
	l4 = p->l4_off;
	l4len = p->payload_off - p->l4_off;
	if (l4 < ip + ihl || p->payload_off <= l4 || p->payload_off > end)
		return "L4 header outside the IP packet";
	if (p->family == SFC_FAMILY_IPV4 && l4 != ip + ihl)
		return "v4 L4 not right after the IP header";
	if (p->l4_proto == P_TCP) {
		if (l4len < 20 || l4len != (size_t)(f[l4 + 12] >> 4) * 4)
			return "TCP length is not doff*4 >= 20";
		if (p->sport != htons(get16(f, l4)) || p->dport != htons(get16(f, l4 + 2)) ||
		    p->tcp_flags != f[l4 + 13] || p->icmp_type || p->icmp_code)
			return "TCP fields mismatch";
	} else if (p->l4_proto == P_UDP) {
		if (l4len != 8 || p->sport != htons(get16(f, l4)) ||
		    p->dport != htons(get16(f, l4 + 2)) || p->tcp_flags || p->icmp_type ||
		    p->icmp_code)
			return "UDP fields mismatch";
	} else if (p->l4_proto == proto) {
		uint8_t t = f[l4];
		int echo = proto == P_ICMP ? (t == 0 || t == 8) : (t == 128 || t == 129);

		if (l4len != 8 || p->icmp_type != t || p->icmp_code != f[l4 + 1] ||
		    p->sport != (echo ? htons(get16(f, l4 + 4)) : 0) || p->dport ||
		    p->tcp_flags)
			return "ICMP fields mismatch";
	} else {
		return "SFC_PKT_L4 for a protocol we do not parse";
	}
	return NULL;
}

static void dump(const uint8_t *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(stderr, "%02x%s", f[i], i % 32 == 31 || i + 1 == n ? "\n" : " ");
}

static int n_dumped;

/* One CHECK per run, so the summary counts runs rather than fields. */
static void check_run(const char *what, size_t arg, const uint8_t *f, size_t n, int err, int res,
		      const struct sfc_pkt *p, const char *extra)
{
	const char *why = err ? "test_run failed" : check_sane(f, n, res, p);

	if (!why)
		why = extra;
	CHECK(!why, "%s (%zu): %s: result %s", what, arg, why, RNAME(res));
	if (why && n_dumped++ < 10)
		dump(f, n);
}

#define EQ(field)                                                                \
	CHECK(got.field == want.field, "%s: " #field " = %u, want %u", fx->desc,     \
	      (unsigned int)got.field, (unsigned int)want.field)

static void test_fixture(const struct fixture *fx, struct pkt_buf *b)
{
	struct sfc_pkt got, want = fx->want;
	int err, res = -1, i;

	err = run(b->d, b->len, &got, &res);
	CHECK(!err, "%s: test_run: %s", fx->desc, strerror(-err));
	if (err)
		return;
	CHECK(res == fx->result, "%s: result %s, want %s", fx->desc, RNAME(res),
	      RNAME(fx->result));
	CHECK(chain_state_kept(&got), "%s: chain state changed", fx->desc);
	want.len = b->len;
	EQ(len);
	if (fx->result == R_MALFORMED || res != fx->result)
		return;
	EQ(l3_off);
	EQ(l4_off);
	EQ(payload_off);
	EQ(l3_len);
	EQ(h_proto);
	EQ(vlan[0]);
	EQ(vlan[1]);
	EQ(n_vlan);
	EQ(family);
	EQ(l4_proto);
	EQ(flags);
	EQ(tcp_flags);
	EQ(icmp_type);
	EQ(icmp_code);
	EQ(ttl);
	EQ(sport);
	EQ(dport);
	for (i = 0; i < 4; i++) {
		EQ(src[i]);
		EQ(dst[i]);
	}
	/* and the padding between the fields: zero, like the static want */
	CHECK(!memcmp(&got, &want, CHAIN_OFF), "%s: bytes above the chain state differ",
	      fx->desc);
	check_run(fx->desc, b->len, b->d, b->len, 0, res, &got, NULL);
}

/*
 * Every fixture cut at every length. Beyond check_sane(): a cut frame can
 * only parse OK (or NOT_IP) if the cut took nothing the parser reads, i.e.
 * only Ethernet padding, and then the result must be the uncut one, len
 * aside.
 */
static void test_truncated(const struct fixture *fx, struct pkt_buf *b)
{
	struct sfc_pkt full, got;
	int full_res, res, err;
	size_t n;

	if (run(b->d, b->len, &full, &full_res))
		return;
	for (n = 0; n < b->len; n++) {
		const char *extra = NULL;

		res = -1;
		err = run(b->d, n, &got, &res);
		if (!err && res != R_MALFORMED) {
			got.len = full.len;
			if (res != full_res)
				extra = "cut frame parsed, whole frame did not";
			else if (memcmp(&got, &full, CHAIN_OFF))
				extra = "cut frame parsed differently";
			got.len = n;
		}
		check_run(fx->desc, n, b->d, n, err, res, &got, extra);
	}
}

/* xorshift32: the same sequence on every libc */
static uint32_t rng = 0x5fc0ffee;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return n ? rng % n : 0;
}

/*
 * Mutations aimed where the parser decides: header bytes over random ones,
 * values that are ethertypes, next headers, lengths and their edges.
 */
static void mutate(struct pkt_buf *b)
{
	static const uint8_t magic[] = { 0x00, 0x01, 0x04, 0x05, 0x06, 0x0f, 0x11, 0x2b, 0x2c,
					  0x32, 0x33, 0x3a, 0x3b, 0x3c, 0x40, 0x45, 0x4f, 0x60,
					  0x81, 0x86, 0x88, 0xa8, 0xdd, 0xf0, 0xff };
	int k, nmut = 1 + rnd(4);
	size_t pos, hot;

	for (k = 0; k < nmut; k++) {
		hot = b->len < 128 ? b->len : 128;
		switch (rnd(6)) {
		case 0:		/* a random byte anywhere */
			if (b->len)
				b->d[rnd(b->len)] = rnd(256);
			break;
		case 1:		/* a magic byte in the headers */
			if (hot)
				b->d[rnd(hot)] = magic[rnd(sizeof(magic))];
			break;
		case 2:		/* one bit in the headers */
			if (hot)
				b->d[rnd(hot)] ^= 1 << rnd(8);
			break;
		case 3:		/* cut */
			b->len = rnd(b->len + 1);
			break;
		case 4:		/* grow: random tail */
			pos = rnd(64);
			while (pos-- && b->len < PKT_MAX)
				b->d[b->len++] = rnd(256);
			break;
		case 5:		/* a length field nudged: small deltas matter most */
			if (hot >= 2) {
				pos = rnd(hot - 1);
				put16(b->d + pos, get16(b->d, pos) + (int)rnd(9) - 4);
			}
			break;
		}
	}
}

#define N_RANDOM 20000

int main(int argc, char **argv)
{
	struct test_parse_prog *skel;
	struct pkt_buf b;
	size_t i, cuts = 0;
	int err, well = 0;

	skel = test_parse_prog__open_and_load();
	if (!skel) {
		err = errno;
		if (err == EPERM || err == EACCES)
			TEST_SKIP("cannot load BPF programs (%s): needs root/CAP_BPF",
				  strerror(err));
		fprintf(stderr, "loading parse_prog: %s\n", strerror(err));
		return 1;
	}
	prog_fd = bpf_program__fd(skel->progs.sfc_parse_test);
	map_fd = bpf_map__fd(skel->maps.sfc_parse_out);

	for (i = 0; i < N_FIXTURES; i++) {
		fixtures[i].build(&b);
		well += fixtures[i].result != R_MALFORMED;
		test_fixture(&fixtures[i], &b);
	}
	for (i = 0; i < N_FIXTURES; i++) {
		fixtures[i].build(&b);
		test_truncated(&fixtures[i], &b);
		cuts += b.len;
	}
	for (i = 0; i < N_RANDOM; i++) {
		struct sfc_pkt got;
		int res = -1;

		fixtures[rnd(N_FIXTURES)].build(&b);
		mutate(&b);
		err = run(b.d, b.len, &got, &res);
		check_run("random", i, b.d, b.len, err, res, &got, NULL);
	}
	printf("%zu fixtures (%d well-formed), %zu truncations, %d random mutations\n",
	       N_FIXTURES, well, cuts, N_RANDOM);
	test_parse_prog__destroy(skel);
	TEST_DONE();
}
