// SPDX-License-Identifier: GPL-2.0
/*
 * The load balancer without BPF: a table of broken configs fails at the exact
 * line, column and key path with the right message; the canonical JSON parses
 * back to the same config (the agent relies on it); and the weighted Maglev
 * tables keep their promises: spread by weight, about 1/N of the entries move
 * when one backend of N comes or goes, and none moves between the backends
 * that stay; drained and down backends get no entries.
 *
 * Usage: test_lb_unit CHAINS_DIR
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <sfc/sfc.h>
#include "lb.h"
#include "nf.h"
#include "testlib.h"

/* Lines 1-10; the config starts on line 11 at column 9. */
#define HEAD	"apiVersion: sfc/v1alpha1\n" \
		"kind: Chain\n" \
		"metadata:\n" \
		"  name: lbt\n" \
		"spec:\n" \
		"  interface: veth-in\n" \
		"  functions:\n" \
		"    - name: lb\n" \
		"      type: loadbalancer\n" \
		"      config:\n"
#define CFG	"spec.functions[0].config"
#define S0	CFG ".services[0]"
/* A good service; cases add lines after it (line 11..14). */
#define SVC	"        services:\n" \
		"          - vip: 192.0.2.10\n" \
		"            port: 80\n" \
		"            protocol: tcp\n"
#define BK1	"            backends: [{address: 10.0.2.11}]\n"

struct bad_case {
	const char *desc;
	const char *text;	/* after HEAD */
	int line, col;
	const char *path;
	const char *msg;	/* a substring of diag.msg */
};

