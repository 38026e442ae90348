// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_verdict - run frames through a pinned XDP program with
 * BPF_PROG_TEST_RUN and print each verdict.
 *
 *   xdp_verdict PROG_PIN < FRAMES
 *
 * FRAMES has one Ethernet frame per line as hex digits (whitespace between
 * bytes allowed); empty lines and lines starting with '#' are skipped. For
 * every frame one line goes to stdout, in input order: the verdict's name
 * without the XDP_ prefix (aborted, drop, pass, tx, redirect) or the number
 * for anything else. Each frame runs once (repeat 1), so stateful programs
 * see them in order.
 *
 * A chain's root (e.g. /sys/fs/bpf/sfc/NAME/root_fwd) tail-calls through
 * the whole chain under test_run. The program runs in the caller's network
 * namespace: FIB lookups of an egress see that namespace's routes.
 *
 * Exit status: 0 every frame ran, 1 an error (named on stderr), 2 usage.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

/* Larger than any frame a veth carries at the default MTU. */
#define MAX_FRAME 16384

static const char *verdict_names[] = {
	[XDP_ABORTED] = "aborted",
	[XDP_DROP] = "drop",
	[XDP_PASS] = "pass",
	[XDP_TX] = "tx",
	[XDP_REDIRECT] = "redirect",
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Returns the frame length, 0 for a line to skip, -1 for bad hex. */
static long parse_hex(const char *line, unsigned char *out, size_t cap)
{
	const char *p = line;
	size_t n = 0;
	int hi, lo;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p || *p == '#')
		return 0;
	while (*p) {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		hi = hexval((unsigned char)p[0]);
		lo = hi < 0 ? -1 : hexval((unsigned char)p[1]);
		if (lo < 0 || n == cap)
			return -1;
		out[n++] = hi << 4 | lo;
		p += 2;
	}
	return n;
}

static int run(int fd, unsigned char *frame, size_t len, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(fd, &o);
	if (err)
		return -errno;
	*retval = o.retval;
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char frame[MAX_FRAME];
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	__u32 retval = 0;
	long len;
	int fd, err, rc = 1;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: xdp_verdict PROG_PIN < FRAMES (one hex frame per line)\n");
		return 2;
	}
	fd = bpf_obj_get(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "xdp_verdict: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (getline(&line, &cap, stdin) > 0) {
		lineno++;
		len = parse_hex(line, frame, sizeof(frame));
		if (len == 0)
			continue;
		if (len < 0) {
			fprintf(stderr, "xdp_verdict: stdin:%lu: not a frame in hex (at most %d bytes)\n",
				lineno, MAX_FRAME);
			goto out;
		}
		err = run(fd, frame, len, &retval);
		if (err) {
			fprintf(stderr, "xdp_verdict: stdin:%lu: test_run: %s\n", lineno, strerror(-err));
			goto out;
		}
		if (retval < sizeof(verdict_names) / sizeof(verdict_names[0]))
			printf("%s\n", verdict_names[retval]);
		else
			printf("%u\n", retval);
	}
	if (ferror(stdin)) {
		fprintf(stderr, "xdp_verdict: reading stdin: %s\n", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fflush(stdout) && !rc) {
		fprintf(stderr, "xdp_verdict: writing stdout: %s\n", strerror(errno));
		rc = 1;
	}
	free(line);
	close(fd);
	return rc;
}
