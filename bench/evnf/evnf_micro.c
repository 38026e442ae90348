// SPDX-License-Identifier: GPL-2.0
/*
 * evnf_micro: ns per packet of each network function and of chains of
 * length 1..3 under BPF_PROG_TEST_RUN, next to an empty XDP program and the
 * bare XDP forwarder of xdpgen.bpf.c, measured in the same run (see
 * docs/bench-evnf.md). Run by bench/evnf/evnf.py, which writes the chain
 * files and reads the JSON this prints.
 *
 *   evnf_micro [-c CPU] [-r ROUNDS] [-n REPEAT] [-s SHOTS]
 *              --src IP --dst IP --sport P --dport P [--tcp] CHAIN.yaml[@rw] ...
 *
 * Each chain file is applied with libsfc in a netns of its own (its
 * interfaces sfc-in and sfc-out are a veth pair there, with sfc-out in
 * 10.10.2.0/24, a route to 10.10.9.0/24 and resolved neighbours, so the
 * egress's FIB lookup succeeds as it does in the lab) under a private pin
 * root. The packet, a 60-byte IPv4 frame built from the options, goes
 * through test_run on the pinned root_fwd: root, entry parse, functions,
 * egress, as attached.
 *
 * Methods, as bench/fw's:
 *  A  one test run of REPEAT repetitions per sample: the kernel's mean ns.
 *     The repetitions share one buffer, so a chain that rewrites the packet
 *     (a load balancer: @rw) would time its own output from the second
 *     repetition on: method A is skipped for those.
 *  B  SHOTS test runs of one repetition per sample, the packet fresh each
 *     time: the mean of the kernel's per-run duration (which includes its
 *     two timer reads).
 * Every case is sampled ROUNDS times round-robin, pinned to one CPU.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sfc/sfc.h"
#include "bench_sh.h"
#include "xdpgen.skel.h"

#define MAX_CASES 16
#define MAX_ROUNDS 101
#define FRAME_LEN 60

struct mcase {
	char name[SFC_NAME_MAX + 16];
	char ns[40];		/* "" : no netns of its own */
	int prog_fd, rw, applied;
	__u32 verdict, ifindex;	/* ifindex: sfc-in, the packet's ingress */
	double a[MAX_ROUNDS], b[MAX_ROUNDS];
};

static struct mcase cases[MAX_CASES];
static int n_cases, nsfd_home = -1;
static char pin_root[64];
static unsigned char frame[FRAME_LEN];
static __u32 last_retval;

