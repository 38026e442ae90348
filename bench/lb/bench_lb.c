// SPDX-License-Identifier: GPL-2.0
/*
 * bench_lb: ns per packet through the load balancer, for an established
 * flow and a new one, with BPF_PROG_TEST_RUN on the pinned root programs of
 * whole chains, next to an empty XDP program and a passthrough chain in the
 * same run (see docs/bench-lb.md). The method is bench_flowmon's.
 *
 * Chains, each applied with libsfc onto its own veth in a private netns,
 * under a private pin root, egress pass:
 *  - lbb-pt     one `passthrough` function: the fixed cost of a chain;
 *  - lbb-lb     one `loadbalancer`, maxConnections LARGE (never full);
 *  - lbb-small  the same balancer, maxConnections SMALL (evicts);
 *  - lbb-pp     one `loadbalancer` whose nat services are each other's
 *               backend ("ping-pong", below).
 * lbb-lb and lbb-small serve four TCP services, port 80: a nat and a dsr VIP
 * for IPv4 and for IPv6, four backends each.
 *
 * Packets: a 60-byte TCP ACK (74 for IPv6). The paths:
 *  other   to an address that is no VIP: the service lookup misses, then
 *          the reply-entry lookup (a nat service exists) misses;
 *  est     one established flow over and over (created by the checks);
 *  est-F   each run the next of F established flows, created before timing;
 *  reply   a backend's answer to the established nat flow, in the chain's
 *          reverse direction (root_rev): the VIP put back as its source;
 *  new     each run a new flow: Maglev pick and the connection entries.
 * Each case's flows come from client addresses of its own. The flow is
 * written into the frame before each run (the IPv4 header checksum kept
 * right; the TCP checksum, which nothing on the path reads, is not).
 *
 * A nat or dsr rewrite changes the frame, and a test run with repeat > 1
 * runs the chain again on the frame as rewritten: at its second repetition
 * a nat packet goes to the backend, no longer to the VIP. Except in lbb-pp:
 * there VIP1's backend is VIP2 and VIP2's is VIP1, so the rewritten packet
 * is again a packet to a VIP, of a flow that is established too, and every
 * repetition is an established nat flow (the replies likewise ping-pong
 * between the two VIPs). The data path does not know that a backend is a
 * VIP: it does the same work as for any established flow.
 *
 * Two methods, every case pinned to one CPU, sampled round-robin
 * (bench_chain.h):
 *  A  one test run of `repeat` in-kernel repetitions per sample: the empty
 *     program, passthrough, other, and lbb-pp's established flow and reply;
 *  B  `shots` test runs of one repetition per sample: every case.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_chain.h"
#include "bench_stat.h"
#include "sfc/sfc.h"
#include "shared/sfc_abi.h"
#include "shared/sfc_lb.h"
#include "fwpkt.h"

#define SVC_PORT	80
#define SPORT0		1024	/* client ports SPORT0 .. SPORT0 + PORTS - 1 */
#define PORTS		64000
#define MAX_CONNS	(64u << 20)	/* maxConnections' limit (docs/loadbalancer.md) */
#define L3		14	/* the frames have no VLAN tag */

enum { C_PT, C_LB, C_SMALL, C_PP, N_CHAINS };

struct chain {
	const char *name, *ifname;
	unsigned int max_conns;		/* 0: passthrough */
	int fwd_fd, rev_fd;		/* root_fwd, root_rev */
	int stats_fd, conns_fd;		/* the balancer's sfc_lb_stats, sfc_lb_conns */
};

enum path { P_BASE, P_OTHER, P_EST, P_MANY, P_REPLY, P_NEW };

static const char *const path_names[] = {
	[P_BASE] = "-", [P_OTHER] = "other (no VIP)", [P_EST] = "established",
	[P_MANY] = "established, 1 of F", [P_REPLY] = "reply", [P_NEW] = "new flow",
};

struct bcase {
	const char *name;
	struct chain *c;	/* NULL: the empty program */
	int fam;		/* 4 or 6 */
	enum path path;
	int dsr;
	int pp;			/* lbb-pp: established under method A too */
	int base;		/* the case it is an increment over, or -1 */
	int prog_fd;
	struct fwpkt pkt;	/* the frame; for est, new, est-F the client of flow 0 */
	unsigned char vip[16];	/* reply: the source it must leave with */
	__u32 next, n_flows;	/* the next flow; est-F: how many there are */
	struct bench_samples s;
};

