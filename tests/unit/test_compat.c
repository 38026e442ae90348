// SPDX-License-Identifier: GPL-2.0
/*
 * Whether a map pinned by another release can be reused
 * (loader/lib/compat.c): sfc_compat__btf_diff() on pairs of struct types
 * built with libbpf's BTF writer, a table of {old layout, new layout,
 * compatible?, the first difference in words}. No BPF syscalls, no root.
 *
 * A layout is written as "name:offset:size ..." (bytes), a member
 * "outer.inner:offset:size" being one of a nested struct; the total size of
 * the struct comes first ("16 a:0:4 b:8:8").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/btf.h>

#include "compat.h"
#include "testlib.h"

/* An unsigned integer type of size bytes, or an array of __u8 for others. */
static int type_of_size(struct btf *btf, int size)
{
	static const char *const names[] = { [1] = "u8", [2] = "u16", [4] = "u32", [8] = "u64" };
	int u8;

	if (size == 1 || size == 2 || size == 4 || size == 8)
		return btf__add_int(btf, names[size], size, 0);
	u8 = btf__add_int(btf, "u8", 1, 0);
	return btf__add_array(btf, u8, u8, size);
}

/*
 * The struct of spec in btf: its members in order; "a.b" members make one
 * nested struct "a" (its members consecutive in spec, offsets absolute).
 */
