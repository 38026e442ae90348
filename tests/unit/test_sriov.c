// SPDX-License-Identifier: GPL-2.0
/*
 * SR-IOV without SR-IOV hardware: libsfc runs against a fake sysfs tree in a
 * temporary folder, laid out as the kernel lays out /sys (relative links
 * from bus/pci/devices and class/net into devices/, virtfnN and physfn,
 * driver and iommu_group links). Two PFs: 0000:03:00.0 (sfct-pf0, ice,
 * 8 VFs 0000:03:01.0-7 on iavf, interfaces sfct-vf0..7) and 0000:04:00.0
 * (2 VFs), plus a PCI NIC without SR-IOV (0000:00:02.0, sfct-plain).
 *
 * The library's sysfs writes are hooked (sfc_sysfs_set_hook): the hook
 * logs every write, path and bytes, and plays the kernel: it rebuilds the
 * virtfn links on sriov_numvfs, drops the driver link on unbind and binds
 * the driver_override driver (else iavf) on drivers_probe. The tests check
 * the log write for write. The rtnetlink requests are parsed back attribute
 * by attribute. Needs no privileges.
 */
#define _GNU_SOURCE	/* nftw */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <sfc/sfc.h>
#include "sriov.h"
#include "testlib.h"

#define PCIDIR "devices/pci0000:00/0000:00:01.0"
#define PF0 "0000:03:00.0"
#define PF1 "0000:04:00.0"
#define PLAIN "0000:00:02.0"

static char root[256];

/* ---- the fake tree ---- */

