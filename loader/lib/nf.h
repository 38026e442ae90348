/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Network function types. Each type parses its `config:`, brings its BPF
 * object and writes its runtime configuration into its maps.
 *
 * Life of a function in a generation: open() gives a fresh bpf_object; the
 * runtime gives it the chain's maps and pins its other maps under
 * <chain>/nf/<function>/ (reused across generations, so state survives);
 * prepare() sets load-time knobs (rodata) before load; after load and
 * pinning, configure() writes the runtime configuration. A re-apply that
 * changes only configs calls configure() alone, on the pinned maps.
 *
 * A type whose config must go live atomically (a firewall's rule set: no
 * packet may see half of it) sets config_swaps: any change of its config then
 * builds a new generation, which the root array swaps in whole. Its maps named
 * in gen_maps belong to that generation: created fresh, sized by prepare(),
 * filled by configure() before the generation goes live, pinned under
 * <chain>/gen<N>/nf/<function>/ and dropped with the generation.
 */
#ifndef SFC_NF_H
#define SFC_NF_H

#include <bpf/libbpf.h>
#include "sfc/sfc.h"
#include "json.h"
#include "sfc_yaml.h"

struct sfc_nf_ctx {
	const char *chain;		/* chain name */
	const struct sfc_function *fn;
	const char *map_dir;		/* <pin root>/<chain>/nf/<function> */
	const char *gen_dir;		/* <pin root>/<chain>/gen<N>/nf/<function> */
	struct sfc_diag *diag;
};

struct sfc_nf_type {
	const char *name;		/* the chain file's `type:` */
	const char *summary;
	/* config may be absent (c->n == NULL); store the result in *cfg. */
	int (*parse)(const struct sfc_ynode *config, void **cfg);
	void (*free)(void *cfg);
	/* Canonical JSON of the config (an object). */
	void (*dump)(const void *cfg, struct sfc_json *j);
	/* A fresh object, and its XDP entry program's name. */
	struct bpf_object *(*open)(void);
	const char *prog_name;
	/*
	 * Optional: a second program of the object that wants every final
	 * verdict of the packets its function arms it for (sfc_pkt.hook). The
	 * runtime puts the hook of the first function, in file order, whose
	 * type has one into SFC_SLOT_HOOK and sets that object's rodata
	 * sfc_hook_owner to 1; the other functions of such types run without
	 * their hook (not loaded) and must not arm it.
	 */
	const char *hook_prog_name;
	/* Optional: set rodata on the opened object before load. */
	int (*prepare)(struct bpf_object *obj, const void *cfg);
	/* Optional: write runtime config into the pinned maps. */
	int (*configure)(const struct sfc_nf_ctx *ctx, const void *cfg);
	/* Maps that belong to a generation (NULL-terminated), see above. */
	const char *const *gen_maps;
	bool config_swaps;
};

const struct sfc_nf_type *sfc_nf_type__find(const char *name);
/* For help texts: the types, NULL-terminated. */
const struct sfc_nf_type *const *sfc_nf_types(void);

/* fd of a pinned map of the function (caller closes), or -errno. Maps in
 * the type's gen_maps are those of the generation being built. */
int sfc_nf__map_fd(const struct sfc_nf_ctx *ctx, const char *map_name);
bool sfc_nf__is_gen_map(const struct sfc_nf_type *type, const char *map_name);

/* Size map `name` of the opened object to n entries (0: one, the least a
 * map may have), before load. -ENOENT when the object has no such map. */
int sfc_nf__set_size(struct bpf_object *obj, const char *name, uint32_t n);

/* Set a `const volatile` scalar of the object's .rodata by name, before
 * load (size: 1, 2, 4 or 8 bytes, as declared). */
int sfc_nf__set_rodata(struct bpf_object *obj, const char *var, const void *val, size_t size);

#endif
