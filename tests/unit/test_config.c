// SPDX-License-Identifier: GPL-2.0
/*
 * Chain files: the examples in chains/ parse; a table of broken files fails
 * at the exact line, column and key path with the right message; the
 * canonical JSON ignores formatting and sees reordering.
 *
 * Usage: test_config CHAINS_DIR
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sfc/sfc.h>
#include "nf.h"
#include "testlib.h"

/* Lines 1-4 and 5-6 of most cases. */
#define HEAD	"apiVersion: sfc/v1alpha1\n" \
		"kind: Chain\n" \
		"metadata:\n" \
		"  name: web-edge\n"
#define SPEC	"spec:\n" \
		"  interface: veth-in\n"
/* Three lines of functions. */
#define FNS	"  functions:\n" \
		"    - name: fw\n" \
		"      type: passthrough\n"

struct bad_case {
	const char *desc;
	const char *text;
	int line, col;
	const char *path;
	const char *msg;	/* a substring of diag.msg */
};

static const struct bad_case bad[] = {
	/* ---- top level ---- */
	{ "wrong apiVersion",
	  "apiVersion: sfc/v1\nkind: Chain\nmetadata:\n  name: x\n" SPEC FNS,
	  1, 13, "apiVersion", "\"sfc/v1\" is not supported (expected \"sfc/v1alpha1\")" },
	{ "wrong kind",
	  "apiVersion: sfc/v1alpha1\nkind: Pipeline\nmetadata:\n  name: x\n" SPEC FNS,
	  2, 7, "kind", "\"Pipeline\" is not supported (expected \"Chain\")" },
	{ "missing kind",
	  "apiVersion: sfc/v1alpha1\nmetadata:\n  name: x\n" SPEC FNS,
	  1, 1, "", "missing required key \"kind\"" },
	{ "missing spec",
	  HEAD,
	  1, 1, "", "missing required key \"spec\"" },
	{ "apiVersion is a mapping",
	  "apiVersion: {v: 1}\nkind: Chain\nmetadata:\n  name: x\n" SPEC FNS,
	  1, 13, "apiVersion", "expected a string, got a mapping" },
	{ "document is a sequence",
	  "- apiVersion: sfc/v1alpha1\n",
	  1, 1, "", "expected a mapping (a Chain document), got a sequence" },
	{ "document is a scalar",
	  "hello\n",
	  1, 1, "", "expected a mapping (a Chain document), got a string" },
	{ "unknown top-level key",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetdata:\n  name: x\n" SPEC FNS,
	  3, 1, "metdata",
	  "unknown key \"metdata\" (expected one of: apiVersion, kind, metadata, spec)" },
	{ "non-string key",
	  "? [a, b]\n: c\n",
	  1, 3, "", "expected a string as key, got a sequence" },

	/* ---- metadata ---- */
	{ "metadata is a string",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata: web\n" SPEC FNS,
	  3, 11, "metadata", "expected a mapping, got a string" },
	{ "metadata without name",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata: {}\n" SPEC FNS,
	  3, 11, "metadata", "missing required key \"name\"" },
	{ "metadata with labels",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: x\n  labels: {}\n"
	  SPEC FNS,
	  5, 3, "metadata.labels", "unknown key \"labels\" (expected one of: name)" },
	{ "name with uppercase",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: Web-Edge\n" SPEC FNS,
	  4, 9, "metadata.name", "has an uppercase letter" },
	{ "name too long (33)",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n"
	  "  name: abcdefghij-abcdefghij-abcdefghij-\n" SPEC FNS,
	  4, 9, "metadata.name", "too long: 33 characters (at most 32)" },
	{ "name far too long",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n"
	  "  name: abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij\n"
	  SPEC FNS,
	  4, 9, "metadata.name", "too long: 65 characters (at most 32)" },
	{ "name with underscore",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: web_edge\n" SPEC FNS,
	  4, 9, "metadata.name", "a character other than a-z, 0-9 and '-'" },
	{ "name with a leading dash",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: -edge\n" SPEC FNS,
	  4, 9, "metadata.name", "starts with '-'" },
	/* names become folders under the pin root: nothing that leaves it */
	{ "name ../x",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: ../x\n" SPEC FNS,
	  4, 9, "metadata.name", "\"../x\" has a character other than a-z, 0-9 and '-'" },
	{ "name a/b",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: a/b\n" SPEC FNS,
	  4, 9, "metadata.name", "\"a/b\" has a character other than" },
	{ "name .",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: \".\"\n" SPEC FNS,
	  4, 9, "metadata.name", "\".\" has a character other than" },
	{ "name ..",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: \"..\"\n" SPEC FNS,
	  4, 9, "metadata.name", "\"..\" has a character other than" },
	{ "name with a NUL",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: \"a\\0b\"\n" SPEC FNS,
	  4, 9, "metadata.name", "NUL" },
	{ "function name ../fw",
	  HEAD SPEC "  functions:\n    - name: ../fw\n      type: passthrough\n",
	  8, 13, "spec.functions[0].name", "\"../fw\" has a character other than" },
	{ "function name a/b",
	  HEAD SPEC "  functions:\n    - name: a/b\n      type: passthrough\n",
	  8, 13, "spec.functions[0].name", "\"a/b\" has a character other than" },
	{ "function name ..",
	  HEAD SPEC "  functions:\n    - name: \"..\"\n      type: passthrough\n",
	  8, 13, "spec.functions[0].name", "\"..\" has a character other than" },
	{ "name with a newline stays one line",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: \"a\\nb\"\n" SPEC FNS,
	  4, 9, "metadata.name", "\"a b\" has a character other than" },
	{ "empty quoted name",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: \"\"\n" SPEC FNS,
	  4, 9, "metadata.name", "a name cannot be empty" },
	{ "null apiVersion",
	  "apiVersion: ~\nkind: Chain\nmetadata:\n  name: x\n" SPEC FNS,
	  1, 13, "apiVersion", "expected a string, got null" },
	{ "null name",
	  "apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: ~\n" SPEC FNS,
	  4, 9, "metadata.name", "expected a string, got null" },

	/* ---- spec ---- */
	{ "spec is a sequence",
	  HEAD "spec:\n  - interface: veth-in\n",
	  6, 3, "spec", "expected a mapping, got a sequence" },
	{ "unknown key in spec",
	  HEAD "spec:\n  interfce: veth-in\n" FNS,
	  6, 3, "spec.interfce",
	  "unknown key \"interfce\" (expected one of: interface, xdpMode, egress, functions)" },
	{ "missing interface",
	  HEAD "spec:\n  xdpMode: auto\n" FNS,
	  6, 3, "spec", "missing required key \"interface\"" },
	{ "missing functions",
	  HEAD SPEC,
	  6, 3, "spec", "missing required key \"functions\"" },
	{ "interface too long",
	  HEAD "spec:\n  interface: veth-in-too-long\n" FNS,
	  6, 14, "spec.interface",
	  "\"veth-in-too-long\" has 16 characters (an interface name has at most 15)" },
	{ "interface with a slash",
	  HEAD "spec:\n  interface: veth/0\n" FNS,
	  6, 14, "spec.interface", "\"veth/0\" has a '/' or ':'" },
	{ "interface ..",
	  HEAD "spec:\n  interface: ..\n" FNS,
	  6, 14, "spec.interface", "\"..\" is not an interface name" },
	{ "interface with a space",
	  HEAD "spec:\n  interface: \"veth 0\"\n" FNS,
	  6, 14, "spec.interface", "\"veth 0\" has whitespace" },
	{ "interface is a sequence",
	  HEAD "spec:\n  interface: [veth0]\n" FNS,
	  6, 14, "spec.interface", "expected a string, got a sequence" },
	{ "interface is null",
	  HEAD "spec:\n  interface:\n" FNS,
	  6, 13, "spec.interface", "expected a string, got null" },
	{ "bad xdpMode",
	  HEAD SPEC "  xdpMode: fast\n" FNS,
	  7, 12, "spec.xdpMode", "\"fast\" is not valid (expected one of: auto, native, skb)" },

	/* ---- egress ---- */
	{ "egress is a string",
	  HEAD SPEC "  egress: redirect\n" FNS,
	  7, 11, "spec.egress", "expected a mapping, got a string" },
	{ "unknown key at depth 3",
	  HEAD SPEC "  egress:\n    action: tx\n    nexthopMac: 02:00:00:00:00:02\n" FNS,
	  9, 5, "spec.egress.nexthopMac",
	  "unknown key \"nexthopMac\" (expected one of: action, interface, nextHopMac)" },
	{ "egress without action",
	  HEAD SPEC "  egress:\n    interface: veth-out\n" FNS,
	  8, 5, "spec.egress", "missing required key \"action\"" },
	{ "bad egress action",
	  HEAD SPEC "  egress:\n    action: drop\n" FNS,
	  8, 13, "spec.egress.action",
	  "\"drop\" is not valid (expected one of: pass, tx, redirect)" },
	{ "redirect without interface",
	  HEAD SPEC "  egress:\n    action: redirect\n" FNS,
	  8, 5, "spec.egress", "missing required key \"interface\"" },
	{ "interface given for pass",
	  HEAD SPEC "  egress:\n    action: pass\n    interface: veth-out\n" FNS,
	  9, 16, "spec.egress.interface", "not allowed with action pass" },
	{ "interface given for tx",
	  HEAD SPEC "  egress:\n    action: tx\n    interface: veth-out\n" FNS,
	  9, 16, "spec.egress.interface", "not allowed with action tx" },
	{ "egress interface equal to spec.interface",
	  HEAD SPEC "  egress:\n    action: redirect\n    interface: veth-in\n" FNS,
	  9, 16, "spec.egress.interface", "\"veth-in\" is spec.interface too" },
	{ "bad egress interface",
	  HEAD SPEC "  egress:\n    action: redirect\n    interface: \"\"\n" FNS,
	  9, 16, "spec.egress.interface", "an interface name cannot be empty" },
	{ "nextHopMac for pass",
	  HEAD SPEC "  egress:\n    action: pass\n    nextHopMac: 02:00:00:00:00:02\n" FNS,
	  9, 17, "spec.egress.nextHopMac", "not allowed with action pass" },
	{ "MAC with five bytes",
	  HEAD SPEC "  egress:\n    action: tx\n    nextHopMac: 02:00:00:00:00\n" FNS,
	  9, 17, "spec.egress.nextHopMac",
	  "\"02:00:00:00:00\" is not a MAC address (expected a MAC address like" },
	{ "MAC with a bad digit",
	  HEAD SPEC "  egress:\n    action: tx\n    nextHopMac: 02:00:00:00:00:0g\n" FNS,
	  9, 17, "spec.egress.nextHopMac", "is not a MAC address" },
	{ "MAC with dashes",
	  HEAD SPEC "  egress:\n    action: tx\n    nextHopMac: 02-00-00-00-00-01\n" FNS,
	  9, 17, "spec.egress.nextHopMac", "is not a MAC address" },
	{ "multicast MAC",
	  HEAD SPEC "  egress:\n    action: tx\n    nextHopMac: 01:00:5e:00:00:01\n" FNS,
	  9, 17, "spec.egress.nextHopMac", "is a multicast address" },
	{ "zero MAC",
	  HEAD SPEC "  egress:\n    action: tx\n    nextHopMac: 00:00:00:00:00:00\n" FNS,
	  9, 17, "spec.egress.nextHopMac", "is not a usable MAC" },

	/* ---- functions ---- */
	{ "functions is a mapping",
	  HEAD SPEC "  functions: {}\n",
	  7, 14, "spec.functions", "expected a sequence of functions, got a mapping" },
	{ "functions is null",
	  HEAD SPEC "  functions:\n",
	  7, 13, "spec.functions", "expected a sequence of functions, got null" },
	{ "function is a string",
	  HEAD SPEC "  functions:\n    - fw\n",
	  8, 7, "spec.functions[0]", "expected a mapping, got a string" },
	{ "unknown key in a function",
	  HEAD SPEC "  functions:\n    - name: fw\n      typ: passthrough\n",
	  9, 7, "spec.functions[0].typ",
	  "unknown key \"typ\" (expected one of: name, type, config)" },
	{ "function without name",
	  HEAD SPEC "  functions:\n    - type: passthrough\n",
	  8, 7, "spec.functions[0]", "missing required key \"name\"" },
	{ "function without type",
	  HEAD SPEC "  functions:\n    - name: fw\n",
	  8, 7, "spec.functions[0]", "missing required key \"type\"" },
	{ "function name with uppercase",
	  HEAD SPEC "  functions:\n    - name: a\n      type: passthrough\n"
	  "    - name: FW\n      type: passthrough\n",
	  10, 13, "spec.functions[1].name", "has an uppercase letter" },
	{ "unknown function type",
	  HEAD SPEC "  functions:\n    - name: fw\n      type: firewal\n",
	  9, 13, "spec.functions[0].type",
	  "unknown function type \"firewal\" (known types: passthrough, firewall, flowmon, loadbalancer)" },
	{ "function type is a mapping",
	  HEAD SPEC "  functions:\n    - name: fw\n      type: {a: b}\n",
	  9, 13, "spec.functions[0].type", "expected a string, got a mapping" },
	{ "passthrough with a config key",
	  HEAD SPEC FNS "      config: {rules: []}\n",
	  10, 16, "spec.functions[0].config.rules",
	  "unknown key \"rules\" (expected one of: mark)" },
	{ "passthrough mark out of range",
	  HEAD SPEC FNS "      config: {mark: 4294967296}\n",
	  10, 22, "spec.functions[0].config.mark", "is out of range (expected an integer in 0..4294967295)" },
	{ "passthrough mark is a string",
	  HEAD SPEC FNS "      config: {mark: red}\n",
	  10, 22, "spec.functions[0].config.mark", "\"red\" is not an integer" },
	{ "passthrough config is a sequence",
	  HEAD SPEC FNS "      config: [1]\n",
	  10, 15, "spec.functions[0].config", "expected a mapping" },
	{ "duplicate function name",
	  HEAD SPEC "  functions:\n    - name: fw\n      type: passthrough\n"
	  "    - name: mon\n      type: passthrough\n"
	  "    - name: fw\n      type: passthrough\n",
	  12, 13, "spec.functions[2].name",
	  "duplicate function name \"fw\" (first defined at line 8)" },

	/* ---- YAML ---- */
	{ "duplicate YAML key",
	  HEAD SPEC "  xdpMode: auto\n  xdpMode: skb\n" FNS,
	  8, 3, "spec.xdpMode", "duplicate key \"xdpMode\" (first at line 7, column 3)" },
	{ "duplicate YAML key in a config",
	  HEAD SPEC FNS "      config: {a: 1, b: 2, a: 3}\n",
	  10, 28, "spec.functions[0].config.a",
	  "duplicate key \"a\" (first at line 10, column 16)" },
	{ "the first duplicate is reported",
	  "b: 1\na: 1\nc: 1\nb: 2\na: 2\n",
	  4, 1, "b", "duplicate key \"b\" (first at line 1, column 1)" },
	{ "alias",
	  HEAD "spec: &s\n  interface: veth-in\n" FNS "x: *s\n",
	  5, 7, "x", "YAML aliases are not supported" },
	{ "alias cycle",
	  "a: &x [*x]\n",
	  1, 4, "a[0]", "YAML aliases are not supported" },
	{ "syntax error: unclosed flow sequence",
	  HEAD SPEC "  functions: [\n",
	  8, 1, "", "YAML syntax error: did not find expected node content" },
	{ "syntax error: bad indentation",
	  HEAD SPEC " xdpMode: auto\n" FNS,
	  7, 2, "", "YAML syntax error: did not find expected key" },
	{ "syntax error: tab",
	  HEAD SPEC "\txdpMode: auto\n" FNS,
	  7, 1, "", "YAML syntax error: found a tab character that violates indentation" },
	{ "invalid UTF-8",
	  HEAD SPEC "  xdpMode: \xff\n" FNS,
	  7, 12, "", "not a YAML text stream: invalid leading UTF-8 octet" },
	{ "two documents",
	  HEAD SPEC FNS "---\n" HEAD SPEC FNS,
	  10, 1, "", "a second YAML document" },
	{ "syntax error in a second document",
	  HEAD SPEC FNS "---\n[\n",
	  12, 1, "", "YAML syntax error" },
	{ "empty file",
	  "",
	  1, 1, "", "empty file" },
	{ "only comments",
	  "# nothing here\n\n",
	  1, 1, "", "empty file" },
};

