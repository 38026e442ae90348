#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The vm_image test: vm-images/build.sh for this build directory, so that the
# guest image is in the cache before test_vm_guest.sh boots it (a fixture of
# ctest's, with a budget of its own: the first build on a machine downloads
# and installs Debian; the next ones take seconds, or nothing at all when
# nothing changed). SFC_VM_CACHE is passed on; SFC_VM_KERNEL (bookworm, the
# default, or backports) picks the guest's kernel, as build.sh --kernel does.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${SFC_SRC_DIR:-$(cd "$here/../.." && pwd)}
build=${SFC_BUILD_DIR:-$src/build}

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (uid is $(id -u)): mmdebstrap --mode=root builds the guest's tree"
	exit 77
fi
t0=$SECONDS
if img=$(bash "$src/vm-images/build.sh" --build-dir "$build" --kernel "${SFC_VM_KERNEL:-bookworm}"); then
	echo "ok - guest image $img ($((SECONDS - t0)) s)"
	echo "1 passed, 0 failed"
	exit 0
fi
echo "FAIL - vm-images/build.sh --build-dir $build --kernel ${SFC_VM_KERNEL:-bookworm} ($((SECONDS - t0)) s)"
echo "0 passed, 1 failed"
exit 1
