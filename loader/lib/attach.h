/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef SFC_ATTACH_H
#define SFC_ATTACH_H

#include <stdbool.h>
#include "sfc/sfc.h"

struct sfc_attach_req {
	int prog_fd;			/* the root program */
	int ifindex;
	const char *ifname;
	const char *path;		/* spec key, for errors */
	enum sfc_xdp_mode mode;		/* auto tries native, then skb */
	const char *link_pin;		/* where a bpf_link is pinned */
};

struct sfc_attach_res {
	enum sfc_attach_method method;
	enum sfc_xdp_mode mode;
};

/* Must be called inside the interface's netns. */
int sfc_attach(const struct sfc_attach_req *req, struct sfc_attach_res *res, struct sfc_diag *diag);
int sfc_detach(int prog_fd, int ifindex, enum sfc_attach_method method, enum sfc_xdp_mode mode,
	       const char *link_pin);
bool sfc_attached(int prog_id, int ifindex, enum sfc_attach_method method, const char *link_pin);
/* Detach prog_fd[0]/[1] where ifindex has one without a link (the remains of
 * an apply that died while libxdp attached); how many were. Current netns. */
int sfc_detach_unlinked(int ifindex, const int prog_fd[2]);

#endif
