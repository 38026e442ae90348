// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Adopting a chain that another sfc release applied: the versions of what it
 * left pinned, checked before an apply writes anything (compat.h).
 *
 * The rules (docs/design.md, "Versions and upgrades"): struct
 * sfc_chain_info keeps its layout, so that every release can read what any
 * other wrote, and SFC_ABI_VERSION changes only when it or another runtime
 * layout must change; a function type's map ABI changes whenever what it
 * keeps in nf/<function>/ changes; a reused map must match member for member.
 * What does not match is refused with the way out, never misread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "compat.h"
#include "nf.h"
#include "shared/sfc_flow.h"
#include "shared/sfc_fw.h"
#include "shared/sfc_lb.h"
#include "sfc_entry.skel.h"

#ifndef SFC_VERSION
#define SFC_VERSION "unknown"
#endif

const char *sfc_compat__version(void)
{
	return SFC_VERSION;
}

__u32 sfc_compat__map_abi(const char *type)
{
	static const struct {
		const char *type;
		__u32 abi;
	} abi[] = {
		{ "firewall", SFC_FW_MAP_ABI },
		{ "flowmon", SFC_FLOWMON_MAP_ABI },
		{ "loadbalancer", SFC_LB_MAP_ABI },
	};
	size_t i;

	for (i = 0; i < sizeof(abi) / sizeof(abi[0]); i++)
		if (!strcmp(abi[i].type, type))
			return abi[i].abi;
	return 1;
}

/* ---- info and layout ---------------------------------------------------- */

/*
 * Key 0 of the one-entry array pinned at dir/name, into val (size bytes).
 * The map's value size is checked first: a lookup writes value_size bytes,
 * and a record of another release may be larger than ours. On a size
 * mismatch, the first min(size, value_size) bytes are still copied (the
 * version fields come first) and -EPROTO is returned.
 */
static int read_record(const char *dir, const char *name, void *val, size_t size)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi), key = 0;
	char p[PATH_MAX];
	void *buf = NULL;
	int fd, err;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(p);
	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &mi, &len) ? -errno : 0;
	if (!err && (mi.type != BPF_MAP_TYPE_ARRAY || mi.key_size != 4 || !mi.value_size))
		err = -EPROTO;
	if (!err) {
		buf = calloc(1, mi.value_size);
		err = buf ? 0 : -ENOMEM;
	}
	if (!err)
		err = bpf_map_lookup_elem(fd, &key, buf) ? -errno : 0;
	if (!err) {
		memset(val, 0, size);
		memcpy(val, buf, mi.value_size < size ? mi.value_size : size);
		if (mi.value_size != size)
			err = -EPROTO;
	}
	free(buf);
	close(fd);
	return err;
}

int sfc_compat__info_read(const char *dir, struct sfc_chain_info *info)
{
	int err = read_record(dir, "info", info, sizeof(*info));

	if (!err && info->abi_version != SFC_ABI_VERSION)
		err = -EPROTO;
	return err;
}

int sfc_compat__refuse_abi(struct sfc_diag *d, const char *chain, __u32 found)
{
	if (found == SFC_ABI_VERSION)	/* the same ABI, but info of another size */
		return sfc_diag_set(d, -EPROTO, NULL,
				    "chain %s: its info has another size than this sfcctl %s reads, "
				    "under the same chain ABI %u (a release that broke the rule of "
				    "keeping info's layout?); it is left as it is: manage it with the "
				    "release that applied it", chain, SFC_VERSION, found);
	if (found > SFC_ABI_VERSION)
		return sfc_diag_set(d, -EPROTO, NULL,
				    "chain %s was applied by a newer sfc (chain ABI %u; this sfcctl %s "
				    "has %u) and is left as it is: manage it with the release that "
				    "applied it, or delete it with that one and apply it again with "
				    "this one", chain, found, SFC_VERSION, SFC_ABI_VERSION);
	return sfc_diag_set(d, -EPROTO, NULL,
			    "chain %s was applied by an older sfc (chain ABI %u; this sfcctl %s has "
			    "%u, with no migration from %u) and is left as it is: sfcctl delete %s, "
			    "then apply it again (its state starts afresh), or keep it with the "
			    "release that applied it", chain, found, SFC_VERSION, SFC_ABI_VERSION,
			    found, chain);
}

