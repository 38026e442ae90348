// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The firewall's rule compiler (see fw_compile.h and shared/sfc_fw.h).
 *
 * Rules become keys of a tuple space search: every rule, per address family
 * it can match and per port, port class or port block of its port matches,
 * gives one key in the tuple of its masks. Port classes are planned first
 * (plan_classes()): which fields of which rules go by class, and the class
 * maps. Keys are deduplicated in hash tables (the first rule keeps a key:
 * first match wins), tuples are then sorted by the lowest rule they hold.
 * The set tries get, per prefix, the bitmap of every set whose prefixes
 * cover it, because the data path does one longest-prefix lookup per
 * address and must learn all memberships from it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_compile.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- names ----------------------------------------------------------- */

static const struct {
	const char *name;
	int proto;
} protos[] = {
	{ "icmp", 1 }, { "tcp", 6 }, { "udp", 17 }, { "icmpv6", 58 },
};

int fw_proto__parse(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(protos); i++)
		if (!strcmp(protos[i].name, name))
			return protos[i].proto;
	return -1;
}

const char *fw_proto__name(int proto)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(protos); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return NULL;
}

struct icmp_name {
	const char *name;
	int type;
};

/* The first name of a type is the one listings print. */
static const struct icmp_name icmp4_names[] = {
	{ "echo-reply", 0 }, { "destination-unreachable", 3 }, { "redirect", 5 },
	{ "echo-request", 8 }, { "router-advertisement", 9 }, { "router-solicitation", 10 },
	{ "time-exceeded", 11 }, { "parameter-problem", 12 }, { "timestamp-request", 13 },
	{ "timestamp-reply", 14 },
};

static const struct icmp_name icmp6_names[] = {
	{ "destination-unreachable", 1 }, { "packet-too-big", 2 }, { "time-exceeded", 3 },
	{ "parameter-problem", 4 }, { "echo-request", 128 }, { "echo-reply", 129 },
	{ "router-solicitation", 133 }, { "router-advertisement", 134 },
	{ "neighbour-solicitation", 135 }, { "neighbor-solicitation", 135 },
	{ "neighbour-advertisement", 136 }, { "neighbor-advertisement", 136 },
};

static const struct icmp_name *icmp_table(int proto, size_t *n)
{
	if (proto == 1) {
		*n = ARRAY_SIZE(icmp4_names);
		return icmp4_names;
	}
	if (proto == 58) {
		*n = ARRAY_SIZE(icmp6_names);
		return icmp6_names;
	}
	*n = 0;
	return NULL;
}

int fw_icmp_type__parse(int proto, const char *name)
{
	const struct icmp_name *t;
	size_t i, n;

	t = icmp_table(proto, &n);
	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return t[i].type;
	return -1;
}

const char *fw_icmp_type__name(int proto, int type)
{
	const struct icmp_name *t;
	size_t i, n;

	t = icmp_table(proto, &n);
	for (i = 0; i < n; i++)
		if (t[i].type == type)
			return t[i].name;
	return NULL;
}

const char *fw_icmp_type__names(int proto)
{
	if (proto == 1)
		return "echo-reply, destination-unreachable, redirect, echo-request, "
		       "router-advertisement, router-solicitation, time-exceeded, "
		       "parameter-problem, timestamp-request, timestamp-reply";
	if (proto == 58)
		return "destination-unreachable, packet-too-big, time-exceeded, "
		       "parameter-problem, echo-request, echo-reply, router-solicitation, "
		       "router-advertisement, neighbour-solicitation, neighbor-solicitation, "
		       "neighbour-advertisement, neighbor-advertisement";
	return "";
}

static const char *const tcp_flags[8] = { "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr" };

uint8_t fw_tcp_flag__parse(const char *name)
{
	int i;

	for (i = 0; i < 8; i++)
		if (!strcmp(tcp_flags[i], name))
			return 1u << i;
	return 0;
}

const char *fw_tcp_flag__name(uint8_t bit)
{
	int i;

	for (i = 0; i < 8; i++)
		if (bit == 1u << i)
			return tcp_flags[i];
	return NULL;
}

/* ---- prefixes ---------------------------------------------------------- */

static unsigned int addr_bytes(uint8_t family)
{
	return family == 4 ? 4 : 16;
}

static void mask_bytes(uint8_t *m, unsigned int bytes, unsigned int len)
{
	unsigned int i, bits;

	for (i = 0; i < bytes; i++) {
		bits = len > 8 * i ? len - 8 * i : 0;
		m[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00 >> bits);
	}
}

static void apply_mask(uint8_t *addr, unsigned int bytes, unsigned int len)
{
	uint8_t m[16];
	unsigned int i;

	mask_bytes(m, bytes, len);
	for (i = 0; i < bytes; i++)
		addr[i] &= m[i];
}

int fw_prefix__parse(const char *s, struct fw_prefix *p, const char **hint)
{
	const char *slash = strchr(s, '/'), *d;
	struct fw_prefix r = {};
	unsigned int len, max;
	char buf[64];
	size_t l;

	if (hint)
		*hint = "";
	if (strpbrk(s, " \t")) {
		if (hint)
			*hint = " (it has whitespace: one prefix per entry)";
		return -EINVAL;
	}
	l = slash ? (size_t)(slash - s) : strlen(s);
	if (!l || l >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, l);
	buf[l] = '\0';
	if (strchr(buf, ':')) {
		if (inet_pton(AF_INET6, buf, r.addr) != 1)
			return -EINVAL;
		r.family = 6;
		max = 128;
	} else {
		if (inet_pton(AF_INET, buf, r.addr) != 1)
			return -EINVAL;
		r.family = 4;
		max = 32;
	}
	len = max;
	if (slash) {
		d = slash + 1;
		if (!*d || strlen(d) > 3 || strspn(d, "0123456789") != strlen(d)) {
			if (hint)
				*hint = " (expected a length in decimal after the /)";
			return -EINVAL;
		}
		len = (unsigned int)atoi(d);
		if (len > max) {
			if (hint)
				*hint = r.family == 4 ? " (an IPv4 prefix is 0..32 bits long)"
						      : " (an IPv6 prefix is 0..128 bits long)";
			return -EINVAL;
		}
	}
	r.len = (uint8_t)len;
	apply_mask(r.addr, addr_bytes(r.family), len);
	*p = r;
	return 0;
}

void fw_prefix__format(const struct fw_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->len);
}

bool fw_prefix__contains(const struct fw_prefix *p, uint8_t family, const uint8_t *addr)
{
	uint8_t a[16];

	if (p->family != family)
		return false;
	memcpy(a, addr, addr_bytes(family));
	apply_mask(a, addr_bytes(family), p->len);
	return !memcmp(a, p->addr, addr_bytes(family));
}

