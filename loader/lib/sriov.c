// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * SR-IOV on the host, through sysfs and rtnetlink.
 *
 * sysfs (Documentation/ABI/testing/sysfs-bus-pci): a PF's PCI device has
 * sriov_totalvfs, sriov_numvfs and one virtfnN link per VF; a VF has a
 * physfn link back. Which driver takes a device is steered with
 * driver_override, <driver>/unbind and the bus's drivers_probe. Every path
 * is taken under a root ("/sys" unless told otherwise), so the tests run on
 * fake trees.
 *
 * VF settings are not in sysfs: the PF's driver applies them when asked
 * over rtnetlink, RTM_SETLINK on the PF with a nested IFLA_VFINFO_LIST (what
 * `ip link set PF vf N ...` sends).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <bpf/libbpf.h>

#include "internal.h"
#include "nl.h"
#include "sriov.h"

#define BIND_WAIT_MS	2000
#define BIND_POLL_MS	10

static sfc_sysfs_hook_fn write_hook;
static void *write_hook_ctx;
static const char *dev_root = "/dev";

void sfc_sriov_set_dev_root(const char *dir)
{
	dev_root = dir ? dir : "/dev";
}

void sfc_sysfs_set_hook(sfc_sysfs_hook_fn fn, void *ctx)
{
	write_hook = fn;
	write_hook_ctx = ctx;
}

/* ---- sysfs files ---- */

static const char *root_of(const char *root)
{
	return root && root[0] ? root : "/sys";
}

static int pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The first line of a sysfs file, without its newline. */
static int read_line(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int read_uint(const char *path, unsigned int *v)
{
	unsigned long long x;
	char buf[32], *end;
	int err;

	err = read_line(path, buf, sizeof(buf));
	if (err)
		return err;
	errno = 0;
	x = strtoull(buf, &end, 0);
	if (!buf[0] || *end || errno || x > UINT_MAX)
		return -EINVAL;
	*v = x;
	return 0;
}

/* The last component of the link at path. */
static int link_base(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n;

	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= len)
		return -ENAMETOOLONG;
	strcpy(buf, base);
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* One write(2), the way `echo -n value > path` does it. */
static int sysfs_write(const char *path, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	int fd, err = 0;

	sfc_log(SFC_LOG_DEBUG, "write \"%s\" to %s", value[0] == '\n' ? "\\n" : value, path);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	if (close(fd) && !err)
		err = -errno;
	if (!err && write_hook)
		err = write_hook(path, value, write_hook_ctx);
	return err;
}

/* ---- names ---- */

static bool hexn(const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* "0000:03:00.0" or "03:00.0" into out, lower case; false if it is not one. */
static bool pci_addr_norm(const char *s, char out[SFC_PCI_ADDR_LEN])
{
	char tmp[SFC_PCI_ADDR_LEN];
	size_t len = strlen(s), i;

	if (len == 7)
		snprintf(tmp, sizeof(tmp), "0000:%s", s);
	else if (len == 12)
		snprintf(tmp, sizeof(tmp), "%s", s);
	else
		return false;
	if (!hexn(tmp, 4) || tmp[4] != ':' || !hexn(tmp + 5, 2) || tmp[7] != ':' ||
	    !hexn(tmp + 8, 2) || tmp[10] != '.' || tmp[11] < '0' || tmp[11] > '7')
		return false;
	for (i = 0; i < sizeof(tmp); i++)
		out[i] = tolower((unsigned char)tmp[i]);
	return true;
}

static bool ifname_valid(const char *s)
{
	return s[0] && strlen(s) < IF_NAMESIZE && !strchr(s, '/') && strcmp(s, ".") &&
	       strcmp(s, "..");
}

/* ---- devices ---- */

struct dev {
	char pci[SFC_PCI_ADDR_LEN];
	char driver[SFC_DRIVER_LEN];
	char override[SFC_DRIVER_LEN];
	char netdev[IF_NAMESIZE];
	char mac[18];
	int iommu_group;
	bool up;
};

static int dev_path(char *buf, size_t len, const char *root, const char *pci, const char *file)
{
	return pathf(buf, len, "%s/bus/pci/devices/%s%s%s", root, pci, file ? "/" : "",
		     file ? file : "");
}

/* The first entry of the device's net/ folder: its interface, if any. */
static void dev_netdev(const char *root, const char *pci, char *name, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	name[0] = '\0';
	if (dev_path(path, sizeof(path), root, pci, "net"))
		return;
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= len)
			continue;
		/* Several (e.g. representors) are rare: take the smallest name. */
		if (!name[0] || strcmp(de->d_name, name) < 0)
			strcpy(name, de->d_name);
	}
	closedir(d);
}

static int dev_read(const char *root, const char *pci, struct dev *d)
{
	char path[PATH_MAX], buf[64];
	unsigned int flags;

	memset(d, 0, sizeof(*d));
	snprintf(d->pci, sizeof(d->pci), "%s", pci);
	if (dev_path(path, sizeof(path), root, pci, NULL))
		return -ENAMETOOLONG;
	if (!exists(path))
		return -ENODEV;
	if (dev_path(path, sizeof(path), root, pci, "driver") ||
	    link_base(path, d->driver, sizeof(d->driver)))
		d->driver[0] = '\0';
	if (dev_path(path, sizeof(path), root, pci, "driver_override") ||
	    read_line(path, d->override, sizeof(d->override)) || !strcmp(d->override, "(null)"))
		d->override[0] = '\0';
	d->iommu_group = -1;
	if (!dev_path(path, sizeof(path), root, pci, "iommu_group") &&
	    !link_base(path, buf, sizeof(buf)))
		d->iommu_group = atoi(buf);
	dev_netdev(root, pci, d->netdev, sizeof(d->netdev));
	if (!d->netdev[0])
		return 0;
	if (!pathf(path, sizeof(path), "%s/bus/pci/devices/%s/net/%s/address", root, pci,
		   d->netdev))
		read_line(path, d->mac, sizeof(d->mac));
	if (!pathf(path, sizeof(path), "%s/bus/pci/devices/%s/net/%s/flags", root, pci,
		   d->netdev) && !read_uint(path, &flags))
		d->up = flags & IFF_UP;
	return 0;
}

