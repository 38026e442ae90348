// SPDX-License-Identifier: GPL-2.0
/*
 * seqgen: count every packet of a UDP stream, to prove that a chain update
 * loses, duplicates or reorders nothing.
 *
 *   seqgen send --dst IP --port N [--count N] [--rate PPS] [--size BYTES]
 *               [--duration S] [-j]
 *   seqgen recv --port N [--timeout S] [--wait S] [--expect N]
 *               [--ready FILE] [-j]
 *
 * The sender numbers its datagrams 0, 1, 2, ... and ends the stream with a
 * few END datagrams that carry the number it sent. The receiver marks each
 * number in a bitmap and reports
 *   received     datagrams of the stream that arrived
 *   unique       distinct sequence numbers among them
 *   lost         expected - unique; expected is --expect, else the count in
 *                END, else highest sequence number + 1 (gaps only)
 *   duplicates   received - unique
 *   reordered    arrivals with a number below one seen before
 *   socket_drops datagrams the receiving socket itself dropped (SO_RXQ_OVFL):
 *                lost on this host's receive buffer, not on the path
 *   max_gap_us   longest silence between two arrivals (informational)
 * and exits when the stream is complete (END seen and nothing missing), when
 * no datagram came for --timeout seconds (idle; default 2), when none came at
 * all within --wait seconds (default 10), or after 600 s whatever happens.
 *
 * Exit status: 0 every expected datagram arrived (unique == expected > 0),
 * 1 some are missing or nothing arrived, 2 usage or system error.
 *
 * Bounded always: the sender stops after --count datagrams (default 1000
 * unless --duration is given, at most 100000000) or --duration seconds (at
 * most 3600), whichever comes first, and sends only to --dst.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define SEQ_MAGIC	0x53514731u	/* "SQG1" */
#define SEQ_F_END	0x1u
#define MAX_COUNT	100000000ull	/* bitmap of 12.5 MB at most */
#define MAX_DURATION	3600.0
#define MAX_RUN_S	600.0		/* receiver's hard limit */
#define END_REPEAT	3		/* END datagrams, in case one is lost */
#define BATCH		64

/* On the wire, all fields big-endian; the rest of the datagram is zeros. */
struct seq_hdr {
	uint32_t magic;
	uint32_t flags;
	uint64_t seq;		/* END: number of datagrams sent */
	uint64_t stream;	/* random per sender run */
	uint64_t send_ns;	/* CLOCK_MONOTONIC of the sender */
};

#define MIN_SIZE	((int)sizeof(struct seq_hdr))
#define MAX_SIZE	65507	/* largest UDP payload over IPv4 */

static const char *prog = "seqgen";

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: %s send --dst IP --port N [--count N] [--rate PPS] [--size BYTES]\n"
		"                   [--duration S] [-j]\n"
		"       %s recv --port N [--timeout S] [--wait S] [--expect N]\n"
		"                   [--ready FILE] [-j]\n",
		prog, prog);
	exit(rc);
}

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "%s: %s: \"%s\" is not an integer in [%" PRIu64 ", %" PRIu64 "]\n",
			prog, opt, s, min, max);
		exit(2);
	}
	return v;
}

static double parse_secs(const char *opt, const char *s, double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > max) {
		fprintf(stderr, "%s: %s: \"%s\" is not a number of seconds in (0, %g]\n",
			prog, opt, s, max);
		exit(2);
	}
	return v;
}

/* ---- send ------------------------------------------------------------- */