int sfc_compat__layout_read(const char *dir, struct sfc_chain_layout *l)
{
	int err = read_record(dir, "layout", l, sizeof(*l));

	if (!err && l->version != SFC_LAYOUT_VERSION)
		err = -EPROTO;
	if (!err && l->n_functions > SFC_MAX_FUNCTIONS)
		err = -EPROTO;
	return err;
}

/*
 * The runtime's maps in the chain's base (stats, scratch), made once by the
 * release that created the chain, against this release's entry object,
 * which reuses them in every generation: SFC_ABI_VERSION should have told
 * any change, this is the check that a forgotten bump cannot fool.
 */
static int check_runtime_maps(const char *dir, const char *chain, struct sfc_diag *d)
{
	static const char *const maps[][2] = {
		{ "sfc_stats", "stats" },
		{ "sfc_scratch", "scratch" },
	};
	struct sfc_entry *e;
	char pin[PATH_MAX];
	struct bpf_map *m;
	unsigned int i;
	int err = 0;

	e = sfc_entry__open();
	if (!e)
		return 0;	/* the generation's load will say why */
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]) && !err; i++) {
		m = bpf_object__find_map_by_name(e->obj, maps[i][0]);
		if (!m || snprintf(pin, sizeof(pin), "%s/%s", dir, maps[i][1]) >= (int)sizeof(pin))
			continue;
		err = sfc_compat__check_map(d, chain, "the chain runtime", NULL, e->obj, m, pin);
	}
	sfc_entry__destroy(e);
	return err;
}

int sfc_compat__check_chain(const char *dir, const struct sfc_chain_info *old,
			    const struct sfc_chain_spec *spec, struct sfc_diag *d)
{
	struct sfc_chain_layout l;
	const char *by = "0.1.0";
	unsigned int i, j;
	bool have;
	int err;

	memset(&l, 0, sizeof(l));
	err = sfc_compat__layout_read(dir, &l);
	if (err == -ENOENT) {
		/* Applied by 0.1.0: no release since changed it (an unchanged
		 * re-apply writes no state). */
		have = false;
	} else if (err == -EPROTO && l.version > SFC_LAYOUT_VERSION) {
		return sfc_diag_set(d, -EPROTO, NULL,
				    "chain %s was applied by a newer sfc (%.31s, layout record %u; this "
				    "sfcctl %s reads %u) and is left as it is: manage it with the "
				    "release that applied it", spec->name, l.applied_by, l.version,
				    SFC_VERSION, SFC_LAYOUT_VERSION);
	} else if (err) {
		return sfc_diag_set(d, err, NULL,
				    "chain %s: cannot read %s/layout (%s); the chain is left as it is",
				    spec->name, dir, strerror(-err));
	} else {
		have = true;
		if (l.applied_by[0])
			by = l.applied_by;
	}
	err = check_runtime_maps(dir, spec->name, d);
	if (err)
		return err;

	for (i = 0; i < spec->n_functions; i++) {
		const struct sfc_function *fn = &spec->functions[i];
		__u32 want = sfc_compat__map_abi(fn->type->name), got = SFC_MAP_ABI_V010;
		bool live = false;

		for (j = 0; j < old->n_functions && j < SFC_MAX_FUNCTIONS; j++)
			if (!strncmp(old->fn[j].name, fn->name, sizeof(old->fn[j].name)) &&
			    !strncmp(old->fn[j].type, fn->type->name, sizeof(old->fn[j].type)))
				live = true;
		if (!live)
			continue;	/* new to the chain: its maps are made now */
		for (j = 0; have && j < l.n_functions; j++)
			if (!strncmp(l.fn[j].name, fn->name, sizeof(l.fn[j].name)))
				got = l.fn[j].map_abi;
		if (got == want)
			continue;
		return sfc_diag_set(d, -EPROTO, NULL,
				    "chain %s: function %s (%s) keeps its state in maps of layout %u "
				    "(sfc %.31s), this sfcctl %s uses layout %u and has no migration "
				    "from %u; the chain is left as it is: sfcctl delete %s, then apply "
				    "it again (the function's state starts afresh), or keep it with "
				    "sfc %.31s", spec->name, fn->name, fn->type->name, got, by,
				    SFC_VERSION, want, got, spec->name, by);
	}
	return 0;
}

