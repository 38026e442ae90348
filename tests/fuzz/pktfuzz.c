// SPDX-License-Identifier: GPL-2.0
/*
 * Packet fuzzing: millions of generated and mutated frames through whole
 * chains with BPF_PROG_TEST_RUN, each checked against a reference written
 * here in C, byte by byte, independently of the BPF code.
 *
 * Two chains are applied with libsfc onto the veth pair of a private netns
 * (egress pass: a packet the chain lets through comes back XDP_PASS, with
 * the frame as the chain left it), and packets run through their pinned
 * roots, forward (root_fwd) and reverse (root_rev):
 *
 *   A  firewall (a stateless rule set with denies, default allow) -> flowmon
 *      -> loadbalancer (nat and dsr services, IPv4 and IPv6), on ta;
 *   B  a firewall alone (an allow list, default drop), on tap.
 *
 * The generator builds valid frames (Ethernet, 0-3 VLAN tags, IPv4 with
 * options and fragments, IPv6 with chains of hop-by-hop, routing,
 * destination, fragment and AH headers, TCP with options, UDP, ICMP,
 * ICMPv6, other protocols, zero-length to MTU-sized payloads, checksums
 * right), sends replies to flows the balancer rewrote, and mutates 45% of
 * the frames (truncations, byte and bit flips, lying IHL/tot_len/
 * payload_len/extension/data offset lengths, huge lengths, odd ethertypes).
 * Every packet is held to:
 *
 *   - the program returns a valid action, never XDP_ABORTED, and test_run
 *     never fails;
 *   - the entry's verdict: malformed IP (a reference parser here, after
 *     parse.h's rules) is dropped, non-IP passes untouched;
 *   - (1) a firewall never lets through a packet its rules deny: the verdict
 *     of a linear first-match walk over the parsed rules (fw_classify_ref,
 *     not the tuple space search the data path runs) over the fields parsed
 *     here; chain B's verdict must be exactly that, and chain A's wherever
 *     the balancer cannot have changed the packet before the firewall;
 *   - (2) what leaves changed is a rewrite the balancer may make, and only
 *     that: nat changes the destination (or, for a reply, the source)
 *     address and port and the checksums, nothing else; the new address is
 *     a backend of the service (or its VIP); the one's-complement sums of
 *     the IPv4 header and of the TCP/UDP segment with its pseudo-header are
 *     kept, so a packet with right checksums leaves with right checksums,
 *     computed here in full; dsr puts a valid outer header (checksum,
 *     lengths, DF, TTL, protocol, a backend as destination) in front of the
 *     untouched packet; a too-big packet gets an ICMP error with right
 *     checksums quoting it; a reply to a known connection is rewritten;
 *   - (3) the counters add up, checked every 65536 packets and at the end:
 *     per stage and direction, packets = handed_on + dropped + passed +
 *     forwarded + aborted (tail_call_miss is part of dropped, and 0 here),
 *     each stage got what the one before handed on, the entry saw every
 *     packet, the actions returned equal the stages' verdicts, the entry's
 *     invalid and passed counts are the reference's malformed and non-IP
 *     counts, chain B's firewall verdict and per-rule counters (packets and
 *     bytes) are the reference's, and the balancer's counters are those the
 *     packets predict (no errors).
 *
 * Usage: pktfuzz [COUNT]	(default $PKT_COUNT, else 15000000: 1-2 minutes)
 * SEED=N replays a run (the seed is printed). A failure prints the packet,
 * its index, the chain and direction, and the frames in hex.
 * Needs root (BPF, netns): prints SKIP and exits 77 without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sfc/sfc.h"
#include "shared/sfc_abi.h"
#include "shared/sfc_fw.h"
#include "shared/sfc_lb.h"
#include "fw_compile.h"
#include "lb.h"
#include "../testlib.h"
/* pkt.h is a kit of static helpers; this test needs only some. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "../bpf/pkt.h"
#include "../bpf/testns.h"
#pragma GCC diagnostic pop

#define MAX_FAILS 20		/* failures printed in full; the rest counted */
#define CHECK_EVERY 65536	/* packets between two counter checks */
#define OUT_MAX (PKT_MAX + 256)

#define P_ICMP 1
#define P_TCP 6
#define P_UDP 17
#define P_ICMP6 58
#define N_HOP 0
#define N_ROUT 43
#define N_FRAG 44
#define N_AH 51
#define N_DEST 60

static char ns[32], root[64];
static int ncpu;

/* ---- the chains ---------------------------------------------------------- */

/* Chain A's firewall: denies, then everything else allowed. */
static const char fw_a[] =
	"defaultAction: allow\n"
	"sets:\n"
	"  bad: [198.51.100.0/24, \"2001:db8:bad::/48\", 203.0.113.7]\n"
	"rules:\n"
	"  - {action: drop, src: \"@bad\"}\n"
	"  - {action: drop, protocol: tcp, dstPort: [23, \"135-139\", 445]}\n"
	"  - {action: allow, protocol: tcp, dstPort: 22, src: 10.1.0.0/16}\n"
	"  - {action: drop, protocol: tcp, dstPort: 22}\n"
	"  - {action: drop, protocol: udp, srcPort: \"0-1023\", dstPort: \"5000-5100\"}\n"
	"  - {action: drop, protocol: icmp, icmpType: echo-request, icmpCode: 1}\n"
	"  - {action: drop, protocol: icmpv6, icmpType: 128, dst: \"2001:db8:9::/64\"}\n"
	"  - {action: drop, protocol: tcp, tcpFlags: {set: [syn, fin]}}\n"
	"  - {action: drop, protocol: tcp, tcpFlags: {set: [syn], unset: [ack]}, dstPort: 8080}\n"
	"  - {action: drop, vlan: 13}\n"
	"  - {action: drop, fragment: true, dst: 10.9.0.0/16}\n"
	"  - {action: drop, protocol: 47}\n"
	"  - {action: drop, family: ipv6, protocol: udp, dstPort: 53, srcPort: [1, 7]}\n"
	"  - {action: drop, dst: 192.0.2.99}\n"
	"  - {action: drop, src: 10.66.0.0/16, protocol: udp}\n"
	"  - {action: drop, dst: \"2001:db8::20\", protocol: udp, srcPort: \"60000-65535\"}\n";

/* Chain B's firewall: an allow list, default drop. */
static const char fw_b[] =
	"defaultAction: drop\n"
	"sets:\n"
	"  partners: [10.1.0.0/16, \"2001:db8:1::/48\"]\n"
	"rules:\n"
	"  - {action: drop, src: 10.1.9.0/24}\n"
	"  - {action: allow, src: \"@partners\", protocol: tcp, dstPort: [22, 80, 443]}\n"
	"  - {action: allow, protocol: udp, dstPort: \"5000-5100\", srcPort: \"1024-65535\"}\n"
	"  - {action: allow, protocol: udp, dstPort: 53}\n"
	"  - {action: allow, protocol: icmp, icmpType: echo-request}\n"
	"  - {action: allow, protocol: icmpv6, icmpType: 135}\n"
	"  - {action: allow, protocol: tcp, tcpFlags: {set: [ack], unset: [syn]}, srcPort: [80, 443]}\n"
	"  - {action: allow, vlan: 100, family: ipv6}\n"
	"  - {action: drop, fragment: true}\n"
	"  - {action: allow, dst: 192.0.2.0/24, protocol: tcp}\n"
	"  - {action: allow, protocol: 47, dst: \"2001:db8::/32\"}\n"
	"  - {action: allow, fragment: false, protocol: udp, src: \"2001:db8:1::/48\"}\n"
	"  - {action: allow, protocol: icmpv6, icmpType: echo-reply, icmpCode: 0}\n";

