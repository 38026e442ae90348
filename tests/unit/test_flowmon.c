// SPDX-License-Identifier: GPL-2.0
/*
 * The flowmon's config, without BPF: a table of broken configs fails at the
 * exact line, column and key path with the right message; good configs give
 * the canonical JSON the agent reads from the spec pin, key for key.
 *
 * Usage: test_flowmon_unit CHAINS_DIR
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sfc/sfc.h>
#include "testlib.h"

/* Lines 1-10; the config starts on line 11 at column 9. */
#define HEAD	"apiVersion: sfc/v1alpha1\n" \
		"kind: Chain\n" \
		"metadata:\n" \
		"  name: fm\n" \
		"spec:\n" \
		"  interface: veth-in\n" \
		"  functions:\n" \
		"    - name: mon\n" \
		"      type: flowmon\n" \
		"      config:\n"
#define CFG	"spec.functions[0].config"
#define IPFIX	CFG ".ipfix"
#define PROM	CFG ".prometheus"
#define COLLECTOR_WHAT "(expected ADDR:PORT, like 192.0.2.1:4739, [2001:db8::1]:4739 or " \
		       "collector.example:4739)"
#define LISTEN_WHAT "(expected ADDR:PORT with an IP address, like 127.0.0.1:9469 or [::1]:9469)"

struct bad_case {
	const char *desc;
	const char *text;	/* after HEAD */
	int line, col;
	const char *path;
	const char *msg;	/* a substring of diag.msg */
};

