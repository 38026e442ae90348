// SPDX-License-Identifier: GPL-2.0
/*
 * The load balancer under BPF_PROG_TEST_RUN, as part of a whole chain: a chain
 * of a loadbalancer function and a flow monitor after it (egress pass: a
 * packet handed on comes back XDP_PASS with the rewritten frame) is applied
 * with libsfc onto a veth in a private netns, and packets run through its
 * pinned roots: root_fwd for clients to VIPs, root_rev for backends
 * answering. The flow monitor's table shows what sfc_pkt told the next
 * function about each packet the balancer sent on.
 *
 * The test keeps a model of the connection table and of every counter, and
 * predicts each packet's fate from it: the backend of a new flow is what
 * sfc_lb_hash() picks in the pinned Maglev table of the live generation, a
 * known flow keeps its backend unless the entry expired, closed and was
 * reopened, or its backend left the config. Every output frame is compared
 * byte for byte with one the test builds itself, with checksums computed in
 * full (pseudo-header and all), never by the incremental formula the data
 * path uses; and the pinned connection table and counters (summed over the
 * CPUs) must equal the model after each part.
 *
 * Parts, for IPv4 and IPv6: nat of TCP and UDP both ways (UDP without a
 * checksum, UDP whose checksum comes out 0), traffic that is not the
 * balancer's, dsr encapsulation with 0, 1 and 2 VLAN tags, "too big" answers,
 * affinity of random flows, the spread by weight, connection states
 * (FIN/RST, reused tuples, timeouts, refresh, a lost reply entry) under
 * timeouts of a few seconds, dsr with the other encapsulation sources, and
 * the re-applies: a drained backend, a removed one, a service with none up.
 *
 * Usage: test_lb [SEED]	(random by default; the seed is printed)
 * Needs root (BPF, netns): prints SKIP and exits 77 without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
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
#include "shared/sfc_flow.h"
#include "shared/sfc_lb.h"
#include "../testlib.h"
/* pkt.h is a kit of static helpers; this test needs only some. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pkt.h"
#include "testns.h"
#pragma GCC diagnostic pop

#define CHAIN "lbt"
#define FN "lb"
#define MON "mon"	/* a flow monitor after it: what the next function sees */

/* The config every part runs under (only services change). */
#define TABLE		1021
#define MTU		1500
#define MAX_CONNS	131072
#define NS		1000000000ull

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define NONE 0xffffffffu

static char ns[32], root[64];
static int ncpu;

/*
 * The timeouts as applied, in seconds. The states part runs under short
 * ones: an entry is aged by writing a seen_ns in the past, and CLOCK_MONOTONIC
 * counts from boot, so a test on a machine up for less than the timeout could
 * not age anything past 15 minutes.
 */
static uint64_t tcp_s = 15 * 60, closing_s = 10, udp_s = 5 * 60;
/* encapSource, as applied: NULL for none (the VIP is the outer source). */
static const char *encap4 = "198.51.100.1", *encap6;
#define TCP_NS		(tcp_s * NS)
#define CLOSING_NS	(closing_s * NS)
#define UDP_NS		(udp_s * NS)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* splitmix64: the same sequence for a seed on every libc. */
static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* ---- the config --------------------------------------------------------- */

#define MAX_BK 4

struct tbk {
	const char *addr;
	uint16_t port;		/* as configured; 0: the service's */
	uint32_t weight;
	bool drain;
	/* what the loader made of it */
	uint8_t a[16];
	uint16_t rport;		/* where nat sends, host order */
	uint32_t id;
};

struct tsvc {
	const char *vip;
	uint16_t port;
	uint8_t proto;
	uint8_t mode;
	unsigned int n;
	struct tbk bk[MAX_BK];
	/* read back after each apply */
	uint8_t fam, v[16];
	uint32_t id, table_off, n_up;
	uint32_t table[TABLE];
};

#define BK(a, p, w) { .addr = (a), .port = (p), .weight = (w) }
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

/* Per family, in this order; SPARE is the service that loses all backends. */
enum { K_TCP, K_UDP, K_DSR_TCP, K_DSR_UDP, K_SPARE, K_N };

static struct tsvc svcs[2 * K_N] = {
	{ "192.0.2.10", 80, TCP, SFC_LB_NAT, 3,
	  { BK("10.0.2.11", 0, 1), BK("10.0.2.12", 8080, 2), BK("10.0.2.13", 0, 1) } },
	{ "192.0.2.10", 53, UDP, SFC_LB_NAT, 2, { BK("10.0.2.11", 0, 1), BK("10.0.2.14", 5353, 1) } },
	{ "192.0.2.20", 443, TCP, SFC_LB_DSR, 2, { BK("10.0.3.11", 0, 1), BK("10.0.3.12", 0, 1) } },
	{ "192.0.2.20", 53, UDP, SFC_LB_DSR, 2, { BK("10.0.3.11", 0, 1), BK("10.0.3.13", 0, 1) } },
	{ "192.0.2.30", 80, TCP, SFC_LB_NAT, 2, { BK("10.0.4.11", 0, 1), BK("10.0.4.12", 0, 1) } },
	{ "2001:db8::10", 80, TCP, SFC_LB_NAT, 3,
	  { BK("2001:db8:2::11", 0, 1), BK("2001:db8:2::12", 8080, 2), BK("2001:db8:2::13", 0, 1) } },
	{ "2001:db8::10", 53, UDP, SFC_LB_NAT, 2,
	  { BK("2001:db8:2::11", 0, 1), BK("2001:db8:2::14", 5353, 1) } },
	{ "2001:db8::20", 443, TCP, SFC_LB_DSR, 2,
	  { BK("2001:db8:3::11", 0, 1), BK("2001:db8:3::12", 0, 1) } },
	{ "2001:db8::20", 53, UDP, SFC_LB_DSR, 2,
	  { BK("2001:db8:3::11", 0, 1), BK("2001:db8:3::13", 0, 1) } },
	{ "2001:db8::30", 80, TCP, SFC_LB_NAT, 2,
	  { BK("2001:db8:4::11", 0, 1), BK("2001:db8:4::12", 0, 1) } },
};

#define SVC(fam, k) (&svcs[((fam) == 4 ? 0 : K_N) + (k)])

static unsigned int generation(void)
{
	struct sfc_chain_status *st = NULL;
	unsigned int g = 0;

	if (!sfc_chain__status(CHAIN, root, &st))
		g = st->generation;
	sfc_chain_status__free(st);
	return g;
}

static int fn_map(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s/nf/%s/%s", root, CHAIN, FN, name);
	return bpf_obj_get(p);
}

static int gen_map(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s/gen%u/nf/%s/%s", root, CHAIN, generation(), FN, name);
	return bpf_obj_get(p);
}

static size_t svc_yaml(char *o, size_t n, const struct tsvc *s)
{
	size_t len;
	unsigned int i;

	len = snprintf(o, n, "          - {vip: \"%s\", port: %u, protocol: %s, mode: %s, backends: [",
		       s->vip, s->port, s->proto == TCP ? "tcp" : "udp",
		       s->mode == SFC_LB_DSR ? "dsr" : "nat");
	for (i = 0; i < s->n; i++) {
		const struct tbk *b = &s->bk[i];
		char port[32] = "";

		if (b->port)
			snprintf(port, sizeof(port), ", port: %u", b->port);
		len += snprintf(o + len, n - len, "%s{address: \"%s\", weight: %u%s%s}",
				i ? ", " : "", b->addr, b->weight, port,
				b->drain ? ", state: drain" : "");
	}
	len += snprintf(o + len, n - len, "]}\n");
	return len;
}

static void log_cb(enum sfc_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= SFC_LOG_WARN)
		fprintf(stderr, "libsfc: %s\n", msg);
}

static bool present[SFC_LB_MAX_BACKENDS];	/* backend ids in the live config */

/*
 * Reads back what the loader made of the config: each service's id, table
 * offset and live backends, each backend's id, and each service's Maglev
 * table from the live generation's pin.
 */