static void check_bad(const struct bad_case *c)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char line[1024];

	memset(&d, 0xa5, sizeof(d));
	errno = 0;
	spec = sfc_chain_spec__parse_string("bad.yaml", c->text, strlen(c->text), &d);
	CHECK(!spec, "%s: parsed", c->desc);
	if (spec) {
		sfc_chain_spec__free(spec);
		return;
	}
	sfc_diag__format(&d, line, sizeof(line));
	if (getenv("SFC_TEST_VERBOSE"))
		printf("%-42s %s\n", c->desc, line);
	CHECK(errno == EINVAL, "%s: errno %d", c->desc, errno);
	CHECK(!strcmp(d.file, "bad.yaml"), "%s: file \"%s\"", c->desc, d.file);
	CHECK(d.line == c->line && d.col == c->col, "%s: at %d:%d, want %d:%d (%s)",
	      c->desc, d.line, d.col, c->line, c->col, line);
	CHECK(!strcmp(d.path, c->path), "%s: path \"%s\", want \"%s\" (%s)",
	      c->desc, d.path, c->path, line);
	CHECK(strstr(d.msg, c->msg), "%s: msg \"%s\", want \"%s\"", c->desc, d.msg, c->msg);
}

/* Generated cases: too many to write out. */

static char *functions_text(int n)
{
	size_t len = 4096 + n * 64, o;
	char *s = malloc(len);
	int i;

	if (!s)
		return NULL;
	o = snprintf(s, len, HEAD SPEC "  functions:\n");
	for (i = 0; i < n; i++)
		o += snprintf(s + o, len - o, "    - name: f%d\n      type: passthrough\n", i);
	return s;
}

