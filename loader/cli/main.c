// SPDX-License-Identifier: GPL-2.0
/*
 * sfcctl [OPTIONS] COMMAND [ARGS]: the command table, option parsing and
 * dispatch. Commands may be abbreviated to a unique prefix (bpftool's way);
 * options may come before or after the command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "nf.h"

#ifndef SFC_VERSION
#define SFC_VERSION "unknown"
#endif

static int cmd_help(const struct sfcctl *ctl, int argc, char **argv);
static int cmd_version(const struct sfcctl *ctl, int argc, char **argv);

static const struct cmd cmds[] = {
	{ "validate", cmd_validate, 1, 1, 0, "FILE",
	  "check a chain file (needs no privileges)",
	  "Parse and check FILE without touching the host. Errors name the file,\n"
	  "line, column and key: chain.yaml:12:9: spec.functions[1].name: ...\n" },
	{ "apply", cmd_apply, 1, 1, CMD_OPT_DRY_RUN, "FILE [--dry-run]",
	  "load and attach the chain of FILE, or update it",
	  "Load, configure, pin and attach the chain of FILE, or update the running\n"
	  "chain of the same name: a config change is written in place, a changed\n"
	  "list of functions is swapped in atomically as a new generation, a\n"
	  "changed interface or mode is re-attached. On failure the running chain\n"
	  "is left as it was.\n"
	  "\n"
	  "  --dry-run   parse and check against the host, change nothing\n"
	  "  -n NAME     the interfaces are in network namespace NAME\n" },
	{ "delete", cmd_delete, 1, 1, 0, "NAME",
	  "detach and unpin chain NAME",
	  "Detach chain NAME from its interfaces and remove its pins.\n" },
	{ "status", cmd_status, 0, 1, 0, "[NAME]",
	  "show chain NAME, or every chain",
	  "Show the generation, the attachments and the stages of chain NAME, or\n"
	  "of every chain under the pin root. With -j, the spec as applied too.\n" },
	{ "stats", cmd_stats, 1, 1, 0, "NAME",
	  "show the per-stage counters of chain NAME",
	  "Show the packet counters of every stage of chain NAME, per direction.\n"
	  "Reverse rows that are all zero are left out unless the egress is\n"
	  "redirect (-j always has both). A firewall adds its verdict counters and\n"
	  "the rules that matched packets (-j: all rules); a loadbalancer its data\n"
	  "path counters and connection table (-j: what sfcctl lb shows).\n" },
	{ "rules", cmd_rules, 1, 2, 0, "NAME [FUNCTION]",
	  "list the rule table of the firewalls of chain NAME",
	  "List the rules of every firewall function of chain NAME (or of\n"
	  "FUNCTION) as loaded: the live generation's rules in order, each with\n"
	  "its chain-file line, action, rate limit and counters, and the\n"
	  "classifier's size (tuples, keys, set prefixes, connections).\n" },
	{ "flows", cmd_flows, 1, 2, CMD_OPT_SORT_TOP, "NAME [FUNCTION]",
	  "list the flow tables of the flowmons of chain NAME",
	  "List the flows of every flowmon function of chain NAME (or of FUNCTION),\n"
	  "the biggest first: direction, protocol, addresses, ports (ICMP: echo id\n"
	  "and type/code), VLAN, packets, bytes, first and last seen (UTC), TCP\n"
	  "flags; after a header with the table's fill, sampling, new flows,\n"
	  "evictions and FIN/RST notices. With sampling, the counts are of the\n"
	  "sampled packets.\n"
	  "\n"
	  "  --sort KEY  bytes (the default) or packets\n"
	  "  --top N     only the first N flows of each table\n" },
	{ "lb", cmd_lb, 1, 2, 0, "NAME [FUNCTION]",
	  "show the load balancers of chain NAME",
	  "Show every loadbalancer function of chain NAME (or FUNCTION) as loaded:\n"
	  "per service its VIP, port and protocol, mode, health check, counters,\n"
	  "active connections and the backends in its Maglev table; per backend its\n"
	  "weight, state (active or drain), health (up, down, unknown: as the\n"
	  "agent's checks found it), share of the Maglev table, packets, bytes, new\n"
	  "flows and active connections. The header has the generation, the table\n"
	  "size and the connection table's fill and evictions.\n" },
	{ "agent", cmd_agent, 0, 0, CMD_OPT_AGENT, "[AGENT-OPTIONS]",
	  "run the agent: flow export, health checks, Prometheus metrics",
	  "Run until SIGTERM or SIGINT: every interval, find the chains under the\n"
	  "pin root and do the periodic work of their functions. A flowmon's flows\n"
	  "are expired and exported to its IPFIX collector; a loadbalancer's\n"
	  "backends are health-checked, and taken out of its Maglev tables while\n"
	  "they are down; the metrics of every chain are served at\n"
	  "http://ADDR:PORT/metrics (--metrics), and those of a chain whose flowmon\n"
	  "has prometheus.listen there. Packets keep flowing while the agent is\n"
	  "stopped; a restarted agent exports only what it has not exported yet.\n"
	  "See docs/agent.md and docs/loadbalancer.md.\n"
	  "\n"
	  "  --interval T        scan and discovery period (default 1s; 100ms..1h)\n"
	  "  --metrics ADDR:PORT serve every chain's metrics there (e.g. 127.0.0.1:9469)\n"
	  "  --once              one round, then exit: 1 if an export failed (or a\n"
	  "                      load balancer's map could not be written)\n" },
	{ "vf", cmd_vf, 0, 64, 0, "[COMMAND] ...",
	  "SR-IOV PFs and VFs: list, numvfs, set, bind", vf_help_text },
	{ "render", cmd_render, 0, 128, 0, "libvirt KEYWORDS",
	  "print the libvirt domain XML of an NFV guest with its VFs", render_help_text },
	{ "xdp", cmd_xdp, 1, 3, 0, "IFNAME [probe M]",
	  "does the driver of IFNAME support native XDP",
	  "Ask the kernel whether the driver of IFNAME runs XDP natively: the\n"
	  "netdev netlink family's xdp-features (Linux 6.3+, no privileges), else\n"
	  "a trial attach in driver mode (root; the link may reset). xdpMode auto\n"
	  "uses the same answer. With -n, IFNAME is in that network namespace.\n"
	  "\n"
	  "  probe M     auto (default), netlink or attach\n" },
	{ "help", cmd_help, 0, 1, 0, "[COMMAND]",
	  "show this help, or the help of COMMAND",
	  "Show the commands, options and function types, or the help of COMMAND\n"
	  "(also: sfcctl COMMAND help, sfcctl COMMAND -h).\n" },
	{ "version", cmd_version, 0, 0, 0, "",
	  "show the version",
	  "Show the version of sfcctl and of the libbpf it uses.\n" },
};

#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static const char options_help[] =
	"Options:\n"
	"  -j, --json          JSON output\n"
	"  -p, --pretty        pretty-printed JSON (implies -j)\n"
	"  -v, --verbose       debug messages from the library\n"
	"  -n, --netns NAME    the interfaces are in network namespace NAME\n"
	"                      (/run/netns/NAME); the pins stay on the host's bpffs\n"
	"      --pin-root DIR  where chains are pinned (default " SFC_PIN_ROOT ")\n"
	"  -h, --help          show help\n"
	"  -V, --version       show the version\n";

static void print_usage(FILE *f)
{
	const struct sfc_nf_type *const *t;
	unsigned int i;

	fprintf(f, "Usage: sfcctl [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
	for (i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-8s %-17s %s\n", cmds[i].name, cmds[i].args, cmds[i].summary);
	fprintf(f, "\n%s\nFunction types:\n", options_help);
	for (t = sfc_nf_types(); *t; t++)
		fprintf(f, "  %-12s %s\n", (*t)->name, (*t)->summary);
	fprintf(f, "\nCommands may be abbreviated to a unique prefix. See sfcctl(8).\n");
}

static void print_cmd_help(const struct cmd *c)
{
	printf("Usage: sfcctl [OPTIONS] %s%s%s\n\n", c->name, c->args[0] ? " " : "", c->args);
	fputs(c->help, stdout);
	printf("\n%s", options_help);
}

/* Exact name, else the only command that name is a prefix of. */
static const struct cmd *find_cmd(const struct sfcctl *ctl, const char *name)
{
	const struct cmd *found = NULL;
	char list[128] = "";
	size_t len = strlen(name);
	unsigned int i, n = 0;

	for (i = 0; i < N_CMDS; i++) {
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
		if (len && strncmp(cmds[i].name, name, len) == 0) {
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 n ? ", " : "", cmds[i].name);
			found = &cmds[i];
			n++;
		}
	}
	if (n == 1)
		return found;
	if (n)
		out_usage(ctl, NULL, "ambiguous command '%s': %s", name, list);
	else
		out_usage(ctl, NULL, "unknown command '%s'", name);
	return NULL;
}

