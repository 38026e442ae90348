// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <limits.h>
#include <bpf/bpf.h>

#include "internal.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/*
 * mkdir -p with mode 0700 whatever the umask: a folder made here is chmod'ed
 * after its mkdir, since the umask only takes bits away and could leave
 * 0500 or 0000. Folders that already exist are left as they are (the pin
 * root is checked by sfc_bpffs_ensure()).
 */
int sfc_mkdir_p(const char *path)
{
	char tmp[512], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700)) {
			if (errno != EEXIST)
				return -errno;
		} else if (chmod(tmp, 0700)) {
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(tmp, 0700))
		return errno == EEXIST ? 0 : -errno;
	return chmod(tmp, 0700) ? -errno : 0;
}

/*
 * True when /sys/fs/bpf here is another bpffs instance than the host's, as
 * under `ip netns exec`, which remounts /sys (and a bpffs) in a private
 * mount namespace: pins made there die with it, emptying the chain's program
 * arrays. A container that binds the host's bpffs shares its st_dev. When
 * init's mount namespace cannot be seen, only a bpffs already mounted is
 * trusted: sfc mounts one itself only where it is sure to be the host's.
 */
static bool private_bpffs(void)
{
	struct stat self, init;
	struct statfs fs;

	if (stat("/proc/self/ns/mnt", &self))
		return false;
	if (!stat("/proc/1/ns/mnt", &init) && self.st_ino == init.st_ino &&
	    self.st_dev == init.st_dev)
		return false;
	/* A private mount namespace: its /sys/fs/bpf must be the host's bpffs. */
	if (statfs("/sys/fs/bpf", &fs) || fs.f_type != BPF_FS_MAGIC)
		return true;
	if (stat("/sys/fs/bpf", &self) || stat("/proc/1/root/sys/fs/bpf", &init))
		return false;	/* cannot tell */
	return self.st_dev != init.st_dev;
}

