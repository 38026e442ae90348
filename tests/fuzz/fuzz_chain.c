// SPDX-License-Identifier: GPL-2.0
/*
 * Chain-file fuzzing: a libFuzzer target over the chain file parser and
 * validator (sfc_chain_spec__parse_string() and every function type's
 * parse()), built with ASan and UBSan, so that any out-of-bounds access,
 * use-after-free, leak or undefined behaviour is a crash. On top of the
 * sanitizers, each input is held to these invariants (abort() otherwise):
 *
 *   - a refused file says so with errno EINVAL and a diag that is in
 *     bounds: a message, the file name given, and a line and column that
 *     exist in the text, lines counted as YAML counts them (or 0:0);
 *   - a file that parses gives canonical JSON, twice the same from two
 *     parses, and that JSON loads in libyaml, as the readers of the spec pin
 *     (the agent, sfcctl rules and lb) load it;
 *   - round trip: the chain rebuilt from the canonical JSON (its snake_case
 *     keys put back as the chain file spells them, see config_text()) parses
 *     again, to the same canonical JSON; and each firewall compiles to the
 *     same maps and each load balancer to the same config as before, line
 *     numbers aside. The canonical JSON decides whether a re-apply changes
 *     anything (full_hash), so a setting it lost would be one a re-apply
 *     silently keeps.
 *
 * The input is a chain file, optionally followed by a line "#@file" and the
 * text that every firewall set file `{file: ...}` reads: the fuzzer never
 * touches the host's files (sfc_read_file and sfc_read_file_at are wrapped at
 * link time, -Wl,--wrap=...), so a run is a pure function of its input.
 *
 * Built twice (tests/fuzz/CMakeLists.txt): with clang -fsanitize=fuzzer as
 * fuzz_chain, and with FUZZ_STANDALONE as fuzz_chain_replay, whose main()
 * runs the files and folders named on its command line once each.
 */
#define _GNU_SOURCE	/* memmem */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include <sfc/sfc.h>
#include "nf.h"
#include "json.h"
#include "fw_compile.h"
#include "lb.h"

#define FILE_MARK "\n#@file\n"
#define FUZZ_NAME "fuzz.yaml"

/* ---- the set files ------------------------------------------------------ */

static const char *file_text;
static size_t file_len;
static bool have_file;
static unsigned long file_reads;

int __wrap_sfc_read_file(const char *path, size_t max, char **out, size_t *out_len);

/*
 * Every set file has the input's text after FILE_MARK; without it, none
 * exists. Like sfc_read_file(), the text can be longer than max (the caller
 * says it is too big) and is NUL-terminated.
 */
int __wrap_sfc_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
	char *b;

	(void)path;
	(void)max;
	file_reads++;
	if (!have_file)
		return -ENOENT;
	b = malloc(file_len + 1);
	if (!b)
		return -ENOMEM;
	memcpy(b, file_text, file_len);
	b[file_len] = '\0';
	*out = b;
	*out_len = file_len;
	return 0;
}

/*
 * Set files are read through sfc_read_file_at(dir, name, ...), which keeps a
 * relative name inside the chain file's folder: the same text, whatever the
 * name (the rule itself is tested in tests/unit/test_config.c).
 */
int __wrap_sfc_read_file_at(const char *dir, const char *name, size_t max, char **out,
			    size_t *out_len);

int __wrap_sfc_read_file_at(const char *dir, const char *name, size_t max, char **out,
			    size_t *out_len)
{
	(void)dir;
	return __wrap_sfc_read_file(name, max, out, out_len);
}

/* ---- failures ----------------------------------------------------------- */

static const char *cur_text;
static size_t cur_len;

__attribute__((noreturn, format(printf, 1, 2)))
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_chain: invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n--- input (%zu bytes) ---\n%.*s\n--- end ---\n", cur_len,
		(int)cur_len, cur_text);
	abort();
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* ---- refused files ------------------------------------------------------ */

