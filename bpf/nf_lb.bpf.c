// SPDX-License-Identifier: GPL-2.0
/*
 * loadbalancer: L4 services (a VIP, a port, TCP or UDP) spread over their
 * backends by weighted Maglev, with a connection table so that a flow keeps
 * its backend for its whole life. nat rewrites the destination to the
 * backend and the source of the replies back to the VIP; dsr sends the packet
 * to the backend inside IP-in-IP, and the backend answers the client itself.
 * The ABI is shared/sfc_lb.h; the loader side is loader/lib/nf_lb.c.
 *
 * Per packet, in either chain direction:
 *   1. to a service: its connection entry names the backend, unless the
 *      entry expired, its backend left the config, or a SYN reopens a
 *      closing one; then Maglev picks (a hash of the client's address and
 *      ports indexes the service's table) and the entry is (re)written.
 *      nat rewrites the destination, dsr encapsulates;
 *   2. else, with a nat service configured: a packet that matches a reply
 *      entry (backend -> client) gets the VIP back as its source;
 *   3. else: handed on untouched.
 * sfc_pkt follows every rewrite, so later functions see the packet as it is.
 *
 * Only the first fragment of a datagram carries the ports: the later ones
 * cannot be matched to a connection without reassembly and are handed on as
 * they are (counted as NO_L4), so a fragmented datagram to a VIP does not
 * reach its backend whole.
 */
#include "chain.h"
#include "parse.h"
#include <bpf/bpf_endian.h>
#include "shared/sfc_lb.h"

#define TCP_FIN		0x01
#define TCP_SYN		0x02
#define TCP_RST		0x04
#define TCP_ACK		0x10
#define IP_DF		0x4000
#define ICMP_DEST_UNREACH	3
#define ICMP_FRAG_NEEDED	4
#define ICMPV6_PKT_TOOBIG	2
#define EEXIST		17

/* TTL or hop limit of the headers the balancer writes: tunnels, ICMP errors. */
#define BUILT_TTL	64
/*
 * Bytes of the frame saved across bpf_xdp_adjust_head(): the Ethernet header
 * and up to two VLAN tags (the parser's l3_off is 14, 18 or 22), rounded up
 * to whole 8-byte words so the copy has one constant size. The bytes past
 * l3_off that come along are overwritten by the new IP header.
 */
#define L2_SAVE		24
/*
 * How much of the offending packet an ICMP error quotes: RFC 1812 4.3.2.3
 * keeps an ICMPv4 error within 576 bytes, RFC 4443 2.4(c) an ICMPv6 error
 * within the minimum MTU, 1280, as Linux does. Whole 4-byte words only: the
 * checksum loop adds words.
 */
#define ICMP4_QUOTE	(576 - 20 - 8)
#define ICMP6_QUOTE	(1280 - 40 - 8)

/*
 * Load-time settings of the generation (timeouts, Maglev table size, mtu,
 * encapsulation source), set by the loader's prepare(). Read field by field:
 * a copy through a cast that drops volatile lets clang fold the all-zero
 * initializer instead (see sfc_egress).
 */
const volatile struct sfc_lb_cfg sfc_lb_cfg = {};

