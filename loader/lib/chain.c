// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Applying and deleting chains.
 *
 * A chain is two layers of pins under <root>/<chain>/:
 *  - the base, made once: the root programs attached to the interfaces, the
 *    root program array (slot per direction), the scratch and the per-hop
 *    counters, the info and spec maps, the links;
 *  - generations gen<N>/: the entry, the functions and the egress, loaded
 *    together with their own program array.
 * A structural change builds generation N+1 beside N, then writes the root
 * array's two slots: each direction switches to the new generation in one
 * atomic step. Generation N is unpinned only after an RCU grace period, when
 * no packet can still be inside it. Function maps live in nf/<function>/ and
 * are reused by every generation, so state survives re-applies.
 *
 * An apply or delete may die anywhere (kill -9). info is the commit point;
 * the applying/deleting markers say that one did not finish, and the next
 * apply reads from the kernel what runs and repairs the rest (recover(),
 * docs/design.md "Crash safety").
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/membarrier.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "compat.h"
#include "internal.h"
#include "nf.h"
#include "sfc_entry.skel.h"
#include "sfc_root.skel.h"

#define LOG_BUF_SIZE (1 << 20)

struct apply_ctx {
	const struct sfc_chain_spec *spec;
	const char *root;		/* pin root */
	char dir[PATH_MAX];		/* <root>/<chain> */
	struct sfc_diag *diag;
	struct sfc_chain_info old;	/* valid when exists */
	bool exists;
	struct sfc_live live;		/* what the pins say runs (exists) */
	bool rebuild;			/* recovered: build a new generation whatever changed */
	bool marked;			/* this apply made <chain>/applying */
	struct sfc_chain_info info;	/* what this apply makes */
	int ifindex[2];
	/* base */
	int stats_fd, scratch_fd, root_progs_fd;
	int root_fd[2];
	/* the generation being built */
	struct sfc_entry *entry;
	struct bpf_object *nf_obj[SFC_MAX_FUNCTIONS];
	bool nf_dir_new[SFC_MAX_FUNCTIONS];
	char gen_dir[PATH_MAX];
	char *log_buf;
};

const char *sfc_apply_result__str(enum sfc_apply_result r)
{
	switch (r) {
	case SFC_APPLY_CREATED: return "created";
	case SFC_APPLY_UNCHANGED: return "unchanged";
	case SFC_APPLY_CONFIG: return "config";
	case SFC_APPLY_SWAPPED: return "swapped";
	case SFC_APPLY_REATTACHED: return "reattached";
	}
	return "?";
}

const char *sfc_attach_method__str(enum sfc_attach_method m)
{
	switch (m) {
	case SFC_ATTACH_LINK: return "link";
	case SFC_ATTACH_LIBXDP: return "libxdp";
	default: return "none";
	}
}

const char *sfc_xdp_mode__str(enum sfc_xdp_mode m)
{
	switch (m) {
	case SFC_XDP_MODE_NATIVE: return "native";
	case SFC_XDP_MODE_SKB: return "skb";
	default: return "auto";
	}
}

const char *sfc_egress__str(enum sfc_egress a)
{
	switch (a) {
	case SFC_EGRESS_ACTION_TX: return "tx";
	case SFC_EGRESS_ACTION_REDIRECT: return "redirect";
	default: return "pass";
	}
}

static int path_of(struct apply_ctx *c, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int path_of(struct apply_ctx *c, char *buf, size_t len, const char *fmt, ...)
{
	char rel[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(rel))
		return -ENAMETOOLONG;
	return snprintf(buf, len, "%s/%s", c->dir, rel) >= (int)len ? -ENAMETOOLONG : 0;
}

static int obj_get(struct apply_ctx *c, const char *rel)
{
	char p[PATH_MAX];
	int fd;

	if (path_of(c, p, sizeof(p), "%s", rel))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(p);
	return fd < 0 ? -errno : fd;
}

static int pin_fd(struct apply_ctx *c, int fd, const char *fmt, const char *arg)
{
	char rel[256], p[PATH_MAX];

	snprintf(rel, sizeof(rel), fmt, arg);
	if (path_of(c, p, sizeof(p), "%s", rel))
		return -ENAMETOOLONG;
	return bpf_obj_pin(fd, p) ? -errno : 0;
}

/* ---- info and spec maps ------------------------------------------------ */

int sfc_info_read(const char *dir, struct sfc_chain_info *info)
{
	/* Checks the pinned value's size first: another release's may be larger. */
	return sfc_compat__info_read(dir, info);
}

static int map_write_pinned(struct apply_ctx *c, const char *name, const void *val)
{
	__u32 key = 0;
	int fd, err;

	fd = obj_get(c, name);
	if (fd < 0)
		return fd;
	err = bpf_map_update_elem(fd, &key, val, BPF_ANY) ? -errno : 0;
	close(fd);
	return err;
}

static int write_state(struct apply_ctx *c)
{
	struct timespec now;
	char *json;
	int err;

	clock_gettime(CLOCK_REALTIME, &now);
	c->info.applied_at_ns = (__u64)now.tv_sec * 1000000000ULL + now.tv_nsec;

	json = sfc_chain_spec__to_json(c->spec, true);
	if (!json)
		return -ENOMEM;
	err = sfc_spec_write(c->dir, json);
	free(json);
	/* What the functions' maps are made with (compat.h), before info. */
	if (!err)
		err = sfc_compat__record(c->dir, c->spec);
	if (!err)
		err = map_write_pinned(c, "info", &c->info);
	return err;
}

static int create_state_maps(struct apply_ctx *c)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sfc_info", 4, sizeof(struct sfc_chain_info), 1, &o);
	if (fd < 0)
		return -errno;
	err = pin_fd(c, fd, "%s", "info");
	close(fd);
	if (err)
		return err;
	return sfc_spec_write(c->dir, "");
}

/* ---- host checks ------------------------------------------------------- */

