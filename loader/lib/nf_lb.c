// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * loadbalancer: L4 virtual IPs spread over backends by weighted Maglev, with
 * a connection table, nat or dsr (IP-in-IP) forwarding. The data path is
 * bpf/nf_lb.bpf.c; the ABI is bpf/include/shared/sfc_lb.h.
 *
 *	config:
 *	  services:
 *	    - vip: 192.0.2.10
 *	      port: 80
 *	      protocol: tcp		# tcp | udp
 *	      mode: nat			# nat (default) | dsr
 *	      backends:
 *	        - {address: 10.0.2.11, weight: 1, port: 8080, state: active}
 *	      healthCheck: {type: tcp, port: 80, interval: 2s, timeout: 1s, rise: 2, fall: 3}
 *	  maxConnections: 1048576
 *	  tableSize: 65537
 *	  timeouts: {tcp: 15m, tcpClosing: 10s, udp: 5m}
 *	  mtu: 1500
 *	  encapSource: {ipv4: 198.51.100.1, ipv6: "2001:db8:ff::1"}
 *
 * A config change builds a new generation (config_swaps): services, backends
 * and the Maglev tables are that generation's maps, filled before it goes
 * live. The connection table, the stable ids, the counters and the health
 * states are the function's, so connections keep their backends across
 * re-applies.
 *
 * The canonical JSON (dump) uses the chain file's own keys, so it is itself a
 * valid config: the agent parses the spec pin's copy with lb_config__parse().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "internal.h"
#include "lb.h"
#include "nf.h"
#include "nf_lb.skel.h"

#define QBUF SFC_YAML_QBUF

#define DEF_MAX_CONNS	1048576u
#define MAX_MAX_CONNS	(64u << 20)
#define DEF_TCP_NS	(15ull * 60 * 1000000000)
#define DEF_CLOSING_NS	(10ull * 1000000000)
#define DEF_UDP_NS	(5ull * 60 * 1000000000)
#define DEF_MTU		1500
#define DEF_HC_INTERVAL	(2ull * 1000000000)
#define DEF_HC_TIMEOUT	(1ull * 1000000000)
/* Maglev spreads evenly only with many more entries than backends. */
#define ENTRIES_PER_BACKEND 100

static const char *const protos[] = { "tcp", "udp", NULL };
static const char *const modes[] = { "nat", "dsr", NULL };
static const char *const states[] = { "active", "drain", NULL };
static const char *const hc_types[] = { "tcp", "http", NULL };

/* ---- parse --------------------------------------------------------------------- */

static int parse_ip(const struct sfc_ynode *n, uint8_t *family, uint8_t addr[16])
{
	char buf[64], q[QBUF];
	int err;

	err = sfc_ynode__str(n, buf, sizeof(buf));
	if (err)
		return err;
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*family = SFC_FAMILY_IPV4;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*family = SFC_FAMILY_IPV6;
	} else {
		return sfc_yaml__error(n, "%s is not an IPv4 or IPv6 address",
				       sfc_yaml__quote(buf, q, sizeof(q)));
	}
	return 0;
}

/* An address a VIP or backend may have: unicast, not 0, not loopback. */
static int check_unicast(const struct sfc_ynode *n, uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];

	if (family == SFC_FAMILY_IPV4) {
		if (!memcmp(a, zero, 4) || a[0] == 127 || a[0] >= 224)
			return sfc_yaml__error(n, "%u.%u.%u.%u is not a unicast address", a[0], a[1],
					       a[2], a[3]);
		return 0;
	}
	if (!memcmp(a, zero, 16) || a[0] == 0xff || (!memcmp(a, zero, 15) && a[15] == 1))
		return sfc_yaml__error(n, "%s is not a unicast address", sfc_ynode__text(n));
	return 0;
}

static int parse_u32(const struct sfc_ynode *map, const char *key, uint64_t min, uint64_t max,
		     uint32_t *out)
{
	struct sfc_ynode n;
	uint64_t v;
	int err;

	sfc_ymap__get(map, key, &n);
	if (!n.n)
		return 0;
	err = sfc_ynode__u64(&n, min, max, &v);
	if (err)
		return err;
	*out = (uint32_t)v;
	return 0;
}

static int parse_duration(const struct sfc_ynode *map, const char *key, uint64_t min_ns,
			  uint64_t *out)
{
	struct sfc_ynode n;
	uint64_t v;
	int err;

	sfc_ymap__get(map, key, &n);
	if (!n.n)
		return 0;
	/*
	 * The canonical JSON has to quote a duration ("2000000000ns"), and
	 * the agent parses that JSON as a config: take a quoted one too.
	 */
	if (sfc_ynode__is_scalar(&n)) {
		yaml_scalar_style_t style = n.n->data.scalar.style;

		n.n->data.scalar.style = YAML_PLAIN_SCALAR_STYLE;
		err = sfc_ynode__duration(&n, &v);
		n.n->data.scalar.style = style;
	} else {
		err = sfc_ynode__duration(&n, &v);
	}
	if (err)
		return err;
	if (v < min_ns)
		return sfc_yaml__error(&n, "must be at least %llums",
				       (unsigned long long)(min_ns / 1000000));
	*out = v;
	return 0;
}

