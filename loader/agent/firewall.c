// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's part of a firewall function: no periodic work, only its
 * counters on the metrics page (sfc_firewall__status reads them fresh).
 */
#include <errno.h>
#include <stdio.h>

#include "agent.h"
#include "metrics.h"

static int fw_start(struct agent *a, struct agent_fn *fn, const struct sfc_ynode *config)
{
	return 0;
}

static void fw_metrics(struct agent *a, struct agent_fn *fn, struct metrics *m)
{
	const char *const l[] = { "chain", fn->chain, "function", fn->name, NULL };
	struct sfc_fw_status *st;
	unsigned int v;

	if (sfc_firewall__status(fn->chain, fn->name, fn->pin_root, &st))
		return;
	for (v = 0; v < SFC_FW_VERDICTS; v++) {
		const char *const lv[] = { "chain", fn->chain, "function", fn->name, "verdict",
					   sfc_fw_verdict__str(v), NULL };

		metrics__u64(m, "sfc_firewall_verdict_packets_total", METRIC_COUNTER,
			     "Packets per firewall verdict.", lv, st->verdict_packets[v]);
		metrics__u64(m, "sfc_firewall_verdict_bytes_total", METRIC_COUNTER,
			     "Bytes (frame length) per firewall verdict.", lv,
			     st->verdict_bytes[v]);
	}
	/* Per-rule counters stay with `sfcctl rules`: a series per rule is too many. */
	metrics__u64(m, "sfc_firewall_rules", METRIC_GAUGE, "Rules loaded.", l, st->n_rules);
	if (st->stateful) {
		metrics__u64(m, "sfc_firewall_connections", METRIC_GAUGE,
			     "Entries in the connection table.", l, st->connections);
		metrics__u64(m, "sfc_firewall_connections_max", METRIC_GAUGE,
			     "Size of the connection table.", l, st->max_connections);
	}
	sfc_fw_status__free(st);
}

const struct agent_type agent_firewall = {
	.name = "firewall",
	.start = fw_start,
	.metrics = fw_metrics,
};