/* Why root cannot be a pin root, from its spelling alone; NULL if it can. */
static const char *pin_root_spelling(const char *root)
{
	const char *p = root, *e;
	size_t l;

	if (root[0] != '/')
		return "is not an absolute path";
	while (*p) {
		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		l = e - p;
		if ((l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return "has a \".\" or \"..\" component";
		p = e;
	}
	return NULL;
}

/*
 * Every folder on the way to the pin root must be writable by root (or us)
 * alone, or sticky: else another user could rename the pin root away and
 * put a folder of theirs in its place. A bpffs mounted without a mode=
 * option is 1777, sticky: that is fine. Checked before sfc_mkdir_p() makes
 * the missing ones (0700), so that nothing is made under a folder that is
 * refused.
 */
static int check_ancestors(const char *root)
{
	char p[PATH_MAX];
	struct stat st;
	size_t i;

	if (snprintf(p, sizeof(p), "%s", root) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (i = strlen(p); i > 1 && p[i - 1] == '/'; i--)
		p[i - 1] = '\0';	/* "/x/" is "/x" */
	while (i-- > 0) {
		if (p[i] != '/')
			continue;
		p[i] = '\0';
		if (stat(i ? p : "/", &st)) {
			if (errno == ENOENT)
				continue;	/* sfc_mkdir_p() makes it 0700 */
			return -errno;
		}
		if ((st.st_uid && st.st_uid != geteuid()) ||
		    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
			sfc_log(SFC_LOG_ERROR, "pin root %s: %s (owner uid %u, mode %04o) can be "
				"changed by other users than root: refusing it", root, i ? p : "/",
				(unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
			return -EPERM;
		}
	}
	return 0;
}

/*
 * The pin root holds programs that every packet of an interface runs, and
 * maps that decide their verdicts: only root may reach into it.
 *
 * - A pin root another user owns is refused: whoever owns a folder can
 *   chmod it back and put pins or symlinks of theirs in it, now or later.
 * - One we own but that others can write (mkdir under umask 000, or a chmod)
 *   is repaired to 0700 with a warning, and then refused if anything in it
 *   belongs to another user (checked after the chmod, so that nothing can
 *   be added behind the check).
 * - Modes that are only too open for reading are made 0700 silently, as
 *   sfc always did.
 */
static int check_pin_root(const char *root)
{
	struct stat st, e;
	struct dirent *de;
	int err = 0, fd;
	DIR *d;

	if (lstat(root, &st))
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		sfc_log(SFC_LOG_ERROR, "pin root %s is a symlink: refusing it (name its target)",
			root);
		return -EPERM;
	}
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* From here on, the folder opened, whatever the path names now. */
	if (fstat(fd, &st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (st.st_uid != geteuid()) {
		sfc_log(SFC_LOG_ERROR, "pin root %s is owned by uid %u, not by %u: refusing it "
			"(another user could put pins of theirs in it; remove it with rm -r)",
			root, (unsigned int)st.st_uid, (unsigned int)geteuid());
		close(fd);
		return -EPERM;
	}
	/* Closed to others before its entries are looked at, so that none can
	 * be added behind the check. */
	if ((st.st_mode & 07777) != 0700) {
		if (st.st_mode & (S_IWGRP | S_IWOTH))
			sfc_log(SFC_LOG_WARN, "pin root %s had mode %04o (writable by other users): "
				"made it 0700", root, (unsigned int)(st.st_mode & 07777));
		if (fchmod(fd, 0700)) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(fd, de->d_name, &e, AT_SYMLINK_NOFOLLOW))
			continue;	/* removed meanwhile */
		if (e.st_uid != geteuid() ||
		    (S_ISDIR(e.st_mode) && (e.st_mode & (S_IWGRP | S_IWOTH)))) {
			sfc_log(SFC_LOG_ERROR, "pin root %s: %s is owned by uid %u, mode %04o: "
				"refusing the pin root (only root may write under it; remove it)",
				root, de->d_name, (unsigned int)e.st_uid,
				(unsigned int)(e.st_mode & 07777));
			err = -EPERM;
			break;
		}
	}
	closedir(d);
	return err;
}

/*
 * Make sure root lives on a bpffs, and that only root can write into it
 * (check_pin_root()). The default root's /sys/fs/bpf is mounted when it is
 * not; any other root must already be on one. Interfaces of another netns
 * are reached with -n, never from a private mount.
 */
int sfc_bpffs_ensure(const char *root)
{
	struct statfs st;
	const char *why;
	int err;

	why = pin_root_spelling(root);
	if (why) {
		sfc_log(SFC_LOG_ERROR, "pin root \"%s\" %s", root, why);
		return -EINVAL;
	}
	if (strncmp(root, "/sys/fs/bpf", 11) == 0 && private_bpffs())
		return -ENOTSUP;
	if (strncmp(root, "/sys/fs/bpf", 11) == 0 &&
	    (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC)) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			err = -errno;
			sfc_log(SFC_LOG_ERROR, "cannot mount bpffs on /sys/fs/bpf: %s", strerror(errno));
			return err;
		}
		sfc_log(SFC_LOG_INFO, "mounted bpffs on /sys/fs/bpf");
	}
	err = check_ancestors(root);
	if (err)
		return err;
	err = sfc_mkdir_p(root);
	if (err)
		return err;
	if (statfs(root, &st))
		return -errno;
	if (st.f_type != BPF_FS_MAGIC)
		return -ENOTSUP;
	return check_pin_root(root);
}

/*
 * root/chain[/rel]. chain comes from a user (a chain file, a command line,
 * a folder name): it must be a chain name, so that it names one folder
 * right under the root (no '/', no "..").
 */
int sfc_pin_path(char *buf, size_t len, const char *root, const char *chain, const char *rel)
{
	int n;

	if (!sfc_name_valid(chain))
		return -EINVAL;
	if (rel && *rel)
		n = snprintf(buf, len, "%s/%s/%s", root, chain, rel);
	else
		n = snprintf(buf, len, "%s/%s", root, chain);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int sfc_rm_tree(const char *path)
{
	char sub[512];
	struct dirent *de;
	struct stat st;
	int err = 0;
	DIR *d;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) ? -errno : 0;
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub)) {
			err = -ENAMETOOLONG;
			continue;
		}
		if (sfc_rm_tree(sub) && !err)
			err = -errno;
	}
	closedir(d);
	if (rmdir(path) && !err)
		err = -errno;
	return err;
}

