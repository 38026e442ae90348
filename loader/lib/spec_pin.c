// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The chain's spec pin as a YAML document, for its readers: the agent,
 * `sfcctl rules` (fw_status.c) and `sfcctl lb` (lb_status.c). The pin holds
 * the canonical JSON of the spec as applied, which libyaml reads as YAML
 * (json.c escapes what libyaml would refuse).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "sfc_yaml.h"

int sfc_spec_load(const char *dir, struct sfc_yaml *y, struct sfc_diag *d, struct sfc_ynode *root)
{
	yaml_parser_t parser;
	char *spec;
	int err = 0;

	memset(y, 0, sizeof(*y));
	memset(root, 0, sizeof(*root));
	spec = sfc_spec_read(dir);
	if (!spec)
		return -ENOENT;
	if (!yaml_parser_initialize(&parser)) {
		free(spec);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)spec, strlen(spec));
	if (!yaml_parser_load(&parser, &y->doc))
		err = -EINVAL;
	yaml_parser_delete(&parser);
	free(spec);
	if (err)
		return err;
	y->loaded = true;
	y->file = "spec";
	y->diag = d;
	root->y = y;
	root->n = yaml_document_get_root_node(&y->doc);
	return 0;
}

void sfc_spec_unload(struct sfc_yaml *y)
{
	if (y->loaded)
		yaml_document_delete(&y->doc);
	y->loaded = false;
}

void sfc_spec_function(const struct sfc_ynode *root, const char *name, struct sfc_ynode *out)
{
	struct sfc_ynode fns, fn, n;
	size_t i, len;

	memset(out, 0, sizeof(*out));
	out->y = root->y;
	sfc_ymap__get(root, "functions", &fns);
	len = sfc_ynode__is_seq(&fns) ? sfc_yseq__len(&fns) : 0;
	for (i = 0; i < len; i++) {
		sfc_yseq__at(&fns, i, &fn);
		sfc_ymap__get(&fn, "name", &n);
		if (n.n && sfc_ynode__text(&n) && !strcmp(sfc_ynode__text(&n), name)) {
			*out = fn;
			return;
		}
	}
}
