// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * firewall: stateless or stateful packet filter, rules compiled into a tuple
 * space search (fw_compile.c, shared/sfc_fw.h).
 *
 *	config:
 *	  defaultAction: drop		# allow | drop
 *	  stateful: true		# track connections, allow their replies
 *	  maxConnections: 65536		# connection table size
 *	  sets:				# named prefix sets, inline or from a file
 *	    blocklist: {file: blocklist.txt}	# relative to the chain file
 *	    partners: [198.51.100.0/24, 2001:db8:100::/48]
 *	  rules:			# first match wins
 *	    - {action: drop, src: "@blocklist"}
 *	    - {action: allow, protocol: tcp, dstPort: [80, 443]}
 *
 * The whole rule set is parsed and compiled when the chain file is read, so
 * that every mistake, limits included, is reported with its place in the
 * file. A config change builds a new generation (config_swaps): its maps
 * are sized by prepare() and filled by configure() before it goes live, so
 * no packet ever sees half of a rule set.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "fw_compile.h"
#include "internal.h"
#include "nf.h"
#include "nf_firewall.skel.h"

#define SET_FILE_MAX	(256 * 1024 * 1024)	/* 4M prefixes with comments */
#define COMMENT_MAX	256
#define BATCH		65536			/* elements per map update syscall */
#define QBUF		SFC_YAML_QBUF

extern const struct sfc_nf_type sfc_nf_firewall;

static const char *const actions[] = { "allow", "drop", NULL };
static const char *const families[] = { "ipv4", "ipv6", NULL };


struct parse_ctx {
	struct fw_config *cfg;
	char dir[PATH_MAX];		/* the chain file's folder; "" for the cwd */
	uint64_t set_prefixes;		/* in all sets so far */
};

/* A scalar that is not null, as text; else an error naming what. */
static int text_of(const struct sfc_ynode *n, const char *what, const char **s)
{
	*s = sfc_ynode__text(n);
	if (!*s || !strcmp(sfc_ynode__kind(n), "null"))
		return sfc_yaml__error(n, "expected %s, got %s", what, sfc_ynode__kind(n));
	if (strlen(*s) != n->n->data.scalar.length)
		return sfc_yaml__error(n, "expected %s, got text with a NUL character", what);
	return 0;
}

/* A decimal number of at most 10 digits (no sign, no hex), or -1. */
static int64_t decimal(const char *s)
{
	size_t l = strlen(s);

	if (!l || l > 10 || strspn(s, "0123456789") != l)
		return -1;
	return strtoll(s, NULL, 10);
}

/* ---- sets -------------------------------------------------------------- */

static bool set_name_ok(const char *s)
{
	size_t l = strlen(s);

	return l && l <= FW_SET_NAME_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == l;
}