static void check_function_budget(void)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char *s;

	s = functions_text(30);
	spec = s ? sfc_chain_spec__parse_string("ok.yaml", s, strlen(s), &d) : NULL;
	CHECK(spec && spec->n_functions == 30, "30 functions: %s", spec ? "" : d.msg);
	sfc_chain_spec__free(spec);
	free(s);

	s = functions_text(31);
	spec = s ? sfc_chain_spec__parse_string("bad.yaml", s, strlen(s), &d) : NULL;
	CHECK(!spec, "31 functions parsed");
	sfc_chain_spec__free(spec);
	free(s);
	CHECK(d.line == 8 && d.col == 5, "31 functions at %d:%d", d.line, d.col);
	CHECK_STR(d.path, "spec.functions");
	CHECK_STR(d.msg, "31 functions: the tail-call budget allows at most 30");
}

static void check_big_and_deep(void)
{
	size_t big = (64 << 20) + 1, i;
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char *s;

	s = malloc(big + 1);
	if (!s)
		return;
	memset(s, '#', big);
	s[big] = '\0';
	spec = sfc_chain_spec__parse_string("big.yaml", s, big, &d);
	CHECK(!spec && errno == EINVAL, "64 MiB + 1 parsed");
	CHECK(d.line == 1 && d.col == 1, "big at %d:%d", d.line, d.col);
	CHECK(strstr(d.msg, "larger than 64 MiB"), "big: %s", d.msg);

	/* nesting inside a config: caught before the NF parser sees it */
	i = snprintf(s, big, HEAD SPEC FNS "      config: {a: ");
	memset(s + i, '[', 40);
	memset(s + i + 40, ']', 40);
	strcpy(s + i + 80, "}\n");
	spec = sfc_chain_spec__parse_string("deep.yaml", s, strlen(s), &d);
	CHECK(!spec && errno == EINVAL, "deep nesting parsed");
	CHECK(strstr(d.msg, "nested deeper than"), "deep: %s", d.msg);
	CHECK(!strncmp(d.path, "spec.functions[0].config.a[0][0]", 32), "deep: %s", d.path);
	free(s);
}

