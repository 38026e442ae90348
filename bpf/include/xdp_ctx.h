/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef SFC_XDP_CTX_H
#define SFC_XDP_CTX_H

/*
 * ctx->data and ctx->data_end, each read by its own load at a constant
 * offset from ctx. The verifier refuses any other ctx access, and when the
 * caller has read the same fields on another path (the entry's byte
 * counter), clang 14 merges the loads into one through a computed ctx + 4:
 * "dereference of modified ctx ptr R7 off=4 disallowed".
 */
#define sfc_ctx_ptr(ctx, field)							\
	({									\
		__u64 __v;							\
		asm volatile("%0 = *(u32 *)(%1 + %2)"				\
			     : "=r"(__v)					\
			     : "r"(ctx), "i"(__builtin_offsetof(struct xdp_md, field))); \
		(void *)(long)__v;						\
	})

/* Frame length, read without the ctx pointer arithmetic clang may merge. */
#define sfc_ctx_len(ctx) ((__u32)((long)sfc_ctx_ptr(ctx, data_end) - (long)sfc_ctx_ptr(ctx, data)))

#endif
