// SPDX-License-Identifier: GPL-2.0
/* sfcctl validate | apply | delete | status | stats */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char *const dir_names[2] = { "forward", "reverse" };

static int check_name(const struct sfcctl *ctl, const char *cmd, const char *name)
{
	if (sfc_name_valid(name))
		return EXIT_OK;
	return out_usage(ctl, cmd, "invalid chain name '%s' (1..%d of a-z, 0-9 and '-', "
			 "not starting with '-')", name, SFC_NAME_MAX);
}

/* Why the status of a chain could not be read. */
static const char *status_error(int err)
{
	switch (err) {
	case -ENOENT:
		return "does not exist";
	case -EPROTO:
		return "was pinned by another sfc ABI version";
	case -EINPROGRESS:
		return "is incomplete: an apply or a delete of it died half-way "
		       "(apply it again, or sfcctl delete it)";
	case -EPERM:
	case -EACCES:
		return "cannot be read (are you root?)";
	}
	return strerror(-err);
}

/* The chain's status, or an error printed (EXIT_FAIL). */
static int get_status(const struct sfcctl *ctl, const char *name, struct sfc_chain_status **st)
{
	int err = sfc_chain__status(name, ctl->pin_root, st);

	if (err)
		return out_error(ctl, "chain %s %s", name, status_error(err));
	return EXIT_OK;
}

/* ---- validate --------------------------------------------------------- */

/* NULL with the error printed. */
static struct sfc_chain_spec *parse_spec(const struct sfcctl *ctl, const char *file)
{
	struct sfc_chain_spec *spec;
	struct sfc_diag d = {};
	int err;

	spec = sfc_chain_spec__parse_file(file, &d);
	if (spec)
		return spec;
	err = -errno;
	if (!d.file[0])
		snprintf(d.file, sizeof(d.file), "%s", file);
	out_diag(ctl, &d, err);
	return NULL;
}

int cmd_validate(const struct sfcctl *ctl, int argc, char **argv)
{
	struct sfc_chain_spec *spec;
	struct sfc_json j;
	unsigned int n;

	spec = parse_spec(ctl, argv[0]);
	if (!spec)
		return EXIT_FAIL;
	n = spec->n_functions;
	if (!ctl->json) {
		printf("%s: chain %s is valid (%u function%s)\n", argv[0], spec->name, n,
		       n == 1 ? "" : "s");
		sfc_chain_spec__free(spec);
		return EXIT_OK;
	}
	out_json_init(ctl, &j);
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "file", argv[0]);
	sfc_json__kbool(&j, "valid", true);
	sfc_json__kstr(&j, "chain", spec->name);
	sfc_json__ku64(&j, "functions", n);
	sfc_json__obj_end(&j);
	sfc_chain_spec__free(spec);
	return out_json_print(&j);
}

/* ---- apply ------------------------------------------------------------ */

/* Stable JSON names (the library's strings may change). */
static const char *result_key(enum sfc_apply_result r)
{
	switch (r) {
	case SFC_APPLY_CREATED: return "created";
	case SFC_APPLY_UNCHANGED: return "unchanged";
	case SFC_APPLY_CONFIG: return "config";
	case SFC_APPLY_SWAPPED: return "swapped";
	case SFC_APPLY_REATTACHED: return "reattached";
	}
	return "unknown";
}

static void apply_print_plain(const char *name, enum sfc_apply_result r, long long gen)
{
	printf("chain %s: ", name);
	switch (r) {
	case SFC_APPLY_UNCHANGED:
		printf("unchanged: nothing to do\n");
		return;
	case SFC_APPLY_CONFIG:
		printf("config updated in place\n");
		return;
	case SFC_APPLY_SWAPPED:
		printf("swapped to generation ");
		break;
	case SFC_APPLY_CREATED:
		printf("created, generation ");
		break;
	case SFC_APPLY_REATTACHED:
		printf("re-attached, generation ");
		break;
	default:
		printf("%s, generation ", sfc_apply_result__str(r));
	}
	if (gen >= 0)
		printf("%lld\n", gen);
	else
		printf("unknown\n");
}

