// SPDX-License-Identifier: GPL-2.0
/*
 * firewall: ordered allow/drop rules classified by tuple space search
 * (shared/sfc_fw.h), prefix sets in LPM tries, per-rule token buckets and,
 * in stateful mode, a connection table with TCP window tracking.
 *
 * Order of decisions for a packet:
 *   1. stateful: a packet of a known connection that is valid for its state
 *      passes (ESTABLISHED), an ICMP error about one passes (RELATED), one
 *      that is not valid is dropped (INVALID), and so is a TCP packet that
 *      opens nothing (no connection, not a bare SYN);
 *   2. the first rule that matches decides; a rate-limited rule over its
 *      rate drops;
 *   3. no rule: defaultAction.
 * In stateful mode an allowed packet that starts a connection (TCP SYN, any
 * UDP or other datagram, ICMP echo request) creates its entry.
 */
#include "chain.h"
#include <bpf/bpf_endian.h>
#include "shared/sfc_fw.h"

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6	58
#endif
#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_ACK		0x10

/* Load-time knobs, set by the loader from the config (rodata). */
const volatile __u32 sfc_fw_n_tuples = 0;
const volatile __u32 sfc_fw_n_tuples4 = 0;	/* tuples [0, n4) are IPv4, the rest IPv6 */
const volatile __u32 sfc_fw_n_rules = 0;
const volatile __u32 sfc_fw_default_action = SFC_FW_DROP;
const volatile __u32 sfc_fw_stateful = 0;
const volatile __u32 sfc_fw_set_lookups = 0;	/* SFC_FW_SETS_* */
const volatile __u32 sfc_fw_class_lookups = 0;	/* SFC_FW_CLASS_* */

/*
 * The rule set of one generation. All written by the loader before the
 * generation goes live and never changed after, so a packet sees one whole
 * rule set: a rule change is a new generation. Sizes are set by the loader to
 * what the compiled rule set needs (1 here is a placeholder).
 *
 * sfc_fw_tuples: key tuple index, value its masks; sorted by min_rule.
 * sfc_fw_keys4/6: key a masked packet, value the lowest rule with that key.
 * sfc_fw_rules: key rule index, value action and rate.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sfc_fw_tuple);
} sfc_fw_tuples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct sfc_fw_key4);
	__type(value, __u32);
} sfc_fw_keys4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct sfc_fw_key6);
	__type(value, __u32);
} sfc_fw_keys6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sfc_fw_rule);
} sfc_fw_rules SEC(".maps");

/*
 * sfc_fw_sport_class, sfc_fw_dport_class: key a port (host order), value
 * its class id (shared/sfc_fw.h), for the tuples whose port is in class
 * mode. Written by the loader with the rest of the generation; SFC_FW_PORTS
 * entries when a tuple uses it, else 1 (never read: sfc_fw_class_lookups).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u16);
} sfc_fw_sport_class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u16);
} sfc_fw_dport_class SEC(".maps");

/*
 * sfc_fw_buckets: key rule index, value its token bucket. Written here
 * (under the bucket's lock, from every CPU: one rate for all of them), zero
 * from the loader. One per rule.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sfc_fw_bucket);
} sfc_fw_buckets SEC(".maps");

/* sfc_fw_rule_stats: key rule index; written here, read by sfcctl. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sfc_fw_counter);
} sfc_fw_rule_stats SEC(".maps");

/*
 * sfc_fw_sets4/6: key a set prefix, value the bitmap of the sets that hold
 * it or a shorter prefix covering it (the loader folds those in), so one
 * longest-prefix lookup gives every set an address is in.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sfc_fw_lpm4);
	__type(value, __u64);
} sfc_fw_sets4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sfc_fw_lpm6);
	__type(value, __u64);
} sfc_fw_sets6 SEC(".maps");

/*
 * sfc_fw_verdicts: key enum sfc_fw_verdict. Written here, read by sfcctl.
 * Kept across generations (pinned under nf/<function>/).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SFC_FW_V_MAX);
	__type(key, __u32);
	__type(value, struct sfc_fw_counter);
} sfc_fw_verdicts SEC(".maps");

/*
 * sfc_fw_ct: the connection table, key the ordered endpoints. Written here
 * (created by an allowed first packet, updated by every packet after it),
 * read by sfcctl. LRU: when full, the least recently used connection goes.
 * Kept across generations; sized by maxConnections.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct sfc_fw_ct_key);
	__type(value, struct sfc_fw_ct);
} sfc_fw_ct SEC(".maps");

static __always_inline void count(__u32 verdict, __u32 len)
{
	struct sfc_fw_counter *c = bpf_map_lookup_elem(&sfc_fw_verdicts, &verdict);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

/* ---- classifier --------------------------------------------------------- */

