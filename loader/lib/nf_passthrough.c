// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * passthrough: hands every packet on. A placeholder in a chain, the baseline
 * a benchmark compares real functions with, and the template for new ones.
 */
#include <errno.h>
#include <stdlib.h>

#include "nf.h"
#include "nf_passthrough.skel.h"

static int passthrough_parse(const struct sfc_ynode *config, void **cfg)
{
	static const char *const keys[] = { NULL };
	int err;

	*cfg = NULL;
	if (!config->n)
		return 0;
	if (!sfc_ynode__is_map(config))
		return sfc_yaml__error(config, "expected a mapping (passthrough takes no settings: {})");
	err = sfc_ymap__check_keys(config, keys);
	return err;
}

static void passthrough_free(void *cfg)
{
	free(cfg);
}

static void passthrough_dump(const void *cfg, struct sfc_json *j)
{
	sfc_json__obj_begin(j);
	sfc_json__obj_end(j);
}

static struct bpf_object *passthrough_open(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "nf_passthrough");
	const void *elf;
	size_t sz;

	elf = nf_passthrough__elf_bytes(&sz);
	return bpf_object__open_mem(elf, sz, &opts);
}

const struct sfc_nf_type sfc_nf_passthrough = {
	.name = "passthrough",
	.summary = "hands every packet on unchanged (placeholder, baseline, template)",
	.parse = passthrough_parse,
	.free = passthrough_free,
	.dump = passthrough_dump,
	.open = passthrough_open,
	.prog_name = "sfc_passthrough",
};
