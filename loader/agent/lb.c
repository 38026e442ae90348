// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's part of a loadbalancer function: health checks of its
 * backends, and its metrics. The maps are the ABI of
 * bpf/include/shared/sfc_lb.h; the Maglev tables are built by libsfc's
 * lb_maglev__write(), so a table rewritten here is the one an apply would
 * write for the same health.
 *
 * One probe per distinct backend (address and port: its id in sfc_lb_ids),
 * with the health check of the first service that lists it and has one.
 * Every interval a non-blocking TCP connect to the backend's address and the
 * check's port (default: the backend's), made from the chain's network
 * namespace so that it routes as the load balancer's node does; for http,
 * then `GET path HTTP/1.0`, and a 2xx or 3xx status line. The sockets are in
 * the agent's epoll loop (agent_watch), the timers are agent_wake() calls:
 * nothing blocks. The first probes are spread over the first interval.
 *
 * A backend goes DOWN after `fall` consecutive failures and UP after `rise`
 * consecutive successes (UNKNOWN, never checked, counts as up). Each change
 * is written to sfc_lb_health (the function's map: state, transitions,
 * changed_ms; checks and failures after every probe), and when the backend's
 * up-ness changed, the Maglev table of every service that lists it is
 * rebuilt in the live generation's sfc_lb_maglev, and that service's
 * n_backends in sfc_lb_services updated.
 *
 * A restart (agent restart, config change, new generation) starts the
 * rise/fall runs from the state in the map, so a backend does not flap. A
 * backend no service checks any more is set back to UNKNOWN (up), else
 * nothing would ever bring a down one back. The live tables are checked at
 * start against the health map (an apply that raced with a change here) and
 * rebuilt where they disagree.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "internal.h"
#include "lb.h"
#include "lb_health.h"
#include "metrics.h"

#define RX_MAX	256	/* the status line is all an http check reads */

struct lb_agent;

/* A distinct backend of the config; probed when hc is set. */
struct lb_bk {
	struct lb_agent *lb;
	const struct lb_backend *b;	/* its first listing in the config */
	uint32_t id;
	const struct lb_health_check *hc;	/* NULL: no service checks it */
	uint16_t probe_port;
	char name[64];			/* "10.0.2.11:80" */
	unsigned int n_svc;
	unsigned int *svc;		/* indexes of the services listing it */

	struct lb_hc_run run;
	struct sfc_lb_health h;		/* what the map holds */
	uint64_t next_ns;		/* next probe (UINT64_MAX: none, --once) */
	uint64_t deadline_ns;
	int fd;				/* -1: no probe in flight */
	bool connected;
	size_t sent, got;
	char req[512];
	size_t req_len;
	char rx[RX_MAX];
	char why[128];			/* the last failure */
};

struct lb_agent {
	struct agent *a;
	struct agent_fn *fn;
	struct lb_config *cfg;
	char netns[64];
	uint32_t generation;
	uint32_t health_map_id;
	char gen_dir[PATH_MAX];
	int ids_fd, health_fd, maglev_fd, svc_fd;
	struct lb_bk *bks;
	unsigned int n_bks;
	unsigned int n_probed;		/* backends with a health check */
	bool netns_warned, map_warned;

	/* since this instance started, for --once */
	uint64_t run_checks, run_failures, run_changes, run_map_errors;
	char first_failure[256];
};

/* ---- maps ---------------------------------------------------------------- */

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

static void map_error(struct lb_agent *lb, const char *what, int err)
{
	lb->run_map_errors++;
	sfc_log(lb->map_warned ? SFC_LOG_DEBUG : SFC_LOG_WARN, "%s/%s: cannot %s: %s",
		lb->fn->chain, lb->fn->name, what, strerror(-err));
	lb->map_warned = true;
}

static void health_write(struct lb_bk *bk)
{
	struct lb_agent *lb = bk->lb;

	if (bpf_map_update_elem(lb->health_fd, &bk->id, &bk->h, BPF_ANY))
		map_error(lb, "write sfc_lb_health", -errno);
}