static int add_prefix(struct fw_set *s, uint32_t *cap, const struct fw_prefix *p)
{
	struct fw_prefix *np;
	uint32_t ncap;

	if (s->n == *cap) {
		ncap = *cap ? *cap * 2 : 16;
		np = realloc(s->p, (size_t)ncap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		s->p = np;
		*cap = ncap;
	}
	s->p[s->n++] = *p;
	return 0;
}

/*
 * One prefix or address per line; '#' starts a comment; blank lines are
 * fine. An error names the set file's line and sits at the `file:` node.
 *
 * A relative path is read in the chain file's folder and must stay in it,
 * after ".." and symlinks (sfc_read_file_at); an absolute path is taken as
 * written. Either way only a regular file of at most SET_FILE_MAX bytes is
 * read: never a FIFO, a device or a file of /proc or /sys, which could block
 * or never end.
 */
static int read_set_file(struct parse_ctx *ctx, const struct sfc_ynode *fnode, struct fw_set *s)
{
	char path[PATH_MAX + 256], q[QBUF];
	uint32_t cap = 0, line = 0;
	struct fw_prefix p;
	const char *hint;
	char *text = NULL, *l, *next, *e;
	size_t len = 0;
	int err;

	if (s->file[0] == '/' || !ctx->dir[0])
		snprintf(path, sizeof(path), "%s", s->file);
	else
		snprintf(path, sizeof(path), "%s/%s", ctx->dir, s->file);
	err = sfc_read_file_at(ctx->dir, s->file, SET_FILE_MAX, &text, &len);
	if (err == -ENOMEM)
		return err;
	if (err == -EFBIG || (!err && len > SET_FILE_MAX)) {
		free(text);
		return sfc_yaml__error(fnode, "%s: larger than %d MiB", path, SET_FILE_MAX >> 20);
	}
	if (err == -EXDEV)
		return sfc_yaml__error(fnode, "%s leads out of the chain file's folder (%s): a "
				       "relative set file must stay in it, through \"..\" and "
				       "symlinks alike", sfc_yaml__quote(s->file, q, sizeof(q)),
				       ctx->dir[0] ? ctx->dir : ".");
	if (err == -ENODEV)
		return sfc_yaml__error(fnode, "%s: not a regular file (a FIFO, device, socket or "
				       "file of /proc or /sys is never read)", path);
	if (err == -ELOOP)
		return sfc_yaml__error(fnode, "cannot read %s: %s (a /proc magic link or a "
				       "symlink loop)", path, strerror(-err));
	if (err)
		return sfc_yaml__error(fnode, "cannot read %s: %s", path, strerror(-err));
	if (memchr(text, '\0', len)) {
		err = sfc_yaml__error(fnode, "%s: not a text file (it has a NUL byte)", path);
		goto out;
	}
	for (l = text; l && *l; l = next) {
		line++;
		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		e = strchr(l, '#');
		if (e)
			*e = '\0';
		while (*l == ' ' || *l == '\t')
			l++;
		e = l + strlen(l);
		while (e > l && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (!*l)
			continue;
		if (fw_prefix__parse(l, &p, &hint)) {
			err = sfc_yaml__error(fnode, "%s:%u: %s is not a prefix%s", path, line,
					      sfc_yaml__quote(l, q, sizeof(q)), hint);
			goto out;
		}
		err = add_prefix(s, &cap, &p);
		if (err)
			goto out;
	}
out:
	free(text);
	return err;
}

static int parse_set(struct parse_ctx *ctx, const struct sfc_ynode *v, struct fw_set *s)
{
	static const char *const keys[] = { "file", NULL };
	struct sfc_ynode item, f;
	char buf[PATH_MAX], q[QBUF];
	struct fw_prefix p;
	uint32_t cap = 0;
	const char *t, *hint;
	size_t i, n;
	int err;

	if (sfc_ynode__is_seq(v)) {
		n = sfc_yseq__len(v);
		for (i = 0; i < n; i++) {
			sfc_yseq__at(v, i, &item);
			err = text_of(&item, "a prefix", &t);
			if (err)
				return err;
			if (fw_prefix__parse(t, &p, &hint))
				return sfc_yaml__error(&item, "%s is not a prefix%s",
						       sfc_yaml__quote(t, q, sizeof(q)), hint);
			err = add_prefix(s, &cap, &p);
			if (err)
				return err;
		}
	} else if (sfc_ynode__is_map(v)) {
		err = sfc_ymap__check_keys(v, keys);
		if (err)
			return err;
		sfc_ymap__get(v, "file", &f);
		if (!f.n)
			return sfc_yaml__error(v, "missing required key \"file\"");
		err = sfc_ynode__str(&f, buf, sizeof(buf));
		if (err)
			return err;
		if (!buf[0])
			return sfc_yaml__error(&f, "expected a file name, got \"\"");
		s->file = strdup(buf);
		if (!s->file)
			return -ENOMEM;
		err = read_set_file(ctx, &f, s);
		if (err)
			return err;
	} else {
		return sfc_yaml__error(v, "expected a list of prefixes or {file: path}, got %s",
				       sfc_ynode__kind(v));
	}
	fw_set__finish(s);
	ctx->set_prefixes += s->n;
	if (ctx->set_prefixes > FW_MAX_SET_PREFIXES)
		return sfc_yaml__error(s->file ? &f : v, "the sets hold %llu prefixes so far "
				       "(at most %d in all sets)",
				       (unsigned long long)ctx->set_prefixes, FW_MAX_SET_PREFIXES);
	return 0;
}

static int parse_sets(struct parse_ctx *ctx, const struct sfc_ynode *sets)
{
	struct fw_config *cfg = ctx->cfg;
	yaml_node_pair_t *pair;
	struct sfc_ynode k, v;
	char q[QBUF];
	const char *name;
	size_t n;
	int err;

	if (!sets->n)
		return 0;
	if (!sfc_ynode__is_map(sets))
		return sfc_yaml__error(sets, "expected a mapping of set names to prefix lists "
				       "or {file: path}, got %s", sfc_ynode__kind(sets));
	n = sets->n->data.mapping.pairs.top - sets->n->data.mapping.pairs.start;
	if (n > SFC_FW_MAX_SETS)
		return sfc_yaml__error(sets, "%zu sets (at most %d)", n, SFC_FW_MAX_SETS);
	cfg->sets = calloc(n ? n : 1, sizeof(*cfg->sets));
	if (!cfg->sets)
		return -ENOMEM;
	for (pair = sets->n->data.mapping.pairs.start; pair < sets->n->data.mapping.pairs.top;
	     pair++) {
		struct fw_set *s = &cfg->sets[cfg->n_sets];

		k.y = v.y = sets->y;
		k.n = yaml_document_get_node(&sets->y->doc, pair->key);
		v.n = yaml_document_get_node(&sets->y->doc, pair->value);
		name = sfc_ynode__text(&k);	/* config.c made sure keys are strings */
		if (!name)
			name = "";
		if (!set_name_ok(name)) {
			sfc_ynode__set_path(&k, "%s[%s]", sets->path, sfc_yaml__quote(name, q, sizeof(q)));
			return sfc_yaml__error(&k, "%s is not a set name (expected 1 to %d of "
					       "A-Z, a-z, 0-9, _ and -)", sfc_yaml__quote(name, q, sizeof(q)),
					       FW_SET_NAME_MAX);
		}
		sfc_ynode__set_path(&v, "%s.%s", sets->path, name);
		snprintf(s->name, sizeof(s->name), "%s", name);
		cfg->n_sets++;		/* counted first: fw_config__free() sees it */
		err = parse_set(ctx, &v, s);
		if (err)
			return err;
	}
	return 0;
}

/* ---- rules ---------------------------------------------------------------- */

/* What a rule's address family was fixed by, for conflict messages. */
struct fam_state {
	uint8_t fam;		/* 0, 4 or 6 */
	const char *from;	/* "src", "dst", "family" or "protocol" */
};

static int parse_addr(struct parse_ctx *ctx, const struct sfc_ynode *n, struct fw_addr *a)
{
	const struct fw_config *cfg = ctx->cfg;
	char q[QBUF], list[512];
	const char *t, *hint;
	size_t o = 0;
	uint32_t i;
	int err;

	err = text_of(n, "a prefix or @set", &t);
	if (err)
		return err;
	if (t[0] == '@') {
		for (i = 0; i < cfg->n_sets; i++) {
			if (!strcmp(cfg->sets[i].name, t + 1)) {
				a->kind = FW_ADDR_SET;
				a->set = (uint8_t)i;
				return 0;
			}
		}
		if (!cfg->n_sets)
			return sfc_yaml__error(n, "unknown set %s (no sets are defined)",
					       sfc_yaml__quote(t + 1, q, sizeof(q)));
		list[0] = '\0';
		for (i = 0; i < cfg->n_sets && o < sizeof(list) - 40; i++)
			o += snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "",
				      cfg->sets[i].name);
		if (i < cfg->n_sets)
			snprintf(list + o, sizeof(list) - o, ", ...");
		return sfc_yaml__error(n, "unknown set %s (sets: %s)", sfc_yaml__quote(t + 1, q, sizeof(q)),
				       list);
	}
	if (fw_prefix__parse(t, &a->prefix, &hint))
		return sfc_yaml__error(n, "%s is not a prefix%s", sfc_yaml__quote(t, q, sizeof(q)), hint);
	a->kind = FW_ADDR_PREFIX;
	return 0;
}

static int parse_port(const struct sfc_ynode *n, struct fw_port_range *r)
{
	static const char what[] = "expected a number 0..65535, \"A-B\" or a list of them";
	char buf[32], q[QBUF];
	const char *t, *dash;
	int64_t lo, hi;
	int err;

	err = text_of(n, "a port, \"A-B\" or a list of them", &t);
	if (err)
		return err;
	dash = strchr(t, '-');
	if (dash && dash != t && (size_t)(dash - t) < sizeof(buf)) {
		memcpy(buf, t, dash - t);
		buf[dash - t] = '\0';
		lo = decimal(buf);
		hi = decimal(dash + 1);
	} else {
		lo = hi = dash ? -1 : decimal(t);
	}
	if (lo < 0 || hi < 0)
		return sfc_yaml__error(n, "%s is not a port (%s)", sfc_yaml__quote(t, q, sizeof(q)), what);
	if (lo > 65535)
		return sfc_yaml__error(n, "%lld is out of range 0..65535", (long long)lo);
	if (hi > 65535)
		return sfc_yaml__error(n, "%lld is out of range 0..65535", (long long)hi);
	if (lo > hi)
		return sfc_yaml__error(n, "%s: range upside down", sfc_yaml__quote(t, q, sizeof(q)));
	r->lo = (uint16_t)lo;
	r->hi = (uint16_t)hi;
	return 0;
}

static int parse_ports(const struct sfc_ynode *n, struct fw_ports *ps)
{
	struct sfc_ynode item;
	size_t i, len;
	int err;

	if (sfc_ynode__is_seq(n)) {
		len = sfc_yseq__len(n);
		if (!len)
			return sfc_yaml__error(n, "an empty list (expected at least one port)");
		if (len > 65536)
			return sfc_yaml__error(n, "%zu ports (at most 65536)", len);
		ps->r = calloc(len, sizeof(*ps->r));
		if (!ps->r)
			return -ENOMEM;
		for (i = 0; i < len; i++) {
			sfc_yseq__at(n, i, &item);
			err = parse_port(&item, &ps->r[i]);
			if (err)
				return err;
			ps->n = (uint32_t)i + 1;
		}
		return 0;
	}
	if (!sfc_ynode__is_scalar(n))
		return sfc_yaml__error(n, "expected a port, \"A-B\" or a list of them, got %s",
				       sfc_ynode__kind(n));
	ps->r = calloc(1, sizeof(*ps->r));
	if (!ps->r)
		return -ENOMEM;
	err = parse_port(n, &ps->r[0]);
	if (!err)
		ps->n = 1;
	return err;
}

static const char *protocol_name(int proto, char *buf, size_t len)
{
	const char *name = fw_proto__name(proto);

	if (name)
		return name;
	snprintf(buf, len, "%d", proto);
	return buf;
}

static int parse_protocol(const struct sfc_ynode *n, struct fw_rule *r, struct fam_state *fs)
{
	char q[QBUF];
	const char *t;
	int64_t v;
	int err;

	err = text_of(n, "a protocol", &t);
	if (err)
		return err;
	v = decimal(t);
	if (v < 0)
		v = fw_proto__parse(t);
	else if (v > 255)
		return sfc_yaml__error(n, "%lld is out of range 0..255", (long long)v);
	if (v < 0)
		return sfc_yaml__error(n, "%s is not a protocol (expected tcp, udp, icmp, icmpv6 "
				       "or a number 0..255)", sfc_yaml__quote(t, q, sizeof(q)));
	r->proto = (int16_t)v;
	/* ICMP means IPv4's (1), ICMPv6 IPv6's (58): each implies its family */
	if (v == 1 && fs->fam == 6)
		return sfc_yaml__error(n, "icmp is IPv4's ICMP, but %s is IPv6 (use icmpv6)",
				       fs->from);
	if (v == 58 && fs->fam == 4)
		return sfc_yaml__error(n, "icmpv6 is IPv6's ICMP, but %s is IPv4 (use icmp)",
				       fs->from);
	return 0;
}

static int parse_icmp_type(const struct sfc_ynode *n, struct fw_rule *r)
{
	const char *t, *pname = r->proto == 1 ? "ICMP" : "ICMPv6";
	char q[QBUF];
	int64_t v;
	int err;

	if (r->proto != 1 && r->proto != 58)
		return sfc_yaml__error(n, "icmpType needs protocol icmp or icmpv6");
	err = text_of(n, "an ICMP type", &t);
	if (err)
		return err;
	v = decimal(t);
	if (v > 255)
		return sfc_yaml__error(n, "%lld is out of range 0..255", (long long)v);
	if (v < 0)
		v = fw_icmp_type__parse(r->proto, t);
	if (v < 0)
		return sfc_yaml__error(n, "%s is not an %s type (expected a number 0..255 or one "
				       "of: %s)", sfc_yaml__quote(t, q, sizeof(q)), pname,
				       fw_icmp_type__names(r->proto));
	r->icmp_type = (int16_t)v;
	return 0;
}

/* A flag name or a list of them into *bits. */
static int parse_flag_list(const struct sfc_ynode *n, uint8_t *bits, uint8_t other,
			   const char *other_name)
{
	struct sfc_ynode item;
	char q[QBUF];
	const char *t;
	size_t i, len;
	uint8_t b;
	int err;

	len = sfc_ynode__is_seq(n) ? sfc_yseq__len(n) : 1;
	for (i = 0; i < len; i++) {
		if (sfc_ynode__is_seq(n))
			sfc_yseq__at(n, i, &item);
		else
			item = *n;
		err = text_of(&item, "a TCP flag name or a list of them", &t);
		if (err)
			return err;
		b = fw_tcp_flag__parse(t);
		if (!b)
			return sfc_yaml__error(&item, "%s is not a TCP flag (expected fin, syn, "
					       "rst, psh, ack, urg, ece or cwr)",
					       sfc_yaml__quote(t, q, sizeof(q)));
		if (b & other)
			return sfc_yaml__error(&item, "%s is in %s too (a flag is either set or "
					       "unset)", sfc_yaml__quote(t, q, sizeof(q)), other_name);
		*bits |= b;
	}
	return 0;
}

static int parse_tcp_flags(const struct sfc_ynode *n, struct fw_rule *r)
{
	static const char *const keys[] = { "set", "unset", NULL };
	struct sfc_ynode set, unset;
	int err;

	if (r->proto != 6)
		return sfc_yaml__error(n, "tcpFlags needs protocol tcp");
	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected {set: [flags], unset: [flags]}, got %s",
				       sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	if (err)
		return err;
	sfc_ymap__get(n, "set", &set);
	sfc_ymap__get(n, "unset", &unset);
	if (set.n) {
		err = parse_flag_list(&set, &r->flags_set, 0, "");
		if (err)
			return err;
	}
	if (unset.n) {
		err = parse_flag_list(&unset, &r->flags_unset, r->flags_set, "set");
		if (err)
			return err;
	}
	if (!r->flags_set && !r->flags_unset)
		return sfc_yaml__error(n, "expected at least one flag in set or unset");
	return 0;
}

static int parse_rate_limit(const struct sfc_ynode *n, struct fw_rule *r)
{
	static const char *const keys[] = { "pps", "burst", NULL };
	struct sfc_ynode pps, burst;
	uint64_t cost;
	int err;

	if (r->action != SFC_FW_ALLOW)
		return sfc_yaml__error(n, "rateLimit needs action allow (it allows up to the "
				       "rate and drops the rest)");
	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected {pps: N, burst: N}, got %s",
				       sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	if (err)
		return err;
	sfc_ymap__get(n, "pps", &pps);
	if (!pps.n)
		return sfc_yaml__error(n, "missing required key \"pps\"");
	err = sfc_ynode__u64(&pps, 1, FW_MAX_PPS, &r->pps);
	if (err)
		return err;
	r->burst = r->pps;
	sfc_ymap__get(n, "burst", &burst);
	if (burst.n) {
		err = sfc_ynode__u64(&burst, 1, FW_MAX_PPS, &r->burst);
		if (err)
			return err;
	}
	cost = 1000000000000ULL / r->pps;
	if (r->burst > FW_MAX_BURST_PS / cost)
		return sfc_yaml__error(burst.n ? &burst : n, "a burst of %llu at %llu pps is %llu "
				       "seconds of traffic (at most %llu)",
				       (unsigned long long)r->burst, (unsigned long long)r->pps,
				       (unsigned long long)(r->burst / r->pps),
				       (unsigned long long)(FW_MAX_BURST_PS / 1000000000000ULL));
	r->limit = true;
	return 0;
}

static int parse_rule(struct parse_ctx *ctx, const struct sfc_ynode *rn, struct fw_rule *r)
{
	static const char *const keys[] = {
		"action", "src", "dst", "protocol", "srcPort", "dstPort", "icmpType", "icmpCode",
		"tcpFlags", "vlan", "fragment", "family", "rateLimit", "comment", NULL,
	};
	struct sfc_ynode n, sp, dp;
	struct fam_state fs = {};
	char comment[COMMENT_MAX + 1], q[QBUF], pname[16];
	uint64_t v;
	bool b;
	int err, idx;

	r->proto = FW_ANY;
	r->icmp_type = FW_ANY;
	r->icmp_code = FW_ANY;
	r->fragment = FW_ANY;
	if (!sfc_ynode__is_map(rn))
		return sfc_yaml__error(rn, "expected a mapping (a rule like {action: allow, "
				       "protocol: tcp, dstPort: 22}), got %s", sfc_ynode__kind(rn));
	r->line = (uint32_t)rn->n->start_mark.line + 1;
	err = sfc_ymap__check_keys(rn, keys);
	if (err)
		return err;

	sfc_ymap__get(rn, "action", &n);
	if (!n.n)
		return sfc_yaml__error(rn, "missing required key \"action\"");
	err = sfc_ynode__enum(&n, actions, &idx);
	if (err)
		return err;
	r->action = idx == 0 ? SFC_FW_ALLOW : SFC_FW_DROP;

	sfc_ymap__get(rn, "src", &n);
	if (n.n) {
		err = parse_addr(ctx, &n, &r->src);
		if (err)
			return err;
		if (r->src.kind == FW_ADDR_PREFIX) {
			fs.fam = r->src.prefix.family;
			fs.from = "src";
		}
	}
	sfc_ymap__get(rn, "dst", &n);
	if (n.n) {
		err = parse_addr(ctx, &n, &r->dst);
		if (err)
			return err;
		if (r->dst.kind == FW_ADDR_PREFIX) {
			if (fs.fam && fs.fam != r->dst.prefix.family)
				return sfc_yaml__error(&n, "%s is IPv%u, but src is IPv%u (a rule "
						       "matches one address family)",
						       sfc_yaml__quote(sfc_ynode__text(&n), q, sizeof(q)),
						       r->dst.prefix.family, fs.fam);
			fs.fam = r->dst.prefix.family;
			fs.from = fs.from ?: "dst";
		}
	}
	sfc_ymap__get(rn, "family", &n);
	if (n.n) {
		err = sfc_ynode__enum(&n, families, &idx);
		if (err)
			return err;
		r->family = idx == 0 ? 4 : 6;
		if (fs.fam && fs.fam != r->family)
			return sfc_yaml__error(&n, "ipv%u, but %s is IPv%u", r->family, fs.from,
					       fs.fam);
		fs.fam = r->family;
		fs.from = fs.from ?: "family";
	}
	sfc_ymap__get(rn, "protocol", &n);
	if (n.n) {
		err = parse_protocol(&n, r, &fs);
		if (err)
			return err;
	}

	sfc_ymap__get(rn, "srcPort", &sp);
	sfc_ymap__get(rn, "dstPort", &dp);
	if (sp.n) {
		err = parse_ports(&sp, &r->sport);
		if (err)
			return err;
	}
	if (dp.n) {
		err = parse_ports(&dp, &r->dport);
		if (err)
			return err;
	}
	if ((sp.n || dp.n) && r->proto != 6 && r->proto != 17) {
		if (r->proto == FW_ANY)
			return sfc_yaml__error(sp.n ? &sp : &dp, "ports need protocol tcp or udp");
		return sfc_yaml__error(sp.n ? &sp : &dp, "ports need protocol tcp or udp, not "
				       "%s", protocol_name(r->proto, pname, sizeof(pname)));
	}

	sfc_ymap__get(rn, "icmpType", &n);
	if (n.n) {
		err = parse_icmp_type(&n, r);
		if (err)
			return err;
	}
	sfc_ymap__get(rn, "icmpCode", &n);
	if (n.n) {
		if (r->icmp_type == FW_ANY)
			return sfc_yaml__error(&n, "icmpCode needs icmpType");
		err = sfc_ynode__u64(&n, 0, 255, &v);
		if (err)
			return err;
		r->icmp_code = (int16_t)v;
	}
	sfc_ymap__get(rn, "tcpFlags", &n);
	if (n.n) {
		err = parse_tcp_flags(&n, r);
		if (err)
			return err;
	}
	sfc_ymap__get(rn, "vlan", &n);
	if (n.n) {
		err = sfc_ynode__u64(&n, 1, 4094, &v);
		if (err)
			return err;
		r->vlan = (uint16_t)v;
	}
	sfc_ymap__get(rn, "fragment", &n);
	if (n.n) {
		err = sfc_ynode__bool(&n, &b);
		if (err)
			return err;
		/* a later fragment carries no L4 header: such a rule could never match */
		if (b && (r->sport.n || r->dport.n || r->icmp_type != FW_ANY ||
			  r->flags_set || r->flags_unset))
			return sfc_yaml__error(&n, "true matches non-first fragments, which have "
					       "no ports, ICMP type or TCP flags to match");
		r->fragment = b;
	}
	sfc_ymap__get(rn, "rateLimit", &n);
	if (n.n) {
		err = parse_rate_limit(&n, r);
		if (err)
			return err;
	}
	sfc_ymap__get(rn, "comment", &n);
	if (n.n) {
		err = sfc_ynode__str(&n, comment, sizeof(comment));
		if (err)
			return err;
		r->comment = strdup(comment);
		if (!r->comment)
			return -ENOMEM;
	}
	return 0;
}

static int parse_rules(struct parse_ctx *ctx, const struct sfc_ynode *rules)
{
	struct fw_config *cfg = ctx->cfg;
	struct sfc_ynode item;
	size_t i, n;
	int err;

	if (!rules->n)
		return 0;
	if (!sfc_ynode__is_seq(rules))
		return sfc_yaml__error(rules, "expected a sequence of rules, got %s",
				       sfc_ynode__kind(rules));
	n = sfc_yseq__len(rules);
	if (n > SFC_FW_MAX_RULES)
		return sfc_yaml__error(rules, "%zu rules (at most %d)", n, SFC_FW_MAX_RULES);
	cfg->rules = calloc(n ? n : 1, sizeof(*cfg->rules));
	if (!cfg->rules)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		sfc_yseq__at(rules, i, &item);
		cfg->n_rules = (uint32_t)i + 1;
		err = parse_rule(ctx, &item, &cfg->rules[i]);
		if (err)
			return err;
	}
	return 0;
}

