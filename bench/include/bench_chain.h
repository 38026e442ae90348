/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the chain benchmarks (bench/flowmon, bench/lb) share: a private netns
 * and pin root, removed on any exit (atexit; SIGINT, SIGTERM, SIGHUP, and
 * SIGPIPE when the report's reader goes away); chains applied
 * with libsfc, each onto a veth of its own in that netns, egress pass; the
 * empty XDP program they are measured against; the CPU pin and the clock;
 * one test run; and the sampling of docs/bench-firewall.md's two methods,
 * round-robin over the cases:
 *  A  one test run of `repeat` in-kernel repetitions per sample: the
 *     kernel's mean ns per repetition, whole ns;
 *  B  `shots` test runs of one repetition per sample: the mean of the
 *     kernel's per-run duration (with its two timer reads), and the wall
 *     clock of the loop as runs/s.
 *
 * One user per program: the state is static. Messages go to stderr and
 * start with the tag given to bench_setup().
 */
#ifndef SFC_BENCH_CHAIN_H
#define SFC_BENCH_CHAIN_H

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
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

#define BENCH_MAX_CHAINS 16
#define BENCH_XDP_PASS 2
#define BENCH_OUT_MAX 512	/* bytes of an output frame */

static char bench_ns[32], bench_pin_root[64];
static char bench_applied[BENCH_MAX_CHAINS][SFC_NAME_MAX + 1];
static int bench_n_applied;

static inline double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void bench_cleanup(void)
{
	struct sfc_diag d = {};
	char cmd[256];
	int i;

	for (i = 0; i < bench_n_applied; i++)
		sfc_chain__delete(bench_applied[i], bench_pin_root, &d);
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s 2>/dev/null", bench_ns,
		 bench_pin_root);
	if (system(cmd))
		fprintf(stderr, "%s: cleanup: %s failed\n", bench_tag, cmd);
}

static inline void bench_on_signal(int sig)
{
	exit(128 + sig);	/* runs bench_cleanup() */
}

static inline void bench_log_cb(enum sfc_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= SFC_LOG_WARN)
		fprintf(stderr, "libsfc: %s\n", msg);
}

/*
 * Pins the process to *cpu (-1: the CPU it runs on, written back), then
 * creates the netns <ns_prefix><pid> and enters it; chains pin under
 * /sys/fs/bpf/<pin_prefix>-<pid>. Both are removed on exit. 0, or -1 with
 * a message.
 */
static inline int bench_setup(const char *tag, const char *ns_prefix, const char *pin_prefix,
			      int *cpu)
{
	cpu_set_t set;
	char p[64];
	int fd;

	bench_tag = tag;
	if (*cpu < 0)
		*cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(*cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "%s: pin to CPU %d: %s\n", tag, *cpu, strerror(errno));
		return -1;
	}
	sfc_set_log(bench_log_cb, NULL, SFC_LOG_WARN);

	snprintf(bench_ns, sizeof(bench_ns), "%s%d", ns_prefix, getpid());
	snprintf(bench_pin_root, sizeof(bench_pin_root), "/sys/fs/bpf/%s-%d", pin_prefix,
		 getpid());
	atexit(bench_cleanup);
	signal(SIGINT, bench_on_signal);
	signal(SIGTERM, bench_on_signal);
	signal(SIGHUP, bench_on_signal);
	signal(SIGPIPE, bench_on_signal);
	if (bench_sh("ip netns add %s && ip -n %s link set lo up", bench_ns, bench_ns))
		return -1;
	snprintf(p, sizeof(p), "/run/netns/%s", bench_ns);
	fd = open(p, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "%s: enter netns %s: %s\n", tag, bench_ns, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* A pinned object of chain `name` (root_fwd, nf/<fn>/<map>, ...): an fd, or -errno. */
static inline int bench_obj(const char *name, const char *path)
{
	char p[256];
	int fd, err;

	snprintf(p, sizeof(p), "%s/%s/%s", bench_pin_root, name, path);
	fd = bpf_obj_get(p);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "%s: %s: %s\n", bench_tag, p, strerror(-err));
		return err;
	}
	return fd;
}

/*
 * Applies chain `name` onto a new veth `ifname` (its peer: `ifname`p), with
 * egress pass and the functions given as YAML flow mappings, one per line
 * item of `functions` ("{name: a, type: passthrough}"). The fd of its
 * root_fwd, or -errno.
 */