/*
 * The search state, handed to the bpf_loop() callback: the packet's fields
 * unmasked (the tuple field unused; IPv4 in word 0), the sets its addresses
 * are in, its port classes, and the best rule so far.
 */
struct fw_search {
	struct sfc_fw_key6 pk;
	__u64 src_sets, dst_sets;
	__u32 best;
	__u32 base;		/* index of the family's first tuple */
	__u16 sclass, dclass;	/* 0 unless some tuple of the family needs them */
	__u8 family;
};

/* Whether tuple t can hold the packet's key at all: sets. */
static __always_inline bool tuple_applies(const struct sfc_fw_tuple *t, const struct fw_search *s)
{
	if (t->src_set && !(s->src_sets & (1ULL << ((t->src_set - 1) & 63))))
		return false;
	if (t->dst_set && !(s->dst_sets & (1ULL << ((t->dst_set - 1) & 63))))
		return false;
	return true;
}

static __always_inline void key_hdr(struct sfc_fw_key_hdr *h, const struct sfc_fw_tuple *t,
				    const struct fw_search *s, __u32 i)
{
	const struct sfc_fw_key_hdr *p = &s->pk.h;

	h->tuple = i;
	h->proto = p->proto & t->proto_mask;
	h->pflags = p->pflags & t->pflags_mask;
	h->sport = (t->flags & SFC_FW_TF_SPORT_CLASS ? s->sclass : p->sport) & t->sport_mask;
	h->dport = (t->flags & SFC_FW_TF_DPORT_CLASS ? s->dclass : p->dport) & t->dport_mask;
	h->vlan = p->vlan & t->vlan_mask;
	h->icmp_type = p->icmp_type & t->icmp_type_mask;
	h->icmp_code = p->icmp_code & t->icmp_code_mask;
	h->tcp_flags = p->tcp_flags & t->tcp_flags_mask;
	h->pad[0] = 0;
	h->pad[1] = 0;
	h->pad[2] = 0;
}

/*
 * One step of the tuple space search, as a bpf_loop() callback: the verifier
 * checks it once, whatever the number of tuples (an inline loop over 256
 * tuples exceeds its budget). Tuples are sorted by their lowest rule, so
 * once the best match comes before a tuple's first rule no later tuple can
 * beat it: stop (return 1).
 */
static long search4(__u32 n, void *data)
{
	struct fw_search *s = data;
	__u32 i = s->base + n;
	struct sfc_fw_tuple *t;
	struct sfc_fw_key4 k;
	__u32 *r;

	t = bpf_map_lookup_elem(&sfc_fw_tuples, &i);
	if (!t || t->min_rule >= s->best)
		return 1;
	if (!tuple_applies(t, s))
		return 0;
	key_hdr(&k.h, t, s, i);
	k.src = s->pk.src[0] & t->src_mask[0];
	k.dst = s->pk.dst[0] & t->dst_mask[0];
	r = bpf_map_lookup_elem(&sfc_fw_keys4, &k);
	if (r && *r < s->best)
		s->best = *r;
	return 0;
}

static long search6(__u32 n, void *data)
{
	struct fw_search *s = data;
	__u32 i = s->base + n;
	struct sfc_fw_tuple *t;
	struct sfc_fw_key6 k;
	__u32 *r;

	t = bpf_map_lookup_elem(&sfc_fw_tuples, &i);
	if (!t || t->min_rule >= s->best)
		return 1;
	if (!tuple_applies(t, s))
		return 0;
	key_hdr(&k.h, t, s, i);
	k.src[0] = s->pk.src[0] & t->src_mask[0];
	k.src[1] = s->pk.src[1] & t->src_mask[1];
	k.src[2] = s->pk.src[2] & t->src_mask[2];
	k.src[3] = s->pk.src[3] & t->src_mask[3];
	k.dst[0] = s->pk.dst[0] & t->dst_mask[0];
	k.dst[1] = s->pk.dst[1] & t->dst_mask[1];
	k.dst[2] = s->pk.dst[2] & t->dst_mask[2];
	k.dst[3] = s->pk.dst[3] & t->dst_mask[3];
	r = bpf_map_lookup_elem(&sfc_fw_keys6, &k);
	if (r && *r < s->best)
		s->best = *r;
	return 0;
}

