// SPDX-License-Identifier: GPL-2.0
/*
 * The firewall under BPF_PROG_TEST_RUN, as part of a whole chain: a chain of
 * one firewall function (egress pass: allowed = XDP_PASS, dropped =
 * XDP_DROP) is applied with libsfc onto a veth in a private netns, and
 * packets run through its pinned roots, root_rev for the server's side.
 *
 * One table of fixtures {description, packet, verdict, rule} per topic, each
 * under its own config (a re-apply: a new generation swapped in). Every
 * packet's verdict and rule are read back from the firewall's counters
 * (sfc_fw_verdicts, sfc_fw_rule_stats), so a wrong answer says which
 * decision was taken; after each table the counters must add up to the
 * packets sent, bytes included. Tables without addresses run for IPv4 and
 * for IPv6.
 *
 * Needs root (BPF, netns): prints SKIP and exits 77 without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sfc/sfc.h"
#include "shared/sfc_abi.h"
#include "shared/sfc_fw.h"
#include "../testlib.h"
/* pkt.h is a kit of static helpers; this test needs only some. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "pkt.h"
#include "testns.h"
#pragma GCC diagnostic pop

#define CHAIN "fwt"
#define FN "fw"
#define MAX_RULES 16

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

static char ns[32], root[64], set_file[64];
static int ncpu;

/* ---- packets ------------------------------------------------------------ */

enum { F_NONE, F_FIRST, F_LATER, F_LAST };	/* fragment: MF at 0, MF at 1480, last at 1480 */
enum { IX_NONE, IX_ECHO_REQ, IX_ECHO_REPLY, IX_UNREACH };	/* ICMP of the packet's family */

#define WS(n) ((n) + 1)

/*
 * A packet, the fields a fixture cares about; zero is a sensible default for
 * every one. Without addresses it goes client -> server (server -> client
 * with rev) in the family the table runs.
 */
struct pk {
	uint8_t fam;		/* 4 or 6: only for a packet without addresses */
	const char *src, *dst;	/* textual; NULL: the client's or server's */
	uint8_t proto;		/* 0: UDP (or 0 with proto0) */
	bool proto0;		/* protocol 0 itself */
	uint16_t sport, dport;	/* TCP, UDP; sport is the echo id of ICMP echoes */
	uint8_t flags;		/* TCP */
	uint32_t seq, ack;
	uint16_t win;		/* 0: 65535 */
	uint8_t ws;		/* WS(n): the segment carries window scale n */
	uint16_t len;		/* payload bytes */
	uint8_t itype, icode;	/* ICMP, ICMPv6 */
	uint8_t icmpx;		/* IX_*: protocol, type and code of the family */
	uint16_t vlan, vlan2;	/* outer and inner VID; 0: untagged */
	uint8_t frag;		/* F_* */
	const struct pk *quote;	/* ICMP error: the packet it is about */
	bool ipopts;		/* IPv4: 8 bytes of options */
	bool ext6;		/* IPv6: a destination options header before L4 */
	bool rev;		/* server -> client, through root_rev */
	bool trunc;		/* TCP header cut to 10 bytes */
	bool doff4;		/* TCP data offset 4 (16 bytes) */
	bool fullopts;		/* with ws: Linux's SYN options, WS last */
};

static const char *const client[2] = { "10.0.0.1", "2001:db8::1" };
static const char *const server[2] = { "10.0.0.2", "2001:db8::2" };

static int pk_family(const struct pk *p, int fam)
{
	if (p->src)
		return strchr(p->src, ':') ? 6 : 4;
	if (p->dst)
		return strchr(p->dst, ':') ? 6 : 4;
	return p->fam ? p->fam : fam;
}

static void addr(const char *s, int fam, uint8_t *out)
{
	memset(out, 0, 16);
	if (inet_pton(fam == 4 ? AF_INET : AF_INET6, s, out) != 1) {
		fprintf(stderr, "bad test address %s\n", s);
		abort();
	}
}

static size_t build(const struct pk *p, int fam, uint8_t *out);

/* The IP header and the first 8 bytes after it, as an ICMP error quotes. */
static void put_quote(struct pkt_buf *b, const struct pk *q, int fam)
{
	uint8_t f[PKT_MAX];
	size_t n = build(q, fam, f);
	size_t l3 = 14 + (q->vlan ? 4 : 0) + (q->vlan2 ? 4 : 0);
	size_t hl = fam == 4 ? (f[l3] & 0xf) * 4 : 40;

	if (l3 + hl + 8 > n)
		abort();
	memcpy(pkt_put(b, hl + 8), f + l3, hl + 8);
}

static size_t build(const struct pk *p, int fam, uint8_t *out)
{
	uint8_t proto = p->proto || p->proto0 ? p->proto : IPPROTO_UDP;
	uint8_t itype = p->itype, icode = p->icode, src[16], dst[16];
	struct pkt_buf b;
	uint16_t l3;
	size_t off;

	fam = pk_family(p, fam);
	l3 = fam == 4 ? ETH_P_IP_ : ETH_P_IPV6_;
	addr(p->src ? p->src : (p->rev ? server : client)[fam == 6], fam, src);
	addr(p->dst ? p->dst : (p->rev ? client : server)[fam == 6], fam, dst);
	if (p->icmpx) {
		static const uint8_t type[2][4] = { { 0, 8, 0, 3 }, { 0, 128, 129, 1 } };
		static const uint8_t code[2][4] = { { 0, 0, 0, 3 }, { 0, 0, 0, 4 } };

		proto = fam == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		itype = type[fam == 6][p->icmpx];
		icode = code[fam == 6][p->icmpx];
	}

	pkt_init(&b);
	if (p->vlan2) {
		pkt_eth(&b, ETH_P_8021AD_);
		pkt_vlan(&b, p->vlan, ETH_P_8021Q_);
		pkt_vlan(&b, p->vlan2, l3);
	} else if (p->vlan) {
		pkt_eth(&b, ETH_P_8021Q_);
		pkt_vlan(&b, p->vlan, l3);
	} else {
		pkt_eth(&b, l3);
	}
	if (fam == 4) {
		static const uint16_t frag[] = { IP_DF_, IP_MF_, IP_MF_ | 185, 185 };
		uint32_t s, d;

		memcpy(&s, src, 4);
		memcpy(&d, dst, 4);
		pkt_ipv4_opt(&b, proto, s, d, p->ipopts ? 8 : 0, frag[p->frag]);
	} else {
		pkt_ipv6(&b, p->frag ? 44 : p->ext6 ? 60 : proto, 0, 0);
		memcpy(b.d + b.ip_off + 8, src, 16);
		memcpy(b.d + b.ip_off + 24, dst, 16);
		if (p->ext6)
			pkt_ip6_ext(&b, proto, 1);
		if (p->frag)
			pkt_ip6_frag(&b, proto, p->frag == F_FIRST ? 0 : 185, p->frag != F_LAST);
	}

	if (p->frag == F_LATER || p->frag == F_LAST) {
		pkt_payload(&b, 16 + p->len);	/* the middle of something: no L4 header */
	} else if (proto == IPPROTO_TCP) {
		/* MSS 1460, SACK permitted, timestamps, NOP, WS */
		static const uint8_t linux_opts[20] = { 2, 4, 5, 180, 4, 2, 8, 10, 0, 1, 2, 3,
							0, 0, 0, 0, 1, 3, 3, 0 };
		size_t optlen = p->ws ? (p->fullopts ? 20 : 4) : 0;

		off = b.len;
		pkt_tcp_opt(&b, p->sport, p->dport, p->flags, optlen);
		put32(b.d + off + 4, p->seq);
		put32(b.d + off + 8, p->ack);
		put16(b.d + off + 14, p->win ? p->win : 65535);
		if (p->ws && p->fullopts)
			memcpy(b.d + off + 20, linux_opts, sizeof(linux_opts));
		if (p->ws) {	/* NOP, then kind 3 length 3 shift (RFC 7323 2.2), last */
			b.d[off + 20 + optlen - 3] = 3;
			b.d[off + 20 + optlen - 2] = 3;
			b.d[off + 20 + optlen - 1] = p->ws - 1;
		}
		if (p->doff4)
			b.d[off + 12] = 4 << 4;
		if (p->trunc)
			b.len = off + 10;
		else
			pkt_payload(&b, p->len);
	} else if (proto == IPPROTO_UDP) {
		pkt_udp(&b, p->sport, p->dport);
		pkt_payload(&b, p->len);
	} else if ((proto == IPPROTO_ICMP && fam == 4) || (proto == IPPROTO_ICMPV6 && fam == 6)) {
		pkt_icmp(&b, itype, icode, p->sport, 1);
		if (p->quote)
			put_quote(&b, p->quote, fam);
		pkt_payload(&b, p->len);
	} else {
		pkt_payload(&b, 8 + p->len);
	}
	pkt_done(&b);
	memcpy(out, b.d, b.len);
	return b.len;
}

/* ---- the chain ---------------------------------------------------------- */

static void cleanup(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; rm -rf %s %s 2>/dev/null", ns, root,
		 set_file);
	if (system(cmd))
		fprintf(stderr, "cleanup: %s failed\n", cmd);
}

static void log_cb(enum sfc_log_level level, const char *msg, void *ctx)
{
	(void)ctx;
	if (level <= SFC_LOG_WARN)
		fprintf(stderr, "libsfc: %s\n", msg);
}

/*
 * Applies the chain with config (YAML, not indented) as the firewall's
 * config. Returns 0 and sets *res, or -errno (and says why on stderr).
 */