static void load_state(void)
{
	int svc_fd = gen_map("sfc_lb_services"), bk_fd = gen_map("sfc_lb_backends");
	int mag_fd = gen_map("sfc_lb_maglev"), ids_fd = fn_map("sfc_lb_ids");
	unsigned int i, j, k;

	CHECK(svc_fd >= 0 && bk_fd >= 0 && mag_fd >= 0 && ids_fd >= 0,
	      "pinned maps of gen%u: services %d, backends %d, maglev %d, ids %d", generation(),
	      svc_fd, bk_fd, mag_fd, ids_fd);
	if (svc_fd < 0 || bk_fd < 0 || mag_fd < 0 || ids_fd < 0)
		exit(1);
	memset(present, 0, sizeof(present));
	for (i = 0; i < N(svcs); i++) {
		struct tsvc *s = &svcs[i];
		struct sfc_lb_svc_key key = {};
		struct sfc_lb_svc val = {};
		unsigned int up = 0, bad = 0;

		s->fam = strchr(s->vip, ':') ? 6 : 4;
		memset(s->v, 0, 16);
		inet_pton(s->fam == 4 ? AF_INET : AF_INET6, s->vip, s->v);
		memcpy(key.vip, s->v, 16);
		key.port = htons(s->port);
		key.proto = s->proto;
		key.family = s->fam;
		CHECK(!bpf_map_lookup_elem(svc_fd, &key, &val), "service %s:%u: not in sfc_lb_services",
		      s->vip, s->port);
		s->id = val.id;
		s->table_off = val.table_off;
		s->n_up = val.n_backends;
		CHECK(val.mode == s->mode, "service %s:%u: mode %u, want %u", s->vip, s->port,
		      val.mode, s->mode);
		for (j = 0; j < s->n; j++) {
			struct tbk *b = &s->bk[j];
			struct sfc_lb_id_key ik = {};
			struct sfc_lb_backend bv = {};

			memset(b->a, 0, 16);
			inet_pton(s->fam == 4 ? AF_INET : AF_INET6, b->addr, b->a);
			b->rport = b->port ? b->port : s->port;
			memcpy(ik.addr, b->a, 16);
			ik.port = htons(b->rport);
			ik.family = s->fam;
			ik.kind = SFC_LB_ID_BACKEND;
			CHECK(!bpf_map_lookup_elem(ids_fd, &ik, &b->id) && b->id < SFC_LB_MAX_BACKENDS,
			      "backend %s: no id", b->addr);
			if (b->id >= SFC_LB_MAX_BACKENDS)
				exit(1);
			present[b->id] = true;
			CHECK(!bpf_map_lookup_elem(bk_fd, &b->id, &bv) &&
			      (bv.flags & SFC_LB_BK_PRESENT) && !memcmp(bv.addr, b->a, 16) &&
			      bv.port == htons(b->rport) && bv.family == s->fam,
			      "backend %s: sfc_lb_backends[%u] flags %#x", b->addr, b->id, bv.flags);
			up += b->weight && !b->drain;
		}
		CHECK(s->n_up == up, "service %s:%u: %u backends in the table, want %u", s->vip,
		      s->port, s->n_up, up);
		for (k = 0; k < TABLE; k++) {
			__u32 key2 = s->table_off + k;
			bool ok = false;

			s->table[k] = NONE;
			bpf_map_lookup_elem(mag_fd, &key2, &s->table[k]);
			if (s->table[k] == SFC_LB_NO_BACKEND)
				ok = !up;
			for (j = 0; j < s->n; j++)
				if (s->table[k] == s->bk[j].id)
					ok = s->bk[j].weight && !s->bk[j].drain;
			bad += !ok;
		}
		CHECK(!bad, "service %s:%u: %u Maglev entries name no live backend of it", s->vip,
		      s->port, bad);
	}
	close(svc_fd);
	close(bk_fd);
	close(mag_fd);
	close(ids_fd);
}

/* Applies the chain with the services as they are now; reads the state back. */
static int apply(enum sfc_apply_result *res)
{
	struct sfc_apply_opts o = { .sz = sizeof(o), .netns = ns, .pin_root = root };
	static char text[16384];
	struct sfc_chain_spec *s;
	struct sfc_diag d = {};
	char buf[1024];
	size_t n;
	unsigned int i;
	int err;

	n = snprintf(text, sizeof(text),
		     "apiVersion: sfc/v1alpha1\n"
		     "kind: Chain\n"
		     "metadata: {name: " CHAIN "}\n"
		     "spec:\n"
		     "  interface: ta\n"
		     "  egress: {action: pass}\n"
		     "  functions:\n"
		     "    - name: " FN "\n"
		     "      type: loadbalancer\n"
		     "      config:\n"
		     "        services:\n");
	for (i = 0; i < N(svcs); i++)
		n += svc_yaml(text + n, sizeof(text) - n, &svcs[i]);
	n += snprintf(text + n, sizeof(text) - n,
		      "        maxConnections: %u\n"
		      "        tableSize: %u\n"
		      "        timeouts: {tcp: %" PRIu64 "s, tcpClosing: %" PRIu64 "s, udp: %" PRIu64 "s}\n"
		      "        mtu: %u\n", MAX_CONNS, TABLE, tcp_s, closing_s, udp_s, MTU);
	if (encap4 || encap6)
		n += snprintf(text + n, sizeof(text) - n, "        encapSource: {%s%s%s%s%s%s}\n",
			      encap4 ? "ipv4: \"" : "", encap4 ?: "", encap4 ? "\"" : "",
			      encap6 ? (encap4 ? ", ipv6: \"" : "ipv6: \"") : "", encap6 ?: "",
			      encap6 ? "\"" : "");
	n += snprintf(text + n, sizeof(text) - n,
		      "    - name: " MON "\n"
		      "      type: flowmon\n"
		      "      config: {maxFlows: 65536}\n");
	s = sfc_chain_spec__parse_string(CHAIN ".yaml", text, n, &d);
	if (!s) {
		sfc_diag__format(&d, buf, sizeof(buf));
		fprintf(stderr, "parse: %s\n", buf);
		return -EINVAL;
	}
	err = sfc_chain__apply(s, &o, res, &d);
	sfc_chain_spec__free(s);
	if (err) {
		sfc_diag__format(&d, buf, sizeof(buf));
		fprintf(stderr, "apply: %s\n", buf);
		return err;
	}
	load_state();
	return 0;
}

/* A config change is a new generation (the Maglev tables swap in whole). */
static void reapply(const char *what)
{
	enum sfc_apply_result res;
	unsigned int gen = generation();
	int err = apply(&res);

	CHECK(!err && res == SFC_APPLY_SWAPPED && generation() == gen + 1,
	      "%s: apply: %s, %s, generation %u -> %u", what, strerror(-err),
	      sfc_apply_result__str(res), gen, generation());
	if (err)
		exit(1);
}

static struct tbk *bk_by_id(uint32_t id)
{
	unsigned int i, j;

	for (i = 0; i < N(svcs); i++)
		for (j = 0; j < svcs[i].n; j++)
			if (svcs[i].bk[j].id == id)
				return &svcs[i].bk[j];
	return NULL;
}

/* ---- packets ------------------------------------------------------------ */

struct tp {
	uint8_t fam, proto;	/* proto: TCP, UDP, or ICMP of the family */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;	/* host order; ICMP: echo id in sport */
	uint8_t flags;		/* TCP */
	uint16_t len;		/* payload bytes */
	uint8_t n_vlan;
	uint8_t tos;		/* IPv4 TOS, IPv6 traffic class */
	bool no_df;		/* IPv4 */
	bool udp_zero;		/* IPv4 UDP without a checksum */
	bool frag_later;	/* a later fragment: no L4 header */
	bool has_word0;		/* the payload's first 16-bit word (network order) */
	uint16_t word0;
};

/* The frame for p; *l3 is where its IP header starts. No Ethernet padding. */
static size_t build(const struct tp *p, uint8_t *out, size_t *l3)
{
	uint16_t eth = p->fam == 4 ? ETH_P_IP_ : ETH_P_IPV6_;
	uint8_t proto = p->proto;
	struct pkt_buf b;
	uint32_t s4, d4;
	uint8_t *ip;
	size_t pay;

	pkt_init(&b);
	if (p->n_vlan == 2) {
		pkt_eth(&b, ETH_P_8021AD_);
		pkt_vlan(&b, 100, ETH_P_8021Q_);
		pkt_vlan(&b, 200, eth);
	} else if (p->n_vlan == 1) {
		pkt_eth(&b, ETH_P_8021Q_);
		pkt_vlan(&b, 300, eth);
	} else {
		pkt_eth(&b, eth);
	}
	*l3 = b.len;
	if (p->fam == 4) {
		memcpy(&s4, p->src, 4);
		memcpy(&d4, p->dst, 4);
		pkt_ipv4_opt(&b, proto, s4, d4, 0,
			     p->frag_later ? 185 : p->no_df ? 0 : IP_DF_);
	} else if (p->frag_later) {
		pkt_ipv6_addr(&b, 44, p->src, p->dst);
		pkt_ip6_frag(&b, proto, 185, 0);
	} else {
		pkt_ipv6_addr(&b, proto, p->src, p->dst);
	}
	if (p->frag_later)
		pkt_payload(&b, 16);
	else if (proto == TCP)
		pkt_tcp(&b, p->sport, p->dport, p->flags);
	else if (proto == UDP)
		pkt_udp(&b, p->sport, p->dport);
	else
		pkt_icmp(&b, p->fam == 4 ? 8 : 128, 0, p->sport, 1);
	pay = b.len;
	pkt_payload(&b, p->len);
	if (p->has_word0)
		put16(b.d + pay, p->word0);
	pkt_done(&b);
	ip = b.d + *l3;
	if (p->fam == 4) {
		ip[1] = p->tos;
		pkt_ipv4_csum(&b);
	} else {
		ip[0] = 0x60 | p->tos >> 4;
		ip[1] = (uint8_t)(p->tos << 4) | (ip[1] & 0x0f);
	}
	if (!p->frag_later && (proto == TCP || (proto == UDP && !p->udp_zero)))
		pkt_l4_fill(&b);
	memcpy(out, b.d, b.len);
	return b.len;
}

