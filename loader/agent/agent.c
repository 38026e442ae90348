// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's loop: discovery of the chains and of the functions with agent
 * work, the types' ticks and file descriptors, the metrics servers, signals.
 * See agent.h for the plug-in interface.
 *
 * Discovery runs every interval. A chain whose info (generation and config
 * hash) has not changed since the last discovery is not read again; a
 * changed one has its spec pin parsed, and each function whose type is in
 * agent_types[] is started, restarted (its config changed) or kept. A
 * function that could not be started (its maps not pinned yet: an apply in
 * progress) is tried again at the next discovery.
 *
 * One agent per pin root: it holds an flock on /run/sfc/agent-<hash of the
 * pin root>.lock (removed at exit), so a second agent (which would consume
 * the same ring buffers and export the same flows) is refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include "agent.h"
#include "internal.h"
#include "json.h"
#include "metrics.h"

extern const struct agent_type agent_flowmon;
extern const struct agent_type agent_firewall;
extern const struct agent_type agent_lb;

/* The function types with agent work. */
static const struct agent_type *const agent_types[] = {
	&agent_flowmon,
	&agent_firewall,
	&agent_lb,
	NULL,
};

/* Where the agents' lock files are: one per pin root. */
#define AGENT_LOCK_DIR	"/run/sfc"
#define ONCE_MAX_NS	(5 * 1000000000ull)	/* --once: waits this long for retries */
#define MAX_EVENTS	32

struct watch {
	int fd;
	agent_fd_cb cb;
	void *ctx;
	bool dead;
	struct watch *next;
};

/* A chain as the last discovery saw it. */
struct agent_chain {
	char name[SFC_NAME_MAX + 1];
	uint32_t generation;
	uint64_t full_hash;
	bool complete;		/* every function started: no need to read again */
	bool seen;
	struct agent_chain *next;
};

/* A metrics listen address and the chains it serves. */
struct agent_server {
	char listen[128];
	bool all;			/* --metrics: every chain */
	char (*chains)[SFC_NAME_MAX + 1];
	unsigned int n_chains;
	bool wanted;
	struct metrics_server *srv;
	struct agent *a;
	bool fail_logged;
	struct agent_server *next;
};

struct agent {
	struct agent_opts opts;
	int epfd;
	int sigfd;
	int lockfd;
	char lock_path[64];
	bool stop;
	struct watch *watches;
	struct agent_fn *fns;
	struct agent_chain *chains;
	struct agent_server *servers;
	uint64_t started_ns;
};

/* ---- time -------------------------------------------------------------- */

uint64_t agent_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t agent_mono_to_real_ms(uint64_t mono_ns)
{
	struct timespec real, mono;
	int64_t off;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	off = ((int64_t)real.tv_sec - mono.tv_sec) * 1000000000ll + (real.tv_nsec - mono.tv_nsec);
	return ((int64_t)mono_ns + off) / 1000000;
}

/* ---- services ---------------------------------------------------------- */

int agent_watch(struct agent *a, int fd, uint32_t events, agent_fd_cb cb, void *ctx)
{
	struct epoll_event ev = { .events = events };
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->ctx = ctx;
	ev.data.ptr = w;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		free(w);
		return -errno;
	}
	w->next = a->watches;
	a->watches = w;
	return 0;
}

static struct watch *find_watch(struct agent *a, int fd)
{
	struct watch *w;

	for (w = a->watches; w; w = w->next)
		if (!w->dead && w->fd == fd)
			return w;
	return NULL;
}

int agent_watch_mod(struct agent *a, int fd, uint32_t events)
{
	struct watch *w = find_watch(a, fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return -ENOENT;
	ev.data.ptr = w;
	return epoll_ctl(a->epfd, EPOLL_CTL_MOD, fd, &ev) ? -errno : 0;
}

/* The struct is freed after the current batch of events (it may be in it). */
void agent_unwatch(struct agent *a, int fd)
{
	struct watch *w = find_watch(a, fd);

	if (!w)
		return;
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, fd, NULL);
	w->dead = true;
}

