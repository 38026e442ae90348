// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Attaching a chain's root programs to its interfaces.
 *
 * libxdp first, so that a chain can share an interface with other XDP
 * programs through the dispatcher. When libxdp cannot load its dispatcher
 * (it then attaches the program alone, "legacy" mode) or refuses the
 * program, the root is attached with a bpf_link of our own instead: a link
 * is pinned with the chain and detached with it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "attach.h"
#include "internal.h"
#include "sriov.h"

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	sfc_log(SFC_LOG_DEBUG, "libxdp: %s", msg);
	return 0;
}

static __u32 mode_flags(enum sfc_xdp_mode mode)
{
	return mode == SFC_XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

static enum xdp_attach_mode libxdp_mode(enum sfc_xdp_mode mode)
{
	return mode == SFC_XDP_MODE_NATIVE ? XDP_MODE_NATIVE : XDP_MODE_SKB;
}

/*
 * Try libxdp with its dispatcher. Returns 0 when the root now runs behind
 * the dispatcher, -EOPNOTSUPP when libxdp could only attach it alone (then
 * undone), another -errno when it refused.
 */
static int attach_libxdp(int prog_fd, int ifindex, enum sfc_xdp_mode mode)
{
	struct xdp_multiprog *mp;
	struct xdp_program *xp;
	bool legacy;
	int err;

	libxdp_set_print(libxdp_print);
	xp = xdp_program__from_fd(prog_fd);
	err = libxdp_get_error(xp);
	if (err)
		return err;
	err = xdp_program__attach(xp, ifindex, libxdp_mode(mode), 0);
	if (err)
		goto out;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	legacy = libxdp_get_error(mp) || xdp_multiprog__is_legacy(mp);
	if (!libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	if (legacy) {
		xdp_program__detach(xp, ifindex, libxdp_mode(mode), 0);
		err = -EOPNOTSUPP;
	}
out:
	xdp_program__close(xp);
	return err;
}

static int attach_link(int prog_fd, int ifindex, enum sfc_xdp_mode mode, const char *pin)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = mode_flags(mode));
	int fd, err;

	fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0)
		return -errno;
	err = bpf_obj_pin(fd, pin) ? -errno : 0;
	if (err)
		bpf_link_detach(fd);
	close(fd);
	return err;
}

/*
 * xdpMode auto: 0 when the driver says it has no native XDP (xdp-features
 * without NETDEV_XDP_ACT_BASIC), so that skb mode is taken without a native
 * attach that can only fail; 1 when it says it has; -1 when the kernel
 * cannot tell (before 6.3), and native is tried as before.
 */
static int auto_native(const struct sfc_attach_req *req)
{
	__u64 features;
	int err;

	err = sfc_xdp_features_get(req->ifindex, &features);
	if (err) {
		sfc_log(SFC_LOG_DEBUG, "%s: xdp-features unknown (%s): trying native first",
			req->ifname, strerror(-err));
		return -1;
	}
	if (features & SFC_XDP_ACT_BASIC)
		return 1;
	sfc_log(SFC_LOG_INFO, "%s: the driver has no native XDP (xdp-features 0x%llx): "
		"attaching in skb mode", req->ifname, (unsigned long long)features);
	return 0;
}

