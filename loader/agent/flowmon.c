// SPDX-License-Identifier: GPL-2.0
/*
 * The agent's work for a flowmon function: expire the flows of its table and
 * export them over IPFIX, and its metrics. The table is the ABI of
 * bpf/include/shared/sfc_flow.h.
 *
 * Every tick the whole table is read (batch lookups, per-CPU copies summed)
 * and each flow is checked, in this order:
 *   ended	FIN or RST seen and END_GRACE_NS without a packet since (so the
 *		last ACK after the peer's FIN joins it): export what is left,
 *		flowEndReason 3, delete it
 *   idle	no packet for inactiveTimeout: export what is left, reason 1,
 *		delete it
 *   active	activeTimeout since the flow began or was last exported:
 *		export the delta, reason 2, keep it
 * Between ticks the ring buffer of end notices (sfc_flowmon_ends) wakes the
 * agent, which checks those flows END_GRACE_NS later, so an ended flow is
 * exported within about a second whatever the interval.
 *
 * What has been exported of each flow is in sfc_flowmon_exported (pinned,
 * kept by the runtime) and in a copy here (keytab). A record's delta is the
 * flow's counters minus that. The order is export, persist, delete: the pin
 * is written once the message carrying the record was sent, for every
 * record, and a flow is deleted from the table only then, and only if it
 * took no packet since it was read (remove_flow()). So a restarted agent
 * (even after SIGKILL) exports deltas: no flow twice in full, none lost
 * that is still in the table. A kill between a send and the writes that
 * follow it (microseconds) repeats that one message's deltas, with the same
 * flowStartMilliseconds: duplicates a collector can tell, where the other
 * order (delete, then export) would lose the records on a kill.
 *
 * While the collector cannot be reached nothing is exported and no flow is
 * deleted: idle and ended flows stay in the table until they are exported,
 * or until the kernel's LRU evicts them when the table fills (the evictions
 * are counted). The agent holds nothing per flow beyond the keytab, which is
 * bounded by the table. Without an ipfix config, flows are only expired.
 *
 * forwardingStatus: the flow's verdicts so far (sfc_flow.verdicts, recorded
 * by the chain's verdict hook), not only those of the record's packets: a
 * flow with any packet dropped is Dropped, 129 (ACL deny) when a firewall
 * dropped it; else one forwarded or passed to the kernel is Forwarded (64);
 * else unknown (0). The chain's info pin says which stage ids are firewalls.
 *
 * Bytes: the data path counts frame lengths (sfc_pkt.len, as the chain's
 * stage counters do). IPFIX octetDeltaCount counts IP bytes (RFC 7012: the
 * IP header and payload), so the agent takes 14 bytes of Ethernet header, 18
 * with a VLAN tag, off each packet: exact on veth and for untagged or
 * single-tagged frames, but a frame padded to the Ethernet minimum of 60
 * bytes (a small packet from a real NIC) counts its padding, and a second
 * VLAN tag (QinQ) is not seen.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "internal.h"
#include "ipfix.h"
#include "keytab.h"
#include "metrics.h"
#include "shared/sfc_flow.h"

#define BATCH		1024			/* flows per lookup syscall */
#define END_GRACE_NS	500000000ull		/* quiet time after a FIN/RST */
#define END_WAIT_MAX_NS	(4 * END_GRACE_NS)	/* export an ended flow by then */
#define MAX_ENDS	65536			/* pending end notices kept */
#define MAX_LEFTOVER	4096
/* Forced end: at FORCE_HIGH per mille of the table, the flows idle longest
 * are exported and deleted down to FORCE_LOW, before the LRU evicts them. */
#define FORCE_HIGH	900
#define FORCE_LOW	800
#define FORCE_BUCKETS	48	/* idle time histogram, powers of two of 1 ms */
#ifndef ENOTSUPP
#define ENOTSUPP	524	/* the kernel's, which bpf() may return */
#endif

struct fm_cfg {
	uint64_t max_flows;
	uint64_t active_ns, inactive_ns;
	uint64_t sampling;
	bool ipfix;
	char collector[256];
	enum ipfix_transport transport;
	uint32_t domain;
	char listen[128];
};

/* What to do with a flow once the message with its record was sent. */
struct fm_rec {
	struct sfc_flow_key key;
	struct sfc_flow sum;		/* the counters the record was cut from */
	uint8_t reason;			/* enum ipfix_end_reason */
	bool leftover;			/* already deleted: nothing to do */
};

struct fm_end {
	struct sfc_flow_key key;
	uint64_t seen_ns;
};

struct fm {
	struct agent *a;
	struct agent_fn *fn;
	struct fm_cfg cfg;
	int flows_fd, stats_fd, exp_fd, agent_fd, ends_fd;
	uint32_t max_entries;
	int ncpu;
	size_t vsz;			/* bytes of one key's per-CPU values */

	struct ring_buffer *rb;
	int rb_fd;
	struct fm_end *ends;
	size_t n_ends;

	struct ipfix *x;
	uint64_t x_errors_seen;		/* x's error count already added to ctr */
	struct fm_rec *recs;		/* the records in x's message */
	size_t n_recs, cap_recs;
	struct fm_rec *leftover;	/* deleted flows with packets not exported */
	size_t n_leftover;

	struct keytab exported;		/* copy of sfc_flowmon_exported */
	uint32_t scan_id;

	uint64_t ctr[SFC_FLOWMON_AGENT_MAX];	/* persisted in sfc_flowmon_agent */
	bool ctr_dirty;
	uint64_t present;		/* flows seen by the last scan */
	uint64_t evictions;		/* the largest derived value seen */
	uint64_t scan_ns;		/* how long the last scan took */
	bool batch_ok;
	bool acl_stage[SFC_MAX_STAGES];	/* stage ids of the chain's firewalls */
	/* flows of the last scan by verdict: SFC_FLOW_V_* bits, then unknown */
	uint64_t by_verdict[5];

	/* since this instance started, for --once */
	uint64_t run_exported, run_removed, run_errors;

	uint64_t next_scan_ns;
	bool blocked;			/* the last scan could not export */
	__u32 flows_id;			/* the table's map id: a new one means restart */