static int compile(struct parse_ctx *ctx, const struct sfc_ynode *rules)
{
	struct fw_compile_error e;
	struct sfc_ynode at;
	int err;

	err = fw_compile(ctx->cfg, &ctx->cfg->compiled, &e);
	if (err != -E2BIG)
		return err;
	sfc_yseq__at(rules, e.rule, &at);
	if (e.limit == FW_LIMIT_TUPLES)
		return sfc_yaml__error(&at, "the rules up to this one need %llu tuples (at most "
				       "%d: a tuple is one combination of address families, "
				       "prefix lengths, sets, matched fields and port blocks; "
				       "every aligned block of a port range is one)",
				       (unsigned long long)e.count, SFC_FW_MAX_TUPLES);
	return sfc_yaml__error(&at, "the rules up to this one compile into %llu keys (at most "
			       "%d; port lists and ranges multiply, a rule without addresses "
			       "counts twice)", (unsigned long long)e.count, SFC_FW_MAX_KEYS);
}

static int fw_parse(const struct sfc_ynode *config, void **out)
{
	static const char *const keys[] = {
		"defaultAction", "stateful", "maxConnections", "sets", "rules", NULL,
	};
	struct parse_ctx ctx = {};
	struct sfc_ynode n, rules;
	struct fw_config *cfg;
	const char *file, *slash;
	uint64_t v;
	int err, idx;

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	ctx.cfg = cfg;
	cfg->default_action = SFC_FW_DROP;
	cfg->max_connections = FW_DEFAULT_CONNECTIONS;

	file = config->y && config->y->file ? config->y->file : "";
	slash = strrchr(file, '/');
	if (slash)
		snprintf(ctx.dir, sizeof(ctx.dir), "%.*s", (int)(slash - file + (slash == file)),
			 file);

	if (config->n) {
		if (!sfc_ynode__is_map(config)) {
			err = sfc_yaml__error(config, "expected a mapping (firewall takes "
					      "{defaultAction, stateful, maxConnections, sets, "
					      "rules}), got %s", sfc_ynode__kind(config));
			goto out;
		}
		err = sfc_ymap__check_keys(config, keys);
		if (err)
			goto out;
	}
	sfc_ymap__get(config, "defaultAction", &n);
	if (n.n) {
		err = sfc_ynode__enum(&n, actions, &idx);
		if (err)
			goto out;
		cfg->default_action = idx == 0 ? SFC_FW_ALLOW : SFC_FW_DROP;
	}
	sfc_ymap__get(config, "stateful", &n);
	if (n.n) {
		err = sfc_ynode__bool(&n, &cfg->stateful);
		if (err)
			goto out;
	}
	sfc_ymap__get(config, "maxConnections", &n);
	if (n.n) {
		err = sfc_ynode__u64(&n, 1, FW_MAX_CONNECTIONS, &v);
		if (err)
			goto out;
		cfg->max_connections = (uint32_t)v;
	}
	sfc_ymap__get(config, "sets", &n);
	err = parse_sets(&ctx, &n);
	if (err)
		goto out;
	sfc_ymap__get(config, "rules", &rules);
	err = parse_rules(&ctx, &rules);
	if (err)
		goto out;
	err = compile(&ctx, &rules);
out:
	if (err) {
		fw_config__free(cfg);
		return err;
	}
	*out = cfg;
	return 0;
}

