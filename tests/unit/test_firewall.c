// SPDX-License-Identifier: GPL-2.0
/*
 * The firewall's config and compiler, without BPF: a table of broken configs
 * fails at the exact line, column and key path with the right message; good
 * configs parse, print and classify as written; and thousands of random rule
 * sets classify thousands of random packets the same through the compiled
 * tuple space search (the data path's algorithm) as through a linear walk
 * over the rules.
 *
 * Usage: test_firewall CHAINS_DIR [--quick]
 *	--quick: fewer random cases and no big compiles (for valgrind)
 *	SFC_FW_SEED=N: another seed for the random cases
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sfc/sfc.h>
#include "fw_compile.h"
#include "nf.h"
#include "testlib.h"

static char tmpdir[256];
static char chain_path[300];	/* tmpdir/chain.yaml: set files resolve in tmpdir */
static bool quick;

/* Lines 1-10; a firewall's config starts on line 11 at column 9. */
#define HEAD	"apiVersion: sfc/v1alpha1\n" \
		"kind: Chain\n" \
		"metadata:\n" \
		"  name: fw\n" \
		"spec:\n" \
		"  interface: veth-in\n" \
		"  functions:\n" \
		"    - name: fw\n" \
		"      type: firewall\n" \
		"      config:\n"
#define CFG	"spec.functions[0].config"
#define RULE0	CFG ".rules[0]"
/* Line 11, 12: a rule's keys start at column 13 from line 12 on. */
#define RULES	"        rules:\n" \
		"          - action: allow\n"
#define DROP	"        rules:\n" \
		"          - action: drop\n"

/* 16 aligned 2-port ranges: 32 class bounds, each range one block */
#define RANGES16 "10-11, 20-21, 30-31, 40-41, 50-51, 60-61, 70-71, 80-81, 90-91, " \
		 "100-101, 110-111, 120-121, 130-131, 140-141, 150-151, 160-161"

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
	  11, 9, CFG, "expected a mapping (firewall takes {defaultAction, stateful, "
	  "maxConnections, sets, rules}), got a sequence" },
	{ "unknown config key",
	  "        rule: []\n",
	  11, 9, CFG ".rule", "unknown key \"rule\" (expected one of: defaultAction, stateful, "
	  "maxConnections, sets, rules)" },
	{ "bad defaultAction",
	  "        defaultAction: reject\n",
	  11, 24, CFG ".defaultAction", "\"reject\" is not valid (expected one of: allow, drop)" },
	{ "stateful is not a bool",
	  "        stateful: yes\n",
	  11, 19, CFG ".stateful", "\"yes\" is not a boolean" },
	{ "maxConnections 0",
	  "        maxConnections: 0\n",
	  11, 25, CFG ".maxConnections", "\"0\" is out of range (expected an integer in "
	  "1..16777216)" },
	{ "maxConnections too big",
	  "        maxConnections: 16777217\n",
	  11, 25, CFG ".maxConnections", "is out of range" },
	{ "rules is a mapping",
	  "        rules: {action: drop}\n",
	  11, 16, CFG ".rules", "expected a sequence of rules, got a mapping" },
	{ "rule is a string",
	  "        rules: [drop]\n",
	  11, 17, RULE0, "expected a mapping (a rule like {action: allow, protocol: tcp, "
	  "dstPort: 22}), got a string" },

	/* ---- addresses ---- */
	{ "prefix /33",
	  DROP "            dst: 10.0.0.0/33\n",
	  13, 18, RULE0 ".dst", "\"10.0.0.0/33\" is not a prefix (an IPv4 prefix is 0..32 "
	  "bits long)" },
	{ "prefix /129",
	  DROP "            dst: 2001:db8::/129\n",
	  13, 18, RULE0 ".dst", "\"2001:db8::/129\" is not a prefix (an IPv6 prefix is 0..128" },
	{ "not an address",
	  DROP "            src: 10.0.0.x\n",
	  13, 18, RULE0 ".src", "\"10.0.0.x\" is not a prefix" },
	{ "short IPv4 address",
	  DROP "            src: 10.1/16\n",
	  13, 18, RULE0 ".src", "\"10.1/16\" is not a prefix" },
	{ "length is not a number",
	  DROP "            src: 10.0.0.0/x\n",
	  13, 18, RULE0 ".src", "\"10.0.0.0/x\" is not a prefix (expected a length in decimal" },
	{ "empty length",
	  DROP "            src: 10.0.0.0/\n",
	  13, 18, RULE0 ".src", "\"10.0.0.0/\" is not a prefix" },
	{ "prefix with a NUL",
	  DROP "            src: \"10.0.0.0/8\\0x\"\n",
	  13, 18, RULE0 ".src", "expected a prefix or @set, got text with a NUL character" },
	{ "prefix is a sequence",
	  DROP "            src: [10.0.0.0/8]\n",
	  13, 18, RULE0 ".src", "expected a prefix or @set, got a sequence" },
	{ "unknown set",
	  "        sets: {a: [10.0.0.0/8], b-2: []}\n" DROP "            src: \"@c\"\n",
	  14, 18, "spec.functions[0].config.rules[0].src", "unknown set \"c\" (sets: a, b-2)" },
	{ "unknown set, none defined",
	  DROP "            dst: \"@c\"\n",
	  13, 18, RULE0 ".dst", "unknown set \"c\" (no sets are defined)" },
	{ "v4 src, v6 dst",
	  DROP "            src: 10.0.0.0/8\n            dst: 2001:db8::/32\n",
	  14, 18, RULE0 ".dst", "\"2001:db8::/32\" is IPv6, but src is IPv4 (a rule matches "
	  "one address family)" },
	{ "family ipv6 with a v4 dst",
	  DROP "            dst: 10.0.0.0/8\n            family: ipv6\n",
	  14, 21, RULE0 ".family", "ipv6, but dst is IPv4" },
	{ "bad family",
	  DROP "            family: inet\n",
	  13, 21, RULE0 ".family", "\"inet\" is not valid (expected one of: ipv4, ipv6)" },

	/* ---- protocol ---- */
	{ "unknown protocol",
	  DROP "            protocol: gre\n",
	  13, 23, RULE0 ".protocol", "\"gre\" is not a protocol (expected tcp, udp, icmp, "
	  "icmpv6 or a number 0..255)" },
	{ "protocol 256",
	  DROP "            protocol: 256\n",
	  13, 23, RULE0 ".protocol", "256 is out of range 0..255" },
	{ "icmp with a v6 address",
	  DROP "            dst: 2001:db8::1\n            protocol: icmp\n",
	  14, 23, RULE0 ".protocol", "icmp is IPv4's ICMP, but dst is IPv6 (use icmpv6)" },
	{ "icmp with family ipv6",
	  DROP "            family: ipv6\n            protocol: 1\n",
	  14, 23, RULE0 ".protocol", "icmp is IPv4's ICMP, but family is IPv6" },
	{ "icmpv6 with a v4 address",
	  DROP "            src: 192.0.2.1\n            protocol: icmpv6\n",
	  14, 23, RULE0 ".protocol", "icmpv6 is IPv6's ICMP, but src is IPv4 (use icmp)" },

	/* ---- ports ---- */
	{ "port 70000",
	  RULES "            protocol: tcp\n            dstPort: 70000\n",
	  14, 22, RULE0 ".dstPort", "70000 is out of range 0..65535" },
	{ "port 70000 in a list",
	  RULES "            protocol: tcp\n            dstPort: [80, 70000]\n",
	  14, 27, RULE0 ".dstPort[1]", "70000 is out of range 0..65535" },
	{ "range end out of range",
	  RULES "            protocol: udp\n            srcPort: 1-65536\n",
	  14, 22, RULE0 ".srcPort", "65536 is out of range 0..65535" },
	{ "range upside down",
	  RULES "            protocol: tcp\n            dstPort: \"5100-5000\"\n",
	  14, 22, RULE0 ".dstPort", "\"5100-5000\": range upside down" },
	{ "not a port",
	  RULES "            protocol: tcp\n            dstPort: http\n",
	  14, 22, RULE0 ".dstPort", "\"http\" is not a port (expected a number 0..65535, "
	  "\"A-B\" or a list of them)" },
	{ "three-part range",
	  RULES "            protocol: tcp\n            dstPort: 1-2-3\n",
	  14, 22, RULE0 ".dstPort", "\"1-2-3\" is not a port" },
	{ "negative port",
	  RULES "            protocol: tcp\n            dstPort: -1\n",
	  14, 22, RULE0 ".dstPort", "\"-1\" is not a port" },
	{ "empty port list",
	  RULES "            protocol: tcp\n            dstPort: []\n",
	  14, 22, RULE0 ".dstPort", "an empty list (expected at least one port)" },
	{ "port is a mapping",
	  RULES "            protocol: tcp\n            dstPort: {a: 1}\n",
	  14, 22, RULE0 ".dstPort", "expected a port, \"A-B\" or a list of them, got a mapping" },
	{ "ports without protocol",
	  RULES "            dstPort: 80\n",
	  13, 22, RULE0 ".dstPort", "ports need protocol tcp or udp" },
	{ "ports with icmp",
	  RULES "            protocol: icmp\n            srcPort: 80\n",
	  14, 22, RULE0 ".srcPort", "ports need protocol tcp or udp, not icmp" },
	{ "ports with protocol 47",
	  RULES "            protocol: 47\n            srcPort: 80\n",
	  14, 22, RULE0 ".srcPort", "ports need protocol tcp or udp, not 47" },

	/* ---- ICMP ---- */
	{ "icmpType without icmp",
	  RULES "            protocol: tcp\n            icmpType: 8\n",
	  14, 23, RULE0 ".icmpType", "icmpType needs protocol icmp or icmpv6" },
	{ "icmpType without protocol",
	  RULES "            icmpType: echo-request\n",
	  13, 23, RULE0 ".icmpType", "icmpType needs protocol icmp or icmpv6" },
	{ "unknown ICMP type name",
	  RULES "            protocol: icmp\n            icmpType: echo\n",
	  14, 23, RULE0 ".icmpType", "\"echo\" is not an ICMP type (expected a number 0..255 or "
	  "one of: echo-reply, destination-unreachable," },
	{ "ICMPv6 name for icmp",
	  RULES "            protocol: icmp\n            icmpType: packet-too-big\n",
	  14, 23, RULE0 ".icmpType", "\"packet-too-big\" is not an ICMP type" },
	{ "ICMP name for icmpv6",
	  RULES "            protocol: icmpv6\n            icmpType: redirect\n",
	  14, 23, RULE0 ".icmpType", "\"redirect\" is not an ICMPv6 type" },
	{ "icmpType 256",
	  RULES "            protocol: icmp\n            icmpType: 256\n",
	  14, 23, RULE0 ".icmpType", "256 is out of range 0..255" },
	{ "icmpCode without icmpType",
	  RULES "            protocol: icmp\n            icmpCode: 1\n",
	  14, 23, RULE0 ".icmpCode", "icmpCode needs icmpType" },
	{ "icmpCode 256",
	  RULES "            protocol: icmp\n            icmpType: 3\n            icmpCode: 256\n",
	  15, 23, RULE0 ".icmpCode", "out of range (expected an integer in 0..255)" },

	/* ---- TCP flags ---- */
	{ "flag in set and unset",
	  RULES "            protocol: tcp\n            tcpFlags: {set: [syn], unset: [ack, syn]}\n",
	  14, 49, RULE0 ".tcpFlags.unset[1]", "\"syn\" is in set too (a flag is either set or "
	  "unset)" },
	{ "unknown flag",
	  RULES "            protocol: tcp\n            tcpFlags: {set: [SYN]}\n",
	  14, 30, RULE0 ".tcpFlags.set[0]", "\"SYN\" is not a TCP flag (expected fin, syn, rst, "
	  "psh, ack, urg, ece or cwr)" },
	{ "tcpFlags without tcp",
	  RULES "            protocol: udp\n            tcpFlags: {set: [syn]}\n",
	  14, 23, RULE0 ".tcpFlags", "tcpFlags needs protocol tcp" },
	{ "tcpFlags without flags",
	  RULES "            protocol: tcp\n            tcpFlags: {}\n",
	  14, 23, RULE0 ".tcpFlags", "expected at least one flag in set or unset" },
	{ "tcpFlags with another key",
	  RULES "            protocol: tcp\n            tcpFlags: {all: [syn]}\n",
	  14, 24, RULE0 ".tcpFlags.all", "unknown key \"all\" (expected one of: set, unset)" },

	/* ---- the other keys ---- */
	{ "vlan 4095",
	  RULES "            vlan: 4095\n",
	  13, 19, RULE0 ".vlan", "\"4095\" is out of range (expected an integer in 1..4094)" },
	{ "vlan 0",
	  RULES "            vlan: 0\n",
	  13, 19, RULE0 ".vlan", "is out of range (expected an integer in 1..4094)" },
	{ "fragment: true with ports",
	  RULES "            protocol: udp\n            dstPort: 53\n            fragment: true\n",
	  15, 23, RULE0 ".fragment", "true matches non-first fragments, which have no ports" },
	{ "fragment is not a bool",
	  RULES "            fragment: 1\n",
	  13, 23, RULE0 ".fragment", "\"1\" is not a boolean" },
	{ "rateLimit on drop",
	  DROP "            rateLimit: {pps: 10}\n",
	  13, 24, RULE0 ".rateLimit", "rateLimit needs action allow" },
	{ "rateLimit without pps",
	  RULES "            rateLimit: {burst: 10}\n",
	  13, 24, RULE0 ".rateLimit", "missing required key \"pps\"" },
	{ "rateLimit pps 0",
	  RULES "            rateLimit: {pps: 0}\n",
	  13, 30, RULE0 ".rateLimit.pps", "\"0\" is out of range (expected an integer in "
	  "1..1000000000)" },
	{ "rateLimit burst too long",
	  RULES "            rateLimit: {pps: 1, burst: 10000000}\n",
	  13, 40, RULE0 ".rateLimit.burst", "a burst of 10000000 at 1 pps is 10000000 seconds "
	  "of traffic (at most 4611686)" },
	{ "missing action",
	  "        rules:\n          - protocol: tcp\n",
	  12, 13, RULE0, "missing required key \"action\"" },
	{ "bad action",
	  "        rules:\n          - action: reject\n",
	  12, 21, RULE0 ".action", "\"reject\" is not valid (expected one of: allow, drop)" },
	{ "unknown rule key",
	  RULES "            port: 80\n",
	  13, 13, RULE0 ".port", "unknown key \"port\" (expected one of: action, src, dst," },
	{ "comment too long",
	  RULES "            comment: \""
	  "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123456789"
	  "01234567890123456789012345678901234567890123456789\"\n",
	  13, 22, RULE0 ".comment", "too long: 260 characters (at most 256)" },
	{ "the second rule",
	  "        rules:\n          - {action: drop}\n"
	  "          - {action: allow, protocol: tcp, dstPort: 99999}\n",
	  13, 53, CFG ".rules[1].dstPort", "99999 is out of range 0..65535" },

	/* ---- sets ---- */
	{ "sets is a list",
	  "        sets: [a]\n",
	  11, 15, CFG ".sets", "expected a mapping of set names to prefix lists or "
	  "{file: path}, got a sequence" },
	{ "bad set name",
	  "        sets:\n          bad.name: []\n",
	  12, 11, CFG ".sets[\"bad.name\"]", "\"bad.name\" is not a set name (expected 1 to 32 "
	  "of A-Z, a-z, 0-9, _ and -)" },
	{ "set name too long",
	  "        sets:\n          abcdefghij_abcdefghij_abcdefghij_x: []\n",
	  12, 11, CFG ".sets[\"abcdefghij_abcdefghij_abcdefghij_x\"]", "is not a set name" },
	{ "bad prefix in an inline set",
	  "        sets:\n          partners: [198.51.100.0/24, 2001:db8::/200]\n",
	  12, 39, CFG ".sets.partners[1]", "\"2001:db8::/200\" is not a prefix" },
	{ "set is a string",
	  "        sets:\n          partners: 10.0.0.0/8\n",
	  12, 21, CFG ".sets.partners", "expected a list of prefixes or {file: path}, got a "
	  "string" },
	{ "set without file",
	  "        sets:\n          blocklist: {path: x.txt}\n",
	  12, 23, CFG ".sets.blocklist.path", "unknown key \"path\" (expected one of: file)" },
	{ "set with an empty mapping",
	  "        sets:\n          blocklist: {}\n",
	  12, 22, CFG ".sets.blocklist", "missing required key \"file\"" },
	{ "missing set file",
	  "        sets:\n          blocklist: {file: nope.txt}\n",
	  12, 29, CFG ".sets.blocklist.file", "nope.txt: No such file or directory" },
	{ "set file is a folder",
	  "        sets:\n          blocklist: {file: sets}\n",
	  12, 29, CFG ".sets.blocklist.file", "sets: Is a directory" },
	{ "set file with a bad line",
	  "        sets:\n          ok: {file: sets/ok.txt}\n"
	  "          blocklist: {file: sets/bad.txt}\n",
	  13, 29, CFG ".sets.blocklist.file", "sets/bad.txt:4: \"10.0.0.300\" is not a prefix" },
	{ "set file with a bad length",
	  "        sets:\n          blocklist: {file: sets/bad-len.txt}\n",
	  12, 29, CFG ".sets.blocklist.file", "sets/bad-len.txt:2: \"2001:db8::/130\" is not a "
	  "prefix (an IPv6 prefix is 0..128 bits long)" },
	{ "set file with two prefixes on a line",
	  "        sets:\n          blocklist: {file: sets/two.txt}\n",
	  12, 29, CFG ".sets.blocklist.file", "sets/two.txt:1: \"10.0.0.0/8 10.1.0.0/16\" is not "
	  "a prefix (it has whitespace: one prefix per entry)" },

	/*
	 * ---- limits ----
	 * Rule 1's 16 small ranges per port cut 1-65535 into 33 classes, so
	 * that rule 0 would get 33 x 33 keys with classes, more than the 16 x 16
	 * of its blocks: it gets those, 16 block sizes per port, 256 tuples per
	 * family; the IPv6 ones pass the limit.
	 */
	{ "too many tuples",
	  RULES "            protocol: tcp\n            srcPort: 1-65535\n"
	  "            dstPort: 1-65535\n"
	  "          - {action: drop, protocol: tcp, srcPort: [" RANGES16 "], "
	  "dstPort: [" RANGES16 "]}\n",
	  12, 13, RULE0, "the rules up to this one need 257 tuples (at most 256:" },
};