/* XDP verdict of frame through the root of a direction, or -errno. */
static int run(bool rev, const uint8_t *frame, size_t len, uint8_t *out, size_t *out_len)
{
	char p[256];
	int fd, err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
		    .data_size_out = PKT_MAX + 256);

	snprintf(p, sizeof(p), "%s/%s/%s", root, CHAIN, rev ? "root_rev" : "root_fwd");
	fd = bpf_obj_get(p);
	if (fd < 0)
		return -errno;
	err = bpf_prog_test_run_opts(fd, &o);
	close(fd);
	*out_len = o.data_size_out;
	return err ? -errno : (int)o.retval;
}

static const char *xdp_str(int v)
{
	static const char *const s[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

	return v >= 0 && v < 5 ? s[v] : "error";
}

static const char *addr_str(uint8_t fam, const uint8_t *a)
{
	static char buf[4][INET6_ADDRSTRLEN];
	static int i;
	char *o = buf[i++ & 3];

	inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, o, INET6_ADDRSTRLEN);
	return o;
}

/* Compares a frame with the one expected; says where they first differ. */
static void check_frame(const char *what, const uint8_t *got, size_t got_len, const uint8_t *want,
			size_t want_len)
{
	size_t i, n = got_len < want_len ? got_len : want_len;

	for (i = 0; i < n && got[i] == want[i]; i++)
		;
	CHECK(got_len == want_len && i == n,
	      "%s: output frame differs: length %zu, want %zu; first difference at byte %zu "
	      "(got %#04x, want %#04x)", what, got_len, want_len, i, i < n ? got[i] : 0,
	      i < n ? want[i] : 0);
}

/* The IP header and L4 checksums of a frame, each computed in full, are right. */
static void check_sums(const char *what, const uint8_t *f, size_t l3, bool udp_zero_ok)
{
	const uint8_t *ip = f + l3, *seg;
	size_t hlen, len;
	uint8_t proto;

	if ((ip[0] >> 4) == 4) {
		hlen = (ip[0] & 0xf) * 4;
		CHECK(pkt_csum(ip, hlen) == 0, "%s: IPv4 header checksum %#06x is wrong", what,
		      ip[10] << 8 | ip[11]);
		len = (ip[2] << 8 | ip[3]) - hlen;
		proto = ip[9];
	} else {
		hlen = 40;
		len = ip[4] << 8 | ip[5];
		proto = ip[6];
	}
	seg = ip + hlen;
	if (proto == UDP && udp_zero_ok && !seg[6] && !seg[7])
		return;
	if (proto == IPPROTO_ICMP) {
		CHECK(pkt_csum(seg, len) == 0, "%s: ICMP checksum %#06x is wrong", what,
		      seg[2] << 8 | seg[3]);
		return;
	}
	CHECK(pkt_l4_csum(ip, seg, len, proto) == 0, "%s: %s checksum %#06x is wrong", what,
	      proto == TCP ? "TCP" : proto == UDP ? "UDP" : "ICMPv6",
	      seg[proto == TCP ? 16 : proto == UDP ? 6 : 2] << 8 |
	      seg[proto == TCP ? 17 : proto == UDP ? 7 : 3]);
}

/*
 * in with its destination (dst) or source address and port replaced, and
 * the checksums computed afresh over the result.
 */
static size_t expect_nat(uint8_t *exp, const uint8_t *in, size_t len, size_t l3, bool dst,
			 const uint8_t *addr, uint16_t port)
{
	uint8_t *ip = exp + l3, *seg, proto;
	size_t hlen, seglen;
	uint16_t c;

	memcpy(exp, in, len);
	if ((ip[0] >> 4) == 4) {
		hlen = (ip[0] & 0xf) * 4;
		memcpy(ip + (dst ? 16 : 12), addr, 4);
		put16(ip + 10, 0);
		put16(ip + 10, pkt_csum(ip, hlen));
		seglen = (ip[2] << 8 | ip[3]) - hlen;
		proto = ip[9];
	} else {
		hlen = 40;
		memcpy(ip + (dst ? 24 : 8), addr, 16);
		seglen = ip[4] << 8 | ip[5];
		proto = ip[6];
	}
	seg = ip + hlen;
	put16(seg + (dst ? 2 : 0), port);
	if (proto == UDP && (ip[0] >> 4) == 4 && !seg[6] && !seg[7])
		return len;	/* no checksum, and none added */
	put16(seg + (proto == TCP ? 16 : 6), 0);
	c = pkt_l4_csum(ip, seg, seglen, proto);
	if (proto == UDP && !c)
		c = 0xffff;
	put16(seg + (proto == TCP ? 16 : 6), c);
	return len;
}

static uint32_t flow_hash(const struct tp *p)
{
	__be32 w[4];

	memcpy(w, p->src, 16);
	return sfc_lb_hash(w, htons(p->sport), htons(p->dport), p->proto);
}

/* in inside IP-in-IP to backend b: the outer header built from the RFCs. */
static size_t expect_encap(uint8_t *exp, const uint8_t *in, size_t len, size_t l3,
			   const struct tsvc *s, const struct tbk *b, const struct tp *p)
{
	const uint8_t *ip = in + l3;
	size_t inner = len - l3, o = s->fam == 4 ? 20 : 40;
	uint8_t *h = exp + l3;

	memcpy(exp, in, l3);
	memset(h, 0, o);
	if (s->fam == 4) {
		h[0] = 0x45;
		h[1] = ip[1];		/* TOS of the inner packet */
		put16(h + 2, inner + 20);
		put16(h + 6, IP_DF_);
		h[8] = 64;
		h[9] = 4;		/* IPPROTO_IPIP */
		if (encap4)
			inet_pton(AF_INET, encap4, h + 12);
		else
			memcpy(h + 12, s->v, 4);
		memcpy(h + 16, b->a, 4);
		put16(h + 10, pkt_csum(h, 20));
	} else {
		uint32_t tc = (ip[0] & 0x0f) << 4 | ip[1] >> 4;

		put32(h, 0x60000000 | tc << 20 | (flow_hash(p) & 0xfffff));
		put16(h + 4, inner);
		h[6] = 41;		/* IPPROTO_IPV6 */
		h[7] = 64;
		if (encap6)
			inet_pton(AF_INET6, encap6, h + 8);
		else
			memcpy(h + 8, s->v, 16);
		memcpy(h + 24, b->a, 16);
	}
	memcpy(h + o, ip, inner);
	return len + o;
}

/* The ICMP error a too-big packet in turns into, sent back to the client. */
static size_t expect_too_big(uint8_t *exp, const uint8_t *in, size_t len, size_t l3,
			     const struct tsvc *s, const struct tp *p)
{
	size_t inner = len - l3, hl = s->fam == 4 ? 20 : 40;
	size_t quote = inner < (s->fam == 4 ? 548u : 1232u) ? inner : (s->fam == 4 ? 548 : 1232);
	uint8_t *h = exp + l3, *icmp = h + hl;

	quote &= ~(size_t)3;
	memcpy(exp, in + 6, 6);		/* back to the sender's MAC */
	memcpy(exp + 6, in, 6);
	memcpy(exp + 12, in + 12, l3 - 12);
	memset(h, 0, hl + 8);
	memcpy(icmp + 8, in + l3, quote);
	if (s->fam == 4) {
		h[0] = 0x45;
		h[1] = 0xc0;
		put16(h + 2, 20 + 8 + quote);
		put16(h + 6, IP_DF_);
		h[8] = 64;
		h[9] = 1;
		memcpy(h + 12, s->v, 4);
		memcpy(h + 16, p->src, 4);
		put16(h + 10, pkt_csum(h, 20));
		icmp[0] = 3;		/* destination unreachable */
		icmp[1] = 4;		/* fragmentation needed and DF set */
		put16(icmp + 6, MTU - 20);
		put16(icmp + 2, pkt_csum(icmp, 8 + quote));
	} else {
		put32(h, 0x60000000);
		put16(h + 4, 8 + quote);
		h[6] = 58;
		h[7] = 64;
		memcpy(h + 8, s->v, 16);
		memcpy(h + 24, p->src, 16);
		icmp[0] = 2;		/* packet too big */
		put32(icmp + 4, MTU - 40);
		put16(icmp + 2, pkt_l4_csum(h, icmp, 8 + quote, 58));
	}
	return l3 + hl + 8 + quote;
}

/* A client somewhere: 198.18.0.0/15 or 2001:db8:c::/64, a random port. */
static struct tp client_of(const struct tsvc *s, uint8_t flags, uint16_t len)
{
	struct tp p = { .fam = s->fam, .proto = s->proto, .dport = s->port, .flags = flags,
			.len = len };
	uint64_t r = rnd();

