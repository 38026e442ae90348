// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A running flowmon read back: its flow table summed over the CPUs, the data
 * path's counters and, when the agent runs, the agent's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "shared/sfc_flow.h"

_Static_assert(SFC_FLOW_ENDED_FIN == SFC_FLOW_END_FIN && SFC_FLOW_ENDED_RST == SFC_FLOW_END_RST,
	       "sfc.h and sfc_flow.h disagree on the end bits");
_Static_assert(SFC_FLOW_VERDICT_FORWARDED == SFC_FLOW_V_FORWARDED &&
	       SFC_FLOW_VERDICT_PASSED == SFC_FLOW_V_PASSED &&
	       SFC_FLOW_VERDICT_DROPPED == SFC_FLOW_V_DROPPED &&
	       SFC_FLOW_VERDICT_ABORTED == SFC_FLOW_V_ABORTED,
	       "sfc.h and sfc_flow.h disagree on the verdict bits");

#define BATCH 1024		/* entries per lookup syscall */

static void read_stats(struct sfc_flow_table *t, const char *ndir, int ncpu)
{
	uint64_t sum[SFC_FLOWMON_MAX] = {}, *cpus;
	__u32 k;
	int fd, cpu;

	fd = sfc_pin_get(ndir, "sfc_flowmon_stats");
	if (fd < 0)
		return;
	cpus = calloc(ncpu, sizeof(*cpus));
	for (k = 0; cpus && k < SFC_FLOWMON_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, cpus))
			continue;
		for (cpu = 0; cpu < ncpu; cpu++)
			sum[k] += cpus[cpu];
	}
	free(cpus);
	close(fd);
	t->packets = sum[SFC_FLOWMON_PACKETS];
	t->sampled = sum[SFC_FLOWMON_SAMPLED];
	t->new_flows = sum[SFC_FLOWMON_NEW_FLOWS];
	t->ends = sum[SFC_FLOWMON_ENDS];
	t->ends_lost = sum[SFC_FLOWMON_ENDS_LOST];
	t->insert_failed = sum[SFC_FLOWMON_INSERT_FAILED];
}

static void read_agent(struct sfc_flow_table *t, const char *ndir)
{
	__u64 v[SFC_FLOWMON_AGENT_MAX] = {};
	__u32 k;
	int fd;

	fd = sfc_pin_get(ndir, "sfc_flowmon_agent");
	if (fd < 0)
		return;
	for (k = 0; k < SFC_FLOWMON_AGENT_MAX; k++)
		if (bpf_map_lookup_elem(fd, &k, &v[k]))
			v[k] = 0;
	close(fd);
	t->has_agent = true;
	t->removed = v[SFC_FLOWMON_AGENT_REMOVED];
	t->exported = v[SFC_FLOWMON_AGENT_EXPORTED];
	t->export_errors = v[SFC_FLOWMON_AGENT_EXPORT_ERRORS];
}