static void check_missing_file(void)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char line[512];

	errno = 0;
	spec = sfc_chain_spec__parse_file("/nonexistent/chain.yaml", &d);
	CHECK(!spec && errno == ENOENT, "missing file: errno %d", errno);
	sfc_diag__format(&d, line, sizeof(line));
	CHECK_STR(line, "/nonexistent/chain.yaml: cannot read: No such file or directory");
	CHECK(d.line == 0 && d.col == 0 && !d.path[0], "missing file: location");

	/* a directory reads as EISDIR; no diag pointer is fine */
	errno = 0;
	spec = sfc_chain_spec__parse_file("/", NULL);
	CHECK(!spec && errno == EISDIR, "directory: errno %d", errno);
}

/* ---- good files ---- */

static void check_chains_dir(const char *dir)
{
	struct sfc_chain_spec *spec;
	char path[4096], line[1024];
	struct dirent *e;
	struct sfc_diag d;
	size_t l;
	int n = 0;
	DIR *dp;

	dp = opendir(dir);
	CHECK(dp, "opendir %s: %s", dir, strerror(errno));
	if (!dp)
		return;
	while ((e = readdir(dp))) {
		l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		spec = sfc_chain_spec__parse_file(path, &d);
		if (!spec)
			sfc_diag__format(&d, line, sizeof(line));
		CHECK(spec, "%s", spec ? "" : line);
		CHECK(!spec || !strcmp(spec->file, path), "%s: spec->file", path);
		sfc_chain_spec__free(spec);
		n++;
	}
	closedir(dp);
	CHECK(n >= 3, "only %d chain files in %s", n, dir);

	snprintf(path, sizeof(path), "%s/demo.yaml", dir);
	spec = sfc_chain_spec__parse_file(path, &d);
	CHECK(spec, "demo.yaml");
	if (!spec)
		return;
	CHECK_STR(spec->name, "demo");
	CHECK_STR(spec->interface, "sfc-in");
	CHECK(spec->xdp_mode == SFC_XDP_MODE_AUTO, "demo xdp_mode");
	CHECK(spec->egress.action == SFC_EGRESS_ACTION_REDIRECT, "demo egress");
	CHECK_STR(spec->egress.interface, "sfc-out");
	CHECK(spec->n_functions == 2, "demo: %u functions", spec->n_functions);
	if (spec->n_functions == 2) {
		CHECK_STR(spec->functions[0].name, "first");
		CHECK_STR(spec->functions[1].name, "second");
		CHECK(spec->functions[0].type == sfc_nf_type__find("passthrough"), "type");
		CHECK(spec->functions[0].line == 14 && spec->functions[0].col == 7,
		      "first at %d:%d", spec->functions[0].line, spec->functions[0].col);
	}
	sfc_chain_spec__free(spec);
}