/*
 * The generation's maps (the type's gen_maps): written by configure() before
 * the generation goes live, pinned under gen<N>/nf/<function>/, so a packet
 * sees one whole config. Sizes here are what the ABI allows; prepare() sizes
 * them to the config.
 *
 * sfc_lb_services: key struct sfc_lb_svc_key (VIP, port, protocol, family),
 * value struct sfc_lb_svc. One entry per service.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SFC_LB_MAX_SERVICES);
	__type(key, struct sfc_lb_svc_key);
	__type(value, struct sfc_lb_svc);
} sfc_lb_services SEC(".maps");

/*
 * sfc_lb_backends: key a backend's stable id, value struct sfc_lb_backend
 * (address, port, flags). Read here for the backend a connection or Maglev
 * names; an entry without SFC_LB_BK_PRESENT is a backend no longer in the
 * config.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SFC_LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sfc_lb_backend);
} sfc_lb_backends SEC(".maps");

/*
 * sfc_lb_maglev: key svc.table_off + entry, value a backend id or
 * SFC_LB_NO_BACKEND. table_size entries per service. Also rewritten in place
 * by the agent when a health check changes a backend's state (each entry is
 * one aligned 4-byte word, so a packet reads either the old id or the new).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SFC_LB_DEFAULT_TABLE);
	__type(key, __u32);
	__type(value, __u32);
} sfc_lb_maglev SEC(".maps");

/*
 * The function's maps, kept across generations under nf/<function>/.
 *
 * sfc_lb_conns: key struct sfc_lb_conn_key, value struct sfc_lb_conn. A
 * forward entry per flow (client -> VIP as the client sends it) and, for nat
 * services, a reply entry (backend -> client as the backend sends it) that
 * carries the VIP to put back. Written here only: created by a flow's first
 * packet, rewritten in place when the flow is re-picked, refreshed at most
 * once per SFC_LB_TOUCH_NS. Read by sfcctl lb. LRU: when full, the least
 * recently used entry goes. Sized by maxConnections (prepare; the number
 * here is the default). The common LRU list, as for flowmon: per-CPU lists
 * round the size up to a multiple of the CPUs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1048576);
	__type(key, struct sfc_lb_conn_key);
	__type(value, struct sfc_lb_conn);
} sfc_lb_conns SEC(".maps");

/*
 * sfc_lb_ids: key struct sfc_lb_id_key, value the stable id of a service or
 * backend. Not used here: declared so that the runtime creates, pins and
 * keeps it with the function. Written by libsfc (configure), read by sfcctl
 * lb and the agent. Every service and backend the ABI allows.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SFC_LB_MAX_SERVICES + SFC_LB_MAX_BACKENDS);
	__type(key, struct sfc_lb_id_key);
	__type(value, __u32);
} sfc_lb_ids SEC(".maps");

/*
 * sfc_lb_svc_stats, sfc_lb_bk_stats: key a service's or backend's stable id,
 * value its struct sfc_lb_counters. Written here, read (summed over the CPUs)
 * by sfcctl lb and the agent; zeroed by libsfc when it hands an id out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SFC_LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sfc_lb_counters);
} sfc_lb_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SFC_LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sfc_lb_counters);
} sfc_lb_bk_stats SEC(".maps");

/* sfc_lb_stats: key enum sfc_lb_stat. Written here, read by sfcctl and the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SFC_LB_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sfc_lb_stats SEC(".maps");

/*
 * sfc_lb_health: key a backend's stable id, value struct sfc_lb_health.
 * Not used here: written by the agent's health checks, read by libsfc when
 * it builds a Maglev table. Declared so the runtime creates and keeps it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SFC_LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct sfc_lb_health);
} sfc_lb_health SEC(".maps");

static __always_inline void count(__u32 stat)
{
	__u64 *c = bpf_map_lookup_elem(&sfc_lb_stats, &stat);

	if (c)
		(*c)++;
}

/* Packets sent on to a backend (reply false) or rewritten back from it. */
static __always_inline void account(__u32 svc, __u32 bk, __u32 len, bool reply)
{
	struct sfc_lb_counters *s = bpf_map_lookup_elem(&sfc_lb_svc_stats, &svc);
	struct sfc_lb_counters *b = bpf_map_lookup_elem(&sfc_lb_bk_stats, &bk);

	if (reply) {
		if (s) {
			s->reply_packets++;
			s->reply_bytes += len;
		}
		if (b) {
			b->reply_packets++;
			b->reply_bytes += len;
		}
	} else {
		if (s) {
			s->packets++;
			s->bytes += len;
		}
		if (b) {
			b->packets++;
			b->bytes += len;
		}
	}
}

static __always_inline void account_new_flow(__u32 svc, __u32 bk)
{
	struct sfc_lb_counters *s = bpf_map_lookup_elem(&sfc_lb_svc_stats, &svc);
	struct sfc_lb_counters *b = bpf_map_lookup_elem(&sfc_lb_bk_stats, &bk);

	if (s)
		s->new_flows++;
	if (b)
		b->new_flows++;
}

/* ---- checksums ---------------------------------------------------------- */

/*
 * One's complement arithmetic by hand rather than bpf_csum_diff(): a rewrite
 * changes a few words at known offsets, which a handful of adds in registers
 * cover without a helper call or a stack buffer, and an ICMP error's quote
 * is longer than the 512 bytes bpf_csum_diff() takes on older kernels.
 *
 * Words are added as loaded, in host order: the one's complement sum is the
 * same in either byte order once folded (RFC 1071 2(B)), and the result is
 * stored the same way. A 32-bit word adds its two 16-bit halves at once,
 * since 2^16 = 1 modulo 2^16 - 1.
 */
static __always_inline __u16 csum_fold(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s;
}

/* ~m + m' of RFC 1624 eqn 3, for a 32-bit and a 16-bit field. */
static __always_inline __u64 csum_diff32(__u32 from, __u32 to)
{
	return (__u64)(__u32)~from + to;
}

static __always_inline __u64 csum_diff16(__u16 from, __u16 to)
{
	return (__u64)(__u16)~from + to;
}

/*
 * RFC 1624 eqn 3: HC' = ~(~HC + ~m + m'), always what a full computation
 * gives, which RFC 1141's HC + m + ~m' misses in one case (RFC 1624 3).
 */
static __always_inline __u16 csum_update(__u16 check, __u64 diff)
{
	return ~csum_fold((__u16)~check + diff);
}

static __always_inline __u16 ipv4_csum(const __u32 *w)
{
	return ~csum_fold((__u64)w[0] + w[1] + w[2] + w[3] + w[4]);
}

/*
 * Sum of n 4-byte words at off. The frame ends where the words do, so every
 * read is inside it; the check is for the verifier. A bounded loop the
 * verifier walks once per word (at most ICMP6_QUOTE / 4).
 */
