/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Versions of what a chain leaves pinned, and the checks that let one sfc
 * release adopt a chain another release applied (docs/design.md, "Versions
 * and upgrades").
 *
 * Three things are versioned:
 *  - the chain ABI (SFC_ABI_VERSION, in <chain>/info): the runtime's own
 *    layouts (info, stats, scratch, the slots). Another version: refused.
 *  - each function type's map ABI (SFC_<TYPE>_MAP_ABI, in the shared
 *    headers): the layout and meaning of what the type keeps in
 *    nf/<function>/. Recorded per function in <chain>/layout; a chain
 *    without that pin was applied by sfc 0.1.0, whose map ABIs are all 1.
 *  - each reused map itself: type, key and value sizes, and the members of
 *    its key and value structs (BTF), against what this release would load.
 * A refusal comes before anything is written, so the chain keeps running as
 * it was.
 */
#ifndef SFC_COMPAT_H
#define SFC_COMPAT_H

#include <linux/types.h>
#include "internal.h"

struct bpf_object;
struct bpf_map;
struct btf;

/* struct sfc_chain_layout's own version. */
#define SFC_LAYOUT_VERSION 1
/* The map ABI of every function of a chain that has no <chain>/layout. */
#define SFC_MAP_ABI_V010 1

struct sfc_layout_fn {
	char name[SFC_NAME_MAX + 1];
	__u8 pad[3];
	__u32 map_abi;		/* the type's map ABI its nf/<name>/ maps have */
};

/*
 * <chain>/layout, key 0: written with info by every apply that changes the
 * chain (sfc 0.2.0 on). Readers check the map's value size before they read.
 */
struct sfc_chain_layout {
	__u32 version;		/* SFC_LAYOUT_VERSION */
	__u32 abi_version;	/* SFC_ABI_VERSION of the writer */
	char applied_by[32];	/* the writer's release, "0.2.0" */
	__u32 n_functions;
	__u32 pad;
	struct sfc_layout_fn fn[SFC_MAX_FUNCTIONS];
};

/* The map ABI of a function type (1 for a type that never changed). */
__u32 sfc_compat__map_abi(const char *type);
/* This library's release, "0.2.0". */
const char *sfc_compat__version(void);

/*
 * <dir>/info, like sfc_info_read(), but never reads more than the struct
 * holds: a map whose value size is not sizeof(*info) (a newer or older
 * layout) is -EPROTO, with info->abi_version filled when it can be read.
 */
int sfc_compat__info_read(const char *dir, struct sfc_chain_info *info);

/* The refusal of a chain whose info has another ABI version (-EPROTO). */
int sfc_compat__refuse_abi(struct sfc_diag *d, const char *chain, __u32 found);

/*
 * <dir>/layout; -ENOENT when the chain has none (applied by 0.1.0), -EPROTO
 * when it is another version of the record.
 */
int sfc_compat__layout_read(const char *dir, struct sfc_chain_layout *l);

/*
 * Before an apply changes anything in an existing chain: the runtime's
 * maps in its base (stats, scratch) must match this release's entry object
 * (sfc_compat__check_map(), -EINVAL), and every function of spec that the
 * chain already has (same name and type in old) must have the map ABI this
 * release uses (-EPROTO). d names the chain, the function or map, what
 * changed and what to do.
 */
int sfc_compat__check_chain(const char *dir, const struct sfc_chain_info *old,
			    const struct sfc_chain_spec *spec, struct sfc_diag *d);

/* Record what spec's functions were applied with (after a successful apply). */
int sfc_compat__record(const char *dir, const struct sfc_chain_spec *spec);

/*
 * A map of obj (opened, not loaded) that will reuse the map pinned at pin:
 * same size (the config's), type, key and value sizes, and, when both carry
 * BTF, the same members in their key and value structs (a member may only
 * take what was padding). 0 when compatible or nothing is pinned there; else
 * -EINVAL with d saying which map of which function of which chain, what
 * changed, and what to do. what: "function fw (firewall)"; path: the
 * diag's spec path.
 */
int sfc_compat__check_map(struct sfc_diag *d, const char *chain, const char *what,
			  const char *path, const struct bpf_object *obj,
			  const struct bpf_map *map, const char *pin);

/*
 * The difference between two BTF types that should describe the same
 * layout, in words ("member x moved from 8 bytes at 16 to 8 bytes at 24"),
 * into buf; 0 when compatible (the same non-padding members at the same
 * offsets and sizes; new members only where the old type had padding), 1
 * when not, -errno when a type cannot be read.
 */
int sfc_compat__btf_diff(const struct btf *old_btf, __u32 old_id, const struct btf *new_btf,
			 __u32 new_id, char *buf, size_t len);

#endif
