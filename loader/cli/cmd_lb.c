// SPDX-License-Identifier: GPL-2.0
/* sfcctl lb, and the load balancer part of sfcctl stats. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define BK_COLS 9

static const char *proto_str(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : "udp";
}

static const char *health_str(enum sfc_lb_health_state h)
{
	return h == SFC_LB_HEALTH_STATE_UP ? "up" : h == SFC_LB_HEALTH_STATE_DOWN ? "down" :
	       "unknown";
}

static const char *ip_str(uint8_t family, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

/* "192.0.2.10:80" / "[2001:db8::10]:80" */
static const char *addr_port(uint8_t family, const uint8_t *a, uint16_t port, char *buf,
			     size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	snprintf(buf, len, family == 6 ? "[%s]:%u" : "%s:%u", ip_str(family, a, ip, sizeof(ip)),
		 port);
	return buf;
}

static double share(uint32_t entries, uint32_t table_size)
{
	return table_size ? 100.0 * entries / table_size : 0;
}

/* Is backend id listed by another service than s? Its counters are shared. */
static bool shared(const struct sfc_lb_status *st, unsigned int s, uint32_t id)
{
	unsigned int i, b;

	for (i = 0; i < st->n_services; i++)
		for (b = 0; i != s && b < st->services[i].n_backends; b++)
			if (st->services[i].backends[b].id == id)
				return true;
	return false;
}

/* ---- plain --------------------------------------------------------------- */

static void lb_header(const struct sfc_lb_status *st)
{
	printf("%s: loadbalancer, generation %u, %u service%s, table size %u, connections "
	       "%llu/%u, evicted %llu\n", st->function, st->generation, st->n_services,
	       st->n_services == 1 ? "" : "s", st->table_size,
	       (unsigned long long)st->connections, st->max_connections,
	       (unsigned long long)st->evictions);
}

/* Columns: left-aligned (L) or right-aligned (R); printed two spaces in. */
static const char bk_align[BK_COLS + 1] = "LLLRRRRRR";

static void print_indented(const struct table *t, const char *align)
{
	int width[TABLE_COLS] = { 0 }, w;
	unsigned int r, c;
	const char *cell;

	for (r = 0; r < t->n_rows; r++)
		for (c = 0; c < t->n_cols; c++) {
			w = strlen(t->cells[r * t->n_cols + c]);
			width[c] = w > width[c] ? w : width[c];
		}
	for (r = 0; r < t->n_rows; r++) {
		printf("  ");
		for (c = 0; c < t->n_cols; c++) {
			cell = t->cells[r * t->n_cols + c];
			if (c + 1 == t->n_cols && align[c] == 'L')
				printf("%s\n", cell);	/* no trailing blanks */
			else
				printf(align[c] == 'L' ? "%-*s%s" : "%*s%s", width[c], cell,
				       c + 1 < t->n_cols ? "  " : "\n");
		}
	}
}

static int service_plain(const struct sfc_lb_status *st, unsigned int s)
{
	static const char *const head[BK_COLS] = {
		"BACKEND", "STATE", "HEALTH", "WEIGHT", "SHARE", "PACKETS", "BYTES", "NEW_FLOWS",
		"CONNECTIONS",
	};
	const struct sfc_lb_service_status *ss = &st->services[s];
	const struct sfc_lb_counters_status *c = &ss->counters;
	bool any_shared = false;
	char buf[80];
	struct table t;
	unsigned int b, k;
	int row, err;

	printf("%s/%s %s, %s%s\n", addr_port(ss->family, ss->vip, ss->port, buf, sizeof(buf)),
	       proto_str(ss->proto), ss->dsr ? "dsr" : "nat",
	       ss->health_check[0] ? "health check " : "no health check", ss->health_check);
	printf("  packets %llu, bytes %llu, reply packets %llu, reply bytes %llu, new flows %llu, "
	       "active connections %llu, table backends %u/%u\n",
	       (unsigned long long)c->packets, (unsigned long long)c->bytes,
	       (unsigned long long)c->reply_packets, (unsigned long long)c->reply_bytes,
	       (unsigned long long)c->new_flows, (unsigned long long)c->active_connections,
	       ss->table_backends, ss->n_backends);
	table_init(&t, BK_COLS, 0);
	row = table_row(&t);
	for (k = 0; k < BK_COLS; k++)
		table_set(&t, row, k, "%s", head[k]);
	for (b = 0; b < ss->n_backends; b++) {
		const struct sfc_lb_backend_status *bs = &ss->backends[b];
		bool sh = shared(st, s, bs->id);

		any_shared |= sh;
		row = table_row(&t);
		if (row < 0)
			break;
		table_set(&t, row, 0, "%s%s", addr_port(bs->family, bs->addr, bs->port, buf,
							 sizeof(buf)), sh ? "*" : "");
		table_set(&t, row, 1, "%s", bs->drain ? "drain" : "active");
		table_set(&t, row, 2, "%s", health_str(bs->health));
		table_set(&t, row, 3, "%u", bs->weight);
		table_set(&t, row, 4, "%.1f%%", share(bs->table_entries, st->table_size));
		table_set(&t, row, 5, "%llu", (unsigned long long)bs->counters.packets);
		table_set(&t, row, 6, "%llu", (unsigned long long)bs->counters.bytes);
		table_set(&t, row, 7, "%llu", (unsigned long long)bs->counters.new_flows);
		table_set(&t, row, 8, "%llu", (unsigned long long)bs->service_connections);
	}
	err = t.err;
	if (!err)
		print_indented(&t, bk_align);
	table_free(&t);
	if (any_shared)
		printf("  * also a backend of another service: its PACKETS, BYTES and NEW_FLOWS "
		       "count every service\n");
	return err || ferror(stdout) ? EXIT_FAIL : EXIT_OK;
}

