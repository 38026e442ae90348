// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void sfc_json__init(struct sfc_json *j, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->pretty = pretty;
}

void sfc_json__free(struct sfc_json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

char *sfc_json__take(struct sfc_json *j)
{
	char *s;

	if (j->err || !j->buf) {
		sfc_json__free(j);
		return NULL;
	}
	s = j->buf;
	j->buf = NULL;
	sfc_json__free(j);
	return s;
}

static void put(struct sfc_json *j, const char *s, size_t n)
{
	char *nb;
	size_t cap;

	if (j->err)
		return;
	if (j->len + n + 1 > j->cap) {
		cap = j->cap ? j->cap : 256;
		while (j->len + n + 1 > cap)
			cap *= 2;
		nb = realloc(j->buf, cap);
		if (!nb) {
			j->err = -ENOMEM;
			return;
		}
		j->buf = nb;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void puts_(struct sfc_json *j, const char *s)
{
	put(j, s, strlen(s));
}

static void newline(struct sfc_json *j)
{
	int i;

	if (!j->pretty)
		return;
	put(j, "\n", 1);
	for (i = 0; i < j->depth; i++)
		put(j, "  ", 2);
}

/* Separator and indentation before a value or a key. */
static void before_item(struct sfc_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0 && j->depth < 32) {
		if (j->need_comma[j->depth])
			put(j, ",", 1);
		j->need_comma[j->depth] = true;
		newline(j);
	}
}

static void open_(struct sfc_json *j, const char *c)
{
	before_item(j);
	puts_(j, c);
	j->depth++;
	if (j->depth < 32)
		j->need_comma[j->depth] = false;
}

static void close_(struct sfc_json *j, const char *c)
{
	bool had = j->depth < 32 && j->need_comma[j->depth];

	j->depth--;
	if (had)
		newline(j);
	puts_(j, c);
	if (j->depth == 0 && j->pretty)
		put(j, "\n", 1);
}

void sfc_json__obj_begin(struct sfc_json *j) { open_(j, "{"); }
void sfc_json__obj_end(struct sfc_json *j) { close_(j, "}"); }
void sfc_json__arr_begin(struct sfc_json *j) { open_(j, "["); }
void sfc_json__arr_end(struct sfc_json *j) { close_(j, "]"); }

/*
 * The canonical spec is read back with libyaml (the agent, sfcctl rules and
 * lb), whose reader refuses DEL, the C1 controls and U+FFFE/U+FFFF even
 * inside quotes, while a chain file can hold them as escapes ("\x7f"). JSON
 * allows them raw; escaped, both read them (tests/fuzz found this).
 */
static size_t yaml_unsafe(const unsigned char *s, char esc[8])
{
	if (s[0] == 0x7f) {
		snprintf(esc, 8, "\\u007f");
		return 1;
	}
	if (s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
		snprintf(esc, 8, "\\u00%02x", s[1]);
		return 2;
	}
	if (s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf)) {
		snprintf(esc, 8, "\\uff%s", s[2] == 0xbe ? "fe" : "ff");
		return 3;
	}
	return 0;
}

static void quoted(struct sfc_json *j, const char *s)
{
	char esc[8];
	size_t n;

	put(j, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		n = yaml_unsafe((const unsigned char *)s, esc);
		if (n) {
			puts_(j, esc);
			s += n - 1;
			continue;
		}
		switch (c) {
		case '"': puts_(j, "\\\""); break;
		case '\\': puts_(j, "\\\\"); break;
		case '\n': puts_(j, "\\n"); break;
		case '\t': puts_(j, "\\t"); break;
		case '\r': puts_(j, "\\r"); break;
		default:
			if (c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", c);
				puts_(j, esc);
			} else {
				put(j, (const char *)&c, 1);
			}
		}
	}
	put(j, "\"", 1);
}

void sfc_json__key(struct sfc_json *j, const char *key)
{
	before_item(j);
	quoted(j, key);
	puts_(j, j->pretty ? ": " : ":");
	j->after_key = true;
}

void sfc_json__str(struct sfc_json *j, const char *s)
{
	before_item(j);
	if (s)
		quoted(j, s);
	else
		puts_(j, "null");
}

void sfc_json__u64(struct sfc_json *j, uint64_t v)
{
	char b[24];

	before_item(j);
	snprintf(b, sizeof(b), "%" PRIu64, v);
	puts_(j, b);
}

void sfc_json__i64(struct sfc_json *j, int64_t v)
{
	char b[24];

	before_item(j);
	snprintf(b, sizeof(b), "%" PRId64, v);
	puts_(j, b);
}

void sfc_json__bool(struct sfc_json *j, bool v)
{
	before_item(j);
	puts_(j, v ? "true" : "false");
}

void sfc_json__null(struct sfc_json *j)
{
	before_item(j);
	puts_(j, "null");
}

void sfc_json__kstr(struct sfc_json *j, const char *key, const char *s)
{
	sfc_json__key(j, key);
	sfc_json__str(j, s);
}

void sfc_json__ku64(struct sfc_json *j, const char *key, uint64_t v)
{
	sfc_json__key(j, key);
	sfc_json__u64(j, v);
}

void sfc_json__kbool(struct sfc_json *j, const char *key, bool v)
{
	sfc_json__key(j, key);
	sfc_json__bool(j, v);
}

void sfc_json__raw_text(struct sfc_json *j, const char *s)
{
	puts_(j, s);
}
