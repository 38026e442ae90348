// SPDX-License-Identifier: GPL-2.0
/*
 * sfcctl vf list | numvfs | set | bind: SR-IOV PFs and VFs on the host
 * (docs/sriov.md); sfcctl xdp IFNAME: native XDP support of an interface.
 *
 * sysfs is read under $SFC_SYSFS_ROOT (default /sys), so that the commands
 * can be tried, and are tested, on a fake tree.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>

#include "cli.h"

const char vf_help_text[] =
	"  vf [list [PF]]\n"
	"  vf numvfs PF N\n"
	"  vf set PF VF [mac MAC] [vlan ID [qos Q] [proto 802.1Q|802.1ad]]\n"
	"               [spoofchk on|off] [trust on|off] [rate MIN MAX]\n"
	"               [state auto|enable|disable]\n"
	"  vf bind PF VF vfio|host\n"
	"\n"
	"PF is the PF's interface (enp3s0f0) or PCI address (0000:03:00.0); VF is\n"
	"its index on the PF or its PCI address.\n"
	"\n"
	"  list     the SR-IOV PFs (or PF) and their VFs: PCI address, driver,\n"
	"           interface, MAC, IOMMU group, native XDP, whether in use\n"
	"  numvfs   create N VFs (0 removes them); changing a non-zero number\n"
	"           removes the VFs first and is refused while any is in use\n"
	"  set      VF settings, applied by the PF's driver (rtnetlink, as `ip link\n"
	"           set PF vf N`): MAC, VLAN (0 removes it) with 802.1p priority,\n"
	"           spoof check, trust, tx rate in Mbit/s (MAX 0: no limit), link\n"
	"           state\n"
	"  bind     bind the VF to vfio-pci (for a guest) or back to its host\n"
	"           driver; refused while it is in use\n"
	"\n"
	"A VF is in use when it is bound to vfio-pci, its interface is up, or an\n"
	"XDP program runs on it. sysfs is read under $SFC_SYSFS_ROOT (default\n"
	"/sys). See docs/sriov.md.\n";

static const char *sysfs_root(void)
{
	const char *r = getenv("SFC_SYSFS_ROOT");

	return r && r[0] ? r : "/sys";
}

static int vf_help(void)
{
	printf("Usage: sfcctl [OPTIONS] vf [COMMAND] ...\n\n%s", vf_help_text);
	return EXIT_OK;
}

/* A library error: its message, else strerror. */
static int lib_error(const struct sfcctl *ctl, const struct sfc_diag *d, int err)
{
	if (d->msg[0])
		return out_error(ctl, "%s", d->msg);
	return out_error(ctl, "%s%s", strerror(-err),
			 err == -EPERM || err == -EACCES ? " (are you root?)" : "");
}

static void kstr_or_null(struct sfc_json *j, const char *key, const char *s)
{
	sfc_json__key(j, key);
	if (s && s[0])
		sfc_json__str(j, s);
	else
		sfc_json__null(j);
}

static void ktri(struct sfc_json *j, const char *key, int v)
{
	sfc_json__key(j, key);
	if (v < 0)
		sfc_json__null(j);
	else
		sfc_json__bool(j, v);
}

static void kgroup(struct sfc_json *j, int group)
{
	sfc_json__key(j, "iommu_group");
	if (group < 0)
		sfc_json__null(j);
	else
		sfc_json__u64(j, group);
}

/* ---- list ------------------------------------------------------------- */

static void vf_json(struct sfc_json *j, const struct sfc_sriov_vf *v)
{
	sfc_json__obj_begin(j);
	sfc_json__ku64(j, "index", v->index);
	sfc_json__kstr(j, "pci", v->pci);
	kstr_or_null(j, "driver", v->driver);
	kstr_or_null(j, "driver_override", v->driver_override);
	kstr_or_null(j, "netdev", v->netdev);
	kstr_or_null(j, "mac", v->mac);
	kgroup(j, v->iommu_group);
	sfc_json__kbool(j, "up", v->up);
	ktri(j, "xdp_attached", v->xdp_attached);
	ktri(j, "xdp_native", v->xdp_native);
	sfc_json__kbool(j, "in_use", v->in_use);
	kstr_or_null(j, "in_use_by", v->in_use_by);
	sfc_json__obj_end(j);
}