static void pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *buf, const char *fmt, ...)
{
	char rel[PATH_MAX - 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(buf, PATH_MAX, "%s/%s", root, rel);
}

static void mkdir_p(const char *rel)
{
	char p[PATH_MAX], *s;

	pathf(p, "%s", rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	pathf(p, "%s", rel);
	f = fopen(p, "w");
	if (!f) {
		perror(p);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

static void ln(const char *target, const char *rel)
{
	char p[PATH_MAX];

	pathf(p, "%s", rel);
	unlink(p);
	if (symlink(target, p)) {
		perror(p);
		exit(1);
	}
}

static void unlink_rel(const char *rel)
{
	char p[PATH_MAX];

	pathf(p, "%s", rel);
	unlink(p);
}

static bool exists_rel(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	pathf(p, "%s", rel);
	return lstat(p, &st) == 0;
}

static void slurp(const char *rel, char *buf, size_t len)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	pathf(p, "%s", rel);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

static void link_base(const char *rel, char *buf, size_t len)
{
	char p[PATH_MAX], t[PATH_MAX], *b;
	ssize_t n;

	buf[0] = '\0';
	pathf(p, "%s", rel);
	n = readlink(p, t, sizeof(t) - 1);
	if (n < 0)
		return;
	t[n] = '\0';
	b = strrchr(t, '/');
	b = b ? b + 1 : t;
	n = strlen(b) < len ? strlen(b) : len - 1;
	memcpy(buf, b, n);
	buf[n] = '\0';
}

static void dev_netdev(const char *pci, const char *name, const char *mac, bool up)
{
	char rel[PATH_MAX], tgt[PATH_MAX];

	snprintf(rel, sizeof(rel), PCIDIR "/%s/net/%s", pci, name);
	mkdir_p(rel);
	snprintf(tgt, sizeof(tgt), "../../../%s", pci);
	snprintf(rel, sizeof(rel), PCIDIR "/%s/net/%s/device", pci, name);
	ln(tgt, rel);
	snprintf(rel, sizeof(rel), PCIDIR "/%s/net/%s/address", pci, name);
	put(rel, mac);
	snprintf(rel, sizeof(rel), PCIDIR "/%s/net/%s/flags", pci, name);
	put(rel, up ? "0x1003\n" : "0x1002\n");
	snprintf(tgt, sizeof(tgt), "../../" PCIDIR "/%s/net/%s", pci, name);
	snprintf(rel, sizeof(rel), "class/net/%s", name);
	ln(tgt, rel);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_tree(const char *abs)
{
	nftw(abs, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The device's interface goes: class/net/<name> and its net/ folder. */
static void dev_no_netdev(const char *pci)
{
	char rel[PATH_MAX], p[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(rel, sizeof(rel), PCIDIR "/%s/net", pci);
	pathf(p, "%s", rel);
	d = opendir(p);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "class/net/%s", de->d_name);
		unlink_rel(rel);
	}
	closedir(d);
	rm_tree(p);
}

static void dev_driver(const char *pci, const char *drv)
{
	char rel[PATH_MAX], tgt[PATH_MAX];

	snprintf(rel, sizeof(rel), PCIDIR "/%s/driver", pci);
	if (!drv) {
		unlink_rel(rel);
		return;
	}
	snprintf(tgt, sizeof(tgt), "../../../../bus/pci/drivers/%s", drv);
	ln(tgt, rel);
}

/* A PCI device: its folder, bus link, driver, IOMMU group (-1: none). */
static void dev(const char *pci, const char *drv, int group)
{
	char rel[PATH_MAX], tgt[PATH_MAX];

	snprintf(rel, sizeof(rel), PCIDIR "/%s", pci);
	mkdir_p(rel);
	snprintf(tgt, sizeof(tgt), "../../../" PCIDIR "/%s", pci);
	snprintf(rel, sizeof(rel), "bus/pci/devices/%s", pci);
	ln(tgt, rel);
	snprintf(rel, sizeof(rel), PCIDIR "/%s/driver_override", pci);
	put(rel, "(null)\n");
	dev_driver(pci, drv);
	if (group < 0)
		return;
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices", group);
	mkdir_p(rel);
	snprintf(tgt, sizeof(tgt), "../../../../" PCIDIR "/%s", pci);
	snprintf(rel, sizeof(rel), "kernel/iommu_groups/%d/devices/%s", group, pci);
	ln(tgt, rel);
	snprintf(tgt, sizeof(tgt), "../../../../kernel/iommu_groups/%d", group);
	snprintf(rel, sizeof(rel), PCIDIR "/%s/iommu_group", pci);
	ln(tgt, rel);
}

/* VF k of PF 0: 0000:03:01.k; of PF 1: 0000:04:01.k. */
static void vf_pci(int pf, int k, char *buf)
{
	snprintf(buf, SFC_PCI_ADDR_LEN, "0000:%02x:01.%u", pf ? 4 : 3, (unsigned int)k & 7);
}

static void vf_netdev(int pf, int k, bool up)
{
	char pci[SFC_PCI_ADDR_LEN], name[32], mac[32];

	vf_pci(pf, k, pci);
	snprintf(name, sizeof(name), "sfct-vf%s%d", pf ? "b" : "", k);
	snprintf(mac, sizeof(mac), "52:54:00:00:%02x:%02x\n", pf, k);
	dev_netdev(pci, name, mac, up);
}

static void make_virtfns(const char *pfpci, int pf, int n)
{
	char rel[PATH_MAX], tgt[64], pci[SFC_PCI_ADDR_LEN];
	int k;

	for (k = 0; k < 8; k++) {
		snprintf(rel, sizeof(rel), PCIDIR "/%s/virtfn%d", pfpci, k);
		unlink_rel(rel);
	}
	for (k = 0; k < n; k++) {
		vf_pci(pf, k, pci);
		snprintf(rel, sizeof(rel), PCIDIR "/%s/virtfn%d", pfpci, k);
		snprintf(tgt, sizeof(tgt), "../%s", pci);
		ln(tgt, rel);
	}
}

static void make_tree(void)
{
	char pci[SFC_PCI_ADDR_LEN], rel[PATH_MAX];
	int k;

	mkdir_p("bus/pci/devices");
	mkdir_p("bus/pci/drivers/ice");
	mkdir_p("bus/pci/drivers/iavf");
	mkdir_p("bus/pci/drivers/vfio-pci");
	mkdir_p("bus/pci/drivers/e1000e");
	mkdir_p("class/net");
	put("bus/pci/drivers/ice/unbind", "");
	put("bus/pci/drivers/iavf/unbind", "");
	put("bus/pci/drivers/vfio-pci/unbind", "");
	put("bus/pci/drivers_probe", "");

	dev(PLAIN, "e1000e", 9001);
	dev_netdev(PLAIN, "sfct-plain", "52:54:00:aa:00:01\n", true);

	dev(PF0, "ice", 9012);
	dev_netdev(PF0, "sfct-pf0", "b4:96:91:00:00:00\n", true);
	put(PCIDIR "/" PF0 "/sriov_totalvfs", "8\n");
	put(PCIDIR "/" PF0 "/sriov_numvfs", "8\n");
	put(PCIDIR "/" PF0 "/sriov_drivers_autoprobe", "1\n");
	for (k = 0; k < 8; k++) {
		vf_pci(0, k, pci);
		dev(pci, "iavf", 9040 + k);
		snprintf(rel, sizeof(rel), PCIDIR "/%s/physfn", pci);
		ln("../" PF0, rel);
		vf_netdev(0, k, false);
	}
	make_virtfns(PF0, 0, 8);

	dev(PF1, "ice", 9013);
	dev_netdev(PF1, "sfct-pf1", "b4:96:91:00:01:00\n", true);
	put(PCIDIR "/" PF1 "/sriov_totalvfs", "4\n");
	put(PCIDIR "/" PF1 "/sriov_numvfs", "2\n");
	for (k = 0; k < 2; k++) {
		vf_pci(1, k, pci);
		dev(pci, "iavf", 9050 + k);
		snprintf(rel, sizeof(rel), PCIDIR "/%s/physfn", pci);
		ln("../" PF1, rel);
		vf_netdev(1, k, false);
	}
	make_virtfns(PF1, 1, 2);
}

/* ---- the fake kernel ---- */

#define LOG_MAX 16

struct kernel {
	unsigned int n;
	char path[LOG_MAX][128];	/* relative to root */
	char value[LOG_MAX][64];
	bool stubborn;			/* drivers_probe binds nothing */
	int fail_numvfs;		/* -errno for writes of non-zero numvfs */
};

static struct kernel K;

static void log_reset(void)
{
	K.n = 0;
}

/* The index k of VF pci on PF 0 or 1, or -1. */
static int vf_of(const char *pci, int *pf)
{
	unsigned int bus, slot, fn;

	if (sscanf(pci, "0000:%x:%x.%u", &bus, &slot, &fn) != 3 || slot != 1)
		return -1;
	*pf = bus == 4;
	return fn;
}

static int fake_kernel(const char *path, const char *value, void *ctx)
{
	struct kernel *k = ctx;
	char real[PATH_MAX], rel2[PATH_MAX], ovr[64], cur[64];
	const char *rel;
	int pf, idx;
	unsigned int n;

	/* The file written, links resolved: driver/unbind is drivers/X/unbind. */
	if (!realpath(path, real) || strncmp(real, root, strlen(root)) || real[strlen(root)] != '/')
		return -EXDEV;
	rel = real + strlen(root) + 1;
	if (k->n < LOG_MAX) {
		snprintf(k->path[k->n], sizeof(k->path[0]), "%s", rel);
		snprintf(k->value[k->n], sizeof(k->value[0]), "%s", value);
		k->n++;
	}
	if (strstr(rel, "/sriov_numvfs")) {
		n = atoi(value);
		if (n && k->fail_numvfs) {
			/* refused: the attribute still reads 0 */
			snprintf(rel2, sizeof(rel2), "%s", rel);
			put(rel2, "0\n");
			return k->fail_numvfs;
		}
		make_virtfns(strstr(rel, PF0) ? PF0 : PF1, !strstr(rel, PF0), n);
		return 0;
	}
	if (strstr(rel, "/driver_override")) {
		if (!strcmp(value, "\n")) {
			snprintf(rel2, sizeof(rel2), "%s", rel);
			put(rel2, "(null)\n");
		}
		return 0;
	}
	if (strstr(rel, "/unbind")) {
		idx = vf_of(value, &pf);
		if (idx < 0)
			return -ENODEV;
		dev_driver(value, NULL);
		dev_no_netdev(value);
		return 0;
	}
	if (!strcmp(rel, "bus/pci/drivers_probe")) {
		idx = vf_of(value, &pf);
		if (idx < 0)
			return -ENODEV;
		snprintf(rel2, sizeof(rel2), PCIDIR "/%s/driver", value);
		if (k->stubborn || exists_rel(rel2))
			return 0;
		snprintf(rel2, sizeof(rel2), PCIDIR "/%s/driver_override", value);
		slurp(rel2, ovr, sizeof(ovr));
		ovr[strcspn(ovr, "\n")] = '\0';
		snprintf(cur, sizeof(cur), "%s", strcmp(ovr, "(null)") ? ovr : "iavf");
		snprintf(rel2, sizeof(rel2), "bus/pci/drivers/%s", cur);
		if (!exists_rel(rel2))
			return 0;
		dev_driver(value, cur);
		if (!strcmp(cur, "iavf"))
			vf_netdev(pf, idx, false);
		return 0;
	}
	return 0;
}

/* The write log, one "path=value" per line, for CHECK_STR. */
static const char *log_text(void)
{
	static char buf[LOG_MAX * 200];
	unsigned int i;
	size_t o = 0;

	buf[0] = '\0';
	for (i = 0; i < K.n; i++)
		o += snprintf(buf + o, sizeof(buf) - o, "%s=%s\n", K.path[i],
			      strcmp(K.value[i], "\n") ? K.value[i] : "\\n");
	return buf;
}

static bool driver_of(const char *pci, char *buf, size_t len)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), PCIDIR "/%s/driver", pci);
	link_base(rel, buf, len);
	return buf[0] != '\0';
}

/* ---- sysfs tests ---- */

static void test_list(void)
{
	struct sfc_sriov_pf *pfs;
	struct sfc_diag d = {};
	size_t n;
	int err;

	err = sfc_sriov__list(root, NULL, &pfs, &n, &d);
	CHECK(err == 0, "list: %d %s", err, d.msg);
	CHECK(n == 2, "two PFs, the plain NIC left out: %zu", n);
	if (err || n != 2)
		return;
	CHECK_STR(pfs[0].pci, PF0);
	CHECK_STR(pfs[1].pci, PF1);
	CHECK_STR(pfs[0].driver, "ice");
	CHECK_STR(pfs[0].netdev, "sfct-pf0");
	CHECK(pfs[0].iommu_group == 9012, "%d", pfs[0].iommu_group);
	CHECK(pfs[0].total_vfs == 8 && pfs[0].num_vfs == 8, "%u %u", pfs[0].total_vfs,
	      pfs[0].num_vfs);
	CHECK(pfs[0].drivers_autoprobe == 1, "%d", pfs[0].drivers_autoprobe);
	CHECK(pfs[1].drivers_autoprobe == -1, "PF1 has no autoprobe file: %d",
	      pfs[1].drivers_autoprobe);
	CHECK(pfs[0].n_vfs == 8 && pfs[1].n_vfs == 2, "%u %u", pfs[0].n_vfs, pfs[1].n_vfs);
	if (pfs[0].n_vfs == 8) {
		const struct sfc_sriov_vf *v = &pfs[0].vfs[5];

		CHECK(v->index == 5, "%u", v->index);
		CHECK_STR(v->pci, "0000:03:01.5");
		CHECK_STR(v->pf, PF0);
		CHECK_STR(v->driver, "iavf");
		CHECK_STR(v->driver_override, "");
		CHECK_STR(v->netdev, "sfct-vf5");
		CHECK_STR(v->mac, "52:54:00:00:00:05");
		CHECK(v->iommu_group == 9045, "%d", v->iommu_group);
		CHECK(!v->up && !v->in_use && !v->in_use_by[0], "free VF: up %d in_use %d",
		      v->up, v->in_use);
		/* not an interface of this netns: unknown, not "no" */
		CHECK(v->xdp_attached == -1 && v->xdp_native == -1, "%d %d", v->xdp_attached,
		      v->xdp_native);
		CHECK(pfs[0].vfs[0].index == 0 && pfs[0].vfs[7].index == 7, "sorted by index");
	}
	sfc_sriov__list_free(pfs, n);

	/* One PF, by interface, full and short PCI address */
	err = sfc_sriov__list(root, "sfct-pf1", &pfs, &n, &d);
	CHECK(!err && n == 1 && !strcmp(pfs[0].pci, PF1), "by interface: %d %s", err, d.msg);
	if (!err)
		sfc_sriov__list_free(pfs, n);
	err = sfc_sriov__list(root, "03:00.0", &pfs, &n, &d);
	CHECK(!err && n == 1 && !strcmp(pfs[0].pci, PF0), "by short PCI address: %d %s", err,
	      d.msg);
	if (!err)
		sfc_sriov__list_free(pfs, n);
	err = sfc_sriov__list(root, "0000:03:00.0", &pfs, &n, &d);
	CHECK(!err && n == 1, "by PCI address: %d", err);
	if (!err)
		sfc_sriov__list_free(pfs, n);
}

static void test_refusals(void)
{
	struct sfc_sriov_pf *pfs;
	struct sfc_sriov_vf v;
	struct sfc_diag d = {};
	size_t n;
	int err;

	err = sfc_sriov__list(root, "sfct-nope", &pfs, &n, &d);
	CHECK(err == -ENODEV, "unknown interface: %d", err);
	CHECK(strstr(d.msg, "sfct-nope: no such interface"), "%s", d.msg);
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__list(root, "0000:09:00.0", &pfs, &n, &d);
	CHECK(err == -ENODEV && strstr(d.msg, "no PCI device 0000:09:00.0"), "%d %s", err, d.msg);
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__list(root, "sfct-plain", &pfs, &n, &d);
	CHECK(err == -EINVAL, "NIC without SR-IOV: %d", err);
	CHECK_STR(d.msg, "sfct-plain (0000:00:02.0) is not an SR-IOV PF (it has no "
		  "sriov_totalvfs)");
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__list(root, "sfct-vf3", &pfs, &n, &d);
	CHECK(err == -EINVAL, "a VF as PF: %d", err);
	CHECK_STR(d.msg, "sfct-vf3 is a VF (of PF 0000:03:00.0), not an SR-IOV PF");
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__list(root, "a/b", &pfs, &n, &d);
	CHECK(err == -EINVAL && strstr(d.msg, "neither an interface name nor a PCI address"),
	      "%d %s", err, d.msg);

	err = sfc_sriov__vf(root, "sfct-pf0", "3", &v, &d);
	CHECK(!err && !strcmp(v.pci, "0000:03:01.3") && v.index == 3 && !strcmp(v.pf, PF0),
	      "VF by index: %d", err);
	err = sfc_sriov__vf(root, PF0, "0000:03:01.6", &v, &d);
	CHECK(!err && v.index == 6, "VF by PCI address: %d", err);
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__vf(root, PF0, "8", &v, &d);
	CHECK(err == -ERANGE, "index 8 of 8: %d", err);
	CHECK_STR(d.msg, "VF 8 is out of range: PF 0000:03:00.0 has 8 VFs (0..7)");
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__vf(root, PF0, "0000:04:01.1", &v, &d);
	CHECK(err == -EINVAL, "another PF's VF: %d", err);
	CHECK_STR(d.msg, "0000:04:01.1 is not a VF of PF 0000:03:00.0: its PF is 0000:04:00.0");
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__vf(root, PF0, PLAIN, &v, &d);
	CHECK(err == -EINVAL && strstr(d.msg, "it is no VF at all"), "%d %s", err, d.msg);
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__vf(root, PF0, "-1", &v, &d);
	CHECK(err == -EINVAL && strstr(d.msg, "neither a VF index nor a PCI address"), "%d %s",
	      err, d.msg);
}

static void test_numvfs(void)
{
	char pci[SFC_PCI_ADDR_LEN], buf[64];
	struct sfc_sriov_vf v;
	struct sfc_diag d = {};
	unsigned int was = 99;
	int err;

	log_reset();
	err = sfc_sriov__set_numvfs(root, "sfct-pf0", 8, &was, &d);
	CHECK(!err && was == 8, "8 -> 8: %d", err);
	CHECK_STR(log_text(), "");

	err = sfc_sriov__set_numvfs(root, "sfct-pf0", 9, &was, &d);
	CHECK(err == -ERANGE, "9 > totalvfs: %d", err);
	CHECK_STR(d.msg, "PF 0000:03:00.0 supports at most 8 VFs, not 9");
	CHECK_STR(log_text(), "");

	/* In use: an interface up, a VF on vfio-pci */
	vf_netdev(0, 2, true);
	vf_pci(0, 6, pci);
	dev_no_netdev(pci);
	dev_driver(pci, "vfio-pci");
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__set_numvfs(root, PF0, 4, &was, &d);
	CHECK(err == -EBUSY, "8 -> 4 with VFs in use: %d", err);
	CHECK_STR(d.msg, "cannot change the VFs of PF 0000:03:00.0 from 8 to 4: the VFs are "
		  "removed first, and 2 are in use: VF 2 (0000:03:01.2): its interface sfct-vf2 "
		  "is up; VF 6 (0000:03:01.6): bound to vfio-pci");
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__set_numvfs(root, PF0, 0, &was, &d);
	CHECK(err == -EBUSY, "8 -> 0 with VFs in use: %d", err);
	CHECK_STR(log_text(), "");

	vf_netdev(0, 2, false);
	dev_driver(pci, "iavf");
	vf_netdev(0, 6, false);
	err = sfc_sriov__set_numvfs(root, PF0, 4, &was, &d);
	CHECK(!err && was == 8, "8 -> 4: %d %s", err, d.msg);
	CHECK_STR(log_text(), PCIDIR "/" PF0 "/sriov_numvfs=0\n"
		  PCIDIR "/" PF0 "/sriov_numvfs=4\n");
	slurp(PCIDIR "/" PF0 "/sriov_numvfs", buf, sizeof(buf));
	CHECK_STR(buf, "4");
	CHECK(exists_rel(PCIDIR "/" PF0 "/virtfn3") && !exists_rel(PCIDIR "/" PF0 "/virtfn4"),
	      "the fake kernel made 4 virtfn links");

	log_reset();
	err = sfc_sriov__set_numvfs(root, "sfct-pf0", 0, &was, &d);
	CHECK(!err && was == 4, "4 -> 0: %d", err);
	CHECK_STR(log_text(), PCIDIR "/" PF0 "/sriov_numvfs=0\n");

	memset(&d, 0, sizeof(d));
	err = sfc_sriov__vf(root, PF0, "0", &v, &d);
	CHECK(err == -ERANGE, "no VFs: %d", err);
	CHECK_STR(d.msg, "PF 0000:03:00.0 has no VFs (create them: sfcctl vf numvfs "
		  "0000:03:00.0 N)");
	log_reset();
	err = sfc_sriov__set_numvfs(root, PF0, 8, &was, &d);
	CHECK(!err && was == 0, "0 -> 8: %d", err);
	CHECK_STR(log_text(), PCIDIR "/" PF0 "/sriov_numvfs=8\n");

	/* The kernel refuses: its error comes back with the file named. */
	log_reset();
	K.fail_numvfs = -ENOMEM;
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__set_numvfs(root, PF1, 3, &was, &d);
	K.fail_numvfs = 0;
	CHECK(err == -ENOMEM, "kernel error: %d", err);
	CHECK(strstr(d.msg, "cannot create 3 VFs on PF 0000:04:00.0 (writing ") &&
	      strstr(d.msg, "sriov_numvfs): Cannot allocate memory"), "%s", d.msg);
	CHECK_STR(log_text(), PCIDIR "/" PF1 "/sriov_numvfs=0\n"
		  PCIDIR "/" PF1 "/sriov_numvfs=3\n");
	/* put PF 1 back: 2 VFs */
	log_reset();
	err = sfc_sriov__set_numvfs(root, PF1, 2, &was, &d);
	CHECK(!err, "PF1 back to 2 VFs: %d", err);
}

static void test_bind(void)
{
	struct sfc_vf_bind_result r;
	struct sfc_diag d = {};
	char buf[64], pci[SFC_PCI_ADDR_LEN];
	int err;

	vf_pci(0, 1, pci);
	log_reset();
	err = sfc_sriov__bind(root, "sfct-pf0", "1", SFC_VF_BIND_VFIO, &r, &d);
	CHECK(!err, "bind VF 1 to vfio-pci: %d %s", err, d.msg);
	CHECK_STR(log_text(), PCIDIR "/0000:03:01.1/driver_override=vfio-pci\n"
		  "bus/pci/drivers/iavf/unbind=0000:03:01.1\n"
		  "bus/pci/drivers_probe=0000:03:01.1\n");
	CHECK(r.changed && !strcmp(r.before, "iavf") && !strcmp(r.after, "vfio-pci"),
	      "result: %d %s -> %s", r.changed, r.before, r.after);
	CHECK(driver_of(pci, buf, sizeof(buf)) && !strcmp(buf, "vfio-pci"), "now %s", buf);
	slurp(PCIDIR "/0000:03:01.1/driver_override", buf, sizeof(buf));
	CHECK_STR(buf, "vfio-pci");
	CHECK(!exists_rel("class/net/sfct-vf1"), "its interface went with iavf");

	log_reset();
	err = sfc_sriov__bind(root, PF0, pci, SFC_VF_BIND_VFIO, &r, &d);
	CHECK(!err && !r.changed && !strcmp(r.after, "vfio-pci"), "again: no-op %d", err);
	CHECK_STR(log_text(), "");

	/* numvfs now sees VF 1 in use */
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__set_numvfs(root, PF0, 2, NULL, &d);
	CHECK(err == -EBUSY && strstr(d.msg, "1 is in use: VF 1 (0000:03:01.1): bound to vfio-pci"),
	      "%d %s", err, d.msg);

	err = sfc_sriov__bind(root, PF0, "1", SFC_VF_BIND_HOST, &r, &d);
	CHECK(!err, "back to the host: %d %s", err, d.msg);
	CHECK_STR(log_text(), PCIDIR "/0000:03:01.1/driver_override=\\n\n"
		  "bus/pci/drivers/vfio-pci/unbind=0000:03:01.1\n"
		  "bus/pci/drivers_probe=0000:03:01.1\n");
	CHECK(r.changed && !strcmp(r.before, "vfio-pci") && !strcmp(r.after, "iavf"),
	      "result: %s -> %s", r.before, r.after);
	CHECK(exists_rel("class/net/sfct-vf1"), "iavf made its interface again");

	log_reset();
	err = sfc_sriov__bind(root, PF0, "1", SFC_VF_BIND_HOST, &r, &d);
	CHECK(!err && !r.changed && !strcmp(r.after, "iavf"), "host again: no-op %d", err);
	CHECK_STR(log_text(), "");

	/* Refusals: nothing is written */
	vf_netdev(0, 0, true);
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__bind(root, PF0, "0", SFC_VF_BIND_VFIO, &r, &d);
	CHECK(err == -EBUSY, "interface up: %d", err);
	CHECK_STR(d.msg, "VF 0000:03:01.0 is in use: its interface sfct-vf0 is up (ip link set "
		  "sfct-vf0 down)");
	vf_netdev(0, 0, false);
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__bind(root, PF1, "0000:03:01.0", SFC_VF_BIND_VFIO, &r, &d);
	CHECK(err == -EINVAL && strstr(d.msg, "is not a VF of PF 0000:04:00.0"), "wrong PF: %d %s",
	      err, d.msg);
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__bind(root, PF0, "9", SFC_VF_BIND_VFIO, &r, &d);
	CHECK(err == -ERANGE, "no VF 9: %d", err);
	unlink_rel(PCIDIR "/0000:03:01.2/iommu_group");
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__bind(root, PF0, "2", SFC_VF_BIND_VFIO, &r, &d);
	CHECK(err == -EINVAL && strstr(d.msg, "has no IOMMU group"), "%d %s", err, d.msg);
	ln("../../../../kernel/iommu_groups/9042", PCIDIR "/0000:03:01.2/iommu_group");
	{
		char a[PATH_MAX], b[PATH_MAX];

		pathf(a, "bus/pci/drivers/vfio-pci");
		pathf(b, "bus/pci/drivers/vfio-pci.off");
		rename(a, b);
		memset(&d, 0, sizeof(d));
		err = sfc_sriov__bind(root, PF0, "2", SFC_VF_BIND_VFIO, &r, &d);
		CHECK(err == -ENOENT, "vfio-pci not loaded: %d", err);
		CHECK_STR(d.msg, "the vfio-pci driver is not loaded (modprobe vfio-pci)");
		rename(b, a);
	}
	CHECK_STR(log_text(), "");

	/* The kernel binds nothing: undone, and said so */
	K.stubborn = true;
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__bind(root, PF0, "3", SFC_VF_BIND_VFIO, &r, &d);
	K.stubborn = false;
	CHECK(err == -ENODEV, "no driver took it: %d", err);
	CHECK(strstr(d.msg, "VF 0000:03:01.3 did not bind to vfio-pci within 2000 ms (see dmesg); "
		     "driver_override is cleared again"), "%s", d.msg);
	CHECK_STR(log_text(), PCIDIR "/0000:03:01.3/driver_override=vfio-pci\n"
		  "bus/pci/drivers/iavf/unbind=0000:03:01.3\n"
		  "bus/pci/drivers_probe=0000:03:01.3\n"
		  PCIDIR "/0000:03:01.3/driver_override=\\n\n"
		  "bus/pci/drivers_probe=0000:03:01.3\n");
	/* the real kernel would have re-probed iavf; ours was stubborn */
	log_reset();
	err = sfc_sriov__bind(root, PF0, "3", SFC_VF_BIND_HOST, &r, &d);
	CHECK(!err && r.changed && !strcmp(r.before, "") && !strcmp(r.after, "iavf"),
	      "driverless VF back to iavf: %d %s", err, d.msg);
	CHECK_STR(log_text(), "bus/pci/drivers_probe=0000:03:01.3\n");

	/* A guest holds VF 4's vfio group open: list says who, host refuses */
	{
		struct sfc_sriov_pf *pfs;
		char dev[PATH_MAX], grp[PATH_MAX + 16], want[128];
		size_t n;
		int fd;

		snprintf(dev, sizeof(dev), "%s/dev", root);
		mkdir_p("dev/vfio");
		snprintf(grp, sizeof(grp), "%s/vfio/9044", dev);
		fd = open(grp, O_CREAT | O_RDWR, 0600);
		CHECK(fd >= 0, "open %s", grp);
		sfc_sriov_set_dev_root(dev);
		dev_no_netdev("0000:03:01.4");
		dev_driver("0000:03:01.4", "vfio-pci");
		err = sfc_sriov__list(root, PF0, &pfs, &n, &d);
		CHECK(!err && n == 1, "list: %d", err);
		if (!err) {
			snprintf(want, sizeof(want), "bound to vfio-pci, open by pid %d (",
				 (int)getpid());
			CHECK(pfs[0].vfs[4].in_use && !strncmp(pfs[0].vfs[4].in_use_by, want,
								strlen(want)),
			      "in use by: \"%s\"", pfs[0].vfs[4].in_use_by);
			CHECK_STR(pfs[0].vfs[3].in_use_by, "");
			sfc_sriov__list_free(pfs, n);
		}
		log_reset();
		memset(&d, 0, sizeof(d));
		err = sfc_sriov__bind(root, PF0, "4", SFC_VF_BIND_HOST, &r, &d);
		CHECK(err == -EBUSY, "host while a guest has it: %d", err);
		snprintf(want, sizeof(want), "VF 0000:03:01.4 is in use: its vfio device is "
			 "open by pid %d (", (int)getpid());
		CHECK(!strncmp(d.msg, want, strlen(want)) &&
		      strstr(d.msg, ") (stop the guest first)"), "%s", d.msg);
		CHECK_STR(log_text(), "");
		close(fd);
		err = sfc_sriov__bind(root, PF0, "4", SFC_VF_BIND_HOST, &r, &d);
		CHECK(!err && !strcmp(r.after, "iavf"), "host once the guest is gone: %d %s", err,
		      d.msg);
		sfc_sriov_set_dev_root(NULL);
	}
}

static void test_holder(void)
{
	char tmp[2][PATH_MAX];
	const char *paths[3] = { tmp[0], tmp[1], "/dev/vfio/no-such-group" };
	pid_t pids[3] = { -1, -1, -1 };
	int fd[2], ret, i;

	for (i = 0; i < 2; i++) {
		snprintf(tmp[i], sizeof(tmp[i]), "%s/vfio-%d", root, i);
		fd[i] = open(tmp[i], O_CREAT | O_RDWR, 0600);
		CHECK(fd[i] >= 0, "open %s", tmp[i]);
	}
	ret = sfc_proc_holders("/proc", paths, 3, pids);
	CHECK(ret == 2 && pids[0] == getpid() && pids[1] == getpid() && pids[2] == 0,
	      "this process holds two of three: %d, pids %d %d %d", ret, (int)pids[0],
	      (int)pids[1], (int)pids[2]);
	close(fd[0]);
	ret = sfc_proc_holders("/proc", paths, 3, pids);
	CHECK(ret == 1 && pids[0] == 0 && pids[1] == getpid(), "one after a close: %d", ret);
	close(fd[1]);
	ret = sfc_proc_holders("/proc", paths, 3, pids);
	CHECK(ret == 0 && !pids[0] && !pids[1] && !pids[2], "none after both: %d", ret);
}

/* ---- rtnetlink messages ---- */

struct attrs {
	unsigned int n;
	const struct nlattr *a[16];
};

static void walk(const void *data, int len, struct attrs *out)
{
	const struct nlattr *a = data;

	out->n = 0;
	while (len >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) && a->nla_len <= len &&
	       out->n < 16) {
		out->a[out->n++] = a;
		len -= NLA_ALIGN(a->nla_len);
		a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len));
	}
	CHECK(len == 0, "attributes fill their container exactly (%d left)", len);
}