static struct chain chains[N_CHAINS];
static struct bcase cases[24];
static int n_cases;
static const unsigned char mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const unsigned char mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

/* The services of both balancers, and the address of the "other" packets. */
static const char *const vip[2][2] = { { "192.0.2.10", "192.0.2.20" },	/* nat, dsr */
				       { "2001:db8::10", "2001:db8::20" } };
static const char *const no_vip[2] = { "192.0.2.99", "2001:db8::99" };
/* lbb-pp's two nat services per family, each the other's only backend. */
static const char *const pp_vip[2][2] = { { "192.0.2.30", "192.0.2.31" },
					  { "2001:db8::30", "2001:db8::31" } };

static bool can_repeat(const struct bcase *k)
{
	return k->path == P_BASE || k->path == P_OTHER || k->pp;
}

/* ---- flows and frames ----------------------------------------------------- */

/*
 * Client of flow i of case `set`: port SPORT0 + i % PORTS, address
 * 100.(64 + set).hi.lo or 2001:db8:cc:set::hi:lo with hi:lo = i / PORTS.
 */
static void client(int fam, unsigned int set, __u32 i, unsigned char addr[16], __u16 *port)
{
	__u32 h = i / PORTS;

	memset(addr, 0, 16);
	if (fam == 4) {
		addr[0] = 100;
		addr[1] = 64 + set;
		addr[2] = h >> 8;
		addr[3] = h;
	} else {
		static const unsigned char pre[8] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0xcc };

		memcpy(addr, pre, 8);
		addr[7] = set;
		addr[12] = h >> 24;
		addr[13] = h >> 16;
		addr[14] = h >> 8;
		addr[15] = h;
	}
	*port = SPORT0 + i % PORTS;
}

/* Writes a source address and port into a frame built by fwpkt_build(). */
static void write_src(unsigned char *f, int fam, const unsigned char *addr, __u16 port)
{
	unsigned char *ip = f + L3, *l4 = ip + (fam == 4 ? 20 : 40);

	if (fam == 4) {
		memcpy(ip + 12, addr, 4);
		ip[10] = ip[11] = 0;
		memcpy(ip + 10, &(__u16){ fwpkt_csum(ip, 20, 0) }, 2);
	} else {
		memcpy(ip + 8, addr, 16);
	}
	l4[0] = port >> 8;
	l4[1] = port & 0xff;
}

/* The frame of the case's next run. */
static void next_frame(struct bcase *k, unsigned char *f)
{
	unsigned char a[16];
	__u16 port;
	__u32 i = 0;

	if (k->path == P_NEW)
		i = k->next++;
	else if (k->path == P_MANY)
		i = k->next++ % k->n_flows;
	if (k->path == P_BASE || k->path == P_REPLY) {
		/* The same work for every case: its own source, rewritten. */
		memcpy(a, k->pkt.src, 16);
		port = k->pkt.sport;
	} else {
		client(k->fam, k - cases, i, a, &port);
	}
	write_src(f, k->fam, a, port);
}

static int build(struct fwpkt *p, int fam, const unsigned char *src, __u16 sport,
		 const char *dst, __u16 dport)
{
	memset(p, 0, sizeof(*p));
	p->family = fam;
	p->proto = IPPROTO_TCP;
	memcpy(p->src, src, 16);
	if (inet_pton(fam == 4 ? AF_INET : AF_INET6, dst, p->dst) != 1)
		return -EINVAL;
	p->sport = sport;
	p->dport = dport;
	fwpkt_build(p, mac_dst, mac_src);
	return 0;
}

/*
 * One test run of the case's next frame; the output frame to out (if not
 * NULL, BENCH_OUT_MAX bytes), its length to *out_len.
 */
static int run(struct bcase *k, __u32 repeat, __u32 *duration, unsigned char *out,
	       __u32 *out_len)
{
	unsigned char frame[FWPKT_MAX_LEN];

	memcpy(frame, k->pkt.frame, k->pkt.len);
	next_frame(k, frame);
	return bench_test_run(k->name, k->prog_fd, frame, k->pkt.len, repeat, duration, out,
			      out_len);
}

/* ---- the balancer's maps -------------------------------------------------- */

