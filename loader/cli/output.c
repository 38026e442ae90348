// SPDX-License-Identifier: GPL-2.0
/* sfcctl: errors, the log callback, JSON documents and plain tables. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void error_json(const char *msg)
{
	struct sfc_json j;

	sfc_json__init(&j, false);
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "error", msg);
	sfc_json__obj_end(&j);
	if (!j.err)
		printf("%s\n", j.buf);
	sfc_json__free(&j);
}

int out_error(const struct sfcctl *ctl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctl->json)
		error_json(msg);
	else
		fprintf(stderr, "sfcctl: %s\n", msg);
	return EXIT_FAIL;
}

int out_usage(const struct sfcctl *ctl, const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctl->json) {
		error_json(msg);
		return EXIT_USAGE;
	}
	fprintf(stderr, "sfcctl: %s\n", msg);
	if (cmd)
		fprintf(stderr, "Try 'sfcctl help %s'.\n", cmd);
	else
		fprintf(stderr, "Try 'sfcctl help'.\n");
	return EXIT_USAGE;
}

/* Fill in what the library left out. */
static void diag_complete(struct sfc_diag *d, int err)
{
	if (d->msg[0])
		return;
	if (err == -EPERM || err == -EACCES)
		snprintf(d->msg, sizeof(d->msg), "%s (are you root?)", strerror(-err));
	else
		snprintf(d->msg, sizeof(d->msg), "%s", strerror(err < 0 ? -err : EIO));
}

void out_diag_json(struct sfc_json *j, const struct sfc_diag *diag, int err)
{
	struct sfc_diag d = *diag;

	diag_complete(&d, err);
	sfc_json__kstr(j, "error", d.msg);
	if (d.file[0])
		sfc_json__kstr(j, "file", d.file);
	if (d.line)
		sfc_json__ku64(j, "line", d.line);
	if (d.col)
		sfc_json__ku64(j, "col", d.col);
	if (d.path[0])
		sfc_json__kstr(j, "path", d.path);
}

int out_diag(const struct sfcctl *ctl, const struct sfc_diag *diag, int err)
{
	char buf[sizeof(struct sfc_diag) + 64];
	struct sfc_diag d = *diag;
	struct sfc_json j;

	if (ctl->json) {
		sfc_json__init(&j, ctl->pretty);
		sfc_json__obj_begin(&j);
		out_diag_json(&j, diag, err);
		sfc_json__obj_end(&j);
		out_json_print(&j);
		return EXIT_FAIL;
	}
	diag_complete(&d, err);
	sfc_diag__format(&d, buf, sizeof(buf));
	/* file:line:col: first, the way compilers and editors expect it */
	fprintf(stderr, "%s%s\n", d.file[0] ? "" : "sfcctl: ", buf);
	return EXIT_FAIL;
}

void out_json_init(const struct sfcctl *ctl, struct sfc_json *j)
{
	sfc_json__init(j, ctl->pretty);
}

int out_json_print(struct sfc_json *j)
{
	bool pretty = j->pretty;
	char *s = sfc_json__take(j);

	if (!s) {
		fprintf(stderr, "sfcctl: %s\n", strerror(ENOMEM));
		return EXIT_FAIL;
	}
	/* a pretty document already ends with a newline */
	fputs(s, stdout);
	if (!pretty)
		fputc('\n', stdout);
	free(s);
	return EXIT_OK;
}

/* ---- raw JSON --------------------------------------------------------- */