	/* forced end: flows idle this long go first when the table fills */
	uint64_t idle_hist[FORCE_BUCKETS];
	uint64_t force_idle_ns;		/* 0: no forced end in the next scan */
	uint64_t force_budget;		/* flows the next scan may end so */

	struct sfc_flow_key *keys;	/* a batch of the table */
	void *vals;
	size_t batch;
	void *one;			/* one flow's (or counter's) per-CPU values */
};

/* ---- maps ---------------------------------------------------------------- */

static int pin_open(struct fm *fm, const char *name)
{
	return sfc_pin_get(fm->fn->nf_dir, name);
}

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, len);
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/*
 * sfc_flowmon_exported or sfc_flowmon_agent of a chain pinned before they
 * existed: created with the attributes sfc_flow.h gives, so that the next
 * apply accepts them.
 */
static int pin_open_or_create(struct fm *fm, const char *name, enum bpf_map_type type,
			      __u32 key, __u32 value, __u32 entries, __u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	char p[PATH_MAX], mname[16];
	int fd = pin_open(fm, name), err;

	if (fd != -ENOENT)
		return fd;
	snprintf(mname, sizeof(mname), "%s", name);	/* libbpf's 15 characters */
	fd = bpf_map_create(type, mname, key, value, entries, &o);
	if (fd < 0)
		return -errno;
	snprintf(p, sizeof(p), "%s/%s", fm->fn->nf_dir, name);
	if (bpf_obj_pin(fd, p)) {
		err = -errno;
		close(fd);
		/* another writer pinned it first: use theirs */
		return err == -EEXIST ? pin_open(fm, name) : err;
	}
	sfc_log(SFC_LOG_INFO, "%s/%s: created %s", fm->fn->chain, fm->fn->name, name);
	return fd;
}

static void ctr_load(struct fm *fm)
{
	__u32 k;

	for (k = 0; k < SFC_FLOWMON_AGENT_MAX; k++)
		if (bpf_map_lookup_elem(fm->agent_fd, &k, &fm->ctr[k]))
			fm->ctr[k] = 0;
}

static void ctr_store(struct fm *fm)
{
	__u32 k;

	if (!fm->ctr_dirty)
		return;
	for (k = 0; k < SFC_FLOWMON_AGENT_MAX; k++)
		bpf_map_update_elem(fm->agent_fd, &k, &fm->ctr[k], BPF_ANY);
	fm->ctr_dirty = false;
}

static void ctr_add(struct fm *fm, enum sfc_flowmon_agent_counter c, uint64_t n)
{
	if (!n)
		return;
	fm->ctr[c] += n;
	fm->ctr_dirty = true;
}

/* The exporter's new errors into the persisted counter. */
static void sync_errors(struct fm *fm)
{
	uint64_t e;

	if (!fm->x)
		return;
	e = ipfix__stats(fm->x)->errors;
	ctr_add(fm, SFC_FLOWMON_AGENT_EXPORT_ERRORS, e - fm->x_errors_seen);
	fm->run_errors += e - fm->x_errors_seen;
	fm->x_errors_seen = e;
}

static int load_exported(struct fm *fm)
{
	struct sfc_flow_key key, next;
	struct sfc_flow_export v;
	struct keytab_ent *e;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fm->exp_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fm->exp_fd, &key, &v))
			continue;
		e = keytab_put(&fm->exported, &key);
		if (!e)
			return -ENOMEM;
		e->exp = v;
		e->mark = 1;	/* as if seen by the scan before the first */
	}
	fm->scan_id = 2;
	return 0;
}

/*
 * Sum of a flow's per-CPU copies. drop_stage: that of the copy with the
 * latest packet among those that saw a drop.
 */
static void sum_flow(const struct fm *fm, const void *vals, struct sfc_flow *s)
{
	const struct sfc_flow *f;
	uint64_t drop_last = 0;
	int cpu;

	memset(s, 0, sizeof(*s));
	for (cpu = 0; cpu < fm->ncpu; cpu++) {
		f = (const void *)((const char *)vals + cpu * ((sizeof(*f) + 7) & ~7ul));
		s->packets += f->packets;
		s->bytes += f->bytes;
		if (f->first_ns && (!s->first_ns || f->first_ns < s->first_ns))
			s->first_ns = f->first_ns;
		if (f->last_ns > s->last_ns)
			s->last_ns = f->last_ns;
		s->tcp_flags |= f->tcp_flags;
		s->end |= f->end;
		s->verdicts |= f->verdicts;
		if ((f->verdicts & SFC_FLOW_V_DROPPED) && f->drop_stage &&
		    (!s->drop_stage || f->last_ns > drop_last)) {
			s->drop_stage = f->drop_stage;
			drop_last = f->last_ns;
		}
	}
}

/* Which stage ids are firewalls: their drops are ACL denies. */
static void read_stages(struct fm *fm)
{
	struct sfc_chain_info ci;
	unsigned int i;

	if (sfc_info_read(fm->fn->chain_dir, &ci))
		return;		/* keep what was known */
	memset(fm->acl_stage, 0, sizeof(fm->acl_stage));
	for (i = 0; i < ci.n_functions && i < SFC_MAX_FUNCTIONS; i++)
		if (ci.fn[i].id < SFC_MAX_STAGES && !strcmp(ci.fn[i].type, "firewall"))
			fm->acl_stage[ci.fn[i].id] = true;
}

/* forwardingStatus of a flow: see the top of the file. */
static uint8_t fwd_status(const struct fm *fm, const struct sfc_flow *sum)
{
	if (sum->verdicts & (SFC_FLOW_V_DROPPED | SFC_FLOW_V_ABORTED))
		return (sum->verdicts & SFC_FLOW_V_DROPPED) && sum->drop_stage < SFC_MAX_STAGES &&
		       fm->acl_stage[sum->drop_stage] ? IPFIX_FWD_DROPPED_ACL : IPFIX_FWD_DROPPED;
	if (sum->verdicts & (SFC_FLOW_V_FORWARDED | SFC_FLOW_V_PASSED))
		return IPFIX_FWD_FORWARDED;
	return IPFIX_FWD_UNKNOWN;
}

/* ---- records ------------------------------------------------------------- */