static const struct bad_case bad[] = {
	{ "no config",
	  "        ~\n",
	  11, 9, CFG, "expected a mapping ({services: [...]}), got null" },
	{ "config is a list",
	  "        [1]\n",
	  11, 9, CFG, "expected a mapping ({services: [...]}), got a sequence" },
	{ "unknown key",
	  "        service: []\n",
	  11, 9, CFG ".service", "unknown key \"service\"" },
	{ "no services",
	  "        maxConnections: 100\n",
	  11, 9, CFG, "a loadbalancer needs services" },
	{ "services empty",
	  "        services: []\n",
	  11, 19, CFG ".services", "a loadbalancer needs at least one service" },
	{ "services a mapping",
	  "        services: {vip: 192.0.2.10}\n",
	  11, 19, CFG ".services", "expected a list of services, got a mapping" },
	{ "service a string",
	  "        services: [web]\n",
	  11, 20, S0, "expected a mapping ({vip: 192.0.2.10, port: 80, ...}), got a string" },
	{ "service without vip",
	  "        services:\n          - port: 80\n",
	  12, 13, S0, "a service needs a vip" },
	{ "vip not an address",
	  "        services:\n          - vip: 192.0.2.300\n",
	  12, 18, S0 ".vip", "\"192.0.2.300\" is not an IPv4 or IPv6 address" },
	{ "vip a prefix",
	  "        services:\n          - vip: 192.0.2.0/24\n",
	  12, 18, S0 ".vip", "\"192.0.2.0/24\" is not an IPv4 or IPv6 address" },
	{ "vip multicast",
	  "        services:\n          - vip: 224.0.0.1\n",
	  12, 18, S0 ".vip", "224.0.0.1 is not a unicast address" },
	{ "vip 0.0.0.0",
	  "        services:\n          - vip: 0.0.0.0\n",
	  12, 18, S0 ".vip", "0.0.0.0 is not a unicast address" },
	{ "vip ::1",
	  "        services:\n          - vip: \"::1\"\n",
	  12, 18, S0 ".vip", "::1 is not a unicast address" },
	{ "no port",
	  "        services:\n          - vip: 192.0.2.10\n            protocol: tcp\n",
	  12, 13, S0, "a service needs a port" },
	{ "port 0",
	  "        services:\n          - vip: 192.0.2.10\n            port: 0\n",
	  13, 19, S0 ".port", "\"0\" is out of range (expected an integer in 1..65535)" },
	{ "port 70000",
	  "        services:\n          - vip: 192.0.2.10\n            port: 70000\n",
	  13, 19, S0 ".port", "\"70000\" is out of range (expected an integer in 1..65535)" },
	{ "no protocol",
	  "        services:\n          - vip: 192.0.2.10\n            port: 80\n",
	  12, 13, S0, "a service needs a protocol (tcp or udp)" },
	{ "protocol sctp",
	  "        services:\n          - vip: 192.0.2.10\n            port: 80\n"
	  "            protocol: sctp\n",
	  14, 23, S0 ".protocol", "\"sctp\" is not valid (expected one of: tcp, udp)" },
	{ "protocol icmp",
	  "        services:\n          - vip: 192.0.2.10\n            port: 80\n"
	  "            protocol: icmp\n",
	  14, 23, S0 ".protocol", "\"icmp\" is not valid (expected one of: tcp, udp)" },
	{ "mode unknown",
	  SVC "            mode: tunnel\n" BK1,
	  15, 19, S0 ".mode", "\"tunnel\" is not valid (expected one of: nat, dsr)" },
	{ "no backends",
	  SVC,
	  12, 13, S0, "a service needs backends" },
	{ "backends empty",
	  SVC "            backends: []\n",
	  15, 23, S0 ".backends", "a service needs at least one backend" },
	{ "backend a string",
	  SVC "            backends: [10.0.2.11]\n",
	  15, 24, S0 ".backends[0]", "expected a mapping ({address: 10.0.2.11, weight: 1}), "
	  "got a string" },
	{ "backend without address",
	  SVC "            backends: [{weight: 1}]\n",
	  15, 24, S0 ".backends[0]", "a backend needs an address" },
	{ "backend unknown key",
	  SVC "            backends: [{address: 10.0.2.11, wieght: 2}]\n",
	  15, 45, S0 ".backends[0].wieght", "unknown key \"wieght\" (expected one of: address, "
	  "weight, port, state)" },
	{ "backend of the other family",
	  SVC "            backends: [{address: \"2001:db8::11\"}]\n",
	  15, 34, S0 ".backends[0].address", "an IPv6 backend for an IPv4 VIP" },
	{ "backend weight 257",
	  SVC "            backends: [{address: 10.0.2.11, weight: 257}]\n",
	  15, 53, S0 ".backends[0].weight", "\"257\" is out of range (expected an integer in 0..256)" },
	{ "backend weight negative",
	  SVC "            backends: [{address: 10.0.2.11, weight: -1}]\n",
	  15, 53, S0 ".backends[0].weight", "\"-1\" is not an integer" },
	{ "backend state unknown",
	  SVC "            backends: [{address: 10.0.2.11, state: down}]\n",
	  15, 52, S0 ".backends[0].state", "\"down\" is not valid (expected one of: active, drain)" },
	{ "backend twice",
	  SVC "            backends:\n              - {address: 10.0.2.11}\n"
	  "              - {address: 10.0.2.11, weight: 3}\n",
	  17, 17, S0 ".backends[1]", "backend 10.0.2.11:80 is listed twice (also at line 16)" },
	{ "same address, other port: two backends, but dsr cannot change ports",
	  SVC "            mode: dsr\n            backends:\n              - {address: 10.0.2.11}\n"
	  "              - {address: 10.0.2.11, port: 8080}\n",
	  18, 44, S0 ".backends[1].port", "dsr cannot change the port" },
	{ "backend port 0",
	  SVC "            backends: [{address: 10.0.2.11, port: 0}]\n",
	  15, 51, S0 ".backends[0].port", "\"0\" is out of range (expected an integer in 1..65535)" },
	{ "service twice",
	  SVC BK1 "          - {vip: 192.0.2.10, port: 80, protocol: tcp, backends: "
	  "[{address: 10.0.2.12}]}\n",
	  16, 13, CFG ".services[1]", "service 192.0.2.10:80/tcp is defined twice" },
	{ "healthCheck without type",
	  SVC BK1 "            healthCheck: {port: 80}\n",
	  16, 26, S0 ".healthCheck", "healthCheck needs a type (tcp or http)" },
	{ "healthCheck type icmp",
	  SVC BK1 "            healthCheck: {type: icmp}\n",
	  16, 33, S0 ".healthCheck.type", "\"icmp\" is not valid (expected one of: tcp, http)" },
	{ "healthCheck timeout over interval",
	  SVC BK1 "            healthCheck: {type: tcp, interval: 1s, timeout: 2s}\n",
	  16, 61, S0 ".healthCheck.timeout", "timeout must not be longer than interval" },
	{ "healthCheck interval too short",
	  SVC BK1 "            healthCheck: {type: tcp, interval: 1ms}\n",
	  16, 48, S0 ".healthCheck.interval", "must be at least 10ms" },
	{ "healthCheck rise 0",
	  SVC BK1 "            healthCheck: {type: tcp, rise: 0}\n",
	  16, 44, S0 ".healthCheck.rise", "\"0\" is out of range (expected an integer in 1..100)" },
	{ "healthCheck path for tcp",
	  SVC BK1 "            healthCheck: {type: tcp, path: /health}\n",
	  16, 44, S0 ".healthCheck.path", "path is for type http only" },
	{ "healthCheck path without /",
	  SVC BK1 "            healthCheck: {type: http, path: health}\n",
	  16, 45, S0 ".healthCheck.path", "expected a path starting with / and without spaces" },
	{ "healthCheck unknown key",
	  SVC BK1 "            healthCheck: {type: tcp, retries: 3}\n",
	  16, 38, S0 ".healthCheck.retries", "unknown key \"retries\"" },
	{ "tableSize not prime",
	  SVC BK1 "        tableSize: 1000\n",
	  16, 20, CFG ".tableSize", "1000 is not a prime" },
	{ "tableSize too small",
	  SVC BK1 "        tableSize: 7\n",
	  16, 20, CFG ".tableSize", "\"7\" is out of range (expected an integer in 251..1048573)" },
	{ "tableSize too small for the backends",
	  SVC "            backends: [{address: 10.0.2.11}, {address: 10.0.2.12}, "
	  "{address: 10.0.2.13}]\n        tableSize: 251\n",
	  16, 20, CFG ".tableSize", "tableSize 251 is too small for 3 backends" },
	{ "maxConnections 0",
	  SVC BK1 "        maxConnections: 0\n",
	  16, 25, CFG ".maxConnections", "\"0\" is out of range (expected an integer in "
	  "64..67108864)" },
	{ "mtu too small",
	  SVC BK1 "        mtu: 576\n",
	  16, 14, CFG ".mtu", "\"576\" is out of range (expected an integer in 1280..65535)" },
	{ "timeouts a list",
	  SVC BK1 "        timeouts: [1s]\n",
	  16, 19, CFG ".timeouts", "expected a mapping ({tcp: 15m, tcpClosing: 10s, udp: 5m}), "
	  "got a sequence" },
	{ "timeout below a second",
	  SVC BK1 "        timeouts: {udp: 10ms}\n",
	  16, 25, CFG ".timeouts.udp", "must be at least 1000ms" },
	{ "a quoted duration is still checked",
	  SVC BK1 "        timeouts: {tcp: \"5 min\"}\n",
	  16, 25, CFG ".timeouts.tcp", "\"5 min\" is not a duration" },
	{ "timeout unknown key",
	  SVC BK1 "        timeouts: {fin: 10s}\n",
	  16, 20, CFG ".timeouts.fin", "unknown key \"fin\" (expected one of: tcp, tcpClosing, udp)" },
	{ "encapSource ipv4 given an IPv6 address",
	  SVC BK1 "        encapSource: {ipv4: \"2001:db8::1\"}\n",
	  16, 29, CFG ".encapSource.ipv4", "expected an IPv4 address" },
	{ "encapSource not an address",
	  SVC BK1 "        encapSource: {ipv6: lb.example}\n",
	  16, 29, CFG ".encapSource.ipv6", "\"lb.example\" is not an IPv4 or IPv6 address" },
};

