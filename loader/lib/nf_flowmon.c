// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowmon: per-flow packet and byte counters in a pinned table
 * (shared/sfc_flow.h), which sfcctl agent expires and exports as IPFIX and
 * Prometheus metrics, and sfcctl flows lists.
 *
 *	config:
 *	  maxFlows: 262144		# table size; LRU beyond (1..16777216)
 *	  activeTimeout: 60s		# long flows are reported this often
 *	  inactiveTimeout: 15s		# a flow idle this long is over
 *	  sampling: 1			# account 1 in N packets (1..65535)
 *	  ipfix: {collector: 192.0.2.1:4739, transport: udp, observationDomain: 1}
 *	  prometheus: {listen: 127.0.0.1:9469}
 *
 * Both are optional; without them the agent only expires flows. ADDR:PORT is
 * an IPv4 address, an IPv6 one in brackets ("[2001:db8::1]:4739", quoted in
 * YAML) or, for the collector only, a host name the agent resolves.
 * transport: udp (the default) or tcp; observationDomain: 0..4294967295,
 * default 0 ("no specific domain", RFC 7011 3.1).
 *
 * Timeouts are whole milliseconds, 1ms..65535s: IPFIX reports them in
 * seconds as unsigned16 (flowActiveTimeout, flowIdleTimeout, IEs 36 and 37).
 * inactiveTimeout may exceed activeTimeout: a long flow is then reported
 * every activeTimeout while it runs and expires inactiveTimeout after its
 * last packet, which is coherent if unusual, so it is not refused.
 *
 * Only sampling reaches the data path, through the sfc_flowmon_config map
 * that configure() writes: rodata would go stale, as a config-only change
 * (anything but maxFlows) is written in place without reloading the program.
 * maxFlows sizes the pinned table, which keeps its size while the chain runs.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "internal.h"
#include "nf.h"
#include "nf_flowmon.skel.h"
#include "shared/sfc_flow.h"

#define QBUF		SFC_YAML_QBUF
#define TIMEOUT_MAX_MS	(65535ULL * 1000)
#define ENDPOINT_MAX	264		/* a 253-character host name, ":65535" */
#define HOST_CHARS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"

enum { TRANSPORT_UDP, TRANSPORT_TCP };
static const char *const transports[] = { "udp", "tcp", NULL };

struct flowmon_cfg {
	uint32_t max_flows;
	uint64_t active_ms, inactive_ms;
	uint32_t sampling;
	bool ipfix;
	char collector[ENDPOINT_MAX];	/* canonical ADDR:PORT */
	int transport;
	uint32_t domain;
	bool prometheus;
	char listen[ENDPOINT_MAX];
};

/* ---- ADDR:PORT ------------------------------------------------------------ */

static const char listen_what[] = "ADDR:PORT with an IP address, like 127.0.0.1:9469 or "
				  "[::1]:9469";
static const char collector_what[] = "ADDR:PORT, like 192.0.2.1:4739, [2001:db8::1]:4739 or "
				     "collector.example:4739";

/*
 * RFC 1123 host name: labels of letters, digits and '-', not at either end,
 * and a last label that is not all digits (so that 10.0.0.256 is a bad
 * address, not a name).
 */
static bool host_name_ok(const char *s)
{
	size_t len = strlen(s), l;
	const char *label = s, *dot;
	bool digits = true;

	if (!len || len > 253)
		return false;
	for (;;) {
		dot = strchr(label, '.');
		l = dot ? (size_t)(dot - label) : strlen(label);
		if (!l || l > 63 || label[0] == '-' || label[l - 1] == '-')
			return false;
		if (strspn(label, HOST_CHARS) < l)
			return false;
		digits = strspn(label, "0123456789") >= l;
		if (!dot)
			break;
		label = dot + 1;
	}
	return !digits;
}

/*
 * "192.0.2.1:4739", "[2001:db8::1]:4739" or, for a collector, a host name
 * with a port ("collector.example:4739", which the agent resolves) into its
 * canonical form: the address as inet_ntop writes it, the name in lower
 * case. A listen address must be a literal: it is bound exactly there. On
 * error, *why says what is wrong (after the quoted text).
 */
