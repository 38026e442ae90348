// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reading running chains back from their pins: list, status, counters. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "compat.h"
#include "internal.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A chain's folder: it has info, or the marker of an apply or delete that
 * died, or nothing at all (an apply died right after making it).
 */
static bool is_chain_dir(const char *p)
{
	char sub[PATH_MAX];
	struct dirent *de;
	bool empty = true;
	DIR *d;

	if (snprintf(sub, sizeof(sub), "%s/info", p) < (int)sizeof(sub) && !access(sub, F_OK))
		return true;
	if (snprintf(sub, sizeof(sub), "%s/" SFC_MARK_APPLYING, p) < (int)sizeof(sub) &&
	    !access(sub, F_OK))
		return true;
	if (snprintf(sub, sizeof(sub), "%s/" SFC_MARK_DELETING, p) < (int)sizeof(sub) &&
	    !access(sub, F_OK))
		return true;
	d = opendir(p);
	if (!d)
		return false;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
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
		snprintf(p, sizeof(p), "%s/%s", root, de->d_name);
		if (!is_chain_dir(p))
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

/* gen<N> exactly: *gen = N (>= 1). */
bool sfc_gen_of(const char *name, __u32 *gen)
{
	unsigned long v;
	char *end;

	if (strncmp(name, "gen", 3) || name[3] < '1' || name[3] > '9')
		return false;
	errno = 0;
	v = strtoul(name + 3, &end, 10);
	if (*end || errno || v >= SFC_GEN_UNKNOWN)
		return false;
	*gen = v;
	return true;
}

bool sfc_gen_complete(const char *dir, __u32 gen)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "gen%u/entry_fwd", gen);
	if (!pinned_prog_id(dir, rel))
		return false;
	snprintf(rel, sizeof(rel), "gen%u/entry_rev", gen);
	return pinned_prog_id(dir, rel) != 0;
}

/*
 * Which generation each root_progs slot runs: the slot's program id (a
 * lookup in a program array from user space gives the id) against the ids
 * of the gen<N>/entry_fwd|entry_rev pins.
 */
int sfc_live_read(const char *dir, struct sfc_live *l)
{
	__u32 ids[SFC_LIVE_MAX_GENS][2], slot[2] = {}, dir_i, gen, k;
	char p[PATH_MAX], rel[64];
	struct dirent *de;
	int fd, err = 0;
	DIR *d;

	memset(l, 0, sizeof(*l));
	snprintf(p, sizeof(p), "%s/" SFC_MARK_APPLYING, dir);
	l->applying = !access(p, F_OK);
	snprintf(p, sizeof(p), "%s/" SFC_MARK_DELETING, dir);
	l->deleting = !access(p, F_OK);

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!sfc_gen_of(de->d_name, &gen))
			continue;
		if (gen > l->max_gen)
			l->max_gen = gen;
		if (l->n_gens < SFC_LIVE_MAX_GENS) {
			k = l->n_gens;
			l->gens[k] = gen;
			snprintf(rel, sizeof(rel), "gen%u/entry_fwd", gen);
			ids[k][0] = pinned_prog_id(dir, rel);
			snprintf(rel, sizeof(rel), "gen%u/entry_rev", gen);
			ids[k][1] = pinned_prog_id(dir, rel);
		}
		l->n_gens++;
	}
	closedir(d);

	snprintf(p, sizeof(p), "%s/root_progs", dir);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return -errno;
	for (dir_i = 0; dir_i < 2; dir_i++) {
		if (bpf_map_lookup_elem(fd, &dir_i, &slot[dir_i]))
			slot[dir_i] = 0;	/* ENOENT: empty */
		l->gen[dir_i] = slot[dir_i] ? SFC_GEN_UNKNOWN : SFC_GEN_EMPTY;
		for (k = 0; slot[dir_i] && k < l->n_gens && k < SFC_LIVE_MAX_GENS; k++)
			if (ids[k][dir_i] == slot[dir_i])
				l->gen[dir_i] = l->gens[k];
	}
	close(fd);
	return err;
}

