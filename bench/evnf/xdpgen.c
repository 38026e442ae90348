// SPDX-License-Identifier: GPL-2.0
/*
 * xdpgen: the packet-rate tools of bench/evnf (docs/bench-evnf.md).
 *
 *   xdpgen send -i IF --smac MAC --dmac MAC --src IP --dst IP [--dport 9]
 *               [--sport 10000] [--flows 256] [-t SECONDS] [--cpus 0,1]
 *       A traffic generator: 60-byte UDP frames (64 on the wire) sent out of
 *       IF by BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, one thread
 *       per CPU, for SECONDS. Prints one JSON line: frames run, seconds.
 *   xdpgen flood syn|udp -i IF --smac MAC --dmac MAC --src PREFIX --dst IP
 *               [--dport 80] [-t SECONDS | -n FRAMES] [--cpus 0,1]
 *       A flood: TCP SYNs (60-byte frames for IPv4, 82 with options for
 *       IPv6) or UDP datagrams (the same sizes), each from a source address
 *       in PREFIX (IPv4 or IPv6, the family of --dst; the low 32 bits at
 *       most vary) and a source port of its own: no two frames of a run
 *       share them while each thread sends fewer than 2^(host bits + 8).
 *       Checksums are right. -n: exactly FRAMES frames in all (for a count
 *       to check against), else for SECONDS. Prints the JSON line of send, and
 *       "frames": the frames the program built, counted by itself.
 *   xdpgen sink -i IF [--dport 9 | --src-net PREFIX [--src-net PREFIX6]]
 *       Attaches a program to IF that counts the UDP datagrams to DPORT by
 *       the last byte of their destination address and drops them. Each line
 *       read on stdin prints the counts as one JSON line; EOF detaches.
 *       --src-net: every packet from PREFIX instead, whatever its protocol
 *       (a flood after the chain); one IPv4 and one IPv6 prefix at most.
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
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xdpgen.skel.h"

#define GEN_LEN 60
#define FLOOD_LEN4 60	/* as xdpgen.bpf.c */
#define FLOOD_LEN6 82
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
	unsigned int ifindex, len;
	double seconds;
	unsigned long long limit;	/* frames; 0: for seconds */
	unsigned char *frame;
	unsigned long long runs;
	int err;
};

static void *send_loop(void *arg)
{
	struct sender *s = arg;
	struct xdp_md ctx = { .data_end = s->len, .ingress_ifindex = s->ifindex };
	double end;
	cpu_set_t set;
	__u32 n;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set)) {
		s->err = EINVAL;
		return NULL;
	}
	end = now_s() + s->seconds;
	while (s->limit ? s->runs < s->limit : now_s() < end) {
		n = s->limit && s->limit - s->runs < CHUNK ? s->limit - s->runs : CHUNK;
		LIBBPF_OPTS(bpf_test_run_opts, o,
			.data_in = s->frame,
			.data_size_in = s->len,
			.ctx_in = &ctx,
			.ctx_size_in = sizeof(ctx),
			.repeat = n,
			.batch_size = 64,
			.flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		/* test_run runs the program exactly repeat times, or fails */
		if (bpf_prog_test_run_opts(s->prog_fd, &o)) {
			s->err = errno;
			return NULL;
		}
		s->runs += n;
	}
	return NULL;
}

/*
 * One sender per CPU of the list cpus, each on its CPU running prog_fd with
 * frame on ifname for `seconds`, or for its share of `limit` frames when
 * limit is not 0. Returns the number of senders; their test runs go to
 * *runs and the time they took to *secs.
 */
