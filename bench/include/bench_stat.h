/* SPDX-License-Identifier: GPL-2.0 */
/* Samples of the benchmarks: median, min and max of at most BENCH_MAX_ROUNDS. */
#ifndef SFC_BENCH_STAT_H
#define SFC_BENCH_STAT_H

#include <stdlib.h>
#include <string.h>

#define BENCH_MAX_ROUNDS 101

struct stat3 {
	double med, min, max;
};

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* n: 1..BENCH_MAX_ROUNDS samples; v is left as it is. */
static inline struct stat3 stat_of(const double *v, int n)
{
	double s[BENCH_MAX_ROUNDS];
	struct stat3 r;

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), bench_cmp_double);
	r.min = s[0];
	r.max = s[n - 1];
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return r;
}

#endif
