// SPDX-License-Identifier: GPL-2.0
/*
 * bench_fw: ns per packet through the firewall, with BPF_PROG_TEST_RUN on
 * the pinned root program of whole chains (see docs/bench-firewall.md).
 *
 * Every chain file given (gen_rules.py writes them: one `firewall` function,
 * egress pass) is applied with libsfc onto its own veth in a private netns,
 * under a private pin root, next to two baselines measured in the same run:
 *  - an empty XDP program (returns XDP_PASS);
 *  - a chain of one `passthrough` function: root + entry parse + one
 *    function hop + egress, the fixed cost the firewall adds its work to.
 * Each chain is run with the packets of its .pkts file. Before timing, every
 * case must give its expected verdict and, for a firewall, count a packet
 * on the rule it is meant to match (or on the default verdict).
 *
 * Two methods, every case in the same process pinned to one CPU, sampled
 * round-robin (as bench/micro/handoff.c):
 *  A  one test run of `repeat` in-kernel repetitions per sample; the
 *     kernel's duration: mean ns per repetition, whole ns.
 *  B  `shots` test runs of one repetition per sample; the mean of the
 *     kernel's per-run duration, which includes its two timer reads (about
 *     30 ns on the machine of docs/handoff.md).
 * The tables give the median and min..max of the samples.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_sh.h"
#include "bench_stat.h"
#include "sfc/sfc.h"
#include "shared/sfc_fw.h"
#include "nf.h"		/* loader/lib: see parse_large() */
#include "fwpkt.h"

#define MAX_CHAINS 32
#define MAX_CASES 512
#define XDP_DROP_ 1
#define XDP_PASS_ 2

struct chain {
	char name[SFC_NAME_MAX + 1];
	char file[512];
	struct fwpkt_file pk;
	int root_fd;		/* <pin root>/<name>/root_fwd */
	int stats_fd;		/* sfc_fw_rule_stats of the live generation, or -1 */
	int verdicts_fd;	/* sfc_fw_verdicts, or -1 */
	long tuples, keys4, keys6;	/* as loaded; -1 unknown */
	double parse_s, apply_s;
	int large;		/* went in through parse_large() */
};

struct bcase {
	struct chain *c;	/* NULL: a baseline */
	const char *what;	/* the baseline's name */
	struct fwpkt *p;
	int prog_fd;
	int base;		/* index of the case it is an increment over, or -1 */
	double a[BENCH_MAX_ROUNDS], b[BENCH_MAX_ROUNDS];
};

static char ns[32], pin_root[64];
static struct chain chains[MAX_CHAINS];
static int n_chains, applied, pt_applied;
static struct bcase cases[MAX_CASES];
static int n_cases;
static const unsigned char mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const unsigned char mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static void cleanup(void)
{
	struct sfc_diag d = {};
	char cmd[256];
	int i;

	for (i = 0; i < applied; i++)
		sfc_chain__delete(chains[i].name, pin_root, &d);
	if (pt_applied)
		sfc_chain__delete("fwb-pt", pin_root, &d);
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s 2>/dev/null", ns,
		 pin_root);
	if (system(cmd))
		fprintf(stderr, "bench_fw: cleanup: %s failed\n", cmd);
}

static void on_signal(int sig)
{
	exit(128 + sig);	/* runs cleanup() */
}

static void log_cb(enum sfc_log_level level, const char *msg, void *ctx)
{
	if (level <= SFC_LOG_WARN)
		fprintf(stderr, "libsfc: %s\n", msg);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One test run; 0 with *retval and *duration, or -errno. */
static int run(int fd, const struct fwpkt *p, __u32 repeat, __u32 *retval, __u32 *duration)
{
	unsigned char out[FWPKT_MAX_LEN + 256];
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = p->frame,
		.data_size_in = p->len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*retval = o.retval;
	*duration = o.duration;
	return 0;
}

static int want_verdict(const struct bcase *k)
{
	return !k->c || k->p->pass ? XDP_PASS_ : XDP_DROP_;
}

static const char *case_name(const struct bcase *k)
{
	return k->c ? k->c->name : k->what;
}

/* Fails on another verdict than the case's: a packet that took another path. */
static int sample(const struct bcase *k, __u32 repeat, __u32 *duration)
{
	__u32 retval;
	int err;

	err = run(k->prog_fd, k->p, repeat, &retval, duration);
	if (err || (int)retval != want_verdict(k)) {
		fprintf(stderr, "bench_fw: %s %s: repeat=%u: %s, verdict %u (want %d)\n",
			case_name(k), k->p->tag, repeat, err ? strerror(-err) : "ran", retval,
			want_verdict(k));
		return err ?: -EINVAL;
	}
	return 0;
}

/* ---- the firewall's maps -------------------------------------------------- */

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

static long count_keys(int fd, size_t key_size)
{
	unsigned char k[256], next[256];
	void *prev = NULL;
	long n = 0;

	if (fd < 0 || key_size > sizeof(k))
		return -1;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(k, next, key_size);
		prev = k;
		n++;
	}
	return n;
}