static __always_inline void set_membership(struct fw_search *s)
{
	__u64 *bits;

	/* Only the lookups some tuple needs: each costs a trie walk. */
	if (s->family == SFC_FAMILY_IPV4) {
		struct sfc_fw_lpm4 k = { .prefixlen = 32 };

		if (sfc_fw_set_lookups & SFC_FW_SETS_SRC4) {
			k.addr = s->pk.src[0];
			bits = bpf_map_lookup_elem(&sfc_fw_sets4, &k);
			s->src_sets = bits ? *bits : 0;
		}
		if (sfc_fw_set_lookups & SFC_FW_SETS_DST4) {
			k.addr = s->pk.dst[0];
			bits = bpf_map_lookup_elem(&sfc_fw_sets4, &k);
			s->dst_sets = bits ? *bits : 0;
		}
	} else {
		struct sfc_fw_lpm6 k = { .prefixlen = 128 };

		if (sfc_fw_set_lookups & SFC_FW_SETS_SRC6) {
			__builtin_memcpy(k.addr, s->pk.src, sizeof(k.addr));
			bits = bpf_map_lookup_elem(&sfc_fw_sets6, &k);
			s->src_sets = bits ? *bits : 0;
		}
		if (sfc_fw_set_lookups & SFC_FW_SETS_DST6) {
			__builtin_memcpy(k.addr, s->pk.dst, sizeof(k.addr));
			bits = bpf_map_lookup_elem(&sfc_fw_sets6, &k);
			s->dst_sets = bits ? *bits : 0;
		}
	}
}

/*
 * The packet's port classes, once, before the tuple loop: one array lookup
 * per field some tuple of its family matches by class. Every such tuple
 * needs an L4 header (a range needs the ports), so without one the classes
 * do not matter.
 */
static __always_inline void port_classes(struct fw_search *s)
{
	__u32 sbit = SFC_FW_CLASS_SPORT4, dbit = SFC_FW_CLASS_DPORT4, port;
	__u16 *c;

	if (s->family != SFC_FAMILY_IPV4) {
		sbit = SFC_FW_CLASS_SPORT6;
		dbit = SFC_FW_CLASS_DPORT6;
	}
	if (!(sfc_fw_class_lookups & (sbit | dbit)) || !(s->pk.h.pflags & SFC_FW_PF_L4))
		return;
	if (sfc_fw_class_lookups & sbit) {
		port = bpf_ntohs(s->pk.h.sport);
		c = bpf_map_lookup_elem(&sfc_fw_sport_class, &port);
		s->sclass = c ? *c : 0;
	}
	if (sfc_fw_class_lookups & dbit) {
		port = bpf_ntohs(s->pk.h.dport);
		c = bpf_map_lookup_elem(&sfc_fw_dport_class, &port);
		s->dclass = c ? *c : 0;
	}
}

static __always_inline __u32 classify(const struct sfc_pkt *pkt)
{
	struct fw_search s = {};

	s.best = SFC_FW_NO_RULE;
	s.family = pkt->family;
	s.pk.h.proto = pkt->l4_proto;
	if (pkt->flags & SFC_PKT_L4)
		s.pk.h.pflags |= SFC_FW_PF_L4;
	if (pkt->flags & SFC_PKT_FRAG_LATER)
		s.pk.h.pflags |= SFC_FW_PF_FRAG;
	s.pk.h.sport = pkt->sport;
	s.pk.h.dport = pkt->dport;
	s.pk.h.vlan = pkt->n_vlan ? pkt->vlan[0] : 0;
	s.pk.h.icmp_type = pkt->icmp_type;
	s.pk.h.icmp_code = pkt->icmp_code;
	s.pk.h.tcp_flags = pkt->tcp_flags;
	__builtin_memcpy(s.pk.src, pkt->src, sizeof(s.pk.src));
	__builtin_memcpy(s.pk.dst, pkt->dst, sizeof(s.pk.dst));
	set_membership(&s);
	port_classes(&s);
	if (s.family == SFC_FAMILY_IPV4) {
		if (sfc_fw_n_tuples4)
			bpf_loop(sfc_fw_n_tuples4, search4, &s, 0);
	} else if (sfc_fw_n_tuples > sfc_fw_n_tuples4) {
		s.base = sfc_fw_n_tuples4;
		bpf_loop(sfc_fw_n_tuples - sfc_fw_n_tuples4, search6, &s, 0);
	}
	return s.best;
}

/* ---- rate limits -------------------------------------------------------- */