static int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "rate", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'D' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	const char *dst = NULL;
	uint64_t port = 0, count = 0, rate = 0, size = MIN_SIZE;
	uint64_t sent = 0, errors = 0, retries = 0, start, end_ns = 0, t;
	double duration = 0;
	bool json = false, have_count = false;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	struct seq_hdr *h;
	char *buf, portstr[8];
	int c, fd, err, i;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dst = optarg; break;
		case 'p': port = parse_u64("--port", optarg, 1, 65535); break;
		case 'c':
			count = parse_u64("--count", optarg, 1, MAX_COUNT);
			have_count = true;
			break;
		case 'r': rate = parse_u64("--rate", optarg, 1, 10000000); break;
		case 's': size = parse_u64("--size", optarg, MIN_SIZE, MAX_SIZE); break;
		case 'D': duration = parse_secs("--duration", optarg, MAX_DURATION); break;
		case 'j': json = true; break;
		default: usage(2);
		}
	}
	if (optind != argc || !dst || !port)
		usage(2);
	if (!have_count)
		count = duration > 0 ? MAX_COUNT : 1000;

	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	err = getaddrinfo(dst, portstr, &hints, &ai);
	if (err) {
		fprintf(stderr, "%s: --dst: \"%s\" is not an IPv4 or IPv6 address: %s\n",
			prog, dst, gai_strerror(err));
		return 2;
	}
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	buf = calloc(1, size);
	if (!buf)
		die("calloc");
	h = (struct seq_hdr *)buf;
	h->magic = htobe32(SEQ_MAGIC);
	start = now_ns();
	h->stream = htobe64(start ^ ((uint64_t)getpid() << 32));
	if (duration > 0)
		end_ns = start + (uint64_t)(duration * 1e9);

	while (sent < count) {
		t = now_ns();
		if (end_ns && t >= end_ns)
			break;
		if (rate) {
			/* Absolute schedule: a late packet does not shift the rest. */
			uint64_t due = start + sent * 1000000000ull / rate;

			if (due > t) {
				struct timespec ts = { due / 1000000000ull, due % 1000000000ull };

				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
			}
		}
		h->seq = htobe64(sent);
		h->send_ns = htobe64(now_ns());
		/*
		 * Unconnected sendto: an ICMP error must not fail later sends.
		 * A full local queue is not loss on the path, so wait and retry
		 * the same number; any other error consumes it, the receiver
		 * counts it lost, and we report it and fail.
		 */
		for (i = 0;; i++) {
			if (sendto(fd, buf, size, 0, ai->ai_addr, ai->ai_addrlen) == (ssize_t)size)
				break;
			if ((errno == ENOBUFS || errno == EAGAIN) && i < 1000) {
				retries++;
				usleep(100);
				continue;
			}
			if (errors++ == 0)
				fprintf(stderr, "%s: sendto %s: %s\n", prog, dst, strerror(errno));
			break;
		}
		sent++;
	}
	t = now_ns();

	h->flags = htobe32(SEQ_F_END);
	h->seq = htobe64(sent);
	for (i = 0; i < END_REPEAT; i++) {
		h->send_ns = htobe64(now_ns());
		sendto(fd, buf, size, 0, ai->ai_addr, ai->ai_addrlen);
		usleep(1000);
	}

	double secs = (t - start) / 1e9;
	if (json)
		printf("{\"sent\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"retries\":%" PRIu64
		       ",\"size\":%" PRIu64 ",\"duration_s\":%.3f,\"pps\":%.0f}\n",
		       sent, errors, retries, size, secs, secs > 0 ? sent / secs : 0.0);
	else
		printf("sent %" PRIu64 " datagrams of %" PRIu64 " bytes to %s port %" PRIu64
		       " in %.3f s (%.0f pps), %" PRIu64 " errors\n",
		       sent, size, dst, port, secs, secs > 0 ? sent / secs : 0.0, errors);
	freeaddrinfo(ai);
	free(buf);
	close(fd);
	return errors ? 1 : 0;
}

/* ---- recv ------------------------------------------------------------- */

struct stats {
	uint64_t received, unique, reordered, invalid, foreign;
	uint64_t highest;	/* valid when unique > 0 */
	uint64_t end_count;	/* valid when end_seen */
	bool end_seen;
	uint64_t stream;	/* the first stream seen; others are foreign */
	bool have_stream;
	uint64_t first_ns, last_ns, max_gap_ns;
	uint32_t socket_drops;
	uint8_t *bitmap;
	uint64_t bitmap_bits;
};