static int build(struct btf *btf, const char *name, const char *spec)
{
	char buf[512], *save = NULL, *tok;
	struct { char name[32]; int off, size; } m[32];
	int n = 0, total, i, j, id;

	snprintf(buf, sizeof(buf), "%s", spec);
	tok = strtok_r(buf, " ", &save);
	total = atoi(tok);
	while ((tok = strtok_r(NULL, " ", &save)) && n < 32) {
		char *c1 = strchr(tok, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			return -EINVAL;
		*c1 = 0;
		snprintf(m[n].name, sizeof(m[n].name), "%s", tok);
		m[n].off = atoi(c1 + 1);
		m[n].size = atoi(c2 + 1);
		n++;
	}
	/* Member types (and nested structs) first, then the struct itself. */
	int tid[32], sid[32], nested_of[32];
	for (i = 0; i < n; i++) {
		char *dot = strchr(m[i].name, '.');

		nested_of[i] = -1;
		tid[i] = type_of_size(btf, m[i].size);
		if (dot) {
			for (j = 0; j < i; j++)
				if (nested_of[j] >= 0 && !strncmp(m[j].name, m[i].name, dot - m[i].name + 1))
					nested_of[i] = nested_of[j];
			if (nested_of[i] < 0)
				nested_of[i] = i;
		}
	}
	/* A nested struct spans its members' bytes. */
	for (i = 0; i < n; i++) {
		int lo = 1 << 30, hi = 0;
		char inner[32];

		if (nested_of[i] != i)
			continue;
		for (j = i; j < n; j++)
			if (nested_of[j] == i) {
				lo = m[j].off < lo ? m[j].off : lo;
				hi = m[j].off + m[j].size > hi ? m[j].off + m[j].size : hi;
			}
		snprintf(inner, sizeof(inner), "%.*s_t", (int)(strchr(m[i].name, '.') - m[i].name),
			 m[i].name);
		sid[i] = btf__add_struct(btf, inner, hi - lo);
		for (j = i; j < n; j++)
			if (nested_of[j] == i)
				btf__add_field(btf, strchr(m[j].name, '.') + 1, tid[j],
					       (m[j].off - lo) * 8, 0);
		m[i].size = lo;	/* reused below: the nested struct's offset */
	}
	id = btf__add_struct(btf, name, total);
	for (i = 0; i < n; i++) {
		if (nested_of[i] < 0) {
			btf__add_field(btf, m[i].name, tid[i], m[i].off * 8, 0);
		} else if (nested_of[i] == i) {
			char outer[32];

			snprintf(outer, sizeof(outer), "%.*s",
				 (int)(strchr(m[i].name, '.') - m[i].name), m[i].name);
			btf__add_field(btf, outer, sid[i], m[i].size * 8, 0);
		}
	}
	return id;
}

struct diff_case {
	const char *desc;
	const char *old, *new;
	int want;		/* 0 compatible, 1 not */
	const char *says;	/* a substring of the difference */
};

static const struct diff_case cases[] = {
	{ "the same layout", "16 a:0:4 b:8:8", "16 a:0:4 b:8:8", 0, NULL },
	{ "a member moved", "16 a:0:4 b:8:8", "24 a:0:4 b:16:8", 1,
	  "member b was 8 bytes at 8, is 8 bytes at 16" },
	{ "a member grew", "16 a:0:4 b:8:8", "16 a:0:8 b:8:8", 1,
	  "member a was 4 bytes at 0, is 8 bytes at 0" },
	{ "a member gone", "16 a:0:4 b:8:8", "16 a:0:4", 1, "member b (8 bytes at 8) is gone" },
	{ "renamed: gone", "8 a:0:4 x:4:4", "8 a:0:4 y:4:4", 1, "member x (4 bytes at 4) is gone" },
	{ "explicit padding taken by a member", "16 a:0:4 pad:4:4 b:8:8",
	  "16 a:0:4 c:4:2 pad2:6:2 b:8:8", 0, NULL },
	{ "a hole taken by a member", "16 a:0:4 b:8:8", "16 a:0:4 c:4:4 b:8:8", 0, NULL },
	{ "a member over another's bytes", "16 a:0:4 b:8:8", "16 a:0:4 b:8:8 c:12:4", 1,
	  "member c (4 bytes at 12) is new, where b was" },
	{ "appended past the end", "8 a:0:8", "16 a:0:8 b:8:8", 1,
	  "member b (8 bytes at 8) is new, past the pinned value's end" },
	{ "nested members swapped", "8 s.p:0:4 s.q:4:4", "8 s.q:0:4 s.p:4:4", 1,
	  "member s.p was 4 bytes at 0, is 4 bytes at 4" },
	{ "nested, the same", "12 s.p:0:4 s.q:4:4 t:8:4", "12 s.p:0:4 s.q:4:4 t:8:4", 0, NULL },
	{ "an array shortened", "16 v:0:16", "16 v:0:8 w:8:8", 1,
	  "member v was 16 bytes at 0, is 8 bytes at 0" },
	{ "reserved bytes used", "16 a:0:8 reserved:8:8", "16 a:0:8 b:8:4 c:12:4", 0, NULL },
};

int main(void)
{
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct diff_case *t = &cases[i];
		struct btf *ob = btf__new_empty(), *nb = btf__new_empty();
		char buf[256] = "";
		int oid, nid, r;

		if (!ob || !nb)
			TEST_SKIP("btf__new_empty: %s", strerror(errno));
		oid = build(ob, "val", t->old);
		nid = build(nb, "val", t->new);
		CHECK(oid > 0 && nid > 0, "%s: cannot build the types (%d, %d)", t->desc, oid, nid);
		r = sfc_compat__btf_diff(ob, oid, nb, nid, buf, sizeof(buf));
		CHECK(r == t->want, "%s: got %d (%s), want %d", t->desc, r, buf, t->want);
		if (t->says)
			CHECK(strstr(buf, t->says), "%s: \"%s\" does not say \"%s\"", t->desc, buf,
			      t->says);
		if (t->want)
			CHECK(!strncmp(buf, "struct val: ", 12), "%s: \"%s\" names no struct", t->desc,
			      buf);
		btf__free(ob);
		btf__free(nb);
	}

	/* The map ABIs of the types sfc 0.1.0 shipped with. */
	CHECK(sfc_compat__map_abi("firewall") >= 1, "firewall");
	CHECK(sfc_compat__map_abi("flowmon") >= 1, "flowmon");
	CHECK(sfc_compat__map_abi("loadbalancer") >= 1, "loadbalancer");
	CHECK(sfc_compat__map_abi("passthrough") == 1, "passthrough");
	TEST_DONE();
}