/* Entries in the connection table, counted in batches; -1 on failure. */
static long count_conns(const struct chain *c)
{
	enum { BATCH = 65536 };
	static struct sfc_lb_conn_key keys[BATCH];
	static struct sfc_lb_conn vals[BATCH];
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u64 in = 0, out;
	long n = 0;
	int err;

	for (;;) {
		__u32 cnt = BATCH;

		err = bpf_map_lookup_batch(c->conns_fd, n ? &in : NULL, &out, keys, vals, &cnt, &o);
		if (err && errno != ENOENT)
			return -1;
		n += cnt;
		if (err)
			return n;
		in = out;
	}
}

/* A TCP service on SVC_PORT, as an item of a YAML flow list, to o + *len. */
static void svc_yaml(char *o, size_t n, size_t *len, const char *vip, int dsr,
		     const char *const *bk, int n_bk)
{
	int b;

	*len += snprintf(o + *len, n - *len, "%s{vip: \"%s\", port: %d, protocol: tcp, mode: %s, "
			 "backends: [", o[*len - 1] == '[' ? "" : ", ", vip, SVC_PORT,
			 dsr ? "dsr" : "nat");
	for (b = 0; b < n_bk; b++)
		*len += snprintf(o + *len, n - *len, "%s{address: \"%s\"}", b ? ", " : "", bk[b]);
	*len += snprintf(o + *len, n - *len, "]}");
}

static int apply_chain(struct chain *c)
{
	static char fn[4096];
	char bk[4][48];
	const char *bkp[4] = { bk[0], bk[1], bk[2], bk[3] };
	size_t len;
	int fam, m, b;

	c->stats_fd = c->conns_fd = c->rev_fd = -1;
	if (!c->max_conns) {
		snprintf(fn, sizeof(fn), "{name: pt, type: passthrough}");
	} else {
		len = snprintf(fn, sizeof(fn), "{name: lb, type: loadbalancer, config: "
			       "{maxConnections: %u, services: [", c->max_conns);
		for (fam = 0; fam < 2; fam++)
			for (m = 0; m < 2; m++) {
				if (c == &chains[C_PP]) {
					svc_yaml(fn, sizeof(fn), &len, pp_vip[fam][m], 0,
						 &pp_vip[fam][!m], 1);
					continue;
				}
				for (b = 0; b < 4; b++)
					snprintf(bk[b], sizeof(bk[b]), fam ? "2001:db8:%d::%d" :
							 "10.0.%d.%d", 2 + m, 11 + b);
				svc_yaml(fn, sizeof(fn), &len, vip[fam][m], m, bkp, 4);
			}
		snprintf(fn + len, sizeof(fn) - len, "]}}");
	}
	c->fwd_fd = bench_apply(c->name, c->ifname, fn);
	if (c->fwd_fd < 0)
		return c->fwd_fd;
	c->rev_fd = bench_obj(c->name, "root_rev");
	if (c->rev_fd < 0)
		return c->rev_fd;
	if (!c->max_conns)
		return 0;
	c->stats_fd = bench_obj(c->name, "nf/lb/sfc_lb_stats");
	c->conns_fd = bench_obj(c->name, "nf/lb/sfc_lb_conns");
	return c->stats_fd < 0 ? c->stats_fd : c->conns_fd < 0 ? c->conns_fd : 0;
}

/* ---- cases and their checks ----------------------------------------------- */

static int add_case(const char *name, struct chain *c, int fam, enum path path, int dsr,
		    int base)
{
	struct bcase *k = &cases[n_cases];
	unsigned char src[16];
	__u16 sport;

	*k = (struct bcase){ .name = name, .c = c, .fam = fam, .path = path, .dsr = dsr,
			     .pp = c == &chains[C_PP], .base = base, .n_flows = 1 };
	k->prog_fd = !c ? -1 : path == P_REPLY ? c->rev_fd : c->fwd_fd;
	client(fam, n_cases, 0, src, &sport);
	if (build(&k->pkt, fam, src, sport,
		  path == P_BASE || path == P_OTHER ? no_vip[fam == 6] :
		  k->pp ? pp_vip[fam == 6][0] : vip[fam == 6][dsr], SVC_PORT))
		return -1;
	return n_cases++;
}

/*
 * The reply case answers the established nat flow of case est: from the
 * backend that flow went to (the destination of its output frame) to the
 * client.
 */