static int parse_hc(const struct sfc_ynode *n, struct lb_health_check *hc)
{
	static const char *const keys[] = { "type", "port", "interval", "timeout", "rise", "fall",
					    "path", NULL };
	struct sfc_ynode v;
	uint32_t port = 0;
	int err, idx;

	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected a mapping ({type: tcp, interval: 2s, ...}), got %s",
				       sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	if (err)
		return err;
	hc->interval_ns = DEF_HC_INTERVAL;
	hc->timeout_ns = DEF_HC_TIMEOUT;
	hc->rise = 2;
	hc->fall = 3;
	strcpy(hc->path, "/");
	sfc_ymap__get(n, "type", &v);
	if (!v.n)
		return sfc_yaml__error(n, "healthCheck needs a type (tcp or http)");
	err = sfc_ynode__enum(&v, hc_types, &idx);
	if (err)
		return err;
	hc->type = idx == 0 ? LB_HC_TCP : LB_HC_HTTP;
	err = parse_u32(n, "port", 1, 65535, &port);
	err = err ?: parse_duration(n, "interval", 10000000, &hc->interval_ns);
	err = err ?: parse_duration(n, "timeout", 1000000, &hc->timeout_ns);
	err = err ?: parse_u32(n, "rise", 1, 100, &hc->rise);
	err = err ?: parse_u32(n, "fall", 1, 100, &hc->fall);
	if (err)
		return err;
	hc->port = (uint16_t)port;
	if (hc->timeout_ns > hc->interval_ns) {
		sfc_ymap__get(n, "timeout", &v);
		return sfc_yaml__error(v.n ? &v : n, "timeout must not be longer than interval");
	}
	sfc_ymap__get(n, "path", &v);
	if (v.n) {
		if (hc->type != LB_HC_HTTP)
			return sfc_yaml__error(&v, "path is for type http only");
		err = sfc_ynode__str(&v, hc->path, sizeof(hc->path));
		if (err)
			return err;
		if (hc->path[0] != '/' || strpbrk(hc->path, " \t\r\n"))
			return sfc_yaml__error(&v, "expected a path starting with / and without spaces");
	}
	return 0;
}

static int parse_backend(const struct sfc_ynode *n, const struct lb_service *s,
			 struct lb_backend *b)
{
	static const char *const keys[] = { "address", "weight", "port", "state", NULL };
	struct sfc_ynode v;
	uint32_t port = 0;
	int err, idx;

	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected a mapping ({address: 10.0.2.11, weight: 1}), got %s",
				       sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	if (err)
		return err;
	b->line = n->n ? (int)n->n->start_mark.line + 1 : 0;
	sfc_ymap__get(n, "address", &v);
	if (!v.n)
		return sfc_yaml__error(n, "a backend needs an address");
	err = parse_ip(&v, &b->family, b->addr);
	err = err ?: check_unicast(&v, b->family, b->addr);
	if (err)
		return err;
	if (b->family != s->family)
		return sfc_yaml__error(&v, "an %s backend for an %s VIP: a service's backends are "
				       "of its VIP's family", b->family == 4 ? "IPv4" : "IPv6",
				       s->family == 4 ? "IPv4" : "IPv6");
	b->weight = 1;
	err = parse_u32(n, "weight", 0, SFC_LB_MAX_WEIGHT, &b->weight);
	err = err ?: parse_u32(n, "port", 1, 65535, &port);
	if (err)
		return err;
	b->port = port ? (uint16_t)port : s->port;
	if (port && s->mode == SFC_LB_DSR && port != s->port) {
		sfc_ymap__get(n, "port", &v);
		return sfc_yaml__error(&v, "dsr cannot change the port (the backend answers the "
				       "client directly from the VIP's port %u)", s->port);
	}
	sfc_ymap__get(n, "state", &v);
	if (v.n) {
		err = sfc_ynode__enum(&v, states, &idx);
		if (err)
			return err;
		b->drain = idx == 1;
	}
	return 0;
}