static const struct bad_case bad[] = {
	/* ---- the config ---- */
	{ "config is a sequence",
	  "        [1]\n",
	  11, 9, CFG, "expected a mapping (flowmon takes {maxFlows, activeTimeout, "
	  "inactiveTimeout, sampling, ipfix, prometheus}), got a sequence" },
	{ "config is a string",
	  "        all\n",
	  11, 9, CFG, "expected a mapping (flowmon takes {maxFlows, activeTimeout, "
	  "inactiveTimeout, sampling, ipfix, prometheus}), got a string" },
	{ "config is null (as for every type: leave config out instead)",
	  "        ~\n",
	  11, 9, CFG, "inactiveTimeout, sampling, ipfix, prometheus}), got null" },
	{ "unknown key",
	  "        maxflows: 10\n",
	  11, 9, CFG ".maxflows", "unknown key \"maxflows\" (expected one of: maxFlows, "
	  "activeTimeout, inactiveTimeout, sampling, ipfix, prometheus)" },
	{ "unknown key after good ones",
	  "        sampling: 2\n        collector: 10.0.0.1:4739\n",
	  12, 9, CFG ".collector", "unknown key \"collector\"" },

	/* ---- maxFlows ---- */
	{ "maxFlows 0",
	  "        maxFlows: 0\n",
	  11, 19, CFG ".maxFlows", "\"0\" is out of range (expected an integer in 1..16777216)" },
	{ "maxFlows too big",
	  "        maxFlows: 16777217\n",
	  11, 19, CFG ".maxFlows", "\"16777217\" is out of range (expected an integer in "
	  "1..16777216)" },
	{ "maxFlows negative",
	  "        maxFlows: -1\n",
	  11, 19, CFG ".maxFlows", "\"-1\" is not an integer (expected an integer in "
	  "1..16777216)" },
	{ "maxFlows quoted",
	  "        maxFlows: \"1000\"\n",
	  11, 19, CFG ".maxFlows", "expected an integer in 1..16777216, got the quoted string "
	  "\"1000\"" },

	/* ---- timeouts ---- */
	{ "activeTimeout 0",
	  "        activeTimeout: 0s\n",
	  11, 24, CFG ".activeTimeout", "\"0s\" is out of range (expected 1ms..65535s: IPFIX "
	  "reports timeouts in seconds, as 16 bits)" },
	{ "inactiveTimeout 0",
	  "        inactiveTimeout: 0\n",
	  11, 26, CFG ".inactiveTimeout", "\"0\" is out of range (expected 1ms..65535s" },
	{ "activeTimeout over 65535s",
	  "        activeTimeout: 65536s\n",
	  11, 24, CFG ".activeTimeout", "\"65536s\" is out of range (expected 1ms..65535s" },
	{ "activeTimeout 19h",
	  "        activeTimeout: 19h\n",
	  11, 24, CFG ".activeTimeout", "\"19h\" is out of range" },
	{ "timeout below a millisecond",
	  "        inactiveTimeout: 999us\n",
	  11, 26, CFG ".inactiveTimeout", "\"999us\" is not a whole number of milliseconds" },
	{ "timeout with a fraction of a millisecond",
	  "        activeTimeout: 1500us\n",
	  11, 24, CFG ".activeTimeout", "\"1500us\" is not a whole number of milliseconds" },
	{ "timeout with an unknown unit",
	  "        activeTimeout: 1d\n",
	  11, 24, CFG ".activeTimeout", "\"1d\" is not a duration (expected a duration like "
	  "15s, 500ms, 2m, 1h or a number of seconds)" },
	{ "timeout is a mapping",
	  "        activeTimeout: {s: 1}\n",
	  11, 24, CFG ".activeTimeout", "expected a duration like 15s, 500ms, 2m, 1h or a number "
	  "of seconds, got a mapping" },

	/* ---- sampling ---- */
	{ "sampling 0",
	  "        sampling: 0\n",
	  11, 19, CFG ".sampling", "\"0\" is out of range (expected an integer in 1..65535)" },
	{ "sampling 65536",
	  "        sampling: 65536\n",
	  11, 19, CFG ".sampling", "\"65536\" is out of range (expected an integer in 1..65535)" },
	{ "sampling as a ratio",
	  "        sampling: 1/10\n",
	  11, 19, CFG ".sampling", "\"1/10\" is not an integer (expected an integer in "
	  "1..65535)" },

	/* ---- ipfix ---- */
	{ "ipfix is a string",
	  "        ipfix: 10.0.0.1:4739\n",
	  11, 16, IPFIX, "expected a mapping ({collector: ADDR:PORT, transport: udp, "
	  "observationDomain: N}), got a string" },
	{ "ipfix is null",
	  "        ipfix:\n",
	  11, 15, IPFIX, "got null" },
	{ "ipfix without collector",
	  "        ipfix: {transport: udp}\n",
	  11, 16, IPFIX, "missing required key \"collector\"" },
	{ "ipfix unknown key",
	  "        ipfix: {collector: 10.0.0.1:4739, port: 4739}\n",
	  11, 43, IPFIX ".port", "unknown key \"port\" (expected one of: collector, transport, "
	  "observationDomain)" },
	{ "collector without port",
	  "        ipfix: {collector: 10.0.0.1}\n",
	  11, 28, IPFIX ".collector", "\"10.0.0.1\" has no port " COLLECTOR_WHAT },
	{ "collector port 0",
	  "        ipfix: {collector: 10.0.0.1:0}\n",
	  11, 28, IPFIX ".collector", "\"10.0.0.1:0\" has a port out of range 1..65535" },
	{ "collector port 65536",
	  "        ipfix: {collector: 10.0.0.1:65536}\n",
	  11, 28, IPFIX ".collector", "\"10.0.0.1:65536\" has a port out of range 1..65535" },
	{ "collector port not a number",
	  "        ipfix: {collector: 10.0.0.1:ipfix}\n",
	  11, 28, IPFIX ".collector", "\"10.0.0.1:ipfix\" has no port number after the colon" },
	{ "collector empty port",
	  "        ipfix: {collector: \"10.0.0.1:\"}\n",
	  11, 28, IPFIX ".collector", "\"10.0.0.1:\" has no port number after the colon" },
	{ "collector bad IPv4",
	  "        ipfix: {collector: 10.0.0.256:4739}\n",
	  11, 28, IPFIX ".collector", "\"10.0.0.256:4739\" has no IP address or host name before "
	  "the port " COLLECTOR_WHAT },
	{ "collector short IPv4",
	  "        ipfix: {collector: 10.1:4739}\n",
	  11, 28, IPFIX ".collector", "\"10.1:4739\" has no IP address or host name" },
	{ "collector host name with an underscore",
	  "        ipfix: {collector: col_1.example:4739}\n",
	  11, 28, IPFIX ".collector", "\"col_1.example:4739\" has no IP address or host name" },
	{ "collector nothing before the port",
	  "        ipfix: {collector: \":4739\"}\n",
	  11, 28, IPFIX ".collector", "\":4739\" has no IP address before the port" },
	{ "collector IPv6 without brackets",
	  "        ipfix: {collector: \"2001:db8::1:4739\"}\n",
	  11, 28, IPFIX ".collector", "\"2001:db8::1:4739\" is ambiguous: write an IPv6 address "
	  "with a port as [ADDR]:PORT" },
	{ "collector IPv6 in brackets without port",
	  "        ipfix: {collector: \"[2001:db8::1]\"}\n",
	  11, 28, IPFIX ".collector", "\"[2001:db8::1]\" has no port" },
	{ "collector IPv6 brackets not closed",
	  "        ipfix: {collector: \"[2001:db8::1:4739\"}\n",
	  11, 28, IPFIX ".collector", "\"[2001:db8::1:4739\" has no closing ]" },
	{ "collector IPv4 in brackets",
	  "        ipfix: {collector: \"[10.0.0.1]:4739\"}\n",
	  11, 28, IPFIX ".collector", "\"[10.0.0.1]:4739\" is not an IPv6 address in brackets" },
	{ "collector text after the brackets",
	  "        ipfix: {collector: \"[::1]4739\"}\n",
	  11, 28, IPFIX ".collector", "\"[::1]4739\" has text after ] that is not :PORT" },
	{ "collector 0.0.0.0",
	  "        ipfix: {collector: 0.0.0.0:4739}\n",
	  11, 28, IPFIX ".collector", "\"0.0.0.0:4739\" is the unspecified address, which no "
	  "collector has" },
	{ "collector [::]",
	  "        ipfix: {collector: \"[::]:4739\"}\n",
	  11, 28, IPFIX ".collector", "\"[::]:4739\" is the unspecified address" },
	{ "collector unquoted IPv6 in block style",
	  "        ipfix:\n          collector: [2001:db8::1]\n",
	  12, 22, IPFIX ".collector", "got a sequence (quote an address in brackets: "
	  "\"[2001:db8::1]:4739\")" },
	{ "collector is a number",
	  "        ipfix: {collector: 4739}\n",
	  11, 28, IPFIX ".collector", "\"4739\" has no port" },
	{ "collector null",
	  "        ipfix: {collector: ~}\n",
	  11, 28, IPFIX ".collector", "got null" },
	{ "bad transport",
	  "        ipfix: {collector: 10.0.0.1:4739, transport: sctp}\n",
	  11, 54, IPFIX ".transport", "\"sctp\" is not valid (expected one of: udp, tcp)" },
	{ "observationDomain negative",
	  "        ipfix: {collector: 10.0.0.1:4739, observationDomain: -1}\n",
	  11, 62, IPFIX ".observationDomain", "\"-1\" is not an integer (expected an integer in "
	  "0..4294967295)" },
	{ "observationDomain too big",
	  "        ipfix: {collector: 10.0.0.1:4739, observationDomain: 4294967296}\n",
	  11, 62, IPFIX ".observationDomain", "\"4294967296\" is out of range" },

	/* ---- prometheus ---- */
	{ "prometheus is a sequence",
	  "        prometheus: [127.0.0.1:9469]\n",
	  11, 21, PROM, "expected a mapping ({listen: ADDR:PORT}), got a sequence" },
	{ "prometheus without listen",
	  "        prometheus: {}\n",
	  11, 21, PROM, "missing required key \"listen\"" },
	{ "prometheus unknown key",
	  "        prometheus:\n          listen: 127.0.0.1:9469\n          path: /metrics\n",
	  13, 11, PROM ".path", "unknown key \"path\" (expected one of: listen)" },
	{ "listen on a host name",
	  "        prometheus: {listen: localhost:9469}\n",
	  11, 30, PROM ".listen", "\"localhost:9469\" has no IP address before the port (a "
	  "listen address is bound as written: no host names) " LISTEN_WHAT },
	{ "listen without port",
	  "        prometheus: {listen: 127.0.0.1}\n",
	  11, 30, PROM ".listen", "\"127.0.0.1\" has no port " LISTEN_WHAT },
	{ "listen port 0",
	  "        prometheus: {listen: \"[::1]:0\"}\n",
	  11, 30, PROM ".listen", "\"[::1]:0\" has a port out of range 1..65535" },
};

