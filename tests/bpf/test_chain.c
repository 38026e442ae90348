// SPDX-License-Identifier: GPL-2.0
/*
 * The whole chain under BPF_PROG_TEST_RUN: apply a chain with libsfc onto a
 * veth pair in a private netns, then run packets through its pinned root
 * programs (tail calls execute under test_run) and check verdicts, rewrites
 * and the per-hop counters; re-apply, reorder, a missed tail call, a failing
 * apply, recovery from what an apply that died leaves, and delete.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sfc/sfc.h"
#include "shared/sfc_abi.h"
#include "../testlib.h"

static char ns[32], root[64];

static const char *spec_fmt =
	"apiVersion: sfc/v1alpha1\n"
	"kind: Chain\n"
	"metadata: {name: t1}\n"
	"spec:\n"
	"  interface: %s\n"
	"  egress: {action: redirect, interface: tb, nextHopMac: 02:00:00:00:00:02}\n"
	"  functions:\n%s";

static void cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s 2>/dev/null", ns, root);
	if (system(cmd))
		fprintf(stderr, "cleanup: %s failed\n", cmd);
}

static struct sfc_chain_spec *spec_of(const char *ifname, const char *functions)
{
	static char text[2048];
	struct sfc_diag d = {};
	struct sfc_chain_spec *s;

	snprintf(text, sizeof(text), spec_fmt, ifname, functions);
	s = sfc_chain_spec__parse_string("t1.yaml", text, strlen(text), &d);
	if (!s)
		fprintf(stderr, "spec: %s:%d:%d: %s: %s\n", d.file, d.line, d.col, d.path, d.msg);
	return s;
}

static int apply(const char *ifname, const char *functions, enum sfc_apply_result *res,
		 struct sfc_diag *d)
{
	struct sfc_apply_opts o = { .sz = sizeof(o), .netns = ns, .pin_root = root };
	struct sfc_chain_spec *s = spec_of(ifname, functions);
	int err;

	if (!s)
		return -EINVAL;
	err = sfc_chain__apply(s, &o, res, d);
	sfc_chain_spec__free(s);
	return err;
}

/* Ethernet + IPv4 + UDP, 64 bytes. */
static size_t udp4(unsigned char *p, int ihl)
{
	struct ethhdr *eth = (void *)p;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	memset(p, 0, 64);
	memset(eth->h_dest, 0xaa, 6);
	memset(eth->h_source, 0xbb, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = ihl;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons(50);
	ip->saddr = htonl(0x0a000001);
	ip->daddr = htonl(0x0a000002);
	udp->source = htons(1000);
	udp->dest = htons(2000);
	udp->len = htons(30);
	return 64;
}

static int run(const char *prog, unsigned char *pkt, size_t len, unsigned char *out)
{
	char p[128];
	int fd, err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .data_out = out,
		    .data_size_out = 256, .repeat = 1);

	snprintf(p, sizeof(p), "%s/t1/%s", root, prog);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return -1000 - errno;
	err = bpf_prog_test_run_opts(fd, &o);
	close(fd);
	return err ? -errno : (int)o.retval;
}

static const struct sfc_stage_status *stage(const struct sfc_chain_status *st, const char *name)
{
	unsigned int i;

	for (i = 0; i < st->n_stages; i++)
		if (!strcmp(st->stages[i].name, name))
			return &st->stages[i];
	return NULL;
}

static struct sfc_chain_status *status(void)
{
	struct sfc_chain_status *st = NULL;
	int err = sfc_chain__status("t1", root, &st);

	CHECK(!err, "status: %s", strerror(-err));
	return st;
}