static int iface_mac(const char *ifname, __u8 mac[6])
{
	struct ifreq ifr = {};
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

/* In the chain's netns: resolve the interfaces. */
static int host_checks(struct apply_ctx *c, struct sfc_egress_cfg *eg)
{
	const struct sfc_chain_spec *s = c->spec;
	const char *ns = c->info.netns[0] ? c->info.netns : NULL;
	char where[96] = "";
	int err;

	if (ns)
		snprintf(where, sizeof(where), " in netns %s", ns);
	c->ifindex[0] = if_nametoindex(s->interface);
	if (!c->ifindex[0])
		return sfc_diag_set(c->diag, -ENODEV, "spec.interface", "no interface \"%s\"%s",
				    s->interface, where);
	c->ifindex[1] = 0;
	if (s->egress.action == SFC_EGRESS_ACTION_REDIRECT) {
		c->ifindex[1] = if_nametoindex(s->egress.interface);
		if (!c->ifindex[1])
			return sfc_diag_set(c->diag, -ENODEV, "spec.egress.interface",
					    "no interface \"%s\"%s", s->egress.interface, where);
	}
	memset(eg, 0, sizeof(*eg));
	eg->ifindex[0] = c->ifindex[0];
	eg->ifindex[1] = c->ifindex[1];
	eg->action = s->egress.action == SFC_EGRESS_ACTION_REDIRECT ? SFC_EGRESS_REDIRECT :
		     s->egress.action == SFC_EGRESS_ACTION_TX ? SFC_EGRESS_TX : SFC_EGRESS_PASS;
	if (s->egress.has_next_hop) {
		eg->has_next_hop = 1;
		memcpy(eg->next_hop_mac, s->egress.next_hop_mac, 6);
		err = iface_mac(c->ifindex[1] ? s->egress.interface : s->interface, eg->out_mac);
		if (err)
			return sfc_diag_set(c->diag, err, "spec.egress.nextHopMac",
					    "cannot read the MAC address of the egress interface: %s",
					    strerror(-err));
	}
	return 0;
}

/* ---- loading ------------------------------------------------------------ */

static void log_verifier(const char *what, const char *log)
{
	if (log && *log)
		sfc_log(SFC_LOG_DEBUG, "verifier log for %s:\n%s", what, log);
}

/* Load an object whose programs log into c->log_buf on failure. */
static int load_obj(struct apply_ctx *c, struct bpf_object *obj, const char *what, const char *path)
{
	struct bpf_program *prog;
	const char *tail;
	int err;

	c->log_buf[0] = '\0';
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_log_buf(prog, c->log_buf, LOG_BUF_SIZE);
	err = bpf_object__load(obj);
	if (!err)
		return 0;
	log_verifier(what, c->log_buf);
	/* The diag holds the end of the log: where the verifier stopped. */
	tail = c->log_buf;
	if (strlen(tail) > 400)
		tail += strlen(tail) - 400;
	return sfc_diag_set(c->diag, err, path, "cannot load %s: %s%s%s%s", what, strerror(-err),
			    *tail ? "; the verifier's log ends with:\n" : "", tail,
			    *tail ? "\n(sfcctl -v shows the whole log)" : "");
}

static bool is_chain_map(const char *name)
{
	return !strcmp(name, "sfc_progs") || !strcmp(name, "sfc_scratch") ||
	       !strcmp(name, "sfc_stats");
}

static int reuse_chain_maps(struct apply_ctx *c, struct bpf_object *obj, int progs_fd)
{
	struct bpf_map *map;
	const char *name;
	int err = 0, fd;

	bpf_object__for_each_map(map, obj) {
		name = bpf_map__name(map);
		if (!strcmp(name, "sfc_progs"))
			fd = progs_fd;
		else if (!strcmp(name, "sfc_scratch"))
			fd = c->scratch_fd;
		else if (!strcmp(name, "sfc_stats"))
			fd = c->stats_fd;
		else
			continue;
		if (fd < 0)
			continue;
		err = bpf_map__reuse_fd(map, fd);
		if (err)
			return err;
	}
	return 0;
}

static int load_base(struct apply_ctx *c)
{
	struct sfc_root *root;
	int err;

	root = sfc_root__open();
	if (!root)
		return sfc_diag_set(c->diag, -errno, NULL, "cannot open the root object: %s",
				    strerror(errno));
	err = load_obj(c, root->obj, "the root programs", NULL);
	if (err)
		goto out;
	err = pin_fd(c, bpf_map__fd(root->maps.sfc_stats), "%s", "stats");
	err = err ?: pin_fd(c, bpf_map__fd(root->maps.sfc_scratch), "%s", "scratch");
	err = err ?: pin_fd(c, bpf_map__fd(root->maps.sfc_root_progs), "%s", "root_progs");
	err = err ?: pin_fd(c, bpf_program__fd(root->progs.sfc_root_fwd), "%s", "root_fwd");
	err = err ?: pin_fd(c, bpf_program__fd(root->progs.sfc_root_rev), "%s", "root_rev");
	if (err)
		sfc_diag_set(c->diag, err, NULL, "cannot pin under %s: %s", c->dir, strerror(-err));
out:
	sfc_root__destroy(root);
	return err;
}

static int open_base(struct apply_ctx *c)
{
	c->stats_fd = obj_get(c, "stats");
	c->scratch_fd = obj_get(c, "scratch");
	c->root_progs_fd = obj_get(c, "root_progs");
	c->root_fd[0] = obj_get(c, "root_fwd");
	c->root_fd[1] = obj_get(c, "root_rev");
	if (c->stats_fd < 0 || c->scratch_fd < 0 || c->root_progs_fd < 0 || c->root_fd[0] < 0 ||
	    c->root_fd[1] < 0)
		return sfc_diag_set(c->diag, -ENOENT, NULL,
				    "chain %s is damaged: pins missing under %s (sfcctl delete %s)",
				    c->spec->name, c->dir, c->spec->name);
	return 0;
}

static void close_base(struct apply_ctx *c)
{
	int *fds[] = { &c->stats_fd, &c->scratch_fd, &c->root_progs_fd, &c->root_fd[0], &c->root_fd[1] };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* Stable stage ids: a function keeps its id as long as its name stays. */
static void assign_ids(struct apply_ctx *c)
{
	const struct sfc_chain_spec *s = c->spec;
	bool used[SFC_MAX_STAGES] = { [SFC_STAGE_ENTRY] = true, [SFC_STAGE_EGRESS] = true };
	struct sfc_hop_stats *zero;
	unsigned int i, j, id;
	int ncpu;
	__u32 key;

	memset(c->info.fn, 0, sizeof(c->info.fn));
	c->info.n_functions = s->n_functions;
	for (i = 0; i < s->n_functions; i++) {
		snprintf(c->info.fn[i].name, sizeof(c->info.fn[i].name), "%s", s->functions[i].name);
		snprintf(c->info.fn[i].type, sizeof(c->info.fn[i].type), "%s", s->functions[i].type->name);
		for (j = 0; c->exists && j < c->old.n_functions; j++)
			if (!strcmp(c->old.fn[j].name, s->functions[i].name))
				c->info.fn[i].id = c->old.fn[j].id;
		if (c->info.fn[i].id)
			used[c->info.fn[i].id] = true;
	}
	ncpu = libbpf_num_possible_cpus();
	zero = ncpu > 0 ? calloc(ncpu, sizeof(*zero)) : NULL;
	for (i = 0; i < s->n_functions; i++) {
		if (c->info.fn[i].id)
			continue;
		for (id = SFC_STAGE_FIRST_NF; used[id]; id++)
			;
		used[id] = true;
		c->info.fn[i].id = id;
		/* A new function starts from zero, whoever had the id before. */
		for (key = SFC_STATS_KEY(id, 0); zero && key <= SFC_STATS_KEY(id, 1); key++)
			bpf_map_update_elem(c->stats_fd, &key, zero, BPF_ANY);
	}
	free(zero);
}

static int nf_map_dir(struct apply_ctx *c, char *buf, size_t len, const char *fn)
{
	return path_of(c, buf, len, "nf/%s", fn);
}

static int gen_nf_dir(struct apply_ctx *c, char *buf, size_t len, const char *fn)
{
	return path_of(c, buf, len, "gen%u/nf/%s", c->info.generation, fn);
}

/*
 * A map pinned by an earlier generation, or by another release, is reused
 * as it is; libbpf refuses one whose layout differs with a bare EINVAL, or
 * misreads one of the same sizes. Say which map and what changed instead
 * (a table resized by the config, a struct of another release).
 */
static int check_pinned_map(struct apply_ctx *c, struct bpf_object *obj, struct bpf_map *map,
			    const char *pin, const char *path, const char *what)
{
	/* Its size, type, key and value sizes, and their BTF member by member. */
	return sfc_compat__check_map(c->diag, c->spec->name, what, path, obj, map, pin);
}

/*
 * The function whose hook fills SFC_SLOT_HOOK: the first, in file order,
 * whose type has one; -1 for none. One per chain: a later flowmon, say,
 * records no verdicts.
 */
static int hook_owner(const struct sfc_chain_spec *s)
{
	unsigned int i;

	for (i = 0; i < s->n_functions; i++)
		if (s->functions[i].type->hook_prog_name)
			return i;
	return -1;
}

/* Before load: the owner arms its hook; the others' hook is not loaded. */
static int prepare_hook(struct apply_ctx *c, unsigned int i, struct bpf_object *obj)
{
	const struct sfc_nf_type *type = c->spec->functions[i].type;
	struct bpf_program *prog;
	__u8 one = 1;

	if (!type->hook_prog_name)
		return 0;
	if (hook_owner(c->spec) == (int)i)
		return sfc_nf__set_rodata(obj, "sfc_hook_owner", &one, sizeof(one));
	prog = bpf_object__find_program_by_name(obj, type->hook_prog_name);
	return prog ? bpf_program__set_autoload(prog, false) : -ENOENT;
}

static int load_function(struct apply_ctx *c, unsigned int i, int progs_fd)
{
	const struct sfc_function *fn = &c->spec->functions[i];
	char path[64], dir[PATH_MAX], gdir[PATH_MAX], pin[PATH_MAX + 64], what[96];
	bool has_gen_maps = false;
	struct bpf_object *obj;
	struct bpf_map *map;
	__u32 id = c->info.fn[i].id;
	struct stat st;
	int err;

	snprintf(path, sizeof(path), "spec.functions[%u]", i);
	snprintf(what, sizeof(what), "function %s (%s)", fn->name, fn->type->name);
	obj = fn->type->open();
	if (!obj)
		return sfc_diag_set(c->diag, -errno, path, "cannot open %s: %s", what, strerror(errno));
	c->nf_obj[i] = obj;

	err = nf_map_dir(c, dir, sizeof(dir), fn->name);
	err = err ?: gen_nf_dir(c, gdir, sizeof(gdir), fn->name);
	if (err)
		return err;
	c->nf_dir_new[i] = stat(dir, &st) != 0;
	err = sfc_mkdir_p(dir);
	if (err)
		return sfc_diag_set(c->diag, err, path, "cannot create %s: %s", dir, strerror(-err));

	err = reuse_chain_maps(c, obj, progs_fd);
	if (err)
		return sfc_diag_set(c->diag, err, path, "%s: cannot share the chain maps: %s", what,
				    strerror(-err));
	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map) || is_chain_map(bpf_map__name(map)))
			continue;
		if (sfc_nf__is_gen_map(fn->type, bpf_map__name(map))) {
			snprintf(pin, sizeof(pin), "%s/%s", gdir, bpf_map__name(map));
			has_gen_maps = true;
		} else {
			snprintf(pin, sizeof(pin), "%s/%s", dir, bpf_map__name(map));
		}
		err = bpf_map__set_pin_path(map, pin);
		if (err)
			return err;
	}
	if (has_gen_maps) {
		err = sfc_mkdir_p(gdir);
		if (err)
			return sfc_diag_set(c->diag, err, path, "cannot create %s: %s", gdir,
					    strerror(-err));
	}
	err = sfc_nf__set_rodata(obj, "sfc_stage_id", &id, sizeof(id));
	if (err)
		return sfc_diag_set(c->diag, err, path, "%s: object has no sfc_stage_id: %s", what,
				    strerror(-err));
	err = prepare_hook(c, i, obj);
	if (err)
		return sfc_diag_set(c->diag, err, path, "%s: cannot set up its verdict hook %s: %s",
				    what, fn->type->hook_prog_name, strerror(-err));
	if (fn->type->prepare) {
		err = fn->type->prepare(obj, fn->config);
		if (err)
			return sfc_diag_set(c->diag, err, path, "%s: %s", what, strerror(-err));
	}
	bpf_object__for_each_map(map, obj) {
		if (!bpf_map__pin_path(map) || sfc_nf__is_gen_map(fn->type, bpf_map__name(map)))
			continue;
		err = check_pinned_map(c, obj, map, bpf_map__pin_path(map), path, what);
		if (err)
			return err;
	}
	return load_obj(c, obj, what, path);
}