static int apply(const char *config, enum sfc_apply_result *res)
{
	static char text[16384];
	struct sfc_apply_opts o = { .sz = sizeof(o), .netns = ns, .pin_root = root };
	struct sfc_chain_spec *s;
	struct sfc_diag d = {};
	char buf[1024];
	const char *l;
	size_t n;
	int err;

	n = snprintf(text, sizeof(text),
		     "apiVersion: sfc/v1alpha1\n"
		     "kind: Chain\n"
		     "metadata: {name: " CHAIN "}\n"
		     "spec:\n"
		     "  interface: ta\n"
		     "  egress: {action: pass}\n"
		     "  functions:\n"
		     "    - name: " FN "\n"
		     "      type: firewall\n"
		     "      config:\n");
	for (l = config; *l; ) {
		const char *e = strchrnul(l, '\n');

		n += snprintf(text + n, sizeof(text) - n, "        %.*s\n", (int)(e - l), l);
		l = *e ? e + 1 : e;
	}
	assert(n < sizeof(text));
	s = sfc_chain_spec__parse_string(CHAIN ".yaml", text, n, &d);
	if (!s) {
		sfc_diag__format(&d, buf, sizeof(buf));
		fprintf(stderr, "spec: %s\n", buf);
		return -EINVAL;
	}
	err = sfc_chain__apply(s, &o, res, &d);
	sfc_chain_spec__free(s);
	if (err) {
		sfc_diag__format(&d, buf, sizeof(buf));
		fprintf(stderr, "apply: %s\n", buf);
	}
	return err;
}

static unsigned int generation(void)
{
	struct sfc_chain_status *st = NULL;
	unsigned int g = 0;

	if (!sfc_chain__status(CHAIN, root, &st))
		g = st->generation;
	sfc_chain_status__free(st);
	return g;
}

/* Invalid packets the entry dropped, forward and reverse. */
static uint64_t entry_invalid(void)
{
	struct sfc_chain_status *st = NULL;
	uint64_t n = 0;

	if (!sfc_chain__status(CHAIN, root, &st) && st->n_stages)
		n = st->stages[0].stats[0].invalid + st->stages[0].stats[1].invalid;
	sfc_chain_status__free(st);
	return n;
}

static int obj_get(const char *fmt, ...)
{
	char rel[256], p[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(p, sizeof(p), "%s/%s/%s", root, CHAIN, rel);
	return bpf_obj_get(p);
}

static int run_prog(bool rev, uint8_t *frame, size_t len)
{
	static uint8_t out[PKT_MAX + 256];
	int fd, err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	fd = obj_get(rev ? "root_rev" : "root_fwd");
	if (fd < 0)
		return -1000 - errno;
	err = bpf_prog_test_run_opts(fd, &o);
	close(fd);
	return err ? -errno : (int)o.retval;
}

/* ---- counters ----------------------------------------------------------- */

/* The firewall's maps of the running generation. */
static struct {
	int verdicts, rule_stats, ct;
	unsigned int n_rules;
	bool stateful;
	const char *table;
} fw = { -1, -1, -1 };

struct snap {
	struct sfc_fw_counter v[SFC_FW_V_MAX];
	struct sfc_fw_counter r[MAX_RULES];
};

static int sum_percpu(int fd, __u32 key, struct sfc_fw_counter *sum)
{
	struct sfc_fw_counter vals[ncpu];
	int i;

	memset(sum, 0, sizeof(*sum));
	if (fd < 0 || bpf_map_lookup_elem(fd, &key, vals))
		return -1;
	for (i = 0; i < ncpu; i++) {
		sum->packets += vals[i].packets;
		sum->bytes += vals[i].bytes;
	}
	return 0;
}

static void snap(struct snap *s)
{
	__u32 k;

	for (k = 0; k < SFC_FW_V_MAX; k++)
		sum_percpu(fw.verdicts, k, &s->v[k]);
	for (k = 0; k < MAX_RULES; k++)
		sum_percpu(k < fw.n_rules ? fw.rule_stats : -1, k, &s->r[k]);
}

static void close_maps(void)
{
	if (fw.verdicts >= 0)
		close(fw.verdicts);
	if (fw.rule_stats >= 0)
		close(fw.rule_stats);
	if (fw.ct >= 0)
		close(fw.ct);
	fw.verdicts = fw.rule_stats = fw.ct = -1;
}

static const char *const vname[] = {
	[SFC_FW_V_RULE_ALLOW] = "RULE_ALLOW",	[SFC_FW_V_RULE_DROP] = "RULE_DROP",
	[SFC_FW_V_DEFAULT_ALLOW] = "DEFAULT_ALLOW", [SFC_FW_V_DEFAULT_DROP] = "DEFAULT_DROP",
	[SFC_FW_V_ESTABLISHED] = "ESTABLISHED",	[SFC_FW_V_RELATED] = "RELATED",
	[SFC_FW_V_INVALID] = "INVALID",		[SFC_FW_V_RATE_LIMITED] = "RATE_LIMITED",
	[SFC_FW_V_CT_NEW] = "CT_NEW",
};

/* Not a firewall verdict: the entry drops the packet as malformed. */
#define V_BAD SFC_FW_V_MAX
#define V_NONE (SFC_FW_V_MAX + 1)

static const char *vstr(int v)
{
	if (v == V_BAD)
		return "BAD (dropped by the entry)";
	if (v == V_NONE)
		return "no verdict";
	if (v < 0)
		return "several verdicts";
	return v < SFC_FW_V_MAX ? vname[v] : "?";
}

static bool v_passes(int v)
{
	return v == SFC_FW_V_RULE_ALLOW || v == SFC_FW_V_DEFAULT_ALLOW ||
	       v == SFC_FW_V_ESTABLISHED || v == SFC_FW_V_RELATED;
}

static bool v_has_rule(int v)
{
	return v == SFC_FW_V_RULE_ALLOW || v == SFC_FW_V_RULE_DROP || v == SFC_FW_V_RATE_LIMITED;
}

/*
 * Applies a table's config: a new generation (or the chain's first), whose
 * rule counters start at zero; the verdict counters carry over.
 */
static int use_config(const char *table, const char *config, unsigned int n_rules, bool stateful)
{
	enum sfc_apply_result res;
	unsigned int gen0 = generation(), gen;
	struct snap before, after;
	int err;
	__u32 k;

	snap(&before);
	close_maps();
	fw.table = table;
	err = apply(config, &res);
	CHECK(!err, "%s: apply: %s", table, strerror(-err));
	if (err)
		return err;
	gen = generation();
	CHECK(res == (gen0 ? SFC_APPLY_SWAPPED : SFC_APPLY_CREATED) && gen == gen0 + 1,
	      "%s: a firewall config change is a new generation: got %s, generation %u -> %u",
	      table, sfc_apply_result__str(res), gen0, gen);
	fw.n_rules = n_rules;
	fw.stateful = stateful;
	fw.verdicts = obj_get("nf/" FN "/sfc_fw_verdicts");
	fw.rule_stats = obj_get("gen%u/nf/" FN "/sfc_fw_rule_stats", gen);
	fw.ct = obj_get("nf/" FN "/sfc_fw_ct");
	CHECK(fw.verdicts >= 0 && fw.rule_stats >= 0 && fw.ct >= 0,
	      "%s: pinned maps: verdicts %d, gen%u rule_stats %d, ct %d", table, fw.verdicts, gen,
	      fw.rule_stats, fw.ct);
	/* One counter per rule: the table's rule count is the one compiled. */
	if (fw.rule_stats >= 0) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		err = bpf_obj_get_info_by_fd(fw.rule_stats, &info, &len);
		CHECK(!err && info.max_entries == n_rules, "%s: rule counters: want %u, got %u",
		      table, n_rules, info.max_entries);
	}
	snap(&after);
	if (gen0)
		for (k = 0; k < SFC_FW_V_MAX; k++)
			CHECK(after.v[k].packets == before.v[k].packets,
			      "%s: verdict counter %s kept across the swap: %llu before, %llu after",
			      table, vname[k], (unsigned long long)before.v[k].packets,
			      (unsigned long long)after.v[k].packets);
	for (k = 0; k < n_rules; k++)
		CHECK(after.r[k].packets == 0, "%s: rule %u counter of a new generation: %llu", table,
		      k, (unsigned long long)after.r[k].packets);
	return 0;
}

/* ---- fixtures ----------------------------------------------------------- */

struct fx {
	const char *desc;
	struct pk p;
	int v;			/* expected enum sfc_fw_verdict, or V_BAD */
	int rule;		/* for verdicts a rule decides */
	int r6;			/* added to rule for IPv6 */
	int ct;			/* if not 0: the connection's state after it */
};

/* Expected counter totals of a table, from its fixtures. */
struct totals {
	struct snap start, want;
	uint64_t bad, bad_start;
};

static void totals_begin(struct totals *t)
{
	memset(t, 0, sizeof(*t));
	snap(&t->start);
	t->bad_start = entry_invalid();
}

static void totals_check(const struct totals *t)
{
	struct snap now;
	uint64_t bad = entry_invalid() - t->bad_start;
	unsigned int k;

	snap(&now);
	for (k = 0; k < SFC_FW_V_MAX; k++) {
		uint64_t p = now.v[k].packets - t->start.v[k].packets;
		uint64_t b = now.v[k].bytes - t->start.v[k].bytes;
		bool counted = p == t->want.v[k].packets && b == t->want.v[k].bytes;

		CHECK(counted,
		      "%s: counter %s: want %llu packets %llu bytes, got %llu packets %llu bytes",
		      fw.table, vname[k], (unsigned long long)t->want.v[k].packets,
		      (unsigned long long)t->want.v[k].bytes, (unsigned long long)p,
		      (unsigned long long)b);
	}
	for (k = 0; k < fw.n_rules; k++) {
		uint64_t p = now.r[k].packets - t->start.r[k].packets;
		uint64_t b = now.r[k].bytes - t->start.r[k].bytes;
		bool counted = p == t->want.r[k].packets && b == t->want.r[k].bytes;

		CHECK(counted,
		      "%s: rule %u counter: want %llu packets %llu bytes, got %llu packets %llu bytes",
		      fw.table, k, (unsigned long long)t->want.r[k].packets,
		      (unsigned long long)t->want.r[k].bytes, (unsigned long long)p,
		      (unsigned long long)b);
	}
	CHECK(bad == t->bad, "%s: entry's invalid counter: want %llu, got %llu", fw.table,
	      (unsigned long long)t->bad, (unsigned long long)bad);
}

/* The verdict (or V_NONE, or -1 for several) and rule (or -1) between two snapshots. */
static void decided(const struct snap *a, const struct snap *b, int *v, int *rule, bool *opened)
{
	unsigned int k;

	*v = V_NONE;
	*rule = -1;
	for (k = 0; k < SFC_FW_V_CT_NEW; k++)
		if (b->v[k].packets != a->v[k].packets)
			*v = *v == V_NONE ? (int)k : -1;
	for (k = 0; k < fw.n_rules; k++)
		if (b->r[k].packets != a->r[k].packets)
			*rule = *rule == -1 ? (int)k : -2;
	*opened = b->v[SFC_FW_V_CT_NEW].packets != a->v[SFC_FW_V_CT_NEW].packets;
}