/* Token bucket kept as time credit in picoseconds: no division per packet. */
static __always_inline bool within_rate(__u32 rule_idx, const struct sfc_fw_rule *rule)
{
	struct sfc_fw_bucket *b = bpf_map_lookup_elem(&sfc_fw_buckets, &rule_idx);
	__u64 now = bpf_ktime_get_ns(), elapsed, credit;
	bool ok;

	if (!b)
		return false;
	bpf_spin_lock(&b->lock);
	/* Another CPU may have stamped a later time after we read the clock:
	 * unsigned, now - last_ns would wrap and refill the bucket. */
	if ((__s64)(now - b->last_ns) < 0)
		now = b->last_ns;
	elapsed = now - b->last_ns;
	/* A bucket idle for longer than it takes to fill is full; this also
	 * keeps elapsed * 1000 from overflowing. */
	if (elapsed >= rule->burst_ps / 1000 + 1)
		credit = rule->burst_ps;
	else
		credit = b->credit_ps + elapsed * 1000;
	if (credit > rule->burst_ps)
		credit = rule->burst_ps;
	ok = credit >= rule->cost_ps;
	if (ok)
		credit -= rule->cost_ps;
	b->credit_ps = credit;
	b->last_ns = now;
	bpf_spin_unlock(&b->lock);
	return ok;
}

/* ---- connection tracking ------------------------------------------------ */

#define SEC_NS 1000000000ULL
/* Linux's nf_conntrack defaults, in ns. */
static const __u64 ct_timeout[] = {
	[SFC_FW_CT_NONE] = 0,
	[SFC_FW_CT_SYN_SENT] = 120 * SEC_NS,
	[SFC_FW_CT_SYN_RECV] = 60 * SEC_NS,
	[SFC_FW_CT_ESTABLISHED] = 432000 * SEC_NS,
	[SFC_FW_CT_FIN_WAIT] = 120 * SEC_NS,
	[SFC_FW_CT_CLOSING] = 120 * SEC_NS,
	[SFC_FW_CT_CLOSED] = 10 * SEC_NS,
	[SFC_FW_CT_UNREPLIED] = 30 * SEC_NS,
};
#define CT_DATAGRAM_REPLIED (120 * SEC_NS)

static __always_inline bool ct_expired(const struct sfc_fw_ct *ct, __u8 proto, __u64 now)
{
	__u64 limit;

	if (ct->state == SFC_FW_CT_ESTABLISHED && proto != IPPROTO_TCP)
		limit = CT_DATAGRAM_REPLIED;
	else if (ct->state <= SFC_FW_CT_UNREPLIED)
		limit = ct_timeout[ct->state];
	else
		return true;
	/* last_ns may be ahead of now: another CPU stamped it after this
	 * packet read the clock. Unsigned, the difference would wrap and a
	 * live connection would look expired. */
	return (__s64)(now - ct->last_ns) > (__s64)limit;
}

static __always_inline bool is_echo(__u8 family, __u8 proto, __u8 type)
{
	if (family == SFC_FAMILY_IPV4)
		return proto == IPPROTO_ICMP && (type == 8 || type == 0);
	return proto == IPPROTO_ICMPV6 && (type == 128 || type == 129);
}

static __always_inline bool is_echo_request(__u8 family, __u8 type)
{
	return family == SFC_FAMILY_IPV4 ? type == 8 : type == 128;
}

/*
 * The ordered key of the endpoints (a, ap) -> (b, bp); returns the index the
 * sender (a) got, 0 or 1.
 */
static __always_inline __u8 ct_key_of(struct sfc_fw_ct_key *k, __u8 family, __u8 proto,
				      __u16 vlan, const __be32 *a, __be16 ap, const __be32 *b,
				      __be16 bp)
{
	int cmp = 0, i;
	__u8 me;

	for (i = 0; i < 4; i++) {
		if (cmp)
			break;
		if (a[i] != b[i])
			cmp = bpf_ntohl(a[i]) < bpf_ntohl(b[i]) ? -1 : 1;
	}
	if (!cmp && ap != bp)
		cmp = bpf_ntohs(ap) < bpf_ntohs(bp) ? -1 : 1;
	/* Branches rather than k->addr[me]: clang turns an index into the
	 * stack into a pointer OR the verifier refuses. */
	me = cmp > 0;
	if (me) {
		const __be32 *t = a;
		__be16 tp = ap;

		a = b;
		b = t;
		ap = bp;
		bp = tp;
	}
	__builtin_memcpy(k->addr[0], a, 16);
	__builtin_memcpy(k->addr[1], b, 16);
	k->port[0] = ap;
	k->port[1] = bp;
	k->family = family;
	k->proto = proto;
	k->vlan = vlan;
	return me;
}