static int endpoint_parse(const char *s, bool collector, char *canon, size_t len,
			  const char **why)
{
	char host[256], addr[INET6_ADDRSTRLEN], *c;
	unsigned char bin[16];
	const char *colon, *p;
	unsigned long port;
	bool v6 = false, is_name = false;
	size_t hl;

	if (s[0] == '[') {
		p = strchr(s, ']');
		if (!p) {
			*why = "has no closing ]";
			return -EINVAL;
		}
		hl = p - s - 1;
		if (hl >= sizeof(host)) {
			*why = "is not an IPv6 address in brackets";
			return -EINVAL;
		}
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (p[1] != ':') {
			*why = p[1] ? "has text after ] that is not :PORT" : "has no port";
			return -EINVAL;
		}
		colon = p + 1;
		if (inet_pton(AF_INET6, host, bin) != 1) {
			*why = "is not an IPv6 address in brackets";
			return -EINVAL;
		}
		v6 = true;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			*why = "has no port";
			return -EINVAL;
		}
		if (memchr(s, ':', colon - s)) {
			*why = "is ambiguous: write an IPv6 address with a port as [ADDR]:PORT";
			return -EINVAL;
		}
		hl = colon - s;
		if (!hl || hl >= sizeof(host)) {
			*why = "has no IP address before the port";
			return -EINVAL;
		}
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET, host, bin) != 1) {
			if (!collector || !host_name_ok(host)) {
				*why = collector ?
				       "has no IP address or host name before the port" :
				       "has no IP address before the port (a listen address is "
				       "bound as written: no host names)";
				return -EINVAL;
			}
			is_name = true;
		}
	}
	p = colon + 1;
	if (!*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p)) {
		*why = "has no port number after the colon";
		return -EINVAL;
	}
	port = strtoul(p, NULL, 10);
	if (port < 1 || port > 65535) {
		*why = "has a port out of range 1..65535";
		return -EINVAL;
	}
	if (is_name) {
		for (c = host; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		snprintf(canon, len, "%s:%lu", host, port);
		return 0;
	}
	if (collector && (v6 ? !memcmp(bin, &in6addr_any, 16) : !memcmp(bin, "\0\0\0\0", 4))) {
		*why = "is the unspecified address, which no collector has";
		return -EINVAL;
	}
	inet_ntop(v6 ? AF_INET6 : AF_INET, bin, addr, sizeof(addr));
	snprintf(canon, len, v6 ? "[%s]:%lu" : "%s:%lu", addr, port);
	return 0;
}

static int parse_endpoint(const struct sfc_ynode *n, bool collector, char *canon, size_t len)
{
	const char *what = collector ? collector_what : listen_what, *t, *why = "";
	char q[QBUF];

	if (sfc_ynode__is_seq(n))
		return sfc_yaml__error(n, "expected %s, got a sequence (quote an address in "
				       "brackets: \"[2001:db8::1]:4739\")", what);
	t = sfc_ynode__text(n);
	if (!sfc_ynode__is_scalar(n) || !strcmp(sfc_ynode__kind(n), "null") || !t)
		return sfc_yaml__error(n, "expected %s, got %s", what, sfc_ynode__kind(n));
	if (strlen(t) != n->n->data.scalar.length)
		return sfc_yaml__error(n, "expected %s, got text with a NUL character", what);
	if (endpoint_parse(t, collector, canon, len, &why))
		return sfc_yaml__error(n, "%s %s (expected %s)", sfc_yaml__quote(t, q, sizeof(q)), why, what);
	return 0;
}

/* ---- the config ----------------------------------------------------------- */

static int parse_timeout(const struct sfc_ynode *n, uint64_t *ms)
{
	const char *t = sfc_ynode__text(n);
	char q[QBUF];
	uint64_t ns;
	int err;

	err = sfc_ynode__duration(n, &ns);
	if (err)
		return err;
	if (ns % 1000000)
		return sfc_yaml__error(n, "%s is not a whole number of milliseconds",
				       sfc_yaml__quote(t, q, sizeof(q)));
	if (ns < 1000000 || ns / 1000000 > TIMEOUT_MAX_MS)
		return sfc_yaml__error(n, "%s is out of range (expected 1ms..65535s: IPFIX "
				       "reports timeouts in seconds, as 16 bits)",
				       sfc_yaml__quote(t, q, sizeof(q)));
	*ms = ns / 1000000;
	return 0;
}