static void read_sampling(struct sfc_flow_table *t, const char *ndir)
{
	struct sfc_flowmon_config c = {};
	__u32 k = 0;
	int fd;

	t->sampling = 1;
	fd = sfc_pin_get(ndir, "sfc_flowmon_config");
	if (fd < 0)
		return;
	if (!bpf_map_lookup_elem(fd, &k, &c) && c.sampling > 1)
		t->sampling = c.sampling;
	close(fd);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct reader {
	struct sfc_flow_table *t;
	const struct sfc_chain_info *ci;	/* stage ids to names */
	int ncpu;
	int64_t mono_to_real;	/* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	size_t cap;
};

static uint64_t to_real_ms(const struct reader *r, uint64_t mono_ns)
{
	int64_t ns = (int64_t)mono_ns + r->mono_to_real;

	return mono_ns && ns > 0 ? (uint64_t)ns / 1000000 : 0;
}

/* The name of stage id for sfc_flow_entry.dropped_by. */
static void stage_name(const struct sfc_chain_info *ci, unsigned int id, char *buf, size_t len)
{
	unsigned int i;

	if (id == SFC_STAGE_EGRESS) {
		snprintf(buf, len, "egress");
		return;
	}
	for (i = 0; i < ci->n_functions && i < SFC_MAX_FUNCTIONS; i++) {
		if (ci->fn[i].id == id) {
			snprintf(buf, len, "%s", ci->fn[i].name);
			return;
		}
	}
	snprintf(buf, len, "?");
}

/* One entry: the key and every CPU's copy of the value. */
static int add_flow(struct reader *r, const struct sfc_flow_key *k, const struct sfc_flow *cpus)
{
	struct sfc_flow_table *t = r->t;
	struct sfc_flow_entry *e, *nf;
	uint64_t drop_last = 0;
	uint8_t drop_stage = 0;
	size_t ncap;
	int cpu;

	if (t->n_flows == r->cap) {
		ncap = r->cap ? r->cap * 2 : 256;
		nf = realloc(t->flows, ncap * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		t->flows = nf;
		r->cap = ncap;
	}
	e = &t->flows[t->n_flows++];
	memset(e, 0, sizeof(*e));
	e->dir = k->dir;
	e->family = k->family;
	e->proto = k->proto;
	e->vlan = k->vlan;
	memcpy(e->src, k->src, sizeof(e->src));
	memcpy(e->dst, k->dst, sizeof(e->dst));
	e->sport = ntohs(k->sport);
	e->dport = ntohs(k->dport);
	for (cpu = 0; cpu < r->ncpu; cpu++) {
		const struct sfc_flow *v = &cpus[cpu];

		e->packets += v->packets;
		e->bytes += v->bytes;
		if (v->first_ns && (!e->first_ns || v->first_ns < e->first_ns))
			e->first_ns = v->first_ns;
		if (v->last_ns > e->last_ns)
			e->last_ns = v->last_ns;
		e->tcp_flags |= v->tcp_flags;
		e->end |= v->end;
		e->verdicts |= v->verdicts;
		if ((v->verdicts & SFC_FLOW_V_DROPPED) && v->drop_stage &&
		    (!drop_stage || v->last_ns > drop_last)) {
			drop_stage = v->drop_stage;
			drop_last = v->last_ns;
		}
	}
	if (drop_stage)
		stage_name(r->ci, drop_stage, e->dropped_by, sizeof(e->dropped_by));
	e->first_ms = to_real_ms(r, e->first_ns);
	e->last_ms = to_real_ms(r, e->last_ns);
	return 0;
}

static bool batch_unsupported(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */;
}

/* Entry by entry, where the kernel has no batch lookup. */
static int read_one_by_one(struct reader *r, int fd, struct sfc_flow *vals)
{
	struct sfc_flow_key key, next, *prev = NULL;
	int err;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;	/* deleted meanwhile */
		err = add_flow(r, &key, vals);
		if (err)
			return err;
	}
	return 0;
}

static int read_flows(struct reader *r, int fd)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct sfc_flow_key *keys = NULL;
	struct sfc_flow *vals = NULL;
	__u64 cursor = 0, next = 0;	/* the hash map's cursor is a __u32 bucket index */
	__u32 n, cap = BATCH, i;
	bool first = true, done = false;
	int err = 0;

	/* calloc: valgrind does not know that the batch lookup fills them. */
	keys = calloc(cap, sizeof(*keys));
	vals = calloc((size_t)cap * r->ncpu, sizeof(*vals));
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	while (!done) {
		n = cap;
		err = bpf_map_lookup_batch(fd, first ? NULL : &cursor, &next, keys, vals, &n,
					   &opts) ? -errno : 0;
		if (err == -ENOENT) {
			done = true;	/* the last batch, maybe with entries */
			err = 0;
		} else if (err == -ENOSPC && !n) {
			/* One bucket holds more than cap entries: room for it. */
			cap *= 2;
			free(keys);
			free(vals);
			keys = calloc(cap, sizeof(*keys));
			vals = calloc((size_t)cap * r->ncpu, sizeof(*vals));
			if (!keys || !vals) {
				err = -ENOMEM;
				goto out;
			}
			continue;
		} else if (err && first && batch_unsupported(err)) {
			err = read_one_by_one(r, fd, vals);
			goto out;
		} else if (err) {
			goto out;
		}
		for (i = 0; i < n; i++) {
			err = add_flow(r, &keys[i], &vals[(size_t)i * r->ncpu]);
			if (err)
				goto out;
		}
		cursor = next;
		first = false;
	}
out:
	free(keys);
	free(vals);
	return err;
}

int sfc_flowmon__flows(const char *chain, const char *function, const char *pin_root,
		       struct sfc_flow_table **out)
{
	const char *root = pin_root ? pin_root : SFC_PIN_ROOT;
	char dir[PATH_MAX - 256], ndir[PATH_MAX];
	struct bpf_map_info info = {};
	struct sfc_flow_table *t = NULL;
	struct sfc_chain_info ci;
	struct reader r = {};
	__u32 len = sizeof(info);
	unsigned int i;
	uint64_t real, gone;
	bool found = false;
	int err, fd = -1;

	*out = NULL;
	if (!chain || !sfc_name_valid(chain) || !function || !sfc_name_valid(function))
		return -EINVAL;
	err = sfc_pin_path(dir, sizeof(dir), root, chain, NULL);
	err = err ?: sfc_info_read(dir, &ci);
	if (err)
		return err;
	for (i = 0; i < ci.n_functions && i < SFC_MAX_FUNCTIONS && !found; i++)
		found = !strcmp(ci.fn[i].name, function);
	if (!found)
		return -ENOENT;
	if (strcmp(ci.fn[i - 1].type, "flowmon"))
		return -EINVAL;
	snprintf(ndir, sizeof(ndir), "%s/nf/%s", dir, function);

	r.ncpu = libbpf_num_possible_cpus();
	if (r.ncpu <= 0)
		return r.ncpu ? r.ncpu : -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r.t = t;
	snprintf(t->function, sizeof(t->function), "%s", function);

	fd = sfc_pin_get(ndir, "sfc_flowmon_flows");
	if (fd < 0) {
		err = fd;
		goto out;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	t->max_flows = info.max_entries;
	read_sampling(t, ndir);
	/* Counters before the table: see sfc.h on evictions. */
	read_stats(t, ndir, r.ncpu);
	read_agent(t, ndir);

	real = clock_ns(CLOCK_REALTIME);
	r.mono_to_real = (int64_t)(real - clock_ns(CLOCK_MONOTONIC));
	t->read_at_ms = real / 1000000;
	r.ci = &ci;
	err = read_flows(&r, fd);
	if (err)
		goto out;
	gone = t->removed + t->n_flows;
	t->evictions = t->new_flows > gone ? t->new_flows - gone : 0;
out:
	if (fd >= 0)
		close(fd);
	if (err) {
		sfc_flow_table__free(t);
		return err;
	}
	*out = t;
	return 0;
}

void sfc_flow_table__free(struct sfc_flow_table *t)
{
	if (!t)
		return;
	free(t->flows);
	free(t);
}
