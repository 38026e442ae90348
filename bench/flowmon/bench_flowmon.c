// SPDX-License-Identifier: GPL-2.0
/*
 * bench_flowmon: ns per packet through the flow monitor, and flows/s of
 * table churn, with BPF_PROG_TEST_RUN on the pinned root program of whole
 * chains (see docs/bench-flowmon.md). The method is bench_fw's.
 *
 * Chains, each applied with libsfc onto its own veth in a private netns,
 * under a private pin root, egress pass:
 *  - fmb-pt     one `passthrough` function: the fixed cost of a chain;
 *  - fmb-s1     one `flowmon`, sampling 1,   maxFlows LARGE;
 *  - fmb-sN     one `flowmon`, sampling N,   maxFlows LARGE;
 *  - fmb-small  one `flowmon`, sampling 1,   maxFlows SMALL (evicts).
 * and an empty XDP program (returns XDP_PASS), all in the same run.
 *
 * Packets: a 60-byte IPv4 TCP ACK. A "hit" case sends one flow over and
 * over (it is created by the checks, before timing). A "miss" case writes a
 * new (sport, dport) into the frame before every test run, so each run is a
 * new flow; the L4 checksum is then wrong, which nothing on the path reads.
 * A test run with repeat > 1 runs the program on the same buffer, so a
 * packet cannot change between repetitions without a program in the chain
 * that rewrites it: the miss path exists under method B only.
 *
 * Two methods, every case pinned to one CPU, sampled round-robin:
 *  A  one test run of `repeat` in-kernel repetitions per sample; the
 *     kernel's duration: mean ns per repetition, whole ns. Hit cases only.
 *  B  `shots` test runs of one repetition per sample; the mean of the
 *     kernel's per-run duration (includes its two timer reads), and the
 *     wall clock of the loop: runs/s, which for a miss case are flows/s.
 * Every case of B writes its ports into the frame before each run, so the
 * wall-clock rates compare like with like.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_chain.h"
#include "bench_stat.h"
#include "sfc/sfc.h"
#include "shared/sfc_flow.h"
#include "fwpkt.h"

#define HIT_DPORT 8443
#define MISS_DPORT0 1000	/* miss flows: dport MISS_DPORT0 + idx / 65536, sport idx % 65536 */

enum { C_PT, C_S1, C_SN, C_SMALL, N_CHAINS };

struct chain {
	char name[SFC_NAME_MAX + 1];
	char ifname[16];
	unsigned int sampling, max_flows;	/* 0: passthrough */
	int root_fd;
	int stats_fd, flows_fd;	/* flowmon's maps, or -1 */
};

struct bcase {
	const char *name;
	struct chain *c;	/* NULL: the empty program */
	int miss;		/* a new flow every run */
	int prog_fd;
	int base;		/* the case it is an increment over, or -1 */
	__u32 next;		/* next miss flow */
	struct bench_samples s;
};

static struct chain chains[N_CHAINS];
static struct bcase cases[16];
static int n_cases;
static struct fwpkt pkt;
static const unsigned char mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const unsigned char mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

/* ---- packets and runs ----------------------------------------------------- */

/* The TCP ports of the frame: Ethernet 14 + IPv4 20 bytes in. */
static void set_ports(unsigned char *frame, __u16 sport, __u16 dport)
{
	frame[34] = sport >> 8;
	frame[35] = sport & 0xff;
	frame[36] = dport >> 8;
	frame[37] = dport & 0xff;
}

static void set_flow(struct bcase *k, unsigned char *frame)
{
	__u32 i;

	if (!k->miss) {
		set_ports(frame, pkt.sport, HIT_DPORT);
		return;
	}
	i = k->next++;
	set_ports(frame, i & 0xffff, MISS_DPORT0 + (i >> 16));
}

/* One test run of the case's next packet; 0 with *duration, or -errno. */
static int run(struct bcase *k, unsigned char *frame, __u32 repeat, __u32 *duration)
{
	set_flow(k, frame);
	return bench_test_run(k->name, k->prog_fd, frame, pkt.len, repeat, duration, NULL, NULL);
}

/* ---- the monitor's maps --------------------------------------------------- */