/*
 * Before a config-only update: would the new config fit the pinned maps?
 * prepare() on a fresh (never loaded) object gives the sizes it asks for.
 */
static int precheck_function(struct apply_ctx *c, unsigned int i)
{
	const struct sfc_function *fn = &c->spec->functions[i];
	char path[64], dir[PATH_MAX], pin[PATH_MAX + 64], what[96];
	struct bpf_object *obj;
	struct bpf_map *map;
	int err;

	if (!fn->type->prepare)
		return 0;
	snprintf(path, sizeof(path), "spec.functions[%u]", i);
	snprintf(what, sizeof(what), "function %s (%s)", fn->name, fn->type->name);
	err = nf_map_dir(c, dir, sizeof(dir), fn->name);
	if (err)
		return err;
	obj = fn->type->open();
	if (!obj)
		return sfc_diag_set(c->diag, -errno, path, "cannot open %s: %s", what, strerror(errno));
	err = fn->type->prepare(obj, fn->config);
	if (err)
		sfc_diag_set(c->diag, err, path, "%s: %s", what, strerror(-err));
	bpf_object__for_each_map(map, obj) {
		if (err)
			break;
		if (bpf_map__is_internal(map) || is_chain_map(bpf_map__name(map)) ||
		    sfc_nf__is_gen_map(fn->type, bpf_map__name(map)))
			continue;
		snprintf(pin, sizeof(pin), "%s/%s", dir, bpf_map__name(map));
		err = check_pinned_map(c, obj, map, pin, path, what);
	}
	bpf_object__close(obj);
	return err;
}

static int configure_function(struct apply_ctx *c, unsigned int i)
{
	const struct sfc_function *fn = &c->spec->functions[i];
	char dir[PATH_MAX], gdir[PATH_MAX], path[64];
	struct sfc_nf_ctx nc = {
		.chain = c->spec->name, .fn = fn, .map_dir = dir, .gen_dir = gdir, .diag = c->diag,
	};
	int err;

	if (!fn->type->configure)
		return 0;
	err = nf_map_dir(c, dir, sizeof(dir), fn->name);
	err = err ?: gen_nf_dir(c, gdir, sizeof(gdir), fn->name);
	if (err)
		return err;
	err = fn->type->configure(&nc, fn->config);
	if (err && !c->diag->msg[0]) {
		snprintf(path, sizeof(path), "spec.functions[%u].config", i);
		sfc_diag_set(c->diag, err, path, "cannot configure function %s: %s", fn->name,
			     strerror(-err));
	}
	return err;
}