/* The PF of the VF at pci ("" if it is none). */
static void dev_physfn(const char *root, const char *pci, char *pf, size_t len)
{
	char path[PATH_MAX];

	pf[0] = '\0';
	if (dev_path(path, sizeof(path), root, pci, "physfn") || link_base(path, pf, len))
		pf[0] = '\0';
}

/*
 * PF name (interface or PCI address) to its PCI address, checked to be an
 * SR-IOV PF.
 */
static int pf_resolve(const char *root, const char *name, char pci[SFC_PCI_ADDR_LEN],
		      struct sfc_diag *diag)
{
	char path[PATH_MAX], other[SFC_PCI_ADDR_LEN];
	int err;

	if (!name || !name[0])
		return sfc_diag_set(diag, -EINVAL, NULL, "no PF named");
	if (pci_addr_norm(name, pci)) {
		if (dev_path(path, sizeof(path), root, pci, NULL))
			return -ENAMETOOLONG;
		if (!exists(path))
			return sfc_diag_set(diag, -ENODEV, NULL,
					    "no PCI device %s (in %s/bus/pci/devices)", pci, root);
	} else {
		if (!ifname_valid(name))
			return sfc_diag_set(diag, -EINVAL, NULL, "\"%s\" is neither an interface "
					    "name nor a PCI address", name);
		if (pathf(path, sizeof(path), "%s/class/net/%s", root, name))
			return -ENAMETOOLONG;
		if (!exists(path))
			return sfc_diag_set(diag, -ENODEV, NULL, "%s: no such interface (in "
					    "%s/class/net) and not a PCI address", name, root);
		if (pathf(path, sizeof(path), "%s/class/net/%s/device", root, name))
			return -ENAMETOOLONG;
		err = link_base(path, other, sizeof(other));
		if (err || !pci_addr_norm(other, pci))
			return sfc_diag_set(diag, -EINVAL, NULL, "%s is not a PCI device's "
					    "interface, so not an SR-IOV PF", name);
	}
	if (dev_path(path, sizeof(path), root, pci, "sriov_totalvfs"))
		return -ENAMETOOLONG;
	if (exists(path))
		return 0;
	dev_physfn(root, pci, other, sizeof(other));
	if (other[0])
		return sfc_diag_set(diag, -EINVAL, NULL,
				    "%s is a VF (of PF %s), not an SR-IOV PF", name, other);
	return sfc_diag_set(diag, -EINVAL, NULL,
			    "%s%s%s%s is not an SR-IOV PF (it has no sriov_totalvfs)", name,
			    strcmp(name, pci) ? " (" : "", strcmp(name, pci) ? pci : "",
			    strcmp(name, pci) ? ")" : "");
}

/* ---- VF state ---- */

/* The vfio character devices a VF is used through: the group, the cdev. */
static size_t vfio_paths(const char *root, const char *pci, int group, char paths[2][PATH_MAX])
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	DIR *dir;

	if (group >= 0)
		snprintf(paths[n++], PATH_MAX, "%s/vfio/%d", dev_root, group);
	if (dev_path(path, sizeof(path), root, pci, "vfio-dev"))
		return n;
	dir = opendir(path);
	if (!dir)
		return n;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4) && strlen(de->d_name) < 40) {
			snprintf(paths[n++], PATH_MAX, "%s/vfio/devices/%s", dev_root, de->d_name);
			break;
		}
	closedir(dir);
	return n;
}

int sfc_proc_holders(const char *proc_root, const char *const *paths, size_t n_paths, pid_t *pids)
{
	char dir[PATH_MAX], link[PATH_MAX], target[PATH_MAX];
	struct dirent *pe, *fe;
	size_t i, held = 0;
	DIR *pd, *fd;
	ssize_t n;

	for (i = 0; i < n_paths; i++)
		pids[i] = 0;
	if (!n_paths)
		return 0;
	pd = opendir(proc_root);
	if (!pd)
		return -errno;
	while (held < n_paths && (pe = readdir(pd))) {
		if (!isdigit((unsigned char)pe->d_name[0]) ||
		    pathf(dir, sizeof(dir), "%s/%s/fd", proc_root, pe->d_name))
			continue;
		fd = opendir(dir);
		if (!fd)
			continue;	/* gone, or not ours to read */
		while ((fe = readdir(fd))) {
			if (fe->d_name[0] == '.' ||
			    pathf(link, sizeof(link), "%s/%s", dir, fe->d_name))
				continue;
			n = readlink(link, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			for (i = 0; i < n_paths; i++)
				if (!pids[i] && !strcmp(target, paths[i])) {
					pids[i] = atoi(pe->d_name);
					held++;
				}
		}
		closedir(fd);
	}
	closedir(pd);
	return held;
}

/* "pid N (comm)" */
static void pid_text(pid_t pid, char *buf, size_t len)
{
	char path[64], comm[32];

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_line(path, comm, sizeof(comm)))
		snprintf(comm, sizeof(comm), "?");
	snprintf(buf, len, "pid %d (%s)", (int)pid, comm);
}

