// SPDX-License-Identifier: GPL-2.0
/* sfcctl rules, and the firewall part of sfcctl stats. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void rate_text(const struct sfc_fw_rule_status *r, char *buf, size_t len)
{
	if (r->pps)
		snprintf(buf, len, "%llu/s burst %llu", (unsigned long long)r->pps,
			 (unsigned long long)r->burst);
	else
		snprintf(buf, len, "-");
}

static int digits(unsigned long long v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

/*
 * The rule table; only_hit: rules that matched something. Printed by hand
 * rather than with struct table, which clips cells: the rule text goes out
 * whole, last.
 */
static int rules_plain(const char *chain, const struct sfc_fw_status *fw, bool only_hit)
{
	int w_idx = 1, w_line = 4, w_rate = 4, w_pk = 7, w_by = 5;
	unsigned int i, shown = 0;
	char rate[48];

	for (i = 0; i < fw->n_rules; i++) {
		const struct sfc_fw_rule_status *r = &fw->rules[i];

		if (only_hit && !r->packets)
			continue;
		shown++;
		rate_text(r, rate, sizeof(rate));
		w_idx = max_int(w_idx, digits(r->index));
		w_line = max_int(w_line, digits(r->line));
		w_rate = max_int(w_rate, strlen(rate));
		w_pk = max_int(w_pk, digits(r->packets));
		w_by = max_int(w_by, digits(r->bytes));
	}
	if (shown) {
		printf("%*s  %*s  %-6s  %-*s  %*s  %*s  %s\n", w_idx, "#", w_line, "LINE", "ACTION",
		       w_rate, "RATE", w_pk, "PACKETS", w_by, "BYTES", "RULE");
		for (i = 0; i < fw->n_rules; i++) {
			const struct sfc_fw_rule_status *r = &fw->rules[i];

			if (only_hit && !r->packets)
				continue;
			rate_text(r, rate, sizeof(rate));
			printf("%*u  %*u  %-6s  %-*s  %*llu  %*llu  %s\n", w_idx, r->index, w_line,
			       r->line, r->allow ? "allow" : "drop", w_rate, rate, w_pk,
			       (unsigned long long)r->packets, w_by, (unsigned long long)r->bytes,
			       r->text ? r->text : "");
		}
	}
	if (only_hit && shown < fw->n_rules)
		printf("(%u rules without packets not shown: sfcctl rules %s %s lists them all)\n",
		       fw->n_rules - shown, chain, fw->function);
	return ferror(stdout) ? EXIT_FAIL : EXIT_OK;
}

static void rules_header(const struct sfc_fw_status *fw)
{
	printf("%s: firewall, generation %u, default %s%s, %u rules in %u tuples (%u keys)",
	       fw->function, fw->generation, fw->default_allow ? "allow" : "drop",
	       fw->stateful ? ", stateful" : "", fw->n_rules, fw->n_tuples, fw->n_keys);
	if (fw->n_set_prefixes)
		printf(", %u set prefixes", fw->n_set_prefixes);
	if (fw->stateful)
		printf(", connections %u/%u", fw->connections, fw->max_connections);
	printf("\n");
}

static void verdicts_plain(const struct sfc_fw_status *fw)
{
	unsigned int v;
	struct table t;
	int row;

	table_init(&t, 3, 1);
	row = table_row(&t);
	table_set(&t, row, 0, "VERDICT");
	table_set(&t, row, 1, "PACKETS");
	table_set(&t, row, 2, "BYTES");
	for (v = 0; v < SFC_FW_VERDICTS; v++) {
		row = table_row(&t);
		table_set(&t, row, 0, "%s", sfc_fw_verdict__str(v));
		table_set(&t, row, 1, "%llu", (unsigned long long)fw->verdict_packets[v]);
		table_set(&t, row, 2, "%llu", (unsigned long long)fw->verdict_bytes[v]);
	}
	if (!t.err)
		table_print(&t, stdout);
	table_free(&t);
}

static void rules_json(struct sfc_json *j, const struct sfc_fw_status *fw)
{
	unsigned int i;

	sfc_json__key(j, "rules");
	sfc_json__arr_begin(j);
	for (i = 0; i < fw->n_rules; i++) {
		const struct sfc_fw_rule_status *r = &fw->rules[i];

		sfc_json__obj_begin(j);
		sfc_json__ku64(j, "index", r->index);
		sfc_json__ku64(j, "line", r->line);
		sfc_json__kstr(j, "action", r->allow ? "allow" : "drop");
		if (r->pps) {
			sfc_json__key(j, "rate_limit");
			sfc_json__obj_begin(j);
			sfc_json__ku64(j, "pps", r->pps);
			sfc_json__ku64(j, "burst", r->burst);
			sfc_json__obj_end(j);
		}
		sfc_json__ku64(j, "packets", r->packets);
		sfc_json__ku64(j, "bytes", r->bytes);
		sfc_json__kstr(j, "rule", r->text ? r->text : "");
		sfc_json__obj_end(j);
	}
	sfc_json__arr_end(j);
}

