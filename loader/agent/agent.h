/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sfcctl agent: the long-running userspace side of the chains. One thread,
 * one epoll loop. Every interval it lists the chains under the pin root and
 * finds the functions whose type has agent work (struct agent_type); each
 * such function gets a struct agent_fn and its type's callbacks:
 *
 *	start()    the function appeared, or its config changed (the old
 *	           instance was stopped first)
 *	tick()     periodic work: every interval, and when fn->wake_ns is due
 *	metrics()  its samples for a /metrics page
 *	stop()     the function is gone, or the agent exits
 *
 * A type that needs to react to a file descriptor (a ring buffer, a socket)
 * registers it with agent_watch(). The flow monitor exports flows this way;
 * the load balancer's health checks are meant to plug in the same way: a new
 * struct agent_type in agent_types[] (agent.c), nothing else changes.
 */
#ifndef SFC_AGENT_H
#define SFC_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <sys/socket.h>

#include "sfc/sfc.h"
#include "sfc_yaml.h"

struct agent;
struct agent_fn;
struct metrics;

struct agent_type {
	const char *name;	/* the chain file's `type:` */
	/*
	 * config: the function's config as the spec pin holds it (canonical
	 * JSON, read through libyaml); valid only during the call. Sets
	 * fn->priv. An error is logged by the agent and retried at the next
	 * discovery.
	 */
	int (*start)(struct agent *a, struct agent_fn *fn, const struct sfc_ynode *config);
	void (*tick)(struct agent *a, struct agent_fn *fn, uint64_t now_ns);
	/* Optional: add the function's samples (labels chain, function). */
	void (*metrics)(struct agent *a, struct agent_fn *fn, struct metrics *m);
	/* Optional: the listen address of a metrics page for this function's
	 * chain, "ADDR:PORT", or NULL. */
	const char *(*metrics_listen)(const struct agent_fn *fn);
	/* Optional, for --once: one line of what was done, or nothing. */
	void (*summary)(struct agent_fn *fn, char *buf, size_t len, bool *failed);
	void (*stop)(struct agent *a, struct agent_fn *fn);
};

struct agent_fn {
	char chain[SFC_NAME_MAX + 1];
	char name[SFC_NAME_MAX + 1];
	const struct agent_type *type;
	const char *pin_root;
	char chain_dir[PATH_MAX / 2];	/* <pin root>/<chain> */
	char nf_dir[PATH_MAX / 2 + 64];	/* <pin root>/<chain>/nf/<function> */
	char *config_text;		/* to see whether the config changed */
	bool started;
	bool stale;			/* set by the type: restart it (new maps) */
	bool start_failed;
	uint64_t wake_ns;		/* CLOCK_MONOTONIC: tick then too (0: no) */
	void *priv;			/* the type's state */
	struct agent_fn *next;
};

struct agent_opts {
	const char *pin_root;
	uint64_t interval_ns;
	const char *metrics_listen;	/* --metrics, or NULL */
	bool once;
	bool json;			/* --once summary as JSON */
};

/*
 * 0: a clean exit (SIGTERM/SIGINT, or --once done). -EBUSY: another agent
 * runs on the pin root; -ENOTSUP: the pin root is not on the host's bpffs;
 * -EIO: --once, and an export failed; else -errno.
 */
int agent_run(const struct agent_opts *opts);

/* ---- services for the types ---- */

typedef void (*agent_fd_cb)(struct agent *a, void *ctx, uint32_t events);

/* Call cb when fd has events (EPOLLIN...). */
int agent_watch(struct agent *a, int fd, uint32_t events, agent_fd_cb cb, void *ctx);
int agent_watch_mod(struct agent *a, int fd, uint32_t events);
void agent_unwatch(struct agent *a, int fd);
/* Tick fn again at at_ns (CLOCK_MONOTONIC), earlier than the interval. */
void agent_wake(struct agent_fn *fn, uint64_t at_ns);
bool agent_once(const struct agent *a);
uint64_t agent_interval_ns(const struct agent *a);

uint64_t agent_now_ns(void);		/* CLOCK_MONOTONIC */
/* CLOCK_MONOTONIC ns to CLOCK_REALTIME ms, with the offset of now. */
uint64_t agent_mono_to_real_ms(uint64_t mono_ns);

/*
 * "ADDR:PORT", "[V6ADDR]:PORT"; numeric: the address must be a literal (a
 * listen address is bound exactly where it says), else a host name is
 * resolved (a collector). 0 or -EINVAL/-errno.
 */
int agent_parse_addr(const char *s, bool numeric, int socktype, struct sockaddr_storage *ss,
		     socklen_t *len);

/* "HOST:PORT" or "[V6]:PORT", checked for syntax only. */
bool agent_addr_valid(const char *s);

/* Config helpers: a u64 member of map (def when absent), a string member. */
uint64_t agent_cfg_u64(const struct sfc_ynode *map, const char *key, uint64_t def);
/* Copies into buf; false (buf "") when absent or not a scalar. */
bool agent_cfg_str(const struct sfc_ynode *map, const char *key, char *buf, size_t len);

#endif