/* Who holds VF pci's vfio device open: "" if nobody (that we can see). */
static void vfio_user(const char *root, const char *pci, int group, char *buf, size_t len)
{
	char paths[2][PATH_MAX];
	const char *p[2];
	pid_t pids[2];
	size_t n, i;

	buf[0] = '\0';
	n = vfio_paths(root, pci, group, paths);
	for (i = 0; i < n; i++)
		p[i] = paths[i];
	if (sfc_proc_holders("/proc", p, n, pids) <= 0)
		return;
	for (i = 0; i < n; i++)
		if (pids[i]) {
			pid_text(pids[i], buf, len);
			return;
		}
}

/* Say who holds the vfio devices of a PF's VFs: one walk of /proc for all. */
static void vfio_users(const char *root, struct sfc_sriov_pf *pf)
{
	char (*paths)[PATH_MAX] = NULL, who[64];
	const char **p = NULL;
	unsigned int *owner = NULL;
	pid_t *pids = NULL;
	size_t n = 0, i, k, o;
	struct sfc_sriov_vf *v;

	for (i = 0; i < pf->n_vfs; i++)
		n += !strcmp(pf->vfs[i].driver, SFC_VF_DRIVER_VFIO);
	if (!n)
		return;
	paths = calloc(2 * n, sizeof(*paths));
	p = calloc(2 * n, sizeof(*p));
	owner = calloc(2 * n, sizeof(*owner));
	pids = calloc(2 * n, sizeof(*pids));
	if (!paths || !p || !owner || !pids)
		goto out;
	for (i = 0, n = 0; i < pf->n_vfs; i++) {
		v = &pf->vfs[i];
		if (strcmp(v->driver, SFC_VF_DRIVER_VFIO))
			continue;
		k = vfio_paths(root, v->pci, v->iommu_group, &paths[n]);
		for (; k; k--, n++) {
			p[n] = paths[n];
			owner[n] = i;
		}
	}
	if (sfc_proc_holders("/proc", p, n, pids) <= 0)
		goto out;
	for (i = 0; i < n; i++) {
		v = &pf->vfs[owner[i]];
		if (!pids[i] || strstr(v->in_use_by, ", open by "))
			continue;
		pid_text(pids[i], who, sizeof(who));
		o = strlen(v->in_use_by);
		snprintf(v->in_use_by + o, sizeof(v->in_use_by) - o, ", open by %s", who);
	}
out:
	free(paths);
	free(p);
	free(owner);
	free(pids);
}

static void vf_fill(const char *root, unsigned int index, const struct dev *d,
		    struct sfc_sriov_vf *vf)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	__u64 features;
	int ifindex = 0;

	memset(vf, 0, sizeof(*vf));
	vf->index = index;
	snprintf(vf->pci, sizeof(vf->pci), "%s", d->pci);
	snprintf(vf->driver, sizeof(vf->driver), "%s", d->driver);
	snprintf(vf->driver_override, sizeof(vf->driver_override), "%s", d->override);
	snprintf(vf->netdev, sizeof(vf->netdev), "%s", d->netdev);
	snprintf(vf->mac, sizeof(vf->mac), "%s", d->mac);
	vf->iommu_group = d->iommu_group;
	vf->up = d->up;
	vf->xdp_attached = -1;
	vf->xdp_native = -1;
	if (d->netdev[0])
		ifindex = if_nametoindex(d->netdev);
	if (ifindex > 0) {
		if (!bpf_xdp_query(ifindex, 0, &q))
			vf->xdp_attached = q.attach_mode != XDP_ATTACHED_NONE;
		if (!sfc_xdp_features_get(ifindex, &features))
			vf->xdp_native = !!(features & SFC_XDP_ACT_BASIC);
	}

	if (!strcmp(d->driver, SFC_VF_DRIVER_VFIO)) {
		vf->in_use = true;
		snprintf(vf->in_use_by, sizeof(vf->in_use_by), "bound to vfio-pci");
	} else if (d->up) {
		vf->in_use = true;
		snprintf(vf->in_use_by, sizeof(vf->in_use_by), "its interface %s is up", d->netdev);
	} else if (vf->xdp_attached == 1) {
		vf->in_use = true;
		snprintf(vf->in_use_by, sizeof(vf->in_use_by), "its interface %s runs XDP",
			 d->netdev);
	}
}

/* ---- PFs ---- */

