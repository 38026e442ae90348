// SPDX-License-Identifier: GPL-2.0
/*
 * The flow monitor under BPF_PROG_TEST_RUN, as part of a whole chain: a chain
 * of one flowmon function (egress pass) is applied with libsfc onto a veth in
 * a private netns (IPv6 off, so that no ND or MLD packet reaches it), and
 * fixture packets run through its pinned roots, root_rev for the other side.
 *
 * A model of the table is kept as the fixtures run (one entry per direction
 * of a 5-tuple, VLAN and chain direction; packets, bytes, TCP flags, end
 * bits; a FIN/RST notice for each new end bit), and the pinned table, the
 * ring buffer of notices, the counters, sfc_flowmon__flows() and sfcctl flows
 * must all agree with it exactly. Then: config-only re-applies keep the
 * table and change the sampling (10000 packets at 1 in 10), an end is
 * noticed when sampling skips its packet, a changed maxFlows is refused, the
 * agent's counters are read, a new generation keeps the table, and a table
 * of 8 entries takes 200 flows, evictions derived right.
 *
 * Last, the final verdicts through the chain's verdict hook, on a chain of
 * its own with a firewall and egress redirect: forwarded, passed and
 * dropped (by which function) flows with the monitor before and behind the
 * firewall, in both directions, IPv4 and IPv6; an empty hook slot without a
 * monitor; a packet the monitor did not account leaves the last flow alone;
 * a second monitor records nothing.
 *
 * Usage: test_flowmon [SFCCTL]	(default: ../../loader/sfcctl from here)
 * Needs root (BPF, netns): prints SKIP and exits 77 without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sfc/sfc.h"
#include "shared/sfc_abi.h"
#include "shared/sfc_flow.h"
#include "../testlib.h"
/* pkt.h is a kit of static helpers; this test needs only some. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pkt.h"
#include "testns.h"
#pragma GCC diagnostic pop

#define CHAIN "fmt"
#define FN "mon"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char ns[32], root[64], sfcctl[PATH_MAX];
static int ncpu;
static unsigned int sampling = 1;	/* as last applied */

/* ---- packets ------------------------------------------------------------ */

enum { F_NONE, F_FIRST, F_LATER };			/* IP fragment */
enum { IX_NONE, IX_ECHO_REQ, IX_ECHO_REPLY, IX_UNREACH };	/* ICMP of the family */

struct pk {
	uint8_t fam;		/* 0: the table's family */
	uint8_t proto;		/* 0: UDP */
	uint8_t a, b;		/* sender and receiver: 10.0.0.N, 2001:db8::N; 0: 1 -> 2 (2 -> 1 rev) */
	uint16_t sport, dport;	/* TCP, UDP; sport is the id of ICMP echoes */
	uint8_t flags;		/* TCP */
	uint8_t icmpx;		/* IX_*: protocol, type and code of the family */
	uint16_t vlan;
	uint8_t frag;		/* F_* */
	uint16_t len;		/* payload bytes */
	bool rev;		/* through root_rev */
};

#define TCP .proto = IPPROTO_TCP
#define GRE .proto = 47

static const uint8_t icmp_type[2][4] = { { 0, 8, 0, 3 }, { 0, 128, 129, 1 } };
static const uint8_t icmp_code[2][4] = { { 0, 0, 0, 3 }, { 0, 0, 0, 4 } };

static uint8_t proto_of(const struct pk *p, int fam)
{
	if (p->icmpx)
		return fam == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	return p->proto ? p->proto : IPPROTO_UDP;
}

static void hosts(const struct pk *p, uint8_t *a, uint8_t *b)
{
	*a = p->a ? p->a : p->rev ? 2 : 1;
	*b = p->b ? p->b : p->rev ? 1 : 2;
}

static size_t build(const struct pk *p, int fam, uint8_t *out)
{
	static const uint16_t frag4[] = { IP_DF_, IP_MF_, 185 };
	uint8_t proto = proto_of(p, fam), a, b;
	uint16_t l3 = fam == 4 ? ETH_P_IP_ : ETH_P_IPV6_;
	struct pkt_buf pb;

	hosts(p, &a, &b);
	pkt_init(&pb);
	if (p->vlan) {
		pkt_eth(&pb, ETH_P_8021Q_);
		pkt_vlan(&pb, p->vlan, l3);
	} else {
		pkt_eth(&pb, l3);
	}
	if (fam == 4) {
		pkt_ipv4_opt(&pb, proto, IP4(10, 0, 0, a), IP4(10, 0, 0, b), 0, frag4[p->frag]);
	} else {
		pkt_ipv6(&pb, p->frag ? 44 : proto, a, b);
		if (p->frag)
			pkt_ip6_frag(&pb, proto, p->frag == F_FIRST ? 0 : 185, p->frag == F_FIRST);
	}
	if (p->frag == F_LATER)
		pkt_payload(&pb, 16 + p->len);	/* the middle of a datagram: no L4 header */
	else if (proto == IPPROTO_TCP)
		pkt_tcp(&pb, p->sport, p->dport, p->flags);
	else if (proto == IPPROTO_UDP)
		pkt_udp(&pb, p->sport, p->dport);
	else if (p->icmpx)
		pkt_icmp(&pb, icmp_type[fam == 6][p->icmpx], icmp_code[fam == 6][p->icmpx],
			 p->sport, 1);
	else
		pkt_payload(&pb, 8);
	if (p->frag != F_LATER)
		pkt_payload(&pb, p->len);
	pkt_done(&pb);
	memcpy(out, pb.d, pb.len);
	return pb.len;
}

/* The key the monitor should file p under: written from the ABI's words. */
static void key_of(const struct pk *p, int fam, struct sfc_flow_key *k)
{
	uint8_t proto = proto_of(p, fam), a, b;

	memset(k, 0, sizeof(*k));
	hosts(p, &a, &b);
	k->family = fam;
	k->proto = proto;
	k->vlan = p->vlan;
	k->dir = p->rev;
	if (fam == 4) {
		k->src[0] = IP4(10, 0, 0, a);
		k->dst[0] = IP4(10, 0, 0, b);
	} else {
		k->src[0] = k->dst[0] = BE32(0x20010db8);
		k->src[3] = BE32(a);
		k->dst[3] = BE32(b);
	}
	if (p->frag == F_LATER)
		return;		/* no L4 header: ports 0 */
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		k->sport = htons(p->sport);
		k->dport = htons(p->dport);
	} else if (p->icmpx) {
		uint8_t t = icmp_type[fam == 6][p->icmpx];

		k->dport = htons(t << 8 | icmp_code[fam == 6][p->icmpx]);
		if (p->icmpx == IX_ECHO_REQ || p->icmpx == IX_ECHO_REPLY)
			k->sport = htons(p->sport);
	}
}

static const char *key_str(const struct sfc_flow_key *k)
{
	static char buf[4][160];
	static int i;
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	char *o = buf[i++ & 3];

	inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, k->src, s, sizeof(s));
	inet_ntop(k->family == 6 ? AF_INET6 : AF_INET, k->dst, d, sizeof(d));
	snprintf(o, 160, "%s proto %u %s:%u -> %s:%u vlan %u", k->dir ? "rev" : "fwd", k->proto,
		 s, ntohs(k->sport), d, ntohs(k->dport), k->vlan);
	return o;
}

/* ---- the chain ---------------------------------------------------------- */

static void cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s 2>/dev/null", ns, root);
	if (system(cmd))
		fprintf(stderr, "cleanup: %s failed\n", cmd);
}

static void log_cb(enum sfc_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= SFC_LOG_WARN)
		fprintf(stderr, "libsfc: %s\n", msg);
}

/*
 * Applies the chain: the flowmon with config (flow style, one line), after a
 * passthrough when pass_first. Returns 0 or -errno; *d says why.
 */
static int apply_full(const char *config, bool pass_first, enum sfc_apply_result *res,
		      struct sfc_diag *d)
{
	struct sfc_apply_opts o = { .sz = sizeof(o), .netns = ns, .pin_root = root };
	struct sfc_chain_spec *s;
	char text[2048];
	int n, err;

	n = snprintf(text, sizeof(text),
		     "apiVersion: sfc/v1alpha1\n"
		     "kind: Chain\n"
		     "metadata: {name: " CHAIN "}\n"
		     "spec:\n"
		     "  interface: ta\n"
		     "  egress: {action: pass}\n"
		     "  functions:\n"
		     "%s"
		     "    - name: " FN "\n"
		     "      type: flowmon\n"
		     "      config: %s\n",
		     pass_first ? "    - {name: p, type: passthrough}\n" : "", config);
	memset(d, 0, sizeof(*d));
	s = sfc_chain_spec__parse_string(CHAIN ".yaml", text, n, d);
	if (!s)
		return -EINVAL;
	err = sfc_chain__apply(s, &o, res, d);
	sfc_chain_spec__free(s);
	return err;
}

