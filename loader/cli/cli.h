/* SPDX-License-Identifier: GPL-2.0 */
/* sfcctl: shared state, the command table entry and the output helpers. */
#ifndef SFCCTL_CLI_H
#define SFCCTL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sfc/sfc.h"
#include "json.h"

/* exit status */
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

/* The global options. */
struct sfcctl {
	bool json;
	bool pretty;
	bool verbose;
	bool dry_run;
	const char *sort;	/* flows --sort, NULL when not given */
	const char *top;	/* flows --top */
	const char *interval;	/* agent --interval */
	const char *metrics;	/* agent --metrics */
	bool once;		/* agent --once */
	const char *netns;
	const char *pin_root;
};

/* Command options besides the global ones, in struct cmd.opts. */
#define CMD_OPT_DRY_RUN	(1u << 0)
#define CMD_OPT_SORT_TOP	(1u << 1)	/* --sort and --top */
#define CMD_OPT_AGENT	(1u << 2)	/* --interval, --metrics, --once */

struct cmd {
	const char *name;
	int (*fn)(const struct sfcctl *ctl, int argc, char **argv);
	int min_args, max_args;
	unsigned int opts;
	const char *args;	/* synopsis after the name */
	const char *summary;	/* one line, for `sfcctl help` */
	const char *help;	/* the rest of `sfcctl help COMMAND` */
};

/* cmd_chain.c */
int cmd_validate(const struct sfcctl *ctl, int argc, char **argv);
int cmd_apply(const struct sfcctl *ctl, int argc, char **argv);
int cmd_delete(const struct sfcctl *ctl, int argc, char **argv);
int cmd_status(const struct sfcctl *ctl, int argc, char **argv);
int cmd_stats(const struct sfcctl *ctl, int argc, char **argv);

/*
 * fn_each.c: `sfcctl CMD CHAIN [FUNCTION]` runs one() for FUNCTION, or for
 * every function of `type`; j is the JSON array to append to (-j), else
 * NULL (plain text; the walk separates functions with a blank line). It
 * checks the names, reads the chain and reports a missing chain or function.
 */
struct fn_each {
	const char *cmd;	/* for usage errors */
	const char *type;	/* functions taken without FUNCTION */
	const char *array;	/* -j: {"chain": ..., ARRAY: [...]} */
	void (*json_head)(struct sfc_json *j, void *arg);	/* optional keys before it */
	int (*one)(const struct sfcctl *ctl, const char *chain, const char *fn,
		   struct sfc_json *j, void *arg);		/* EXIT_* */
	void *arg;
};

int for_each_function(const struct sfcctl *ctl, int argc, char **argv, const struct fn_each *e);

/* cmd_firewall.c */
int cmd_rules(const struct sfcctl *ctl, int argc, char **argv);
int fw_stats_plain(const struct sfcctl *ctl, const struct sfc_chain_status *st);
void fw_stats_json(const struct sfcctl *ctl, struct sfc_json *j, const struct sfc_chain_status *st,
		   unsigned int i);

/* cmd_flows.c */
int cmd_flows(const struct sfcctl *ctl, int argc, char **argv);

/* cmd_lb.c */
int cmd_lb(const struct sfcctl *ctl, int argc, char **argv);
int lb_stats_plain(const struct sfcctl *ctl, const struct sfc_chain_status *st);
void lb_stats_json(const struct sfcctl *ctl, struct sfc_json *j, const struct sfc_chain_status *st,
		   unsigned int i);

/* cmd_agent.c */
int cmd_agent(const struct sfcctl *ctl, int argc, char **argv);

/* output.c: errors go to stderr, or to stdout as {"error": ...} with -j. */
int out_error(const struct sfcctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));		/* returns EXIT_FAIL */
int out_usage(const struct sfcctl *ctl, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));		/* returns EXIT_USAGE */
/* A library error: *d as filled, or strerror(-err) when it is empty. */
int out_diag(const struct sfcctl *ctl, const struct sfc_diag *d, int err);
void out_diag_json(struct sfc_json *j, const struct sfc_diag *d, int err);

void out_json_init(const struct sfcctl *ctl, struct sfc_json *j);
/* Print the document (and free it); EXIT_OK or EXIT_FAIL. */
int out_json_print(struct sfc_json *j);
/* Append raw JSON text as the next value (re-indented with -p). */
void out_json_raw(struct sfc_json *j, const char *raw);

void out_log(enum sfc_log_level level, const char *msg, void *ctx);

/* A plain-text table: columns two spaces apart, numbers right-aligned. */
#define TABLE_CELL 48
#define TABLE_COLS 16

struct table {
	unsigned int n_cols;
	unsigned int n_left;	/* the first n_left columns are left-aligned */
	unsigned int n_rows;
	char (*cells)[TABLE_CELL];
	int err;
};

void table_init(struct table *t, unsigned int n_cols, unsigned int n_left);
/* Adds a row; returns its index, or -1 (t->err set) without memory. */
int table_row(struct table *t);
void table_set(struct table *t, int row, unsigned int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void table_print(const struct table *t, FILE *f);
void table_free(struct table *t);

/* "xx:xx:xx:xx:xx:xx", exactly (two hex digits each); false otherwise. */
bool cli_parse_mac(const char *s, uint8_t mac[6]);

/* cmd_vf.c */
int cmd_vf(const struct sfcctl *ctl, int argc, char **argv);
int cmd_xdp(const struct sfcctl *ctl, int argc, char **argv);
extern const char vf_help_text[];	/* sfcctl help vf */

/* cmd_render.c */
int cmd_render(const struct sfcctl *ctl, int argc, char **argv);
extern const char render_help_text[];	/* sfcctl help render */

#endif
