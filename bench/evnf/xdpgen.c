// SPDX-License-Identifier: GPL-2.0
/*
 * xdpgen: the packet-rate tools of bench/evnf (docs/bench-evnf.md).
 *
 *   xdpgen send -i IF --smac MAC --dmac MAC --src IP --dst IP [--dport 9]
 *               [--sport 10000] [--flows 256] [-t SECONDS] [--cpus 0,1]
 *       A traffic generator: 60-byte UDP frames (64 on the wire) sent out of
 *       IF by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, one thread
 *       per CPU, for SECONDS. Prints one JSON line: frames run, seconds.
 *   xdpgen sink -i IF [--dport 9]
 *       Attaches a program to IF that counts the UDP datagrams to DPORT by
 *       the last byte of their destination address and drops them. Each line
 *       read on stdin prints the counts as one JSON line; EOF detaches.
 *   xdpgen fwd -i IN -o OUT --dmac MAC
 *       The bare XDP forwarder: IPv4 arriving on IN leaves OUT towards DMAC
 *       (TTL - 1); until EOF on stdin.
 *
 * Run it in the namespace of the interface (nsenter --net=...): the
 * interfaces are resolved and the programs attached where it runs.
 *
 * Live frames: test_run builds the frames once in a page pool, runs the
 * program on each, and XDP_TX becomes a redirect out of the ingress
 * interface (ctx.ingress_ifindex), i.e. into the veth peer. Frames come back
 * to the pool after the device under test is done with them, with its edits
 * in them: xdpgen_tx writes the whole frame again on every send.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdpgen.skel.h"

#define GEN_LEN 60
#define MAX_CPUS 256
#define CHUNK (1u << 18)	/* frames per test run: about 0.1 s at a few Mpps */

static const char *prog = "xdpgen";

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void parse_mac(const char *s, __u8 mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		die("bad MAC %s", s);
	for (i = 0; i < 6; i++)
		mac[i] = b[i];
}

static void if_mac(const char *ifname, __u8 mac[6])
{
	struct ifreq ifr = {};
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr))
		die("no MAC for %s", ifname);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
}

static unsigned int ifindex_of(const char *ifname)
{
	unsigned int i = if_nametoindex(ifname);

	if (!i)
		die("no interface %s here", ifname);
	return i;
}

