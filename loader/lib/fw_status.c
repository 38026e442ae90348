// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A running firewall read back: the rules of its live generation as the
 * spec pin holds them, what the kernel holds for each (action, rate, line,
 * counters), the classifier's size and the verdict counters.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "json.h"
#include "sfc_yaml.h"
#include "shared/sfc_fw.h"

_Static_assert(SFC_FW_VERDICTS == SFC_FW_V_MAX, "sfc.h and sfc_fw.h disagree on the verdicts");

static const char *const verdict_names[SFC_FW_V_MAX] = {
	[SFC_FW_V_RULE_ALLOW] = "rule_allow",
	[SFC_FW_V_RULE_DROP] = "rule_drop",
	[SFC_FW_V_DEFAULT_ALLOW] = "default_allow",
	[SFC_FW_V_DEFAULT_DROP] = "default_drop",
	[SFC_FW_V_ESTABLISHED] = "established",
	[SFC_FW_V_RELATED] = "related",
	[SFC_FW_V_INVALID] = "invalid",
	[SFC_FW_V_RATE_LIMITED] = "rate_limited",
	[SFC_FW_V_CT_NEW] = "connections_created",
};

const char *sfc_fw_verdict__str(unsigned int verdict)
{
	return verdict < SFC_FW_V_MAX ? verdict_names[verdict] : NULL;
}

static __u32 map_max_entries(const char *dir, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = sfc_pin_get(dir, name);

	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/* Sum of a per-CPU struct sfc_fw_counter. */
static int read_counter(int fd, __u32 key, struct sfc_fw_counter *out, struct sfc_fw_counter *cpus,
			int ncpu)
{
	int cpu;

	out->packets = out->bytes = 0;
	if (bpf_map_lookup_elem(fd, &key, cpus))
		return -errno;
	for (cpu = 0; cpu < ncpu; cpu++) {
		out->packets += cpus[cpu].packets;
		out->bytes += cpus[cpu].bytes;
	}
	return 0;
}

static __u32 count_entries(int fd, size_t key_size)
{
	unsigned char key[64], next[64];
	void *prev = NULL;
	__u32 n = 0;

	if (key_size > sizeof(key))
		return 0;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

/* A YAML/JSON value on one line: scalars as they are, [a, b], {k: v}. */
static void flow_text(struct sfc_json *j, yaml_document_t *doc, yaml_node_t *n)
{
	yaml_node_pair_t *p;
	yaml_node_item_t *it;
	char *s;
	bool first = true;

	if (!n)
		return;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		s = strndup((const char *)n->data.scalar.value, n->data.scalar.length);
		if (s)
			sfc_json__raw_text(j, s);
		free(s);
		break;
	case YAML_SEQUENCE_NODE:
		sfc_json__raw_text(j, "[");
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			sfc_json__raw_text(j, first ? "" : ", ");
			first = false;
			flow_text(j, doc, yaml_document_get_node(doc, *it));
		}
		sfc_json__raw_text(j, "]");
		break;
	case YAML_MAPPING_NODE:
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *v = yaml_document_get_node(doc, p->value);
			bool nested = v && v->type == YAML_MAPPING_NODE;

			sfc_json__raw_text(j, first ? "" : ", ");
			first = false;
			flow_text(j, doc, yaml_document_get_node(doc, p->key));
			sfc_json__raw_text(j, nested ? ": {" : ": ");
			flow_text(j, doc, v);
			if (nested)
				sfc_json__raw_text(j, "}");
		}
		break;
	default:
		break;
	}
}

/*
 * The function's config in the spec pin (canonical JSON, which YAML reads):
 * rule texts, defaultAction, stateful.
 */
static int spec_config(struct sfc_fw_status *st, const char *dir, unsigned int fn_index)
{
	struct sfc_ynode root, fns, fn, cfg, rules, rule, v;
	struct sfc_yaml y;
	struct sfc_diag d = {};
	unsigned int i, n;
	struct sfc_json j;
	int err;

	err = sfc_spec_load(dir, &y, &d, &root);
	if (err)
		goto out;
	sfc_ymap__get(&root, "functions", &fns);
	if (!sfc_ynode__is_seq(&fns) || fn_index >= sfc_yseq__len(&fns)) {
		err = -EINVAL;
		goto out;
	}
	sfc_yseq__at(&fns, fn_index, &fn);
	sfc_ymap__get(&fn, "config", &cfg);
	sfc_ymap__get(&cfg, "default_action", &v);
	st->default_allow = v.n && sfc_ynode__text(&v) && !strcmp(sfc_ynode__text(&v), "allow");
	sfc_ymap__get(&cfg, "stateful", &v);
	st->stateful = v.n && sfc_ynode__text(&v) && !strcmp(sfc_ynode__text(&v), "true");
	sfc_ymap__get(&cfg, "rules", &rules);
	n = sfc_ynode__is_seq(&rules) ? sfc_yseq__len(&rules) : 0;
	for (i = 0; i < n && i < st->n_rules; i++) {
		sfc_yseq__at(&rules, i, &rule);
		sfc_json__init(&j, false);
		flow_text(&j, &y.doc, rule.n);
		st->rules[i].text = sfc_json__take(&j);
		if (!st->rules[i].text) {
			err = -ENOMEM;
			break;
		}
	}
out:
	sfc_spec_unload(&y);
	return err;
}