static void check_bad(const struct bad_case *c)
{
	struct sfc_chain_spec *spec;
	char text[4096], buf[1024];
	struct sfc_diag d;

	snprintf(text, sizeof(text), HEAD "%s", c->text);
	memset(&d, 0xa5, sizeof(d));
	errno = 0;
	spec = sfc_chain_spec__parse_string("fm.yaml", text, strlen(text), &d);
	CHECK(!spec, "%s: parsed", c->desc);
	if (spec) {
		sfc_chain_spec__free(spec);
		return;
	}
	sfc_diag__format(&d, buf, sizeof(buf));
	if (getenv("SFC_TEST_VERBOSE"))
		printf("%-40s %s\n", c->desc, buf);
	CHECK(errno == EINVAL, "%s: errno %d", c->desc, errno);
	CHECK(!strcmp(d.file, "fm.yaml"), "%s: file \"%s\"", c->desc, d.file);
	CHECK(d.line == c->line && d.col == c->col, "%s: at %d:%d, want %d:%d (%s)", c->desc,
	      d.line, d.col, c->line, c->col, buf);
	CHECK(!strcmp(d.path, c->path), "%s: path \"%s\", want \"%s\" (%s)", c->desc, d.path,
	      c->path, buf);
	CHECK(strstr(d.msg, c->msg), "%s: msg \"%s\", want \"%s\"", c->desc, d.msg, c->msg);
}

