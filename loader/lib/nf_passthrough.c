// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * passthrough: hands every packet on. A placeholder in a chain, the baseline
 * a benchmark compares real functions with, and the template for new ones.
 *
 *	config: {mark: 7}	# optional: sets sfc_pkt.mark for later functions
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "nf.h"
#include "nf_passthrough.skel.h"

struct passthrough_cfg {
	uint32_t mark;
};

static int passthrough_parse(const struct sfc_ynode *config, void **out)
{
	static const char *const keys[] = { "mark", NULL };
	struct passthrough_cfg *cfg;
	struct sfc_ynode mark;
	uint64_t v = 0;
	int err;

	*out = NULL;
	if (config->n) {
		if (!sfc_ynode__is_map(config))
			return sfc_yaml__error(config, "expected a mapping (passthrough takes {mark: N})");
		err = sfc_ymap__check_keys(config, keys);
		if (err)
			return err;
		sfc_ymap__get(config, "mark", &mark);
		if (mark.n) {
			err = sfc_ynode__u64(&mark, 0, UINT32_MAX, &v);
			if (err)
				return err;
		}
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->mark = v;
	*out = cfg;
	return 0;
}

static void passthrough_free(void *cfg)
{
	free(cfg);
}

static void passthrough_dump(const void *cfg, struct sfc_json *j)
{
	const struct passthrough_cfg *c = cfg;

	sfc_json__obj_begin(j);
	if (c && c->mark)
		sfc_json__ku64(j, "mark", c->mark);
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

static int passthrough_configure(const struct sfc_nf_ctx *ctx, const void *cfg)
{
	const struct passthrough_cfg *c = cfg;
	__u32 key = 0, mark = c ? c->mark : 0;
	int fd, err;

	fd = sfc_nf__map_fd(ctx, "sfc_pass_mark");
	if (fd < 0)
		return fd;
	err = bpf_map_update_elem(fd, &key, &mark, BPF_ANY) ? -errno : 0;
	close(fd);
	return err;
}

const struct sfc_nf_type sfc_nf_passthrough = {
	.name = "passthrough",
	.summary = "hands every packet on unchanged; optional {mark: N} tags it",
	.parse = passthrough_parse,
	.free = passthrough_free,
	.dump = passthrough_dump,
	.open = passthrough_open,
	.prog_name = "sfc_passthrough",
	.configure = passthrough_configure,
};