static void fw_free(void *cfg)
{
	fw_config__free(cfg);
}

/* ---- canonical JSON --------------------------------------------------------- */

static void dump_ports(struct sfc_json *j, const char *key, const struct fw_ports *ps)
{
	char buf[16];
	uint32_t i;

	if (!ps->n)
		return;
	sfc_json__key(j, key);
	sfc_json__arr_begin(j);
	for (i = 0; i < ps->n; i++) {
		if (ps->r[i].lo == ps->r[i].hi) {
			sfc_json__u64(j, ps->r[i].lo);
		} else {
			snprintf(buf, sizeof(buf), "%u-%u", ps->r[i].lo, ps->r[i].hi);
			sfc_json__str(j, buf);
		}
	}
	sfc_json__arr_end(j);
}

static void dump_addr(struct sfc_json *j, const char *key, const struct fw_config *c,
		      const struct fw_addr *a)
{
	char buf[64];

	if (a->kind == FW_ADDR_PREFIX) {
		fw_prefix__format(&a->prefix, buf, sizeof(buf));
		sfc_json__kstr(j, key, buf);
	} else if (a->kind == FW_ADDR_SET) {
		snprintf(buf, sizeof(buf), "@%s", c->sets[a->set].name);
		sfc_json__kstr(j, key, buf);
	}
}