static void verdicts_json(struct sfc_json *j, const struct sfc_fw_status *fw)
{
	unsigned int v;

	sfc_json__key(j, "verdicts");
	sfc_json__obj_begin(j);
	for (v = 0; v < SFC_FW_VERDICTS; v++) {
		sfc_json__key(j, sfc_fw_verdict__str(v));
		sfc_json__obj_begin(j);
		sfc_json__ku64(j, "packets", fw->verdict_packets[v]);
		sfc_json__ku64(j, "bytes", fw->verdict_bytes[v]);
		sfc_json__obj_end(j);
	}
	sfc_json__obj_end(j);
}

/* The firewall object of -j output: summary, verdicts, rules. */
void fw_json(struct sfc_json *j, const struct sfc_fw_status *fw)
{
	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "function", fw->function);
	sfc_json__ku64(j, "generation", fw->generation);
	sfc_json__kstr(j, "default_action", fw->default_allow ? "allow" : "drop");
	sfc_json__kbool(j, "stateful", fw->stateful);
	sfc_json__ku64(j, "tuples", fw->n_tuples);
	sfc_json__ku64(j, "keys", fw->n_keys);
	sfc_json__ku64(j, "set_prefixes", fw->n_set_prefixes);
	sfc_json__ku64(j, "connections", fw->connections);
	sfc_json__ku64(j, "max_connections", fw->max_connections);
	verdicts_json(j, fw);
	rules_json(j, fw);
	sfc_json__obj_end(j);
}

static int fw_get(const struct sfcctl *ctl, const char *chain, const char *fn,
		  struct sfc_fw_status **fw)
{
	int err = sfc_firewall__status(chain, fn, ctl->pin_root, fw);

	if (err == -ENOENT)
		return out_error(ctl, "chain %s has no function %s (or is not running)", chain, fn);
	if (err == -EINVAL)
		return out_error(ctl, "function %s of chain %s is not a firewall", fn, chain);
	if (err)
		return out_error(ctl, "cannot read firewall %s of chain %s: %s", fn, chain,
				 strerror(-err));
	return EXIT_OK;
}

/* In sfcctl stats: every firewall of the chain, after the per-hop table. */
int fw_stats_plain(const struct sfcctl *ctl, const struct sfc_chain_status *st)
{
	struct sfc_fw_status *fw;
	unsigned int i;
	int ret = EXIT_OK;

	for (i = 1; i + 1 < st->n_stages; i++) {
		if (strcmp(st->stages[i].type, "firewall"))
			continue;
		if (fw_get(ctl, st->name, st->stages[i].name, &fw)) {
			ret = EXIT_FAIL;
			continue;
		}
		printf("\n");
		rules_header(fw);
		verdicts_plain(fw);
		printf("\n");
		if (rules_plain(st->name, fw, true))
			ret = EXIT_FAIL;
		sfc_fw_status__free(fw);
	}
	return ret;
}

/* In sfcctl -j stats: the firewall object of stage i, or nothing. */
void fw_stats_json(const struct sfcctl *ctl, struct sfc_json *j, const struct sfc_chain_status *st,
		   unsigned int i)
{
	struct sfc_fw_status *fw;

	if (strcmp(st->stages[i].type, "firewall"))
		return;
	if (sfc_firewall__status(st->name, st->stages[i].name, ctl->pin_root, &fw))
		return;
	sfc_json__key(j, "firewall");
	fw_json(j, fw);
	sfc_fw_status__free(fw);
}

static int rules_one(const struct sfcctl *ctl, const char *chain, const char *fn,
		     struct sfc_json *j, void *arg)
{
	struct sfc_fw_status *fw;
	int ret = EXIT_OK;

	(void)arg;
	if (fw_get(ctl, chain, fn, &fw))
		return EXIT_FAIL;
	if (j) {
		fw_json(j, fw);
	} else {
		rules_header(fw);
		ret = rules_plain(chain, fw, false);
	}
	sfc_fw_status__free(fw);
	return ret;
}

int cmd_rules(const struct sfcctl *ctl, int argc, char **argv)
{
	const struct fn_each e = {
		.cmd = "rules", .type = "firewall", .array = "firewalls", .one = rules_one,
	};

	return for_each_function(ctl, argc, argv, &e);
}