/* Tuples in use: entries of sfc_fw_tuples with a family (the rest is padding). */
static long count_tuples(int fd)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi), i;
	unsigned char v[512] __attribute__((aligned(8)));
	long n = 0;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &len) || mi.value_size > sizeof(v) ||
	    mi.value_size < sizeof(struct sfc_fw_tuple))
		return -1;
	for (i = 0; i < mi.max_entries; i++) {
		const struct sfc_fw_tuple *t = (const void *)v;

		if (!bpf_map_lookup_elem(fd, &i, v) && (t->family == 4 || t->family == 6))
			n++;
	}
	return n;
}

/* The sum over CPUs of the first __u64 (packets) of a per-CPU value. */
static long long percpu_packets(int fd, __u32 key)
{
	static unsigned char buf[1 << 16];
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);
	int ncpu = libbpf_num_possible_cpus(), i;
	size_t vs;
	long long sum = 0;

	if (fd < 0 || ncpu <= 0 || bpf_obj_get_info_by_fd(fd, &mi, &len))
		return -1;
	vs = (mi.value_size + 7) & ~7u;
	if (vs * ncpu > sizeof(buf) || bpf_map_lookup_elem(fd, &key, buf))
		return -1;
	for (i = 0; i < ncpu; i++)
		sum += *(__u64 *)(buf + i * vs);
	return sum;
}

static int find_fw_maps(struct chain *c)
{
	struct sfc_chain_status *st = NULL;
	unsigned int i;
	int err, fd = -1;

	c->stats_fd = c->verdicts_fd = -1;
	c->tuples = c->keys4 = c->keys6 = -1;
	err = sfc_chain__status(c->name, pin_root, &st);
	if (err)
		return err;
	for (i = 0; i < st->n_stages; i++)
		if (!strcmp(st->stages[i].type, "firewall"))
			fd = bpf_prog_get_fd_by_id(st->stages[i].prog_id);
	sfc_chain_status__free(st);
	if (fd < 0) {
		fprintf(stderr, "bench_fw: %s: no firewall stage\n", c->name);
		return -ENOENT;
	}
	c->stats_fd = map_by_name(fd, "sfc_fw_rule_stats");
	c->verdicts_fd = map_by_name(fd, "sfc_fw_verdicts");
	err = map_by_name(fd, "sfc_fw_tuples");
	c->tuples = count_tuples(err);
	if (err >= 0)
		close(err);
	err = map_by_name(fd, "sfc_fw_keys4");
	c->keys4 = count_keys(err, sizeof(struct sfc_fw_key4));
	if (err >= 0)
		close(err);
	err = map_by_name(fd, "sfc_fw_keys6");
	c->keys6 = count_keys(err, sizeof(struct sfc_fw_key6));
	if (err >= 0)
		close(err);
	close(fd);
	return 0;
}

/* ---- setup ---------------------------------------------------------------- */

static int apply_spec(struct sfc_chain_spec *s, const char *ifname)
{
	struct sfc_apply_opts o = { .sz = sizeof(o), .netns = ns, .pin_root = pin_root };
	enum sfc_apply_result res;
	struct sfc_diag d = {};
	char msg[1200];
	int err;

	if (bench_sh("ip -n %s link add %s type veth peer %sp && ip -n %s link set %s up && "
	       "ip -n %s link set %sp up", ns, ifname, ifname, ns, ifname, ns, ifname))
		return -EIO;
	snprintf(s->interface, sizeof(s->interface), "%s", ifname);
	err = sfc_chain__apply(s, &o, &res, &d);
	if (err) {
		sfc_diag__format(&d, msg, sizeof(msg));
		fprintf(stderr, "bench_fw: apply %s: %s\n", s->name, msg);
	}
	return err;
}