static int apply(const char *config, enum sfc_apply_result *res)
{
	char buf[1024];
	struct sfc_diag d;
	int err;

	err = apply_full(config, false, res, &d);
	if (err) {
		sfc_diag__format(&d, buf, sizeof(buf));
		fprintf(stderr, "apply: %s\n", buf);
	}
	return err;
}

static unsigned int generation(void)
{
	struct sfc_chain_status *st = NULL;
	unsigned int g = 0;

	if (!sfc_chain__status(CHAIN, root, &st))
		g = st->generation;
	sfc_chain_status__free(st);
	return g;
}

static int pin_get(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s/nf/%s/%s", root, CHAIN, FN, name);
	return bpf_obj_get(p);
}

/* XDP verdict of one run of frame (repeat times), or -errno. */
static int run_prog(bool rev, uint8_t *frame, size_t len, unsigned int repeat)
{
	static uint8_t out[PKT_MAX + 256];
	char p[256];
	int fd, err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = repeat);

	snprintf(p, sizeof(p), "%s/%s/%s", root, CHAIN, rev ? "root_rev" : "root_fwd");
	fd = bpf_obj_get(p);
	if (fd < 0)
		return -errno;
	err = bpf_prog_test_run_opts(fd, &o);
	close(fd);
	return err ? -errno : (int)o.retval;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the model ---------------------------------------------------------- */

#define MAX_FLOWS 64
#define MAX_NOTICES 64

struct want_flow {
	struct sfc_flow_key k;
	uint64_t packets, bytes;
	uint8_t flags, end;
	bool multi;		/* more than one packet: first < last */
};

static struct {
	struct want_flow f[MAX_FLOWS];
	unsigned int n;
	struct sfc_flow_key notice[MAX_NOTICES];
	unsigned int n_notices;
	uint64_t t0, t1;	/* CLOCK_MONOTONIC around the packets */
	uint64_t sent;
} model;

static struct want_flow *model_find(const struct sfc_flow_key *k)
{
	unsigned int i;

	for (i = 0; i < model.n; i++)
		if (!memcmp(&model.f[i].k, k, sizeof(*k)))
			return &model.f[i];
	return NULL;
}

static void model_packet(const struct sfc_flow_key *k, uint64_t len, uint8_t flags)
{
	struct want_flow *w = model_find(k);
	uint8_t end = 0;

	if (k->proto == IPPROTO_TCP)
		end = (flags & TCP_FIN ? SFC_FLOW_END_FIN : 0) | (flags & TCP_RST ? SFC_FLOW_END_RST : 0);
	if (!w) {
		if (model.n == MAX_FLOWS)
			abort();
		w = &model.f[model.n++];
		memset(w, 0, sizeof(*w));
		w->k = *k;
	} else {
		w->multi = true;
	}
	w->packets++;
	w->bytes += len;
	w->flags |= flags;
	if (end & ~w->end) {
		if (model.n_notices == MAX_NOTICES)
			abort();
		model.notice[model.n_notices++] = *k;
	}
	w->end |= end;
}

/* ---- reading back ------------------------------------------------------- */

/* The data path's counters of flowmon fn of chain, summed over the CPUs. */
static void counters_of(const char *chain, const char *fn, uint64_t c[SFC_FLOWMON_MAX])
{
	uint64_t vals[ncpu];
	char p[256];
	__u32 k;
	int fd, i;

	snprintf(p, sizeof(p), "%s/%s/nf/%s/sfc_flowmon_stats", root, chain, fn);
	fd = bpf_obj_get(p);
	memset(c, 0, sizeof(uint64_t) * SFC_FLOWMON_MAX);
	CHECK(fd >= 0, "sfc_flowmon_stats pin: %s", strerror(errno));
	if (fd < 0)
		return;
	for (k = 0; k < SFC_FLOWMON_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (i = 0; i < ncpu; i++)
			c[k] += vals[i];
	}
	close(fd);
}

static void counters(uint64_t c[SFC_FLOWMON_MAX])
{
	counters_of(CHAIN, FN, c);
}

/* One flow of the pinned table, summed over the CPUs as the ABI says. */
struct got_flow {
	struct sfc_flow_key k;
	struct sfc_flow v;
};

static unsigned int read_table(struct got_flow *out, unsigned int max)
{
	struct sfc_flow_key key, next, *prev = NULL;
	struct sfc_flow vals[ncpu];
	unsigned int n = 0;
	int fd = pin_get("sfc_flowmon_flows"), i;

	CHECK(fd >= 0, "sfc_flowmon_flows pin: %s", strerror(errno));
	if (fd < 0)
		return 0;
	while (!bpf_map_get_next_key(fd, prev, &next) && n < max) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].k = key;
		for (i = 0; i < ncpu; i++) {
			struct sfc_flow *v = &out[n].v;

			v->packets += vals[i].packets;
			v->bytes += vals[i].bytes;
			if (vals[i].first_ns && (!v->first_ns || vals[i].first_ns < v->first_ns))
				v->first_ns = vals[i].first_ns;
			if (vals[i].last_ns > v->last_ns)
				v->last_ns = vals[i].last_ns;
			v->tcp_flags |= vals[i].tcp_flags;
			v->end |= vals[i].end;
			v->verdicts |= vals[i].verdicts;
			v->drop_stage |= vals[i].drop_stage;
		}
		n++;
	}
	close(fd);
	return n;
}

/* The pinned table is the model, exactly. */
static void check_table(const char *what)
{
	struct got_flow got[MAX_FLOWS + 8];
	unsigned int n = read_table(got, N(got)), i;

	CHECK(n == model.n, "%s: %u flows in the table, want %u", what, n, model.n);
	for (i = 0; i < n; i++) {
		const struct sfc_flow *v = &got[i].v;
		const struct want_flow *w = model_find(&got[i].k);
		bool ok;

		CHECK(w, "%s: unexpected flow %s (%llu packets)", what, key_str(&got[i].k),
		      (unsigned long long)v->packets);
		if (!w)
			continue;
		ok = v->packets == w->packets && v->bytes == w->bytes && v->tcp_flags == w->flags &&
		     v->end == w->end;
		CHECK(ok, "%s: flow %s: want %llu packets %llu bytes flags 0x%02x end %u, got %llu "
		      "%llu 0x%02x %u", what, key_str(&w->k), (unsigned long long)w->packets,
		      (unsigned long long)w->bytes, w->flags, w->end,
		      (unsigned long long)v->packets, (unsigned long long)v->bytes, v->tcp_flags,
		      v->end);
		ok = model.t0 <= v->first_ns && v->first_ns <= v->last_ns && v->last_ns <= model.t1 &&
		     (!w->multi || v->first_ns < v->last_ns);
		CHECK(ok, "%s: flow %s: first %llu, last %llu, want %llu <= first %s last <= %llu",
		      what, key_str(&w->k), (unsigned long long)v->first_ns,
		      (unsigned long long)v->last_ns, (unsigned long long)model.t0,
		      w->multi ? "<" : "<=", (unsigned long long)model.t1);
		/* The egress passes everything, and the monitor owns the hook. */
		CHECK(v->verdicts == SFC_FLOW_V_PASSED && !v->drop_stage,
		      "%s: flow %s: verdicts 0x%02x, drop stage %u, want passed (0x%02x), 0", what,
		      key_str(&w->k), v->verdicts, v->drop_stage, SFC_FLOW_V_PASSED);
	}
}

static struct {
	struct sfc_flow_key k[MAX_NOTICES + 8];
	unsigned int n;
	bool bad_size;
} notices;

static int on_notice(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size != sizeof(struct sfc_flow_key)) {
		notices.bad_size = true;
		return 0;
	}
	if (notices.n < N(notices.k))
		memcpy(&notices.k[notices.n], data, size);
	notices.n++;
	return 0;
}

/* Everything in the ring buffer, through libbpf's consumer on the pin. */
static void drain_notices(void)
{
	struct ring_buffer *rb;
	int fd = pin_get("sfc_flowmon_ends"), n;

	memset(&notices, 0, sizeof(notices));
	CHECK(fd >= 0, "sfc_flowmon_ends pin: %s", strerror(errno));
	if (fd < 0)
		return;
	rb = ring_buffer__new(fd, on_notice, NULL, NULL);
	CHECK(rb, "ring_buffer__new: %s", strerror(errno));
	if (rb) {
		n = ring_buffer__consume(rb);
		CHECK(n >= 0 && (unsigned int)n == notices.n, "ring_buffer__consume: %d", n);
		ring_buffer__free(rb);
	}
	close(fd);
	CHECK(!notices.bad_size, "a notice is not a struct sfc_flow_key");
}

static void check_notices(const char *what, const struct sfc_flow_key *want, unsigned int n)
{
	unsigned int i;

	drain_notices();
	CHECK(notices.n == n, "%s: %u FIN/RST notices, want %u", what, notices.n, n);
	for (i = 0; i < n && i < notices.n; i++)
		CHECK(!memcmp(&notices.k[i], &want[i], sizeof(want[i])), "%s: notice %u: %s, want %s",
		      what, i, key_str(&notices.k[i]), key_str(&want[i]));
}