static int prog_fd_by_name(struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);

	return p ? bpf_program__fd(p) : -ENOENT;
}

/* Build generation c->info.generation: load, fill its program array, pin. */
static int build_generation(struct apply_ctx *c, const struct sfc_egress_cfg *eg)
{
	const struct sfc_chain_spec *s = c->spec;
	int progs_fd, egress_fd, hook_fd, owner, fd, err;
	unsigned int i, slot, n = s->n_functions;
	char rel[128];

	snprintf(rel, sizeof(rel), "gen%u", c->info.generation);
	err = path_of(c, c->gen_dir, sizeof(c->gen_dir), "%s", rel);
	if (err)
		return err;
	sfc_rm_tree(c->gen_dir);	/* the remains of an apply that died */

	c->entry = sfc_entry__open();
	if (!c->entry)
		return sfc_diag_set(c->diag, -errno, NULL, "cannot open the entry object: %s",
				    strerror(errno));
	memcpy((void *)&c->entry->rodata->sfc_egress_cfg, eg, sizeof(*eg));
	err = reuse_chain_maps(c, c->entry->obj, -1);
	if (err)
		return sfc_diag_set(c->diag, err, NULL, "entry: cannot share the chain maps: %s",
				    strerror(-err));
	err = load_obj(c, c->entry->obj, "the chain entry", NULL);
	if (err)
		return err;
	progs_fd = bpf_map__fd(c->entry->maps.sfc_progs);
	egress_fd = bpf_program__fd(c->entry->progs.sfc_egress);

	for (i = 0; i < n; i++) {
		err = load_function(c, i, progs_fd);
		if (err)
			return err;
	}

	/* Forward: functions in order; reverse: in reverse order; egress after. */
	for (slot = 0; slot < 2 * SFC_DIR_SLOTS; slot++) {
		unsigned int pos = slot % SFC_DIR_SLOTS;
		bool rev = slot >= SFC_DIR_SLOTS;

		if (pos < n) {
			i = rev ? n - 1 - pos : pos;
			fd = prog_fd_by_name(c->nf_obj[i], s->functions[i].type->prog_name);
		} else {
			fd = egress_fd;
		}
		if (fd < 0 || bpf_map_update_elem(progs_fd, &slot, &fd, BPF_ANY))
			return sfc_diag_set(c->diag, fd < 0 ? fd : -errno, NULL,
					    "cannot fill the program array (slot %u): %s", slot,
					    strerror(fd < 0 ? -fd : errno));
	}
	/* The verdict hook, or an empty slot: then verdicts stand as they are. */
	owner = hook_owner(s);
	hook_fd = -1;
	if (owner >= 0) {
		slot = SFC_SLOT_HOOK;
		hook_fd = prog_fd_by_name(c->nf_obj[owner], s->functions[owner].type->hook_prog_name);
		if (hook_fd < 0 || bpf_map_update_elem(progs_fd, &slot, &hook_fd, BPF_ANY))
			return sfc_diag_set(c->diag, hook_fd < 0 ? hook_fd : -errno, NULL,
					    "cannot fill the program array (hook slot %u): %s", slot,
					    strerror(hook_fd < 0 ? -hook_fd : errno));
	}

	err = sfc_mkdir_p(c->gen_dir);
	snprintf(rel, sizeof(rel), "gen%u/%%s", c->info.generation);
	err = err ?: pin_fd(c, progs_fd, rel, "progs");
	if (hook_fd >= 0)
		err = err ?: pin_fd(c, hook_fd, rel, "hook");
	err = err ?: pin_fd(c, bpf_program__fd(c->entry->progs.sfc_entry_fwd), rel, "entry_fwd");
	err = err ?: pin_fd(c, bpf_program__fd(c->entry->progs.sfc_entry_rev), rel, "entry_rev");
	err = err ?: pin_fd(c, egress_fd, rel, "egress");
	for (i = 0; !err && i < n; i++) {
		char name[SFC_NAME_MAX + 8];

		snprintf(name, sizeof(name), "fn_%s", s->functions[i].name);
		err = pin_fd(c, prog_fd_by_name(c->nf_obj[i], s->functions[i].type->prog_name), rel,
			     name);
	}
	if (err)
		return sfc_diag_set(c->diag, err, NULL, "cannot pin generation %u: %s",
				    c->info.generation, strerror(-err));
	return 0;
}

static void close_generation(struct apply_ctx *c)
{
	unsigned int i;

	for (i = 0; i < SFC_MAX_FUNCTIONS; i++) {
		bpf_object__close(c->nf_obj[i]);
		c->nf_obj[i] = NULL;
	}
	sfc_entry__destroy(c->entry);
	c->entry = NULL;
}

/* Undo a generation that did not go live: its pins and the new NF maps. */
static void discard_generation(struct apply_ctx *c)
{
	char dir[PATH_MAX];
	unsigned int i;

	if (c->gen_dir[0])
		sfc_rm_tree(c->gen_dir);
	for (i = 0; i < c->spec->n_functions; i++)
		if (c->nf_dir_new[i] && !nf_map_dir(c, dir, sizeof(dir), c->spec->functions[i].name))
			sfc_rm_tree(dir);
}

/*
 * Wait until no CPU can still run a program of the old generation.
 * MEMBARRIER_CMD_GLOBAL is synchronize_rcu(), and XDP runs inside RCU
 * read-side sections; a sleep backs it up where membarrier is refused.
 */
static void grace_period(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		usleep(100 * 1000);
}

static int go_live(struct apply_ctx *c)
{
	__u32 dir;
	int fd;

	for (dir = 0; dir < 2; dir++) {
		fd = bpf_program__fd(dir ? c->entry->progs.sfc_entry_rev : c->entry->progs.sfc_entry_fwd);
		if (bpf_map_update_elem(c->root_progs_fd, &dir, &fd, BPF_ANY))
			return sfc_diag_set(c->diag, -errno, NULL, "cannot switch to generation %u: %s",
					    c->info.generation, strerror(errno));
	}
	return 0;
}

/* Remove every generation but the live one and the maps of removed functions. */
static void collect_garbage(struct apply_ctx *c)
{
	char p[PATH_MAX];
	struct dirent *de;
	unsigned int i;
	bool keep;
	__u32 gen;
	DIR *d;

	d = opendir(c->dir);
	if (d) {
		while ((de = readdir(d))) {
			if (!sfc_gen_of(de->d_name, &gen) || gen == c->info.generation)
				continue;
			if (!path_of(c, p, sizeof(p), "%s", de->d_name))
				sfc_rm_tree(p);
		}
		closedir(d);
	}
	if (path_of(c, p, sizeof(p), "nf"))
		return;
	d = opendir(p);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		keep = false;
		for (i = 0; i < c->spec->n_functions; i++)
			keep |= !strcmp(de->d_name, c->spec->functions[i].name);
		if (!keep && !nf_map_dir(c, p, sizeof(p), de->d_name))
			sfc_rm_tree(p);
	}
	closedir(d);
}

/* ---- crash safety ------------------------------------------------------ */