static const char lb_a[] =
	"services:\n"
	"  - {vip: 192.0.2.10, port: 80, protocol: tcp, backends: [{address: 10.0.2.11},\n"
	"     {address: 10.0.2.12, port: 8080, weight: 2}, {address: 10.0.2.13, state: drain}]}\n"
	"  - {vip: 192.0.2.10, port: 53, protocol: udp, backends: [{address: 10.0.2.11},\n"
	"     {address: 10.0.2.14, port: 5353}]}\n"
	"  - {vip: 192.0.2.20, port: 443, protocol: tcp, mode: dsr, backends: [{address: 10.0.3.11},\n"
	"     {address: 10.0.3.12}]}\n"
	"  - {vip: 192.0.2.20, port: 53, protocol: udp, mode: dsr, backends: [{address: 10.0.3.11}]}\n"
	"  - {vip: \"2001:db8::10\", port: 80, protocol: tcp, backends: [{address: \"2001:db8:2::11\"},\n"
	"     {address: \"2001:db8:2::12\", port: 8080}]}\n"
	"  - {vip: \"2001:db8::10\", port: 53, protocol: udp, backends: [{address: \"2001:db8:2::11\"}]}\n"
	"  - {vip: \"2001:db8::20\", port: 443, protocol: tcp, mode: dsr,\n"
	"     backends: [{address: \"2001:db8:3::11\"}, {address: \"2001:db8:3::12\", weight: 3}]}\n"
	"  - {vip: \"2001:db8::20\", port: 53, protocol: udp, mode: dsr,\n"
	"     backends: [{address: \"2001:db8:3::11\"}]}\n"
	"maxConnections: 262144\n"
	"tableSize: 1021\n"
	"mtu: 1500\n"
	"encapSource: {ipv4: 192.0.2.254}\n";

enum { CH_A, CH_B, N_CH };
static const char *const ch_name[N_CH] = { "pfa", "pfb" };
static const char *const ch_if[N_CH] = { "ta", "tap" };

struct chain {
	struct sfc_chain_spec *spec;
	const struct fw_config *fw;
	const struct lb_config *lb;	/* chain A */
	int root[2];			/* root_fwd, root_rev */
	unsigned int n_fn;		/* functions */
};

static struct chain ch[N_CH];
static int lb_conns_fd = -1, lb_stats_fd = -1;

static void indent(char *o, size_t len, size_t *n, const char *text, const char *pad)
{
	const char *l, *e;

	for (l = text; *l; l = *e ? e + 1 : e) {
		e = strchrnul(l, '\n');
		*n += snprintf(o + *n, len - *n, "%s%.*s\n", pad, (int)(e - l), l);
	}
}

static struct sfc_chain_spec *chain_spec(int c)
{
	static char text[16384];
	struct sfc_chain_spec *s;
	struct sfc_diag d = {};
	char buf[1024];
	size_t n;

	n = snprintf(text, sizeof(text),
		     "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata: {name: %s}\n"
		     "spec:\n  interface: %s\n  egress: {action: pass}\n  functions:\n"
		     "    - name: fw\n      type: firewall\n      config:\n", ch_name[c], ch_if[c]);
	indent(text, sizeof(text), &n, c == CH_A ? fw_a : fw_b, "        ");
	if (c == CH_A) {
		n += snprintf(text + n, sizeof(text) - n,
			      "    - name: mon\n      type: flowmon\n      config: {maxFlows: 65536}\n"
			      "    - name: lb\n      type: loadbalancer\n      config:\n");
		indent(text, sizeof(text), &n, lb_a, "        ");
	}
	s = sfc_chain_spec__parse_string(ch_name[c], text, n, &d);
	if (!s) {
		sfc_diag__format(&d, buf, sizeof(buf));
		fprintf(stderr, "chain %s: %s\n", ch_name[c], buf);
	}
	return s;
}

static int pinned(int c, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s/%s", root, ch_name[c], rel);
	return bpf_obj_get(p);
}

static void log_cb(enum sfc_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= SFC_LOG_WARN)
		fprintf(stderr, "libsfc: %s\n", msg);
}

static int setup_chain(int c)
{
	struct sfc_apply_opts o = { .sz = sizeof(o), .netns = ns, .pin_root = root };
	enum sfc_apply_result res;
	struct sfc_diag d = {};
	char buf[1024];
	int err;

	ch[c].spec = chain_spec(c);
	if (!ch[c].spec)
		return -EINVAL;
	err = sfc_chain__apply(ch[c].spec, &o, &res, &d);
	if (err) {
		sfc_diag__format(&d, buf, sizeof(buf));
		fprintf(stderr, "apply %s: %s\n", ch_name[c], buf);
		return err;
	}
	ch[c].fw = sfc_fw__config(&ch[c].spec->functions[0]);
	ch[c].n_fn = ch[c].spec->n_functions;
	if (c == CH_A)
		ch[c].lb = ch[c].spec->functions[2].config;
	ch[c].root[0] = pinned(c, "root_fwd");
	ch[c].root[1] = pinned(c, "root_rev");
	if (ch[c].root[0] < 0 || ch[c].root[1] < 0 || !ch[c].fw)
		return -ENOENT;
	return 0;
}

static void cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s 2>/dev/null", ns, root);
	if (system(cmd))
		fprintf(stderr, "cleanup: %s failed\n", cmd);
}

/* ---- random ------------------------------------------------------------- */

static uint64_t rng;

/* splitmix64: the same sequence for a seed on every libc */
static uint64_t rnd64(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return n ? rnd64() % n : 0;
}

static bool pct(unsigned int p)
{
	return below(100) < p;
}

static void rand_bytes(uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = rnd64();
}

/* ---- the reference parser ------------------------------------------------- */

enum { REF_OK, REF_NOT_IP, REF_MALFORMED };

/*
 * What parse.h makes of a frame, computed again from the RFCs' layouts and
 * the parser's documented limits (two VLAN tags, eight IPv6 extension
 * headers, lengths checked against the IP packet and the frame).
 */
struct ref {
	int res;
	unsigned int n_vlan;
	uint16_t vlan[2];
	size_t l3, l3_len;	/* IP header and packet length */
	size_t ihl;		/* IPv4 header length, 40 for IPv6 */
	size_t l4, l4_hlen;	/* L4 header, when l4ok */
	int family;
	uint8_t proto;		/* after the extension headers */
	bool l4ok, frag, frag_later, df;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;	/* host order; ICMP echo: the id in sport */
	uint8_t tcp_flags, itype, icode;
};

static uint16_t get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static bool is_ext(uint8_t nh)
{
	return nh == N_HOP || nh == N_ROUT || nh == N_DEST || nh == N_FRAG || nh == N_AH;
}

static int ref_l4(const uint8_t *f, size_t n, size_t off, size_t lim, struct ref *r)
{
	size_t hl;

	if (r->proto == P_TCP) {
		if (off + 20 > n || off + 20 > lim)
			return REF_MALFORMED;
		hl = (f[off + 12] >> 4) * 4;
		if (hl < 20 || off + hl > lim)
			return REF_MALFORMED;
		r->tcp_flags = f[off + 13];
	} else if (r->proto == P_UDP ||
		   (r->proto == P_ICMP && r->family == 4) || (r->proto == P_ICMP6 && r->family == 6)) {
		hl = 8;
		if (off + 8 > n || off + 8 > lim)
			return REF_MALFORMED;
	} else {
		return REF_OK;
	}
	if (r->proto == P_TCP || r->proto == P_UDP) {
		r->sport = get16(f + off);
		r->dport = get16(f + off + 2);
	} else {
		r->itype = f[off];
		r->icode = f[off + 1];
		if (r->proto == P_ICMP ? (r->itype == 0 || r->itype == 8) :
					 (r->itype == 128 || r->itype == 129))
			r->sport = get16(f + off + 4);
	}
	r->l4ok = true;
	r->l4 = off;
	r->l4_hlen = hl;
	return REF_OK;
}