static int vf_cmp(const void *a, const void *b)
{
	const struct sfc_sriov_vf *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

static int pf_read(const char *root, const char *pci, struct sfc_sriov_pf *pf)
{
	char path[PATH_MAX], vfpci[SFC_PCI_ADDR_LEN];
	struct sfc_sriov_vf *vfs;
	unsigned int v, cap = 0;
	struct dirent *de;
	struct dev d;
	char *end;
	long idx;
	DIR *dir;
	int err;

	memset(pf, 0, sizeof(*pf));
	err = dev_read(root, pci, &d);
	if (err)
		return err;
	snprintf(pf->pci, sizeof(pf->pci), "%s", pci);
	snprintf(pf->driver, sizeof(pf->driver), "%s", d.driver);
	snprintf(pf->netdev, sizeof(pf->netdev), "%s", d.netdev);
	pf->iommu_group = d.iommu_group;
	if (dev_path(path, sizeof(path), root, pci, "sriov_totalvfs"))
		return -ENAMETOOLONG;
	err = read_uint(path, &pf->total_vfs);
	if (err)
		return err;
	if (dev_path(path, sizeof(path), root, pci, "sriov_numvfs"))
		return -ENAMETOOLONG;
	err = read_uint(path, &pf->num_vfs);
	if (err)
		return err;
	pf->drivers_autoprobe = -1;
	if (!dev_path(path, sizeof(path), root, pci, "sriov_drivers_autoprobe") &&
	    !read_uint(path, &v))
		pf->drivers_autoprobe = !!v;

	if (dev_path(path, sizeof(path), root, pci, NULL))
		return -ENAMETOOLONG;
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (strncmp(de->d_name, "virtfn", 6) || !isdigit((unsigned char)de->d_name[6]))
			continue;
		idx = strtol(de->d_name + 6, &end, 10);
		if (*end || idx < 0 || idx > 65535)
			continue;
		if (dev_path(path, sizeof(path), root, pci, de->d_name) ||
		    link_base(path, vfpci, sizeof(vfpci)) || dev_read(root, vfpci, &d))
			continue;
		if (pf->n_vfs == cap) {
			cap = cap ? cap * 2 : 8;
			vfs = realloc(pf->vfs, cap * sizeof(*vfs));
			if (!vfs) {
				err = -ENOMEM;
				break;
			}
			pf->vfs = vfs;
		}
		vf_fill(root, idx, &d, &pf->vfs[pf->n_vfs]);
		snprintf(pf->vfs[pf->n_vfs++].pf, SFC_PCI_ADDR_LEN, "%s", pci);
	}
	closedir(dir);
	if (err) {
		free(pf->vfs);
		pf->vfs = NULL;
		return err;
	}
	if (pf->n_vfs)
		qsort(pf->vfs, pf->n_vfs, sizeof(*pf->vfs), vf_cmp);
	vfio_users(root, pf);
	return 0;
}

static int pf_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sfc_sriov_pf *)a)->pci, ((const struct sfc_sriov_pf *)b)->pci);
}

void sfc_sriov__list_free(struct sfc_sriov_pf *pfs, size_t n)
{
	size_t i;

	if (!pfs)
		return;
	for (i = 0; i < n; i++)
		free(pfs[i].vfs);
	free(pfs);
}

int sfc_sriov__list(const char *sysfs_root, const char *pf, struct sfc_sriov_pf **pfs, size_t *n,
		    struct sfc_diag *diag)
{
	const char *root = root_of(sysfs_root);
	char path[PATH_MAX], pci[SFC_PCI_ADDR_LEN];
	struct sfc_sriov_pf *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	DIR *dir = NULL;
	int err = 0;

	*pfs = NULL;
	*n = 0;
	if (pf) {
		err = pf_resolve(root, pf, pci, diag);
		if (err)
			return err;
		v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		err = pf_read(root, pci, v);
		if (err) {
			free(v);
			return sfc_diag_set(diag, err, NULL, "cannot read PF %s: %s", pci,
					    strerror(-err));
		}
		*pfs = v;
		*n = 1;
		return 0;
	}

	if (pathf(path, sizeof(path), "%s/bus/pci/devices", root))
		return -ENAMETOOLONG;
	dir = opendir(path);
	if (!dir) {
		err = -errno;
		/* No PCI bus at all: no PFs either. */
		if (err == -ENOENT)
			return 0;
		return sfc_diag_set(diag, err, NULL, "cannot read %s: %s", path, strerror(-err));
	}
	while ((de = readdir(dir))) {
		if (!pci_addr_norm(de->d_name, pci) ||
		    dev_path(path, sizeof(path), root, pci, "sriov_totalvfs") || !exists(path))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 4;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		err = pf_read(root, pci, &v[cnt]);
		if (err) {
			sfc_diag_set(diag, err, NULL, "cannot read PF %s: %s", pci, strerror(-err));
			break;
		}
		cnt++;
	}
	closedir(dir);
	if (err) {
		sfc_sriov__list_free(v, cnt);
		return err;
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), pf_cmp);
	*pfs = v;
	*n = cnt;
	return 0;
}

/* VF vf (index or PCI address) of the PF at pf_pci, as read now. */
static int vf_find(const char *root, const char *pf_pci, const char *vf, struct sfc_sriov_vf *out,
		   struct sfc_diag *diag)
{
	char path[PATH_MAX], pci[SFC_PCI_ADDR_LEN], physfn[SFC_PCI_ADDR_LEN];
	struct sfc_sriov_pf pf;
	unsigned long idx;
	unsigned int i;
	char *end;
	int err;