static void dump_flags(struct sfc_json *j, const char *key, uint8_t bits)
{
	int b;

	sfc_json__key(j, key);
	sfc_json__arr_begin(j);
	for (b = 0; b < 8; b++)
		if (bits & (1u << b))
			sfc_json__str(j, fw_tcp_flag__name(1u << b));
	sfc_json__arr_end(j);
}

static void dump_rule(struct sfc_json *j, const struct fw_config *c, const struct fw_rule *r)
{
	const char *name;

	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "action", r->action == SFC_FW_ALLOW ? "allow" : "drop");
	if (r->family)
		sfc_json__kstr(j, "family", r->family == 4 ? "ipv4" : "ipv6");
	if (r->proto != FW_ANY) {
		name = fw_proto__name(r->proto);
		if (name)
			sfc_json__kstr(j, "protocol", name);
		else
			sfc_json__ku64(j, "protocol", r->proto);
	}
	dump_addr(j, "src", c, &r->src);
	dump_addr(j, "dst", c, &r->dst);
	dump_ports(j, "src_port", &r->sport);
	dump_ports(j, "dst_port", &r->dport);
	if (r->icmp_type != FW_ANY) {
		name = fw_icmp_type__name(r->proto, r->icmp_type);
		if (name)
			sfc_json__kstr(j, "icmp_type", name);
		else
			sfc_json__ku64(j, "icmp_type", r->icmp_type);
	}
	if (r->icmp_code != FW_ANY)
		sfc_json__ku64(j, "icmp_code", r->icmp_code);
	if (r->flags_set | r->flags_unset) {
		sfc_json__key(j, "tcp_flags");
		sfc_json__obj_begin(j);
		dump_flags(j, "set", r->flags_set);
		dump_flags(j, "unset", r->flags_unset);
		sfc_json__obj_end(j);
	}
	if (r->vlan)
		sfc_json__ku64(j, "vlan", r->vlan);
	if (r->fragment != FW_ANY)
		sfc_json__kbool(j, "fragment", r->fragment);
	if (r->limit) {
		sfc_json__key(j, "rate_limit");
		sfc_json__obj_begin(j);
		sfc_json__ku64(j, "pps", r->pps);
		sfc_json__ku64(j, "burst", r->burst);
		sfc_json__obj_end(j);
	}
	if (r->comment)
		sfc_json__kstr(j, "comment", r->comment);
	sfc_json__obj_end(j);
}