static int ref_ip(const uint8_t *f, size_t n, struct ref *r)
{
	size_t off = r->l3, lim, hl;
	uint16_t fo;
	uint8_t nh;
	int i;

	if (r->family == 4) {
		if (off + 20 > n || f[off] >> 4 != 4 || (f[off] & 0xf) < 5)
			return REF_MALFORMED;
		r->ihl = (f[off] & 0xf) * 4;
		r->l3_len = get16(f + off + 2);
		if (r->l3_len < r->ihl || off + r->l3_len > n)
			return REF_MALFORMED;
		r->proto = f[off + 9];
		memcpy(r->src, f + off + 12, 4);
		memcpy(r->dst, f + off + 16, 4);
		fo = get16(f + off + 6);
		r->df = fo & 0x4000;
		r->frag = fo & 0x3fff;
		r->frag_later = fo & 0x1fff;
		if (r->frag_later)
			return REF_OK;
		return ref_l4(f, n, off + r->ihl, off + r->l3_len, r);
	}
	if (off + 40 > n || f[off] >> 4 != 6)
		return REF_MALFORMED;
	r->ihl = 40;
	r->l3_len = 40 + get16(f + off + 4);
	lim = off + r->l3_len;
	if (lim > n)
		return REF_MALFORMED;
	memcpy(r->src, f + off + 8, 16);
	memcpy(r->dst, f + off + 24, 16);
	nh = f[off + 6];
	off += 40;
	for (i = 0; i < 8 && is_ext(nh); i++) {
		if (off + 8 > n || off + 8 > lim)
			return REF_MALFORMED;
		if (nh == N_FRAG) {
			fo = get16(f + off + 2);
			r->frag |= (fo & 0xfff9) != 0;
			if (fo & 0xfff8) {
				r->frag_later = true;
				r->proto = f[off];
				return REF_OK;
			}
			hl = 8;
		} else {
			hl = nh == N_AH ? (f[off + 1] + 2) * 4 : (f[off + 1] + 1) * 8;
		}
		if (off + hl > lim)
			return REF_MALFORMED;
		nh = f[off];
		off += hl;
	}
	if (is_ext(nh))
		return REF_MALFORMED;	/* a ninth extension header */
	r->proto = nh;
	return ref_l4(f, n, off, lim, r);
}

static void ref_parse(const uint8_t *f, size_t n, struct ref *r)
{
	uint16_t proto;
	size_t off = 14;

	memset(r, 0, sizeof(*r));
	if (n < 14) {
		r->res = REF_MALFORMED;
		return;
	}
	proto = get16(f + 12);
	while (r->n_vlan < 2 && (proto == 0x8100 || proto == 0x88a8)) {
		if (off + 4 > n) {
			r->res = REF_MALFORMED;
			return;
		}
		r->vlan[r->n_vlan++] = get16(f + off) & 0xfff;
		proto = get16(f + off + 2);
		off += 4;
	}
	r->l3 = off;
	if (proto == 0x0800)
		r->family = 4;
	else if (proto == 0x86dd)
		r->family = 6;
	else {
		r->res = REF_NOT_IP;
		return;
	}
	r->res = ref_ip(f, n, r);
}

/* The firewall's view of a parsed packet, for fw_classify_ref(). */
static void fw_view(const struct ref *r, struct fw_packet *p)
{
	memset(p, 0, sizeof(*p));
	p->family = r->family;
	memcpy(p->src, r->src, 16);
	memcpy(p->dst, r->dst, 16);
	p->proto = r->proto;
	p->l4 = r->l4ok;
	p->frag = r->frag_later;
	p->sport = r->sport;
	p->dport = r->dport;
	p->vlan = r->n_vlan ? r->vlan[0] : 0;
	p->icmp_type = r->itype;
	p->icmp_code = r->icode;
	p->tcp_flags = r->tcp_flags;
}

/* The rule that decides (SFC_FW_NO_RULE: the default) and whether it allows. */
static bool fw_allows(const struct fw_config *cfg, const struct ref *r, uint32_t *rule)
{
	struct fw_packet p;

	fw_view(r, &p);
	*rule = fw_classify_ref(cfg, &p);
	if (*rule == SFC_FW_NO_RULE)
		return cfg->default_action == SFC_FW_ALLOW;
	return cfg->rules[*rule].action == SFC_FW_ALLOW;
}

/* ---- checksums ------------------------------------------------------------ */

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += get16(p + i);
	if (n & 1)
		s += p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* A sum modulo 0xffff: 0xffff and 0 are the same one's-complement number. */
static uint16_t mod(uint16_t s)
{
	return s == 0xffff ? 0 : s;
}

/* One's-complement sum of the segment at l4 (to the IP packet's end) and its
 * pseudo-header (RFC 793, 768, 8200 8.1); 0xffff (or 0) when it checks out. */
static uint16_t l4_sum(const uint8_t *f, const struct ref *r)
{
	size_t len = r->l3 + r->l3_len - r->l4;
	uint32_t s;

	if (r->family == 4)
		s = sum16(f + r->l3 + 12, 8, 0) + r->proto + len;
	else
		s = sum16(f + r->l3 + 8, 32, 0) + r->proto + (len >> 16) + (len & 0xffff);
	return fold(sum16(f + r->l4, len, s));
}

static uint16_t ip4_sum(const uint8_t *f, const struct ref *r)
{
	return fold(sum16(f + r->l3, r->ihl, 0));
}

/* ---- the generator -------------------------------------------------------- */

static const char *const pool4[] = {
	"10.1.0.5", "10.1.9.7", "10.66.1.1", "10.9.0.1", "10.9.200.3", "192.0.2.10", "192.0.2.20",
	"192.0.2.99", "192.0.2.1", "10.0.2.11", "10.0.2.12", "10.0.2.14", "10.0.3.11",
	"198.51.100.9", "203.0.113.7", "203.0.113.8", "0.0.0.0", "255.255.255.255",
};
static const char *const pool6[] = {
	"2001:db8:1::5", "2001:db8:1:9::7", "2001:db8:bad::1", "2001:db8::10", "2001:db8::20",
	"2001:db8:9::1", "2001:db8:2::11", "2001:db8:2::12", "2001:db8:3::11", "2001:db8::99",
	"fe80::1", "::", "ff02::1", "2001:db8:1::6",
};
static const uint16_t ports[] = {
	80, 53, 443, 22, 23, 135, 137, 139, 445, 8080, 5353, 5000, 5050, 5100, 5101, 1023, 1024, 0,
	65535, 1, 7, 60000, 40000,
};

static void rand_addr(int fam, uint8_t *a)
{
	memset(a, 0, 16);
	if (pct(80)) {
		if (fam == 4)
			inet_pton(AF_INET, pool4[below(sizeof(pool4) / sizeof(pool4[0]))], a);
		else
			inet_pton(AF_INET6, pool6[below(sizeof(pool6) / sizeof(pool6[0]))], a);
		if (pct(10))	/* a neighbour of a pool address */
			a[fam == 4 ? 3 : 15] ^= 1 << below(8);
	} else {
		rand_bytes(a, fam == 4 ? 4 : 16);
	}
}

static uint16_t rand_port(void)
{
	return pct(70) ? ports[below(sizeof(ports) / sizeof(ports[0]))] : (uint16_t)rnd64();
}

static uint16_t rand_vid(void)
{
	static const uint16_t v[] = { 0, 1, 13, 100, 4095, 13 | 0x1000 };

	return pct(80) ? v[below(6)] : (uint16_t)rnd64();
}

/* Flows the balancer rewrote (nat), for replies: backend -> client. */
struct flow {
	int fam;
	uint8_t proto;
	uint8_t client[16], backend[16];
	uint16_t cport, bport;
};

#define N_FLOWS 256
static struct flow flows[N_FLOWS];
static unsigned int n_flows, flow_next;

/* Fills the L4 and ICMP checksums of a frame the reference parses whole. */
static void fill_csums(uint8_t *f, size_t n)
{
	struct ref r;
	size_t off;
	uint16_t c;

	ref_parse(f, n, &r);
	if (r.res != REF_OK)
		return;
	if (r.family == 4) {
		put16(f + r.l3 + 10, 0);
		put16(f + r.l3 + 10, ~fold(sum16(f + r.l3, r.ihl, 0)));
	}
	if (!r.l4ok || r.frag)
		return;		/* a fragment's checksum covers the whole datagram */
	if (r.proto == P_TCP)
		off = 16;
	else if (r.proto == P_UDP || r.proto == P_ICMP || r.proto == P_ICMP6)
		off = r.proto == P_UDP ? 6 : 2;
	else
		return;
	put16(f + r.l4 + off, 0);
	if (r.proto == P_UDP && r.family == 4 && pct(5))
		return;		/* no UDP checksum (RFC 768) */
	if (r.proto == P_ICMP)
		c = ~fold(sum16(f + r.l4, r.l3 + r.l3_len - r.l4, 0));
	else
		c = ~l4_sum(f, &r);
	if (r.proto == P_UDP && !c)
		c = 0xffff;
	put16(f + r.l4 + off, c);
}