static int cmd_help(const struct sfcctl *ctl, int argc, char **argv)
{
	const struct cmd *c;

	if (argc == 0) {
		print_usage(stdout);
		return EXIT_OK;
	}
	c = find_cmd(ctl, argv[0]);
	if (!c)
		return EXIT_USAGE;
	print_cmd_help(c);
	return EXIT_OK;
}

static int cmd_version(const struct sfcctl *ctl, int argc, char **argv)
{
	char libbpf[32];
	struct sfc_json j;

	snprintf(libbpf, sizeof(libbpf), "%u.%u", libbpf_major_version(),
		 libbpf_minor_version());
	if (!ctl->json) {
		printf("sfcctl %s\nusing libbpf v%s\n", SFC_VERSION, libbpf);
		return EXIT_OK;
	}
	out_json_init(ctl, &j);
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "version", SFC_VERSION);
	sfc_json__kstr(&j, "libbpf", libbpf);
	sfc_json__obj_end(&j);
	return out_json_print(&j);
}

/* Check the arguments of c, then run it. */
static int run(const struct sfcctl *ctl, const struct cmd *c, int argc, char **argv)
{
	if (argc > 0 && strcmp(argv[0], "help") == 0) {
		print_cmd_help(c);
		return EXIT_OK;
	}
	if (ctl->dry_run && !(c->opts & CMD_OPT_DRY_RUN))
		return out_usage(ctl, c->name, "%s: unknown option '--dry-run'", c->name);
	if ((ctl->interval || ctl->metrics || ctl->once) && !(c->opts & CMD_OPT_AGENT))
		return out_usage(ctl, c->name, "%s: unknown option '%s'", c->name,
				 ctl->interval ? "--interval" : ctl->metrics ? "--metrics" :
				 "--once");
	if ((ctl->sort || ctl->top) && !(c->opts & CMD_OPT_SORT_TOP))
		return out_usage(ctl, c->name, "%s: unknown option '%s'", c->name,
				 ctl->sort ? "--sort" : "--top");
	if (argc < c->min_args)
		return out_usage(ctl, c->name, "%s: missing argument (usage: sfcctl %s %s)",
				 c->name, c->name, c->args);
	if (argc > c->max_args)
		return out_usage(ctl, c->name, "%s: unexpected argument '%s' (usage: sfcctl %s%s%s)",
				 c->name, argv[c->max_args], c->name,
				 c->args[0] ? " " : "", c->args);
	return c->fn(ctl, argc, argv);
}