/*
 * A set read from a file is summarized (its prefixes could be 100k, the
 * spec pin holds 256 KiB): the hash still makes a changed file a changed
 * config, and so a new generation.
 */
static void fw_dump(const void *cfg, struct sfc_json *j)
{
	const struct fw_config *c = cfg;
	char buf[64];
	uint32_t i, k;

	sfc_json__obj_begin(j);
	if (!c) {
		sfc_json__obj_end(j);
		return;
	}
	sfc_json__kstr(j, "default_action", c->default_action == SFC_FW_ALLOW ? "allow" : "drop");
	sfc_json__kbool(j, "stateful", c->stateful);
	sfc_json__ku64(j, "max_connections", c->max_connections);
	sfc_json__key(j, "sets");
	sfc_json__obj_begin(j);
	for (i = 0; i < c->n_sets; i++) {
		const struct fw_set *s = &c->sets[i];

		sfc_json__key(j, s->name);
		if (s->file) {
			sfc_json__obj_begin(j);
			sfc_json__kstr(j, "file", s->file);
			sfc_json__ku64(j, "prefixes", s->n);
			snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)s->hash);
			sfc_json__kstr(j, "hash", buf);
			sfc_json__obj_end(j);
			continue;
		}
		sfc_json__arr_begin(j);
		for (k = 0; k < s->n; k++) {
			fw_prefix__format(&s->p[k], buf, sizeof(buf));
			sfc_json__str(j, buf);
		}
		sfc_json__arr_end(j);
	}
	sfc_json__obj_end(j);
	sfc_json__key(j, "rules");
	sfc_json__arr_begin(j);
	for (i = 0; i < c->n_rules; i++)
		dump_rule(j, c, &c->rules[i]);
	sfc_json__arr_end(j);
	sfc_json__obj_end(j);
}