static void reap_watches(struct agent *a)
{
	struct watch **pp = &a->watches, *w;

	while ((w = *pp)) {
		if (w->dead) {
			*pp = w->next;
			free(w);
		} else {
			pp = &w->next;
		}
	}
}

void agent_wake(struct agent_fn *fn, uint64_t at_ns)
{
	if (!fn->wake_ns || at_ns < fn->wake_ns)
		fn->wake_ns = at_ns;
}

bool agent_once(const struct agent *a)
{
	return a->opts.once;
}

uint64_t agent_interval_ns(const struct agent *a)
{
	return a->opts.interval_ns;
}

/* ---- addresses and config ---------------------------------------------- */

/* "host:port" / "[v6]:port" into host and port; -EINVAL on bad syntax. */
static int split_addr(const char *s, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon, *end;
	char *tail;
	unsigned long p;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		if ((size_t)(end - s - 1) >= hlen)
			return -EINVAL;
		memcpy(host, s + 1, end - s - 1);
		host[end - s - 1] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', colon - s) || (size_t)(colon - s) >= hlen)
			return -EINVAL;
		memcpy(host, s, colon - s);
		host[colon - s] = '\0';
	}
	if (!host[0])
		return -EINVAL;
	errno = 0;
	p = strtoul(colon + 1, &tail, 10);
	if (errno || *tail || !colon[1] || p == 0 || p > 65535)
		return -EINVAL;
	snprintf(port, plen, "%lu", p);
	return 0;
}

bool agent_addr_valid(const char *s)
{
	char host[256], port[8];

	return !split_addr(s, host, sizeof(host), port, sizeof(port));
}

int agent_parse_addr(const char *s, bool numeric, int socktype, struct sockaddr_storage *ss,
		     socklen_t *len)
{
	struct addrinfo hints = { .ai_socktype = socktype, .ai_flags = AI_NUMERICSERV }, *res;
	char host[256], port[8];
	int err;

	err = split_addr(s, host, sizeof(host), port, sizeof(port));
	if (err)
		return err;
	if (numeric)
		hints.ai_flags |= AI_NUMERICHOST;
	err = getaddrinfo(host, port, &hints, &res);
	if (err)
		return numeric ? -EINVAL : err == EAI_AGAIN ? -EAGAIN :
		       err == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

uint64_t agent_cfg_u64(const struct sfc_ynode *map, const char *key, uint64_t def)
{
	struct sfc_ynode v;
	const char *t;
	char *end;
	uint64_t n;

	sfc_ymap__get(map, key, &v);
	t = v.n ? sfc_ynode__text(&v) : NULL;
	if (!t || !*t)
		return def;
	errno = 0;
	n = strtoull(t, &end, 10);
	return errno || *end ? def : n;
}

bool agent_cfg_str(const struct sfc_ynode *map, const char *key, char *buf, size_t len)
{
	struct sfc_ynode v;
	const char *t;

	buf[0] = '\0';
	sfc_ymap__get(map, key, &v);
	t = v.n ? sfc_ynode__text(&v) : NULL;
	if (!t)
		return false;
	snprintf(buf, len, "%s", t);
	return true;
}

/* A node as one line of text, to tell whether a config changed. */
static void node_text(struct sfc_json *j, yaml_document_t *doc, yaml_node_t *n)
{
	yaml_node_pair_t *p;
	yaml_node_item_t *it;

	if (!n)
		return;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		sfc_json__str(j, (const char *)n->data.scalar.value);
		break;
	case YAML_SEQUENCE_NODE:
		sfc_json__arr_begin(j);
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++)
			node_text(j, doc, yaml_document_get_node(doc, *it));
		sfc_json__arr_end(j);
		break;
	case YAML_MAPPING_NODE:
		sfc_json__obj_begin(j);
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);

			sfc_json__key(j, k && k->type == YAML_SCALAR_NODE ?
				      (const char *)k->data.scalar.value : "?");
			node_text(j, doc, yaml_document_get_node(doc, p->value));
		}
		sfc_json__obj_end(j);
		break;
	default:
		sfc_json__null(j);
	}
}