/* Ports of the packet as the connection table sees them. */
static __always_inline void ct_ports(const struct sfc_pkt *pkt, __be16 *sp, __be16 *dp)
{
	*sp = 0;
	*dp = 0;
	if (!(pkt->flags & SFC_PKT_L4))
		return;
	if (pkt->l4_proto == IPPROTO_TCP || pkt->l4_proto == IPPROTO_UDP) {
		*sp = pkt->sport;
		*dp = pkt->dport;
	} else if (is_echo(pkt->family, pkt->l4_proto, pkt->icmp_type)) {
		*sp = pkt->sport;	/* the echo id, on both sides */
		*dp = pkt->sport;
	}
}

static __always_inline bool before(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

#define after(a, b) before(b, a)

struct tcp_seg {
	__u32 seq, ack, end, win;	/* win: as sent, unscaled */
	__u8 flags;
	__u8 wscale;			/* from the options of a SYN; 0xff: none */
};

struct tcp_opts {
	__u8 opt[64];		/* 40 bytes of options; indexes masked with 63 */
	__u32 len, i;
	__u8 wscale;
};

/* One option per call, as a bpf_loop() callback (the verifier gives up on
 * the same walk written as a loop). */
static long tcp_opt_step(__u32 n, void *data)
{
	struct tcp_opts *o = data;
	__u32 i = o->i, len;
	__u8 kind;

	if (i >= o->len)
		return 1;
	kind = o->opt[i & 63];
	if (kind == 0)			/* end of options */
		return 1;
	if (kind == 1) {		/* no-op */
		o->i = i + 1;
		return 0;
	}
	len = o->opt[(i + 1) & 63];
	if (kind == 3 && len == 3 && i + 2 < o->len) {
		o->wscale = o->opt[(i + 2) & 63];
		if (o->wscale > 14)	/* RFC 7323 2.3 */
			o->wscale = 14;
		return 1;
	}
	if (len < 2)
		return 1;
	o->i = i + len;
	return 0;
}

/* Window scale option of a SYN (RFC 7323 2.2), or 0xff. */
static __always_inline __u8 tcp_wscale(struct xdp_md *ctx, __u32 off, __u32 optlen)
{
	struct tcp_opts o = { .wscale = 0xff };
	__u32 n = optlen - 1;	/* 0 wraps and is refused below */

	if (n > 39)
		return 0xff;
	/* Keep n as it is: the verifier of Linux 6.1 cannot tell that
	 * "optlen == 0 || optlen > 40" bounds optlen away from 0 and refuses
	 * the load ("invalid zero-sized read"); n + 1 is 1..40 to any. */
	asm volatile("" : "+r"(n));
	if (bpf_xdp_load_bytes(ctx, off, o.opt, n + 1))
		return 0xff;
	o.len = optlen;
	bpf_loop(40, tcp_opt_step, &o, 0);
	return o.wscale;
}

static __always_inline int tcp_seg_read(struct xdp_md *ctx, const struct sfc_pkt *pkt,
					struct tcp_seg *s)
{
	struct tcphdr th;
	__u32 hlen, paylen;

	if (!(pkt->flags & SFC_PKT_L4))
		return -1;
	if (bpf_xdp_load_bytes(ctx, pkt->l4_off, &th, sizeof(th)))
		return -1;
	hlen = th.doff * 4;
	paylen = pkt->l3_off + pkt->l3_len - pkt->l4_off - hlen;
	if (pkt->l3_off + pkt->l3_len < pkt->l4_off + hlen)
		paylen = 0;
	s->seq = bpf_ntohl(th.seq);
	s->ack = bpf_ntohl(th.ack_seq);
	s->win = bpf_ntohs(th.window);
	s->flags = pkt->tcp_flags;
	s->end = s->seq + paylen + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);
	s->wscale = 0xff;
	if (s->flags & TCP_SYN)
		s->wscale = tcp_wscale(ctx, pkt->l4_off + sizeof(th), hlen - sizeof(th));
	return 0;
}

static __always_inline void side_init(struct sfc_fw_ct_side *side, const struct tcp_seg *s)
{
	side->end = s->end;
	side->maxend = s->end;
	side->maxwin = s->win ? s->win : 1;
	side->flags = SFC_FW_CTS_SEEN;
	side->wscale = 0;
	if (s->wscale != 0xff) {
		side->flags |= SFC_FW_CTS_WSCALE;
		side->wscale = s->wscale;
	}
}