static const void *payload(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static void test_msg_full(void)
{
	struct sfc_vf_config c = {
		.vf = 5, .set = SFC_VF_SET_MAC | SFC_VF_SET_VLAN | SFC_VF_SET_SPOOFCHK |
				 SFC_VF_SET_TRUST | SFC_VF_SET_RATE | SFC_VF_SET_LINK_STATE,
		.mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, .vlan = 100, .qos = 3,
		.spoofchk = true, .trust = false, .min_tx_rate = 100, .max_tx_rate = 1000,
		.link_state = IFLA_VF_LINK_STATE_ENABLE,
	};
	static const unsigned short want[] = {
		IFLA_VF_MAC, IFLA_VF_VLAN, IFLA_VF_SPOOFCHK, IFLA_VF_TRUST, IFLA_VF_RATE,
		IFLA_VF_LINK_STATE,
	};
	char buf[512];
	const struct nlmsghdr *nh = (const void *)buf;
	const struct ifinfomsg *ifi = (const void *)(buf + NLMSG_HDRLEN);
	struct attrs top, info, vf;
	unsigned int i;
	int len;

	memset(buf, 0xa5, sizeof(buf));
	len = sfc_vf_msg__build(buf, sizeof(buf), 7, 42, &c);
	CHECK(len > 0, "build: %d", len);
	if (len <= 0)
		return;
	CHECK(nh->nlmsg_len == (unsigned int)len, "nlmsg_len %u, returned %d", nh->nlmsg_len, len);
	CHECK(nh->nlmsg_type == RTM_SETLINK, "type %u", nh->nlmsg_type);
	CHECK(nh->nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK), "flags 0x%x", nh->nlmsg_flags);
	CHECK(nh->nlmsg_seq == 42 && nh->nlmsg_pid == 0, "seq %u pid %u", nh->nlmsg_seq,
	      nh->nlmsg_pid);
	CHECK(ifi->ifi_family == AF_UNSPEC && ifi->ifi_index == 7 && ifi->ifi_flags == 0 &&
	      ifi->ifi_change == 0 && ifi->ifi_type == 0, "ifinfomsg: index %d", ifi->ifi_index);

	walk(buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(*ifi)),
	     len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(*ifi)), &top);
	CHECK(top.n == 1 && top.a[0]->nla_type == (IFLA_VFINFO_LIST | NLA_F_NESTED),
	      "one IFLA_VFINFO_LIST (nested): %u, type 0x%x", top.n,
	      top.n ? top.a[0]->nla_type : 0);
	if (top.n != 1)
		return;
	walk(payload(top.a[0]), top.a[0]->nla_len - NLA_HDRLEN, &info);
	CHECK(info.n == 1 && info.a[0]->nla_type == (IFLA_VF_INFO | NLA_F_NESTED),
	      "one IFLA_VF_INFO: %u", info.n);
	if (info.n != 1)
		return;
	walk(payload(info.a[0]), info.a[0]->nla_len - NLA_HDRLEN, &vf);
	CHECK(vf.n == 6, "six settings: %u", vf.n);
	for (i = 0; i < vf.n && i < 6; i++)
		CHECK(vf.a[i]->nla_type == want[i], "setting %u: type %u, want %u", i,
		      vf.a[i]->nla_type, want[i]);
	if (vf.n != 6)
		return;
	{
		const struct ifla_vf_mac *m = payload(vf.a[0]);
		static const unsigned char zero[26];

		CHECK(vf.a[0]->nla_len == NLA_HDRLEN + sizeof(*m), "mac len %u", vf.a[0]->nla_len);
		CHECK(m->vf == 5 && !memcmp(m->mac, c.mac, 6) && !memcmp(m->mac + 6, zero, 26),
		      "mac: vf %u", m->vf);
	}
	{
		const struct ifla_vf_vlan *v = payload(vf.a[1]);

		CHECK(vf.a[1]->nla_len == NLA_HDRLEN + sizeof(*v), "vlan len %u", vf.a[1]->nla_len);
		CHECK(v->vf == 5 && v->vlan == 100 && v->qos == 3, "vlan %u %u %u", v->vf, v->vlan,
		      v->qos);
	}
	{
		const struct ifla_vf_spoofchk *s = payload(vf.a[2]);
		const struct ifla_vf_trust *t = payload(vf.a[3]);
		const struct ifla_vf_rate *r = payload(vf.a[4]);
		const struct ifla_vf_link_state *l = payload(vf.a[5]);

		CHECK(vf.a[2]->nla_len == NLA_HDRLEN + sizeof(*s) && s->vf == 5 && s->setting == 1,
		      "spoofchk on");
		CHECK(vf.a[3]->nla_len == NLA_HDRLEN + sizeof(*t) && t->vf == 5 && t->setting == 0,
		      "trust off");
		CHECK(vf.a[4]->nla_len == NLA_HDRLEN + sizeof(*r) && r->vf == 5 &&
		      r->min_tx_rate == 100 && r->max_tx_rate == 1000, "rate %u %u", r->min_tx_rate,
		      r->max_tx_rate);
		CHECK(vf.a[5]->nla_len == NLA_HDRLEN + sizeof(*l) && l->vf == 5 &&
		      l->link_state == IFLA_VF_LINK_STATE_ENABLE, "link state %u", l->link_state);
	}
	/* Exactly as long as it needs to be: smaller buffers fail whole. */
	CHECK(sfc_vf_msg__build(buf, len - 1, 7, 42, &c) == -ENOSPC, "one byte short: ENOSPC");
	CHECK(sfc_vf_msg__build(buf, 8, 7, 42, &c) == -ENOSPC, "no room for the header");
}