static bool seen_test_and_set(struct stats *st, uint64_t seq)
{
	uint64_t bits = st->bitmap_bits;
	uint8_t *m;
	bool was;

	if (seq >= bits) {
		while (bits <= seq)
			bits = bits ? bits * 2 : 1 << 16;
		m = realloc(st->bitmap, bits / 8);
		if (!m)
			die("realloc");
		memset(m + st->bitmap_bits / 8, 0, (bits - st->bitmap_bits) / 8);
		st->bitmap = m;
		st->bitmap_bits = bits;
	}
	was = st->bitmap[seq / 8] & (1u << (seq % 8));
	st->bitmap[seq / 8] |= 1u << (seq % 8);
	return was;
}

static void account(struct stats *st, const struct seq_hdr *h, size_t len, uint64_t t)
{
	uint64_t seq, stream;

	if (len < sizeof(*h) || be32toh(h->magic) != SEQ_MAGIC) {
		st->invalid++;
		return;
	}
	stream = be64toh(h->stream);
	if (!st->have_stream) {
		st->stream = stream;
		st->have_stream = true;
	} else if (stream != st->stream) {
		/* A late datagram of an earlier run on the same port. */
		st->foreign++;
		return;
	}
	seq = be64toh(h->seq);
	if (be32toh(h->flags) & SEQ_F_END) {
		st->end_seen = true;
		st->end_count = seq;
		return;
	}
	if (seq >= MAX_COUNT) {
		st->invalid++;
		return;
	}
	if (st->received) {
		if (t - st->last_ns > st->max_gap_ns)
			st->max_gap_ns = t - st->last_ns;
	} else {
		st->first_ns = t;
	}
	st->last_ns = t;
	st->received++;
	if (seen_test_and_set(st, seq))
		return;		/* duplicate: received - unique */
	if (st->unique && seq < st->highest)
		st->reordered++;
	if (!st->unique || seq > st->highest)
		st->highest = seq;
	st->unique++;
}

static uint64_t expected(const struct stats *st, uint64_t expect)
{
	if (expect)
		return expect;
	if (st->end_seen)
		return st->end_count;
	return st->unique ? st->highest + 1 : 0;
}