static int open_root(const char *chain)
{
	char p[256];
	int fd;

	snprintf(p, sizeof(p), "%s/%s/root_fwd", pin_root, chain);
	fd = bpf_obj_get(p);
	if (fd < 0)
		fprintf(stderr, "bench_fw: %s: %s\n", p, strerror(errno));
	return fd;
}

/*
 * A chain file is at most 1 MiB (CHAIN_MAX_BYTES, loader/lib/config.c): about
 * 11k rules of gen_rules.py's. A larger one goes in by a side door: libsfc
 * parses the file cut before its `rules:` (gen_rules.py writes them last),
 * then the firewall type's own parser (which also compiles) reads the whole
 * file's `config:`, and that config replaces the cut one. From there on,
 * apply, load and maps are the product's path.
 */
static struct sfc_chain_spec *parse_large(const char *file)
{
	static const char cut[] = "\n        rules:\n";
	struct sfc_yaml y = { .file = file };
	struct sfc_ynode root = { .y = &y }, n, fns, fn0, config;
	struct sfc_chain_spec *s = NULL;
	const struct sfc_nf_type *type;
	yaml_parser_t parser;
	struct sfc_diag d = {};
	char *text = NULL, *at, msg[1200];
	void *cfg = NULL;
	long len;
	FILE *f;
	int err;

	y.diag = &d;
	f = fopen(file, "r");
	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		goto io;
	text = malloc(len + 1);
	if (!text || fread(text, 1, len, f) != (size_t)len)
		goto io;
	text[len] = '\0';
	fclose(f);
	f = NULL;
	at = strstr(text, cut);
	if (!at) {
		fprintf(stderr, "bench_fw: %s: over 1 MiB and not from gen_rules.py\n", file);
		goto out;
	}
	s = sfc_chain_spec__parse_string(file, text, at + 1 - text, &d);
	if (!s)
		goto diag;
	type = s->n_functions == 1 ? s->functions[0].type : NULL;
	if (!type || strcmp(type->name, "firewall")) {
		fprintf(stderr, "bench_fw: %s: not one firewall function\n", file);
		goto fail;
	}
	if (!yaml_parser_initialize(&parser))
		goto fail;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	err = !yaml_parser_load(&parser, &y.doc);
	yaml_parser_delete(&parser);
	if (err) {
		fprintf(stderr, "bench_fw: %s: YAML error\n", file);
		goto fail;
	}
	y.loaded = true;
	root.n = yaml_document_get_root_node(&y.doc);
	sfc_ymap__get(&root, "spec", &n);
	sfc_ymap__get(&n, "functions", &fns);
	sfc_yseq__at(&fns, 0, &fn0);
	sfc_ymap__get(&fn0, "config", &config);
	err = type->parse(&config, &cfg);
	yaml_document_delete(&y.doc);
	if (err)
		goto diag;
	type->free(s->functions[0].config);
	s->functions[0].config = cfg;
	free(text);
	return s;
io:
	fprintf(stderr, "bench_fw: %s: %s\n", file, strerror(errno));
	goto fail;
diag:
	sfc_diag__format(&d, msg, sizeof(msg));
	fprintf(stderr, "bench_fw: %s\n", msg);
fail:
	sfc_chain_spec__free(s);
	s = NULL;
out:
	if (f)
		fclose(f);
	free(text);
	return s;
}