/*
 * A valid frame: returns its length. Headers are chosen at random, with the
 * addresses, ports and protocols of the rules and services over-weighted.
 */
static size_t gen_valid(uint8_t *out)
{
	static const uint8_t other[] = { 0, 4, 41, 47, 50, 59, 132, 255 };
	struct pkt_buf b;
	uint8_t src[16], dst[16], proto;
	uint16_t l3 = 0, vl;
	int fam, i, next;
	size_t payload;
	const struct lb_service *svc = NULL;
	struct flow *fl = NULL;

	pkt_init(&b);
	fam = pct(50) ? 4 : 6;
	if (n_flows && pct(12)) {
		fl = &flows[below(n_flows)];
		fam = fl->fam;
	}
	/* L2: the ethertype of what follows, 0-3 tags */
	if (pct(8)) {
		static const uint16_t types[] = { 0x0806, 0x88cc, 0x8847, 0x9000, 0x0000, 0xffff,
						  0x86dd, 0x0800 };

		pkt_eth(&b, types[below(8)]);
		pkt_payload(&b, below(80));
		memcpy(out, b.d, b.len);
		return b.len;
	}
	l3 = fam == 4 ? ETH_P_IP_ : ETH_P_IPV6_;
	vl = pct(70) ? 0 : pct(70) ? 1 : pct(85) ? 2 : 3;
	pkt_eth(&b, vl ? (pct(50) ? ETH_P_8021Q_ : ETH_P_8021AD_) : l3);
	for (i = 0; i < vl; i++) {
		pkt_vlan(&b, 0, i + 1 < vl ? (pct(70) ? ETH_P_8021Q_ : ETH_P_8021AD_) : l3);
		put16(b.d + b.len - 4, rand_vid() | (below(8) << 13));	/* PCP, DEI, VID */
	}

	/* L3 */
	rand_addr(fam, src);
	rand_addr(fam, dst);
	proto = pct(40) ? P_TCP : pct(55) ? P_UDP : pct(70) ? (fam == 4 ? P_ICMP : P_ICMP6) :
		other[below(sizeof(other))];
	if (fl) {
		memcpy(src, fl->backend, 16);
		memcpy(dst, fl->client, 16);
		proto = fl->proto;
	} else if (pct(25)) {
		/* to a service of the balancer */
		const struct lb_config *lc = ch[CH_A].lb;

		svc = &lc->services[below(lc->n_services)];
		if (svc->family != fam)
			svc = NULL;
		else {
			memcpy(dst, svc->vip, 16);
			proto = svc->proto;
		}
	}
	if (fam == 4) {
		static const uint16_t frag[] = { IP_DF_, 0, IP_MF_, IP_MF_ | 185, 185, IP_DF_ | 1 };
		uint32_t s, d;

		memcpy(&s, src, 4);
		memcpy(&d, dst, 4);
		pkt_ipv4_opt(&b, proto, s, d, pct(15) ? 4 * below(11) : 0,
			     pct(75) ? frag[0] : frag[below(6)]);
		if (b.d[b.ip_off] != 0x45)	/* options: random bytes */
			rand_bytes(b.d + b.ip_off + 20, (b.d[b.ip_off] & 0xf) * 4 - 20);
		b.d[b.ip_off + 1] = pct(70) ? 0 : rnd64();	/* TOS */
		b.d[b.ip_off + 8] = pct(90) ? 64 : rnd64();	/* TTL */
	} else {
		int n_ext = pct(70) ? 0 : 1 + below(pct(90) ? 3 : 9);

		next = n_ext ? N_HOP : proto;
		pkt_ipv6_addr(&b, 0, src, dst);
		b.d[b.ip_off + 1] |= pct(30) ? rnd64() : 0;	/* traffic class bits */
		for (i = 0; i < n_ext; i++) {
			static const uint8_t ext[] = { N_HOP, N_ROUT, N_DEST, N_FRAG, N_AH };
			uint8_t this = i ? next : ext[below(5)];
			uint8_t nxt = i + 1 < n_ext ? ext[below(5)] : proto;

			if (!i)
				b.d[b.ip_off + 6] = this;
			if (this == N_FRAG)
				pkt_ip6_frag(&b, nxt, pct(60) ? 0 : below(8192), pct(50));
			else if (this == N_AH)
				pkt_ip6_ah(&b, nxt, below(4));
			else
				pkt_ip6_ext(&b, nxt, below(3));
			next = nxt;
		}
		if (!n_ext)
			b.d[b.ip_off + 6] = proto;
	}

	/* L4 */
	payload = pct(15) ? 0 : pct(70) ? below(100) : pct(70) ? below(600) : 1300 + below(400);
	if (svc && pct(30))	/* around the tunnel's MTU */
		payload = 1380 + below(200);
	if (proto == P_TCP) {
		size_t off = b.len, opt = pct(70) ? 0 : 4 * below(11);
		static const uint8_t fl_[] = { 0x02, 0x10, 0x12, 0x18, 0x11, 0x04, 0x03, 0x01, 0x14 };

		pkt_tcp_opt(&b, fl ? fl->bport : rand_port(),
			    fl ? fl->cport : svc ? svc->port : rand_port(),
			    pct(80) ? fl_[below(9)] : rnd64(), opt);
		rand_bytes(b.d + off + 4, 8);	/* seq, ack */
		rand_bytes(b.d + off + 20, opt);
	} else if (proto == P_UDP) {
		pkt_udp(&b, fl ? fl->bport : rand_port(), fl ? fl->cport : svc ? svc->port : rand_port());
	} else if (proto == P_ICMP || proto == P_ICMP6) {
		static const uint8_t t4[] = { 8, 0, 3, 11, 5 }, t6[] = { 128, 129, 1, 2, 135, 136 };
		uint8_t t = fam == 4 ? t4[below(5)] : t6[below(6)];

		pkt_icmp(&b, pct(90) ? t : rnd64(), pct(80) ? 0 : below(16), rnd64(), rnd64());
	}
	if (b.len + payload > PKT_MAX - 64)
		payload = PKT_MAX - 64 - b.len;
	rand_bytes(pkt_put(&b, payload), payload);
	pkt_done(&b);
	b.udp_off = -1;
	if (pct(5))
		pkt_pad(&b, below(30));		/* Ethernet padding past the IP packet */
	memcpy(out, b.d, b.len);
	fill_csums(out, b.len);
	return b.len;
}