static bool netns_valid(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..") &&
	       strlen(name) < sizeof(((struct sfc_chain_status *)0)->netns);
}

enum { OPT_PIN_ROOT = 256, OPT_DRY_RUN, OPT_SORT, OPT_TOP, OPT_INTERVAL, OPT_METRICS, OPT_ONCE };

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "pretty", no_argument, NULL, 'p' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "netns", required_argument, NULL, 'n' },
	{ "pin-root", required_argument, NULL, OPT_PIN_ROOT },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "sort", required_argument, NULL, OPT_SORT },
	{ "top", required_argument, NULL, OPT_TOP },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{}
};

struct parsed {
	bool help, version;
	char error[256];	/* the first usage error, reported once -j is known */
};

/* getopt's error for opt, in words. */
static void opt_error(struct parsed *p, int opt, char **argv)
{
	const char *arg = argv[optind - 1];
	int n = strcspn(arg, "=");
	char *e = p->error;
	size_t len = sizeof(p->error);

	if (p->error[0])
		return;
	if (strncmp(arg, "--", 2) != 0)	/* short; arg may be a cluster like -jx */
		snprintf(e, len, opt == ':' ? "option '-%c' needs an argument" :
			 "unknown option '-%c'", optopt);
	else if (opt == ':')
		snprintf(e, len, "option '%.*s' needs an argument", n, arg);
	else if (optopt)
		snprintf(e, len, "option '%.*s' takes no argument", n, arg);
	else
		snprintf(e, len, "unknown or ambiguous option '%.*s'", n, arg);
}