static int load_chain(struct chain *c, int idx)
{
	struct sfc_chain_spec *s;
	struct sfc_diag d = {};
	char ifname[IF_NAMESIZE], path[600], msg[1200];
	size_t n = strlen(c->file);
	double t0;
	int err;

	snprintf(path, sizeof(path), "%.*s.pkts",
		 (int)(n > 5 && !strcmp(c->file + n - 5, ".yaml") ? n - 5 : n), c->file);
	err = fwpkt_read(path, &c->pk);
	if (err)
		return err;
	if (!c->pk.n) {
		fprintf(stderr, "bench_fw: %s: no packets\n", path);
		return -EINVAL;
	}
	for (int i = 0; i < c->pk.n; i++)
		fwpkt_build(&c->pk.p[i], mac_dst, mac_src);
	t0 = now_s();
	s = sfc_chain_spec__parse_file(c->file, &d);
	if (!s && strstr(d.msg, "larger than 1 MiB")) {
		fprintf(stderr, "bench_fw: %s is over 1 MiB: parse_large()\n", c->file);
		c->large = 1;
		s = parse_large(c->file);
		if (!s)
			return -EINVAL;
	}
	if (!s) {
		sfc_diag__format(&d, msg, sizeof(msg));
		fprintf(stderr, "bench_fw: %s\n", msg);
		return -EINVAL;
	}
	c->parse_s = now_s() - t0;
	snprintf(c->name, sizeof(c->name), "%s", s->name);
	snprintf(ifname, sizeof(ifname), "fwb%d", idx);
	fprintf(stderr, "bench_fw: applying %s (%lu rules) ...\n", c->file, c->pk.rules);
	t0 = now_s();
	err = apply_spec(s, ifname);
	c->apply_s = now_s() - t0;
	sfc_chain_spec__free(s);
	if (err)
		return err;
	applied++;
	c->root_fd = open_root(c->name);
	if (c->root_fd < 0)
		return -ENOENT;
	return find_fw_maps(c);
}

static int load_empty(void)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS_ },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "fwb_empty", "GPL", insns, 2, NULL);

	if (fd < 0)
		fprintf(stderr, "bench_fw: load the empty program: %s\n", strerror(errno));
	return fd;
}

/*
 * Each case once (repeat 1): the verdict, and for a firewall the counter of
 * the rule (or default verdict) the packet is meant for must grow by one.
 */