/* What has been exported of a flow, or NULL; forgets a previous flow's. */
static struct keytab_ent *exported_of(struct fm *fm, const struct sfc_flow_key *key,
				      const struct sfc_flow *sum)
{
	struct keytab_ent *e = keytab_get(&fm->exported, key);

	/*
	 * The same key, but a flow that began after the last export (the old
	 * one was evicted or deleted, its pin entry left behind): start over.
	 */
	if (e && (sum->first_ns > e->exp.last_export_ns || sum->packets < e->exp.packets ||
		  sum->bytes < e->exp.bytes))
		memset(&e->exp, 0, sizeof(e->exp));
	return e;
}

static uint64_t l2_len(const struct sfc_flow_key *k)
{
	return 14 + (k->vlan ? 4 : 0);
}

static void make_record(const struct fm *fm, const struct sfc_flow_key *k,
			const struct sfc_flow *sum, const struct sfc_flow_export *done,
			uint8_t reason, struct ipfix_flow *r)
{
	uint64_t packets = sum->packets - done->packets;
	uint64_t bytes = sum->bytes - done->bytes, l2 = packets * l2_len(k);
	uint64_t start = done->last_export_ns ? done->last_export_ns : sum->first_ns;

	memset(r, 0, sizeof(*r));
	r->family = k->family;
	r->proto = k->proto;
	r->tcp_flags = sum->tcp_flags;
	r->direction = k->dir;		/* forward: ingress (0), reverse: egress (1) */
	r->end_reason = reason;
	r->fwd_status = fwd_status(fm, sum);
	memcpy(r->src, k->src, k->family == 6 ? 16 : 4);
	memcpy(r->dst, k->dst, k->family == 6 ? 16 : 4);
	r->sport = ntohs(k->sport);
	r->dport = ntohs(k->dport);
	/* ICMP: type << 8 | code in the destination port, the source port 0, as
	 * collectors (nfdump) expect; the echo id is not exported. */
	if (k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6)
		r->sport = 0;
	r->vlan = k->vlan;
	r->packets = packets;
	r->octets = bytes > l2 ? bytes - l2 : 0;
	if (start > sum->last_ns)
		start = sum->last_ns;
	r->start_ms = agent_mono_to_real_ms(start);
	r->end_ms = agent_mono_to_real_ms(sum->last_ns);
}

static int add_rec(struct fm *fm, const struct fm_rec *rec)
{
	struct fm_rec *v;
	size_t cap;

	if (fm->n_recs == fm->cap_recs) {
		cap = fm->cap_recs ? fm->cap_recs * 2 : 256;
		v = realloc(fm->recs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		fm->recs = v;
		fm->cap_recs = cap;
	}
	fm->recs[fm->n_recs++] = *rec;
	return 0;
}

static void forget_exported(struct fm *fm, const struct sfc_flow_key *key)
{
	struct keytab_ent *e = keytab_get(&fm->exported, key);

	if (e) {
		keytab_del(&fm->exported, e);
		bpf_map_delete_elem(fm->exp_fd, key);
	}
}

/*
 * Late packets (those the kernel handed back with the delete, beyond what
 * the record had: sum) back into the table, as a flow of their own that
 * nothing has been reported of. 0 when done; fails when the data path
 * created the flow again in between (NOEXIST).
 */
static int put_back(struct fm *fm, const struct sfc_flow_key *key, const struct sfc_flow *sum,
		    const struct sfc_flow *last)
{
	struct sfc_flow *f = fm->one;

	memset(fm->one, 0, fm->vsz);	/* the other CPUs' copies: empty */
	f->packets = last->packets - sum->packets;
	f->bytes = last->bytes > sum->bytes ? last->bytes - sum->bytes : 0;
	f->first_ns = sum->last_ns + 1;
	f->last_ns = last->last_ns > f->first_ns ? last->last_ns : f->first_ns;
	f->tcp_flags = last->tcp_flags;
	f->end = last->end;
	f->verdicts = last->verdicts;
	f->drop_stage = last->drop_stage;
	return bpf_map_update_elem(fm->flows_fd, key, fm->one, BPF_NOEXIST);
}

/*
 * Delete a flow that is over: its record was sent (commit(), which persisted
 * what it reported first), or it had nothing to report. exporting: there is
 * a collector, so no packet may go without a record. Export, persist, then
 * delete, and never delete what was not reported:
 *  - a flow that took packets since it was read (sum) stays in the table,
 *    which keeps them for a later record (they reset no timer of its: an
 *    ended flow ends again at the next scan, an idle one is active again);
 *  - the packets that came in the instant between that look and the delete
 *    (the kernel hands them back with it) go back into the table as a flow
 *    of their own (put_back()), so that a kill from then on loses nothing;
 *  - only when the data path created the flow again in that instant too,
 *    they wait here, in a leftover record for the next message.
 * A kill between the delete and the put back (two syscalls, and only when a
 * packet raced with them) loses those packets: the one window left.
 */
static void remove_flow(struct fm *fm, const struct sfc_flow_key *key, const struct sfc_flow *sum,
			uint8_t reason, bool exporting)
{
	struct fm_rec *lo;
	struct sfc_flow last;
	int err;

	if (exporting) {
		if (bpf_map_lookup_elem(fm->flows_fd, key, fm->one)) {
			forget_exported(fm, key);
			return;	/* gone already (evicted) */
		}
		sum_flow(fm, fm->one, &last);
		if (last.packets > sum->packets)
			return;	/* it goes on: the table has the rest */
	}
	err = bpf_map_lookup_and_delete_elem(fm->flows_fd, key, fm->one);
	if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUPP) {
		/* before Linux 5.14: not atomic, the last packets may be lost */
		err = bpf_map_lookup_elem(fm->flows_fd, key, fm->one) ?:
		      bpf_map_delete_elem(fm->flows_fd, key);
	}
	forget_exported(fm, key);
	if (err)
		return;	/* gone already (evicted) */
	sum_flow(fm, fm->one, &last);
	if (exporting && last.packets > sum->packets && !put_back(fm, key, sum, &last))
		return;	/* still in the table: not removed */
	ctr_add(fm, SFC_FLOWMON_AGENT_REMOVED, 1);
	fm->run_removed++;
	if (!exporting || last.packets <= sum->packets || fm->n_leftover >= MAX_LEFTOVER)
		return;
	lo = &fm->leftover[fm->n_leftover++];
	memset(lo, 0, sizeof(*lo));
	lo->key = *key;
	lo->reason = reason;
	lo->leftover = true;
	lo->sum.packets = last.packets - sum->packets;
	lo->sum.bytes = last.bytes > sum->bytes ? last.bytes - sum->bytes : 0;
	lo->sum.first_ns = sum->last_ns;
	lo->sum.last_ns = last.last_ns;
	lo->sum.tcp_flags = last.tcp_flags;
	lo->sum.verdicts = last.verdicts;
	lo->sum.drop_stage = last.drop_stage;
}