/* Mutations aimed where the parser and the rewrites decide. */
static size_t mutate(uint8_t *f, size_t n)
{
	static const uint8_t magic[] = { 0x00, 0x01, 0x04, 0x05, 0x06, 0x0f, 0x11, 0x2b, 0x2c,
					  0x32, 0x33, 0x3a, 0x3b, 0x3c, 0x40, 0x45, 0x4f, 0x60,
					  0x81, 0x86, 0x88, 0xa8, 0xdd, 0xf0, 0xff };
	int k, nmut = 1 + below(3);
	struct ref r;
	size_t pos, hot;

	for (k = 0; k < nmut; k++) {
		hot = n < 128 ? n : 128;
		ref_parse(f, n, &r);
		switch (below(10)) {
		case 0:		/* a random byte anywhere */
			if (n)
				f[below(n)] = rnd64();
			break;
		case 1:		/* a magic byte in the headers */
			if (hot)
				f[below(hot)] = magic[below(sizeof(magic))];
			break;
		case 2:		/* one bit in the headers */
			if (hot)
				f[below(hot)] ^= 1 << below(8);
			break;
		case 3:		/* cut, often inside the headers */
			n = pct(50) && n > 80 ? below(80) : below(n + 1);
			break;
		case 4:		/* a random tail */
			pos = below(64);
			while (pos-- && n < PKT_MAX)
				f[n++] = rnd64();
			break;
		case 5:		/* a 16-bit field nudged */
			if (hot >= 2) {
				pos = below(hot - 1);
				put16(f + pos, get16(f + pos) + (int)below(9) - 4);
			}
			break;
		case 6:		/* the IP length field lies */
			if (r.family == 4 && r.l3 + 4 <= n)
				put16(f + r.l3 + 2, pct(50) ? r.l3_len + (int)below(41) - 20 :
						   pct(50) ? 0xffff : (uint16_t)rnd64());
			else if (r.family == 6 && r.l3 + 6 <= n)
				put16(f + r.l3 + 4, pct(50) ? r.l3_len - 40 + (int)below(41) - 20 :
						   pct(50) ? 0xffff : (uint16_t)rnd64());
			break;
		case 7:		/* IHL, data offset or an extension header's length */
			if (r.family == 4 && r.l3 < n)
				f[r.l3] = 0x40 | below(16);
			else if (r.l4ok && r.proto == P_TCP)
				f[r.l4 + 12] = below(16) << 4 | (f[r.l4 + 12] & 0xf);
			else if (r.family == 6 && r.l3 + 41 < n)
				f[r.l3 + 41] = pct(50) ? below(4) : rnd64();
			break;
		case 8:		/* an ethertype or next header */
			if (n >= 14)
				put16(f + 12 + 4 * below(r.n_vlan + 1) * (r.n_vlan < 3),
				      pct(50) ? 0x8100 : pct(50) ? 0x86dd : 0x0800);
			break;
		case 9:		/* the checksums no longer match */
			if (r.l4ok && r.l4 + 8 <= n)
				f[r.l4 + 6 + below(2)] ^= 1 + below(255);
			break;
		}
	}
	return n;
}

/* ---- running -------------------------------------------------------------- */

struct tally {
	uint64_t runs[2], malformed[2], not_ip[2];
	uint64_t ret[2][5];		/* DROP, PASS, TX, REDIRECT, other */
	uint64_t fw_drop[2];		/* drops the firewall must have made */
	bool fw_exact[2];		/* and made no others */
	uint64_t v_pk[SFC_FW_V_MAX], v_by[SFC_FW_V_MAX];	/* exact: chain B */
	uint64_t *rule_pk, *rule_by;
};

static struct tally t[N_CH];
static uint64_t lb_vip, lb_too_big, lb_too_big_drop, lb_replies_seen, lb_nat_fwd, lb_dsr;
static uint64_t n_pkts, n_mutated, n_valid_ok, n_fails, n_short;

static uint64_t cur_idx;
static int cur_ch, cur_dir;

static void hex(const char *what, const uint8_t *f, size_t n)
{
	size_t i;

	fprintf(stderr, "  %s (%zu bytes):", what, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 ? " " : "\n    ", f[i]);
	fputc('\n', stderr);
}

static const uint8_t *cur_in, *cur_out;
static size_t cur_n, cur_out_n;