/* <chain>/applying or deleting: see SFC_MARK_* in internal.h. */
static int mark(struct apply_ctx *c, const char *name)
{
	char p[PATH_MAX];

	if (path_of(c, p, sizeof(p), "%s", name))
		return -ENAMETOOLONG;
	if (mkdir(p, 0700) && errno != EEXIST)
		return sfc_diag_set(c->diag, -errno, NULL, "cannot create %s: %s", p,
				    strerror(errno));
	return 0;
}

static void unmark(struct apply_ctx *c, const char *name)
{
	char p[PATH_MAX];

	if (!path_of(c, p, sizeof(p), "%s", name))
		rmdir(p);
}

static void detach_old(struct apply_ctx *c);

/*
 * Remove a chain's pins, the deleting marker last and the folder after it,
 * so that a delete that dies half-way leaves the marker (or an empty
 * folder) for the next apply or delete to finish with.
 */
static int remove_pins(struct apply_ctx *c)
{
	char p[PATH_MAX];
	struct dirent *de;
	int err = 0, e;
	DIR *d;

	d = opendir(c->dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !strcmp(de->d_name, SFC_MARK_DELETING))
			continue;
		if (path_of(c, p, sizeof(p), "%s", de->d_name))
			continue;
		e = sfc_rm_tree(p);
		if (e && !err)
			err = e;
	}
	closedir(d);
	unmark(c, SFC_MARK_DELETING);
	if (rmdir(c->dir) && errno != ENOENT && !err)
		err = -errno;
	return err;
}

/*
 * Detach whatever the chain has on interfaces: what info records (libxdp
 * through netlink in the chain's netns, when that still exists) and any
 * pinned link, recorded or not (an apply that died between pinning a link
 * and recording it). have_info: c->old is valid.
 */
static void detach_all(struct apply_ctx *c, bool have_info)
{
	struct sfc_chain_info keep = c->old;
	int saved_ns = -1, err = 0;

	if (!have_info) {
		memset(&c->old, 0, sizeof(c->old));	/* pinned links only */
	} else {
		err = sfc_netns_enter(c->old.netns, &saved_ns);
		if (err) {
			sfc_log(SFC_LOG_WARN, "netns %s is gone (%s); its interfaces went with it",
				c->old.netns, strerror(-err));
			/* A link detaches from anywhere; libxdp needs the netns. */
			memset(c->old.method, 0, sizeof(c->old.method));
		}
	}
	detach_old(c);
	if (have_info && !err)
		sfc_netns_leave(saved_ns);
	c->old = keep;
}

/*
 * The spec's interfaces, in the current netns: detach the roots root_fd[]
 * where the kernel holds them without a link (see sfc_detach_unlinked()).
 */
static void detach_unlinked(struct apply_ctx *c, const int root_fd[2])
{
	const struct sfc_chain_spec *s = c->spec;
	int ifindex;

	if (root_fd[0] < 0 && root_fd[1] < 0)
		return;
	if (s->interface[0] && (ifindex = if_nametoindex(s->interface)))
		sfc_detach_unlinked(ifindex, root_fd);
	if (s->egress.action == SFC_EGRESS_ACTION_REDIRECT && s->egress.interface[0] &&
	    (ifindex = if_nametoindex(s->egress.interface)))
		sfc_detach_unlinked(ifindex, root_fd);
}

/*
 * Finish what a delete, or an apply that was creating the chain, left:
 * detach, wait out the packets still inside, remove every pin.
 */
static int remove_chain(struct apply_ctx *c, bool have_info)
{
	int err, saved_ns = -1;

	err = mark(c, SFC_MARK_DELETING);
	if (err)
		return err;
	c->root_fd[0] = obj_get(c, "root_fwd");
	c->root_fd[1] = obj_get(c, "root_rev");
	detach_all(c, have_info);
	/* From an apply: the interfaces it names, in its netns. */
	if (c->spec->interface[0] && !sfc_netns_enter(c->info.netns, &saved_ns)) {
		detach_unlinked(c, c->root_fd);
		sfc_netns_leave(saved_ns);
	}
	grace_period();
	close_base(c);
	err = remove_pins(c);
	if (err)
		sfc_diag_set(c->diag, err, NULL, "cannot remove %s: %s", c->dir, strerror(-err));
	return err;
}

/*
 * An existing chain, under the lock, before an apply changes it: make the
 * pins agree with info again after an apply that died (kill -9, a crash).
 *  - root_progs runs another generation than info records, in one
 *    direction or both: the apply died after go_live() and before
 *    write_state(). Both slots go back to the recorded generation, so the
 *    chain is again what info and spec say.
 *  - gen<N>/ folders besides the recorded one, nf/<name>/ folders of
 *    functions the chain does not record, a spec_new left by a spec write:
 *    removed after a grace period (a generation may have run a moment ago).
 *  - the applying marker, a pinned spec that is not the recorded one, or a
 *    switch that had to be undone: an apply died after it may have written
 *    the functions' shared maps (configure()), so this apply builds and
 *    configures a new generation even when nothing changed (c->rebuild).
 */
static int recover(struct apply_ctx *c)
{
	const struct sfc_chain_info *o = &c->old;
	__u32 g = o->generation, dir, gen;
	bool keep_live = false, stray = false, known;
	char p[PATH_MAX], rel[64], *spec;
	struct dirent *de;
	unsigned int i, k;
	int fd, err;
	DIR *d;

	if (c->live.applying)
		c->rebuild = true;
	spec = sfc_spec_read(c->dir);
	if (!spec || sfc_hash(spec) != o->full_hash)
		c->rebuild = true;
	free(spec);

	if (c->live.gen[0] != g || c->live.gen[1] != g) {
		c->rebuild = true;
		if (!sfc_gen_complete(c->dir, g)) {
			/* Nothing to go back to: keep what runs, the rebuild replaces it. */
			sfc_log(SFC_LOG_WARN, "chain %s: the recorded generation %u is incomplete; "
				"keeping the generations that run", c->spec->name, g);
			keep_live = true;
		} else {
			sfc_log(SFC_LOG_WARN, "chain %s: an earlier apply died after switching "
				"(forward runs generation %u, reverse %u); back to generation %u",
				c->spec->name, c->live.gen[0], c->live.gen[1], g);
			for (dir = 0; dir < 2; dir++) {
				if (c->live.gen[dir] == g)
					continue;
				snprintf(rel, sizeof(rel), "gen%u/entry_%s", g, dir ? "rev" : "fwd");
				fd = obj_get(c, rel);
				err = fd < 0 ? fd : bpf_map_update_elem(c->root_progs_fd, &dir, &fd,
									 BPF_ANY) ? -errno : 0;
				if (fd >= 0)
					close(fd);
				if (err)
					return sfc_diag_set(c->diag, err, NULL,
							    "chain %s: cannot switch back to generation "
							    "%u: %s", c->spec->name, g, strerror(-err));
			}
		}
	}

	for (k = 0; k < c->live.n_gens && k < SFC_LIVE_MAX_GENS; k++) {
		gen = c->live.gens[k];
		stray |= gen != g && !(keep_live && (gen == c->live.gen[0] || gen == c->live.gen[1]));
	}
	stray |= c->live.n_gens > SFC_LIVE_MAX_GENS;
	if (!path_of(c, p, sizeof(p), "nf") && (d = opendir(p))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			known = false;
			for (i = 0; i < o->n_functions && i < SFC_MAX_FUNCTIONS; i++)
				known |= !strcmp(de->d_name, o->fn[i].name);
			stray |= !known;
		}
		closedir(d);
	}
	if (!path_of(c, p, sizeof(p), "spec_new"))
		unlink(p);
	if (c->rebuild)
		sfc_log(SFC_LOG_INFO, "chain %s: an earlier apply did not finish; building a new "
			"generation", c->spec->name);
	if (!stray)
		return 0;

	sfc_log(SFC_LOG_INFO, "chain %s: removing what an earlier apply left behind",
		c->spec->name);
	grace_period();
	d = opendir(c->dir);
	if (d) {
		while ((de = readdir(d))) {
			known = false;
			if (!sfc_gen_of(de->d_name, &gen))
				continue;
			known = gen == g || (keep_live && (gen == c->live.gen[0] ||
							   gen == c->live.gen[1]));
			if (!known && !path_of(c, p, sizeof(p), "%s", de->d_name))
				sfc_rm_tree(p);
		}
		closedir(d);
	}
	if (!path_of(c, p, sizeof(p), "nf") && (d = opendir(p))) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			known = false;
			for (i = 0; i < o->n_functions && i < SFC_MAX_FUNCTIONS; i++)
				known |= !strcmp(de->d_name, o->fn[i].name);
			if (!known && !nf_map_dir(c, p, sizeof(p), de->d_name))
				sfc_rm_tree(p);
		}
		closedir(d);
	}
	return sfc_live_read(c->dir, &c->live);
}