/* nf/<name>/ folders of functions the chain does not record. */
static unsigned int stray_functions(const char *dir, const struct sfc_chain_info *info)
{
	char p[PATH_MAX];
	struct dirent *de;
	unsigned int n = 0, i;
	bool known;
	DIR *d;

	snprintf(p, sizeof(p), "%s/nf", dir);
	d = opendir(p);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		known = false;
		for (i = 0; i < info->n_functions && i < SFC_MAX_FUNCTIONS; i++)
			known |= !strcmp(de->d_name, info->fn[i].name);
		n += !known;
	}
	closedir(d);
	return n;
}

/* Whether ifindex still names the interface ifname (in the current netns). */
static bool iface_gone(__u32 ifindex, const char *ifname)
{
	char name[IF_NAMESIZE];

	return !if_indextoname(ifindex, name) || strcmp(name, ifname);
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

static int status_of(const char *name, const char *root, bool busy,
		     struct sfc_chain_status **out)
{
	struct sfc_chain_status *st;
	struct sfc_chain_info info;
	char dir[PATH_MAX - 64], rel[128], link_pin[PATH_MAX];
	struct sfc_live live;
	int err, stats_fd, saved_ns = -1;
	unsigned int i;

	*out = NULL;
	if (!sfc_name_valid(name))
		return -EINVAL;
	err = sfc_pin_path(dir, sizeof(dir), root, name, NULL);
	if (err)
		return err;
	memset(&info, 0, sizeof(info));
	err = sfc_info_read(dir, &info);
	/* Made but never recorded: an apply that was creating it died. */
	if ((err == -ENOENT && !access(dir, F_OK)) ||
	    (err == -EPROTO && info.abi_version == 0) || (!err && !info.generation))
		return -EINPROGRESS;
	if (err)
		return err;
	if (sfc_live_read(dir, &live))
		memset(&live, 0, sizeof(live));

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
	{
		struct sfc_chain_layout l;

		err = sfc_compat__layout_read(dir, &l);
		snprintf(st->applied_by, sizeof(st->applied_by), "%.31s",
			 !err ? l.applied_by : err == -ENOENT ? "0.1.0" : "");
		err = 0;
	}
	st->generation = info.generation;
	st->applied_at_ns = info.applied_at_ns;
	st->egress = info.egress;
	st->spec_json = sfc_spec_read(dir);
	st->spec_mismatch = !st->spec_json || sfc_hash(st->spec_json) != info.full_hash;
	st->live_generation[0] = live.gen[0];
	st->live_generation[1] = live.gen[1];
	for (i = 0; i < live.n_gens && i < SFC_LIVE_MAX_GENS; i++)
		st->stray_generations += live.gens[i] != info.generation;
	if (live.n_gens > SFC_LIVE_MAX_GENS)
		st->stray_generations += live.n_gens - SFC_LIVE_MAX_GENS;
	st->stray_functions = stray_functions(dir, &info);
	st->interrupted = live.applying;
	st->deleting = live.deleting;
	/* While an apply or delete runs, these are its steps, not damage. */
	st->busy = busy;
	st->needs_recovery = !busy &&
			     (live.gen[0] != info.generation || live.gen[1] != info.generation ||
			      st->stray_generations || st->stray_functions || st->interrupted ||
			      st->deleting || st->spec_mismatch);

	/* Whether the kernel still has the roots on the interfaces. */
	err = sfc_netns_enter(info.netns, &saved_ns);
	if (err) {
		saved_ns = -2;
		st->netns_gone = err == -ENOENT;
	}
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
		a->iface_gone = saved_ns == -2 ? st->netns_gone : iface_gone(a->ifindex, a->ifname);
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

/*
 * Under a shared lock of the pin root when it can be had at once, so that
 * what status reads is not half an apply; when an apply or a delete holds
 * it, status reads anyway and says so (busy) rather than wait.
 */
int sfc_chain__status(const char *name, const char *pin_root, struct sfc_chain_status **out)
{
	const char *root = pin_root ? pin_root : SFC_PIN_ROOT;
	int fd, err;
	bool busy = false;

	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB))
		busy = errno == EWOULDBLOCK;
	err = status_of(name, root, busy, out);
	if (fd >= 0)
		close(fd);
	return err;
}

void sfc_chain_status__free(struct sfc_chain_status *st)
{
	if (!st)
		return;
	free(st->stages);
	free(st->spec_json);
	free(st);
}
