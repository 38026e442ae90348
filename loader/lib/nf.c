// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>

#include "nf.h"

extern const struct sfc_nf_type sfc_nf_passthrough;

static const struct sfc_nf_type *const nf_types[] = {
	&sfc_nf_passthrough,
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

int sfc_nf__map_fd(const struct sfc_nf_ctx *ctx, const char *map_name)
{
	char path[512];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", ctx->map_dir, map_name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}