static void test_msg_qinq(void)
{
	struct sfc_vf_config c = {
		.vf = 2, .set = SFC_VF_SET_VLAN, .vlan = 4095, .qos = 7, .vlan_proto = ETH_P_8021AD,
	};
	char buf[256];
	struct attrs top, info, vf, list;
	const struct ifla_vf_vlan_info *vi;
	int len;

	len = sfc_vf_msg__build(buf, sizeof(buf), 3, 1, &c);
	CHECK(len > 0, "build: %d", len);
	if (len <= 0)
		return;
	walk(buf + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg)),
	     len - NLMSG_HDRLEN - NLMSG_ALIGN(sizeof(struct ifinfomsg)), &top);
	if (top.n != 1)
		return;
	walk(payload(top.a[0]), top.a[0]->nla_len - NLA_HDRLEN, &info);
	if (info.n != 1)
		return;
	walk(payload(info.a[0]), info.a[0]->nla_len - NLA_HDRLEN, &vf);
	CHECK(vf.n == 1 && vf.a[0]->nla_type == (IFLA_VF_VLAN_LIST | NLA_F_NESTED),
	      "802.1ad: one IFLA_VF_VLAN_LIST and no IFLA_VF_VLAN: %u, type 0x%x", vf.n,
	      vf.n ? vf.a[0]->nla_type : 0);
	if (vf.n != 1)
		return;
	walk(payload(vf.a[0]), vf.a[0]->nla_len - NLA_HDRLEN, &list);
	CHECK(list.n == 1 && list.a[0]->nla_type == IFLA_VF_VLAN_INFO &&
	      list.a[0]->nla_len == NLA_HDRLEN + sizeof(*vi), "one IFLA_VF_VLAN_INFO");
	if (list.n != 1)
		return;
	vi = payload(list.a[0]);
	CHECK(vi->vf == 2 && vi->vlan == 4095 && vi->qos == 7 &&
	      vi->vlan_proto == htons(ETH_P_8021AD),
	      "vlan info %u %u %u 0x%04x", vi->vf, vi->vlan, vi->qos, ntohs(vi->vlan_proto));

	/* Only what is set goes out: MAC alone */
	c = (struct sfc_vf_config){ .vf = 0, .set = SFC_VF_SET_MAC };
	len = sfc_vf_msg__build(buf, sizeof(buf), 3, 1, &c);
	CHECK(len == NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg)) + 3 * NLA_HDRLEN +
	      NLA_ALIGN(sizeof(struct ifla_vf_mac)), "MAC alone, all zero (driver decides): len %d",
	      len);
}