static int parse_ipfix(const struct sfc_ynode *n, struct flowmon_cfg *cfg)
{
	static const char *const keys[] = { "collector", "transport", "observationDomain", NULL };
	struct sfc_ynode v;
	uint64_t dom;
	int err, idx;

	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected a mapping ({collector: ADDR:PORT, transport: "
				       "udp, observationDomain: N}), got %s", sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	if (err)
		return err;
	sfc_ymap__get(n, "collector", &v);
	if (!v.n)
		return sfc_yaml__error(n, "missing required key \"collector\"");
	err = parse_endpoint(&v, true, cfg->collector, sizeof(cfg->collector));
	if (err)
		return err;
	sfc_ymap__get(n, "transport", &v);
	if (v.n) {
		err = sfc_ynode__enum(&v, transports, &idx);
		if (err)
			return err;
		cfg->transport = idx;
	}
	sfc_ymap__get(n, "observationDomain", &v);
	if (v.n) {
		err = sfc_ynode__u64(&v, 0, UINT32_MAX, &dom);
		if (err)
			return err;
		cfg->domain = (uint32_t)dom;
	}
	cfg->ipfix = true;
	return 0;
}

static int parse_prometheus(const struct sfc_ynode *n, struct flowmon_cfg *cfg)
{
	static const char *const keys[] = { "listen", NULL };
	struct sfc_ynode v;
	int err;

	if (!sfc_ynode__is_map(n))
		return sfc_yaml__error(n, "expected a mapping ({listen: ADDR:PORT}), got %s",
				       sfc_ynode__kind(n));
	err = sfc_ymap__check_keys(n, keys);
	if (err)
		return err;
	sfc_ymap__get(n, "listen", &v);
	if (!v.n)
		return sfc_yaml__error(n, "missing required key \"listen\"");
	err = parse_endpoint(&v, false, cfg->listen, sizeof(cfg->listen));
	if (err)
		return err;
	cfg->prometheus = true;
	return 0;
}

static int flowmon_parse(const struct sfc_ynode *config, void **out)
{
	static const char *const keys[] = {
		"maxFlows", "activeTimeout", "inactiveTimeout", "sampling", "ipfix", "prometheus",
		NULL,
	};
	struct flowmon_cfg *cfg;
	struct sfc_ynode n;
	uint64_t v;
	int err = 0;

	*out = NULL;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	cfg->max_flows = SFC_FLOWMON_DEFAULT_FLOWS;
	cfg->active_ms = 60000;
	cfg->inactive_ms = 15000;
	cfg->sampling = 1;
	cfg->transport = TRANSPORT_UDP;

	if (config->n) {
		if (!sfc_ynode__is_map(config)) {
			err = sfc_yaml__error(config, "expected a mapping (flowmon takes "
					      "{maxFlows, activeTimeout, inactiveTimeout, sampling, "
					      "ipfix, prometheus}), got %s", sfc_ynode__kind(config));
			goto out;
		}
		err = sfc_ymap__check_keys(config, keys);
		if (err)
			goto out;
	}
	sfc_ymap__get(config, "maxFlows", &n);
	if (n.n) {
		err = sfc_ynode__u64(&n, 1, SFC_FLOWMON_MAX_FLOWS, &v);
		if (err)
			goto out;
		cfg->max_flows = (uint32_t)v;
	}
	sfc_ymap__get(config, "activeTimeout", &n);
	if (n.n) {
		err = parse_timeout(&n, &cfg->active_ms);
		if (err)
			goto out;
	}
	sfc_ymap__get(config, "inactiveTimeout", &n);
	if (n.n) {
		err = parse_timeout(&n, &cfg->inactive_ms);
		if (err)
			goto out;
	}
	sfc_ymap__get(config, "sampling", &n);
	if (n.n) {
		err = sfc_ynode__u64(&n, 1, SFC_FLOWMON_MAX_SAMPLING, &v);
		if (err)
			goto out;
		cfg->sampling = (uint32_t)v;
	}
	sfc_ymap__get(config, "ipfix", &n);
	if (n.n) {
		err = parse_ipfix(&n, cfg);
		if (err)
			goto out;
	}
	sfc_ymap__get(config, "prometheus", &n);
	if (n.n)
		err = parse_prometheus(&n, cfg);
out:
	if (err) {
		free(cfg);
		return err;
	}
	*out = cfg;
	return 0;
}

static void flowmon_free(void *cfg)
{
	free(cfg);
}

/* The keys the agent reads from the spec pin (shared/sfc_flow.h): never rename. */
static void flowmon_dump(const void *cfg, struct sfc_json *j)
{
	const struct flowmon_cfg *c = cfg;

	sfc_json__obj_begin(j);
	if (!c) {
		sfc_json__obj_end(j);
		return;
	}
	sfc_json__ku64(j, "max_flows", c->max_flows);
	sfc_json__ku64(j, "active_timeout_ms", c->active_ms);
	sfc_json__ku64(j, "inactive_timeout_ms", c->inactive_ms);
	sfc_json__ku64(j, "sampling", c->sampling);
	if (c->ipfix) {
		sfc_json__key(j, "ipfix");
		sfc_json__obj_begin(j);
		sfc_json__kstr(j, "collector", c->collector);
		sfc_json__kstr(j, "transport", transports[c->transport]);
		sfc_json__ku64(j, "observation_domain", c->domain);
		sfc_json__obj_end(j);
	}
	if (c->prometheus) {
		sfc_json__key(j, "prometheus");
		sfc_json__obj_begin(j);
		sfc_json__kstr(j, "listen", c->listen);
		sfc_json__obj_end(j);
	}
	sfc_json__obj_end(j);
}

/* ---- BPF ------------------------------------------------------------------ */

static struct bpf_object *flowmon_open(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = "nf_flowmon");
	const void *elf;
	size_t sz;

	elf = nf_flowmon__elf_bytes(&sz);
	return bpf_object__open_mem(elf, sz, &opts);
}

static int set_size(struct bpf_object *obj, const char *name, uint32_t n)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	if (!map)
		return -ENOENT;
	return bpf_map__set_max_entries(map, n);
}