/*
 * The message was sent: the records' flows are the collector's now. First
 * what each record reported goes into sfc_flowmon_exported (the pin, then
 * the copy), for every record, so that a kill from then on repeats nothing;
 * only then are the flows that are over deleted. A kill between the send
 * and these writes (microseconds) makes the next agent send the same deltas
 * again: the same flow key and flowStartMilliseconds as the records already
 * sent, which is how a collector tells the duplicate (the later record
 * covers the earlier one and possibly more packets).
 */
static void commit(struct fm *fm, uint64_t now)
{
	struct sfc_flow_export v;
	struct keytab_ent *e;
	struct fm_rec *r;
	size_t i;

	for (i = 0; i < fm->n_recs; i++) {
		r = &fm->recs[i];
		if (r->leftover)
			continue;
		v.packets = r->sum.packets;
		v.bytes = r->sum.bytes;
		v.last_export_ns = now;
		if (bpf_map_update_elem(fm->exp_fd, &r->key, &v, BPF_ANY))
			sfc_log(SFC_LOG_DEBUG, "%s/%s: sfc_flowmon_exported: %s", fm->fn->chain,
				fm->fn->name, strerror(errno));
		e = keytab_put(&fm->exported, &r->key);
		if (e) {
			e->exp = v;
			e->mark = fm->scan_id;
		}
	}
	for (i = 0; i < fm->n_recs; i++) {
		r = &fm->recs[i];
		if (!r->leftover && r->reason != IPFIX_END_ACTIVE)
			remove_flow(fm, &r->key, &r->sum, r->reason, true);
	}
	fm->n_recs = 0;
}

/*
 * Send the message; false when it could not be (the flows stay as they are).
 * Without a collector there is no message: nothing to do.
 */
static bool flush(struct fm *fm, uint64_t now)
{
	unsigned int n = fm->x ? ipfix__pending(fm->x) : 0;
	int err;

	if (!n)
		return true;
	err = ipfix__flush(fm->x, now);
	sync_errors(fm);
	if (err) {
		fm->n_recs = 0;
		return false;
	}
	ctr_add(fm, SFC_FLOWMON_AGENT_EXPORTED, n);
	fm->run_exported += n;
	commit(fm, agent_now_ns());
	return true;
}

/*
 * Offer one record; flushes when the message is full. False when the
 * exporter failed: stop offering until it is ready again.
 */
static bool offer(struct fm *fm, const struct fm_rec *rec, const struct sfc_flow_export *done,
		  uint64_t now)
{
	struct ipfix_flow r;
	int err;

	make_record(fm, &rec->key, &rec->sum, done, rec->reason, &r);
	err = ipfix__add(fm->x, &r);
	if (err == -ENOSPC) {
		if (!flush(fm, now))
			return false;
		err = ipfix__add(fm->x, &r);
	}
	if (err)
		return true;	/* not exportable (unknown family): skip it */
	if (add_rec(fm, rec)) {
		ipfix__discard(fm->x);
		fm->n_recs = 0;
		return false;
	}
	return true;
}

/* Records of flows already deleted, with packets that came in late. */
static bool flush_leftover(struct fm *fm, uint64_t now)
{
	struct sfc_flow_export none = {};
	size_t i, n = fm->n_leftover;

	for (i = 0; i < n; i++)
		if (!offer(fm, &fm->leftover[i], &none, now))
			return false;
	fm->n_leftover = 0;
	return true;
}

/* ---- ends ----------------------------------------------------------------- */

static int on_end_sample(void *ctx, void *data, size_t size)
{
	struct fm *fm = ctx;

	if (size < sizeof(struct sfc_flow_key) || fm->n_ends >= MAX_ENDS)
		return 0;	/* the scan finds ended flows by their end bits too */
	memcpy(&fm->ends[fm->n_ends].key, data, sizeof(struct sfc_flow_key));
	fm->ends[fm->n_ends].seen_ns = agent_now_ns();
	fm->n_ends++;
	return 0;
}

static void process_ends(struct fm *fm, uint64_t now);

static void on_ends(struct agent *a, void *ctx, uint32_t events)
{
	struct fm *fm = ctx;

	ring_buffer__consume(fm->rb);
	if (fm->n_ends)
		agent_wake(fm->fn, fm->ends[fm->n_ends - 1].seen_ns + END_GRACE_NS);
}

static bool exporter_ready(struct fm *fm, uint64_t now)
{
	uint64_t retry;
	bool ready;

	if (!fm->x)
		return true;
	ready = ipfix__ready(fm->x, now, &retry);
	sync_errors(fm);
	if (!ready && retry)
		agent_wake(fm->fn, retry);
	return ready;
}

/* Is the ended flow quiet now? Then export and delete it. */
static int end_flow(struct fm *fm, const struct fm_end *end, uint64_t now, bool *failed)
{
	struct sfc_flow_export none = {}, *done = &none;
	struct keytab_ent *e;
	struct fm_rec rec = { .key = end->key, .reason = IPFIX_END_OF_FLOW };

	if (bpf_map_lookup_elem(fm->flows_fd, &end->key, fm->one))
		return 0;	/* gone: exported by a scan, or evicted */
	sum_flow(fm, fm->one, &rec.sum);
	if (now < rec.sum.last_ns + END_GRACE_NS && now < end->seen_ns + END_WAIT_MAX_NS)
		return 1;	/* still talking: look again later */
	if (!fm->x) {
		remove_flow(fm, &rec.key, &rec.sum, rec.reason, false);
		return 0;
	}
	e = exported_of(fm, &rec.key, &rec.sum);
	if (e)
		done = &e->exp;
	if (rec.sum.packets == done->packets) {
		remove_flow(fm, &rec.key, &rec.sum, rec.reason, true);
		return 0;
	}
	if (!offer(fm, &rec, done, now))
		*failed = true;
	return 0;
}