static int read_rules(struct sfc_fw_status *st, const char *gdir)
{
	struct sfc_fw_counter *cpus = NULL, c;
	int ncpu = libbpf_num_possible_cpus();
	int rules_fd, stats_fd, err = 0;
	struct sfc_fw_rule r;
	__u32 i, n;

	n = map_max_entries(gdir, "sfc_fw_rules");
	rules_fd = sfc_pin_get(gdir, "sfc_fw_rules");
	stats_fd = sfc_pin_get(gdir, "sfc_fw_rule_stats");
	if (rules_fd < 0 || stats_fd < 0 || ncpu <= 0) {
		err = rules_fd < 0 ? rules_fd : stats_fd < 0 ? stats_fd : -EINVAL;
		goto out;
	}
	/* An empty rule set still has one (unused) slot: the line tells. */
	if (n == 1 && !bpf_map_lookup_elem(rules_fd, &(__u32){ 0 }, &r) && !r.line)
		n = 0;
	cpus = calloc(ncpu, sizeof(*cpus));
	st->rules = calloc(n ? n : 1, sizeof(*st->rules));
	if (!cpus || !st->rules) {
		err = -ENOMEM;
		goto out;
	}
	st->n_rules = n;
	for (i = 0; i < n; i++) {
		struct sfc_fw_rule_status *rs = &st->rules[i];

		rs->index = i;
		if (!bpf_map_lookup_elem(rules_fd, &i, &r)) {
			rs->line = r.line;
			rs->allow = r.action == SFC_FW_ALLOW;
			if ((r.flags & SFC_FW_RULE_LIMIT) && r.cost_ps) {
				rs->pps = 1000000000000ULL / r.cost_ps;
				rs->burst = r.burst_ps / r.cost_ps;
			}
		}
		if (!read_counter(stats_fd, i, &c, cpus, ncpu)) {
			rs->packets = c.packets;
			rs->bytes = c.bytes;
		}
	}
out:
	free(cpus);
	if (rules_fd >= 0)
		close(rules_fd);
	if (stats_fd >= 0)
		close(stats_fd);
	return err;
}

static void read_verdicts(struct sfc_fw_status *st, const char *ndir)
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	struct sfc_fw_counter *cpus, c;
	__u32 v;

	fd = sfc_pin_get(ndir, "sfc_fw_verdicts");
	if (fd < 0 || ncpu <= 0)
		goto out;
	cpus = calloc(ncpu, sizeof(*cpus));
	for (v = 0; cpus && v < SFC_FW_V_MAX; v++) {
		if (read_counter(fd, v, &c, cpus, ncpu))
			continue;
		st->verdict_packets[v] = c.packets;
		st->verdict_bytes[v] = c.bytes;
	}
	free(cpus);
out:
	if (fd >= 0)
		close(fd);
}

int sfc_firewall__status(const char *name, const char *function, const char *pin_root,
			 struct sfc_fw_status **out)
{
	const char *root = pin_root ? pin_root : SFC_PIN_ROOT;
	char dir[PATH_MAX - 256], gdir[PATH_MAX], ndir[PATH_MAX];
	struct sfc_fw_status *st = NULL;
	struct sfc_chain_info info;
	unsigned int i, fn = UINT32_MAX;
	int err, fd;

	*out = NULL;
	if (!sfc_name_valid(name) || !function || !sfc_name_valid(function))
		return -EINVAL;
	err = sfc_pin_path(dir, sizeof(dir), root, name, NULL);
	err = err ?: sfc_info_read(dir, &info);
	if (err)
		return err;
	for (i = 0; i < info.n_functions && i < SFC_MAX_FUNCTIONS; i++)
		if (!strcmp(info.fn[i].name, function))
			fn = i;
	if (fn == UINT32_MAX)
		return -ENOENT;
	if (strcmp(info.fn[fn].type, "firewall"))
		return -EINVAL;

	snprintf(gdir, sizeof(gdir), "%s/gen%u/nf/%s", dir, info.generation, function);
	snprintf(ndir, sizeof(ndir), "%s/nf/%s", dir, function);
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	snprintf(st->function, sizeof(st->function), "%s", function);
	st->generation = info.generation;
	err = read_rules(st, gdir);
	if (err)
		goto out;

	err = spec_config(st, dir, fn);
	if (err)
		goto out;

	st->n_tuples = st->n_rules ? map_max_entries(gdir, "sfc_fw_tuples") : 0;
	fd = sfc_pin_get(gdir, "sfc_fw_keys4");
	if (fd >= 0) {
		st->n_keys += count_entries(fd, sizeof(struct sfc_fw_key4));
		close(fd);
	}
	fd = sfc_pin_get(gdir, "sfc_fw_keys6");
	if (fd >= 0) {
		st->n_keys += count_entries(fd, sizeof(struct sfc_fw_key6));
		close(fd);
	}
	fd = sfc_pin_get(gdir, "sfc_fw_sets4");
	if (fd >= 0) {
		st->n_set_prefixes += count_entries(fd, sizeof(struct sfc_fw_lpm4));
		close(fd);
	}
	fd = sfc_pin_get(gdir, "sfc_fw_sets6");
	if (fd >= 0) {
		st->n_set_prefixes += count_entries(fd, sizeof(struct sfc_fw_lpm6));
		close(fd);
	}
	st->max_connections = map_max_entries(ndir, "sfc_fw_ct");
	fd = sfc_pin_get(ndir, "sfc_fw_ct");
	if (fd >= 0) {
		st->connections = count_entries(fd, sizeof(struct sfc_fw_ct_key));
		close(fd);
	}
	read_verdicts(st, ndir);
out:
	if (err) {
		sfc_fw_status__free(st);
		return err;
	}
	*out = st;
	return 0;
}

void sfc_fw_status__free(struct sfc_fw_status *st)
{
	unsigned int i;

	if (!st)
		return;
	for (i = 0; i < st->n_rules; i++)
		free(st->rules[i].text);
	free(st->rules);
	free(st);
}
