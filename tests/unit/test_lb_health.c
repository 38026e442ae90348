// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's load balancer health checks without sockets or maps
 * (loader/agent/lb_health.c):
 *  - the rise/fall state machine against a table of result sequences, and
 *    against a reference written another way (the state is that of the last
 *    window of `rise` successes or `fall` failures in the history, a state
 *    read back from the map standing for such a window) over random
 *    sequences;
 *  - the HTTP status line parser against a table, and fed byte by byte: it
 *    asks for more until it can tell, and never changes its mind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lb_health.h"
#include "testlib.h"

#define U SFC_LB_HEALTH_UP
#define D SFC_LB_HEALTH_DOWN
#define K SFC_LB_HEALTH_UNKNOWN

static char state_chr(uint8_t s)
{
	return s == U ? 'U' : s == D ? 'D' : '?';
}

struct seq_case {
	const char *desc;
	uint32_t rise, fall;
	uint8_t start;		/* the state read back from the map */
	const char *results;	/* + success, - failure */
	const char *states;	/* after each result: U, D or ? */
	const char *changes;	/* after each result: 1 when the state changed */
};

static const struct seq_case seqs[] = {
	{ "unknown: up after rise successes", 2, 3, K, "++++", "?UUU", "0100" },
	{ "unknown: down after fall failures", 2, 3, K, "---+", "??DD", "0010" },
	{ "unknown: a success breaks the failures", 2, 3, K, "--+---", "?????D", "000001" },
	{ "unknown: a failure breaks the successes", 3, 2, K, "++-+++", "?????U", "000001" },
	{ "up: fall failures in a row to go down", 2, 3, U, "--+---", "UUUUUD", "000001" },
	{ "down: rise successes in a row to come back", 2, 3, D, "+-+-++", "DDDDDU", "000001" },
	{ "flapping every other probe stays put", 2, 2, U, "-+-+-+-+", "UUUUUUUU", "00000000" },
	{ "rise 1, fall 1: every change counts", 1, 1, K, "+--++-", "UDDUUD", "110101" },
	{ "up and down and up", 2, 2, K, "++--++", "?UUDDU", "010101" },
	{ "long runs change once", 1, 3, U, "------++++", "UUDDDDUUUU", "0010001000" },
};

static void test_table(void)
{
	unsigned int i, k;

	for (i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
		const struct seq_case *c = &seqs[i];
		char got_s[32] = "", got_c[32] = "";
		struct lb_hc_run r;

		lb_hc_run__init(&r, c->start, c->rise, c->fall);
		CHECK(r.state == c->start, "%s: init state %u", c->desc, r.state);
		for (k = 0; c->results[k]; k++) {
			bool ch = lb_hc_run__step(&r, c->results[k] == '+', c->rise, c->fall);

			got_s[k] = state_chr(r.state);
			got_c[k] = ch ? '1' : '0';
		}
		CHECK(!strcmp(got_s, c->states), "%s: states %s, want %s", c->desc, got_s,
		      c->states);
		CHECK(!strcmp(got_c, c->changes), "%s: changes %s, want %s", c->desc, got_c,
		      c->changes);
	}
}