/* Length in bytes of the YAML line break at s (0: none): CR LF, CR, LF, and
 * in UTF-8 NEL, LS and PS (YAML 1.1 5.4; libyaml's marks count them). */
static size_t yaml_break(const unsigned char *s, size_t left)
{
	if (left >= 2 && s[0] == '\r' && s[1] == '\n')
		return 2;
	if (s[0] == '\n' || s[0] == '\r')
		return 1;
	if (left >= 2 && s[0] == 0xc2 && s[1] == 0x85)
		return 2;
	if (left >= 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
		return 3;
	return 0;
}

static void check_refused(const struct sfc_diag *d, int err, const char *text, size_t len)
{
	char line[sizeof(d->file) + sizeof(d->path) + sizeof(d->msg) + 64];
	const unsigned char *u = (const unsigned char *)text;
	size_t i = 0, lines = 1, chars = 0, b;

	if (err != EINVAL)
		fail("refused with errno %d (%s), not EINVAL", err, strerror(err));
	if (!terminated(d->file, sizeof(d->file)) || !terminated(d->path, sizeof(d->path)) ||
	    !terminated(d->msg, sizeof(d->msg)))
		fail("diag strings not terminated");
	if (!d->msg[0])
		fail("refused without a message");
	if (strcmp(d->file, FUZZ_NAME))
		fail("diag file \"%s\", not \"" FUZZ_NAME "\"", d->file);
	if (sfc_diag__format(d, line, sizeof(line)))
		fail("sfc_diag__format failed");
	if (d->line < 0 || d->col < 0 || (!d->line && d->col))
		fail("diag at %d:%d: %s", d->line, d->col, d->msg);
	if (!d->line)
		return;
	/* the place exists: its line, and a column at most one past its end */
	while (i < len && lines < (size_t)d->line) {
		b = yaml_break(u + i, len - i);
		lines += b != 0;
		i += b ? b : 1;
	}
	/* libyaml puts the end of a text without a final break on a line of
	 * its own */
	if (lines + 1 == (size_t)d->line && i == len && d->col <= 1)
		return;
	if (lines < (size_t)d->line)
		fail("diag at line %d, the text has %zu lines: %s", d->line, lines, d->msg);
	for (; i < len && !yaml_break(u + i, len - i); i++)
		chars += (u[i] & 0xc0) != 0x80;
	if ((size_t)d->col > chars + 1)
		fail("diag at %d:%d, line %d has %zu characters: %s", d->line, d->col, d->line,
		     chars, d->msg);
}

/* ---- the canonical JSON, rewritten into a chain file --------------------- */

/*
 * The canonical JSON of a config is a config again, but for the keys: the
 * firewall and the flow monitor dump snake_case keys (the agent and sfcctl
 * read those from the spec pin, they never change), a set read from a file
 * is dumped as a summary, and the flow monitor's timeouts as milliseconds.
 * rw_value() puts back what the chain file says, by position, so that a set
 * named like a key is left alone. It is a small JSON parser too: canonical
 * JSON that is not JSON fails here.
 */
struct rw {
	const char *s;
	size_t i, n;
	const char *type;	/* the function type */
	struct sfc_json out;
};

static void rw_fail(const struct rw *r, const char *what)
{
	fail("canonical JSON of a %s config: %s at offset %zu: %.*s", r->type, what, r->i,
	     (int)r->n, r->s);
}

static void rw_ws(struct rw *r)
{
	while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\n'))
		r->i++;
}

/* A string token: copies it raw into *tok (with the quotes), and its text. */
static void rw_string(struct rw *r, char *text, size_t tlen, const char **tok, size_t *toklen)
{
	size_t start = r->i, o = 0;

	if (r->i >= r->n || r->s[r->i] != '"')
		rw_fail(r, "expected a string");
	r->i++;
	while (r->i < r->n && r->s[r->i] != '"') {
		unsigned char c = r->s[r->i];

		if (c < 0x20)
			rw_fail(r, "a raw control character in a string");
		if (c == '\\') {
			r->i++;
			if (r->i >= r->n || !strchr("\"\\/bfnrtu", r->s[r->i]))
				rw_fail(r, "a bad escape");
		}
		if (o + 1 < tlen)
			text[o++] = r->s[r->i];
		r->i++;
	}
	if (r->i >= r->n)
		rw_fail(r, "an unterminated string");
	r->i++;
	text[o] = '\0';
	*tok = r->s + start;
	*toklen = r->i - start;
}

static void rw_put(struct rw *r, const char *s, size_t n)
{
	char buf[256];

	while (n) {
		size_t k = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;

		memcpy(buf, s, k);
		buf[k] = '\0';
		sfc_json__raw_text(&r->out, buf);
		s += k;
		n -= k;
	}
}

/* What the chain file calls key, at this place; NULL: leave the pair out. */
static const char *rw_key(const struct rw *r, int depth, const char *parent, const char *grand,
			  const char *key, bool *ms)
{
	static const char *const fw_top[][2] = {
		{ "default_action", "defaultAction" }, { "max_connections", "maxConnections" },
	};
	static const char *const fw_rule[][2] = {
		{ "src_port", "srcPort" }, { "dst_port", "dstPort" }, { "icmp_type", "icmpType" },
		{ "icmp_code", "icmpCode" }, { "tcp_flags", "tcpFlags" },
		{ "rate_limit", "rateLimit" },
	};
	size_t i;

	*ms = false;
	if (!strcmp(r->type, "firewall")) {
		if (depth == 0)
			for (i = 0; i < sizeof(fw_top) / sizeof(fw_top[0]); i++)
				if (!strcmp(key, fw_top[i][0]))
					return fw_top[i][1];
		if (depth == 1 && !strcmp(parent, "rules"))
			for (i = 0; i < sizeof(fw_rule) / sizeof(fw_rule[0]); i++)
				if (!strcmp(key, fw_rule[i][0]))
					return fw_rule[i][1];
		/* a set file's summary: {file, prefixes, hash} */
		if (depth == 2 && !strcmp(grand, "sets") && strcmp(key, "file"))
			return NULL;
	} else if (!strcmp(r->type, "flowmon")) {
		if (depth == 0 && !strcmp(key, "max_flows"))
			return "maxFlows";
		if (depth == 0 && !strcmp(key, "active_timeout_ms"))
			return *ms = true, "activeTimeout";
		if (depth == 0 && !strcmp(key, "inactive_timeout_ms"))
			return *ms = true, "inactiveTimeout";
		if (depth == 1 && !strcmp(parent, "ipfix") && !strcmp(key, "observation_domain"))
			return "observationDomain";
	}
	return key;
}

static void rw_value(struct rw *r, int depth, const char *parent, const char *grand, bool emit,
		     bool ms);

static void rw_object(struct rw *r, int depth, const char *parent, const char *grand, bool emit)
{
	char key[256];
	const char *tok, *name;
	size_t toklen;
	bool first = true, ms;

	r->i++;
	if (emit)
		rw_put(r, "{", 1);
	rw_ws(r);
	if (r->i < r->n && r->s[r->i] == '}') {
		r->i++;
		if (emit)
			rw_put(r, "}", 1);
		return;
	}
	for (;;) {
		rw_ws(r);
		rw_string(r, key, sizeof(key), &tok, &toklen);
		rw_ws(r);
		if (r->i >= r->n || r->s[r->i] != ':')
			rw_fail(r, "expected ':'");
		r->i++;
		name = rw_key(r, depth, parent, grand, key, &ms);
		if (emit && name) {
			if (!first)
				rw_put(r, ",", 1);
			first = false;
			if (name == key) {
				rw_put(r, tok, toklen);
			} else {
				rw_put(r, "\"", 1);
				rw_put(r, name, strlen(name));
				rw_put(r, "\"", 1);
			}
			rw_put(r, ":", 1);
		}
		rw_value(r, depth + 1, key, parent, emit && name, ms);
		rw_ws(r);
		if (r->i < r->n && r->s[r->i] == ',') {
			r->i++;
			continue;
		}
		if (r->i < r->n && r->s[r->i] == '}') {
			r->i++;
			break;
		}
		rw_fail(r, "expected ',' or '}'");
	}
	if (emit)
		rw_put(r, "}", 1);
}

/*
 * depth counts objects: an array's elements keep the array's depth and key,
 * so a rule object is at depth 1 under "rules", a set file object at depth 2
 * under a set name under "sets".
 */
static void rw_value(struct rw *r, int depth, const char *parent, const char *grand, bool emit,
		     bool ms)
{
	char text[256];
	const char *tok;
	size_t toklen, start;
	bool first = true;

	rw_ws(r);
	if (r->i >= r->n)
		rw_fail(r, "expected a value");
	switch (r->s[r->i]) {
	case '{':
		rw_object(r, depth, parent, grand, emit);
		return;
	case '[':
		r->i++;
		if (emit)
			rw_put(r, "[", 1);
		rw_ws(r);
		if (r->i < r->n && r->s[r->i] == ']') {
			r->i++;
			if (emit)
				rw_put(r, "]", 1);
			return;
		}
		for (;;) {
			if (emit && !first)
				rw_put(r, ",", 1);
			first = false;
			rw_value(r, depth, parent, grand, emit, false);
			rw_ws(r);
			if (r->i < r->n && r->s[r->i] == ',') {
				r->i++;
				continue;
			}
			if (r->i < r->n && r->s[r->i] == ']') {
				r->i++;
				break;
			}
			rw_fail(r, "expected ',' or ']'");
		}
		if (emit)
			rw_put(r, "]", 1);
		return;
	case '"':
		rw_string(r, text, sizeof(text), &tok, &toklen);
		if (emit)
			rw_put(r, tok, toklen);
		return;
	default:
		start = r->i;
		while (r->i < r->n && !strchr(",]} \n", r->s[r->i]))
			r->i++;
		if (r->i == start)
			rw_fail(r, "expected a value");
		if (!emit)
			return;
		rw_put(r, r->s + start, r->i - start);
		if (ms)		/* a plain scalar: durations are not quoted strings */
			rw_put(r, "ms", 2);
	}
}

/* The config of fn as the chain file would write it (malloc'd). */
static char *config_text(const struct sfc_function *fn)
{
	struct sfc_json j;
	struct rw r = { .type = fn->type->name };
	char *dump, *out;

	sfc_json__init(&j, false);
	fn->type->dump(fn->config, &j);
	dump = sfc_json__take(&j);
	if (!dump)
		fail("dump of %s's config failed", fn->name);
	r.s = dump;
	r.n = strlen(dump);
	sfc_json__init(&r.out, false);
	rw_value(&r, 0, "", "", true, false);
	rw_ws(&r);
	if (r.i != r.n)
		rw_fail(&r, "text after the value");
	out = sfc_json__take(&r.out);
	if (!out)
		fail("rewrite of %s's config failed", fn->name);
	free(dump);
	return out;
}

/* The chain file that the canonical JSON of spec stands for (malloc'd). */
static char *chain_text(const struct sfc_chain_spec *s)
{
	static const char *const modes[] = { "auto", "native", "skb" };
	static const char *const actions[] = { "pass", "tx", "redirect" };
	const uint8_t *m = s->egress.next_hop_mac;
	struct sfc_json j;
	unsigned int i;
	char mac[18], *c, *out;

	sfc_json__init(&j, false);
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "apiVersion", "sfc/v1alpha1");
	sfc_json__kstr(&j, "kind", "Chain");
	sfc_json__key(&j, "metadata");
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "name", s->name);
	sfc_json__obj_end(&j);
	sfc_json__key(&j, "spec");
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "interface", s->interface);
	sfc_json__kstr(&j, "xdpMode", modes[s->xdp_mode]);
	sfc_json__key(&j, "egress");
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "action", actions[s->egress.action]);
	if (s->egress.action == SFC_EGRESS_ACTION_REDIRECT)
		sfc_json__kstr(&j, "interface", s->egress.interface);
	if (s->egress.has_next_hop) {
		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
			 m[4], m[5]);
		sfc_json__kstr(&j, "nextHopMac", mac);
	}
	sfc_json__obj_end(&j);
	sfc_json__key(&j, "functions");
	sfc_json__arr_begin(&j);
	for (i = 0; i < s->n_functions; i++) {
		const struct sfc_function *fn = &s->functions[i];

		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "name", fn->name);
		sfc_json__kstr(&j, "type", fn->type->name);
		sfc_json__key(&j, "config");
		c = config_text(fn);
		sfc_json__raw_text(&j, c);
		j.after_key = false;	/* the raw text was the key's value */
		free(c);
		sfc_json__obj_end(&j);
	}
	sfc_json__arr_end(&j);
	sfc_json__obj_end(&j);
	sfc_json__obj_end(&j);
	out = sfc_json__take(&j);
	if (!out)
		fail("chain_text failed");
	return out;
}

