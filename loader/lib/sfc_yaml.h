/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Typed access to a libyaml document with errors that name the file, line,
 * column (libyaml's marks, made 1-based), the key path and what was expected:
 *
 *	chain.yaml:12:9: spec.functions[3].config.dst: "10.0.0.0/33" is not a prefix
 *
 * Network functions parse their `config:` with these helpers.
 *
 * Not named yaml.h: with -I loader/lib that name would shadow libyaml's own
 * <yaml.h>, included below.
 */
#ifndef SFC_YAML_H
#define SFC_YAML_H

#include <stdbool.h>
#include <stdint.h>
#include <yaml.h>
#include "sfc/sfc.h"

struct sfc_yaml {
	yaml_document_t doc;
	bool loaded;
	const char *file;
	struct sfc_diag *diag;
};

/* A node and the key path that reached it. n is NULL for an absent key. */
struct sfc_ynode {
	struct sfc_yaml *y;
	yaml_node_t *n;
	char path[160];
};

/*
 * Report an error at `at` (its start mark and path); returns -EINVAL. The
 * first error counts: an error already in the diag is kept.
 */
int sfc_yaml__error(const struct sfc_ynode *at, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

bool sfc_ynode__is_map(const struct sfc_ynode *n);
bool sfc_ynode__is_seq(const struct sfc_ynode *n);
bool sfc_ynode__is_scalar(const struct sfc_ynode *n);
/* What n is, for "expected X, got %s": "a mapping", "a sequence", "null"
 * (a plain empty, ~ or null scalar), "a string" or "nothing" (absent). */
const char *sfc_ynode__kind(const struct sfc_ynode *n);
/* Set n's key path; a path is cut at sizeof(n->path), line and column
 * still say where. */
void sfc_ynode__set_path(struct sfc_ynode *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The scalar's text, or NULL when n is not a scalar. */
const char *sfc_ynode__text(const struct sfc_ynode *n);

/*
 * User text in a message: in double quotes, escaped so that the message
 * stays one line, cut at SFC_YAML_QUOTE_MAX characters. Returns buf; a
 * buffer of SFC_YAML_QBUF always suffices.
 */
#define SFC_YAML_QUOTE_MAX 48
#define SFC_YAML_QBUF (SFC_YAML_QUOTE_MAX * 4 + 16)
const char *sfc_yaml__quote(const char *s, char *buf, size_t len);

/* Error at the first key of map that is not in allowed (NULL-terminated). */
int sfc_ymap__check_keys(const struct sfc_ynode *map, const char *const *allowed);
/* Look key up in map; out->n is NULL (and out->path set) when absent. */
void sfc_ymap__get(const struct sfc_ynode *map, const char *key, struct sfc_ynode *out);

size_t sfc_yseq__len(const struct sfc_ynode *seq);
void sfc_yseq__at(const struct sfc_ynode *seq, size_t i, struct sfc_ynode *out);

/* Typed scalars: each errors (naming what was expected) on a wrong type. */
int sfc_ynode__str(const struct sfc_ynode *n, char *buf, size_t len);
int sfc_ynode__u64(const struct sfc_ynode *n, uint64_t min, uint64_t max, uint64_t *out);
int sfc_ynode__bool(const struct sfc_ynode *n, bool *out);
/* One of names (NULL-terminated); *out is its index. */
int sfc_ynode__enum(const struct sfc_ynode *n, const char *const *names, int *out);
/* "15s", "500ms", "2m", "1h" or a plain number of seconds, in nanoseconds. */
int sfc_ynode__duration(const struct sfc_ynode *n, uint64_t *out_ns);
int sfc_ynode__mac(const struct sfc_ynode *n, uint8_t mac[6]);

/*
 * The spec pin of the chain pinned at `dir` (spec_pin.c), loaded as a YAML
 * document: -ENOENT without one, -EINVAL if libyaml refuses it. Errors of
 * the typed helpers then go to `d`, under the file name "spec".
 * sfc_spec_unload() frees it (also after a failed load).
 */
int sfc_spec_load(const char *dir, struct sfc_yaml *y, struct sfc_diag *d,
		  struct sfc_ynode *root);
void sfc_spec_unload(struct sfc_yaml *y);
/* The entry of spec.functions named `name`; out->n is NULL if there is none. */
void sfc_spec_function(const struct sfc_ynode *root, const char *name, struct sfc_ynode *out);

#endif
