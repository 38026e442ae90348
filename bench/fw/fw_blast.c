// SPDX-License-Identifier: GPL-2.0
/*
 * fw_blast: send one frame over and over from a netns through a veth, and
 * say how much CPU time that took (the iptables half of bench/fw, driven by
 * ipt_bench.py; see docs/bench-firewall.md).
 *
 * The frame leaves through an AF_PACKET socket that bypasses the qdisc. A
 * veth hands it to its peer's backlog on this CPU and the NET_RX softirq
 * then runs, on this CPU, when the send re-enables bottom halves: the
 * router's ip_rcv, FORWARD, ip_output and the next veth, all before send()
 * returns. Only when a softirq runs longer than 2 ms does the kernel hand
 * the rest to ksoftirqd/CPU, so the CPU time of the whole path is:
 *
 *	this thread's CPU time + ksoftirqd/CPU's CPU time
 *
 * both from the scheduler's runtime (ns; this kernel has no
 * IRQ_TIME_ACCOUNTING, so softirq time stays in the task it interrupted).
 * /proc/stat's softirq and busy ticks for the CPU are printed beside them
 * as a cross-check: those are 4 ms tick samples.
 *
 * Output, one line: sent tx tx_dropped cpu_ns ksoftirqd_ns wall_ns
 * softirq_ticks busy_ticks (key=value). tx counts the frames the peer took
 * into its backlog, tx_dropped those it refused (backlog full).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>

#include "fwpkt.h"

struct snap {
	unsigned long long cpu_ns, ksoft_ns, wall_ns, softirq, busy;
	unsigned long long tx, tx_dropped;
};

static unsigned long long clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int ksoftirqd_pid(int cpu)
{
	char want[32], comm[64], path[288];
	struct dirent *e;
	int pid = -1;
	DIR *d;

	snprintf(want, sizeof(want), "ksoftirqd/%d\n", cpu);
	d = opendir("/proc");
	if (!d)
		return -1;
	while ((e = readdir(d)) && pid < 0) {
		FILE *f;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			pid = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return pid;
}

/* First field of /proc/PID/schedstat: ns on the CPU. */
static unsigned long long runtime_ns(int pid)
{
	unsigned long long v = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* The cpuN line of /proc/stat: softirq ticks and all but idle and iowait. */
static void cpu_ticks(int cpu, unsigned long long *softirq, unsigned long long *busy)
{
	unsigned long long v[10] = {};
	char line[512], want[16];
	FILE *f = fopen("/proc/stat", "r");
	int n = snprintf(want, sizeof(want), "cpu%d ", cpu);

	*softirq = *busy = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, n))
			continue;
		sscanf(line + n, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
		*softirq = v[6];
		*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		break;
	}
	fclose(f);
}

static int if_stats(const char *ifname, unsigned long long *tx, unsigned long long *dropped)
{
	struct ifaddrs *ifa, *i;
	int err = -ENOENT;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && i->ifa_data &&
		    !strcmp(i->ifa_name, ifname)) {
			struct rtnl_link_stats *s = i->ifa_data;

			*tx = s->tx_packets;
			*dropped = s->tx_dropped;
			err = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	return err;
}

