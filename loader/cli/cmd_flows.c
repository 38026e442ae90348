// SPDX-License-Identifier: GPL-2.0
/* sfcctl flows: the flow tables of a chain's flow monitors, top talkers first. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define N_COLS 13

static const char *const flag_names[8] = { "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr" };
/* sfc_flow_entry.verdicts, bit by bit */
static const char *const verdict_names[4] = { "forwarded", "passed", "dropped", "aborted" };

static int by_bytes(const void *a, const void *b)
{
	const struct sfc_flow_entry *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	if (x->packets != y->packets)
		return x->packets < y->packets ? 1 : -1;
	return memcmp(x, y, offsetof(struct sfc_flow_entry, packets));
}

static int by_packets(const void *a, const void *b)
{
	const struct sfc_flow_entry *x = a, *y = b;

	if (x->packets != y->packets)
		return x->packets < y->packets ? 1 : -1;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return memcmp(x, y, offsetof(struct sfc_flow_entry, packets));
}

static bool is_icmp(const struct sfc_flow_entry *e)
{
	return (e->family == 4 && e->proto == 1) || (e->family == 6 && e->proto == 58);
}

static bool has_ports(const struct sfc_flow_entry *e)
{
	return e->proto == 6 || e->proto == 17;
}

static const char *proto_text(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case 1:
		return "icmp";
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 58:
		return "icmpv6";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}

static const char *addr_text(const struct sfc_flow_entry *e, const uint8_t *a, char *buf,
			     size_t len)
{
	if (!inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, a, buf, len))
		snprintf(buf, len, "?");
	return buf;
}

/* Time of day (UTC) for the last 24 hours, else the date. */
static const char *time_text(uint64_t ms, uint64_t now_ms, char *buf, size_t len)
{
	time_t t = ms / 1000;
	struct tm tm;

	if (!ms || !gmtime_r(&t, &tm) ||
	    !strftime(buf, len, now_ms - ms < 86400000 ? "%H:%M:%S" : "%Y-%m-%d", &tm))
		snprintf(buf, len, "-");
	return buf;
}

/* tcpdump's letters: F S R P A U E W (CWR). */
static const char *flags_text(const struct sfc_flow_entry *e, char *buf, size_t len)
{
	static const char letters[] = "FSRPAUEW";
	size_t o = 0;
	int b;

	if (e->proto != 6 || !e->tcp_flags)
		return "-";
	for (b = 0; b < 8 && o + 1 < len; b++)
		if (e->tcp_flags & (1u << b))
			buf[o++] = letters[b];
	buf[o] = '\0';
	return buf;
}

/*
 * "forwarded", "dropped by fw", "mixed: forwarded, dropped by fw"; "-" when
 * unknown (not the chain's first flowmon, or no packet decided yet).
 */
static const char *verdict_text(const struct sfc_flow_entry *e, char *buf, size_t len)
{
	unsigned int b, n = 0;
	size_t o = 0;

	for (b = 0; b < 4; b++)
		n += !!(e->verdicts & (1u << b));
	if (!n)
		return "-";
	buf[0] = '\0';
	if (n > 1)
		o += snprintf(buf + o, len - o, "mixed: ");
	for (b = 0; b < 4 && o < len; b++) {
		if (!(e->verdicts & (1u << b)))
			continue;
		o += snprintf(buf + o, len - o, "%s%s", o && buf[o - 1] != ' ' ? ", " : "",
			      verdict_names[b]);
		if ((1u << b) == SFC_FLOW_VERDICT_DROPPED && e->dropped_by[0] && o < len)
			o += snprintf(buf + o, len - o, " by %s", e->dropped_by);
	}
	return buf;
}

/* Columns left-aligned (L) or right-aligned (R). */
static const char align[N_COLS + 1] = "LLLRLRRRRLLLL";

static void print_table(const struct table *tb)
{
	int width[N_COLS] = { 0 }, w;
	unsigned int r, c;
	const char *cell;

	for (r = 0; r < tb->n_rows; r++)
		for (c = 0; c < N_COLS; c++) {
			w = strlen(tb->cells[r * N_COLS + c]);
			width[c] = w > width[c] ? w : width[c];
		}
	for (r = 0; r < tb->n_rows; r++)
		for (c = 0; c < N_COLS; c++) {
			cell = tb->cells[r * N_COLS + c];
			if (c + 1 == N_COLS)
				printf("%s\n", cell);	/* no trailing blanks */
			else
				printf(align[c] == 'L' ? "%-*s  " : "%*s  ", width[c], cell);
		}
}

