// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>

#include "internal.h"
#include "nf.h"

extern const struct sfc_nf_type sfc_nf_passthrough;
extern const struct sfc_nf_type sfc_nf_firewall;
extern const struct sfc_nf_type sfc_nf_flowmon;
extern const struct sfc_nf_type sfc_nf_lb;

static const struct sfc_nf_type *const nf_types[] = {
	&sfc_nf_passthrough,
	&sfc_nf_firewall,
	&sfc_nf_flowmon,
	&sfc_nf_lb,
	NULL,
};

const struct sfc_nf_type *const *sfc_nf_types(void)
{
	return nf_types;
}

const struct sfc_nf_type *sfc_nf_type__find(const char *name)
{
	const struct sfc_nf_type *const *t;

	for (t = nf_types; *t; t++)
		if (strcmp((*t)->name, name) == 0)
			return *t;
	return NULL;
}

bool sfc_nf__is_gen_map(const struct sfc_nf_type *type, const char *map_name)
{
	const char *const *m;

	for (m = type->gen_maps; m && *m; m++)
		if (!strcmp(*m, map_name))
			return true;
	return false;
}

int sfc_nf__map_fd(const struct sfc_nf_ctx *ctx, const char *map_name)
{
	const char *dir = ctx->map_dir;

	if (sfc_nf__is_gen_map(ctx->fn->type, map_name)) {
		if (!ctx->gen_dir)
			return -ENOENT;
		dir = ctx->gen_dir;
	}
	return sfc_pin_get(dir, map_name);
}

int sfc_nf__set_size(struct bpf_object *obj, const char *name, uint32_t n)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	if (!map)
		return -ENOENT;
	return bpf_map__set_max_entries(map, n ? n : 1);
}

int sfc_nf__set_rodata(struct bpf_object *obj, const char *var, const void *val, size_t size)
{
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec, *t;
	struct bpf_map *map;
	const void *init;
	struct btf *btf;
	void *data;
	size_t sz;
	int id, i, err;

	btf = bpf_object__btf(obj);
	if (!btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return -ENOENT;
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		t = btf__type_by_id(btf, vs->type);
		if (strcmp(btf__name_by_offset(btf, t->name_off), var))
			continue;
		if (vs->size != size)
			return -EINVAL;
		bpf_object__for_each_map(map, obj) {
			if (!bpf_map__is_internal(map) || !strstr(bpf_map__name(map), ".rodata"))
				continue;
			init = bpf_map__initial_value(map, &sz);
			if (!init || vs->offset + size > sz)
				return -EINVAL;
			data = malloc(sz);
			if (!data)
				return -ENOMEM;
			memcpy(data, init, sz);
			memcpy((char *)data + vs->offset, val, size);
			err = bpf_map__set_initial_value(map, data, sz);
			free(data);
			return err;
		}
	}
	return -ENOENT;
}
