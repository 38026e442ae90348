// SPDX-License-Identifier: GPL-2.0
/*
 * Saves every chain file a unit test parses (text, and the first set file it
 * reads, after a "#@file" line: fuzz_chain.c's input format) into
 * $SEED_DIR/$SEED_PREFIX-<hash>.yaml, then parses it for real. Built by
 * extract_seeds.sh only; the saved files are committed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sfc/sfc.h>

#define SEED_MAX (64 * 1024)	/* bigger texts are the unit tests' size limits */

int sfc_read_file(const char *path, size_t max, char **out, size_t *len);
int __real_sfc_read_file(const char *path, size_t max, char **out, size_t *len);
int __wrap_sfc_read_file(const char *path, size_t max, char **out, size_t *len);
int __real_sfc_read_file_at(const char *dir, const char *name, size_t max, char **out,
			    size_t *len);
int __wrap_sfc_read_file_at(const char *dir, const char *name, size_t max, char **out,
			    size_t *len);

static int in_parse;
static char *set_text;
static size_t set_len;

/* The first set file a parse reads becomes the seed's "#@file" text. */
static int keep_set_text(int err, const char *text, size_t len)
{
	if (!err && in_parse && !set_text && len <= SEED_MAX) {
		set_text = malloc(len + 1);
		if (set_text) {
			memcpy(set_text, text, len);
			set_len = len;
		}
	}
	return err;
}

int __wrap_sfc_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int err = __real_sfc_read_file(path, max, out, len);

	return keep_set_text(err, err ? NULL : *out, err ? 0 : *len);
}

int __wrap_sfc_read_file_at(const char *dir, const char *name, size_t max, char **out,
			    size_t *len)
{
	int err = __real_sfc_read_file_at(dir, name, max, out, len);

	return keep_set_text(err, err ? NULL : *out, err ? 0 : *len);
}

static void save(const char *text, size_t len)
{
	const char *dir = getenv("SEED_DIR"), *prefix = getenv("SEED_PREFIX");
	uint64_t h = 0xcbf29ce484222325ull;
	char path[4096];
	size_t i;
	FILE *f;

	if (!dir || len > SEED_MAX)
		return;
	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)text[i]) * 0x100000001b3ull;
	for (i = 0; i < set_len; i++)
		h = (h ^ (unsigned char)set_text[i]) * 0x100000001b3ull;
	snprintf(path, sizeof(path), "%s/%s-%016llx.yaml", dir, prefix ? prefix : "unit",
		 (unsigned long long)h);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(text, 1, len, f);
	if (set_text) {
		fputs("\n#@file\n", f);
		fwrite(set_text, 1, set_len, f);
	}
	fclose(f);
}

static void done(void)
{
	free(set_text);
	set_text = NULL;
	set_len = 0;
	in_parse = 0;
}

struct sfc_chain_spec *seed_parse_string(const char *name, const char *text, size_t len,
					 struct sfc_diag *diag)
{
	struct sfc_chain_spec *s;
	int err;

	in_parse = 1;
	s = sfc_chain_spec__parse_string(name, text, len, diag);
	err = errno;
	if (text)
		save(text, len);
	done();
	errno = err;
	return s;
}

struct sfc_chain_spec *seed_parse_file(const char *path, struct sfc_diag *diag)
{
	struct sfc_chain_spec *s;
	char *text = NULL;
	size_t len = 0;
	int err;

	if (path && !__real_sfc_read_file(path, SEED_MAX + 1, &text, &len))
		; /* read before the parse: set files read during it are captured */
	in_parse = 1;
	s = sfc_chain_spec__parse_file(path, diag);
	err = errno;
	if (text)
		save(text, len);
	free(text);
	done();
	errno = err;
	return s;
}