static int flows_plain(const struct sfc_flow_table *t, unsigned int shown, const char *sort)
{
	char a[INET6_ADDRSTRLEN], buf[32], vbuf[96];
	struct table tb;
	unsigned int i;
	int row;

	printf("%s: flowmon, flows %zu/%u, new %llu, evicted %llu, sampling 1 in %u\n",
	       t->function, t->n_flows, t->max_flows, (unsigned long long)t->new_flows,
	       (unsigned long long)t->evictions, t->sampling);
	printf("  packets %llu, accounted %llu, ends noticed %llu, lost %llu",
	       (unsigned long long)t->packets, (unsigned long long)t->sampled,
	       (unsigned long long)t->ends, (unsigned long long)t->ends_lost);
	if (t->insert_failed)
		printf(", in no flow (table full) %llu", (unsigned long long)t->insert_failed);
	printf("\n");
	if (t->has_agent)
		printf("  agent: removed %llu, records exported %llu, export errors %llu\n",
		       (unsigned long long)t->removed, (unsigned long long)t->exported,
		       (unsigned long long)t->export_errors);
	else
		printf("  agent: none has run on this table\n");
	if (!t->n_flows)
		return ferror(stdout) ? EXIT_FAIL : EXIT_OK;
	if (shown < t->n_flows)
		printf("top %u of %zu flows by %s, times UTC:\n", shown, t->n_flows, sort);
	else
		printf("by %s, times UTC:\n", sort);

	table_init(&tb, N_COLS, 0);
	row = table_row(&tb);
	{
		static const char *const head[N_COLS] = {
			"DIR", "PROTO", "SRC", "SPORT", "DST", "DPORT", "VLAN", "PACKETS", "BYTES",
			"FIRST", "LAST", "FLAGS", "VERDICT",
		};

		for (i = 0; i < N_COLS; i++)
			table_set(&tb, row, i, "%s", head[i]);
	}
	for (i = 0; i < shown; i++) {
		const struct sfc_flow_entry *e = &t->flows[i];

		row = table_row(&tb);
		if (row < 0)
			break;
		table_set(&tb, row, 0, "%s", e->dir ? "rev" : "fwd");
		table_set(&tb, row, 1, "%s", proto_text(e->proto, buf, sizeof(buf)));
		table_set(&tb, row, 2, "%s", addr_text(e, e->src, a, sizeof(a)));
		table_set(&tb, row, 4, "%s", addr_text(e, e->dst, a, sizeof(a)));
		if (has_ports(e)) {
			table_set(&tb, row, 3, "%u", e->sport);
			table_set(&tb, row, 5, "%u", e->dport);
		} else if (is_icmp(e)) {
			/* The echo id, and type/code where a port would be. */
			table_set(&tb, row, 3, e->sport ? "%u" : "-", e->sport);
			table_set(&tb, row, 5, "%u/%u", e->dport >> 8, e->dport & 0xff);
		} else {
			table_set(&tb, row, 3, "-");
			table_set(&tb, row, 5, "-");
		}
		table_set(&tb, row, 6, e->vlan ? "%u" : "-", e->vlan);
		table_set(&tb, row, 7, "%llu", (unsigned long long)e->packets);
		table_set(&tb, row, 8, "%llu", (unsigned long long)e->bytes);
		time_text(e->first_ms, t->read_at_ms, buf, sizeof(buf));
		table_set(&tb, row, 9, "%s", buf);
		time_text(e->last_ms, t->read_at_ms, buf, sizeof(buf));
		table_set(&tb, row, 10, "%s", buf);
		table_set(&tb, row, 11, "%s", flags_text(e, buf, sizeof(buf)));
		table_set(&tb, row, 12, "%s", verdict_text(e, vbuf, sizeof(vbuf)));
	}
	if (!tb.err)
		print_table(&tb);
	table_free(&tb);
	return tb.err || ferror(stdout) ? EXIT_FAIL : EXIT_OK;
}

static void bits_json(struct sfc_json *j, const char *key, uint8_t bits)
{
	int b;

	sfc_json__key(j, key);
	sfc_json__arr_begin(j);
	for (b = 0; b < 8; b++)
		if (bits & (1u << b))
			sfc_json__str(j, flag_names[b]);
	sfc_json__arr_end(j);
}

static void flow_json(struct sfc_json *j, const struct sfc_flow_entry *e)
{
	char a[INET6_ADDRSTRLEN];
	unsigned int b;

	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "direction", e->dir ? "reverse" : "forward");
	sfc_json__ku64(j, "family", e->family);
	sfc_json__ku64(j, "protocol", e->proto);
	sfc_json__kstr(j, "src", addr_text(e, e->src, a, sizeof(a)));
	sfc_json__ku64(j, "src_port", e->sport);
	sfc_json__kstr(j, "dst", addr_text(e, e->dst, a, sizeof(a)));
	sfc_json__ku64(j, "dst_port", e->dport);
	if (is_icmp(e)) {
		sfc_json__ku64(j, "icmp_type", e->dport >> 8);
		sfc_json__ku64(j, "icmp_code", e->dport & 0xff);
	}
	sfc_json__ku64(j, "vlan", e->vlan);
	sfc_json__ku64(j, "packets", e->packets);
	sfc_json__ku64(j, "bytes", e->bytes);
	sfc_json__ku64(j, "first_seen_ms", e->first_ms);
	sfc_json__ku64(j, "last_seen_ms", e->last_ms);
	bits_json(j, "tcp_flags", e->tcp_flags);
	sfc_json__key(j, "end");
	sfc_json__arr_begin(j);
	if (e->end & SFC_FLOW_ENDED_FIN)
		sfc_json__str(j, "fin");
	if (e->end & SFC_FLOW_ENDED_RST)
		sfc_json__str(j, "rst");
	sfc_json__arr_end(j);
	sfc_json__key(j, "verdicts");
	sfc_json__arr_begin(j);
	for (b = 0; b < 4; b++)
		if (e->verdicts & (1u << b))
			sfc_json__str(j, verdict_names[b]);
	sfc_json__arr_end(j);
	sfc_json__key(j, "dropped_by");
	if (e->dropped_by[0])
		sfc_json__str(j, e->dropped_by);
	else
		sfc_json__null(j);
	sfc_json__obj_end(j);
}

