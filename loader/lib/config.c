// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Chain files: read, parse and validate into a struct sfc_chain_spec, and
 * the canonical JSON the runtime compares to decide what a re-apply changes.
 *
 * Nothing here touches the host: whether the interfaces exist is the
 * runtime's business. Only the first error is reported, in struct sfc_diag.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "internal.h"
#include "nf.h"
#include "shared/sfc_abi.h"

#define CHAIN_API_VERSION "sfc/v1alpha1"
#define CHAIN_KIND "Chain"
/* Room for 100k-rule firewalls; the limit is there to refuse /dev/zero. */
#define CHAIN_MAX_BYTES (64 << 20)
#define CHAIN_MAX_DEPTH 32		/* no chain or NF config nests deeper */

static const char *const xdp_modes[] = { "auto", "native", "skb", NULL };
static const char *const egress_actions[] = { "pass", "tx", "redirect", NULL };

int sfc_diag__format(const struct sfc_diag *d, char *buf, size_t len)
{
	size_t o = 0;
	int n;

	if (!d || !buf || !len)
		return -EINVAL;
	buf[0] = '\0';
#define PUT(...)							\
	do {								\
		n = snprintf(buf + o, len - o, __VA_ARGS__);		\
		if (n < 0 || (size_t)n >= len - o)			\
			return -ENOSPC;					\
		o += n;							\
	} while (0)
	if (d->file[0])
		PUT("%s:", d->file);
	if (d->line > 0) {
		PUT("%d:", d->line);
		if (d->col > 0)
			PUT("%d:", d->col);
	}
	if (o)
		PUT(" ");
	if (d->path[0])
		PUT("%s: ", d->path);
	PUT("%s", d->msg);
#undef PUT
	return 0;
}

