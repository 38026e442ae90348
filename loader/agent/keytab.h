/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An open-addressing hash table of flow keys: the agent's copy of
 * sfc_flowmon_exported, so that a scan of the flow table costs no lookup
 * syscall per flow. Linear probing with tombstones; grows at 70 % load.
 */
#ifndef SFC_AGENT_KEYTAB_H
#define SFC_AGENT_KEYTAB_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "shared/sfc_flow.h"

struct keytab_ent {
	struct sfc_flow_key key;
	uint8_t state;			/* KEYTAB_* */
	uint32_t mark;			/* the last scan that saw the flow */
	struct sfc_flow_export exp;
};

struct keytab {
	struct keytab_ent *v;
	size_t cap;			/* a power of two, or 0 */
	size_t n;			/* used */
	size_t tomb;
};

void keytab_init(struct keytab *t);
void keytab_free(struct keytab *t);
struct keytab_ent *keytab_get(struct keytab *t, const struct sfc_flow_key *key);
/* The entry of key, created zeroed if absent; NULL without memory. */
struct keytab_ent *keytab_put(struct keytab *t, const struct sfc_flow_key *key);
void keytab_del(struct keytab *t, struct keytab_ent *e);
/* Iterate: for (i = 0; i < t->cap; i++) if (keytab_used(&t->v[i])) ... */
static inline int keytab_used(const struct keytab_ent *e)
{
	return e->state == 1;
}

#endif