static int map_by_name(int prog_fd, const char *name)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi), ids[64], i, n;
	int fd;

	pi.nr_map_ids = 64;
	pi.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len))
		return -errno;
	n = pi.nr_map_ids < 64 ? pi.nr_map_ids : 64;
	for (i = 0; i < n; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);

		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		/* The kernel keeps 15 characters of a map name. */
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen) &&
		    !strncmp(mi.name, name, BPF_OBJ_NAME_LEN - 1))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

/* A counter of sfc_flowmon_stats summed over the CPUs, or -1. */
static long long counter(const struct chain *c, __u32 key)
{
	return bench_percpu_sum(c->stats_fd, key);
}

static long count_flows(const struct chain *c)
{
	struct sfc_flow_key k, next;
	void *prev = NULL;
	long n = 0;

	if (c->flows_fd < 0)
		return -1;
	while (!bpf_map_get_next_key(c->flows_fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static int find_maps(struct chain *c)
{
	struct sfc_chain_status *st = NULL;
	unsigned int i;
	int err, fd = -1;

	c->stats_fd = c->flows_fd = -1;
	if (!c->max_flows)
		return 0;
	err = sfc_chain__status(c->name, bench_pin_root, &st);
	if (err)
		return err;
	for (i = 0; i < st->n_stages; i++)
		if (!strcmp(st->stages[i].type, "flowmon"))
			fd = bpf_prog_get_fd_by_id(st->stages[i].prog_id);
	sfc_chain_status__free(st);
	if (fd < 0) {
		fprintf(stderr, "bench_flowmon: %s: no flowmon stage\n", c->name);
		return -ENOENT;
	}
	c->stats_fd = map_by_name(fd, "sfc_flowmon_stats");
	c->flows_fd = map_by_name(fd, "sfc_flowmon_flows");
	close(fd);
	if (c->stats_fd < 0 || c->flows_fd < 0) {
		fprintf(stderr, "bench_flowmon: %s: flowmon maps not found\n", c->name);
		return -ENOENT;
	}
	return 0;
}

/* ---- setup ---------------------------------------------------------------- */

static int apply_chain(struct chain *c)
{
	char fn[256];

	if (c->max_flows)
		snprintf(fn, sizeof(fn), "{name: mon, type: flowmon, config: {maxFlows: %u, "
			 "sampling: %u}}", c->max_flows, c->sampling);
	else
		snprintf(fn, sizeof(fn), "{name: pt, type: passthrough}");
	c->root_fd = bench_apply(c->name, c->ifname, fn);
	if (c->root_fd < 0)
		return c->root_fd;
	return find_maps(c);
}

static int add_case(const char *name, struct chain *c, int miss, int fd, int base)
{
	cases[n_cases] = (struct bcase){ .name = name, .c = c, .miss = miss, .prog_fd = fd,
					 .base = base };
	return n_cases++;
}

/*
 * Before timing, each monitor case must take the path it is named for: a
 * hit creates no flow and (sampling 1) accounts the packet; a miss of
 * sampling 1 creates one flow per run. A hit case's flow is created here.
 */
static int check_case(struct bcase *k)
{
	unsigned char frame[FWPKT_MAX_LEN];
	long long p0, s0, n0, p1, s1, n1;
	__u32 dur;
	int i, err;

	memcpy(frame, pkt.frame, sizeof(frame));
	if (!k->c || !k->c->max_flows)
		return run(k, frame, 1, &dur);
	if (!k->miss && (err = run(k, frame, 1, &dur)))	/* creates the flow, sampled or not */
		return err;
	for (i = 0; !k->miss && i < 1000 && counter(k->c, SFC_FLOWMON_NEW_FLOWS) < 1; i++)
		if ((err = run(k, frame, 1, &dur)))
			return err;
	p0 = counter(k->c, SFC_FLOWMON_PACKETS);
	s0 = counter(k->c, SFC_FLOWMON_SAMPLED);
	n0 = counter(k->c, SFC_FLOWMON_NEW_FLOWS);
	for (i = 0; i < 10; i++)
		if ((err = run(k, frame, 1, &dur)))
			return err;
	p1 = counter(k->c, SFC_FLOWMON_PACKETS);
	s1 = counter(k->c, SFC_FLOWMON_SAMPLED);
	n1 = counter(k->c, SFC_FLOWMON_NEW_FLOWS);
	if (p1 - p0 != 10 || (k->c->sampling == 1 && s1 - s0 != 10) ||
	    (k->miss && k->c->sampling == 1 && n1 - n0 != 10) || (!k->miss && n1 != n0)) {
		fprintf(stderr, "bench_flowmon: %s: 10 runs gave packets +%lld, sampled +%lld, "
			"new flows +%lld\n", k->name, p1 - p0, s1 - s0, n1 - n0);
		return -EINVAL;
	}
	return 0;
}

/* ---- measuring ------------------------------------------------------------ */

/*
 * Every case sends the same frame but for its ports, which run() writes
 * before each test run: one copy serves them all.
 */
static unsigned char run_frame[FWPKT_MAX_LEN];

static struct bench_samples *samples_of(int i)
{
	return &cases[i].s;
}

static bool hit_case(int i)
{
	return !cases[i].miss;
}

static int run_case(int i, __u32 repeat, __u32 *duration)
{
	return run(&cases[i], run_frame, repeat, duration);
}

static int measure(__u32 repeat, __u32 shots, int rounds)
{
	const struct bench_ops ops = { .n_cases = n_cases, .samples = samples_of,
				       .repeatable = hit_case, .run = run_case };

	memcpy(run_frame, pkt.frame, sizeof(run_frame));
	return bench_measure(&ops, repeat, shots, rounds);
}

static double med(const struct bcase *k, int method, int rounds)
{
	return stat_of(method == 2 ? k->s.w : method ? k->s.b : k->s.a, rounds).med;
}

/* ---- the report ----------------------------------------------------------- */

static const char *path_of(const struct bcase *k)
{
	if (!k->c || !k->c->max_flows)
		return "-";
	return k->miss ? "miss (new flow)" : "hit";
}

static void report_method(int method, __u32 repeat, __u32 shots, int rounds)
{
	double empty = med(&cases[0], method, rounds);
	int i;

	if (!method)
		printf("## Method A: one test run of repeat=%u per sample, %d samples (ns per packet)\n\n"
		       "The kernel's duration: mean ns per repetition, rounded down. Hit paths only: "
		       "the repetitions of one test run all see the same packet.\n\n", repeat, rounds);
	else
		printf("## Method B: repeat=1, %u runs per sample, %d samples (ns per packet)\n\n"
		       "The mean of the kernel's per-run duration, which includes its two timer "
		       "reads (the empty program's row shows that offset).\n\n", shots, rounds);
	printf("| case | path | median | min .. max | x empty | - passthrough chain | (- passthrough) / empty |\n");
	printf("|------|------|-------:|-----------:|--------:|--------------------:|------------------------:|\n");
	for (i = 0; i < n_cases; i++) {
		const struct bcase *k = &cases[i];
		struct stat3 s;
		char inc[32] = "", rel[32] = "";
		double b;

		if (!method && k->miss)
			continue;
		s = stat_of(method ? k->s.b : k->s.a, rounds);
		if (k->base >= 0) {
			b = med(&cases[k->base], method, rounds);
			snprintf(inc, sizeof(inc), method ? "%+.1f" : "%+.0f", s.med - b);
			snprintf(rel, sizeof(rel), "%.2f", (s.med - b) / empty);
		}
		if (method)
			printf("| %s | %s | %.1f | %.1f .. %.1f | %.2f | %s | %s |\n", k->name,
			       path_of(k), s.med, s.min, s.max, s.med / empty, inc, rel);
		else
			printf("| %s | %s | %.0f | %.0f .. %.0f | %.2f | %s | %s |\n", k->name,
			       path_of(k), s.med, s.min, s.max, s.med / empty, inc, rel);
	}
	printf("\n");
}

static void report_churn(__u32 shots, int rounds)
{
	double e_ns = med(&cases[0], 1, rounds), e_w = med(&cases[0], 2, rounds);
	int i;

	printf("## Table churn: method B, one new flow per run\n\n"
	       "runs/s: the wall clock of each sample's %u test runs (syscall, copies, frame "
	       "rewrite included), median and min..max of %d samples; for a miss case with "
	       "sampling 1 that is flows inserted per second. Kernel ns: the median of method "
	       "B above; `1e9 / (ns - empty ns)` is the rate one CPU could insert at if "
	       "test_run's fixed cost (timer reads, the empty program) were nothing.\n\n",
	       shots, rounds);
	printf("| case | path | runs/s (median) | min .. max | x empty runs/s | kernel ns | flows/s, 1e9 / (ns - empty ns) |\n");
	printf("|------|------|----------------:|-----------:|---------------:|----------:|-------------------------------:|\n");
	for (i = 0; i < n_cases; i++) {
		const struct bcase *k = &cases[i];
		struct stat3 s = stat_of(k->s.w, rounds);
		double ns_ = med(k, 1, rounds);
		char net[32] = "-";

		if (k->c && k->c->max_flows && k->c->sampling != 1)
			continue;
		if (k->c && k->c->max_flows && k->miss && ns_ > e_ns)
			snprintf(net, sizeof(net), "%.2f M", 1e3 / (ns_ - e_ns));
		printf("| %s | %s | %.0f | %.0f .. %.0f | %.2f | %.1f | %s |\n", k->name, path_of(k),
		       s.med, s.min, s.max, s.med / e_w, ns_, net);
	}
	printf("\n");
}

static void report_tables(void)
{
	int i;

	printf("## The tables after the run\n\n"
	       "From sfc_flowmon_stats and the flow table itself. No agent runs, so "
	       "evicted = new flows - flows in the table (shared/sfc_flow.h).\n\n");
	printf("| chain | sampling | maxFlows | packets | sampled | new flows | insert failed | flows in table | evicted |\n");
	printf("|-------|---------:|---------:|--------:|--------:|----------:|--------------:|---------------:|--------:|\n");
	for (i = 0; i < N_CHAINS; i++) {
		const struct chain *c = &chains[i];
		long long nf;
		long in;

		if (!c->max_flows)
			continue;
		nf = counter(c, SFC_FLOWMON_NEW_FLOWS);
		in = count_flows(c);
		printf("| %s | %u | %u | %lld | %lld | %lld | %lld | %ld | %lld |\n", c->name,
		       c->sampling, c->max_flows, counter(c, SFC_FLOWMON_PACKETS),
		       counter(c, SFC_FLOWMON_SAMPLED), nf, counter(c, SFC_FLOWMON_INSERT_FAILED),
		       in, nf - in);
	}
	printf("\n");
}

static void report_target(int rounds)
{
	int m, i;

	printf("## Target: the monitor at most 2x the empty program per packet\n\n"
	       "Read two ways: the whole chain (root, entry parse, flowmon, egress) over the "
	       "empty program, and the monitor's increment over the passthrough chain over the "
	       "empty program. The passthrough chain alone is in the first row of each "
	       "method: no chain can do better than it on the first reading.\n\n");
	printf("| method | case | path | chain / empty | increment / empty |\n");
	printf("|--------|------|------|--------------:|------------------:|\n");
	for (m = 0; m < 2; m++) {
		double empty = med(&cases[0], m, rounds);

		for (i = 1; i < n_cases; i++) {
			const struct bcase *k = &cases[i];
			double v, b;
			char inc[32] = "-";

			if (!m && k->miss)
				continue;
			v = med(k, m, rounds);
			if (k->base >= 0) {
				b = med(&cases[k->base], m, rounds);
				snprintf(inc, sizeof(inc), "%.2f (%s)", (v - b) / empty,
					 (v - b) / empty <= 2 ? "holds" : "fails");
			}
			printf("| %s | %s | %s | %.2f (%s) | %s |\n", m ? "B" : "A", k->name,
			       path_of(k), v / empty, v / empty <= 2 ? "holds" : "fails", inc);
		}
	}
	printf("\n");
}

static void report(__u32 repeat, __u32 shots, int rounds, int cpu)
{
	printf("# bench_flowmon: the flow monitor under BPF_PROG_TEST_RUN, CPU %d\n\n", cpu);
	printf("Packet: IPv4 TCP ACK without payload, 60 bytes. `fmb-pt` is the passthrough "
	       "chain (the base of the increments); `fmb-s1`, `fmb-s%u` and `fmb-small` are one "
	       "flowmon each (sampling %u, %u, 1; maxFlows %u, %u, %u), egress pass. A hit "
	       "sends one existing flow; a miss a new flow every run (method B only).\n\n",
	       chains[C_SN].sampling, chains[C_S1].sampling, chains[C_SN].sampling,
	       chains[C_S1].max_flows, chains[C_SN].max_flows, chains[C_SMALL].max_flows);
	report_method(0, repeat, shots, rounds);
	report_method(1, repeat, shots, rounds);
	report_churn(shots, rounds);
	report_target(rounds);
	report_tables();
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-n REPEAT] [-s SHOTS] [-r ROUNDS] [-c CPU] [-m SAMPLING] [-L LARGE] [-S SMALL]\n"
		"  -n REPEAT    in-kernel repetitions per method-A sample (default 1000000)\n"
		"  -s SHOTS     one-repetition test runs per method-B sample (default 100000)\n"
		"  -r ROUNDS    samples per case and method, median reported (default 9, max %d)\n"
		"  -c CPU       CPU to pin to (default: the one it starts on)\n"
		"  -m SAMPLING  the sampled chain's 1-in-N (default 100)\n"
		"  -L LARGE     maxFlows of the large tables (default 2097152; keep it above\n"
		"               ROUNDS x SHOTS + a few, or their miss path evicts too)\n"
		"  -S SMALL     maxFlows of the evicting table (default 1024)\n",
		argv0, BENCH_MAX_ROUNDS);
}

int main(int argc, char **argv)
{
	__u32 repeat = 1000000, shots = 100000, large = 2097152, small = 1024, sampling = 100;
	int rounds = 9, cpu = -1, opt, i, empty_fd;

	while ((opt = getopt(argc, argv, "n:s:r:c:m:L:S:h")) != -1) {
		switch (opt) {
		case 'n': repeat = strtoul(optarg, NULL, 0); break;
		case 's': shots = strtoul(optarg, NULL, 0); break;
		case 'r': rounds = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 'm': sampling = strtoul(optarg, NULL, 0); break;
		case 'L': large = strtoul(optarg, NULL, 0); break;
		case 'S': small = strtoul(optarg, NULL, 0); break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (optind != argc || rounds < 1 || rounds > BENCH_MAX_ROUNDS || repeat < 1 || shots < 1 ||
	    sampling < 2 || sampling > SFC_FLOWMON_MAX_SAMPLING || !large || !small ||
	    large > SFC_FLOWMON_MAX_FLOWS || small > SFC_FLOWMON_MAX_FLOWS) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_flowmon: needs root (BPF, netns)\n");
		return 1;
	}
	if (bench_setup("bench_flowmon", "sfcfmb", "sfc-bench-flowmon", &cpu))
		return 1;

	chains[C_PT] = (struct chain){ .name = "fmb-pt", .ifname = "fmbpt" };
	chains[C_S1] = (struct chain){ .name = "fmb-s1", .ifname = "fmbs1", .sampling = 1,
				       .max_flows = large };
	chains[C_SN] = (struct chain){ .ifname = "fmbsn", .sampling = sampling,
				       .max_flows = large };
	snprintf(chains[C_SN].name, sizeof(chains[C_SN].name), "fmb-s%u", sampling);
	chains[C_SMALL] = (struct chain){ .name = "fmb-small", .ifname = "fmbsm", .sampling = 1,
					  .max_flows = small };

	empty_fd = bench_load_empty("fmb_empty");
	if (empty_fd < 0)
		return 1;
	for (i = 0; i < N_CHAINS; i++)
		if (apply_chain(&chains[i]))
			return 1;
	if (fwpkt_parse("flow pass - 4 tcp 198.18.1.7 198.19.0.10 40000 8443", &pkt))
		return 1;
	fwpkt_build(&pkt, mac_dst, mac_src);

	add_case("empty XDP program", NULL, 0, empty_fd, -1);
	add_case("fmb-pt", &chains[C_PT], 0, chains[C_PT].root_fd, -1);
	for (i = C_S1; i < N_CHAINS; i++) {
		add_case(chains[i].name, &chains[i], 0, chains[i].root_fd, 1);
		add_case(chains[i].name, &chains[i], 1, chains[i].root_fd, 1);
	}
	for (i = 0; i < n_cases; i++)
		if (check_case(&cases[i]))
			return 1;
	fprintf(stderr, "bench_flowmon: %d cases pass their checks; measuring\n", n_cases);
	if (measure(repeat, shots, rounds))
		return 1;
	report(repeat, shots, rounds, cpu);
	return 0;
}