	if (s->fam == 4) {
		p.src[0] = 198;
		p.src[1] = 18 + (r & 1);
		p.src[2] = r >> 8;
		p.src[3] = 1 + (r >> 16) % 254;
	} else {
		inet_pton(AF_INET6, "2001:db8:c::", p.src);
		memcpy(p.src + 8, &r, 8);
	}
	p.sport = 1024 + (rnd() % 64512);
	memcpy(p.dst, s->v, 16);
	return p;
}

/* ---- the model ---------------------------------------------------------- */

#define MCAP (1u << 18)

struct mconn {
	bool used, dead;
	struct sfc_lb_conn_key k;
	uint32_t backend, service;
	uint8_t addr[16];	/* reply entries: the VIP */
	uint16_t port;		/* network order */
	bool closing;
	uint64_t seen;		/* CLOCK_MONOTONIC, as the data path keeps it */
};

static struct mconn *mtab;
static unsigned int mcount;

static struct {
	uint64_t stat[SFC_LB_STAT_MAX];
	struct sfc_lb_counters svc[SFC_LB_MAX_SERVICES];
	struct sfc_lb_counters bk[SFC_LB_MAX_BACKENDS];
} want;

static const char *const stat_name[SFC_LB_STAT_MAX] = {
	"vip", "reply", "other", "conn_new", "conn_hit", "conn_expired", "conn_gone",
	"conn_failed", "no_backend", "too_big", "too_big_drop", "no_l4", "error",
};

static uint32_t khash(const struct sfc_lb_conn_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

/* The model's entry for k; with add, created (or revived) when missing. */
static struct mconn *mfind(const struct sfc_lb_conn_key *k, bool add)
{
	uint32_t i = khash(k) & (MCAP - 1);

	while (mtab[i].used) {
		if (!memcmp(&mtab[i].k, k, sizeof(*k))) {
			if (!mtab[i].dead)
				return &mtab[i];
			if (!add)
				return NULL;
			memset(&mtab[i], 0, sizeof(mtab[i]));
			break;
		}
		i = (i + 1) & (MCAP - 1);
	}
	if (!add)
		return NULL;
	if (mcount >= MCAP / 2)
		abort();
	mtab[i].used = true;
	mtab[i].k = *k;
	mcount++;
	return &mtab[i];
}

static void mdel(struct mconn *e)
{
	e->dead = true;
	mcount--;
}

/* The entry p would find: forward for a client's packet, reply for a backend's. */
static void key_of(const struct tp *p, uint8_t kind, struct sfc_lb_conn_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, p->src, 16);
	memcpy(k->dst, p->dst, 16);
	k->sport = htons(p->sport);
	k->dport = htons(p->dport);
	k->proto = p->proto;
	k->family = p->fam;
	k->kind = kind;
}

/* What backend b sends to client p: the key of the reply entry. */
static void reply_key(const struct tbk *b, const struct tp *p, struct sfc_lb_conn_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->src, b->a, 16);
	memcpy(k->dst, p->src, 16);
	k->sport = htons(b->rport);
	k->dport = htons(p->sport);
	k->proto = p->proto;
	k->family = p->fam;
	k->kind = SFC_LB_CONN_REPLY;
}

/*
 * The key the flow monitor after the balancer files a packet of p under once
 * the balancer has sent it to b: what the next function sees in sfc_pkt.
 * dsr: the tunnel, no ports.
 */
static void mon_key(struct sfc_flow_key *k, const struct tp *p, const struct tsvc *s,
		    const struct tbk *b)
{
	const char *src = p->fam == 4 ? encap4 : encap6;

	memset(k, 0, sizeof(*k));
	k->family = p->fam;
	k->vlan = p->n_vlan == 2 ? 100 : p->n_vlan == 1 ? 300 : 0;
	memcpy(k->dst, b->a, 16);
	if (s->mode == SFC_LB_NAT) {
		memcpy(k->src, p->src, 16);
		k->sport = htons(p->sport);
		k->dport = htons(b->rport);
		k->proto = p->proto;
	} else {
		if (src)
			inet_pton(p->fam == 4 ? AF_INET : AF_INET6, src, k->src);
		else
			memcpy(k->src, s->v, 16);
		k->proto = p->fam == 4 ? 4 : 41;	/* IPPROTO_IPIP, IPPROTO_IPV6 */
	}
}

static uint64_t mon_packets(const struct sfc_flow_key *k)
{
	static int fd = -1;
	struct sfc_flow v[ncpu];
	uint64_t n = 0;
	int i;

	if (fd < 0) {
		char p[256];

		snprintf(p, sizeof(p), "%s/%s/nf/%s/sfc_flowmon_flows", root, CHAIN, MON);
		fd = bpf_obj_get(p);
	}
	if (fd < 0 || bpf_map_lookup_elem(fd, k, v))
		return 0;
	for (i = 0; i < ncpu; i++)
		n += v[i].packets;
	return n;
}

/* The last frame client() or server() got back. */
static uint8_t last_out[PKT_MAX + 256];
static size_t last_len, last_l3;

static void model_reply(const struct tsvc *s, const struct tp *p, const struct tbk *b, bool closing,
			uint64_t now, bool overwrite)
{
	struct sfc_lb_conn_key rk;
	struct mconn *r;

	reply_key(b, p, &rk);
	r = mfind(&rk, false);
	if (r && !overwrite)
		return;
	if (!r) {
		r = mfind(&rk, true);
		want.stat[SFC_LB_STAT_CONN_NEW]++;
	}
	r->backend = b->id;
	r->service = s->id;
	memcpy(r->addr, s->v, 16);
	r->port = htons(s->port);
	r->closing = closing;
	r->seen = now;
}

static bool m_expired(const struct mconn *e, uint8_t proto, uint64_t now)
{
	uint64_t t = proto == TCP ? (e->closing ? CLOSING_NS : TCP_NS) : UDP_NS;

	return now > e->seen && now - e->seen > t;
}

static void count_to(struct sfc_lb_counters *c, size_t len, bool reply)
{
	if (reply) {
		c->reply_packets++;
		c->reply_bytes += len;
	} else {
		c->packets++;
		c->bytes += len;
	}
}

/*
 * A client's packet p to service s: predicted from the model (which it
 * updates), run through root_fwd, and its verdict and frame checked.
 * Returns the backend id it went to, or NONE.
 */