/* ---- good configs: the canonical JSON ------------------------------------ */

/* The config object of the only function in the canonical JSON of text. */
static char *config_json(const char *desc, const char *text)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char buf[1024], *json, *c, *out = NULL;
	size_t n;

	spec = sfc_chain_spec__parse_string("fm.yaml", text, strlen(text), &d);
	if (!spec)
		sfc_diag__format(&d, buf, sizeof(buf));
	CHECK(spec, "%s: %s", desc, spec ? "" : buf);
	if (!spec)
		return NULL;
	json = sfc_chain_spec__to_json(spec, true);
	sfc_chain_spec__free(spec);
	c = json ? strstr(json, "\"config\":") : NULL;
	CHECK(c, "%s: no config in %s", desc, json ? json : "(null)");
	if (c) {
		c += strlen("\"config\":");
		n = strlen(c);
		/* the config object is followed by "}]}" (function, list, spec) */
		if (n >= 3 && !strcmp(c + n - 3, "}]}"))
			out = strndup(c, n - 3);
	}
	free(json);
	return out;
}

struct good_case {
	const char *desc;
	const char *text;	/* after HEAD; NULL: the function has no config key */
	const char *json;
};

#define DEFAULTS "\"max_flows\":262144,\"active_timeout_ms\":60000," \
		 "\"inactive_timeout_ms\":15000,\"sampling\":1"

