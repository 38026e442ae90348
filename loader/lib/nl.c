// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Raw netlink: a message builder and one request/ACK exchange (nl.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "nl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

struct nlmsghdr *sfc_nl_begin(struct sfc_nl *b, void *buf, size_t cap, __u16 type, __u16 flags,
			      __u32 seq, size_t hdrlen)
{
	struct nlmsghdr *nh;

	b->buf = buf;
	b->cap = cap;
	b->len = 0;
	b->err = 0;
	nh = sfc_nl_put(b, NLMSG_HDRLEN);
	if (!nh)
		return NULL;
	nh->nlmsg_type = type;
	nh->nlmsg_flags = flags;
	nh->nlmsg_seq = seq;
	if (hdrlen && !sfc_nl_put(b, hdrlen))
		return NULL;
	return nh;
}

void *sfc_nl_put(struct sfc_nl *b, size_t len)
{
	size_t alen = NLMSG_ALIGN(len);
	void *p;

	if (b->err)
		return NULL;
	if (b->len + alen > b->cap || b->len + alen > 0xffffffffu) {
		b->err = -ENOSPC;
		return NULL;
	}
	p = b->buf + b->len;
	memset(p, 0, alen);
	b->len += alen;
	return p;
}

void sfc_nl_attr(struct sfc_nl *b, __u16 type, const void *data, size_t len)
{
	struct nlattr *a;

	if (NLA_HDRLEN + len > 0xffff) {
		b->err = b->err ?: -ENOSPC;
		return;
	}
	a = sfc_nl_put(b, NLA_HDRLEN + len);
	if (!a)
		return;
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy((char *)a + NLA_HDRLEN, data, len);
}

void sfc_nl_attr_u16(struct sfc_nl *b, __u16 type, __u16 v)
{
	sfc_nl_attr(b, type, &v, sizeof(v));
}

void sfc_nl_attr_u32(struct sfc_nl *b, __u16 type, __u32 v)
{
	sfc_nl_attr(b, type, &v, sizeof(v));
}

void sfc_nl_attr_str(struct sfc_nl *b, __u16 type, const char *s)
{
	sfc_nl_attr(b, type, s, strlen(s) + 1);
}

size_t sfc_nl_nest_begin(struct sfc_nl *b, __u16 type)
{
	size_t off = b->len;

	sfc_nl_attr(b, type | NLA_F_NESTED, NULL, 0);
	return off;
}

void sfc_nl_nest_end(struct sfc_nl *b, size_t off)
{
	struct nlattr *a;

	if (b->err)
		return;
	if (b->len - off > 0xffff) {
		b->err = -ENOSPC;
		return;
	}
	a = (struct nlattr *)(b->buf + off);
	a->nla_len = b->len - off;
}

int sfc_nl_end(struct sfc_nl *b)
{
	if (b->err)
		return b->err;
	((struct nlmsghdr *)b->buf)->nlmsg_len = b->len;
	return (int)b->len;
}

/* The NLMSGERR_ATTR_MSG of an extended ACK, if any. */
static void ext_ack_msg(const struct nlmsghdr *nh, char *ext, size_t ext_len)
{
	const struct nlmsgerr *e = NLMSG_DATA(nh);
	const struct nlattr *a;
	size_t off;
	int rem;

	if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* The request comes back after the error unless capped (or an ACK). */
	off = NLMSG_HDRLEN + sizeof(*e);
	if (!(nh->nlmsg_flags & NLM_F_CAPPED) && e->error)
		off += NLMSG_ALIGN(e->msg.nlmsg_len) - NLMSG_HDRLEN;
	if (off >= nh->nlmsg_len)
		return;
	sfc_nla_for_each(a, (const char *)nh + off, nh->nlmsg_len - off, rem) {
		if (sfc_nla_type(a) == NLMSGERR_ATTR_MSG && sfc_nla_len(a) > 0) {
			snprintf(ext, ext_len, "%.*s", sfc_nla_len(a),
				 (const char *)sfc_nla_data(a));
			return;
		}
	}
}

int sfc_nl_request(int proto, const void *req, size_t len,
		   int (*cb)(const struct nlmsghdr *nh, void *arg), void *arg, char *ext,
		   size_t ext_len)
{
	const struct nlmsghdr *rq = req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	const size_t cap = 64 * 1024;
	struct nlmsghdr *nh;
	int fd, one = 1, err = 0;
	char *buf = NULL;
	ssize_t n;

	if (ext && ext_len)
		ext[0] = '\0';
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	/* Older kernels lack extended ACKs; the plain error still comes. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (sendto(fd, req, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		goto out;
	}
	for (;;) {
		n = recv(fd, buf, cap, MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if ((size_t)n > cap) {
			err = -EMSGSIZE;
			goto out;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != rq->nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nh);

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e))) {
					err = -EBADMSG;
					goto out;
				}
				if (ext && ext_len)
					ext_ack_msg(nh, ext, ext_len);
				/* A callback's error wins; the ACK follows it anyway. */
				err = err ?: e->error;
				goto out;
			}
			if (nh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (cb && !err)
				err = cb(nh, arg);
		}
	}
out:
	free(buf);
	close(fd);
	return err;
}