static int cmd_recv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "wait", required_argument, NULL, 'w' },
		{ "expect", required_argument, NULL, 'e' },
		{ "ready", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ 0 },
	};
	uint64_t port = 0, expect = 0, exp, lost, start, t, deadline;
	double idle = 2, wait = 10;
	const char *ready = NULL, *why;
	bool json = false;
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
	static char bufs[BATCH][MAX_SIZE + 1];
	static char cbufs[BATCH][CMSG_SPACE(sizeof(uint32_t))];
	struct mmsghdr msgs[BATCH];
	struct iovec iovs[BATCH];
	struct stats st = { 0 };
	int c, fd, n, i, one = 1, zero = 0, rcvbuf = 8 << 20;

	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		switch (c) {
		case 'p': port = parse_u64("--port", optarg, 1, 65535); break;
		case 't': idle = parse_secs("--timeout", optarg, MAX_RUN_S); break;
		case 'w': wait = parse_secs("--wait", optarg, MAX_RUN_S); break;
		case 'e': expect = parse_u64("--expect", optarg, 1, MAX_COUNT); break;
		case 'R': ready = optarg; break;
		case 'j': json = true; break;
		default: usage(2);
		}
	}
	if (optind != argc || !port)
		usage(2);

	/* One dual-stack socket takes the IPv4 and the IPv6 stream. */
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)))
		die("IPV6_V6ONLY");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A burst must not overflow the buffer and pass for loss on the path:
	 * FORCE (root) goes past rmem_max; SO_RXQ_OVFL reports what remains. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	sa.sin6_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("bind");
	if (ready) {
		int rfd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (rfd < 0)
			die(ready);
		close(rfd);
	}

	for (i = 0; i < BATCH; i++) {
		iovs[i].iov_base = bufs[i];
		iovs[i].iov_len = sizeof(bufs[i]);
	}

	start = now_ns();
	deadline = start + (uint64_t)(MAX_RUN_S * 1e9);
	why = "hard limit";
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t until;

		t = now_ns();
		/* Complete: END told us the count and every number is in. A
		 * duplicate arriving later would go unseen, which is the price of
		 * not waiting out the idle timeout after every run. */
		if (st.end_seen && st.unique >= expected(&st, expect)) {
			why = "end of stream";
			break;
		}
		if (st.received || st.end_seen)
			until = (st.received ? st.last_ns : t) + (uint64_t)(idle * 1e9);
		else
			until = start + (uint64_t)(wait * 1e9);
		if (until > deadline)
			until = deadline;
		if (t >= until) {
			why = until == deadline ? "hard limit" :
			      st.received ? "idle timeout" : "nothing received";
			break;
		}
		n = poll(&pfd, 1, (int)((until - t + 999999) / 1000000));
		if (n < 0 && errno != EINTR)
			die("poll");
		if (n <= 0)
			continue;

		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < BATCH; i++) {
			msgs[i].msg_hdr.msg_iov = &iovs[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_control = cbufs[i];
			msgs[i].msg_hdr.msg_controllen = sizeof(cbufs[i]);
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			die("recvmmsg");
		}
		t = now_ns();
		for (i = 0; i < n; i++) {
			struct cmsghdr *cm;

			account(&st, (struct seq_hdr *)bufs[i], msgs[i].msg_len, t);
			for (cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm;
			     cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm))
				if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL)
					memcpy(&st.socket_drops, CMSG_DATA(cm), sizeof(uint32_t));
		}
	}
	close(fd);

	exp = expected(&st, expect);
	lost = exp > st.unique ? exp - st.unique : 0;
	if (json)
		printf("{\"received\":%" PRIu64 ",\"unique\":%" PRIu64 ",\"lost\":%" PRIu64
		       ",\"duplicates\":%" PRIu64 ",\"reordered\":%" PRIu64
		       ",\"expected\":%" PRIu64 ",\"highest_seq\":%" PRId64
		       ",\"end_seen\":%s,\"invalid\":%" PRIu64 ",\"foreign\":%" PRIu64
		       ",\"socket_drops\":%u,\"max_gap_us\":%" PRIu64
		       ",\"duration_s\":%.3f,\"stop\":\"%s\"}\n",
		       st.received, st.unique, lost, st.received - st.unique, st.reordered,
		       exp, st.unique ? (int64_t)st.highest : (int64_t)-1,
		       st.end_seen ? "true" : "false", st.invalid, st.foreign,
		       st.socket_drops, st.max_gap_ns / 1000,
		       st.received ? (st.last_ns - st.first_ns) / 1e9 : 0.0, why);
	else
		printf("received %" PRIu64 " unique %" PRIu64 " lost %" PRIu64
		       " duplicates %" PRIu64 " reordered %" PRIu64 " (expected %" PRIu64
		       ", end %s, socket drops %u, max gap %" PRIu64 " us; stopped: %s)\n",
		       st.received, st.unique, lost, st.received - st.unique, st.reordered,
		       exp, st.end_seen ? "seen" : "not seen", st.socket_drops,
		       st.max_gap_ns / 1000, why);
	free(st.bitmap);
	return lost == 0 && exp > 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage(2);
	if (!strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (!strcmp(argv[1], "recv"))
		return cmd_recv(argc - 1, argv + 1);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		printf("%s: count every packet of a UDP stream (see the top of seqgen.c)\n", prog);
		usage(0);
	}
	usage(2);
	return 2;
}
