#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# setup.sh [--check] - make this Debian host able to build and test sfc.
#
# Installs the Debian packages that are missing (nothing else; apt-get update
# runs only when something has to be installed) and mounts bpffs at
# /sys/fs/bpf. Safe to run any number of times.
#
#   --check   list what is missing and exit 1 if anything is; change nothing
#
# Exit status: 0 ready, 1 something missing or failed, 2 usage.
set -euo pipefail

# build: compilers, cmake, the BPF toolchain (clang -target bpf, bpftool for
# vmlinux.h and skeletons) and the libraries sfcctl links.
BUILD_PKGS=(cmake make gcc clang llvm pkg-config libbpf-dev libxdp-dev bpftool
	libelf-dev zlib1g-dev libyaml-dev)
# run/test: ip/netns/veth (iproute2), nsenter (util-linux), ping, ethtool for the
# veth offload settings of scripts/lab.sh, traffic and capture tools, xdp-tools
# for inspecting attachments by hand, valgrind for the unit tests, nginx-light
# for the load balancer test's backends; wrk, haproxy, sysstat (mpstat),
# softflowd, nftables, conntrack and python3-matplotlib for bench/evnf; the
# guest image (vm-images/, tests/vm): mmdebstrap, e2fsprogs (mkfs.ext4 -d),
# dosfstools, mtools, syslinux and fdisk for the disk, qemu to convert and boot.
RUN_PKGS=(iproute2 util-linux iputils-ping ethtool iperf3 tcpdump xdp-tools valgrind python3 groff-base
	iptables ipset nfdump prometheus libvirt-clients nginx-light
	wrk haproxy sysstat softflowd nftables conntrack python3-matplotlib
	mmdebstrap e2fsprogs dosfstools mtools syslinux syslinux-common fdisk qemu-utils qemu-system-x86)
RUN_PKGS+=(strace)	# syscall fault injection: tests/integration/test_apply_faults.sh

BPFFS=/sys/fs/bpf
VMLINUX_BTF=/sys/kernel/btf/vmlinux

prog=${0##*/}
msg() { printf '%s: %s\n' "$prog" "$*"; }
err() { printf '%s: error: %s\n' "$prog" "$*" >&2; }
usage() {
	printf 'usage: %s [--check]\n' "$prog" >&2
	exit 2
}

check_only=0
while [ $# -gt 0 ]; do
	case $1 in
	--check) check_only=1 ;;
	-h | --help)
		sed -n '4,13s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) usage ;;
	esac
	shift
done

if ! command -v dpkg-query >/dev/null 2>&1; then
	err "dpkg-query not found: this script supports Debian (12 bookworm) and derivatives only"
	exit 1
fi

pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${BUILD_PKGS[@]}" "${RUN_PKGS[@]}"; do
	pkg_installed "$p" || missing+=("$p")
done

bpffs_mounted() {
	[ "$(stat -f -c %T "$BPFFS" 2>/dev/null)" = bpf_fs ]
}

if [ "$check_only" = 1 ]; then
	rc=0
	if [ ${#missing[@]} -gt 0 ]; then
		msg "missing packages: ${missing[*]}"
		rc=1
	else
		msg "all packages installed"
	fi
	if bpffs_mounted; then
		msg "bpffs mounted at $BPFFS"
	else
		msg "bpffs not mounted at $BPFFS"
		rc=1
	fi
	# Not fixable here, but the build needs it for vmlinux.h: say so early.
	if [ ! -r "$VMLINUX_BTF" ]; then
		msg "kernel BTF $VMLINUX_BTF not readable (kernel without CONFIG_DEBUG_INFO_BTF?)"
		rc=1
	fi
	exit $rc
fi

if [ ${#missing[@]} -gt 0 ]; then
	msg "installing: ${missing[*]}"
	if [ "$(id -u)" != 0 ]; then
		err "must be root to install packages (or install them yourself: apt-get install ${missing[*]})"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	# No stdin in CI; wait for a concurrent apt/dpkg instead of failing on its lock.
	apt_opts=(-q -y -o DPkg::Lock::Timeout=300 --no-install-recommends)
	if ! apt-get "${apt_opts[@]}" update </dev/null; then
		err "apt-get update failed"
		exit 1
	fi
	if ! apt-get "${apt_opts[@]}" install "${missing[@]}" </dev/null; then
		err "apt-get install failed for: ${missing[*]}"
		exit 1
	fi
	still=()
	for p in "${missing[@]}"; do
		pkg_installed "$p" || still+=("$p")
	done
	if [ ${#still[@]} -gt 0 ]; then
		err "still not installed: ${still[*]}"
		exit 1
	fi
	msg "packages installed"
	# Debian starts nginx on port 80 of the host when it installs it. The
	# tests start their own, one per backend namespace: stop the host's
	# and keep it from coming back at boot (only when installed here).
	if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
		if [ -d /run/systemd/system ]; then
			systemctl disable --now nginx.service >/dev/null 2>&1 || true
		else
			invoke-rc.d nginx stop >/dev/null 2>&1 || true
			update-rc.d nginx disable >/dev/null 2>&1 || true
		fi
		msg "host nginx stopped and disabled (the tests run their own)"
	fi
fi

# Pinned chains live in bpffs; the BPF and integration tests need it, the build
# does not. Without root there is nothing we can do, and the tests that need it
# skip and say why, so only warn then.
if ! bpffs_mounted; then
	if [ "$(id -u)" != 0 ]; then
		msg "warning: bpffs not mounted at $BPFFS and not root to mount it; BPF tests will skip"
	else
		mkdir -p "$BPFFS"
		if ! mount -t bpf bpf "$BPFFS"; then
			err "cannot mount bpffs at $BPFFS"
			exit 1
		fi
		msg "mounted bpffs at $BPFFS"
	fi
fi

if [ ! -r "$VMLINUX_BTF" ]; then
	err "kernel BTF $VMLINUX_BTF not readable: the BPF objects are built against it (kernel needs CONFIG_DEBUG_INFO_BTF=y)"
	exit 1
fi

msg "ready: ${#BUILD_PKGS[@]} build and ${#RUN_PKGS[@]} run/test packages installed, bpffs at $BPFFS"