static __always_inline __u64 csum_words(void *data, void *data_end, __u32 off, __u32 n)
{
	__u64 sum = 0;
	__u32 i;

	for (i = 0; i < ICMP6_QUOTE / 4; i++) {
		__u32 *w;

		if (i >= n)
			break;
		w = sfc_hdr(data, data_end, off + i * 4, 4);
		if (!w)
			break;
		sum += *w;
	}
	return sum;
}

/* ---- nat ---------------------------------------------------------------- */

/*
 * Rewrites the destination (dst true) or the source address and port of a
 * TCP or UDP packet, with the IPv4 header checksum and the L4 checksum
 * (which covers the addresses through the pseudo-header) updated
 * incrementally, and sfc_pkt with them. An IPv4 UDP checksum of 0 means none
 * (RFC 768) and stays 0; a computed UDP checksum of 0 is sent as 0xFFFF.
 * Returns 0, or -1 if the headers are not where sfc_pkt says.
 */
static __always_inline int nat_rewrite(struct xdp_md *ctx, struct sfc_pkt *pkt, bool dst,
				       const __be32 *addr, __be16 port)
{
	void *data = sfc_ctx_ptr(ctx, data);
	void *data_end = sfc_ctx_ptr(ctx, data_end);
	bool tcp = pkt->l4_proto == IPPROTO_TCP;
	__u64 diff = 0;
	__u16 *check, *p, c;
	__be32 *a;
	int i;

	if (pkt->family == SFC_FAMILY_IPV4) {
		struct iphdr *iph = sfc_hdr(data, data_end, pkt->l3_off, sizeof(*iph));

		if (!iph)
			return -1;
		a = dst ? &iph->daddr : &iph->saddr;
		diff = csum_diff32(*a, addr[0]);
		iph->check = csum_update(iph->check, diff);
		*a = addr[0];
		if (dst)
			pkt->dst[0] = addr[0];
		else
			pkt->src[0] = addr[0];
	} else {
		struct ipv6hdr *ip6 = sfc_hdr(data, data_end, pkt->l3_off, sizeof(*ip6));

		if (!ip6)
			return -1;
		a = dst ? ip6->daddr.in6_u.u6_addr32 : ip6->saddr.in6_u.u6_addr32;
#pragma unroll
		for (i = 0; i < 4; i++) {
			diff += csum_diff32(a[i], addr[i]);
			a[i] = addr[i];
			if (dst)
				pkt->dst[i] = addr[i];
			else
				pkt->src[i] = addr[i];
		}
	}

	/*
	 * TCP and UDP both start with the ports; the checksum is fetched on
	 * its own, as one access size for both protocols is what the verifier
	 * can follow through the branches.
	 */
	p = sfc_hdr(data, data_end, pkt->l4_off + (dst ? 2 : 0), sizeof(*p));
	check = sfc_hdr(data, data_end,
			pkt->l4_off + (tcp ? __builtin_offsetof(struct tcphdr, check) :
					     __builtin_offsetof(struct udphdr, check)),
			sizeof(*check));
	if (!p || !check)
		return -1;
	diff += csum_diff16(*p, port);
	*p = port;
	if (dst)
		pkt->dport = port;
	else
		pkt->sport = port;

	if (!tcp && !*check && pkt->family == SFC_FAMILY_IPV4)
		return 0;
	c = csum_update(*check, diff);
	*check = c || tcp ? c : 0xffff;
	return 0;
}

/* ---- connections -------------------------------------------------------- */

static __always_inline void conn_key(struct sfc_lb_conn_key *k, const struct sfc_pkt *pkt,
				     __u8 kind)
{
	__builtin_memcpy(k->src, pkt->src, sizeof(k->src));
	__builtin_memcpy(k->dst, pkt->dst, sizeof(k->dst));
	k->sport = pkt->sport;
	k->dport = pkt->dport;
	k->proto = pkt->l4_proto;
	k->family = pkt->family;
	k->kind = kind;
	k->pad = 0;
}

static __always_inline __u8 closing_flag(const struct sfc_pkt *pkt)
{
	if (pkt->l4_proto == IPPROTO_TCP && (pkt->tcp_flags & (TCP_FIN | TCP_RST)))
		return SFC_LB_CONN_CLOSING;
	return 0;
}

/*
 * Idle longer than the protocol's timeout. seen_ns may be a little ahead of
 * now when another CPU refreshed it after this one read the clock: not idle.
 */
static __always_inline bool conn_expired(const struct sfc_lb_conn *c, __u8 proto, __u64 now)
{
	__u64 seen = c->seen_ns, t;

	if (proto == IPPROTO_TCP)
		t = c->flags & SFC_LB_CONN_CLOSING ? sfc_lb_cfg.tcp_closing_ns :
						    sfc_lb_cfg.tcp_timeout_ns;
	else
		t = sfc_lb_cfg.udp_timeout_ns;
	return now > seen && now - seen > t;
}

