// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Does a driver support native XDP? The kernel says so itself since 6.3:
 * the "netdev" generic netlink family reports each device's xdp-features
 * (NETDEV_XDP_ACT_*), and a driver that implements XDP sets at least
 * NETDEV_XDP_ACT_BASIC. On older kernels the only way to know is to try: a
 * program that passes every packet is attached in driver mode and detached
 * again.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "nl.h"
#include "sriov.h"

/* linux/netdev.h (uAPI since 6.3; bookworm's linux-libc-dev is 6.1) */
#define SFC_NETDEV_FAMILY_NAME		"netdev"
#define SFC_NETDEV_CMD_DEV_GET		1
#define SFC_NETDEV_A_DEV_IFINDEX	1
#define SFC_NETDEV_A_DEV_XDP_FEATURES	3

static const char *const feature_names[] = {
	"basic", "redirect", "ndo-xmit", "xsk-zerocopy", "hw-offload", "rx-sg", "ndo-xmit-sg",
};

const char *sfc_xdp_feature__str(unsigned int bit)
{
	return bit < sizeof(feature_names) / sizeof(feature_names[0]) ? feature_names[bit] : NULL;
}

static int family_cb(const struct nlmsghdr *nh, void *arg)
{
	const struct nlattr *a;
	int rem;

	if (nh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return -EBADMSG;
	sfc_nla_for_each(a, (const char *)NLMSG_DATA(nh) + GENL_HDRLEN,
			 nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), rem) {
		if (sfc_nla_type(a) == CTRL_ATTR_FAMILY_ID && sfc_nla_len(a) >= 2) {
			memcpy(arg, sfc_nla_data(a), sizeof(__u16));
			return 0;
		}
	}
	return 0;
}

/* The id of generic netlink family name; -ENOENT without it. */
static int genl_family(const char *name, __u16 *id)
{
	char buf[128];
	struct genlmsghdr *g;
	struct sfc_nl b;
	int len, err;

	*id = 0;
	sfc_nl_begin(&b, buf, sizeof(buf), GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 1,
		     GENL_HDRLEN);
	g = (struct genlmsghdr *)(buf + NLMSG_HDRLEN);
	g->cmd = CTRL_CMD_GETFAMILY;
	g->version = 1;
	sfc_nl_attr_str(&b, CTRL_ATTR_FAMILY_NAME, name);
	len = sfc_nl_end(&b);
	if (len < 0)
		return len;
	err = sfc_nl_request(NETLINK_GENERIC, buf, len, family_cb, id, NULL, 0);
	if (err)
		return err;
	return *id ? 0 : -ENOENT;
}

struct features_arg {
	__u64 features;
	bool found;
};

static int features_cb(const struct nlmsghdr *nh, void *arg)
{
	struct features_arg *f = arg;
	const struct nlattr *a;
	int rem;

	if (nh->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN))
		return -EBADMSG;
	sfc_nla_for_each(a, (const char *)NLMSG_DATA(nh) + GENL_HDRLEN,
			 nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), rem) {
		if (sfc_nla_type(a) == SFC_NETDEV_A_DEV_XDP_FEATURES &&
		    sfc_nla_len(a) >= (int)sizeof(__u64)) {
			memcpy(&f->features, sfc_nla_data(a), sizeof(__u64));
			f->found = true;
		}
	}
	return 0;
}

int sfc_xdp_features_get(int ifindex, __u64 *features)
{
	struct features_arg f = {};
	struct genlmsghdr *g;
	struct sfc_nl b;
	char buf[128];
	__u16 id;
	int len, err;

	err = genl_family(SFC_NETDEV_FAMILY_NAME, &id);
	if (err)
		return err;
	sfc_nl_begin(&b, buf, sizeof(buf), id, NLM_F_REQUEST | NLM_F_ACK, 2, GENL_HDRLEN);
	g = (struct genlmsghdr *)(buf + NLMSG_HDRLEN);
	g->cmd = SFC_NETDEV_CMD_DEV_GET;
	g->version = 1;
	sfc_nl_attr_u32(&b, SFC_NETDEV_A_DEV_IFINDEX, ifindex);
	len = sfc_nl_end(&b);
	if (len < 0)
		return len;
	err = sfc_nl_request(NETLINK_GENERIC, buf, len, features_cb, &f, NULL, 0);
	if (err)
		return err;
	if (!f.found)
		return -ENOENT;
	*features = f.features;
	return 0;
}

/*
 * RTM_SETLINK with IFLA_XDP, by hand rather than bpf_xdp_attach(), to keep
 * the kernel's extended ACK: it says why a driver refuses
 * ("virtio_net: Can't set XDP while host is implementing GRO_HW/CSUM").
 */