/* An unknown state in the map (a value the agent never writes) starts as UNKNOWN. */
static void test_init(void)
{
	struct lb_hc_run r;

	lb_hc_run__init(&r, 7, 2, 3);
	CHECK(r.state == K && !r.ok_run && !r.fail_run, "state 7 gives %u", r.state);
	lb_hc_run__init(&r, U, 2, 3);
	CHECK(r.ok_run == 2 && !r.fail_run, "up: runs %u/%u", r.ok_run, r.fail_run);
	lb_hc_run__init(&r, D, 2, 3);
	CHECK(!r.ok_run && r.fail_run == 3, "down: runs %u/%u", r.ok_run, r.fail_run);
	CHECK(lb_hc_state_up(K) && lb_hc_state_up(U) && !lb_hc_state_up(D), "up-ness");
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/*
 * The reference: prefix the history with the window the start state stands
 * for, then the state after result i is that of the last window (ending at
 * or before i) of rise successes or fall failures, or the start state.
 */
static uint8_t reference(const bool *hist, int n, uint32_t rise, uint32_t fall)
{
	int end, k;

	for (end = n - 1; end >= 0; end--) {
		bool all = true;
		uint32_t w = hist[end] ? rise : fall;

		if ((int)w > end + 1)
			continue;
		for (k = end - (int)w + 1; k <= end && all; k++)
			all = hist[k] == hist[end];
		if (all)
			return hist[end] ? U : D;
	}
	return K;
}

static void test_random(void)
{
	enum { ROUNDS = 3000, LEN = 40, PRE = 8 };
	bool hist[PRE + LEN];
	unsigned int round;
	int bad = 0;

	for (round = 0; round < ROUNDS && bad < 5; round++) {
		uint32_t rise = 1 + rnd() % 5, fall = 1 + rnd() % 5, k;
		uint8_t start = (uint8_t[]){ K, U, D }[rnd() % 3], prev, want;
		int n = 0, i;
		struct lb_hc_run r;

		/* the window the map's state stands for */
		if (start != K)
			for (k = 0; k < (start == U ? rise : fall); k++)
				hist[n++] = start == U;
		lb_hc_run__init(&r, start, rise, fall);
		prev = start;
		for (i = 0; i < LEN; i++) {
			/* runs, so that thresholds are met often */
			bool ok = i && rnd() % 4 ? hist[n - 1] : rnd() % 2;
			bool ch;

			hist[n++] = ok;
			ch = lb_hc_run__step(&r, ok, rise, fall);
			want = reference(hist, n, rise, fall);
			if (r.state != want || ch != (want != prev)) {
				bad++;
				CHECK(0, "round %u (rise %u fall %u start %c) step %d: state %c changed "
				      "%d, want %c changed %d", round, rise, fall, state_chr(start), i,
				      state_chr(r.state), ch, state_chr(want), want != prev);
				break;
			}
			prev = r.state;
		}
	}
	CHECK(bad == 0, "%d random sequences disagree with the reference", bad);
}

struct http_case {
	const char *text;
	int want;		/* 1, 0 or -EAGAIN */
	int status;
};

static const struct http_case https[] = {
	{ "HTTP/1.0 200 OK\r\n", 1, 200 },
	{ "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", 1, 204 },
	{ "HTTP/1.1 301 Moved Permanently\r\n", 1, 301 },
	{ "HTTP/1.0 399 X", 1, 399 },
	{ "HTTP/1.0 200\r\n", 1, 200 },
	{ "HTTP/1.0 302\n", 1, 302 },
	{ "HTTP/1.0 200\r", 1, 200 },
	{ "HTTP/1.1 404 Not Found\r\n", 0, 404 },
	{ "HTTP/1.1 500 Internal Server Error\r\n", 0, 500 },
	{ "HTTP/1.1 503 Service Unavailable\r\n", 0, 503 },
	{ "HTTP/1.1 199 Early\r\n", 0, 199 },
	{ "HTTP/1.1 400 ", 0, 400 },
	{ "HTTP/1.1 2000 OK\r\n", 0, 0 },
	{ "HTTP/1.1 20 OK\r\n", 0, 0 },
	{ "HTTP/1.1 2x0 OK\r\n", 0, 0 },
	{ "HTTP/11 200 OK\r\n", 0, 0 },
	{ "http/1.1 200 OK\r\n", 0, 0 },
	{ "SSH-2.0-OpenSSH_9.2\r\n", 0, 0 },
	{ "\r\n", 0, 0 },
	{ "HTTP/1.1  200 OK\r\n", 0, 0 },
	{ "", -EAGAIN, 0 },
	{ "HTT", -EAGAIN, 0 },
	{ "HTTP/1.1 2", -EAGAIN, 0 },
	{ "HTTP/1.1 200", -EAGAIN, 0 },
	{ "HTX", 0, 0 },
};

static void test_http(void)
{
	unsigned int i;
	size_t k;

	for (i = 0; i < sizeof(https) / sizeof(https[0]); i++) {
		const struct http_case *c = &https[i];
		int st = -1, r = lb_http_status(c->text, strlen(c->text), &st);

		CHECK(r == c->want && st == c->status, "\"%s\": %d status %d, want %d status %d",
		      c->text, r, st, c->want, c->status);
	}
	/* byte by byte: -EAGAIN until it can tell, then the same answer */
	for (i = 0; i < sizeof(https) / sizeof(https[0]); i++) {
		const struct http_case *c = &https[i];
		size_t len = strlen(c->text);
		int first = -EAGAIN, st, r;

		if (c->want == -EAGAIN)
			continue;
		for (k = 0; k <= len; k++) {
			r = lb_http_status(c->text, k, &st);
			if (first == -EAGAIN) {
				first = r;
				continue;
			}
			if (r != first)
				break;
		}
		CHECK(k > len && first == c->want, "\"%s\" fed byte by byte: %d at %zu, want %d",
		      c->text, first, k, c->want);
	}
}

int main(void)
{
	test_table();
	test_init();
	test_random();
	test_http();
	TEST_DONE();
}