static void test_msg_refusals(void)
{
	static const struct {
		const char *desc;
		struct sfc_vf_config c;
		const char *path, *msg;
	} bad[] = {
		{ "nothing set", { .vf = 0 }, "", "nothing to set" },
		{ "multicast MAC",
		  { .set = SFC_VF_SET_MAC, .mac = { 0x01, 0, 0x5e, 0, 0, 1 } }, "mac",
		  "01:00:5e:00:00:01 is a multicast address; a VF needs a unicast one" },
		{ "broadcast MAC",
		  { .set = SFC_VF_SET_MAC, .mac = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
		  "mac", "ff:ff:ff:ff:ff:ff is a multicast address; a VF needs a unicast one" },
		{ "VLAN 4096", { .set = SFC_VF_SET_VLAN, .vlan = 4096 }, "vlan",
		  "VLAN 4096 is out of range 0..4095" },
		{ "qos 8", { .set = SFC_VF_SET_VLAN, .vlan = 5, .qos = 8 }, "qos",
		  "qos 8 is out of range 0..7" },
		{ "qos without VLAN", { .set = SFC_VF_SET_VLAN, .qos = 1 }, "vlan",
		  "qos and proto need a VLAN (vlan 0 removes it)" },
		{ "odd VLAN protocol", { .set = SFC_VF_SET_VLAN, .vlan = 5, .vlan_proto = 0x9100 },
		  "proto", "VLAN protocol 0x9100 is neither 802.1Q nor 802.1ad" },
		{ "min above max",
		  { .set = SFC_VF_SET_RATE, .min_tx_rate = 2000, .max_tx_rate = 1000 },
		  "rate", "minimum rate 2000 Mbit/s is above the maximum 1000 Mbit/s" },
		{ "link state 3", { .set = SFC_VF_SET_LINK_STATE, .link_state = 3 }, "state",
		  "link state 3 is not auto, enable or disable" },
	};
	struct sfc_vf_config ok = { .set = SFC_VF_SET_RATE, .min_tx_rate = 500, .max_tx_rate = 0 };
	struct sfc_diag d;
	char buf[256];
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&d, 0, sizeof(d));
		CHECK(sfc_vf_config__check(&bad[i].c, &d) == -EINVAL, "%s: accepted", bad[i].desc);
		CHECK(!strcmp(d.path, bad[i].path) && !strcmp(d.msg, bad[i].msg),
		      "%s: \"%s: %s\"", bad[i].desc, d.path, d.msg);
		CHECK(sfc_vf_msg__build(buf, sizeof(buf), 1, 1, &bad[i].c) == -EINVAL,
		      "%s: built anyway", bad[i].desc);
	}
	CHECK(sfc_vf_config__check(&ok, NULL) == 0, "min with no maximum (max 0) is fine");
	CHECK(sfc_vf_msg__build(buf, sizeof(buf), 0, 1, &ok) == -EINVAL, "ifindex 0");
}