/* ---- the fixtures ------------------------------------------------------- */

struct fx {
	const char *desc;
	struct pk p;
};

/*
 * Each runs in IPv4, then the whole table again in IPv6. Per family: 15
 * flows, 3 notices (the FIN, the RST back, the RST that opens and ends a
 * flow; not the retransmitted FIN).
 */
static const struct fx fx_main[] = {
	{ "tcp SYN", { TCP, .sport = 40000, .dport = 80, .flags = TCP_SYN } },
	{ "tcp SYN+ACK back", { TCP, .rev = true, .sport = 80, .dport = 40000,
				 .flags = TCP_SYN | TCP_ACK } },
	{ "tcp ACK", { TCP, .sport = 40000, .dport = 80, .flags = TCP_ACK } },
	{ "tcp data", { TCP, .sport = 40000, .dport = 80, .flags = TCP_PSH | TCP_ACK, .len = 100 } },
	{ "tcp data back", { TCP, .rev = true, .sport = 80, .dport = 40000,
			      .flags = TCP_PSH | TCP_ACK, .len = 1000 } },
	{ "tcp FIN: a notice", { TCP, .sport = 40000, .dport = 80, .flags = TCP_FIN | TCP_ACK } },
	{ "tcp FIN retransmitted: no notice", { TCP, .sport = 40000, .dport = 80,
						 .flags = TCP_FIN | TCP_ACK } },
	{ "tcp RST back: a notice for the reverse flow", { TCP, .rev = true, .sport = 80,
							   .dport = 40000, .flags = TCP_RST } },
	{ "tcp RST to another port: a flow that ends as it starts",
	  { TCP, .sport = 40002, .dport = 81, .flags = TCP_RST | TCP_ACK } },
	{ "tcp SYN of a connection left open", { TCP, .sport = 40001, .dport = 80,
						  .flags = TCP_SYN } },
	{ "udp", { .sport = 5353, .dport = 53, .len = 20 } },
	{ "udp again, bigger", { .sport = 5353, .dport = 53, .len = 300 } },
	{ "udp, the same ports on VLAN 100: a flow of its own", { .vlan = 100, .sport = 5353,
								   .dport = 53 } },
	{ "udp from another host", { .a = 3, .b = 2, .sport = 5353, .dport = 53 } },
	{ "echo request, id 7", { .icmpx = IX_ECHO_REQ, .sport = 7 } },
	{ "echo reply, id 7", { .icmpx = IX_ECHO_REPLY, .rev = true, .sport = 7 } },
	{ "echo request again", { .icmpx = IX_ECHO_REQ, .sport = 7, .len = 56 } },
	{ "echo request, id 8", { .icmpx = IX_ECHO_REQ, .sport = 8 } },
	{ "port unreachable: type/code, no id", { .icmpx = IX_UNREACH, .rev = true } },
	{ "udp first fragment: has its ports", { .sport = 7000, .dport = 7001, .frag = F_FIRST,
						  .len = 64 } },
	{ "udp later fragment: ports 0", { .sport = 7000, .dport = 7001, .frag = F_LATER } },
	{ "udp later fragment of another datagram: the same flow", { .frag = F_LATER, .len = 32 } },
	{ "tcp later fragment: ports 0, no flags", { TCP, .frag = F_LATER } },
	{ "gre: no ports", { GRE, .len = 20 } },
};

#define MAIN_FLOWS 15
#define MAIN_NOTICES 3

static void run_fx(const struct fx *f, int fam)
{
	struct sfc_flow_key k;
	uint8_t frame[PKT_MAX];
	size_t len = build(&f->p, fam, frame);
	int ret;

	key_of(&f->p, fam, &k);
	ret = run_prog(f->p.rev, frame, len, 1);
	CHECK(ret == XDP_PASS, "%s [IPv%d]: verdict %d, want XDP_PASS: a monitor never drops",
	      f->desc, fam, ret);
	model_packet(&k, len, proto_of(&f->p, fam) == IPPROTO_TCP && f->p.frag != F_LATER ?
		     f->p.flags : 0);
	model.sent++;
}

static void check_counters(const char *what, const uint64_t before[SFC_FLOWMON_MAX],
			   const uint64_t want[SFC_FLOWMON_MAX])
{
	static const char *const name[SFC_FLOWMON_MAX] = {
		"PACKETS", "SAMPLED", "NEW_FLOWS", "ENDS", "ENDS_LOST", "INSERT_FAILED",
	};
	uint64_t now[SFC_FLOWMON_MAX];
	int k;

	counters(now);
	for (k = 0; k < SFC_FLOWMON_MAX; k++)
		CHECK(now[k] - before[k] == want[k], "%s: counter %s went up by %llu, want %llu",
		      what, name[k], (unsigned long long)(now[k] - before[k]),
		      (unsigned long long)want[k]);
}

/* sfc_flowmon__flows() says what the pinned table and counters say. */
static void check_library(const char *what, uint64_t removed)
{
	struct got_flow got[MAX_FLOWS + 8];
	struct sfc_flow_table *t = NULL;
	uint64_t c[SFC_FLOWMON_MAX], now = real_ms(), after;
	unsigned int n = read_table(got, N(got)), i, j;
	int err;

	counters(c);
	err = sfc_flowmon__flows(CHAIN, FN, root, &t);
	after = real_ms();
	CHECK(!err && t, "%s: sfc_flowmon__flows: %s", what, strerror(-err));
	if (err || !t)
		return;
	CHECK(!strcmp(t->function, FN) && t->max_flows == 1024 && t->sampling == sampling,
	      "%s: function %s, max_flows %u, sampling %u", what, t->function, t->max_flows,
	      t->sampling);
	CHECK(t->packets == c[SFC_FLOWMON_PACKETS] && t->sampled == c[SFC_FLOWMON_SAMPLED] &&
	      t->new_flows == c[SFC_FLOWMON_NEW_FLOWS] && t->ends == c[SFC_FLOWMON_ENDS] &&
	      t->ends_lost == c[SFC_FLOWMON_ENDS_LOST] &&
	      t->insert_failed == c[SFC_FLOWMON_INSERT_FAILED], "%s: library counters", what);
	CHECK(t->has_agent == (removed != UINT64_MAX), "%s: has_agent %d", what, t->has_agent);
	if (removed == UINT64_MAX)
		removed = 0;
	CHECK(t->removed == removed, "%s: removed %llu, want %llu", what,
	      (unsigned long long)t->removed, (unsigned long long)removed);
	CHECK(t->evictions == c[SFC_FLOWMON_NEW_FLOWS] - removed - n,
	      "%s: evictions %llu, want %llu - %llu - %u", what, (unsigned long long)t->evictions,
	      (unsigned long long)c[SFC_FLOWMON_NEW_FLOWS], (unsigned long long)removed, n);
	/* The library reads the clock between the test's two reads. */
	CHECK(t->read_at_ms >= now && t->read_at_ms <= after, "%s: read_at_ms %llu, not in %llu..%llu",
	      what, (unsigned long long)t->read_at_ms, (unsigned long long)now,
	      (unsigned long long)after);
	CHECK(t->n_flows == n, "%s: library has %zu flows, the table %u", what, t->n_flows, n);
	for (i = 0; i < t->n_flows; i++) {
		const struct sfc_flow_entry *e = &t->flows[i];
		const struct got_flow *g = NULL;
		struct sfc_flow_key k = {};
		uint64_t age;

		memcpy(k.src, e->src, 16);
		memcpy(k.dst, e->dst, 16);
		k.sport = htons(e->sport);
		k.dport = htons(e->dport);
		k.family = e->family;
		k.proto = e->proto;
		k.vlan = e->vlan;
		k.dir = e->dir;
		for (j = 0; j < n && !g; j++)
			if (!memcmp(&got[j].k, &k, sizeof(k)))
				g = &got[j];
		CHECK(g, "%s: library flow %s is not in the table", what, key_str(&k));
		if (!g)
			continue;
		CHECK(e->packets == g->v.packets && e->bytes == g->v.bytes &&
		      e->tcp_flags == g->v.tcp_flags && e->end == g->v.end &&
		      e->first_ns == g->v.first_ns && e->last_ns == g->v.last_ns,
		      "%s: library flow %s differs from the table", what, key_str(&k));
		/* Real time of a packet of the last minute. */
		age = now - e->last_ms;
		CHECK(e->first_ms <= e->last_ms && e->last_ms <= now && age < 60000,
		      "%s: flow %s: first_ms %llu, last_ms %llu, now %llu", what, key_str(&k),
		      (unsigned long long)e->first_ms, (unsigned long long)e->last_ms,
		      (unsigned long long)now);
		/* The realtime span is the monotonic span, to the millisecond. */
		CHECK((int64_t)(e->last_ms - e->first_ms) -
		      (int64_t)((e->last_ns - e->first_ns) / 1000000) <= 1 &&
		      (int64_t)(e->last_ms - e->first_ms) -
		      (int64_t)((e->last_ns - e->first_ns) / 1000000) >= 0,
		      "%s: flow %s: realtime span %llu ms, monotonic %llu ns", what, key_str(&k),
		      (unsigned long long)(e->last_ms - e->first_ms),
		      (unsigned long long)(e->last_ns - e->first_ns));
	}
	sfc_flow_table__free(t);
}