/* ---- functions --------------------------------------------------------- */

static const struct agent_type *find_type(const char *name)
{
	const struct agent_type *const *t;

	for (t = agent_types; *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	return NULL;
}

static struct agent_fn *find_fn(struct agent *a, const char *chain, const char *name)
{
	struct agent_fn *fn;

	for (fn = a->fns; fn; fn = fn->next)
		if (!strcmp(fn->chain, chain) && !strcmp(fn->name, name))
			return fn;
	return NULL;
}

static void fn_stop(struct agent *a, struct agent_fn *fn)
{
	if (fn->started && fn->type->stop)
		fn->type->stop(a, fn);
	fn->started = false;
	fn->priv = NULL;
	fn->wake_ns = 0;
}

static void fn_free(struct agent *a, struct agent_fn *fn)
{
	fn_stop(a, fn);
	free(fn->config_text);
	free(fn);
}

/* Unlink and free the functions of chain (NULL: every function). */
static void drop_fns(struct agent *a, const char *chain)
{
	struct agent_fn **pp = &a->fns, *fn;

	while ((fn = *pp)) {
		if (chain && strcmp(fn->chain, chain)) {
			pp = &fn->next;
			continue;
		}
		*pp = fn->next;
		if (chain && fn->started)
			sfc_log(SFC_LOG_INFO, "%s/%s: %s function gone", fn->chain, fn->name,
				fn->type->name);
		fn_free(a, fn);
	}
}

/* Start (or keep, or restart) one function; false when it could not start. */
static bool fn_sync(struct agent *a, const char *chain, const char *dir, const char *name,
		    const struct agent_type *type, struct sfc_ynode *cfg, bool *seen)
{
	struct agent_fn *fn = find_fn(a, chain, name);
	struct sfc_json j;
	char *text;
	int err;

	sfc_json__init(&j, false);
	node_text(&j, &cfg->y->doc, cfg->n);
	text = sfc_json__take(&j);
	if (!text)
		text = strdup("");
	if (fn && fn->type == type && fn->started && !fn->stale && text && fn->config_text &&
	    !strcmp(text, fn->config_text)) {
		free(text);
		*seen = true;
		return true;
	}
	if (fn && fn->type != type) {
		/* same name, another type: a new function */
		struct agent_fn **pp = &a->fns;

		while (*pp != fn)
			pp = &(*pp)->next;
		*pp = fn->next;
		fn_free(a, fn);
		fn = NULL;
	}
	if (!fn) {
		fn = calloc(1, sizeof(*fn));
		if (!fn) {
			free(text);
			return false;
		}
		snprintf(fn->chain, sizeof(fn->chain), "%s", chain);
		snprintf(fn->name, sizeof(fn->name), "%s", name);
		fn->type = type;
		fn->pin_root = a->opts.pin_root;
		snprintf(fn->chain_dir, sizeof(fn->chain_dir), "%s", dir);
		snprintf(fn->nf_dir, sizeof(fn->nf_dir), "%s/nf/%s", dir, name);
		fn->next = a->fns;
		a->fns = fn;
	} else if (fn->started) {
		sfc_log(SFC_LOG_INFO, "%s/%s: %s, restarting its agent work", chain, name,
			fn->stale ? "its maps were replaced" : "config changed");
		fn_stop(a, fn);
	}
	fn->stale = false;
	free(fn->config_text);
	fn->config_text = text;
	*seen = true;
	err = type->start(a, fn, cfg);
	if (err) {
		/* said once; an apply in progress is over by the next discovery */
		sfc_log(fn->start_failed ? SFC_LOG_DEBUG : SFC_LOG_WARN,
			"%s/%s: cannot start %s agent work: %s (retrying)", chain, name,
			type->name, strerror(-err));
		fn->start_failed = true;
		fn->priv = NULL;
		return false;
	}
	fn->started = true;
	fn->start_failed = false;
	sfc_log(SFC_LOG_INFO, "%s/%s: %s function found", chain, name, type->name);
	return true;
}

/* ---- discovery --------------------------------------------------------- */

static struct agent_chain *find_chain(struct agent *a, const char *name)
{
	struct agent_chain *c;

	for (c = a->chains; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

/* The functions of one chain; false when one of them could not start. */
static bool discover_chain(struct agent *a, struct agent_chain *c, const char *dir,
			   const struct sfc_chain_info *info)
{
	struct agent_fn *kept[SFC_MAX_FUNCTIONS] = {}, *fn, **pp;
	struct sfc_ynode root, fnode, cfg;
	struct sfc_yaml y;
	struct sfc_diag d = {};
	const struct agent_type *type;
	unsigned int i, nfn;
	bool complete = true, seen;
	int err;

	err = sfc_spec_load(dir, &y, &d, &root);
	if (err) {
		sfc_log(SFC_LOG_DEBUG, "chain %s: cannot read its spec: %s", c->name,
			strerror(-err));
		return false;
	}
	nfn = info->n_functions < SFC_MAX_FUNCTIONS ? info->n_functions : SFC_MAX_FUNCTIONS;
	for (i = 0; i < nfn; i++) {
		type = find_type(info->fn[i].type);
		if (!type)
			continue;
		sfc_spec_function(&root, info->fn[i].name, &fnode);
		sfc_ymap__get(&fnode, "config", &cfg);
		seen = false;
		if (!fn_sync(a, c->name, dir, info->fn[i].name, type, &cfg, &seen))
			complete = false;
		if (seen)
			kept[i] = find_fn(a, c->name, info->fn[i].name);
	}
	/* the functions of this chain that are no longer in it */
	pp = &a->fns;
	while ((fn = *pp)) {
		bool found = strcmp(fn->chain, c->name) != 0;

		for (i = 0; i < nfn && !found; i++)
			found = kept[i] == fn;
		if (found) {
			pp = &fn->next;
			continue;
		}
		*pp = fn->next;
		if (fn->started)
			sfc_log(SFC_LOG_INFO, "%s/%s: removed from the chain", fn->chain, fn->name);
		fn_free(a, fn);
	}
	sfc_spec_unload(&y);
	return complete;
}

static bool chain_stale(struct agent *a, const char *chain)
{
	struct agent_fn *fn;

	for (fn = a->fns; fn; fn = fn->next)
		if (fn->stale && !strcmp(fn->chain, chain))
			return true;
	return false;
}

static void discover(struct agent *a)
{
	struct agent_chain *c, **cp;
	struct sfc_chain_info info;
	char **names = NULL, dir[PATH_MAX / 2];
	size_t i, n = 0;
	int err;

	err = sfc_chain__list(a->opts.pin_root, &names, &n);
	if (err) {
		sfc_log(SFC_LOG_WARN, "cannot list the chains in %s: %s", a->opts.pin_root,
			strerror(-err));
		return;
	}
	for (c = a->chains; c; c = c->next)
		c->seen = false;
	for (i = 0; i < n; i++) {
		c = find_chain(a, names[i]);
		if (sfc_pin_path(dir, sizeof(dir), a->opts.pin_root, names[i], NULL) ||
		    sfc_info_read(dir, &info))
			continue;	/* being deleted, or another ABI: as if gone */
		if (!c) {
			c = calloc(1, sizeof(*c));
			if (!c)
				continue;
			snprintf(c->name, sizeof(c->name), "%s", names[i]);
			c->next = a->chains;
			a->chains = c;
			sfc_log(SFC_LOG_DEBUG, "chain %s found", c->name);
		}
		c->seen = true;
		if (c->complete && c->generation == info.generation &&
		    c->full_hash == info.full_hash && !chain_stale(a, c->name))
			continue;
		c->complete = discover_chain(a, c, dir, &info);
		c->generation = info.generation;
		c->full_hash = info.full_hash;
	}
	sfc_chain__list_free(names, n);
	cp = &a->chains;
	while ((c = *cp)) {
		if (c->seen) {
			cp = &c->next;
			continue;
		}
		*cp = c->next;
		drop_fns(a, c->name);
		sfc_log(SFC_LOG_DEBUG, "chain %s gone", c->name);
		free(c);
	}
}

/* ---- metrics pages ----------------------------------------------------- */

static const char *const dir_names[2] = { "forward", "reverse" };

static const struct {
	const char *family, *help;
	size_t off;
} stage_counters[] = {
#define C(x, h) { "sfc_stage_" #x "_total", h, offsetof(struct sfc_stage_stats, x) }
	C(packets, "Packets that reached the stage."),
	C(bytes, "Bytes (frame length) of the packets that reached the stage."),
	C(handed_on, "Packets the stage handed on to the next one."),
	C(dropped, "Packets the stage dropped (XDP_DROP), invalid ones included."),
	C(passed, "Packets the stage passed to the kernel's stack (XDP_PASS)."),
	C(forwarded, "Packets the stage sent out (XDP_TX or XDP_REDIRECT)."),
	C(aborted, "Packets aborted (XDP_ABORTED or an internal error)."),
	C(tail_call_miss, "Tail calls that failed; the default verdict applied."),
	C(invalid, "Malformed packets (a subset of dropped)."),
#undef C
};

static void chain_metrics(struct agent *a, const struct sfc_chain_status *st, struct metrics *m)
{
	const struct sfc_stage_status *s;
	struct agent_fn *fn;
	unsigned int i, d, k;
	char gen[16];

	snprintf(gen, sizeof(gen), "%u", st->generation);
	metrics__u64(m, "sfc_chain_generation", METRIC_GAUGE,
		     "Generation of the chain's function list (grows with each swap).",
		     (const char *const[]){ "chain", st->name, NULL }, st->generation);
	metrics__f64(m, "sfc_chain_applied_timestamp_seconds", METRIC_GAUGE,
		     "When the chain was last applied (Unix time).",
		     (const char *const[]){ "chain", st->name, NULL },
		     st->applied_at_ns / 1e9);
	for (i = 0; i < st->n_attach && i < 2; i++)
		metrics__u64(m, "sfc_chain_attached", METRIC_GAUGE,
			     "1 when the chain's root program is attached to the interface.",
			     (const char *const[]){ "chain", st->name, "direction", dir_names[i],
						    "interface", st->attach[i].ifname, "mode",
						    sfc_xdp_mode__str(st->attach[i].mode), NULL },
			     st->attach[i].attached);
	for (k = 0; k < sizeof(stage_counters) / sizeof(stage_counters[0]); k++) {
		for (i = 0; i < st->n_stages; i++) {
			s = &st->stages[i];
			for (d = 0; d < 2; d++) {
				const char *const labels[] = {
					"chain", st->name, "stage", s->name, "type", s->type,
					"direction", dir_names[d], NULL,
				};

				metrics__u64(m, stage_counters[k].family, METRIC_COUNTER,
					     stage_counters[k].help, labels,
					     *(const uint64_t *)((const char *)&s->stats[d] +
								 stage_counters[k].off));
			}
		}
	}
	for (fn = a->fns; fn; fn = fn->next)
		if (fn->started && fn->type->metrics && !strcmp(fn->chain, st->name))
			fn->type->metrics(a, fn, m);
}

static bool serves(const struct agent_server *s, const char *chain)
{
	unsigned int i;

	if (s->all)
		return true;
	for (i = 0; i < s->n_chains; i++)
		if (!strcmp(s->chains[i], chain))
			return true;
	return false;
}

static int page(void *ctx, struct metrics *m)
{
	struct agent_server *s = ctx;
	struct agent *a = s->a;
	struct sfc_chain_status *st;
	struct agent_chain *c;
	unsigned int n = 0;

	metrics__u64(m, "sfc_agent_info", METRIC_GAUGE, "The agent serving this page.",
		     (const char *const[]){ "version", SFC_VERSION, "pin_root", a->opts.pin_root,
					    NULL }, 1);
	metrics__f64(m, "sfc_agent_uptime_seconds", METRIC_GAUGE,
		     "Seconds since the agent started.", NULL,
		     (agent_now_ns() - a->started_ns) / 1e9);
	for (c = a->chains; c; c = c->next) {
		if (!serves(s, c->name))
			continue;
		if (sfc_chain__status(c->name, a->opts.pin_root, &st))
			continue;
		chain_metrics(a, st, m);
		sfc_chain_status__free(st);
		n++;
	}
	metrics__u64(m, "sfc_agent_chains", METRIC_GAUGE, "Chains on this page.", NULL, n);
	return 0;
}

static struct agent_server *find_server(struct agent *a, const char *listen)
{
	struct agent_server *s;

	for (s = a->servers; s; s = s->next)
		if (!strcmp(s->listen, listen))
			return s;
	return NULL;
}

static struct agent_server *want_server(struct agent *a, const char *listen)
{
	struct agent_server *s = find_server(a, listen);

	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		snprintf(s->listen, sizeof(s->listen), "%s", listen);
		s->a = a;
		s->next = a->servers;
		a->servers = s;
	}
	if (!s->wanted) {
		s->wanted = true;
		s->all = false;
		s->n_chains = 0;
	}
	return s;
}

static void server_add_chain(struct agent_server *s, const char *chain)
{
	char (*v)[SFC_NAME_MAX + 1];

	if (serves(s, chain))
		return;
	v = realloc(s->chains, (s->n_chains + 1) * sizeof(*v));
	if (!v)
		return;
	s->chains = v;
	snprintf(v[s->n_chains++], sizeof(*v), "%s", chain);
}

static void server_free(struct agent_server *s)
{
	metrics_server__free(s->srv);
	free(s->chains);
	free(s);
}

/* The listen addresses: --metrics, and each function's own. */
static void sync_servers(struct agent *a)
{
	struct agent_server *s, **pp;
	struct agent_fn *fn;
	const char *l;

	for (s = a->servers; s; s = s->next)
		s->wanted = false;
	if (a->opts.metrics_listen && (s = want_server(a, a->opts.metrics_listen)))
		s->all = true;
	for (fn = a->fns; fn; fn = fn->next) {
		if (!fn->started || !fn->type->metrics_listen)
			continue;
		l = fn->type->metrics_listen(fn);
		if (l && *l && (s = want_server(a, l)))
			server_add_chain(s, fn->chain);
	}
	pp = &a->servers;
	while ((s = *pp)) {
		if (!s->wanted) {
			*pp = s->next;
			if (s->srv)
				sfc_log(SFC_LOG_INFO, "metrics: no longer serving %s", s->listen);
			server_free(s);
			continue;
		}
		if (!s->srv) {
			s->srv = metrics_server__new(a, s->listen, page, s);
			if (s->srv) {
				sfc_log(SFC_LOG_INFO, "metrics: serving http://%s/metrics",
					s->listen);
				s->fail_logged = false;
			} else if (!s->fail_logged) {
				sfc_log(SFC_LOG_WARN, "metrics: cannot listen on %s: %s (retrying)",
					s->listen, strerror(errno));
				s->fail_logged = true;
			}
		}
		pp = &s->next;
	}
}

/* ---- the loop ---------------------------------------------------------- */

static void on_signal(struct agent *a, void *ctx, uint32_t events)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct agent_chain *c;

			sfc_log(SFC_LOG_INFO, "SIGHUP: reading every chain again");
			for (c = a->chains; c; c = c->next)
				c->complete = false;
			continue;
		}
		sfc_log(SFC_LOG_INFO, "%s: stopping", strsignal(si.ssi_signo));
		a->stop = true;
	}
}