static bool same_backend(const struct lb_backend *a, const struct lb_backend *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

static int parse_service(const struct sfc_ynode *n, struct lb_service *s)
{
	static const char *const keys[] = { "vip", "port", "protocol", "mode", "backends",
					    "healthCheck", NULL };
	struct sfc_ynode v, bn, bl;
	uint32_t port = 0;
	char q[64];
	size_t i, k;
	int err, idx;

	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected a mapping ({vip: 192.0.2.10, port: 80, ...}), got %s",
				       sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	if (err)
		return err;
	sfc_ymap__get(n, "vip", &v);
	if (!v.n)
		return sfc_yaml__error(n, "a service needs a vip");
	err = parse_ip(&v, &s->family, s->vip);
	err = err ?: check_unicast(&v, s->family, s->vip);
	if (err)
		return err;
	sfc_ymap__get(n, "port", &v);
	if (!v.n)
		return sfc_yaml__error(n, "a service needs a port");
	err = parse_u32(n, "port", 1, 65535, &port);
	if (err)
		return err;
	s->port = (uint16_t)port;
	sfc_ymap__get(n, "protocol", &v);
	if (!v.n)
		return sfc_yaml__error(n, "a service needs a protocol (tcp or udp)");
	err = sfc_ynode__enum(&v, protos, &idx);
	if (err)
		return err;
	s->proto = idx == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	s->mode = SFC_LB_NAT;
	sfc_ymap__get(n, "mode", &v);
	if (v.n) {
		err = sfc_ynode__enum(&v, modes, &idx);
		if (err)
			return err;
		s->mode = idx == 0 ? SFC_LB_NAT : SFC_LB_DSR;
	}
	sfc_ymap__get(n, "healthCheck", &v);
	if (v.n) {
		err = parse_hc(&v, &s->hc);
		if (err)
			return err;
	}
	sfc_ymap__get(n, "backends", &bl);
	if (!bl.n)
		return sfc_yaml__error(n, "a service needs backends");
	if (!sfc_ynode__is_seq(&bl))
		return sfc_yaml__error(&bl, "expected a list of backends, got %s", sfc_ynode__kind(&bl));
	s->n_backends = sfc_yseq__len(&bl);
	if (!s->n_backends)
		return sfc_yaml__error(&bl, "a service needs at least one backend");
	if (s->n_backends > SFC_LB_MAX_BACKENDS)
		return sfc_yaml__error(&bl, "%u backends, at most %u", s->n_backends,
				       SFC_LB_MAX_BACKENDS);
	s->backends = calloc(s->n_backends, sizeof(*s->backends));
	if (!s->backends)
		return -ENOMEM;
	for (i = 0; i < s->n_backends; i++) {
		sfc_yseq__at(&bl, i, &bn);
		err = parse_backend(&bn, s, &s->backends[i]);
		if (err)
			return err;
		for (k = 0; k < i; k++) {
			if (same_backend(&s->backends[k], &s->backends[i]))
				return sfc_yaml__error(&bn, "backend %s is listed twice (also at line %d)",
						       lb_addr_port__str(s->family, s->backends[i].addr,
									 s->backends[i].port, q,
									 sizeof(q)),
						       s->backends[k].line);
		}
	}
	return 0;
}

static int parse_encap(const struct sfc_ynode *n, struct lb_config *c)
{
	static const char *const keys[] = { "ipv4", "ipv6", NULL };
	struct sfc_ynode v;
	uint8_t fam, a[16];
	int err;

	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected a mapping ({ipv4: A, ipv6: B}), got %s",
				       sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	if (err)
		return err;
	sfc_ymap__get(n, "ipv4", &v);
	if (v.n) {
		err = parse_ip(&v, &fam, a);
		err = err ?: check_unicast(&v, fam, a);
		if (err)
			return err;
		if (fam != SFC_FAMILY_IPV4)
			return sfc_yaml__error(&v, "expected an IPv4 address");
		memcpy(c->encap_src4, a, 4);
		c->has_encap4 = true;
	}
	sfc_ymap__get(n, "ipv6", &v);
	if (v.n) {
		err = parse_ip(&v, &fam, a);
		err = err ?: check_unicast(&v, fam, a);
		if (err)
			return err;
		if (fam != SFC_FAMILY_IPV6)
			return sfc_yaml__error(&v, "expected an IPv6 address");
		memcpy(c->encap_src6, a, 16);
		c->has_encap6 = true;
	}
	return 0;
}

static bool is_prime(uint64_t n)
{
	uint64_t d;

	if (n < 2)
		return false;
	for (d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

static int parse_timeouts(const struct sfc_ynode *n, struct lb_config *c)
{
	static const char *const keys[] = { "tcp", "tcpClosing", "udp", NULL };
	int err;

	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected a mapping ({tcp: 15m, tcpClosing: 10s, udp: 5m}), "
				       "got %s", sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	err = err ?: parse_duration(n, "tcp", 1000000000, &c->tcp_timeout_ns);
	err = err ?: parse_duration(n, "tcpClosing", 1000000000, &c->tcp_closing_ns);
	err = err ?: parse_duration(n, "udp", 1000000000, &c->udp_timeout_ns);
	return err;
}

static bool same_service(const struct lb_service *a, const struct lb_service *b)
{
	return a->family == b->family && a->port == b->port && a->proto == b->proto &&
	       !memcmp(a->vip, b->vip, 16);
}

/* Distinct backends over all services: what the id space must hold. */
static unsigned int count_distinct_backends(const struct lb_config *c)
{
	unsigned int n = 0, i, k, si, sk;

	for (si = 0; si < c->n_services; si++) {
		for (i = 0; i < c->services[si].n_backends; i++) {
			const struct lb_backend *b = &c->services[si].backends[i];
			bool seen = false;

			for (sk = 0; sk <= si && !seen; sk++)
				for (k = 0; k < (sk == si ? i : c->services[sk].n_backends); k++)
					if (same_backend(&c->services[sk].backends[k], b)) {
						seen = true;
						break;
					}
			n += !seen;
		}
	}
	return n;
}

static int parse_config(const struct sfc_ynode *config, struct lb_config *c)
{
	static const char *const keys[] = { "services", "maxConnections", "tableSize", "timeouts",
					    "mtu", "encapSource", NULL };
	struct sfc_ynode sl, sn, v;
	char q[64];
	size_t i, k;
	int err;

	c->max_connections = DEF_MAX_CONNS;
	c->table_size = SFC_LB_DEFAULT_TABLE;
	c->tcp_timeout_ns = DEF_TCP_NS;
	c->tcp_closing_ns = DEF_CLOSING_NS;
	c->udp_timeout_ns = DEF_UDP_NS;
	c->mtu = DEF_MTU;
	if (!config->n)
		return sfc_yaml__error(config, "a loadbalancer needs a config with services");
	if (!sfc_ynode__is_map(config))
		return sfc_yaml__error(config, "expected a mapping ({services: [...]}), got %s",
				       sfc_ynode__kind(config));
	err = sfc_ymap__check_keys(config, keys);
	err = err ?: parse_u32(config, "maxConnections", 64, MAX_MAX_CONNS, &c->max_connections);
	err = err ?: parse_u32(config, "mtu", 1280, 65535, &c->mtu);
	if (err)
		return err;
	sfc_ymap__get(config, "tableSize", &v);
	if (v.n) {
		err = parse_u32(config, "tableSize", SFC_LB_MIN_TABLE, SFC_LB_MAX_TABLE, &c->table_size);
		if (err)
			return err;
		if (!is_prime(c->table_size))
			return sfc_yaml__error(&v, "%u is not a prime (Maglev needs a prime table "
					       "size, e.g. 251, 1021, 4099, 16381, 65537)",
					       c->table_size);
	}
	sfc_ymap__get(config, "timeouts", &v);
	if (v.n) {
		err = parse_timeouts(&v, c);
		if (err)
			return err;
	}
	sfc_ymap__get(config, "encapSource", &v);
	if (v.n) {
		err = parse_encap(&v, c);
		if (err)
			return err;
	}
	sfc_ymap__get(config, "services", &sl);
	if (!sl.n)
		return sfc_yaml__error(config, "a loadbalancer needs services");
	if (!sfc_ynode__is_seq(&sl))
		return sfc_yaml__error(&sl, "expected a list of services, got %s", sfc_ynode__kind(&sl));
	c->n_services = sfc_yseq__len(&sl);
	if (!c->n_services)
		return sfc_yaml__error(&sl, "a loadbalancer needs at least one service");
	if (c->n_services > SFC_LB_MAX_SERVICES)
		return sfc_yaml__error(&sl, "%u services, at most %u", c->n_services,
				       SFC_LB_MAX_SERVICES);
	c->services = calloc(c->n_services, sizeof(*c->services));
	if (!c->services)
		return -ENOMEM;
	for (i = 0; i < c->n_services; i++) {
		struct lb_service *s = &c->services[i];

		sfc_yseq__at(&sl, i, &sn);
		err = parse_service(&sn, s);
		if (err)
			return err;
		for (k = 0; k < i; k++)
			if (same_service(&c->services[k], s))
				return sfc_yaml__error(&sn, "service %s/%s is defined twice",
						       lb_addr_port__str(s->family, s->vip, s->port, q,
									 sizeof(q)),
						       s->proto == IPPROTO_TCP ? "tcp" : "udp");
		if ((uint64_t)s->n_backends * ENTRIES_PER_BACKEND > c->table_size) {
			sfc_ymap__get(config, "tableSize", &v);
			return sfc_yaml__error(v.n ? &v : &sn,
					       "tableSize %u is too small for %u backends (Maglev "
					       "needs at least %u entries per backend to spread "
					       "evenly)", c->table_size, s->n_backends,
					       ENTRIES_PER_BACKEND);
		}
	}
	if (count_distinct_backends(c) > SFC_LB_MAX_BACKENDS)
		return sfc_yaml__error(&sl, "more than %u distinct backends", SFC_LB_MAX_BACKENDS);
	return 0;
}

int lb_config__parse(const struct sfc_ynode *config, void **out)
{
	struct lb_config *c;
	int err;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	err = parse_config(config, c);
	if (err) {
		lb_config__free(c);
		return err;
	}
	*out = c;
	return 0;
}

void lb_config__free(void *cfg)
{
	struct lb_config *c = cfg;
	unsigned int i;

	if (!c)
		return;
	for (i = 0; i < c->n_services; i++)
		free(c->services[i].backends);
	free(c->services);
	free(c);
}

/* ---- canonical JSON ------------------------------------------------------------ */

static const char *ip_str(uint8_t family, const uint8_t *a, char *buf, size_t len)
{
	inet_ntop(family == SFC_FAMILY_IPV4 ? AF_INET : AF_INET6, a, buf, len);
	return buf;
}

const char *lb_addr_port__str(uint8_t family, const uint8_t *addr, uint16_t port, char *buf,
			      size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	ip_str(family, addr, ip, sizeof(ip));
	snprintf(buf, len, family == SFC_FAMILY_IPV4 ? "%s:%u" : "[%s]:%u", ip, port);
	return buf;
}

static void kdur(struct sfc_json *j, const char *key, uint64_t ns)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lluns", (unsigned long long)ns);
	sfc_json__kstr(j, key, buf);
}

static void dump_service(struct sfc_json *j, const struct lb_service *s)
{
	char buf[INET6_ADDRSTRLEN];
	unsigned int i;

	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "vip", ip_str(s->family, s->vip, buf, sizeof(buf)));
	sfc_json__ku64(j, "port", s->port);
	sfc_json__kstr(j, "protocol", s->proto == IPPROTO_TCP ? "tcp" : "udp");
	sfc_json__kstr(j, "mode", s->mode == SFC_LB_DSR ? "dsr" : "nat");
	sfc_json__key(j, "backends");
	sfc_json__arr_begin(j);
	for (i = 0; i < s->n_backends; i++) {
		const struct lb_backend *b = &s->backends[i];

		sfc_json__obj_begin(j);
		sfc_json__kstr(j, "address", ip_str(b->family, b->addr, buf, sizeof(buf)));
		sfc_json__ku64(j, "port", b->port);
		sfc_json__ku64(j, "weight", b->weight);
		sfc_json__kstr(j, "state", b->drain ? "drain" : "active");
		sfc_json__obj_end(j);
	}
	sfc_json__arr_end(j);
	if (s->hc.type != LB_HC_NONE) {
		sfc_json__key(j, "healthCheck");
		sfc_json__obj_begin(j);
		sfc_json__kstr(j, "type", s->hc.type == LB_HC_TCP ? "tcp" : "http");
		if (s->hc.port)
			sfc_json__ku64(j, "port", s->hc.port);
		kdur(j, "interval", s->hc.interval_ns);
		kdur(j, "timeout", s->hc.timeout_ns);
		sfc_json__ku64(j, "rise", s->hc.rise);
		sfc_json__ku64(j, "fall", s->hc.fall);
		if (s->hc.type == LB_HC_HTTP)
			sfc_json__kstr(j, "path", s->hc.path);
		sfc_json__obj_end(j);
	}
	sfc_json__obj_end(j);
}

static void lb_dump(const void *cfg, struct sfc_json *j)
{
	const struct lb_config *c = cfg;
	char buf[INET6_ADDRSTRLEN];
	unsigned int i;

	sfc_json__obj_begin(j);
	if (!c) {
		sfc_json__obj_end(j);
		return;
	}
	sfc_json__key(j, "services");
	sfc_json__arr_begin(j);
	for (i = 0; i < c->n_services; i++)
		dump_service(j, &c->services[i]);
	sfc_json__arr_end(j);
	sfc_json__ku64(j, "maxConnections", c->max_connections);
	sfc_json__ku64(j, "tableSize", c->table_size);
	sfc_json__key(j, "timeouts");
	sfc_json__obj_begin(j);
	kdur(j, "tcp", c->tcp_timeout_ns);
	kdur(j, "tcpClosing", c->tcp_closing_ns);
	kdur(j, "udp", c->udp_timeout_ns);
	sfc_json__obj_end(j);
	sfc_json__ku64(j, "mtu", c->mtu);
	if (c->has_encap4 || c->has_encap6) {
		sfc_json__key(j, "encapSource");
		sfc_json__obj_begin(j);
		if (c->has_encap4)
			sfc_json__kstr(j, "ipv4", ip_str(SFC_FAMILY_IPV4, c->encap_src4, buf, sizeof(buf)));
		if (c->has_encap6)
			sfc_json__kstr(j, "ipv6", ip_str(SFC_FAMILY_IPV6, c->encap_src6, buf, sizeof(buf)));
		sfc_json__obj_end(j);
	}
	sfc_json__obj_end(j);
}

/* ---- Maglev -------------------------------------------------------------------- */

void lb_service__id_key(const struct lb_service *s, struct sfc_lb_id_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, s->vip, 16);
	k->port = htons(s->port);
	k->proto = s->proto;
	k->family = s->family;
	k->kind = SFC_LB_ID_SERVICE;
}

