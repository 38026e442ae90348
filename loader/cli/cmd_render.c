// SPDX-License-Identifier: GPL-2.0
/*
 * sfcctl render libvirt: the libvirt domain XML of an NFV guest, with its
 * VFs passed through as <interface type='hostdev'> (docs/sriov.md).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_VFS 32

const char render_help_text[] =
	"  render libvirt name NAME image PATH [format qcow2|raw]\n"
	"      [kernel PATH [initrd PATH] [cmdline TEXT]] [seed ISO]\n"
	"      [vf VF[,mac=MAC][,vlan=ID][,managed=no]]... [network NAME]\n"
	"      [memory MIB] [vcpus N] [machine TYPE] [type kvm|qemu]\n"
	"\n"
	"Print the libvirt domain XML of an x86_64 NFV guest (virsh define FILE):\n"
	"\n"
	"  name NAME      the domain's name (letters, digits, '.', '_', '-')\n"
	"  image PATH     the guest's disk, virtio vda (format: qcow2 by default)\n"
	"  kernel PATH    boot this kernel directly (with initrd and cmdline);\n"
	"                 without it the guest boots from the disk\n"
	"  seed ISO       the cloud-init seed (NoCloud), as a read-only CD-ROM\n"
	"  vf VF          a VF passed through to the guest, <interface type='hostdev'\n"
	"                 managed='yes'>: PF:INDEX (enp3s0f0:2, 0000:03:00.0:2),\n"
	"                 looked up in sysfs, or the VF's PCI address; mac= and\n"
	"                 vlan= are set by libvirt on the PF when the guest starts;\n"
	"                 managed=no leaves binding vfio-pci to you (sfcctl vf bind)\n"
	"  network NAME   a virtio NIC on libvirt network NAME (management)\n"
	"  memory MIB     default 2048; vcpus N: default 2\n"
	"  machine TYPE   default q35; type: kvm (default) or qemu (no KVM)\n"
	"\n"
	"Relative paths are made absolute. sysfs is read under $SFC_SYSFS_ROOT\n"
	"(default /sys). See docs/sriov.md.\n";

struct vf_req {
	char pci[SFC_PCI_ADDR_LEN];
	bool has_mac;
	uint8_t mac[6];
	unsigned int vlan;		/* 0: none */
	bool managed;
};

struct domain {
	const char *name, *image, *format, *kernel, *initrd, *cmdline, *seed, *network;
	const char *machine, *type;
	unsigned long memory, vcpus;
	unsigned int n_vfs;
	struct vf_req vfs[MAX_VFS];
	char *abs[5];			/* image, kernel, initrd, seed made absolute */
};

static const char *sysfs_root(void)
{
	const char *r = getenv("SFC_SYSFS_ROOT");

	return r && r[0] ? r : "/sys";
}

static bool name_ok(const char *s)
{
	size_t i, len = strlen(s);

	if (!len || len > 64 || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return false;
	return true;
}

static bool parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return !*end && !errno && *v >= min && *v <= max;
}