/* ---- attach ------------------------------------------------------------- */

struct attach_set {
	unsigned int n;
	const char *ifname[2];
	int ifindex[2];
	enum sfc_xdp_mode mode;
};

static void attach_set_of_spec(struct apply_ctx *c, struct attach_set *a)
{
	const struct sfc_chain_spec *s = c->spec;

	a->n = s->egress.action == SFC_EGRESS_ACTION_REDIRECT ? 2 : 1;
	a->ifname[0] = s->interface;
	a->ifname[1] = s->egress.interface;
	a->ifindex[0] = c->ifindex[0];
	a->ifindex[1] = c->ifindex[1];
	a->mode = s->xdp_mode;
}

static void attach_set_of_old(struct apply_ctx *c, struct attach_set *a)
{
	a->n = c->old.method[1] ? 2 : 1;
	a->ifname[0] = c->old.ifname[0];
	a->ifname[1] = c->old.ifname[1];
	a->ifindex[0] = c->old.ifindex[0];
	a->ifindex[1] = c->old.ifindex[1];
	a->mode = c->old.want_mode;
}

static int attach_all(struct apply_ctx *c, const struct attach_set *a)
{
	struct sfc_attach_res res;
	char link_pin[PATH_MAX];
	unsigned int dir;
	int err;

	memset(c->info.method, 0, sizeof(c->info.method));
	memset(c->info.ifindex, 0, sizeof(c->info.ifindex));
	memset(c->info.ifname, 0, sizeof(c->info.ifname));
	for (dir = 0; dir < a->n; dir++) {
		struct sfc_attach_req req = {
			.prog_fd = c->root_fd[dir],
			.ifindex = a->ifindex[dir],
			.ifname = a->ifname[dir],
			.path = dir ? "spec.egress.interface" : "spec.interface",
			.mode = a->mode,
			.link_pin = link_pin,
		};

		path_of(c, link_pin, sizeof(link_pin), "link_%s", dir ? "rev" : "fwd");
		err = sfc_attach(&req, &res, c->diag);
		if (err) {
			if (a->mode == SFC_XDP_MODE_NATIVE)
				snprintf(c->diag->path, sizeof(c->diag->path), "spec.xdpMode");
			while (dir-- > 0) {
				path_of(c, link_pin, sizeof(link_pin), "link_%s", dir ? "rev" : "fwd");
				sfc_detach(c->root_fd[dir], a->ifindex[dir], c->info.method[dir],
					   c->info.mode[dir], link_pin);
				unlink(link_pin);
			}
			return err;
		}
		c->info.method[dir] = res.method;
		c->info.mode[dir] = res.mode;
		c->info.ifindex[dir] = a->ifindex[dir];
		snprintf(c->info.ifname[dir], IF_NAMESIZE, "%s", a->ifname[dir]);
	}
	return 0;
}

static void detach_old(struct apply_ctx *c)
{
	char link_pin[PATH_MAX];
	unsigned int dir;

	for (dir = 0; dir < 2; dir++) {
		path_of(c, link_pin, sizeof(link_pin), "link_%s", dir ? "rev" : "fwd");
		/* Unrecorded, a link is still pinned by an apply that died. */
		if (c->old.method[dir])
			sfc_detach(c->root_fd[dir], c->old.ifindex[dir], c->old.method[dir],
				   c->old.mode[dir], link_pin);
		else
			sfc_detach(-1, 0, SFC_ATTACH_LINK, SFC_XDP_MODE_AUTO, link_pin);
		unlink(link_pin);
	}
}

/* ---- apply -------------------------------------------------------------- */

static bool attachment_changed(struct apply_ctx *c)
{
	const struct sfc_chain_spec *s = c->spec;

	return c->old.want_mode != s->xdp_mode || c->old.ifindex[0] != (__u32)c->ifindex[0] ||
	       c->old.ifindex[1] != (__u32)c->ifindex[1] || strcmp(c->old.netns, c->info.netns) ||
	       strcmp(c->old.ifname[0], s->interface) ||
	       (c->ifindex[1] && strcmp(c->old.ifname[1], s->egress.interface));
}

static bool still_attached(struct apply_ctx *c)
{
	struct bpf_prog_info pi = {};
	__u32 len = sizeof(pi);
	char link_pin[PATH_MAX];
	unsigned int dir;

	for (dir = 0; dir < 2; dir++) {
		if (!c->old.method[dir])
			continue;
		memset(&pi, 0, sizeof(pi));
		len = sizeof(pi);
		if (bpf_obj_get_info_by_fd(c->root_fd[dir], &pi, &len))
			return false;
		path_of(c, link_pin, sizeof(link_pin), "link_%s", dir ? "rev" : "fwd");
		if (!sfc_attached(pi.id, c->old.ifindex[dir], c->old.method[dir], link_pin))
			return false;
	}
	return true;
}

/*
 * What decides between an in-place config update and a new generation: the
 * spec without configs, plus the configs of the types that need a swap.
 */
static int structure_hash(const struct sfc_chain_spec *s, __u64 *out)
{
	struct sfc_json j;
	unsigned int i;
	char *json;

	json = sfc_chain_spec__to_json(s, false);
	if (!json)
		return -ENOMEM;
	sfc_json__init(&j, false);
	sfc_json__arr_begin(&j);
	sfc_json__str(&j, json);
	free(json);
	for (i = 0; i < s->n_functions; i++) {
		const struct sfc_function *fn = &s->functions[i];

		if (!fn->type->config_swaps || !fn->type->dump)
			continue;
		sfc_json__str(&j, fn->name);
		fn->type->dump(fn->config, &j);
	}
	sfc_json__arr_end(&j);
	json = sfc_json__take(&j);
	if (!json)
		return -ENOMEM;
	*out = sfc_hash(json);
	free(json);
	return 0;
}

