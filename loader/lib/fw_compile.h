/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The firewall's rule compiler: from a parsed config (struct fw_config) to
 * the arrays bpf/nf_firewall.bpf.c reads (shared/sfc_fw.h): tuples, keys,
 * rules and the set tries. Pure C, no BPF syscalls, so that the unit tests
 * can compare the compiled classifier with a linear reference.
 *
 * nf_firewall.c parses the chain file's `config:` into a struct fw_config and
 * compiles it at once (the limits on tuples and keys are config errors);
 * sfcctl reads rules back through sfc_fw__config() and fw_rule__format().
 */
#ifndef SFC_FW_COMPILE_H
#define SFC_FW_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "shared/sfc_fw.h"

#define FW_SET_NAME_MAX		32
#define FW_MAX_SET_PREFIXES	(4 * 1024 * 1024)	/* all sets together */
#define FW_MAX_CONNECTIONS	16777216
#define FW_DEFAULT_CONNECTIONS	65536
#define FW_MAX_PPS		1000000000ULL
#define FW_MAX_BURST_PS		(1ULL << 62)	/* headroom for the data path's refill sums */

/* Bits of fw_set.families and fw_compiled.set_families. */
#define FW_FAM_V4	0x01
#define FW_FAM_V6	0x02

/* An address prefix; host bits are always zero (the parser masks them). */
struct fw_prefix {
	uint8_t family;		/* 4 or 6 */
	uint8_t len;		/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network order; IPv4 uses [0..3], the rest stays 0 */
};

struct fw_set {
	char name[FW_SET_NAME_MAX + 1];
	char *file;		/* as written in the chain file; NULL for an inline set */
	uint32_t n;
	struct fw_prefix *p;	/* sorted and unique once fw_set__finish() ran */
	uint8_t families;	/* FW_FAM_* present in p */
	uint64_t hash;		/* FNV-1a of the normalized prefixes */
};

enum fw_addr_kind {
	FW_ADDR_ANY = 0,
	FW_ADDR_PREFIX,
	FW_ADDR_SET,
};

struct fw_addr {
	uint8_t kind;		/* enum fw_addr_kind */
	uint8_t set;		/* FW_ADDR_SET: index into fw_config.sets */
	struct fw_prefix prefix;	/* FW_ADDR_PREFIX */
};

struct fw_port_range {
	uint16_t lo, hi;	/* host order, lo <= hi */
};

/* n == 0: any port (and no L4 header needed) */
struct fw_ports {
	uint32_t n;
	struct fw_port_range *r;
};

#define FW_ANY (-1)

struct fw_rule {
	uint8_t action;		/* enum sfc_fw_action */
	uint8_t family;		/* the `family` key: 0 (none), 4 or 6 */
	int16_t proto;		/* 0..255 or FW_ANY; 1 implies IPv4, 58 IPv6 */
	struct fw_addr src, dst;
	struct fw_ports sport, dport;	/* only with proto 6 or 17 */
	int16_t icmp_type;	/* FW_ANY or 0..255; only with proto 1 or 58 */
	int16_t icmp_code;	/* FW_ANY or 0..255; only with icmp_type */
	uint8_t flags_set;	/* TCP flags: (flags & (set | unset)) == set */
	uint8_t flags_unset;
	uint16_t vlan;		/* outer VID 1..4094; 0: any */
	int8_t fragment;	/* FW_ANY, 0 (not a non-first fragment) or 1 */
	bool limit;		/* rate limit (action allow only) */
	uint64_t pps, burst;
	uint32_t line;		/* in the chain file */
	char *comment;		/* NULL when absent */
};

struct fw_compiled;

struct fw_config {
	uint8_t default_action;	/* enum sfc_fw_action */
	bool stateful;
	uint32_t max_connections;
	uint32_t n_sets;
	struct fw_set *sets;
	uint32_t n_rules;
	struct fw_rule *rules;
	struct fw_compiled *compiled;	/* set by nf_firewall.c's parse */
};

/* Frees everything the config points to (sets, rules, compiled), then cfg. */
void fw_config__free(struct fw_config *cfg);

/* ---- prefixes, names ---------------------------------------------------- */

/*
 * "192.0.2.0/24", "2001:db8::/32" or a bare address (a host prefix). Host
 * bits below the length are cleared, like iptables does: "10.0.0.1/8" is
 * 10.0.0.0/8. Returns 0 or -EINVAL; *hint (may be NULL) then gets a
 * parenthesized explanation or "".
 */
int fw_prefix__parse(const char *s, struct fw_prefix *p, const char **hint);
/* "a.b.c.d/n" or "v6/n" (always with the length). */
void fw_prefix__format(const struct fw_prefix *p, char *buf, size_t len);
bool fw_prefix__contains(const struct fw_prefix *p, uint8_t family, const uint8_t *addr);

/* Sorts and deduplicates s->p, sets families and hash. */
void fw_set__finish(struct fw_set *s);