static int usage(const struct sfcctl *ctl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A usage error of render, prefixed "render: ". */
static int usage(const struct sfcctl *ctl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return out_usage(ctl, "render", "render: %s", msg);
}

/* "0000:03:01.2" or "03:01.2" (domain 0), lower case. */
static bool pci_addr(const char *s, size_t len, char out[SFC_PCI_ADDR_LEN])
{
	char tmp[SFC_PCI_ADDR_LEN];
	size_t i;

	if (len == 7)
		snprintf(tmp, sizeof(tmp), "0000:%.7s", s);
	else if (len == 12)
		snprintf(tmp, sizeof(tmp), "%.12s", s);
	else
		return false;
	for (i = 0; i < 12; i++) {
		if (i == 4 || i == 7) {
			if (tmp[i] != ':')
				return false;
		} else if (i == 10) {
			if (tmp[i] != '.')
				return false;
		} else if (!isxdigit((unsigned char)tmp[i])) {
			return false;
		}
	}
	if (tmp[11] > '7')
		return false;
	for (i = 0; i < sizeof(tmp); i++)
		out[i] = tolower((unsigned char)tmp[i]);
	return true;
}

/* vf VF[,mac=..][,vlan=..][,managed=no]: usage errors return EXIT_USAGE. */
static int parse_vf(const struct sfcctl *ctl, const char *spec, struct vf_req *v)
{
	char buf[256], *opt, *save = NULL, *colon;
	struct sfc_sriov_vf vf;
	struct sfc_diag d = {};
	unsigned long n;
	size_t len;
	int err;

	memset(v, 0, sizeof(*v));
	v->managed = true;
	if (snprintf(buf, sizeof(buf), "%s", spec) >= (int)sizeof(buf))
		return usage(ctl, "vf \"%s\" is too long", spec);
	len = strcspn(buf, ",");
	opt = buf[len] ? strtok_r(buf + len + 1, ",", &save) : NULL;
	buf[len] = '\0';
	for (; opt; opt = strtok_r(NULL, ",", &save)) {
		if (!strncmp(opt, "mac=", 4)) {
			if (!cli_parse_mac(opt + 4, v->mac) || (v->mac[0] & 1))
				return usage(ctl, "vf %s: mac \"%s\" is not a unicast MAC address",
					     spec, opt + 4);
			v->has_mac = true;
		} else if (!strncmp(opt, "vlan=", 5)) {
			if (!parse_ulong(opt + 5, 0, 4095, &n))
				return usage(ctl, "vf %s: vlan \"%s\" is not a VLAN id 0..4095",
					     spec, opt + 5);
			v->vlan = n;
		} else if (!strcmp(opt, "managed=no") || !strcmp(opt, "managed=yes")) {
			v->managed = opt[8] == 'y';
		} else {
			return usage(ctl, "vf %s: unknown option \"%s\" (mac=, vlan=, managed=)",
				     spec, opt);
		}
	}
	if (pci_addr(buf, len, v->pci))
		return EXIT_OK;
	colon = strrchr(buf, ':');
	if (!colon || colon == buf || !colon[1])
		return usage(ctl, "vf \"%s\" is neither PF:INDEX nor a PCI address", buf);
	*colon = '\0';
	err = sfc_sriov__vf(sysfs_root(), buf, colon + 1, &vf, &d);
	if (err)
		return out_error(ctl, "render: vf %s:%s: %s", buf, colon + 1,
				 d.msg[0] ? d.msg : strerror(-err));
	snprintf(v->pci, sizeof(v->pci), "%s", vf.pci);
	return EXIT_OK;
}

/* path, or cwd/path when relative; *keep owns what was allocated. */
static const char *absolute(const char *path, char **keep)
{
	char cwd[PATH_MAX];
	size_t len;

	if (!path || path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return path;
	len = strlen(cwd) + 1 + strlen(path) + 1;
	*keep = malloc(len);
	if (!*keep)
		return path;
	snprintf(*keep, len, "%s/%s", cwd, path);
	return *keep;
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '\'':
			fputs("&apos;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

/* indent, <tag>text</tag>, newline */
static void xml_elem(FILE *f, const char *indent, const char *tag, const char *text)
{
	fprintf(f, "%s<%s>", indent, tag);
	xml_text(f, text);
	fprintf(f, "</%s>\n", tag);
}

static void render_vf(FILE *f, const struct vf_req *v)
{
	const char *p = v->pci;	/* dddd:bb:ss.f */

	fprintf(f, "    <interface type='hostdev' managed='%s'>\n", v->managed ? "yes" : "no");
	if (v->has_mac)
		fprintf(f, "      <mac address='%02x:%02x:%02x:%02x:%02x:%02x'/>\n", v->mac[0],
			v->mac[1], v->mac[2], v->mac[3], v->mac[4], v->mac[5]);
	fprintf(f, "      <source>\n");
	fprintf(f, "        <address type='pci' domain='0x%.4s' bus='0x%.2s' slot='0x%.2s' "
		"function='0x%c'/>\n", p, p + 5, p + 8, p[11]);
	fprintf(f, "      </source>\n");
	if (v->vlan)
		fprintf(f, "      <vlan>\n        <tag id='%u'/>\n      </vlan>\n", v->vlan);
	fprintf(f, "    </interface>\n");
}

static void render(FILE *f, const struct domain *dm)
{
	bool q35 = strstr(dm->machine, "q35");
	unsigned int i;

	fprintf(f, "<domain type='%s'>\n", dm->type);
	xml_elem(f, "  ", "name", dm->name);
	fprintf(f, "  <memory unit='MiB'>%lu</memory>\n", dm->memory);
	fprintf(f, "  <vcpu placement='static'>%lu</vcpu>\n", dm->vcpus);
	fprintf(f, "  <os>\n    <type arch='x86_64' machine='");
	xml_text(f, dm->machine);
	fprintf(f, "'>hvm</type>\n");
	if (dm->kernel) {
		xml_elem(f, "    ", "kernel", dm->kernel);
		if (dm->initrd)
			xml_elem(f, "    ", "initrd", dm->initrd);
		if (dm->cmdline)
			xml_elem(f, "    ", "cmdline", dm->cmdline);
	} else {
		fprintf(f, "    <boot dev='hd'/>\n");
	}
	fprintf(f, "  </os>\n");
	fprintf(f, "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n");
	/* The guest's XDP wants the host CPU's features; migration is out anyway with VFs. */
	fprintf(f, "  <cpu mode='host-passthrough'/>\n");
	fprintf(f, "  <on_poweroff>destroy</on_poweroff>\n");
	fprintf(f, "  <on_reboot>restart</on_reboot>\n");
	fprintf(f, "  <on_crash>destroy</on_crash>\n");
	fprintf(f, "  <devices>\n");
	fprintf(f, "    <disk type='file' device='disk'>\n");
	fprintf(f, "      <driver name='qemu' type='%s'/>\n", dm->format);
	fprintf(f, "      <source file='");
	xml_text(f, dm->image);
	fprintf(f, "'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n");
	if (dm->seed) {
		fprintf(f, "    <disk type='file' device='cdrom'>\n");
		fprintf(f, "      <driver name='qemu' type='raw'/>\n");
		fprintf(f, "      <source file='");
		xml_text(f, dm->seed);
		fprintf(f, "'/>\n      <target dev='%s' bus='%s'/>\n", q35 ? "sda" : "hdc",
			q35 ? "sata" : "ide");
		fprintf(f, "      <readonly/>\n    </disk>\n");
	}
	if (dm->network) {
		fprintf(f, "    <interface type='network'>\n      <source network='");
		xml_text(f, dm->network);
		fprintf(f, "'/>\n      <model type='virtio'/>\n    </interface>\n");
	}
	for (i = 0; i < dm->n_vfs; i++)
		render_vf(f, &dm->vfs[i]);
	fprintf(f, "    <serial type='pty'>\n      <target port='0'/>\n    </serial>\n");
	fprintf(f, "    <console type='pty'>\n      <target type='serial' port='0'/>\n"
		"    </console>\n");
	fprintf(f, "  </devices>\n</domain>\n");
}

/* keyword VALUE, each once (vf: any number); returns EXIT_* */
static int parse(const struct sfcctl *ctl, int argc, char **argv, struct domain *dm)
{
	const struct {
		const char *kw;
		const char **str;		/* a string, or */
		unsigned long *num, min, max;	/* a number min..max */
	} keys[] = {
		{ "name", &dm->name }, { "image", &dm->image }, { "format", &dm->format },
		{ "kernel", &dm->kernel }, { "initrd", &dm->initrd }, { "cmdline", &dm->cmdline },
		{ "seed", &dm->seed }, { "network", &dm->network }, { "machine", &dm->machine },
		{ "type", &dm->type },
		{ "memory", NULL, &dm->memory, 128, 16777216 },
		{ "vcpus", NULL, &dm->vcpus, 1, 4096 },
	};
	bool seen[sizeof(keys) / sizeof(keys[0])] = {};
	unsigned int k, n_keys = sizeof(keys) / sizeof(keys[0]);
	int i, ret;

	for (i = 0; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage(ctl, "%s needs a value", argv[i]);
		if (!strcmp(argv[i], "vf")) {
			if (dm->n_vfs == MAX_VFS)
				return usage(ctl, "at most %d VFs", MAX_VFS);
			ret = parse_vf(ctl, argv[i + 1], &dm->vfs[dm->n_vfs]);
			if (ret)
				return ret;
			dm->n_vfs++;
			continue;
		}
		for (k = 0; k < n_keys; k++)
			if (!strcmp(argv[i], keys[k].kw))
				break;
		if (k == n_keys)
			return usage(ctl, "unknown keyword '%s'", argv[i]);
		if (seen[k])
			return usage(ctl, "%s given twice", keys[k].kw);
		seen[k] = true;
		if (keys[k].str)
			*keys[k].str = argv[i + 1];
		else if (!parse_ulong(argv[i + 1], keys[k].min, keys[k].max, keys[k].num))
			return usage(ctl, "%s \"%s\" is not a number %lu..%lu", keys[k].kw,
				     argv[i + 1], keys[k].min, keys[k].max);
	}
	if (!dm->name || !dm->image)
		return usage(ctl, "name and image are required");
	if (!name_ok(dm->name))
		return usage(ctl, "name \"%s\" is not 1..64 letters, digits, '.', '_' or '-' "
			     "(not starting with '.' or '-')", dm->name);
	if (strcmp(dm->format, "qcow2") && strcmp(dm->format, "raw"))
		return usage(ctl, "format \"%s\" is not qcow2 or raw", dm->format);
	if (strcmp(dm->type, "kvm") && strcmp(dm->type, "qemu"))
		return usage(ctl, "type \"%s\" is not kvm or qemu", dm->type);
	if (!name_ok(dm->machine))
		return usage(ctl, "machine \"%s\" is not a machine type", dm->machine);
	if (dm->network && !name_ok(dm->network))
		return usage(ctl, "network \"%s\" is not a network name", dm->network);
	if (!dm->kernel && (dm->initrd || dm->cmdline))
		return usage(ctl, "%s needs kernel (direct kernel boot)",
			     dm->initrd ? "initrd" : "cmdline");
	for (i = 0; i + 1 < (int)dm->n_vfs; i++)
		for (k = i + 1; k < dm->n_vfs; k++)
			if (!strcmp(dm->vfs[i].pci, dm->vfs[k].pci))
				return usage(ctl, "VF %s given twice", dm->vfs[i].pci);
	return EXIT_OK;
}

int cmd_render(const struct sfcctl *ctl, int argc, char **argv)
{
	struct domain dm = {
		.format = "qcow2", .machine = "q35", .type = "kvm", .memory = 2048, .vcpus = 2,
	};
	struct sfc_json j;
	char *xml = NULL;
	size_t len = 0;
	FILE *f;
	int ret, i;

	if (argc == 0)
		return usage(ctl, "missing target (usage: sfcctl render libvirt name NAME "
			     "image PATH ...)");
	/* help in a keyword's place (not as a value: name help is a name) */
	if (!strcmp(argv[0], "help") || (argc % 2 == 0 && !strcmp(argv[argc - 1], "help"))) {
		printf("Usage: sfcctl [OPTIONS] render libvirt KEYWORDS\n\n%s", render_help_text);
		return EXIT_OK;
	}
	if (ctl->netns)
		return usage(ctl, "-n does not apply: the VFs are on the host");
	if (strcmp(argv[0], "libvirt"))
		return usage(ctl, "unknown target '%s' (libvirt)", argv[0]);
	ret = parse(ctl, argc - 1, argv + 1, &dm);
	if (ret)
		return ret;
	dm.image = absolute(dm.image, &dm.abs[0]);
	dm.kernel = absolute(dm.kernel, &dm.abs[1]);
	dm.initrd = absolute(dm.initrd, &dm.abs[2]);
	dm.seed = absolute(dm.seed, &dm.abs[3]);

	f = open_memstream(&xml, &len);
	if (!f) {
		ret = out_error(ctl, "render: %s", strerror(errno));
		goto out;
	}
	render(f, &dm);
	if (fclose(f) || !xml) {
		ret = out_error(ctl, "render: %s", strerror(ENOMEM));
		goto out;
	}
	if (ctl->json) {
		out_json_init(ctl, &j);
		sfc_json__obj_begin(&j);
		sfc_json__kstr(&j, "name", dm.name);
		sfc_json__kstr(&j, "xml", xml);
		sfc_json__obj_end(&j);
		ret = out_json_print(&j);
	} else {
		fputs(xml, stdout);
		ret = ferror(stdout) ? EXIT_FAIL : EXIT_OK;
	}
out:
	free(xml);
	for (i = 0; i < 5; i++)
		free(dm.abs[i]);
	return ret;
}