static int make_reply(struct bcase *k, const struct bcase *est)
{
	unsigned char out[BENCH_OUT_MAX];
	const unsigned char *ip = out + L3;
	__u32 dur, len;
	char dst[INET6_ADDRSTRLEN];
	int err;

	err = run((struct bcase *)est, 1, &dur, out, &len);
	if (err)
		return err;
	inet_ntop(AF_INET, est->pkt.src, dst, sizeof(dst));
	memcpy(k->vip, est->pkt.dst, 16);
	/* IPv4 only: the destination at 16, the TCP ports at 20. */
	if (build(&k->pkt, 4, ip + 16, ip[22] << 8 | ip[23], dst, est->pkt.sport))
		return -EINVAL;
	return 0;
}

/* What n packets must change in sfc_lb_stats, per path. */
static void want_of(const struct bcase *k, long long n, long long want[SFC_LB_STAT_MAX])
{
	memset(want, 0, SFC_LB_STAT_MAX * sizeof(*want));
	switch (k->path) {
	case P_BASE:
		break;
	case P_OTHER:
		want[SFC_LB_STAT_OTHER] = n;
		break;
	case P_REPLY:
		want[SFC_LB_STAT_REPLY] = n;
		break;
	case P_EST:
	case P_MANY:
		want[SFC_LB_STAT_VIP] = want[SFC_LB_STAT_CONN_HIT] = n;
		break;
	case P_NEW:
		want[SFC_LB_STAT_VIP] = n;
		want[SFC_LB_STAT_CONN_NEW] = k->dsr ? n : 2 * n;	/* nat: forward and reply */
		break;
	}
}

/*
 * The output frame of the path: other as it came; nat with the backend as
 * destination (not the VIP); reply with the VIP as source; dsr inside an
 * outer header.
 */
static bool out_ok(const struct bcase *k, const unsigned char *out, __u32 len)
{
	const unsigned char *ip = out + L3, *in = k->pkt.frame + L3;
	int alen = k->fam == 4 ? 4 : 16, src = k->fam == 4 ? 12 : 8, dst = src + alen;

	switch (k->path) {
	case P_BASE:
		return true;
	case P_OTHER:
		return len == k->pkt.len && !memcmp(out, k->pkt.frame, len);
	case P_REPLY:
		return len == k->pkt.len && !memcmp(ip + src, k->vip, alen);
	default:
		if (k->dsr)
			return len == k->pkt.len + (k->fam == 4 ? 20 : 40);
		return len == k->pkt.len && memcmp(ip + dst, in + dst, alen);
	}
}

/* Each counter of sfc_lb_stats has moved from v0 by want; else a message. */
static int stats_moved(const struct bcase *k, const long long *v0, const long long *want,
		       const char *what)
{
	long long d;
	__u32 s;
	int bad = 0;

	for (s = 0; k->c && k->c->max_conns && s < SFC_LB_STAT_MAX; s++) {
		d = bench_percpu_sum(k->c->stats_fd, s) - v0[s];
		if (d != want[s]) {
			fprintf(stderr, "bench_lb: %s %s: %s moved sfc_lb_stats[%u] by %lld, "
				"want %lld\n", k->name, path_names[k->path], what, s, d, want[s]);
			bad = 1;
		}
	}
	return bad ? -EINVAL : 0;
}

static void stats_now(const struct bcase *k, long long *v)
{
	__u32 s;

	for (s = 0; k->c && k->c->max_conns && s < SFC_LB_STAT_MAX; s++)
		v[s] = bench_percpu_sum(k->c->stats_fd, s);
}

/*
 * Before timing, each case must take the path it is named for: 10 runs
 * move sfc_lb_stats exactly as the path does (and nothing else), and the
 * output frame is what the path makes of it; a case method A times does
 * the same in one run of 10 repetitions. An established case's flow is
 * created here first (lbb-pp's two, by two repetitions).
 */
static int check_case(struct bcase *k)
{
	unsigned char out[BENCH_OUT_MAX];
	long long want[SFC_LB_STAT_MAX], v0[SFC_LB_STAT_MAX];
	__u32 dur, len;
	int i, err;

	if (k->path == P_EST && (err = run(k, k->pp ? 2 : 1, &dur, NULL, NULL)))
		return err;
	want_of(k, 10, want);
	stats_now(k, v0);
	for (i = 0; i < 10; i++) {
		if ((err = run(k, 1, &dur, out, &len)))
			return err;
		if (!out_ok(k, out, len)) {
			fprintf(stderr, "bench_lb: %s %s: output frame of %u bytes is not the %s "
				"path's\n", k->name, path_names[k->path], len, path_names[k->path]);
			return -EINVAL;
		}
	}
	if ((err = stats_moved(k, v0, want, "10 runs")) || !can_repeat(k))
		return err;
	stats_now(k, v0);
	if ((err = run(k, 10, &dur, NULL, NULL)))
		return err;
	return stats_moved(k, v0, want, "10 repetitions");
}