int sfc_compat__record(const char *dir, const struct sfc_chain_spec *spec)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	struct sfc_chain_layout l = {
		.version = SFC_LAYOUT_VERSION,
		.abi_version = SFC_ABI_VERSION,
	};
	char p[PATH_MAX];
	unsigned int i;
	__u32 key = 0;
	int fd, err;

	snprintf(l.applied_by, sizeof(l.applied_by), "%s", SFC_VERSION);
	l.n_functions = spec->n_functions;
	for (i = 0; i < spec->n_functions && i < SFC_MAX_FUNCTIONS; i++) {
		snprintf(l.fn[i].name, sizeof(l.fn[i].name), "%s", spec->functions[i].name);
		l.fn[i].map_abi = sfc_compat__map_abi(spec->functions[i].type->name);
	}
	if (snprintf(p, sizeof(p), "%s/layout", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(p);
	if (fd < 0 && errno == ENOENT) {
		/* First write by a release that records it: pin it now. */
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sfc_layout", 4, sizeof(l), 1, &o);
		if (fd < 0)
			return -errno;
		if (bpf_obj_pin(fd, p)) {
			err = -errno;
			close(fd);
			return err;
		}
	} else if (fd < 0) {
		return -errno;
	}
	err = bpf_map_update_elem(fd, &key, &l, BPF_ANY) ? -errno : 0;
	close(fd);
	return err;
}

/* ---- maps --------------------------------------------------------------- */

/* A leaf of a struct, flattened: "ct.fwd.seq", at off bits, size bits. */
struct leaf {
	char path[96];
	__u32 off;
	__u32 size;
};

#define MAX_LEAVES 256

struct leaves {
	struct leaf v[MAX_LEAVES];
	int n;
	bool truncated;
};

static bool is_padding(const char *name)
{
	while (*name == '_')
		name++;
	return !strncmp(name, "pad", 3) || !strncmp(name, "reserved", 8) ||
	       !strncmp(name, "unused", 6);
}

static void flatten(const struct btf *btf, __u32 id, const char *prefix, __u32 off,
		    struct leaves *out, int depth)
{
	const struct btf_type *t;
	const struct btf_member *m;
	int i, rid;

	rid = btf__resolve_type(btf, id);
	t = rid < 0 ? NULL : btf__type_by_id(btf, rid);
	if (!t)
		return;
	if ((btf_is_struct(t) || btf_is_union(t)) && depth < 8) {
		m = btf_members(t);
		for (i = 0; i < btf_vlen(t); i++, m++) {
			const char *name = btf__name_by_offset(btf, m->name_off);
			__u32 moff = off + btf_member_bit_offset(t, i);
			__u32 bits = btf_member_bitfield_size(t, i);
			const struct btf_type *mt;
			char path[96];
			int mrid;

			if (!name || !name[0]) {	/* anonymous struct or union */
				flatten(btf, m->type, prefix, moff, out, depth + 1);
				continue;
			}
			snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "", name);
			mrid = btf__resolve_type(btf, m->type);
			mt = mrid < 0 ? NULL : btf__type_by_id(btf, mrid);
			if (!bits && mt && (btf_is_struct(mt) || btf_is_union(mt))) {
				flatten(btf, m->type, path, moff, out, depth + 1);
				continue;
			}
			if (out->n == MAX_LEAVES) {
				out->truncated = true;
				return;
			}
			snprintf(out->v[out->n].path, sizeof(out->v[0].path), "%s", path);
			out->v[out->n].off = moff;
			out->v[out->n].size = bits ? bits : (__u32)btf__resolve_size(btf, m->type) * 8;
			out->n++;
		}
		return;
	}
	/* A scalar, array or anything else as a whole. */
	if (out->n < MAX_LEAVES) {
		snprintf(out->v[out->n].path, sizeof(out->v[0].path), "%s", prefix[0] ? prefix : "(value)");
		out->v[out->n].off = off;
		out->v[out->n].size = (__u32)btf__resolve_size(btf, id) * 8;
		out->n++;
	}
}