static int lb_plain(const struct sfc_lb_status *st)
{
	unsigned int s;
	int ret = EXIT_OK;

	lb_header(st);
	for (s = 0; s < st->n_services; s++) {
		printf("\n");
		if (service_plain(st, s))
			ret = EXIT_FAIL;
	}
	return ret;
}

static void counters_plain(const struct sfc_lb_status *st)
{
	struct table t;
	unsigned int k;
	int row;

	table_init(&t, 2, 1);
	row = table_row(&t);
	table_set(&t, row, 0, "COUNTER");
	table_set(&t, row, 1, "PACKETS");
	for (k = 0; k < SFC_LB_STATS; k++) {
		row = table_row(&t);
		table_set(&t, row, 0, "%s", sfc_lb_stat__str(k));
		table_set(&t, row, 1, "%llu", (unsigned long long)st->stats[k]);
	}
	if (!t.err)
		table_print(&t, stdout);
	table_free(&t);
}

/* ---- JSON ---------------------------------------------------------------- */

static void kdouble(struct sfc_json *j, const char *key, double v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.2f", v);
	sfc_json__key(j, key);
	out_json_raw(j, buf);
}

static void traffic_json(struct sfc_json *j, const struct sfc_lb_counters_status *c)
{
	sfc_json__ku64(j, "packets", c->packets);
	sfc_json__ku64(j, "bytes", c->bytes);
	sfc_json__ku64(j, "reply_packets", c->reply_packets);
	sfc_json__ku64(j, "reply_bytes", c->reply_bytes);
	sfc_json__ku64(j, "new_flows", c->new_flows);
	sfc_json__ku64(j, "active_connections", c->active_connections);
}

static void backend_json(struct sfc_json *j, const struct sfc_lb_status *st,
			 const struct sfc_lb_backend_status *bs)
{
	char buf[INET6_ADDRSTRLEN];

	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "address", ip_str(bs->family, bs->addr, buf, sizeof(buf)));
	sfc_json__ku64(j, "port", bs->port);
	sfc_json__ku64(j, "id", bs->id);
	sfc_json__ku64(j, "weight", bs->weight);
	sfc_json__kstr(j, "state", bs->drain ? "drain" : "active");
	sfc_json__kstr(j, "health", health_str(bs->health));
	sfc_json__ku64(j, "health_checks", bs->health_checks);
	sfc_json__ku64(j, "health_failures", bs->health_failures);
	sfc_json__ku64(j, "health_transitions", bs->health_transitions);
	sfc_json__ku64(j, "health_changed_ms", bs->health_changed_ms);
	sfc_json__ku64(j, "table_entries", bs->table_entries);
	kdouble(j, "table_share_percent", share(bs->table_entries, st->table_size));
	traffic_json(j, &bs->counters);
	sfc_json__ku64(j, "service_connections", bs->service_connections);
	sfc_json__obj_end(j);
}

