/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* A small JSON writer into a growing buffer, shared by the library (canonical
 * specs) and sfcctl (-j output). Keys are snake_case; numbers stay numbers. */
#ifndef SFC_JSON_H
#define SFC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sfc_json {
	char *buf;
	size_t len, cap;
	int depth;
	bool pretty;
	bool need_comma[32];
	bool after_key;
	int err;		/* -ENOMEM once allocation failed */
};

void sfc_json__init(struct sfc_json *j, bool pretty);
void sfc_json__free(struct sfc_json *j);
/* Take the NUL-terminated text; the writer is left empty. NULL on error. */
char *sfc_json__take(struct sfc_json *j);

void sfc_json__obj_begin(struct sfc_json *j);
void sfc_json__obj_end(struct sfc_json *j);
void sfc_json__arr_begin(struct sfc_json *j);
void sfc_json__arr_end(struct sfc_json *j);
void sfc_json__key(struct sfc_json *j, const char *key);
void sfc_json__str(struct sfc_json *j, const char *s);
void sfc_json__u64(struct sfc_json *j, uint64_t v);
void sfc_json__i64(struct sfc_json *j, int64_t v);
void sfc_json__bool(struct sfc_json *j, bool v);
void sfc_json__null(struct sfc_json *j);

/* key + value shorthands */
void sfc_json__kstr(struct sfc_json *j, const char *key, const char *s);
void sfc_json__ku64(struct sfc_json *j, const char *key, uint64_t v);
void sfc_json__kbool(struct sfc_json *j, const char *key, bool v);

/* Append text as it is: for building plain strings, not JSON. */
void sfc_json__raw_text(struct sfc_json *j, const char *s);

#endif