static int write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	fclose(f);
	return 0;
}

static void check_bad_text(const char *desc, const char *text, int line, int col,
			   const char *path, const char *msg)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char buf[1024];

	memset(&d, 0xa5, sizeof(d));
	errno = 0;
	spec = sfc_chain_spec__parse_string(chain_path, text, strlen(text), &d);
	CHECK(!spec, "%s: parsed", desc);
	if (spec) {
		sfc_chain_spec__free(spec);
		return;
	}
	sfc_diag__format(&d, buf, sizeof(buf));
	if (getenv("SFC_TEST_VERBOSE"))
		printf("%-36s %s\n", desc, buf);
	CHECK(errno == EINVAL, "%s: errno %d", desc, errno);
	CHECK(!strcmp(d.file, chain_path), "%s: file \"%s\"", desc, d.file);
	CHECK(d.line == line && d.col == col, "%s: at %d:%d, want %d:%d (%s)", desc, d.line,
	      d.col, line, col, buf);
	CHECK(!strcmp(d.path, path), "%s: path \"%s\", want \"%s\" (%s)", desc, d.path, path, buf);
	CHECK(strstr(d.msg, msg), "%s: msg \"%s\", want \"%s\"", desc, d.msg, msg);
}

static void check_bad(const struct bad_case *c)
{
	char text[4096];

	snprintf(text, sizeof(text), HEAD "%s", c->text);
	check_bad_text(c->desc, text, c->line, c->col, c->path, c->msg);
}

static void check_too_many_sets(void)
{
	size_t len = 8192, o;
	char *s = malloc(len);
	int i;

	if (!s)
		return;
	o = snprintf(s, len, HEAD "        sets:\n");
	for (i = 0; i <= SFC_FW_MAX_SETS; i++)
		o += snprintf(s + o, len - o, "          s%d: []\n", i);
	check_bad_text("65 sets", s, 12, 11, CFG ".sets", "65 sets (at most 64)");

	o = snprintf(s, len, HEAD "        sets:\n");
	for (i = 0; i < SFC_FW_MAX_SETS; i++)
		o += snprintf(s + o, len - o, "          s%d: [10.%d.0.0/16]\n", i, i);
	o += snprintf(s + o, len - o, "        rules:\n");
	for (i = 0; i < SFC_FW_MAX_SETS; i++)
		o += snprintf(s + o, len - o, "          - {action: drop, src: \"@s%d\"}\n", i);
	{
		struct sfc_chain_spec *spec;
		const struct fw_config *cfg;
		struct sfc_diag d;

		spec = sfc_chain_spec__parse_string(chain_path, s, o, &d);
		CHECK(spec, "64 sets: %d:%d: %s: %s", d.line, d.col, d.path, d.msg);
		cfg = spec ? sfc_fw__config(&spec->functions[0]) : NULL;
		CHECK(cfg && cfg->n_sets == 64 && cfg->compiled->n_lpm4 == 64, "64 sets");
		/* bit 63 is the last set's */
		CHECK(cfg && cfg->compiled->lpm4_val[63] == 1ULL << 63, "set 63's bit");
		sfc_chain_spec__free(spec);
	}
	free(s);
}

/*
 * The key limit, through a chain file: a rule with 60 source ports and 60
 * destination ports is 3600 keys, exact matches with or without classes;
 * the 1166th such rule (each on its own address) passes 4194304 keys.
 */
static void check_too_many_keys(void)
{
	const int n = SFC_FW_MAX_KEYS / 3600 + 1;
	size_t len = 4096 + (size_t)n * 600, o;
	char *s = malloc(len), path[64], msg[160], ports[300];
	int i, k;

	if (!s)
		return;
	for (k = 0, o = 0; k < 60; k++)
		o += snprintf(ports + o, sizeof(ports) - o, "%s%d", k ? "," : "", 1 + k);
	o = snprintf(s, len, HEAD "        rules:\n");
	for (i = 0; i < n; i++)
		o += snprintf(s + o, len - o, "          - {action: drop, family: ipv4, dst: 10.%d.%d.1, "
			      "protocol: tcp, srcPort: [%s], dstPort: [%s]}\n",
			      i / 256, i % 256, ports, ports);
	snprintf(path, sizeof(path), CFG ".rules[%d]", n - 1);
	snprintf(msg, sizeof(msg), "the rules up to this one compile into %d keys (at most %d;",
		 SFC_FW_MAX_KEYS + 1, SFC_FW_MAX_KEYS);
	check_bad_text("too many keys", s, 12 + n - 1, 13, path, msg);
	free(s);
}