/* ---- BPF ------------------------------------------------------------------------ */

static const char *const gen_maps[] = {
	"sfc_fw_tuples", "sfc_fw_keys4", "sfc_fw_keys6", "sfc_fw_rules", "sfc_fw_buckets",
	"sfc_fw_rule_stats", "sfc_fw_sets4", "sfc_fw_sets6", "sfc_fw_sport_class",
	"sfc_fw_dport_class", NULL,
};

static struct bpf_object *fw_open(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "nf_firewall");
	const void *elf;
	size_t sz;

	elf = nf_firewall__elf_bytes(&sz);
	return bpf_object__open_mem(elf, sz, &opts);
}

static int set_u32(struct bpf_object *obj, const char *name, uint32_t v)
{
	return sfc_nf__set_rodata(obj, name, &v, sizeof(v));
}

static int fw_prepare(struct bpf_object *obj, const void *cfg)
{
	const struct fw_config *c = cfg;
	const struct fw_compiled *fc = c ? c->compiled : NULL;
	int err;

	if (!fc)
		return -EINVAL;
	err = sfc_nf__set_size(obj, "sfc_fw_tuples", fc->n_tuples);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_keys4", fc->n_keys4);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_keys6", fc->n_keys6);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_rules", fc->n_rules);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_buckets", fc->n_rules);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_rule_stats", fc->n_rules);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_sets4", fc->n_lpm4);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_sets6", fc->n_lpm6);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_sport_class", fc->sport_class ? SFC_FW_PORTS : 0);
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_dport_class", fc->dport_class ? SFC_FW_PORTS : 0);
	/* always, so that turning stateful on or off keeps the pinned table */
	err = err ?: sfc_nf__set_size(obj, "sfc_fw_ct", c->max_connections);
	err = err ?: set_u32(obj, "sfc_fw_n_tuples", fc->n_tuples);
	err = err ?: set_u32(obj, "sfc_fw_n_rules", fc->n_rules);
	err = err ?: set_u32(obj, "sfc_fw_default_action", c->default_action);
	err = err ?: set_u32(obj, "sfc_fw_stateful", c->stateful);
	err = err ?: set_u32(obj, "sfc_fw_n_tuples4", fc->n_tuples4);
	err = err ?: set_u32(obj, "sfc_fw_set_lookups", fc->set_lookups);
	err = err ?: set_u32(obj, "sfc_fw_class_lookups", fc->class_lookups);
	return err;
}