static void pf_json(struct sfc_json *j, const struct sfc_sriov_pf *p)
{
	unsigned int i;

	sfc_json__obj_begin(j);
	sfc_json__kstr(j, "pci", p->pci);
	kstr_or_null(j, "netdev", p->netdev);
	kstr_or_null(j, "driver", p->driver);
	kgroup(j, p->iommu_group);
	sfc_json__ku64(j, "total_vfs", p->total_vfs);
	sfc_json__ku64(j, "num_vfs", p->num_vfs);
	ktri(j, "drivers_autoprobe", p->drivers_autoprobe);
	sfc_json__key(j, "vfs");
	sfc_json__arr_begin(j);
	for (i = 0; i < p->n_vfs; i++)
		vf_json(j, &p->vfs[i]);
	sfc_json__arr_end(j);
	sfc_json__obj_end(j);
}

#define VF_COLS 8

static const char *dash(const char *s)
{
	return s[0] ? s : "-";
}

static void pf_plain(const struct sfc_sriov_pf *p)
{
	static const char *const head[VF_COLS] = {
		"VF", "PCI", "DRIVER", "INTERFACE", "MAC", "IOMMU", "XDP", "STATE",
	};
	char cells[VF_COLS][192];
	int width[VF_COLS], w;
	unsigned int i, c, pass;

	printf("PF %s  %s  driver %s  VFs %u/%u", p->pci, dash(p->netdev), dash(p->driver),
	       p->num_vfs, p->total_vfs);
	if (p->iommu_group >= 0)
		printf("  iommu_group %d", p->iommu_group);
	if (p->drivers_autoprobe == 0)
		printf("  autoprobe off");
	printf("\n");
	if (!p->n_vfs)
		return;
	/* Two passes: the widths, then the rows; STATE is last and unpadded. */
	for (c = 0; c < VF_COLS; c++)
		width[c] = strlen(head[c]);
	for (pass = 0; pass < 2; pass++) {
		if (pass) {
			printf("  ");
			for (c = 0; c + 1 < VF_COLS; c++)
				printf("%-*s  ", width[c], head[c]);
			printf("%s\n", head[c]);
		}
		for (i = 0; i < p->n_vfs; i++) {
			const struct sfc_sriov_vf *v = &p->vfs[i];

			snprintf(cells[0], sizeof(cells[0]), "%u", v->index);
			snprintf(cells[1], sizeof(cells[0]), "%s", v->pci);
			snprintf(cells[2], sizeof(cells[0]), "%s", dash(v->driver));
			snprintf(cells[3], sizeof(cells[0]), "%s", dash(v->netdev));
			snprintf(cells[4], sizeof(cells[0]), "%s", dash(v->mac));
			if (v->iommu_group >= 0)
				snprintf(cells[5], sizeof(cells[0]), "%d", v->iommu_group);
			else
				snprintf(cells[5], sizeof(cells[0]), "-");
			snprintf(cells[6], sizeof(cells[0]), "%s", v->xdp_native < 0 ? "-" :
				 v->xdp_native ? "native" : "skb");
			snprintf(cells[7], sizeof(cells[0]), "%s%s%s", v->in_use ? "in use: " : "",
				 v->in_use ? v->in_use_by : v->netdev[0] ? "down" : "free",
				 v->driver_override[0] && strcmp(v->driver_override, v->driver) ?
				 " (driver_override set)" : "");
			for (c = 0; c < VF_COLS; c++) {
				w = strlen(cells[c]);
				if (!pass) {
					width[c] = w > width[c] ? w : width[c];
					continue;
				}
				if (c == 7)
					printf("%s\n", cells[c]);
				else
					printf(c == 0 ? "  %-*s  " : "%-*s  ", width[c], cells[c]);
			}
		}
	}
}