/* The next generation's number: above every gen<N>/ there is. */
static __u32 next_generation(struct apply_ctx *c)
{
	__u32 g = c->old.generation;

	if (c->live.max_gen > g)
		g = c->live.max_gen;
	return g + 1;
}

/*
 * Read info, and deal with a chain folder that holds no complete chain: the
 * remains of an apply that died while creating it, or of a delete that died
 * half-way. Both are removed (detaching what they attached) and the apply
 * creates the chain afresh; a dry run only pretends so.
 */
static int read_old(struct apply_ctx *c, const struct sfc_apply_opts *opts)
{
	const char *name = c->spec->name;
	bool have_info, dir_exists;
	int err;

	memset(&c->old, 0, sizeof(c->old));
	err = sfc_info_read(c->dir, &c->old);
	if (err == -EPROTO && c->old.abi_version)
		return sfc_compat__refuse_abi(c->diag, name, c->old.abi_version);
	if (err && err != -ENOENT && err != -EPROTO)
		return sfc_diag_set(c->diag, err, NULL, "cannot read %s/info: %s", c->dir,
				    strerror(-err));
	have_info = !err && c->old.generation;
	dir_exists = !access(c->dir, F_OK);
	if (dir_exists && sfc_live_read(c->dir, &c->live))
		memset(&c->live, 0, sizeof(c->live));
	c->exists = have_info && !c->live.deleting;
	if (!dir_exists || c->exists)
		return 0;
	if (opts && opts->dry_run)
		return 0;
	sfc_log(SFC_LOG_WARN, "chain %s: %s died half-way; removing what it left", name,
		c->live.deleting ? "a delete" : "the apply that was creating it");
	err = remove_chain(c, have_info);
	memset(&c->live, 0, sizeof(c->live));
	/* Created afresh: from generation 1, as any new chain. */
	memset(&c->old, 0, sizeof(c->old));
	return err;
}

static int apply_locked(struct apply_ctx *c, const struct sfc_apply_opts *opts,
			enum sfc_apply_result *result)
{
	const struct sfc_chain_spec *s = c->spec;
	bool dry_run = opts && opts->dry_run;
	struct sfc_egress_cfg eg;
	char *json;
	bool reattach = false, went_live = false, configured = false;
	int err, saved_ns = -1;
	unsigned int i;

	err = structure_hash(s, &c->info.struct_hash);
	if (err)
		return err;
	json = sfc_chain_spec__to_json(s, true);
	if (!json)
		return -ENOMEM;
	c->info.full_hash = sfc_hash(json);
	free(json);

	c->info.abi_version = SFC_ABI_VERSION;
	c->info.want_mode = s->xdp_mode;
	c->info.egress = s->egress.action;
	if (opts && opts->netns)
		snprintf(c->info.netns, sizeof(c->info.netns), "%s", opts->netns);

	err = read_old(c, opts);
	if (err)
		return err;
	/* Adopting a chain another release applied: refuse what its maps
	 * cannot be read with, before anything is written. */
	if (c->exists) {
		err = sfc_compat__check_chain(c->dir, &c->old, s, c->diag);
		if (err)
			return err;
	}

	err = sfc_netns_enter(c->info.netns, &saved_ns);
	if (err == -ENOENT)
		return sfc_diag_set(c->diag, err, NULL, "netns %s does not exist (no /run/netns/%s)",
				    c->info.netns, c->info.netns);
	if (err)
		return sfc_diag_set(c->diag, err, NULL, "cannot enter netns %s: %s", c->info.netns,
				    strerror(-err));
	err = host_checks(c, &eg);
	if (err)
		goto out;
	if (dry_run && !c->exists) {
		*result = SFC_APPLY_CREATED;
		goto out;
	}

	if (c->exists) {
		err = open_base(c);
		if (err)
			goto out;
		if (dry_run) {
			/* What recover() would find, without its changes. */
			char *spec = sfc_spec_read(c->dir);

			c->rebuild = c->live.applying || c->live.gen[0] != c->old.generation ||
				     c->live.gen[1] != c->old.generation ||
				     !spec || sfc_hash(spec) != c->old.full_hash;
			free(spec);
		} else {
			err = recover(c);
			if (err)
				goto out;
		}
		reattach = attachment_changed(c) || !still_attached(c);
		if (dry_run) {
			*result = reattach ? SFC_APPLY_REATTACHED :
				  c->rebuild ? SFC_APPLY_SWAPPED :
				  c->old.full_hash == c->info.full_hash ? SFC_APPLY_UNCHANGED :
				  c->old.struct_hash == c->info.struct_hash ? SFC_APPLY_CONFIG :
				  SFC_APPLY_SWAPPED;
			goto out;
		}
		memcpy(c->info.method, c->old.method, sizeof(c->info.method));
		memcpy(c->info.mode, c->old.mode, sizeof(c->info.mode));
		memcpy(c->info.ifindex, c->old.ifindex, sizeof(c->info.ifindex));
		memcpy(c->info.ifname, c->old.ifname, sizeof(c->info.ifname));
		if (!reattach && !c->rebuild && c->old.full_hash == c->info.full_hash) {
			*result = SFC_APPLY_UNCHANGED;
			goto out;
		}
		c->info.generation = c->old.generation;
		assign_ids(c);
		err = mark(c, SFC_MARK_APPLYING);
		if (err)
			goto out;
		c->marked = true;
		if (!reattach && !c->rebuild && c->old.struct_hash == c->info.struct_hash) {
			/* Every refusal before the first write, so that no
			 * function is left half-updated. */
			for (i = 0; i < s->n_functions && !err; i++)
				err = precheck_function(c, i);
			if (err)
				goto out_unmark;
			for (i = 0; i < s->n_functions && !err; i++)
				err = configure_function(c, i);
			/* A configure that failed half-way keeps the marker:
			 * the next apply rebuilds. */
			if (err)
				goto out;
			err = write_state(c);
			*result = SFC_APPLY_CONFIG;
			if (!err)
				goto out_unmark;
			goto out;
		}
	} else {
		err = sfc_mkdir_p(c->dir);
		if (err) {
			sfc_diag_set(c->diag, err, NULL, "cannot create %s: %s", c->dir, strerror(-err));
			goto out;
		}
		err = mark(c, SFC_MARK_APPLYING);
		err = err ?: create_state_maps(c);
		err = err ?: load_base(c);
		err = err ?: open_base(c);
		if (err)
			goto out_new;
		assign_ids(c);
	}

	c->info.generation = next_generation(c);
	err = build_generation(c, &eg);
	/* configure() also writes the maps every generation shares (nf/): once
	 * it ran, a failure leaves the marker, so that the next apply rebuilds. */
	configured = !err;
	for (i = 0; !err && i < s->n_functions; i++)
		err = configure_function(c, i);
	if (err)
		goto out_gen;