static const char *const ct_name[] = {
	"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSING", "CLOSED", "UNREPLIED",
};

#define CTSTR(s) ((unsigned int)(s) < 8 ? ct_name[s] : "?")

/* State of the packet's connection in sfc_fw_ct, SFC_FW_CT_NONE if none. */
static int ct_state(const struct pk *p, int fam)
{
	uint8_t proto = p->proto ? p->proto : IPPROTO_UDP;
	struct sfc_fw_ct_key k, next, *prev = NULL;
	uint16_t a = htons(p->sport), b = htons(p->dport);
	struct sfc_fw_ct v;

	if (p->icmpx) {
		proto = fam == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		b = a;		/* the echo id plays both ports */
	}
	while (!bpf_map_get_next_key(fw.ct, prev, &next)) {
		k = next;
		prev = &k;
		if (k.family != fam || k.proto != proto ||
		    !((k.port[0] == a && k.port[1] == b) || (k.port[0] == b && k.port[1] == a)))
			continue;
		if (bpf_map_lookup_elem(fw.ct, &k, &v))
			return -1;
		return v.state;
	}
	return SFC_FW_CT_NONE;
}

/* Runs one fixture in family fam; adds what it expects to t. Returns the XDP verdict. */
static int run_fx(const struct fx *f, int fam, struct totals *t)
{
	uint8_t frame[PKT_MAX];
	int ret, want_ret, got_v, got_r, rule, pf;
	struct snap a, b;
	bool opened, want_open, as_expected;
	size_t len;

	pf = pk_family(&f->p, fam);
	len = build(&f->p, fam, frame);
	rule = f->rule + (pf == 6 ? f->r6 : 0);
	snap(&a);
	ret = run_prog(f->p.rev, frame, len);
	snap(&b);
	decided(&a, &b, &got_v, &got_r, &opened);
	want_ret = v_passes(f->v) ? XDP_PASS : XDP_DROP;
	/* An allowed packet opens a connection in stateful mode (the tables
	 * allow only packets that can: SYN, UDP, echo request). */
	want_open = fw.stateful && (f->v == SFC_FW_V_RULE_ALLOW || f->v == SFC_FW_V_DEFAULT_ALLOW);

	if (f->v == V_BAD) {
		t->bad++;
		as_expected = ret == XDP_DROP && got_v == V_NONE;
		CHECK(as_expected,
		      "%s: %s [IPv%d]: want XDP_DROP by the entry, no firewall verdict; got %d, %s",
		      fw.table, f->desc, pf, ret, vstr(got_v));
		return ret;
	}
	as_expected = ret == want_ret && got_v == f->v && opened == want_open &&
		      got_r == (v_has_rule(f->v) ? rule : -1);
	CHECK(as_expected, "%s: %s [IPv%d]: want %s %s rule %d%s; got %s %s rule %d%s",
	      fw.table, f->desc, pf,
	      want_ret == XDP_PASS ? "PASS" : "DROP", vstr(f->v), v_has_rule(f->v) ? rule : -1,
	      want_open ? " +connection" : "", ret == XDP_PASS ? "PASS" : ret == XDP_DROP ? "DROP" : "?",
	      vstr(got_v), got_r, opened ? " +connection" : "");
	if (f->v < SFC_FW_V_MAX) {
		t->want.v[f->v].packets++;
		t->want.v[f->v].bytes += len;
	}
	if (v_has_rule(f->v) && rule >= 0 && rule < MAX_RULES) {
		t->want.r[rule].packets++;
		t->want.r[rule].bytes += len;
	}
	if (want_open) {
		t->want.v[SFC_FW_V_CT_NEW].packets++;
		t->want.v[SFC_FW_V_CT_NEW].bytes += len;
	}
	if (f->ct) {
		int st = ct_state(&f->p, pf);

		CHECK(st == f->ct, "%s: %s [IPv%d]: connection state after it: want %s, got %s",
		      fw.table, f->desc, pf, CTSTR(f->ct), CTSTR(st));
	}
	return ret;
}

/*
 * A fixture runs in the family of its addresses or .fam, else in IPv4; with
 * both_families the table runs twice, the second time in IPv6 (tables that
 * use it have neither addresses nor .fam).
 */