static void svc_key(const struct lb_service *s, struct sfc_lb_svc_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->vip, s->vip, 16);
	k->port = htons(s->port);
	k->proto = s->proto;
	k->family = s->family;
}

/* Rebuild service si's table in the live generation from the health map. */
static int rebuild(struct lb_agent *lb, unsigned int si)
{
	const struct lb_service *s = &lb->cfg->services[si];
	struct sfc_lb_svc_key key;
	struct sfc_lb_svc val;
	char name[80];
	int n;

	svc_key(s, &key);
	if (bpf_map_lookup_elem(lb->svc_fd, &key, &val)) {
		n = -errno;
		map_error(lb, "find a service in sfc_lb_services", n);
		return n;
	}
	n = lb_maglev__write(lb->maglev_fd, lb->health_fd, lb->ids_fd, s, val.table_off,
			     lb->cfg->table_size);
	if (n < 0) {
		map_error(lb, "rewrite a Maglev table", n);
		return n;
	}
	if (val.n_backends != (uint32_t)n) {
		val.n_backends = (uint32_t)n;
		if (bpf_map_update_elem(lb->svc_fd, &key, &val, BPF_EXIST)) {
			n = -errno;
			map_error(lb, "update sfc_lb_services", n);
			return n;
		}
	}
	lb_addr_port__str(s->family, s->vip, s->port, name, sizeof(name));
	sfc_log(SFC_LOG_DEBUG, "%s/%s: service %s/%s: %d backends in its table", lb->fn->chain,
		lb->fn->name, name, s->proto == IPPROTO_TCP ? "tcp" : "udp", n);
	return 0;
}

static void rebuild_for(struct lb_bk *bk)
{
	unsigned int i;

	for (i = 0; i < bk->n_svc; i++)
		rebuild(bk->lb, bk->svc[i]);
}

/* ---- the state ----------------------------------------------------------- */

static uint64_t now_real_ms(void)
{
	return agent_mono_to_real_ms(agent_now_ns());
}

/* Record one result; on a change, the map, the tables and the log. */
static void record(struct lb_bk *bk, bool ok)
{
	struct lb_agent *lb = bk->lb;
	uint8_t old = bk->run.state;
	bool changed, flipped;

	bk->h.checks++;
	lb->run_checks++;
	if (!ok) {
		bk->h.failures++;
		lb->run_failures++;
		if (!lb->first_failure[0])
			snprintf(lb->first_failure, sizeof(lb->first_failure), "%s: %s", bk->name,
				 bk->why);
		sfc_log(SFC_LOG_DEBUG, "%s/%s: check of backend %s failed: %s", lb->fn->chain,
			lb->fn->name, bk->name, bk->why);
	}
	changed = lb_hc_run__step(&bk->run, ok, bk->hc->rise, bk->hc->fall);
	if (!changed) {
		health_write(bk);
		return;
	}
	flipped = lb_hc_state_up(old) != lb_hc_state_up(bk->run.state);
	bk->h.state = bk->run.state;
	bk->h.changed_ms = now_real_ms();
	if (flipped)
		bk->h.transitions++;
	lb->run_changes++;
	health_write(bk);
	if (flipped)
		rebuild_for(bk);
	if (bk->run.state == SFC_LB_HEALTH_DOWN)
		sfc_log(SFC_LOG_INFO, "%s/%s: backend %s down after %u failed checks (%s)",
			lb->fn->chain, lb->fn->name, bk->name, bk->run.fail_run, bk->why);
	else
		sfc_log(SFC_LOG_INFO, "%s/%s: backend %s up after %u passed checks",
			lb->fn->chain, lb->fn->name, bk->name, bk->run.ok_run);
}

/* ---- probes -------------------------------------------------------------- */

