// SPDX-License-Identifier: GPL-2.0
/*
 * bench_handoff: time the hand-off of the parsed packet from the entry to
 * the functions, XDP metadata against a per-CPU scratch map, with
 * BPF_PROG_TEST_RUN (see handoff.bpf.c for the programs and
 * docs/handoff.md for the report).
 *
 * Two methods, every variant in the same process so the ratios hold:
 *  A  one test run of `repeat` in-kernel repetitions per sample; the
 *     kernel's duration is the mean ns per repetition. The metadata writer
 *     is the repeat-safe one (the frame is not reset between repetitions).
 *  B  `shots` test runs of one repetition per sample, so every run starts
 *     from a fresh frame and the metadata writer is the plain
 *     adjust_meta(-size) one; the sample is the mean of the kernel's
 *     per-run duration (which includes its own timer reads) and, for
 *     reference, the mean wall time of the whole syscall (clock_gettime).
 * Samples are taken round-robin over the variants, `rounds` times; the
 * table gives the median and the min..max of the rounds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_stat.h"
#include "shared/sfc_abi.h"
#include "bench_handoff.skel.h"

#define PKT_LEN 64
#define XDP_PASS_ 2

enum kind { K_EMPTY, K_NONE, K_META, K_S32, K_PKT, K_MPKT, K_NR };

static const char *kind_name[K_NR] = {
	[K_EMPTY] = "empty",
	[K_NONE] = "bare tail calls",
	[K_META] = "metadata, 32 B",
	[K_S32] = "per-CPU scratch, 32 B",
	[K_PKT] = "per-CPU scratch, sfc_pkt",
	[K_MPKT] = "metadata, sfc_pkt",
};

struct variant {
	const char *tag;	/* the brief's letter */
	enum kind kind;
	int readers;
	struct bpf_program *prog_a;	/* method A (repeat) */
	struct bpf_program *prog_b;	/* method B (one repetition per run) */
	double a[BENCH_MAX_ROUNDS];
	double b_kern[BENCH_MAX_ROUNDS];
	double b_wall[BENCH_MAX_ROUNDS];
};

static unsigned char pkt[PKT_LEN];

/* Ethernet + IPv4 + UDP, 64 bytes with 22 bytes of payload. */
static void build_pkt(void)
{
	struct ethhdr *eth = (void *)pkt;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	unsigned int sum = 0;
	int i;

	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", ETH_ALEN);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(PKT_LEN - sizeof(*eth));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	for (i = 0; i < 10; i++)
		sum += ((unsigned short *)ip)[i];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum;
	udp->source = htons(1234);
	udp->dest = htons(53);
	udp->len = htons(PKT_LEN - sizeof(*eth) - sizeof(*ip));
}

/* One test run; returns 0 and fills retval/duration, or -errno. */
static int run(struct bpf_program *prog, __u32 repeat, __u32 *retval, __u32 *duration,
	       __u32 *size_out)
{
	static unsigned char out[PKT_LEN + 256];
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = pkt,
		.data_size_in = sizeof(pkt),
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = repeat);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
	if (err)
		return -errno;
	*retval = o.retval;
	*duration = o.duration;
	if (size_out)
		*size_out = o.data_size_out;
	return 0;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int set_slot(struct bpf_map *map, __u32 slot, struct bpf_program *prog)
{
	int fd = bpf_program__fd(prog);

	if (bpf_map_update_elem(bpf_map__fd(map), &slot, &fd, BPF_ANY))
		return -errno;
	return 0;
}

static int fill_progs(struct bench_handoff *skel)
{
	int err = 0;

	err = err ?: set_slot(skel->maps.bench_none_progs, 0, skel->progs.bench_none_r);
	err = err ?: set_slot(skel->maps.bench_none_progs, 1, skel->progs.bench_none_m1);
	err = err ?: set_slot(skel->maps.bench_none_progs, 2, skel->progs.bench_none_m2);
	err = err ?: set_slot(skel->maps.bench_meta_progs, 0, skel->progs.bench_meta_r);
	err = err ?: set_slot(skel->maps.bench_s32_progs, 0, skel->progs.bench_s32_r);
	err = err ?: set_slot(skel->maps.bench_pkt_progs, 0, skel->progs.bench_pkt_r);
	err = err ?: set_slot(skel->maps.bench_mpkt_progs, 0, skel->progs.bench_mpkt_r);
	return err;
}