static int xdp_set(int ifindex, int fd, int expected_fd, __u32 flags, char *ext, size_t ext_len)
{
	struct ifinfomsg *ifi;
	struct sfc_nl b;
	char buf[128];
	size_t nest;
	int len;

	sfc_nl_begin(&b, buf, sizeof(buf), RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, 3, sizeof(*ifi));
	ifi = (struct ifinfomsg *)(buf + NLMSG_HDRLEN);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	nest = sfc_nl_nest_begin(&b, IFLA_XDP);
	sfc_nl_attr(&b, IFLA_XDP_FD, &fd, sizeof(fd));
	sfc_nl_attr_u32(&b, IFLA_XDP_FLAGS, flags);
	if (expected_fd >= 0)
		sfc_nl_attr(&b, IFLA_XDP_EXPECTED_FD, &expected_fd, sizeof(expected_fd));
	sfc_nl_nest_end(&b, nest);
	len = sfc_nl_end(&b);
	if (len < 0)
		return len;
	return sfc_nl_request(NETLINK_ROUTE, buf, len, NULL, NULL, ext, ext_len);
}

/*
 * Attach a program that passes every packet in driver mode, and detach it.
 * 0: the driver took it; -EOPNOTSUPP: the driver has no XDP, or refuses it
 * in its present configuration (ext says why); -EBUSY when a program is
 * attached already (then *drv says whether in driver mode).
 */
static int trial_attach(int ifindex, bool *drv, char *ext, size_t ext_len)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	char dext[128];
	int fd, err;

	*drv = false;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "sfc_xdp_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), NULL);
	if (fd < 0)
		return -errno;
	err = xdp_set(ifindex, fd, -1, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, ext,
		      ext_len);
	if (!err) {
		/* Only ours: another program may have come meanwhile. */
		if (xdp_set(ifindex, -1, fd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE, dext,
			    sizeof(dext)))
			sfc_log(SFC_LOG_WARN, "ifindex %d: cannot detach the trial XDP program%s%s",
				ifindex, dext[0] ? ": " : "", dext);
	} else if (err == -EBUSY || err == -EEXIST) {
		err = -EBUSY;
		if (!bpf_xdp_query(ifindex, XDP_FLAGS_DRV_MODE, &q))
			*drv = q.drv_prog_id != 0;
	}
	close(fd);
	return err;
}

static int probe(int ifindex, const char *ifname, enum sfc_xdp_probe method,
		 struct sfc_xdp_support *out, struct sfc_diag *diag)
{
	__u64 features;
	bool drv;
	int err;

	if (method != SFC_XDP_PROBE_ATTACH) {
		err = sfc_xdp_features_get(ifindex, &features);
		if (!err) {
			out->method = SFC_XDP_PROBE_NETLINK;
			out->has_features = true;
			out->features = features;
			out->native = features & SFC_XDP_ACT_BASIC;
			return 0;
		}
		if (method == SFC_XDP_PROBE_NETLINK || err != -ENOENT)
			return sfc_diag_set(diag, err, NULL, "%s: cannot read xdp-features %s: %s",
					    ifname, err == -ENOENT ?
					    "(no \"netdev\" netlink family; Linux < 6.3?)" :
					    "from the netdev netlink family", strerror(-err));
		sfc_log(SFC_LOG_DEBUG, "%s: no netdev netlink family, trying an attach", ifname);
	}

	out->method = SFC_XDP_PROBE_ATTACH;
	sfc_libbpf_log_init();
	err = trial_attach(ifindex, &drv, out->attach_msg, sizeof(out->attach_msg));
	out->attach_err = err;
	if (err == -EBUSY) {
		if (drv) {
			out->native = true;
			return 0;
		}
		return sfc_diag_set(diag, err, NULL, "%s has an XDP program in skb mode: "
				    "cannot try driver mode", ifname);
	}
	if (err == -EPERM || err == -EACCES)
		return sfc_diag_set(diag, err, NULL, "%s: a trial attach needs CAP_BPF and "
				    "CAP_NET_ADMIN: %s", ifname, strerror(-err));
	/* Any other refusal (EOPNOTSUPP: no XDP at all) means no native XDP now. */
	out->native = err == 0;
	if (err)
		sfc_log(SFC_LOG_DEBUG, "%s: trial attach in driver mode: %s%s%s", ifname,
			strerror(-err), out->attach_msg[0] ? ": " : "", out->attach_msg);
	return 0;
}

int sfc_xdp__native_support(const char *ifname, const struct sfc_xdp_probe_opts *opts,
			    struct sfc_xdp_support *out, struct sfc_diag *diag)
{
	enum sfc_xdp_probe method = opts ? opts->method : SFC_XDP_PROBE_AUTO;
	const char *netns = opts ? opts->netns : NULL;
	int saved, err;

	memset(out, 0, sizeof(*out));
	if (!ifname || !ifname[0] || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
		return sfc_diag_set(diag, -EINVAL, NULL, "\"%s\" is not an interface name",
				    ifname ? ifname : "");
	if (method > SFC_XDP_PROBE_ATTACH)
		return sfc_diag_set(diag, -EINVAL, NULL, "unknown probe method %d", method);
	err = sfc_netns_enter(netns, &saved);
	if (err)
		return sfc_diag_set(diag, err, NULL, "cannot enter netns %s: %s", netns,
				    strerror(-err));
	out->ifindex = if_nametoindex(ifname);
	if (!out->ifindex)
		err = sfc_diag_set(diag, -ENODEV, NULL, "%s: no such interface%s%s", ifname,
				   netns ? " in netns " : "", netns ? netns : "");
	else
		err = probe(out->ifindex, ifname, method, out, diag);
	sfc_netns_leave(saved);
	return err;
}