static void raw_put(struct sfc_json *j, const char *s, size_t n)
{
	size_t cap = j->cap ? j->cap : 256;
	char *nb;

	if (j->err)
		return;
	while (j->len + n + 1 > cap)
		cap *= 2;
	if (cap != j->cap) {
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

static void raw_newline(struct sfc_json *j, int depth)
{
	raw_put(j, "\n", 1);
	while (depth-- > 0)
		raw_put(j, "  ", 2);
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

/* Length of the string literal at s (s[0] == '"'), quotes included. */
static size_t string_len(const char *s)
{
	size_t i = 1;

	while (s[i] && s[i] != '"')
		i += (s[i] == '\\' && s[i + 1]) ? 2 : 1;
	return s[i] ? i + 1 : i;
}

/* Re-indent compact JSON the way json.c indents, starting at depth. */
static void raw_pretty(struct sfc_json *j, const char *s, int depth)
{
	const char *next;
	size_t n;

	for (s = skip_space(s); *s; s = skip_space(s)) {
		switch (*s) {
		case '"':
			n = string_len(s);
			raw_put(j, s, n);
			s += n;
			continue;
		case '{':
		case '[':
			raw_put(j, s, 1);
			next = skip_space(s + 1);
			if (*next == '}' || *next == ']') {
				raw_put(j, next, 1);
				s = next + 1;
				continue;
			}
			raw_newline(j, ++depth);
			break;
		case '}':
		case ']':
			raw_newline(j, --depth);
			raw_put(j, s, 1);
			break;
		case ',':
			raw_put(j, ",", 1);
			raw_newline(j, depth);
			break;
		case ':':
			raw_put(j, ": ", 2);
			break;
		default:
			raw_put(j, s, 1);
		}
		s++;
	}
}

/*
 * json.c has no raw value; write a null through it, so that the separator
 * and the indentation before the value are its own, then replace the null.
 */
void out_json_raw(struct sfc_json *j, const char *raw)
{
	sfc_json__null(j);
	if (!raw || j->err)
		return;
	j->len -= strlen("null");
	j->buf[j->len] = '\0';
	if (j->pretty)
		raw_pretty(j, raw, j->depth);
	else
		raw_put(j, raw, strlen(raw));
}

/* ---- log -------------------------------------------------------------- */

void out_log(enum sfc_log_level level, const char *msg, void *ctx)
{
	static const char *const names[] = {
		[SFC_LOG_ERROR] = "error",
		[SFC_LOG_WARN] = "warning",
		[SFC_LOG_INFO] = "info",
		[SFC_LOG_DEBUG] = "debug",
	};
	const char *name = (unsigned int)level <= SFC_LOG_DEBUG ? names[level] : "log";
	size_t n = strlen(msg);

	while (n && msg[n - 1] == '\n')
		n--;
	fprintf(stderr, "sfcctl: %s: %.*s\n", name, (int)n, msg);
}

/* ---- tables ----------------------------------------------------------- */

void table_init(struct table *t, unsigned int n_cols, unsigned int n_left)
{
	memset(t, 0, sizeof(*t));
	t->n_cols = n_cols < TABLE_COLS ? n_cols : TABLE_COLS;
	t->n_left = n_left;
}

int table_row(struct table *t)
{
	char (*cells)[TABLE_CELL];

	if (t->err)
		return -1;
	cells = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(*cells));
	if (!cells) {
		t->err = -ENOMEM;
		return -1;
	}
	t->cells = cells;
	memset(cells[t->n_rows * t->n_cols], 0, t->n_cols * sizeof(*cells));
	return t->n_rows++;
}

void table_set(struct table *t, int row, unsigned int col, const char *fmt, ...)
{
	va_list ap;

	if (row < 0 || col >= t->n_cols)
		return;
	va_start(ap, fmt);
	vsnprintf(t->cells[row * t->n_cols + col], TABLE_CELL, fmt, ap);
	va_end(ap);
}

void table_print(const struct table *t, FILE *f)
{
	int width[TABLE_COLS] = { 0 };
	unsigned int r, c;
	const char *cell;
	int w;

	for (r = 0; r < t->n_rows; r++)
		for (c = 0; c < t->n_cols; c++) {
			w = strlen(t->cells[r * t->n_cols + c]);
			width[c] = w > width[c] ? w : width[c];
		}
	for (r = 0; r < t->n_rows; r++) {
		for (c = 0; c < t->n_cols; c++) {
			cell = t->cells[r * t->n_cols + c];
			if (c + 1 == t->n_cols && c < t->n_left)
				fprintf(f, "%s", cell);	/* no trailing blanks */
			else
				fprintf(f, c < t->n_left ? "%-*s" : "%*s", width[c], cell);
			fputs(c + 1 < t->n_cols ? "  " : "\n", f);
		}
	}
}

void table_free(struct table *t)
{
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

bool cli_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char end;
	int i;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != 6)
		return false;
	for (i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]))
			return false;
		mac[i] = b[i];
	}
	return true;
}