/* One bench_probe run: *hret is adjust_meta()'s return, *metalen the area after. */
static int probe(struct bench_handoff *skel, int delta, __u32 repeat, int *hret, __u32 *metalen)
{
	__u32 retval, dur, size;
	int err;

	skel->data->bench_probe_delta = delta;
	err = run(skel->progs.bench_probe, repeat, &retval, &dur, &size);
	if (err) {
		fprintf(stderr, "bench_probe: test_run: %s\n", strerror(-err));
		return err;
	}
	*hret = skel->bss->bench_probe_ret;
	*metalen = size - PKT_LEN;
	return 0;
}

/*
 * How much metadata does adjust_meta() give on this kernel, and does
 * test_run reset the frame between repetitions? If it does not, the second
 * of two adjust_meta(-32) finds the first one's 32 bytes still there.
 */
static int check_meta(struct bench_handoff *skel, int *max_meta)
{
	int size, err, hret, fail = 0;
	__u32 len;

	printf("## XDP metadata on this kernel\n\n");
	*max_meta = 0;
	for (size = 4; size <= 256; size += 4) {
		err = probe(skel, -size, 1, &hret, &len);
		if (err)
			return err;
		if (hret) {
			fail = hret;
			break;
		}
		*max_meta = size;
	}
	printf("- adjust_meta() on a fresh test frame: -%d is the largest that succeeds", *max_meta);
	if (fail)
		printf(", -%d returns %s", *max_meta + 4, strerror(-fail));
	printf(" (sizeof(struct sfc_pkt) = %zu)\n", sizeof(struct sfc_pkt));
	err = probe(skel, -32, 2, &hret, &len);
	if (err)
		return err;
	printf("- repeat=2 with adjust_meta(-32) in each repetition: the second returned %s; "
	       "metadata after the run: %u bytes\n", hret ? strerror(-hret) : "ok", len);
	if (len != 32 || hret)
		printf("- so test_run does NOT reset the frame between repetitions: method A uses "
		       "the repeat-safe metadata writers, method B the plain ones (one repetition "
		       "per run)\n\n");
	else
		printf("- the frame is reset between repetitions\n\n");
	return 0;
}

/* Every variant must hand its record through whole: XDP_PASS, or refuse. */
static int check_verdicts(struct variant *v, int n)
{
	__u32 retval, dur, reps[] = { 1, 2, 100 };
	int i, j, err;

	for (i = 0; i < n; i++) {
		for (j = 0; j < 3 && v[i].prog_a; j++) {
			struct bpf_program *p = j == 0 ? v[i].prog_b : v[i].prog_a;

			err = run(p, reps[j], &retval, &dur, NULL);
			if (err || retval != XDP_PASS_) {
				fprintf(stderr, "%s: repeat=%u: %s, verdict %u (want XDP_PASS)\n",
					bpf_program__name(p), reps[j], err ? strerror(-err) : "ran",
					retval);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-n REPEAT] [-s SHOTS] [-r ROUNDS] [-c CPU]\n"
		"  -n REPEAT  in-kernel repetitions per method-A sample (default 1000000)\n"
		"  -s SHOTS   one-repetition test runs per method-B sample (default 100000)\n"
		"  -r ROUNDS  samples per variant and method, median reported (default 9, max %d)\n"
		"  -c CPU     CPU to pin to (default: the one it starts on)\n",
		argv0, BENCH_MAX_ROUNDS);
}

static const char *what_of(const struct variant *v)
{
	static char what[64];

	snprintf(what, sizeof(what), "%s%s", kind_name[v->kind],
		 v->kind == K_EMPTY ? "" : v->readers == 1 ? ", 1 reader" : ", 3 readers");
	return what;
}

static double med(const double *col, int rounds)
{
	return stat_of(col, rounds).med;
}

/* Fails on anything but XDP_PASS: a variant that did not hand its record on. */
static int sample(struct bpf_program *prog, __u32 repeat, __u32 *duration)
{
	__u32 retval;
	int err;

	err = run(prog, repeat, &retval, duration, NULL);
	if (err || retval != XDP_PASS_) {
		fprintf(stderr, "%s: repeat=%u: %s, verdict %u\n", bpf_program__name(prog), repeat,
			err ? strerror(-err) : "ran", retval);
		return err ?: -EINVAL;
	}
	return 0;
}

static int measure(struct variant *v, int nv, __u32 repeat, __u32 shots, int rounds)
{
	__u32 dur;
	int r, i, k, err;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < nv; i++) {
			err = sample(v[i].prog_a, repeat, &dur);
			if (err)
				return err;
			v[i].a[r] = dur;
		}
		for (i = 0; i < nv; i++) {
			double kern = 0, t0 = now_ns();

			for (k = 0; k < (int)shots; k++) {
				err = sample(v[i].prog_b, 1, &dur);
				if (err)
					return err;
				kern += dur;
			}
			v[i].b_wall[r] = (now_ns() - t0) / shots;
			v[i].b_kern[r] = kern / shots;
		}
	}
	return 0;
}