static void check_bad(const struct bad_case *c)
{
	struct sfc_chain_spec *spec;
	char text[4096], buf[1024];
	struct sfc_diag d;

	snprintf(text, sizeof(text), HEAD "%s", c->text);
	memset(&d, 0xa5, sizeof(d));
	errno = 0;
	spec = sfc_chain_spec__parse_string("lb.yaml", text, strlen(text), &d);
	CHECK(!spec, "%s: parsed", c->desc);
	if (spec) {
		sfc_chain_spec__free(spec);
		return;
	}
	sfc_diag__format(&d, buf, sizeof(buf));
	if (getenv("SFC_TEST_VERBOSE"))
		printf("%-45s %s\n", c->desc, buf);
	CHECK(errno == EINVAL, "%s: errno %d", c->desc, errno);
	CHECK(d.line == c->line && d.col == c->col, "%s: at %d:%d, want %d:%d (%s)", c->desc,
	      d.line, d.col, c->line, c->col, buf);
	CHECK(!strcmp(d.path, c->path), "%s: path \"%s\", want \"%s\" (%s)", c->desc, d.path,
	      c->path, buf);
	CHECK(strstr(d.msg, c->msg), "%s: msg \"%s\", want \"%s\"", c->desc, d.msg, c->msg);
}

/* ---- canonical JSON: a config of its own ------------------------------------ */