/* ---- sfcctl flows ------------------------------------------------------- */

/* Runs sfcctl --pin-root ROOT ARGS; its stdout (malloc'd) and exit status. */
static char *run_sfcctl(int *status, const char *args)
{
	char cmd[PATH_MAX + 512], *out = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' --pin-root '%s' %s 2>/dev/null", sfcctl, root, args);
	f = popen(cmd, "r");
	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			out = realloc(out, cap);
			if (!out)
				abort();
		}
		n = fread(out + len, 1, cap - len - 1, f);
		if (!n)
			break;
		len += n;
	}
	if (out)
		out[len] = '\0';
	*status = pclose(f);
	*status = WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
	return out;
}

static unsigned int count_of(const char *s, const char *sub)
{
	unsigned int n = 0;

	while (s && (s = strstr(s, sub))) {
		n++;
		s += strlen(sub);
	}
	return n;
}

/* The whitespace-separated fields of the line at l. */
static int fields_of(const char *l, char fields[16][48])
{
	const char *s, *e;
	int n = 0;

	e = strchr(l, '\n');
	if (!e)
		e = l + strlen(l);
	for (s = l; s < e && n < 16;) {
		size_t w;

		while (s < e && *s == ' ')
			s++;
		w = strcspn(s, " \n");
		if (!w)
			break;
		snprintf(fields[n++], 48, "%.*s", (int)w, s);
		s += w;
	}
	return n;
}

/* The fields of the first table line that has `has`. */
static int row_of(const char *out, const char *has, char fields[16][48])
{
	const char *l = out ? strstr(out, has) : NULL;

	if (!l)
		return 0;
	while (l > out && l[-1] != '\n')
		l--;
	return fields_of(l, fields);
}