static const struct good_case good[] = {
	{ "empty config", "        {}\n", "{" DEFAULTS "}" },
	{ "everything",
	  "        maxFlows: 1024\n"
	  "        activeTimeout: 2m\n"
	  "        inactiveTimeout: 500ms\n"
	  "        sampling: 10\n"
	  "        ipfix: {collector: 192.0.2.1:4739, transport: tcp, observationDomain: 7}\n"
	  "        prometheus: {listen: 127.0.0.1:9469}\n",
	  "{\"max_flows\":1024,\"active_timeout_ms\":120000,\"inactive_timeout_ms\":500,"
	  "\"sampling\":10,\"ipfix\":{\"collector\":\"192.0.2.1:4739\",\"transport\":\"tcp\","
	  "\"observation_domain\":7},\"prometheus\":{\"listen\":\"127.0.0.1:9469\"}}" },
	{ "keys in another order, block style, defaults spelled out",
	  "        prometheus:\n"
	  "          listen: \"[::1]:9469\"\n"
	  "        ipfix:\n"
	  "          observationDomain: 0\n"
	  "          transport: udp\n"
	  "          collector: \"[2001:DB8:0:0::1]:4739\"\n"
	  "        sampling: 1\n"
	  "        inactiveTimeout: 15\n"
	  "        activeTimeout: 60000ms\n"
	  "        maxFlows: 262144\n",
	  "{" DEFAULTS ",\"ipfix\":{\"collector\":\"[2001:db8::1]:4739\",\"transport\":\"udp\","
	  "\"observation_domain\":0},\"prometheus\":{\"listen\":\"[::1]:9469\"}}" },
	{ "ipfix defaults; inactiveTimeout longer than activeTimeout",
	  "        activeTimeout: 10s\n"
	  "        inactiveTimeout: 1m\n"
	  "        ipfix: {collector: 10.0.0.9:4739}\n",
	  "{\"max_flows\":262144,\"active_timeout_ms\":10000,\"inactive_timeout_ms\":60000,"
	  "\"sampling\":1,\"ipfix\":{\"collector\":\"10.0.0.9:4739\",\"transport\":\"udp\","
	  "\"observation_domain\":0}}" },
	{ "collector by name, in lower case; listen on every address",
	  "        ipfix: {collector: Collector-1.Example.NET:2055}\n"
	  "        prometheus: {listen: 0.0.0.0:9469}\n",
	  "{" DEFAULTS ",\"ipfix\":{\"collector\":\"collector-1.example.net:2055\","
	  "\"transport\":\"udp\",\"observation_domain\":0},"
	  "\"prometheus\":{\"listen\":\"0.0.0.0:9469\"}}" },
	{ "limits",
	  "        maxFlows: 16777216\n"
	  "        activeTimeout: 65535s\n"
	  "        inactiveTimeout: 1ms\n"
	  "        sampling: 65535\n"
	  "        ipfix: {collector: \"[::ffff:192.0.2.1]:65535\", observationDomain: 4294967295}\n",
	  "{\"max_flows\":16777216,\"active_timeout_ms\":65535000,\"inactive_timeout_ms\":1,"
	  "\"sampling\":65535,\"ipfix\":{\"collector\":\"[::ffff:192.0.2.1]:65535\","
	  "\"transport\":\"udp\",\"observation_domain\":4294967295}}" },
};

static void check_good(const struct good_case *c)
{
	char text[4096], *json;

	snprintf(text, sizeof(text), HEAD "%s", c->text);
	json = config_json(c->desc, text);
	if (json)
		CHECK(!strcmp(json, c->json), "%s:\n got %s\nwant %s", c->desc, json, c->json);
	free(json);
}

static void check_absent_config(void)
{
	char *json = config_json("absent config",
				 "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: fm\n"
				 "spec:\n  interface: veth-in\n  functions:\n"
				 "    - {name: mon, type: flowmon}\n");

	if (json)
		CHECK_STR(json, "{" DEFAULTS "}");
	free(json);
}

static void check_example(const char *dir)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char path[512], *json;

	snprintf(path, sizeof(path), "%s/flowmon.yaml", dir);
	spec = sfc_chain_spec__parse_file(path, &d);
	CHECK(spec, "%s: %d:%d: %s: %s", path, d.line, d.col, d.path, d.msg);
	if (!spec)
		return;
	json = sfc_chain_spec__to_json(spec, true);
	CHECK(json && strstr(json, "{\"name\":\"mon\",\"type\":\"flowmon\",\"config\":{"
			     "\"max_flows\":262144,\"active_timeout_ms\":60000,"
			     "\"inactive_timeout_ms\":15000,\"sampling\":1,"
			     "\"ipfix\":{\"collector\":\"192.0.2.50:4739\",\"transport\":\"udp\","
			     "\"observation_domain\":1},"
			     "\"prometheus\":{\"listen\":\"127.0.0.1:9469\"}}}"),
	      "example json: %s", json ? json : "(null)");
	free(json);
	sfc_chain_spec__free(spec);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CHAINS_DIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(&bad[i]);
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		check_good(&good[i]);
	check_absent_config();
	check_example(argv[1]);
	printf("%zu broken and %zu good configs checked\n", sizeof(bad) / sizeof(bad[0]),
	       sizeof(good) / sizeof(good[0]) + 1);
	TEST_DONE();
}