/* ---- good configs ------------------------------------------------------ */

static const struct fw_config *parse_ok(const char *desc, const char *text,
					struct sfc_chain_spec **specp)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char buf[1024];

	spec = sfc_chain_spec__parse_string(chain_path, text, strlen(text), &d);
	if (!spec)
		sfc_diag__format(&d, buf, sizeof(buf));
	CHECK(spec, "%s: %s", desc, spec ? "" : buf);
	*specp = spec;
	if (!spec)
		return NULL;
	CHECK(sfc_fw__config(&spec->functions[0]), "%s: not a firewall", desc);
	return sfc_fw__config(&spec->functions[0]);
}

static void pkt_addr(struct fw_packet *p, const char *src, const char *dst)
{
	p->family = strchr(src, ':') ? 6 : 4;
	inet_pton(p->family == 4 ? AF_INET : AF_INET6, src, p->src);
	inet_pton(p->family == 4 ? AF_INET : AF_INET6, dst, p->dst);
}

/* ref and tss agree, and say want. */
static void classify(const struct fw_config *cfg, const struct fw_tss *t, const char *desc,
		     const struct fw_packet *p, uint32_t want)
{
	uint32_t ref = fw_classify_ref(cfg, p), tss = fw_classify_tss(t, p);

	CHECK(ref == want && tss == want, "%s: ref %d tss %d, want %d", desc, (int)ref, (int)tss,
	      (int)want);
}

static void check_example(const char *dir)
{
	static const char *const want[] = {
		"drop src @blocklist",
		"drop fragment",
		"allow tcp src @partners dport 22",
		"allow tcp dst 192.0.2.10/32 dport 80,443",
		"allow tcp dst 2001:db8::10/128 dport 80,443",
		"allow udp sport 53 dport 1024-65535",
		"allow udp dport 5000-5100 vlan 100",
		"allow icmp type echo-request limit 100/s burst 20",
		"allow icmp type destination-unreachable code 4",
		"allow icmpv6 type packet-too-big",
		"allow ipv6 icmpv6 type neighbour-solicitation",
		"allow ipv6 icmpv6 type neighbour-advertisement",
		"drop tcp flags +fin +syn",
		"allow tcp dst 192.0.2.0/24 flags +syn -ack limit 10000/s burst 10000",
	};
	struct sfc_chain_spec *spec;
	const struct fw_config *cfg;
	struct fw_packet p;
	struct fw_tss *t;
	struct sfc_diag d;
	char path[512], buf[256], *json;
	uint32_t i;

	snprintf(path, sizeof(path), "%s/firewall.yaml", dir);
	spec = sfc_chain_spec__parse_file(path, &d);
	CHECK(spec, "%s: %d:%d: %s: %s", path, d.line, d.col, d.path, d.msg);
	if (!spec)
		return;
	cfg = sfc_fw__config(&spec->functions[0]);
	CHECK(cfg && cfg->n_rules == sizeof(want) / sizeof(want[0]), "example: rules");
	if (!cfg || cfg->n_rules != sizeof(want) / sizeof(want[0]))
		goto out;
	for (i = 0; i < cfg->n_rules; i++) {
		CHECK(fw_rule__format(cfg, i, buf, sizeof(buf)) == 0, "format %u", i);
		CHECK_STR(buf, want[i]);
	}
	CHECK(fw_rule__format(cfg, 13, buf, 20) == -ENOSPC && strlen(buf) < 20, "format cut");
	CHECK(cfg->stateful && cfg->default_action == SFC_FW_DROP && cfg->max_connections == 65536,
	      "example: globals");
	CHECK(cfg->n_sets == 2 && cfg->sets[0].n == 5 && cfg->sets[1].n == 2, "example: sets");
	CHECK(cfg->rules[0].line == 25 && !strcmp(cfg->rules[0].comment, "known bad sources"),
	      "example: rule 0 line %u", cfg->rules[0].line);
	CHECK(cfg->compiled->rules[7].flags == SFC_FW_RULE_LIMIT &&
	      cfg->compiled->rules[7].cost_ps == 10000000000ULL &&
	      cfg->compiled->rules[7].burst_ps == 200000000000ULL, "example: rate limit");
	/* dport 1024-65535 covers the classes 1024-4999, 5000-5100 (a range of
	 * rule 6) and 5101-65535: 3 keys per family */
	CHECK(cfg->compiled->rule_keys[0] == 2 && cfg->compiled->rule_keys[3] == 2 &&
	      cfg->compiled->rule_keys[5] == 6, "example: keys %u %u %u",
	      cfg->compiled->rule_keys[0], cfg->compiled->rule_keys[3],
	      cfg->compiled->rule_keys[5]);
	CHECK(cfg->compiled->set_families == (FW_FAM_V4 | FW_FAM_V6), "example: set families");

	json = sfc_chain_spec__to_json(spec, true);
	CHECK(json && strstr(json, "\"blocklist\":{\"file\":\"blocklist.txt\",\"prefixes\":5,"
			     "\"hash\":\""), "example json: %s", json ? json : "");
	CHECK(json && strstr(json, "\"partners\":[\"198.51.100.0/24\",\"2001:db8:100::/48\"]"),
	      "example json: partners");
	CHECK(json && strstr(json, "{\"action\":\"allow\",\"protocol\":\"udp\","
			     "\"src_port\":[53],\"dst_port\":[\"1024-65535\"]}"),
	      "example json: udp rule");
	free(json);

	t = fw_tss__new(cfg->compiled);
	CHECK(t, "fw_tss__new");
	if (!t)
		goto out;
	memset(&p, 0, sizeof(p));
	pkt_addr(&p, "192.0.2.66", "192.0.2.10");
	p.proto = 6;
	p.l4 = true;
	p.dport = 443;
	classify(cfg, t, "blocklisted host", &p, 0);
	pkt_addr(&p, "198.51.100.200", "192.0.2.10");
	p.dport = 22;
	classify(cfg, t, "partner in the blocklist too", &p, 0);
	pkt_addr(&p, "198.51.100.5", "192.0.2.99");
	classify(cfg, t, "partner ssh", &p, 2);
	pkt_addr(&p, "2001:db8:100::5", "2001:db8::99");
	classify(cfg, t, "v6 partner ssh", &p, 2);
	pkt_addr(&p, "2001:db8:bad:1::5", "2001:db8::99");
	classify(cfg, t, "v6 blocklisted", &p, 0);
	pkt_addr(&p, "2001:db8:dead:beef::2", "2001:db8::10");
	p.dport = 80;
	classify(cfg, t, "v6 next to a blocklisted host", &p, 4);
	pkt_addr(&p, "203.0.114.1", "192.0.2.10");
	p.dport = 443;
	classify(cfg, t, "https", &p, 3);
	p.dport = 22;
	classify(cfg, t, "ssh from elsewhere", &p, SFC_FW_NO_RULE);
	p.tcp_flags = 0x03;
	classify(cfg, t, "syn+fin", &p, 12);
	p.tcp_flags = 0x02;
	classify(cfg, t, "syn", &p, 13);
	p.tcp_flags = 0x12;
	classify(cfg, t, "syn+ack", &p, SFC_FW_NO_RULE);
	p.l4 = false;
	p.frag = true;
	classify(cfg, t, "fragment", &p, 1);
	p.frag = false;
	p.tcp_flags = 0x02;
	classify(cfg, t, "truncated syn", &p, SFC_FW_NO_RULE);
	p.l4 = true;
	p.proto = 17;
	p.sport = 53;
	p.dport = 1024;
	classify(cfg, t, "dns reply", &p, 5);
	p.dport = 1023;
	classify(cfg, t, "dns to a low port", &p, SFC_FW_NO_RULE);
	p.sport = 9;
	p.dport = 5050;
	classify(cfg, t, "udp 5050 untagged", &p, SFC_FW_NO_RULE);
	p.vlan = 100;
	classify(cfg, t, "udp 5050 vlan 100", &p, 6);
	p.vlan = 0;
	p.proto = 1;
	p.icmp_type = 8;
	classify(cfg, t, "ping", &p, 7);
	p.icmp_type = 3;
	p.icmp_code = 4;
	classify(cfg, t, "frag needed", &p, 8);
	p.icmp_code = 3;
	classify(cfg, t, "port unreachable", &p, SFC_FW_NO_RULE);
	pkt_addr(&p, "2001:db8::1", "2001:db8::2");
	p.proto = 1;
	p.icmp_type = 8;
	classify(cfg, t, "icmp in ipv6", &p, SFC_FW_NO_RULE);
	p.proto = 58;
	p.icmp_type = 2;
	classify(cfg, t, "packet too big", &p, 9);
	p.icmp_type = 135;
	classify(cfg, t, "neighbour solicitation", &p, 10);
	fw_tss__free(t);
out:
	sfc_chain_spec__free(spec);
}