/* How many table lines have value in column col. */
static unsigned int rows_with(const char *out, int col, const char *value)
{
	char f[16][48];
	unsigned int n = 0;
	const char *l;

	for (l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (fields_of(l, f) == 13 && !strcmp(f[col], value))
			n++;
	return n;
}

static void test_sfcctl(void)
{
	char f[16][48], *out, want[256];
	int st;

	if (access(sfcctl, X_OK)) {
		CHECK(0, "sfcctl not found at %s", sfcctl);
		return;
	}
	out = run_sfcctl(&st, "flows " CHAIN);
	CHECK(st == 0 && out, "sfcctl flows: exit %d", st);
	snprintf(want, sizeof(want), "mon: flowmon, flows %u/1024, new %u, evicted 0, sampling 1 "
		 "in 1\n  packets %llu, accounted %llu, ends noticed %u, lost 0\n  agent: none has "
		 "run on this table\nby bytes, times UTC:\nDIR ", model.n, model.n,
		 (unsigned long long)model.sent, (unsigned long long)model.sent, model.n_notices);
	CHECK(out && !strncmp(out, want, strlen(want)), "sfcctl flows: header:\n%s\nwant\n%s",
	      out ? out : "", want);
	CHECK(count_of(out, "\n") == 5 + model.n, "sfcctl flows: %u lines, want %u",
	      count_of(out, "\n"), 5 + model.n);
	/* 10.0.0.3 -> 10.0.0.2 udp 5353 -> 53: 14 + 20 + 8 bytes */
	CHECK(row_of(out, "10.0.0.3 ", f) == 13 && !strcmp(f[0], "fwd") && !strcmp(f[1], "udp") &&
	      !strcmp(f[3], "5353") && !strcmp(f[4], "10.0.0.2") && !strcmp(f[5], "53") &&
	      !strcmp(f[6], "-") && !strcmp(f[7], "1") && !strcmp(f[8], "42") &&
	      !strcmp(f[11], "-") && !strcmp(f[12], "passed"),
	      "sfcctl flows: the udp row from 10.0.0.3");
	CHECK(rows_with(out, 12, "passed") == model.n, "sfcctl flows: %u rows passed, want %u",
	      rows_with(out, 12, "passed"), model.n);
	/* 2001:db8::2 -> ::1 port unreachable, type 1 code 4 */
	CHECK(row_of(out, " 1/4 ", f) == 13 && !strcmp(f[0], "rev") && !strcmp(f[1], "icmpv6") &&
	      !strcmp(f[2], "2001:db8::2") && !strcmp(f[3], "-") && !strcmp(f[4], "2001:db8::1"),
	      "sfcctl flows: the ICMPv6 unreachable row");
	CHECK(rows_with(out, 6, "100") == 2, "sfcctl flows: %u rows on VLAN 100, want 2",
	      rows_with(out, 6, "100"));
	CHECK(rows_with(out, 1, "icmp") == 4 && rows_with(out, 5, "3/3") == 1 &&
	      rows_with(out, 5, "8/0") == 2 && rows_with(out, 5, "0/0") == 1,
	      "sfcctl flows: the ICMP rows");
	free(out);

	/* The biggest by bytes: the IPv6 server's side of connection 40000. */
	out = run_sfcctl(&st, "-j flows " CHAIN " " FN " --top 1");
	CHECK(st == 0 && count_of(out, "\"direction\"") == 1, "sfcctl -j flows --top 1: exit %d, "
	      "%u flows", st, count_of(out, "\"direction\""));
	snprintf(want, sizeof(want), "\"flows_present\":%u,\"sampling\":1,", model.n);
	CHECK(out && strstr(out, want) && strstr(out, "\"agent\":null"), "sfcctl -j flows: %s",
	      out ? out : "");
	CHECK(out && strstr(out, "{\"direction\":\"reverse\",\"family\":6,\"protocol\":6,"
			    "\"src\":\"2001:db8::2\",\"src_port\":80,\"dst\":\"2001:db8::1\","
			    "\"dst_port\":40000,\"vlan\":0,\"packets\":3,\"bytes\":1222,"),
	      "sfcctl -j flows --top 1: %s", out ? out : "");
	CHECK(out && strstr(out, "\"tcp_flags\":[\"syn\",\"rst\",\"psh\",\"ack\"],\"end\":[\"rst\"],"
			    "\"verdicts\":[\"passed\"],\"dropped_by\":null}"),
	      "sfcctl -j flows: flags, end and verdicts: %s", out ? out : "");
	free(out);

	/* The most packets: the client's side of 40000 (5), IPv6 (more bytes) first. */
	out = run_sfcctl(&st, "-j flows " CHAIN " --sort packets --top 2");
	CHECK(st == 0 && count_of(out, "\"direction\"") == 2 &&
	      strstr(out, "\"flows\":[{\"direction\":\"forward\",\"family\":6,\"protocol\":6,"
		     "\"src\":\"2001:db8::1\",\"src_port\":40000,") &&
	      strstr(out, "},{\"direction\":\"forward\",\"family\":4,\"protocol\":6,"
		     "\"src\":\"10.0.0.1\",\"src_port\":40000,\"dst\":\"10.0.0.2\","
		     "\"dst_port\":80,\"vlan\":0,\"packets\":5,"),
	      "sfcctl -j flows --sort packets: %s", out ? out : "");
	free(out);

	out = run_sfcctl(&st, "-j flows " CHAIN " --top 1");
	CHECK(st == 0 && strstr(out, "\"icmp_type\"") == NULL, "no icmp keys on a tcp flow");
	free(out);
	out = run_sfcctl(&st, "-j flows " CHAIN " --sort bytes");
	CHECK(st == 0 && strstr(out, "\"src_port\":7,\"dst\":\"2001:db8::2\",\"dst_port\":32768,"
				"\"icmp_type\":128,\"icmp_code\":0,"),
	      "sfcctl -j flows: an echo request: %s", out ? out : "");
	free(out);

	out = run_sfcctl(&st, "flows " CHAIN " --top 0");
	CHECK(st == 2, "sfcctl flows --top 0: exit %d, want 2", st);
	free(out);
	out = run_sfcctl(&st, "flows " CHAIN " --sort flows");
	CHECK(st == 2, "sfcctl flows --sort flows: exit %d, want 2", st);
	free(out);
	out = run_sfcctl(&st, "status " CHAIN " --top 3");
	CHECK(st == 2, "sfcctl status --top 3: exit %d, want 2", st);
	free(out);
	out = run_sfcctl(&st, "flows nochain");
	CHECK(st == 1, "sfcctl flows nochain: exit %d, want 1", st);
	free(out);
	out = run_sfcctl(&st, "-j flows " CHAIN " nofn");
	CHECK(st == 1 && out && strstr(out, "{\"error\":\"chain fmt has no function nofn\"}"),
	      "sfcctl flows CHAIN nofn: exit %d: %s", st, out ? out : "");
	free(out);
}

/* ---- the tests ---------------------------------------------------------- */

static void test_main_table(void)
{
	uint64_t before[SFC_FLOWMON_MAX], want[SFC_FLOWMON_MAX] = {};
	enum sfc_apply_result res;
	size_t i;
	int fam;

	if (apply("{maxFlows: 1024}", &res)) {
		CHECK(0, "the first apply failed");
		return;
	}
	CHECK(res == SFC_APPLY_CREATED, "first apply: %s", sfc_apply_result__str(res));
	counters(before);
	model.t0 = mono_ns();
	for (fam = 4; fam <= 6; fam += 2)
		for (i = 0; i < N(fx_main); i++)
			run_fx(&fx_main[i], fam);
	model.t1 = mono_ns();
	CHECK(model.n == 2 * MAIN_FLOWS && model.n_notices == 2 * MAIN_NOTICES,
	      "the model: %u flows, %u notices", model.n, model.n_notices);
	check_table("fixtures");
	check_notices("fixtures", model.notice, model.n_notices);
	want[SFC_FLOWMON_PACKETS] = want[SFC_FLOWMON_SAMPLED] = model.sent;
	want[SFC_FLOWMON_NEW_FLOWS] = model.n;
	want[SFC_FLOWMON_ENDS] = model.n_notices;
	check_counters("fixtures", before, want);
	check_library("fixtures", UINT64_MAX);
}

/* A config-only apply: same generation, same table, new settings. */
static int config_only(const char *what, const char *config)
{
	enum sfc_apply_result res;
	unsigned int gen = generation();
	int err;

	err = apply(config, &res);
	CHECK(!err && res == SFC_APPLY_CONFIG && generation() == gen,
	      "%s: want a config-only apply in generation %u, got %s (%s) in %u", what, gen,
	      err ? strerror(-err) : "ok", err ? "-" : sfc_apply_result__str(res), generation());
	return err;
}

static void test_sampling(void)
{
	static const struct pk p = { .sport = 9999, .dport = 9, .len = 10 };
	uint64_t before[SFC_FLOWMON_MAX], after[SFC_FLOWMON_MAX], sampled;
	struct sfc_flow_key k;
	struct got_flow got[MAX_FLOWS + 8];
	uint8_t frame[PKT_MAX];
	size_t len = build(&p, 4, frame);
	unsigned int n, i;
	bool found = false;
	int ret;

	if (config_only("timeouts and sampling", "{maxFlows: 1024, activeTimeout: 10s, "
			"inactiveTimeout: 2s, sampling: 10, prometheus: {listen: 127.0.0.1:9469}}"))
		return;
	sampling = 10;
	check_table("after a config-only apply");
	counters(before);
	ret = run_prog(false, frame, len, 10000);
	CHECK(ret == XDP_PASS, "10000 packets at 1 in 10: verdict %d", ret);
	counters(after);
	sampled = after[SFC_FLOWMON_SAMPLED] - before[SFC_FLOWMON_SAMPLED];
	/*
	 * Binomial(10000, 1/10): mean 1000, standard deviation 30. Within 5
	 * deviations: a correct monitor fails this once in about 1.7 million
	 * runs; one that samples 1 in 9 or 1 in 11 (mean 1111 or 909) fails
	 * more often than not, one that ignores sampling always.
	 */
	CHECK(after[SFC_FLOWMON_PACKETS] - before[SFC_FLOWMON_PACKETS] == 10000,
	      "sampling: %llu packets counted, want 10000",
	      (unsigned long long)(after[SFC_FLOWMON_PACKETS] - before[SFC_FLOWMON_PACKETS]));
	CHECK(sampled >= 850 && sampled <= 1150, "sampling 1 in 10 of 10000: %llu accounted, want "
	      "1000 +- 150", (unsigned long long)sampled);
	printf("sampling 1 in 10: %llu of 10000 accounted\n", (unsigned long long)sampled);
	CHECK(after[SFC_FLOWMON_NEW_FLOWS] - before[SFC_FLOWMON_NEW_FLOWS] == 1,
	      "sampling: one new flow");
	key_of(&p, 4, &k);
	n = read_table(got, N(got));
	for (i = 0; i < n; i++) {
		if (memcmp(&got[i].k, &k, sizeof(k)))
			continue;
		found = true;
		CHECK(got[i].v.packets == sampled && got[i].v.bytes == sampled * len,
		      "sampling: the flow has %llu packets %llu bytes, want %llu and %llu",
		      (unsigned long long)got[i].v.packets, (unsigned long long)got[i].v.bytes,
		      (unsigned long long)sampled, (unsigned long long)(sampled * len));
	}
	CHECK(found, "sampling: the flow is not in the table");
	/* The model takes it, so that the later checks see it. */
	for (i = 0; i < sampled; i++)
		model_packet(&k, len, 0);
	model.t1 = mono_ns();
}

/*
 * With 1 in 65535, a FIN is practically never drawn, yet the end of a flow
 * in the table is noticed; a FIN of a flow not in the table makes none.
 */
static void test_end_unsampled(void)
{
	static const struct pk fin = { TCP, .sport = 40001, .dport = 80, .flags = TCP_FIN | TCP_ACK };
	static const struct pk fin_new = { TCP, .sport = 40003, .dport = 80, .flags = TCP_FIN };
	uint64_t before[SFC_FLOWMON_MAX], after[SFC_FLOWMON_MAX];
	struct sfc_flow_key k, k_new;
	struct want_flow *w;
	uint8_t frame[PKT_MAX];
	size_t len;

	if (config_only("sampling 1 in 65535", "{maxFlows: 1024, sampling: 65535}"))
		return;
	sampling = 65535;
	key_of(&fin, 4, &k);
	key_of(&fin_new, 4, &k_new);
	counters(before);
	len = build(&fin, 4, frame);
	CHECK(run_prog(false, frame, len, 1) == XDP_PASS, "unsampled FIN: verdict");
	len = build(&fin_new, 4, frame);
	CHECK(run_prog(false, frame, len, 1) == XDP_PASS, "unsampled FIN of no flow: verdict");
	counters(after);
	if (after[SFC_FLOWMON_SAMPLED] != before[SFC_FLOWMON_SAMPLED]) {
		printf("note: a packet was drawn at 1 in 65535; the unsampled-end checks are skipped\n");
		drain_notices();
		return;
	}
	w = model_find(&k);
	CHECK(w && !w->end, "the flow of 40001 is in the model without an end");
	if (!w)
		return;
	/* Not accounted, but its flags and end are recorded. */
	w->flags |= TCP_FIN | TCP_ACK;
	w->end = SFC_FLOW_END_FIN;
	check_table("after an unsampled FIN");
	check_notices("an unsampled FIN", &k, 1);
	CHECK(after[SFC_FLOWMON_PACKETS] - before[SFC_FLOWMON_PACKETS] == 2 &&
	      after[SFC_FLOWMON_ENDS] - before[SFC_FLOWMON_ENDS] == 1 &&
	      after[SFC_FLOWMON_NEW_FLOWS] == before[SFC_FLOWMON_NEW_FLOWS],
	      "unsampled FINs: counters");
}

static void test_resize_refused(void)
{
	enum sfc_apply_result res;
	unsigned int gen = generation();
	struct sfc_diag d;
	int err;

	err = apply_full("{maxFlows: 2048}", false, &res, &d);
	CHECK(err == -EINVAL, "an apply that changes maxFlows: %s", strerror(-err));
	CHECK(strstr(d.msg, "function mon (flowmon): its map sfc_flowmon_flows holds 1024 entries "
		     "and the config asks for 2048; a pinned table keeps its size (sfcctl delete "
		     "fmt, then apply, starts it afresh)"), "refused maxFlows: \"%s\"", d.msg);
	CHECK(generation() == gen, "the refused apply changed the generation");
	check_table("after the refused apply");

	/* The same through a new generation (a function added): the runtime's check. */
	err = apply_full("{maxFlows: 2048}", true, &res, &d);
	CHECK(err == -EINVAL && strstr(d.msg, "function mon (flowmon): its map sfc_flowmon_flows "
				       "holds 1024 entries and the config asks for 2048"),
	      "maxFlows changed with a new generation: %s: \"%s\"", strerror(-err), d.msg);
	CHECK(generation() == gen, "the refused swap changed the generation");
}

/*
 * The agent's side, done by hand: it deletes flows, creates its counter map
 * and counts them there; the library derives evictions from it. Then a new
 * generation (a passthrough before the monitor) keeps all of it.
 */
static void test_agent_counters(void)
{
	char p[256];
	__u64 v[SFC_FLOWMON_AGENT_MAX] = { 2, 5, 1 };
	enum sfc_apply_result res;
	struct sfc_diag d;
	char buf[1024], *out;
	unsigned int i, removed = 0, gen = generation();
	int fd, afd, err, st;
	__u32 k;

	fd = pin_get("sfc_flowmon_flows");
	for (i = 0; i < model.n && removed < 2 && fd >= 0; i++) {
		if (model.f[i].end != (SFC_FLOW_END_FIN) || model.f[i].k.proto != IPPROTO_TCP)
			continue;
		/* The agent removes ended flows; the model forgets them. */
		CHECK(!bpf_map_delete_elem(fd, &model.f[i].k), "delete %s", key_str(&model.f[i].k));
		model.f[i] = model.f[--model.n];
		i--;
		removed++;
	}
	if (fd >= 0)
		close(fd);
	CHECK(removed == 2, "the agent's part: %u ended flows removed, want 2", removed);
	check_library("no agent map yet", UINT64_MAX);

	afd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sfc_flowmon_age", 4, 8, SFC_FLOWMON_AGENT_MAX,
			     NULL);
	CHECK(afd >= 0, "create the agent's map: %s", strerror(errno));
	if (afd < 0)
		return;
	for (k = 0; k < SFC_FLOWMON_AGENT_MAX; k++)
		bpf_map_update_elem(afd, &k, &v[k], BPF_ANY);
	snprintf(p, sizeof(p), "%s/%s/nf/%s/sfc_flowmon_agent", root, CHAIN, FN);
	CHECK(!bpf_obj_pin(afd, p), "pin the agent's map: %s", strerror(errno));
	close(afd);
	check_library("agent removed 2", 2);
	out = run_sfcctl(&st, "flows " CHAIN);
	CHECK(st == 0 && out && strstr(out, "\n  agent: removed 2, records exported 5, export "
				      "errors 1\n") && strstr(out, ", evicted 0, "),
	      "sfcctl flows with the agent: %s", out ? out : "");
	free(out);

	err = apply_full("{maxFlows: 1024, sampling: 1}", true, &res, &d);
	sfc_diag__format(&d, buf, sizeof(buf));
	CHECK(!err && res == SFC_APPLY_SWAPPED && generation() == gen + 1,
	      "a function added: %s %s", err ? buf : "", err ? "" : sfc_apply_result__str(res));
	sampling = 1;
	check_table("after a new generation");
	check_library("after a new generation", 2);
	fd = pin_get("sfc_flowmon_agent");
	CHECK(fd >= 0, "the agent's map survives a new generation");
	if (fd >= 0)
		close(fd);
	/* Back to the monitor alone, and counting every packet. */
	err = apply("{maxFlows: 1024}", &res);
	CHECK(!err && res == SFC_APPLY_SWAPPED, "the passthrough removed");
	check_table("after the passthrough is removed");
}