static __always_inline bool backend_usable(const struct sfc_lb_backend *bk, __u8 family)
{
	return bk && (bk->flags & SFC_LB_BK_PRESENT) && bk->family == family;
}

/*
 * The reply entry of a nat flow: what the backend sends back (its address
 * and port to the client's), mapped to the VIP and port to put back. A
 * reply entry left over from an earlier flow of the same tuple is
 * overwritten when overwrite is set. Counts CONN_NEW for an entry created.
 */
static __always_inline void reply_put(const struct sfc_pkt *pkt, const struct sfc_lb_backend *bk,
				      __u32 bid, __u32 sid, __u64 now, bool overwrite)
{
	struct sfc_lb_conn_key k = {};
	struct sfc_lb_conn v = {};
	long err;

	__builtin_memcpy(k.src, bk->addr, sizeof(k.src));
	__builtin_memcpy(k.dst, pkt->src, sizeof(k.dst));
	k.sport = bk->port;
	k.dport = pkt->sport;
	k.proto = pkt->l4_proto;
	k.family = pkt->family;
	k.kind = SFC_LB_CONN_REPLY;
	v.seen_ns = now;
	v.backend = bid;
	v.service = sid;
	__builtin_memcpy(v.addr, pkt->dst, sizeof(v.addr));
	v.port = pkt->dport;
	v.flags = closing_flag(pkt);

	err = bpf_map_update_elem(&sfc_lb_conns, &k, &v, BPF_NOEXIST);
	if (!err) {
		count(SFC_LB_STAT_CONN_NEW);
		return;
	}
	if (err == -EEXIST)
		err = overwrite ? bpf_map_update_elem(&sfc_lb_conns, &k, &v, BPF_ANY) : 0;
	if (err)
		count(SFC_LB_STAT_CONN_FAILED);
}

/*
 * Once a second per flow: the LRU may have evicted the reply entry of a flow
 * whose forward entry lives on (no replies for a while), and then the next
 * reply would reach the client from the backend's address. Put it back. The
 * lookup also marks it used, so a live flow's pair ages together.
 */
static __always_inline void reply_ensure(const struct sfc_pkt *pkt,
					 const struct sfc_lb_backend *bk, __u32 bid, __u32 sid,
					 __u64 now)
{
	struct sfc_lb_conn_key k = {};

	__builtin_memcpy(k.src, bk->addr, sizeof(k.src));
	__builtin_memcpy(k.dst, pkt->src, sizeof(k.dst));
	k.sport = bk->port;
	k.dport = pkt->sport;
	k.proto = pkt->l4_proto;
	k.family = pkt->family;
	k.kind = SFC_LB_CONN_REPLY;
	if (!bpf_map_lookup_elem(&sfc_lb_conns, &k))
		reply_put(pkt, bk, bid, sid, now, false);
}

/*
 * The backend of a known flow, or NULL when the flow has to be picked again:
 * its backend left the config or the service was re-created under another
 * id (CONN_GONE; a drained backend is still present and keeps its flows),
 * the entry idled out (CONN_EXPIRED), or a bare SYN opens a new connection
 * on the tuple of a closing one (also counted as CONN_EXPIRED: the entry is
 * replaced for the same reason).
 */
