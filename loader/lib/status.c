// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reading running chains back from their pins: list, status, counters. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "internal.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int sfc_chain__list(const char *pin_root, char ***names, size_t *n)
{
	char **v = NULL, **nv, p[PATH_MAX];
	const char *root = pin_root ? pin_root : SFC_PIN_ROOT;
	struct dirent *de;
	size_t cnt = 0;
	DIR *d;

	*names = NULL;
	*n = 0;
	d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!sfc_name_valid(de->d_name))
			continue;
		snprintf(p, sizeof(p), "%s/%s/info", root, de->d_name);
		if (access(p, F_OK))
			continue;
		nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv)
			goto oom;
		v = nv;
		v[cnt] = strdup(de->d_name);
		if (!v[cnt])
			goto oom;
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_str);
	*names = v;
	*n = cnt;
	return 0;
oom:
	closedir(d);
	sfc_chain__list_free(v, cnt);
	return -ENOMEM;
}

void sfc_chain__list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

static __u32 pinned_prog_id(const char *dir, const char *rel)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char p[PATH_MAX];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.id = 0;
	close(fd);
	return info.id;
}

static void read_stats(int fd, __u32 id, struct sfc_stage_stats out[2])
{
	struct sfc_hop_stats *v;
	int ncpu = libbpf_num_possible_cpus(), cpu;
	__u32 dir, key;

	memset(out, 0, 2 * sizeof(*out));
	if (fd < 0 || ncpu <= 0)
		return;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return;
	for (dir = 0; dir < 2; dir++) {
		key = SFC_STATS_KEY(id, dir);
		if (bpf_map_lookup_elem(fd, &key, v))
			continue;
		for (cpu = 0; cpu < ncpu; cpu++) {
			out[dir].packets += v[cpu].packets;
			out[dir].bytes += v[cpu].bytes;
			out[dir].handed_on += v[cpu].handed_on;
			out[dir].dropped += v[cpu].dropped;
			out[dir].passed += v[cpu].passed;
			out[dir].forwarded += v[cpu].forwarded;
			out[dir].aborted += v[cpu].aborted;
			out[dir].tail_call_miss += v[cpu].tail_call_miss;
			out[dir].invalid += v[cpu].invalid;
		}
	}
	free(v);
}

static void fill_stage(struct sfc_chain_status *st, const char *dir, int stats_fd,
		       const char *name, const char *type, __u32 id, const char *prog)
{
	struct sfc_stage_status *g = &st->stages[st->n_stages++];

	snprintf(g->name, sizeof(g->name), "%s", name);
	snprintf(g->type, sizeof(g->type), "%s", type);
	g->id = id;
	g->prog_id = pinned_prog_id(dir, prog);
	read_stats(stats_fd, id, g->stats);
}

int sfc_chain__status(const char *name, const char *pin_root, struct sfc_chain_status **out)
{
	const char *root = pin_root ? pin_root : SFC_PIN_ROOT;
	struct sfc_chain_status *st;
	struct sfc_chain_info info;
	char dir[PATH_MAX - 64], rel[128], link_pin[PATH_MAX];
	int err, stats_fd, saved_ns = -1;
	unsigned int i;

	*out = NULL;
	if (!sfc_name_valid(name))
		return -EINVAL;
	err = sfc_pin_path(dir, sizeof(dir), root, name, NULL);
	if (err)
		return err;
	err = sfc_info_read(dir, &info);
	if (err)
		return err;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->stages = calloc(info.n_functions + 2, sizeof(*st->stages));
	if (!st->stages) {
		free(st);
		return -ENOMEM;
	}
	snprintf(st->name, sizeof(st->name), "%s", name);
	snprintf(st->netns, sizeof(st->netns), "%s", info.netns);
	st->abi_version = info.abi_version;
	st->generation = info.generation;
	st->applied_at_ns = info.applied_at_ns;
	st->egress = info.egress;
	st->spec_json = sfc_spec_read(dir);

	/* Whether the kernel still has the roots on the interfaces. */
	if (sfc_netns_enter(info.netns, &saved_ns))
		saved_ns = -2;
	for (i = 0; i < 2; i++) {
		struct sfc_attachment *a = &st->attach[i];

		if (!info.method[i])
			continue;
		st->n_attach = i + 1;
		snprintf(a->ifname, sizeof(a->ifname), "%s", info.ifname[i]);
		a->ifindex = info.ifindex[i];
		a->method = info.method[i];
		a->mode = info.mode[i];
		a->prog_id = pinned_prog_id(dir, i ? "root_rev" : "root_fwd");
		snprintf(link_pin, sizeof(link_pin), "%s/link_%s", dir, i ? "rev" : "fwd");
		a->attached = saved_ns != -2 &&
			      sfc_attached(a->prog_id, a->ifindex, a->method, link_pin);
	}
	if (saved_ns != -2)
		sfc_netns_leave(saved_ns);

	snprintf(link_pin, sizeof(link_pin), "%s/stats", dir);
	stats_fd = bpf_obj_get(link_pin);
	snprintf(rel, sizeof(rel), "gen%u/entry_fwd", info.generation);
	fill_stage(st, dir, stats_fd, "entry", "entry", SFC_STAGE_ENTRY, rel);
	for (i = 0; i < info.n_functions && i < SFC_MAX_FUNCTIONS; i++) {
		snprintf(rel, sizeof(rel), "gen%u/fn_%s", info.generation, info.fn[i].name);
		fill_stage(st, dir, stats_fd, info.fn[i].name, info.fn[i].type, info.fn[i].id, rel);
	}
	snprintf(rel, sizeof(rel), "gen%u/egress", info.generation);
	fill_stage(st, dir, stats_fd, "egress", "egress", SFC_STAGE_EGRESS, rel);
	if (stats_fd >= 0)
		close(stats_fd);
	*out = st;
	return 0;
}

void sfc_chain_status__free(struct sfc_chain_status *st)
{
	if (!st)
		return;
	free(st->stages);
	free(st->spec_json);
	free(st);
}