static unsigned int run_senders(const char *cpus, int prog_fd, const char *ifname,
				unsigned int len, double seconds, unsigned long long limit,
				unsigned char *frame, unsigned long long *runs, double *secs)
{
	struct sender snd[MAX_CPUS] = {};
	unsigned int ifindex = ifindex_of(ifname), n = 0, i;
	char *cl, *tok, *save;
	double t0;

	cl = strdup(cpus);
	if (!cl)
		die("out of memory%s", "");
	for (tok = strtok_r(cl, ",", &save); tok && n < MAX_CPUS; tok = strtok_r(NULL, ",", &save)) {
		snd[n].cpu = atoi(tok);
		snd[n].prog_fd = prog_fd;
		snd[n].ifindex = ifindex;
		snd[n].len = len;
		snd[n].seconds = seconds;
		snd[n].frame = frame;
		n++;
	}
	free(cl);
	for (i = 0; limit && i < n; i++)
		snd[i].limit = limit / n + (i < limit % n);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (pthread_create(&snd[i].t, NULL, send_loop, &snd[i]))
			die("pthread_create: %s", strerror(errno));
	*runs = 0;
	for (i = 0; i < n; i++) {
		pthread_join(snd[i].t, NULL);
		if (snd[i].err)
			die("test run: %s", strerror(snd[i].err));
		*runs += snd[i].runs;
	}
	*secs = now_s() - t0;
	return n;
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
	const char *ifname = NULL, *cpus = "0";
	unsigned int dport = 9, sport = 10000, flows = 256, n;
	double seconds = 5, secs;
	unsigned long long runs;
	struct xdpgen *sk;
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
	bpf_program__set_autoload(sk->progs.xdpgen_flood, false);
	bpf_program__set_autoload(sk->progs.xdpgen_sink, false);
	bpf_program__set_autoload(sk->progs.xdpgen_fwd, false);
	if (xdpgen__load(sk))
		die("cannot load xdpgen_tx: %s", strerror(errno));

	n = run_senders(cpus, bpf_program__fd(sk->progs.xdpgen_tx), ifname, GEN_LEN, seconds, 0,
			frame, &runs, &secs);
	printf("{\"runs\": %llu, \"seconds\": %.3f, \"threads\": %u, \"flows\": %u}\n", runs,
	       secs, n, flows);
	xdpgen__destroy(sk);
	return 0;
}

/* ---- flood ---------------------------------------------------------------- */

struct pseudo4 {
	__be32 src, dst;
	__u8 zero, proto;
	__be16 len;
};

struct pseudo6 {
	struct in6_addr src, dst;
	__be32 len;
	__u8 zero[3], next;
};

/* The one's complement sum of a pseudo-header and a segment, as a checksum. */
static unsigned short l4_csum(const void *ph, size_t phlen, const void *seg, size_t len)
{
	unsigned char b[128];

	memcpy(b, ph, phlen);
	memcpy(b + phlen, seg, len);
	return csum(b, phlen + len);
}

/* "ADDR/LEN" of the family (4 or 6) into net (masked) and the prefix length. */
static int parse_prefix(const char *arg, int family, void *net, unsigned int *plen)
{
	char a[INET6_ADDRSTRLEN + 8], *slash;
	unsigned int max = family == 4 ? 32 : 128, i;
	unsigned char *n = net;

	snprintf(a, sizeof(a), "%s", arg);
	slash = strchr(a, '/');
	*plen = max;
	if (slash) {
		*slash = 0;
		*plen = atoi(slash + 1);
	}
	if (*plen > max || inet_pton(family == 4 ? AF_INET : AF_INET6, a, net) != 1)
		return -1;
	for (i = 0; i < max / 8; i++)
		if (i * 8 >= *plen)
			n[i] = 0;
		else if (i * 8 + 8 > *plen)
			n[i] &= 0xff << (8 - (*plen - i * 8));
	return 0;
}

static void mask_of(unsigned int plen, unsigned char *m, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++)
		m[i] = i * 8 + 8 <= plen ? 0xff : i * 8 >= plen ? 0 : 0xff << (8 - (plen - i * 8));
}