void lb_backend__id_key(const struct lb_backend *b, struct sfc_lb_id_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, b->addr, 16);
	k->port = htons(b->port);
	k->family = b->family;
	k->kind = SFC_LB_ID_BACKEND;
}

/* A backend's permutation seeds: from its identity only, so that the same
 * backend walks the same permutation in every table and every generation. */
static uint32_t backend_hash(const struct lb_backend *b, uint32_t seed)
{
	uint32_t w[4], h = seed;
	int i;

	memcpy(w, b->addr, 16);
	for (i = 0; i < 4; i++)
		h = sfc_lb_mix(h, w[i]);
	h = sfc_lb_mix(h, ((uint32_t)b->port << 8) | b->family);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

int lb_maglev__build(const struct lb_service *s, const uint32_t *ids, const bool *up,
		     uint32_t m, uint32_t *table)
{
	uint32_t *offset = NULL, *skip = NULL, *next = NULL, *cum = NULL, *who = NULL;
	uint32_t n = 0, filled = 0, max_w = 0, i, k;
	int ret = 0;

	for (k = 0; k < m; k++)
		table[k] = SFC_LB_NO_BACKEND;
	offset = calloc(s->n_backends, sizeof(*offset));
	skip = calloc(s->n_backends, sizeof(*skip));
	next = calloc(s->n_backends, sizeof(*next));
	cum = calloc(s->n_backends, sizeof(*cum));
	who = calloc(s->n_backends, sizeof(*who));
	if (!offset || !skip || !next || !cum || !who) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s->n_backends; i++) {
		const struct lb_backend *b = &s->backends[i];

		if (!b->weight || b->drain || (up && !up[i]))
			continue;
		offset[n] = backend_hash(b, 0x0ff5e7u) % m;
		skip[n] = backend_hash(b, 0x5c1bu) % (m - 1) + 1;
		who[n] = i;
		if (b->weight > max_w)
			max_w = b->weight;
		n++;
	}
	if (!n)
		goto out;
	/*
	 * Weighted population (as Katran's): every round, each backend adds
	 * its weight to a running sum and claims its next free entry each
	 * time the sum reaches the largest weight, so it claims weight/max_w
	 * of the turns.
	 */
	while (filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			cum[i] += s->backends[who[i]].weight;
			if (cum[i] < max_w)
				continue;
			cum[i] -= max_w;
			for (;;) {
				uint32_t e = (uint32_t)(((uint64_t)next[i] * skip[i] + offset[i]) % m);

				next[i]++;
				if (table[e] == SFC_LB_NO_BACKEND) {
					table[e] = ids[who[i]];
					filled++;
					break;
				}
			}
		}
	}
	ret = (int)n;