/* Creates the F flows of an est-F case, through the data path itself. */
static int prefill(struct bcase *k, __u32 flows)
{
	long long n0 = bench_percpu_sum(k->c->stats_fd, SFC_LB_STAT_CONN_NEW), n1;
	double t0 = bench_now_s();
	__u32 i, dur;
	int err;

	k->path = P_NEW;
	k->next = 0;
	for (i = 0; i < flows; i++)
		if ((err = run(k, 1, &dur, NULL, NULL)))
			return err;
	n1 = bench_percpu_sum(k->c->stats_fd, SFC_LB_STAT_CONN_NEW);
	if (n1 - n0 != 2ll * flows) {
		fprintf(stderr, "bench_lb: %s: %u new flows made %lld entries, want %llu\n",
			k->name, flows, n1 - n0, 2ull * flows);
		return -EINVAL;
	}
	k->path = P_MANY;
	k->n_flows = flows;
	k->next = 0;
	fprintf(stderr, "bench_lb: %u established flows in %.1f s\n", flows, bench_now_s() - t0);
	return 0;
}

/* ---- measuring ------------------------------------------------------------ */

static struct bench_samples *samples_of(int i)
{
	return &cases[i].s;
}

static bool repeatable(int i)
{
	return can_repeat(&cases[i]);
}

static int run_case(int i, __u32 repeat, __u32 *duration)
{
	return run(&cases[i], repeat, duration, NULL, NULL);
}

/* ---- the report ----------------------------------------------------------- */

static int rounds_;

/* Median of method 'A', 'B' or 'W' (runs/s). */
static double med(int i, char m)
{
	const struct bcase *k = &cases[i];

	return stat_of(m == 'A' ? k->s.a : m == 'B' ? k->s.b : k->s.w, rounds_).med;
}

static void case_cols(const struct bcase *k)
{
	printf("| %s | IPv%d | %s | %s ", k->name, k->fam,
	       k->path == P_BASE || k->path == P_OTHER ? "-" : k->dsr ? "dsr" : "nat",
	       path_names[k->path]);
}

static void report_method(char m, __u32 repeat, __u32 shots)
{
	const char *dec = m == 'A' ? "%.0f" : "%.1f";
	char f[64];
	int i;

	if (m == 'A')
		printf("## Method A: one test run of repeat=%u per sample, %d samples (ns per packet)\n\n"
		       "The kernel's mean ns per repetition, rounded down. Only the cases whose every "
		       "repetition takes the same path: those that leave the frame unchanged, and "
		       "lbb-pp, whose rewrite turns a packet of one established flow into one of the "
		       "other.\n\n", repeat, rounds_);
	else
		printf("## Method B: repeat=1, %u runs per sample, %d samples (ns per packet)\n\n"
		       "The mean of the kernel's per-run duration, which includes its two timer reads "
		       "(the empty program's row is that offset).\n\n", shots, rounds_);
	printf("| case | family | mode | path | median | min .. max | x empty | - base | (- base) / empty |\n");
	printf("|------|--------|------|------|-------:|-----------:|--------:|-------:|-----------------:|\n");
	for (i = 0; i < n_cases; i++) {
		const struct bcase *k = &cases[i];
		struct stat3 s = stat_of(m == 'A' ? k->s.a : k->s.b, rounds_);

		if (m == 'A' && !can_repeat(k))
			continue;
		case_cols(k);
		snprintf(f, sizeof(f), "| %s | %s .. %s | %%.2f ", dec, dec, dec);
		printf(f, s.med, s.min, s.max, s.med / med(0, m));
		if (k->base < 0) {
			printf("| | |\n");
			continue;
		}
		snprintf(f, sizeof(f), "| %s | %%.2f |\n", m == 'A' ? "%+.0f" : "%+.1f");
		printf(f, s.med - med(k->base, m), (s.med - med(k->base, m)) / med(0, m));
	}
	printf("\n");
}

/*
 * What a test run of one repetition costs beyond one repetition among many:
 * the kernel's two timer reads, and whatever the chain's code and data lost
 * from the caches and TLB since the previous run (the syscall in between).
 */