static void process_ends(struct fm *fm, uint64_t now)
{
	size_t i, kept = 0;
	bool failed = false;

	if (!fm->n_ends)
		return;
	/* Not now: kept, for the retry (bounded: the scan also finds them by
	 * their end bits, and a full list takes no more notices). */
	if (!exporter_ready(fm, now))
		return;
	read_stages(fm);
	for (i = 0; i < fm->n_ends; i++) {
		if (now < fm->ends[i].seen_ns + END_GRACE_NS ||
		    (!failed && end_flow(fm, &fm->ends[i], now, &failed))) {
			fm->ends[kept++] = fm->ends[i];
			continue;
		}
	}
	fm->n_ends = failed ? 0 : kept;
	if (!failed)
		flush(fm, now);
	for (i = 0; i < fm->n_ends; i++)
		agent_wake(fm->fn, fm->ends[i].seen_ns + END_GRACE_NS);
	if (fm->n_ends) {
		uint64_t t = now + END_GRACE_NS / 4;

		agent_wake(fm->fn, t);
	}
	ctr_store(fm);
}

/* ---- the scan ------------------------------------------------------------ */

/* What to do with a flow now: 0 nothing, else a flowEndReason. */
static uint8_t verdict(const struct fm *fm, const struct sfc_flow *s,
		       const struct sfc_flow_export *done, uint64_t now)
{
	uint64_t idle = now > s->last_ns ? now - s->last_ns : 0;
	uint64_t since = done->last_export_ns ? done->last_export_ns : s->first_ns;

	if (s->end && idle >= END_GRACE_NS)
		return IPFIX_END_OF_FLOW;
	if (idle >= fm->cfg.inactive_ns)
		return IPFIX_END_IDLE;
	if (now > since && now - since >= fm->cfg.active_ns)
		return IPFIX_END_ACTIVE;
	return 0;
}

static unsigned int idle_bucket(uint64_t idle_ns)
{
	uint64_t ms = idle_ns / 1000000;
	unsigned int b = 0;

	while (ms && b + 1 < FORCE_BUCKETS) {
		ms >>= 1;
		b++;
	}
	return b;
}

/*
 * After a scan: is the table filling up? Then the next scan ends as many
 * flows as are above FORCE_LOW, among those idle at least as long as the
 * idlest of this scan's histogram (powers of two of 1 ms).
 */
static void plan_forced_end(struct fm *fm, uint64_t present)
{
	uint64_t excess, n = 0;
	int b;

	fm->force_idle_ns = 0;
	fm->force_budget = 0;
	if (!fm->max_entries || present * 1000 < (uint64_t)fm->max_entries * FORCE_HIGH)
		return;
	excess = present - (uint64_t)fm->max_entries * FORCE_LOW / 1000;
	for (b = FORCE_BUCKETS - 1; b > 0; b--) {
		n += fm->idle_hist[b];
		if (n >= excess)
			break;
	}
	/* bucket b holds idle times from 2^(b-1) ms */
	fm->force_idle_ns = b > 1 ? (1ull << (b - 1)) * 1000000ull : 1000000ull;
	fm->force_budget = excess;
	sfc_log(SFC_LOG_DEBUG, "%s/%s: table %llu/%u full: ending flows idle >= %llu ms",
		fm->fn->chain, fm->fn->name, (unsigned long long)present, fm->max_entries,
		(unsigned long long)fm->force_idle_ns / 1000000);
}

struct scan {
	uint64_t now;
	bool exporting;		/* the exporter takes records */
	uint64_t present;
	uint64_t by_verdict[5];	/* as fm->by_verdict */
	/* flows to delete once the batch is read, without a record */
	struct fm_rec *drop;
	size_t n_drop, cap_drop;
};

static void scan_one(struct fm *fm, struct scan *sc, const struct sfc_flow_key *key,
		     const void *vals)
{
	struct sfc_flow_export none = {}, *done = &none;
	struct fm_rec rec = { .key = *key };
	struct keytab_ent *e;
	unsigned int b;

	sum_flow(fm, vals, &rec.sum);
	sc->present++;
	for (b = 0; b < 4; b++)
		sc->by_verdict[b] += !!(rec.sum.verdicts & (1u << b));
	sc->by_verdict[4] += !rec.sum.verdicts;
	fm->idle_hist[idle_bucket(sc->now > rec.sum.last_ns ? sc->now - rec.sum.last_ns : 0)]++;
	e = exported_of(fm, key, &rec.sum);
	if (e) {
		e->mark = fm->scan_id;
		done = &e->exp;
	}
	rec.reason = verdict(fm, &rec.sum, done, sc->now);
	if ((!rec.reason || rec.reason == IPFIX_END_ACTIVE) && fm->force_budget &&
	    sc->now >= rec.sum.last_ns + fm->force_idle_ns) {
		rec.reason = IPFIX_END_FORCED;
		fm->force_budget--;
	}
	if (!rec.reason)
		return;
	/* Nothing new (all exported, or no collector): delete it, no record. */
	if ((!fm->x || rec.sum.packets == done->packets) && rec.reason != IPFIX_END_ACTIVE) {
		if (sc->n_drop == sc->cap_drop) {
			size_t cap = sc->cap_drop ? sc->cap_drop * 2 : 256;
			struct fm_rec *v = realloc(sc->drop, cap * sizeof(*v));

			if (!v)
				return;
			sc->drop = v;
			sc->cap_drop = cap;
		}
		sc->drop[sc->n_drop++] = rec;
		return;
	}
	if (!fm->x || rec.sum.packets == done->packets || !sc->exporting)
		return;
	if (!offer(fm, &rec, done, sc->now))
		sc->exporting = false;
}