	if (!vf || !vf[0])
		return sfc_diag_set(diag, -EINVAL, NULL, "no VF named");
	err = pf_read(root, pf_pci, &pf);
	if (err)
		return sfc_diag_set(diag, err, NULL, "cannot read PF %s: %s", pf_pci,
				    strerror(-err));
	if (pci_addr_norm(vf, pci)) {
		for (i = 0; i < pf.n_vfs; i++)
			if (!strcmp(pf.vfs[i].pci, pci))
				break;
		if (i < pf.n_vfs)
			goto found;
		err = -EINVAL;
		dev_physfn(root, pci, physfn, sizeof(physfn));
		if (dev_path(path, sizeof(path), root, pci, NULL) || !exists(path))
			sfc_diag_set(diag, err, NULL, "no PCI device %s (in %s/bus/pci/devices)",
				     pci, root);
		else if (physfn[0])
			sfc_diag_set(diag, err, NULL, "%s is not a VF of PF %s: its PF is %s", pci,
				     pf_pci, physfn);
		else
			sfc_diag_set(diag, err, NULL,
				     "%s is not a VF of PF %s (it is no VF at all)", pci, pf_pci);
		goto out;
	}
	errno = 0;
	idx = strtoul(vf, &end, 10);
	if (!isdigit((unsigned char)vf[0]) || *end || errno) {
		err = sfc_diag_set(diag, -EINVAL, NULL,
				   "\"%s\" is neither a VF index nor a PCI address", vf);
		goto out;
	}
	for (i = 0; i < pf.n_vfs; i++)
		if (pf.vfs[i].index == idx)
			goto found;
	if (!pf.num_vfs)
		err = sfc_diag_set(diag, -ERANGE, NULL, "PF %s has no VFs (create them: sfcctl "
				   "vf numvfs %s N)", pf_pci, pf_pci);
	else
		err = sfc_diag_set(diag, -ERANGE, NULL,
				   "VF %s is out of range: PF %s has %u VFs (0..%u)", vf, pf_pci,
				   pf.num_vfs, pf.num_vfs - 1);
	goto out;
found:
	*out = pf.vfs[i];
	err = 0;
out:
	free(pf.vfs);
	return err;
}

int sfc_sriov__vf(const char *sysfs_root, const char *pf, const char *vf, struct sfc_sriov_vf *out,
		  struct sfc_diag *diag)
{
	const char *root = root_of(sysfs_root);
	char pci[SFC_PCI_ADDR_LEN];
	int err;

	err = pf_resolve(root, pf, pci, diag);
	if (err)
		return err;
	return vf_find(root, pci, vf, out, diag);
}

/* ---- numvfs ---- */

int sfc_sriov__set_numvfs(const char *sysfs_root, const char *pf, unsigned int num_vfs,
			  unsigned int *was, struct sfc_diag *diag)
{
	const char *root = root_of(sysfs_root);
	char path[PATH_MAX], pci[SFC_PCI_ADDR_LEN], val[16], busy[640] = "";
	struct sfc_sriov_pf p;
	unsigned int i, n_busy = 0;
	size_t o;
	int err;

	err = pf_resolve(root, pf, pci, diag);
	if (err)
		return err;
	err = pf_read(root, pci, &p);
	if (err)
		return sfc_diag_set(diag, err, NULL, "cannot read PF %s: %s", pci, strerror(-err));
	if (was)
		*was = p.num_vfs;
	if (num_vfs > p.total_vfs) {
		err = sfc_diag_set(diag, -ERANGE, NULL, "PF %s supports at most %u VFs, not %u",
				   pci, p.total_vfs, num_vfs);
		goto out;
	}
	if (num_vfs == p.num_vfs)
		goto out;
	if (p.num_vfs) {
		/* Every VF goes away, whatever the new number. */
		for (i = 0; i < p.n_vfs; i++) {
			if (!p.vfs[i].in_use)
				continue;
			o = strlen(busy);
			if (n_busy++ < 4)
				snprintf(busy + o, sizeof(busy) - o, "%sVF %u (%s): %s",
					 o ? "; " : "", p.vfs[i].index, p.vfs[i].pci,
					 p.vfs[i].in_use_by);
		}
		if (n_busy) {
			o = strlen(busy);
			if (n_busy > 4)
				snprintf(busy + o, sizeof(busy) - o, "; and %u more", n_busy - 4);
			err = sfc_diag_set(diag, -EBUSY, NULL, "cannot change the VFs of PF %s "
					   "from %u to %u: the VFs are removed first, and %u %s "
					   "in use: %s", pci, p.num_vfs, num_vfs, n_busy,
					   n_busy == 1 ? "is" : "are", busy);
			goto out;
		}
	}
	if (dev_path(path, sizeof(path), root, pci, "sriov_numvfs")) {
		err = -ENAMETOOLONG;
		goto out;
	}
	if (p.num_vfs) {
		err = sysfs_write(path, "0");
		if (err) {
			sfc_diag_set(diag, err, NULL,
				     "cannot remove the VFs of PF %s (writing 0 to %s): %s", pci,
				     path, strerror(-err));
			goto out;
		}
	}
	if (num_vfs) {
		snprintf(val, sizeof(val), "%u", num_vfs);
		err = sysfs_write(path, val);
		if (err)
			sfc_diag_set(diag, err, NULL,
				     "cannot create %u VFs on PF %s (writing %s): %s%s", num_vfs,
				     pci, path, strerror(-err),
				     err == -ENOMEM || err == -ENOSPC ?
				     " (not enough PCI bus numbers or MMIO space? see dmesg)" : "");
	}
out:
	free(p.vfs);
	return err;
}

/* ---- driver binding ---- */

/* Wait until the VF's driver is `want` (or, want NULL, any but vfio-pci). */
static int wait_driver(const char *root, const char *pci, const char *want, char *now, size_t len)
{
	struct timespec ts = { 0, BIND_POLL_MS * 1000000L };
	char path[PATH_MAX];
	int waited;

	if (dev_path(path, sizeof(path), root, pci, "driver"))
		return -ENAMETOOLONG;
	for (waited = 0;; waited += BIND_POLL_MS) {
		if (link_base(path, now, len))
			now[0] = '\0';
		if (want ? !strcmp(now, want) : now[0] && strcmp(now, SFC_VF_DRIVER_VFIO))
			return 0;
		if (waited >= BIND_WAIT_MS)
			return -ENODEV;
		nanosleep(&ts, NULL);
	}
}