static void service_json(struct sfc_json *j, const struct sfc_lb_status *st,
			 const struct sfc_lb_service_status *ss)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned int b;

	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "vip", ip_str(ss->family, ss->vip, buf, sizeof(buf)));
	sfc_json__ku64(j, "port", ss->port);
	sfc_json__kstr(j, "protocol", proto_str(ss->proto));
	sfc_json__ku64(j, "family", ss->family);
	sfc_json__kstr(j, "mode", ss->dsr ? "dsr" : "nat");
	sfc_json__ku64(j, "id", ss->id);
	sfc_json__key(j, "health_check");
	if (ss->health_check[0])
		sfc_json__str(j, ss->health_check);
	else
		sfc_json__null(j);
	sfc_json__ku64(j, "table_backends", ss->table_backends);
	traffic_json(j, &ss->counters);
	sfc_json__key(j, "backends");
	sfc_json__arr_begin(j);
	for (b = 0; b < ss->n_backends; b++)
		backend_json(j, st, &ss->backends[b]);
	sfc_json__arr_end(j);
	sfc_json__obj_end(j);
}

/* The load balancer object of -j output. */
static void lb_json(struct sfc_json *j, const struct sfc_lb_status *st)
{
	unsigned int k;

	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "function", st->function);
	sfc_json__ku64(j, "generation", st->generation);
	sfc_json__ku64(j, "table_size", st->table_size);
	sfc_json__ku64(j, "max_connections", st->max_connections);
	sfc_json__ku64(j, "connections", st->connections);
	sfc_json__ku64(j, "evictions", st->evictions);
	sfc_json__key(j, "counters");
	sfc_json__obj_begin(j);
	for (k = 0; k < SFC_LB_STATS; k++)
		sfc_json__ku64(j, sfc_lb_stat__str(k), st->stats[k]);
	sfc_json__obj_end(j);
	sfc_json__key(j, "services");
	sfc_json__arr_begin(j);
	for (k = 0; k < st->n_services; k++)
		service_json(j, st, &st->services[k]);
	sfc_json__arr_end(j);
	sfc_json__obj_end(j);
}

/* ---- commands ------------------------------------------------------------ */

static int lb_get(const struct sfcctl *ctl, const char *chain, const char *fn,
		  struct sfc_lb_status **st)
{
	int err = sfc_lb__status(chain, fn, ctl->pin_root, st);

	if (err == -ENOENT)
		return out_error(ctl, "chain %s has no function %s (or is not running)", chain, fn);
	if (err == -EINVAL)
		return out_error(ctl, "function %s of chain %s is not a loadbalancer", fn, chain);
	if (err)
		return out_error(ctl, "cannot read loadbalancer %s of chain %s: %s", fn, chain,
				 strerror(-err));
	return EXIT_OK;
}

/* In sfcctl stats: every load balancer of the chain, after the per-hop table. */
int lb_stats_plain(const struct sfcctl *ctl, const struct sfc_chain_status *st)
{
	struct sfc_lb_status *lb;
	unsigned int i;
	int ret = EXIT_OK;

	for (i = 1; i + 1 < st->n_stages; i++) {
		if (strcmp(st->stages[i].type, "loadbalancer"))
			continue;
		if (lb_get(ctl, st->name, st->stages[i].name, &lb)) {
			ret = EXIT_FAIL;
			continue;
		}
		printf("\n");
		lb_header(lb);
		counters_plain(lb);
		sfc_lb_status__free(lb);
		if (ferror(stdout))
			ret = EXIT_FAIL;
	}
	return ret;
}

/* In sfcctl -j stats: the load balancer object of stage i, or nothing. */
void lb_stats_json(const struct sfcctl *ctl, struct sfc_json *j, const struct sfc_chain_status *st,
		   unsigned int i)
{
	struct sfc_lb_status *lb;

	if (strcmp(st->stages[i].type, "loadbalancer"))
		return;
	if (sfc_lb__status(st->name, st->stages[i].name, ctl->pin_root, &lb))
		return;
	sfc_json__key(j, "loadbalancer");
	lb_json(j, lb);
	sfc_lb_status__free(lb);
}

static int lb_one(const struct sfcctl *ctl, const char *chain, const char *fn, struct sfc_json *j,
		  void *arg)
{
	struct sfc_lb_status *lb;
	int ret = EXIT_OK;

	(void)arg;
	if (lb_get(ctl, chain, fn, &lb))
		return EXIT_FAIL;
	if (j)
		lb_json(j, lb);
	else
		ret = lb_plain(lb);
	sfc_lb_status__free(lb);
	return ret;
}

int cmd_lb(const struct sfcctl *ctl, int argc, char **argv)
{
	const struct fn_each e = {
		.cmd = "lb", .type = "loadbalancer", .array = "loadbalancers", .one = lb_one,
	};

	return for_each_function(ctl, argc, argv, &e);
}
