// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A running load balancer read back: its services and backends as the spec
 * pin holds them, the Maglev entries each backend owns in the live
 * generation, the health the agent recorded, and the counters. Active
 * connections are counted by walking the connection table: entries that have
 * not timed out, per service and per backend.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "lb.h"

_Static_assert(SFC_LB_STATS == SFC_LB_STAT_MAX, "sfc.h and sfc_lb.h disagree on the counters");

static const char *const stat_names[SFC_LB_STAT_MAX] = {
	[SFC_LB_STAT_VIP] = "vip_packets",
	[SFC_LB_STAT_REPLY] = "replies",
	[SFC_LB_STAT_OTHER] = "other",
	[SFC_LB_STAT_CONN_NEW] = "connections_created",
	[SFC_LB_STAT_CONN_HIT] = "connection_hits",
	[SFC_LB_STAT_CONN_EXPIRED] = "connections_expired",
	[SFC_LB_STAT_CONN_GONE] = "connections_backend_gone",
	[SFC_LB_STAT_CONN_FAILED] = "connection_inserts_failed",
	[SFC_LB_STAT_NO_BACKEND] = "no_backend",
	[SFC_LB_STAT_TOO_BIG] = "too_big_icmp",
	[SFC_LB_STAT_TOO_BIG_DROP] = "too_big_dropped",
	[SFC_LB_STAT_NO_L4] = "fragments",
	[SFC_LB_STAT_ERROR] = "errors",
};

const char *sfc_lb_stat__str(unsigned int stat)
{
	return stat < SFC_LB_STAT_MAX ? stat_names[stat] : NULL;
}

/* The config of `function` as the chain's spec pin holds it. */
static int spec_config(const char *dir, const char *function, struct lb_config **out)
{
	struct sfc_ynode root, fn, cfg;
	struct sfc_yaml y;
	struct sfc_diag d = {};
	void *c = NULL;
	int err;

	*out = NULL;
	err = sfc_spec_load(dir, &y, &d, &root);
	if (err)
		goto out;
	sfc_spec_function(&root, function, &fn);
	if (!fn.n) {
		err = -ENOENT;
		goto out;
	}
	sfc_ymap__get(&fn, "config", &cfg);
	err = lb_config__parse(&cfg, &c);
	if (err)
		sfc_log(SFC_LOG_WARN, "%s: the spec pin's config does not parse: %s", function, d.msg);
	*out = c;
out:
	sfc_spec_unload(&y);
	return err;
}

static int read_percpu_u64s(int fd, __u32 key, __u64 *sum, size_t n_u64)
{
	int ncpu = libbpf_num_possible_cpus(), cpu;
	size_t k;
	__u64 *v;

	if (ncpu < 0)
		return ncpu;
	v = calloc((size_t)ncpu, n_u64 * sizeof(__u64));
	if (!v)
		return -ENOMEM;
	memset(sum, 0, n_u64 * sizeof(__u64));
	if (bpf_map_lookup_elem(fd, &key, v)) {
		free(v);
		return -errno;
	}
	for (cpu = 0; cpu < ncpu; cpu++)
		for (k = 0; k < n_u64; k++)
			sum[k] += v[(size_t)cpu * n_u64 + k];
	free(v);
	return 0;
}

static void read_counters(int fd, __u32 id, struct sfc_lb_counters_status *out)
{
	struct sfc_lb_counters c;

	if (fd < 0 || read_percpu_u64s(fd, id, (__u64 *)&c, sizeof(c) / sizeof(__u64)))
		return;
	out->packets = c.packets;
	out->bytes = c.bytes;
	out->reply_packets = c.reply_packets;
	out->reply_bytes = c.reply_bytes;
	out->new_flows = c.new_flows;
}

/* Entries each backend id owns in [off, off + m) of the Maglev map. */
static int table_entries(int fd, uint32_t off, uint32_t m, uint32_t *per_id)
{
	uint32_t k, v;

	for (k = 0; k < m; k++) {
		__u32 key = off + k;

		if (bpf_map_lookup_elem(fd, &key, &v))
			return -errno;
		if (v < SFC_LB_MAX_BACKENDS)
			per_id[v]++;
	}
	return 0;
}

struct conn_count {
	uint64_t total;
	uint64_t *svc;		/* [SFC_LB_MAX_SERVICES] live forward entries */
	uint64_t *svc_bk;	/* [SFC_LB_MAX_SERVICES * ...] see index() */
	uint64_t *bk;		/* [SFC_LB_MAX_BACKENDS] */
};

static bool conn_live(const struct lb_config *c, const struct sfc_lb_conn_key *k,
		      const struct sfc_lb_conn *v, uint64_t now)
{
	uint64_t t = k->proto == IPPROTO_UDP ? c->udp_timeout_ns :
		     v->flags & SFC_LB_CONN_CLOSING ? c->tcp_closing_ns : c->tcp_timeout_ns;

	/* seen_ns is refreshed at most once a touch interval */
	return now < v->seen_ns + t + SFC_LB_TOUCH_NS;
}