static void check_good(void)
{
	struct sfc_chain_spec *spec, *spec2;
	const struct fw_config *cfg, *cfg2;
	struct fw_packet p = {};
	struct fw_tss *t;
	char buf[256], *a, *b;

	/* no config: drop everything */
	cfg = parse_ok("no config", HEAD "        {}\n", &spec);
	CHECK(cfg && !cfg->n_rules && cfg->default_action == SFC_FW_DROP && !cfg->stateful &&
	      cfg->max_connections == FW_DEFAULT_CONNECTIONS, "no config: defaults");
	CHECK(cfg && cfg->compiled && !cfg->compiled->n_tuples, "no config: compiled");
	a = spec ? sfc_chain_spec__to_json(spec, true) : NULL;
	CHECK(a && strstr(a, "\"config\":{\"default_action\":\"drop\",\"stateful\":false,"
			  "\"max_connections\":65536,\"sets\":{},\"rules\":[]}"), "json: %s", a);
	free(a);
	sfc_chain_spec__free(spec);

	cfg = parse_ok("absent config", "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n"
		       "  name: fw\nspec:\n  interface: veth-in\n  functions:\n"
		       "    - {name: fw, type: firewall}\n", &spec);
	CHECK(cfg && !cfg->n_rules, "absent config");
	sfc_chain_spec__free(spec);

	/* host bits are masked, like iptables; a bare address is a host prefix */
	cfg = parse_ok("host bits", HEAD "        defaultAction: allow\n        rules:\n"
		       "          - {action: drop, src: 10.0.0.1/8, dst: 192.0.2.7}\n"
		       "          - {action: drop, src: \"2001:db8::1/32\", protocol: 6, "
		       "dstPort: [\"0-65535\"]}\n", &spec);
	if (cfg) {
		fw_rule__format(cfg, 0, buf, sizeof(buf));
		CHECK_STR(buf, "drop src 10.0.0.0/8 dst 192.0.2.7/32");
		fw_rule__format(cfg, 1, buf, sizeof(buf));
		CHECK_STR(buf, "drop tcp src 2001:db8::/32 dport 0-65535");
		t = fw_tss__new(cfg->compiled);
		pkt_addr(&p, "10.200.3.4", "192.0.2.7");
		classify(cfg, t, "host bits masked", &p, 0);
		pkt_addr(&p, "11.0.0.1", "192.0.2.7");
		classify(cfg, t, "outside the /8", &p, SFC_FW_NO_RULE);
		pkt_addr(&p, "2001:db8:ffff::1", "2001:db8::7");
		p.proto = 6;
		p.l4 = true;
		classify(cfg, t, "v6 masked", &p, 1);
		p.l4 = false;
		classify(cfg, t, "0-65535 still needs the ports", &p, SFC_FW_NO_RULE);
		fw_tss__free(t);
	}
	sfc_chain_spec__free(spec);

	/* formatting does not matter to the canonical JSON; order of a set does not */
	cfg = parse_ok("block", HEAD
		       "        stateful: false\n"
		       "        sets:\n"
		       "          a: [10.0.0.0/8, 192.0.2.1]\n"
		       "        rules:\n"
		       "          - action: allow\n"
		       "            protocol: tcp\n"
		       "            dstPort: 22\n"
		       "            src: \"@a\"\n", &spec);
	cfg2 = parse_ok("flow", HEAD
			"        {rules: [{src: '@a', dstPort: \"22\", protocol: 6, action: allow}],\n"
			"         sets: {a: [192.0.2.1/32, 10.1.2.3/8]}}\n", &spec2);
	a = spec ? sfc_chain_spec__to_json(spec, true) : NULL;
	b = spec2 ? sfc_chain_spec__to_json(spec2, true) : NULL;
	CHECK(a && b && !strcmp(a, b), "canonical json:\n%s\n%s", a, b);
	CHECK(a && strstr(a, "\"sets\":{\"a\":[\"10.0.0.0/8\",\"192.0.2.1/32\"]},\"rules\":["
			  "{\"action\":\"allow\",\"protocol\":\"tcp\",\"src\":\"@a\","
			  "\"dst_port\":[22]}]"), "json: %s", a);
	CHECK(cfg && cfg2 && cfg->compiled->set_families == FW_FAM_V4, "v4 set only");
	CHECK(cfg && cfg->compiled->rule_keys[0] == 1, "a v4 set gives no v6 key");
	free(a);
	free(b);
	sfc_chain_spec__free(spec);
	sfc_chain_spec__free(spec2);

	/* a set file read relative to the chain file, dumped as a summary */
	cfg = parse_ok("set file", HEAD
		       "        sets:\n          ok: {file: sets/ok.txt}\n"
		       "        rules:\n          - {action: drop, dst: \"@ok\"}\n", &spec);
	CHECK(cfg && cfg->sets[0].n == 3 && cfg->sets[0].families == (FW_FAM_V4 | FW_FAM_V6),
	      "set file: %u prefixes", cfg ? cfg->sets[0].n : 0);
	a = spec ? sfc_chain_spec__to_json(spec, true) : NULL;
	CHECK(a && strstr(a, "\"ok\":{\"file\":\"sets/ok.txt\",\"prefixes\":3,\"hash\":\""),
	      "json: %s", a);
	free(a);
	sfc_chain_spec__free(spec);

	/* names and numbers mean the same */
	cfg = parse_ok("names", HEAD "        rules:\n"
		       "          - {action: allow, protocol: 58, icmpType: neighbor-solicitation}\n"
		       "          - {action: allow, protocol: icmpv6, icmpType: 135, icmpCode: 0}\n"
		       "          - {action: allow, protocol: 132}\n"
		       "          - {action: drop, protocol: tcp, tcpFlags: {set: rst}}\n", &spec);
	if (cfg) {
		fw_rule__format(cfg, 0, buf, sizeof(buf));
		CHECK_STR(buf, "allow icmpv6 type neighbour-solicitation");
		fw_rule__format(cfg, 1, buf, sizeof(buf));
		CHECK_STR(buf, "allow icmpv6 type neighbour-solicitation code 0");
		fw_rule__format(cfg, 2, buf, sizeof(buf));
		CHECK_STR(buf, "allow proto 132");
		fw_rule__format(cfg, 3, buf, sizeof(buf));
		CHECK_STR(buf, "drop tcp flags +rst");
		CHECK(cfg->compiled->rule_keys[0] == 1 && cfg->compiled->rule_keys[2] == 2,
		      "icmpv6 is v6 only; proto 132 both families");
	}
	sfc_chain_spec__free(spec);
}

/* The bytes the data path reads: byte orders, masks, values, padding. */
static void check_abi_bytes(void)
{
	struct sfc_chain_spec *spec;
	const struct fw_config *cfg;
	const struct fw_compiled *c;
	struct sfc_fw_tuple t4 = {}, t6 = {};
	struct sfc_fw_key4 k4 = {};
	struct sfc_fw_key6 k6 = {};
	struct sfc_fw_rule r = {};

	cfg = parse_ok("abi", HEAD "        rules:\n"
		       "          - {action: allow, src: 10.1.0.0/16, dst: 192.0.2.0/24, "
		       "protocol: tcp, srcPort: 1024-2047, dstPort: 80,\n"
		       "             tcpFlags: {set: [syn], unset: [ack]}, vlan: 7, fragment: false,\n"
		       "             rateLimit: {pps: 3, burst: 2}}\n"
		       "          - {action: drop, dst: \"2001:db8:0:1::/64\", protocol: icmpv6,\n"
		       "             icmpType: echo-request, icmpCode: 0}\n", &spec);
	if (!cfg)
		return;
	c = cfg->compiled;
	CHECK(c->n_tuples == 2 && c->n_keys4 == 1 && c->n_keys6 == 1 && c->n_rules == 2,
	      "abi: %u tuples, %u + %u keys", c->n_tuples, c->n_keys4, c->n_keys6);
	if (c->n_tuples != 2 || c->n_keys4 != 1 || c->n_keys6 != 1)
		goto out;

	t4.min_rule = 0;
	t4.family = 4;
	t4.proto_mask = 0xff;
	t4.pflags_mask = SFC_FW_PF_L4 | SFC_FW_PF_FRAG;
	t4.tcp_flags_mask = 0x12;
	t4.flags = SFC_FW_TF_SPORT_CLASS;
	t4.sport_mask = 0xffff;
	t4.dport_mask = htons(0xffff);
	t4.vlan_mask = 0xfff;
	t4.src_mask[0] = htonl(0xffff0000);
	t4.dst_mask[0] = htonl(0xffffff00);
	CHECK(!memcmp(&c->tuples[0], &t4, sizeof(t4)), "abi: IPv4 tuple");
	k4.h.tuple = 0;
	k4.h.proto = 6;
	k4.h.pflags = SFC_FW_PF_L4;
	k4.h.sport = 1;		/* class 1: 1024-2047, as is (not a port) */
	k4.h.dport = htons(80);
	k4.h.vlan = 7;
	k4.h.tcp_flags = 0x02;
	inet_pton(AF_INET, "10.1.0.0", &k4.src);
	inet_pton(AF_INET, "192.0.2.0", &k4.dst);
	CHECK(!memcmp(&c->keys4[0], &k4, sizeof(k4)) && c->vals4[0] == 0, "abi: IPv4 key");
	CHECK(c->class_lookups == SFC_FW_CLASS_SPORT4 && c->n_sport_classes == 3 &&
	      c->sport_class && !c->dport_class && !c->n_dport_classes, "abi: classes");
	CHECK(c->sport_class && c->sport_class[0] == 0 && c->sport_class[1023] == 0 &&
	      c->sport_class[1024] == 1 && c->sport_class[2047] == 1 &&
	      c->sport_class[2048] == 2 && c->sport_class[65535] == 2, "abi: sport classes");

	t6.min_rule = 1;
	t6.family = 6;
	t6.proto_mask = 0xff;
	t6.pflags_mask = SFC_FW_PF_L4;
	t6.icmp_type_mask = 0xff;
	t6.icmp_code_mask = 0xff;
	t6.dst_mask[0] = t6.dst_mask[1] = 0xffffffff;
	CHECK(!memcmp(&c->tuples[1], &t6, sizeof(t6)), "abi: IPv6 tuple");
	k6.h.tuple = 1;
	k6.h.proto = 58;
	k6.h.pflags = SFC_FW_PF_L4;
	k6.h.icmp_type = 128;
	inet_pton(AF_INET6, "2001:db8:0:1::", k6.dst);
	CHECK(!memcmp(&c->keys6[0], &k6, sizeof(k6)) && c->vals6[0] == 1, "abi: IPv6 key");

	r.action = SFC_FW_ALLOW;
	r.flags = SFC_FW_RULE_LIMIT;
	r.line = 12;
	r.cost_ps = 333333333333ULL;	/* 1e12 / 3 */
	r.burst_ps = 666666666666ULL;
	CHECK(!memcmp(&c->rules[0], &r, sizeof(r)), "abi: rule 0: action %u flags %u line %u "
	      "cost %llu burst %llu", c->rules[0].action, c->rules[0].flags, c->rules[0].line,
	      (unsigned long long)c->rules[0].cost_ps, (unsigned long long)c->rules[0].burst_ps);
	memset(&r, 0, sizeof(r));
	r.action = SFC_FW_DROP;
	r.line = 15;
	CHECK(!memcmp(&c->rules[1], &r, sizeof(r)), "abi: rule 1");
out:
	sfc_chain_spec__free(spec);
}

/* ---- port classes -------------------------------------------------------- */

/* A packet of the given family with its ports and an L4 header. */
static void l4_pkt(struct fw_packet *p, uint8_t family, uint8_t proto, uint16_t sport,
		   uint16_t dport)
{
	memset(p, 0, sizeof(*p));
	pkt_addr(p, family == 4 ? "10.0.0.1" : "2001:db8::1",
		 family == 4 ? "10.0.0.2" : "2001:db8::2");
	p->proto = proto;
	p->l4 = true;
	p->sport = sport;
	p->dport = dport;
}

/*
 * What a class array must be: a new class exactly where some class range
 * of the field starts or ends + 1, ids counting up from 0 at port 0. With
 * singles, every single port of the field is a class of its own as well,
 * except those of rules before skip.
 */
static bool classes_cut_at_bounds(const struct fw_config *cfg, const uint16_t *cls, bool dport,
				  bool singles, uint32_t skip)
{
	uint8_t *start = calloc(65537, 1);
	uint32_t i, k, p;
	bool ok = true;

	if (!start || !cls) {
		free(start);
		return false;
	}
	for (i = 0; i < cfg->n_rules; i++) {
		const struct fw_ports *ps = dport ? &cfg->rules[i].dport : &cfg->rules[i].sport;

		for (k = 0; k < ps->n; k++) {
			const struct fw_port_range *r = &ps->r[k];

			if (r->lo == 0 && r->hi == 65535)
				continue;
			if (r->lo == r->hi && (!singles || i >= skip))
				continue;
			start[r->lo] = 1;
			start[r->hi + 1] = 1;
		}
	}
	ok = cls[0] == 0;
	for (p = 1; p < 65536 && ok; p++)
		ok = cls[p] == cls[p - 1] + start[p];
	free(start);
	return ok;
}

