/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The private network namespace a function's BPF test runs in: veth ta <->
 * tap, both up, IPv6 off so that the kernel sends nothing on them (no ND, no
 * MLD) and the function's counters see only the test's packets. The test
 * process enters it; it SKIPs (exit 77) when it cannot.
 */
#ifndef SFC_TESTNS_H
#define SFC_TESTNS_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../testlib.h"

static void testns_enter(const char *ns)
{
	char cmd[512], p[64];
	int fd;

	snprintf(cmd, sizeof(cmd),
		 "ip netns add %s && "
		 "ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 && "
		 "ip netns exec %s sysctl -qw net.ipv6.conf.default.disable_ipv6=1 && "
		 "ip -n %s link add ta type veth peer tap && "
		 "ip -n %s link set ta up && ip -n %s link set tap up", ns, ns, ns, ns, ns, ns);
	if (system(cmd))
		TEST_SKIP("cannot create a netns with a veth pair");
	snprintf(p, sizeof(p), "/run/netns/%s", ns);
	fd = open(p, O_RDONLY);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		TEST_SKIP("cannot enter netns %s", ns);
	close(fd);
}

#endif