/* The other devices of the VF's IOMMU group that are not on vfio-pci. */
static void group_warn(const char *root, const struct dev *vf)
{
	char path[PATH_MAX], drv[SFC_DRIVER_LEN];
	struct dirent *de;
	DIR *d;

	if (pathf(path, sizeof(path), "%s/kernel/iommu_groups/%d/devices", root, vf->iommu_group))
		return;
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, vf->pci))
			continue;
		if (dev_path(path, sizeof(path), root, de->d_name, "driver") ||
		    link_base(path, drv, sizeof(drv)))
			continue;	/* no driver: harmless */
		if (strcmp(drv, SFC_VF_DRIVER_VFIO) && strcmp(drv, "pci-stub") &&
		    strcmp(drv, "pcieport"))
			sfc_log(SFC_LOG_WARN,
				"IOMMU group %d of %s also holds %s, bound to %s: a guest can use "
				"the group only once all its devices are on vfio-pci",
				vf->iommu_group, vf->pci, de->d_name, drv);
	}
	closedir(d);
}

/* Clear driver_override and let the kernel probe again (after a failure). */
static void bind_undo(const char *root, const char *pci)
{
	char path[PATH_MAX];

	if (!dev_path(path, sizeof(path), root, pci, "driver_override"))
		sysfs_write(path, "\n");
	if (!pathf(path, sizeof(path), "%s/bus/pci/drivers_probe", root))
		sysfs_write(path, pci);
}

static int bind_vfio(const char *root, const struct dev *d, struct sfc_vf_bind_result *res,
		     struct sfc_diag *diag)
{
	char path[PATH_MAX];
	int err;

	if (d->up)
		return sfc_diag_set(diag, -EBUSY, NULL,
				    "VF %s is in use: its interface %s is up (ip link set %s down)",
				    d->pci, d->netdev, d->netdev);
	if (pathf(path, sizeof(path), "%s/bus/pci/drivers/%s", root, SFC_VF_DRIVER_VFIO))
		return -ENAMETOOLONG;
	if (!exists(path))
		return sfc_diag_set(diag, -ENOENT, NULL,
				    "the vfio-pci driver is not loaded (modprobe vfio-pci)");
	if (d->iommu_group < 0)
		return sfc_diag_set(diag, -EINVAL, NULL,
				    "VF %s has no IOMMU group: turn the IOMMU on (intel_iommu=on or "
				    "amd_iommu=on, and iommu=pt, on the kernel command line)",
				    d->pci);

	if (dev_path(path, sizeof(path), root, d->pci, "driver_override"))
		return -ENAMETOOLONG;
	err = sysfs_write(path, SFC_VF_DRIVER_VFIO);
	if (err)
		return sfc_diag_set(diag, err, NULL, "cannot write %s: %s", path, strerror(-err));
	if (d->driver[0]) {
		if (dev_path(path, sizeof(path), root, d->pci, "driver/unbind"))
			return -ENAMETOOLONG;
		err = sysfs_write(path, d->pci);
		if (err) {
			sfc_diag_set(diag, err, NULL, "cannot unbind %s from %s: %s", d->pci,
				     d->driver, strerror(-err));
			goto undo;
		}
	}
	if (pathf(path, sizeof(path), "%s/bus/pci/drivers_probe", root))
		return -ENAMETOOLONG;
	err = sysfs_write(path, d->pci);
	if (err) {
		sfc_diag_set(diag, err, NULL, "cannot probe %s for vfio-pci: %s", d->pci,
			     strerror(-err));
		goto undo;
	}
	err = wait_driver(root, d->pci, SFC_VF_DRIVER_VFIO, res->after, sizeof(res->after));
	if (err) {
		sfc_diag_set(diag, err, NULL, "VF %s did not bind to vfio-pci within %d ms%s%s "
			     "(see dmesg); driver_override is cleared again", d->pci, BIND_WAIT_MS,
			     res->after[0] ? ": it is on " : "", res->after);
		goto undo;
	}
	res->changed = true;
	group_warn(root, d);
	return 0;
undo:
	bind_undo(root, d->pci);
	if (dev_path(path, sizeof(path), root, d->pci, "driver") ||
	    link_base(path, res->after, sizeof(res->after)))
		res->after[0] = '\0';
	return err;
}

static int bind_host(const char *root, const struct dev *d, struct sfc_vf_bind_result *res,
		     struct sfc_diag *diag)
{
	char path[PATH_MAX], user[64];
	int err;

	if (!strcmp(d->driver, SFC_VF_DRIVER_VFIO)) {
		vfio_user(root, d->pci, d->iommu_group, user, sizeof(user));
		if (user[0])
			return sfc_diag_set(diag, -EBUSY, NULL,
					    "VF %s is in use: its vfio device is open by %s (stop "
					    "the guest first)", d->pci, user);
	}
	if (dev_path(path, sizeof(path), root, d->pci, "driver_override"))
		return -ENAMETOOLONG;
	if (d->override[0]) {
		/* "\n" clears it; an empty write would not reach the kernel. */
		err = sysfs_write(path, "\n");
		if (err)
			return sfc_diag_set(diag, err, NULL, "cannot clear %s: %s", path,
					    strerror(-err));
	}
	if (d->driver[0]) {
		if (dev_path(path, sizeof(path), root, d->pci, "driver/unbind"))
			return -ENAMETOOLONG;
		err = sysfs_write(path, d->pci);
		if (err)
			return sfc_diag_set(diag, err, NULL, "cannot unbind %s from %s: %s", d->pci,
					    d->driver, strerror(-err));
	}
	if (pathf(path, sizeof(path), "%s/bus/pci/drivers_probe", root))
		return -ENAMETOOLONG;
	err = sysfs_write(path, d->pci);
	if (err)
		return sfc_diag_set(diag, err, NULL, "cannot probe %s: %s", d->pci, strerror(-err));
	res->changed = true;
	err = wait_driver(root, d->pci, NULL, res->after, sizeof(res->after));
	if (err)
		return sfc_diag_set(diag, err, NULL,
				    "no host driver took VF %s within %d ms: load the VF driver "
				    "(e.g. modprobe iavf, or mlx5_core) and run the bind again",
				    d->pci, BIND_WAIT_MS);
	return 0;
}