/* The tuple flags of all of a rule's IPv4 keys, ORed; *n gets their count. */
static uint8_t rule_tuple_flags(const struct fw_compiled *c, uint32_t rule, uint32_t *n)
{
	uint8_t f = 0;
	uint32_t i;

	*n = 0;
	for (i = 0; i < c->n_keys4; i++) {
		if (c->vals4[i] != rule)
			continue;
		f |= c->tuples[c->keys4[i].h.tuple].flags;
		++*n;
	}
	return f;
}

static void check_port_classes(void)
{
	struct sfc_chain_spec *spec;
	const struct fw_config *cfg;
	const struct fw_compiled *c;
	struct fw_packet p;
	struct fw_tss *t;
	char *text, ranges[1024];
	size_t o, len = 8192;
	uint32_t i, n, shared = 0;
	uint8_t f;

	text = malloc(len);
	if (!text)
		return;
	/* 50 ranges of 10 ports, end to end: 100-109 ... 590-599 */
	for (i = 0, o = 0; i < 50; i++)
		o += snprintf(ranges + o, sizeof(ranges) - o, "%s\"%u-%u\"", i ? ", " : "",
			      100 + 10 * i, 109 + 10 * i);
	snprintf(text, len, HEAD "        rules:\n"
		 "          - {action: allow, protocol: tcp, dstPort: 1000-1999}\n"
		 /* overlaps rule 0 */
		 "          - {action: drop, protocol: tcp, dstPort: 1500-2999}\n"
		 /* starts where rule 0 ends, ends where rule 1 does */
		 "          - {action: allow, protocol: tcp, dstPort: 2000-2999}\n"
		 /* a single port of the same shape as the ranges, and a 0 mask */
		 "          - {action: allow, protocol: tcp, dstPort: [80, \"0-65535\"]}\n"
		 "          - {action: allow, protocol: udp, dstPort: [%s]}\n"
		 /* covers 58 classes */
		 "          - {action: allow, protocol: udp, dstPort: 5-60000}\n"
		 "          - {action: drop, protocol: udp, srcPort: 1024-65535, "
		 "dstPort: [1000-1999, 60010]}\n"
		 /* a shape without ranges: its single port stays exact */
		 "          - {action: drop, dst: 192.0.2.1, protocol: tcp, dstPort: 443}\n",
		 ranges);
	cfg = parse_ok("classes", text, &spec);
	if (!cfg)
		goto out;
	c = cfg->compiled;
	/*
	 * dport classes start at 0, 5, 80, 81, 100, 110, ..., 600 (51), 1000,
	 * 1500, 2000, 3000, 60001, 60010 and 60011: 62. sport: 0 and 1024.
	 */
	CHECK(c->n_dport_classes == 62 && c->n_sport_classes == 2, "classes: %u dport, %u sport",
	      c->n_dport_classes, c->n_sport_classes);
	CHECK(c->class_lookups == (SFC_FW_CLASS_SPORT4 | SFC_FW_CLASS_DPORT4 |
				   SFC_FW_CLASS_SPORT6 | SFC_FW_CLASS_DPORT6),
	      "classes: lookups 0x%x", c->class_lookups);
	CHECK(classes_cut_at_bounds(cfg, c->dport_class, true, true, 7), "classes: dport bounds");
	CHECK(classes_cut_at_bounds(cfg, c->sport_class, false, true, 7), "classes: sport bounds");
	if (!c->dport_class || !c->sport_class)
		goto out;
	CHECK(c->dport_class[4] == 0 && c->dport_class[5] == 1 && c->dport_class[79] == 1 &&
	      c->dport_class[80] == 2 && c->dport_class[81] == 3 && c->dport_class[100] == 4 &&
	      c->dport_class[599] == 53 && c->dport_class[600] == 54 &&
	      c->dport_class[999] == 54 && c->dport_class[1000] == 55 &&
	      c->dport_class[1499] == 55 && c->dport_class[1500] == 56 &&
	      c->dport_class[2000] == 57 && c->dport_class[2999] == 57 &&
	      c->dport_class[3000] == 58 && c->dport_class[60000] == 58 &&
	      c->dport_class[60001] == 59 && c->dport_class[60010] == 60 &&
	      c->dport_class[60011] == 61 && c->dport_class[65535] == 61, "classes: dport ids");
	/* 0-65535 and the exact port of a shape without ranges cut nothing */
	CHECK(c->dport_class[443] == c->dport_class[442] &&
	      c->dport_class[444] == c->dport_class[443],
	      "classes: exact ports are not bounds");
	CHECK(c->sport_class[1023] == 0 && c->sport_class[1024] == 1 &&
	      c->sport_class[65535] == 1, "classes: sport ids");

	/*
	 * Keys, both families: a class each, the product with both ports. A
	 * class an earlier rule holds in the tuple stays its: rule 1 gets only
	 * 2000-2999, rule 2 nothing, rule 5 the 8 classes rule 4 leaves.
	 */
	CHECK(c->rule_keys[0] == 4 && c->rule_keys[1] == 2 && c->rule_keys[2] == 0 &&
	      c->rule_keys[3] == 4 && c->rule_keys[4] == 100 && c->rule_keys[5] == 16 &&
	      c->rule_keys[6] == 6 && c->rule_keys[7] == 1, "classes: keys %u %u %u %u %u %u %u %u",
	      c->rule_keys[0], c->rule_keys[1], c->rule_keys[2], c->rule_keys[3],
	      c->rule_keys[4], c->rule_keys[5], c->rule_keys[6], c->rule_keys[7]);
	/*
	 * Per family: one class tuple for every dport range and port 80 (tcp
	 * and udp alike: the protocol is a value), the 0 mask, and rule 6's
	 * class x class; rule 7's exact port in IPv4.
	 */
	CHECK(c->n_tuples == 7 && c->n_tuples4 == 4, "classes: %u tuples", c->n_tuples);
	for (i = 0; i < 6; i++) {
		f = rule_tuple_flags(c, i, &n);
		if (i == 2)
			CHECK(n == 0, "classes: rule 2 has no key");
		else
			CHECK(f == SFC_FW_TF_DPORT_CLASS, "classes: rule %u flags 0x%x", i, f);
	}
	for (i = 0; i < c->n_keys4; i++)
		shared += c->keys4[i].h.tuple == c->keys4[0].h.tuple;
	CHECK(shared == 2 + 1 + 1 + 50 + 8, "classes: rules 0, 1, 3, 4, 5 share a tuple: %u keys",
	      shared);
	f = rule_tuple_flags(c, 6, &n);
	CHECK(f == (SFC_FW_TF_SPORT_CLASS | SFC_FW_TF_DPORT_CLASS) && n == 3,
	      "classes: rule 6 flags 0x%x, %u keys", f, n);
	f = rule_tuple_flags(c, 7, &n);
	CHECK(f == 0 && n == 1, "classes: rule 7 flags 0x%x, %u keys", f, n);
	for (i = 0; i < c->n_tuples; i++)
		CHECK(!(c->tuples[i].flags & SFC_FW_TF_SPORT_CLASS) ||
		      c->tuples[i].sport_mask == 0xffff, "classes: class mask");

	t = fw_tss__new(c);
	if (!t)
		goto out;
	{
		static const struct {
			uint8_t proto;
			uint16_t sport, dport;
			uint32_t want;
		} pk[] = {
			{ 6, 1, 999, 3 }, { 6, 1, 1000, 0 }, { 6, 1, 1499, 0 }, { 6, 1, 1500, 0 },
			{ 6, 1, 1999, 0 }, { 6, 1, 2000, 1 }, { 6, 1, 2999, 1 }, { 6, 1, 3000, 3 },
			{ 6, 1, 80, 3 }, { 6, 1, 79, 3 }, { 6, 1, 81, 3 }, { 17, 1, 80, 5 },
			{ 17, 1, 4, SFC_FW_NO_RULE }, { 17, 1, 5, 5 },
			{ 17, 1, 99, 5 }, { 17, 1, 100, 4 }, { 17, 1, 599, 4 }, { 17, 1, 600, 5 },
			{ 17, 1, 60000, 5 }, { 17, 1, 60001, SFC_FW_NO_RULE },
			{ 17, 1024, 60010, 6 }, { 17, 1023, 60010, SFC_FW_NO_RULE },
			{ 17, 1024, 60011, SFC_FW_NO_RULE }, { 17, 1024, 60009, SFC_FW_NO_RULE },
			{ 17, 65535, 1999, 5 }, { 17, 65535, 60001, SFC_FW_NO_RULE },
		};
		char desc[64];

		for (i = 0; i < sizeof(pk) / sizeof(pk[0]); i++) {
			l4_pkt(&p, i % 2 ? 6 : 4, pk[i].proto, pk[i].sport, pk[i].dport);
			snprintf(desc, sizeof(desc), "classes: %s %u -> %u, IPv%u",
				 pk[i].proto == 6 ? "tcp" : "udp", pk[i].sport, pk[i].dport,
				 p.family);
			classify(cfg, t, desc, &p, pk[i].want);
		}
		/* without an L4 header, no class and no port match */
		l4_pkt(&p, 4, 6, 1, 1000);
		p.l4 = false;
		classify(cfg, t, "classes: no L4 header", &p, SFC_FW_NO_RULE);
	}
	fw_tss__free(t);
	sfc_chain_spec__free(spec);

	/*
	 * 70 small ranges cut 5-60000 into 141 classes: more than FW_CLASS_KEYS,
	 * so that rule splits its range into blocks as before, and the small
	 * ones keep their classes.
	 */
	for (i = 0, o = 0; i < 70; i++)
		o += snprintf(ranges + o, sizeof(ranges) - o, "%s\"%u-%u\"", i ? ", " : "",
			      100 + 10 * i, 101 + 10 * i);
	snprintf(text, len, HEAD "        rules:\n"
		 "          - {action: allow, family: ipv4, protocol: udp, dstPort: [%s]}\n"
		 "          - {action: drop, family: ipv4, protocol: udp, dstPort: 5-60000}\n",
		 ranges);
	cfg = parse_ok("class budget", text, &spec);
	if (!cfg)
		goto out;
	c = cfg->compiled;
	f = rule_tuple_flags(c, 0, &n);
	CHECK(f == SFC_FW_TF_DPORT_CLASS && n == 70, "class budget: rule 0 0x%x %u", f, n);
	f = rule_tuple_flags(c, 1, &n);
	/* 5-60000: 5/0xffff, 6-7, ..., 59968-59999, 60000/0xffff: 21 blocks */
	CHECK(f == 0 && n == 21 && n == c->rule_keys[1], "class budget: rule 1 0x%x %u", f, n);
	t = fw_tss__new(c);
	if (t) {
		l4_pkt(&p, 4, 17, 1, 101);
		classify(cfg, t, "class budget: class", &p, 0);
		l4_pkt(&p, 4, 17, 1, 102);
		classify(cfg, t, "class budget: block", &p, 1);
		l4_pkt(&p, 4, 17, 1, 60000);
		classify(cfg, t, "class budget: last block", &p, 1);
		l4_pkt(&p, 4, 17, 1, 60001);
		classify(cfg, t, "class budget: after", &p, SFC_FW_NO_RULE);
		fw_tss__free(t);
	}
out:
	sfc_chain_spec__free(spec);
	free(text);
}