static const char good_cfg[] =
	"        services:\n"
	"          - vip: 192.0.2.10\n"
	"            port: 80\n"
	"            protocol: tcp\n"
	"            backends:\n"
	"              - {address: 10.0.2.11, weight: 1}\n"
	"              - {address: 10.0.2.12, weight: 2, port: 8080}\n"
	"              - {address: 10.0.2.13, weight: 1, state: drain}\n"
	"            healthCheck: {type: http, port: 81, interval: 2s, timeout: 500ms, rise: 2, "
	"fall: 3, path: /healthz}\n"
	"          - vip: \"2001:db8::10\"\n"
	"            port: 53\n"
	"            protocol: udp\n"
	"            mode: dsr\n"
	"            backends: [{address: \"2001:db8:2::11\"}, {address: \"2001:db8:2::12\"}]\n"
	"        maxConnections: 4096\n"
	"        tableSize: 4099\n"
	"        timeouts: {tcp: 1h, udp: 30s}\n"
	"        mtu: 9000\n"
	"        encapSource: {ipv6: \"2001:db8:ff::1\"}\n";

static const char good_json[] =
	"{\"services\":[{\"vip\":\"192.0.2.10\",\"port\":80,\"protocol\":\"tcp\",\"mode\":\"nat\","
	"\"backends\":[{\"address\":\"10.0.2.11\",\"port\":80,\"weight\":1,\"state\":\"active\"},"
	"{\"address\":\"10.0.2.12\",\"port\":8080,\"weight\":2,\"state\":\"active\"},"
	"{\"address\":\"10.0.2.13\",\"port\":80,\"weight\":1,\"state\":\"drain\"}],"
	"\"healthCheck\":{\"type\":\"http\",\"port\":81,\"interval\":\"2000000000ns\","
	"\"timeout\":\"500000000ns\",\"rise\":2,\"fall\":3,\"path\":\"/healthz\"}},"
	"{\"vip\":\"2001:db8::10\",\"port\":53,\"protocol\":\"udp\",\"mode\":\"dsr\","
	"\"backends\":[{\"address\":\"2001:db8:2::11\",\"port\":53,\"weight\":1,\"state\":\"active\"},"
	"{\"address\":\"2001:db8:2::12\",\"port\":53,\"weight\":1,\"state\":\"active\"}]}],"
	"\"maxConnections\":4096,\"tableSize\":4099,\"timeouts\":{\"tcp\":\"3600000000000ns\","
	"\"tcpClosing\":\"10000000000ns\",\"udp\":\"30000000000ns\"},\"mtu\":9000,"
	"\"encapSource\":{\"ipv6\":\"2001:db8:ff::1\"}}";