/*
 * The four bounds of Linux's tcp_in_window() (after Rooij, "Real stateful
 * TCP packet filtering in IP Filter"), then the updates of both sides.
 */
static __always_inline bool tcp_in_window(struct sfc_fw_ct_side *snd, struct sfc_fw_ct_side *rcv,
					  const struct tcp_seg *s)
{
	__u32 ack = s->ack, win = s->win, maxack;

	if (!(s->flags & TCP_SYN))
		win <<= snd->wscale;
	if (!(s->flags & TCP_ACK))
		ack = rcv->end;
	maxack = snd->maxwin > 66000 ? snd->maxwin : 66000;
	if (after(s->seq, snd->maxend) ||
	    before(s->end, snd->end - rcv->maxwin) ||
	    after(ack, rcv->end) ||
	    before(ack, rcv->end - maxack))
		return false;
	if (snd->maxwin < win)
		snd->maxwin = win;
	if (after(s->end, snd->end))
		snd->end = s->end;
	if (rcv->maxwin && after(s->end, snd->maxend))
		rcv->maxwin += s->end - snd->maxend;
	if (s->flags & TCP_ACK) {
		if (after(ack + win, rcv->maxend - 1))
			rcv->maxend = ack + win + !win;
	}
	return true;
}

enum ct_result {
	CT_MISS,		/* no connection: the rules decide */
	CT_VALID,		/* part of a known connection */
	CT_INVALID,		/* drop */
};

static __always_inline int tcp_track(struct xdp_md *ctx, const struct sfc_pkt *pkt,
				     struct sfc_fw_ct *ct, __u8 me)
{
	struct sfc_fw_ct_side *snd, *rcv;
	struct tcp_seg s;
	bool from_orig = me == ct->orig;

	if (tcp_seg_read(ctx, pkt, &s))
		return CT_INVALID;
	snd = &ct->side[me & 1];
	rcv = &ct->side[!me];