/*
 * Classes can give more keys than blocks: 65536 rules, each the range
 * 1024-2047, one aligned block but 64 classes (rule 0 cuts it into them),
 * are 65536 x 64 keys with classes, over the limit, and 65536 as blocks:
 * the compiler falls back to blocks for the whole rule set.
 */
static void check_class_fallback(void)
{
	const uint32_t n_rules = 65537;
	struct fw_config *cfg = calloc(1, sizeof(*cfg));
	struct fw_compile_error e;
	struct fw_compiled *c = NULL;
	uint32_t i, k;
	int err;

	if (!cfg)
		return;
	cfg->n_rules = n_rules;
	cfg->rules = calloc(n_rules, sizeof(*cfg->rules));
	for (i = 0; i < n_rules; i++) {
		struct fw_rule *r = &cfg->rules[i];

		r->action = SFC_FW_ALLOW;
		r->icmp_type = r->icmp_code = r->fragment = FW_ANY;
		r->proto = 6;
		r->dst.kind = FW_ADDR_PREFIX;
		r->dst.prefix.family = 4;
		r->dst.prefix.len = 32;
		r->dst.prefix.addr[0] = 10;
		r->dst.prefix.addr[1] = (uint8_t)(i >> 16);
		r->dst.prefix.addr[2] = (uint8_t)(i >> 8);
		r->dst.prefix.addr[3] = (uint8_t)i;
		/* rule 0: 32 ranges of 16 ports, 1024-1039, 1056-1071, ... */
		r->sport.n = i ? 1 : 32;
		r->sport.r = calloc(r->sport.n, sizeof(*r->sport.r));
		for (k = 0; k < r->sport.n; k++) {
			r->sport.r[k].lo = (uint16_t)(i ? 1024 : 1024 + 32 * k);
			r->sport.r[k].hi = (uint16_t)(i ? 2047 : 1024 + 32 * k + 15);
		}
	}
	err = fw_compile(cfg, &c, &e);
	CHECK(!err && c, "class fallback: compile %d (limit %d, rule %u)", err, e.limit, e.rule);
	if (c) {
		CHECK(!c->class_lookups && !c->sport_class && !c->n_sport_classes,
		      "class fallback: no classes left");
		CHECK(c->n_keys4 == 32 + n_rules - 1 && c->n_tuples == 2,
		      "class fallback: %u keys, %u tuples", c->n_keys4, c->n_tuples);
	}
	fw_compiled__free(c);
	fw_config__free(cfg);
}

/* ---- random rule sets -------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static uint32_t below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static bool chance(unsigned int pct)
{
	return below(100) < pct;
}

/*
 * Addresses come from a few bases per family so that prefixes nest and
 * overlap, and packets land inside, next to and outside them.
 */
struct pool {
	uint8_t v4[6][16];
	uint8_t v6[6][16];
};

static void rand_bytes(uint8_t *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

static void rand_prefix(const struct pool *pl, uint8_t family, struct fw_prefix *p)
{
	unsigned int max = family == 4 ? 32 : 128, bytes = family == 4 ? 4 : 16;
	char text[64], a[INET6_ADDRSTRLEN];
	uint8_t addr[16] = {};
	unsigned int len;

	memcpy(addr, family == 4 ? pl->v4[below(6)] : pl->v6[below(6)], bytes);
	if (chance(30))
		addr[below(bytes)] ^= (uint8_t)(1u << below(8));
	switch (below(4)) {
	case 0:
		len = max;
		break;
	case 1:
		len = below(max + 1);
		break;
	default:	/* lengths near those of the others: more nesting */
		len = max / 2 + below(max / 2 + 1);
		break;
	}
	/* through the parser, so that it masks the host bits */
	inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, a, sizeof(a));
	snprintf(text, sizeof(text), "%s/%u", a, len);
	if (fw_prefix__parse(text, p, NULL))
		abort();
}

/* Port bounds of the config being drawn: ranges that share them. */
static uint16_t port_bounds[4];

static void rand_ports(struct fw_ports *ps)
{
	uint32_t i, lo, hi;

	ps->n = 1 + (chance(30) ? below(3) : 0);
	/* sometimes many short ranges: more classes than a wide range may cover */
	if (chance(3))
		ps->n = 20 + below(40);
	ps->r = calloc(ps->n, sizeof(*ps->r));
	for (i = 0; i < ps->n; i++) {
		if (ps->n >= 20) {
			lo = below(65536);
			hi = lo + below(20);
			if (hi > 65535)
				hi = 65535;
			ps->r[i].lo = (uint16_t)lo;
			ps->r[i].hi = (uint16_t)hi;
			continue;
		}
		switch (below(4)) {
		case 0:		/* a single port */
			lo = hi = chance(50) ? below(1024) : below(65536);
			break;
		case 1:		/* a small range */
			lo = below(65536);
			hi = lo + below(300);
			break;
		case 2:		/* a wide one, edges included */
			lo = chance(30) ? 0 : below(65536);
			hi = chance(30) ? 65535 : lo + below(65536);
			break;
		default:	/* an aligned block */
			hi = 1u << below(12);
			lo = below(65536) & ~(hi - 1);
			hi = lo + hi - 1;
			break;
		}
		if (hi > 65535)
			hi = 65535;
		/* a bound another range has, or its neighbour: classes meet */
		if (lo != hi && chance(40)) {
			if (chance(50))
				lo = port_bounds[below(4)] + (chance(30) ? 1 : 0);
			else
				hi = port_bounds[below(4)] - (chance(30) ? 1 : 0);
			if (lo > 65535 || hi > 65535 || lo > hi) {
				lo = port_bounds[below(4)];
				hi = lo + below(500);
				if (hi > 65535)
					hi = 65535;
			}
		}
		ps->r[i].lo = (uint16_t)lo;
		ps->r[i].hi = (uint16_t)hi;
	}
}

static void rand_addr(const struct pool *pl, const struct fw_config *cfg, uint8_t *fam,
		      struct fw_addr *a)
{
	uint8_t f;

	switch (below(4)) {
	case 0:
	case 1:
		a->kind = FW_ADDR_ANY;
		return;
	case 2:
		if (cfg->n_sets) {
			a->kind = FW_ADDR_SET;
			a->set = (uint8_t)below(cfg->n_sets);
			return;
		}
		/* fall through */
	default:
		f = *fam ? *fam : (chance(50) ? 4 : 6);
		a->kind = FW_ADDR_PREFIX;
		rand_prefix(pl, f, &a->prefix);
		*fam = f;
	}
}

/* A valid rule: what the parser accepts, and nothing it refuses. */
static void rand_rule(const struct pool *pl, const struct fw_config *cfg, struct fw_rule *r)
{
	static const int16_t protos[] = { 6, 6, 17, 17, 1, 58, 132 };
	uint8_t fam = 0;
	bool l4;

	memset(r, 0, sizeof(*r));
	r->action = chance(50) ? SFC_FW_ALLOW : SFC_FW_DROP;
	r->proto = r->icmp_type = r->icmp_code = r->fragment = FW_ANY;
	if (chance(20))
		fam = chance(50) ? 4 : 6;
	if (fam && chance(50))
		r->family = fam;
	rand_addr(pl, cfg, &fam, &r->src);
	rand_addr(pl, cfg, &fam, &r->dst);
	if (chance(70)) {
		r->proto = protos[below(sizeof(protos) / sizeof(protos[0]))];
		if ((r->proto == 1 && fam == 6) || (r->proto == 58 && fam == 4))
			r->proto = 6;
	}
	if (r->proto == 6 || r->proto == 17) {
		if (chance(40))
			rand_ports(&r->sport);
		if (chance(60))
			rand_ports(&r->dport);
	}
	if ((r->proto == 1 || r->proto == 58) && chance(70)) {
		r->icmp_type = (int16_t)(chance(70) ? below(16) : below(256));
		if (chance(40))
			r->icmp_code = (int16_t)below(5);
	}
	if (r->proto == 6 && chance(30)) {
		r->flags_set = (uint8_t)(rnd() & 0x13);
		r->flags_unset = (uint8_t)(rnd() & 0x17 & ~r->flags_set);
		if (!r->flags_set && !r->flags_unset)
			r->flags_set = 0x02;
	}
	if (chance(15))
		r->vlan = (uint16_t)(chance(50) ? 1 + below(3) : 1 + below(4094));
	l4 = r->sport.n || r->dport.n || r->icmp_type != FW_ANY || r->flags_set || r->flags_unset;
	if (chance(15))
		r->fragment = l4 ? 0 : (int8_t)below(2);
}

static struct fw_config *rand_config(const struct pool *pl, uint32_t max_rules)
{
	struct fw_config *cfg = calloc(1, sizeof(*cfg));
	uint32_t i, k;

	cfg->default_action = SFC_FW_DROP;
	for (i = 0; i < 4; i++)
		port_bounds[i] = (uint16_t)(chance(30) ? below(1024) : below(65536));
	cfg->n_sets = chance(60) ? below(5) : 0;
	cfg->sets = calloc(cfg->n_sets + 1, sizeof(*cfg->sets));
	for (i = 0; i < cfg->n_sets; i++) {
		struct fw_set *s = &cfg->sets[i];
		uint8_t fams = (uint8_t)(1 + below(3));

		snprintf(s->name, sizeof(s->name), "s%u", i);
		s->n = below(9);
		s->p = calloc(s->n + 1, sizeof(*s->p));
		for (k = 0; k < s->n; k++) {
			uint8_t f = fams == 3 ? (chance(50) ? 4 : 6) : (fams == 1 ? 4 : 6);

			rand_prefix(pl, f, &s->p[k]);
		}
		fw_set__finish(s);
	}
	cfg->n_rules = 1 + below(max_rules);
	cfg->rules = calloc(cfg->n_rules, sizeof(*cfg->rules));
	for (i = 0; i < cfg->n_rules; i++)
		rand_rule(pl, cfg, &cfg->rules[i]);
	return cfg;
}

/* An address inside, at the edge of or next to something the config has. */
static void rand_pkt_addr(const struct pool *pl, const struct fw_config *cfg, uint8_t family,
			  uint8_t *addr)
{
	unsigned int bytes = family == 4 ? 4 : 16, i;
	const struct fw_prefix *p = NULL;
	const struct fw_rule *r;
	const struct fw_set *s;

	memset(addr, 0, 16);
	switch (below(5)) {
	case 0:
		rand_bytes(addr, bytes);
		return;
	case 1:
		memcpy(addr, family == 4 ? pl->v4[below(6)] : pl->v6[below(6)], bytes);
		break;
	case 2:
		if (cfg->n_sets) {
			s = &cfg->sets[below(cfg->n_sets)];
			if (s->n)
				p = &s->p[below(s->n)];
		}
		break;
	default:
		r = &cfg->rules[below(cfg->n_rules)];
		if (r->src.kind == FW_ADDR_PREFIX && chance(50))
			p = &r->src.prefix;
		else if (r->dst.kind == FW_ADDR_PREFIX)
			p = &r->dst.prefix;
		break;
	}
	if (p && p->family == family) {
		memcpy(addr, p->addr, bytes);
		/* host bits: all zero, all one, or random */
		for (i = p->len; i < bytes * 8; i++) {
			bool bit = below(3) == 0 ? false : below(2) == 0 ? true : (rnd() & 1);

			if (bit)
				addr[i / 8] |= (uint8_t)(0x80 >> (i % 8));
		}
		/* and sometimes just outside */
		if (p->len && chance(20))
			addr[(p->len - 1) / 8] ^= (uint8_t)(0x80 >> ((p->len - 1) % 8));
	} else if (!p) {
		memcpy(addr, family == 4 ? pl->v4[below(6)] : pl->v6[below(6)], bytes);
	} else {
		rand_bytes(addr, bytes);
	}
	if (chance(20))
		addr[bytes - 1 - below(2)] ^= (uint8_t)(1u << below(8));
}