static int prefix_cmp(const void *a, const void *b)
{
	const struct fw_prefix *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

void fw_set__finish(struct fw_set *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	uint32_t i, o = 0;
	size_t k;

	if (s->n)
		qsort(s->p, s->n, sizeof(*s->p), prefix_cmp);
	s->families = 0;
	for (i = 0; i < s->n; i++) {
		if (o && !prefix_cmp(&s->p[o - 1], &s->p[i]))
			continue;
		s->p[o++] = s->p[i];
	}
	s->n = o;
	for (i = 0; i < s->n; i++) {
		const struct fw_prefix *p = &s->p[i];
		uint8_t bytes[18];

		s->families |= p->family == 4 ? FW_FAM_V4 : FW_FAM_V6;
		bytes[0] = p->family;
		bytes[1] = p->len;
		memcpy(bytes + 2, p->addr, addr_bytes(p->family));
		for (k = 0; k < 2 + addr_bytes(p->family); k++) {
			h ^= bytes[k];
			h *= 0x100000001b3ULL;
		}
	}
	s->hash = h;
}

/* ---- the config ---------------------------------------------------------- */

void fw_config__free(struct fw_config *cfg)
{
	uint32_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_sets; i++) {
		free(cfg->sets[i].file);
		free(cfg->sets[i].p);
	}
	free(cfg->sets);
	for (i = 0; i < cfg->n_rules; i++) {
		free(cfg->rules[i].sport.r);
		free(cfg->rules[i].dport.r);
		free(cfg->rules[i].comment);
	}
	free(cfg->rules);
	fw_compiled__free(cfg->compiled);
	free(cfg);
}

static uint8_t addr_families(const struct fw_config *cfg, const struct fw_addr *a)
{
	switch (a->kind) {
	case FW_ADDR_PREFIX:
		return a->prefix.family == 4 ? FW_FAM_V4 : FW_FAM_V6;
	case FW_ADDR_SET:
		return cfg->sets[a->set].families;
	default:
		return FW_FAM_V4 | FW_FAM_V6;
	}
}

uint8_t fw_rule__families(const struct fw_config *cfg, const struct fw_rule *r)
{
	uint8_t f = FW_FAM_V4 | FW_FAM_V6;

	if (r->family == 4)
		f &= FW_FAM_V4;
	else if (r->family == 6)
		f &= FW_FAM_V6;
	if (r->proto == 1)
		f &= FW_FAM_V4;
	else if (r->proto == 58)
		f &= FW_FAM_V6;
	return f & addr_families(cfg, &r->src) & addr_families(cfg, &r->dst);
}

/* ---- display ------------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, o;
	bool cut;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->o, o->len - o->o, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->len - o->o) {
		o->cut = true;
		return;
	}
	o->o += n;
}

static void put_addr(struct out *o, const struct fw_config *cfg, const char *what,
		     const struct fw_addr *a)
{
	char p[64];

	if (a->kind == FW_ADDR_PREFIX) {
		fw_prefix__format(&a->prefix, p, sizeof(p));
		put(o, " %s %s", what, p);
	} else if (a->kind == FW_ADDR_SET) {
		put(o, " %s @%s", what, cfg->sets[a->set].name);
	}
}

static void put_ports(struct out *o, const char *what, const struct fw_ports *ps)
{
	uint32_t i;

	if (!ps->n)
		return;
	put(o, " %s ", what);
	for (i = 0; i < ps->n; i++) {
		if (ps->r[i].lo == ps->r[i].hi)
			put(o, "%s%u", i ? "," : "", ps->r[i].lo);
		else
			put(o, "%s%u-%u", i ? "," : "", ps->r[i].lo, ps->r[i].hi);
	}
}

int fw_rule__format(const struct fw_config *cfg, uint32_t i, char *buf, size_t len)
{
	struct out o = { .buf = buf, .len = len };
	const struct fw_rule *r;
	const char *name;
	int b;

	if (!buf || !len)
		return -EINVAL;
	buf[0] = '\0';
	if (!cfg || i >= cfg->n_rules)
		return -EINVAL;
	r = &cfg->rules[i];
	put(&o, "%s", r->action == SFC_FW_ALLOW ? "allow" : "drop");
	if (r->family)
		put(&o, " ipv%u", r->family);
	if (r->proto != FW_ANY) {
		name = fw_proto__name(r->proto);
		if (name)
			put(&o, " %s", name);
		else
			put(&o, " proto %d", r->proto);
	}
	put_addr(&o, cfg, "src", &r->src);
	put_addr(&o, cfg, "dst", &r->dst);
	put_ports(&o, "sport", &r->sport);
	put_ports(&o, "dport", &r->dport);
	if (r->icmp_type != FW_ANY) {
		name = fw_icmp_type__name(r->proto, r->icmp_type);
		if (name)
			put(&o, " type %s", name);
		else
			put(&o, " type %d", r->icmp_type);
		if (r->icmp_code != FW_ANY)
			put(&o, " code %d", r->icmp_code);
	}
	if (r->flags_set | r->flags_unset) {
		put(&o, " flags");
		for (b = 0; b < 8; b++)
			if (r->flags_set & (1u << b))
				put(&o, " +%s", tcp_flags[b]);
		for (b = 0; b < 8; b++)
			if (r->flags_unset & (1u << b))
				put(&o, " -%s", tcp_flags[b]);
	}
	if (r->vlan)
		put(&o, " vlan %u", r->vlan);
	if (r->fragment == 1)
		put(&o, " fragment");
	else if (r->fragment == 0)
		put(&o, " not-fragment");
	if (r->limit)
		put(&o, " limit %llu/s burst %llu", (unsigned long long)r->pps,
		    (unsigned long long)r->burst);
	return o.cut ? -ENOSPC : 0;
}

/* ---- hash tables ----------------------------------------------------------- */

/*
 * Open addressing over the caller's array: a slot holds an index + 1 into
 * it, 0 when empty. The array may move (realloc); every call gets its base.
 */
struct htab {
	uint32_t *slot;
	uint32_t mask;		/* capacity - 1 */
	uint32_t n;
};