static void report_ab(void)
{
	int i;

	printf("## Method A against method B\n\n"
	       "B - A: what one test run of one repetition costs beyond one repetition of "
	       "many, in the same run. For the empty program that is the kernel's two timer "
	       "reads; what a chain adds to it is what its code and data lost from the caches "
	       "and TLB between two test runs.\n\n");
	printf("| case | family | mode | path | A | B | B - A |\n");
	printf("|------|--------|------|------|--:|--:|------:|\n");
	for (i = 0; i < n_cases; i++) {
		if (!can_repeat(&cases[i]))
			continue;
		case_cols(&cases[i]);
		printf("| %.0f | %.1f | %.1f |\n", med(i, 'A'), med(i, 'B'),
		       med(i, 'B') - med(i, 'A'));
	}
	printf("\n");
}

static void report_churn(__u32 shots)
{
	double eb = med(0, 'B'), ew = med(0, 'W');
	int i;

	printf("## New flows per second: method B, one new flow per run\n\n"
	       "runs/s: the wall clock of each sample's %u test runs (syscall, copies and the "
	       "frame rewrite included), median and min..max of %d samples; for a new-flow case, "
	       "flows opened per second on one CPU. `1e9 / (ns - empty ns)`: the rate if "
	       "test_run's own cost (timer reads, the empty program) were nothing.\n\n",
	       shots, rounds_);
	printf("| case | family | mode | path | runs/s (median) | min .. max | x empty runs/s | kernel ns | 1e9 / (ns - empty ns) |\n");
	printf("|------|--------|------|------|----------------:|-----------:|---------------:|----------:|----------------------:|\n");
	for (i = 0; i < n_cases; i++) {
		const struct bcase *k = &cases[i];
		struct stat3 w = stat_of(k->s.w, rounds_);
		char net[32] = "-";

		if (k->path != P_BASE && k->path != P_NEW)
			continue;
		if (k->path == P_NEW && med(i, 'B') > eb)
			snprintf(net, sizeof(net), "%.2f M", 1e3 / (med(i, 'B') - eb));
		case_cols(k);
		printf("| %.0f | %.0f .. %.0f | %.2f | %.1f | %s |\n", w.med, w.min, w.max,
		       w.med / ew, med(i, 'B'), net);
	}
	printf("\n");
}

static const char *verdict(double x)
{
	return x <= 3 ? "holds" : "fails";
}

/* "x (holds)" for a ratio to the target, or "-" without a value. */
static const char *target_cell(char *buf, size_t n, bool have, double x)
{
	if (!have)
		return "-";
	snprintf(buf, n, "%.2f (%s)", x, verdict(x));
	return buf;
}

static void report_target(void)
{
	char c[4][32];
	int i, m;

	printf("## Target: an established flow at most 3x the empty program\n\n"
	       "Each method over its own empty program: the whole chain (root, entry parse, "
	       "balancer, egress), and the balancer's increment over the passthrough chain. "
	       "Method A times an established nat flow in lbb-pp only. The last two columns "
	       "compare the chain with the passthrough chain.\n\n");
	printf("| case | family | mode | path | A: chain / empty | A: incr. / empty | B: chain / empty | B: incr. / empty | A: chain / passthrough | B: chain / passthrough |\n");
	printf("|------|--------|------|------|-----------------:|-----------------:|-----------------:|-----------------:|-----------------------:|-----------------------:|\n");
	for (i = 1; i < n_cases; i++) {
		const struct bcase *k = &cases[i];
		bool a = can_repeat(k);

		if (k->path != P_EST && k->path != P_MANY && k->path != P_REPLY)
			continue;
		case_cols(k);
		for (m = 0; m < 2; m++) {
			char x = m ? 'B' : 'A';
			bool have = m || a;
			double v = have ? med(i, x) : 0, inc = have ? v - med(k->base, x) : 0;

			target_cell(c[2 * m], sizeof(c[0]), have, v / med(0, x));
			target_cell(c[2 * m + 1], sizeof(c[0]), have, inc / med(0, x));
		}
		printf("| %s | %s | %s | %s ", a ? c[0] : "-", a ? c[1] : "-", c[2], c[3]);
		if (a)
			printf("| %.2f ", med(i, 'A') / med(k->base, 'A'));
		else
			printf("| - ");
		printf("| %.2f |\n", med(i, 'B') / med(k->base, 'B'));
	}
	printf("\n");
}

