// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Typed access to a libyaml document. Every helper that finds something
 * other than what it wants reports it through sfc_yaml__error(), at the
 * offending node, with the key path that reached it and what was expected.
 *
 * libyaml does not resolve tags, so every scalar is text here; a plain
 * (unquoted) empty, "~" or "null" scalar is YAML's null and never a string.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sfc_yaml.h"


/* User text (a key, a quoted name) must not break a diagnostic in two. */
static void one_line(struct sfc_diag *d)
{
	char *s;

	for (s = d->path; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
	for (s = d->msg; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

int sfc_yaml__error(const struct sfc_ynode *at, const char *fmt, ...)
{
	struct sfc_diag *d = at->y ? at->y->diag : NULL;
	va_list ap;

	/* The first error is the one worth reading; later ones are fallout. */
	if (!d || d->msg[0])
		return -EINVAL;
	snprintf(d->file, sizeof(d->file), "%s", at->y->file ? at->y->file : "");
	d->line = at->n ? (int)at->n->start_mark.line + 1 : 0;
	d->col = at->n ? (int)at->n->start_mark.column + 1 : 0;
	snprintf(d->path, sizeof(d->path), "%s", at->path);
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	one_line(d);
	return -EINVAL;
}

/*
 * User text for a message: quoted, control and non-ASCII bytes escaped (so a
 * message stays one line), cut at QUOTE_MAX characters.
 */
const char *sfc_yaml__quote(const char *s, char *buf, size_t len)
{
	size_t o = 0, n = 0;

	buf[o++] = '"';
	for (; *s && o + 8 < len; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (n == SFC_YAML_QUOTE_MAX) {
			o += snprintf(buf + o, len - o, "...");
			break;
		}
		if (c == '"' || c == '\\')
			o += snprintf(buf + o, len - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

const char *sfc_ynode__kind(const struct sfc_ynode *n)
{
	if (!n->n)
		return "nothing";
	switch (n->n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a sequence";
	case YAML_SCALAR_NODE:
		return is_null(n->n) ? "null" : "a string";
	default:
		return "an empty node";
	}
}

bool sfc_ynode__is_map(const struct sfc_ynode *n)
{
	return n->n && n->n->type == YAML_MAPPING_NODE;
}

bool sfc_ynode__is_seq(const struct sfc_ynode *n)
{
	return n->n && n->n->type == YAML_SEQUENCE_NODE;
}

bool sfc_ynode__is_scalar(const struct sfc_ynode *n)
{
	return n->n && n->n->type == YAML_SCALAR_NODE;
}

void sfc_ynode__set_path(struct sfc_ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->path, sizeof(n->path), fmt, ap);
	va_end(ap);
}

const char *sfc_ynode__text(const struct sfc_ynode *n)
{
	return sfc_ynode__is_scalar(n) ? (const char *)n->n->data.scalar.value : NULL;
}

/* A path is cut at sizeof(path); the location still says where. */
__attribute__((format(printf, 3, 4)))
static void set_path(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, len, fmt, ap);
	va_end(ap);
}

/* A mapping key in a path: `a.b`, or `a["b c"]` when it is not a word. */
static void path_key(char *out, size_t len, const char *base, const char *key)
{
	const char *p;
	char q[SFC_YAML_QBUF];

	for (p = key; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			break;
	if (*key && !*p)
		set_path(out, len, "%s%s%s", base, *base ? "." : "", key);
	else
		set_path(out, len, "%s[%s]", base, sfc_yaml__quote(key, q, sizeof(q)));
}

static yaml_node_t *node_at(const struct sfc_ynode *parent, int idx)
{
	return yaml_document_get_node(&parent->y->doc, idx);
}

int sfc_ymap__check_keys(const struct sfc_ynode *map, const char *const *allowed)
{
	char list[256], q[SFC_YAML_QBUF];
	yaml_node_pair_t *p;
	struct sfc_ynode k;
	size_t o = 0;
	int i;

	if (!map->n)
		return 0;
	if (!sfc_ynode__is_map(map))
		return sfc_yaml__error(map, "expected a mapping, got %s", sfc_ynode__kind(map));

	list[0] = '\0';
	for (i = 0; allowed[i]; i++)
		o += snprintf(list + o, o < sizeof(list) ? sizeof(list) - o : 0, "%s%s",
			      i ? ", " : "", allowed[i]);

	for (p = map->n->data.mapping.pairs.start; p < map->n->data.mapping.pairs.top; p++) {
		k.y = map->y;
		k.n = node_at(map, p->key);
		set_path(k.path, sizeof(k.path), "%s", map->path);
		if (!sfc_ynode__is_scalar(&k) || is_null(k.n))
			return sfc_yaml__error(&k, "expected a string as key, got %s",
					       sfc_ynode__kind(&k));
		for (i = 0; allowed[i]; i++)
			if (!strcmp(allowed[i], sfc_ynode__text(&k)))
				break;
		if (allowed[i])
			continue;
		path_key(k.path, sizeof(k.path), map->path, sfc_ynode__text(&k));
		if (!allowed[0])
			return sfc_yaml__error(&k, "unknown key %s (no keys are allowed here)",
					       sfc_yaml__quote(sfc_ynode__text(&k), q, sizeof(q)));
		return sfc_yaml__error(&k, "unknown key %s (expected one of: %s)",
				       sfc_yaml__quote(sfc_ynode__text(&k), q, sizeof(q)), list);
	}
	return 0;
}

void sfc_ymap__get(const struct sfc_ynode *map, const char *key, struct sfc_ynode *out)
{
	yaml_node_pair_t *p;
	yaml_node_t *k;

	out->y = map->y;
	out->n = NULL;
	path_key(out->path, sizeof(out->path), map->path, key);
	if (!sfc_ynode__is_map(map))
		return;
	for (p = map->n->data.mapping.pairs.start; p < map->n->data.mapping.pairs.top; p++) {
		k = node_at(map, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)k->data.scalar.value, key)) {
			out->n = node_at(map, p->value);
			return;
		}
	}
}

size_t sfc_yseq__len(const struct sfc_ynode *seq)
{
	if (!sfc_ynode__is_seq(seq))
		return 0;
	return seq->n->data.sequence.items.top - seq->n->data.sequence.items.start;
}

void sfc_yseq__at(const struct sfc_ynode *seq, size_t i, struct sfc_ynode *out)
{
	out->y = seq->y;
	out->n = NULL;
	set_path(out->path, sizeof(out->path), "%s[%zu]", seq->path, i);
	if (i < sfc_yseq__len(seq))
		out->n = node_at(seq, seq->n->data.sequence.items.start[i]);
}

/* The text of a scalar that is not null, or an error naming `what`. */
static int scalar(const struct sfc_ynode *n, const char *what, const char **s)
{
	if (!sfc_ynode__is_scalar(n) || is_null(n->n))
		return sfc_yaml__error(n, "expected %s, got %s", what, sfc_ynode__kind(n));
	*s = sfc_ynode__text(n);
	return 0;
}

int sfc_ynode__str(const struct sfc_ynode *n, char *buf, size_t len)
{
	const char *s;
	size_t l;
	int err;

	err = scalar(n, "a string", &s);
	if (err)
		return err;
	l = n->n->data.scalar.length;
	if (strlen(s) != l)
		return sfc_yaml__error(n, "expected a string, got text with a NUL character");
	if (l >= len)
		return sfc_yaml__error(n, "too long: %zu characters (at most %zu)", l,
				       len ? len - 1 : 0);
	memcpy(buf, s, l + 1);
	return 0;
}

/* Numbers and booleans are plain scalars; "80" in quotes is a string. */
static int plain(const struct sfc_ynode *n, const char *what, const char **s)
{
	char q[SFC_YAML_QBUF];
	int err;

	err = scalar(n, what, s);
	if (err)
		return err;
	if (n->n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return sfc_yaml__error(n, "expected %s, got the quoted string %s", what,
				       sfc_yaml__quote(*s, q, sizeof(q)));
	return 0;
}

/* Decimal or 0x-hex, no sign, no suffix. */
static int parse_u64(const char *s, uint64_t *out)
{
	int base = 10, d;
	uint64_t v = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (isdigit((unsigned char)*s))
			d = *s - '0';
		else if (base == 16 && isxdigit((unsigned char)*s))
			d = tolower((unsigned char)*s) - 'a' + 10;
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

int sfc_ynode__u64(const struct sfc_ynode *n, uint64_t min, uint64_t max, uint64_t *out)
{
	char what[80], q[SFC_YAML_QBUF];
	const char *s;
	uint64_t v;
	int err;

	snprintf(what, sizeof(what), "an integer in %" PRIu64 "..%" PRIu64, min, max);
	err = plain(n, what, &s);
	if (err)
		return err;
	err = parse_u64(s, &v);
	if (err == -EINVAL)
		return sfc_yaml__error(n, "%s is not an integer (expected %s)",
				       sfc_yaml__quote(s, q, sizeof(q)), what);
	if (err || v < min || v > max)
		return sfc_yaml__error(n, "%s is out of range (expected %s)",
				       sfc_yaml__quote(s, q, sizeof(q)), what);
	*out = v;
	return 0;
}

int sfc_ynode__bool(const struct sfc_ynode *n, bool *out)
{
	static const char *const t[] = { "true", "True", "TRUE", NULL };
	static const char *const f[] = { "false", "False", "FALSE", NULL };
	char q[SFC_YAML_QBUF];
	const char *s;
	int err, i;

	err = plain(n, "true or false", &s);
	if (err)
		return err;
	for (i = 0; t[i]; i++) {
		if (!strcmp(s, t[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, f[i])) {
			*out = false;
			return 0;
		}
	}
	return sfc_yaml__error(n, "%s is not a boolean (expected true or false)",
			       sfc_yaml__quote(s, q, sizeof(q)));
}

int sfc_ynode__enum(const struct sfc_ynode *n, const char *const *names, int *out)
{
	char list[256], what[300], q[SFC_YAML_QBUF];
	const char *s;
	size_t o = 0;
	int err, i;

	list[0] = '\0';
	for (i = 0; names[i]; i++)
		o += snprintf(list + o, o < sizeof(list) ? sizeof(list) - o : 0, "%s%s",
			      i ? ", " : "", names[i]);
	snprintf(what, sizeof(what), "one of: %s", list);
	err = scalar(n, what, &s);
	if (err)
		return err;
	for (i = 0; names[i]; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	return sfc_yaml__error(n, "%s is not valid (expected %s)", sfc_yaml__quote(s, q, sizeof(q)), what);
}

int sfc_ynode__duration(const struct sfc_ynode *n, uint64_t *out_ns)
{
	static const struct {
		const char *suffix;
		uint64_t ns;
	} units[] = {
		{ "ns", 1ULL },
		{ "us", 1000ULL },
		{ "ms", 1000000ULL },
		{ "s", 1000000000ULL },
		{ "m", 60ULL * 1000000000ULL },
		{ "h", 3600ULL * 1000000000ULL },
		{ "", 1000000000ULL },		/* a plain number is seconds */
	};
	static const char what[] = "a duration like 15s, 500ms, 2m, 1h or a number of seconds";
	char num[32], q[SFC_YAML_QBUF];
	const char *s, *u;
	uint64_t v;
	size_t i, l;
	int err;

	err = plain(n, what, &s);
	if (err)
		return err;
	for (u = s; isdigit((unsigned char)*u); u++)
		;
	l = u - s;
	if (l == 0 || l >= sizeof(num))
		goto bad;
	memcpy(num, s, l);
	num[l] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(u, units[i].suffix))
			continue;
		if (parse_u64(num, &v) || v > UINT64_MAX / units[i].ns)
			return sfc_yaml__error(n, "%s is out of range", sfc_yaml__quote(s, q, sizeof(q)));
		*out_ns = v * units[i].ns;
		return 0;
	}
bad:
	return sfc_yaml__error(n, "%s is not a duration (expected %s)", sfc_yaml__quote(s, q, sizeof(q)),
			       what);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sfc_ynode__mac(const struct sfc_ynode *n, uint8_t mac[6])
{
	static const char what[] = "a MAC address like 02:00:00:00:00:01";
	uint8_t m[6];
	char q[SFC_YAML_QBUF];
	const char *s;
	int err, i, hi, lo;

	err = scalar(n, what, &s);
	if (err)
		return err;
	if (strlen(s) != 17)
		goto bad;
	for (i = 0; i < 6; i++) {
		hi = hexval(s[i * 3]);
		lo = hexval(s[i * 3 + 1]);
		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			goto bad;
		m[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(mac, m, 6);
	return 0;
bad:
	return sfc_yaml__error(n, "%s is not a MAC address (expected %s)", sfc_yaml__quote(s, q, sizeof(q)),
			       what);
}