out:
	free(offset);
	free(skip);
	free(next);
	free(cum);
	free(who);
	return ret;
}

int lb_backend_ids(int ids_fd, const struct lb_service *s, uint32_t *ids)
{
	struct sfc_lb_id_key k;
	unsigned int i;

	for (i = 0; i < s->n_backends; i++) {
		lb_backend__id_key(&s->backends[i], &k);
		if (bpf_map_lookup_elem(ids_fd, &k, &ids[i]))
			return -errno;
	}
	return 0;
}

int lb_maglev__write(int maglev_fd, int health_fd, int ids_fd, const struct lb_service *s,
		     uint32_t table_off, uint32_t m)
{
	uint32_t *table = NULL, *keys = NULL, *ids = NULL, count, k;
	struct sfc_lb_health h;
	bool *up = NULL;
	unsigned int i;
	int n, err;

	table = calloc(m, sizeof(*table));
	keys = calloc(m, sizeof(*keys));
	ids = calloc(s->n_backends, sizeof(*ids));
	up = calloc(s->n_backends, sizeof(*up));
	if (!table || !keys || !ids || !up) {
		n = -ENOMEM;
		goto out;
	}
	n = lb_backend_ids(ids_fd, s, ids);
	if (n)
		goto out;
	for (i = 0; i < s->n_backends; i++) {
		up[i] = true;
		if (health_fd >= 0 && !bpf_map_lookup_elem(health_fd, &ids[i], &h))
			up[i] = h.state != SFC_LB_HEALTH_DOWN;
	}
	n = lb_maglev__build(s, ids, up, m, table);
	if (n < 0)
		goto out;
	for (k = 0; k < m; k++)
		keys[k] = table_off + k;
	count = m;
	err = bpf_map_update_batch(maglev_fd, keys, table, &count, NULL);
	if (err)
		n = -errno;
out:
	free(table);
	free(keys);
	free(ids);
	free(up);
	return n;
}

