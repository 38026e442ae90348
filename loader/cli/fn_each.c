// SPDX-License-Identifier: GPL-2.0
/* `sfcctl CMD CHAIN [FUNCTION]`: the walk over a chain's functions of a type. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int for_each_function(const struct sfcctl *ctl, int argc, char **argv, const struct fn_each *e)
{
	struct sfc_chain_status *st = NULL;
	struct sfc_json j, *jp = NULL;
	unsigned int i, found = 0;
	int err, ret = EXIT_OK;

	if (!sfc_name_valid(argv[0]))
		return out_usage(ctl, e->cmd, "\"%s\" is not a chain name", argv[0]);
	if (argc > 1 && !sfc_name_valid(argv[1]))
		return out_usage(ctl, e->cmd, "\"%s\" is not a function name", argv[1]);
	err = sfc_chain__status(argv[0], ctl->pin_root, &st);
	if (err == -ENOENT)
		return out_error(ctl, "no chain %s", argv[0]);
	if (err)
		return out_error(ctl, "cannot read chain %s: %s", argv[0], strerror(-err));
	if (ctl->json) {
		jp = &j;
		out_json_init(ctl, jp);
		sfc_json__obj_begin(jp);
		sfc_json__kstr(jp, "chain", st->name);
		if (e->json_head)
			e->json_head(jp, e->arg);
		sfc_json__key(jp, e->array);
		sfc_json__arr_begin(jp);
	}
	for (i = 1; i + 1 < st->n_stages; i++) {
		if (argc > 1 ? strcmp(st->stages[i].name, argv[1]) :
			       strcmp(st->stages[i].type, e->type))
			continue;
		if (!jp && found)
			printf("\n");
		found++;
		if (e->one(ctl, st->name, st->stages[i].name, jp, e->arg))
			ret = EXIT_FAIL;
	}
	if (!found) {
		if (jp)
			sfc_json__free(jp);
		ret = argc > 1 ? out_error(ctl, "chain %s has no function %s", argv[0], argv[1]) :
				 out_error(ctl, "chain %s has no %s", argv[0], e->type);
		sfc_chain_status__free(st);
		return ret;
	}
	sfc_chain_status__free(st);
	if (!jp)
		return ret;
	sfc_json__arr_end(jp);
	sfc_json__obj_end(jp);
	return ret ? (sfc_json__free(jp), ret) : out_json_print(jp);
}