#define CONN_BATCH 4096

/*
 * Count the live forward entries per service and per backend. per (service
 * index in the config, backend index) pairs go to svc_bk[s * max_bk + b],
 * found through the ids.
 */
static int count_conns(int fd, const struct lb_config *c, struct sfc_lb_status *st)
{
	struct sfc_lb_conn_key *keys = NULL;
	struct sfc_lb_conn *vals = NULL;
	struct timespec ts;
	__u32 count, i, s, b;
	void *in = NULL, *out_batch = NULL;
	uint64_t now;
	int err = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	keys = calloc(CONN_BATCH, sizeof(*keys));
	vals = calloc(CONN_BATCH, sizeof(*vals));
	out_batch = calloc(1, sizeof(struct sfc_lb_conn_key));
	if (!keys || !vals || !out_batch) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		count = CONN_BATCH;
		err = bpf_map_lookup_batch(fd, in, out_batch, keys, vals, &count, &opts);
		if (err && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (i = 0; i < count; i++) {
			st->connections++;
			if (keys[i].kind != SFC_LB_CONN_FWD || !conn_live(c, &keys[i], &vals[i], now))
				continue;
			for (s = 0; s < st->n_services; s++) {
				struct sfc_lb_service_status *ss = &st->services[s];

				if (ss->id != vals[i].service)
					continue;
				ss->counters.active_connections++;
				for (b = 0; b < ss->n_backends; b++)
					if (ss->backends[b].id == vals[i].backend)
						ss->backends[b].service_connections++;
			}
			for (s = 0; s < st->n_services; s++)
				for (b = 0; b < st->services[s].n_backends; b++)
					if (st->services[s].backends[b].id == vals[i].backend)
						st->services[s].backends[b].counters.active_connections++;
		}
		if (err) {	/* ENOENT: that was the last batch */
			err = 0;
			break;
		}
		if (!in)
			in = calloc(1, sizeof(struct sfc_lb_conn_key));
		if (!in) {
			err = -ENOMEM;
			break;
		}
		memcpy(in, out_batch, sizeof(struct sfc_lb_conn_key));
	}
out:
	free(keys);
	free(vals);
	free(in);
	free(out_batch);
	return err;
}

static void hc_text(const struct lb_health_check *hc, char *buf, size_t len)
{
	char port[16] = "";

	buf[0] = '\0';
	if (hc->type == LB_HC_NONE)
		return;
	if (hc->port)
		snprintf(port, sizeof(port), " port %u", hc->port);
	if (hc->type == LB_HC_HTTP)
		snprintf(buf, len, "http GET %s%s every %llums, timeout %llums, rise %u, fall %u",
			 hc->path, port, (unsigned long long)(hc->interval_ns / 1000000),
			 (unsigned long long)(hc->timeout_ns / 1000000), hc->rise, hc->fall);
	else
		snprintf(buf, len, "tcp connect%s every %llums, timeout %llums, rise %u, fall %u", port,
			 (unsigned long long)(hc->interval_ns / 1000000),
			 (unsigned long long)(hc->timeout_ns / 1000000), hc->rise, hc->fall);
}

