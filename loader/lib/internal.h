/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libsfc internals shared between its files. */
#ifndef SFC_INTERNAL_H
#define SFC_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <linux/types.h>
#include "sfc/sfc.h"
#include "shared/sfc_abi.h"

/* ---- log.c ---- */
void sfc_log(enum sfc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fill diag (path may be NULL) and return err (a -errno). */
int sfc_diag_set(struct sfc_diag *d, int err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Route libbpf's messages to the sfc log (debug level), once. */
void sfc_libbpf_log_init(void);

/* ---- pin.c: bpffs ---- */
/*
 * <chain>/spec: the canonical JSON of the spec as applied, NUL-terminated,
 * in SFC_SPEC_CHUNK-byte entries of an ARRAY sized to fit (a big firewall's
 * rules run to megabytes). A larger spec gets a new map pinned over the old.
 */
#define SFC_SPEC_CHUNK (64 * 1024)
int sfc_spec_write(const char *dir, const char *json);
/* malloc'd; NULL when missing or unreadable. */
char *sfc_spec_read(const char *dir);

/*
 * <chain>/info, key 0: what the runtime needs to find and update a chain.
 * Written by apply, read by status, stats and delete. Versioned by
 * abi_version; a chain written by another ABI is refused, never misread.
 */
struct sfc_info_fn {
	char name[SFC_NAME_MAX + 1];
	char type[SFC_NAME_MAX + 1];
	__u16 id;
};

struct sfc_chain_info {
	__u32 abi_version;
	__u32 generation;
	__u64 applied_at_ns;
	__u64 struct_hash;		/* canonical spec without configs */
	__u64 full_hash;		/* canonical spec with configs */
	__u32 ifindex[2];
	char ifname[2][IF_NAMESIZE];
	char netns[64];
	__u8 method[2];			/* enum sfc_attach_method */
	__u8 mode[2];			/* as attached: native or skb */
	__u8 want_mode;			/* spec.xdpMode */
	__u8 egress;			/* enum sfc_egress */
	__u16 n_functions;
	struct sfc_info_fn fn[SFC_MAX_FUNCTIONS];
};

int sfc_bpffs_ensure(const char *root);
int sfc_pin_path(char *buf, size_t len, const char *root, const char *chain, const char *rel);
/* Remove a pin folder and everything under it (bpffs: unlink + rmdir). */
int sfc_rm_tree(const char *path);
int sfc_mkdir_p(const char *path);
uint64_t sfc_hash(const char *s);

int sfc_info_read(const char *dir, struct sfc_chain_info *info);

/*
 * Crash safety (docs/design.md, "Crash safety"). An apply that changes a
 * chain first makes the folder <chain>/applying and removes it once `info`
 * records the result; a delete makes <chain>/deleting first. Either left
 * behind means the process died on the way, and the next apply recovers.
 */
#define SFC_MARK_APPLYING "applying"
#define SFC_MARK_DELETING "deleting"
#define SFC_LIVE_MAX_GENS 16
/* sfc_live.gen[]: the slot is empty / holds a program of no pinned generation. */
#define SFC_GEN_EMPTY 0
#define SFC_GEN_UNKNOWN 0xffffffffu

/* What a chain's pins say runs, whatever `info` records. */
struct sfc_live {
	__u32 gen[2];			/* generation root_progs[dir] runs */
	unsigned int n_gens;		/* gen<N>/ folders, up to SFC_LIVE_MAX_GENS listed */
	__u32 gens[SFC_LIVE_MAX_GENS];
	__u32 max_gen;			/* the highest N of a gen<N>/ folder */
	bool applying, deleting;	/* the markers above */
};

/* Read it from the pins under dir (the chain's folder); 0 or -errno. */
int sfc_live_read(const char *dir, struct sfc_live *l);
/* name is gen<N> (N >= 1): *gen = N. */
bool sfc_gen_of(const char *name, __u32 *gen);
/* Whether gen<gen>/ holds both entry programs. */
bool sfc_gen_complete(const char *dir, __u32 gen);
/* fd of the object pinned at dir/name, or -errno. */
int sfc_pin_get(const char *dir, const char *name);

/* ---- config.c ---- */
/* A whole file, NUL-terminated; at most max + 1 bytes are read, so that
 * *len > max tells the caller the file is too big. */
int sfc_read_file(const char *path, size_t max, char **out, size_t *len);
/* The same for a file a chain file names: a relative name is read from
 * folder dir and may not leave it, through .. or symlinks. */
int sfc_read_file_at(const char *dir, const char *name, size_t max, char **out, size_t *len);

/* ---- netns ---- */
/* Enter /run/netns/name (no-op for NULL/""); *saved gets the old one. */
int sfc_netns_enter(const char *name, int *saved);
void sfc_netns_leave(int saved);

#endif