int main(void)
{
	unsigned char pkt[256], out[256];
	struct sfc_chain_status *st;
	const struct sfc_stage_status *g;
	enum sfc_apply_result res;
	struct sfc_diag d = {};
	char cmd[512], p[128];
	__u32 slot = 0;
	int err, fd;

	if (geteuid())
		TEST_SKIP("needs root for BPF and netns");
	snprintf(ns, sizeof(ns), "sfct%d", getpid());
	snprintf(root, sizeof(root), "/sys/fs/bpf/sfc-test-%d", getpid());
	atexit(cleanup);
	snprintf(cmd, sizeof(cmd),
		 "ip netns add %s && ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && "
		 "ip -n %s link add ta type veth peer tap && ip -n %s link add tb type veth peer tbp && "
		 "ip -n %s link set ta up && ip -n %s link set tb up", ns, ns, ns, ns, ns, ns);
	if (system(cmd))
		TEST_SKIP("cannot create a netns with a veth pair");
	/* test_run and the FIB lookups then see only this netns: no routes. */
	snprintf(p, sizeof(p), "/run/netns/%s", ns);
	fd = open(p, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		TEST_SKIP("cannot enter netns %s", ns);
	close(fd);

	/* Create. */
	err = apply("ta", "    - {name: p1, type: passthrough}\n    - {name: p2, type: passthrough}\n",
		    &res, &d);
	CHECK(!err, "apply: %s: %s", d.path, d.msg);
	if (err)
		TEST_DONE();
	CHECK(res == SFC_APPLY_CREATED, "result %s", sfc_apply_result__str(res));
	st = status();
	CHECK(st && st->n_stages == 4, "stages");
	CHECK(st && st->n_attach == 2 && st->attach[0].attached && st->attach[1].attached,
	      "both directions attached");
	CHECK(st && st->generation == 1, "generation %u", st ? st->generation : 0);
	sfc_chain_status__free(st);

	/* Forward: through p1, p2 and the egress, redirected with next-hop MAC. */
	udp4(pkt, 5);
	err = run("root_fwd", pkt, 64, out);
	CHECK(err == XDP_REDIRECT, "forward verdict %d", err);
	CHECK(out[0] == 0x02 && out[5] == 0x02, "next-hop MAC written: %02x %02x %02x %02x %02x %02x / %02x", out[0], out[1], out[2], out[3], out[4], out[5], out[12]);
	/* Reverse: no route in this netns, so the egress hands it to the kernel. */
	err = run("root_rev", pkt, 64, out);
	CHECK(err == XDP_PASS, "reverse verdict %d", err);
	/* ARP goes to the kernel straight from the entry. */
	udp4(pkt, 5);
	((struct ethhdr *)pkt)->h_proto = htons(ETH_P_ARP);
	CHECK(run("root_fwd", pkt, 64, out) == XDP_PASS, "ARP passes");
	/* Malformed: IHL 3. */
	udp4(pkt, 3);
	CHECK(run("root_fwd", pkt, 64, out) == XDP_DROP, "bad IHL dropped");

	st = status();
	g = st ? stage(st, "entry") : NULL;
	CHECK(g && g->stats[0].packets == 3 && g->stats[0].handed_on == 1 && g->stats[0].passed == 1 &&
	      g->stats[0].invalid == 1 && g->stats[0].dropped == 1, "entry forward counters");
	CHECK(g && g->stats[1].packets == 1 && g->stats[1].handed_on == 1, "entry reverse counters");
	g = st ? stage(st, "p1") : NULL;
	CHECK(g && g->stats[0].packets == 1 && g->stats[0].handed_on == 1 && g->stats[1].packets == 1,
	      "p1 counters");
	g = st ? stage(st, "egress") : NULL;
	CHECK(g && g->stats[0].forwarded == 1 && g->stats[1].passed == 1, "egress counters");
	sfc_chain_status__free(st);

	/* Re-apply unchanged. */
	err = apply("ta", "    - {name: p1, type: passthrough}\n    - {name: p2, type: passthrough}\n",
		    &res, &d);
	CHECK(!err && res == SFC_APPLY_UNCHANGED, "re-apply: %s", sfc_apply_result__str(res));

	/* Reorder and replace: a new generation, p1 keeps its counters. */
	err = apply("ta", "    - {name: p3, type: passthrough}\n    - {name: p1, type: passthrough}\n",
		    &res, &d);
	CHECK(!err && res == SFC_APPLY_SWAPPED, "swap: %s %s", sfc_apply_result__str(res), d.msg);
	udp4(pkt, 5);
	CHECK(run("root_fwd", pkt, 64, out) == XDP_REDIRECT, "forward after swap");
	st = status();
	CHECK(st && st->generation == 2, "generation 2");
	CHECK(st && st->n_stages == 4 && !strcmp(st->stages[1].name, "p3") &&
	      !strcmp(st->stages[2].name, "p1"), "new order");
	g = st ? stage(st, "p1") : NULL;
	CHECK(g && g->stats[0].packets == 2, "p1 counters kept: %llu",
	      g ? (unsigned long long)g->stats[0].packets : 0);
	g = st ? stage(st, "p3") : NULL;
	CHECK(g && g->stats[0].packets == 1, "p3 counted");
	sfc_chain_status__free(st);
	snprintf(p, sizeof(p), "%s/t1/gen1", root);
	CHECK(access(p, F_OK) != 0, "old generation unpinned");
	snprintf(p, sizeof(p), "%s/t1/nf/p2", root);
	CHECK(access(p, F_OK) != 0, "removed function's maps unpinned");

	/* A config change is a map write: same generation, the mark in the map. */
	err = apply("ta", "    - {name: p3, type: passthrough}\n"
		    "    - {name: p1, type: passthrough, config: {mark: 7}}\n", &res, &d);
	CHECK(!err && res == SFC_APPLY_CONFIG, "config: %s %s", sfc_apply_result__str(res), d.msg);
	snprintf(p, sizeof(p), "%s/t1/nf/p1/sfc_pass_mark", root);
	fd = bpf_obj_get(p);
	{
		__u32 zero = 0, mark = 0;

		CHECK(fd >= 0 && !bpf_map_lookup_elem(fd, &zero, &mark) && mark == 7, "mark %u", mark);
	}
	if (fd >= 0)
		close(fd);
	st = status();
	CHECK(st && st->generation == 2, "config change keeps generation 2");
	CHECK(st && st->applied_at_ns > 1700000000ULL * 1000000000ULL, "applied_at recorded");
	CHECK(st && st->spec_json && strstr(st->spec_json, "\"mark\":7"), "spec records the config");
	sfc_chain_status__free(st);
	CHECK(run("root_fwd", pkt, 64, out) == XDP_REDIRECT, "forwarding after config change");

	/* A failing apply changes nothing. */
	err = apply("nope", "    - {name: p1, type: passthrough}\n", &res, &d);
	CHECK(err == -ENODEV && !strcmp(d.path, "spec.interface"), "missing interface: %d %s", err,
	      d.path);
	st = status();
	CHECK(st && st->generation == 2 && st->n_stages == 4, "unchanged after failed apply");
	sfc_chain_status__free(st);
	CHECK(run("root_fwd", pkt, 64, out) == XDP_REDIRECT, "still forwarding");

	/*
	 * What an apply that died leaves (kill -9): the applying marker, a
	 * stale generation, the folder of a function the chain does not
	 * have. status says so; the next apply removes them and, for the
	 * marker, builds a new generation even though nothing changed.
	 */
	snprintf(p, sizeof(p), "%s/t1/applying", root);
	CHECK(!mkdir(p, 0700), "plant the applying marker");
	snprintf(p, sizeof(p), "%s/t1/gen9", root);
	CHECK(!mkdir(p, 0700), "plant a stale generation");
	snprintf(p, sizeof(p), "%s/t1/nf/p8", root);
	CHECK(!mkdir(p, 0700), "plant a removed function's folder");
	st = status();
	CHECK(st && st->needs_recovery && st->interrupted && st->stray_generations == 1 &&
	      st->stray_functions == 1 && st->live_generation[0] == 2 &&
	      st->live_generation[1] == 2, "status reports what needs recovery");
	sfc_chain_status__free(st);
	err = apply("ta", "    - {name: p3, type: passthrough}\n"
		    "    - {name: p1, type: passthrough, config: {mark: 7}}\n", &res, &d);
	CHECK(!err && res == SFC_APPLY_SWAPPED, "recovering apply: %s %s",
	      sfc_apply_result__str(res), d.msg);
	st = status();
	CHECK(st && !st->needs_recovery && st->generation == 3 && st->live_generation[0] == 3 &&
	      st->live_generation[1] == 3, "recovered: generation %u, live %u/%u",
	      st ? st->generation : 0, st ? st->live_generation[0] : 0,
	      st ? st->live_generation[1] : 0);
	sfc_chain_status__free(st);
	snprintf(p, sizeof(p), "%s/t1/nf/p8", root);
	CHECK(access(p, F_OK) != 0, "the stray function folder is gone");
	snprintf(p, sizeof(p), "%s/t1/applying", root);
	CHECK(access(p, F_OK) != 0, "the marker is gone");
	CHECK(run("root_fwd", pkt, 64, out) == XDP_REDIRECT, "forwarding after recovery");

	/*
	 * A generation that fails to load mid-way changes nothing: here a
	 * function finds a pinned map of another layout in its folder.
	 */
	snprintf(p, sizeof(p), "%s/t1/nf/p3/sfc_pass_mark", root);
	unlink(p);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "old", 4, 8, 1, NULL);
	CHECK(fd >= 0 && !bpf_obj_pin(fd, p), "pin a map of another layout");
	if (fd >= 0)
		close(fd);
	err = apply("ta", "    - {name: p1, type: passthrough}\n    - {name: p3, type: passthrough}\n",
		    &res, &d);
	CHECK(err && !strcmp(d.path, "spec.functions[1]"), "load failure reported: %d %s: %s", err,
	      d.path, d.msg);
	st = status();
	CHECK(st && st->generation == 3 && st->n_stages == 4 && !st->needs_recovery,
	      "chain unchanged after failed load");
	sfc_chain_status__free(st);
	snprintf(p, sizeof(p), "%s/t1/gen4", root);
	CHECK(access(p, F_OK) != 0, "the failed generation left no pins");
	CHECK(run("root_fwd", pkt, 64, out) == XDP_REDIRECT, "still forwarding after failed load");

	/* A missed tail call fails closed and is counted. */
	snprintf(p, sizeof(p), "%s/t1/gen3/progs", root);
	fd = bpf_obj_get(p);
	CHECK(fd >= 0 && !bpf_map_delete_elem(fd, &slot), "empty slot 0");
	CHECK(run("root_fwd", pkt, 64, out) == XDP_DROP, "missed tail call drops");
	st = status();
	g = st ? stage(st, "entry") : NULL;
	CHECK(g && g->stats[0].tail_call_miss == 1, "miss counted");
	sfc_chain_status__free(st);
	if (fd >= 0)
		close(fd);

	/* Delete: no pins, no XDP left on the interfaces. */
	err = sfc_chain__delete("t1", root, &d);
	CHECK(!err, "delete: %s", d.msg);
	snprintf(p, sizeof(p), "%s/t1", root);
	CHECK(access(p, F_OK) != 0, "pins removed");
	snprintf(cmd, sizeof(cmd), "ip -n %s link show ta | grep -q xdp", ns);
	CHECK(system(cmd) != 0, "ta has no XDP program");
	snprintf(cmd, sizeof(cmd), "ip -n %s link show tb | grep -q xdp", ns);
	CHECK(system(cmd) != 0, "tb has no XDP program");
	err = sfc_chain__delete("t1", root, &d);
	CHECK(err == -ENOENT, "second delete: %d", err);
	TEST_DONE();
}
