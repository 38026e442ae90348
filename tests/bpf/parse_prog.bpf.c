// SPDX-License-Identifier: GPL-2.0
/*
 * Test harness for parse.h: runs sfc_parse() on the test_run packet, stores
 * the struct sfc_pkt it filled in sfc_parse_out and returns the parse result
 * as the program's retval, so test_parse.c can check both.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "parse.h"

/*
 * sfc_parse_out: the last parse result, key 0.
 * Written by sfc_parse_test, read by test_parse.c after every test_run. A
 * plain array, not per-CPU: test_run runs on the calling CPU, and the test
 * reads one value. Prefilled by the test with a pattern so it can see that
 * the parser zeroes what it does not set and leaves the chain state alone.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sfc_pkt);
} sfc_parse_out SEC(".maps");

SEC("xdp")
int sfc_parse_test(struct xdp_md *ctx)
{
	struct sfc_pkt *pkt;
	__u32 zero = 0;

	pkt = bpf_map_lookup_elem(&sfc_parse_out, &zero);
	if (!pkt)
		return -1;
	return sfc_parse(ctx, pkt);
}

char LICENSE[] SEC("license") = "GPL";