static int vf_list(const struct sfcctl *ctl, int argc, char **argv)
{
	struct sfc_sriov_pf *pfs;
	struct sfc_diag d = {};
	struct sfc_json j;
	size_t n, i;
	int err;

	if (argc > 1)
		return out_usage(ctl, "vf", "vf list: unexpected argument '%s' (usage: sfcctl vf "
				 "list [PF])", argv[1]);
	err = sfc_sriov__list(sysfs_root(), argc ? argv[0] : NULL, &pfs, &n, &d);
	if (err)
		return lib_error(ctl, &d, err);
	if (ctl->json) {
		out_json_init(ctl, &j);
		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "sysfs_root", sysfs_root());
		sfc_json__key(&j, "pfs");
		sfc_json__arr_begin(&j);
		for (i = 0; i < n; i++)
			pf_json(&j, &pfs[i]);
		sfc_json__arr_end(&j);
		sfc_json__obj_end(&j);
		sfc_sriov__list_free(pfs, n);
		return out_json_print(&j);
	}
	if (!n)
		fprintf(stderr, "sfcctl: no SR-IOV PFs (in %s/bus/pci/devices)\n", sysfs_root());
	for (i = 0; i < n; i++) {
		if (i)
			printf("\n");
		pf_plain(&pfs[i]);
	}
	sfc_sriov__list_free(pfs, n);
	return ferror(stdout) ? EXIT_FAIL : EXIT_OK;
}

/* ---- numvfs ----------------------------------------------------------- */

static bool parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !*end && !errno && *v <= max;
}

static int vf_numvfs(const struct sfcctl *ctl, int argc, char **argv)
{
	struct sfc_sriov_pf *pfs;
	struct sfc_diag d = {};
	unsigned int was;
	unsigned long n;
	struct sfc_json j;
	size_t cnt;
	int err;

	if (argc != 2)
		return out_usage(ctl, "vf", "vf numvfs: %s (usage: sfcctl vf numvfs PF N)",
				 argc < 2 ? "missing argument" : "too many arguments");
	if (!parse_uint(argv[1], 65535, &n))
		return out_usage(ctl, "vf", "vf numvfs: \"%s\" is not a number of VFs", argv[1]);
	err = sfc_sriov__set_numvfs(sysfs_root(), argv[0], n, &was, &d);
	if (err)
		return lib_error(ctl, &d, err);
	/* Read back what the kernel has now. */
	err = sfc_sriov__list(sysfs_root(), argv[0], &pfs, &cnt, &d);
	if (err)
		return lib_error(ctl, &d, err);
	if (ctl->json) {
		out_json_init(ctl, &j);
		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "pf", pfs[0].pci);
		sfc_json__ku64(&j, "num_vfs", pfs[0].num_vfs);
		sfc_json__ku64(&j, "was", was);
		sfc_json__kbool(&j, "changed", was != n);
		sfc_json__obj_end(&j);
		sfc_sriov__list_free(pfs, cnt);
		return out_json_print(&j);
	}
	if (was == n)
		printf("PF %s: %u VFs already\n", pfs[0].pci, pfs[0].num_vfs);
	else
		printf("PF %s: VFs %u -> %u\n", pfs[0].pci, was, pfs[0].num_vfs);
	sfc_sriov__list_free(pfs, cnt);
	return EXIT_OK;
}

/* ---- set -------------------------------------------------------------- */

static int parse_onoff(const char *s, bool *v)
{
	if (!strcmp(s, "on"))
		*v = true;
	else if (!strcmp(s, "off"))
		*v = false;
	else
		return -1;
	return 0;
}

static const char *const link_states[] = { "auto", "enable", "disable" };

/*
 * Setting kw (is_setting) with value v (rate: MIN, with MAX in v2) into c.
 * NULL when done, else what v should be.
 */
static const char *set_one(const char *kw, const char *v, const char *v2,
			   struct sfc_vf_config *c)
{
	unsigned long n, m;
	unsigned int k;

