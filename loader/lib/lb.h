/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The load balancer's config and its Maglev tables, shared by the function
 * type (nf_lb.c: parse, configure), sfcctl lb (lb_status.c) and the agent's
 * health checks, which rebuild a service's table when a backend goes down or
 * comes back. Everyone builds tables with lb_maglev__build(), so a table the
 * agent rewrites is the one libsfc would have written for the same health.
 */
#ifndef SFC_LB_H
#define SFC_LB_H

#include <stdbool.h>
#include <stdint.h>
#include "shared/sfc_abi.h"
#include "shared/sfc_lb.h"
#include "sfc_yaml.h"

enum lb_hc_type {
	LB_HC_NONE = 0,
	LB_HC_TCP,		/* a TCP connect */
	LB_HC_HTTP,		/* GET path, expects a 2xx or 3xx status */
};

struct lb_health_check {
	enum lb_hc_type type;
	uint16_t port;		/* 0: the backend's port */
	uint64_t interval_ns;
	uint64_t timeout_ns;
	uint32_t rise, fall;
	char path[128];		/* http */
};

struct lb_backend {
	uint8_t family;		/* SFC_FAMILY_* */
	uint8_t addr[16];	/* network order; IPv4 in the first 4 bytes */
	uint16_t port;		/* host order: where nat sends (the service's port by default) */
	uint32_t weight;	/* 0..SFC_LB_MAX_WEIGHT */
	bool drain;
	int line;		/* in the chain file, for messages; 0 when unknown */
};

struct lb_service {
	uint8_t family;
	uint8_t vip[16];
	uint16_t port;		/* host order */
	uint8_t proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	uint8_t mode;		/* enum sfc_lb_mode */
	struct lb_health_check hc;
	unsigned int n_backends;
	struct lb_backend *backends;
};

struct lb_config {
	unsigned int n_services;
	struct lb_service *services;
	uint32_t max_connections;
	uint32_t table_size;
	uint64_t tcp_timeout_ns, tcp_closing_ns, udp_timeout_ns;
	uint32_t mtu;
	bool has_encap4, has_encap6;
	uint8_t encap_src4[4], encap_src6[16];
};

/* The type's parse/free, for the agent (which reads the spec pin's JSON). */
int lb_config__parse(const struct sfc_ynode *config, void **cfg);
void lb_config__free(void *cfg);

/* Key of a service or backend in sfc_lb_ids. */
void lb_service__id_key(const struct lb_service *s, struct sfc_lb_id_key *k);
void lb_backend__id_key(const struct lb_backend *b, struct sfc_lb_id_key *k);

/*
 * Fill table[0..m-1] with the ids of the backends (ids[i] for backends[i])
 * by weighted Maglev: each backend's permutation of the table comes from a
 * hash of its address and port, and a backend of weight w claims w turns of
 * every max-weight turns. up[i] false (down, or NULL: all up), drain or
 * weight 0 leave a backend out. Entries stay SFC_LB_NO_BACKEND when no
 * backend is left. Returns the number of backends in the table, or -errno.
 */
int lb_maglev__build(const struct lb_service *s, const uint32_t *ids, const bool *up,
		     uint32_t m, uint32_t *table);

/* The stable ids of s's backends, read from the sfc_lb_ids map fd. */
int lb_backend_ids(int ids_fd, const struct lb_service *s, uint32_t *ids);

/*
 * (Re)write service s's table in the sfc_lb_maglev map fd at table_off,
 * with the backends the sfc_lb_health map fd (or -1: all up) does not call
 * down. Returns the number of backends in the table, or -errno.
 */
int lb_maglev__write(int maglev_fd, int health_fd, int ids_fd, const struct lb_service *s,
		     uint32_t table_off, uint32_t m);

/* "192.0.2.10:80" / "[2001:db8::10]:80"; buf of at least 64 bytes. */
const char *lb_addr_port__str(uint8_t family, const uint8_t *addr, uint16_t port, char *buf,
			      size_t len);

#endif