/* gen < 0: unknown (the status could not be read). */
static int apply_print(const struct sfcctl *ctl, const char *name,
		       enum sfc_apply_result r, long long gen)
{
	struct sfc_json j;

	if (!ctl->json) {
		apply_print_plain(name, r, gen);
		return EXIT_OK;
	}
	out_json_init(ctl, &j);
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "chain", name);
	sfc_json__kstr(&j, "result", result_key(r));
	if (gen >= 0)
		sfc_json__ku64(&j, "generation", gen);
	sfc_json__obj_end(&j);
	return out_json_print(&j);
}

/* A dry run changes nothing: it says what an apply would do. */
static int dry_run_print(const struct sfcctl *ctl, const char *name, enum sfc_apply_result r)
{
	struct sfc_json j;

	if (!ctl->json) {
		printf("chain %s: dry run passed, nothing changed; apply would give: %s\n", name,
		       result_key(r));
		return EXIT_OK;
	}
	out_json_init(ctl, &j);
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "chain", name);
	sfc_json__kbool(&j, "dry_run", true);
	sfc_json__kstr(&j, "result", result_key(r));
	sfc_json__obj_end(&j);
	return out_json_print(&j);
}

static long long current_generation(const struct sfcctl *ctl, const char *name)
{
	struct sfc_chain_status *st;
	long long gen;
	int err;

	err = sfc_chain__status(name, ctl->pin_root, &st);
	if (err) {
		fprintf(stderr, "sfcctl: warning: chain %s applied, but its status %s\n",
			name, status_error(err));
		return -1;
	}
	gen = st->generation;
	sfc_chain_status__free(st);
	return gen;
}

int cmd_apply(const struct sfcctl *ctl, int argc, char **argv)
{
	struct sfc_apply_opts opts = {
		.sz = sizeof(opts),
		.netns = ctl->netns,
		.pin_root = ctl->pin_root,
		.dry_run = ctl->dry_run,
	};
	enum sfc_apply_result r = SFC_APPLY_UNCHANGED;
	struct sfc_chain_spec *spec;
	struct sfc_diag d = {};
	long long gen;
	int err, ret;

	spec = parse_spec(ctl, argv[0]);
	if (!spec)
		return EXIT_FAIL;
	err = sfc_chain__apply(spec, &opts, &r, &d);
	if (err) {
		ret = out_diag(ctl, &d, err);
		goto out;
	}
	if (ctl->dry_run) {
		ret = dry_run_print(ctl, spec->name, r);
		goto out;
	}
	gen = current_generation(ctl, spec->name);
	ret = apply_print(ctl, spec->name, r, gen);
out:
	sfc_chain_spec__free(spec);
	return ret;
}

/* ---- delete ----------------------------------------------------------- */

int cmd_delete(const struct sfcctl *ctl, int argc, char **argv)
{
	const char *name = argv[0];
	struct sfc_diag d = {};
	struct sfc_json j;
	int err;

	if (check_name(ctl, "delete", name))
		return EXIT_USAGE;
	err = sfc_chain__delete(name, ctl->pin_root, &d);
	if (err == -ENOENT)
		return out_error(ctl, "chain %s does not exist", name);
	if (err)
		return out_diag(ctl, &d, err);
	if (!ctl->json) {
		printf("chain %s: deleted\n", name);
		return EXIT_OK;
	}
	out_json_init(ctl, &j);
	sfc_json__obj_begin(&j);
	sfc_json__kstr(&j, "chain", name);
	sfc_json__kbool(&j, "deleted", true);
	sfc_json__obj_end(&j);
	return out_json_print(&j);
}

/* ---- status ----------------------------------------------------------- */