static inline int bench_apply(const char *name, const char *ifname, const char *functions)
{
	struct sfc_apply_opts o = { .sz = sizeof(o), .netns = bench_ns,
				    .pin_root = bench_pin_root };
	enum sfc_apply_result res;
	struct sfc_chain_spec *s;
	struct sfc_diag d = {};
	char yaml[8192], msg[1200];
	double t0 = bench_now_s();
	int err;

	if (bench_n_applied == BENCH_MAX_CHAINS)
		return -E2BIG;
	snprintf(yaml, sizeof(yaml),
		 "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata: {name: %s}\n"
		 "spec:\n  interface: %s\n  egress: {action: pass}\n  functions:\n    - %s\n",
		 name, ifname, functions);
	s = sfc_chain_spec__parse_string(name, yaml, strlen(yaml), &d);
	if (!s) {
		sfc_diag__format(&d, msg, sizeof(msg));
		fprintf(stderr, "%s: %s\n", bench_tag, msg);
		return -EINVAL;
	}
	if (bench_sh("ip -n %s link add %s type veth peer %sp && ip -n %s link set %s up && "
		     "ip -n %s link set %sp up", bench_ns, ifname, ifname, bench_ns, ifname,
		     bench_ns, ifname)) {
		sfc_chain_spec__free(s);
		return -EIO;
	}
	err = sfc_chain__apply(s, &o, &res, &d);
	sfc_chain_spec__free(s);
	if (err) {
		sfc_diag__format(&d, msg, sizeof(msg));
		fprintf(stderr, "%s: apply %s: %s\n", bench_tag, name, msg);
		return err;
	}
	snprintf(bench_applied[bench_n_applied++], SFC_NAME_MAX + 1, "%s", name);
	fprintf(stderr, "%s: applied %s in %.1f s\n", bench_tag, name, bench_now_s() - t0);
	return bench_obj(name, "root_fwd");
}

/* The empty XDP program: returns XDP_PASS. An fd, or -1 with a message. */
static inline int bench_load_empty(const char *name)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = BENCH_XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, name, "GPL", insns, 2, NULL);

	if (fd < 0)
		fprintf(stderr, "%s: load the empty program: %s\n", bench_tag, strerror(errno));
	return fd;
}

/*
 * One test run of the frame on prog_fd, which must return XDP_PASS. The
 * output frame goes to out (BENCH_OUT_MAX bytes; NULL: dropped) and its
 * length to *out_len (if not NULL). 0 with *duration, or -errno with a
 * message that names `what`.
 */
static inline int bench_test_run(const char *what, int prog_fd, void *frame, __u32 len,
				 __u32 repeat, __u32 *duration, void *out, __u32 *out_len)
{
	unsigned char buf[BENCH_OUT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = frame,
		.data_size_in = len,
		.data_out = out ? out : buf,
		.data_size_out = BENCH_OUT_MAX,
		.repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		int err = -errno;

		fprintf(stderr, "%s: %s: test run: %s\n", bench_tag, what, strerror(-err));
		return err;
	}
	if (o.retval != BENCH_XDP_PASS) {
		fprintf(stderr, "%s: %s: verdict %u, want pass\n", bench_tag, what, o.retval);
		return -EINVAL;
	}
	*duration = o.duration;
	if (out_len)
		*out_len = o.data_size_out;
	return 0;
}

/* Key `key` of a per-CPU array of __u64, summed over the CPUs; -1 on failure. */
static inline long long bench_percpu_sum(int fd, __u32 key)
{
	static __u64 v[1024];
	int ncpu = libbpf_num_possible_cpus(), i;
	long long sum = 0;

	if (fd < 0 || ncpu <= 0 || ncpu > 1024 || bpf_map_lookup_elem(fd, &key, v))
		return -1;
	for (i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

/* The samples of one case, one per round. */
struct bench_samples {
	double a[BENCH_MAX_ROUNDS];	/* method A: ns per repetition */
	double b[BENCH_MAX_ROUNDS];	/* method B: mean ns per run */
	double w[BENCH_MAX_ROUNDS];	/* method B: runs/s by the wall clock */
};

/* The cases, to bench_measure(): n_cases of them, by index. */
struct bench_ops {
	int n_cases;
	struct bench_samples *(*samples)(int i);
	bool (*repeatable)(int i);	/* method A can time it */
	int (*run)(int i, __u32 repeat, __u32 *duration);	/* 0 or -errno */
};

/*
 * `rounds` rounds; in each, method A for every repeatable case in turn, then
 * method B for every case in turn. 0, or the first run's -errno.
 */
static inline int bench_measure(const struct bench_ops *ops, __u32 repeat, __u32 shots,
				int rounds)
{
	struct bench_samples *s;
	double t0, sum;
	__u32 dur, k;
	int r, i, err;

	for (r = 0; r < rounds; r++) {
		fprintf(stderr, "%s: round %d/%d\n", bench_tag, r + 1, rounds);
		for (i = 0; i < ops->n_cases; i++) {
			if (!ops->repeatable(i))
				continue;
			err = ops->run(i, repeat, &dur);
			if (err)
				return err;
			ops->samples(i)->a[r] = dur;
		}
		for (i = 0; i < ops->n_cases; i++) {
			sum = 0;
			t0 = bench_now_s();
			for (k = 0; k < shots; k++) {
				err = ops->run(i, 1, &dur);
				if (err)
					return err;
				sum += dur;
			}
			s = ops->samples(i);
			s->w[r] = shots / (bench_now_s() - t0);
			s->b[r] = sum / shots;
		}
	}
	return 0;
}

#endif