static char *json_of(const char *text, bool with_config)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char *j;

	spec = sfc_chain_spec__parse_string("j.yaml", text, strlen(text), &d);
	CHECK(spec, "json input: %d:%d: %s: %s", d.line, d.col, d.path, d.msg);
	if (!spec)
		return strdup("");
	j = sfc_chain_spec__to_json(spec, with_config);
	CHECK(j, "to_json: %s", strerror(errno));
	sfc_chain_spec__free(spec);
	return j ? j : strdup("");
}

static void check_json(void)
{
	static const char block[] =
		"# block style, with comments\n"
		"apiVersion: sfc/v1alpha1\n"
		"kind: Chain\n"
		"metadata:\n"
		"  name: web-edge   # the chain\n"
		"spec:\n"
		"  interface: veth-in\n"
		"  egress:\n"
		"    action: redirect\n"
		"    interface: veth-out\n"
		"    nextHopMac: 02:00:00:00:00:0A\n"
		"  functions:\n"
		"    - name: fw\n"
		"      type: passthrough\n"
		"    - name: mon\n"
		"      type: passthrough\n"
		"      config: {}\n";
	/* flow style, other key order, defaults spelled out, quotes */
	static const char flow[] =
		"{kind: \"Chain\", spec: {functions: [{type: passthrough, name: fw, config: {}},\n"
		"  {name: 'mon', type: passthrough}], egress: {nextHopMac: \"02:00:00:00:00:0a\",\n"
		"  interface: veth-out, action: redirect}, xdpMode: auto, interface: veth-in},\n"
		" metadata: {name: web-edge}, apiVersion: 'sfc/v1alpha1'}\n";
	static const char reordered[] =
		"apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata: {name: web-edge}\n"
		"spec:\n  interface: veth-in\n"
		"  egress: {action: redirect, interface: veth-out, nextHopMac: 02:00:00:00:00:0a}\n"
		"  functions:\n"
		"    - {name: mon, type: passthrough}\n"
		"    - {name: fw, type: passthrough}\n";
	static const char want[] =
		"{\"api_version\":\"sfc/v1alpha1\",\"name\":\"web-edge\",\"interface\":\"veth-in\","
		"\"xdp_mode\":\"auto\",\"egress\":{\"action\":\"redirect\","
		"\"interface\":\"veth-out\","
		"\"next_hop_mac\":\"02:00:00:00:00:0a\"},\"functions\":["
		"{\"name\":\"fw\",\"type\":\"passthrough\",\"config\":{}},"
		"{\"name\":\"mon\",\"type\":\"passthrough\",\"config\":{}}]}";
	static const char want_bare[] =
		"{\"api_version\":\"sfc/v1alpha1\",\"name\":\"web-edge\",\"interface\":\"veth-in\","
		"\"xdp_mode\":\"auto\",\"egress\":{\"action\":\"redirect\","
		"\"interface\":\"veth-out\","
		"\"next_hop_mac\":\"02:00:00:00:00:0a\"},\"functions\":["
		"{\"name\":\"fw\",\"type\":\"passthrough\"},"
		"{\"name\":\"mon\",\"type\":\"passthrough\"}]}";
	static const char minimal[] =
		HEAD SPEC "  xdpMode: skb\n  functions: []\n";
	static const char want_minimal[] =
		"{\"api_version\":\"sfc/v1alpha1\",\"name\":\"web-edge\",\"interface\":\"veth-in\","
		"\"xdp_mode\":\"skb\",\"egress\":{\"action\":\"pass\"},\"functions\":[]}";
	char *a, *b, *c;

	a = json_of(block, true);
	b = json_of(flow, true);
	c = json_of(reordered, true);
	CHECK_STR(a, want);
	CHECK_STR(b, a);
	CHECK(strcmp(a, c), "reordered functions give the same JSON: %s", c);
	free(a);
	free(b);
	free(c);

	a = json_of(block, false);
	CHECK_STR(a, want_bare);
	free(a);

	a = json_of(minimal, true);
	CHECK_STR(a, want_minimal);
	free(a);

	a = json_of(HEAD SPEC "  egress: {action: tx, nextHopMac: 02:00:00:00:00:02}\n"
		    "  functions: []\n", true);
	CHECK(strstr(a, "\"egress\":{\"action\":\"tx\",\"next_hop_mac\":\"02:00:00:00:00:02\"}"),
	      "tx json: %s", a);
	free(a);

	errno = 0;
	CHECK(!sfc_chain_spec__to_json(NULL, true) && errno == EINVAL, "to_json(NULL)");
}

/* ---- the typed helpers NF parsers use ---- */

static const char helper_doc[] =
	"port: 80\n"			/* 1 */
	"hex: 0x1F\n"
	"neg: -1\n"
	"quoted: \"80\"\n"
	"over: 70000\n"			/* 5 */
	"huge: 99999999999999999999\n"
	"t: true\n"
	"f: FALSE\n"
	"yes: yes\n"
	"d1: 15s\n"			/* 10 */
	"d2: 500ms\n"
	"d3: 2m\n"
	"d4: 1h\n"
	"d5: 10\n"
	"d6: 1.5s\n"			/* 15 */
	"mac: 02:AB:cd:00:00:01\n"
	"mode: native\n"
	"s: hello\n"
	"seq: [a, b, c]\n"
	"empty:\n";			/* 20 */

struct helper_ctx {
	struct sfc_yaml y;
	struct sfc_diag d;
	struct sfc_ynode root;
};

static void get(struct helper_ctx *h, const char *key, struct sfc_ynode *n)
{
	memset(&h->d, 0, sizeof(h->d));
	sfc_ymap__get(&h->root, key, n);
	CHECK(n->n, "helper doc has no %s", key);
}