static void report(const struct variant *v, int nv, __u32 repeat, __u32 shots, int rounds)
{
	double base = med(v[0].a, rounds), wbase;
	int i;

	printf("## Method A: one test run of repeat=%u per sample, %d samples (ns per packet)\n\n",
	       repeat, rounds);
	printf("The kernel's duration, whole ns. (Wall time is no use here: a test run with "
	       "repeat > 1 swaps the program into the XDP dispatcher, an RCU grace period.)\n\n");
	printf("| case  | hand-off, readers after the writer  | duration median | min .. max | vs empty | x empty |\n");
	printf("|-------|-------------------------------------|----------------:|-----------:|---------:|--------:|\n");
	for (i = 0; i < nv; i++) {
		struct stat3 s = stat_of(v[i].a, rounds);

		printf("| %-5s | %-35s | %15.0f | %3.0f .. %-3.0f | %+8.0f | %7.2f |\n", v[i].tag,
		       what_of(&v[i]), s.med, s.min, s.max, s.med - base, s.med / base);
	}

	base = med(v[0].b_kern, rounds);
	wbase = med(v[0].b_wall, rounds);
	printf("\n## Method B: repeat=1 (a fresh frame every run), %u runs per sample, %d samples\n\n",
	       shots, rounds);
	printf("Kernel duration averaged over the runs (it includes the kernel's own timer reads, "
	       "hence the offset), and the wall time of the whole bpf() call (clock_gettime).\n\n");
	printf("| case  | hand-off, readers after the writer  | duration median | min .. max  | vs empty | x empty | syscall wall | vs empty |\n");
	printf("|-------|-------------------------------------|----------------:|------------:|---------:|--------:|-------------:|---------:|\n");
	for (i = 0; i < nv; i++) {
		struct stat3 s = stat_of(v[i].b_kern, rounds);
		double w = med(v[i].b_wall, rounds);

		printf("| %-5s | %-35s | %15.2f | %4.1f .. %-4.1f | %+8.2f | %7.2f | %12.1f | %+8.1f |\n",
		       v[i].tag, what_of(&v[i]), s.med, s.min, s.max, s.med - base, s.med / base, w,
		       w - wbase);
	}

	/* Per hop, from the medians: what grows with the length of the chain. */
	double ta1 = med(v[1].a, rounds), ta3 = med(v[2].a, rounds);
	double tb1 = med(v[1].b_kern, rounds), tb3 = med(v[2].b_kern, rounds);

	printf("\n## Per hop (ns, from the medians of A and B)\n\n");
	printf("Each extra reader: (3 readers - 1 reader) / 2. Its hand-off part: the same less "
	       "the bare tail calls'. Writer + first reader: 1 reader less the bare tail call.\n\n");
	printf("| hand-off                  | extra reader, A | B | hand-off part, A | B | writer + 1st reader, A | B |\n");
	printf("|---------------------------|------:|------:|------:|------:|------:|------:|\n");
	for (i = 3; i + 1 < nv; i += 2) {
		double a1 = med(v[i].a, rounds), a3 = med(v[i + 1].a, rounds);
		double b1 = med(v[i].b_kern, rounds), b3 = med(v[i + 1].b_kern, rounds);

		printf("| %-25s | %5.2f | %5.2f | %5.2f | %5.2f | %5.2f | %5.2f |\n",
		       kind_name[v[i].kind], (a3 - a1) / 2, (b3 - b1) / 2,
		       ((a3 - a1) - (ta3 - ta1)) / 2, ((b3 - b1) - (tb3 - tb1)) / 2, a1 - ta1,
		       b1 - tb1);
	}
	printf("| %-25s | %5.2f | %5.2f |       |       |       |       |\n", kind_name[K_NONE],
	       (ta3 - ta1) / 2, (tb3 - tb1) / 2);
}