static uint16_t rand_port(const struct fw_ports *ps)
{
	const struct fw_port_range *r;

	if (!ps->n || chance(20))
		return (uint16_t)below(65536);
	r = &ps->r[below(ps->n)];
	switch (below(5)) {
	case 0:
		return r->lo;
	case 1:
		return r->hi;
	case 2:
		return (uint16_t)(r->lo - 1);
	case 3:
		return (uint16_t)(r->hi + 1);
	default:
		return (uint16_t)(r->lo + below(r->hi - r->lo + 1));
	}
}

static void rand_packet(const struct pool *pl, const struct fw_config *cfg, struct fw_packet *p)
{
	static const uint8_t protos[] = { 6, 17, 1, 58, 132, 47 };
	const struct fw_rule *r = &cfg->rules[below(cfg->n_rules)];

	memset(p, 0, sizeof(*p));
	p->family = chance(50) ? 4 : 6;
	if (r->src.kind == FW_ADDR_PREFIX && chance(70))
		p->family = r->src.prefix.family;
	rand_pkt_addr(pl, cfg, p->family, p->src);
	rand_pkt_addr(pl, cfg, p->family, p->dst);
	p->proto = r->proto != FW_ANY && chance(80) ? (uint8_t)r->proto
						    : protos[below(sizeof(protos))];
	if (chance(3))
		p->proto = (uint8_t)rnd();
	p->l4 = chance(85);
	p->frag = !p->l4 && chance(60);
	if (chance(2))
		p->frag = true;		/* both: never seen, must still agree */
	/* fields a protocol does not have are garbage the masks must hide */
	p->sport = rand_port(&r->sport);
	p->dport = rand_port(&r->dport);
	p->icmp_type = r->icmp_type != FW_ANY && chance(70) ? (uint8_t)r->icmp_type
							    : (uint8_t)below(20);
	p->icmp_code = r->icmp_code != FW_ANY && chance(70) ? (uint8_t)r->icmp_code
							    : (uint8_t)below(5);
	p->tcp_flags = chance(50) ? (uint8_t)((r->flags_set | (rnd() & ~r->flags_unset)))
				  : (uint8_t)rnd();
	p->vlan = r->vlan && chance(70) ? r->vlan : (chance(50) ? 0 : (uint16_t)below(4096));
}

static void dump_case(const struct fw_config *cfg, const struct fw_packet *p, uint32_t ref,
		      uint32_t tss)
{
	char buf[512], s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	uint32_t i, k;

	fprintf(stderr, "rules:\n");
	for (i = 0; i < cfg->n_rules; i++) {
		fw_rule__format(cfg, i, buf, sizeof(buf));
		fprintf(stderr, "  %u: %s\n", i, buf);
	}
	for (i = 0; i < cfg->n_sets; i++) {
		fprintf(stderr, "set %s:", cfg->sets[i].name);
		for (k = 0; k < cfg->sets[i].n; k++) {
			fw_prefix__format(&cfg->sets[i].p[k], buf, sizeof(buf));
			fprintf(stderr, " %s", buf);
		}
		fputc('\n', stderr);
	}
	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->src, s, sizeof(s));
	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, p->dst, d, sizeof(d));
	fprintf(stderr, "packet: %s -> %s proto %u l4 %d frag %d sport %u dport %u vlan %u "
		"icmp %u/%u flags 0x%02x: ref %d, tss %d\n", s, d, p->proto, p->l4, p->frag,
		p->sport, p->dport, p->vlan, p->icmp_type, p->icmp_code, p->tcp_flags, (int)ref,
		(int)tss);
}

/*
 * A class-mode port of tuple t: 0xffff mask, the class map there, its lookup
 * asked for in t's family.
 */
static bool class_port_ok(const struct fw_compiled *c, const struct sfc_fw_tuple *t, bool dport)
{
	uint32_t bit;

	if (!(t->flags & (dport ? SFC_FW_TF_DPORT_CLASS : SFC_FW_TF_SPORT_CLASS)))
		return true;
	bit = dport ? (t->family == 4 ? SFC_FW_CLASS_DPORT4 : SFC_FW_CLASS_DPORT6)
		    : (t->family == 4 ? SFC_FW_CLASS_SPORT4 : SFC_FW_CLASS_SPORT6);
	return (dport ? t->dport_mask : t->sport_mask) == 0xffff && (c->class_lookups & bit) &&
	       (dport ? c->dport_class : c->sport_class);
}

/* A key's class ids exist. */
static bool class_ids_ok(const struct fw_compiled *c, const struct sfc_fw_key_hdr *h)
{
	const struct sfc_fw_tuple *t = &c->tuples[h->tuple];

	return (!(t->flags & SFC_FW_TF_SPORT_CLASS) || h->sport < c->n_sport_classes) &&
	       (!(t->flags & SFC_FW_TF_DPORT_CLASS) || h->dport < c->n_dport_classes);
}

/* What the data path relies on, beyond giving the right answers. */
static bool check_compiled(const struct fw_compiled *c)
{
	uint32_t i, w, flags = 0;

	/* IPv4 tuples [0, n_tuples4), then IPv6; each run by min_rule. */
	for (i = 0; i < c->n_tuples; i++) {
		if (c->tuples[i].family != (i < c->n_tuples4 ? 4 : 6))
			return false;
		if (i && i != c->n_tuples4 && c->tuples[i].min_rule < c->tuples[i - 1].min_rule)
			return false;
		if (!class_port_ok(c, &c->tuples[i], false) || !class_port_ok(c, &c->tuples[i], true))
			return false;
		flags |= c->tuples[i].flags;
	}
	/* a class map exactly when a tuple reads it */
	if (!(flags & SFC_FW_TF_SPORT_CLASS) != !c->sport_class ||
	    !(flags & SFC_FW_TF_DPORT_CLASS) != !c->dport_class)
		return false;
	for (i = 0; i < c->n_keys4; i++) {
		const struct sfc_fw_key4 *k = &c->keys4[i];
		const struct sfc_fw_tuple *t;

		if (k->h.tuple >= c->n_tuples)
			return false;
		t = &c->tuples[k->h.tuple];
		if (t->family != 4 || c->vals4[i] < t->min_rule || c->vals4[i] >= c->n_rules ||
		    !class_ids_ok(c, &k->h) ||
		    (k->src & ~t->src_mask[0]) || (k->dst & ~t->dst_mask[0]) ||
		    (k->h.sport & ~t->sport_mask) || (k->h.dport & ~t->dport_mask) ||
		    (k->h.proto & ~t->proto_mask) || (k->h.pflags & ~t->pflags_mask) ||
		    (k->h.tcp_flags & ~t->tcp_flags_mask) || (k->h.vlan & ~t->vlan_mask))
			return false;
	}
	for (i = 0; i < c->n_keys6; i++) {
		const struct sfc_fw_key6 *k = &c->keys6[i];
		const struct sfc_fw_tuple *t;

		if (k->h.tuple >= c->n_tuples)
			return false;
		t = &c->tuples[k->h.tuple];
		if (t->family != 6 || c->vals6[i] < t->min_rule || !class_ids_ok(c, &k->h))
			return false;
		for (w = 0; w < 4; w++)
			if ((k->src[w] & ~t->src_mask[w]) || (k->dst[w] & ~t->dst_mask[w]))
				return false;
	}
	return true;
}

static void check_random(void)
{
	uint32_t configs = quick ? 600 : 4000, packets = quick ? 150 : 400;
	uint64_t seed = 0x5fc0f1e2a3b4c5d6ULL, classified = 0;
	const char *env = getenv("SFC_FW_SEED");
	uint32_t i, k, ref, tss, too_big = 0, fails = 0, hits = 0;
	uint32_t with_classes = 0, with_blocks = 0;
	struct fw_compile_error e;
	struct fw_compiled *c;
	struct fw_config *cfg;
	struct fw_packet p;
	struct fw_tss *t;
	struct pool pl;
	int err;

	if (env)
		seed = strtoull(env, NULL, 0);
	printf("random rule sets: seed 0x%" PRIx64 " (SFC_FW_SEED), %u configs x %u packets\n",
	       seed, configs, packets);
	rng_state = seed ? seed : 1;
	for (i = 0; i < configs && fails < 3; i++) {
		rand_bytes(&pl.v4[0][0], sizeof(pl.v4));
		rand_bytes(&pl.v6[0][0], sizeof(pl.v6));
		/* some v6 bases share their first bytes: nested and sibling prefixes */
		for (k = 1; k < 6; k++)
			if (chance(50))
				memcpy(pl.v6[k], pl.v6[0], 4 + below(10));
		cfg = rand_config(&pl, i % 10 == 0 ? 60 : 12);
		err = fw_compile(cfg, &c, &e);
		if (err == -E2BIG) {
			too_big++;
			fw_config__free(cfg);
			continue;
		}
		CHECK(!err, "config %u: compile: %d", i, err);
		if (err) {
			fw_config__free(cfg);
			continue;
		}
		CHECK(check_compiled(c), "config %u: compiled arrays broken", i);
		with_classes += c->class_lookups != 0;
		for (k = 0; k < c->n_tuples; k++) {
			if ((c->tuples[k].sport_mask && c->tuples[k].sport_mask != 0xffff) ||
			    (c->tuples[k].dport_mask && c->tuples[k].dport_mask != 0xffff)) {
				with_blocks += c->class_lookups != 0;
				break;
			}
		}
		t = fw_tss__new(c);
		for (k = 0; t && k < packets; k++) {
			rand_packet(&pl, cfg, &p);
			ref = fw_classify_ref(cfg, &p);
			tss = fw_classify_tss(t, &p);
			classified++;
			hits += ref != SFC_FW_NO_RULE;
			if (ref != tss) {
				fails++;
				CHECK(ref == tss, "seed 0x%" PRIx64 ", config %u, packet %u", seed, i, k);
				dump_case(cfg, &p, ref, tss);
				break;
			}
		}
		fw_tss__free(t);
		fw_compiled__free(c);
		fw_config__free(cfg);
	}
	printf("random rule sets: %" PRIu64 " packets classified, %u matched a rule, "
	       "%u configs over a limit; %u with port classes, %u of those with port blocks "
	       "too\n", classified, hits, too_big, with_classes, with_blocks);
	/* the generator must make packets that hit rules, or it tests nothing */
	CHECK(hits > classified / 4, "only %u of %" PRIu64 " packets matched", hits, classified);
	/* and both kinds of range, side by side */
	CHECK(with_classes > configs / 4 && with_blocks > 0,
	      "classes in %u configs, blocks too in %u", with_classes, with_blocks);
}