#define HELPER_ERR(h, err, l, c, p, m)						\
	do {									\
		CHECK((err) == -EINVAL, "%s: %d", p, (err));			\
		CHECK((h)->d.line == (l) && (h)->d.col == (c), "%s at %d:%d",	\
		      p, (h)->d.line, (h)->d.col);				\
		CHECK_STR((h)->d.path, p);					\
		CHECK(strstr((h)->d.msg, m), "%s: msg \"%s\"", p, (h)->d.msg);	\
	} while (0)

static void check_helpers(void)
{
	static const char *const modes[] = { "auto", "native", "skb", NULL };
	static const char *const keys[] = { "port", NULL };
	struct helper_ctx h = { .y = { .file = "h.yaml", .diag = &h.d } };
	yaml_parser_t parser;
	struct sfc_ynode n, item;
	uint64_t v = 0;
	uint8_t mac[6];
	char buf[8];
	bool b = false;
	int err, e = -1;

	CHECK(yaml_parser_initialize(&parser), "yaml_parser_initialize");
	yaml_parser_set_input_string(&parser, (const unsigned char *)helper_doc,
				     strlen(helper_doc));
	CHECK(yaml_parser_load(&parser, &h.y.doc), "load helper doc");
	yaml_parser_delete(&parser);
	h.y.loaded = true;
	h.root.y = &h.y;
	h.root.n = yaml_document_get_root_node(&h.y.doc);
	h.root.path[0] = '\0';

	get(&h, "port", &n);
	CHECK(sfc_ynode__u64(&n, 1, 65535, &v) == 0 && v == 80, "port %llu",
	      (unsigned long long)v);
	get(&h, "hex", &n);
	CHECK(sfc_ynode__u64(&n, 0, 100, &v) == 0 && v == 31, "hex %llu", (unsigned long long)v);
	get(&h, "neg", &n);
	err = sfc_ynode__u64(&n, 0, 100, &v);
	HELPER_ERR(&h, err, 3, 6, "neg",
		   "\"-1\" is not an integer (expected an integer in 0..100)");
	get(&h, "quoted", &n);
	err = sfc_ynode__u64(&n, 1, 65535, &v);
	HELPER_ERR(&h, err, 4, 9, "quoted", "got the quoted string \"80\"");
	get(&h, "over", &n);
	err = sfc_ynode__u64(&n, 1, 65535, &v);
	HELPER_ERR(&h, err, 5, 7, "over",
		   "\"70000\" is out of range (expected an integer in 1..65535)");
	get(&h, "huge", &n);
	err = sfc_ynode__u64(&n, 0, UINT64_MAX, &v);
	HELPER_ERR(&h, err, 6, 7, "huge", "is out of range");

	get(&h, "t", &n);
	CHECK(sfc_ynode__bool(&n, &b) == 0 && b, "true");
	get(&h, "f", &n);
	CHECK(sfc_ynode__bool(&n, &b) == 0 && !b, "FALSE");
	get(&h, "yes", &n);
	err = sfc_ynode__bool(&n, &b);
	HELPER_ERR(&h, err, 9, 6, "yes", "\"yes\" is not a boolean (expected true or false)");

	get(&h, "d1", &n);
	CHECK(sfc_ynode__duration(&n, &v) == 0 && v == 15000000000ULL, "15s");
	get(&h, "d2", &n);
	CHECK(sfc_ynode__duration(&n, &v) == 0 && v == 500000000ULL, "500ms");
	get(&h, "d3", &n);
	CHECK(sfc_ynode__duration(&n, &v) == 0 && v == 120000000000ULL, "2m");
	get(&h, "d4", &n);
	CHECK(sfc_ynode__duration(&n, &v) == 0 && v == 3600000000000ULL, "1h");
	get(&h, "d5", &n);
	CHECK(sfc_ynode__duration(&n, &v) == 0 && v == 10000000000ULL, "10");
	get(&h, "d6", &n);
	err = sfc_ynode__duration(&n, &v);
	HELPER_ERR(&h, err, 15, 5, "d6", "\"1.5s\" is not a duration");

	get(&h, "mac", &n);
	CHECK(sfc_ynode__mac(&n, mac) == 0 && !memcmp(mac, "\x02\xab\xcd\x00\x00\x01", 6), "mac");
	get(&h, "mode", &n);
	CHECK(sfc_ynode__enum(&n, modes, &e) == 0 && e == 1, "enum native: %d", e);
	get(&h, "s", &n);
	err = sfc_ynode__enum(&n, modes, &e);
	HELPER_ERR(&h, err, 18, 4, "s",
		   "\"hello\" is not valid (expected one of: auto, native, skb)");
	CHECK(sfc_ynode__str(&n, buf, sizeof(buf)) == 0, "str");
	CHECK_STR(buf, "hello");
	memset(&h.d, 0, sizeof(h.d));
	err = sfc_ynode__str(&n, buf, 5);
	HELPER_ERR(&h, err, 18, 4, "s", "too long: 5 characters (at most 4)");

	get(&h, "seq", &n);
	CHECK(sfc_ynode__is_seq(&n) && sfc_yseq__len(&n) == 3, "seq");
	sfc_yseq__at(&n, 2, &item);
	CHECK_STR(item.path, "seq[2]");
	CHECK(item.n && !strcmp(sfc_ynode__text(&item), "c"), "seq[2]");
	sfc_yseq__at(&n, 3, &item);
	CHECK(!item.n, "seq[3] is absent");
	err = sfc_ynode__str(&n, buf, sizeof(buf));
	HELPER_ERR(&h, err, 19, 6, "seq", "expected a string, got a sequence");

	get(&h, "empty", &n);
	CHECK_STR(sfc_ynode__kind(&n), "null");
	err = sfc_ynode__u64(&n, 0, 1, &v);
	HELPER_ERR(&h, err, 20, 7, "empty", "expected an integer in 0..1, got null");

	memset(&h.d, 0, sizeof(h.d));
	sfc_ymap__get(&h.root, "absent", &n);
	CHECK(!n.n && !strcmp(n.path, "absent"), "absent key");
	CHECK_STR(sfc_ynode__kind(&n), "nothing");
	CHECK(!sfc_ynode__is_map(&n) && !sfc_ynode__is_seq(&n) && !sfc_ynode__is_scalar(&n),
	      "absent is nothing");
	CHECK(sfc_ymap__check_keys(&n, keys) == 0, "an absent map has no bad keys");
	err = sfc_ymap__check_keys(&h.root, keys);
	HELPER_ERR(&h, err, 2, 1, "hex", "unknown key \"hex\" (expected one of: port)");

	/* the first error is kept */
	get(&h, "neg", &n);
	sfc_yaml__error(&n, "first");
	sfc_yaml__error(&h.root, "second");
	CHECK_STR(h.d.msg, "first");

	yaml_document_delete(&h.y.doc);
}