static const struct leaf *find_leaf(const struct leaves *l, const char *path)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].path, path))
			return &l->v[i];
	return NULL;
}

/* "8 bytes at 16", or "3 bits at bit 130" for a bitfield. */
static const char *where(char *buf, size_t len, const struct leaf *f)
{
	if (f->off % 8 || f->size % 8)
		snprintf(buf, len, "%u bits at bit %u", f->size, f->off);
	else
		snprintf(buf, len, "%u bytes at %u", f->size / 8, f->off / 8);
	return buf;
}

static const char *type_name(const struct btf *btf, __u32 id)
{
	int rid = btf__resolve_type(btf, id);
	const struct btf_type *t = rid < 0 ? NULL : btf__type_by_id(btf, rid);
	const char *n = t ? btf__name_by_offset(btf, t->name_off) : NULL;

	return n && n[0] ? n : "(anonymous)";
}

int sfc_compat__btf_diff(const struct btf *old_btf, __u32 old_id, const struct btf *new_btf,
			 __u32 new_id, char *buf, size_t len)
{
	struct leaves *o, *n;
	char first[192] = "", w1[48], w2[48];
	int i, j, diffs = 0, err = 0;
	__u32 old_bits;

	o = calloc(1, sizeof(*o));
	n = calloc(1, sizeof(*n));
	if (!o || !n) {
		err = -ENOMEM;
		goto out;
	}
	flatten(old_btf, old_id, "", 0, o, 0);
	flatten(new_btf, new_id, "", 0, n, 0);
	if (!o->n || !n->n || btf__resolve_size(old_btf, old_id) < 0) {
		err = -ENOENT;
		goto out;
	}
	old_bits = (__u32)btf__resolve_size(old_btf, old_id) * 8;
	for (i = 0; i < o->n; i++) {
		const struct leaf *a = &o->v[i], *b;

		if (is_padding(strrchr(a->path, '.') ? strrchr(a->path, '.') + 1 : a->path))
			continue;
		b = find_leaf(n, a->path);
		if (b && b->off == a->off && b->size == a->size)
			continue;
		if (!diffs++) {
			if (!b)
				snprintf(first, sizeof(first), "member %s (%s) is gone", a->path,
					 where(w1, sizeof(w1), a));
			else
				snprintf(first, sizeof(first), "member %s was %s, is %s", a->path,
					 where(w1, sizeof(w1), a), where(w2, sizeof(w2), b));
		}
	}
	for (i = 0; i < n->n; i++) {
		const struct leaf *b = &n->v[i];

		if (find_leaf(o, b->path))
			continue;
		if (b->off + b->size > old_bits) {
			if (!diffs++)
				snprintf(first, sizeof(first), "member %s (%s) is new, past the "
					 "pinned value's end", b->path, where(w1, sizeof(w1), b));
			continue;
		}
		/* New: only where no old member (but padding) had data. */
		for (j = 0; j < o->n; j++) {
			const struct leaf *a = &o->v[j];
			const char *an = strrchr(a->path, '.') ? strrchr(a->path, '.') + 1 : a->path;

			if (is_padding(an) || a->off >= b->off + b->size || b->off >= a->off + a->size)
				continue;
			if (!diffs++)
				snprintf(first, sizeof(first), "member %s (%s) is new, where %s was",
					 b->path, where(w1, sizeof(w1), b), a->path);
			break;
		}
	}
	if (diffs)
		snprintf(buf, len, "struct %s: %s%s", type_name(new_btf, new_id), first,
			 diffs > 1 ? " (and more)" : "");
	err = diffs ? 1 : 0;
out:
	free(o);
	free(n);
	return err;
}