static uint32_t client(struct tsvc *s, const struct tp *p, const char *what)
{
	static uint8_t in[PKT_MAX], exp[PKT_MAX + 256];
	uint8_t *out = last_out;
	bool tcp = p->proto == TCP, closing = tcp && (p->flags & (TCP_FIN | TCP_RST));
	size_t len, l3, olen, elen = 0;
	struct sfc_flow_key mk;
	struct sfc_lb_conn_key k;
	uint64_t seen0 = 0;
	uint32_t bid = NONE;
	struct mconn *e;
	struct tbk *b;
	uint64_t now;
	int wantv, got;

	len = build(p, in, &l3);
	now = mono_ns();
	want.stat[SFC_LB_STAT_VIP]++;
	key_of(p, SFC_LB_CONN_FWD, &k);
	e = mfind(&k, false);
	if (e) {
		if (e->backend >= SFC_LB_MAX_BACKENDS || !present[e->backend] || e->service != s->id) {
			want.stat[SFC_LB_STAT_CONN_GONE]++;
		} else if (m_expired(e, p->proto, now) ||
			   (tcp && e->closing && (p->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)) {
			want.stat[SFC_LB_STAT_CONN_EXPIRED]++;
		} else {
			want.stat[SFC_LB_STAT_CONN_HIT]++;
			bid = e->backend;
			if (now > e->seen + SFC_LB_TOUCH_NS) {
				e->seen = now;
				if (s->mode == SFC_LB_NAT)
					model_reply(s, p, bk_by_id(bid), closing, now, false);
			}
			e->closing |= closing;
		}
	}
	if (bid == NONE) {
		if (!s->n_up) {
			want.stat[SFC_LB_STAT_NO_BACKEND]++;
			wantv = XDP_DROP;
			goto run;
		}
		bid = s->table[flow_hash(p) % TABLE];
		if (!e) {
			e = mfind(&k, true);
			want.stat[SFC_LB_STAT_CONN_NEW]++;
		}
		e->backend = bid;
		e->service = s->id;
		e->closing = closing;
		e->seen = now;
		if (s->mode == SFC_LB_NAT)
			model_reply(s, p, bk_by_id(bid), closing, now, true);
		want.svc[s->id].new_flows++;
		want.bk[bid].new_flows++;
	}
	b = bk_by_id(bid);
	if (!b) {
		CHECK(b, "%s: backend id %u is in no service", what, bid);
		return NONE;
	}
	if (s->mode == SFC_LB_DSR && len - l3 + (s->fam == 4 ? 20 : 40) > MTU) {
		if (s->fam == 4 && p->no_df) {
			want.stat[SFC_LB_STAT_TOO_BIG_DROP]++;
			wantv = XDP_DROP;
		} else {
			want.stat[SFC_LB_STAT_TOO_BIG]++;
			wantv = XDP_TX;
			elen = expect_too_big(exp, in, len, l3, s, p);
		}
	} else {
		count_to(&want.svc[s->id], len, false);
		count_to(&want.bk[bid], len, false);
		wantv = XDP_PASS;
		if (s->mode == SFC_LB_DSR)
			elen = expect_encap(exp, in, len, l3, s, b, p);
		else
			elen = expect_nat(exp, in, len, l3, true, b->a, b->rport);
	}
	if (wantv == XDP_PASS) {
		mon_key(&mk, p, s, b);
		seen0 = mon_packets(&mk);
	}
run:
	got = run(false, in, len, out, &olen);
	last_len = olen;
	last_l3 = l3;
	if (wantv == XDP_PASS)
		CHECK(mon_packets(&mk) == seen0 + 1,
		      "%s: the next function did not see the packet as sent: %s -> %s proto %u, "
		      "ports %u %u", what, addr_str(mk.family, (void *)mk.src),
		      addr_str(mk.family, (void *)mk.dst), mk.proto, ntohs(mk.sport),
		      ntohs(mk.dport));
	CHECK(got == wantv, "%s: %s %s:%u -> %s:%u: verdict %s, want %s", what,
	      tcp ? "tcp" : "udp", addr_str(p->fam, p->src), p->sport, addr_str(p->fam, p->dst),
	      p->dport, xdp_str(got), xdp_str(wantv));
	if (got != wantv || wantv == XDP_DROP)
		return wantv == XDP_DROP ? NONE : bid;
	check_frame(what, out, olen, exp, elen);
	if (wantv == XDP_PASS && s->mode == SFC_LB_NAT)
		check_sums(what, out, l3, true);
	else if (wantv == XDP_PASS)
		CHECK(pkt_csum(out + l3, 20) == 0 || s->fam == 6, "%s: outer IPv4 checksum", what);
	else
		check_sums(what, out, l3, false);
	return bid;
}

/* What backend b sends client c (as the client sent it): ports and addresses swapped. */
static struct tp reply_of(const struct tbk *b, const struct tp *c, uint8_t flags, uint16_t len)
{
	struct tp p = { .fam = c->fam, .proto = c->proto, .sport = b->rport, .dport = c->sport,
			.flags = flags, .len = len, .udp_zero = c->udp_zero };

	memcpy(p.src, b->a, 16);
	memcpy(p.dst, c->src, 16);
	return p;
}

/*
 * A backend's packet p to a client, through root_rev: rewritten back to the
 * VIP if the model has a reply entry for it, untouched otherwise.
 */
static void server(const struct tp *p, const char *what)
{
	static uint8_t in[PKT_MAX], exp[PKT_MAX + 256];
	struct sfc_lb_conn_key rk, fk;
	size_t n, l3, olen, elen;
	struct mconn *r, *f;
	uint64_t now;
	int got;

	n = build(p, in, &l3);
	now = mono_ns();
	key_of(p, SFC_LB_CONN_REPLY, &rk);
	r = mfind(&rk, false);
	if (!r) {
		want.stat[SFC_LB_STAT_OTHER]++;
		memcpy(exp, in, n);
		elen = n;
	} else {
		want.stat[SFC_LB_STAT_REPLY]++;
		count_to(&want.svc[r->service], n, true);
		count_to(&want.bk[r->backend], n, true);
		if (now > r->seen + SFC_LB_TOUCH_NS)
			r->seen = now;
		if (p->proto == TCP && (p->flags & (TCP_FIN | TCP_RST))) {
			r->closing = true;
			memset(&fk, 0, sizeof(fk));
			memcpy(fk.src, p->dst, 16);
			memcpy(fk.dst, r->addr, 16);
			fk.sport = htons(p->dport);
			fk.dport = r->port;
			fk.proto = p->proto;
			fk.family = p->fam;
			fk.kind = SFC_LB_CONN_FWD;
			f = mfind(&fk, false);
			if (f)
				f->closing = true;
		}
		elen = expect_nat(exp, in, n, l3, false, r->addr, ntohs(r->port));
	}
	got = run(true, in, n, last_out, &olen);
	last_len = olen;
	last_l3 = l3;
	CHECK(got == XDP_PASS, "%s: verdict %s, want PASS", what, xdp_str(got));
	if (got != XDP_PASS)
		return;
	check_frame(what, last_out, olen, exp, elen);
	if (r)
		check_sums(what, last_out, l3, true);
}

/* Something that is not the balancer's: handed on with every byte as it was. */
static void untouched(const struct tp *p, bool rev, int stat, const char *what)
{
	static uint8_t in[PKT_MAX], out[PKT_MAX + 256];
	size_t n, l3, olen;
	int got;

	n = build(p, in, &l3);
	want.stat[stat]++;
	got = run(rev, in, n, out, &olen);
	CHECK(got == XDP_PASS, "%s: verdict %s, want PASS", what, xdp_str(got));
	if (got == XDP_PASS)
		check_frame(what, out, olen, in, n);
}

/* ---- reading back ------------------------------------------------------- */

static void sum_counters(int fd, __u32 id, struct sfc_lb_counters *out)
{
	struct sfc_lb_counters v[ncpu];
	int i;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(fd, &id, v))
		return;
	for (i = 0; i < ncpu; i++) {
		out->packets += v[i].packets;
		out->bytes += v[i].bytes;
		out->reply_packets += v[i].reply_packets;
		out->reply_bytes += v[i].reply_bytes;
		out->new_flows += v[i].new_flows;
	}
}

static bool counters_eq(const struct sfc_lb_counters *a, const struct sfc_lb_counters *b)
{
	return a->packets == b->packets && a->bytes == b->bytes &&
	       a->reply_packets == b->reply_packets && a->reply_bytes == b->reply_bytes &&
	       a->new_flows == b->new_flows;
}

#define CTR_FMT									\
	"%" PRIu64 "/%" PRIu64 " packets/bytes, %" PRIu64 "/%" PRIu64 " replies, %" PRIu64 " new flows"
#define CTR_ARGS(c) (uint64_t)(c).packets, (uint64_t)(c).bytes, (uint64_t)(c).reply_packets, \
		    (uint64_t)(c).reply_bytes, (uint64_t)(c).new_flows

/* Every counter of the function, summed over the CPUs, equals the model's. */
static void check_counters(const char *part)
{
	int st = fn_map("sfc_lb_stats"), sv = fn_map("sfc_lb_svc_stats");
	int bk = fn_map("sfc_lb_bk_stats");
	struct sfc_lb_counters c;
	unsigned int bad = 0;
	uint64_t v[ncpu];
	__u32 k;
	int i;

	CHECK(st >= 0 && sv >= 0 && bk >= 0, "%s: counter pins", part);
	for (k = 0; st >= 0 && k < SFC_LB_STAT_MAX; k++) {
		uint64_t sum = 0;

		if (!bpf_map_lookup_elem(st, &k, v))
			for (i = 0; i < ncpu; i++)
				sum += v[i];
		CHECK(sum == want.stat[k], "%s: sfc_lb_stats %s: %" PRIu64 ", want %" PRIu64, part,
		      stat_name[k], sum, want.stat[k]);
	}
	for (k = 0; sv >= 0 && k < SFC_LB_MAX_SERVICES; k++) {
		sum_counters(sv, k, &c);
		if (!counters_eq(&c, &want.svc[k]) && bad++ < 5)
			fprintf(stderr, "%s: service %u: " CTR_FMT ", want " CTR_FMT "\n", part, k,
				CTR_ARGS(c), CTR_ARGS(want.svc[k]));
	}
	for (k = 0; bk >= 0 && k < SFC_LB_MAX_BACKENDS; k++) {
		sum_counters(bk, k, &c);
		if (!counters_eq(&c, &want.bk[k]) && bad++ < 5)
			fprintf(stderr, "%s: backend %u: " CTR_FMT ", want " CTR_FMT "\n", part, k,
				CTR_ARGS(c), CTR_ARGS(want.bk[k]));
	}
	CHECK(!bad, "%s: %u service and backend counters differ from the model", part, bad);
	close(st);
	close(sv);
	close(bk);
}