static void parse_opts(struct sfcctl *ctl, struct parsed *p, int argc, char **argv)
{
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jpvn:hV", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			ctl->pretty = true;
			/* fall through */
		case 'j':
			ctl->json = true;
			break;
		case 'v':
			ctl->verbose = true;
			break;
		case 'n':
			ctl->netns = optarg;
			break;
		case OPT_PIN_ROOT:
			ctl->pin_root = optarg;
			break;
		case OPT_DRY_RUN:
			ctl->dry_run = true;
			break;
		case OPT_SORT:
			ctl->sort = optarg;
			break;
		case OPT_TOP:
			ctl->top = optarg;
			break;
		case OPT_INTERVAL:
			ctl->interval = optarg;
			break;
		case OPT_METRICS:
			ctl->metrics = optarg;
			break;
		case OPT_ONCE:
			ctl->once = true;
			break;
		case 'h':
			p->help = true;
			break;
		case 'V':
			p->version = true;
			break;
		default:
			opt_error(p, opt, argv);
		}
	}
}

static int dispatch(const struct sfcctl *ctl, const struct parsed *p, int argc, char **argv)
{
	const struct cmd *c = NULL;

	if (p->error[0])
		return out_usage(ctl, NULL, "%s", p->error);
	if (ctl->netns && !netns_valid(ctl->netns))
		return out_usage(ctl, NULL, "invalid netns name '%s' (a file name in /run/netns)",
				 ctl->netns);
	if (!ctl->pin_root[0])
		return out_usage(ctl, NULL, "--pin-root needs a directory");
	if (p->version)
		return cmd_version(ctl, 0, NULL);
	if (argc > 0 && !(c = find_cmd(ctl, argv[0])))
		return EXIT_USAGE;
	if (p->help) {
		if (!c || c->fn == cmd_help)
			return cmd_help(ctl, argc > 1 ? 1 : 0, argv + 1);
		print_cmd_help(c);
		return EXIT_OK;
	}
	if (!c) {
		if (ctl->json)
			return out_usage(ctl, NULL, "missing command");
		fprintf(stderr, "sfcctl: missing command\n");
		print_usage(stderr);
		return EXIT_USAGE;
	}
	return run(ctl, c, argc - 1, argv + 1);
}

int main(int argc, char **argv)
{
	struct sfcctl ctl = { .pin_root = SFC_PIN_ROOT };
	struct parsed p = {};
	int ret;

	parse_opts(&ctl, &p, argc, argv);
	sfc_set_log(out_log, NULL, ctl.verbose ? SFC_LOG_DEBUG : SFC_LOG_WARN);
	ret = dispatch(&ctl, &p, argc - optind, argv + optind);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "sfcctl: write error: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	return ret;
}