/*
 * More flows than one batch of the library's reader (1024): every one read
 * once, whatever the batches and the hash buckets they come from.
 */
static void test_many_flows(void)
{
	struct sfc_flow_table *t = NULL;
	enum sfc_apply_result res;
	struct sfc_diag d = {};
	uint8_t frame[PKT_MAX], *seen;
	unsigned int i, bad = 0, dup = 0, odd = 0;
	int err;

	err = sfc_chain__delete(CHAIN, root, &d);
	CHECK(!err, "delete: %s", d.msg);
	if (apply("{maxFlows: 4096}", &res))
		return;
	for (i = 0; i < 2500; i++) {
		struct pk p = { .a = 10 + i / 1000, .sport = 10000 + i % 1000, .dport = 53 };
		size_t len = build(&p, 4, frame);

		bad += run_prog(false, frame, len, 1) != XDP_PASS;
	}
	CHECK(!bad, "many flows: %u packets not passed", bad);
	err = sfc_flowmon__flows(CHAIN, FN, root, &t);
	CHECK(!err && t->n_flows == 2500 && t->new_flows == 2500 && !t->evictions,
	      "many flows: %s, %zu flows read, %llu created, %llu evictions", strerror(-err),
	      t ? t->n_flows : 0, t ? (unsigned long long)t->new_flows : 0,
	      t ? (unsigned long long)t->evictions : 0);
	seen = calloc(2500, 1);
	for (i = 0; t && seen && i < t->n_flows; i++) {
		const struct sfc_flow_entry *e = &t->flows[i];
		unsigned int idx = (e->src[3] - 10) * 1000 + (e->sport - 10000);

		if (e->packets != 1 || e->src[3] < 10 || e->sport < 10000 || idx >= 2500) {
			odd++;
			continue;
		}
		dup += seen[idx]++ != 0;
	}
	CHECK(!odd && !dup, "many flows: %u odd, %u read twice", odd, dup);
	free(seen);
	sfc_flow_table__free(t);
}

/* Far more flows than entries: the LRU evicts, nothing breaks, evictions add up. */
static void test_lru(void)
{
	uint64_t c[SFC_FLOWMON_MAX];
	struct got_flow got[64];
	struct sfc_flow_table *t = NULL;
	enum sfc_apply_result res;
	struct sfc_diag d = {};
	uint8_t frame[PKT_MAX];
	unsigned int i, n, bad = 0;
	char *out;
	int err, st;

	err = sfc_chain__delete(CHAIN, root, &d);
	CHECK(!err, "delete: %s", d.msg);
	if (apply("{maxFlows: 8}", &res))
		return;
	CHECK(res == SFC_APPLY_CREATED, "a fresh chain with 8 entries");
	for (i = 0; i < 200; i++) {
		struct pk p = { .sport = 1000 + i, .dport = 53 };
		size_t len = build(&p, 4, frame);

		bad += run_prog(false, frame, len, 1) != XDP_PASS;
	}
	CHECK(!bad, "lru: %u packets not passed", bad);
	counters(c);
	n = read_table(got, N(got));
	CHECK(c[SFC_FLOWMON_PACKETS] == 200 && c[SFC_FLOWMON_SAMPLED] == 200 &&
	      c[SFC_FLOWMON_NEW_FLOWS] + c[SFC_FLOWMON_INSERT_FAILED] == 200,
	      "lru: packets %llu, sampled %llu, new %llu + failed %llu, want 200 each",
	      (unsigned long long)c[SFC_FLOWMON_PACKETS], (unsigned long long)c[SFC_FLOWMON_SAMPLED],
	      (unsigned long long)c[SFC_FLOWMON_NEW_FLOWS],
	      (unsigned long long)c[SFC_FLOWMON_INSERT_FAILED]);
	CHECK(n >= 1 && n <= 8, "lru: %u flows present, want 1..8", n);
	for (i = 0; i < n; i++)
		CHECK(got[i].v.packets == 1 && ntohs(got[i].k.sport) >= 1000 &&
		      ntohs(got[i].k.sport) < 1200, "lru: flow %s", key_str(&got[i].k));
	printf("lru: 200 flows into 8 entries: %llu created, %llu refused, %u present\n",
	       (unsigned long long)c[SFC_FLOWMON_NEW_FLOWS],
	       (unsigned long long)c[SFC_FLOWMON_INSERT_FAILED], n);
	err = sfc_flowmon__flows(CHAIN, FN, root, &t);
	CHECK(!err, "lru: sfc_flowmon__flows: %s", strerror(-err));
	if (!err) {
		CHECK(t->max_flows == 8 && t->n_flows == n &&
		      t->evictions == c[SFC_FLOWMON_NEW_FLOWS] - n && t->evictions >= 150,
		      "lru: max %u, present %zu, evictions %llu, want %llu",
		      t->max_flows, t->n_flows, (unsigned long long)t->evictions,
		      (unsigned long long)(c[SFC_FLOWMON_NEW_FLOWS] - n));
		sfc_flow_table__free(t);
	}
	out = run_sfcctl(&st, "flows " CHAIN " --top 3");
	CHECK(st == 0 && out && strstr(out, "top 3 of ") && count_of(out, "\n") == 8,
	      "lru: sfcctl flows --top 3: %s", out ? out : "");
	free(out);
}

/* ---- final verdicts --------------------------------------------------- */

/*
 * The verdict hook: a chain of its own (egress redirect to tap with a next
 * hop MAC, so that allowed forward packets are XDP_REDIRECT and reverse ones,
 * which the FIB of the test's netns cannot route, XDP_PASS), with a firewall
 * that drops UDP to port 9 and TCP SYN+FIN, next to one or two monitors.
 */
#define VCHAIN "fmv"
#define FW_CFG "{defaultAction: allow, rules: [{action: drop, protocol: udp, dstPort: 9}, " \
	       "{action: drop, protocol: tcp, tcpFlags: {set: [syn, fin]}}]}"
#define FN_FW "    - {name: fw, type: firewall, config: " FW_CFG "}\n"
#define FN_MON(name, cfg) "    - {name: " name ", type: flowmon, config: " cfg "}\n"