/* Why name is not a valid chain or function name, or NULL if it is. */
static const char *name_problem(const char *name, char *buf, size_t len)
{
	size_t i, l = strlen(name);

	if (!l)
		return "a name cannot be empty";
	if (l > SFC_NAME_MAX) {
		snprintf(buf, len, "too long: %zu characters (at most %d)", l, SFC_NAME_MAX);
		return buf;
	}
	for (i = 0; i < l; i++) {
		char c = name[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')
			continue;
		if (c >= 'A' && c <= 'Z')
			snprintf(buf, len, "\"%s\" has an uppercase letter (names are lowercase: "
				 "a-z, 0-9 and '-')", name);
		else
			snprintf(buf, len, "\"%s\" has a character other than a-z, 0-9 and '-'",
				 name);
		return buf;
	}
	if (name[0] == '-') {
		snprintf(buf, len, "\"%s\" starts with '-'", name);
		return buf;
	}
	return NULL;
}

bool sfc_name_valid(const char *name)
{
	char buf[128];

	return name && !name_problem(name, buf, sizeof(buf));
}

/* Why ifname cannot name a network interface (the kernel's dev_valid_name()). */
static const char *ifname_problem(const char *ifname, char *buf, size_t len)
{
	const char *p, *why = NULL;
	size_t l = strlen(ifname);

	if (!l)
		return "an interface name cannot be empty";
	if (l >= IF_NAMESIZE) {
		snprintf(buf, len, "\"%.40s%s\" has %zu characters (an interface name has at "
			 "most %d)", ifname, l > 40 ? "..." : "", l, IF_NAMESIZE - 1);
		return buf;
	}
	if (!strcmp(ifname, ".") || !strcmp(ifname, ".."))
		why = "is not an interface name";
	for (p = ifname; *p && !why; p++) {
		if (*p == '/' || *p == ':')
			why = "has a '/' or ':' (not allowed in an interface name)";
		else if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
			why = "has whitespace (not allowed in an interface name)";
	}
	if (!why)
		return NULL;
	snprintf(buf, len, "\"%s\" %s", ifname, why);
	return buf;
}

/* An error that has a location but no node (the file, syntax errors). */
__attribute__((format(printf, 5, 6)))
static int diag_at(struct sfc_diag *d, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (d->msg[0])
		return -EINVAL;
	snprintf(d->file, sizeof(d->file), "%s", file);
	d->line = line;
	d->col = col;
	d->path[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* ---- loading ---------------------------------------------------------- */

/*
 * Line and column (1-based, in characters) of byte off of text. Lines end
 * where YAML's do, as libyaml's own marks count them: CR LF, CR, LF, NEL,
 * LS, PS (a file with CR line ends was all line 1: tests/fuzz found this).
 */
static void offset_mark(const char *text, size_t len, size_t off, int *line, int *col)
{
	const unsigned char *u = (const unsigned char *)text;
	size_t i, b;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i += b ? b : 1) {
		b = 0;
		if (u[i] == '\r')
			b = i + 1 < len && u[i + 1] == '\n' ? 2 : 1;
		else if (u[i] == '\n')
			b = 1;
		else if (i + 1 < len && u[i] == 0xc2 && u[i + 1] == 0x85)
			b = 2;
		else if (i + 2 < len && u[i] == 0xe2 && u[i + 1] == 0x80 &&
			 (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
			b = 3;
		if (b) {
			(*line)++;
			*col = 1;
		} else if ((u[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int syntax_error(const yaml_parser_t *p, const char *file, const char *text, size_t len,
			struct sfc_diag *d)
{
	int line, col;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return -ENOMEM;
	case YAML_READER_ERROR:
		/* The reader decodes the stream; it only knows the byte offset. */
		offset_mark(text, len, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			return diag_at(d, file, line, col, "not a YAML text stream: %s (#%X)",
				       p->problem, p->problem_value);
		return diag_at(d, file, line, col, "not a YAML text stream: %s", p->problem);
	default:
		line = (int)p->problem_mark.line + 1;
		col = (int)p->problem_mark.column + 1;
		if (p->context)
			return diag_at(d, file, line, col, "YAML syntax error: %s (%s at line %d)",
				       p->problem, p->context, (int)p->context_mark.line + 1);
		return diag_at(d, file, line, col, "YAML syntax error: %s",
			       p->problem ? p->problem : "cannot parse");
	}
}


/* The path of key in map, as sfc_ymap__get() names it (without escapes). */
static void key_path(struct sfc_ynode *out, const struct sfc_ynode *map, const char *key)
{
	const char *p;

	for (p = key; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-')
			break;
	if (*key && !*p)
		sfc_ynode__set_path(out, "%s%s%s", map->path, map->path[0] ? "." : "", key);
	else
		sfc_ynode__set_path(out, "%s[\"%.48s\"]", map->path, key);
}

struct key_ref {
	const char *s;
	size_t len;
	size_t idx;		/* position in the mapping */
	yaml_node_t *n;
};

static bool same_key(const struct key_ref *x, const struct key_ref *y)
{
	return x->len == y->len && !memcmp(x->s, y->s, x->len);
}

static int key_cmp(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	size_t l = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, l);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * libyaml keeps duplicate keys without a word and sfc_ymap__get() would
 * read the first; YAML says they are an error, and a silently ignored
 * `action:` is worse. Sorted, so a huge machine-written mapping stays cheap.
 * Reports the duplicate that comes first in the file.
 */
static int check_keys_unique(const struct sfc_ynode *map)
{
	yaml_node_pair_t *pairs = map->n->data.mapping.pairs.start;
	size_t i, n = map->n->data.mapping.pairs.top - pairs;
	const struct key_ref *dup = NULL, *first = NULL;
	struct sfc_ynode at = { .y = map->y };
	struct key_ref *k;
	int err = 0;

	if (!n)
		return 0;
	k = calloc(n, sizeof(*k));
	if (!k)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		k[i].n = yaml_document_get_node(&map->y->doc, pairs[i].key);
		k[i].idx = i;
		if (k[i].n->type != YAML_SCALAR_NODE) {
			at.n = k[i].n;
			snprintf(at.path, sizeof(at.path), "%s", map->path);
			err = sfc_yaml__error(&at, "expected a string as key, got %s",
					      sfc_ynode__kind(&at));
			goto out;
		}
		k[i].s = (const char *)k[i].n->data.scalar.value;
		k[i].len = k[i].n->data.scalar.length;
	}
	qsort(k, n, sizeof(*k), key_cmp);
	/* in a run of equal keys, sorted by position, the second is the duplicate */
	for (i = 1; i < n; i++) {
		if (!same_key(&k[i - 1], &k[i]) || (i > 1 && same_key(&k[i - 2], &k[i])))
			continue;
		if (!dup || k[i].idx < dup->idx) {
			dup = &k[i];
			first = &k[i - 1];
		}
	}
	if (dup) {
		at.n = dup->n;
		key_path(&at, map, dup->s);
		err = sfc_yaml__error(&at, "duplicate key \"%.*s\" (first at line %d, "
				      "column %d)", (int)(dup->len > 48 ? 48 : dup->len), dup->s,
				      (int)first->n->start_mark.line + 1,
				      (int)first->n->start_mark.column + 1);
	}
out:
	free(k);
	return err;
}

/*
 * Walk the whole document once before reading it: duplicate keys, non-string
 * keys, aliases (a node reached twice, which can even make a cycle) and deep
 * nesting are errors wherever they are, NF configs included.
 */
static int check_tree(const struct sfc_ynode *n, int depth, unsigned char *seen)
{
	yaml_node_pair_t *p;
	struct sfc_ynode c;
	size_t i, len;
	int err = 0;

	if (!n->n)
		return 0;
	if (seen[n->n - n->y->doc.nodes.start])
		return sfc_yaml__error(n, "YAML aliases are not supported");
	seen[n->n - n->y->doc.nodes.start] = 1;
	if (depth > CHAIN_MAX_DEPTH)
		return sfc_yaml__error(n, "nested deeper than %d levels", CHAIN_MAX_DEPTH);

	if (sfc_ynode__is_seq(n)) {
		len = sfc_yseq__len(n);
		for (i = 0; i < len && !err; i++) {
			sfc_yseq__at(n, i, &c);
			err = check_tree(&c, depth + 1, seen);
		}
		return err;
	}
	if (!sfc_ynode__is_map(n))
		return 0;
	err = check_keys_unique(n);
	for (p = n->n->data.mapping.pairs.start; !err && p < n->n->data.mapping.pairs.top; p++) {
		c.y = n->y;
		c.n = yaml_document_get_node(&n->y->doc, p->key);
		key_path(&c, n, (const char *)c.n->data.scalar.value);
		err = check_tree(&c, depth + 1, seen);
		if (err)
			break;
		c.n = yaml_document_get_node(&n->y->doc, p->value);
		err = check_tree(&c, depth + 1, seen);
	}
	return err;
}

/* ---- the chain -------------------------------------------------------- */

/* A required key; absent, the error is at the mapping that lacks it. */
static int get_required(const struct sfc_ynode *map, const char *key, struct sfc_ynode *out)
{
	sfc_ymap__get(map, key, out);
	if (out->n)
		return 0;
	return sfc_yaml__error(map, "missing required key \"%s\"", key);
}

/* A string no longer than max; too long is said by the caller's rule. */
static int get_text(const struct sfc_ynode *n, char *buf, size_t len, size_t max,
		    const char *(*problem)(const char *, char *, size_t))
{
	char why[256];
	const char *s, *p;
	int err;

	s = sfc_ynode__text(n);
	if (s && strlen(s) > max && (p = problem(s, why, sizeof(why))))
		return sfc_yaml__error(n, "%s", p);
	err = sfc_ynode__str(n, buf, len);
	if (err)
		return err;
	p = problem(buf, why, sizeof(why));
	return p ? sfc_yaml__error(n, "%s", p) : 0;
}

static int get_name(const struct sfc_ynode *n, char buf[SFC_NAME_MAX + 1])
{
	return get_text(n, buf, SFC_NAME_MAX + 1, SFC_NAME_MAX, name_problem);
}

static int get_ifname(const struct sfc_ynode *n, char buf[IF_NAMESIZE])
{
	return get_text(n, buf, IF_NAMESIZE, IF_NAMESIZE - 1, ifname_problem);
}

static int parse_constant(const struct sfc_ynode *root, const char *key, const char *want)
{
	struct sfc_ynode n;
	const char *s;
	char buf[8];
	int err;

	err = get_required(root, key, &n);
	if (err)
		return err;
	s = sfc_ynode__text(&n);
	if (s && !strcmp(s, want))
		return 0;
	if (!s || strcmp(sfc_ynode__kind(&n), "a string"))
		return sfc_ynode__str(&n, buf, sizeof(buf));	/* says what it got */
	return sfc_yaml__error(&n, "\"%.40s\" is not supported (expected \"%s\")", s, want);
}

static int parse_metadata(const struct sfc_ynode *meta, struct sfc_chain_spec *spec)
{
	static const char *const keys[] = { "name", NULL };
	struct sfc_ynode n;
	int err;

	err = sfc_ymap__check_keys(meta, keys);
	if (err)
		return err;
	err = get_required(meta, "name", &n);
	if (err)
		return err;
	return get_name(&n, spec->name);
}

static int parse_egress(const struct sfc_ynode *eg, struct sfc_chain_spec *spec)
{
	static const char *const keys[] = { "action", "interface", "nextHopMac", NULL };
	struct sfc_ynode n, ifn, mac;
	int err, action;

	spec->egress.action = SFC_EGRESS_ACTION_PASS;
	if (!eg->n)
		return 0;
	err = sfc_ymap__check_keys(eg, keys);
	if (err)
		return err;
	err = get_required(eg, "action", &n);
	if (err)
		return err;
	err = sfc_ynode__enum(&n, egress_actions, &action);
	if (err)
		return err;
	spec->egress.action = action;

	sfc_ymap__get(eg, "interface", &ifn);
	if (action == SFC_EGRESS_ACTION_REDIRECT) {
		if (!ifn.n)
			return sfc_yaml__error(eg, "missing required key \"interface\" "
					       "(action redirect sends packets out of it)");
		err = get_ifname(&ifn, spec->egress.interface);
		if (err)
			return err;
		if (!strcmp(spec->egress.interface, spec->interface))
			return sfc_yaml__error(&ifn, "\"%s\" is spec.interface too; a redirect "
					       "leaves through another interface (action tx "
					       "sends packets back out of the one they came in)",
					       spec->interface);
	} else if (ifn.n) {
		return sfc_yaml__error(&ifn, "not allowed with action %s (only redirect "
				       "sends packets to another interface)",
				       egress_actions[action]);
	}

	sfc_ymap__get(eg, "nextHopMac", &mac);
	if (!mac.n)
		return 0;
	if (action == SFC_EGRESS_ACTION_PASS)
		return sfc_yaml__error(&mac, "not allowed with action pass (the kernel "
				       "stack picks the next hop)");
	err = sfc_ynode__mac(&mac, spec->egress.next_hop_mac);
	if (err)
		return err;
	if (spec->egress.next_hop_mac[0] & 1)
		return sfc_yaml__error(&mac, "\"%s\" is a multicast address (expected the "
				       "unicast MAC of the next hop)", sfc_ynode__text(&mac));
	if (!memcmp(spec->egress.next_hop_mac, "\0\0\0\0\0\0", 6))
		return sfc_yaml__error(&mac, "\"%s\" is not a usable MAC (expected the "
				       "unicast MAC of the next hop)", sfc_ynode__text(&mac));
	spec->egress.has_next_hop = true;
	return 0;
}

static int parse_function(const struct sfc_ynode *item, struct sfc_chain_spec *spec,
			  unsigned int idx)
{
	static const char *const keys[] = { "name", "type", "config", NULL };
	struct sfc_function *fn = &spec->functions[idx];
	const struct sfc_nf_type *const *t;
	struct sfc_ynode n, type, cfg;
	char tname[SFC_NAME_MAX + 1];
	char known[256];
	unsigned int i;
	size_t o = 0;
	int err;

	err = sfc_ymap__check_keys(item, keys);
	if (err)
		return err;
	fn->line = (int)item->n->start_mark.line + 1;
	fn->col = (int)item->n->start_mark.column + 1;

	err = get_required(item, "name", &n);
	if (!err)
		err = get_name(&n, fn->name);
	if (err)
		return err;
	for (i = 0; i < idx; i++) {
		if (!strcmp(spec->functions[i].name, fn->name))
			return sfc_yaml__error(&n, "duplicate function name \"%s\" (first "
					       "defined at line %d)", fn->name,
					       spec->functions[i].line);
	}

	err = get_required(item, "type", &type);
	if (err)
		return err;
	known[0] = '\0';
	for (t = sfc_nf_types(); *t; t++)
		o += snprintf(known + o, o < sizeof(known) ? sizeof(known) - o : 0, "%s%s",
			      o ? ", " : "", (*t)->name);
	if (sfc_ynode__is_scalar(&type) && strlen(sfc_ynode__text(&type)) > SFC_NAME_MAX)
		return sfc_yaml__error(&type, "unknown function type \"%.40s...\" (known "
				       "types: %s)", sfc_ynode__text(&type), known);
	err = sfc_ynode__str(&type, tname, sizeof(tname));
	if (err)
		return err;
	fn->type = sfc_nf_type__find(tname);
	if (!fn->type)
		return sfc_yaml__error(&type, "unknown function type \"%s\" (known types: %s)",
				       tname, known);

	sfc_ymap__get(item, "config", &cfg);
	err = fn->type->parse(&cfg, &fn->config);
	if (err) {
		if (fn->config && fn->type->free)
			fn->type->free(fn->config);
		fn->config = NULL;
		if (err != -EINVAL)	/* -ENOMEM and the like: not the file's fault */
			return err;
		/* NF parsers say what is wrong; this only catches one that did not */
		sfc_yaml__error(cfg.n ? &cfg : item, "invalid %s config", tname);
	}
	return err;
}

static int parse_functions(const struct sfc_ynode *fns, struct sfc_chain_spec *spec)
{
	struct sfc_ynode item;
	unsigned int i;
	size_t n;
	int err;

	if (!sfc_ynode__is_seq(fns))
		return sfc_yaml__error(fns, "expected a sequence of functions, got %s",
				       sfc_ynode__kind(fns));
	n = sfc_yseq__len(fns);
	if (n > SFC_MAX_FUNCTIONS)
		return sfc_yaml__error(fns, "%zu functions: the tail-call budget allows at "
				       "most %d", n, SFC_MAX_FUNCTIONS);
	if (!n)
		return 0;
	spec->functions = calloc(n, sizeof(*spec->functions));
	if (!spec->functions)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		sfc_yseq__at(fns, i, &item);
		/* counted before parsing, so free() releases a half-parsed one */
		spec->n_functions = i + 1;
		err = parse_function(&item, spec, i);
		if (err)
			return err;
	}
	return 0;
}

static int parse_spec(const struct sfc_ynode *sp, struct sfc_chain_spec *spec)
{
	static const char *const keys[] = { "interface", "xdpMode", "egress", "functions", NULL };
	struct sfc_ynode n;
	int err, mode;

	err = sfc_ymap__check_keys(sp, keys);
	if (err)
		return err;
	err = get_required(sp, "interface", &n);
	if (!err)
		err = get_ifname(&n, spec->interface);
	if (err)
		return err;

	spec->xdp_mode = SFC_XDP_MODE_AUTO;
	sfc_ymap__get(sp, "xdpMode", &n);
	if (n.n) {
		err = sfc_ynode__enum(&n, xdp_modes, &mode);
		if (err)
			return err;
		spec->xdp_mode = mode;
	}

	sfc_ymap__get(sp, "egress", &n);
	err = parse_egress(&n, spec);
	if (err)
		return err;

	err = get_required(sp, "functions", &n);
	if (err)
		return err;
	return parse_functions(&n, spec);
}

static int parse_chain(const struct sfc_ynode *root, struct sfc_chain_spec *spec)
{
	static const char *const keys[] = { "apiVersion", "kind", "metadata", "spec", NULL };
	struct sfc_ynode n;
	int err;

	if (!sfc_ynode__is_map(root))
		return sfc_yaml__error(root, "expected a mapping (a Chain document), got %s",
				       sfc_ynode__kind(root));
	err = sfc_ymap__check_keys(root, keys);
	if (!err)
		err = parse_constant(root, "apiVersion", CHAIN_API_VERSION);
	if (!err)
		err = parse_constant(root, "kind", CHAIN_KIND);
	if (!err)
		err = get_required(root, "metadata", &n);
	if (!err)
		err = parse_metadata(&n, spec);
	if (!err)
		err = get_required(root, "spec", &n);
	if (!err)
		err = parse_spec(&n, spec);
	return err;
}

static struct sfc_chain_spec *parse(const char *file, const char *text, size_t len,
				    struct sfc_diag *d, int *errp)
{
	struct sfc_yaml y = { .file = file, .diag = d };
	struct sfc_chain_spec *spec = NULL;
	unsigned char *seen = NULL;
	bool parser_ready = false;
	yaml_document_t extra;
	yaml_parser_t parser;
	struct sfc_ynode root = { .y = &y };
	int err;

	memset(d, 0, sizeof(*d));
	if (len > CHAIN_MAX_BYTES) {
		err = diag_at(d, file, 1, 1, "larger than 64 MiB: not a chain file");
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		err = -ENOMEM;
		goto out;
	}
	parser_ready = true;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &y.doc)) {
		err = syntax_error(&parser, file, text, len, d);
		goto out;
	}
	y.loaded = true;
	root.n = yaml_document_get_root_node(&y.doc);
	if (!root.n) {
		err = diag_at(d, file, 1, 1, "empty file (expected a Chain document)");
		goto out;
	}
	if (!yaml_parser_load(&parser, &extra)) {
		err = syntax_error(&parser, file, text, len, d);
		goto out;
	}
	if (yaml_document_get_root_node(&extra)) {
		err = diag_at(d, file, (int)extra.start_mark.line + 1,
			      (int)extra.start_mark.column + 1,
			      "a second YAML document (a chain file holds one)");
		yaml_document_delete(&extra);
		goto out;
	}
	yaml_document_delete(&extra);

	seen = calloc(y.doc.nodes.top - y.doc.nodes.start, 1);
	if (!seen) {
		err = -ENOMEM;
		goto out;
	}
	err = check_tree(&root, 0, seen);
	if (err)
		goto out;

	spec = calloc(1, sizeof(*spec));
	if (!spec) {
		err = -ENOMEM;
		goto out;
	}
	snprintf(spec->file, sizeof(spec->file), "%s", file);
	err = parse_chain(&root, spec);
out:
	if (err) {
		sfc_chain_spec__free(spec);
		spec = NULL;
		if (!d->msg[0])
			diag_at(d, file, 0, 0, "%s", strerror(-err));
	}
	free(seen);
	if (y.loaded)
		yaml_document_delete(&y.doc);
	if (parser_ready)
		yaml_parser_delete(&parser);
	*errp = err;
	return spec;
}

struct sfc_chain_spec *sfc_chain_spec__parse_string(const char *name, const char *text,
						    size_t len, struct sfc_diag *diag)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	int err;

	if (!text) {
		errno = EINVAL;
		return NULL;
	}
	spec = parse(name ? name : "", text, len, &d, &err);
	if (!spec) {
		if (diag)
			*diag = d;
		errno = -err;
	}
	return spec;
}

/* The rest of fd, NUL-terminated: at most max + 1 bytes (see sfc_read_file). */
static int read_fd(int fd, size_t max, char **out, size_t *out_len)
{
	size_t len = 0, cap = 64 * 1024;
	char *buf = NULL, *nb;
	ssize_t n;
	int err = 0;

	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	while (len <= max) {
		if (len == cap) {
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	return err;
}

/*
 * The chain file named on the command line: a regular file, or a pipe
 * (`sfcctl apply <(...)`, /dev/stdin), read to its end. A device (/dev/zero,
 * a tty), a socket or a folder is refused at open, without a read: O_NONBLOCK
 * keeps the open of a FIFO without a writer from hanging, and is cleared
 * for the read.
 */
int sfc_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
	struct stat st;
	int fd, err, fl;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		err = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		err = -ENODEV;	/* "not a regular file or a pipe" */
		goto out;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		err = -errno;
		goto out;
	}
	err = read_fd(fd, max, out, out_len);
out:
	close(fd);
	return err;
}

#ifndef RESOLVE_BENEATH
#define RESOLVE_NO_MAGICLINKS	0x02
#define RESOLVE_BENEATH		0x08
#endif

struct sfc_open_how {		/* struct open_how (linux/openat2.h, 5.6) */
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};

/* Does relative name, read as text, climb above its folder ("a/../..")? */
static bool climbs_out(const char *name)
{
	const char *p = name, *e;
	long depth = 0;
	size_t l;

	while (*p) {
		e = p + strcspn(p, "/");
		l = e - p;
		if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return true;
		} else if (l && !(l == 1 && p[0] == '.')) {
			depth++;
		}
		p = *e ? e + 1 : e;
	}
	return false;
}

/*
 * Open name for a chain file in folder dir: a relative name beneath dir,
 * through ".." and symlinks alike. openat2(RESOLVE_BENEATH) checks that in
 * the kernel, atomically; before Linux 5.6 (or under valgrind, which does
 * not know openat2) the file opened is compared with dir afterwards,
 * through /proc/self/fd, which is as atomic. A name that climbs out as
 * written is refused first, whether or not the file it names exists.
 */
static int open_beneath(const char *dir, const char *name, int flags)
{
	struct sfc_open_how how = { .flags = flags, .resolve = RESOLVE_NO_MAGICLINKS };
	char real_dir[PATH_MAX], real[PATH_MAX], proc[64];
	static bool no_openat2;
	int dfd = AT_FDCWD, fd, err;
	size_t l;
	ssize_t n;

	if (name[0] != '/') {
		if (climbs_out(name))
			return -EXDEV;
		dfd = open(*dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		how.resolve |= RESOLVE_BENEATH;
	}
	errno = ENOSYS;
	fd = no_openat2 ? -1 : syscall(SYS_openat2, dfd, name, &how, sizeof(how));
	err = fd < 0 ? -errno : 0;
	if (fd < 0 && errno == ENOSYS)
		no_openat2 = true;
	if (fd < 0 && (errno == ENOSYS || errno == EPERM) && dfd != AT_FDCWD) {
		/* no openat2 (or a seccomp filter that refuses it) */
		fd = openat(dfd, name, flags);
		err = fd < 0 ? -errno : 0;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (fd >= 0 && (!realpath(*dir ? dir : ".", real_dir) ||
				(n = readlink(proc, real, sizeof(real) - 1)) < 0)) {
			err = -errno;
		} else if (fd >= 0) {
			real[n] = '\0';
			l = strlen(real_dir);
			if (strncmp(real, real_dir, l) || (real[l] != '/' && strcmp(real_dir, "/")))
				err = -EXDEV;
		}
	} else if (fd < 0 && (errno == ENOSYS || errno == EPERM)) {
		fd = open(name, flags);	/* an absolute name: as written */
		err = fd < 0 ? -errno : 0;
	}
	if (dfd >= 0)
		close(dfd);
	if (err && fd >= 0)
		close(fd);
	return err ? err : fd;
}

/*
 * The files of /proc, /sys and the like are S_ISREG but no text on a disk:
 * a read can block (/proc/kmsg, trace_pipe), take messages from their
 * reader, or never end.
 */
static bool kernel_fs(unsigned long type)
{
	static const unsigned long magic[] = {
		PROC_SUPER_MAGIC, SYSFS_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC,
		SECURITYFS_MAGIC, CGROUP_SUPER_MAGIC, CGROUP2_SUPER_MAGIC, BPF_FS_MAGIC,
		0x62656570 /* configfs */, EFIVARFS_MAGIC,
	};
	size_t i;

	for (i = 0; i < sizeof(magic) / sizeof(magic[0]); i++)
		if (type == magic[i])
			return true;
	return false;
}

/*
 * A file that a chain file names ({file: ...} of a firewall set): relative
 * to the chain file's folder dir ("" for the cwd), and only a regular file,
 * at most max bytes (else *len > max). The errors the callers explain:
 * -EXDEV (a relative name that leads out of dir), -ELOOP (a magic link such
 * as /proc/self/fd/N), -ENODEV (a FIFO, device or socket, or a file of /proc
 * or /sys: never read, never waited on), -EISDIR. The fd stays O_NONBLOCK.
 */
int sfc_read_file_at(const char *dir, const char *name, size_t max, char **out, size_t *out_len)
{
	struct statfs fs;
	struct stat st;
	int fd, err;

	fd = open_beneath(dir, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || fstatfs(fd, &fs))
		err = -errno;
	else if (S_ISDIR(st.st_mode))
		err = -EISDIR;
	else if (!S_ISREG(st.st_mode) || kernel_fs(fs.f_type))
		err = -ENODEV;
	else if ((uint64_t)st.st_size > max)
		err = -EFBIG;
	else
		err = read_fd(fd, max, out, out_len);
	close(fd);
	return err;
}

struct sfc_chain_spec *sfc_chain_spec__parse_file(const char *path, struct sfc_diag *diag)
{
	struct sfc_chain_spec *spec = NULL;
	struct sfc_diag d = {};
	char *text = NULL;
	size_t len = 0;
	int err;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	err = sfc_read_file(path, CHAIN_MAX_BYTES, &text, &len);
	if (err) {
		diag_at(&d, path, 0, 0, "cannot read: %s", err == -ENODEV ?
			"not a regular file or a pipe" : strerror(-err));
		goto out;
	}
	spec = parse(path, text, len, &d, &err);
out:
	free(text);
	if (!spec) {
		if (diag)
			*diag = d;
		errno = -err;
	}
	return spec;
}

void sfc_chain_spec__free(struct sfc_chain_spec *spec)
{
	unsigned int i;

	if (!spec)
		return;
	for (i = 0; i < spec->n_functions; i++) {
		struct sfc_function *fn = &spec->functions[i];

		if (fn->type && fn->type->free && fn->config)
			fn->type->free(fn->config);
	}
	free(spec->functions);
	free(spec);
}

/* ---- canonical JSON --------------------------------------------------- */

char *sfc_chain_spec__to_json(const struct sfc_chain_spec *spec, bool with_config)
{
	const uint8_t *m = spec ? spec->egress.next_hop_mac : NULL;
	struct sfc_json j;
	unsigned int i;
	char mac[18];
	char *s;

	if (!spec || spec->xdp_mode > SFC_XDP_MODE_SKB ||
	    spec->egress.action > SFC_EGRESS_ACTION_REDIRECT) {
		errno = EINVAL;
		return NULL;
	}
	sfc_json__init(&j, false);
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "api_version", CHAIN_API_VERSION);
	sfc_json__kstr(&j, "name", spec->name);
	sfc_json__kstr(&j, "interface", spec->interface);
	sfc_json__kstr(&j, "xdp_mode", xdp_modes[spec->xdp_mode]);

	sfc_json__key(&j, "egress");
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "action", egress_actions[spec->egress.action]);
	if (spec->egress.action == SFC_EGRESS_ACTION_REDIRECT)
		sfc_json__kstr(&j, "interface", spec->egress.interface);
	if (spec->egress.has_next_hop) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
			 m[0], m[1], m[2], m[3], m[4], m[5]);
		sfc_json__kstr(&j, "next_hop_mac", mac);
	}
	sfc_json__obj_end(&j);

	sfc_json__key(&j, "functions");
	sfc_json__arr_begin(&j);
	for (i = 0; i < spec->n_functions; i++) {
		const struct sfc_function *fn = &spec->functions[i];

		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "name", fn->name);
		sfc_json__kstr(&j, "type", fn->type ? fn->type->name : NULL);
		if (with_config && fn->type && fn->type->dump) {
			sfc_json__key(&j, "config");
			fn->type->dump(fn->config, &j);
		}
		sfc_json__obj_end(&j);
	}
	sfc_json__arr_end(&j);
	sfc_json__obj_end(&j);

	s = sfc_json__take(&j);
	if (!s)
		errno = ENOMEM;
	return s;
}