/* sfc_sriov__set_vf checks everything it can before it talks to the kernel. */
static void test_set_vf(void)
{
	struct sfc_vf_config c = { .vf = 9, .set = SFC_VF_SET_TRUST, .trust = true };
	struct sfc_diag d = {};
	int err;

	err = sfc_sriov__set_vf(root, "sfct-pf0", &c, &d);
	CHECK(err == -ERANGE && strstr(d.msg, "VF 9 is out of range"), "%d %s", err, d.msg);
	c.vf = 4;
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__set_vf(root, "sfct-pf0", &c, &d);
	CHECK(err == -ENODEV, "PF interface not in this netns: %d", err);
	CHECK_STR(d.msg, "PF 0000:03:00.0's interface sfct-pf0 is not in this network namespace");
	c.set = SFC_VF_SET_VLAN;
	c.vlan = 5000;
	memset(&d, 0, sizeof(d));
	err = sfc_sriov__set_vf(root, "sfct-pf0", &c, &d);
	CHECK(err == -EINVAL && !strcmp(d.path, "vlan"), "bad value first: %d", err);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char real[PATH_MAX];

	snprintf(root, sizeof(root), "%s/sfc-sriov.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(root) || !realpath(root, real) || strlen(real) >= sizeof(root)) {
		perror("mkdtemp");
		return 1;
	}
	strcpy(root, real);	/* the fake kernel compares resolved paths */
	make_tree();
	sfc_sysfs_set_hook(fake_kernel, &K);

	test_list();
	test_refusals();
	test_numvfs();
	test_bind();
	test_holder();
	test_msg_full();
	test_msg_qinq();
	test_msg_refusals();
	test_set_vf();

	sfc_sysfs_set_hook(NULL, NULL);
	rm_tree(root);
	TEST_DONE();
}