static void table_json(struct sfc_json *j, const struct sfc_flow_table *t, unsigned int shown)
{
	unsigned int i;

	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "function", t->function);
	sfc_json__ku64(j, "max_flows", t->max_flows);
	sfc_json__ku64(j, "flows_present", t->n_flows);
	sfc_json__ku64(j, "sampling", t->sampling);
	sfc_json__ku64(j, "read_at_ms", t->read_at_ms);
	sfc_json__ku64(j, "packets", t->packets);
	sfc_json__ku64(j, "packets_sampled", t->sampled);
	sfc_json__ku64(j, "new_flows", t->new_flows);
	sfc_json__ku64(j, "evictions", t->evictions);
	sfc_json__ku64(j, "ends", t->ends);
	sfc_json__ku64(j, "ends_lost", t->ends_lost);
	sfc_json__ku64(j, "insert_failed", t->insert_failed);
	sfc_json__key(j, "agent");
	if (t->has_agent) {
		sfc_json__obj_begin(j);
		sfc_json__ku64(j, "removed", t->removed);
		sfc_json__ku64(j, "exported_records", t->exported);
		sfc_json__ku64(j, "export_errors", t->export_errors);
		sfc_json__obj_end(j);
	} else {
		sfc_json__null(j);
	}
	sfc_json__key(j, "flows");
	sfc_json__arr_begin(j);
	for (i = 0; i < shown; i++)
		flow_json(j, &t->flows[i]);
	sfc_json__arr_end(j);
	sfc_json__obj_end(j);
}

static int flows_get(const struct sfcctl *ctl, const char *chain, const char *fn,
		     struct sfc_flow_table **t)
{
	int err = sfc_flowmon__flows(chain, fn, ctl->pin_root, t);

	if (err == -ENOENT)
		return out_error(ctl, "chain %s has no function %s (or is not running)", chain, fn);
	if (err == -EINVAL)
		return out_error(ctl, "function %s of chain %s is not a flowmon", fn, chain);
	if (err)
		return out_error(ctl, "cannot read flowmon %s of chain %s: %s", fn, chain,
				 strerror(-err));
	return EXIT_OK;
}

/* --top N: 1..UINT32_MAX; 0 (all) when absent. */
static int parse_top(const struct sfcctl *ctl, unsigned int *top)
{
	unsigned long long v;
	char *end;

	*top = 0;
	if (!ctl->top)
		return 0;
	errno = 0;
	v = strtoull(ctl->top, &end, 10);
	if (!ctl->top[0] || *end || errno || !v || v > UINT32_MAX || ctl->top[0] == '-')
		return -1;
	*top = (unsigned int)v;
	return 0;
}

struct flows_opts {
	const char *sort;
	unsigned int top;
};

static void flows_json_head(struct sfc_json *j, void *arg)
{
	sfc_json__kstr(j, "sort", ((struct flows_opts *)arg)->sort);
}

static int flows_one(const struct sfcctl *ctl, const char *chain, const char *fn,
		     struct sfc_json *j, void *arg)
{
	const struct flows_opts *o = arg;
	struct sfc_flow_table *t;
	unsigned int shown;
	int ret = EXIT_OK;

	if (flows_get(ctl, chain, fn, &t))
		return EXIT_FAIL;
	qsort(t->flows, t->n_flows, sizeof(*t->flows),
	      strcmp(o->sort, "packets") ? by_bytes : by_packets);
	shown = o->top && o->top < t->n_flows ? o->top : (unsigned int)t->n_flows;
	if (j)
		table_json(j, t, shown);
	else
		ret = flows_plain(t, shown, o->sort);
	sfc_flow_table__free(t);
	return ret;
}

int cmd_flows(const struct sfcctl *ctl, int argc, char **argv)
{
	struct flows_opts o = { .sort = ctl->sort ? ctl->sort : "bytes" };
	const struct fn_each e = {
		.cmd = "flows", .type = "flowmon", .array = "flowmons",
		.json_head = flows_json_head, .one = flows_one, .arg = &o,
	};

	if (strcmp(o.sort, "bytes") && strcmp(o.sort, "packets"))
		return out_usage(ctl, "flows", "--sort: \"%s\" is not bytes or packets", o.sort);
	if (parse_top(ctl, &o.top))
		return out_usage(ctl, "flows", "--top: \"%s\" is not a number 1..%u", ctl->top,
				 UINT32_MAX);
	return for_each_function(ctl, argc, argv, &e);
}