	if (reattach)
		detach_old(c);
	went_live = true;
	err = go_live(c);
	if (!err && (!c->exists || reattach)) {
		struct attach_set a;

		/* A root an apply that died left attached would make it EEXIST. */
		if (c->exists)
			detach_unlinked(c, c->root_fd);
		attach_set_of_spec(c, &a);
		err = attach_all(c, &a);
	}
	if (err)
		goto out_gen;
	err = write_state(c);
	if (err) {
		sfc_diag_set(c->diag, err, NULL, "cannot record the chain state: %s", strerror(-err));
		goto out;
	}
	/* Recorded: what is left is garbage collection, which recover() redoes. */
	unmark(c, SFC_MARK_APPLYING);
	grace_period();
	collect_garbage(c);
	*result = !c->exists ? SFC_APPLY_CREATED : reattach ? SFC_APPLY_REATTACHED : SFC_APPLY_SWAPPED;
	goto out;

out_gen:
	if (c->exists && went_live) {
		/* Put the old generation back before the new one goes. */
		char rel[32];
		int fd;
		__u32 dir;

		for (dir = 0; dir < 2; dir++) {
			snprintf(rel, sizeof(rel), "gen%u/entry_%s", c->old.generation, dir ? "rev" : "fwd");
			fd = obj_get(c, rel);
			if (fd >= 0) {
				bpf_map_update_elem(c->root_progs_fd, &dir, &fd, BPF_ANY);
				close(fd);
			}
		}
		grace_period();
	}
	discard_generation(c);
	if (reattach && c->exists) {
		/* And on the old interfaces. */
		struct attach_set a;
		struct sfc_diag d2 = {};
		struct sfc_diag *keep = c->diag;

		attach_set_of_old(c, &a);
		c->diag = &d2;	/* the first error is the one to report */
		if (attach_all(c, &a))
			sfc_log(SFC_LOG_ERROR, "could not restore the previous attachment of %s: %s",
				s->name, d2.msg);
		c->diag = keep;
	}
out_new:
	if (!c->exists && err) {
		sfc_rm_tree(c->dir);
	}
out_unmark:
	/* Keep a marker that an earlier apply left (recover() saw it) and one
	 * whose shared maps this apply wrote before it failed. */
	if (c->exists && c->marked && !configured && !c->live.applying)
		unmark(c, SFC_MARK_APPLYING);
out:
	sfc_netns_leave(saved_ns);
	return err;
}

/* Why sfc_bpffs_ensure() refused the pin root, for the user. */
static int pin_root_error(struct sfc_diag *diag, int err, const char *root)
{
	if (err == -ENOTSUP)
		return sfc_diag_set(diag, err, NULL,
				    "%s is not on a bpffs visible to the host (under `ip netns exec`? "
				    "its private /sys hides /sys/fs/bpf): use sfcctl -n NETNS", root);
	if (err == -EPERM)
		return sfc_diag_set(diag, err, NULL,
				    "pin root %s is not root's alone (its owner, its mode, a symlink, "
				    "or an entry of another user): refused (sfcctl -v says which)",
				    root);
	if (err == -EINVAL)
		return sfc_diag_set(diag, err, NULL,
				    "pin root %s must be an absolute path without . or .. components",
				    root);
	return sfc_diag_set(diag, err, NULL, "no bpffs at %s: %s", root, strerror(-err));
}

static int lock_root(const char *root)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -errno;
	}
	return fd;
}

int sfc_chain__apply(const struct sfc_chain_spec *spec, const struct sfc_apply_opts *opts,
		     enum sfc_apply_result *result, struct sfc_diag *diag)
{
	struct sfc_diag dummy;
	struct apply_ctx *c;
	int err, lock;

	if (!diag)
		diag = &dummy;
	memset(diag, 0, sizeof(*diag));
	snprintf(diag->file, sizeof(diag->file), "%s", spec->file);
	sfc_libbpf_log_init();

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->log_buf = malloc(LOG_BUF_SIZE);
	if (!c->log_buf) {
		free(c);
		return -ENOMEM;
	}
	c->spec = spec;
	c->diag = diag;
	c->root = opts && opts->pin_root ? opts->pin_root : SFC_PIN_ROOT;
	c->stats_fd = c->scratch_fd = c->root_progs_fd = c->root_fd[0] = c->root_fd[1] = -1;

	err = sfc_bpffs_ensure(c->root);
	if (err) {
		pin_root_error(diag, err, c->root);
		goto out;
	}
	err = sfc_pin_path(c->dir, sizeof(c->dir), c->root, spec->name, NULL);
	if (err)
		goto out;
	lock = lock_root(c->root);
	if (lock < 0) {
		err = sfc_diag_set(diag, lock, NULL, "cannot lock %s: %s", c->root, strerror(-lock));
		goto out;
	}
	err = apply_locked(c, opts, result);
	close(lock);
out:
	close_generation(c);
	close_base(c);
	free(c->log_buf);
	free(c);
	return err;
}

/* ---- delete ------------------------------------------------------------- */

int sfc_chain__delete(const char *name, const char *pin_root, struct sfc_diag *diag)
{
	struct apply_ctx c = { .diag = diag };
	struct sfc_chain_spec spec = {};
	struct sfc_diag dummy;
	bool have_info;
	int err, lock;

	if (!diag)
		c.diag = diag = &dummy;
	memset(diag, 0, sizeof(*diag));
	if (!sfc_name_valid(name))
		return sfc_diag_set(diag, -EINVAL, NULL, "\"%s\" is not a chain name", name);
	c.root = pin_root ? pin_root : SFC_PIN_ROOT;
	snprintf(spec.name, sizeof(spec.name), "%s", name);
	c.spec = &spec;
	c.stats_fd = c.scratch_fd = c.root_progs_fd = c.root_fd[0] = c.root_fd[1] = -1;
	err = sfc_pin_path(c.dir, sizeof(c.dir), c.root, name, NULL);
	if (err)
		return err;
	if (access(c.dir, F_OK))
		return errno == ENOENT ?
			sfc_diag_set(diag, -ENOENT, NULL, "chain %s does not exist", name) :
			sfc_diag_set(diag, -errno, NULL, "cannot read %s: %s", c.dir, strerror(errno));
	/* The checks of apply: root's recursive removal stays under a root
	 * that only root can change. */
	err = sfc_bpffs_ensure(c.root);
	if (err)
		return pin_root_error(diag, err, c.root);
	lock = lock_root(c.root);
	if (lock < 0)
		return sfc_diag_set(diag, lock, NULL, "cannot lock %s: %s", c.root, strerror(-lock));
	if (access(c.dir, F_OK)) {
		/* Another delete finished while this one waited for the lock. */
		close(lock);
		return sfc_diag_set(diag, -ENOENT, NULL, "chain %s does not exist", name);
	}

	err = sfc_info_read(c.dir, &c.old);
	have_info = !err && c.old.generation;
	if (!have_info && err != -ENOENT)
		sfc_log(SFC_LOG_WARN, "chain %s has no readable info (%s): removing its pins",
			name, err ? strerror(-err) : "never recorded");
	/* The marker first: a delete that dies leaves it for the next one. */
	err = remove_chain(&c, have_info);
	close(lock);
	return err;
}