/* ---- the same config, compiled ----------------------------------------- */

#define SAME(a, b, n) ((n) == 0 || !memcmp((a), (b), (n)))

static void fw_compare(const char *name, const struct fw_config *x, const struct fw_config *y)
{
	const struct fw_compiled *a = x->compiled, *b = y->compiled;
	uint32_t i;

	if (x->default_action != y->default_action || x->stateful != y->stateful ||
	    x->max_connections != y->max_connections || x->n_rules != y->n_rules ||
	    x->n_sets != y->n_sets)
		fail("firewall %s: the config read back differs", name);
	if (!a || !b)
		fail("firewall %s: not compiled", name);
	if (a->n_tuples != b->n_tuples || a->n_tuples4 != b->n_tuples4 ||
	    a->n_keys4 != b->n_keys4 || a->n_keys6 != b->n_keys6 || a->n_rules != b->n_rules ||
	    a->n_lpm4 != b->n_lpm4 || a->n_lpm6 != b->n_lpm6 ||
	    a->set_families != b->set_families || a->set_lookups != b->set_lookups ||
	    a->n_sport_classes != b->n_sport_classes ||
	    a->n_dport_classes != b->n_dport_classes || a->class_lookups != b->class_lookups ||
	    !a->sport_class != !b->sport_class || !a->dport_class != !b->dport_class)
		fail("firewall %s: the rule set read back compiles to other sizes", name);
	if (!SAME(a->tuples, b->tuples, a->n_tuples * sizeof(*a->tuples)) ||
	    !SAME(a->keys4, b->keys4, a->n_keys4 * sizeof(*a->keys4)) ||
	    !SAME(a->vals4, b->vals4, a->n_keys4 * sizeof(*a->vals4)) ||
	    !SAME(a->keys6, b->keys6, a->n_keys6 * sizeof(*a->keys6)) ||
	    !SAME(a->vals6, b->vals6, a->n_keys6 * sizeof(*a->vals6)) ||
	    !SAME(a->rule_keys, b->rule_keys, a->n_rules * sizeof(*a->rule_keys)) ||
	    !SAME(a->lpm4, b->lpm4, a->n_lpm4 * sizeof(*a->lpm4)) ||
	    !SAME(a->lpm4_val, b->lpm4_val, a->n_lpm4 * sizeof(*a->lpm4_val)) ||
	    !SAME(a->lpm6, b->lpm6, a->n_lpm6 * sizeof(*a->lpm6)) ||
	    !SAME(a->lpm6_val, b->lpm6_val, a->n_lpm6 * sizeof(*a->lpm6_val)) ||
	    (a->sport_class && memcmp(a->sport_class, b->sport_class,
				      SFC_FW_PORTS * sizeof(*a->sport_class))) ||
	    (a->dport_class && memcmp(a->dport_class, b->dport_class,
				      SFC_FW_PORTS * sizeof(*a->dport_class))))
		fail("firewall %s: the rule set read back compiles to other maps", name);
	for (i = 0; i < a->n_rules; i++) {
		struct sfc_fw_rule ra = a->rules[i], rb = b->rules[i];

		ra.line = rb.line = 0;	/* where the rule is in the file */
		if (memcmp(&ra, &rb, sizeof(ra)))
			fail("firewall %s: rule %u read back compiles differently", name, i);
	}
}