static const char *format_time(uint64_t ns, bool iso, char *buf, size_t len)
{
	time_t t = ns / 1000000000ull;
	struct tm tm;

	if (!ns || !gmtime_r(&t, &tm) ||
	    !strftime(buf, len, iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S UTC", &tm))
		return NULL;
	return buf;
}

/* Stage i is a function, not the entry or the egress around them. */
static bool is_function(const struct sfc_chain_status *st, unsigned int i)
{
	return i > 0 && i + 1 < st->n_stages && st->stages[i].type[0];
}

/*
 * What is wrong with a chain, one sentence each, into probs[]; returns how
 * many. fatal: one of them is more than a lost attachment (which status
 * has always shown without failing).
 */
#define MAX_PROBLEMS 12
#define PROBLEM_LEN 200

static unsigned int status_problems(const struct sfc_chain_status *st,
				    char probs[MAX_PROBLEMS][PROBLEM_LEN], bool *fatal)
{
	const struct sfc_attachment *a;
	unsigned int n = 0, i;

	*fatal = st->needs_recovery || st->netns_gone;
#define P(...) do { if (n < MAX_PROBLEMS) snprintf(probs[n++], PROBLEM_LEN, __VA_ARGS__); } while (0)
	if (st->busy)
		P("an apply or a delete is running: what is shown may be between two states "
		  "(run status again once it is done)");
	if (st->netns_gone)
		P("netns %s is gone, and the chain's interfaces with it (sfcctl delete %s removes "
		  "the chain)", st->netns, st->name);
	for (i = 0; i < st->n_attach && i < 2; i++) {
		a = &st->attach[i];
		if (a->iface_gone && !st->netns_gone) {
			*fatal = true;
			P("interface %s (ifindex %u, %s) is gone (sfcctl delete %s removes the chain; "
			  "apply it again once the interface is back)", a->ifname, a->ifindex,
			  dir_names[i], st->name);
		} else if (!a->attached && !a->iface_gone) {
			P("%s is not attached to %s (apply again to re-attach)", dir_names[i],
			  a->ifname);
		}
	}
	for (i = 0; i < 2; i++) {
		if (st->live_generation[i] == st->generation)
			continue;
		if (st->live_generation[i] == 0)
			P("%s runs no generation: its root slot is empty and drops every packet "
			  "(apply again to repair)", dir_names[i]);
		else if (st->live_generation[i] == UINT32_MAX)
			P("%s runs a program of no pinned generation (apply again to repair)",
			  dir_names[i]);
		else
			P("%s runs generation %u, not the recorded %u: an apply died while switching "
			  "(apply again to repair)", dir_names[i], st->live_generation[i],
			  st->generation);
	}
	if (st->interrupted)
		P("an apply died before it recorded its result; the functions' maps may hold its "
		  "config (apply again to repair)");
	if (st->deleting)
		P("a delete died half-way (sfcctl delete %s finishes it)", st->name);
	if (st->spec_mismatch)
		P("the pinned spec is not the recorded one (apply again to repair)");
	if (st->stray_generations)
		P("%u stale generation folder%s left by an apply that died (the next apply removes "
		  "them)", st->stray_generations, st->stray_generations == 1 ? "" : "s");
	if (st->stray_functions)
		P("%u folder%s of removed functions left in nf/ (the next apply removes them)",
		  st->stray_functions, st->stray_functions == 1 ? "" : "s");
#undef P
	return n;
}

static void status_stages_plain(const struct sfc_chain_status *st)
{
	const struct sfc_stage_status *s;
	unsigned int i;

	printf("  %-7s ", "stages");
	for (i = 0; i < st->n_stages; i++) {
		s = &st->stages[i];
		printf(" %s%s", i ? "-> " : "", s->name);
		if (is_function(st, i))
			printf(" (%s)", s->type);
	}
	printf("\n");
}

/* EXIT_FAIL when the chain needs recovery or lost an interface. */
static int status_plain(const struct sfc_chain_status *st)
{
	char probs[MAX_PROBLEMS][PROBLEM_LEN];
	unsigned int np, k;
	bool fatal;
	char iface[2][IF_NAMESIZE + 32], when[64];
	const struct sfc_attachment *a;
	unsigned int i, n = st->n_attach < 2 ? st->n_attach : 2;
	int w = 0;

	printf("chain %s  generation %u  applied %s", st->name, st->generation,
	       format_time(st->applied_at_ns, false, when, sizeof(when)) ?: "-");
	if (st->netns[0])
		printf("  netns %s", st->netns);
	printf("\n  %-7s  %s\n", "egress", sfc_egress__str(st->egress));
	for (i = 0; i < n; i++) {
		a = &st->attach[i];
		snprintf(iface[i], sizeof(iface[i]), "%s (ifindex %u)", a->ifname, a->ifindex);
		w = (int)strlen(iface[i]) > w ? (int)strlen(iface[i]) : w;
	}
	for (i = 0; i < n; i++) {
		a = &st->attach[i];
		printf("  %-7s  %-*s  %s %s  prog %u  %s\n", dir_names[i], w, iface[i],
		       sfc_attach_method__str(a->method), sfc_xdp_mode__str(a->mode),
		       a->prog_id, a->iface_gone ? "INTERFACE GONE" :
		       a->attached ? "attached" : "NOT attached");
	}
	status_stages_plain(st);
	np = status_problems(st, probs, &fatal);
	for (k = 0; k < np; k++)
		printf("  %s %s\n", k ? "       " : "PROBLEM", probs[k]);
	return fatal ? EXIT_FAIL : EXIT_OK;
}

static void json_gen(struct sfc_json *j, const char *key, uint32_t gen)
{
	sfc_json__key(j, key);
	if (gen && gen != UINT32_MAX)
		sfc_json__u64(j, gen);
	else
		sfc_json__null(j);
}

/* EXIT_FAIL when the chain needs recovery or lost an interface. */
static int status_json(struct sfc_json *j, const struct sfc_chain_status *st)
{
	char probs[MAX_PROBLEMS][PROBLEM_LEN];
	const struct sfc_attachment *a;
	const struct sfc_stage_status *s;
	unsigned int i, np;
	char when[64];
	bool fatal;

	sfc_json__kstr(j, "name", st->name);
	sfc_json__kstr(j, "netns", st->netns[0] ? st->netns : NULL);
	sfc_json__ku64(j, "abi_version", st->abi_version);
	sfc_json__kstr(j, "applied_by", st->applied_by[0] ? st->applied_by : NULL);
	sfc_json__ku64(j, "generation", st->generation);
	sfc_json__kstr(j, "applied_at", format_time(st->applied_at_ns, true, when, sizeof(when)));
	sfc_json__kstr(j, "egress", sfc_egress__str(st->egress));
	sfc_json__key(j, "attachments");
	sfc_json__arr_begin(j);
	for (i = 0; i < st->n_attach && i < 2; i++) {
		a = &st->attach[i];
		sfc_json__obj_begin(j);
		sfc_json__kstr(j, "direction", dir_names[i]);
		sfc_json__kstr(j, "interface", a->ifname);
		sfc_json__ku64(j, "ifindex", a->ifindex);
		sfc_json__kstr(j, "method", sfc_attach_method__str(a->method));
		sfc_json__kstr(j, "mode", sfc_xdp_mode__str(a->mode));
		sfc_json__ku64(j, "prog_id", a->prog_id);
		sfc_json__kbool(j, "attached", a->attached);
		sfc_json__kbool(j, "interface_gone", a->iface_gone);
		sfc_json__obj_end(j);
	}
	sfc_json__arr_end(j);
	sfc_json__key(j, "stages");
	sfc_json__arr_begin(j);
	for (i = 0; i < st->n_stages; i++) {
		s = &st->stages[i];
		sfc_json__obj_begin(j);
		sfc_json__kstr(j, "name", s->name);
		sfc_json__kstr(j, "type", s->type);
		sfc_json__ku64(j, "id", s->id);
		sfc_json__ku64(j, "prog_id", s->prog_id);
		sfc_json__obj_end(j);
	}
	sfc_json__arr_end(j);
	sfc_json__kbool(j, "netns_gone", st->netns_gone);
	sfc_json__key(j, "live_generation");
	sfc_json__obj_begin(j);
	json_gen(j, "forward", st->live_generation[0]);
	json_gen(j, "reverse", st->live_generation[1]);
	sfc_json__obj_end(j);
	sfc_json__ku64(j, "stray_generations", st->stray_generations);
	sfc_json__ku64(j, "stray_functions", st->stray_functions);
	sfc_json__kbool(j, "interrupted", st->interrupted);
	sfc_json__kbool(j, "deleting", st->deleting);
	sfc_json__kbool(j, "spec_mismatch", st->spec_mismatch);
	sfc_json__kbool(j, "needs_recovery", st->needs_recovery);
	sfc_json__kbool(j, "busy", st->busy);
	np = status_problems(st, probs, &fatal);
	sfc_json__key(j, "problems");
	sfc_json__arr_begin(j);
	for (i = 0; i < np; i++)
		sfc_json__str(j, probs[i]);
	sfc_json__arr_end(j);
	sfc_json__key(j, "spec");
	out_json_raw(j, st->spec_json);
	return fatal ? EXIT_FAIL : EXIT_OK;
}

static int status_one(const struct sfcctl *ctl, const char *name)
{
	struct sfc_chain_status *st;
	struct sfc_json j;
	int ret;

	if (check_name(ctl, "status", name))
		return EXIT_USAGE;
	if (get_status(ctl, name, &st))
		return EXIT_FAIL;
	if (!ctl->json) {
		ret = status_plain(st);
		sfc_chain_status__free(st);
		return ret;
	}
	out_json_init(ctl, &j);
	sfc_json__obj_begin(&j);
	ret = status_json(&j, st);
	sfc_json__obj_end(&j);
	sfc_chain_status__free(st);
	return out_json_print(&j) ?: ret;
}

/* One chain of `status` without NAME: a failure does not stop the others. */
static int status_entry(const struct sfcctl *ctl, struct sfc_json *j, const char *name,
			bool *printed)
{
	struct sfc_chain_status *st;
	int err = sfc_chain__status(name, ctl->pin_root, &st);
	int ret = EXIT_FAIL;

	if (err && !ctl->json) {
		fprintf(stderr, "sfcctl: chain %s %s\n", name, status_error(err));
		return EXIT_FAIL;
	}
	if (!ctl->json) {
		printf("%s", *printed ? "\n" : "");
		ret = status_plain(st);
		*printed = true;
		sfc_chain_status__free(st);
		return ret;
	}
	sfc_json__obj_begin(j);
	if (err) {
		sfc_json__kstr(j, "name", name);
		sfc_json__kstr(j, "error", status_error(err));
	} else {
		ret = status_json(j, st);
		sfc_chain_status__free(st);
	}
	sfc_json__obj_end(j);
	return ret;
}

static int status_all(const struct sfcctl *ctl)
{
	struct sfc_json j;
	char **names = NULL;
	size_t i, n = 0;
	bool printed = false;
	int err, ret = EXIT_OK;

	err = sfc_chain__list(ctl->pin_root, &names, &n);
	if (err == -ENOENT)
		n = 0;	/* no chain was ever applied */
	else if (err)
		return out_error(ctl, "cannot list the chains in %s: %s%s", ctl->pin_root,
				 strerror(-err), err == -EACCES || err == -EPERM ?
				 " (are you root?)" : "");
	out_json_init(ctl, &j);
	if (ctl->json)
		sfc_json__arr_begin(&j);
	for (i = 0; i < n; i++)
		if (status_entry(ctl, &j, names[i], &printed))
			ret = EXIT_FAIL;
	if (names)
		sfc_chain__list_free(names, n);
	if (!ctl->json)
		return ret;
	sfc_json__arr_end(&j);
	return out_json_print(&j) ?: ret;
}

int cmd_status(const struct sfcctl *ctl, int argc, char **argv)
{
	return argc ? status_one(ctl, argv[0]) : status_all(ctl);
}

/* ---- stats ------------------------------------------------------------ */

static const struct {
	const char *name;
	size_t off;
} counters[] = {
#define C(x) { #x, offsetof(struct sfc_stage_stats, x) }
	C(packets), C(bytes), C(handed_on), C(dropped), C(passed), C(forwarded),
	C(aborted), C(tail_call_miss), C(invalid),
#undef C
};

#define N_COUNTERS (sizeof(counters) / sizeof(counters[0]))

static uint64_t counter(const struct sfc_stage_stats *s, unsigned int i)
{
	return *(const uint64_t *)((const char *)s + counters[i].off);
}

static bool stats_zero(const struct sfc_stage_stats *s)
{
	unsigned int i;

	for (i = 0; i < N_COUNTERS; i++)
		if (counter(s, i))
			return false;
	return true;
}

static void stats_header(struct table *t)
{
	int row = table_row(t);
	unsigned int i, k;
	char up[32];

	table_set(t, row, 0, "STAGE");
	table_set(t, row, 1, "TYPE");
	table_set(t, row, 2, "DIR");
	for (i = 0; i < N_COUNTERS; i++) {
		for (k = 0; counters[i].name[k] && k + 1 < sizeof(up); k++)
			up[k] = toupper((unsigned char)counters[i].name[k]);
		up[k] = '\0';
		table_set(t, row, 3 + i, "%s", up);
	}
}

static int stats_plain(const struct sfc_chain_status *st)
{
	const struct sfc_stage_status *s;
	unsigned int i, d, c;
	struct table t;
	int row, err;

	table_init(&t, 3 + N_COUNTERS, 3);
	stats_header(&t);
	for (i = 0; i < st->n_stages; i++) {
		s = &st->stages[i];
		for (d = 0; d < 2; d++) {
			if (d && st->egress != SFC_EGRESS_ACTION_REDIRECT && stats_zero(&s->stats[d]))
				continue;
			row = table_row(&t);
			table_set(&t, row, 0, "%s", s->name);
			table_set(&t, row, 1, "%s", is_function(st, i) ? s->type : "-");
			table_set(&t, row, 2, "%s", dir_names[d]);
			for (c = 0; c < N_COUNTERS; c++)
				table_set(&t, row, 3 + c, "%llu",
					  (unsigned long long)counter(&s->stats[d], c));
		}
	}
	err = t.err;
	if (!err)
		table_print(&t, stdout);
	table_free(&t);
	return err ? EXIT_FAIL : EXIT_OK;
}

static void stats_json(const struct sfcctl *ctl, struct sfc_json *j,
		       const struct sfc_chain_status *st)
{
	const struct sfc_stage_status *s;
	unsigned int i, d, c;

	sfc_json__kstr(j, "chain", st->name);
	sfc_json__key(j, "stages");
	sfc_json__arr_begin(j);
	for (i = 0; i < st->n_stages; i++) {
		s = &st->stages[i];
		sfc_json__obj_begin(j);
		sfc_json__kstr(j, "name", s->name);
		sfc_json__kstr(j, "type", s->type);
		sfc_json__ku64(j, "id", s->id);
		for (d = 0; d < 2; d++) {
			sfc_json__key(j, dir_names[d]);
			sfc_json__obj_begin(j);
			for (c = 0; c < N_COUNTERS; c++)
				sfc_json__ku64(j, counters[c].name, counter(&s->stats[d], c));
			sfc_json__obj_end(j);
		}
		if (is_function(st, i)) {
			fw_stats_json(ctl, j, st, i);
			lb_stats_json(ctl, j, st, i);
		}
		sfc_json__obj_end(j);
	}
	sfc_json__arr_end(j);
}

int cmd_stats(const struct sfcctl *ctl, int argc, char **argv)
{
	struct sfc_chain_status *st;
	struct sfc_json j;
	int ret;

	if (check_name(ctl, "stats", argv[0]))
		return EXIT_USAGE;
	if (get_status(ctl, argv[0], &st))
		return EXIT_FAIL;
	if (!ctl->json) {
		ret = stats_plain(st);
		if (ret) {
			fprintf(stderr, "sfcctl: %s\n", strerror(ENOMEM));
		} else {
			ret = fw_stats_plain(ctl, st);
			if (lb_stats_plain(ctl, st))
				ret = EXIT_FAIL;
		}
		sfc_chain_status__free(st);
		return ret;
	}
	out_json_init(ctl, &j);
	sfc_json__obj_begin(&j);
	stats_json(ctl, &j, st);
	sfc_json__obj_end(&j);
	sfc_chain_status__free(st);
	return out_json_print(&j);
}
