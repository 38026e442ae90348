// SPDX-License-Identifier: GPL-2.0
/*
 * Micro-benchmark of the hand-off from the entry parser to the functions:
 * XDP metadata (bpf_xdp_adjust_meta) against a per-CPU scratch map.
 *
 * Every variant is a writer that stores a record and tail-calls a reader;
 * the reader checks the record, bumps its hop count and tail-calls itself
 * until nhops readers have run, as sfc_tail() does with sfc_pkt.hop. Each
 * reader reads every field of the record and folds it into a check, so
 * clang cannot drop the reads, and returns XDP_PASS only if the record
 * arrived whole: the driver refuses a run whose verdict is anything else.
 *
 * The writers store constants and the frame length rather than parse the
 * packet: parsing costs the same whichever way the result travels.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "shared/sfc_abi.h"
#include "xdp_ctx.h"

/*
 * 32 bytes: the XDP metadata limit the issue assumed (xdp_metalen_invalid()
 * long allowed 32; the driver probes the running kernel's limit).
 */
struct bench_rec {
	__u8 hop;
	__u8 nhops;
	__u16 l3_off;
	__u32 len;
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 l4_proto;
	__u8 flags;
	__u16 l4_off;
	__u64 check;		/* rec_fold(): the other fields but hop and nhops */
};

_Static_assert(sizeof(struct bench_rec) == 32, "bench_rec must fill the metadata area");

/*
 * bench_{none,meta,s32,pkt}_progs: the readers of each variant.
 * key: slot, value: program fd. Written once by the driver before the first
 * run, read by the writers' and readers' tail calls. Sized by the longest
 * chain of distinct programs (the bare tail-call chain, 3).
 */
#define BENCH_PROGS(name)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);			\
		__uint(max_entries, 3);					\
		__type(key, __u32);					\
		__type(value, __u32);					\
	} name SEC(".maps")

BENCH_PROGS(bench_none_progs);
BENCH_PROGS(bench_meta_progs);
BENCH_PROGS(bench_s32_progs);
BENCH_PROGS(bench_pkt_progs);
BENCH_PROGS(bench_mpkt_progs);

/*
 * bench_s32_scratch, bench_pkt_scratch: the record, key 0, as sfc_scratch.
 * Written by the writer, read and updated (hop) by the readers; one entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_rec);
} bench_s32_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sfc_pkt);
} bench_pkt_scratch SEC(".maps");

/* bench_probe: the delta the driver asks for, and what the helper said. */
int bench_probe_delta = -32;
int bench_probe_ret = 0;

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/*
 * The bare tail calls, no record: w1 -> r, w3 -> m1 -> m2 -> r (slots 0,
 * 1, 2 hold r, m1, m2). The chain is fixed per program because there is no
 * record to carry a hop count.
 */
#define BENCH_TAIL(name, slot)						\
	SEC("xdp")							\
	int name(struct xdp_md *ctx)					\
	{								\
		bpf_tail_call(ctx, &bench_none_progs, slot);		\
		return XDP_ABORTED;					\
	}

BENCH_TAIL(bench_none_w1, 0)
BENCH_TAIL(bench_none_w3, 1)
BENCH_TAIL(bench_none_m1, 2)
BENCH_TAIL(bench_none_m2, 0)