static void lb_compare(const char *name, const struct lb_config *a, const struct lb_config *b)
{
	unsigned int i, k;

	if (a->n_services != b->n_services || a->max_connections != b->max_connections ||
	    a->table_size != b->table_size || a->tcp_timeout_ns != b->tcp_timeout_ns ||
	    a->tcp_closing_ns != b->tcp_closing_ns || a->udp_timeout_ns != b->udp_timeout_ns ||
	    a->mtu != b->mtu || a->has_encap4 != b->has_encap4 || a->has_encap6 != b->has_encap6 ||
	    (a->has_encap4 && memcmp(a->encap_src4, b->encap_src4, 4)) ||
	    (a->has_encap6 && memcmp(a->encap_src6, b->encap_src6, 16)))
		fail("loadbalancer %s: the config read back differs", name);
	for (i = 0; i < a->n_services; i++) {
		const struct lb_service *s = &a->services[i], *t = &b->services[i];

		if (s->family != t->family || memcmp(s->vip, t->vip, 16) || s->port != t->port ||
		    s->proto != t->proto || s->mode != t->mode || s->n_backends != t->n_backends ||
		    s->hc.type != t->hc.type || s->hc.port != t->hc.port ||
		    s->hc.interval_ns != t->hc.interval_ns || s->hc.timeout_ns != t->hc.timeout_ns ||
		    s->hc.rise != t->hc.rise || s->hc.fall != t->hc.fall ||
		    strcmp(s->hc.path, t->hc.path))
			fail("loadbalancer %s: service %u read back differs", name, i);
		for (k = 0; k < s->n_backends; k++) {
			const struct lb_backend *p = &s->backends[k], *q = &t->backends[k];

			if (p->family != q->family || memcmp(p->addr, q->addr, 16) ||
			    p->port != q->port || p->weight != q->weight || p->drain != q->drain)
				fail("loadbalancer %s: service %u backend %u read back differs",
				     name, i, k);
		}
	}
}