int sfc_attach(const struct sfc_attach_req *req, struct sfc_attach_res *res, struct sfc_diag *diag)
{
	enum sfc_xdp_mode modes[2];
	int n = 0, i, err = 0, xerr, native = -1;

	if (req->mode == SFC_XDP_MODE_AUTO) {
		native = auto_native(req);
		if (native)
			modes[n++] = SFC_XDP_MODE_NATIVE;
		modes[n++] = SFC_XDP_MODE_SKB;
	} else {
		modes[n++] = req->mode;
	}

	for (i = 0; i < n; i++) {
		xerr = attach_libxdp(req->prog_fd, req->ifindex, modes[i]);
		if (!xerr) {
			res->method = SFC_ATTACH_LIBXDP;
			res->mode = modes[i];
			return 0;
		}
		sfc_log(SFC_LOG_DEBUG, "%s: libxdp %s attach: %s", req->ifname,
			sfc_xdp_mode__str(modes[i]),
			xerr == -EOPNOTSUPP ? "no dispatcher on this host" : strerror(-xerr));
		err = attach_link(req->prog_fd, req->ifindex, modes[i], req->link_pin);
		if (!err) {
			res->method = SFC_ATTACH_LINK;
			res->mode = modes[i];
			sfc_log(SFC_LOG_INFO, "%s: attached by bpf_link in %s mode", req->ifname,
				sfc_xdp_mode__str(modes[i]));
			return 0;
		}
		sfc_log(SFC_LOG_DEBUG, "%s: %s attach by bpf_link: %s", req->ifname,
			sfc_xdp_mode__str(modes[i]), strerror(-err));
		/* A driver that has XDP but refused it now: say why auto ends in skb. */
		if (native == 1 && modes[i] == SFC_XDP_MODE_NATIVE && err != -EBUSY &&
		    err != -EEXIST)
			sfc_log(SFC_LOG_WARN, "%s: the driver has native XDP but refused it (%s); "
				"trying skb mode", req->ifname, strerror(-err));
	}
	if (err == -EBUSY || err == -EEXIST)
		return sfc_diag_set(diag, err, req->path,
				    "interface %s already has an XDP program that sfc does not own; "
				    "remove it first (ip link set dev %s xdp off)",
				    req->ifname, req->ifname);
	return sfc_diag_set(diag, err, req->path, "cannot attach XDP in %s mode to %s: %s",
			    sfc_xdp_mode__str(req->mode), req->ifname, strerror(-err));
}

int sfc_detach(int prog_fd, int ifindex, enum sfc_attach_method method, enum sfc_xdp_mode mode,
	       const char *link_pin)
{
	struct xdp_program *xp;
	int fd, err = 0;

	if (method == SFC_ATTACH_LIBXDP) {
		libxdp_set_print(libxdp_print);
		xp = xdp_program__from_fd(prog_fd);
		err = libxdp_get_error(xp);
		if (err)
			return err;
		err = xdp_program__detach(xp, ifindex, libxdp_mode(mode), 0);
		xdp_program__close(xp);
		return err;
	}
	fd = bpf_obj_get(link_pin);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* A link whose interface is gone is already detached. */
	if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL)
		err = -errno;
	close(fd);
	return err;
}

bool sfc_attached(int prog_id, int ifindex, enum sfc_attach_method method, const char *link_pin)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int fd;
	bool ok;

	if (method == SFC_ATTACH_LINK) {
		fd = bpf_obj_get(link_pin);
		if (fd < 0)
			return false;
		ok = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.xdp.ifindex == (__u32)ifindex &&
		     info.prog_id == (__u32)prog_id;
		close(fd);
		return ok;
	}
	/* libxdp: the root sits behind the dispatcher; the interface must have one. */
	if (bpf_xdp_query(ifindex, 0, &q))
		return false;
	return q.prog_id || q.drv_prog_id || q.skb_prog_id;
}

/*
 * An apply that died inside attach_libxdp() can leave the root attached by
 * netlink without a link (libxdp's "legacy" attach, undone a moment later
 * when it has no dispatcher). Nothing pinned holds that attachment, so
 * removing the pins does not end it. Detach from ifindex, in the current
 * netns, whichever of the programs prog_fd[] the kernel has there without a
 * link; XDP_FLAGS_REPLACE makes sure nothing else is touched.
 */
int sfc_detach_unlinked(int ifindex, const int prog_fd[2])
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	static const __u32 mode[3] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_HW_MODE };
	struct bpf_prog_info pi;
	__u32 ids[2] = {}, id, len;
	int i, k, n = 0;

	for (k = 0; k < 2; k++) {
		memset(&pi, 0, sizeof(pi));
		len = sizeof(pi);
		if (prog_fd[k] >= 0 && !bpf_obj_get_info_by_fd(prog_fd[k], &pi, &len))
			ids[k] = pi.id;
	}
	if (!ifindex || bpf_xdp_query(ifindex, 0, &q))
		return 0;
	for (i = 0; i < 3; i++) {
		id = i == 0 ? q.drv_prog_id : i == 1 ? q.skb_prog_id : q.hw_prog_id;
		for (k = 0; id && k < 2; k++) {
			LIBBPF_OPTS(bpf_xdp_attach_opts, o, .old_prog_fd = prog_fd[k]);

			if (id != ids[k])
				continue;
			if (!bpf_xdp_detach(ifindex, mode[i] | XDP_FLAGS_REPLACE, &o)) {
				sfc_log(SFC_LOG_INFO, "ifindex %d: detached a root an earlier apply left "
					"attached", ifindex);
				n++;
			}
		}
	}
	return n;
}