/* Twice the batch: a hash bucket held more flows than it (ENOSPC). */
static int grow_batch(struct fm *fm)
{
	void *k, *v;

	if (fm->batch >= 65536)
		return -ENOSPC;
	k = realloc(fm->keys, 2 * fm->batch * sizeof(*fm->keys));
	if (!k)
		return -ENOMEM;
	fm->keys = k;
	v = realloc(fm->vals, 2 * fm->batch * fm->vsz);
	if (!v)
		return -ENOMEM;
	fm->vals = v;
	fm->batch *= 2;
	return 0;
}

/* The table a batch at a time; 1 when the kernel has no batch lookups. */
static int scan_batches(struct fm *fm, struct scan *sc)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	unsigned char in[64], out[64];
	bool first = true;
	__u32 i, count;
	int err;

	for (;;) {
		count = fm->batch;
		err = bpf_map_lookup_batch(fm->flows_fd, first ? NULL : in, out, fm->keys,
					   fm->vals, &count, &o);
		if (err == -ENOSPC) {
			err = grow_batch(fm);
			if (err)
				return err;
			continue;	/* the same batch again, bigger */
		}
		if (err && err != -ENOENT)
			return first && (err == -EINVAL || err == -ENOTSUPP ||
					 err == -EOPNOTSUPP) ? 1 : err;
		for (i = 0; i < count; i++)
			scan_one(fm, sc, &fm->keys[i], (char *)fm->vals + i * fm->vsz);
		if (err == -ENOENT)
			return 0;
		memcpy(in, out, sizeof(in));
		first = false;
	}
}

/* Read the whole table; scan_one() does the rest. */
static int scan_table(struct fm *fm, struct scan *sc)
{
	struct sfc_flow_key key, next;
	void *prev = NULL;
	int err;

	if (fm->batch_ok) {
		err = scan_batches(fm, sc);
		if (err <= 0)
			return err;
		fm->batch_ok = false;
	}
	/* one key at a time */
	while (!bpf_map_get_next_key(fm->flows_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fm->flows_fd, &key, fm->one))
			scan_one(fm, sc, &key, fm->one);
	}
	return 0;
}

static uint64_t stat_sum(struct fm *fm, __u32 k)
{
	uint64_t *v = fm->one, s = 0;
	int cpu;

	if (bpf_map_lookup_elem(fm->stats_fd, &k, v))
		return 0;
	for (cpu = 0; cpu < fm->ncpu; cpu++)
		s += v[cpu];
	return s;
}

/*
 * sfc_flowmon_exported entries whose flow was not seen by the last two
 * scans: the flow was evicted (what it had not exported is lost with it).
 * A scan can miss an entry that was deleted and re-added while it ran; the
 * table is asked once more before the entry goes.
 */
static void gc_exported(struct fm *fm)
{
	struct keytab *t = &fm->exported;
	size_t i;

	for (i = 0; i < t->cap; i++) {
		struct keytab_ent *e = &t->v[i];

		if (!keytab_used(e) || e->mark + 1 >= fm->scan_id)
			continue;
		if (!bpf_map_lookup_elem(fm->flows_fd, &e->key, fm->one)) {
			e->mark = fm->scan_id;
			continue;
		}
		bpf_map_delete_elem(fm->exp_fd, &e->key);
		keytab_del(t, e);
	}
}

static void scan(struct fm *fm, uint64_t now)
{
	struct scan sc = { .now = now };
	uint64_t created, removed, derived, gone, t0 = agent_now_ns();
	size_t i;
	int err;

	memset(fm->idle_hist, 0, sizeof(fm->idle_hist));
	read_stages(fm);
	sc.exporting = exporter_ready(fm, now);
	if (sc.exporting && fm->x && !flush_leftover(fm, now))
		sc.exporting = false;
	created = stat_sum(fm, SFC_FLOWMON_NEW_FLOWS);
	removed = fm->ctr[SFC_FLOWMON_AGENT_REMOVED];
	err = scan_table(fm, &sc);
	if (err)
		sfc_log(SFC_LOG_WARN, "%s/%s: cannot read the flow table: %s", fm->fn->chain,
			fm->fn->name, strerror(-err));
	if (sc.exporting && fm->x)
		sc.exporting = flush(fm, now);
	else if (fm->x) {
		ipfix__discard(fm->x);
		fm->n_recs = 0;
	}
	/* with a collector, a flow that took packets since the read stays */
	for (i = 0; i < sc.n_drop; i++)
		remove_flow(fm, &sc.drop[i].key, &sc.drop[i].sum, sc.drop[i].reason,
			    fm->x != NULL);
	free(sc.drop);
	if (!err) {
		fm->present = sc.present;
		memcpy(fm->by_verdict, sc.by_verdict, sizeof(fm->by_verdict));
		derived = created > removed + sc.present ? created - removed - sc.present : 0;
		if (derived > fm->evictions)
			fm->evictions = derived;
		/* what is left once this scan's removals are done */
		gone = fm->ctr[SFC_FLOWMON_AGENT_REMOVED] - removed;
		plan_forced_end(fm, sc.present > gone ? sc.present - gone : 0);
		gc_exported(fm);
		fm->scan_id++;
	}
	if (fm->n_leftover && fm->x && sc.exporting)
		sc.exporting = flush_leftover(fm, now) && flush(fm, now);
	fm->blocked = fm->x && !sc.exporting;
	ctr_store(fm);
	fm->scan_ns = agent_now_ns() - t0;
}

/* ---- the type --------------------------------------------------------- */

static void parse_cfg(const struct sfc_ynode *config, struct fm_cfg *c)
{
	struct sfc_ynode ipfix, prom;
	char tr[16];

	memset(c, 0, sizeof(*c));
	c->max_flows = agent_cfg_u64(config, "max_flows", SFC_FLOWMON_DEFAULT_FLOWS);
	c->active_ns = agent_cfg_u64(config, "active_timeout_ms", 60000) * 1000000ull;
	c->inactive_ns = agent_cfg_u64(config, "inactive_timeout_ms", 15000) * 1000000ull;
	c->sampling = agent_cfg_u64(config, "sampling", 1);
	sfc_ymap__get(config, "ipfix", &ipfix);
	if (ipfix.n && sfc_ynode__is_map(&ipfix) &&
	    agent_cfg_str(&ipfix, "collector", c->collector, sizeof(c->collector))) {
		c->ipfix = true;
		agent_cfg_str(&ipfix, "transport", tr, sizeof(tr));
		c->transport = !strcmp(tr, "tcp") ? IPFIX_TCP : IPFIX_UDP;
		c->domain = agent_cfg_u64(&ipfix, "observation_domain", 0);
	}
	sfc_ymap__get(config, "prometheus", &prom);
	if (prom.n && sfc_ynode__is_map(&prom))
		agent_cfg_str(&prom, "listen", c->listen, sizeof(c->listen));
}