	if (!strcmp(kw, "mac")) {
		c->set |= SFC_VF_SET_MAC;
		return cli_parse_mac(v, c->mac) ? NULL : "a MAC address (xx:xx:xx:xx:xx:xx)";
	}
	if (!strcmp(kw, "vlan")) {
		c->set |= SFC_VF_SET_VLAN;
		if (!parse_uint(v, 4095, &n))
			return "a VLAN id 0..4095";
		c->vlan = n;
		return NULL;
	}
	if (!strcmp(kw, "qos")) {
		if (!parse_uint(v, 7, &n))
			return "a priority 0..7";
		c->qos = n;
		return NULL;
	}
	if (!strcmp(kw, "proto")) {
		if (!strcasecmp(v, "802.1Q"))
			c->vlan_proto = ETH_P_8021Q;
		else if (!strcasecmp(v, "802.1ad"))
			c->vlan_proto = ETH_P_8021AD;
		else
			return "802.1Q or 802.1ad";
		return NULL;
	}
	if (!strcmp(kw, "spoofchk")) {
		c->set |= SFC_VF_SET_SPOOFCHK;
		return parse_onoff(v, &c->spoofchk) ? "on or off" : NULL;
	}
	if (!strcmp(kw, "trust")) {
		c->set |= SFC_VF_SET_TRUST;
		return parse_onoff(v, &c->trust) ? "on or off" : NULL;
	}
	if (!strcmp(kw, "rate")) {
		c->set |= SFC_VF_SET_RATE;
		if (!parse_uint(v, UINT32_MAX, &n) || !parse_uint(v2, UINT32_MAX, &m))
			return "MIN MAX in Mbit/s";
		c->min_tx_rate = n;
		c->max_tx_rate = m;
		return NULL;
	}
	if (!strcmp(kw, "state")) {
		c->set |= SFC_VF_SET_LINK_STATE;
		for (k = 0; k < 3; k++)
			if (!strcmp(v, link_states[k]))
				break;
		c->link_state = k;
		return k < 3 ? NULL : "auto, enable or disable";
	}
	return "a setting";
}

static bool is_setting(const char *kw)
{
	static const char *const names[] = {
		"mac", "vlan", "qos", "proto", "spoofchk", "trust", "rate", "state",
	};
	unsigned int k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (!strcmp(kw, names[k]))
			return true;
	return false;
}

static int parse_set(const struct sfcctl *ctl, int argc, char **argv, struct sfc_vf_config *c)
{
	const char *kw, *what;
	int i, n_vals;

	for (i = 2; i < argc; i += 1 + n_vals) {
		kw = argv[i];
		if (!is_setting(kw))
			return out_usage(ctl, "vf", "vf set: unknown setting '%s' (mac, vlan, qos, "
					 "proto, spoofchk, trust, rate, state)", kw);
		n_vals = strcmp(kw, "rate") ? 1 : 2;
		if ((!strcmp(kw, "qos") || !strcmp(kw, "proto")) && !(c->set & SFC_VF_SET_VLAN))
			return out_usage(ctl, "vf", "vf set: %s comes after vlan ID", kw);
		if (i + n_vals >= argc)
			return out_usage(ctl, "vf", "vf set: %s needs %s", kw,
					 n_vals == 2 ? "MIN and MAX (Mbit/s)" : "a value");
		what = set_one(kw, argv[i + 1], n_vals == 2 ? argv[i + 2] : NULL, c);
		if (what)
			return out_usage(ctl, "vf", "vf set: %s \"%s%s%s\" is not %s", kw,
					 argv[i + 1], n_vals == 2 ? " " : "",
					 n_vals == 2 ? argv[i + 2] : "", what);
	}
	return EXIT_OK;
}