/* The config object of the only function in the canonical JSON of text. */
static char *config_json(const char *text)
{
	struct sfc_chain_spec *spec;
	char buf[1024], *json, *c, *out = NULL;
	struct sfc_diag d;
	size_t n;

	spec = sfc_chain_spec__parse_string("lb.yaml", text, strlen(text), &d);
	if (!spec)
		sfc_diag__format(&d, buf, sizeof(buf));
	CHECK(spec, "good config: %s", spec ? "" : buf);
	if (!spec)
		return NULL;
	json = sfc_chain_spec__to_json(spec, true);
	sfc_chain_spec__free(spec);
	c = json ? strstr(json, "\"config\":") : NULL;
	CHECK(c, "no config in %s", json ? json : "(null)");
	if (c) {
		c += strlen("\"config\":");
		n = strlen(c);
		/* the config object ends the function object, then the list... */
		while (n && c[n - 1] != '}')
			n--;
		out = strndup(c, n);
	}
	free(json);
	return out;
}

static void check_canonical(void)
{
	char text[8192], *json, *again;
	const char *end;

	snprintf(text, sizeof(text), HEAD "%s", good_cfg);
	json = config_json(text);
	if (!json)
		return;
	/* cut the closing of the function, spec and chain objects */
	end = strstr(json, good_json);
	CHECK(end == json, "canonical JSON\n got %s\nwant %s", json, good_json);
	/* and the canonical JSON is a config of its own, giving itself again */
	snprintf(text, sizeof(text), HEAD "        %s\n", good_json);
	again = config_json(text);
	CHECK(again && strstr(again, good_json) == again, "re-parsed canonical JSON differs: %s",
	      again ? again : "(null)");
	free(json);
	free(again);
}

static void check_example(const char *dir)
{
	struct sfc_chain_spec *spec;
	char path[1024], buf[1024];
	struct sfc_diag d;

	snprintf(path, sizeof(path), "%s/loadbalancer.yaml", dir);
	spec = sfc_chain_spec__parse_file(path, &d);
	if (!spec)
		sfc_diag__format(&d, buf, sizeof(buf));
	CHECK(spec, "%s: %s", path, spec ? "" : buf);
	sfc_chain_spec__free(spec);
}

/* ---- Maglev ------------------------------------------------------------------ */

static struct lb_service svc_of(unsigned int n, const uint32_t *weights)
{
	struct lb_service s = { .family = SFC_FAMILY_IPV4, .port = 80, .proto = IPPROTO_TCP };
	unsigned int i;

	s.n_backends = n;
	s.backends = calloc(n, sizeof(*s.backends));
	for (i = 0; i < n; i++) {
		s.backends[i].family = SFC_FAMILY_IPV4;
		s.backends[i].addr[0] = 10;
		s.backends[i].addr[1] = 2;
		s.backends[i].addr[2] = (uint8_t)(i >> 8);
		s.backends[i].addr[3] = (uint8_t)i;
		s.backends[i].port = 80;
		s.backends[i].weight = weights ? weights[i] : 1;
	}
	return s;
}

static void count(const uint32_t *t, uint32_t m, uint32_t *per, unsigned int n)
{
	uint32_t k;

	memset(per, 0, n * sizeof(*per));
	for (k = 0; k < m; k++)
		if (t[k] < n)
			per[t[k]]++;
}

/* Ids are the backend's index, so table entries name backends directly. */
static uint32_t ids[1024];

static void check_spread(uint32_t m)
{
	static const uint32_t w[] = { 1, 2, 1, 4, 3, 1, 1, 2 };
	struct lb_service s = svc_of(8, w);
	uint32_t *t = calloc(m, sizeof(*t)), per[8], i, total = 0;
	int n;

	for (i = 0; i < 8; i++)
		total += w[i];
	n = lb_maglev__build(&s, ids, NULL, m, t);
	CHECK(n == 8, "m %u: %d backends in the table", m, n);
	count(t, m, per, 8);
	for (i = 0; i < 8; i++) {
		double want = (double)m * w[i] / total;

		CHECK(fabs(per[i] - want) <= 0.02 * m + 1, "m %u: backend %u weight %u has %u "
		      "entries, want %.0f", m, i, w[i], per[i], want);
	}
	free(t);
	free(s.backends);
}

