#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build.sh [CMAKE_ARGS...] - configure and build sfc with cmake.
#
# Runs scripts/setup.sh first (installs missing packages, mounts bpffs), then
# builds into $BUILD_DIR (default ./build, relative to the repository root).
# Extra arguments go to the cmake configure step, e.g.
#   scripts/build.sh -DCMAKE_BUILD_TYPE=Debug
#
# Environment: BUILD_DIR, JOBS (parallel build jobs, default nproc),
# SFC_SKIP_SETUP=1 to skip setup.sh (scripts/test.sh sets it after running it).
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

if [ "${SFC_SKIP_SETUP:-0}" != 1 ]; then
	bash "$root/scripts/setup.sh"
fi

echo "build.sh: configuring $build_dir"
cmake -S "$root" -B "$build_dir" "$@" || { echo "build.sh: cmake configure failed" >&2; exit 1; }
echo "build.sh: building with $jobs jobs"
cmake --build "$build_dir" --parallel "$jobs" || { echo "build.sh: build failed" >&2; exit 1; }
echo "build.sh: built in $build_dir"