static void fm_free(struct fm *fm)
{
	if (!fm)
		return;
	if (fm->rb_fd >= 0)
		agent_unwatch(fm->a, fm->rb_fd);
	ring_buffer__free(fm->rb);
	ipfix__free(fm->x);
	keytab_free(&fm->exported);
	if (fm->flows_fd >= 0)
		close(fm->flows_fd);
	if (fm->stats_fd >= 0)
		close(fm->stats_fd);
	if (fm->exp_fd >= 0)
		close(fm->exp_fd);
	if (fm->agent_fd >= 0)
		close(fm->agent_fd);
	if (fm->ends_fd >= 0)
		close(fm->ends_fd);
	free(fm->ends);
	free(fm->recs);
	free(fm->leftover);
	free(fm->keys);
	free(fm->vals);
	free(fm->one);
	free(fm);
}

static int fm_start(struct agent *a, struct agent_fn *fn, const struct sfc_ynode *config)
{
	struct bpf_map_info info;
	struct fm *fm;
	int err;

	fm = calloc(1, sizeof(*fm));
	if (!fm)
		return -ENOMEM;
	fm->a = a;
	fm->fn = fn;
	fm->flows_fd = fm->stats_fd = fm->exp_fd = fm->agent_fd = fm->ends_fd = fm->rb_fd = -1;
	keytab_init(&fm->exported);
	parse_cfg(config, &fm->cfg);
	fm->ncpu = libbpf_num_possible_cpus();
	if (fm->ncpu <= 0) {
		err = -EINVAL;
		goto fail;
	}
	fm->vsz = ((sizeof(struct sfc_flow) + 7) & ~7ul) * fm->ncpu;

	err = fm->flows_fd = pin_open(fm, "sfc_flowmon_flows");
	if (err < 0)
		goto fail;
	err = map_info(fm->flows_fd, &info);
	if (err)
		goto fail;
	if (info.key_size != sizeof(struct sfc_flow_key) ||
	    info.value_size != sizeof(struct sfc_flow)) {
		err = -EPROTO;
		goto fail;
	}
	fm->max_entries = info.max_entries;
	fm->flows_id = info.id;
	err = fm->stats_fd = pin_open(fm, "sfc_flowmon_stats");
	if (err < 0)
		goto fail;
	err = fm->ends_fd = pin_open(fm, "sfc_flowmon_ends");
	if (err < 0)
		goto fail;
	err = fm->exp_fd = pin_open_or_create(fm, "sfc_flowmon_exported", BPF_MAP_TYPE_HASH,
					      sizeof(struct sfc_flow_key),
					      sizeof(struct sfc_flow_export), fm->max_entries,
					      BPF_F_NO_PREALLOC);
	if (err < 0)
		goto fail;
	err = fm->agent_fd = pin_open_or_create(fm, "sfc_flowmon_agent", BPF_MAP_TYPE_ARRAY,
						sizeof(__u32), sizeof(__u64),
						SFC_FLOWMON_AGENT_MAX, 0);
	if (err < 0)
		goto fail;

	fm->batch = BATCH;
	fm->batch_ok = true;
	fm->keys = calloc(fm->batch, sizeof(*fm->keys));
	fm->vals = calloc(fm->batch, fm->vsz);
	fm->one = calloc(1, fm->vsz > fm->ncpu * 8ul ? fm->vsz : fm->ncpu * 8ul);
	fm->ends = calloc(MAX_ENDS, sizeof(*fm->ends));
	fm->leftover = calloc(MAX_LEFTOVER, sizeof(*fm->leftover));
	if (!fm->keys || !fm->vals || !fm->one || !fm->ends || !fm->leftover) {
		err = -ENOMEM;
		goto fail;
	}
	err = load_exported(fm);
	if (err)
		goto fail;
	ctr_load(fm);

	fm->rb = ring_buffer__new(fm->ends_fd, on_end_sample, fm, NULL);
	if (!fm->rb) {
		err = -errno;
		goto fail;
	}
	fm->rb_fd = ring_buffer__epoll_fd(fm->rb);
	err = agent_watch(a, fm->rb_fd, EPOLLIN, on_ends, fm);
	if (err) {
		fm->rb_fd = -1;
		goto fail;
	}
	if (fm->cfg.ipfix) {
		fm->x = ipfix__new(fm->cfg.collector, fm->cfg.transport, fm->cfg.domain);
		if (!fm->x) {
			err = -errno;
			goto fail;
		}
		sfc_log(SFC_LOG_INFO, "%s/%s: exporting to %s over %s", fn->chain, fn->name,
			fm->cfg.collector, fm->cfg.transport == IPFIX_TCP ? "tcp" : "udp");
	}
	fn->priv = fm;
	return 0;
fail:
	fm_free(fm);
	return err;
}

/* Is the pinned table still ours? A chain deleted and applied again between
 * two discoveries, with the same config, has new maps. */
static bool same_table(struct fm *fm)
{
	struct bpf_map_info info;
	int fd = pin_open(fm, "sfc_flowmon_flows");
	bool same;

	if (fd < 0)
		return true;	/* gone (discovery sees to it), or cannot tell */
	same = !map_info(fd, &info) && info.id == fm->flows_id;
	close(fd);
	return same;
}

static void fm_tick(struct agent *a, struct agent_fn *fn, uint64_t now)
{
	struct fm *fm = fn->priv;
	uint64_t interval = agent_interval_ns(a);

	if (!same_table(fm)) {
		fn->stale = true;
		return;
	}

	ring_buffer__consume(fm->rb);
	process_ends(fm, now);
	/*
	 * A wake for the ends or for a retry scans the table only when the last
	 * scan could not export; otherwise the full scan waits for the interval.
	 */
	if (now + interval / 10 < fm->next_scan_ns && !fm->blocked)
		return;
	fm->next_scan_ns = now + interval;
	scan(fm, now);
	if (fm->x) {
		ipfix__idle(fm->x, agent_now_ns());
		sync_errors(fm);
		ctr_store(fm);
	}
}