static const char *mac_text(const uint8_t *m, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static int vf_set(const struct sfcctl *ctl, int argc, char **argv)
{
	struct sfc_vf_config c = {};
	struct sfc_sriov_vf v;
	struct sfc_diag d = {};
	struct sfc_json j;
	char mac[18];
	int ret, err;

	if (argc < 3)
		return out_usage(ctl, "vf", "vf set: %s (usage: sfcctl vf set PF VF SETTING "
				 "VALUE...)", argc < 2 ? "missing PF and VF" : "nothing to set");
	ret = parse_set(ctl, argc, argv, &c);
	if (ret)
		return ret;
	err = sfc_vf_config__check(&c, &d);
	if (err)
		return out_usage(ctl, "vf", "vf set: %s", d.msg);
	err = sfc_sriov__vf(sysfs_root(), argv[0], argv[1], &v, &d);
	if (err)
		return lib_error(ctl, &d, err);
	c.vf = v.index;
	err = sfc_sriov__set_vf(sysfs_root(), argv[0], &c, &d);
	if (err)
		return lib_error(ctl, &d, err);

	if (ctl->json) {
		out_json_init(ctl, &j);
		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "pf", v.pf);
		sfc_json__ku64(&j, "vf", v.index);
		sfc_json__kstr(&j, "pci", v.pci);
		if (c.set & SFC_VF_SET_MAC)
			sfc_json__kstr(&j, "mac", mac_text(c.mac, mac, sizeof(mac)));
		if (c.set & SFC_VF_SET_VLAN) {
			sfc_json__ku64(&j, "vlan", c.vlan);
			sfc_json__ku64(&j, "qos", c.qos);
			sfc_json__kstr(&j, "vlan_proto",
				       c.vlan_proto == ETH_P_8021AD ? "802.1ad" : "802.1Q");
		}
		if (c.set & SFC_VF_SET_SPOOFCHK)
			sfc_json__kbool(&j, "spoofchk", c.spoofchk);
		if (c.set & SFC_VF_SET_TRUST)
			sfc_json__kbool(&j, "trust", c.trust);
		if (c.set & SFC_VF_SET_RATE) {
			sfc_json__ku64(&j, "min_tx_rate", c.min_tx_rate);
			sfc_json__ku64(&j, "max_tx_rate", c.max_tx_rate);
		}
		if (c.set & SFC_VF_SET_LINK_STATE)
			sfc_json__kstr(&j, "link_state", link_states[c.link_state]);
		sfc_json__obj_end(&j);
		return out_json_print(&j);
	}
	printf("PF %s VF %u (%s):", v.pf, v.index, v.pci);
	if (c.set & SFC_VF_SET_MAC)
		printf(" mac %s", mac_text(c.mac, mac, sizeof(mac)));
	if (c.set & SFC_VF_SET_VLAN)
		printf(" vlan %u qos %u proto %s", c.vlan, c.qos,
		       c.vlan_proto == ETH_P_8021AD ? "802.1ad" : "802.1Q");
	if (c.set & SFC_VF_SET_SPOOFCHK)
		printf(" spoofchk %s", c.spoofchk ? "on" : "off");
	if (c.set & SFC_VF_SET_TRUST)
		printf(" trust %s", c.trust ? "on" : "off");
	if (c.set & SFC_VF_SET_RATE)
		printf(" rate %u %u", c.min_tx_rate, c.max_tx_rate);
	if (c.set & SFC_VF_SET_LINK_STATE)
		printf(" state %s", link_states[c.link_state]);
	printf("\n");
	return EXIT_OK;
}

/* ---- bind ------------------------------------------------------------- */

static int vf_bind(const struct sfcctl *ctl, int argc, char **argv)
{
	struct sfc_vf_bind_result r;
	enum sfc_vf_bind to;
	struct sfc_sriov_vf v;
	struct sfc_diag d = {};
	struct sfc_json j;
	int err;

	if (argc != 3)
		return out_usage(ctl, "vf", "vf bind: %s (usage: sfcctl vf bind PF VF vfio|host)",
				 argc < 3 ? "missing argument" : "too many arguments");
	if (!strcmp(argv[2], "vfio") || !strcmp(argv[2], SFC_VF_DRIVER_VFIO))
		to = SFC_VF_BIND_VFIO;
	else if (!strcmp(argv[2], "host"))
		to = SFC_VF_BIND_HOST;
	else
		return out_usage(ctl, "vf", "vf bind: \"%s\" is not vfio or host", argv[2]);
	err = sfc_sriov__vf(sysfs_root(), argv[0], argv[1], &v, &d);
	if (err)
		return lib_error(ctl, &d, err);
	err = sfc_sriov__bind(sysfs_root(), argv[0], argv[1], to, &r, &d);
	if (err)
		return lib_error(ctl, &d, err);
	if (ctl->json) {
		out_json_init(ctl, &j);
		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "pf", v.pf);
		sfc_json__ku64(&j, "vf", v.index);
		sfc_json__kstr(&j, "pci", v.pci);
		kstr_or_null(&j, "driver_before", r.before);
		kstr_or_null(&j, "driver", r.after);
		sfc_json__kbool(&j, "changed", r.changed);
		sfc_json__obj_end(&j);
		return out_json_print(&j);
	}
	if (r.changed)
		printf("VF %u (%s): %s -> %s\n", v.index, v.pci, dash(r.before), r.after);
	else
		printf("VF %u (%s): on %s already\n", v.index, v.pci, r.after);
	return EXIT_OK;
}

