/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Raw netlink by hand, for the few requests libsfc makes itself (VF
 * settings over rtnetlink, the netdev family's xdp-features): a message
 * builder into a caller's buffer and one request/reply exchange.
 */
#ifndef SFC_NL_H
#define SFC_NL_H

#include <stddef.h>
#include <linux/netlink.h>

/*
 * A message under construction in buf. The first error (-ENOSPC) sticks in
 * err and makes every later call a no-op, so a builder checks once, at the
 * end (sfc_nl_end).
 */
struct sfc_nl {
	char *buf;
	size_t cap;
	size_t len;
	int err;
};

/* Start a message: header, then hdrlen zeroed bytes of family header. */
struct nlmsghdr *sfc_nl_begin(struct sfc_nl *b, void *buf, size_t cap, __u16 type, __u16 flags,
			      __u32 seq, size_t hdrlen);
/* Reserve len zeroed bytes (aligned); NULL once out of room. */
void *sfc_nl_put(struct sfc_nl *b, size_t len);
void sfc_nl_attr(struct sfc_nl *b, __u16 type, const void *data, size_t len);
void sfc_nl_attr_u16(struct sfc_nl *b, __u16 type, __u16 v);
void sfc_nl_attr_u32(struct sfc_nl *b, __u16 type, __u32 v);
void sfc_nl_attr_str(struct sfc_nl *b, __u16 type, const char *s);
/* Nests: begin returns the attribute's offset, end fixes its length. */
size_t sfc_nl_nest_begin(struct sfc_nl *b, __u16 type);
void sfc_nl_nest_end(struct sfc_nl *b, size_t off);
/* The message's final length, or -ENOSPC. */
int sfc_nl_end(struct sfc_nl *b);

/* Walk the attributes in [data, data + len). */
#define sfc_nla_for_each(a, data, len, rem)                                             \
	for ((a) = (const struct nlattr *)(data), (rem) = (int)(len);                   \
	     (rem) >= (int)sizeof(struct nlattr) && (a)->nla_len >= sizeof(struct nlattr) && \
	     (a)->nla_len <= (rem);                                                     \
	     (rem) -= NLA_ALIGN((a)->nla_len),                                           \
	     (a) = (const struct nlattr *)((const char *)(a) + NLA_ALIGN((a)->nla_len)))

static inline const void *sfc_nla_data(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static inline int sfc_nla_len(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

static inline int sfc_nla_type(const struct nlattr *a)
{
	return a->nla_type & NLA_TYPE_MASK;
}

/*
 * Send req (one message, with NLM_F_ACK) on a new socket of protocol proto
 * and read until the kernel's ACK. Every other message of the reply goes to cb (may be
 * NULL), which returns 0 or -errno to stop. Returns the ACK's error
 * (0 or -errno); ext, when not NULL, gets the kernel's extended ACK message
 * ("" without one).
 */
int sfc_nl_request(int proto, const void *req, size_t len,
		   int (*cb)(const struct nlmsghdr *nh, void *arg), void *arg, char *ext,
		   size_t ext_len);

#endif