__attribute__((format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;

	n_fails++;
	tl_fail++;
	if (n_fails > MAX_FAILS)
		return;
	fprintf(stderr, "FAIL packet %" PRIu64 ", chain %s %s: ", cur_idx, ch_name[cur_ch],
		cur_dir ? "rev" : "fwd");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	hex("in", cur_in, cur_n);
	if (cur_out)
		hex("out", cur_out, cur_out_n);
}

/* Runs len bytes through a root; *out_n is the frame as the chain left it. */
static int run(int fd, const uint8_t *frame, size_t len, uint8_t *out, size_t *out_n)
{
	uint8_t in[PKT_MAX];
	struct xdp_md ctx = {};
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = OUT_MAX, .repeat = 1);

	memcpy(in, frame, len);
	if (len < 14) {
		/* test_run wants 14 bytes; the rest goes to a fragment the
		 * program does not see (as in tests/bpf/test_parse.c) */
		memset(in + len, 0, 14 - len);
		o.data_size_in = 14;
		ctx.data_end = len;
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*out_n = o.data_size_out;
	return o.retval;
}

/* The balancer's service for a parsed packet, or NULL. */
static const struct lb_service *service_of(const struct ref *r)
{
	const struct lb_config *c = ch[CH_A].lb;
	unsigned int i;

	if (r->res != REF_OK || !r->l4ok || (r->proto != P_TCP && r->proto != P_UDP))
		return NULL;
	for (i = 0; i < c->n_services; i++) {
		const struct lb_service *s = &c->services[i];

		if (s->family == r->family && !memcmp(s->vip, r->dst, 16) && s->port == r->dport &&
		    s->proto == r->proto)
			return s;
	}
	return NULL;
}

/* A nat service whose backend addr:port this packet comes from, or NULL. */
static const struct lb_service *reply_service(const struct ref *r, const uint8_t *new_src,
					      uint16_t new_sport)
{
	const struct lb_config *c = ch[CH_A].lb;
	unsigned int i, k;

	if (r->res != REF_OK || !r->l4ok || (r->proto != P_TCP && r->proto != P_UDP))
		return NULL;
	for (i = 0; i < c->n_services; i++) {
		const struct lb_service *s = &c->services[i];

		if (s->mode != SFC_LB_NAT || s->family != r->family || s->proto != r->proto)
			continue;
		if (new_src && (memcmp(s->vip, new_src, 16) || s->port != new_sport))
			continue;
		for (k = 0; k < s->n_backends; k++)
			if (!memcmp(s->backends[k].addr, r->src, 16) &&
			    s->backends[k].port == r->sport)
				return s;
	}
	return NULL;
}

static const struct lb_backend *backend_of(const struct lb_service *s, const uint8_t *a,
					   uint16_t port)
{
	unsigned int k;

	for (k = 0; k < s->n_backends; k++)
		if (!memcmp(s->backends[k].addr, a, 16) && s->backends[k].port == port)
			return &s->backends[k];
	return NULL;
}

/* Bytes [from, to) of the frames differ only inside the allowed ranges. */
static bool same_except(const uint8_t *a, const uint8_t *b, size_t n, const size_t *allow,
			unsigned int n_allow)
{
	size_t i;
	unsigned int k;

	for (i = 0; i < n; i++) {
		bool ok = false;

		if (a[i] == b[i])
			continue;
		for (k = 0; k < n_allow && !ok; k++)
			ok = i >= allow[2 * k] && i < allow[2 * k + 1];
		if (!ok)
			return false;
	}
	return true;
}

/*
 * A nat rewrite of r's packet (in) into out: only the destination (or the
 * source, reply) address and port and the checksums changed; the sums kept.
 */
static bool check_nat(const uint8_t *in, const uint8_t *out, size_t n, const struct ref *r,
		      bool reply, struct ref *o)
{
	size_t alen = r->family == 4 ? 4 : 16;
	size_t a = r->l3 + (r->family == 4 ? (reply ? 12 : 16) : (reply ? 8 : 24));
	size_t csum = r->l4 + (r->proto == P_TCP ? 16 : 6);
	size_t allow[8] = { a, a + alen, r->l4 + (reply ? 0 : 2), r->l4 + (reply ? 2 : 4),
			    csum, csum + 2, r->l3 + 10, r->l3 + 12 };

	if (!same_except(in, out, n, allow, r->family == 4 ? 4 : 3)) {
		fail("nat: bytes other than the %s address, port and checksums changed",
		     reply ? "source" : "destination");
		return false;
	}
	ref_parse(out, n, o);
	if (o->res != REF_OK || !o->l4ok) {
		fail("nat: the rewritten packet does not parse");
		return false;
	}
	if (r->family == 4 && mod(ip4_sum(in, r)) != mod(ip4_sum(out, o))) {
		fail("nat: IPv4 header checksum not kept: sum %#x -> %#x", ip4_sum(in, r),
		     ip4_sum(out, o));
		return false;
	}
	if (r->proto == P_UDP && r->family == 4 && !get16(in + r->l4 + 6)) {
		if (get16(out + r->l4 + 6)) {
			fail("nat: a UDP packet without checksum got one");
			return false;
		}
	} else if (r->proto == P_UDP && !get16(out + r->l4 + 6)) {
		/* RFC 768: a computed 0 is sent as 0xffff; 0 would say "none" */
		fail("nat: a UDP checksum became 0");
		return false;
	} else if (mod(l4_sum(in, r)) != mod(l4_sum(out, o))) {
		fail("nat: %s checksum not kept: sum %#x -> %#x (in %s)",
		     r->proto == P_TCP ? "TCP" : "UDP", l4_sum(in, r), l4_sum(out, o),
		     mod(l4_sum(in, r)) ? "wrong" : "right");
		return false;
	}
	return true;
}

static void note_flow(const struct ref *r, const struct ref *o)
{
	struct flow *f = &flows[flow_next++ % N_FLOWS];

	f->fam = r->family;
	f->proto = r->proto;
	memcpy(f->client, r->src, 16);
	f->cport = r->sport;
	memcpy(f->backend, o->dst, 16);
	f->bport = o->dport;
	if (n_flows < N_FLOWS)
		n_flows++;
}

static void check_dsr(const uint8_t *in, size_t n, const uint8_t *out, size_t on,
		      const struct ref *r, const struct lb_service *s)
{
	const struct lb_config *c = ch[CH_A].lb;
	size_t outer = r->family == 4 ? 20 : 40, l3 = r->l3;
	const uint8_t *h = out + l3, *src;
	uint8_t backend[16] = {};

	lb_dsr++;
	if (on != n + outer || memcmp(out, in, l3) || memcmp(out + l3 + outer, in + l3, n - l3)) {
		fail("dsr: not the untouched frame behind %zu new bytes", outer);
		return;
	}
	if (r->family == 4) {
		if (h[0] != 0x45 || h[1] != in[l3 + 1] || get16(h + 2) != r->l3_len + 20 ||
		    get16(h + 4) || get16(h + 6) != 0x4000 || h[8] != 64 || h[9] != 4 ||
		    fold(sum16(h, 20, 0)) != 0xffff)
			fail("dsr: bad outer IPv4 header");
		src = c->has_encap4 ? c->encap_src4 : r->dst;
		if (memcmp(h + 12, src, 4))
			fail("dsr: outer source is not the encapsulation source");
		memcpy(backend, h + 16, 4);
	} else {
		if (h[0] >> 4 != 6 || ((get16(h) >> 4) & 0xff) != ((get16(in + l3) >> 4) & 0xff) ||
		    get16(h + 4) != r->l3_len || h[6] != 41 || h[7] != 64)
			fail("dsr: bad outer IPv6 header");
		src = c->has_encap6 ? c->encap_src6 : r->dst;
		if (memcmp(h + 8, src, 16))
			fail("dsr: outer source is not the encapsulation source");
		memcpy(backend, h + 24, 16);
	}
	if (!backend_of(s, backend, s->port))
		fail("dsr: outer destination is not a backend of the service");
}

static void check_too_big(const uint8_t *in, const uint8_t *out, size_t on, const struct ref *r)
{
	const struct lb_config *c = ch[CH_A].lb;
	bool v4 = r->family == 4;
	size_t iph = v4 ? 20 : 40, l3 = r->l3;
	size_t quote = (r->l3_len > (v4 ? 548 : 1232) ? (v4 ? 548 : 1232) : r->l3_len) & ~3u;
	const uint8_t *h = out + l3, *icmp = out + l3 + iph;
	struct ref o;

	lb_too_big++;
	if (on != l3 + iph + 8 + quote) {
		fail("too big: answer of %zu bytes, want %zu", on, l3 + iph + 8 + quote);
		return;
	}
	if (memcmp(out, in + 6, 6) || memcmp(out + 6, in, 6) || memcmp(out + 12, in + 12, l3 - 12))
		fail("too big: MACs not swapped or tags not kept");
	if (memcmp(icmp + 8, in + l3, quote))
		fail("too big: the quote is not the packet");
	ref_parse(out, on, &o);
	if (o.res != REF_OK || !o.l4ok || o.l3_len != iph + 8 + quote ||
	    memcmp(o.src, r->dst, 16) || memcmp(o.dst, r->src, 16) ||
	    o.proto != (v4 ? P_ICMP : P_ICMP6))
		fail("too big: bad IP header");
	if (v4 && (fold(sum16(h, 20, 0)) != 0xffff || h[0] != 0x45 || get16(h + 6) != 0x4000))
		fail("too big: bad IPv4 header");
	if (v4 ? (icmp[0] != 3 || icmp[1] != 4) : (icmp[0] != 2 || icmp[1]))
		fail("too big: type %u code %u", icmp[0], icmp[1]);
	if (get16(icmp + 6) != c->mtu - (v4 ? 20 : 40) || get16(icmp + 4))
		fail("too big: MTU %u, want %u", get16(icmp + 6), c->mtu - (v4 ? 20 : 40));
	if (v4 ? fold(sum16(icmp, 8 + quote, 0)) != 0xffff : mod(l4_sum(out, &o)) != 0)
		fail("too big: bad ICMP checksum");
}

/* The balancer's mtu decides what is too big (0: nothing). */
static bool c_mtu_big(size_t len)
{
	return ch[CH_A].lb->mtu && len > ch[CH_A].lb->mtu;
}

/* Is there a reply entry for this packet in the balancer's connection table? */
static bool reply_known(const struct ref *r)
{
	struct sfc_lb_conn_key k = {};
	struct sfc_lb_conn v;

	memcpy(k.src, r->src, 16);
	memcpy(k.dst, r->dst, 16);
	k.sport = htons(r->sport);
	k.dport = htons(r->dport);
	k.proto = r->proto;
	k.family = r->family;
	k.kind = SFC_LB_CONN_REPLY;
	return !bpf_map_lookup_elem(lb_conns_fd, &k, &v);
}

/*
 * Chain A's balancer on a packet the firewall let through (forward), or
 * saw first (reverse): what came out must be what it may do.
 */
static void check_lb(const uint8_t *in, size_t n, const uint8_t *out, size_t on, int ret,
		     const struct ref *r, bool *fw_seen_same)
{
	const struct lb_service *s = service_of(r);
	struct ref o;

	*fw_seen_same = true;
	if (s) {
		bool dsr = s->mode == SFC_LB_DSR;
		size_t outer = r->family == 4 ? 20 : 40;
		bool big = dsr && c_mtu_big(r->l3_len + outer);

		lb_vip++;
		*fw_seen_same = false;
		if (big && r->family == 4 && !r->df) {
			lb_too_big_drop++;
			if (ret != XDP_DROP)
				fail("too big without DF: action %d, want DROP", ret);
			return;
		}
		if (big) {
			if (ret != XDP_TX)
				fail("too big: action %d, want TX (ICMP)", ret);
			else
				check_too_big(in, out, on, r);
			return;
		}
		if (ret == XDP_DROP && cur_dir)
			return;	/* the firewall after it may drop the packet */
		if (ret != XDP_PASS) {
			fail("service packet: action %d, want PASS", ret);
			return;
		}
		if (dsr) {
			check_dsr(in, n, out, on, r, s);
			return;
		}
		lb_nat_fwd++;
		if (on != n) {
			fail("nat: length %zu -> %zu", n, on);
			return;
		}
		if (!check_nat(in, out, n, r, false, &o))
			return;
		if (!backend_of(s, o.dst, o.dport) || backend_of(s, o.dst, o.dport)->drain ||
		    !backend_of(s, o.dst, o.dport)->weight)
			fail("nat: the destination is not an active backend of the service");
		note_flow(r, &o);
		return;
	}
	if (reply_service(r, NULL, 0))
		*fw_seen_same = false;
	if (ret == XDP_DROP && cur_dir)
		return;
	if (ret != XDP_PASS) {
		fail("not a service packet: action %d, want PASS", ret);
		return;
	}
	if (on == n && !memcmp(in, out, n)) {
		if (reply_service(r, NULL, 0) && reply_known(r))
			fail("a reply of a known connection was not rewritten");
		return;
	}
	/* the only other change: a reply given its VIP back */
	if (on != n || !reply_service(r, NULL, 0)) {
		fail("a packet that is neither a service's nor a reply was changed");
		return;
	}
	if (!check_nat(in, out, n, r, true, &o))
		return;
	lb_replies_seen++;
	if (!reply_service(r, o.src, o.sport))
		fail("reply: the new source is not the VIP of a service of that backend");
}

static void tally_ret(struct tally *ty, int dir, int ret)
{
	ty->ret[dir][ret == XDP_DROP ? 0 : ret == XDP_PASS ? 1 : ret == XDP_TX ? 2 :
		     ret == XDP_REDIRECT ? 3 : 4]++;
}

static void one(int c, int dir, const uint8_t *in, size_t n, const struct ref *r)
{
	static uint8_t out[OUT_MAX];
	struct tally *ty = &t[c];
	size_t on = 0;
	uint32_t rule;
	bool allow, same;
	struct ref o;
	int ret;

	cur_ch = c;
	cur_dir = dir;
	cur_in = in;
	cur_n = n;
	cur_out = NULL;
	ret = run(ch[c].root[dir], in, n, out, &on);
	if (ret < 0) {
		fail("test_run failed: %s", strerror(-ret));
		return;
	}
	cur_out = out;
	cur_out_n = n < 14 ? 0 : on;
	ty->runs[dir]++;
	tally_ret(ty, dir, ret);
	if (ret != XDP_DROP && ret != XDP_PASS && ret != XDP_TX) {
		fail("action %d", ret);
		return;
	}
	if (ret != XDP_DROP && (on < 14 || on > OUT_MAX)) {
		fail("output of %zu bytes", on);
		return;
	}
	if (r->res == REF_MALFORMED) {
		ty->malformed[dir]++;
		if (ret != XDP_DROP)
			fail("malformed, action %d, want DROP (invalid)", ret);
		return;
	}
	if (r->res == REF_NOT_IP) {
		ty->not_ip[dir]++;
		if (ret != XDP_PASS || on != n || memcmp(in, out, n))
			fail("not IP: action %d, want PASS with the frame untouched", ret);
		return;
	}
	n_valid_ok++;
	allow = fw_allows(ch[c].fw, r, &rule);

	if (c == CH_B) {
		unsigned int v = rule == SFC_FW_NO_RULE ?
			(allow ? SFC_FW_V_DEFAULT_ALLOW : SFC_FW_V_DEFAULT_DROP) :
			(allow ? SFC_FW_V_RULE_ALLOW : SFC_FW_V_RULE_DROP);

		ty->v_pk[v]++;
		ty->v_by[v] += n;
		if (rule != SFC_FW_NO_RULE) {
			ty->rule_pk[rule]++;
			ty->rule_by[rule] += n;
		}
		if (!allow) {
			ty->fw_drop[dir]++;
			if (ret != XDP_DROP)
				fail("the firewall let through what rule %d denies: action %d",
				     (int)rule, ret);
		} else if (ret != XDP_PASS || on != n || memcmp(in, out, n)) {
			fail("allowed by rule %d: action %d, want PASS untouched", (int)rule, ret);
		}
		return;
	}

	/* chain A */
	if (dir == SFC_DIR_FWD) {
		if (!allow) {
			ty->fw_drop[dir]++;
			if (ret != XDP_DROP)
				fail("the firewall let through what rule %d denies: action %d",
				     (int)rule, ret);
			return;
		}
		check_lb(in, n, out, on, ret, r, &same);
		return;
	}
	/* reverse: the balancer first, then the flow monitor and the firewall */
	check_lb(in, n, out, on, ret, r, &same);
	if (same) {
		/* the firewall saw the packet as it came */
		if (!allow) {
			ty->fw_drop[dir]++;
			if (ret != XDP_DROP)
				fail("the firewall let through what rule %d denies: action %d",
				     (int)rule, ret);
		} else if (ret != XDP_PASS) {
			fail("allowed by rule %d: action %d, want PASS", (int)rule, ret);
		}
		return;
	}
	ty->fw_exact[dir] = false;
	if (ret == XDP_PASS) {
		/* what the balancer made of it went through the firewall */
		ref_parse(out, on, &o);
		if (o.res != REF_OK || !fw_allows(ch[c].fw, &o, &rule))
			fail("the firewall let through a rewritten packet rule %d denies",
			     (int)rule);
	}
}

/* ---- the counters ----------------------------------------------------------- */

static void sum_stats(const struct sfc_stage_stats *s, const char *what, int dir)
{
	CHECK(s->packets == s->handed_on + s->dropped + s->passed + s->forwarded + s->aborted,
	      "%s %s: packets %" PRIu64 " != handed_on %" PRIu64 " + dropped %" PRIu64
	      " + passed %" PRIu64 " + forwarded %" PRIu64 " + aborted %" PRIu64, what,
	      dir ? "rev" : "fwd", s->packets, s->handed_on, s->dropped, s->passed,
	      s->forwarded, s->aborted);
	CHECK(!s->aborted && !s->tail_call_miss && s->invalid <= s->dropped,
	      "%s %s: aborted %" PRIu64 ", tail_call_miss %" PRIu64 ", invalid %" PRIu64, what,
	      dir ? "rev" : "fwd", s->aborted, s->tail_call_miss, s->invalid);
}

static void check_counters(uint64_t upto)
{
	uint64_t lbs[SFC_LB_STAT_MAX] = {}, vals[ncpu];
	unsigned int c, dir, i, k;
	int fails0 = tl_fail;

	for (c = 0; c < N_CH; c++) {
		struct sfc_chain_status *st = NULL;
		struct sfc_fw_status *fs = NULL;
		struct tally *ty = &t[c];

		if (sfc_chain__status(ch_name[c], root, &st)) {
			CHECK(0, "status of %s", ch_name[c]);
			continue;
		}
		CHECK(st->n_stages == ch[c].n_fn + 2, "%s: %u stages", ch_name[c], st->n_stages);
		for (dir = 0; dir < 2 && st->n_stages == ch[c].n_fn + 2; dir++) {
			const struct sfc_stage_stats *e = &st->stages[0].stats[dir], *prev = e;
			uint64_t dropped = 0, passed = 0, fwd = 0, fwd_drop;

			for (i = 0; i < st->n_stages; i++) {
				const struct sfc_stage_stats *s = &st->stages[i].stats[dir];

				sum_stats(s, st->stages[i].name, dir);
				dropped += s->dropped;
				passed += s->passed;
				fwd += s->forwarded;
			}
			/* functions in the direction's order, then the egress */
			for (k = 0; k <= ch[c].n_fn; k++) {
				unsigned int idx = k == ch[c].n_fn ? st->n_stages - 1 :
					dir ? ch[c].n_fn - k : 1 + k;
				const struct sfc_stage_stats *s = &st->stages[idx].stats[dir];

				CHECK(s->packets == prev->handed_on,
				      "%s %s: %s got %" PRIu64 " packets, %s handed on %" PRIu64,
				      ch_name[c], dir ? "rev" : "fwd", st->stages[idx].name,
				      s->packets, k ? "the function before" : "the entry",
				      prev->handed_on);
				prev = s;
			}
			CHECK(e->packets == ty->runs[dir], "%s %s: entry saw %" PRIu64 ", sent %" PRIu64,
			      ch_name[c], dir ? "rev" : "fwd", e->packets, ty->runs[dir]);
			CHECK(e->invalid == ty->malformed[dir] && e->passed == ty->not_ip[dir],
			      "%s %s: entry invalid %" PRIu64 " passed %" PRIu64 ", reference: "
			      "malformed %" PRIu64 " not IP %" PRIu64, ch_name[c], dir ? "rev" : "fwd",
			      e->invalid, e->passed, ty->malformed[dir], ty->not_ip[dir]);
			CHECK(dropped == ty->ret[dir][0] && passed == ty->ret[dir][1] &&
			      fwd == ty->ret[dir][2] + ty->ret[dir][3],
			      "%s %s: stages dropped %" PRIu64 " passed %" PRIu64 " forwarded %"
			      PRIu64 ", actions DROP %" PRIu64 " PASS %" PRIu64 " TX %" PRIu64,
			      ch_name[c], dir ? "rev" : "fwd", dropped, passed, fwd, ty->ret[dir][0],
			      ty->ret[dir][1], ty->ret[dir][2]);
			/* the firewall is the first function, stage 1 */
			fwd_drop = st->stages[1].stats[dir].dropped;
			if (ty->fw_exact[dir])
				CHECK(fwd_drop == ty->fw_drop[dir],
				      "%s %s: the firewall dropped %" PRIu64 ", the rules deny %" PRIu64,
				      ch_name[c], dir ? "rev" : "fwd", fwd_drop, ty->fw_drop[dir]);
			else
				CHECK(fwd_drop >= ty->fw_drop[dir],
				      "%s %s: the firewall dropped %" PRIu64 ", the rules deny at least %"
				      PRIu64, ch_name[c], dir ? "rev" : "fwd", fwd_drop, ty->fw_drop[dir]);
		}
		sfc_chain_status__free(st);

		if (c != CH_B)
			continue;
		if (sfc_firewall__status(ch_name[c], "fw", root, &fs)) {
			CHECK(0, "firewall status of %s", ch_name[c]);
			continue;
		}
		for (k = 0; k < SFC_FW_V_MAX && k < SFC_FW_VERDICTS; k++)
			CHECK(fs->verdict_packets[k] == ty->v_pk[k] && fs->verdict_bytes[k] == ty->v_by[k],
			      "%s: verdict %s: %" PRIu64 " packets %" PRIu64 " bytes, reference %"
			      PRIu64 " %" PRIu64, ch_name[c], sfc_fw_verdict__str(k),
			      fs->verdict_packets[k], fs->verdict_bytes[k], ty->v_pk[k], ty->v_by[k]);
		for (k = 0; k < fs->n_rules && k < ch[c].fw->n_rules; k++)
			CHECK(fs->rules[k].packets == ty->rule_pk[k] && fs->rules[k].bytes == ty->rule_by[k],
			      "%s: rule %u: %" PRIu64 " packets %" PRIu64 " bytes, reference %" PRIu64
			      " %" PRIu64, ch_name[c], k, fs->rules[k].packets, fs->rules[k].bytes,
			      ty->rule_pk[k], ty->rule_by[k]);
		sfc_fw_status__free(fs);
	}

	for (k = 0; k < SFC_LB_STAT_MAX; k++) {
		__u32 key = k;
		int cpu;

		memset(vals, 0, sizeof(vals));
		if (bpf_map_lookup_elem(lb_stats_fd, &key, vals))
			CHECK(0, "sfc_lb_stats[%u]: %s", k, strerror(errno));
		for (cpu = 0; cpu < ncpu; cpu++)
			lbs[k] += vals[cpu];
	}
	CHECK(lbs[SFC_LB_STAT_VIP] == lb_vip && lbs[SFC_LB_STAT_TOO_BIG] == lb_too_big &&
	      lbs[SFC_LB_STAT_TOO_BIG_DROP] == lb_too_big_drop,
	      "lb: vip %" PRIu64 " too_big %" PRIu64 " too_big_dropped %" PRIu64 ", reference %"
	      PRIu64 " %" PRIu64 " %" PRIu64, lbs[SFC_LB_STAT_VIP], lbs[SFC_LB_STAT_TOO_BIG],
	      lbs[SFC_LB_STAT_TOO_BIG_DROP], lb_vip, lb_too_big, lb_too_big_drop);
	CHECK(!lbs[SFC_LB_STAT_ERROR] && !lbs[SFC_LB_STAT_NO_BACKEND],
	      "lb: errors %" PRIu64 ", no_backend %" PRIu64, lbs[SFC_LB_STAT_ERROR],
	      lbs[SFC_LB_STAT_NO_BACKEND]);
	CHECK(lbs[SFC_LB_STAT_REPLY] >= lb_replies_seen, "lb: replies %" PRIu64 ", seen %" PRIu64,
	      lbs[SFC_LB_STAT_REPLY], lb_replies_seen);
	if (tl_fail != fails0)
		fprintf(stderr, "counters wrong after packet %" PRIu64 " (checked every %d)\n", upto,
			CHECK_EVERY);
}

/* ---- main ------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static uint8_t f[PKT_MAX];
	uint64_t count = 15000000, seed, i;
	const char *e;
	double t0;
	struct ref r;
	size_t n;
	int c, err;

	if (argc > 1)
		count = strtoull(argv[1], NULL, 0);
	else if ((e = getenv("PKT_COUNT")))
		count = strtoull(e, NULL, 0);
	e = getenv("SEED");
	seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	rng = seed;
	printf("pktfuzz: seed %" PRIu64 " (SEED=%" PRIu64 " replays), %" PRIu64 " packets\n", seed,
	       seed, count);
	fflush(stdout);

	if (geteuid())
		TEST_SKIP("needs root for BPF and netns");
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		TEST_SKIP("cannot count the possible CPUs");
	sfc_set_log(log_cb, NULL, SFC_LOG_WARN);
	snprintf(ns, sizeof(ns), "sfcpf%d", getpid());
	snprintf(root, sizeof(root), "/sys/fs/bpf/sfc-pktfuzz-%d", getpid());
	atexit(cleanup);
	testns_enter(ns);

	for (c = 0; c < N_CH; c++) {
		err = setup_chain(c);
		if (err) {
			CHECK(0, "chain %s: %s", ch_name[c], strerror(-err));
			TEST_DONE();
		}
		t[c].fw_exact[0] = t[c].fw_exact[1] = true;
		t[c].rule_pk = calloc(ch[c].fw->n_rules + 1, sizeof(uint64_t));
		t[c].rule_by = calloc(ch[c].fw->n_rules + 1, sizeof(uint64_t));
	}
	lb_conns_fd = pinned(CH_A, "nf/lb/sfc_lb_conns");
	lb_stats_fd = pinned(CH_A, "nf/lb/sfc_lb_stats");
	if (lb_conns_fd < 0 || lb_stats_fd < 0) {
		CHECK(0, "the balancer's pinned maps: %s", strerror(errno));
		TEST_DONE();
	}

	t0 = now_s();
	for (i = 0; i < count; i++) {
		int which = below(10), chn = which < 6 ? CH_A : CH_B;
		int dir = which < 4 ? 0 : which < 6 ? 1 : which < 8 ? 0 : 1;

		cur_idx = i;
		n = gen_valid(f);
		if (pct(45)) {
			n = mutate(f, n);
			n_mutated++;
		}
		n_short += n < 14;
		ref_parse(f, n, &r);
		one(chn, dir, f, n, &r);
		n_pkts++;
		if ((i + 1) % CHECK_EVERY == 0)
			check_counters(i);
	}
	check_counters(count);
	printf("pktfuzz: %" PRIu64 " packets in %.1f s (%" PRIu64 " mutated, %" PRIu64
	       " shorter than 14 bytes; %" PRIu64 " parsed whole as IP)\n", n_pkts, now_s() - t0,
	       n_mutated, n_short, n_valid_ok);
	for (c = 0; c < N_CH; c++) {
		int d;

		for (d = 0; d < 2; d++)
			printf("  chain %s %s: %" PRIu64 " runs: %" PRIu64 " malformed, %" PRIu64
			       " not IP, firewall denied %" PRIu64 "; DROP %" PRIu64 " PASS %" PRIu64
			       " TX %" PRIu64 "\n", ch_name[c], d ? "rev" : "fwd", t[c].runs[d],
			       t[c].malformed[d], t[c].not_ip[d], t[c].fw_drop[d], t[c].ret[d][0],
			       t[c].ret[d][1], t[c].ret[d][2]);
	}
	printf("  balancer: %" PRIu64 " service packets, %" PRIu64 " nat rewrites checked, %"
	       PRIu64 " dsr, %" PRIu64 " too big (ICMP), %" PRIu64 " too big dropped, %" PRIu64
	       " replies rewritten\n", lb_vip, lb_nat_fwd, lb_dsr, lb_too_big, lb_too_big_drop,
	       lb_replies_seen);
	if (n_fails > MAX_FAILS)
		fprintf(stderr, "%" PRIu64 " failures, the first %d shown\n", n_fails, MAX_FAILS);
	TEST_DONE();
}