static void fm_stop(struct agent *a, struct agent_fn *fn)
{
	struct fm *fm = fn->priv;

	if (!fm)
		return;
	/* a message half built is dropped: its flows are still in the table */
	if (fm->x) {
		uint64_t now = agent_now_ns(), retry;

		ipfix__discard(fm->x);
		fm->n_recs = 0;
		/* but late packets of flows already removed are in no table */
		if (fm->n_leftover && ipfix__ready(fm->x, now, &retry) &&
		    flush_leftover(fm, now))
			flush(fm, now);
		sync_errors(fm);
	}
	ctr_store(fm);
	fm_free(fm);
	fn->priv = NULL;
}

static const char *fm_listen(const struct agent_fn *fn)
{
	const struct fm *fm = fn->priv;

	return fm && fm->cfg.listen[0] ? fm->cfg.listen : NULL;
}

static void fm_metrics(struct agent *a, struct agent_fn *fn, struct metrics *m)
{
	struct fm *fm = fn->priv;
	const char *const l[] = { "chain", fn->chain, "function", fn->name, NULL };
	static const struct {
		const char *family, *help;
		__u32 key;
	} stats[] = {
		{ "sfc_flowmon_packets_total", "Packets that reached the flow monitor.",
		  SFC_FLOWMON_PACKETS },
		{ "sfc_flowmon_sampled_packets_total",
		  "Packets accounted in a flow (1 in sampling).", SFC_FLOWMON_SAMPLED },
		{ "sfc_flowmon_flows_created_total", "Flow entries created.",
		  SFC_FLOWMON_NEW_FLOWS },
		{ "sfc_flowmon_flow_ends_total", "FIN/RST notices queued for the agent.",
		  SFC_FLOWMON_ENDS },
		{ "sfc_flowmon_flow_ends_lost_total",
		  "FIN/RST notices lost: the ring buffer was full.", SFC_FLOWMON_ENDS_LOST },
		{ "sfc_flowmon_insert_failed_packets_total",
		  "Sampled packets of new flows the table had no entry for.",
		  SFC_FLOWMON_INSERT_FAILED },
	};
	unsigned int i;

	if (!fm)
		return;
	metrics__u64(m, "sfc_flowmon_flows", METRIC_GAUGE,
		     "Flows in the table at the agent's last scan.", l, fm->present);
	metrics__u64(m, "sfc_flowmon_flows_max", METRIC_GAUGE, "Size of the flow table.", l,
		     fm->max_entries);
	metrics__u64(m, "sfc_flowmon_sampling", METRIC_GAUGE,
		     "1 in this many packets is accounted.", l,
		     fm->cfg.sampling ? fm->cfg.sampling : 1);
	for (i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
		metrics__u64(m, stats[i].family, METRIC_COUNTER, stats[i].help, l,
			     stat_sum(fm, stats[i].key));
	for (i = 0; i < 5; i++) {
		static const char *const v[5] = { "forwarded", "passed", "dropped", "aborted",
						  "unknown" };
		const char *const lv[] = { "chain", fn->chain, "function", fn->name,
					   "verdict", v[i], NULL };

		metrics__u64(m, "sfc_flowmon_flows_by_verdict", METRIC_GAUGE,
			     "Flows in the table at the last scan whose packets got this "
			     "verdict (a flow counts once for each verdict it got).", lv,
			     fm->by_verdict[i]);
	}
	metrics__u64(m, "sfc_flowmon_flows_removed_total", METRIC_COUNTER,
		     "Flow entries the agent deleted (expired or ended).", l,
		     fm->ctr[SFC_FLOWMON_AGENT_REMOVED]);
	metrics__u64(m, "sfc_flowmon_evictions_total", METRIC_COUNTER,
		     "Flow entries the table evicted to make room (created - removed - present).",
		     l, fm->evictions);
	metrics__u64(m, "sfc_flowmon_exported_records_total", METRIC_COUNTER,
		     "IPFIX data records sent.", l, fm->ctr[SFC_FLOWMON_AGENT_EXPORTED]);
	metrics__u64(m, "sfc_flowmon_export_errors_total", METRIC_COUNTER,
		     "IPFIX messages that could not be sent, and failed connects.", l,
		     fm->ctr[SFC_FLOWMON_AGENT_EXPORT_ERRORS]);
	metrics__f64(m, "sfc_flowmon_scan_seconds", METRIC_GAUGE,
		     "How long the agent's last scan of the table took.", l, fm->scan_ns / 1e9);
	if (fm->x) {
		const char *const lc[] = { "chain", fn->chain, "function", fn->name, "collector",
					   ipfix__collector(fm->x), NULL };

		metrics__u64(m, "sfc_flowmon_collector_up", METRIC_GAUGE,
			     "1 when the last export to the collector succeeded.", lc,
			     !ipfix__last_error(fm->x)[0]);
		metrics__u64(m, "sfc_flowmon_exported_messages_total", METRIC_COUNTER,
			     "IPFIX messages sent since the agent started.", lc,
			     ipfix__stats(fm->x)->messages);
	}
}

static void fm_summary(struct agent_fn *fn, char *buf, size_t len, bool *failed)
{
	struct fm *fm = fn->priv;

	snprintf(buf, len, "%llu records exported, %llu flows removed, %llu export errors, "
		 "%llu flows seen%s%s",
		 (unsigned long long)fm->run_exported, (unsigned long long)fm->run_removed,
		 (unsigned long long)fm->run_errors, (unsigned long long)fm->present,
		 fm->x && ipfix__last_error(fm->x)[0] ? ": " : "",
		 fm->x ? ipfix__last_error(fm->x) : "");
	*failed = fm->run_errors > 0;
}

const struct agent_type agent_flowmon = {
	.name = "flowmon",
	.start = fm_start,
	.tick = fm_tick,
	.metrics = fm_metrics,
	.metrics_listen = fm_listen,
	.summary = fm_summary,
	.stop = fm_stop,
};