/*
 * One backend added to n (or removed from n+1): the entries that change
 * owner should be about 1/(n+1) of the table, nearly all of them to (or from)
 * that backend.
 */
static void check_disruption(unsigned int n, uint32_t m)
{
	struct lb_service s = svc_of(n + 1, NULL);
	uint32_t *a = calloc(m, sizeof(*a)), *b = calloc(m, sizeof(*b)), moved = 0, other = 0, k;
	bool up[1024];
	unsigned int i;

	for (i = 0; i <= n; i++)
		up[i] = true;
	up[n] = false;
	lb_maglev__build(&s, ids, up, m, a);	/* n backends */
	lb_maglev__build(&s, ids, NULL, m, b);	/* n + 1 */
	for (k = 0; k < m; k++) {
		if (a[k] == b[k])
			continue;
		moved++;
		if (b[k] != n)
			other++;	/* moved between two backends that stayed */
	}
	CHECK(moved <= 1.3 * m / (n + 1) + 1, "n %u m %u: %u entries moved, ideal %.0f", n, m,
	      moved, (double)m / (n + 1));
	CHECK(moved >= 0.7 * m / (n + 1), "n %u m %u: only %u entries moved, ideal %.0f", n, m,
	      moved, (double)m / (n + 1));
	CHECK(other <= 0.02 * m, "n %u m %u: %u entries moved between backends that stayed", n, m,
	      other);
	if (getenv("SFC_TEST_VERBOSE"))
		printf("maglev n=%u m=%u: %u moved (ideal %.0f), %u between others\n", n, m, moved,
		       (double)m / (n + 1), other);
	free(a);
	free(b);
	free(s.backends);
}

static void check_excluded(void)
{
	struct lb_service s = svc_of(4, NULL);
	uint32_t m = 1021, *t = calloc(m, sizeof(*t)), per[4];
	bool up[4] = { true, false, true, true };
	int n;

	s.backends[2].drain = true;
	s.backends[3].weight = 0;
	n = lb_maglev__build(&s, ids, up, m, t);
	CHECK(n == 1, "one backend left, table has %d", n);
	count(t, m, per, 4);
	CHECK(per[0] == m && !per[1] && !per[2] && !per[3], "down/drain/weight 0 got entries: "
	      "%u %u %u %u", per[0], per[1], per[2], per[3]);
	up[0] = false;
	n = lb_maglev__build(&s, ids, up, m, t);
	CHECK(n == 0 && t[0] == SFC_LB_NO_BACKEND && t[m - 1] == SFC_LB_NO_BACKEND,
	      "no backend up: %d, entries %#x", n, t[0]);
	free(t);
	free(s.backends);
}

/* The same backends in another order or another service: the same walks. */
static void check_deterministic(void)
{
	struct lb_service s = svc_of(5, NULL);
	uint32_t m = 4099, *a = calloc(m, sizeof(*a)), *b = calloc(m, sizeof(*b));

	lb_maglev__build(&s, ids, NULL, m, a);
	lb_maglev__build(&s, ids, NULL, m, b);
	CHECK(!memcmp(a, b, m * sizeof(*a)), "two builds differ");
	free(a);
	free(b);
	free(s.backends);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CHAINS_DIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		ids[i] = (uint32_t)i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(&bad[i]);
	check_canonical();
	check_example(argv[1]);
	check_spread(65537);
	check_spread(4099);
	check_disruption(2, 65537);
	check_disruption(5, 65537);
	check_disruption(10, 65537);
	check_disruption(50, 65537);
	check_disruption(9, 1021);
	check_excluded();
	check_deterministic();
	TEST_DONE();
}