int cmd_vf(const struct sfcctl *ctl, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(const struct sfcctl *ctl, int argc, char **argv);
	} sub[] = {
		{ "list", vf_list },
		{ "numvfs", vf_numvfs },
		{ "set", vf_set },
		{ "bind", vf_bind },
	};
	unsigned int i, n = 0, hit = 0;
	size_t len;

	if (ctl->netns)
		return out_usage(ctl, "vf", "vf: -n does not apply: PFs and VFs are on the host");
	if (argc == 0)
		return vf_list(ctl, 0, argv);
	if (!strcmp(argv[0], "help"))
		return vf_help();
	len = strlen(argv[0]);
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (!strcmp(sub[i].name, argv[0])) {
			hit = i;
			n = 1;
			break;
		}
		if (len && !strncmp(sub[i].name, argv[0], len)) {
			hit = i;
			n++;
		}
	}
	if (n != 1)
		return out_usage(ctl, "vf", "vf: %s command '%s' (list, numvfs, set, bind, help)",
				 n ? "ambiguous" : "unknown", argv[0]);
	if (argc > 1 && !strcmp(argv[argc - 1], "help"))
		return vf_help();
	return sub[hit].fn(ctl, argc - 1, argv + 1);
}

/* ---- xdp ------------------------------------------------------------- */

int cmd_xdp(const struct sfcctl *ctl, int argc, char **argv)
{
	struct sfc_xdp_probe_opts o = { .sz = sizeof(o), .netns = ctl->netns };
	struct sfc_xdp_support s;
	struct sfc_diag d = {};
	const char *name, *err_text;
	struct sfc_json j;
	unsigned int b;
	int err;

	if (argc == 3 && !strcmp(argv[1], "probe")) {
		if (!strcmp(argv[2], "auto"))
			o.method = SFC_XDP_PROBE_AUTO;
		else if (!strcmp(argv[2], "netlink"))
			o.method = SFC_XDP_PROBE_NETLINK;
		else if (!strcmp(argv[2], "attach"))
			o.method = SFC_XDP_PROBE_ATTACH;
		else
			return out_usage(ctl, "xdp", "xdp: probe \"%s\" is not auto, "
					 "netlink or attach", argv[2]);
	} else if (argc != 1) {
		return out_usage(ctl, "xdp", "xdp: unexpected argument '%s' "
				 "(usage: sfcctl xdp IFNAME [probe auto|netlink|attach])",
				 argv[1]);
	}
	err = sfc_xdp__native_support(argv[0], &o, &s, &d);
	if (err)
		return lib_error(ctl, &d, err);
	err_text = s.attach_err ? strerror(-s.attach_err) : NULL;

	if (ctl->json) {
		out_json_init(ctl, &j);
		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "interface", argv[0]);
		sfc_json__ku64(&j, "ifindex", s.ifindex);
		sfc_json__kbool(&j, "native", s.native);
		sfc_json__kstr(&j, "method",
			       s.method == SFC_XDP_PROBE_NETLINK ? "netlink" : "attach");
		sfc_json__key(&j, "xdp_features");
		if (s.has_features) {
			sfc_json__arr_begin(&j);
			for (b = 0; (name = sfc_xdp_feature__str(b)); b++)
				if (s.features & (1ull << b))
					sfc_json__str(&j, name);
			sfc_json__arr_end(&j);
		} else {
			sfc_json__null(&j);
		}
		kstr_or_null(&j, "attach_error", err_text);
		kstr_or_null(&j, "attach_message", s.attach_msg);
		sfc_json__kstr(&j, "xdp_mode_auto", s.native ? "native" : "skb");
		sfc_json__obj_end(&j);
		return out_json_print(&j);
	}
	printf("%s: native XDP %s", argv[0], s.native ? "yes" : "no");
	if (s.has_features) {
		printf(" (xdp-features:");
		for (b = 0; (name = sfc_xdp_feature__str(b)); b++)
			if (s.features & (1ull << b))
				printf(" %s", name);
		printf("%s)\n", s.features ? "" : " none");
	} else {
		printf(" (trial attach in driver mode: %s%s%s)\n", err_text ? err_text : "attached",
		       s.attach_msg[0] ? ": " : "", s.attach_msg);
	}
	printf("xdpMode auto: %s\n", s.native ? "native (skb if the driver refuses the program)" :
	       "skb");
	return EXIT_OK;
}