/* ---- BPF ----------------------------------------------------------------------- */

static const char *const gen_maps[] = {
	"sfc_lb_services", "sfc_lb_backends", "sfc_lb_maglev", NULL,
};

static struct bpf_object *lb_open(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "nf_lb");
	const void *elf;
	size_t sz;

	elf = nf_lb__elf_bytes(&sz);
	return bpf_object__open_mem(elf, sz, &opts);
}

static int lb_prepare(struct bpf_object *obj, const void *cfg)
{
	const struct lb_config *c = cfg;
	struct sfc_lb_cfg rc = {};
	unsigned int i;
	int err;

	if (!c)
		return -EINVAL;
	rc.tcp_timeout_ns = c->tcp_timeout_ns;
	rc.tcp_closing_ns = c->tcp_closing_ns;
	rc.udp_timeout_ns = c->udp_timeout_ns;
	rc.table_size = c->table_size;
	rc.mtu = (uint16_t)c->mtu;
	for (i = 0; i < c->n_services; i++)
		if (c->services[i].mode == SFC_LB_NAT)
			rc.has_nat = 1;
	if (c->has_encap4)
		memcpy(&rc.encap_src4, c->encap_src4, 4);
	if (c->has_encap6)
		memcpy(rc.encap_src6, c->encap_src6, 16);
	err = sfc_nf__set_size(obj, "sfc_lb_services", c->n_services);
	err = err ?: sfc_nf__set_size(obj, "sfc_lb_maglev", c->n_services * c->table_size);
	err = err ?: sfc_nf__set_size(obj, "sfc_lb_conns", c->max_connections);
	err = err ?: sfc_nf__set_rodata(obj, "sfc_lb_cfg", &rc, sizeof(rc));
	return err;
}

/*
 * Give every service and backend of the config a stable id in sfc_lb_ids.
 * Ids of things no longer configured are kept (their counters too) until the
 * id space runs out; then they are reclaimed, counters and health zeroed.
 */