int sfc_sriov__bind(const char *sysfs_root, const char *pf, const char *vf, enum sfc_vf_bind to,
		    struct sfc_vf_bind_result *res, struct sfc_diag *diag)
{
	const char *root = root_of(sysfs_root);
	char pci[SFC_PCI_ADDR_LEN];
	struct sfc_sriov_vf v;
	struct dev d;
	int err;

	memset(res, 0, sizeof(*res));
	if (to != SFC_VF_BIND_VFIO && to != SFC_VF_BIND_HOST)
		return sfc_diag_set(diag, -EINVAL, NULL, "unknown bind target %d", to);
	err = pf_resolve(root, pf, pci, diag);
	if (err)
		return err;
	err = vf_find(root, pci, vf, &v, diag);
	if (err)
		return err;
	err = dev_read(root, v.pci, &d);
	if (err)
		return sfc_diag_set(diag, err, NULL, "cannot read VF %s: %s", v.pci,
				    strerror(-err));
	snprintf(res->before, sizeof(res->before), "%s", d.driver);
	snprintf(res->after, sizeof(res->after), "%s", d.driver);

	if (to == SFC_VF_BIND_VFIO) {
		if (!strcmp(d.driver, SFC_VF_DRIVER_VFIO))
			return 0;
		if (v.xdp_attached == 1)
			return sfc_diag_set(diag, -EBUSY, NULL,
					    "VF %s is in use: its interface %s runs XDP", d.pci,
					    d.netdev);
		return bind_vfio(root, &d, res, diag);
	}
	if (!d.override[0] && d.driver[0] && strcmp(d.driver, SFC_VF_DRIVER_VFIO))
		return 0;
	return bind_host(root, &d, res, diag);
}

/* ---- VF settings over rtnetlink ---- */

int sfc_vf_config__check(const struct sfc_vf_config *cfg, struct sfc_diag *diag)
{
	const unsigned int known = SFC_VF_SET_MAC | SFC_VF_SET_VLAN | SFC_VF_SET_SPOOFCHK |
				   SFC_VF_SET_TRUST | SFC_VF_SET_RATE | SFC_VF_SET_LINK_STATE;

	if (!cfg->set)
		return sfc_diag_set(diag, -EINVAL, NULL, "nothing to set");
	if (cfg->set & ~known)
		return sfc_diag_set(diag, -EINVAL, NULL, "unknown settings 0x%x",
				    cfg->set & ~known);
	if ((cfg->set & SFC_VF_SET_MAC) && (cfg->mac[0] & 1))
		return sfc_diag_set(diag, -EINVAL, "mac",
				    "%02x:%02x:%02x:%02x:%02x:%02x is a multicast address; a VF "
				    "needs a unicast one", cfg->mac[0], cfg->mac[1], cfg->mac[2],
				    cfg->mac[3], cfg->mac[4], cfg->mac[5]);
	if (cfg->set & SFC_VF_SET_VLAN) {
		if (cfg->vlan > 4095)
			return sfc_diag_set(diag, -EINVAL, "vlan",
					    "VLAN %u is out of range 0..4095", cfg->vlan);
		if (cfg->qos > 7)
			return sfc_diag_set(diag, -EINVAL, "qos", "qos %u is out of range 0..7",
					    cfg->qos);
		if (cfg->vlan_proto && cfg->vlan_proto != ETH_P_8021Q &&
		    cfg->vlan_proto != ETH_P_8021AD)
			return sfc_diag_set(diag, -EINVAL, "proto",
					    "VLAN protocol 0x%04x is neither 802.1Q nor 802.1ad",
					    cfg->vlan_proto);
		if (!cfg->vlan && (cfg->qos || cfg->vlan_proto == ETH_P_8021AD))
			return sfc_diag_set(diag, -EINVAL, "vlan",
					    "qos and proto need a VLAN (vlan 0 removes it)");
	}
	if ((cfg->set & SFC_VF_SET_RATE) && cfg->max_tx_rate && cfg->min_tx_rate > cfg->max_tx_rate)
		return sfc_diag_set(diag, -EINVAL, "rate",
				    "minimum rate %u Mbit/s is above the maximum %u Mbit/s",
				    cfg->min_tx_rate, cfg->max_tx_rate);
	if ((cfg->set & SFC_VF_SET_LINK_STATE) && cfg->link_state > IFLA_VF_LINK_STATE_DISABLE)
		return sfc_diag_set(diag, -EINVAL, "state",
				    "link state %u is not auto, enable or disable", cfg->link_state);
	return 0;
}