/* Protocol numbers by name (tcp udp icmp icmpv6), -1 if unknown; and back. */
int fw_proto__parse(const char *name);
const char *fw_proto__name(int proto);	/* NULL if it has no name */
/* ICMP (proto 1) or ICMPv6 (proto 58) type by name, -1 if unknown; and back. */
int fw_icmp_type__parse(int proto, const char *name);
const char *fw_icmp_type__name(int proto, int type);
/* "echo-reply, destination-unreachable, ..." for messages. */
const char *fw_icmp_type__names(int proto);
/* TCP flag bit by name (fin syn rst psh ack urg ece cwr), 0 if unknown. */
uint8_t fw_tcp_flag__parse(const char *name);
const char *fw_tcp_flag__name(uint8_t bit);

/* The families (FW_FAM_*) a rule can match: its addresses, sets, `family`
 * and protocol narrow them. */
uint8_t fw_rule__families(const struct fw_config *cfg, const struct fw_rule *r);

/* One line for listings: "allow tcp src 10.0.0.0/8 dport 80,443". Returns 0,
 * or -ENOSPC when it had to cut the text. */
int fw_rule__format(const struct fw_config *cfg, uint32_t i, char *buf, size_t len);

/* ---- the compiled rule set ---------------------------------------------- */

struct fw_compiled {
	uint32_t n_tuples;
	uint32_t n_tuples4;		/* the IPv4 tuples come first */
	struct sfc_fw_tuple *tuples;	/* sorted by family, then min_rule */
	uint32_t n_keys4, n_keys6;
	struct sfc_fw_key4 *keys4;	/* unique; value: vals4[i], a rule index */
	uint32_t *vals4;
	struct sfc_fw_key6 *keys6;
	uint32_t *vals6;
	uint32_t n_rules;
	struct sfc_fw_rule *rules;
	uint32_t *rule_keys;		/* keys each rule holds (after deduplication) */
	uint32_t n_lpm4, n_lpm6;	/* set trie entries; value: a bitmap of set indexes */
	struct sfc_fw_lpm4 *lpm4;
	uint64_t *lpm4_val;
	struct sfc_fw_lpm6 *lpm6;
	uint64_t *lpm6_val;
	uint32_t set_families;		/* FW_FAM_* with trie entries */
	uint32_t set_lookups;		/* SFC_FW_SETS_*: the lookups some tuple needs */
	/* Port classes: SFC_FW_PORTS class ids each (port in host order), or
	 * NULL when no tuple matches that field by class. */
	uint16_t *sport_class, *dport_class;
	uint32_t n_sport_classes, n_dport_classes;	/* 0 when NULL */
	uint32_t class_lookups;		/* SFC_FW_CLASS_*: the lookups some tuple needs */
};

enum fw_limit {
	FW_LIMIT_NONE = 0,
	FW_LIMIT_TUPLES,		/* more than SFC_FW_MAX_TUPLES */
	FW_LIMIT_KEYS,			/* more than SFC_FW_MAX_KEYS (keys4 + keys6) */
};

struct fw_compile_error {
	enum fw_limit limit;
	uint32_t rule;			/* the rule that went over */
	uint64_t count;			/* the count it reached */
};

/*
 * Port classes (shared/sfc_fw.h) give a rule a key per class its ranges
 * cover, the product with both ports: a rule keeps to classes while that
 * is at most FW_CLASS_KEYS keys or no more than power-of-two blocks give,
 * and splits its ranges into blocks otherwise (fw_compile.c).
 */
#define FW_CLASS_KEYS		64

/*
 * Returns 0, -ENOMEM, or -E2BIG with *e saying which limit a rule passed.
 * cfg must be valid (as nf_firewall.c's parser leaves it). A rule set that
 * passes a limit with port classes is compiled again with every range in
 * power-of-two blocks, as before classes; the errors are that compile's.
 */
int fw_compile(const struct fw_config *cfg, struct fw_compiled **out, struct fw_compile_error *e);
void fw_compiled__free(struct fw_compiled *c);

/* ---- classification, for tests ------------------------------------------ */

struct fw_packet {
	uint8_t family;		/* 4 or 6 */
	uint8_t src[16], dst[16];	/* network order */
	uint8_t proto;		/* L4 protocol (IPv6: after the extension headers) */
	bool l4;		/* the whole L4 header is there */
	bool frag;		/* a non-first fragment */
	uint16_t sport, dport;	/* host order */
	uint16_t vlan;		/* outer VID; 0 untagged */
	uint8_t icmp_type, icmp_code;
	uint8_t tcp_flags;
};

/* First matching rule by a linear walk over cfg, or SFC_FW_NO_RULE. */
uint32_t fw_classify_ref(const struct fw_config *cfg, const struct fw_packet *p);

/* The data path's tuple space search over the compiled arrays. */
struct fw_tss;
struct fw_tss *fw_tss__new(const struct fw_compiled *c);
void fw_tss__free(struct fw_tss *t);
uint32_t fw_classify_tss(const struct fw_tss *t, const struct fw_packet *p);

/* ---- for sfcctl ---------------------------------------------------------- */

struct sfc_function;
/* The parsed config of a firewall function, NULL for another type. */
const struct fw_config *sfc_fw__config(const struct sfc_function *fn);

#endif