struct id_space {
	uint32_t max;
	uint8_t *used;
};

static int collect_used(int ids_fd, struct id_space *sv, struct id_space *bk)
{
	struct sfc_lb_id_key k, next, *prev = NULL;
	uint32_t id;

	while (!bpf_map_get_next_key(ids_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(ids_fd, &k, &id))
			continue;
		if (k.kind == SFC_LB_ID_SERVICE && id < sv->max)
			sv->used[id] = 1;
		else if (k.kind == SFC_LB_ID_BACKEND && id < bk->max)
			bk->used[id] = 1;
	}
	return errno == ENOENT ? 0 : -errno;
}

static bool in_config(const struct lb_config *c, const struct sfc_lb_id_key *k)
{
	struct sfc_lb_id_key x;
	unsigned int i, b;

	for (i = 0; i < c->n_services; i++) {
		lb_service__id_key(&c->services[i], &x);
		if (!memcmp(&x, k, sizeof(x)))
			return true;
		for (b = 0; b < c->services[i].n_backends; b++) {
			lb_backend__id_key(&c->services[i].backends[b], &x);
			if (!memcmp(&x, k, sizeof(x)))
				return true;
		}
	}
	return false;
}

static int zero_percpu(int fd, uint32_t id, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *zero;
	int err;

	if (ncpu < 0)
		return ncpu;
	zero = calloc(ncpu, (value_size + 7) & ~(size_t)7);
	if (!zero)
		return -ENOMEM;
	err = bpf_map_update_elem(fd, &id, zero, BPF_ANY) ? -errno : 0;
	free(zero);
	return err;
}

struct id_maps {
	int ids, svc_stats, bk_stats, health;
};

/* Forget the ids of everything not in the config (counters, health zeroed). */
static int reclaim_ids(const struct lb_config *c, const struct id_maps *m)
{
	struct sfc_lb_id_key k, next, *prev = NULL;
	struct sfc_lb_health h = {};
	uint32_t id;
	int err;

	while (!bpf_map_get_next_key(m->ids, prev, &next)) {
		k = next;
		if (in_config(c, &k) || bpf_map_lookup_elem(m->ids, &k, &id)) {
			prev = &k;
			continue;
		}
		if (bpf_map_delete_elem(m->ids, &k))
			return -errno;
		/* next is gone: restart the walk (deletions are few). */
		prev = NULL;
		if (k.kind == SFC_LB_ID_SERVICE) {
			err = zero_percpu(m->svc_stats, id, sizeof(struct sfc_lb_counters));
		} else {
			err = zero_percpu(m->bk_stats, id, sizeof(struct sfc_lb_counters));
			err = err ?: (bpf_map_update_elem(m->health, &id, &h, BPF_ANY) ? -errno : 0);
		}
		if (err)
			return err;
	}
	return errno == ENOENT ? 0 : -errno;
}

static int alloc_id(const struct id_maps *m, struct id_space *sp, const struct sfc_lb_id_key *k,
		    uint32_t *id)
{
	struct sfc_lb_health h = {};
	uint32_t i;
	int err;

	if (!bpf_map_lookup_elem(m->ids, k, id))
		return 0;
	for (i = 0; i < sp->max && sp->used[i]; i++)
		;
	if (i == sp->max)
		return -ENOSPC;
	sp->used[i] = 1;
	/* A fresh id starts from zero, whatever an id reclaimed earlier left. */
	if (k->kind == SFC_LB_ID_SERVICE) {
		err = zero_percpu(m->svc_stats, i, sizeof(struct sfc_lb_counters));
	} else {
		err = zero_percpu(m->bk_stats, i, sizeof(struct sfc_lb_counters));
		err = err ?: (bpf_map_update_elem(m->health, &i, &h, BPF_ANY) ? -errno : 0);
	}
	if (err)
		return err;
	if (bpf_map_update_elem(m->ids, k, &i, BPF_NOEXIST))
		return -errno;
	*id = i;
	return 0;
}

static int assign_ids(const struct lb_config *c, const struct id_maps *m, uint32_t *svc_ids)
{
	struct id_space sv = { SFC_LB_MAX_SERVICES, NULL }, bk = { SFC_LB_MAX_BACKENDS, NULL };
	struct sfc_lb_id_key k;
	unsigned int i, b, pass;
	uint32_t id;
	int err = 0;

	for (pass = 0; pass < 2; pass++) {
		free(sv.used);
		free(bk.used);
		sv.used = calloc(sv.max, 1);
		bk.used = calloc(bk.max, 1);
		if (!sv.used || !bk.used) {
			err = -ENOMEM;
			break;
		}
		if (pass == 1) {
			err = reclaim_ids(c, m);
			if (err)
				break;
		}
		err = collect_used(m->ids, &sv, &bk);
		for (i = 0; !err && i < c->n_services; i++) {
			const struct lb_service *s = &c->services[i];

			lb_service__id_key(s, &k);
			err = alloc_id(m, &sv, &k, &svc_ids[i]);
			for (b = 0; !err && b < s->n_backends; b++) {
				lb_backend__id_key(&s->backends[b], &k);
				err = alloc_id(m, &bk, &k, &id);
			}
		}
		if (err != -ENOSPC)
			break;
	}
	free(sv.used);
	free(bk.used);
	return err;
}

