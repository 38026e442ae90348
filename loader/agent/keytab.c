// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "keytab.h"

enum { KEYTAB_EMPTY, KEYTAB_USED, KEYTAB_TOMB };

void keytab_init(struct keytab *t)
{
	memset(t, 0, sizeof(*t));
}

void keytab_free(struct keytab *t)
{
	free(t->v);
	keytab_init(t);
}

/* FNV-1a over the key's bytes (its padding is zero, as the data path sets it). */
static uint64_t hash(const struct sfc_flow_key *k)
{
	const unsigned char *p = (const unsigned char *)k;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < sizeof(*k); i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

static struct keytab_ent *find(const struct keytab *t, const struct sfc_flow_key *key,
			       struct keytab_ent **free_slot)
{
	size_t mask = t->cap - 1, i = hash(key) & mask, n;
	struct keytab_ent *e;

	*free_slot = NULL;
	for (n = 0; n < t->cap; n++, i = (i + 1) & mask) {
		e = &t->v[i];
		if (e->state == KEYTAB_EMPTY) {
			if (!*free_slot)
				*free_slot = e;
			return NULL;
		}
		if (e->state == KEYTAB_TOMB) {
			if (!*free_slot)
				*free_slot = e;
			continue;
		}
		if (!memcmp(&e->key, key, sizeof(*key)))
			return e;
	}
	return NULL;
}

struct keytab_ent *keytab_get(struct keytab *t, const struct sfc_flow_key *key)
{
	struct keytab_ent *slot;

	return t->cap ? find(t, key, &slot) : NULL;
}

static int grow(struct keytab *t)
{
	size_t cap = t->cap ? t->cap : 1024, i;
	struct keytab_ent *old = t->v, *e, *slot;
	size_t old_cap = t->cap;

	while ((t->n + 1) * 10 > cap * 5)	/* rebuilt at most half full */
		cap *= 2;
	t->v = calloc(cap, sizeof(*t->v));
	if (!t->v) {
		t->v = old;
		return -1;
	}
	t->cap = cap;
	t->tomb = 0;
	for (i = 0; i < old_cap; i++) {
		if (old[i].state != KEYTAB_USED)
			continue;
		e = find(t, &old[i].key, &slot);
		(void)e;
		*slot = old[i];
	}
	free(old);
	return 0;
}

struct keytab_ent *keytab_put(struct keytab *t, const struct sfc_flow_key *key)
{
	struct keytab_ent *e, *slot;

	if ((t->n + t->tomb + 1) * 10 > t->cap * 7 && grow(t))
		return NULL;
	e = find(t, key, &slot);
	if (e)
		return e;
	if (slot->state == KEYTAB_TOMB)
		t->tomb--;
	memset(slot, 0, sizeof(*slot));
	slot->key = *key;
	slot->state = KEYTAB_USED;
	t->n++;
	return slot;
}

void keytab_del(struct keytab *t, struct keytab_ent *e)
{
	if (e->state != KEYTAB_USED)
		return;
	e->state = KEYTAB_TOMB;
	t->n--;
	t->tomb++;
}