/*
 * The pinned map's key or value type against the object's: a sentence into
 * buf when they differ, "" when they agree or either has no BTF.
 */
static void btf_compare(const struct bpf_map_info *mi, const struct btf *pinned,
			const struct bpf_object *obj, const struct bpf_map *map, char *buf,
			size_t len)
{
	const struct btf *ob = bpf_object__btf(obj);
	__u32 nk = bpf_map__btf_key_type_id(map), nv = bpf_map__btf_value_type_id(map);
	char d[256];

	buf[0] = 0;
	if (!pinned || !ob)
		return;
	if (mi->btf_value_type_id && nv &&
	    sfc_compat__btf_diff(pinned, mi->btf_value_type_id, ob, nv, d, sizeof(d)) == 1)
		snprintf(buf, len, "its value's %s", d);
	else if (mi->btf_key_type_id && nk &&
		 sfc_compat__btf_diff(pinned, mi->btf_key_type_id, ob, nk, d, sizeof(d)) == 1)
		snprintf(buf, len, "its key's %s", d);
}

int sfc_compat__check_map(struct sfc_diag *d, const char *chain, const char *what,
			  const char *path, const struct bpf_object *obj,
			  const struct bpf_map *map, const char *pin)
{
	struct bpf_map_info mi = {};
	__u32 len = sizeof(mi);
	struct btf *pinned = NULL;
	char detail[320] = "", sizes[160] = "";
	int fd, err = 0;

	fd = bpf_obj_get(pin);
	if (fd < 0)
		return 0;	/* not pinned yet: made by this load */
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		goto out;	/* libbpf's reuse will say why */
	if (mi.max_entries != bpf_map__max_entries(map)) {
		err = sfc_diag_set(d, -EINVAL, path,
				   "%s: its map %s holds %u entries and the config asks for %u; a "
				   "pinned table keeps its size (sfcctl delete %s, then apply, starts "
				   "it afresh)", what, bpf_map__name(map), mi.max_entries,
				   bpf_map__max_entries(map), chain);
		goto out;
	}
	if (mi.btf_id) {
		/* NULL (no BTF to read): the sizes are compared alone. */
		pinned = btf__load_from_kernel_by_id(mi.btf_id);
	}
	if (mi.type != bpf_map__type(map))
		snprintf(sizes, sizeof(sizes), "it is a %s map, this sfcctl %s makes a %s map",
			 libbpf_bpf_map_type_str((enum bpf_map_type)mi.type) ?: "?", SFC_VERSION,
			 libbpf_bpf_map_type_str(bpf_map__type(map)) ?: "?");
	else if (mi.key_size != bpf_map__key_size(map))
		snprintf(sizes, sizeof(sizes), "its key has %u bytes, this sfcctl %s uses %u",
			 mi.key_size, SFC_VERSION, bpf_map__key_size(map));
	else if (mi.value_size != bpf_map__value_size(map))
		snprintf(sizes, sizeof(sizes), "its value has %u bytes, this sfcctl %s uses %u",
			 mi.value_size, SFC_VERSION, bpf_map__value_size(map));
	btf_compare(&mi, pinned, obj, map, detail, sizeof(detail));
	if (!sizes[0] && !detail[0])
		goto out;
	err = sfc_diag_set(d, -EINVAL, path,
			   "chain %s: %s: pinned map %s has another layout: %s%s%s; the chain is "
			   "left as it is: sfcctl delete %s, then apply it again (its state starts "
			   "afresh), or keep it with the release that applied it",
			   chain, what, bpf_map__name(map), sizes, sizes[0] && detail[0] ? ", " : "",
			   detail, chain);
out:
	btf__free(pinned);
	close(fd);
	return err;
}
