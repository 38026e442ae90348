/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* libsfc internals of sriov.c and xdp_probe.c. */
#ifndef SFC_SRIOV_H
#define SFC_SRIOV_H

#include <stddef.h>
#include <sys/types.h>
#include <linux/types.h>

/*
 * Test seam: when set, called after each sysfs write sriov.c makes, with
 * the path and the bytes written; what it returns (0 or -errno) becomes the
 * write's result. On a fake tree, tests/unit/test_sriov.c plays the kernel
 * with it: it logs the writes and makes the links a bind would change.
 */
typedef int (*sfc_sysfs_hook_fn)(const char *path, const char *value, void *ctx);
void sfc_sysfs_set_hook(sfc_sysfs_hook_fn fn, void *ctx);

/* Test seam: where the vfio devices are looked for (NULL: "/dev"). */
void sfc_sriov_set_dev_root(const char *dir);

/*
 * For each of paths, a process that holds it open, found through
 * proc_root/<pid>/fd in one walk: pids[i] is its pid, 0 when none does
 * (processes whose fds this one may not read are not seen). Returns how
 * many of paths are held, or -errno.
 */
int sfc_proc_holders(const char *proc_root, const char *const *paths, size_t n_paths, pid_t *pids);

/*
 * The xdp-features of ifindex (in the current netns) from the netdev
 * generic netlink family. -ENOENT: the kernel has no such family (before
 * 6.3) or sent no xdp-features.
 */
int sfc_xdp_features_get(int ifindex, __u64 *features);

#endif