static int fill(struct sfc_lb_status *st, const struct lb_config *c, const char *gdir,
		const char *ndir)
{
	int ids = sfc_pin_get(ndir, "sfc_lb_ids"), health = sfc_pin_get(ndir, "sfc_lb_health");
	int svc_stats = sfc_pin_get(ndir, "sfc_lb_svc_stats");
	int bk_stats = sfc_pin_get(ndir, "sfc_lb_bk_stats");
	int stats = sfc_pin_get(ndir, "sfc_lb_stats"), conns = sfc_pin_get(ndir, "sfc_lb_conns");
	int maglev = sfc_pin_get(gdir, "sfc_lb_maglev");
	uint32_t *per_id = NULL, s, b;
	struct sfc_lb_id_key key;
	struct sfc_lb_health h;
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info);
	int err = 0;

	if (ids < 0 || conns < 0 || maglev < 0) {
		err = ids < 0 ? ids : conns < 0 ? conns : maglev;
		goto out;
	}
	per_id = calloc(SFC_LB_MAX_BACKENDS, sizeof(*per_id));
	st->services = calloc(c->n_services, sizeof(*st->services));
	if (!per_id || !st->services) {
		err = -ENOMEM;
		goto out;
	}
	st->n_services = c->n_services;
	st->table_size = c->table_size;
	if (!bpf_obj_get_info_by_fd(conns, &info, &ilen))
		st->max_connections = info.max_entries;
	for (s = 0; stats >= 0 && s < SFC_LB_STAT_MAX; s++) {
		__u64 v;

		if (!read_percpu_u64s(stats, s, &v, 1))
			st->stats[s] = v;
	}
	for (s = 0; s < c->n_services; s++) {
		const struct lb_service *cs = &c->services[s];
		struct sfc_lb_service_status *ss = &st->services[s];

		ss->family = cs->family;
		memcpy(ss->vip, cs->vip, 16);
		ss->port = cs->port;
		ss->proto = cs->proto;
		ss->dsr = cs->mode == SFC_LB_DSR;
		hc_text(&cs->hc, ss->health_check, sizeof(ss->health_check));
		lb_service__id_key(cs, &key);
		if (bpf_map_lookup_elem(ids, &key, &ss->id)) {
			err = -errno;
			goto out;
		}
		read_counters(svc_stats, ss->id, &ss->counters);
		memset(per_id, 0, SFC_LB_MAX_BACKENDS * sizeof(*per_id));
		err = table_entries(maglev, s * c->table_size, c->table_size, per_id);
		if (err)
			goto out;
		ss->backends = calloc(cs->n_backends, sizeof(*ss->backends));
		if (!ss->backends) {
			err = -ENOMEM;
			goto out;
		}
		ss->n_backends = cs->n_backends;
		for (b = 0; b < cs->n_backends; b++) {
			const struct lb_backend *cb = &cs->backends[b];
			struct sfc_lb_backend_status *bs = &ss->backends[b];

			bs->family = cb->family;
			memcpy(bs->addr, cb->addr, 16);
			bs->port = cb->port;
			bs->weight = cb->weight;
			bs->drain = cb->drain;
			lb_backend__id_key(cb, &key);
			if (bpf_map_lookup_elem(ids, &key, &bs->id)) {
				err = -errno;
				goto out;
			}
			if (bs->id < SFC_LB_MAX_BACKENDS) {
				bs->table_entries = per_id[bs->id];
				ss->table_backends += per_id[bs->id] > 0;
			}
			read_counters(bk_stats, bs->id, &bs->counters);
			if (health >= 0 && !bpf_map_lookup_elem(health, &bs->id, &h)) {
				bs->health = h.state;
				bs->health_transitions = h.transitions;
				bs->health_checks = h.checks;
				bs->health_failures = h.failures;
				bs->health_changed_ms = h.changed_ms;
			}
		}
	}
	err = count_conns(conns, c, st);
	if (st->stats[SFC_LB_STAT_CONN_NEW] > st->connections)
		st->evictions = st->stats[SFC_LB_STAT_CONN_NEW] - st->connections;
out:
	free(per_id);
	if (ids >= 0)
		close(ids);
	if (health >= 0)
		close(health);
	if (svc_stats >= 0)
		close(svc_stats);
	if (bk_stats >= 0)
		close(bk_stats);
	if (stats >= 0)
		close(stats);
	if (conns >= 0)
		close(conns);
	if (maglev >= 0)
		close(maglev);
	return err;
}

int sfc_lb__status(const char *chain, const char *function, const char *pin_root,
		   struct sfc_lb_status **out)
{
	const char *root = pin_root ? pin_root : SFC_PIN_ROOT;
	char dir[PATH_MAX - 256], gdir[PATH_MAX], ndir[PATH_MAX];
	struct sfc_lb_status *st = NULL;
	struct lb_config *c = NULL;
	struct sfc_chain_info info;
	unsigned int i, fn = UINT32_MAX;
	int err;

	*out = NULL;
	if (!sfc_name_valid(chain) || !function || !sfc_name_valid(function))
		return -EINVAL;
	err = sfc_pin_path(dir, sizeof(dir), root, chain, NULL);
	err = err ?: sfc_info_read(dir, &info);
	if (err)
		return err;
	for (i = 0; i < info.n_functions && i < SFC_MAX_FUNCTIONS; i++)
		if (!strcmp(info.fn[i].name, function))
			fn = i;
	if (fn == UINT32_MAX)
		return -ENOENT;
	if (strcmp(info.fn[fn].type, "loadbalancer"))
		return -EINVAL;
	snprintf(gdir, sizeof(gdir), "%s/gen%u/nf/%s", dir, info.generation, function);
	snprintf(ndir, sizeof(ndir), "%s/nf/%s", dir, function);
	err = spec_config(dir, function, &c);
	if (err)
		return err;
	st = calloc(1, sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		goto out;
	}
	snprintf(st->function, sizeof(st->function), "%s", function);
	st->generation = info.generation;
	err = fill(st, c, gdir, ndir);
out:
	lb_config__free(c);
	if (err) {
		sfc_lb_status__free(st);
		return err;
	}
	*out = st;
	return 0;
}

void sfc_lb_status__free(struct sfc_lb_status *st)
{
	unsigned int i;

	if (!st)
		return;
	for (i = 0; st->services && i < st->n_services; i++)
		free(st->services[i].backends);
	free(st->services);
	free(st);
}