static void take(struct snap *s, int cpu, int kpid, const char *ifname)
{
	if_stats(ifname, &s->tx, &s->tx_dropped);
	cpu_ticks(cpu, &s->softirq, &s->busy);
	s->ksoft_ns = kpid > 0 ? runtime_ns(kpid) : 0;
	s->wall_ns = clock_ns(CLOCK_MONOTONIC);
	s->cpu_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/* Sends until the deadline (or count frames); returns frames sent or -errno. */
static long long blast(int fd, const struct fwpkt *p, double seconds, long long count)
{
	unsigned long long end = clock_ns(CLOCK_MONOTONIC) + seconds * 1e9;
	long long n = 0;
	int i;

	for (;;) {
		for (i = 0; i < 64; i++) {
			if (count >= 0 && n >= count)
				return n;
			if (send(fd, p->frame, p->len, 0) < 0) {
				if (errno == ENOBUFS || errno == EAGAIN)
					continue;
				return -errno;
			}
			n++;
		}
		if (count < 0 && clock_ns(CLOCK_MONOTONIC) >= end)
			return n;
	}
}

/*
 * Waits until ksoftirqd/CPU has finished with our frames: a softirq that
 * runs past its 2 ms budget leaves the rest of the backlog (up to
 * netdev_max_backlog frames, already counted as sent) to ksoftirqd, and the
 * CPU they take belongs to this sample. Quiet: its runtime did not grow for
 * two 10 ms sleeps in a row.
 */
static void drain(int kpid)
{
	unsigned long long last, now;
	int quiet = 0, i;

	if (kpid <= 0)
		return;
	last = runtime_ns(kpid);
	for (i = 0; i < 1000 && quiet < 2; i++) {
		usleep(10000);
		now = runtime_ns(kpid);
		quiet = now == last ? quiet + 1 : 0;
		last = now;
	}
}

static int parse_mac(const char *s, unsigned char *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		      &mac[4], &mac[5]) == 6 ? 0 : -EINVAL;
}

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s -n NETNS -i IFNAME -m DSTMAC [-t SECONDS | -N COUNT] [-w SECONDS] [-c CPU]\n"
		"          'TAG VERDICT RULE FAMILY PROTO SRC DST SPORT DPORT'\n"
		"  sends the packet (a .pkts line) out of IFNAME in NETNS to DSTMAC for\n"
		"  SECONDS (default 1) or COUNT frames, after a warm-up of -w SECONDS\n"
		"  (default 0.2), pinned to CPU (default 1); prints what it cost.\n",
		argv0);
}

int main(int argc, char **argv)
{
	const char *netns = NULL, *ifname = NULL, *mac = NULL;
	double seconds = 1, warm = 0.2;
	long long count = -1, sent;
	int cpu = 1, opt, fd, kpid, one = 1;
	unsigned char dmac[6];
	struct sockaddr_ll sll = {};
	struct ifreq ifr = {};
	struct snap a, b;
	struct fwpkt p;
	cpu_set_t set;
	char path[128];

	while ((opt = getopt(argc, argv, "n:i:m:t:N:w:c:h")) != -1) {
		switch (opt) {
		case 'n': netns = optarg; break;
		case 'i': ifname = optarg; break;
		case 'm': mac = optarg; break;
		case 't': seconds = atof(optarg); break;
		case 'N': count = atoll(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'c': cpu = atoi(optarg); break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	if (!netns || !ifname || !mac || optind != argc - 1 || parse_mac(mac, dmac) ||
	    strlen(ifname) >= IF_NAMESIZE) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (fwpkt_parse(argv[optind], &p)) {
		fprintf(stderr, "fw_blast: not a packet line: %s\n", argv[optind]);
		return 2;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "fw_blast: pin to CPU %d: %s\n", cpu, strerror(errno));
		return 1;
	}
	kpid = ksoftirqd_pid(cpu);
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "fw_blast: enter netns %s: %s\n", netns, strerror(errno));
		return 1;
	}
	close(fd);

	fd = socket(AF_PACKET, SOCK_RAW, 0);	/* protocol 0: receives nothing */
	if (fd < 0) {
		fprintf(stderr, "fw_blast: socket: %s\n", strerror(errno));
		return 1;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		fprintf(stderr, "fw_blast: %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	fwpkt_build(&p, dmac, (unsigned char *)ifr.ifr_hwaddr.sa_data);
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = if_nametoindex(ifname);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one))) {
		fprintf(stderr, "fw_blast: bind %s: %s\n", ifname, strerror(errno));
		return 1;
	}

	if (warm > 0 && count < 0 && blast(fd, &p, warm, -1) < 0) {
		fprintf(stderr, "fw_blast: send: %s\n", strerror(errno));
		return 1;
	}
	drain(kpid);
	take(&a, cpu, kpid, ifname);
	sent = blast(fd, &p, seconds, count);
	drain(kpid);
	take(&b, cpu, kpid, ifname);
	if (sent < 0) {
		fprintf(stderr, "fw_blast: send: %s\n", strerror((int)-sent));
		return 1;
	}
	printf("sent=%lld tx=%llu tx_dropped=%llu cpu_ns=%llu ksoftirqd_ns=%llu wall_ns=%llu "
	       "softirq_ticks=%llu busy_ticks=%llu ksoftirqd_pid=%d\n",
	       sent, b.tx - a.tx, b.tx_dropped - a.tx_dropped, b.cpu_ns - a.cpu_ns,
	       b.ksoft_ns - a.ksoft_ns, b.wall_ns - a.wall_ns, b.softirq - a.softirq,
	       b.busy - a.busy, kpid);
	return 0;
}