static void cleanup(void)
{
	struct sfc_diag d = {};
	char cmd[200];
	int i;

	if (nsfd_home >= 0)
		setns(nsfd_home, CLONE_NEWNET);
	for (i = 0; i < n_cases; i++) {
		if (cases[i].applied)
			sfc_chain__delete(cases[i].name, pin_root, &d);
		if (cases[i].ns[0]) {
			snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", cases[i].ns);
			if (system(cmd))
				fprintf(stderr, "evnf_micro: %s failed\n", cmd);
		}
	}
	if (pin_root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", pin_root);
		if (system(cmd))
			fprintf(stderr, "evnf_micro: %s failed\n", cmd);
	}
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

static unsigned short csum(const void *p, size_t n, unsigned int sum)
{
	const unsigned char *b = p;

	for (; n > 1; n -= 2, b += 2)
		sum += (b[0] << 8) | b[1];
	if (n)
		sum += b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* A 60-byte IPv4 frame: UDP (checksum 0) or a TCP ACK, zero padded. */
static int build_frame(const char *src, const char *dst, int sport, int dport, int tcp)
{
	struct ethhdr *eth = (void *)frame;
	struct iphdr *ip = (void *)(eth + 1);
	int l4 = tcp ? sizeof(struct tcphdr) : sizeof(struct udphdr);

	memset(frame, 0, sizeof(frame));
	memcpy(eth->h_dest, "\x02\0\0\0\0\x02", 6);
	memcpy(eth->h_source, "\x02\0\0\0\0\x01", 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	ip->tot_len = htons(sizeof(*ip) + l4);
	if (inet_pton(AF_INET, src, &ip->saddr) != 1 || inet_pton(AF_INET, dst, &ip->daddr) != 1)
		return -EINVAL;
	ip->check = csum(ip, sizeof(*ip), 0);
	if (tcp) {
		struct tcphdr *th = (void *)(ip + 1);

		th->source = htons(sport);
		th->dest = htons(dport);
		th->seq = htonl(1);
		th->ack_seq = htonl(1);
		th->doff = 5;
		th->ack = 1;
		th->window = htons(65535);
	} else {
		struct udphdr *uh = (void *)(ip + 1);

		uh->source = htons(sport);
		uh->dest = htons(dport);
		uh->len = htons(l4);
	}
	return 0;
}

static int enter(const struct mcase *k)
{
	char p[64];
	int fd, err = 0;

	if (!k->ns[0])
		return 0;
	snprintf(p, sizeof(p), "/run/netns/%s", k->ns);
	fd = open(p, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		fprintf(stderr, "evnf_micro: enter %s: %s\n", k->ns, strerror(-err));
	return err;
}

static int run(struct mcase *k, __u32 repeat, __u32 *duration)
{
	unsigned char in[FRAME_LEN], out[FRAME_LEN + 256];
	struct xdp_md ctx = { .data_end = FRAME_LEN, .ingress_ifindex = k->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = in,
		.data_size_in = FRAME_LEN,
		.data_out = out,
		.data_size_out = sizeof(out),
		.ctx_in = k->ifindex ? &ctx : NULL,
		.ctx_size_in = k->ifindex ? sizeof(ctx) : 0,
		.repeat = repeat);

	memcpy(in, frame, FRAME_LEN);
	if (bpf_prog_test_run_opts(k->prog_fd, &o)) {
		fprintf(stderr, "evnf_micro: %s: test run: %s\n", k->name, strerror(errno));
		return -errno;
	}
	last_retval = o.retval;
	if (o.retval != k->verdict) {
		if (k->verdict == -1u)
			return -EINVAL;	/* the first run: any verdict is news */
		fprintf(stderr, "evnf_micro: %s: verdict %u, was %u\n", k->name, o.retval,
			k->verdict);
		return -EINVAL;
	}
	*duration = o.duration;
	return 0;
}

/*
 * A chain file into its own netns. Its interfaces must be sfc-in and
 * sfc-out (the lab's names): here a veth pair of their own.
 */
static int add_chain(const char *arg)
{
	struct sfc_apply_opts o = { .sz = sizeof(o), .pin_root = pin_root };
	struct mcase *k = &cases[n_cases];
	struct sfc_chain_spec *s;
	enum sfc_apply_result res;
	struct sfc_diag d = {};
	char path[512], msg[1200], p[600], *at;
	int err, i;

	snprintf(path, sizeof(path), "%s", arg);
	at = strrchr(path, '@');
	if (at && !strcmp(at, "@rw")) {
		*at = 0;
		k->rw = 1;
	}
	s = sfc_chain_spec__parse_file(path, &d);
	if (!s) {
		sfc_diag__format(&d, msg, sizeof(msg));
		fprintf(stderr, "evnf_micro: %s\n", msg);
		return -EINVAL;
	}
	snprintf(k->name, sizeof(k->name), "%s", s->name);
	snprintf(k->ns, sizeof(k->ns), "evnfm%dc%d", getpid(), n_cases);
	n_cases++;
	if (bench_sh("ip netns add %s && ip -n %s link set lo up && "
	       "ip -n %s link add sfc-in type veth peer sfc-out && "
	       "ip -n %s link set sfc-in up && ip -n %s link set sfc-out up && "
	       "ip -n %s addr add 10.10.1.254/24 dev sfc-in && "
	       "ip -n %s addr add 10.10.2.254/24 dev sfc-out && "
	       "ip -n %s route add 10.10.9.0/24 via 10.10.2.11 && "
	       "ip netns exec %s sysctl -qw net.ipv4.ip_forward=1",
	       k->ns, k->ns, k->ns, k->ns, k->ns, k->ns, k->ns, k->ns, k->ns)) {
		sfc_chain_spec__free(s);
		return -EIO;
	}
	for (i = 1; i <= 32; i++)
		if (bench_sh("ip -n %s neigh replace 10.10.2.%d lladdr 02:00:00:00:02:%02x dev sfc-out "
		       "nud permanent", k->ns, 10 + i, i))
			return -EIO;
	if (bench_sh("ip -n %s neigh replace 10.10.1.1 lladdr 02:00:00:00:01:01 dev sfc-in nud permanent",
	       k->ns))
		return -EIO;
	o.netns = k->ns;
	err = sfc_chain__apply(s, &o, &res, &d);
	sfc_chain_spec__free(s);
	if (err) {
		sfc_diag__format(&d, msg, sizeof(msg));
		fprintf(stderr, "evnf_micro: apply %s: %s\n", path, msg);
		return err;
	}
	k->applied = 1;
	snprintf(p, sizeof(p), "%s/%s/root_fwd", pin_root, k->name);
	k->prog_fd = bpf_obj_get(p);
	if (k->prog_fd < 0) {
		fprintf(stderr, "evnf_micro: %s: %s\n", p, strerror(errno));
		return -errno;
	}
	return 0;
}

static int add_baselines(struct xdpgen **skp)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 2 /* PASS */ },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct xdpgen *sk;
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "evnf_empty", "GPL", insns, 2, NULL);

	if (fd < 0) {
		fprintf(stderr, "evnf_micro: load the empty program: %s\n", strerror(errno));
		return -1;
	}
	cases[n_cases++] = (struct mcase){ .name = "empty XDP program", .prog_fd = fd };
	sk = xdpgen__open();
	if (!sk)
		return -1;
	sk->rodata->fwd_ifindex = 1;
	bpf_program__set_autoload(sk->progs.xdpgen_tx, false);
	bpf_program__set_autoload(sk->progs.xdpgen_sink, false);
	if (xdpgen__load(sk)) {
		fprintf(stderr, "evnf_micro: load xdpgen_fwd: %s\n", strerror(errno));
		return -1;
	}
	cases[n_cases++] = (struct mcase){ .name = "bare XDP forwarder",
					   .prog_fd = bpf_program__fd(sk->progs.xdpgen_fwd),
					   .rw = 1 };
	*skp = sk;
	return 0;
}

static void print_arr(const char *key, const double *v, int n)
{
	int i;

	printf(", \"%s\": [", key);
	for (i = 0; i < n; i++)
		printf("%s%.1f", i ? ", " : "", v[i]);
	printf("]");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "src", required_argument, NULL, 'S' }, { "dst", required_argument, NULL, 'D' },
		{ "sport", required_argument, NULL, 'P' }, { "dport", required_argument, NULL, 'Q' },
		{ "tcp", no_argument, NULL, 'T' }, { NULL, 0, NULL, 0 }
	};
	const char *src = "10.10.1.1", *dst = "10.10.9.10";
	__u32 repeat = 1000000, shots = 50000, dur;
	int rounds = 5, cpu = -1, sport = 10000, dport = 9, tcp = 0, c, i, r;
	struct xdpgen *sk = NULL;
	cpu_set_t set;

	bench_tag = "evnf_micro";

	while ((c = getopt_long(argc, argv, "c:r:n:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cpu = atoi(optarg); break;
		case 'r': rounds = atoi(optarg); break;
		case 'n': repeat = strtoul(optarg, NULL, 0); break;
		case 's': shots = strtoul(optarg, NULL, 0); break;
		case 'S': src = optarg; break;
		case 'D': dst = optarg; break;
		case 'P': sport = atoi(optarg); break;
		case 'Q': dport = atoi(optarg); break;
		case 'T': tcp = 1; break;
		default: return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || optind >= argc ||
	    argc - optind + 2 > MAX_CASES) {
		fprintf(stderr, "usage: see the head of evnf_micro.c\n");
		return 2;
	}
	if (build_frame(src, dst, sport, dport, tcp)) {
		fprintf(stderr, "evnf_micro: bad --src/--dst\n");
		return 2;
	}
	if (cpu < 0)
		cpu = sched_getcpu();
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "evnf_micro: pin to CPU %d: %s\n", cpu, strerror(errno));
		return 1;
	}
	sfc_set_log(log_cb, NULL, SFC_LOG_WARN);
	nsfd_home = open("/proc/self/ns/net", O_RDONLY);
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/sfc-evnf-micro-%d", getpid());
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (add_baselines(&sk))
		return 1;
	for (i = optind; i < argc; i++)
		if (add_chain(argv[i]))
			return 1;
	/*
	 * The first run of each case sets the verdict the others must give; it
	 * must forward the packet. A chain's first packet also creates its
	 * flow and connection entries: the runs timed are of a known flow.
	 */
	for (i = 0; i < n_cases; i++) {
		if (enter(&cases[i]))
			return 1;
		if (cases[i].ns[0])
			cases[i].ifindex = if_nametoindex("sfc-in");
		cases[i].verdict = -1u;
		if (run(&cases[i], 1, &dur) != -EINVAL) {
			fprintf(stderr, "evnf_micro: %s: no verdict\n", cases[i].name);
			return 1;
		}
		cases[i].verdict = last_retval;
		if (last_retval != XDP_PASS && last_retval != XDP_TX && last_retval != XDP_REDIRECT) {
			fprintf(stderr, "evnf_micro: %s: verdict %u (the packet is not forwarded)\n",
				cases[i].name, last_retval);
			return 1;
		}
	}
	for (r = 0; r < rounds; r++) {
		fprintf(stderr, "evnf_micro: round %d/%d\n", r + 1, rounds);
		for (i = 0; i < n_cases; i++) {
			double sum = 0;
			__u32 k;

			if (enter(&cases[i]))
				return 1;
			if (!cases[i].rw) {
				if (run(&cases[i], repeat, &dur))
					return 1;
				cases[i].a[r] = dur;
			}
			for (k = 0; k < shots; k++) {
				if (run(&cases[i], 1, &dur))
					return 1;
				sum += dur;
			}
			cases[i].b[r] = sum / shots;
		}
	}
	printf("{\"cpu\": %d, \"rounds\": %d, \"repeat\": %u, \"shots\": %u, \"cases\": [", cpu,
	       rounds, repeat, shots);
	for (i = 0; i < n_cases; i++) {
		printf("%s{\"name\": \"%s\", \"verdict\": %u, \"rw\": %d", i ? ", " : "",
		       cases[i].name, cases[i].verdict, cases[i].rw);
		if (!cases[i].rw)
			print_arr("a", cases[i].a, rounds);
		print_arr("b", cases[i].b, rounds);
		printf("}");
	}
	printf("]}\n");
	xdpgen__destroy(sk);
	return 0;
}