int sfc_vf_msg__build(void *buf, size_t len, int pf_ifindex, uint32_t seq,
		      const struct sfc_vf_config *cfg)
{
	struct ifinfomsg *ifi;
	struct sfc_nl b;
	size_t list, info, vlans;
	int err;

	err = sfc_vf_config__check(cfg, NULL);
	if (err)
		return err;
	if (pf_ifindex <= 0)
		return -EINVAL;
	if (!sfc_nl_begin(&b, buf, len, RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, sizeof(*ifi)))
		return -ENOSPC;
	ifi = (struct ifinfomsg *)((char *)buf + NLMSG_HDRLEN);
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = pf_ifindex;

	list = sfc_nl_nest_begin(&b, IFLA_VFINFO_LIST);
	info = sfc_nl_nest_begin(&b, IFLA_VF_INFO);
	if (cfg->set & SFC_VF_SET_MAC) {
		struct ifla_vf_mac m = { .vf = cfg->vf };

		memcpy(m.mac, cfg->mac, 6);
		sfc_nl_attr(&b, IFLA_VF_MAC, &m, sizeof(m));
	}
	if ((cfg->set & SFC_VF_SET_VLAN) && cfg->vlan_proto == ETH_P_8021AD) {
		/* Only the list carries a protocol. */
		struct ifla_vf_vlan_info vi = {
			.vf = cfg->vf, .vlan = cfg->vlan, .qos = cfg->qos,
			.vlan_proto = htons(ETH_P_8021AD),
		};

		vlans = sfc_nl_nest_begin(&b, IFLA_VF_VLAN_LIST);
		sfc_nl_attr(&b, IFLA_VF_VLAN_INFO, &vi, sizeof(vi));
		sfc_nl_nest_end(&b, vlans);
	} else if (cfg->set & SFC_VF_SET_VLAN) {
		struct ifla_vf_vlan v = { .vf = cfg->vf, .vlan = cfg->vlan, .qos = cfg->qos };

		sfc_nl_attr(&b, IFLA_VF_VLAN, &v, sizeof(v));
	}
	if (cfg->set & SFC_VF_SET_SPOOFCHK) {
		struct ifla_vf_spoofchk s = { .vf = cfg->vf, .setting = cfg->spoofchk };

		sfc_nl_attr(&b, IFLA_VF_SPOOFCHK, &s, sizeof(s));
	}
	if (cfg->set & SFC_VF_SET_TRUST) {
		struct ifla_vf_trust t = { .vf = cfg->vf, .setting = cfg->trust };

		sfc_nl_attr(&b, IFLA_VF_TRUST, &t, sizeof(t));
	}
	if (cfg->set & SFC_VF_SET_RATE) {
		struct ifla_vf_rate r = {
			.vf = cfg->vf,
			.min_tx_rate = cfg->min_tx_rate,
			.max_tx_rate = cfg->max_tx_rate,
		};

		sfc_nl_attr(&b, IFLA_VF_RATE, &r, sizeof(r));
	}
	if (cfg->set & SFC_VF_SET_LINK_STATE) {
		struct ifla_vf_link_state l = { .vf = cfg->vf, .link_state = cfg->link_state };

		sfc_nl_attr(&b, IFLA_VF_LINK_STATE, &l, sizeof(l));
	}
	sfc_nl_nest_end(&b, info);
	sfc_nl_nest_end(&b, list);
	return sfc_nl_end(&b);
}

int sfc_vf_msg__send(const void *msg, size_t len, struct sfc_diag *diag)
{
	char ext[sizeof(diag->msg)];
	int err;

	err = sfc_nl_request(NETLINK_ROUTE, msg, len, NULL, NULL, ext, sizeof(ext));
	if (err && diag && ext[0])
		snprintf(diag->msg, sizeof(diag->msg), "%s", ext);
	return err;
}

int sfc_sriov__set_vf(const char *sysfs_root, const char *pf, const struct sfc_vf_config *cfg,
		      struct sfc_diag *diag)
{
	const char *root = root_of(sysfs_root);
	char pci[SFC_PCI_ADDR_LEN], idx[16], buf[512];
	struct sfc_diag kd = {};
	struct sfc_sriov_vf v;
	struct dev d;
	int ifindex, len, err;

	err = sfc_vf_config__check(cfg, diag);
	if (err)
		return err;
	err = pf_resolve(root, pf, pci, diag);
	if (err)
		return err;
	snprintf(idx, sizeof(idx), "%u", cfg->vf);
	err = vf_find(root, pci, idx, &v, diag);
	if (err)
		return err;
	err = dev_read(root, pci, &d);
	if (err)
		return sfc_diag_set(diag, err, NULL, "cannot read PF %s: %s", pci, strerror(-err));
	if (!d.netdev[0])
		return sfc_diag_set(diag, -ENODEV, NULL,
				    "PF %s has no network interface (is its driver bound?): VF "
				    "settings go through the PF's interface", pci);
	ifindex = if_nametoindex(d.netdev);
	if (!ifindex)
		return sfc_diag_set(diag, -ENODEV, NULL,
				    "PF %s's interface %s is not in this network namespace", pci,
				    d.netdev);
	len = sfc_vf_msg__build(buf, sizeof(buf), ifindex, (uint32_t)time(NULL), cfg);
	if (len < 0)
		return sfc_diag_set(diag, len, NULL, "cannot build the request: %s",
				    strerror(-len));
	err = sfc_vf_msg__send(buf, len, &kd);
	if (err)
		return sfc_diag_set(diag, err, NULL,
				    "%s (PF %s, driver %s) refused the VF %u settings: %s%s%s",
				    d.netdev, pci, d.driver[0] ? d.driver : "none", cfg->vf,
				    strerror(-err), kd.msg[0] ? ": " : "", kd.msg);
	return 0;
}