static int vapply(const char *functions, enum sfc_apply_result want)
{
	struct sfc_apply_opts o = { .sz = sizeof(o), .netns = ns, .pin_root = root };
	enum sfc_apply_result res = SFC_APPLY_UNCHANGED;
	struct sfc_chain_spec *sp;
	struct sfc_diag d = {};
	char text[2048], buf[1024];
	int n, err;

	n = snprintf(text, sizeof(text),
		     "apiVersion: sfc/v1alpha1\n"
		     "kind: Chain\n"
		     "metadata: {name: " VCHAIN "}\n"
		     "spec:\n"
		     "  interface: ta\n"
		     "  egress: {action: redirect, interface: tap, nextHopMac: 02:00:00:00:00:02}\n"
		     "  functions:\n%s", functions);
	sp = sfc_chain_spec__parse_string(VCHAIN ".yaml", text, n, &d);
	err = sp ? sfc_chain__apply(sp, &o, &res, &d) : -EINVAL;
	sfc_chain_spec__free(sp);
	sfc_diag__format(&d, buf, sizeof(buf));
	CHECK(!err && res == want, "verdicts: apply %s: %s, want %s", functions,
	      err ? buf : sfc_apply_result__str(res), sfc_apply_result__str(want));
	return err || res != want ? -1 : 0;
}

static int vrun(const struct pk *p, int fam)
{
	static uint8_t out[PKT_MAX + 256];
	uint8_t frame[PKT_MAX];
	size_t len = build(p, fam, frame);
	char path[256];
	int fd, err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	snprintf(path, sizeof(path), "%s/" VCHAIN "/%s", root, p->rev ? "root_rev" : "root_fwd");
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = bpf_prog_test_run_opts(fd, &o);
	close(fd);
	return err ? -errno : (int)o.retval;
}

/* A flow of flowmon fn of the verdict chain as the library reads it. */
static bool vflow(const char *fn, const struct pk *p, int fam, struct sfc_flow_entry *out)
{
	struct sfc_flow_table *t = NULL;
	struct sfc_flow_key k;
	bool found = false;
	size_t i;
	int err;

	key_of(p, fam, &k);
	err = sfc_flowmon__flows(VCHAIN, fn, root, &t);
	CHECK(!err, "verdicts: sfc_flowmon__flows %s: %s", fn, strerror(-err));
	for (i = 0; !err && i < t->n_flows && !found; i++) {
		const struct sfc_flow_entry *e = &t->flows[i];

		if (e->dir != k.dir || e->family != k.family || e->proto != k.proto ||
		    e->sport != ntohs(k.sport) || e->dport != ntohs(k.dport) ||
		    memcmp(e->src, k.src, 16) || memcmp(e->dst, k.dst, 16))
			continue;
		*out = *e;
		found = true;
	}
	sfc_flow_table__free(t);
	return found;
}

static void want_verdict(const char *what, const char *fn, const struct pk *p, int fam,
			 uint8_t verdicts, const char *dropped_by)
{
	struct sfc_flow_entry e;

	if (!vflow(fn, p, fam, &e)) {
		CHECK(0, "%s [IPv%d]: no flow in %s", what, fam, fn);
		return;
	}
	CHECK(e.verdicts == verdicts && !strcmp(e.dropped_by, dropped_by),
	      "%s [IPv%d]: %s has verdicts 0x%02x dropped by \"%s\", want 0x%02x \"%s\"", what,
	      fam, fn, e.verdicts, e.dropped_by, verdicts, dropped_by);
}

static void want_no_flow(const char *what, const char *fn, const struct pk *p, int fam)
{
	struct sfc_flow_entry e;

	CHECK(!vflow(fn, p, fam, &e), "%s [IPv%d]: %s has a flow, want none", what, fam, fn);
}

/* Send p n times; every verdict must be want. */
static void vsend(const char *what, const struct pk *p, int fam, unsigned int n, int want)
{
	unsigned int i, bad = 0;
	int ret = want;

	for (i = 0; i < n; i++) {
		ret = vrun(p, fam);
		bad += ret != want;
	}
	CHECK(!bad, "%s [IPv%d]: %u of %u verdicts not %d (last %d)", what, fam, bad, n, want,
	      ret);
}

/* Program id in the live generation's hook slot (0: empty), and of its "hook" pin. */
static __u32 hook_slot(__u32 *pinned)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), slot = SFC_SLOT_HOOK, id = 0;
	struct sfc_chain_status *st = NULL;
	char p[256];
	int fd;

	*pinned = 0;
	if (sfc_chain__status(VCHAIN, root, &st))
		return 0;
	snprintf(p, sizeof(p), "%s/" VCHAIN "/gen%u/progs", root, st->generation);
	fd = bpf_obj_get(p);
	CHECK(fd >= 0, "verdicts: %s: %s", p, strerror(errno));
	/* A program array's lookup from userspace gives the program's id. */
	if (fd >= 0 && bpf_map_lookup_elem(fd, &slot, &id))
		CHECK(errno == ENOENT, "verdicts: hook slot lookup: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	snprintf(p, sizeof(p), "%s/" VCHAIN "/gen%u/hook", root, st->generation);
	fd = bpf_obj_get(p);
	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
		*pinned = info.id;
		CHECK(!strcmp(info.name, "sfc_flowmon_vh"), "verdicts: the hook is %s", info.name);
	}
	if (fd >= 0)
		close(fd);
	sfc_chain_status__free(st);
	return id;
}

/* Counters of stage name, direction dir. */
static struct sfc_stage_stats vstage(const char *name, int dir)
{
	struct sfc_stage_stats z = {};
	struct sfc_chain_status *st = NULL;
	unsigned int i;

	if (sfc_chain__status(VCHAIN, root, &st))
		return z;
	for (i = 0; i < st->n_stages; i++)
		if (!strcmp(st->stages[i].name, name))
			z = st->stages[i].stats[dir];
	sfc_chain_status__free(st);
	return z;
}