/* ---- big ones ----------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 100k rules and a 100k-prefix set through the YAML-free path; timing shown only. */
static void check_big(void)
{
	const uint32_t n_rules = 100000, n_prefixes = 100000;
	struct fw_config *cfg = calloc(1, sizeof(*cfg));
	struct fw_compile_error e;
	struct fw_compiled *c = NULL;
	struct fw_packet p = {};
	struct fw_set *s;
	struct fw_tss *t;
	uint32_t i, ref, tss, agree = 0;
	double t0;
	int err;

	rng_state = 42;
	cfg->n_sets = 1;
	cfg->sets = calloc(1, sizeof(*cfg->sets));
	s = &cfg->sets[0];
	strcpy(s->name, "big");
	s->n = n_prefixes;
	s->p = calloc(n_prefixes, sizeof(*s->p));
	for (i = 0; i < n_prefixes; i++) {
		s->p[i].family = i % 4 ? 4 : 6;
		s->p[i].len = (uint8_t)(s->p[i].family == 4 ? 20 + below(13) : 32 + below(97));
		if (i % 100 == 1)	/* a few short ones that cover many */
			s->p[i].len = (uint8_t)(8 + below(12));
		rand_bytes(s->p[i].addr, s->p[i].family == 4 ? 4 : 16);
		if (s->p[i].family == 6)
			s->p[i].addr[0] = 10;	/* all in 0a00::/8: more of them nest */
		{
			unsigned int b, bytes = s->p[i].family == 4 ? 4 : 16;

			for (b = s->p[i].len; b < bytes * 8; b++)
				s->p[i].addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		}
	}
	fw_set__finish(s);
	cfg->n_rules = n_rules;
	cfg->rules = calloc(n_rules, sizeof(*cfg->rules));
	for (i = 0; i < n_rules; i++) {
		struct fw_rule *r = &cfg->rules[i];

		r->action = i % 3 ? SFC_FW_ALLOW : SFC_FW_DROP;
		r->proto = r->icmp_type = r->icmp_code = r->fragment = FW_ANY;
		if (i == 0) {
			r->src.kind = FW_ADDR_SET;
			continue;
		}
		r->dst.kind = FW_ADDR_PREFIX;
		r->dst.prefix.family = i % 5 ? 4 : 6;
		r->dst.prefix.len = r->dst.prefix.family == 4 ? 32 : 128;
		rand_bytes(r->dst.prefix.addr, r->dst.prefix.family == 4 ? 4 : 16);
		r->proto = i % 2 ? 6 : 17;
		r->dport.n = 1;
		r->dport.r = calloc(1, sizeof(*r->dport.r));
		r->dport.r[0].lo = r->dport.r[0].hi = (uint16_t)(1 + i % 1000);
		if (i % 7 == 0)
			r->dport.r[0].hi = r->dport.r[0].lo + 100;
	}
	t0 = now_s();
	err = fw_compile(cfg, &c, &e);
	printf("big: %u rules, %u set prefixes: compiled in %.3f s into %u tuples, %u + %u keys, "
	       "%u + %u trie entries\n", n_rules, s->n, now_s() - t0, c ? c->n_tuples : 0,
	       c ? c->n_keys4 : 0, c ? c->n_keys6 : 0, c ? c->n_lpm4 : 0, c ? c->n_lpm6 : 0);
	CHECK(!err && c, "big: compile %d", err);
	if (c) {
		CHECK(check_compiled(c), "big: compiled arrays broken");
		t = fw_tss__new(c);
		for (i = 0; t && i < 200; i++) {
			const struct fw_rule *r = &cfg->rules[1 + below(n_rules - 1)];

			memset(&p, 0, sizeof(p));
			p.family = r->dst.prefix.family;
			memcpy(p.dst, r->dst.prefix.addr, 16);
			if (i % 2)
				memcpy(p.src, s->p[below(s->n)].addr, 16), p.family = 4;
			p.proto = (uint8_t)r->proto;
			p.l4 = true;
			p.dport = r->dport.r[0].lo;
			ref = fw_classify_ref(cfg, &p);
			tss = fw_classify_tss(t, &p);
			agree += ref == tss;
		}
		CHECK(agree == 200, "big: %u of 200 packets agree", agree);
		fw_tss__free(t);
	}
	fw_compiled__free(c);
	fw_config__free(cfg);
}

/* ---- small pieces ------------------------------------------------------- */

static void check_prefixes(void)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "10.1.2.3/8", "10.0.0.0/8" },
		{ "10.1.2.3", "10.1.2.3/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "255.255.255.255/31", "255.255.255.254/31" },
		{ "2001:db8::1", "2001:db8::1/128" },
		{ "2001:db8:ffff::/33", "2001:db8:8000::/33" },
		{ "::/0", "::/0" },
		{ "::ffff:192.0.2.1/120", "::ffff:192.0.2.0/120" },
	};
	static const char *const bad_in[] = {
		"", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8",
		"10.0.0.256", "10.0.0", "2001:db8::/129", "2001:db8:::/64", "10.0.0.0/0008",
		" 10.0.0.0/8", "10.0.0.0 /8", "host",
	};
	struct fw_prefix p, q;
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(fw_prefix__parse(ok[i].in, &p, NULL) == 0, "parse %s", ok[i].in);
		fw_prefix__format(&p, buf, sizeof(buf));
		CHECK_STR(buf, ok[i].out);
	}
	for (i = 0; i < sizeof(bad_in) / sizeof(bad_in[0]); i++)
		CHECK(fw_prefix__parse(bad_in[i], &p, NULL) == -EINVAL, "parsed \"%s\"", bad_in[i]);

	fw_prefix__parse("10.128.0.0/9", &p, NULL);
	fw_prefix__parse("10.200.1.1", &q, NULL);
	CHECK(fw_prefix__contains(&p, 4, q.addr), "10.128/9 holds 10.200.1.1");
	fw_prefix__parse("10.100.1.1", &q, NULL);
	CHECK(!fw_prefix__contains(&p, 4, q.addr), "10.128/9 lacks 10.100.1.1");
	CHECK(!fw_prefix__contains(&p, 6, q.addr), "family");
}

/* Set bitmaps: each trie entry carries the bits of every set prefix that covers it. */
static void check_set_bitmaps(void)
{
	static const char *const a[] = { "10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32" };
	static const char *const b[] = { "10.1.2.0/24", "10.0.0.0/8", "10.1.2.3" };
	static const char *const c3[] = { "0.0.0.0/0" };
	struct fw_config *cfg = calloc(1, sizeof(*cfg));
	struct fw_compiled *c = NULL;
	uint32_t i;
	size_t k;

	cfg->n_sets = 4;
	cfg->sets = calloc(4, sizeof(*cfg->sets));
	for (i = 0; i < 4; i++) {
		const char *const *list = i == 0 ? a : i == 1 ? b : c3;
		size_t n = i == 0 ? 3 : i == 1 ? 3 : 1;

		snprintf(cfg->sets[i].name, sizeof(cfg->sets[i].name), "s%u", i);
		cfg->sets[i].p = calloc(n, sizeof(struct fw_prefix));
		for (k = 0; k < n; k++)
			fw_prefix__parse(list[k], &cfg->sets[i].p[cfg->sets[i].n++], NULL);
		fw_set__finish(&cfg->sets[i]);
	}
	/* sets 0, 1 and 2 are used, set 3 (a copy of 2) is not: not in the trie */
	cfg->n_rules = 3;
	cfg->rules = calloc(3, sizeof(*cfg->rules));
	for (i = 0; i < 3; i++) {
		cfg->rules[i].proto = cfg->rules[i].icmp_type = FW_ANY;
		cfg->rules[i].icmp_code = cfg->rules[i].fragment = FW_ANY;
		cfg->rules[i].src.kind = FW_ADDR_SET;
		cfg->rules[i].src.set = (uint8_t)i;
	}
	CHECK(fw_compile(cfg, &c, NULL) == 0, "compile");
	if (c) {
		/* 0/0 (2), 10/8 (0,1,2), 10.1/16 (0,1,2), 10.1.2/24 (0,1,2), 10.1.2.3/32 (0,1,2) */
		static const struct {
			uint32_t len;
			const char *addr;
			uint64_t bits;
		} want[] = {
			{ 0, "0.0.0.0", 0x4 }, { 8, "10.0.0.0", 0x7 }, { 16, "10.1.0.0", 0x7 },
			{ 24, "10.1.2.0", 0x7 }, { 32, "10.1.2.3", 0x7 },
		};
		CHECK(c->n_lpm4 == 5 && c->n_lpm6 == 1, "trie entries %u %u", c->n_lpm4, c->n_lpm6);
		for (i = 0; i < c->n_lpm4 && i < 5; i++) {
			__be32 addr;

			inet_pton(AF_INET, want[i].addr, &addr);
			CHECK(c->lpm4[i].prefixlen == want[i].len && c->lpm4[i].addr == addr &&
			      c->lpm4_val[i] == want[i].bits, "entry %u: /%u bits %" PRIx64, i,
			      c->lpm4[i].prefixlen, c->lpm4_val[i]);
		}
		CHECK(c->n_lpm6 == 1 && c->lpm6[0].prefixlen == 32 && c->lpm6_val[0] == 1,
		      "v6 entry");
		CHECK(c->set_families == (FW_FAM_V4 | FW_FAM_V6), "set families");
	}
	fw_compiled__free(c);
	fw_config__free(cfg);
}

static int make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/sfc-fw-XXXXXX", getenv("TMPDIR") ?: "/tmp");
	if (!mkdtemp(tmpdir))
		return -errno;
	snprintf(chain_path, sizeof(chain_path), "%s/chain.yaml", tmpdir);
	{
		char d[300];

		snprintf(d, sizeof(d), "%s/sets", tmpdir);
		if (mkdir(d, 0700))
			return -errno;
	}
	if (write_file("sets/ok.txt", "# a set file\n\n10.0.0.0/8\n  192.0.2.1   # a host\n"
		       "2001:db8::/32\r\n10.0.0.0/8\n") ||
	    write_file("sets/bad.txt", "# line 1\n10.0.0.0/8\n\n10.0.0.300\n") ||
	    write_file("sets/bad-len.txt", "10.0.0.0/8\n2001:db8::/130\n") ||
	    write_file("sets/two.txt", "10.0.0.0/8 10.1.0.0/16\n"))
		return -EIO;
	return 0;
}

static void rm_tmpdir(void)
{
	static const char *const files[] = {
		"sets/ok.txt", "sets/bad.txt", "sets/bad-len.txt", "sets/two.txt",
	};
	char p[512];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", tmpdir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/sets", tmpdir);
	rmdir(p);
	rmdir(tmpdir);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--quick"))) {
		fprintf(stderr, "usage: %s CHAINS_DIR [--quick]\n", argv[0]);
		return 2;
	}
	quick = argc == 3;
	if (make_tmpdir()) {
		fprintf(stderr, "cannot make a temporary folder: %s\n", strerror(errno));
		return 1;
	}
	check_prefixes();
	check_set_bitmaps();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(&bad[i]);
	check_too_many_sets();
	check_good();
	check_abi_bytes();
	check_port_classes();
	check_example(argv[1]);
	check_random();
	if (!quick) {
		check_too_many_keys();
		check_class_fallback();
		check_big();
	}
	rm_tmpdir();
	printf("%zu broken configs checked\n", sizeof(bad) / sizeof(bad[0]) + 1);
	TEST_DONE();
}