static int cmd_flood(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "smac", required_argument, NULL, 'S' }, { "dmac", required_argument, NULL, 'D' },
		{ "src", required_argument, NULL, 's' },  { "dst", required_argument, NULL, 'd' },
		{ "dport", required_argument, NULL, 'p' }, { "cpus", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned char frame[96] = {}, dst[16];
	struct ethhdr *eth = (void *)frame;
	const char *ifname = NULL, *cpus = "0", *mode, *src = NULL, *dsts = NULL;
	unsigned int dport = 80, n, plen, len, l4len, family, host_bits;
	unsigned long long runs, frames = 0, limit = 0;
	double seconds = 5, secs;
	__u64 v[MAX_CPUS];
	struct xdpgen *sk;
	int c, have = 0, tcp, ncpu;
	__u32 k = 0;

	if (argc < 2 || (strcmp(argv[1], "syn") && strcmp(argv[1], "udp")))
		die("flood needs a mode: syn or udp%s", "");
	mode = argv[1];
	tcp = !strcmp(mode, "syn");
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "i:t:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 't': seconds = atof(optarg); break;
		case 'n': limit = strtoull(optarg, NULL, 0); break;
		case 'S': parse_mac(optarg, eth->h_source); have |= 1; break;
		case 'D': parse_mac(optarg, eth->h_dest); have |= 2; break;
		case 's': src = optarg; break;
		case 'd': dsts = optarg; break;
		case 'p': dport = atoi(optarg); break;
		case 'c': cpus = optarg; break;
		default: return 2;
		}
	}
	if (!ifname || have != 3 || !src || !dsts || seconds <= 0 || !dport || dport > 65535)
		die("flood needs -i, --smac, --dmac, --src PREFIX, --dst IP%s", "");
	family = strchr(dsts, ':') ? 6 : 4;
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, dsts, dst) != 1)
		die("bad --dst %s", dsts);

	l4len = tcp ? (family == 4 ? 20 : 28) : (family == 4 ? 26 : 28);
	if (family == 4) {
		struct iphdr *ip = (void *)(eth + 1);
		struct pseudo4 ph = {};

		if (parse_prefix(src, 4, &ip->saddr, &plen))
			die("bad --src %s (an IPv4 prefix, as --dst)", src);
		len = FLOOD_LEN4;
		eth->h_proto = htons(ETH_P_IP);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + l4len);
		ip->frag_off = htons(0x4000);	/* DF */
		ip->ttl = 64;
		ip->protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
		memcpy(&ip->daddr, dst, 4);
		ip->check = csum(ip, sizeof(*ip));
		host_bits = 32 - plen;
		ph.src = ip->saddr;
		ph.dst = ip->daddr;
		ph.proto = ip->protocol;
		ph.len = htons(l4len);
		if (tcp) {
			struct tcphdr *th = (void *)(ip + 1);

			th->dest = htons(dport);
			th->seq = htonl(0x5fc0ffee);
			th->doff = 5;
			th->syn = 1;
			th->window = htons(64240);
			th->check = l4_csum(&ph, sizeof(ph), th, l4len);
		} else {
			struct udphdr *uh = (void *)(ip + 1);

			uh->dest = htons(dport);
			uh->len = htons(l4len);	/* checksum 0: none (RFC 768) */
		}
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct pseudo6 ph = {};

		if (parse_prefix(src, 6, &ip6->saddr, &plen))
			die("bad --src %s (an IPv6 prefix, as --dst)", src);
		len = FLOOD_LEN6;
		eth->h_proto = htons(ETH_P_IPV6);
		ip6->version = 6;
		ip6->payload_len = htons(l4len);
		ip6->nexthdr = tcp ? IPPROTO_TCP : IPPROTO_UDP;
		ip6->hop_limit = 64;
		memcpy(&ip6->daddr, dst, 16);
		host_bits = 128 - plen;
		ph.src = ip6->saddr;
		ph.dst = ip6->daddr;
		ph.len = htonl(l4len);
		ph.next = ip6->nexthdr;
		if (tcp) {
			struct tcphdr *th = (void *)(ip6 + 1);
			unsigned char *o = (void *)(th + 1);

			th->dest = htons(dport);
			th->seq = htonl(0x5fc0ffee);
			th->doff = 7;
			th->syn = 1;
			th->window = htons(64800);
			/* MSS 1440, SACK permitted, two NOPs */
			memcpy(o, "\x02\x04\x05\xa0\x04\x02\x01\x01", 8);
			th->check = l4_csum(&ph, sizeof(ph), th, l4len);
		} else {
			struct udphdr *uh = (void *)(ip6 + 1);

			uh->dest = htons(dport);
			uh->len = htons(l4len);
			uh->check = l4_csum(&ph, sizeof(ph), uh, l4len);
			if (!uh->check)
				uh->check = 0xffff;
		}
	}
	if (host_bits > 32)
		host_bits = 32;

	sk = open_skel();
	memcpy((void *)sk->rodata->flood_tmpl, frame, sizeof(sk->rodata->flood_tmpl));
	sk->rodata->flood_v6 = family == 6;
	sk->rodata->flood_tcp = tcp;
	sk->rodata->flood_host_bits = host_bits;
	bpf_program__set_autoload(sk->progs.xdpgen_tx, false);
	bpf_program__set_autoload(sk->progs.xdpgen_sink, false);
	bpf_program__set_autoload(sk->progs.xdpgen_fwd, false);
	if (xdpgen__load(sk))
		die("cannot load xdpgen_flood: %s", strerror(errno));

	/* -n: the frames shared out over the threads */
	n = run_senders(cpus, bpf_program__fd(sk->progs.xdpgen_flood), ifname, len, seconds, limit,
			frame, &runs, &secs);
	ncpu = libbpf_num_possible_cpus();
	if (ncpu > 0 && ncpu <= MAX_CPUS &&
	    !bpf_map_lookup_elem(bpf_map__fd(sk->maps.xdpgen_seq), &k, v))
		for (c = 0; c < ncpu; c++)
			frames += v[c];
	printf("{\"mode\": \"%s\", \"family\": %u, \"runs\": %llu, \"frames\": %llu, "
	       "\"seconds\": %.3f, \"threads\": %u, \"frame_len\": %u, \"source_bits\": %u}\n",
	       mode, family, runs, frames, secs, n, len, host_bits + 16);
	xdpgen__destroy(sk);
	return 0;
}