static void report_tables(void)
{
	static const struct { __u32 stat; const char *name; } cols[] = {
		{ SFC_LB_STAT_VIP, "to a VIP" }, { SFC_LB_STAT_REPLY, "replies" },
		{ SFC_LB_STAT_OTHER, "other" }, { SFC_LB_STAT_CONN_HIT, "conn hits" },
		{ SFC_LB_STAT_CONN_NEW, "entries created" }, { SFC_LB_STAT_CONN_EXPIRED, "expired" },
		{ SFC_LB_STAT_CONN_GONE, "gone" }, { SFC_LB_STAT_CONN_FAILED, "insert failed" },
		{ SFC_LB_STAT_ERROR, "errors" },
	};
	unsigned int j;
	int i;

	printf("## The connection tables after the run\n\n"
	       "From sfc_lb_stats and the table itself. evicted = entries created - entries in "
	       "the table (shared/sfc_lb.h).\n\n| chain | maxConnections");
	for (j = 0; j < sizeof(cols) / sizeof(cols[0]); j++)
		printf(" | %s", cols[j].name);
	printf(" | in table | evicted |\n|---|--:");
	for (j = 0; j < sizeof(cols) / sizeof(cols[0]) + 2; j++)
		printf("|--:");
	printf("|\n");
	for (i = C_LB; i < N_CHAINS; i++) {
		const struct chain *c = &chains[i];
		long in = count_conns(c);

		printf("| %s | %u", c->name, c->max_conns);
		for (j = 0; j < sizeof(cols) / sizeof(cols[0]); j++)
			printf(" | %lld", bench_percpu_sum(c->stats_fd, cols[j].stat));
		printf(" | %ld | %lld |\n", in, bench_percpu_sum(c->stats_fd, SFC_LB_STAT_CONN_NEW) - in);
	}
	printf("\n");
}

static void report(__u32 repeat, __u32 shots, __u32 flows, int cpu)
{
	printf("# bench_lb: the load balancer under BPF_PROG_TEST_RUN, CPU %d\n\n", cpu);
	printf("Packets: TCP ACK without payload, 60 bytes (IPv4) or 74 (IPv6). `lbb-pt` is the "
	       "passthrough chain (the base of the increments; its reverse direction for the "
	       "reply); `lbb-lb` and `lbb-small` are one loadbalancer each (maxConnections %u "
	       "and %u), egress pass, with a nat and a dsr TCP service per family, 4 backends "
	       "each. est-F: each run the next of F = %u established nat flows.\n\n",
	       chains[C_LB].max_conns, chains[C_SMALL].max_conns, flows);
	report_method('A', repeat, shots);
	report_method('B', repeat, shots);
	report_ab();
	report_target();
	report_churn(shots);
	report_tables();
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-n REPEAT] [-s SHOTS] [-r ROUNDS] [-c CPU] [-F FLOWS] [-L LARGE] [-S SMALL]\n"
		"  -n REPEAT  in-kernel repetitions per method-A sample (default 1000000)\n"
		"  -s SHOTS   one-repetition test runs per method-B sample (default 100000)\n"
		"  -r ROUNDS  samples per case and method, median reported (default 9, max %d)\n"
		"  -c CPU     CPU to pin to (default: the one it starts on)\n"
		"  -F FLOWS   established flows of the est-F case (default 1000000)\n"
		"  -L LARGE   maxConnections of lbb-lb (default 8388608); it must hold\n"
		"             2 FLOWS + 6 ROUNDS SHOTS + a few, or its new flows evict\n"
		"  -S SMALL   maxConnections of lbb-small, which evicts (default 1024)\n",
		argv0, BENCH_MAX_ROUNDS);
}

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	return *s && !*end ? v : 0;
}