static unsigned short csum(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned int sum = 0;

	for (; n > 1; n -= 2, b += 2)
		sum += (b[0] << 8) | b[1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

static struct xdpgen *open_skel(void)
{
	struct xdpgen *s;

	libbpf_set_print(NULL);
	s = xdpgen__open();
	if (!s)
		die("cannot open the BPF object: %s", strerror(errno));
	return s;
}

/* Wait for EOF on stdin; a line prints the sink's counts (if map_fd >= 0). */
static void serve_stdin(int map_fd)
{
	char line[64];
	int ncpu = libbpf_num_possible_cpus();

	while (fgets(line, sizeof(line), stdin)) {
		__u64 v[MAX_CPUS], total = 0, sum;
		__u32 k;
		int c, first = 1;

		if (map_fd < 0)
			continue;
		printf("{\"by_dst\": {");
		for (k = 0; k < 256; k++) {
			if (ncpu > MAX_CPUS || bpf_map_lookup_elem(map_fd, &k, v))
				continue;
			for (sum = 0, c = 0; c < ncpu; c++)
				sum += v[c];
			if (!sum)
				continue;
			printf("%s\"%u\": %llu", first ? "" : ", ", k, (unsigned long long)sum);
			first = 0;
			total += sum;
		}
		printf("}, \"total\": %llu}\n", (unsigned long long)total);
		fflush(stdout);
	}
}

/* ---- send ----------------------------------------------------------------- */

struct sender {
	pthread_t t;
	int cpu, prog_fd;
	unsigned int ifindex;
	double seconds;
	unsigned char *frame;
	unsigned long long runs;
	int err;
};

static void *send_loop(void *arg)
{
	struct sender *s = arg;
	struct xdp_md ctx = { .data_end = GEN_LEN, .ingress_ifindex = s->ifindex };
	double end;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
		s->err = EINVAL;
		return NULL;
	}
	end = now_s() + s->seconds;
	while (now_s() < end) {
		LIBBPF_OPTS(bpf_test_run_opts, o,
			.data_in = s->frame,
			.data_size_in = GEN_LEN,
			.ctx_in = &ctx,
			.ctx_size_in = sizeof(ctx),
			.repeat = CHUNK,
			.batch_size = 64,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		if (bpf_prog_test_run_opts(s->prog_fd, &o)) {
			s->err = errno;
			return NULL;
		}
		s->runs += CHUNK;
	}
	return NULL;
}

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smac", required_argument, NULL, 'S' }, { "dmac", required_argument, NULL, 'D' },
		{ "src", required_argument, NULL, 's' },  { "dst", required_argument, NULL, 'd' },
		{ "dport", required_argument, NULL, 'p' }, { "sport", required_argument, NULL, 'P' },
		{ "flows", required_argument, NULL, 'f' }, { "cpus", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned char frame[64] = {};
	struct ethhdr *eth = (void *)frame;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	struct sender snd[MAX_CPUS] = {};
	const char *ifname = NULL, *cpus = "0";
	unsigned int dport = 9, sport = 10000, flows = 256, n = 0, i;
	double seconds = 5, t0, t1;
	unsigned long long runs = 0;
	struct xdpgen *sk;
	char *cl, *tok, *save;
	int c, have = 0;

	while ((c = getopt_long(argc, argv, "i:t:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 't': seconds = atof(optarg); break;
		case 'S': parse_mac(optarg, eth->h_source); have |= 1; break;
		case 'D': parse_mac(optarg, eth->h_dest); have |= 2; break;
		case 's':
			if (inet_pton(AF_INET, optarg, &ip->saddr) != 1)
				die("bad --src %s", optarg);
			have |= 4;
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &ip->daddr) != 1)
				die("bad --dst %s", optarg);
			have |= 8;
			break;
		case 'p': dport = atoi(optarg); break;
		case 'P': sport = atoi(optarg); break;
		case 'f': flows = atoi(optarg); break;
		case 'c': cpus = optarg; break;
		default: return 2;
		}
	}
	if (!ifname || have != 15 || !flows || flows > 65536 || seconds <= 0)
		die("send needs -i, --smac, --dmac, --src, --dst (and --flows 1..65536)%s", "");
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(GEN_LEN - sizeof(*eth));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->check = csum(ip, sizeof(*ip));
	udp->source = htons(sport);
	udp->dest = htons(dport);
	udp->len = htons(GEN_LEN - sizeof(*eth) - sizeof(*ip));

	sk = open_skel();
	memcpy((void *)sk->rodata->gen_tmpl, frame, sizeof(sk->rodata->gen_tmpl));
	sk->rodata->gen_sport0 = sport;
	sk->rodata->gen_flows = flows;
	bpf_program__set_autoload(sk->progs.xdpgen_sink, false);
	bpf_program__set_autoload(sk->progs.xdpgen_fwd, false);
	if (xdpgen__load(sk))
		die("cannot load xdpgen_tx: %s", strerror(errno));

	cl = strdup(cpus);
	for (tok = strtok_r(cl, ",", &save); tok && n < MAX_CPUS; tok = strtok_r(NULL, ",", &save)) {
		snd[n].cpu = atoi(tok);
		snd[n].prog_fd = bpf_program__fd(sk->progs.xdpgen_tx);
		snd[n].ifindex = ifindex_of(ifname);
		snd[n].seconds = seconds;
		snd[n].frame = frame;
		n++;
	}
	free(cl);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (pthread_create(&snd[i].t, NULL, send_loop, &snd[i]))
			die("pthread_create: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		pthread_join(snd[i].t, NULL);
		if (snd[i].err)
			die("test run: %s", strerror(snd[i].err));
		runs += snd[i].runs;
	}
	t1 = now_s();
	printf("{\"runs\": %llu, \"seconds\": %.3f, \"threads\": %u, \"flows\": %u}\n", runs,
	       t1 - t0, n, flows);
	xdpgen__destroy(sk);
	return 0;
}

/* ---- sink and fwd --------------------------------------------------------- */

static int cmd_sink(int argc, char **argv)
{
	static const struct option opts[] = { { "dport", required_argument, NULL, 'p' },
					       { NULL, 0, NULL, 0 } };
	const char *ifname = NULL;
	unsigned int dport = 9;
	struct bpf_link *l;
	struct xdpgen *sk;
	int c;

	while ((c = getopt_long(argc, argv, "i:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 'p': dport = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!ifname)
		die("sink needs -i IF%s", "");
	sk = open_skel();
	sk->rodata->sink_dport = dport;
	bpf_program__set_autoload(sk->progs.xdpgen_tx, false);
	bpf_program__set_autoload(sk->progs.xdpgen_fwd, false);
	if (xdpgen__load(sk))
		die("cannot load xdpgen_sink: %s", strerror(errno));
	l = bpf_program__attach_xdp(sk->progs.xdpgen_sink, ifindex_of(ifname));
	if (!l)
		die("cannot attach the sink: %s", strerror(errno));
	printf("{\"attached\": \"%s\"}\n", ifname);
	fflush(stdout);
	serve_stdin(bpf_map__fd(sk->maps.xdpgen_sink_cnt));
	bpf_link__destroy(l);
	xdpgen__destroy(sk);
	return 0;
}

static int cmd_fwd(int argc, char **argv)
{
	static const struct option opts[] = { { "dmac", required_argument, NULL, 'D' },
					       { NULL, 0, NULL, 0 } };
	const char *in = NULL, *out = NULL;
	struct bpf_link *l;
	struct xdpgen *sk;
	__u8 dmac[6], smac[6];
	int c, have = 0;

	while ((c = getopt_long(argc, argv, "i:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': in = optarg; break;
		case 'o': out = optarg; break;
		case 'D': parse_mac(optarg, dmac); have = 1; break;
		default: return 2;
		}
	}
	if (!in || !out || !have)
		die("fwd needs -i IN -o OUT --dmac MAC%s", "");
	sk = open_skel();
	if_mac(out, smac);
	memcpy((void *)sk->rodata->fwd_dmac, dmac, 6);
	memcpy((void *)sk->rodata->fwd_smac, smac, 6);
	sk->rodata->fwd_ifindex = ifindex_of(out);
	bpf_program__set_autoload(sk->progs.xdpgen_tx, false);
	bpf_program__set_autoload(sk->progs.xdpgen_sink, false);
	if (xdpgen__load(sk))
		die("cannot load xdpgen_fwd: %s", strerror(errno));
	l = bpf_program__attach_xdp(sk->progs.xdpgen_fwd, ifindex_of(in));
	if (!l)
		die("cannot attach the forwarder: %s", strerror(errno));
	printf("{\"attached\": \"%s\"}\n", in);
	fflush(stdout);
	serve_stdin(-1);
	bpf_link__destroy(l);
	xdpgen__destroy(sk);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fprintf(stderr, "usage: %s {send|sink|fwd} ... (see the head of xdpgen.c)\n", prog);
		return 2;
	}
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sink"))
		return cmd_sink(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fwd"))
		return cmd_fwd(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command %s\n", prog, argv[1]);
	return 2;
}