/* ---- sink and fwd --------------------------------------------------------- */

static int cmd_sink(int argc, char **argv)
{
	static const struct option opts[] = { { "dport", required_argument, NULL, 'p' },
					       { "src-net", required_argument, NULL, 'N' },
					       { NULL, 0, NULL, 0 } };
	const char *ifname = NULL, *nets[2];
	unsigned int dport = 9, plen, n_nets = 0, i;
	unsigned char a[16];
	struct bpf_link *l;
	struct xdpgen *sk;
	int c;

	while ((c = getopt_long(argc, argv, "i:", opts, NULL)) != -1) {
		switch (c) {
		case 'i': ifname = optarg; break;
		case 'p': dport = atoi(optarg); break;
		case 'N': nets[n_nets++ & 1] = optarg; break;
		default: return 2;
		}
	}
	if (!ifname || n_nets > 2)
		die("sink needs -i IF (and at most two --src-net)%s", "");
	sk = open_skel();
	sk->rodata->sink_dport = dport;
	/* A family without a prefix matches no source: net and mask all ones. */
	sk->rodata->sink_net4 = sk->rodata->sink_mask4 = 0xffffffff;
	memset((void *)sk->rodata->sink_net6, 0xff, 16);
	memset((void *)sk->rodata->sink_mask6, 0xff, 16);
	for (i = 0; i < n_nets; i++) {
		int family = strchr(nets[i], ':') ? 6 : 4;

		if (parse_prefix(nets[i], family, a, &plen))
			die("bad --src-net %s", nets[i]);
		sk->rodata->sink_by_src = 1;
		if (family == 4) {
			memcpy((void *)&sk->rodata->sink_net4, a, 4);
			mask_of(plen, (void *)&sk->rodata->sink_mask4, 4);
		} else {
			memcpy((void *)sk->rodata->sink_net6, a, 16);
			mask_of(plen, (void *)sk->rodata->sink_mask6, 16);
		}
	}
	bpf_program__set_autoload(sk->progs.xdpgen_tx, false);
	bpf_program__set_autoload(sk->progs.xdpgen_flood, false);
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
	bpf_program__set_autoload(sk->progs.xdpgen_flood, false);
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
		fprintf(stderr, "usage: %s {send|flood|sink|fwd} ... (see the head of xdpgen.c)\n", prog);
		return 2;
	}
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "flood"))
		return cmd_flood(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sink"))
		return cmd_sink(argc - 1, argv + 1);
	if (!strcmp(argv[1], "fwd"))
		return cmd_fwd(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command %s\n", prog, argv[1]);
	return 2;
}