/* The pinned connection table holds exactly the model's entries. */
static void check_conns(const char *part)
{
	struct sfc_lb_conn_key key, next, *prev = NULL;
	int fd = fn_map("sfc_lb_conns");
	unsigned int n = 0, bad = 0, i;
	struct sfc_lb_conn v;

	CHECK(fd >= 0, "%s: sfc_lb_conns pin", part);
	if (fd < 0)
		return;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	CHECK(n == mcount, "%s: %u connection entries, the model has %u", part, n, mcount);
	for (i = 0; i < MCAP; i++) {
		const struct mconn *e = &mtab[i];
		bool ok;

		if (!e->used || e->dead)
			continue;
		ok = !bpf_map_lookup_elem(fd, &e->k, &v) && v.backend == e->backend &&
		     v.service == e->service && !!(v.flags & SFC_LB_CONN_CLOSING) == e->closing;
		if (ok && e->k.kind == SFC_LB_CONN_REPLY)
			ok = !memcmp(v.addr, e->addr, 16) && v.port == e->port;
		if (!ok && bad++ < 5)
			fprintf(stderr, "%s: %s entry %s:%u -> %s:%u: backend %u service %u flags %#x, "
				"want backend %u service %u closing %d\n", part,
				e->k.kind ? "reply" : "forward", addr_str(e->k.family, (void *)e->k.src),
				ntohs(e->k.sport), addr_str(e->k.family, (void *)e->k.dst),
				ntohs(e->k.dport), v.backend, v.service, v.flags, e->backend,
				e->service, e->closing);
	}
	CHECK(!bad, "%s: %u connection entries differ from the model", part, bad);
	close(fd);
}

static void check_all(const char *part)
{
	check_counters(part);
	check_conns(part);
}

/* The pinned entry of a model entry, to read or to age. */
static int conn_get(const struct mconn *e, struct sfc_lb_conn *v)
{
	int fd = fn_map("sfc_lb_conns"), err;

	err = fd < 0 ? -1 : bpf_map_lookup_elem(fd, &e->k, v);
	if (fd >= 0)
		close(fd);
	return err;
}

static int conn_set(const struct mconn *e, const struct sfc_lb_conn *v)
{
	int fd = fn_map("sfc_lb_conns"), err;

	err = fd < 0 ? -1 : bpf_map_update_elem(fd, &e->k, v, BPF_EXIST);
	if (fd >= 0)
		close(fd);
	return err;
}

static struct mconn *fwd_entry(const struct tp *p)
{
	struct sfc_lb_conn_key k;

	key_of(p, SFC_LB_CONN_FWD, &k);
	return mfind(&k, false);
}

/*
 * Rewrites a flow's forward entry as if it had been idle for ago ns, with
 * backend and closing as given; the model follows.
 */
static void age(const struct tp *p, uint32_t backend, bool closing, uint64_t ago)
{
	struct mconn *e = fwd_entry(p);
	struct sfc_lb_conn v;

	CHECK(e && !conn_get(e, &v), "age: no entry for the flow");
	CHECK(mono_ns() > ago, "age: the machine has been up for less than %" PRIu64 " ms",
	      ago / 1000000);
	if (!e)
		return;
	e->seen = mono_ns() - ago;
	e->backend = backend;
	e->closing = closing;
	v.seen_ns = e->seen;
	v.backend = backend;
	v.flags = closing ? SFC_LB_CONN_CLOSING : 0;
	CHECK(!conn_set(e, &v), "age: update: %s", strerror(errno));
}

/* ---- the parts ---------------------------------------------------------- */

/* Client and backend both ways, TCP and UDP, checksums computed in full. */
static void test_nat(int fam)
{
	struct tsvc *t = SVC(fam, K_TCP), *u = SVC(fam, K_UDP);
	size_t l3, hl = fam == 4 ? 20 : 40;
	uint8_t f[PKT_MAX];
	char what[96];
	struct tp p, q;
	struct tbk *b;
	uint32_t bid;

	snprintf(what, sizeof(what), "nat v%d tcp", fam);
	p = client_of(t, TCP_SYN, 0);
	bid = client(t, &p, what);
	p.flags = TCP_ACK | TCP_PSH;
	p.len = 100;
	CHECK(client(t, &p, what) == bid, "%s: the flow's second packet went elsewhere", what);
	b = bk_by_id(bid);
	if (b) {
		q = reply_of(b, &p, TCP_SYN | TCP_ACK, 0);
		server(&q, what);
		q = reply_of(b, &p, TCP_ACK | TCP_PSH, 300);
		server(&q, what);
	}

	snprintf(what, sizeof(what), "nat v%d udp", fam);
	p = client_of(u, 0, 33);
	p.tos = 0x2e;
	bid = client(u, &p, what);
	b = bk_by_id(bid);
	if (b) {
		q = reply_of(b, &p, 0, 77);
		server(&q, what);
	}

	if (fam == 4) {
		snprintf(what, sizeof(what), "nat v4 udp without checksum");
		p = client_of(u, 0, 20);
		p.udp_zero = true;
		bid = client(u, &p, what);
		CHECK(!last_out[last_l3 + 26] && !last_out[last_l3 + 27],
		      "%s: a UDP checksum was added", what);
		b = bk_by_id(bid);
		if (b) {
			q = reply_of(b, &p, 0, 20);
			server(&q, what);
			CHECK(!last_out[last_l3 + 26] && !last_out[last_l3 + 27],
			      "%s: reply: a UDP checksum was added", what);
		}
	}

	/*
	 * A datagram whose rewritten checksum comes out 0 must carry 0xFFFF:
	 * the payload's first word is what makes the sum of the rewritten
	 * datagram all ones, found by building it first with the word 0 (the
	 * checksum of that is the word missing).
	 */
	snprintf(what, sizeof(what), "nat v%d udp checksum 0 sent as 0xffff", fam);
	p = client_of(u, 0, 16);
	b = bk_by_id(u->table[flow_hash(&p) % TABLE]);
	if (!b)
		return;
	q = p;
	memcpy(q.dst, b->a, 16);
	q.dport = b->rport;
	q.udp_zero = true;
	q.has_word0 = true;
	build(&q, f, &l3);
	p.has_word0 = true;
	p.word0 = pkt_l4_csum(f + l3, f + l3 + hl, 8 + 16, UDP);
	client(u, &p, what);
	CHECK(last_out[last_l3 + hl + 6] == 0xff && last_out[last_l3 + hl + 7] == 0xff,
	      "%s: UDP checksum %#04x%02x, want 0xffff", what, last_out[last_l3 + hl + 6],
	      last_out[last_l3 + hl + 7]);

	snprintf(what, sizeof(what), "nat v%d udp reply checksum 0 sent as 0xffff", fam);
	q = reply_of(b, &p, 0, 16);
	memcpy(q.src, u->v, 16);
	q.sport = u->port;
	q.udp_zero = true;
	q.has_word0 = true;
	q.word0 = 0;
	build(&q, f, &l3);
	q = reply_of(b, &p, 0, 16);
	q.has_word0 = true;
	q.word0 = pkt_l4_csum(f + l3, f + l3 + hl, 8 + 16, UDP);
	server(&q, what);
	CHECK(last_out[last_l3 + hl + 6] == 0xff && last_out[last_l3 + hl + 7] == 0xff,
	      "%s: UDP checksum %#04x%02x, want 0xffff", what, last_out[last_l3 + hl + 6],
	      last_out[last_l3 + hl + 7]);
}

/* Traffic that is not the balancer's goes on with every byte as it came. */
static void test_other(int fam)
{
	struct tsvc *t = SVC(fam, K_TCP), *d = SVC(fam, K_DSR_UDP);
	char what[96];
	struct tp p, q;
	uint32_t bid;
	struct tbk *b;

	snprintf(what, sizeof(what), "other v%d: not a VIP", fam);
	p = client_of(t, TCP_SYN, 10);
	p.dst[fam == 4 ? 3 : 15] ^= 0x40;
	untouched(&p, false, SFC_LB_STAT_OTHER, what);

	snprintf(what, sizeof(what), "other v%d: the VIP, another port", fam);
	p = client_of(t, TCP_SYN, 10);
	p.dport = 81;
	untouched(&p, false, SFC_LB_STAT_OTHER, what);

	snprintf(what, sizeof(what), "other v%d: the VIP's port, another protocol", fam);
	p = client_of(t, 0, 10);
	p.proto = UDP;
	untouched(&p, false, SFC_LB_STAT_OTHER, what);

	snprintf(what, sizeof(what), "other v%d: ICMP echo to the VIP", fam);
	p = client_of(t, 0, 24);
	p.proto = fam == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	untouched(&p, false, SFC_LB_STAT_OTHER, what);

	snprintf(what, sizeof(what), "other v%d: a later fragment to the VIP", fam);
	p = client_of(t, 0, 24);
	p.frag_later = true;
	untouched(&p, false, SFC_LB_STAT_NO_L4, what);

	snprintf(what, sizeof(what), "other v%d: a backend to a client it has no flow with", fam);
	p = client_of(t, 0, 24);
	q = reply_of(&t->bk[0], &p, TCP_ACK, 10);
	server(&q, what);

	/* dsr has no reply entries: the backend answers from the VIP itself. */
	snprintf(what, sizeof(what), "other v%d: a dsr backend answering", fam);
	p = client_of(d, 0, 24);
	bid = client(d, &p, what);
	b = bk_by_id(bid);
	if (b) {
		q = reply_of(b, &p, 0, 10);
		server(&q, what);
	}
}