/* FNV-1a, 64 bit: change detection, not security. */
uint64_t sfc_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool sfc_netns_name_valid(const char *name)
{
	size_t l = name ? strnlen(name, NAME_MAX + 1) : 0;

	/* iproute2's rule (one file in /run/netns), and what info.netns holds */
	return l && l < sizeof(((struct sfc_chain_info *)0)->netns) && !strchr(name, '/') &&
	       strcmp(name, ".") && strcmp(name, "..");
}

int sfc_netns_enter(const char *name, int *saved)
{
	char path[128];
	int fd, err;

	*saved = -1;
	if (!name || !*name)
		return 0;
	if (!sfc_netns_name_valid(name) ||
	    snprintf(path, sizeof(path), "/run/netns/%s", name) >= (int)sizeof(path))
		return -EINVAL;
	*saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return -errno;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		close(*saved);
		*saved = -1;
		return err;
	}
	err = setns(fd, CLONE_NEWNET) ? -errno : 0;
	close(fd);
	if (err) {
		close(*saved);
		*saved = -1;
	}
	return err;
}

void sfc_netns_leave(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET))
		sfc_log(SFC_LOG_ERROR, "cannot return to the original netns: %s", strerror(errno));
	close(saved);
}

/* ---- the spec pin: canonical JSON in 64 KiB chunks ---- */

int sfc_spec_write(const char *dir, const char *json)
{
	LIBBPF_OPTS(bpf_map_create_opts, o);
	struct bpf_map_info info = {};
	size_t len = strlen(json) + 1, off;
	__u32 n = (len + SFC_SPEC_CHUNK - 1) / SFC_SPEC_CHUNK, ilen = sizeof(info), key;
	char p[PATH_MAX], tmp[PATH_MAX + 8], *chunk;
	int fd, err = 0;
	bool fresh = false;

	if (snprintf(p, sizeof(p), "%s/spec", dir) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	/* bpffs refuses dots in names */
	snprintf(tmp, sizeof(tmp), "%s_new", p);
	fd = bpf_obj_get(p);
	if (fd >= 0 && (bpf_obj_get_info_by_fd(fd, &info, &ilen) ||
			info.value_size != SFC_SPEC_CHUNK || info.max_entries < n)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		/* Too small (or missing): a new map, pinned over the old one. */
		fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sfc_spec", 4, SFC_SPEC_CHUNK, n, &o);
		if (fd < 0)
			return -errno;
		fresh = true;
	}
	chunk = calloc(1, SFC_SPEC_CHUNK);
	if (!chunk) {
		err = -ENOMEM;
		goto out;
	}
	for (key = 0, off = 0; off < len && !err; key++, off += SFC_SPEC_CHUNK) {
		memset(chunk, 0, SFC_SPEC_CHUNK);
		memcpy(chunk, json + off, len - off < SFC_SPEC_CHUNK ? len - off : SFC_SPEC_CHUNK);
		err = bpf_map_update_elem(fd, &key, chunk, BPF_ANY) ? -errno : 0;
	}
	free(chunk);
	if (err || !fresh)
		goto out;
	unlink(tmp);
	err = bpf_obj_pin(fd, tmp) ? -errno : 0;
	if (!err && rename(tmp, p))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	close(fd);
	return err;
}

char *sfc_spec_read(const char *dir)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info), key;
	char p[PATH_MAX], *buf = NULL;
	size_t size;
	int fd;

	snprintf(p, sizeof(p), "%s/spec", dir);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return NULL;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) || !info.value_size || !info.max_entries)
		goto out;
	size = (size_t)info.value_size * info.max_entries;
	buf = calloc(1, size + 1);
	for (key = 0; buf && key < info.max_entries; key++) {
		if (bpf_map_lookup_elem(fd, &key, buf + (size_t)key * info.value_size)) {
			free(buf);
			buf = NULL;
			break;
		}
		if (memchr(buf + (size_t)key * info.value_size, '\0', info.value_size))
			break;
	}
out:
	close(fd);
	return buf;
}

int sfc_pin_get(const char *dir, const char *name)
{
	char p[PATH_MAX];
	int fd;

	if (snprintf(p, sizeof(p), "%s/%s", dir, name) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(p);
	return fd < 0 ? -errno : fd;
}