static void test_verdicts(void)
{
	const struct pk ok = { .sport = 5353, .dport = 53 };
	const struct pk to9 = { .sport = 5353, .dport = 9 };
	const struct pk ack = { TCP, .sport = 40000, .dport = 80, .flags = TCP_ACK };
	const struct pk synfin = { TCP, .sport = 40000, .dport = 80, .flags = TCP_SYN | TCP_FIN };
	const struct pk rev_ok = { .rev = true, .sport = 53, .dport = 5353 };
	const struct pk rev_to9 = { .rev = true, .sport = 53, .dport = 9 };
	const struct pk ok2 = { .sport = 7000, .dport = 53 };
	const struct pk to9_2 = { .sport = 7000, .dport = 9 };
	const struct pk rev_ok2 = { .rev = true, .sport = 7000, .dport = 53 };
	const struct pk rev_to9_2 = { .rev = true, .sport = 7000, .dport = 9 };
	const struct pk to9_3 = { .sport = 7001, .dport = 9 };
	const struct pk ok3 = { .sport = 8000, .dport = 53 };
	const struct pk rev_ok3 = { .rev = true, .sport = 8000, .dport = 53 };
	struct sfc_stage_stats fw0, fw1, eg0, eg1;
	uint64_t before[SFC_FLOWMON_MAX], after[SFC_FLOWMON_MAX];
	__u32 id, pinned;
	char *out, f[16][48];
	int fam, st;

	/* ta is the verdict chain's now. */
	st = sfc_chain__delete(CHAIN, root, NULL);
	CHECK(!st, "verdicts: delete %s: %s", CHAIN, strerror(-st));

	/* No flowmon: the hook slot stays empty and the verdicts are the chain's. */
	if (vapply(FN_FW, SFC_APPLY_CREATED))
		return;
	id = hook_slot(&pinned);
	CHECK(!id && !pinned, "verdicts: a chain without a flowmon has hook %u (pin %u)", id,
	      pinned);
	vsend("no monitor: allowed forward", &ok, 4, 1, XDP_REDIRECT);
	vsend("no monitor: udp to 9", &to9, 4, 1, XDP_DROP);
	vsend("no monitor: allowed reverse", &rev_ok, 4, 1, XDP_PASS);

	/*
	 * [mon, fw]: forward, the firewall drops after the monitor has
	 * counted; reverse, it runs first and the monitor sees only what it
	 * lets through.
	 */
	if (vapply(FN_MON("mon", "{maxFlows: 1024}") FN_FW, SFC_APPLY_SWAPPED))
		return;
	id = hook_slot(&pinned);
	CHECK(id && id == pinned, "verdicts: hook slot %u, the pinned hook %u", id, pinned);
	fw0 = vstage("fw", 0);
	eg0 = vstage("egress", 0);
	for (fam = 4; fam <= 6; fam += 2) {
		vsend("[mon, fw] allowed forward", &ok, fam, 3, XDP_REDIRECT);
		vsend("[mon, fw] udp to 9 forward", &to9, fam, 2, XDP_DROP);
		vsend("[mon, fw] tcp ACK", &ack, fam, 1, XDP_REDIRECT);
		vsend("[mon, fw] tcp SYN+FIN of the same flow", &synfin, fam, 1, XDP_DROP);
		vsend("[mon, fw] allowed reverse", &rev_ok, fam, 2, XDP_PASS);
		vsend("[mon, fw] udp to 9 reverse", &rev_to9, fam, 1, XDP_DROP);
		want_verdict("[mon, fw] allowed forward", "mon", &ok, fam,
			     SFC_FLOW_VERDICT_FORWARDED, "");
		want_verdict("[mon, fw] dropped after the monitor", "mon", &to9, fam,
			     SFC_FLOW_VERDICT_DROPPED, "fw");
		want_verdict("[mon, fw] tcp, one packet dropped", "mon", &ack, fam,
			     SFC_FLOW_VERDICT_FORWARDED | SFC_FLOW_VERDICT_DROPPED, "fw");
		want_verdict("[mon, fw] allowed reverse, egress passes", "mon", &rev_ok, fam,
			     SFC_FLOW_VERDICT_PASSED, "");
		want_no_flow("[mon, fw] dropped before the monitor", "mon", &rev_to9, fam);
	}
	/* The hook counts nothing of its own: each packet once, where it ended. */
	fw1 = vstage("fw", 0);
	eg1 = vstage("egress", 0);
	CHECK(fw1.dropped - fw0.dropped == 6 && eg1.forwarded - eg0.forwarded == 8 &&
	      eg1.packets - eg0.packets == 8,
	      "verdicts: fw dropped %llu (want 6), egress forwarded %llu of %llu (want 8, 8)",
	      (unsigned long long)(fw1.dropped - fw0.dropped),
	      (unsigned long long)(eg1.forwarded - eg0.forwarded),
	      (unsigned long long)(eg1.packets - eg0.packets));

	out = run_sfcctl(&st, "flows " VCHAIN);
	CHECK(st == 0 && row_of(out, "10.0.0.1 ", f) && rows_with(out, 12, "forwarded") == 2 &&
	      rows_with(out, 12, "passed") == 2 && count_of(out, "  dropped by fw\n") == 2 &&
	      count_of(out, "  mixed: forwarded, dropped by fw\n") == 2,
	      "verdicts: sfcctl flows:\n%s", out ? out : "");
	free(out);
	out = run_sfcctl(&st, "-j flows " VCHAIN);
	CHECK(st == 0 && count_of(out, "\"verdicts\":[\"forwarded\"],\"dropped_by\":null}") == 2 &&
	      count_of(out, "\"verdicts\":[\"dropped\"],\"dropped_by\":\"fw\"}") == 2 &&
	      count_of(out, "\"verdicts\":[\"forwarded\",\"dropped\"],\"dropped_by\":\"fw\"}") == 2 &&
	      count_of(out, "\"verdicts\":[\"passed\"],\"dropped_by\":null}") == 2,
	      "verdicts: sfcctl -j flows: %s", out ? out : "");
	free(out);

	/*
	 * A packet the monitor does not account must not be taken for the
	 * last one it did (the entry disarms the hook for every packet):
	 * with 1 in 65535 a dropped packet leaves the forwarded flow, the
	 * last one accounted, as it was.
	 */
	vsend("[mon, fw] allowed forward, last accounted", &ok, 4, 1, XDP_REDIRECT);
	if (vapply(FN_MON("mon", "{maxFlows: 1024, sampling: 65535}") FN_FW, SFC_APPLY_CONFIG))
		return;
	counters_of(VCHAIN, "mon", before);
	vsend("[mon, fw] udp to 9, not sampled", &to9_3, 4, 1, XDP_DROP);
	counters_of(VCHAIN, "mon", after);
	if (after[SFC_FLOWMON_SAMPLED] == before[SFC_FLOWMON_SAMPLED]) {
		want_verdict("after an unsampled drop", "mon", &ok, 4, SFC_FLOW_VERDICT_FORWARDED,
			     "");
		want_no_flow("an unsampled drop", "mon", &to9_3, 4);
	} else {
		printf("note: a packet was drawn at 1 in 65535; the unsampled-drop check is skipped\n");
	}

	/*
	 * [fw, mon], reordered: reverse, the monitor counts first and the
	 * firewall drops after it. Flows recorded before keep their dropper:
	 * it is named by stage id, which the reorder keeps.
	 */
	if (vapply(FN_FW FN_MON("mon", "{maxFlows: 1024}"), SFC_APPLY_SWAPPED))
		return;
	want_verdict("recorded before the reorder", "mon", &to9, 4, SFC_FLOW_VERDICT_DROPPED, "fw");
	for (fam = 4; fam <= 6; fam += 2) {
		vsend("[fw, mon] allowed forward", &ok2, fam, 1, XDP_REDIRECT);
		vsend("[fw, mon] udp to 9 forward", &to9_2, fam, 1, XDP_DROP);
		vsend("[fw, mon] allowed reverse", &rev_ok2, fam, 1, XDP_PASS);
		vsend("[fw, mon] udp to 9 reverse", &rev_to9_2, fam, 2, XDP_DROP);
		want_verdict("[fw, mon] allowed forward", "mon", &ok2, fam,
			     SFC_FLOW_VERDICT_FORWARDED, "");
		want_no_flow("[fw, mon] dropped before the monitor", "mon", &to9_2, fam);
		want_verdict("[fw, mon] allowed reverse", "mon", &rev_ok2, fam,
			     SFC_FLOW_VERDICT_PASSED, "");
		want_verdict("[fw, mon] reverse, dropped after the monitor", "mon", &rev_to9_2, fam,
			     SFC_FLOW_VERDICT_DROPPED, "fw");
	}

	/* Two monitors: only the first in file order records verdicts. */
	if (vapply(FN_MON("mon", "{maxFlows: 1024}") FN_FW FN_MON("mon2", "{maxFlows: 1024}"),
		   SFC_APPLY_SWAPPED))
		return;
	vsend("[mon, fw, mon2] allowed forward", &ok3, 4, 1, XDP_REDIRECT);
	vsend("[mon, fw, mon2] allowed reverse", &rev_ok3, 4, 1, XDP_PASS);
	want_verdict("[mon, fw, mon2] forward", "mon", &ok3, 4, SFC_FLOW_VERDICT_FORWARDED, "");
	want_verdict("[mon, fw, mon2] reverse", "mon", &rev_ok3, 4, SFC_FLOW_VERDICT_PASSED, "");
	want_verdict("[mon, fw, mon2] forward, second monitor", "mon2", &ok3, 4, 0, "");
	want_verdict("[mon, fw, mon2] reverse, second monitor", "mon2", &rev_ok3, 4, 0, "");
	out = run_sfcctl(&st, "flows " VCHAIN " mon2");
	CHECK(st == 0 && rows_with(out, 12, "-") == 2, "verdicts: sfcctl flows mon2:\n%s",
	      out ? out : "");
	free(out);

	/*
	 * The second monitor must not arm the hook: reverse, it counts a
	 * packet the first one does not draw, and the firewall drops it. The
	 * hook would take the first monitor's last flow for it.
	 */
	if (vapply(FN_MON("mon", "{maxFlows: 1024, sampling: 65535}") FN_FW
		   FN_MON("mon2", "{maxFlows: 1024}"), SFC_APPLY_CONFIG))
		return;
	counters_of(VCHAIN, "mon", before);
	vsend("[mon, fw, mon2] reverse udp to 9", &rev_to9_2, 4, 1, XDP_DROP);
	counters_of(VCHAIN, "mon", after);
	if (after[SFC_FLOWMON_SAMPLED] == before[SFC_FLOWMON_SAMPLED]) {
		want_verdict("a drop only the second monitor counted", "mon", &rev_ok3, 4,
			     SFC_FLOW_VERDICT_PASSED, "");
		want_verdict("a drop only the second monitor counted", "mon2", &rev_to9_2, 4, 0, "");
	} else {
		printf("note: a packet was drawn at 1 in 65535; the second-monitor check is skipped\n");
	}
}

static void find_sfcctl(int argc, char **argv)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (argc > 1) {
		snprintf(sfcctl, sizeof(sfcctl), "%s", argv[1]);
		return;
	}
	/* tests/bpf/test_flowmon -> loader/sfcctl in the same build tree */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(sfcctl, sizeof(sfcctl), "%s/../../loader/sfcctl", dirname(exe));
}

int main(int argc, char **argv)
{
	cpu_set_t cpus;

	if (geteuid())
		TEST_SKIP("needs root for BPF and netns");
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		TEST_SKIP("cannot count the possible CPUs");
	find_sfcctl(argc, argv);
	/* One CPU: the LRU hands out entries per CPU; the test wants one story. */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	sfc_set_log(log_cb, NULL, SFC_LOG_WARN);
	snprintf(ns, sizeof(ns), "sfcfm%d", getpid());
	snprintf(root, sizeof(root), "/sys/fs/bpf/sfc-fmtest-%d", getpid());
	atexit(cleanup);
	testns_enter(ns);

	test_main_table();
	test_sfcctl();
	test_sampling();
	test_end_unsampled();
	test_resize_refused();
	test_agent_counters();
	test_many_flows();
	test_lru();
	test_verdicts();
	TEST_DONE();
}
