/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Load balancer ABI: the maps bpf/nf_lb.bpf.c reads and libsfc (configure),
 * the agent (health checks) and sfcctl lb read or write.
 *
 * Two kinds of maps. The generation's maps (config_swaps: a config change
 * builds a new generation with fresh ones, swapped in whole by the root
 * array, so no packet sees half a service table), pinned under
 * <chain>/gen<N>/nf/<function>/:
 *
 *   sfc_lb_services	HASH struct sfc_lb_svc_key -> struct sfc_lb_svc, one
 *			entry per configured service. Written by configure().
 *   sfc_lb_backends	ARRAY [max_backends] struct sfc_lb_backend, indexed
 *			by the backend's stable id (sfc_lb_ids). Entries of
 *			backends not in the config have flags 0.
 *   sfc_lb_maglev	ARRAY [n_services * table_size] __u32 backend id, or
 *			SFC_LB_NO_BACKEND. Service s owns entries
 *			s.table_off .. s.table_off + table_size - 1. Written by
 *			configure(); rewritten in place by the agent when a
 *			health check takes a backend out or puts it back (each
 *			4-byte entry changes atomically; during the rewrite a
 *			new flow may still pick the backend being removed).
 *
 * The function's maps, kept across generations under <chain>/nf/<function>/:
 *
 *   sfc_lb_conns	LRU_HASH struct sfc_lb_conn_key -> struct sfc_lb_conn,
 *			max_connections entries. A forward entry per flow
 *			(client -> VIP) and, in nat mode, a reply entry
 *			(backend -> client) that maps replies back to the VIP.
 *			Written by the data path, read by sfcctl lb (active
 *			connections). Evictions are derived as for flowmon:
 *			created - present.
 *   sfc_lb_ids		HASH struct sfc_lb_id_key -> __u32 id, written by
 *			libsfc only: the stable id of each service and backend,
 *			the index of their counters and (backends) of
 *			sfc_lb_backends and sfc_lb_health.
 *   sfc_lb_svc_stats	PERCPU_ARRAY [max_services] struct sfc_lb_counters.
 *   sfc_lb_bk_stats	PERCPU_ARRAY [max_backends] struct sfc_lb_counters.
 *   sfc_lb_stats	PERCPU_ARRAY [SFC_LB_STAT_MAX] __u64, enum sfc_lb_stat.
 *   sfc_lb_health	ARRAY [max_backends] struct sfc_lb_health, written by the
 *			agent only (zeroed: up, never checked). libsfc reads it
 *			when it builds a Maglev table, so that a re-apply keeps
 *			a backend the agent found down out of new flows.
 *
 * A backend is identified by its address and port (the port new flows are
 * sent to); the same backend in two services shares one id, one health state
 * and one set of counters. A service by VIP, port and protocol.
 */
#ifndef SFC_SHARED_LB_H
#define SFC_SHARED_LB_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/*
 * The loadbalancer type's map ABI: the layout and meaning of what it keeps pinned
 * in nf/<function>/ (its maps, but those that belong to a generation).
 * Bump it whenever one of them changes in a way a chain applied before
 * cannot be read with, and teach loader/lib/compat.c the migration or
 * let it refuse (docs/design.md, "Versions and upgrades"). 1: sfc 0.1.0.
 */
#define SFC_LB_MAP_ABI 1

#define SFC_LB_NO_BACKEND 0xFFFFFFFFu

/* Limits of the config; map sizes derive from them. */
#define SFC_LB_MAX_SERVICES 256		/* services of one function */
#define SFC_LB_MAX_BACKENDS 4096	/* distinct backends of one function */
#define SFC_LB_MAX_WEIGHT 256
#define SFC_LB_DEFAULT_TABLE 65537	/* Maglev table size (prime) */
#define SFC_LB_MIN_TABLE 251
#define SFC_LB_MAX_TABLE 1048573

/* struct sfc_lb_svc_key.proto and sfc_lb_conn_key.proto: IPPROTO_TCP/UDP. */

struct sfc_lb_svc_key {
	__be32 vip[4];		/* IPv4 in vip[0], the rest 0 */
	__be16 port;		/* network order */
	__u8 proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family;		/* SFC_FAMILY_IPV4 / _IPV6 */
};

/* sfc_lb_svc.mode */
enum sfc_lb_mode {
	SFC_LB_NAT = 0,		/* destination rewritten to the backend */
	SFC_LB_DSR = 1,		/* IP-in-IP to the backend, which replies directly */
};

struct sfc_lb_svc {
	__u32 id;		/* stable id: index of sfc_lb_svc_stats */
	__u32 table_off;	/* first entry of its Maglev table in sfc_lb_maglev */
	__u8 mode;		/* enum sfc_lb_mode */
	__u8 pad[3];
	__u32 n_backends;	/* backends with weight in the table (0: drop) */
};

/* sfc_lb_backend.flags */
#define SFC_LB_BK_PRESENT	0x01	/* in the config: connections to it stay */
#define SFC_LB_BK_DRAIN		0x02	/* state: drain (no new flows) */

struct sfc_lb_backend {
	__be32 addr[4];		/* IPv4 in addr[0] */
	__be16 port;		/* network order: where nat sends; dsr: the VIP's port */
	__u8 family;
	__u8 flags;		/* SFC_LB_BK_* */
};

/* sfc_lb_conn_key.kind */
#define SFC_LB_CONN_FWD		0	/* client -> VIP, as the client sent it */
#define SFC_LB_CONN_REPLY	1	/* backend -> client, as the backend sends it (nat) */