/*
 * /run/sfc: made 0700 by root, and refused when another user owns it or
 * can write into it (they could take the lock and stop every agent, or
 * point the lock path elsewhere with a symlink). A 0755 folder made by an
 * older agent is tightened.
 */
static int lock_dir_ensure(void)
{
	struct stat st;

	if (!mkdir(AGENT_LOCK_DIR, 0700) && chmod(AGENT_LOCK_DIR, 0700))
		return -errno;
	if (lstat(AGENT_LOCK_DIR, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		sfc_log(SFC_LOG_ERROR, "%s is not a folder that only uid %u can write (uid %u, "
			"mode %04o): remove it", AGENT_LOCK_DIR, (unsigned int)geteuid(),
			(unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700 && chmod(AGENT_LOCK_DIR, 0700))
		return -errno;
	return 0;
}

/*
 * The lock of the pin root, not the pin root itself: apply holds an flock on
 * that while it works. The file is removed at exit, so the lock taken must
 * be on the file the path still names (another agent may just have removed
 * it): else try again.
 */
static int lock_pin_root(struct agent *a)
{
	struct stat held, named;
	char canon[PATH_MAX];
	const char *p;
	size_t o = 0;
	int i, err;

	err = lock_dir_ensure();
	if (err)
		return err;
	/* one lock for /x/y, /x//y and /x/y/ (sfc_bpffs_ensure refused . and ..) */
	for (p = a->opts.pin_root; *p && o < sizeof(canon) - 1; p++)
		if (*p != '/' || (p[1] && p[1] != '/'))
			canon[o++] = *p;
	canon[o] = '\0';
	snprintf(a->lock_path, sizeof(a->lock_path), AGENT_LOCK_DIR "/agent-%016llx.lock",
		 (unsigned long long)sfc_hash(canon));
	for (i = 0; i < 10; i++) {
		a->lockfd = open(a->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (a->lockfd < 0)
			return -errno;
		if (flock(a->lockfd, LOCK_EX | LOCK_NB)) {
			err = errno == EWOULDBLOCK ? -EBUSY : -errno;	/* another agent */
			close(a->lockfd);
			a->lockfd = -1;	/* not ours to remove */
			return err;
		}
		if (!fstat(a->lockfd, &held) && !stat(a->lock_path, &named) &&
		    held.st_ino == named.st_ino && held.st_dev == named.st_dev) {
			if (!ftruncate(a->lockfd, 0))
				dprintf(a->lockfd, "%d %s\n", (int)getpid(), a->opts.pin_root);
			return 0;
		}
		close(a->lockfd);
		a->lockfd = -1;
	}
	return -EBUSY;
}

static int setup(struct agent *a)
{
	sigset_t mask;
	int err;

	/*
	 * What the agent makes is root's alone, whatever umask it was started
	 * with: the lock file, and the pins the flow monitor adds (the kernel
	 * makes a pin 0600 & ~umask, so 0600 at most; see docs/hardening.md).
	 */
	umask(077);
	err = sfc_bpffs_ensure(a->opts.pin_root);
	if (err)
		return err;
	err = lock_pin_root(a);
	if (err)
		return err;
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0)
		return -errno;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	a->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sigfd < 0)
		return -errno;
	return agent_watch(a, a->sigfd, EPOLLIN, on_signal, NULL);
}

static void tick_fns(struct agent *a, uint64_t now, bool all)
{
	struct agent_fn *fn;

	for (fn = a->fns; fn && !a->stop; fn = fn->next) {
		if (!fn->started || fn->stale || !fn->type->tick)
			continue;
		if (!all && (!fn->wake_ns || fn->wake_ns > now))
			continue;
		fn->wake_ns = 0;
		fn->type->tick(a, fn, now);
	}
}

static uint64_t next_wake(struct agent *a, uint64_t next_round)
{
	struct agent_fn *fn;
	uint64_t t = next_round;

	for (fn = a->fns; fn; fn = fn->next)
		if (fn->started && fn->wake_ns && fn->wake_ns < t)
			t = fn->wake_ns;
	return t;
}

static void dispatch(struct agent *a, int timeout_ms)
{
	struct epoll_event ev[MAX_EVENTS];
	struct watch *w;
	int i, n;

	n = epoll_wait(a->epfd, ev, MAX_EVENTS, timeout_ms);
	for (i = 0; i < n; i++) {
		w = ev[i].data.ptr;
		if (!w->dead)
			w->cb(a, w->ctx, ev[i].events);
	}
	reap_watches(a);
}

static int print_summary(struct agent *a)
{
	struct agent_fn *fn;
	struct sfc_json j;
	char line[512];
	bool failed = false, f;

	sfc_json__init(&j, false);
	sfc_json__arr_begin(&j);
	for (fn = a->fns; fn; fn = fn->next) {
		if (!fn->type->summary)
			continue;
		line[0] = '\0';
		f = !fn->started;
		if (fn->started)
			fn->type->summary(fn, line, sizeof(line), &f);
		failed |= f;
		if (!a->opts.json) {
			printf("%s/%s (%s): %s\n", fn->chain, fn->name, fn->type->name,
			       fn->started ? line : "could not start");
			continue;
		}
		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "chain", fn->chain);
		sfc_json__kstr(&j, "function", fn->name);
		sfc_json__kstr(&j, "type", fn->type->name);
		sfc_json__kbool(&j, "ok", !f);
		sfc_json__kstr(&j, "summary", fn->started ? line : "could not start");
		sfc_json__obj_end(&j);
	}
	sfc_json__arr_end(&j);
	if (a->opts.json && !j.err)
		printf("%s\n", j.buf);
	sfc_json__free(&j);
	return failed ? -EIO : 0;
}

static int run_once(struct agent *a)
{
	uint64_t start = agent_now_ns(), now, t;

	discover(a);
	tick_fns(a, start, true);
	for (;;) {
		dispatch(a, 0);
		now = agent_now_ns();
		t = next_wake(a, UINT64_MAX);
		if (a->stop || t == UINT64_MAX || t > start + ONCE_MAX_NS)
			break;
		if (t > now)
			dispatch(a, (t - now) / 1000000 + 1);
		tick_fns(a, agent_now_ns(), false);
	}
	return print_summary(a);
}

int agent_run(const struct agent_opts *opts)
{
	struct agent a = { .opts = *opts, .epfd = -1, .sigfd = -1, .lockfd = -1 };
	struct agent_server *s;
	struct agent_chain *c;
	uint64_t now, next_round, t;
	int err;

	if (!a.opts.pin_root)
		a.opts.pin_root = SFC_PIN_ROOT;
	if (!a.opts.interval_ns)
		a.opts.interval_ns = 1000000000ull;
	a.started_ns = agent_now_ns();
	err = setup(&a);
	if (err)
		goto out;
	if (a.opts.once) {
		err = run_once(&a);
		goto out;
	}
	sfc_log(SFC_LOG_INFO, "agent running on %s, every %.3g s", a.opts.pin_root,
		a.opts.interval_ns / 1e9);
	next_round = agent_now_ns();
	while (!a.stop) {
		now = agent_now_ns();
		if (now >= next_round) {
			discover(&a);
			sync_servers(&a);
			tick_fns(&a, now, true);
			for (s = a.servers; s; s = s->next)
				if (s->srv)
					metrics_server__tick(s->srv, now);
			next_round += a.opts.interval_ns;
			if (next_round <= now)
				next_round = now + a.opts.interval_ns;
		} else {
			tick_fns(&a, now, false);
		}
		now = agent_now_ns();
		t = next_wake(&a, next_round);
		dispatch(&a, t > now ? (int)((t - now + 999999) / 1000000) : 0);
	}
	err = 0;
out:
	drop_fns(&a, NULL);
	while ((s = a.servers)) {
		a.servers = s->next;
		server_free(s);
	}
	while ((c = a.chains)) {
		a.chains = c->next;
		free(c);
	}
	reap_watches(&a);
	while (a.watches) {
		struct watch *w = a.watches;

		a.watches = w->next;
		free(w);
	}
	if (a.sigfd >= 0)
		close(a.sigfd);
	if (a.epfd >= 0)
		close(a.epfd);
	if (a.lockfd >= 0) {
		unlink(a.lock_path);	/* while still holding it: see lock_pin_root() */
		close(a.lockfd);
	}
	return err;
}
