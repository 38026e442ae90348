/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prometheus metrics: a page builder that keeps each family together (the
 * text exposition format wants one # HELP / # TYPE block per family, with
 * all its samples under it, whatever order the sources add them in), and a
 * small non-blocking HTTP/1.1 server that runs in the agent's epoll loop.
 */
#ifndef SFC_AGENT_METRICS_H
#define SFC_AGENT_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct agent;
struct metrics;
struct metrics_server;

enum metric_type {
	METRIC_COUNTER,		/* the family name ends in _total */
	METRIC_GAUGE,
};

struct metrics *metrics__new(void);
void metrics__free(struct metrics *m);
/*
 * One sample. labels: NULL-terminated name, value, name, value, ... (values
 * are escaped here). help and type are taken from the first sample of the
 * family. Out of memory is remembered and reported by metrics__render().
 */
void metrics__u64(struct metrics *m, const char *family, enum metric_type type,
		  const char *help, const char *const *labels, uint64_t v);
void metrics__f64(struct metrics *m, const char *family, enum metric_type type,
		  const char *help, const char *const *labels, double v);
/* The page (malloc'd, *len bytes), NULL without memory. */
char *metrics__render(struct metrics *m, size_t *len);

/* Fill m for a request; 0 or -errno (the server answers 500). */
typedef int (*metrics_page_fn)(void *ctx, struct metrics *m);

/*
 * Listen on "ADDR:PORT" (a literal address: bound exactly there) and answer
 * GET /metrics with the page of fn. NULL and errno on failure.
 */
struct metrics_server *metrics_server__new(struct agent *a, const char *listen,
					   metrics_page_fn fn, void *ctx);
/* Close connections that have been open too long. */
void metrics_server__tick(struct metrics_server *s, uint64_t now_ns);
const char *metrics_server__listen(const struct metrics_server *s);
uint64_t metrics_server__requests(const struct metrics_server *s);
void metrics_server__free(struct metrics_server *s);

#endif