int main(int argc, char **argv)
{
	__u32 repeat = 1000000, shots = 100000, flows = 1000000;
	unsigned long large = 8388608, small = 1024;
	int cpu = -1, opt, i, pt4, pt6, ptr, pp4, est4, many;
	double need;

	rounds_ = 9;
	while ((opt = getopt(argc, argv, "n:s:r:c:F:L:S:h")) != -1) {
		switch (opt) {
		case 'n': repeat = num(optarg); break;
		case 's': shots = num(optarg); break;
		case 'r': rounds_ = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 'F': flows = num(optarg); break;
		case 'L': large = num(optarg); break;
		case 'S': small = num(optarg); break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (optind != argc || rounds_ < 1 || rounds_ > BENCH_MAX_ROUNDS || !repeat || !shots ||
	    !flows || large < 64 || small < 64 || large > MAX_CONNS || small > MAX_CONNS) {
		usage(stderr, argv[0]);
		return 2;
	}
	/* Entries lbb-lb takes: est-F, 2 nat and 2 dsr new-flow cases, the checks. */
	need = 2.0 * flows + 6.0 * rounds_ * shots + 1000;
	if (need > large) {
		fprintf(stderr, "bench_lb: -L %lu is below the %.0f entries the run creates\n",
			large, need);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_lb: needs root (BPF, netns)\n");
		return 1;
	}
	if (bench_setup("bench_lb", "sfclbb", "sfc-bench-lb", &cpu))
		return 1;
	chains[C_PT] = (struct chain){ .name = "lbb-pt", .ifname = "lbbpt" };
	chains[C_LB] = (struct chain){ .name = "lbb-lb", .ifname = "lbblb", .max_conns = large };
	chains[C_SMALL] = (struct chain){ .name = "lbb-small", .ifname = "lbbsm",
					  .max_conns = small };
	chains[C_PP] = (struct chain){ .name = "lbb-pp", .ifname = "lbbpp", .max_conns = 1024 };
	for (i = 0; i < N_CHAINS; i++)
		if (apply_chain(&chains[i]))
			return 1;

	add_case("empty XDP program", NULL, 4, P_BASE, 0, -1);
	cases[0].prog_fd = bench_load_empty("lbb_empty");
	if (cases[0].prog_fd < 0)
		return 1;
	pt4 = add_case("lbb-pt", &chains[C_PT], 4, P_BASE, 0, -1);
	pt6 = add_case("lbb-pt", &chains[C_PT], 6, P_BASE, 0, -1);
	ptr = add_case("lbb-pt, reverse", &chains[C_PT], 4, P_BASE, 0, -1);
	cases[ptr].prog_fd = chains[C_PT].rev_fd;
	add_case("lbb-lb", &chains[C_LB], 4, P_OTHER, 0, pt4);
	add_case("lbb-lb", &chains[C_LB], 6, P_OTHER, 0, pt6);
	pp4 = add_case("lbb-pp", &chains[C_PP], 4, P_EST, 0, pt4);
	add_case("lbb-pp", &chains[C_PP], 6, P_EST, 0, pt6);
	add_case("lbb-pp", &chains[C_PP], 4, P_REPLY, 0, ptr);
	est4 = add_case("lbb-lb", &chains[C_LB], 4, P_EST, 0, pt4);
	add_case("lbb-lb", &chains[C_LB], 6, P_EST, 0, pt6);
	add_case("lbb-lb", &chains[C_LB], 4, P_REPLY, 0, ptr);
	add_case("lbb-lb", &chains[C_LB], 4, P_EST, 1, pt4);
	add_case("lbb-lb", &chains[C_LB], 6, P_EST, 1, pt6);
	many = add_case("lbb-lb", &chains[C_LB], 4, P_MANY, 0, pt4);
	add_case("lbb-lb", &chains[C_LB], 4, P_NEW, 0, pt4);
	add_case("lbb-lb", &chains[C_LB], 6, P_NEW, 0, pt6);
	add_case("lbb-lb", &chains[C_LB], 4, P_NEW, 1, pt4);
	add_case("lbb-lb", &chains[C_LB], 6, P_NEW, 1, pt6);
	add_case("lbb-small", &chains[C_SMALL], 4, P_NEW, 0, pt4);
	for (i = 0; i < n_cases; i++)
		if (cases[i].prog_fd < 0)
			return 1;

	if (prefill(&cases[many], flows))
		return 1;
	for (i = 0; i < n_cases; i++) {
		if (cases[i].path == P_REPLY &&
		    make_reply(&cases[i], &cases[cases[i].pp ? pp4 : est4]))
			return 1;
		if (check_case(&cases[i]))
			return 1;
	}
	fprintf(stderr, "bench_lb: %d cases pass their checks; measuring\n", n_cases);
	if (bench_measure(&(struct bench_ops){ .n_cases = n_cases, .samples = samples_of,
						.repeatable = repeatable, .run = run_case },
			  repeat, shots, rounds_))
		return 1;
	report(repeat, shots, flows, cpu);
	return 0;
}