static int write_backends(const struct lb_config *c, int ids_fd, int bk_fd)
{
	struct sfc_lb_backend v;
	struct sfc_lb_id_key k;
	unsigned int i, b;
	uint32_t id;

	for (i = 0; i < c->n_services; i++) {
		for (b = 0; b < c->services[i].n_backends; b++) {
			const struct lb_backend *be = &c->services[i].backends[b];

			lb_backend__id_key(be, &k);
			if (bpf_map_lookup_elem(ids_fd, &k, &id))
				return -errno;
			memset(&v, 0, sizeof(v));
			memcpy(v.addr, be->addr, 16);
			v.port = htons(be->port);
			v.family = be->family;
			/* The Maglev tables decide who gets new flows (drain is
			 * per service); the flag is for readers: drained in
			 * one service marks the shared entry. */
			if (bpf_map_lookup_elem(bk_fd, &id, &v) == 0 && v.flags & SFC_LB_BK_PRESENT)
				v.flags |= be->drain ? SFC_LB_BK_DRAIN : 0;
			else
				v.flags = SFC_LB_BK_PRESENT | (be->drain ? SFC_LB_BK_DRAIN : 0);
			memcpy(v.addr, be->addr, 16);
			v.port = htons(be->port);
			v.family = be->family;
			if (bpf_map_update_elem(bk_fd, &id, &v, BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

static int lb_configure(const struct sfc_nf_ctx *ctx, const void *cfg)
{
	const struct lb_config *c = cfg;
	struct id_maps m = { -1, -1, -1, -1 };
	int svc_fd = -1, bk_fd = -1, mag_fd = -1, n, err;
	uint32_t *svc_ids = NULL;
	struct sfc_lb_svc_key key;
	struct sfc_lb_svc val;
	unsigned int i;

	if (!c)
		return -EINVAL;
	svc_ids = calloc(c->n_services, sizeof(*svc_ids));
	if (!svc_ids)
		return -ENOMEM;
	m.ids = sfc_nf__map_fd(ctx, "sfc_lb_ids");
	m.svc_stats = sfc_nf__map_fd(ctx, "sfc_lb_svc_stats");
	m.bk_stats = sfc_nf__map_fd(ctx, "sfc_lb_bk_stats");
	m.health = sfc_nf__map_fd(ctx, "sfc_lb_health");
	svc_fd = sfc_nf__map_fd(ctx, "sfc_lb_services");
	bk_fd = sfc_nf__map_fd(ctx, "sfc_lb_backends");
	mag_fd = sfc_nf__map_fd(ctx, "sfc_lb_maglev");
	err = m.ids < 0 ? m.ids : m.svc_stats < 0 ? m.svc_stats : m.bk_stats < 0 ? m.bk_stats :
	      m.health < 0 ? m.health : svc_fd < 0 ? svc_fd : bk_fd < 0 ? bk_fd : mag_fd < 0 ? mag_fd : 0;
	if (err)
		goto out;
	err = assign_ids(c, &m, svc_ids);
	if (err == -ENOSPC) {
		sfc_diag_set(ctx->diag, err, NULL, "%s: more services or backends than the id "
			     "space holds", ctx->fn->name);
		goto out;
	}
	err = err ?: write_backends(c, m.ids, bk_fd);
	for (i = 0; !err && i < c->n_services; i++) {
		const struct lb_service *s = &c->services[i];

		n = lb_maglev__write(mag_fd, m.health, m.ids, s, i * c->table_size, c->table_size);
		if (n < 0) {
			err = n;
			break;
		}
		memset(&key, 0, sizeof(key));
		memcpy(key.vip, s->vip, 16);
		key.port = htons(s->port);
		key.proto = s->proto;
		key.family = s->family;
		memset(&val, 0, sizeof(val));
		val.id = svc_ids[i];
		val.table_off = i * c->table_size;
		val.mode = s->mode;
		val.n_backends = (uint32_t)n;
		if (bpf_map_update_elem(svc_fd, &key, &val, BPF_ANY))
			err = -errno;
	}
out:
	free(svc_ids);
	if (m.ids >= 0)
		close(m.ids);
	if (m.svc_stats >= 0)
		close(m.svc_stats);
	if (m.bk_stats >= 0)
		close(m.bk_stats);
	if (m.health >= 0)
		close(m.health);
	if (svc_fd >= 0)
		close(svc_fd);
	if (bk_fd >= 0)
		close(bk_fd);
	if (mag_fd >= 0)
		close(mag_fd);
	return err;
}

const struct sfc_nf_type sfc_nf_lb = {
	.name = "loadbalancer",
	.summary = "L4 virtual IPs over backends: weighted Maglev, connection affinity, "
		   "nat or dsr (IP-in-IP)",
	.parse = lb_config__parse,
	.free = lb_config__free,
	.dump = lb_dump,
	.open = lb_open,
	.prog_name = "sfc_lb",
	.prepare = lb_prepare,
	.configure = lb_configure,
	.gen_maps = gen_maps,
	.config_swaps = true,
};