/* ---- small pieces ---- */

static void check_diag_format(void)
{
	struct sfc_diag d = {
		.file = "chain.yaml", .line = 12, .col = 9,
		.path = "firewall.rules[3].dst",
		.msg = "\"10.0.0.0/33\" is not a prefix",
	};
	char buf[256];

	CHECK(sfc_diag__format(&d, buf, sizeof(buf)) == 0, "format");
	CHECK_STR(buf, "chain.yaml:12:9: firewall.rules[3].dst: \"10.0.0.0/33\" is not a prefix");
	d.col = 0;
	sfc_diag__format(&d, buf, sizeof(buf));
	CHECK_STR(buf, "chain.yaml:12: firewall.rules[3].dst: \"10.0.0.0/33\" is not a prefix");
	d.line = 0;
	d.path[0] = '\0';
	sfc_diag__format(&d, buf, sizeof(buf));
	CHECK_STR(buf, "chain.yaml: \"10.0.0.0/33\" is not a prefix");
	d.file[0] = '\0';
	sfc_diag__format(&d, buf, sizeof(buf));
	CHECK_STR(buf, "\"10.0.0.0/33\" is not a prefix");
	d.line = 3;
	d.col = 5;
	strcpy(d.path, "spec");
	sfc_diag__format(&d, buf, sizeof(buf));
	CHECK_STR(buf, "3:5: spec: \"10.0.0.0/33\" is not a prefix");
	CHECK(sfc_diag__format(&d, buf, 8) == -ENOSPC, "short buffer");
	CHECK(strlen(buf) < 8, "short buffer: terminated");
	CHECK(sfc_diag__format(&d, buf, 0) == -EINVAL, "no buffer");
}

static void check_names(void)
{
	CHECK(sfc_name_valid("a"), "a");
	CHECK(sfc_name_valid("web-edge-01"), "web-edge-01");
	CHECK(sfc_name_valid("0"), "0");
	CHECK(sfc_name_valid("abcdefghij-abcdefghij-abcdefghij"), "32 characters");
	CHECK(!sfc_name_valid("abcdefghij-abcdefghij-abcdefghijk"), "33 characters");
	CHECK(!sfc_name_valid(""), "empty");
	CHECK(!sfc_name_valid("-a"), "leading dash");
	CHECK(!sfc_name_valid("Web"), "uppercase");
	CHECK(!sfc_name_valid("a.b"), "dot");
	CHECK(!sfc_name_valid("a b"), "space");
	CHECK(!sfc_name_valid(NULL), "NULL");
	/* a name is one folder right under the pin root */
	CHECK(!sfc_name_valid("."), ".");
	CHECK(!sfc_name_valid(".."), "..");
	CHECK(!sfc_name_valid("../x"), "../x");
	CHECK(!sfc_name_valid("a/b"), "a/b");
	CHECK(!sfc_name_valid("/a"), "/a");
	CHECK(!sfc_name_valid("x/../../y"), "x/../../y");
	CHECK(!sfc_name_valid("a\nb"), "newline");
	CHECK(!sfc_name_valid("\xc3\xa9"), "UTF-8");
	{
		char long_name[301];

		memset(long_name, 'a', 300);
		long_name[300] = '\0';
		CHECK(!sfc_name_valid(long_name), "300 characters");
	}
}

/* ---- files a chain file names, and the chain file itself ---- */

static char sec_dir[] = "/tmp/sfc-test-config-XXXXXX";

static int put(const char *rel, const char *text)
{
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", sec_dir, rel);
	f = fopen(p, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* chains/fw.yaml whose set "block" is {file: FILE} (line 12, column 25) */
static struct sfc_chain_spec *set_chain(const char *file, struct sfc_diag *d)
{
	char text[1024], p[512];

	snprintf(text, sizeof(text), HEAD SPEC
		 "  functions:\n"
		 "    - name: fw\n"
		 "      type: firewall\n"
		 "      config:\n"
		 "        sets:\n"
		 "          block: {file: \"%s\"}\n"
		 "        rules: [{action: drop, src: \"@block\"}]\n", file);
	snprintf(p, sizeof(p), "%s/chains/fw.yaml", sec_dir);
	if (put("chains/fw.yaml", text))
		return NULL;
	memset(d, 0, sizeof(*d));
	errno = 0;
	return sfc_chain_spec__parse_file(p, d);
}

static void set_refused(const char *file, const char *msg, const char *msg2)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	char line[1024];

	spec = set_chain(file, &d);
	CHECK(!spec, "set file %s: parsed", file);
	sfc_chain_spec__free(spec);
	sfc_diag__format(&d, line, sizeof(line));
	if (getenv("SFC_TEST_VERBOSE"))
		printf("%-40s %s\n", file, line);
	CHECK(errno == EINVAL, "set file %s: errno %d", file, errno);
	CHECK(d.line == 12 && d.col == 25, "set file %s: at %d:%d (%s)", file, d.line, d.col, line);
	CHECK_STR(d.path, "spec.functions[0].config.sets.block.file");
	CHECK(strstr(d.msg, msg) || (msg2 && strstr(d.msg, msg2)), "set file %s: \"%s\", want "
	      "\"%s\"", file, d.msg, msg);
}

static void set_ok(const char *file)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d;

	spec = set_chain(file, &d);
	CHECK(spec, "set file %s: %d:%d: %s", file, d.line, d.col, d.msg);
	sfc_chain_spec__free(spec);
}