/* ---- one input ---------------------------------------------------------- */

/* The canonical JSON loads in libyaml, as the spec pin's readers load it. */
static void check_yaml_loads(const char *json)
{
	yaml_parser_t p;
	yaml_document_t doc;

	if (!yaml_parser_initialize(&p))
		fail("yaml_parser_initialize");
	yaml_parser_set_input_string(&p, (const unsigned char *)json, strlen(json));
	if (!yaml_parser_load(&p, &doc)) {
		fprintf(stderr, "canonical JSON: %s\n", json);
		fail("the canonical JSON does not load in libyaml: %s at byte %zu",
		     p.problem ? p.problem : "?", p.problem_offset);
	}
	if (!yaml_document_get_root_node(&doc))
		fail("the canonical JSON loads as an empty document");
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
}

static void check_parsed(struct sfc_chain_spec *spec, const char *text, size_t len)
{
	struct sfc_chain_spec *again, *back;
	char *json, *json2, *doc, *json3, buf[1024];
	struct sfc_diag d;
	unsigned int i;

	json = sfc_chain_spec__to_json(spec, true);
	if (!json)
		fail("to_json failed: %s", strerror(errno));
	check_yaml_loads(json);

	/* the same text, the same spec */
	again = sfc_chain_spec__parse_string(FUZZ_NAME, text, len, &d);
	if (!again)
		fail("parsed once, refused the second time: %s", d.msg);
	json2 = sfc_chain_spec__to_json(again, true);
	if (!json2 || strcmp(json, json2))
		fail("two parses, two canonical JSONs:\n%s\n%s", json, json2 ? json2 : "(null)");
	free(json2);
	sfc_chain_spec__free(again);

	/* the round trip */
	doc = chain_text(spec);
	back = sfc_chain_spec__parse_string(FUZZ_NAME, doc, strlen(doc), &d);
	if (!back) {
		sfc_diag__format(&d, buf, sizeof(buf));
		fprintf(stderr, "canonical JSON: %s\nrebuilt: %s\n", json, doc);
		fail("the chain rebuilt from its canonical JSON is refused: %s", buf);
	}
	json3 = sfc_chain_spec__to_json(back, true);
	if (!json3 || strcmp(json, json3))
		fail("round trip changed the canonical JSON:\n%s\n%s\nrebuilt from:\n%s", json,
		     json3 ? json3 : "(null)", doc);
	if (back->n_functions != spec->n_functions)
		fail("round trip changed the functions");
	for (i = 0; i < spec->n_functions; i++) {
		const struct sfc_function *f = &spec->functions[i], *g = &back->functions[i];

		if (f->type != g->type)
			fail("round trip changed the type of %s", f->name);
		if (sfc_fw__config(f))
			fw_compare(f->name, sfc_fw__config(f), sfc_fw__config(g));
		else if (!strcmp(f->type->name, "loadbalancer"))
			lb_compare(f->name, f->config, g->config);
	}
	free(json3);
	sfc_chain_spec__free(back);
	free(doc);
	free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *mark;
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	size_t len = size;

	cur_text = text;
	cur_len = size;
	have_file = false;
	mark = size >= strlen(FILE_MARK) ? memmem(text, size, FILE_MARK, strlen(FILE_MARK)) : NULL;
	if (mark) {
		len = mark - text + 1;	/* the chain file keeps its last newline */
		file_text = mark + strlen(FILE_MARK);
		file_len = size - (file_text - text);
		have_file = true;
	}

	memset(&d, 0xa5, sizeof(d));
	errno = 0;
	spec = sfc_chain_spec__parse_string(FUZZ_NAME, text, len, &d);
	if (!spec) {
		check_refused(&d, errno, text, len);
		return 0;
	}
	check_parsed(spec, text, len);
	sfc_chain_spec__free(spec);
	return 0;
}