	/* A new SYN where the old connection is over starts a new one. */
	if ((ct->state == SFC_FW_CT_CLOSED || ct->state == SFC_FW_CT_CLOSING) &&
	    (s.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)
		return CT_MISS;

	if (ct->state == SFC_FW_CT_SYN_SENT) {
		if (from_orig)
			/* Only the SYN again (a retransmission) before the answer. */
			return (s.flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN ? CT_VALID :
											 CT_INVALID;
		if (s.flags & TCP_RST) {
			if ((s.flags & TCP_ACK) && s.ack == rcv->end) {
				ct->state = SFC_FW_CT_CLOSED;
				return CT_VALID;
			}
			return CT_INVALID;
		}
		if ((s.flags & (TCP_SYN | TCP_ACK)) != (TCP_SYN | TCP_ACK) || s.ack != rcv->end)
			return CT_INVALID;
		side_init(snd, &s);
		/* RFC 7323: scaling only when both sides offered it. */
		if (!(snd->flags & rcv->flags & SFC_FW_CTS_WSCALE)) {
			snd->wscale = 0;
			rcv->wscale = 0;
		}
		if (!tcp_in_window(snd, rcv, &s))
			return CT_INVALID;
		ct->state = SFC_FW_CT_SYN_RECV;
		return CT_VALID;
	}

	if (s.flags & TCP_SYN) {
		/* Retransmitted SYN or SYN+ACK while the handshake finishes. */
		if (ct->state == SFC_FW_CT_SYN_RECV &&
		    (from_orig ? !(s.flags & TCP_ACK) : !!(s.flags & TCP_ACK)) &&
		    s.end == snd->end)
			return CT_VALID;
		return CT_INVALID;
	}
	if (!tcp_in_window(snd, rcv, &s))
		return CT_INVALID;
	if (s.flags & TCP_RST) {
		ct->state = SFC_FW_CT_CLOSED;
		return CT_VALID;
	}
	if (ct->state == SFC_FW_CT_SYN_RECV && from_orig && (s.flags & TCP_ACK))
		ct->state = SFC_FW_CT_ESTABLISHED;
	if (s.flags & TCP_FIN) {
		snd->flags |= SFC_FW_CTS_FIN;
		ct->state = (rcv->flags & SFC_FW_CTS_FIN) ? SFC_FW_CT_CLOSING : SFC_FW_CT_FIN_WAIT;
	}
	return CT_VALID;
}

static __always_inline bool is_icmp_error(const struct sfc_pkt *pkt)
{
	if (!(pkt->flags & SFC_PKT_L4))
		return false;
	if (pkt->family == SFC_FAMILY_IPV4)
		return pkt->l4_proto == IPPROTO_ICMP &&
		       (pkt->icmp_type == 3 || pkt->icmp_type == 11 || pkt->icmp_type == 12);
	return pkt->l4_proto == IPPROTO_ICMPV6 && pkt->icmp_type >= 1 && pkt->icmp_type <= 4;
}

/*
 * An ICMP error quotes the header of the packet it is about (RFC 792,
 * RFC 4443 2.4(c)); find that packet's connection.
 */
static __always_inline bool related(struct xdp_md *ctx, const struct sfc_pkt *pkt, __u16 vlan,
				    __u64 now)
{
	struct sfc_fw_ct_key k = {};
	__be32 a[4] = {}, b[4] = {};
	__u32 off = pkt->payload_off;
	__be16 ports[2] = {};
	struct sfc_fw_ct *ct;
	__u8 proto, l4[8];

	if (pkt->family == SFC_FAMILY_IPV4) {
		struct iphdr ip;

		if (bpf_xdp_load_bytes(ctx, off, &ip, sizeof(ip)))
			return false;
		a[0] = ip.saddr;
		b[0] = ip.daddr;
		proto = ip.protocol;
		off += ip.ihl * 4;
	} else {
		struct ipv6hdr ip6;

		if (bpf_xdp_load_bytes(ctx, off, &ip6, sizeof(ip6)))
			return false;
		__builtin_memcpy(a, &ip6.saddr, 16);
		__builtin_memcpy(b, &ip6.daddr, 16);
		proto = ip6.nexthdr;
		off += sizeof(ip6);
	}
	if (bpf_xdp_load_bytes(ctx, off, l4, sizeof(l4)))
		return false;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		__builtin_memcpy(ports, l4, 4);
	} else if (is_echo(pkt->family, proto, l4[0])) {
		__builtin_memcpy(&ports[0], &l4[4], 2);
		ports[1] = ports[0];
	}
	ct_key_of(&k, pkt->family, proto, vlan, a, ports[0], b, ports[1]);
	ct = bpf_map_lookup_elem(&sfc_fw_ct, &k);
	return ct && !ct_expired(ct, proto, now);
}

/*
 * *unreplied: on CT_MISS, the entry of a datagram flow that has had no reply
 * yet and that this packet's sender opened; the caller refreshes it if the
 * rules allow the packet.
 */
static __always_inline int ct_check(struct xdp_md *ctx, const struct sfc_pkt *pkt,
				    struct sfc_fw_ct_key *k, __u8 *me, __u64 now, __u32 *verdict,
				    struct sfc_fw_ct **unreplied)
{
	__u16 vlan = pkt->n_vlan ? pkt->vlan[0] : 0;
	struct sfc_fw_ct *ct;
	__be16 sp, dp;
	int res;