static int flowmon_prepare(struct bpf_object *obj, const void *cfg)
{
	const struct flowmon_cfg *c = cfg;
	int err;

	if (!c)
		return -EINVAL;
	err = set_size(obj, "sfc_flowmon_flows", c->max_flows);
	err = err ?: set_size(obj, "sfc_flowmon_exported", c->max_flows);
	return err;
}

static int flowmon_configure(const struct sfc_nf_ctx *ctx, const void *cfg)
{
	const struct flowmon_cfg *c = cfg;
	struct sfc_flowmon_config mc = {};
	__u32 key = 0;
	int fd, err;

	if (!c)
		return -EINVAL;
	/* A changed maxFlows never gets here: the runtime compares every
	 * function's pinned map sizes before it configures any. */
	mc.sampling = c->sampling;
	fd = sfc_nf__map_fd(ctx, "sfc_flowmon_config");
	if (fd < 0)
		return fd;
	err = bpf_map_update_elem(fd, &key, &mc, BPF_ANY) ? -errno : 0;
	close(fd);
	return err;
}

const struct sfc_nf_type sfc_nf_flowmon = {
	.name = "flowmon",
	.summary = "per-flow packet and byte counters (sampled or not) for sfcctl flows and "
		   "the agent's IPFIX and Prometheus export",
	.parse = flowmon_parse,
	.free = flowmon_free,
	.dump = flowmon_dump,
	.open = flowmon_open,
	.prog_name = "sfc_flowmon",
	.hook_prog_name = "sfc_flowmon_vh",
	.prepare = flowmon_prepare,
	.configure = flowmon_configure,
};