int main(int argc, char **argv)
{
	struct bench_handoff *skel = NULL;
	__u32 repeat = 1000000, shots = 100000;
	int rounds = 9, cpu = -1, opt, err = 0, max_meta, nv;
	struct variant *v = NULL;
	cpu_set_t set;

	while ((opt = getopt(argc, argv, "n:s:r:c:h")) != -1) {
		switch (opt) {
		case 'n': repeat = strtoul(optarg, NULL, 0); break;
		case 's': shots = strtoul(optarg, NULL, 0); break;
		case 'r': rounds = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (optind != argc || rounds < 1 || rounds > BENCH_MAX_ROUNDS || repeat < 1 || shots < 1) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_handoff: needs root (BPF_PROG_TEST_RUN)\n");
		return 1;
	}
	if (cpu < 0)
		cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "bench_handoff: pin to CPU %d: %s\n", cpu, strerror(errno));
		return 1;
	}

	build_pkt();
	skel = bench_handoff__open_and_load();
	if (!skel) {
		fprintf(stderr, "bench_handoff: load: %s\n", strerror(errno));
		return 1;
	}
	err = fill_progs(skel);
	if (err) {
		fprintf(stderr, "bench_handoff: prog arrays: %s\n", strerror(-err));
		goto out;
	}

	printf("# bench_handoff: %d-byte UDP/IPv4 frame, CPU %d, sizeof(struct sfc_pkt) = %zu\n\n",
	       PKT_LEN, cpu, sizeof(struct sfc_pkt));
	err = check_meta(skel, &max_meta);
	if (err)
		goto out;

	struct variant all[] = {
		{ "(a)", K_EMPTY, 0, skel->progs.bench_empty, skel->progs.bench_empty },
		{ "ref", K_NONE, 1, skel->progs.bench_none_w1, skel->progs.bench_none_w1 },
		{ "ref", K_NONE, 3, skel->progs.bench_none_w3, skel->progs.bench_none_w3 },
		{ "(b)", K_META, 1, skel->progs.bench_meta_w1, skel->progs.bench_meta_f1 },
		{ "(e)", K_META, 3, skel->progs.bench_meta_w3, skel->progs.bench_meta_f3 },
		{ "(c)", K_S32, 1, skel->progs.bench_s32_w1, skel->progs.bench_s32_w1 },
		{ "(e)", K_S32, 3, skel->progs.bench_s32_w3, skel->progs.bench_s32_w3 },
		{ "(d)", K_PKT, 1, skel->progs.bench_pkt_w1, skel->progs.bench_pkt_w1 },
		{ "(d,e)", K_PKT, 3, skel->progs.bench_pkt_w3, skel->progs.bench_pkt_w3 },
		{ "(f)", K_MPKT, 1, skel->progs.bench_mpkt_w1, skel->progs.bench_mpkt_f1 },
		{ "(f,e)", K_MPKT, 3, skel->progs.bench_mpkt_w3, skel->progs.bench_mpkt_f3 },
	};
	nv = sizeof(all) / sizeof(all[0]);
	if (max_meta < (int)sizeof(struct sfc_pkt)) {
		printf("(f) skipped: this kernel takes at most %d bytes of metadata\n\n", max_meta);
		nv -= 2;
	}
	v = all;

	err = check_verdicts(v, nv);
	err = err ?: measure(v, nv, repeat, shots, rounds);
	if (err)
		goto out;
	report(v, nv, repeat, shots, rounds);
out:
	bench_handoff__destroy(skel);
	return err ? 1 : 0;
}