static bool batch_unsupported(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */;
}

/*
 * Write n elements into a map of the generation being built: in batches
 * (100k rules in a few syscalls), element by element where the kernel has
 * no batch update for the map type.
 */
static int fill_map(const struct sfc_nf_ctx *ctx, const char *name, const void *keys,
		    size_t ksz, const void *vals, size_t vsz, uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = BPF_ANY);
	const char *k = keys, *v = vals;
	uint32_t off = 0, count;
	bool batch = true;
	int fd, err = 0;

	if (!n)
		return 0;
	fd = sfc_nf__map_fd(ctx, name);
	if (fd < 0)
		return sfc_diag_set(ctx->diag, fd, NULL, "function %s: cannot open map %s: %s",
				    ctx->fn->name, name, strerror(-fd));
	while (off < n) {
		count = n - off < BATCH ? n - off : BATCH;
		if (batch) {
			err = bpf_map_update_batch(fd, k + (size_t)off * ksz, v + (size_t)off * vsz,
						   &count, &opts) ? -errno : 0;
			if (err && batch_unsupported(err) && !count) {
				batch = false;
				continue;
			}
			if (err)
				break;
			off += count;
			continue;
		}
		err = bpf_map_update_elem(fd, k + (size_t)off * ksz, v + (size_t)off * vsz,
					  BPF_ANY) ? -errno : 0;
		if (err)
			break;
		off++;
	}
	close(fd);
	if (err)
		return sfc_diag_set(ctx->diag, err, NULL, "function %s: cannot write map %s "
				    "(element %u of %u): %s", ctx->fn->name, name, off, n,
				    strerror(-err));
	return 0;
}

static int fw_configure(const struct sfc_nf_ctx *ctx, const void *cfg)
{
	const struct fw_config *c = cfg;
	const struct fw_compiled *fc = c ? c->compiled : NULL;
	uint32_t *idx, n, i;
	int err;

	if (!fc)
		return -EINVAL;
	n = fc->n_tuples > fc->n_rules ? fc->n_tuples : fc->n_rules;
	if ((fc->sport_class || fc->dport_class) && n < SFC_FW_PORTS)
		n = SFC_FW_PORTS;
	idx = calloc(n ? n : 1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		idx[i] = i;
	err = fill_map(ctx, "sfc_fw_rules", idx, sizeof(*idx), fc->rules, sizeof(*fc->rules),
		       fc->n_rules);
	err = err ?: fill_map(ctx, "sfc_fw_sets4", fc->lpm4, sizeof(*fc->lpm4), fc->lpm4_val,
			      sizeof(*fc->lpm4_val), fc->n_lpm4);
	err = err ?: fill_map(ctx, "sfc_fw_sets6", fc->lpm6, sizeof(*fc->lpm6), fc->lpm6_val,
			      sizeof(*fc->lpm6_val), fc->n_lpm6);
	err = err ?: fill_map(ctx, "sfc_fw_keys4", fc->keys4, sizeof(*fc->keys4), fc->vals4,
			      sizeof(*fc->vals4), fc->n_keys4);
	err = err ?: fill_map(ctx, "sfc_fw_keys6", fc->keys6, sizeof(*fc->keys6), fc->vals6,
			      sizeof(*fc->vals6), fc->n_keys6);
	if (fc->sport_class)
		err = err ?: fill_map(ctx, "sfc_fw_sport_class", idx, sizeof(*idx),
				      fc->sport_class, sizeof(*fc->sport_class), SFC_FW_PORTS);
	if (fc->dport_class)
		err = err ?: fill_map(ctx, "sfc_fw_dport_class", idx, sizeof(*idx),
				      fc->dport_class, sizeof(*fc->dport_class), SFC_FW_PORTS);
	err = err ?: fill_map(ctx, "sfc_fw_tuples", idx, sizeof(*idx), fc->tuples,
			      sizeof(*fc->tuples), fc->n_tuples);
	free(idx);
	return err;
}

const struct fw_config *sfc_fw__config(const struct sfc_function *fn)
{
	if (!fn || fn->type != &sfc_nf_firewall)
		return NULL;
	return fn->config;
}

const struct sfc_nf_type sfc_nf_firewall = {
	.name = "firewall",
	.summary = "first-match packet filter: prefixes, sets, ports, ICMP, TCP flags, VLAN, "
		   "rate limits; optionally stateful",
	.parse = fw_parse,
	.free = fw_free,
	.dump = fw_dump,
	.open = fw_open,
	.prog_name = "sfc_firewall",
	.prepare = fw_prepare,
	.configure = fw_configure,
	.gen_maps = gen_maps,
	.config_swaps = true,
};