#ifdef FUZZ_STANDALONE
/* ---- replay without libFuzzer ------------------------------------------- */

static unsigned long n_inputs, n_parsed;

static int run_file(const char *path)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	buf = malloc(n + 1);
	if (!buf || fread(buf, 1, n, f) != (size_t)n) {
		fprintf(stderr, "%s: cannot read\n", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput((const uint8_t *)buf, n);
	/* count what parses, for the summary line */
	{
		const char *mark = memmem(buf, n, FILE_MARK, strlen(FILE_MARK));
		size_t len = mark ? (size_t)(mark - buf + 1) : (size_t)n;

		spec = sfc_chain_spec__parse_string(FUZZ_NAME, buf, len, &d);
		n_parsed += spec != NULL;
		sfc_chain_spec__free(spec);
	}
	n_inputs++;
	free(buf);
	return 0;
}

static int run_path(const char *path)
{
	char p[4096];
	struct dirent *e;
	struct stat st;
	int err = 0;
	DIR *dp;

	if (stat(path, &st)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	dp = opendir(path);
	if (!dp)
		return -1;
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		err |= run_path(p);
	}
	closedir(dp);
	return err;
}

int main(int argc, char **argv)
{
	int i, err = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++)
		err |= run_path(argv[i]);
	printf("%lu inputs replayed, %lu parse, %lu set file reads\n", n_inputs, n_parsed,
	       file_reads);
	if (!n_inputs)
		return 1;
	/* The corpus has set files: none read means the wrappers no longer
	 * catch the function that reads them, and the fuzzer misses them. */
	if (n_parsed && !file_reads) {
		fprintf(stderr, "no set file was read: is every set-file reader wrapped?\n");
		return 1;
	}
	return err ? 1 : 0;
}
#endif