/* IP-in-IP, byte by byte; VLAN tags stay in front. */
static void test_dsr(int fam)
{
	static const uint8_t tos[] = { 0, 0xb9, 0x02 };
	char what[96];
	struct tp p;
	uint32_t bid;
	int k, v;

	for (k = K_DSR_TCP; k <= K_DSR_UDP; k++) {
		struct tsvc *s = SVC(fam, k);

		for (v = 0; v <= 2; v++) {
			snprintf(what, sizeof(what), "dsr v%d %s, %d VLAN tags", fam,
				 s->proto == TCP ? "tcp" : "udp", v);
			p = client_of(s, TCP_SYN, 40 + 100 * v);
			p.n_vlan = v;
			p.tos = tos[v];
			bid = client(s, &p, what);
			p.flags = TCP_ACK;
			CHECK(client(s, &p, what) == bid, "%s: the flow's second packet went elsewhere",
			      what);
		}
	}
}

/* Too big for the tunnel: an ICMP error back (XDP_TX), or dropped. */
static void test_too_big(int fam)
{
	struct tsvc *s = SVC(fam, K_DSR_UDP), *t = SVC(fam, K_DSR_TCP);
	unsigned int o = fam == 4 ? 20 : 40, hl = fam == 4 ? 20 : 40;
	char what[96];
	struct tp p;

	snprintf(what, sizeof(what), "dsr v%d: exactly the mtu with the outer header", fam);
	p = client_of(s, 0, MTU - o - hl - 8);
	client(s, &p, what);

	snprintf(what, sizeof(what), "dsr v%d: one byte over: ICMP back", fam);
	p = client_of(s, 0, MTU - o - hl - 8 + 1);
	client(s, &p, what);

	snprintf(what, sizeof(what), "dsr v%d tcp: full-size, VLAN-tagged: ICMP back", fam);
	p = client_of(t, TCP_ACK, MTU - hl - 20);
	p.n_vlan = 1;
	client(t, &p, what);

	if (fam == 4) {
		snprintf(what, sizeof(what), "dsr v4: too big without DF: dropped");
		p = client_of(s, 0, MTU - hl - 8);
		p.no_df = true;
		client(s, &p, what);
	}
}

/* The same 5-tuple always lands on the same backend, the one Maglev names. */
static void test_affinity(int fam)
{
	static struct tp flows[300];
	static uint32_t first[300];
	struct tsvc *t = SVC(fam, K_TCP), *u = SVC(fam, K_UDP);
	unsigned int i, moved = 0;
	char what[64];

	snprintf(what, sizeof(what), "affinity v%d", fam);
	for (i = 0; i < N(flows); i++) {
		struct tsvc *s = i & 1 ? u : t;

		flows[i] = client_of(s, TCP_SYN, i % 50);
		first[i] = client(s, &flows[i], what);
	}
	for (i = 0; i < N(flows); i++) {
		struct tsvc *s = i & 1 ? u : t;

		flows[i].flags = TCP_ACK;
		moved += client(s, &flows[i], what) != first[i];
	}
	CHECK(!moved, "%s: %u of %zu flows changed backend", what, moved, N(flows));
}

/* Flows of the weight test, kept for the re-applies. */
#define WFLOWS 4000
static struct tp wflow[2][WFLOWS];
static uint32_t wbk[2][WFLOWS];

/* Many random flows spread over the backends by weight. */
static void test_weights(int fam)
{
	struct tsvc *t = SVC(fam, K_TCP);
	unsigned int got[MAX_BK] = { 0 }, entries[MAX_BK] = { 0 }, i, j, wsum = 0;
	char what[64];

	snprintf(what, sizeof(what), "weights v%d", fam);
	for (i = 0; i < WFLOWS; i++) {
		wflow[fam == 6][i] = client_of(t, TCP_SYN, 0);
		wbk[fam == 6][i] = client(t, &wflow[fam == 6][i], what);
		for (j = 0; j < t->n; j++)
			got[j] += wbk[fam == 6][i] == t->bk[j].id;
	}
	for (i = 0; i < TABLE; i++)
		for (j = 0; j < t->n; j++)
			entries[j] += t->table[i] == t->bk[j].id;
	for (j = 0; j < t->n; j++)
		wsum += t->bk[j].weight;
	for (j = 0; j < t->n; j++) {
		double w = (double)t->bk[j].weight / wsum, f = (double)got[j] / WFLOWS;
		double e = (double)entries[j] / TABLE;

		printf("%s: backend %s weight %u: %.3f of the flows, %.3f of the table, want %.3f\n",
		       what, t->bk[j].addr, t->bk[j].weight, f, e, w);
		CHECK(f > w - 0.05 && f < w + 0.05, "%s: backend %s: %.3f of the flows, want %.3f",
		      what, t->bk[j].addr, f, w);
		CHECK(e > w - 0.05 && e < w + 0.05, "%s: backend %s: %.3f of the table, want %.3f",
		      what, t->bk[j].addr, e, w);
	}
}

/* Another live backend of s than id. */
static uint32_t other_backend(const struct tsvc *s, uint32_t id)
{
	unsigned int j;

	for (j = 0; j < s->n; j++)
		if (s->bk[j].id != id && s->bk[j].weight && !s->bk[j].drain)
			return s->bk[j].id;
	return NONE;
}

/* FIN and RST, reused tuples, timeouts, refreshes, a lost reply entry. */
static void test_states(int fam)
{
	struct tsvc *t = SVC(fam, K_TCP), *u = SVC(fam, K_UDP);
	struct sfc_lb_conn v, v2;
	struct sfc_lb_conn_key rk;
	struct mconn *e, *r;
	char what[96];
	uint32_t bid, alt;
	uint64_t t0, seen;
	struct tp p, q;
	int fd;

	snprintf(what, sizeof(what), "states v%d: client FIN", fam);
	p = client_of(t, TCP_SYN, 0);
	bid = client(t, &p, what);
	p.flags = TCP_FIN | TCP_ACK;
	client(t, &p, what);
	e = fwd_entry(&p);
	CHECK(e && !conn_get(e, &v) && (v.flags & SFC_LB_CONN_CLOSING),
	      "%s: the entry is not closing", what);

	snprintf(what, sizeof(what), "states v%d: a SYN on a closing tuple", fam);
	p.flags = TCP_SYN;
	CHECK(client(t, &p, what) == bid, "%s: re-picked elsewhere", what);
	CHECK(e && !conn_get(e, &v) && !(v.flags & SFC_LB_CONN_CLOSING),
	      "%s: the new connection's entry is closing", what);
	p.flags = TCP_RST;
	client(t, &p, what);
	CHECK(e && !conn_get(e, &v) && (v.flags & SFC_LB_CONN_CLOSING), "%s: RST: not closing",
	      what);
	/* An ACK in a closing connection is no new connection. */
	p.flags = TCP_ACK;
	client(t, &p, what);

	snprintf(what, sizeof(what), "states v%d: backend FIN", fam);
	p = client_of(t, TCP_SYN, 0);
	bid = client(t, &p, what);
	if (bk_by_id(bid)) {
		q = reply_of(bk_by_id(bid), &p, TCP_FIN | TCP_ACK, 0);
		server(&q, what);
	}
	e = fwd_entry(&p);
	CHECK(e && !conn_get(e, &v) && (v.flags & SFC_LB_CONN_CLOSING),
	      "%s: the forward entry is not closing", what);

	/* The table decides, not Maglev: an entry naming another backend is obeyed. */
	snprintf(what, sizeof(what), "states v%d: the entry's backend", fam);
	p = client_of(t, TCP_SYN, 0);
	bid = client(t, &p, what);
	alt = other_backend(t, bid);
	age(&p, alt, false, 0);
	p.flags = TCP_ACK;
	CHECK(client(t, &p, what) == alt, "%s: not sent where the entry says", what);

	snprintf(what, sizeof(what), "states v%d: idle past the tcp timeout", fam);
	age(&p, alt, false, TCP_NS + NS);
	t0 = mono_ns();
	CHECK(client(t, &p, what) == bid, "%s: not re-picked by Maglev", what);
	e = fwd_entry(&p);
	CHECK(e && !conn_get(e, &v) && v.seen_ns >= t0, "%s: seen not renewed", what);

	snprintf(what, sizeof(what), "states v%d: closing, idle past tcpClosing", fam);
	age(&p, alt, true, CLOSING_NS + NS);
	CHECK(client(t, &p, what) == bid, "%s: not re-picked", what);

	snprintf(what, sizeof(what), "states v%d: open, idle as long", fam);
	age(&p, alt, false, CLOSING_NS + NS);
	t0 = mono_ns();
	CHECK(client(t, &p, what) == alt, "%s: re-picked", what);
	CHECK(e && !conn_get(e, &v) && v.seen_ns >= t0, "%s: seen not refreshed", what);

	snprintf(what, sizeof(what), "states v%d: seen less than a second ago", fam);
	age(&p, bid, false, NS / 2);
	seen = e ? e->seen : 0;
	client(t, &p, what);
	CHECK(e && !conn_get(e, &v) && v.seen_ns == seen, "%s: seen rewritten within a second",
	      what);

	/* Evicted on its own (LRU), the reply entry comes back within a second. */
	snprintf(what, sizeof(what), "states v%d: a lost reply entry", fam);
	if (bk_by_id(bid)) {
		reply_key(bk_by_id(bid), &p, &rk);
		r = mfind(&rk, false);
		fd = fn_map("sfc_lb_conns");
		CHECK(r && fd >= 0 && !bpf_map_delete_elem(fd, &rk), "%s: delete", what);
		if (fd >= 0)
			close(fd);
		if (r)
			mdel(r);
		age(&p, bid, false, 2 * NS);
		client(t, &p, what);
		r = mfind(&rk, false);
		CHECK(r && !conn_get(r, &v2) && !memcmp(v2.addr, t->v, 16) &&
		      v2.port == htons(t->port), "%s: not put back", what);
		q = reply_of(bk_by_id(bid), &p, TCP_ACK, 5);
		server(&q, what);
	}

	snprintf(what, sizeof(what), "states v%d: udp idle past its timeout", fam);
	p = client_of(u, 0, 8);
	bid = client(u, &p, what);
	alt = other_backend(u, bid);
	age(&p, alt, false, UDP_NS + NS);
	CHECK(client(u, &p, what) == bid, "%s: not re-picked", what);
	snprintf(what, sizeof(what), "states v%d: udp idle within its timeout", fam);
	age(&p, alt, false, UDP_NS - NS);
	CHECK(client(u, &p, what) == alt, "%s: re-picked", what);
}