SEC("xdp")
int bench_none_r(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* 32-byte record: the same for metadata and scratch. */

/*
 * Folds read each field at its own width, as a function would. Loading a
 * whole word over fields just stored one by one (hop, or the writer's
 * fields) stalls on failed store forwarding and measures that instead.
 */
#define FOLD(x, v, shift) ((x) ^= (__u64)(v) << (shift))

/* Every field but hop and nhops, which change along the chain. */
static __always_inline __u64 rec_fold(const struct bench_rec *r)
{
	__u64 x = 0;

	FOLD(x, r->l3_off, 0);
	FOLD(x, r->len, 16);
	FOLD(x, r->src, 0);
	FOLD(x, r->dst, 32);
	FOLD(x, r->sport, 8);
	FOLD(x, r->dport, 24);
	FOLD(x, r->l4_proto, 40);
	FOLD(x, r->flags, 48);
	FOLD(x, r->l4_off, 56);
	return x;
}

static __always_inline void rec_fill(struct bench_rec *r, struct xdp_md *ctx, __u8 nhops)
{
	r->hop = 0;
	r->nhops = nhops;
	r->l3_off = 14;
	r->len = sfc_ctx_len(ctx);
	r->src = 0x0100000a;
	r->dst = 0x0200000a;
	r->sport = 0xd204;
	r->dport = 0x3500;
	r->l4_proto = 17;
	r->flags = 1;
	r->l4_off = 34;
	r->check = rec_fold(r);
}

static __always_inline int rec_hop(struct xdp_md *ctx, struct bench_rec *r, void *progs)
{
	if (rec_fold(r) != r->check)
		return XDP_DROP;
	if (++r->hop < r->nhops) {
		bpf_tail_call(ctx, progs, 0);
		return XDP_ABORTED;
	}
	return XDP_PASS;
}

/* (b) XDP metadata. */

/*
 * BPF_PROG_TEST_RUN runs every repetition on the same xdp_buff, so the
 * area would grow by the record's size each repetition until the kernel's
 * limit refused it (the driver shows this with bench_probe). The repeat
 * writer therefore grows the area to the record's size from whatever is
 * there: -size on the first repetition, 0 after, through the same helper
 * and checks. On a NIC every frame starts with no metadata and `fresh`
 * (-size) is what runs; the driver measures it with one repetition per
 * test run.
 */
static __always_inline int meta_grow(struct xdp_md *ctx, int size, bool fresh)
{
	int delta = -size;

	if (!fresh)
		delta += (long)sfc_ctx_ptr(ctx, data) - (long)sfc_ctx_ptr(ctx, data_meta);
	return bpf_xdp_adjust_meta(ctx, delta);
}

static __always_inline int meta_write(struct xdp_md *ctx, __u8 nhops, bool fresh)
{
	struct bench_rec *r;
	void *data;

	if (meta_grow(ctx, sizeof(*r), fresh))
		return XDP_ABORTED;
	r = sfc_ctx_ptr(ctx, data_meta);
	data = sfc_ctx_ptr(ctx, data);
	if ((void *)(r + 1) > data)
		return XDP_ABORTED;
	rec_fill(r, ctx, nhops);
	bpf_tail_call(ctx, &bench_meta_progs, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int bench_meta_w1(struct xdp_md *ctx)
{
	return meta_write(ctx, 1, false);
}

SEC("xdp")
int bench_meta_w3(struct xdp_md *ctx)
{
	return meta_write(ctx, 3, false);
}

SEC("xdp")
int bench_meta_f1(struct xdp_md *ctx)
{
	return meta_write(ctx, 1, true);
}

SEC("xdp")
int bench_meta_f3(struct xdp_md *ctx)
{
	return meta_write(ctx, 3, true);
}

SEC("xdp")
int bench_meta_r(struct xdp_md *ctx)
{
	struct bench_rec *r = sfc_ctx_ptr(ctx, data_meta);
	void *data = sfc_ctx_ptr(ctx, data);

	if ((void *)(r + 1) > data)
		return XDP_ABORTED;
	return rec_hop(ctx, r, &bench_meta_progs);
}

/*
 * How much metadata does this kernel take, and does the area survive from
 * one test_run repetition to the next?
 */
SEC("xdp")
int bench_probe(struct xdp_md *ctx)
{
	bench_probe_ret = bpf_xdp_adjust_meta(ctx, bench_probe_delta);
	return bench_probe_ret ? XDP_DROP : XDP_PASS;
}

/* (c) per-CPU scratch, 32 bytes. */

static __always_inline int s32_write(struct xdp_md *ctx, __u8 nhops)
{
	__u32 zero = 0;
	struct bench_rec *r = bpf_map_lookup_elem(&bench_s32_scratch, &zero);

	if (!r)
		return XDP_ABORTED;
	rec_fill(r, ctx, nhops);
	bpf_tail_call(ctx, &bench_s32_progs, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int bench_s32_w1(struct xdp_md *ctx)
{
	return s32_write(ctx, 1);
}

SEC("xdp")
int bench_s32_w3(struct xdp_md *ctx)
{
	return s32_write(ctx, 3);
}

SEC("xdp")
int bench_s32_r(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct bench_rec *r = bpf_map_lookup_elem(&bench_s32_scratch, &zero);

	if (!r)
		return XDP_ABORTED;
	return rec_hop(ctx, r, &bench_s32_progs);
}

/*
 * (d) per-CPU scratch holding the whole struct sfc_pkt, as sfc does. The
 * hop count lives where sfc keeps it (hop), the chain length in mark.
 */

/* Every field but the padding, hop, and the check itself. */
static __always_inline __u64 pkt_fold(const struct sfc_pkt *p)
{
	__u64 x = 0;

	FOLD(x, p->l3_off, 0);
	FOLD(x, p->l4_off, 16);
	FOLD(x, p->payload_off, 32);
	FOLD(x, p->l3_len, 48);
	FOLD(x, p->h_proto, 8);
	FOLD(x, p->vlan[0], 24);
	FOLD(x, p->vlan[1], 40);
	FOLD(x, p->n_vlan, 56);
	FOLD(x, p->family, 4);
	FOLD(x, p->l4_proto, 12);
	FOLD(x, p->flags, 20);
	FOLD(x, p->tcp_flags, 28);
	FOLD(x, p->icmp_type, 36);
	FOLD(x, p->icmp_code, 44);
	FOLD(x, p->ttl, 52);
	FOLD(x, p->sport, 2);
	FOLD(x, p->dport, 18);
	FOLD(x, p->src[0], 0);
	FOLD(x, p->src[1], 32);
	FOLD(x, p->src[2], 1);
	FOLD(x, p->src[3], 31);
	FOLD(x, p->dst[0], 2);
	FOLD(x, p->dst[1], 30);
	FOLD(x, p->dst[2], 3);
	FOLD(x, p->dst[3], 29);
	FOLD(x, p->len, 5);
	FOLD(x, p->dir, 60);
	FOLD(x, p->mark, 7);
	FOLD(x, p->nf_data[0], 0);
	return x;
}

static __always_inline void pkt_fill(struct sfc_pkt *p, struct xdp_md *ctx, __u32 nhops)
{
	p->l3_off = 14;
	p->l4_off = 34;
	p->payload_off = 42;
	p->l3_len = 50;
	p->h_proto = 0x0008;
	p->vlan[0] = 0;
	p->vlan[1] = 0;
	p->n_vlan = 0;
	p->family = SFC_FAMILY_IPV4;
	p->l4_proto = 17;
	p->flags = SFC_PKT_L4;
	p->tcp_flags = 0;
	p->icmp_type = 0;
	p->icmp_code = 0;
	p->ttl = 64;
	p->sport = 0xd204;
	p->dport = 0x3500;
	p->verdict_stage = 0;
	p->pad1 = 0;
	p->src[0] = 0x0100000a;
	p->src[1] = 0;
	p->src[2] = 0;
	p->src[3] = 0;
	p->dst[0] = 0x0200000a;
	p->dst[1] = 0;
	p->dst[2] = 0;
	p->dst[3] = 0;
	p->len = sfc_ctx_len(ctx);
	p->dir = SFC_DIR_FWD;
	p->hop = 0;
	p->hook = 0;
	p->verdict = 0;
	p->mark = nhops;
	p->nf_data[0] = 0;
	p->nf_data[1] = pkt_fold(p);
}

static __always_inline int pkt_hop(struct xdp_md *ctx, struct sfc_pkt *p, void *progs)
{
	if (pkt_fold(p) != p->nf_data[1])
		return XDP_DROP;
	if (++p->hop < p->mark) {
		bpf_tail_call(ctx, progs, 0);
		return XDP_ABORTED;
	}
	return XDP_PASS;
}

static __always_inline int pkt_write(struct xdp_md *ctx, __u32 nhops)
{
	__u32 zero = 0;
	struct sfc_pkt *p = bpf_map_lookup_elem(&bench_pkt_scratch, &zero);

	if (!p)
		return XDP_ABORTED;
	pkt_fill(p, ctx, nhops);
	bpf_tail_call(ctx, &bench_pkt_progs, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int bench_pkt_w1(struct xdp_md *ctx)
{
	return pkt_write(ctx, 1);
}

SEC("xdp")
int bench_pkt_w3(struct xdp_md *ctx)
{
	return pkt_write(ctx, 3);
}

SEC("xdp")
int bench_pkt_r(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct sfc_pkt *p = bpf_map_lookup_elem(&bench_pkt_scratch, &zero);

	if (!p)
		return XDP_ABORTED;
	return pkt_hop(ctx, p, &bench_pkt_progs);
}

/*
 * (f) the whole struct sfc_pkt in XDP metadata: possible only where the
 * kernel takes more than 32 bytes of metadata (the driver checks first).
 */

static __always_inline int mpkt_write(struct xdp_md *ctx, __u32 nhops, bool fresh)
{
	struct sfc_pkt *p;
	void *data;

	if (meta_grow(ctx, sizeof(*p), fresh))
		return XDP_ABORTED;
	p = sfc_ctx_ptr(ctx, data_meta);
	data = sfc_ctx_ptr(ctx, data);
	if ((void *)(p + 1) > data)
		return XDP_ABORTED;
	pkt_fill(p, ctx, nhops);
	bpf_tail_call(ctx, &bench_mpkt_progs, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int bench_mpkt_w1(struct xdp_md *ctx)
{
	return mpkt_write(ctx, 1, false);
}

SEC("xdp")
int bench_mpkt_w3(struct xdp_md *ctx)
{
	return mpkt_write(ctx, 3, false);
}

SEC("xdp")
int bench_mpkt_f1(struct xdp_md *ctx)
{
	return mpkt_write(ctx, 1, true);
}

SEC("xdp")
int bench_mpkt_f3(struct xdp_md *ctx)
{
	return mpkt_write(ctx, 3, true);
}

SEC("xdp")
int bench_mpkt_r(struct xdp_md *ctx)
{
	struct sfc_pkt *p = sfc_ctx_ptr(ctx, data_meta);
	void *data = sfc_ctx_ptr(ctx, data);

	if ((void *)(p + 1) > data)
		return XDP_ABORTED;
	return pkt_hop(ctx, p, &bench_mpkt_progs);
}

char LICENSE[] SEC("license") = "GPL";