struct sfc_lb_conn_key {
	__be32 src[4];
	__be32 dst[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 kind;		/* SFC_LB_CONN_* */
	__u8 pad;
};

/* sfc_lb_conn.flags */
#define SFC_LB_CONN_CLOSING	0x01	/* FIN or RST seen: the short timeout applies */

struct sfc_lb_conn {
	__u64 seen_ns;		/* bpf_ktime_get_ns() of the last packet, refreshed
				 * at most once a second (SFC_LB_TOUCH_NS) */
	__u32 backend;		/* backend id */
	__u32 service;		/* service id */
	__be32 addr[4];		/* reply entries: the VIP to put back as source */
	__be16 port;		/* reply entries: the VIP's port */
	__u8 flags;		/* SFC_LB_CONN_* */
	__u8 pad[5];
};

#define SFC_LB_TOUCH_NS 1000000000ull

/* Per service and per backend, summed over CPUs by readers. */
struct sfc_lb_counters {
	__u64 packets;		/* client -> backend */
	__u64 bytes;
	__u64 reply_packets;	/* backend -> client, rewritten back (nat) */
	__u64 reply_bytes;
	__u64 new_flows;	/* backend chosen by Maglev (new or expired flow) */
};

/* sfc_lb_stats keys */
enum sfc_lb_stat {
	SFC_LB_STAT_VIP = 0,		/* packets to a service */
	SFC_LB_STAT_REPLY,		/* replies rewritten back to a VIP */
	SFC_LB_STAT_OTHER,		/* handed on untouched (not a VIP, not a reply) */
	SFC_LB_STAT_CONN_NEW,		/* connection entries created */
	SFC_LB_STAT_CONN_HIT,		/* packets of a known connection */
	SFC_LB_STAT_CONN_EXPIRED,	/* entries found expired and replaced */
	SFC_LB_STAT_CONN_GONE,		/* entries whose backend left the config */
	SFC_LB_STAT_CONN_FAILED,	/* the table refused an insert (flow still served) */
	SFC_LB_STAT_NO_BACKEND,		/* dropped: no backend up for the service */
	SFC_LB_STAT_TOO_BIG,		/* dsr: too big to encapsulate, ICMP sent back */
	SFC_LB_STAT_TOO_BIG_DROP,	/* dsr: too big, and no ICMP possible (IPv4 without DF) */
	SFC_LB_STAT_NO_L4,		/* to a VIP address without ports (fragment): handed on */
	SFC_LB_STAT_ERROR,		/* head/tail adjust failed: dropped */
	SFC_LB_STAT_MAX,
};

/* sfc_lb_id_key.kind */
#define SFC_LB_ID_SERVICE	0
#define SFC_LB_ID_BACKEND	1

struct sfc_lb_id_key {
	__be32 addr[4];		/* service: VIP; backend: address */
	__be16 port;		/* network order */
	__u8 proto;		/* services only; 0 for backends */
	__u8 family;
	__u8 kind;		/* SFC_LB_ID_* */
	__u8 pad[3];
};

/* sfc_lb_health.state */
#define SFC_LB_HEALTH_UNKNOWN	0	/* never checked: treated as up */
#define SFC_LB_HEALTH_UP	1
#define SFC_LB_HEALTH_DOWN	2

struct sfc_lb_health {
	__u8 state;		/* SFC_LB_HEALTH_* */
	__u8 pad[3];
	__u32 transitions;	/* up <-> down changes seen by the agent */
	__u64 checks;		/* probes sent */
	__u64 failures;		/* probes that failed */
	__u64 changed_ms;	/* CLOCK_REALTIME ms of the last transition */
};

/*
 * Load-time settings of a generation (rodata of nf_lb, set by prepare(): a
 * change is a config change, and so a new generation).
 */
struct sfc_lb_cfg {
	__u64 tcp_timeout_ns;		/* idle TCP connection */
	__u64 tcp_closing_ns;		/* after FIN or RST */
	__u64 udp_timeout_ns;		/* idle UDP flow */
	__u32 table_size;		/* Maglev M, a prime */
	__u16 mtu;			/* dsr: largest packet towards backends */
	__u8 has_nat;			/* a nat service exists: look replies up */
	__u8 pad;
	__be32 encap_src4;		/* dsr: outer IPv4 source (0: the VIP) */
	__be32 encap_src6[4];		/* dsr: outer IPv6 source (all 0: the VIP) */
};

/*
 * The flow hash that picks a new flow's Maglev entry: murmur3's mixing over
 * the client's address and ports and the protocol (the VIP is the service's
 * own, so it adds nothing). The same code runs in the data path and in
 * userspace (tests, sfcctl lb), so both agree on which backend a flow gets:
 * entry = hash % table_size.
 */
static inline __u32 sfc_lb_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = (k << 15) | (k >> 17);
	k *= 0x1b873593u;
	h ^= k;
	h = (h << 13) | (h >> 19);
	return h * 5 + 0xe6546b64u;
}

/* src: the client's address as in the packet (network order words); sport,
 * dport as in the packet (network order). */
static inline __u32 sfc_lb_hash(const __be32 src[4], __be16 sport, __be16 dport, __u8 proto)
{
	__u32 h = 0x5fc1b00bu;

	h = sfc_lb_mix(h, (__u32)src[0]);
	h = sfc_lb_mix(h, (__u32)src[1]);
	h = sfc_lb_mix(h, (__u32)src[2]);
	h = sfc_lb_mix(h, (__u32)src[3]);
	h = sfc_lb_mix(h, ((__u32)sport << 16) | (__u32)dport);
	h = sfc_lb_mix(h, proto);
	h ^= 24;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

#endif /* SFC_SHARED_LB_H */