static __always_inline struct sfc_lb_backend *conn_backend(struct sfc_lb_conn *c,
							   const struct sfc_lb_svc *svc,
							   const struct sfc_pkt *pkt, __u64 now,
							   __u32 *bid)
{
	struct sfc_lb_backend *bk;
	__u32 id = c->backend;

	bk = bpf_map_lookup_elem(&sfc_lb_backends, &id);
	if (!backend_usable(bk, pkt->family) || c->service != svc->id) {
		count(SFC_LB_STAT_CONN_GONE);
		return NULL;
	}
	if (conn_expired(c, pkt->l4_proto, now) ||
	    (pkt->l4_proto == IPPROTO_TCP && (c->flags & SFC_LB_CONN_CLOSING) &&
	     (pkt->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)) {
		count(SFC_LB_STAT_CONN_EXPIRED);
		return NULL;
	}
	count(SFC_LB_STAT_CONN_HIT);
	if (now > c->seen_ns + SFC_LB_TOUCH_NS) {
		c->seen_ns = now;
		if (svc->mode == SFC_LB_NAT)
			reply_ensure(pkt, bk, id, svc->id, now);
	}
	/* Written only when it changes: the entry's cache line stays shared. */
	if (closing_flag(pkt) && !(c->flags & SFC_LB_CONN_CLOSING))
		c->flags |= SFC_LB_CONN_CLOSING;
	*bid = id;
	return bk;
}

/* Maglev: the client's hash picks an entry of the service's table. */
static __always_inline struct sfc_lb_backend *pick(const struct sfc_pkt *pkt,
						   const struct sfc_lb_svc *svc, __u32 *bid)
{
	__u32 m = sfc_lb_cfg.table_size, idx, id, *e;
	struct sfc_lb_backend *bk;

	if (!svc->n_backends || !m)
		return NULL;
	idx = svc->table_off + sfc_lb_hash(pkt->src, pkt->sport, pkt->dport, pkt->l4_proto) % m;
	e = bpf_map_lookup_elem(&sfc_lb_maglev, &idx);
	if (!e)
		return NULL;
	id = *e;
	if (id == SFC_LB_NO_BACKEND)
		return NULL;
	bk = bpf_map_lookup_elem(&sfc_lb_backends, &id);
	if (!backend_usable(bk, pkt->family))
		return NULL;
	*bid = id;
	return bk;
}

/*
 * Records the backend picked for a flow. An entry found stale is rewritten
 * in place: no allocation that could fail or evict, and its LRU place is
 * kept. A new one is inserted; losing the race to another CPU that inserted
 * it first is fine (the same hash picks the same backend). CONN_NEW counts
 * entries created, forward and reply, so that created - present is the
 * number of evictions.
 */
static __always_inline void conn_open(const struct sfc_lb_conn_key *k, struct sfc_lb_conn *old,
				      const struct sfc_pkt *pkt, const struct sfc_lb_svc *svc,
				      const struct sfc_lb_backend *bk, __u32 bid, __u64 now)
{
	__u32 sid = svc->id;
	long err;

	if (old) {
		old->seen_ns = now;
		old->backend = bid;
		old->service = sid;
		old->flags = closing_flag(pkt);
	} else {
		struct sfc_lb_conn v = {
			.seen_ns = now,
			.backend = bid,
			.service = sid,
			.flags = closing_flag(pkt),
		};

		err = bpf_map_update_elem(&sfc_lb_conns, k, &v, BPF_NOEXIST);
		if (!err)
			count(SFC_LB_STAT_CONN_NEW);
		else if (err != -EEXIST)
			count(SFC_LB_STAT_CONN_FAILED);
	}
	if (svc->mode == SFC_LB_NAT)
		reply_put(pkt, bk, bid, sid, now, true);
	account_new_flow(sid, bid);
}

/* ---- dsr ---------------------------------------------------------------- */

/* Reads the L2 header (and a few bytes after it) before the head moves. */
static __always_inline int l2_save(struct xdp_md *ctx, const struct sfc_pkt *pkt, __u64 *l2)
{
	void *data = sfc_ctx_ptr(ctx, data);
	void *data_end = sfc_ctx_ptr(ctx, data_end);
	void *h;

	if (pkt->l3_off > L2_SAVE)
		return -1;
	h = sfc_hdr(data, data_end, 0, L2_SAVE);
	if (!h)
		return -1;
	__builtin_memcpy(l2, h, L2_SAVE);
	return 0;
}

/*
 * Moves the head by -grow and writes the saved L2 header at the new front.
 * Returns 0, or -1 with the frame unchanged (the head did not move) or, past
 * that point, -1 from a frame too short: the caller drops either way.
 */
static __always_inline int l2_grow(struct xdp_md *ctx, const __u64 *l2, int grow)
{
	void *data, *data_end, *h;

	if (bpf_xdp_adjust_head(ctx, -grow))
		return -1;
	data = sfc_ctx_ptr(ctx, data);
	data_end = sfc_ctx_ptr(ctx, data_end);
	h = sfc_hdr(data, data_end, 0, L2_SAVE);
	if (!h)
		return -1;
	__builtin_memcpy(h, l2, L2_SAVE);
	return 0;
}

static __always_inline int encap4(struct xdp_md *ctx, struct sfc_pkt *pkt,
				  const struct sfc_lb_backend *bk, __u8 tos)
{
	void *data = sfc_ctx_ptr(ctx, data);
	void *data_end = sfc_ctx_ptr(ctx, data_end);
	__be32 src = sfc_lb_cfg.encap_src4;
	struct iphdr *o;

	o = sfc_hdr(data, data_end, pkt->l3_off, sizeof(*o));
	if (!o)
		return -1;
	if (!src)
		src = pkt->dst[0];
	*(__u8 *)o = 0x45;	/* version 4, IHL 5: no bitfield read-modify-write */
	o->tos = tos;		/* DSCP and ECN as the inner header (RFC 6040 normal mode) */
	o->tot_len = bpf_htons(pkt->l3_len + sizeof(*o));
	/* RFC 6864: an atomic datagram (DF, never fragmented) needs no unique ID. */
	o->id = 0;
	o->frag_off = bpf_htons(IP_DF);
	o->ttl = BUILT_TTL;
	o->protocol = IPPROTO_IPIP;
	o->check = 0;
	o->saddr = src;
	o->daddr = bk->addr[0];
	o->check = ipv4_csum((__u32 *)o);

	pkt->src[0] = src;
	pkt->dst[0] = bk->addr[0];
	pkt->l4_proto = IPPROTO_IPIP;
	return 0;
}

static __always_inline int encap6(struct xdp_md *ctx, struct sfc_pkt *pkt,
				  const struct sfc_lb_backend *bk, __be32 w0)
{
	void *data = sfc_ctx_ptr(ctx, data);
	void *data_end = sfc_ctx_ptr(ctx, data_end);
	__be32 src[4];
	struct ipv6hdr *o;
	__u32 any = 0, fl;
	int i;

	o = sfc_hdr(data, data_end, pkt->l3_off, sizeof(*o));
	if (!o)
		return -1;
#pragma unroll
	for (i = 0; i < 4; i++) {
		src[i] = sfc_lb_cfg.encap_src6[i];
		any |= src[i];
	}
	if (!any)
		__builtin_memcpy(src, pkt->dst, sizeof(src));
	/*
	 * RFC 6438: a tunnel's flow label from the inner flow's 5-tuple, so
	 * that ECMP on the way keeps a flow on one path. The inner packet is
	 * still as the client sent it, so the balancer's own hash is that.
	 */
	fl = sfc_lb_hash(pkt->src, pkt->sport, pkt->dport, pkt->l4_proto) & 0xfffff;
	/* Version 6, the inner traffic class (RFC 2473 6.5), the label. */
	*(__be32 *)o = bpf_htonl(0x60000000 | (bpf_ntohl(w0) & 0x0ff00000) | fl);
	o->payload_len = bpf_htons(pkt->l3_len);
	o->nexthdr = IPPROTO_IPV6;
	o->hop_limit = BUILT_TTL;
	__builtin_memcpy(o->saddr.in6_u.u6_addr32, src, sizeof(src));
	__builtin_memcpy(o->daddr.in6_u.u6_addr32, bk->addr, sizeof(bk->addr));

	__builtin_memcpy(pkt->src, src, sizeof(src));
	__builtin_memcpy(pkt->dst, bk->addr, sizeof(pkt->dst));
	pkt->l4_proto = IPPROTO_IPV6;
	return 0;
}

/*
 * IP-in-IP of the family (the loader gives a VIP backends of its own family
 * only) to the backend, in front of the untouched packet. sfc_pkt then
 * describes the outer packet: its addresses and protocol (IPIP or IPv6),
 * no ports and no SFC_PKT_L4, so that later functions and the egress's FIB
 * lookup see the tunnel, not the client's flow. l4_off and payload_off move
 * with the inner packet and still point at its TCP/UDP header and payload.
 */
static __always_inline int encap(struct xdp_md *ctx, struct sfc_pkt *pkt,
				 const struct sfc_lb_backend *bk)
{
	void *data = sfc_ctx_ptr(ctx, data);
	void *data_end = sfc_ctx_ptr(ctx, data_end);
	bool v4 = pkt->family == SFC_FAMILY_IPV4;
	int outer = v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u64 l2[L2_SAVE / 8];
	__be32 *w0, first;
	int err;

	/* The inner header's first word: IPv4 TOS, IPv6 traffic class. */
	w0 = sfc_hdr(data, data_end, pkt->l3_off, 4);
	if (!w0 || l2_save(ctx, pkt, l2))
		return -1;
	first = *w0;
	if (l2_grow(ctx, l2, outer))
		return -1;
	err = v4 ? encap4(ctx, pkt, bk, ((__u8 *)&first)[1]) : encap6(ctx, pkt, bk, first);
	if (err)
		return -1;
	pkt->l3_len += outer;
	pkt->l4_off += outer;
	pkt->payload_off += outer;
	/* Fragment, options and extension header flags were the inner packet's. */
	pkt->flags = 0;
	pkt->sport = 0;
	pkt->dport = 0;
	pkt->tcp_flags = 0;
	pkt->ttl = BUILT_TTL;
	return 0;
}

/*
 * Turns the frame into an ICMP "fragmentation needed" (IPv4, RFC 1191) or
 * ICMPv6 "packet too big" (RFC 4443 3.2) from the VIP to the client, with
 * next-hop MTU mtu - outer, for XDP_TX back the way it came: the MACs
 * swapped, the VLAN tags kept. The new IP and ICMP headers go in front of the
 * offending packet, which becomes the quote, cut to ICMPx_QUOTE.
 */
static __always_inline int icmp_too_big(struct xdp_md *ctx, struct sfc_pkt *pkt, __u32 mtu)
{
	bool v4 = pkt->family == SFC_FAMILY_IPV4;
	__u32 off = pkt->l3_off, iph = v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u32 quote = pkt->l3_len, cur, want, *icmp;
	__u64 l2[L2_SAVE / 8], mac[2], sum;
	void *data, *data_end;
	__u8 *eth;
	int i;

	if (quote > (v4 ? ICMP4_QUOTE : ICMP6_QUOTE))
		quote = v4 ? ICMP4_QUOTE : ICMP6_QUOTE;
	quote &= ~3u;
	if (l2_save(ctx, pkt, l2))
		return -1;
	/* Back to the sender: swap the MACs in the saved header. */
	eth = (__u8 *)l2;
	__builtin_memcpy(mac, eth, 12);
	__builtin_memcpy(eth, (__u8 *)mac + 6, 6);
	__builtin_memcpy(eth + 6, mac, 6);
	if (l2_grow(ctx, l2, iph + 8))
		return -1;

	data = sfc_ctx_ptr(ctx, data);
	data_end = sfc_ctx_ptr(ctx, data_end);
	cur = data_end - data;
	want = off + iph + 8 + quote;
	if (want > cur)
		return -1;
	if (want < cur && bpf_xdp_adjust_tail(ctx, (int)want - (int)cur))
		return -1;
	data = sfc_ctx_ptr(ctx, data);
	data_end = sfc_ctx_ptr(ctx, data_end);

	icmp = sfc_hdr(data, data_end, off + iph, 8);
	if (!icmp)
		return -1;
	if (v4) {
		struct iphdr *o = sfc_hdr(data, data_end, off, sizeof(*o));

		if (!o)
			return -1;
		*(__u8 *)o = 0x45;
		o->tos = 0xc0;		/* precedence 6, internetwork control: RFC 1812 4.3.2.5 */
		o->tot_len = bpf_htons(iph + 8 + quote);
		o->id = 0;
		o->frag_off = bpf_htons(IP_DF);
		o->ttl = BUILT_TTL;
		o->protocol = IPPROTO_ICMP;
		o->check = 0;
		o->saddr = pkt->dst[0];
		o->daddr = pkt->src[0];
		o->check = ipv4_csum((__u32 *)o);
		/* Type, code, checksum; unused, next-hop MTU (RFC 1191 4). */
		icmp[0] = bpf_htonl(ICMP_DEST_UNREACH << 24 | ICMP_FRAG_NEEDED << 16);
		icmp[1] = bpf_htonl(mtu - iph);
		sum = 0;
	} else {
		struct ipv6hdr *o = sfc_hdr(data, data_end, off, sizeof(*o));

		if (!o)
			return -1;
		*(__be32 *)o = bpf_htonl(0x60000000);
		o->payload_len = bpf_htons(8 + quote);
		o->nexthdr = IPPROTO_ICMPV6;
		o->hop_limit = BUILT_TTL;
		__builtin_memcpy(o->saddr.in6_u.u6_addr32, pkt->dst, 16);
		__builtin_memcpy(o->daddr.in6_u.u6_addr32, pkt->src, 16);
		icmp[0] = bpf_htonl(ICMPV6_PKT_TOOBIG << 24);
		icmp[1] = bpf_htonl(mtu - iph);
		/* RFC 8200 8.1: the pseudo-header, in the checksum's byte order. */
		sum = (__u64)bpf_htonl(8 + quote) + bpf_htonl(IPPROTO_ICMPV6);
#pragma unroll
		for (i = 0; i < 4; i++)
			sum += (__u64)pkt->src[i] + pkt->dst[i];
	}
	sum += (__u64)icmp[0] + icmp[1];
	sum += csum_words(data, data_end, off + iph + 8, quote / 4);
	((__u16 *)icmp)[1] = ~csum_fold(sum);
	return 0;
}

/* Too big for the tunnel: tell the client (PMTU discovery), or drop. */
static __always_inline int too_big(struct xdp_md *ctx, struct sfc_hop *hop, __u32 mtu)
{
	void *data = sfc_ctx_ptr(ctx, data);
	void *data_end = sfc_ctx_ptr(ctx, data_end);
	struct sfc_pkt *pkt = hop->pkt;
	struct iphdr *iph;

	if (pkt->family == SFC_FAMILY_IPV4) {
		iph = sfc_hdr(data, data_end, pkt->l3_off, sizeof(*iph));
		if (!iph) {
			count(SFC_LB_STAT_ERROR);
			return sfc_drop(hop);
		}
		/* Without DF the sender asked not to be told: RFC 1191 3. */
		if (!(iph->frag_off & bpf_htons(IP_DF))) {
			count(SFC_LB_STAT_TOO_BIG_DROP);
			return sfc_drop(hop);
		}
	}
	if (icmp_too_big(ctx, hop->pkt, mtu)) {
		count(SFC_LB_STAT_ERROR);
		return sfc_drop(hop);
	}
	count(SFC_LB_STAT_TOO_BIG);
	return sfc_forward(hop, XDP_TX);
}

static __always_inline int dsr(struct xdp_md *ctx, struct sfc_hop *hop, __u32 sid,
			       const struct sfc_lb_backend *bk, __u32 bid, __u32 len)
{
	struct sfc_pkt *pkt = hop->pkt;
	__u32 outer = pkt->family == SFC_FAMILY_IPV4 ? sizeof(struct iphdr) :
						       sizeof(struct ipv6hdr);
	__u32 mtu = sfc_lb_cfg.mtu;

	/* mtu 0: not checked. */
	if (mtu && pkt->l3_len + outer > mtu)
		return too_big(ctx, hop, mtu);
	account(sid, bid, len, false);
	if (encap(ctx, pkt, bk)) {
		count(SFC_LB_STAT_ERROR);
		return sfc_drop(hop);
	}
	return sfc_next(ctx, hop);
}

/* ---- the two paths ------------------------------------------------------ */

static __always_inline int service(struct xdp_md *ctx, struct sfc_hop *hop,
				   const struct sfc_lb_svc *svc, __u32 len)
{
	struct sfc_pkt *pkt = hop->pkt;
	struct sfc_lb_backend *bk = NULL;
	struct sfc_lb_conn_key k;
	struct sfc_lb_conn *c;
	__u64 now = bpf_ktime_get_ns();
	__u32 bid = 0, sid = svc->id;

	count(SFC_LB_STAT_VIP);
	conn_key(&k, pkt, SFC_LB_CONN_FWD);
	c = bpf_map_lookup_elem(&sfc_lb_conns, &k);
	if (c)
		bk = conn_backend(c, svc, pkt, now, &bid);
	if (!bk) {
		bk = pick(pkt, svc, &bid);
		if (!bk) {
			count(SFC_LB_STAT_NO_BACKEND);
			return sfc_drop(hop);
		}
		conn_open(&k, c, pkt, svc, bk, bid, now);
	}
	if (svc->mode == SFC_LB_DSR)
		return dsr(ctx, hop, sid, bk, bid, len);
	account(sid, bid, len, false);
	if (nat_rewrite(ctx, pkt, true, bk->addr, bk->port)) {
		count(SFC_LB_STAT_ERROR);
		return sfc_drop(hop);
	}
	return sfc_next(ctx, hop);
}

/*
 * A backend's FIN or RST closes the flow too: the forward entry, keyed as
 * the client sends (pkt is already rewritten: the VIP is its source).
 */
static __always_inline void reply_closing(struct sfc_lb_conn *c, const struct sfc_pkt *pkt)
{
	struct sfc_lb_conn_key k = {};
	struct sfc_lb_conn *f;

	if (!(c->flags & SFC_LB_CONN_CLOSING))
		c->flags |= SFC_LB_CONN_CLOSING;
	__builtin_memcpy(k.src, pkt->dst, sizeof(k.src));
	__builtin_memcpy(k.dst, pkt->src, sizeof(k.dst));
	k.sport = pkt->dport;
	k.dport = pkt->sport;
	k.proto = pkt->l4_proto;
	k.family = pkt->family;
	k.kind = SFC_LB_CONN_FWD;
	f = bpf_map_lookup_elem(&sfc_lb_conns, &k);
	if (f && !(f->flags & SFC_LB_CONN_CLOSING))
		f->flags |= SFC_LB_CONN_CLOSING;
}

static __always_inline int reply(struct xdp_md *ctx, struct sfc_hop *hop, __u32 len)
{
	struct sfc_pkt *pkt = hop->pkt;
	struct sfc_lb_conn_key k;
	struct sfc_lb_conn *c;
	__u64 now;

	if (!sfc_lb_cfg.has_nat)
		goto other;
	conn_key(&k, pkt, SFC_LB_CONN_REPLY);
	c = bpf_map_lookup_elem(&sfc_lb_conns, &k);
	if (!c)
		goto other;
	if (nat_rewrite(ctx, pkt, false, c->addr, c->port)) {
		count(SFC_LB_STAT_ERROR);
		return sfc_drop(hop);
	}
	count(SFC_LB_STAT_REPLY);
	account(c->service, c->backend, len, true);
	now = bpf_ktime_get_ns();
	if (now > c->seen_ns + SFC_LB_TOUCH_NS)
		c->seen_ns = now;
	if (closing_flag(pkt))
		reply_closing(c, pkt);
	return sfc_next(ctx, hop);
other:
	count(SFC_LB_STAT_OTHER);
	return sfc_next(ctx, hop);
}

SEC("xdp")
int sfc_lb(struct xdp_md *ctx)
{
	struct sfc_lb_svc_key sk = {};
	struct sfc_lb_svc *svc;
	struct sfc_hop hop;
	struct sfc_pkt *pkt;
	__u32 len = sfc_ctx_len(ctx);

	if (sfc_hop_begin(ctx, &hop, sfc_stage_id))
		return XDP_ABORTED;
	pkt = hop.pkt;
	if (!(pkt->flags & SFC_PKT_L4) ||
	    (pkt->l4_proto != IPPROTO_TCP && pkt->l4_proto != IPPROTO_UDP)) {
		/* Telling a later fragment to a VIP from any other would take a
		 * lookup per address; fragments are rare enough to count alone. */
		count(pkt->flags & SFC_PKT_FRAG ? SFC_LB_STAT_NO_L4 : SFC_LB_STAT_OTHER);
		return sfc_next(ctx, &hop);
	}
	__builtin_memcpy(sk.vip, pkt->dst, sizeof(sk.vip));
	sk.port = pkt->dport;
	sk.proto = pkt->l4_proto;
	sk.family = pkt->family;
	svc = bpf_map_lookup_elem(&sfc_lb_services, &sk);
	if (svc)
		return service(ctx, &hop, svc, len);
	return reply(ctx, &hop, len);
}

char LICENSE[] SEC("license") = "GPL";
