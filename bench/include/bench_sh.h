/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A shell command for the benchmarks' set-up (ip netns, ip link): formatted,
 * run with system(), and reported on stderr with the program's tag when it
 * fails. Set bench_tag first thing in main().
 */
#ifndef SFC_BENCH_SH_H
#define SFC_BENCH_SH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *bench_tag = "bench";

static inline int bench_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int bench_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(cmd)) {
		fprintf(stderr, "%s: command too long: %.80s...\n", bench_tag, cmd);
		return -1;
	}
	if (system(cmd)) {
		fprintf(stderr, "%s: failed: %s\n", bench_tag, cmd);
		return -1;
	}
	return 0;
}

#endif