	ct_ports(pkt, &sp, &dp);
	*me = ct_key_of(k, pkt->family, pkt->l4_proto, vlan, pkt->src, sp, pkt->dst, dp);
	ct = bpf_map_lookup_elem(&sfc_fw_ct, k);
	if (ct && ct_expired(ct, pkt->l4_proto, now))
		ct = NULL;
	*verdict = SFC_FW_V_ESTABLISHED;
	if (!ct) {
		if (is_icmp_error(pkt) && related(ctx, pkt, vlan, now)) {
			*verdict = SFC_FW_V_RELATED;
			return CT_VALID;
		}
		/* A TCP connection opens with a bare SYN; anything else that
		 * belongs to none is invalid (an unsolicited ACK flood, a stale
		 * RST). Later fragments have no header to judge: rules decide. */
		if (pkt->l4_proto == IPPROTO_TCP && (pkt->flags & SFC_PKT_L4) &&
		    (pkt->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) != TCP_SYN) {
			*verdict = SFC_FW_V_INVALID;
			return CT_INVALID;
		}
		return CT_MISS;
	}
	/*
	 * A later fragment has no ports, so it never finds its connection
	 * (its key has ports 0): the rules decide, as for any packet.
	 */
	if (pkt->l4_proto == IPPROTO_TCP) {
		res = tcp_track(ctx, pkt, ct, *me);
	} else {
		res = CT_VALID;
		if (*me != ct->orig) {
			/* The reply of an echo must be an echo reply. */
			if (is_echo(pkt->family, pkt->l4_proto, pkt->icmp_type) &&
			    is_echo_request(pkt->family, pkt->icmp_type))
				res = CT_INVALID;
			else if (ct->state == SFC_FW_CT_UNREPLIED)
				ct->state = SFC_FW_CT_ESTABLISHED;
		} else if (ct->state == SFC_FW_CT_UNREPLIED) {
			/* Until the first reply, conntrack calls a datagram flow
			 * NEW: its packets go through the rules (and their rate
			 * limits) again. */
			*unreplied = ct;
			return CT_MISS;
		}
	}
	if (res == CT_VALID)
		ct->last_ns = now;
	else if (res == CT_INVALID)
		*verdict = SFC_FW_V_INVALID;
	return res;
}

/* An allowed packet that opens a connection gets its entry. */
static __always_inline void ct_create(struct xdp_md *ctx, const struct sfc_pkt *pkt,
				      const struct sfc_fw_ct_key *k, __u8 me, __u32 rule, __u64 now,
				      __u32 len)
{
	struct sfc_fw_ct ct = {};
	struct tcp_seg s;

	if (!(pkt->flags & SFC_PKT_L4) && (pkt->flags & SFC_PKT_FRAG_LATER))
		return;
	if (pkt->l4_proto == IPPROTO_TCP) {
		if (tcp_seg_read(ctx, pkt, &s) || (s.flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
			return;
		ct.state = SFC_FW_CT_SYN_SENT;
		side_init(&ct.side[me & 1], &s);
	} else if ((pkt->l4_proto == IPPROTO_ICMP || pkt->l4_proto == IPPROTO_ICMPV6) &&
		   (pkt->flags & SFC_PKT_L4)) {
		/* Of ICMP, only an echo request opens anything. */
		if (!is_echo(pkt->family, pkt->l4_proto, pkt->icmp_type) ||
		    !is_echo_request(pkt->family, pkt->icmp_type))
			return;
		ct.state = SFC_FW_CT_UNREPLIED;
	} else {
		ct.state = SFC_FW_CT_UNREPLIED;
	}
	ct.orig = me;
	ct.rule = rule;
	ct.last_ns = now;
	if (!bpf_map_update_elem(&sfc_fw_ct, k, &ct, BPF_ANY))
		count(SFC_FW_V_CT_NEW, len);
}

/* ---- the function ------------------------------------------------------- */

SEC("xdp")
int sfc_firewall(struct xdp_md *ctx)
{
	struct sfc_fw_ct *unreplied = NULL;
	struct sfc_fw_ct_key ck = {};
	struct sfc_fw_counter *rc;
	struct sfc_fw_rule *rule;
	struct sfc_hop hop;
	struct sfc_pkt *pkt;
	__u32 r, verdict, len, action;
	__u64 now = 0;
	__u8 me = 0;
	int res;

	if (sfc_hop_begin(ctx, &hop, sfc_stage_id))
		return XDP_ABORTED;
	pkt = hop.pkt;
	len = pkt->len;

	if (sfc_fw_stateful) {
		now = bpf_ktime_get_ns();
		res = ct_check(ctx, pkt, &ck, &me, now, &verdict, &unreplied);
		if (res != CT_MISS) {
			count(verdict, len);
			return res == CT_VALID ? sfc_next(ctx, &hop) : sfc_drop(&hop);
		}
	}

	r = classify(pkt);
	if (r == SFC_FW_NO_RULE) {
		action = sfc_fw_default_action;
		verdict = action == SFC_FW_ALLOW ? SFC_FW_V_DEFAULT_ALLOW : SFC_FW_V_DEFAULT_DROP;
	} else {
		rule = bpf_map_lookup_elem(&sfc_fw_rules, &r);
		if (!rule)
			return sfc_drop(&hop);	/* cannot happen: fail closed */
		rc = bpf_map_lookup_elem(&sfc_fw_rule_stats, &r);
		if (rc) {
			rc->packets++;
			rc->bytes += len;
		}
		action = rule->action;
		verdict = action == SFC_FW_ALLOW ? SFC_FW_V_RULE_ALLOW : SFC_FW_V_RULE_DROP;
		if (action == SFC_FW_ALLOW && (rule->flags & SFC_FW_RULE_LIMIT) &&
		    !within_rate(r, rule)) {
			action = SFC_FW_DROP;
			verdict = SFC_FW_V_RATE_LIMITED;
		}
	}
	count(verdict, len);
	if (action != SFC_FW_ALLOW)
		return sfc_drop(&hop);
	if (unreplied)
		unreplied->last_ns = now;	/* still waiting for its reply */
	else if (sfc_fw_stateful)
		ct_create(ctx, pkt, &ck, me, r, now, len);
	return sfc_next(ctx, &hop);
}

char LICENSE[] SEC("license") = "GPL";