static int check_case(const struct bcase *k)
{
	long long before = -1, after;
	int fd = -1;
	__u32 key = 0, dur;
	int err;

	if (k->c && k->c->stats_fd >= 0 && k->c->verdicts_fd >= 0) {
		if (k->p->rule != FWPKT_NO_RULE) {
			fd = k->c->stats_fd;
			key = k->p->rule;
		} else {
			fd = k->c->verdicts_fd;
			key = k->p->pass ? SFC_FW_V_DEFAULT_ALLOW : SFC_FW_V_DEFAULT_DROP;
		}
		before = percpu_packets(fd, key);
	}
	err = sample(k, 1, &dur);
	if (err)
		return err;
	if (fd >= 0) {
		after = percpu_packets(fd, key);
		if (before < 0 || after != before + 1) {
			fprintf(stderr, "bench_fw: %s %s: the counter of %s %u went %lld -> %lld\n",
				case_name(k), k->p->tag,
				k->p->rule == FWPKT_NO_RULE ? "verdict" : "rule", key, before, after);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- measuring and the report --------------------------------------------- */

static int measure(__u32 repeat, __u32 shots, int rounds)
{
	__u32 dur;
	int r, i, err;
	unsigned int k;

	for (r = 0; r < rounds; r++) {
		fprintf(stderr, "bench_fw: round %d/%d\n", r + 1, rounds);
		for (i = 0; i < n_cases; i++) {
			err = sample(&cases[i], repeat, &dur);
			if (err)
				return err;
			cases[i].a[r] = dur;
		}
		for (i = 0; i < n_cases; i++) {
			double sum = 0;

			for (k = 0; k < shots; k++) {
				err = sample(&cases[i], 1, &dur);
				if (err)
					return err;
				sum += dur;
			}
			cases[i].b[r] = sum / shots;
		}
	}
	return 0;
}

static double med(const struct bcase *k, int method, int rounds)
{
	return stat_of(method ? k->b : k->a, rounds).med;
}

static void fmt_count(char *buf, size_t len, long v)
{
	if (v < 0)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%ld", v);
}

static void report_method(int method, __u32 repeat, __u32 shots, int rounds)
{
	double empty = med(&cases[0], method, rounds);
	const char *num = method ? "%7.1f" : "%5.0f";
	int i;

	if (!method)
		printf("## Method A: one test run of repeat=%u per sample, %d samples (ns per packet)\n\n"
		       "The kernel's duration: mean ns per repetition, rounded down.\n\n",
		       repeat, rounds);
	else
		printf("## Method B: repeat=1, %u runs per sample, %d samples (ns per packet)\n\n"
		       "The mean of the kernel's per-run duration, which includes its two timer "
		       "reads (the empty program's row shows that offset).\n\n", shots, rounds);
	printf("| case | packet | verdict | median | min .. max | x empty | firewall: - passthrough chain |\n");
	printf("|------|--------|---------|-------:|-----------:|--------:|------------------------------:|\n");
	for (i = 0; i < n_cases; i++) {
		const struct bcase *k = &cases[i];
		struct stat3 s = stat_of(method ? k->b : k->a, rounds);
		char m[32], mm[48], inc[32] = "";

		snprintf(m, sizeof(m), num, s.med);
		snprintf(mm, sizeof(mm), method ? "%.1f .. %.1f" : "%.0f .. %.0f", s.min, s.max);
		if (k->base >= 0)
			snprintf(inc, sizeof(inc), method ? "%+.1f" : "%+.0f",
				 s.med - med(&cases[k->base], method, rounds));
		printf("| %s | %s | %s | %s | %s | %.2f | %s |\n", case_name(k), k->c ? k->p->tag : "-",
		       want_verdict(k) == XDP_PASS_ ? "pass" : "drop", m, mm, s.med / empty, inc);
	}
	printf("\n");
}

static const struct bcase *find_case(unsigned long rules, const char *tag)
{
	int i;

	for (i = 0; i < n_cases; i++)
		if (cases[i].c && cases[i].c->pk.rules == rules && !cases[i].c->pk.set &&
		    !strcmp(cases[i].p->tag, tag))
			return &cases[i];
	return NULL;
}

static void report_targets(int rounds)
{
	static const char *const tags[] = { "v4-last", "v4-none", "v6-last", "v6-none" };
	int m, t;

	printf("## Targets\n\n"
	       "T1: 100k rules cost at most 2x what 10 rules cost. T2: the firewall at 10k rules "
	       "costs at most 3x the empty program. Each read two ways: the whole chain's ns "
	       "(root, entry parse, firewall, egress), and the firewall's increment over the "
	       "passthrough chain (its classification alone).\n\n");
	printf("| method | packet | T1 chain 100k / 10 | T1 increment 100k / 10 | T2 chain 10k / empty | T2 increment 10k / empty |\n");
	printf("|--------|--------|-------------------:|-----------------------:|---------------------:|-------------------------:|\n");
	for (m = 0; m < 2; m++) {
		double empty = med(&cases[0], m, rounds);

		for (t = 0; t < 4; t++) {
			const struct bcase *c10 = find_case(10, tags[t]);
			const struct bcase *c10k = find_case(10000, tags[t]);
			const struct bcase *c100k = find_case(100000, tags[t]);
			char t1c[48] = "n/a", t1i[48] = "n/a", t2c[48] = "n/a", t2i[48] = "n/a";
			double a, b, base;

			if (c10 && c100k) {
				a = med(c100k, m, rounds);
				b = med(c10, m, rounds);
				base = med(&cases[c10->base], m, rounds);
				snprintf(t1c, sizeof(t1c), "%.2f (%s)", a / b, a / b <= 2 ? "holds" : "fails");
				snprintf(t1i, sizeof(t1i), "%.2f (%s)", (a - base) / (b - base),
					 (a - base) / (b - base) <= 2 ? "holds" : "fails");
			}
			if (c10k) {
				a = med(c10k, m, rounds);
				base = med(&cases[c10k->base], m, rounds);
				snprintf(t2c, sizeof(t2c), "%.2f (%s)", a / empty,
					 a / empty <= 3 ? "holds" : "fails");
				snprintf(t2i, sizeof(t2i), "%.2f (%s)", (a - base) / empty,
					 (a - base) / empty <= 3 ? "holds" : "fails");
			}
			printf("| %s | %s | %s | %s | %s | %s |\n", m ? "B" : "A", tags[t], t1c, t1i,
			       t2c, t2i);
		}
	}
	printf("\n");
}

/* The medians, tab-separated, for ipt_bench.py's side-by-side table. */
static int write_tsv(const char *path, int rounds)
{
	FILE *f = fopen(path, "w");
	int i;

	if (!f) {
		fprintf(stderr, "bench_fw: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "chain\ttag\tverdict\trules\tset\ttuples\ta\ta_inc\tb\tb_inc\n");
	for (i = 0; i < n_cases; i++) {
		const struct bcase *k = &cases[i];
		double a = med(k, 0, rounds), b = med(k, 1, rounds);
		double ab = k->base >= 0 ? med(&cases[k->base], 0, rounds) : 0;
		double bb = k->base >= 0 ? med(&cases[k->base], 1, rounds) : 0;

		fprintf(f, "%s\t%s\t%s\t%lu\t%lu\t%ld\t%.1f\t%.1f\t%.1f\t%.1f\n", case_name(k),
			k->c ? k->p->tag : (k->p->family == 4 ? "ipv4" : "ipv6"),
			want_verdict(k) == XDP_PASS_ ? "pass" : "drop", k->c ? k->c->pk.rules : 0,
			k->c ? k->c->pk.set : 0, k->c ? k->c->tuples : 0, a, a - ab, b, b - bb);
	}
	fclose(f);
	return 0;
}

static void report(__u32 repeat, __u32 shots, int rounds, int cpu)
{
	char t[24], k4[24], k6[24];
	int i;

	printf("# bench_fw: firewall chains under BPF_PROG_TEST_RUN, CPU %d\n\n", cpu);
	printf("| chain | rules | IPv4 rules | prefix set | tuples (loaded) | tuples (gen_rules) | keys v4 | keys v6 | parse s | apply s |\n");
	printf("|-------|------:|-----------:|-----------:|----------------:|-------------------:|--------:|--------:|--------:|--------:|\n");
	for (i = 0; i < n_chains; i++) {
		const struct chain *c = &chains[i];

		fmt_count(t, sizeof(t), c->tuples);
		fmt_count(k4, sizeof(k4), c->keys4);
		fmt_count(k6, sizeof(k6), c->keys6);
		printf("| %s | %lu | %lu | %lu | %s | %lu | %s | %s | %.1f%s | %.1f |\n", c->name,
		       c->pk.rules, c->pk.v4rules, c->pk.set, t, c->pk.tuples, k4, k6, c->parse_s,
		       c->large ? " *" : "", c->apply_s);
	}
	for (i = 0; i < n_chains && !chains[i].large; i++)
		;
	if (i < n_chains)
		printf("\n\\* Over the 1 MiB a chain file may have: parsed by the firewall's own "
		       "parser from the whole file, the rest of the chain from the file cut "
		       "before its rules (bench_fw.c, parse_large()).\n");
	printf("\nPackets: TCP ACK without payload, 60 bytes (IPv4) or 74 (IPv6). "
	       "`fwb-pt` is the passthrough chain; its IPv4 row is the base of the IPv4 "
	       "increments, its IPv6 row of the IPv6 ones. A dropped packet skips the egress "
	       "stage, so its increment is a few ns low.\n\n");
	report_method(0, repeat, shots, rounds);
	report_method(1, repeat, shots, rounds);
	report_targets(rounds);
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [-n REPEAT] [-s SHOTS] [-r ROUNDS] [-c CPU] [-t TSV] CHAIN.yaml...\n"
		"  CHAIN.yaml  a firewall chain from gen_rules.py; packets from CHAIN.pkts\n"
		"  -n REPEAT   in-kernel repetitions per method-A sample (default 1000000)\n"
		"  -s SHOTS    one-repetition test runs per method-B sample (default 100000)\n"
		"  -r ROUNDS   samples per case and method, median reported (default 9, max %d)\n"
		"  -c CPU      CPU to pin to (default: the one it starts on)\n"
		"  -t TSV      also write the medians to TSV (tab-separated)\n",
		argv0, BENCH_MAX_ROUNDS);
}

static struct fwpkt pt_pkts[2];	/* the passthrough chain's IPv4 and IPv6 packets */

static int add_case(struct chain *c, const char *what, struct fwpkt *p, int fd, int base)
{
	if (n_cases == MAX_CASES) {
		fprintf(stderr, "bench_fw: more than %d cases\n", MAX_CASES);
		return -E2BIG;
	}
	cases[n_cases] = (struct bcase){ .c = c, .what = what, .p = p, .prog_fd = fd, .base = base };
	n_cases++;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *pt_spec =
		"apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata: {name: fwb-pt}\n"
		"spec:\n  interface: fwbpt\n  egress: {action: pass}\n"
		"  functions:\n    - {name: pt, type: passthrough}\n";
	__u32 repeat = 1000000, shots = 100000;
	const char *tsv = NULL;
	int rounds = 9, cpu = -1, opt, err, i, j, fd, empty_fd, pt_fd;
	struct sfc_chain_spec *s;
	struct sfc_diag d = {};
	cpu_set_t set;
	char p[64];

	bench_tag = "bench_fw";

	while ((opt = getopt(argc, argv, "n:s:r:c:t:h")) != -1) {
		switch (opt) {
		case 't': tsv = optarg; break;
		case 'n': repeat = strtoul(optarg, NULL, 0); break;
		case 's': shots = strtoul(optarg, NULL, 0); break;
		case 'r': rounds = atoi(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (argc - optind > MAX_CHAINS || rounds < 1 || rounds > BENCH_MAX_ROUNDS || repeat < 1 ||
	    shots < 1) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_fw: needs root (BPF, netns)\n");
		return 1;
	}
	if (cpu < 0)
		cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "bench_fw: pin to CPU %d: %s\n", cpu, strerror(errno));
		return 1;
	}
	sfc_set_log(log_cb, NULL, SFC_LOG_WARN);

	snprintf(ns, sizeof(ns), "sfcfwb%d", getpid());
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/sfc-bench-fw-%d", getpid());
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (bench_sh("ip netns add %s && ip -n %s link set lo up", ns, ns))
		return 1;
	/* test_run then sees this netns only (ingress ifindex, FIB). */
	snprintf(p, sizeof(p), "/run/netns/%s", ns);
	fd = open(p, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "bench_fw: enter netns %s: %s\n", ns, strerror(errno));
		return 1;
	}
	close(fd);

	empty_fd = load_empty();
	if (empty_fd < 0)
		return 1;
	s = sfc_chain_spec__parse_string("fwb-pt.yaml", pt_spec, strlen(pt_spec), &d);
	if (!s)
		return 1;
	err = apply_spec(s, "fwbpt");
	sfc_chain_spec__free(s);
	if (err)
		return 1;
	pt_applied = 1;
	n_chains = argc - optind;
	pt_fd = open_root("fwb-pt");
	if (pt_fd < 0)
		return 1;
	fwpkt_parse("pt-v4 pass - 4 tcp 198.18.1.7 198.19.0.10 40000 8443", &pt_pkts[0]);
	fwpkt_parse("pt-v6 pass - 6 tcp 2001:db8:fffe::7 2001:db8:fffe:1::10 40000 8443",
		    &pt_pkts[1]);
	fwpkt_build(&pt_pkts[0], mac_dst, mac_src);
	fwpkt_build(&pt_pkts[1], mac_dst, mac_src);

	add_case(NULL, "empty XDP program", &pt_pkts[0], empty_fd, -1);
	add_case(NULL, "fwb-pt (IPv4)", &pt_pkts[0], pt_fd, -1);
	add_case(NULL, "fwb-pt (IPv6)", &pt_pkts[1], pt_fd, -1);
	for (i = 0; i < n_chains; i++) {
		struct chain *c = &chains[i];

		snprintf(c->file, sizeof(c->file), "%s", argv[optind + i]);
		err = load_chain(c, i);
		if (err)
			return 1;
		for (j = 0; j < c->pk.n; j++)
			if (add_case(c, NULL, &c->pk.p[j], c->root_fd, c->pk.p[j].family == 4 ? 1 : 2))
				return 1;
	}
	for (i = 0; i < n_cases; i++)
		if (check_case(&cases[i]))
			return 1;
	fprintf(stderr, "bench_fw: %d cases pass their checks; measuring\n", n_cases);
	if (measure(repeat, shots, rounds))
		return 1;
	report(repeat, shots, rounds, cpu);
	if (tsv && write_tsv(tsv, rounds))
		return 1;
	return 0;
}