/* Drained: keeps its flows, gets no new ones. */
static void test_drain(void)
{
	unsigned int i, f, kept = 0, old = 0, wrong = 0;
	struct tsvc *s;
	int fam;

	SVC(4, K_TCP)->bk[1].drain = true;
	SVC(6, K_TCP)->bk[1].drain = true;
	reapply("drain");
	for (fam = 4; fam <= 6; fam += 2) {
		s = SVC(fam, K_TCP);
		for (i = 0; i < TABLE; i++)
			wrong += s->table[i] == s->bk[1].id;
		for (f = 0; f < WFLOWS && old < 100 * (fam == 4 ? 1 : 2); f++) {
			if (wbk[fam == 6][f] != s->bk[1].id)
				continue;
			old++;
			wflow[fam == 6][f].flags = TCP_ACK;
			kept += client(s, &wflow[fam == 6][f], "drain: an old flow") == s->bk[1].id;
		}
		for (f = 0; f < 2000; f++) {
			struct tp p = client_of(s, TCP_SYN, 0);

			wrong += client(s, &p, "drain: a new flow") == s->bk[1].id;
		}
	}
	CHECK(old == 200 && kept == old, "drain: %u of %u old flows kept their drained backend",
	      kept, old);
	CHECK(!wrong, "drain: the drained backend got %u new flows or table entries", wrong);
	check_all("drain");
}

/* Removed: its flows move (CONN_GONE); the others stay. */
static void test_remove(void)
{
	unsigned int f, moved = 0, gone = 0, stayed = 0, others = 0;
	uint64_t gone0 = want.stat[SFC_LB_STAT_CONN_GONE];
	uint32_t removed[2];
	struct tsvc *s;
	int fam;

	for (fam = 4; fam <= 6; fam += 2) {
		s = SVC(fam, K_TCP);
		removed[fam == 6] = s->bk[2].id;
		s->n = 2;
	}
	reapply("remove");
	for (fam = 4; fam <= 6; fam += 2) {
		s = SVC(fam, K_TCP);
		CHECK(!present[removed[fam == 6]], "remove: backend still in the config");
		for (f = 0; f < 400; f++) {
			struct tp *p = &wflow[fam == 6][f];
			uint32_t b;

			p->flags = TCP_ACK;
			b = client(s, p, "remove: a flow");
			if (wbk[fam == 6][f] == removed[fam == 6]) {
				gone++;
				moved += b != removed[fam == 6] && b != NONE;
			} else {
				others++;
				stayed += b == wbk[fam == 6][f];
			}
		}
	}
	CHECK(gone > 0 && moved == gone, "remove: %u of %u flows of the removed backend moved", moved,
	      gone);
	CHECK(stayed == others, "remove: %u of %u other flows kept their backend", stayed, others);
	CHECK(want.stat[SFC_LB_STAT_CONN_GONE] - gone0 == gone,
	      "remove: the model counted %" PRIu64 " gone, %u sent",
	      want.stat[SFC_LB_STAT_CONN_GONE] - gone0, gone);
	check_all("remove");
}

/* No backend up: new flows dropped (NO_BACKEND), a drained one's flows go on. */
static void test_no_backend(void)
{
	struct tp p[2];
	uint32_t bid[2];
	unsigned int j, f;
	int fam, round;

	for (fam = 4; fam <= 6; fam += 2) {
		p[fam == 6] = client_of(SVC(fam, K_SPARE), TCP_SYN, 0);
		bid[fam == 6] = client(SVC(fam, K_SPARE), &p[fam == 6], "no backend: before");
	}
	for (round = 0; round < 2; round++) {
		const char *what = round ? "no backend: all weight 0" : "no backend: all drained";

		for (fam = 4; fam <= 6; fam += 2)
			for (j = 0; j < SVC(fam, K_SPARE)->n; j++) {
				SVC(fam, K_SPARE)->bk[j].drain = !round;
				SVC(fam, K_SPARE)->bk[j].weight = round ? 0 : 1;
			}
		reapply(what);
		for (fam = 4; fam <= 6; fam += 2) {
			struct tsvc *s = SVC(fam, K_SPARE);

			CHECK(s->n_up == 0, "%s: %u backends up", what, s->n_up);
			for (f = 0; f < 20; f++) {
				struct tp q = client_of(s, TCP_SYN, f);

				CHECK(client(s, &q, what) == NONE, "%s: a new flow was served", what);
			}
			p[fam == 6].flags = TCP_ACK;
			CHECK(client(s, &p[fam == 6], what) == bid[fam == 6],
			      "%s: an old flow lost its backend", what);
		}
		check_all(what);
	}
}

static void cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s 2>/dev/null", ns, root);
	if (system(cmd))
		fprintf(stderr, "cleanup: %s failed\n", cmd);
}

int main(int argc, char **argv)
{
	enum sfc_apply_result res;
	struct sfc_diag d = {};
	cpu_set_t cpus;
	uint64_t seed;
	int fam, err;

	if (geteuid())
		TEST_SKIP("needs root for BPF and netns");
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		TEST_SKIP("cannot count the possible CPUs");
	seed = argc > 1 ? strtoull(argv[1], NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	rng = seed;
	printf("seed %" PRIu64 " (test_lb %" PRIu64 " repeats this run)\n", seed, seed);
	/* One CPU: the LRU hands out entries from per-CPU caches; one story. */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	mtab = calloc(MCAP, sizeof(*mtab));
	if (!mtab)
		return 1;
	sfc_set_log(log_cb, NULL, SFC_LOG_WARN);
	snprintf(ns, sizeof(ns), "sfclb%d", getpid());
	snprintf(root, sizeof(root), "/sys/fs/bpf/sfc-lbtest-%d", getpid());
	atexit(cleanup);
	testns_enter(ns);

	err = apply(&res);
	CHECK(!err && res == SFC_APPLY_CREATED, "apply: %s, %s", strerror(-err),
	      sfc_apply_result__str(res));
	if (err)
		TEST_DONE();
	check_all("fresh");
	for (fam = 4; fam <= 6; fam += 2) {
		test_nat(fam);
		check_all(fam == 4 ? "nat v4" : "nat v6");
		test_other(fam);
		check_all(fam == 4 ? "other v4" : "other v6");
		test_dsr(fam);
		test_too_big(fam);
		check_all(fam == 4 ? "dsr v4" : "dsr v6");
		test_affinity(fam);
		test_weights(fam);
		check_all(fam == 4 ? "affinity and weights v4" : "affinity and weights v6");
	}
	/* Timeouts of a few seconds: the states part ages entries past them. */
	tcp_s = 4;
	closing_s = 2;
	udp_s = 3;
	reapply("short timeouts");
	test_states(4);
	test_states(6);
	check_all("states");
	/* And the other encapsulation sources: IPv4 none (the VIP), IPv6 one. */
	tcp_s = 15 * 60;
	closing_s = 10;
	udp_s = 5 * 60;
	encap4 = NULL;
	encap6 = "2001:db8:ff::1";
	reapply("long timeouts, other encapSource");
	test_dsr(4);
	test_dsr(6);
	check_all("dsr, other encapSource");
	test_drain();
	test_remove();
	test_no_backend();

	err = sfc_chain__delete(CHAIN, root, &d);
	CHECK(!err, "delete: %s", strerror(-err));
	TEST_DONE();
}