static void check_file_paths(void)
{
	char p[512], q[512];
	struct sfc_chain_spec *spec;
	struct sfc_diag d;
	int fds[2], fd;

	if (!mkdtemp(sec_dir)) {
		CHECK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(p, sizeof(p), "%s/chains", sec_dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/chains/sets", sec_dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/outside", sec_dir);
	mkdir(p, 0700);
	put("chains/sets/ok.txt", "10.0.0.0/8\n192.0.2.1\n");
	put("outside/secret.txt", "203.0.113.0/24\n");
	snprintf(p, sizeof(p), "%s/chains/in-link.txt", sec_dir);
	CHECK(!symlink("sets/ok.txt", p), "symlink: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/chains/out-link.txt", sec_dir);
	CHECK(!symlink("../outside/secret.txt", p), "symlink: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/chains/out-abs.txt", sec_dir);
	snprintf(q, sizeof(q), "%s/outside/secret.txt", sec_dir);
	CHECK(!symlink(q, p), "symlink: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/chains/out-dir", sec_dir);
	snprintf(q, sizeof(q), "%s/outside", sec_dir);
	CHECK(!symlink(q, p), "symlink: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/chains/fifo", sec_dir);
	CHECK(!mkfifo(p, 0600), "mkfifo: %s", strerror(errno));
	snprintf(p, sizeof(p), "%s/chains/huge.txt", sec_dir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0 && !ftruncate(fd, (off_t)300 << 20), "huge: %s", strerror(errno));
	if (fd >= 0)
		close(fd);

	/* relative: inside the chain file's folder, whatever the spelling */
	set_ok("sets/ok.txt");
	set_ok("./sets/ok.txt");
	set_ok("sets/../sets/ok.txt");
	set_ok("in-link.txt");
	/* absolute: as written */
	snprintf(p, sizeof(p), "%s/outside/secret.txt", sec_dir);
	set_ok(p);

	set_refused("../outside/secret.txt", "leads out of the chain file's folder", NULL);
	set_refused("../../../../../../../../etc/passwd", "leads out of the chain file's folder",
		    NULL);
	set_refused("sets/../../outside/secret.txt", "leads out of the chain file's folder", NULL);
	set_refused("out-link.txt", "leads out of the chain file's folder", NULL);
	set_refused("out-abs.txt", "leads out of the chain file's folder", NULL);
	set_refused("out-dir/secret.txt", "leads out of the chain file's folder", NULL);
	set_refused("fifo", "not a regular file (a FIFO, device, socket or file of /proc or "
		    "/sys is never read)", NULL);
	set_refused("/proc/version", "/proc/version: not a regular file", NULL);
	set_refused("/sys/kernel/uevent_seqnum", "not a regular file", NULL);
	set_refused("/dev/zero", "/dev/zero: not a regular file", NULL);
	set_refused("/dev/null", "/dev/null: not a regular file", NULL);
	/* a magic link (openat2), or what it points to (stdin: no regular file here) */
	set_refused("/proc/self/fd/0", "magic link", "not a regular file");
	set_refused("huge.txt", "larger than 256 MiB", NULL);
	set_refused("sets", "Is a directory", NULL);
	set_refused("nope.txt", "No such file or directory", NULL);
	set_refused("../chains/../../etc/passwd", "leads out of the chain file's folder", NULL);

	/* the chain file: a regular file or a pipe, never a device */
	errno = 0;
	spec = sfc_chain_spec__parse_file("/dev/zero", &d);
	CHECK(!spec && errno == ENODEV, "chain /dev/zero: errno %d", errno);
	CHECK(strstr(d.msg, "not a regular file or a pipe"), "chain /dev/zero: %s", d.msg);
	sfc_chain_spec__free(spec);
	/* a FIFO without a writer: read at once as empty, no wait */
	snprintf(p, sizeof(p), "%s/chains/fifo", sec_dir);
	spec = sfc_chain_spec__parse_file(p, &d);
	CHECK(!spec && strstr(d.msg, "empty file"), "chain FIFO: %s", d.msg);
	sfc_chain_spec__free(spec);
	/* a pipe (sfcctl apply <(...)) */
	if (!pipe(fds)) {
		static const char text[] = HEAD SPEC FNS;

		CHECK(write(fds[1], text, strlen(text)) == (ssize_t)strlen(text), "pipe write");
		close(fds[1]);
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fds[0]);
		spec = sfc_chain_spec__parse_file(p, &d);
		CHECK(spec, "chain from a pipe: %s", d.msg);
		sfc_chain_spec__free(spec);
		close(fds[0]);
	}

	snprintf(p, sizeof(p), "rm -rf '%s'", sec_dir);
	CHECK(!system(p), "%s", p);
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CHAINS_DIR\n", argv[0]);
		return 2;
	}
	check_diag_format();
	check_names();
	check_helpers();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(&bad[i]);
	check_function_budget();
	check_big_and_deep();
	check_missing_file();
	check_file_paths();
	check_chains_dir(argv[1]);
	check_json();
	printf("%zu broken files checked\n", sizeof(bad) / sizeof(bad[0]));
	TEST_DONE();
}