static uint64_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;

	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (n) {
		w = 0;
		memcpy(&w, b, n);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

static uint32_t *htab_slot(const struct htab *h, const void *base, size_t stride, size_t ksz,
			   const void *key)
{
	uint32_t i = (uint32_t)hash_bytes(key, ksz) & h->mask, s;

	for (;; i = (i + 1) & h->mask) {
		s = h->slot[i];
		if (!s || !memcmp((const char *)base + (size_t)(s - 1) * stride, key, ksz))
			return &h->slot[i];
	}
}

/* Index of key in base, or -1. */
static int64_t htab_find(const struct htab *h, const void *base, size_t stride, size_t ksz,
			 const void *key)
{
	uint32_t s;

	if (!h->slot)
		return -1;
	s = *htab_slot(h, base, stride, ksz, key);
	return s ? (int64_t)s - 1 : -1;
}

/* Room for one more entry (load at most 1/2). */
static int htab_reserve(struct htab *h, const void *base, size_t stride, size_t ksz)
{
	uint32_t cap = h->slot ? h->mask + 1 : 0, ncap, i, s;
	struct htab nh = {};

	if ((uint64_t)(h->n + 1) * 2 <= cap)
		return 0;
	ncap = cap ? cap * 2 : 64;
	nh.slot = calloc(ncap, sizeof(*nh.slot));
	if (!nh.slot)
		return -ENOMEM;
	nh.mask = ncap - 1;
	nh.n = h->n;
	for (i = 0; i < cap; i++) {
		s = h->slot[i];
		if (s)
			*htab_slot(&nh, base, stride, ksz,
				   (const char *)base + (size_t)(s - 1) * stride) = s;
	}
	free(h->slot);
	*h = nh;
	return 0;
}

static void htab_free(struct htab *h)
{
	free(h->slot);
	h->slot = NULL;
	h->n = 0;
}

/* Grow a malloc'd array to hold n + 1 elements. */
static int grow(void **arr, uint32_t *cap, uint32_t n, size_t size)
{
	uint32_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(*arr, (size_t)ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* ---- compiling ------------------------------------------------------------ */

struct builder {
	const struct fw_config *cfg;
	struct fw_compiled *c;
	struct fw_compile_error *e;
	bool classes;		/* ranges may use port classes */
	bool used_classes;	/* a key holds a class id */
	uint8_t *mode;		/* per rule: F_* fields that use classes; NULL: none */
	/* rule shapes with a class range (shape_key()), F_* bits each */
	struct sfc_fw_tuple *shape;
	uint8_t *shape_bits;
	uint32_t n_shapes, cap_shape, cap_shape_bits;
	struct htab hs;

	struct sfc_fw_tuple *tup;	/* min_rule 0 while building: it is not identity */
	uint32_t *tup_min;
	uint32_t cap_tup, cap_tup_min;
	struct htab ht;

	uint32_t cap4, cap6, cap_v4, cap_v6;
	struct htab h4, h6;
};

/*
 * One port value of a key: a value under a mask (host order), or, with cls,
 * a class id (the mask is then 0xffff).
 */
struct block {
	uint16_t v, m;
	bool cls;
};

static uint32_t range_blocks(uint32_t lo, uint32_t hi, struct block *out)
{
	uint32_t n = 0, size;

	while (lo <= hi) {
		size = lo ? (lo & -lo) : 0x10000;
		while (lo + size - 1 > hi)
			size >>= 1;
		if (out) {
			out[n].v = (uint16_t)lo;
			out[n].m = (uint16_t)~(size - 1);
			out[n].cls = false;
		}
		n++;
		lo += size;
	}
	return n;
}

/*
 * A range that goes through classes: not a single port (an exact match
 * needs no class), not 0-65535 (a 0 mask, one key, no lookup).
 */
static bool is_class_range(const struct fw_port_range *r)
{
	return r->lo != r->hi && (r->lo || r->hi != 0xffff);
}

/*
 * The port values of a port spec's keys; a spec without ports is one
 * wildcard. With cls (the field's classes), a class range gives the ids of
 * the classes it covers, else its blocks; a single port its class id with
 * singles too, else itself. out NULL: only count them.
 */
static uint32_t port_values(const struct fw_ports *ps, const uint16_t *cls, bool singles,
			    struct block *out)
{
	const struct fw_port_range *r;
	uint32_t i, o = 0, id;

	if (!ps->n) {
		if (out)
			out[0] = (struct block){ 0, 0, false };
		return 1;
	}
	for (i = 0; i < ps->n; i++) {
		r = &ps->r[i];
		if (cls && singles && r->lo == r->hi) {
			if (out)
				out[o] = (struct block){ cls[r->lo], 0xffff, true };
			o++;
			continue;
		}
		if (!cls || !is_class_range(r)) {
			o += range_blocks(r->lo, r->hi, out ? out + o : NULL);
			continue;
		}
		/* the range's bounds are class bounds: its classes are a run */
		for (id = cls[r->lo]; id <= cls[r->hi]; id++, o++)
			if (out)
				out[o] = (struct block){ (uint16_t)id, 0xffff, true };
	}
	return o;
}

static int port_blocks(const struct fw_ports *ps, const uint16_t *cls, bool singles,
		       struct block **out, uint32_t *n)
{
	*n = port_values(ps, cls, singles, NULL);
	*out = calloc(*n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	port_values(ps, cls, singles, *out);
	return 0;
}

static int find_tuple(struct builder *b, const struct sfc_fw_tuple *t, uint32_t rule,
		      uint16_t *idx)
{
	struct fw_compiled *c = b->c;
	int64_t i;
	int err;

	i = htab_find(&b->ht, b->tup, sizeof(*t), sizeof(*t), t);
	if (i >= 0) {
		*idx = (uint16_t)i;
		return 0;
	}
	if (c->n_tuples >= SFC_FW_MAX_TUPLES) {
		b->e->limit = FW_LIMIT_TUPLES;
		b->e->rule = rule;
		b->e->count = c->n_tuples + 1;
		return -E2BIG;
	}
	err = grow((void **)&b->tup, &b->cap_tup, c->n_tuples, sizeof(*t));
	err = err ?: grow((void **)&b->tup_min, &b->cap_tup_min, c->n_tuples, sizeof(uint32_t));
	err = err ?: htab_reserve(&b->ht, b->tup, sizeof(*t), sizeof(*t));
	if (err)
		return err;
	b->tup[c->n_tuples] = *t;
	b->tup_min[c->n_tuples] = rule;
	*htab_slot(&b->ht, b->tup, sizeof(*t), sizeof(*t), t) = c->n_tuples + 1;
	b->ht.n++;
	*idx = (uint16_t)c->n_tuples++;
	return 0;
}

static int count_key(struct builder *b, uint32_t rule)
{
	uint64_t n = (uint64_t)b->c->n_keys4 + b->c->n_keys6;

	if (n >= SFC_FW_MAX_KEYS) {
		b->e->limit = FW_LIMIT_KEYS;
		b->e->rule = rule;
		b->e->count = n + 1;
		return -E2BIG;
	}
	b->c->rule_keys[rule]++;
	return 0;
}

static int add_key4(struct builder *b, const struct sfc_fw_key4 *k, uint32_t rule)
{
	struct fw_compiled *c = b->c;
	uint32_t *slot;
	int err;

	err = htab_reserve(&b->h4, c->keys4, sizeof(*k), sizeof(*k));
	if (err)
		return err;
	slot = htab_slot(&b->h4, c->keys4, sizeof(*k), sizeof(*k), k);
	if (*slot)
		return 0;	/* an earlier rule holds it */
	err = count_key(b, rule);
	err = err ?: grow((void **)&c->keys4, &b->cap4, c->n_keys4, sizeof(*k));
	err = err ?: grow((void **)&c->vals4, &b->cap_v4, c->n_keys4, sizeof(uint32_t));
	if (err)
		return err;
	c->keys4[c->n_keys4] = *k;
	c->vals4[c->n_keys4] = rule;
	*slot = ++c->n_keys4;
	b->h4.n++;
	return 0;
}

static int add_key6(struct builder *b, const struct sfc_fw_key6 *k, uint32_t rule)
{
	struct fw_compiled *c = b->c;
	uint32_t *slot;
	int err;

	err = htab_reserve(&b->h6, c->keys6, sizeof(*k), sizeof(*k));
	if (err)
		return err;
	slot = htab_slot(&b->h6, c->keys6, sizeof(*k), sizeof(*k), k);
	if (*slot)
		return 0;
	err = count_key(b, rule);
	err = err ?: grow((void **)&c->keys6, &b->cap6, c->n_keys6, sizeof(*k));
	err = err ?: grow((void **)&c->vals6, &b->cap_v6, c->n_keys6, sizeof(uint32_t));
	if (err)
		return err;
	c->keys6[c->n_keys6] = *k;
	c->vals6[c->n_keys6] = rule;
	*slot = ++c->n_keys6;
	b->h6.n++;
	return 0;
}

/* An address's mask and value into a tuple's and a key's words. */
static void addr_fields(const struct fw_addr *a, uint8_t family, __be32 *mask, __be32 *val,
			__u8 *set)
{
	unsigned int bytes = addr_bytes(family);

	memset(mask, 0, bytes);
	memset(val, 0, bytes);
	*set = 0;
	if (a->kind == FW_ADDR_PREFIX) {
		mask_bytes((uint8_t *)mask, bytes, a->prefix.len);
		memcpy(val, a->prefix.addr, bytes);
	} else if (a->kind == FW_ADDR_SET) {
		*set = a->set + 1;
	}
}

/* A rule's tuple and key in a family, all but the ports. */
static void rule_base(const struct fw_rule *r, uint8_t family, struct sfc_fw_tuple *tp,
		      struct sfc_fw_key_hdr *hp, __be32 *src, __be32 *dst)
{
	bool l4 = r->sport.n || r->dport.n || r->icmp_type != FW_ANY ||
		  r->flags_set || r->flags_unset;
	struct sfc_fw_key_hdr h = {};
	struct sfc_fw_tuple t = {};

	t.family = family;
	if (r->proto != FW_ANY) {
		t.proto_mask = 0xff;
		h.proto = (__u8)r->proto;
	}
	if (l4) {
		t.pflags_mask |= SFC_FW_PF_L4;
		h.pflags |= SFC_FW_PF_L4;
	}
	if (r->fragment != FW_ANY) {
		t.pflags_mask |= SFC_FW_PF_FRAG;
		if (r->fragment)
			h.pflags |= SFC_FW_PF_FRAG;
	}
	t.tcp_flags_mask = r->flags_set | r->flags_unset;
	h.tcp_flags = r->flags_set;
	if (r->vlan) {
		t.vlan_mask = 0xfff;
		h.vlan = r->vlan;
	}
	if (r->icmp_type != FW_ANY) {
		t.icmp_type_mask = 0xff;
		h.icmp_type = (__u8)r->icmp_type;
	}
	if (r->icmp_code != FW_ANY) {
		t.icmp_code_mask = 0xff;
		h.icmp_code = (__u8)r->icmp_code;
	}
	addr_fields(&r->src, family, t.src_mask, src, &t.src_set);
	addr_fields(&r->dst, family, t.dst_mask, dst, &t.dst_set);
	*tp = t;
	*hp = h;
}

static int expand_family(struct builder *b, uint32_t ri, uint8_t family,
			 const struct block *sb, uint32_t ns, const struct block *db, uint32_t nd)
{
	const struct fw_rule *r = &b->cfg->rules[ri];
	struct sfc_fw_key_hdr h;
	struct sfc_fw_tuple t;
	__be32 src[4], dst[4];
	uint32_t i, j;
	int err;

	rule_base(r, family, &t, &h, src, dst);
	for (i = 0; i < ns; i++) {
		for (j = 0; j < nd; j++) {
			/* a class id goes into the key as the class map holds it */
			t.flags = (sb[i].cls ? SFC_FW_TF_SPORT_CLASS : 0) |
				  (db[j].cls ? SFC_FW_TF_DPORT_CLASS : 0);
			b->used_classes |= t.flags != 0;
			t.sport_mask = htons(sb[i].m);
			t.dport_mask = htons(db[j].m);
			h.sport = sb[i].cls ? sb[i].v : htons(sb[i].v);
			h.dport = db[j].cls ? db[j].v : htons(db[j].v);
			err = find_tuple(b, &t, ri, &h.tuple);
			if (err)
				return err;
			if (family == 4) {
				struct sfc_fw_key4 k = { .h = h, .src = src[0], .dst = dst[0] };

				err = add_key4(b, &k, ri);
			} else {
				struct sfc_fw_key6 k = { .h = h };

				memcpy(k.src, src, 16);
				memcpy(k.dst, dst, 16);
				err = add_key6(b, &k, ri);
			}
			if (err)
				return err;
		}
	}
	return 0;
}

/* ---- port classes ------------------------------------------------------- */

/*
 * Bits of a rule's port fields: builder.mode (the fields that use classes)
 * and builder.shape_bits (the fields some rule of the shape has a class
 * range in).
 */
#define F_SPORT		0x01
#define F_DPORT		0x02

static bool has_class_range(const struct fw_ports *ps)
{
	uint32_t i;

	for (i = 0; i < ps->n; i++)
		if (is_class_range(&ps->r[i]))
			return true;
	return false;
}

/* The fields of rule i that may use classes: all before the choice. */
static uint8_t rule_mode(const struct builder *b, uint32_t i)
{
	return b->mode ? b->mode[i] : F_SPORT | F_DPORT;
}

/*
 * A rule's shape: its tuple in a family, with a port mask of 1 for a field
 * that has ports, whatever they are. Single ports go through classes where
 * a rule of the same shape has a range in that field that does: both then
 * share the class tuple, where an exact port needs a tuple of its own.
 */
static void shape_key(const struct fw_rule *r, uint8_t family, struct sfc_fw_tuple *t)
{
	struct sfc_fw_key_hdr h;
	__be32 src[4], dst[4];

	rule_base(r, family, t, &h, src, dst);
	t->sport_mask = r->sport.n ? 1 : 0;
	t->dport_mask = r->dport.n ? 1 : 0;
}

static int find_shapes(struct builder *b)
{
	const struct fw_config *cfg = b->cfg;
	struct sfc_fw_tuple t;
	uint32_t i, *slot;
	uint8_t bits, fam, f;
	int err;

	b->n_shapes = 0;
	htab_free(&b->hs);
	for (i = 0; i < cfg->n_rules; i++) {
		const struct fw_rule *r = &cfg->rules[i];

		bits = (has_class_range(&r->sport) ? F_SPORT : 0) |
		       (has_class_range(&r->dport) ? F_DPORT : 0);
		bits &= rule_mode(b, i);
		fam = bits ? fw_rule__families(cfg, r) : 0;
		for (f = 4; f <= 6; f += 2) {
			if (!(fam & (f == 4 ? FW_FAM_V4 : FW_FAM_V6)))
				continue;
			shape_key(r, f, &t);
			err = grow((void **)&b->shape, &b->cap_shape, b->n_shapes, sizeof(t));
			err = err ?: grow((void **)&b->shape_bits, &b->cap_shape_bits, b->n_shapes,
					  1);
			err = err ?: htab_reserve(&b->hs, b->shape, sizeof(t), sizeof(t));
			if (err)
				return err;
			slot = htab_slot(&b->hs, b->shape, sizeof(t), sizeof(t), &t);
			if (!*slot) {
				b->shape[b->n_shapes] = t;
				b->shape_bits[b->n_shapes] = 0;
				*slot = ++b->n_shapes;
				b->hs.n++;
			}
			b->shape_bits[*slot - 1] |= bits;
		}
	}
	return 0;
}

/* Whether rule i's single ports of a field (F_*) are class ids, in a family. */
static bool singles_by_class(const struct builder *b, uint32_t i, uint8_t family, uint8_t field)
{
	struct sfc_fw_tuple t;
	int64_t k;

	if (!b->n_shapes || !(rule_mode(b, i) & field))
		return false;
	shape_key(&b->cfg->rules[i], family, &t);
	k = htab_find(&b->hs, b->shape, sizeof(t), sizeof(t), &t);
	return k >= 0 && (b->shape_bits[k] & field);
}

/*
 * The class of every port for one field: the bounds of every class range
 * and every single port that go through classes cut 0..65535 into
 * intervals, numbered from 0 up. *n gets the number of classes; 0 (and *out
 * NULL) when nothing cuts.
 */
static int port_classes(const struct builder *b, uint8_t field, uint16_t **out, uint32_t *n)
{
	const struct fw_config *cfg = b->cfg;
	uint32_t i, k, id;
	uint8_t *start, fam;
	uint16_t *cls;
	bool singles;

	*out = NULL;
	*n = 0;
	start = calloc(SFC_FW_PORTS + 1, 1);
	if (!start)
		return -ENOMEM;
	for (i = 0; i < cfg->n_rules; i++) {
		const struct fw_rule *r = &cfg->rules[i];
		const struct fw_ports *ps = field == F_DPORT ? &r->dport : &r->sport;

		if (!ps->n || !(rule_mode(b, i) & field))
			continue;
		fam = fw_rule__families(cfg, r);
		singles = ((fam & FW_FAM_V4) && singles_by_class(b, i, 4, field)) ||
			  ((fam & FW_FAM_V6) && singles_by_class(b, i, 6, field));
		for (k = 0; k < ps->n; k++) {
			if (!is_class_range(&ps->r[k]) && !(singles && ps->r[k].lo == ps->r[k].hi))
				continue;
			start[ps->r[k].lo] = 1;
			start[ps->r[k].hi + 1] = 1;
		}
	}
	for (i = 1, k = 0; i < SFC_FW_PORTS; i++)
		k |= start[i];
	if (!k) {
		free(start);
		return 0;
	}
	cls = malloc(SFC_FW_PORTS * sizeof(*cls));
	if (!cls) {
		free(start);
		return -ENOMEM;
	}
	for (i = 0, id = 0; i < SFC_FW_PORTS; i++) {
		id += i && start[i];
		cls[i] = (uint16_t)id;
	}
	free(start);
	*out = cls;
	*n = id + 1;
	return 0;
}

static int class_maps(struct builder *b)
{
	struct fw_compiled *c = b->c;
	int err;

	free(c->sport_class);
	free(c->dport_class);
	err = port_classes(b, F_SPORT, &c->sport_class, &c->n_sport_classes);
	return err ?: port_classes(b, F_DPORT, &c->dport_class, &c->n_dport_classes);
}

/*
 * Which of a rule's port fields use classes. Classes put every range of a
 * rule shape into one tuple, but a range gets a key per class it covers,
 * and a rule with both fields the product. So a rule keeps both fields in
 * classes while that gives it at most FW_CLASS_KEYS keys, or no more than
 * blocks would; else the one field that fits that budget with fewer keys;
 * else both go to blocks. Keys per rule (and family) stay within
 * max(FW_CLASS_KEYS, its keys in blocks).
 */
static uint8_t choose_classes(const struct builder *b, const struct fw_rule *r)
{
	const struct fw_compiled *c = b->c;
	uint64_t sc, sb, dc, db, budget, s_only, d_only;

	/* a single port is one key either way */
	sc = port_values(&r->sport, c->sport_class, false, NULL);
	sb = port_values(&r->sport, NULL, false, NULL);
	dc = port_values(&r->dport, c->dport_class, false, NULL);
	db = port_values(&r->dport, NULL, false, NULL);
	budget = sb * db > FW_CLASS_KEYS ? sb * db : FW_CLASS_KEYS;
	s_only = sc * db;
	d_only = sb * dc;
	if (sc * dc <= budget)
		return F_SPORT | F_DPORT;
	if (s_only <= d_only && s_only <= budget)
		return F_SPORT;
	if (d_only <= budget)
		return F_DPORT;
	return 0;
}

/*
 * Port classes in two rounds. The first cuts at the bounds of every range
 * and of the single ports of the shapes that have ranges, and chooses each
 * rule's fields by the classes that gives. The second cuts only where the
 * chosen fields need it: a range split into blocks leaves no bound, and a
 * shape whose ranges all went to blocks keeps its single ports exact. Its
 * classes are unions of the first round's, so no choice gets more keys.
 */
static int plan_classes(struct builder *b)
{
	uint32_t i;
	int err;

	err = find_shapes(b);
	err = err ?: class_maps(b);
	if (err)
		return err;
	b->mode = calloc(b->cfg->n_rules ? b->cfg->n_rules : 1, 1);
	if (!b->mode)
		return -ENOMEM;
	for (i = 0; i < b->cfg->n_rules; i++)
		b->mode[i] = choose_classes(b, &b->cfg->rules[i]);
	err = find_shapes(b);
	return err ?: class_maps(b);
}

static int expand_rule(struct builder *b, uint32_t ri)
{
	const struct fw_rule *r = &b->cfg->rules[ri];
	const uint16_t *scls = NULL, *dcls = NULL;
	struct block *sb = NULL, *db = NULL;
	uint32_t ns, nd;
	uint8_t fam, f;
	int err = 0;

	fam = fw_rule__families(b->cfg, r);
	if (b->mode && (b->mode[ri] & F_SPORT))
		scls = b->c->sport_class;
	if (b->mode && (b->mode[ri] & F_DPORT))
		dcls = b->c->dport_class;
	for (f = 4; f <= 6 && !err; f += 2) {
		if (!(fam & (f == 4 ? FW_FAM_V4 : FW_FAM_V6)))
			continue;
		err = port_blocks(&r->sport, scls, singles_by_class(b, ri, f, F_SPORT), &sb, &ns);
		err = err ?: port_blocks(&r->dport, dcls, singles_by_class(b, ri, f, F_DPORT),
					 &db, &nd);
		err = err ?: expand_family(b, ri, f, sb, ns, db, nd);
		free(sb);
		free(db);
		sb = db = NULL;
	}
	return err;
}

static void fill_rule(const struct fw_rule *r, struct sfc_fw_rule *out)
{
	uint64_t cost;

	memset(out, 0, sizeof(*out));
	out->action = r->action;
	out->line = r->line;
	if (r->limit && r->pps) {
		cost = 1000000000000ULL / r->pps;
		out->flags = SFC_FW_RULE_LIMIT;
		out->cost_ps = cost;
		/* the parser keeps burst * cost under FW_MAX_BURST_PS */
		out->burst_ps = r->burst > FW_MAX_BURST_PS / cost ? FW_MAX_BURST_PS
								: r->burst * cost;
	}
}

struct tuple_rank {
	uint32_t min_rule;
	uint32_t idx;		/* in the order of creation */
	uint8_t family;
};

static int tuple_order(const void *a, const void *b)
{
	const struct tuple_rank *x = a, *y = b;

	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	if (x->min_rule != y->min_rule)
		return x->min_rule < y->min_rule ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * IPv4 tuples first, then IPv6, each lowest rule first: a packet searches
 * only its family's run, and stops at the first tuple that cannot beat its
 * best match. Keys follow their tuple's new index.
 */
static int sort_tuples(struct builder *b)
{
	struct fw_compiled *c = b->c;
	struct tuple_rank *order;
	uint32_t *rank, i;

	c->tuples = calloc(c->n_tuples ? c->n_tuples : 1, sizeof(*c->tuples));
	order = calloc(c->n_tuples + 1, sizeof(*order));
	rank = calloc(c->n_tuples + 1, sizeof(*rank));
	if (!c->tuples || !order || !rank) {
		free(order);
		free(rank);
		return -ENOMEM;
	}
	for (i = 0; i < c->n_tuples; i++) {
		order[i].min_rule = b->tup_min[i];
		order[i].idx = i;
		order[i].family = b->tup[i].family;
	}
	qsort(order, c->n_tuples, sizeof(*order), tuple_order);
	for (i = 0; i < c->n_tuples; i++) {
		rank[order[i].idx] = i;
		c->tuples[i] = b->tup[order[i].idx];
		c->tuples[i].min_rule = order[i].min_rule;
		if (c->tuples[i].family == 4)
			c->n_tuples4 = i + 1;
		if (c->tuples[i].src_set)
			c->set_lookups |= c->tuples[i].family == 4 ? SFC_FW_SETS_SRC4 : SFC_FW_SETS_SRC6;
		if (c->tuples[i].dst_set)
			c->set_lookups |= c->tuples[i].family == 4 ? SFC_FW_SETS_DST4 : SFC_FW_SETS_DST6;
		if (c->tuples[i].flags & SFC_FW_TF_SPORT_CLASS)
			c->class_lookups |= c->tuples[i].family == 4 ? SFC_FW_CLASS_SPORT4
								      : SFC_FW_CLASS_SPORT6;
		if (c->tuples[i].flags & SFC_FW_TF_DPORT_CLASS)
			c->class_lookups |= c->tuples[i].family == 4 ? SFC_FW_CLASS_DPORT4
								      : SFC_FW_CLASS_DPORT6;
	}
	for (i = 0; i < c->n_keys4; i++)
		c->keys4[i].h.tuple = (__u16)rank[c->keys4[i].h.tuple];
	for (i = 0; i < c->n_keys6; i++)
		c->keys6[i].h.tuple = (__u16)rank[c->keys6[i].h.tuple];
	free(order);
	free(rank);
	return 0;
}

/* ---- set tries --------------------------------------------------------------- */

struct lpm_ent {
	uint8_t len;
	uint8_t addr[16];
	uint8_t pad[3];
	uint64_t bits;
};

#define LPM_KSZ offsetof(struct lpm_ent, pad)

static int lpm_cmp(const void *a, const void *b)
{
	const struct lpm_ent *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

/*
 * The trie entries of one family: every prefix of the used sets, merged,
 * its bitmap ORed with those of all shorter prefixes that contain it.
 * Shortest first, so an entry's nearest ancestor is final when it is read;
 * the nearest ancestor is found by trying each shorter length in use.
 */
static int build_lpm(const struct fw_config *cfg, const bool *used, uint8_t family,
		     struct lpm_ent **out, uint32_t *n_out)
{
	unsigned int bytes = addr_bytes(family);
	struct lpm_ent *e = NULL, probe;
	uint8_t lens[129];
	uint32_t n = 0, i, s, k, o, n_lens = 0;
	struct htab h = {};
	int64_t found;
	int l, err = 0;

	for (s = 0; s < cfg->n_sets; s++)
		if (used[s])
			for (i = 0; i < cfg->sets[s].n; i++)
				n += cfg->sets[s].p[i].family == family;
	*out = NULL;
	*n_out = 0;
	if (!n)
		return 0;
	e = calloc(n, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (s = 0, k = 0; s < cfg->n_sets; s++) {
		if (!used[s])
			continue;
		for (i = 0; i < cfg->sets[s].n; i++) {
			const struct fw_prefix *p = &cfg->sets[s].p[i];

			if (p->family != family)
				continue;
			e[k].len = p->len;
			memcpy(e[k].addr, p->addr, bytes);
			e[k].bits = 1ULL << s;
			k++;
		}
	}
	qsort(e, n, sizeof(*e), lpm_cmp);
	for (i = 0, o = 0; i < n; i++) {
		if (o && !lpm_cmp(&e[o - 1], &e[i])) {
			e[o - 1].bits |= e[i].bits;
			continue;
		}
		e[o++] = e[i];
	}
	n = o;

	for (i = 0; i < n; i++) {
		err = htab_reserve(&h, e, sizeof(*e), LPM_KSZ);
		if (err)
			goto out;
		*htab_slot(&h, e, sizeof(*e), LPM_KSZ, &e[i]) = i + 1;
		h.n++;
		if (!n_lens || lens[n_lens - 1] != e[i].len)
			lens[n_lens++] = e[i].len;
	}
	for (i = 0; i < n; i++) {
		for (l = (int)n_lens - 1; l >= 0; l--) {
			if (lens[l] >= e[i].len)
				continue;
			memset(&probe, 0, sizeof(probe));
			probe.len = lens[l];
			memcpy(probe.addr, e[i].addr, bytes);
			apply_mask(probe.addr, bytes, probe.len);
			found = htab_find(&h, e, sizeof(*e), LPM_KSZ, &probe);
			if (found >= 0) {
				e[i].bits |= e[found].bits;
				break;
			}
		}
	}
	*out = e;
	*n_out = n;
	e = NULL;
out:
	htab_free(&h);
	free(e);
	return err;
}

static int build_sets(const struct fw_config *cfg, struct fw_compiled *c)
{
	bool used[SFC_FW_MAX_SETS] = {};
	struct lpm_ent *e = NULL;
	uint32_t i, n;
	int err;

	/* a set no rule names cannot change a verdict: it stays out of the tries */
	for (i = 0; i < cfg->n_rules; i++) {
		if (cfg->rules[i].src.kind == FW_ADDR_SET)
			used[cfg->rules[i].src.set] = true;
		if (cfg->rules[i].dst.kind == FW_ADDR_SET)
			used[cfg->rules[i].dst.set] = true;
	}

	err = build_lpm(cfg, used, 4, &e, &n);
	if (err)
		return err;
	c->lpm4 = calloc(n ? n : 1, sizeof(*c->lpm4));
	c->lpm4_val = calloc(n ? n : 1, sizeof(*c->lpm4_val));
	if (!c->lpm4 || !c->lpm4_val) {
		free(e);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		c->lpm4[i].prefixlen = e[i].len;
		memcpy(&c->lpm4[i].addr, e[i].addr, 4);
		c->lpm4_val[i] = e[i].bits;
	}
	c->n_lpm4 = n;
	free(e);

	err = build_lpm(cfg, used, 6, &e, &n);
	if (err)
		return err;
	c->lpm6 = calloc(n ? n : 1, sizeof(*c->lpm6));
	c->lpm6_val = calloc(n ? n : 1, sizeof(*c->lpm6_val));
	if (!c->lpm6 || !c->lpm6_val) {
		free(e);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		c->lpm6[i].prefixlen = e[i].len;
		memcpy(c->lpm6[i].addr, e[i].addr, 16);
		c->lpm6_val[i] = e[i].bits;
	}
	c->n_lpm6 = n;
	free(e);

	c->set_families = (c->n_lpm4 ? FW_FAM_V4 : 0) | (c->n_lpm6 ? FW_FAM_V6 : 0);
	return 0;
}

/* The class maps no tuple reads are not loaded. */
static void drop_unused_classes(struct fw_compiled *c)
{
	if (!(c->class_lookups & (SFC_FW_CLASS_SPORT4 | SFC_FW_CLASS_SPORT6))) {
		free(c->sport_class);
		c->sport_class = NULL;
		c->n_sport_classes = 0;
	}
	if (!(c->class_lookups & (SFC_FW_CLASS_DPORT4 | SFC_FW_CLASS_DPORT6))) {
		free(c->dport_class);
		c->dport_class = NULL;
		c->n_dport_classes = 0;
	}
}

static int compile(const struct fw_config *cfg, bool classes, struct fw_compiled **out,
		   struct fw_compile_error *e, bool *used_classes)
{
	struct builder b = { .cfg = cfg, .e = e, .classes = classes };
	struct fw_compiled *c;
	uint32_t i;
	int err;

	*out = NULL;
	memset(b.e, 0, sizeof(*b.e));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	b.c = c;
	if (classes) {
		err = plan_classes(&b);
		if (err)
			goto out;
	}
	c->n_rules = cfg->n_rules;
	c->rules = calloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*c->rules));
	c->rule_keys = calloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*c->rule_keys));
	if (!c->rules || !c->rule_keys) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < cfg->n_rules; i++) {
		fill_rule(&cfg->rules[i], &c->rules[i]);
		err = expand_rule(&b, i);
		if (err)
			goto out;
	}
	err = sort_tuples(&b);
	if (!err)
		drop_unused_classes(c);
	err = err ?: build_sets(cfg, c);
	/* never NULL, so that a caller can hand them to a map update as they are */
	if (!err && !c->keys4)
		c->keys4 = calloc(1, sizeof(*c->keys4));
	if (!err && !c->vals4)
		c->vals4 = calloc(1, sizeof(*c->vals4));
	if (!err && !c->keys6)
		c->keys6 = calloc(1, sizeof(*c->keys6));
	if (!err && !c->vals6)
		c->vals6 = calloc(1, sizeof(*c->vals6));
	if (!err && (!c->keys4 || !c->vals4 || !c->keys6 || !c->vals6))
		err = -ENOMEM;
out:
	*used_classes = b.used_classes;
	free(b.mode);
	free(b.shape);
	free(b.shape_bits);
	htab_free(&b.hs);
	free(b.tup);
	free(b.tup_min);
	htab_free(&b.ht);
	htab_free(&b.h4);
	htab_free(&b.h6);
	if (err) {
		fw_compiled__free(c);
		return err;
	}
	*out = c;
	return 0;
}

int fw_compile(const struct fw_config *cfg, struct fw_compiled **out, struct fw_compile_error *e)
{
	struct fw_compile_error dummy;
	bool used;
	int err;

	err = compile(cfg, true, out, e ? e : &dummy, &used);
	/* Classes can cost more keys than blocks: then blocks, as before them. */
	if (err == -E2BIG && used)
		err = compile(cfg, false, out, e ? e : &dummy, &used);
	return err;
}

void fw_compiled__free(struct fw_compiled *c)
{
	if (!c)
		return;
	free(c->sport_class);
	free(c->dport_class);
	free(c->tuples);
	free(c->keys4);
	free(c->vals4);
	free(c->keys6);
	free(c->vals6);
	free(c->rules);
	free(c->rule_keys);
	free(c->lpm4);
	free(c->lpm4_val);
	free(c->lpm6);
	free(c->lpm6_val);
	free(c);
}

/* ---- the reference: a linear first match ------------------------------------ */

static bool addr_match(const struct fw_config *cfg, const struct fw_addr *a,
		       const struct fw_packet *p, const uint8_t *addr)
{
	const struct fw_set *s;
	uint32_t i;

	switch (a->kind) {
	case FW_ADDR_PREFIX:
		return fw_prefix__contains(&a->prefix, p->family, addr);
	case FW_ADDR_SET:
		s = &cfg->sets[a->set];
		for (i = 0; i < s->n; i++)
			if (fw_prefix__contains(&s->p[i], p->family, addr))
				return true;
		return false;
	default:
		return true;
	}
}

static bool ports_match(const struct fw_ports *ps, uint16_t port)
{
	uint32_t i;

	if (!ps->n)
		return true;
	for (i = 0; i < ps->n; i++)
		if (port >= ps->r[i].lo && port <= ps->r[i].hi)
			return true;
	return false;
}

static bool rule_match(const struct fw_config *cfg, const struct fw_rule *r,
		       const struct fw_packet *p)
{
	if (r->family && r->family != p->family)
		return false;
	/* ICMP is IPv4's, ICMPv6 IPv6's: the other family's packet never matches */
	if ((r->proto == 1 && p->family != 4) || (r->proto == 58 && p->family != 6))
		return false;
	if (!addr_match(cfg, &r->src, p, p->src) || !addr_match(cfg, &r->dst, p, p->dst))
		return false;
	if (r->proto != FW_ANY && r->proto != p->proto)
		return false;
	/* ports, ICMP and TCP flags are read from a whole L4 header only */
	if ((r->sport.n || r->dport.n || r->icmp_type != FW_ANY || r->flags_set ||
	     r->flags_unset) && !p->l4)
		return false;
	if (!ports_match(&r->sport, p->sport) || !ports_match(&r->dport, p->dport))
		return false;
	if (r->icmp_type != FW_ANY && r->icmp_type != p->icmp_type)
		return false;
	if (r->icmp_code != FW_ANY && r->icmp_code != p->icmp_code)
		return false;
	if ((p->tcp_flags & (r->flags_set | r->flags_unset)) != r->flags_set)
		return false;
	if (r->vlan && r->vlan != p->vlan)
		return false;
	if (r->fragment != FW_ANY && r->fragment != p->frag)
		return false;
	return true;
}

uint32_t fw_classify_ref(const struct fw_config *cfg, const struct fw_packet *p)
{
	uint32_t i;

	for (i = 0; i < cfg->n_rules; i++)
		if (rule_match(cfg, &cfg->rules[i], p))
			return i;
	return SFC_FW_NO_RULE;
}

/* ---- the data path, emulated ------------------------------------------------- */

struct fw_tss {
	const struct fw_compiled *c;
	struct htab h4, h6, l4, l6;
	uint8_t lens4[33], lens6[129];	/* prefix lengths in the tries, longest first */
	unsigned int n_lens4, n_lens6;
};

static void lens_of(const void *ents, size_t stride, uint32_t n, uint8_t *lens, unsigned int *nl)
{
	bool seen[129] = {};
	uint32_t i;
	int l;

	for (i = 0; i < n; i++)
		seen[*(const uint32_t *)((const char *)ents + i * stride)] = true;
	*nl = 0;
	for (l = 128; l >= 0; l--)
		if (seen[l])
			lens[(*nl)++] = (uint8_t)l;
}

static int index_all(struct htab *h, const void *base, size_t stride, size_t ksz, uint32_t n)
{
	uint32_t i;
	int err;

	for (i = 0; i < n; i++) {
		err = htab_reserve(h, base, stride, ksz);
		if (err)
			return err;
		*htab_slot(h, base, stride, ksz, (const char *)base + (size_t)i * stride) = i + 1;
		h->n++;
	}
	return 0;
}

struct fw_tss *fw_tss__new(const struct fw_compiled *c)
{
	struct fw_tss *t;
	int err;

	t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->c = c;
	err = index_all(&t->h4, c->keys4, sizeof(*c->keys4), sizeof(*c->keys4), c->n_keys4);
	err = err ?: index_all(&t->h6, c->keys6, sizeof(*c->keys6), sizeof(*c->keys6), c->n_keys6);
	err = err ?: index_all(&t->l4, c->lpm4, sizeof(*c->lpm4), sizeof(*c->lpm4), c->n_lpm4);
	err = err ?: index_all(&t->l6, c->lpm6, sizeof(*c->lpm6), sizeof(*c->lpm6), c->n_lpm6);
	if (err) {
		fw_tss__free(t);
		errno = -err;
		return NULL;
	}
	lens_of(c->lpm4, sizeof(*c->lpm4), c->n_lpm4, t->lens4, &t->n_lens4);
	lens_of(c->lpm6, sizeof(*c->lpm6), c->n_lpm6, t->lens6, &t->n_lens6);
	return t;
}

void fw_tss__free(struct fw_tss *t)
{
	if (!t)
		return;
	htab_free(&t->h4);
	htab_free(&t->h6);
	htab_free(&t->l4);
	htab_free(&t->l6);
	free(t);
}

/* The bitmap of the longest trie entry that holds addr, 0 if none. */
static uint64_t lpm_lookup(const struct fw_tss *t, uint8_t family, const uint8_t *addr)
{
	const struct fw_compiled *c = t->c;
	unsigned int i;
	int64_t f;

	if (family == 4) {
		for (i = 0; i < t->n_lens4; i++) {
			struct sfc_fw_lpm4 k = { .prefixlen = t->lens4[i] };

			memcpy(&k.addr, addr, 4);
			apply_mask((uint8_t *)&k.addr, 4, k.prefixlen);
			f = htab_find(&t->l4, c->lpm4, sizeof(k), sizeof(k), &k);
			if (f >= 0)
				return c->lpm4_val[f];
		}
		return 0;
	}
	for (i = 0; i < t->n_lens6; i++) {
		struct sfc_fw_lpm6 k = { .prefixlen = t->lens6[i] };

		memcpy(k.addr, addr, 16);
		apply_mask((uint8_t *)k.addr, 16, k.prefixlen);
		f = htab_find(&t->l6, c->lpm6, sizeof(k), sizeof(k), &k);
		if (f >= 0)
			return c->lpm6_val[f];
	}
	return 0;
}

uint32_t fw_classify_tss(const struct fw_tss *t, const struct fw_packet *p)
{
	const struct fw_compiled *c = t->c;
	uint32_t best = SFC_FW_NO_RULE, i, w, fam = p->family == 4 ? FW_FAM_V4 : FW_FAM_V6;
	uint32_t sbit = p->family == 4 ? SFC_FW_CLASS_SPORT4 : SFC_FW_CLASS_SPORT6;
	uint32_t dbit = p->family == 4 ? SFC_FW_CLASS_DPORT4 : SFC_FW_CLASS_DPORT6;
	uint64_t sbits = 0, dbits = 0;
	__be32 src[4], dst[4];
	__u16 scls = 0, dcls = 0;
	__u8 pflags;
	int64_t f;

	if (c->set_families & fam) {
		sbits = lpm_lookup(t, p->family, p->src);
		dbits = lpm_lookup(t, p->family, p->dst);
	}
	/* The port classes: looked up only for an L4 header, as the data path does. */
	if ((c->class_lookups & sbit) && p->l4)
		scls = c->sport_class[p->sport];
	if ((c->class_lookups & dbit) && p->l4)
		dcls = c->dport_class[p->dport];
	memcpy(src, p->src, 16);
	memcpy(dst, p->dst, 16);
	pflags = (p->l4 ? SFC_FW_PF_L4 : 0) | (p->frag ? SFC_FW_PF_FRAG : 0);

	/* Only the packet's family's run of tuples, as the data path does. */
	for (i = p->family == 4 ? 0 : c->n_tuples4;
	     i < (p->family == 4 ? c->n_tuples4 : c->n_tuples); i++) {
		const struct sfc_fw_tuple *tu = &c->tuples[i];
		struct sfc_fw_key_hdr h = {};

		if (tu->min_rule >= best)
			break;
		if (tu->src_set && !(sbits & (1ULL << (tu->src_set - 1))))
			continue;
		if (tu->dst_set && !(dbits & (1ULL << (tu->dst_set - 1))))
			continue;
		h.tuple = (__u16)i;
		h.proto = p->proto & tu->proto_mask;
		h.pflags = pflags & tu->pflags_mask;
		h.sport = (tu->flags & SFC_FW_TF_SPORT_CLASS ? scls : htons(p->sport)) &
			  tu->sport_mask;
		h.dport = (tu->flags & SFC_FW_TF_DPORT_CLASS ? dcls : htons(p->dport)) &
			  tu->dport_mask;
		h.vlan = p->vlan & tu->vlan_mask;
		h.icmp_type = p->icmp_type & tu->icmp_type_mask;
		h.icmp_code = p->icmp_code & tu->icmp_code_mask;
		h.tcp_flags = p->tcp_flags & tu->tcp_flags_mask;
		if (p->family == 4) {
			struct sfc_fw_key4 k = { .h = h };

			k.src = src[0] & tu->src_mask[0];
			k.dst = dst[0] & tu->dst_mask[0];
			f = htab_find(&t->h4, c->keys4, sizeof(k), sizeof(k), &k);
			if (f >= 0 && c->vals4[f] < best)
				best = c->vals4[f];
		} else {
			struct sfc_fw_key6 k = { .h = h };

			for (w = 0; w < 4; w++) {
				k.src[w] = src[w] & tu->src_mask[w];
				k.dst[w] = dst[w] & tu->dst_mask[w];
			}
			f = htab_find(&t->h6, c->keys6, sizeof(k), sizeof(k), &k);
			if (f >= 0 && c->vals6[f] < best)
				best = c->vals6[f];
		}
	}
	return best;
}