static void run_table(const struct fx *fx, size_t n, bool both_families, struct totals *t)
{
	int fams[2] = { 4, 6 }, i;
	size_t j;

	for (i = 0; i < (both_families ? 2 : 1); i++)
		for (j = 0; j < n; j++)
			run_fx(&fx[j], fams[i], t);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void table(const char *name, const char *config, unsigned int n_rules,
		  const struct fx *fx, size_t n, bool both_families)
{
	struct totals t;

	if (use_config(name, config, n_rules, false))
		return;
	totals_begin(&t);
	run_table(fx, n, both_families, &t);
	totals_check(&t);
}

/* Verdict shorthands for the tables. */
#define ALLOW	SFC_FW_V_RULE_ALLOW
#define DROP	SFC_FW_V_RULE_DROP
#define DEF_ALLOW SFC_FW_V_DEFAULT_ALLOW
#define DEF_DROP SFC_FW_V_DEFAULT_DROP
#define EST	SFC_FW_V_ESTABLISHED
#define RELATED	SFC_FW_V_RELATED
#define INVALID	SFC_FW_V_INVALID
#define LIMITED	SFC_FW_V_RATE_LIMITED

#define TCP .proto = IPPROTO_TCP
#define GRE .proto = 47

/* ---- tables ------------------------------------------------------------- */

static const char cfg_addresses[] =
	"defaultAction: drop\n"
	"rules:\n"
	"  - {action: allow, src: 10.1.0.0/16}\n"
	"  - {action: allow, src: \"2001:db8:1::/48\"}\n"
	"  - {action: allow, dst: 192.0.2.7}\n"
	"  - {action: allow, dst: \"2001:db8:ff::7\"}\n"
	"  - {action: allow, src: 172.16.0.0/12, dst: 198.51.100.0/24}\n"
	"  - {action: allow, src: \"2001:db8:a000::/36\", dst: \"2001:db8:b::/64\"}\n"
	"  - {action: allow, dst: 10.200.7.7/16}\n"
	"  - {action: allow, dst: \"2001:db8:77::1/48\"}\n";

static const struct fx fx_addresses[] = {
	{ "src first address of 10.1.0.0/16", { .src = "10.1.0.0" }, ALLOW, 0 },
	{ "src last address of 10.1.0.0/16", { .src = "10.1.255.255" }, ALLOW, 0 },
	{ "src inside 10.1.0.0/16", { .src = "10.1.2.3" }, ALLOW, 0 },
	{ "src one below 10.1.0.0/16", { .src = "10.0.255.255" }, DEF_DROP },
	{ "src one above 10.1.0.0/16", { .src = "10.2.0.0" }, DEF_DROP },
	{ "dst host 192.0.2.7", { .dst = "192.0.2.7" }, ALLOW, 2 },
	{ "dst host - 1", { .dst = "192.0.2.6" }, DEF_DROP },
	{ "dst host + 1", { .dst = "192.0.2.8" }, DEF_DROP },
	{ "the dst host as a source", { .src = "192.0.2.7" }, DEF_DROP },
	{ "src and dst in, first and last", { .src = "172.16.0.0", .dst = "198.51.100.255" }, ALLOW, 4 },
	{ "src and dst in, last and first", { .src = "172.31.255.255", .dst = "198.51.100.0" }, ALLOW, 4 },
	{ "src one below 172.16.0.0/12", { .src = "172.15.255.255", .dst = "198.51.100.1" }, DEF_DROP },
	{ "src one above 172.16.0.0/12", { .src = "172.32.0.0", .dst = "198.51.100.1" }, DEF_DROP },
	{ "dst one above 198.51.100.0/24", { .src = "172.16.0.1", .dst = "198.51.101.0" }, DEF_DROP },
	{ "src and dst swapped", { .src = "198.51.100.1", .dst = "172.16.0.1" }, DEF_DROP },

	{ "src first address of 2001:db8:1::/48", { .src = "2001:db8:1::" }, ALLOW, 1 },
	{ "src last address of 2001:db8:1::/48",
	  { .src = "2001:db8:1:ffff:ffff:ffff:ffff:ffff" }, ALLOW, 1 },
	{ "src one below 2001:db8:1::/48", { .src = "2001:db8:0:ffff:ffff:ffff:ffff:ffff" }, DEF_DROP },
	{ "src one above 2001:db8:1::/48", { .src = "2001:db8:2::" }, DEF_DROP },
	{ "dst host 2001:db8:ff::7", { .dst = "2001:db8:ff::7" }, ALLOW, 3 },
	{ "dst host - 1", { .dst = "2001:db8:ff::6" }, DEF_DROP },
	{ "dst host + 1", { .dst = "2001:db8:ff::8" }, DEF_DROP },
	{ "src and dst in, first and last",
	  { .src = "2001:db8:a000::", .dst = "2001:db8:b:0:ffff:ffff:ffff:ffff" }, ALLOW, 5 },
	{ "src and dst in, last and first",
	  { .src = "2001:db8:afff:ffff:ffff:ffff:ffff:ffff", .dst = "2001:db8:b::" }, ALLOW, 5 },
	{ "src one below 2001:db8:a000::/36",
	  { .src = "2001:db8:9fff:ffff:ffff:ffff:ffff:ffff", .dst = "2001:db8:b::1" }, DEF_DROP },
	{ "src one above 2001:db8:a000::/36", { .src = "2001:db8:b000::", .dst = "2001:db8:b::1" },
	  DEF_DROP },
	{ "dst one above 2001:db8:b::/64", { .src = "2001:db8:a000::1", .dst = "2001:db8:b:1::" },
	  DEF_DROP },
	{ "IPv4-mapped ::ffff:10.1.2.3 is not 10.1.2.3", { .src = "::ffff:10.1.2.3" }, DEF_DROP },

	/* Host bits below the length are ignored, as iptables does. */
	{ "10.200.7.7/16 is 10.200.0.0/16: first address", { .dst = "10.200.0.0" }, ALLOW, 6 },
	{ "10.200.7.7/16: last address", { .dst = "10.200.255.255" }, ALLOW, 6 },
	{ "10.200.7.7/16: one above", { .dst = "10.201.0.0" }, DEF_DROP },
	{ "2001:db8:77::1/48 is 2001:db8:77::/48", { .dst = "2001:db8:77::" }, ALLOW, 7 },
	{ "2001:db8:77::1/48: last address", { .dst = "2001:db8:77:ffff:ffff:ffff:ffff:ffff" },
	  ALLOW, 7 },
	{ "2001:db8:77::1/48: one above", { .dst = "2001:db8:78::" }, DEF_DROP },
};

/* A format: %s is the path of the set file (set_file_text). */
static const char cfg_sets_fmt[] =
	"defaultAction: drop\n"
	"sets:\n"
	"  corp: [10.0.0.0/8, \"2001:db8:a::/48\"]\n"
	"  lab: [10.1.0.0/16, \"2001:db8:a:1::/64\", 192.0.2.0/24]\n"
	"  partners: [198.51.100.0/24, \"2001:db8:c::/48\", 192.0.2.0/24]\n"
	"  listed: {file: %s}\n"
	"  any: [0.0.0.0/0, \"::/0\"]\n"
	"rules:\n"
	"  - {action: allow, src: \"@corp\", dst: 203.0.113.1}\n"
	"  - {action: allow, src: \"@corp\", dst: \"2001:db8:ff::1\"}\n"
	"  - {action: allow, src: \"@lab\", dst: \"@partners\"}\n"
	"  - {action: drop, src: \"@lab\"}\n"
	"  - {action: allow, src: \"@corp\"}\n"
	"  - {action: allow, dst: \"@partners\"}\n"
	"  - {action: allow, src: \"@listed\", protocol: udp}\n"
	"  - {action: allow, dst: \"@any\", protocol: 47}\n";

static const char set_file_text[] =
	"# a set file: one prefix or address per line\n"
	"203.0.113.128/25\n"
	"\n"
	"198.18.0.1\n"
	"2001:db8:dead::/48\n";

static const struct fx fx_sets[] = {
	{ "10.1.2.3 is in corp (10.0.0.0/8)", { .src = "10.1.2.3", .dst = "203.0.113.1" }, ALLOW, 0 },
	{ "10.1.2.3 is in lab (10.1.0.0/16) too, dst in partners",
	  { .src = "10.1.2.3", .dst = "198.51.100.1" }, ALLOW, 2 },
	{ "10.1.2.3 in lab, dst not in partners", { .src = "10.1.2.3", .dst = "10.0.0.2" }, DROP, 3 },
	{ "lab's first address", { .src = "10.1.0.0" }, DROP, 3 },
	{ "lab's last address", { .src = "10.1.255.255" }, DROP, 3 },
	{ "one below lab: corp only", { .src = "10.0.255.255" }, ALLOW, 4 },
	{ "one above lab: corp only", { .src = "10.2.0.0" }, ALLOW, 4 },
	{ "corp's last address", { .src = "10.255.255.255" }, ALLOW, 4 },
	{ "one above corp", { .src = "11.0.0.0" }, DEF_DROP },
	{ "one below corp", { .src = "9.255.255.255" }, DEF_DROP },
	{ "192.0.2.1: lab but not corp", { .src = "192.0.2.1", .dst = "203.0.113.1" }, DROP, 3 },
	{ "192.0.2.1 -> 192.0.2.2: one prefix in lab and in partners",
	  { .src = "192.0.2.1", .dst = "192.0.2.2" }, ALLOW, 2 },
	{ "no set to partners' last address", { .src = "11.0.0.1", .dst = "198.51.100.255" }, ALLOW, 5 },
	{ "no set to one above partners", { .src = "11.0.0.1", .dst = "198.51.101.0" }, DEF_DROP },

	{ "2001:db8:a:1::3 is in corp", { .src = "2001:db8:a:1::3", .dst = "2001:db8:ff::1" }, ALLOW, 1 },
	{ "2001:db8:a:1::3 is in lab too, dst in partners",
	  { .src = "2001:db8:a:1::3", .dst = "2001:db8:c::1" }, ALLOW, 2 },
	{ "in lab, dst not in partners", { .src = "2001:db8:a:1::3" }, DROP, 3 },
	{ "one below lab: corp only", { .src = "2001:db8:a:0:ffff:ffff:ffff:ffff" }, ALLOW, 4 },
	{ "one above lab: corp only", { .src = "2001:db8:a:2::" }, ALLOW, 4 },
	{ "one above corp", { .src = "2001:db8:b::" }, DEF_DROP },
	{ "one below corp", { .src = "2001:db8:9:ffff:ffff:ffff:ffff:ffff" }, DEF_DROP },
	{ "no set to partners' last address",
	  { .src = "2001:db8::1", .dst = "2001:db8:c:ffff:ffff:ffff:ffff:ffff" }, ALLOW, 5 },
	{ "no set to one above partners", { .src = "2001:db8::1", .dst = "2001:db8:d::" }, DEF_DROP },

	/* The set from a file. */
	{ "first address of a file prefix", { .src = "203.0.113.128" }, ALLOW, 6 },
	{ "last address of a file prefix", { .src = "203.0.113.255" }, ALLOW, 6 },
	{ "one below a file prefix", { .src = "203.0.113.127" }, DEF_DROP },
	{ "a file host", { .src = "198.18.0.1" }, ALLOW, 6 },
	{ "next to a file host", { .src = "198.18.0.2" }, DEF_DROP },
	{ "a file host, tcp (the rule is udp)", { .src = "198.18.0.1", TCP, .dport = 1 }, DEF_DROP },
	{ "an IPv6 file prefix", { .src = "2001:db8:dead:ffff::1" }, ALLOW, 6 },
	{ "one above the IPv6 file prefix", { .src = "2001:db8:deae::" }, DEF_DROP },

	/* A set holding /0: every other entry of the trie must carry it. */
	{ "GRE to 10.1.2.3 (in lab, corp and 0.0.0.0/0)", { .src = "11.0.0.1", .dst = "10.1.2.3", GRE },
	  ALLOW, 7 },
	{ "GRE to 11.0.0.2 (only in 0.0.0.0/0)", { .src = "11.0.0.1", .dst = "11.0.0.2", GRE }, ALLOW, 7 },
	{ "GRE to 2001:db8:a:1::5 (in lab, corp and ::/0)",
	  { .src = "2001:db8:1::1", .dst = "2001:db8:a:1::5", GRE }, ALLOW, 7 },
	{ "GRE to 2001:db9::5 (only in ::/0)", { .src = "2001:db8:1::1", .dst = "2001:db9::5", GRE },
	  ALLOW, 7 },
};

static const char cfg_ports[] =
	"defaultAction: drop\n"
	"rules:\n"
	"  - {action: allow, protocol: tcp, dstPort: 22}\n"
	"  - {action: allow, protocol: tcp, dstPort: [80, 443, \"8000-8100\"]}\n"
	"  - {action: allow, protocol: udp, srcPort: \"1000-2000\"}\n"
	"  - {action: allow, protocol: udp, srcPort: 5353, dstPort: 53}\n"
	"  - {action: drop, protocol: tcp}\n"
	"  - {action: allow, protocol: 47}\n";

static const struct fx fx_ports[] = {
	{ "tcp to 22", { TCP, .sport = 40000, .dport = 22 }, ALLOW, 0 },
	{ "tcp to 21", { TCP, .sport = 40000, .dport = 21 }, DROP, 4 },
	{ "tcp to 23", { TCP, .sport = 40000, .dport = 23 }, DROP, 4 },
	{ "tcp from 22 (the rule is on dstPort)", { TCP, .sport = 22, .dport = 40000 }, DROP, 4 },
	{ "tcp to 80 (list)", { TCP, .sport = 40000, .dport = 80 }, ALLOW, 1 },
	{ "tcp to 79", { TCP, .sport = 40000, .dport = 79 }, DROP, 4 },
	{ "tcp to 81", { TCP, .sport = 40000, .dport = 81 }, DROP, 4 },
	{ "tcp to 443 (list)", { TCP, .sport = 40000, .dport = 443 }, ALLOW, 1 },
	{ "tcp to 7999", { TCP, .sport = 40000, .dport = 7999 }, DROP, 4 },
	{ "tcp to 8000 (range start)", { TCP, .sport = 40000, .dport = 8000 }, ALLOW, 1 },
	{ "tcp to 8001", { TCP, .sport = 40000, .dport = 8001 }, ALLOW, 1 },
	{ "tcp to 8064", { TCP, .sport = 40000, .dport = 8064 }, ALLOW, 1 },
	{ "tcp to 8099", { TCP, .sport = 40000, .dport = 8099 }, ALLOW, 1 },
	{ "tcp to 8100 (range end)", { TCP, .sport = 40000, .dport = 8100 }, ALLOW, 1 },
	{ "tcp to 8101", { TCP, .sport = 40000, .dport = 8101 }, DROP, 4 },
	{ "tcp to port 0", { TCP, .sport = 40000, .dport = 0 }, DROP, 4 },
	{ "udp from 999", { .sport = 999, .dport = 9 }, DEF_DROP },
	{ "udp from 1000 (range start)", { .sport = 1000, .dport = 9 }, ALLOW, 2 },
	{ "udp from 1001", { .sport = 1001, .dport = 9 }, ALLOW, 2 },
	{ "udp from 1024", { .sport = 1024, .dport = 9 }, ALLOW, 2 },
	{ "udp from 1999", { .sport = 1999, .dport = 9 }, ALLOW, 2 },
	{ "udp from 2000 (range end)", { .sport = 2000, .dport = 9 }, ALLOW, 2 },
	{ "udp from 2001", { .sport = 2001, .dport = 9 }, DEF_DROP },
	{ "udp 5353 -> 53 (both ports)", { .sport = 5353, .dport = 53 }, ALLOW, 3 },
	{ "udp 5353 -> 54", { .sport = 5353, .dport = 54 }, DEF_DROP },
	{ "udp 5352 -> 53", { .sport = 5352, .dport = 53 }, DEF_DROP },
	{ "udp 53 -> 5353 (reversed)", { .sport = 53, .dport = 5353 }, DEF_DROP },
	{ "udp to 22 (the rule is tcp)", { .sport = 40000, .dport = 22 }, DEF_DROP },
	{ "GRE (protocol 47, no ports)", { GRE }, ALLOW, 5 },
	{ "SCTP (protocol 132)", { .proto = 132 }, DEF_DROP },
	{ "echo request", { .icmpx = IX_ECHO_REQ, .sport = 1 }, DEF_DROP },
};

static const char cfg_ranges[] =
	"defaultAction: drop\n"
	"rules:\n"
	"  - {action: allow, protocol: tcp, dstPort: \"1024-65535\"}\n"
	"  - {action: allow, protocol: tcp, srcPort: [22, \"20-25\", 21]}\n"
	"  - {action: allow, protocol: udp, srcPort: \"100-200\", dstPort: \"300-400\"}\n"
	"  - {action: drop, protocol: udp, dstPort: \"1-65535\"}\n"
	"  - {action: drop, protocol: tcp}\n";

static const struct fx fx_ranges[] = {
	{ "tcp to 1023", { TCP, .sport = 40000, .dport = 1023 }, DROP, 4 },
	{ "tcp to 1024 (range start)", { TCP, .sport = 40000, .dport = 1024 }, ALLOW, 0 },
	{ "tcp to 1025", { TCP, .sport = 40000, .dport = 1025 }, ALLOW, 0 },
	{ "tcp to 32767", { TCP, .sport = 40000, .dport = 32767 }, ALLOW, 0 },
	{ "tcp to 32768", { TCP, .sport = 40000, .dport = 32768 }, ALLOW, 0 },
	{ "tcp to 65534", { TCP, .sport = 40000, .dport = 65534 }, ALLOW, 0 },
	{ "tcp to 65535 (range end)", { TCP, .sport = 40000, .dport = 65535 }, ALLOW, 0 },
	{ "tcp from 19", { TCP, .sport = 19, .dport = 80 }, DROP, 4 },
	{ "tcp from 20 (overlapping list)", { TCP, .sport = 20, .dport = 80 }, ALLOW, 1 },
	{ "tcp from 21", { TCP, .sport = 21, .dport = 80 }, ALLOW, 1 },
	{ "tcp from 22", { TCP, .sport = 22, .dport = 80 }, ALLOW, 1 },
	{ "tcp from 25", { TCP, .sport = 25, .dport = 80 }, ALLOW, 1 },
	{ "tcp from 26", { TCP, .sport = 26, .dport = 80 }, DROP, 4 },
	{ "udp 100 -> 300 (both ranges' starts)", { .sport = 100, .dport = 300 }, ALLOW, 2 },
	{ "udp 200 -> 400 (both ranges' ends)", { .sport = 200, .dport = 400 }, ALLOW, 2 },
	{ "udp 150 -> 350", { .sport = 150, .dport = 350 }, ALLOW, 2 },
	{ "udp 128 -> 384", { .sport = 128, .dport = 384 }, ALLOW, 2 },
	{ "udp 99 -> 300", { .sport = 99, .dport = 300 }, DROP, 3 },
	{ "udp 201 -> 300", { .sport = 201, .dport = 300 }, DROP, 3 },
	{ "udp 100 -> 299", { .sport = 100, .dport = 299 }, DROP, 3 },
	{ "udp 100 -> 401", { .sport = 100, .dport = 401 }, DROP, 3 },
	{ "udp to 0 (outside 1-65535)", { .sport = 1, .dport = 0 }, DEF_DROP },
	{ "udp to 1", { .sport = 1, .dport = 1 }, DROP, 3 },
	{ "udp to 65535", { .sport = 1, .dport = 65535 }, DROP, 3 },
};

static const char cfg_icmp[] =
	"defaultAction: allow\n"
	"rules:\n"
	"  - {action: allow, protocol: icmp, icmpType: echo-request}\n"
	"  - {action: allow, protocol: icmp, icmpType: 3, icmpCode: 4}\n"
	"  - {action: allow, protocol: icmpv6, icmpType: echo-request}\n"
	"  - {action: allow, protocol: icmpv6, icmpType: 2, icmpCode: 0}\n"
	"  - {action: drop, protocol: icmp}\n"
	"  - {action: drop, protocol: icmpv6}\n"
	"  - {action: drop, protocol: 0}\n";

#define ICMP4(t, c) { .fam = 4, .proto = IPPROTO_ICMP, .itype = t, .icode = c }
#define ICMP6(t, c) { .fam = 6, .proto = IPPROTO_ICMPV6, .itype = t, .icode = c }

static const struct fx fx_icmp[] = {
	{ "echo request (8/0)", ICMP4(8, 0), ALLOW, 0 },
	{ "echo request, code 1 (the rule has no code)", ICMP4(8, 1), ALLOW, 0 },
	{ "echo reply (0/0)", ICMP4(0, 0), DROP, 4 },
	{ "frag needed (3/4)", ICMP4(3, 4), ALLOW, 1 },
	{ "port unreachable (3/3)", ICMP4(3, 3), DROP, 4 },
	{ "3/5", ICMP4(3, 5), DROP, 4 },
	{ "type 4 code 4", ICMP4(4, 4), DROP, 4 },
	{ "time exceeded (11/0)", ICMP4(11, 0), DROP, 4 },
	{ "type 128 (ICMPv6's echo request) in ICMP", ICMP4(128, 0), DROP, 4 },
	{ "ICMPv6 in IPv4 (protocol 58)", { .fam = 4, .proto = 58 }, DEF_ALLOW },
	{ "udp", { .fam = 4, .sport = 1, .dport = 2 }, DEF_ALLOW },
	{ "IPv4 protocol 0 (protocol: 0 is not any)", { .fam = 4, .proto0 = true }, DROP, 6 },

	{ "echo request (128/0)", ICMP6(128, 0), ALLOW, 2 },
	{ "echo reply (129/0)", ICMP6(129, 0), DROP, 5 },
	{ "packet too big (2/0)", ICMP6(2, 0), ALLOW, 3 },
	{ "2/1", ICMP6(2, 1), DROP, 5 },
	{ "port unreachable (1/4)", ICMP6(1, 4), DROP, 5 },
	{ "type 8 (ICMP's echo request) in ICMPv6", ICMP6(8, 0), DROP, 5 },
	{ "ICMP in IPv6 (next header 1): protocol icmp means IPv4", { .fam = 6, .proto = 1 },
	  DEF_ALLOW },
	{ "udp", { .fam = 6, .sport = 1, .dport = 2 }, DEF_ALLOW },
};

static const char cfg_flags[] =
	"defaultAction: drop\n"
	"rules:\n"
	"  - {action: allow, protocol: tcp, dstPort: 80, tcpFlags: {set: [syn], unset: [ack]}}\n"
	"  - {action: drop, protocol: tcp, tcpFlags: {set: [syn, fin]}}\n"
	"  - {action: allow, protocol: tcp, tcpFlags: {set: [ack]}}\n"
	"  - {action: allow, protocol: tcp, tcpFlags: {set: [rst], unset: [ack]}}\n"
	"  - {action: allow, protocol: tcp, tcpFlags: {unset: [syn, ack, rst, fin]}}\n";

#define FL(f, port) { TCP, .sport = 40000, .dport = port, .flags = f }

static const struct fx fx_flags[] = {
	{ "SYN to 80", FL(TCP_SYN, 80), ALLOW, 0 },
	{ "SYN|ECE|CWR to 80 (flags outside set|unset are free)", FL(TCP_SYN | TCP_ECE | TCP_CWR, 80),
	  ALLOW, 0 },
	{ "SYN|FIN to 80 (rule 0 first)", FL(TCP_SYN | TCP_FIN, 80), ALLOW, 0 },
	{ "SYN|ACK to 80 (ack must be unset)", FL(TCP_SYN | TCP_ACK, 80), ALLOW, 2 },
	{ "SYN to 81", FL(TCP_SYN, 81), DEF_DROP },
	{ "SYN|FIN to 81", FL(TCP_SYN | TCP_FIN, 81), DROP, 1 },
	{ "SYN|FIN|ACK to 81", FL(TCP_SYN | TCP_FIN | TCP_ACK, 81), DROP, 1 },
	{ "SYN|FIN|PSH|URG to 81", FL(TCP_SYN | TCP_FIN | TCP_PSH | TCP_URG, 81), DROP, 1 },
	{ "ACK", FL(TCP_ACK, 81), ALLOW, 2 },
	{ "PSH|ACK", FL(TCP_PSH | TCP_ACK, 81), ALLOW, 2 },
	{ "FIN|ACK", FL(TCP_FIN | TCP_ACK, 81), ALLOW, 2 },
	{ "RST", FL(TCP_RST, 81), ALLOW, 3 },
	{ "RST|ACK (rule 2 first)", FL(TCP_RST | TCP_ACK, 81), ALLOW, 2 },
	{ "FIN alone", FL(TCP_FIN, 81), DEF_DROP },
	{ "no flags (unset only)", FL(0, 81), ALLOW, 4 },
	{ "PSH|URG (unset only)", FL(TCP_PSH | TCP_URG, 81), ALLOW, 4 },
	{ "FIN|PSH|URG", FL(TCP_FIN | TCP_PSH | TCP_URG, 81), DEF_DROP },
	{ "all flags", FL(0xff, 81), DROP, 1 },
	{ "udp to 80 (flag rules are tcp)", { .sport = 40000, .dport = 80 }, DEF_DROP },
};

/* No defaultAction: drop is the default. */
static const char cfg_vlan[] =
	"rules:\n"
	"  - {action: allow, vlan: 100}\n"
	"  - {action: allow, vlan: 4094}\n"
	"  - {action: drop, vlan: 1, protocol: udp, dstPort: 53}\n"
	"  - {action: allow, protocol: udp, dstPort: 53}\n";

static const struct fx fx_vlan[] = {
	{ "untagged", { .sport = 1, .dport = 2 }, DEF_DROP },
	{ "VLAN 100", { .vlan = 100, .sport = 1, .dport = 2 }, ALLOW, 0 },
	{ "VLAN 100, tcp", { .vlan = 100, TCP, .sport = 1, .dport = 2, .flags = TCP_SYN }, ALLOW, 0 },
	{ "VLAN 99", { .vlan = 99, .sport = 1, .dport = 2 }, DEF_DROP },
	{ "VLAN 101", { .vlan = 101, .sport = 1, .dport = 2 }, DEF_DROP },
	{ "VLAN 4094", { .vlan = 4094, .sport = 1, .dport = 2 }, ALLOW, 1 },
	{ "VLAN 1 to 53", { .vlan = 1, .sport = 1, .dport = 53 }, DROP, 2 },
	{ "VLAN 1 to 54", { .vlan = 1, .sport = 1, .dport = 54 }, DEF_DROP },
	{ "untagged to 53 (no vlan: any)", { .sport = 1, .dport = 53 }, ALLOW, 3 },
	{ "VLAN 7 to 53", { .vlan = 7, .sport = 1, .dport = 53 }, ALLOW, 3 },
	{ "QinQ outer 100 inner 200 (the outer tag counts)",
	  { .vlan = 100, .vlan2 = 200, .sport = 1, .dport = 2 }, ALLOW, 0 },
	{ "QinQ outer 200 inner 100", { .vlan = 200, .vlan2 = 100, .sport = 1, .dport = 2 },
	  DEF_DROP },
};

static const char cfg_frag[] =
	"defaultAction: drop\n"
	"rules:\n"
	"  - {action: allow, protocol: udp, dstPort: 53}\n"
	"  - {action: allow, fragment: true, dst: 10.0.0.53}\n"
	"  - {action: allow, fragment: true, dst: \"2001:db8::53\"}\n"
	"  - {action: allow, protocol: tcp, fragment: false}\n"
	"  - {action: drop, fragment: true}\n";

static const struct fx fx_frag[] = {
	{ "unfragmented udp to :53", { .dst = "10.0.0.53", .sport = 1, .dport = 53 }, ALLOW, 0 },
	{ "first fragment udp to :53 (has ports)",
	  { .dst = "10.0.0.54", .sport = 1, .dport = 53, .frag = F_FIRST }, ALLOW, 0 },
	{ "non-first fragment to 10.0.0.53", { .dst = "10.0.0.53", .frag = F_LATER }, ALLOW, 1 },
	{ "last fragment to 10.0.0.53", { .dst = "10.0.0.53", .frag = F_LAST }, ALLOW, 1 },
	{ "non-first fragment to 10.0.0.54 (no ports: not rule 0)",
	  { .dst = "10.0.0.54", .frag = F_LATER }, DROP, 4 },
	{ "unfragmented udp to 10.0.0.54:54", { .dst = "10.0.0.54", .sport = 1, .dport = 54 },
	  DEF_DROP },
	{ "first fragment udp to 10.0.0.53:54 (not a later fragment)",
	  { .dst = "10.0.0.53", .sport = 1, .dport = 54, .frag = F_FIRST }, DEF_DROP },
	{ "unfragmented tcp", { .dst = "10.0.0.54", TCP, .sport = 1, .dport = 2 }, ALLOW, 3 },
	{ "first fragment tcp", { .dst = "10.0.0.54", TCP, .sport = 1, .dport = 2, .frag = F_FIRST },
	  ALLOW, 3 },
	{ "non-first fragment tcp", { .dst = "10.0.0.54", TCP, .frag = F_LATER }, DROP, 4 },
	{ "udp to :53 after 8 bytes of IP options",
	  { .dst = "10.0.0.54", .sport = 1, .dport = 53, .ipopts = true }, ALLOW, 0 },

	{ "unfragmented udp to :53", { .dst = "2001:db8::53", .sport = 1, .dport = 53 }, ALLOW, 0 },
	{ "first fragment udp to :53 (has ports)",
	  { .dst = "2001:db8::54", .sport = 1, .dport = 53, .frag = F_FIRST }, ALLOW, 0 },
	{ "non-first fragment to 2001:db8::53", { .dst = "2001:db8::53", .frag = F_LATER }, ALLOW, 2 },
	{ "last fragment to 2001:db8::53", { .dst = "2001:db8::53", .frag = F_LAST }, ALLOW, 2 },
	{ "non-first fragment to 2001:db8::54", { .dst = "2001:db8::54", .frag = F_LATER }, DROP, 4 },
	{ "unfragmented udp to [2001:db8::54]:54", { .dst = "2001:db8::54", .sport = 1, .dport = 54 },
	  DEF_DROP },
	{ "first fragment udp to [2001:db8::53]:54",
	  { .dst = "2001:db8::53", .sport = 1, .dport = 54, .frag = F_FIRST }, DEF_DROP },
	{ "unfragmented tcp", { .dst = "2001:db8::54", TCP, .sport = 1, .dport = 2 }, ALLOW, 3 },
	{ "first fragment tcp",
	  { .dst = "2001:db8::54", TCP, .sport = 1, .dport = 2, .frag = F_FIRST }, ALLOW, 3 },
	{ "non-first fragment tcp", { .dst = "2001:db8::54", TCP, .frag = F_LATER }, DROP, 4 },
	{ "udp to :53 after a destination options header",
	  { .dst = "2001:db8::54", .sport = 1, .dport = 53, .ext6 = true }, ALLOW, 0 },
};

static const char cfg_order[] =
	"defaultAction: allow\n"
	"rules:\n"
	"  - {action: drop, family: ipv6, protocol: udp, dstPort: 9}\n"
	"  - {action: drop, family: ipv4, protocol: udp, dstPort: 10}\n"
	"  - {action: allow, src: 10.0.0.0/8}\n"
	"  - {action: drop, src: 10.1.0.0/16}\n"
	"  - {action: allow, src: \"2001:db8:a::/48\"}\n"
	"  - {action: drop, src: \"2001:db8:a:1::/64\"}\n"
	"  - {action: drop, src: 172.16.5.0/24}\n"
	"  - {action: allow, src: 172.16.0.0/16}\n"
	"  - {action: drop, src: \"2001:db8:b:1::/64\"}\n"
	"  - {action: allow, src: \"2001:db8:b::/48\"}\n"
	"  - {action: drop, family: ipv4, protocol: udp, dstPort: 11}\n"
	"  - {action: drop, family: ipv6, protocol: udp, dstPort: 11}\n";

static const struct fx fx_order[] = {
	{ "IPv4 udp to 9 (the drop is IPv6 only)", { .src = "192.0.2.1", .dport = 9 }, DEF_ALLOW },
	{ "IPv6 udp to 9", { .src = "2001:db9::1", .dport = 9 }, DROP, 0 },
	{ "IPv4 udp to 10", { .src = "192.0.2.1", .dport = 10 }, DROP, 1 },
	{ "IPv6 udp to 10 (the drop is IPv4 only)", { .src = "2001:db9::1", .dport = 10 }, DEF_ALLOW },
	{ "10.1.2.3 to 10: the family rule comes first", { .src = "10.1.2.3", .dport = 10 }, DROP, 1 },
	{ "10.1.2.3: broad allow before the narrow drop", { .src = "10.1.2.3" }, ALLOW, 2 },
	{ "10.9.9.9", { .src = "10.9.9.9" }, ALLOW, 2 },
	{ "2001:db8:a:1::3: broad allow before the narrow drop", { .src = "2001:db8:a:1::3" }, ALLOW,
	  4 },
	{ "2001:db8:a::1 to 9: the family rule comes first", { .src = "2001:db8:a::1", .dport = 9 },
	  DROP, 0 },
	{ "172.16.5.1: narrow drop before the broad allow", { .src = "172.16.5.1" }, DROP, 6 },
	{ "172.16.6.1", { .src = "172.16.6.1" }, ALLOW, 7 },
	{ "172.17.0.1: no rule", { .src = "172.17.0.1" }, DEF_ALLOW },
	{ "2001:db8:b:1::3: narrow drop before the broad allow", { .src = "2001:db8:b:1::3" }, DROP,
	  8 },
	{ "2001:db8:b:2::3", { .src = "2001:db8:b:2::3" }, ALLOW, 9 },
	{ "2001:db8:c::3: no rule", { .src = "2001:db8:c::3" }, DEF_ALLOW },
	/* Rules 1 and 10 share a tuple, tried first (its lowest rule is 1):
	 * its match, rule 10, must not end the search before rule 2's tuple. */
	{ "10.1.2.3 to 11: rule 2 before rule 10 of an earlier tuple",
	  { .src = "10.1.2.3", .dport = 11 }, ALLOW, 2 },
	{ "192.0.2.1 to 11", { .src = "192.0.2.1", .dport = 11 }, DROP, 10 },
	{ "2001:db8:a:1::3 to 11: rule 4 before rule 11 of an earlier tuple",
	  { .src = "2001:db8:a:1::3", .dport = 11 }, ALLOW, 4 },
	{ "2001:db9::1 to 11", { .src = "2001:db9::1", .dport = 11 }, DROP, 11 },

	/* Malformed: the entry drops them, the firewall never sees them. */
	{ "TCP header cut to 10 bytes", { .fam = 4, TCP, .dport = 80, .trunc = true }, V_BAD },
	{ "TCP header cut to 10 bytes", { .fam = 6, TCP, .dport = 80, .trunc = true }, V_BAD },
	{ "TCP data offset 4", { .fam = 4, TCP, .dport = 80, .doff4 = true }, V_BAD },
	{ "TCP data offset 4", { .fam = 6, TCP, .dport = 80, .doff4 = true }, V_BAD },
};

/* ---- rate limit --------------------------------------------------------- */

static const char cfg_rate[] =
	"defaultAction: drop\n"
	"rules:\n"
	"  - {action: allow, protocol: udp, dstPort: 9, rateLimit: {pps: 10, burst: 5}}\n"
	"  - {action: allow, protocol: udp, dstPort: 10}\n"
	"  - {action: allow, protocol: udp, dstPort: 11, rateLimit: {pps: 3}}\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_rate_limit(void)
{
	static const struct fx f_ok = { "udp to 9 within the rate", { .sport = 1, .dport = 9 },
					ALLOW, 0 };
	static const struct fx f_over = { "udp to 9 over the rate", { .sport = 1, .dport = 9 },
					  LIMITED, 0 };
	static const struct fx f_other = { "udp to 10 (no limit)", { .sport = 1, .dport = 10 },
					   ALLOW, 1 };
	static const struct fx f_3ok = { "udp to 11 within the default burst (= pps, 3)",
					 { .sport = 1, .dport = 11 }, ALLOW, 2 };
	static const struct fx f_3over = { "udp to 11 over the default burst",
					   { .sport = 1, .dport = 11 }, LIMITED, 2 };
	struct totals t;
	int i, fam, passed;
	double t0, t1;

	if (use_config("rate limit", cfg_rate, 3, false))
		return;
	totals_begin(&t);
	/*
	 * The bucket starts full (burst 5) and hardly refills between back-to-back
	 * test runs (10 pps: one token per 100 ms), so of 20 packets exactly
	 * the first 5 pass. After an idle second it is full again, but it
	 * holds no more than the burst: again 5, not 10.
	 */
	for (fam = 4; fam <= 6; fam += 2) {
		for (i = 0; i < 20; i++) {
			run_fx(i < 5 ? &f_ok : &f_over, fam, &t);
			if (i % 5 == 0)
				run_fx(&f_other, fam, &t);
		}
		if (fam == 4)
			sleep(1);
	}
	for (i = 0; i < 6; i++)
		run_fx(i < 3 ? &f_3ok : &f_3over, 4, &t);
	totals_check(&t);

	/*
	 * The rate itself: from an empty bucket, one packet every 50 ms for a
	 * second. About 10 pass, one per 100 ms of credit; the exact count
	 * depends on how late the sleeps wake (each wake-up adds its lateness to
	 * the credit) and on where in its 100 ms the last token stood, so
	 * allow one either way of elapsed time * 10.
	 */
	t0 = now_s();
	passed = 0;
	for (i = 0; i < 20; i++) {
		uint8_t frame[PKT_MAX];
		size_t len;

		usleep(50000);
		len = build(&f_ok.p, 4, frame);
		passed += run_prog(false, frame, len) == XDP_PASS;
	}
	t1 = now_s();
	CHECK(passed >= (int)((t1 - t0) * 10) - 1 && passed <= (int)((t1 - t0) * 10) + 1,
	      "rate limit: 20 packets paced at 20/s over %.3f s: want about %.1f to pass, %d did",
	      t1 - t0, (t1 - t0) * 10, passed);
}

/*
 * Buckets belong to the rule set: a new one (here only a comment changed)
 * starts full; an apply that changes nothing keeps the running one. At 1 pps
 * hardly any credit comes back meanwhile, so 3 passing means a new bucket.
 */
static const char cfg_fresh1[] =
	"rules:\n"
	"  - {action: allow, protocol: udp, dstPort: 9, rateLimit: {pps: 1, burst: 3}}\n";
static const char cfg_fresh2[] =
	"rules:\n"
	"  - {action: allow, protocol: udp, dstPort: 9, rateLimit: {pps: 1, burst: 3}, comment: x}\n";

static void test_fresh_buckets(void)
{
	static const struct fx ok = { "udp to 9 within the burst", { .sport = 1, .dport = 9 }, ALLOW, 0 };
	static const struct fx over = { "udp to 9 over the rate", { .sport = 1, .dport = 9 }, LIMITED, 0 };
	const char *cfg[2] = { cfg_fresh1, cfg_fresh2 };
	enum sfc_apply_result res;
	unsigned int gen;
	struct totals t;
	int i, j, err;

	for (j = 0; j < 2; j++) {
		if (use_config(j ? "rate limit, new rule set" : "rate limit, 1 pps", cfg[j], 1, false))
			return;
		totals_begin(&t);
		for (i = 0; i < 5; i++)
			run_fx(i < 3 ? &ok : &over, 4, &t);
		totals_check(&t);
	}
	gen = generation();
	err = apply(cfg_fresh2, &res);
	CHECK(!err && res == SFC_APPLY_UNCHANGED && generation() == gen,
	      "the same config again: want unchanged, generation %u; got %d %s, generation %u", gen,
	      err, sfc_apply_result__str(res), generation());
	fw.table = "rate limit, unchanged";
	totals_begin(&t);
	run_fx(&over, 4, &t);
	totals_check(&t);
}

/* ---- stateful ----------------------------------------------------------- */

static const char cfg_stateful[] =
	"defaultAction: drop\n"
	"stateful: true\n"
	"sets:\n"
	"  client: [10.0.0.1, \"2001:db8::1\"]\n"
	"  server: [10.0.0.2, \"2001:db8::2\"]\n"
	"rules:\n"
	"  - {action: allow, protocol: tcp, src: \"@client\", dst: \"@server\", dstPort: 80}\n"
	"  - {action: allow, protocol: udp, src: \"@client\", dst: \"@server\", dstPort: 53}\n"
	"  - {action: allow, protocol: icmp, icmpType: echo-request, src: \"@client\"}\n"
	"  - {action: allow, protocol: icmpv6, icmpType: echo-request, src: \"@client\"}\n";

/* A segment of the client (port) to server:80 and one back. */
#define CLI(port, fl, sq, ak, ...) \
	{ TCP, .sport = port, .dport = 80, .flags = fl, .seq = sq, .ack = ak, __VA_ARGS__ }
#define SRV(port, fl, sq, ak, ...) \
	{ .rev = true, TCP, .sport = 80, .dport = port, .flags = fl, .seq = sq, .ack = ak, __VA_ARGS__ }

#define SA (TCP_SYN | TCP_ACK)
#define PA (TCP_PSH | TCP_ACK)
#define FA (TCP_FIN | TCP_ACK)

static const struct pk q_tcp = CLI(40001, TCP_SYN, 1000, 0);
static const struct pk q_udp = { .sport = 40000, .dport = 53 };
static const struct pk q_none = CLI(40099, TCP_SYN, 1000, 0);
static const struct pk q_echo = { .icmpx = IX_ECHO_REQ, .sport = 7 };

static const struct fx fx_stateful[] = {
	/* Connection A, 40000 -> 80: handshake, data, teardown. */
	{ "server's SYN+ACK before the client's SYN", SRV(40000, SA, 5000, 1001), INVALID },
	{ "unsolicited ACK, no connection", CLI(40000, TCP_ACK, 1001, 5001), INVALID },
	{ "client SYN", CLI(40000, TCP_SYN, 1000, 0), ALLOW, 0, .ct = SFC_FW_CT_SYN_SENT },
	{ "client SYN retransmitted", CLI(40000, TCP_SYN, 1000, 0), EST, .ct = SFC_FW_CT_SYN_SENT },
	{ "server SYN+ACK acking the wrong sequence", SRV(40000, SA, 5000, 1002), INVALID },
	{ "server SYN+ACK", SRV(40000, SA, 5000, 1001), EST, .ct = SFC_FW_CT_SYN_RECV },
	{ "client ACK", CLI(40000, TCP_ACK, 1001, 5001), EST, .ct = SFC_FW_CT_ESTABLISHED },
	{ "client data", CLI(40000, PA, 1001, 5001, .len = 100), EST },
	{ "server data", SRV(40000, PA, 5001, 1101, .len = 200), EST },
	{ "client ACK of the server's data", CLI(40000, TCP_ACK, 1101, 5201), EST },
	{ "client data 2^30 beyond the window", CLI(40000, PA, 1101 + (1u << 30), 5201, .len = 10),
	  INVALID },
	{ "server ACK of data never sent", SRV(40000, TCP_ACK, 5201, 101101), INVALID },
	{ "client FIN", CLI(40000, FA, 1101, 5201), EST, .ct = SFC_FW_CT_FIN_WAIT },
	{ "server ACK of the FIN", SRV(40000, TCP_ACK, 5201, 1102), EST },
	{ "server FIN", SRV(40000, FA, 5201, 1102), EST, .ct = SFC_FW_CT_CLOSING },
	{ "client ACK of the FIN", CLI(40000, TCP_ACK, 1102, 5202), EST, .ct = SFC_FW_CT_CLOSING },
	{ "server data 2^30 beyond the window", SRV(40000, PA, 5202 + (1u << 30), 1102, .len = 10),
	  INVALID },

	/* Connection B, 40001 -> 80: window scale 7 on both SYNs; the client's
	 * SYN has Linux's options (MSS, SACK permitted, timestamps, NOP, WS). */
	{ "client SYN, window scale 7", CLI(40001, TCP_SYN, 1000, 0, .ws = WS(7), .fullopts = true),
	  ALLOW, 0 },
	{ "server SYN+ACK, window scale 7", SRV(40001, SA, 5000, 1001, .ws = WS(7)), EST },
	{ "client ACK, window 1024 << 7", CLI(40001, TCP_ACK, 1001, 5001, .win = 1024), EST },
	{ "server ACK, window 1024 << 7", SRV(40001, TCP_ACK, 5001, 1001, .win = 1024), EST },
	{ "client data 100000 bytes on: beyond 65535, within 1024 << 7 = 131072",
	  CLI(40001, PA, 101001, 5001, .win = 1024, .len = 100), EST },
	{ "client data 140000 bytes on: beyond the scaled window",
	  CLI(40001, PA, 141001, 5001, .win = 1024, .len = 100), INVALID },

	/* Connection D, 40004: only the client offers window scaling, so
	 * neither side scales (RFC 7323 1.3). */
	{ "client SYN, window scale 7", CLI(40004, TCP_SYN, 1000, 0, .ws = WS(7)), ALLOW, 0 },
	{ "server SYN+ACK, no window scale", SRV(40004, SA, 5000, 1001), EST },
	{ "client ACK, window 1024", CLI(40004, TCP_ACK, 1001, 5001, .win = 1024), EST },
	{ "server ACK, window 1024 (not scaled)", SRV(40004, TCP_ACK, 5001, 1001, .win = 1024), EST },
	{ "client data 100000 bytes on: beyond the unscaled window",
	  CLI(40004, PA, 101001, 5001, .win = 1024, .len = 100), INVALID },

	/* Connection C, 40002: closed by a RST. */
	{ "client SYN", CLI(40002, TCP_SYN, 1000, 0), ALLOW, 0, .ct = SFC_FW_CT_SYN_SENT },
	{ "server SYN+ACK", SRV(40002, SA, 5000, 1001), EST, .ct = SFC_FW_CT_SYN_RECV },
	{ "server SYN+ACK retransmitted", SRV(40002, SA, 5000, 1001), EST, .ct = SFC_FW_CT_SYN_RECV },
	{ "client ACK", CLI(40002, TCP_ACK, 1001, 5001), EST, .ct = SFC_FW_CT_ESTABLISHED },
	{ "a new SYN while established", CLI(40002, TCP_SYN, 9000, 0), INVALID },
	{ "server RST 2^30 beyond the window", SRV(40002, TCP_RST, 5001 + (1u << 30), 0), INVALID,
	  .ct = SFC_FW_CT_ESTABLISHED },
	{ "server RST in window", SRV(40002, TCP_RST, 5001, 0), EST, .ct = SFC_FW_CT_CLOSED },
	{ "a new SYN on the closed connection's ports", CLI(40002, TCP_SYN, 20000, 0), ALLOW, 0,
	  .ct = SFC_FW_CT_SYN_SENT },

	/* Connection E, 40007: refused. */
	{ "client SYN", CLI(40007, TCP_SYN, 1000, 0), ALLOW, 0 },
	{ "server RST|ACK acking the wrong sequence", SRV(40007, TCP_RST | TCP_ACK, 0, 1002),
	  INVALID, .ct = SFC_FW_CT_SYN_SENT },
	{ "server RST|ACK (connection refused)", SRV(40007, TCP_RST | TCP_ACK, 0, 1001), EST,
	  .ct = SFC_FW_CT_CLOSED },

	/* UDP 40000 -> 53. */
	{ "udp reply before any request", { .rev = true, .sport = 53, .dport = 40000 }, DEF_DROP },
	{ "udp request", { .sport = 40000, .dport = 53 }, ALLOW, 1, .ct = SFC_FW_CT_UNREPLIED },
	{ "udp reply", { .rev = true, .sport = 53, .dport = 40000 }, EST, .ct = SFC_FW_CT_ESTABLISHED },
	{ "udp to another client port", { .rev = true, .sport = 53, .dport = 40001 }, DEF_DROP },
	{ "udp from another server port", { .rev = true, .sport = 54, .dport = 40000 }, DEF_DROP },
	{ "udp request again", { .sport = 40000, .dport = 53 }, EST },

	/* The VLAN is part of a connection. */
	{ "udp request on VLAN 10", { .vlan = 10, .sport = 40010, .dport = 53 }, ALLOW, 1 },
	{ "its reply on VLAN 10", { .rev = true, .vlan = 10, .sport = 53, .dport = 40010 }, EST },
	{ "its reply on VLAN 11", { .rev = true, .vlan = 11, .sport = 53, .dport = 40010 }, DEF_DROP },
	{ "its reply untagged", { .rev = true, .sport = 53, .dport = 40010 }, DEF_DROP },

	/* A later fragment carries no ports, so it finds no connection and
	 * the rules decide: here none allows it. */
	{ "a non-first fragment of the udp flow", { .sport = 40000, .dport = 53, .frag = F_LATER },
	  DEF_DROP },

	/* ICMP echo, id 7. */
	{ "echo reply before any request", { .rev = true, .icmpx = IX_ECHO_REPLY, .sport = 7 },
	  DEF_DROP },
	{ "echo request", { .icmpx = IX_ECHO_REQ, .sport = 7 }, ALLOW, 2, 1,
	  .ct = SFC_FW_CT_UNREPLIED },
	{ "echo reply", { .rev = true, .icmpx = IX_ECHO_REPLY, .sport = 7 }, EST,
	  .ct = SFC_FW_CT_ESTABLISHED },
	{ "echo reply, another id", { .rev = true, .icmpx = IX_ECHO_REPLY, .sport = 8 }, DEF_DROP },
	{ "server's echo request with the same id", { .rev = true, .icmpx = IX_ECHO_REQ, .sport = 7 },
	  INVALID },

	/* ICMP errors. */
	{ "port unreachable about connection B", { .rev = true, .icmpx = IX_UNREACH, .quote = &q_tcp },
	  RELATED },
	{ "port unreachable about the udp flow", { .rev = true, .icmpx = IX_UNREACH, .quote = &q_udp },
	  RELATED },
	{ "port unreachable about the echo flow",
	  { .rev = true, .icmpx = IX_UNREACH, .quote = &q_echo }, RELATED },
	{ "port unreachable about no connection",
	  { .rev = true, .icmpx = IX_UNREACH, .quote = &q_none }, DEF_DROP },
};

static const char cfg_stateful2[] =
	"defaultAction: drop\n"
	"stateful: true\n"
	"sets:\n"
	"  client: [10.0.0.1, \"2001:db8::1\"]\n"
	"  server: [10.0.0.2, \"2001:db8::2\"]\n"
	"rules:\n"
	"  - {action: allow, family: ipv4, protocol: tcp, dstPort: 8080, rateLimit: {pps: 1, burst: 1}}\n"
	"  - {action: allow, family: ipv6, protocol: tcp, dstPort: 8080, rateLimit: {pps: 1, burst: 1}}\n";

#define CLI8080(port, fl, sq, ak, ...) \
	{ TCP, .sport = port, .dport = 8080, .flags = fl, .seq = sq, .ack = ak, __VA_ARGS__ }
#define SRV8080(port, fl, sq, ak, ...) \
	{ .rev = true, TCP, .sport = 8080, .dport = port, .flags = fl, .seq = sq, .ack = ak, __VA_ARGS__ }

/*
 * After the re-apply: port 80, udp and echo are no longer allowed; 8080 is, at
 * one new connection a second (a bucket per family).
 */
static const struct fx fx_stateful2[] = {
	{ "connection B's data, made before the re-apply",
	  CLI(40001, PA, 101101, 5001, .win = 1024, .len = 100), EST },
	{ "connection B, server's ACK", SRV(40001, TCP_ACK, 5001, 101201, .win = 1024), EST },
	{ "the udp flow from before", { .sport = 40000, .dport = 53 }, EST },
	{ "the echo flow from before", { .rev = true, .icmpx = IX_ECHO_REPLY, .sport = 7 }, EST },
	{ "a new SYN to 80", CLI(40003, TCP_SYN, 1000, 0), DEF_DROP },
	{ "a new SYN to 8080", CLI8080(40003, TCP_SYN, 1000, 0), ALLOW, 0, 1 },
	{ "its SYN+ACK", SRV8080(40003, SA, 5000, 1001), EST },
	{ "its ACK", CLI8080(40003, TCP_ACK, 1001, 5001), EST },
	{ "its data: a connection's packets are not rate-limited",
	  CLI8080(40003, PA, 1001, 5001, .len = 10), EST },
	{ "a second new connection within the second", CLI8080(40006, TCP_SYN, 1000, 0), LIMITED,
	  0, 1 },
	{ "a new udp request", { .sport = 40005, .dport = 53 }, DEF_DROP },
	{ "a new echo request", { .icmpx = IX_ECHO_REQ, .sport = 9 }, DEF_DROP },
};

/*
 * The connection table keeps its size while the chain runs: an apply that
 * changes maxConnections fails and leaves everything as it was.
 */
static void test_resize_refused(void)
{
	static const struct fx f = { "connection B after the refused apply",
				     CLI(40001, TCP_ACK, 101201, 5001, .win = 1024), EST };
	static char cfg[sizeof(cfg_stateful2) + 64];
	enum sfc_apply_result res;
	unsigned int gen = generation();
	struct totals t;
	int err;

	fw.table = "stateful, maxConnections changed";
	snprintf(cfg, sizeof(cfg), "maxConnections: 1024\n%s", cfg_stateful2);
	fprintf(stderr, "(an apply error is expected next)\n");
	err = apply(cfg, &res);
	CHECK(err, "stateful: an apply that changes maxConnections succeeded");
	CHECK(generation() == gen, "stateful: the refused apply changed the generation: %u -> %u",
	      gen, generation());
	totals_begin(&t);
	run_table(&f, 1, true, &t);
	totals_check(&t);
}

static void test_stateful(void)
{
	struct totals t;

	if (use_config("stateful", cfg_stateful, 4, true))
		return;
	totals_begin(&t);
	run_table(fx_stateful, N(fx_stateful), true, &t);
	totals_check(&t);

	if (use_config("stateful, rules changed", cfg_stateful2, 2, true))
		return;
	totals_begin(&t);
	run_table(fx_stateful2, N(fx_stateful2), true, &t);
	totals_check(&t);
	test_resize_refused();
}

int main(void)
{
	char cfg_sets[sizeof(cfg_sets_fmt) + 128];
	double t0 = now_s();
	FILE *f;

	if (geteuid())
		TEST_SKIP("needs root for BPF and netns");
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		TEST_SKIP("cannot count the possible CPUs");
	sfc_set_log(log_cb, NULL, SFC_LOG_WARN);
	snprintf(ns, sizeof(ns), "sfcfw%d", getpid());
	snprintf(root, sizeof(root), "/sys/fs/bpf/sfc-fwtest-%d", getpid());
	atexit(cleanup);
	testns_enter(ns);
	/* The kernel sends nothing on the veth then (no IPv6: no ND, no MLD),
	 * so the firewall's counters see only the test's packets. */

	snprintf(set_file, sizeof(set_file), "/tmp/sfc-fwtest-%d.txt", getpid());
	f = fopen(set_file, "w");
	if (!f || fputs(set_file_text, f) < 0 || fclose(f)) {
		CHECK(0, "cannot write the set file %s: %s", set_file, strerror(errno));
		TEST_DONE();
	}
	snprintf(cfg_sets, sizeof(cfg_sets), cfg_sets_fmt, set_file);

	table("addresses", cfg_addresses, 8, fx_addresses, N(fx_addresses), false);
	table("sets", cfg_sets, 8, fx_sets, N(fx_sets), false);
	table("protocols and ports", cfg_ports, 6, fx_ports, N(fx_ports), true);
	table("port ranges", cfg_ranges, 5, fx_ranges, N(fx_ranges), true);
	table("icmp", cfg_icmp, 7, fx_icmp, N(fx_icmp), false);
	table("tcp flags", cfg_flags, 5, fx_flags, N(fx_flags), true);
	table("vlan", cfg_vlan, 4, fx_vlan, N(fx_vlan), true);
	table("fragments", cfg_frag, 5, fx_frag, N(fx_frag), false);
	table("family and order", cfg_order, 12, fx_order, N(fx_order), false);
	test_rate_limit();
	test_fresh_buckets();
	test_stateful();

	close_maps();
	printf("%.1f s\n", now_s() - t0);
	TEST_DONE();
}