static void probe_close(struct lb_bk *bk)
{
	/* A reset, not a FIN: no TIME_WAIT piles up in the chain's netns. */
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (bk->fd < 0)
		return;
	agent_unwatch(bk->lb->a, bk->fd);
	setsockopt(bk->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(bk->fd);
	bk->fd = -1;
}

static void probe_done(struct lb_bk *bk, bool ok)
{
	probe_close(bk);
	if (bk->lb->fn->stale)
		return;		/* the maps may be another generation's now */
	record(bk, ok);
}

static void probe_fail(struct lb_bk *bk, const char *fmt, const char *arg)
{
	snprintf(bk->why, sizeof(bk->why), fmt, arg);
	probe_done(bk, false);
}

static void probe_read(struct lb_bk *bk)
{
	char what[32];
	ssize_t n;
	int st, r;

	for (;;) {
		n = recv(bk->fd, bk->rx + bk->got, sizeof(bk->rx) - bk->got, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			probe_fail(bk, "http: %s", strerror(errno));
			return;
		}
		bk->got += (size_t)n;
		r = bk->got ? lb_http_status(bk->rx, bk->got, &st) : -EAGAIN;
		if (r == 1) {
			probe_done(bk, true);
			return;
		}
		if (r == 0) {
			if (st) {
				snprintf(what, sizeof(what), "%d", st);
				probe_fail(bk, "http: status %s", what);
			} else {
				probe_fail(bk, "http: %s", "not an HTTP/1.x status line");
			}
			return;
		}
		if (n == 0 || bk->got == sizeof(bk->rx)) {
			probe_fail(bk, "http: %s", n == 0 ? "closed before a whole status line" :
				   "no status line in the first bytes");
			return;
		}
	}
}

static void probe_write(struct lb_bk *bk)
{
	ssize_t n;

	while (bk->sent < bk->req_len) {
		n = send(bk->fd, bk->req + bk->sent, bk->req_len - bk->sent, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			probe_fail(bk, "http: %s", strerror(errno));
			return;
		}
		bk->sent += (size_t)n;
	}
	agent_watch_mod(bk->lb->a, bk->fd, EPOLLIN | EPOLLRDHUP);
}

static void on_probe(struct agent *a, void *ctx, uint32_t events)
{
	struct lb_bk *bk = ctx;
	socklen_t len = sizeof(int);
	int err = 0;

	if (bk->fd < 0)
		return;
	if (!bk->connected) {
		if (getsockopt(bk->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (err) {
			probe_fail(bk, "connect: %s", strerror(err));
			return;
		}
		bk->connected = true;
		if (bk->hc->type == LB_HC_TCP) {
			probe_done(bk, true);
			return;
		}
	}
	if (bk->sent < bk->req_len) {
		probe_write(bk);
		return;
	}
	probe_read(bk);
}

/* Connect fd (made in the chain's netns) to the backend, and watch it. */
static void probe_start(struct lb_bk *bk, int fd, uint64_t now)
{
	struct sockaddr_storage ss = {};
	socklen_t sl;
	int err;

	bk->fd = fd;
	bk->connected = false;
	bk->sent = bk->got = 0;
	bk->deadline_ns = now + bk->hc->timeout_ns;
	if (bk->b->family == SFC_FAMILY_IPV4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(bk->probe_port);
		memcpy(&in->sin_addr, bk->b->addr, 4);
		sl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(bk->probe_port);
		memcpy(&in6->sin6_addr, bk->b->addr, 16);
		sl = sizeof(*in6);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		err = errno;
		close(fd);
		bk->fd = -1;
		probe_fail(bk, "connect: %s", strerror(err));
		return;
	}
	err = agent_watch(bk->lb->a, fd, EPOLLOUT, on_probe, bk);
	if (err) {
		close(fd);
		bk->fd = -1;
		map_error(bk->lb, "watch a probe socket", err);
		return;
	}
}

/* The request of an http check: Host is the address, and the port when not 80. */
static void build_request(struct lb_bk *bk)
{
	char ip[INET6_ADDRSTRLEN], host[80];

	inet_ntop(bk->b->family == SFC_FAMILY_IPV4 ? AF_INET : AF_INET6, bk->b->addr, ip,
		  sizeof(ip));
	if (bk->probe_port == 80)
		snprintf(host, sizeof(host), bk->b->family == SFC_FAMILY_IPV4 ? "%s" : "[%s]", ip);
	else
		lb_addr_port__str(bk->b->family, bk->b->addr, bk->probe_port, host, sizeof(host));
	bk->req_len = (size_t)snprintf(bk->req, sizeof(bk->req),
				       "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: sfc-agent\r\n\r\n",
				       bk->hc->path, host);
	if (bk->req_len >= sizeof(bk->req))
		bk->req_len = sizeof(bk->req) - 1;
}

static int new_socket(uint8_t family)
{
	int fd = socket(family == SFC_FAMILY_IPV4 ? AF_INET : AF_INET6,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/*
 * Start the probes that are due. Their sockets are made in the chain's
 * netns, all in one visit; a socket that cannot be made is the agent's
 * problem, not the backend's: that round is skipped and said once.
 */
static void start_due(struct lb_agent *lb, uint64_t now)
{
	unsigned int i, n_due = 0;
	int saved = -1, err, *fds;

	for (i = 0; i < lb->n_bks; i++)
		if (lb->bks[i].hc && lb->bks[i].fd < 0 && lb->bks[i].next_ns <= now)
			n_due++;
	if (!n_due)
		return;
	fds = calloc(lb->n_bks, sizeof(*fds));
	if (!fds)
		return;
	err = sfc_netns_enter(lb->netns, &saved);
	for (i = 0; i < lb->n_bks; i++) {
		struct lb_bk *bk = &lb->bks[i];

		fds[i] = -1;
		if (!bk->hc || bk->fd >= 0 || bk->next_ns > now)
			continue;
		fds[i] = err ? err : new_socket(bk->b->family);
	}
	sfc_netns_leave(saved);
	for (i = 0; i < lb->n_bks; i++) {
		struct lb_bk *bk = &lb->bks[i];

		if (!bk->hc || bk->fd >= 0 || bk->next_ns > now)
			continue;
		bk->next_ns = agent_once(lb->a) ? UINT64_MAX : now + bk->hc->interval_ns;
		if (fds[i] < 0) {
			sfc_log(lb->netns_warned ? SFC_LOG_DEBUG : SFC_LOG_WARN,
				"%s/%s: cannot make a probe socket%s%s: %s", lb->fn->chain,
				lb->fn->name, lb->netns[0] ? " in netns " : "", lb->netns,
				strerror(-fds[i]));
			lb->netns_warned = true;
			continue;
		}
		probe_start(bk, fds[i], now);
	}
	free(fds);
}

/* ---- start and stop ------------------------------------------------------ */

static void lb_free(struct lb_agent *lb)
{
	unsigned int i;

	if (!lb)
		return;
	for (i = 0; i < lb->n_bks; i++) {
		probe_close(&lb->bks[i]);
		free(lb->bks[i].svc);
	}
	free(lb->bks);
	if (lb->ids_fd >= 0)
		close(lb->ids_fd);
	if (lb->health_fd >= 0)
		close(lb->health_fd);
	if (lb->maglev_fd >= 0)
		close(lb->maglev_fd);
	if (lb->svc_fd >= 0)
		close(lb->svc_fd);
	lb_config__free(lb->cfg);
	free(lb);
}

/* The distinct backends, each with the services listing it and its check. */
static int collect_backends(struct lb_agent *lb)
{
	const struct lb_config *c = lb->cfg;
	struct sfc_lb_id_key k;
	unsigned int si, bi, i, total = 0;
	uint32_t id;
	int *by_id = NULL, err = 0;

	for (si = 0; si < c->n_services; si++)
		total += c->services[si].n_backends;
	lb->bks = calloc(total ? total : 1, sizeof(*lb->bks));
	by_id = malloc(SFC_LB_MAX_BACKENDS * sizeof(*by_id));
	if (!lb->bks || !by_id) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < SFC_LB_MAX_BACKENDS; i++)
		by_id[i] = -1;
	for (si = 0; si < c->n_services; si++) {
		const struct lb_service *s = &c->services[si];

		for (bi = 0; bi < s->n_backends; bi++) {
			const struct lb_backend *b = &s->backends[bi];
			struct lb_bk *bk;
			unsigned int *v;

			lb_backend__id_key(b, &k);
			if (bpf_map_lookup_elem(lb->ids_fd, &k, &id)) {
				err = -errno;	/* an apply in progress: retried */
				goto out;
			}
			if (id >= SFC_LB_MAX_BACKENDS) {
				err = -ERANGE;
				goto out;
			}
			if (by_id[id] < 0) {
				by_id[id] = (int)lb->n_bks;
				bk = &lb->bks[lb->n_bks++];
				bk->lb = lb;
				bk->b = b;
				bk->id = id;
				bk->fd = -1;
				lb_addr_port__str(b->family, b->addr, b->port, bk->name,
						  sizeof(bk->name));
			}
			bk = &lb->bks[by_id[id]];
			if (!bk->hc && s->hc.type != LB_HC_NONE) {
				bk->hc = &s->hc;
				bk->probe_port = s->hc.port ? s->hc.port : b->port;
			}
			v = realloc(bk->svc, (bk->n_svc + 1) * sizeof(*v));
			if (!v) {
				err = -ENOMEM;
				goto out;
			}
			bk->svc = v;
			bk->svc[bk->n_svc++] = si;
		}
	}
out:
	free(by_id);
	return err;
}

/* Backends in service si's table for the health in the map now, as
 * lb_maglev__build() counts them. */
static uint32_t expected_in_table(struct lb_agent *lb, unsigned int si)
{
	const struct lb_service *s = &lb->cfg->services[si];
	struct sfc_lb_id_key k;
	struct sfc_lb_health h;
	uint32_t n = 0, id;
	unsigned int i;

	for (i = 0; i < s->n_backends; i++) {
		const struct lb_backend *b = &s->backends[i];

		if (!b->weight || b->drain)
			continue;
		lb_backend__id_key(b, &k);
		if (!bpf_map_lookup_elem(lb->ids_fd, &k, &id) &&
		    !bpf_map_lookup_elem(lb->health_fd, &id, &h) && !lb_hc_state_up(h.state))
			continue;
		n++;
	}
	return n;
}

/*
 * Read the health back; backends no longer checked go back to UNKNOWN; the
 * live tables that disagree with the health map are rebuilt.
 */
static void reconcile(struct lb_agent *lb, uint64_t now)
{
	struct sfc_lb_svc_key key;
	struct sfc_lb_svc val;
	unsigned int i, k, n_probe = 0;

	for (i = 0; i < lb->n_bks; i++) {
		struct lb_bk *bk = &lb->bks[i];

		if (bpf_map_lookup_elem(lb->health_fd, &bk->id, &bk->h))
			memset(&bk->h, 0, sizeof(bk->h));
		if (!bk->hc && bk->h.state != SFC_LB_HEALTH_UNKNOWN) {
			if (!lb_hc_state_up(bk->h.state))
				bk->h.transitions++;
			bk->h.state = SFC_LB_HEALTH_UNKNOWN;
			bk->h.changed_ms = now_real_ms();
			health_write(bk);
			sfc_log(SFC_LOG_INFO, "%s/%s: backend %s has no health check any more: "
				"counted as up", lb->fn->chain, lb->fn->name, bk->name);
		}
		if (!bk->hc)
			continue;
		lb_hc_run__init(&bk->run, bk->h.state, bk->hc->rise, bk->hc->fall);
		bk->h.state = bk->run.state;
		lb->n_probed++;
	}
	/* Spread the first probes over an interval (--once: all now). */
	for (i = 0; i < lb->n_bks; i++) {
		struct lb_bk *bk = &lb->bks[i];

		if (!bk->hc)
			continue;
		if (bk->hc->type == LB_HC_HTTP)
			build_request(bk);
		bk->next_ns = agent_once(lb->a) ? now :
			      now + bk->hc->interval_ns * n_probe / lb->n_probed;
		n_probe++;
	}
	for (k = 0; k < lb->cfg->n_services; k++) {
		svc_key(&lb->cfg->services[k], &key);
		if (bpf_map_lookup_elem(lb->svc_fd, &key, &val))
			continue;
		if (val.n_backends != expected_in_table(lb, k))
			rebuild(lb, k);
	}
}

static int lb_start(struct agent *a, struct agent_fn *fn, const struct sfc_ynode *config)
{
	struct sfc_chain_info info;
	struct lb_agent *lb;
	void *cfg = NULL;
	int err;

	err = sfc_info_read(fn->chain_dir, &info);
	if (err)
		return err;
	err = lb_config__parse(config, &cfg);
	if (err) {
		if (err != -ENOMEM && config->y && config->y->diag && config->y->diag->msg[0])
			sfc_log(fn->start_failed ? SFC_LOG_DEBUG : SFC_LOG_WARN,
				"%s/%s: the spec pin's config does not parse: %s",
				fn->chain, fn->name, config->y->diag->msg);
		return err == -ENOMEM ? err : -EINVAL;
	}
	lb = calloc(1, sizeof(*lb));
	if (!lb) {
		lb_config__free(cfg);
		return -ENOMEM;
	}
	lb->a = a;
	lb->fn = fn;
	lb->cfg = cfg;
	lb->ids_fd = lb->health_fd = lb->maglev_fd = lb->svc_fd = -1;
	lb->generation = info.generation;
	snprintf(lb->netns, sizeof(lb->netns), "%s", info.netns);
	snprintf(lb->gen_dir, sizeof(lb->gen_dir), "%s/gen%u/nf/%s", fn->chain_dir,
		 info.generation, fn->name);
	lb->ids_fd = sfc_pin_get(fn->nf_dir, "sfc_lb_ids");
	lb->health_fd = sfc_pin_get(fn->nf_dir, "sfc_lb_health");
	lb->maglev_fd = sfc_pin_get(lb->gen_dir, "sfc_lb_maglev");
	lb->svc_fd = sfc_pin_get(lb->gen_dir, "sfc_lb_services");
	err = lb->ids_fd < 0 ? lb->ids_fd : lb->health_fd < 0 ? lb->health_fd :
	      lb->maglev_fd < 0 ? lb->maglev_fd : lb->svc_fd < 0 ? lb->svc_fd : 0;
	err = err ?: collect_backends(lb);
	if (err) {
		lb_free(lb);
		return err;
	}
	lb->health_map_id = map_id(lb->health_fd);
	fn->priv = lb;
	reconcile(lb, agent_now_ns());
	if (lb->n_probed)
		sfc_log(SFC_LOG_INFO, "%s/%s: health checks of %u backends%s%s", fn->chain,
			fn->name, lb->n_probed, lb->netns[0] ? " from netns " : "", lb->netns);
	return 0;
}

/* Still the generation and the maps we opened? A re-apply or a delete and
 * apply makes new ones: restart then (discovery sees fn->stale). */
static bool same_maps(struct lb_agent *lb)
{
	struct sfc_chain_info info;
	int fd;
	bool same;

	if (sfc_info_read(lb->fn->chain_dir, &info))
		return true;	/* gone: discovery sees to it */
	if (info.generation != lb->generation)
		return false;
	fd = sfc_pin_get(lb->fn->nf_dir, "sfc_lb_health");
	if (fd < 0)
		return true;
	same = map_id(fd) == lb->health_map_id;
	close(fd);
	return same;
}

static void lb_tick(struct agent *a, struct agent_fn *fn, uint64_t now)
{
	struct lb_agent *lb = fn->priv;
	uint64_t wake = UINT64_MAX;
	unsigned int i;
	char ms[32];

	if (!lb || !lb->n_probed)
		return;
	if (!same_maps(lb)) {
		fn->stale = true;
		return;
	}
	for (i = 0; i < lb->n_bks; i++) {
		struct lb_bk *bk = &lb->bks[i];

		if (bk->hc && bk->fd >= 0 && now >= bk->deadline_ns) {
			snprintf(ms, sizeof(ms), "%llums",
				 (unsigned long long)(bk->hc->timeout_ns / 1000000));
			probe_fail(bk, bk->connected ? "http: no status line within %s" :
				   "connect: no answer within %s", ms);
		}
	}
	start_due(lb, now);
	for (i = 0; i < lb->n_bks; i++) {
		struct lb_bk *bk = &lb->bks[i];

		if (!bk->hc)
			continue;
		if (bk->fd >= 0 && bk->deadline_ns < wake)
			wake = bk->deadline_ns;
		if (bk->next_ns < wake)
			wake = bk->next_ns;
	}
	if (wake != UINT64_MAX)
		agent_wake(fn, wake);
}

static void lb_stop(struct agent *a, struct agent_fn *fn)
{
	lb_free(fn->priv);
	fn->priv = NULL;
}

/* ---- metrics ------------------------------------------------------------- */

static const struct {
	const char *suffix, *help;
	size_t off;
	bool counter;
} traffic[] = {
#define T(x, c, h) { #x, h, offsetof(struct sfc_lb_counters_status, x), c }
	T(packets, true, "Packets from clients sent to"),
	T(bytes, true, "Bytes (frame length) from clients sent to"),
	T(reply_packets, true, "Reply packets rewritten back to the VIP (nat), of"),
	T(reply_bytes, true, "Reply bytes (frame length) rewritten back to the VIP (nat), of"),
	T(new_flows, true, "Flows given a backend by Maglev (new or expired), of"),
	T(active_connections, false, "Live entries of the connection table, of"),
#undef T
};

static void traffic_metrics(struct metrics *m, const char *who, const char *const *labels,
			    const struct sfc_lb_counters_status *c)
{
	char family[64], help[128];
	unsigned int i;

	for (i = 0; i < sizeof(traffic) / sizeof(traffic[0]); i++) {
		snprintf(family, sizeof(family), "sfc_lb_%s_%s%s", who, traffic[i].suffix,
			 traffic[i].counter ? "_total" : "");
		snprintf(help, sizeof(help), "%s the %s.", traffic[i].help, who);
		metrics__u64(m, family, traffic[i].counter ? METRIC_COUNTER : METRIC_GAUGE, help,
			     labels, *(const uint64_t *)((const char *)c + traffic[i].off));
	}
}

static void lb_metrics(struct agent *a, struct agent_fn *fn, struct metrics *m)
{
	const char *const l[] = { "chain", fn->chain, "function", fn->name, NULL };
	struct sfc_lb_status *st;
	unsigned int s, b, k;
	uint8_t *seen;
	char svc[96], bkn[64];

	if (sfc_lb__status(fn->chain, fn->name, fn->pin_root, &st))
		return;
	seen = calloc(SFC_LB_MAX_BACKENDS, 1);
	if (!seen) {
		sfc_lb_status__free(st);
		return;
	}
	for (k = 0; k < SFC_LB_STATS; k++) {
		const char *const lk[] = { "chain", fn->chain, "function", fn->name, "counter",
					   sfc_lb_stat__str(k), NULL };

		metrics__u64(m, "sfc_lb_packets_total", METRIC_COUNTER,
			     "Packets by what the load balancer's data path did with them "
			     "(the counters of sfcctl stats).", lk, st->stats[k]);
	}
	metrics__u64(m, "sfc_lb_connections", METRIC_GAUGE,
		     "Entries in the connection table (forward and reply).", l, st->connections);
	metrics__u64(m, "sfc_lb_connections_max", METRIC_GAUGE, "Size of the connection table.",
		     l, st->max_connections);
	metrics__u64(m, "sfc_lb_evictions_total", METRIC_COUNTER,
		     "Connection entries the table evicted to make room (created - present).", l,
		     st->evictions);
	metrics__u64(m, "sfc_lb_table_size", METRIC_GAUGE,
		     "Entries of each service's Maglev table.", l, st->table_size);
	for (s = 0; s < st->n_services; s++) {
		const struct sfc_lb_service_status *ss = &st->services[s];
		char addr[80];
		const char *const ls[] = { "chain", fn->chain, "function", fn->name, "service", svc,
					   NULL };

		snprintf(svc, sizeof(svc), "%s/%s",
			 lb_addr_port__str(ss->family, ss->vip, ss->port, addr, sizeof(addr)),
			 ss->proto == IPPROTO_TCP ? "tcp" : "udp");
		traffic_metrics(m, "service", ls, &ss->counters);
		metrics__u64(m, "sfc_lb_service_table_backends", METRIC_GAUGE,
			     "Backends with entries in the service's Maglev table.", ls,
			     ss->table_backends);
		for (b = 0; b < ss->n_backends; b++) {
			const struct sfc_lb_backend_status *bs = &ss->backends[b];
			const char *const lsb[] = { "chain", fn->chain, "function", fn->name,
						    "service", svc, "backend", bkn, NULL };
			const char *const lbk[] = { "chain", fn->chain, "function", fn->name,
						    "backend", bkn, NULL };

			lb_addr_port__str(bs->family, bs->addr, bs->port, bkn, sizeof(bkn));
			/* the service's view of the backend */
			metrics__u64(m, "sfc_lb_backend_table_entries", METRIC_GAUGE,
				     "Entries the backend owns in the service's Maglev table.", lsb,
				     bs->table_entries);
			metrics__u64(m, "sfc_lb_backend_weight", METRIC_GAUGE,
				     "The backend's weight in the service.", lsb, bs->weight);
			metrics__u64(m, "sfc_lb_backend_draining", METRIC_GAUGE,
				     "1 when the backend is drained in the service (state: drain).",
				     lsb, bs->drain);
			metrics__u64(m, "sfc_lb_backend_service_connections", METRIC_GAUGE,
				     "Live connections of the service to the backend.", lsb,
				     bs->service_connections);
			/* The backend's own, shared by every service that lists it: once. */
			if (bs->id >= SFC_LB_MAX_BACKENDS || seen[bs->id])
				continue;
			seen[bs->id] = 1;
			traffic_metrics(m, "backend", lbk, &bs->counters);
			metrics__u64(m, "sfc_lb_backend_up", METRIC_GAUGE,
				     "1 when the backend is up or not checked (yet), 0 when its "
				     "health check found it down.", lbk,
				     bs->health != SFC_LB_HEALTH_STATE_DOWN);
			metrics__u64(m, "sfc_lb_backend_health_checks_total", METRIC_COUNTER,
				     "Health checks of the backend.", lbk, bs->health_checks);
			metrics__u64(m, "sfc_lb_backend_health_check_failures_total",
				     METRIC_COUNTER, "Health checks of the backend that failed.",
				     lbk, bs->health_failures);
			metrics__u64(m, "sfc_lb_backend_health_transitions_total", METRIC_COUNTER,
				     "Times the backend went down or came back up.", lbk,
				     bs->health_transitions);
		}
	}
	free(seen);
	sfc_lb_status__free(st);
}

static void lb_summary(struct agent_fn *fn, char *buf, size_t len, bool *failed)
{
	struct lb_agent *lb = fn->priv;
	unsigned int i, up = 0, down = 0, unknown = 0, pending = 0;

	for (i = 0; i < lb->n_bks; i++) {
		const struct lb_bk *bk = &lb->bks[i];

		if (!bk->hc)
			continue;
		pending += bk->fd >= 0;
		if (bk->run.state == SFC_LB_HEALTH_UP)
			up++;
		else if (bk->run.state == SFC_LB_HEALTH_DOWN)
			down++;
		else
			unknown++;
	}
	if (!lb->n_probed) {
		snprintf(buf, len, "no health checks");
	} else {
		snprintf(buf, len, "%llu health checks, %llu failed%s%s%s, %u unanswered; "
			 "backends %u up, %u down, %u unknown; %llu state changes",
			 (unsigned long long)lb->run_checks, (unsigned long long)lb->run_failures,
			 lb->first_failure[0] ? " (" : "", lb->first_failure,
			 lb->first_failure[0] ? ")" : "", pending, up, down, unknown,
			 (unsigned long long)lb->run_changes);
	}
	*failed = lb->run_map_errors > 0;
}

const struct agent_type agent_lb = {
	.name = "loadbalancer",
	.start = lb_start,
	.tick = lb_tick,
	.metrics = lb_metrics,
	.summary = lb_summary,
	.stop = lb_stop,
};
