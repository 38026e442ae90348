#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run-handoff.sh [bench_handoff OPTIONS] - the hand-off micro-benchmark of
# docs/handoff.md: builds bench_handoff if needed, prints the machine and
# the tables (markdown) on stdout, build chatter on stderr. Needs root.
#
# Environment: BUILD_DIR (default ./build, relative to the repository root;
# configured with scripts/build.sh if it is not yet).
# Options go to bench_handoff, e.g. -r 9 (samples), -n 1000000 (repeat),
# -s 100000 (single runs per sample), -c 1 (CPU); see bench_handoff -h.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${BUILD_DIR:-build}
case $build_dir in
/*) ;;
*) build_dir=$root/$build_dir ;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "run-handoff.sh: needs root (BPF_PROG_TEST_RUN)" >&2
	exit 1
fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
	BUILD_DIR=$build_dir bash "$root/scripts/build.sh" >&2
fi
cmake --build "$build_dir" --target bench_handoff >&2 || {
	echo "run-handoff.sh: cannot build bench_handoff in $build_dir" \
		"(is add_subdirectory(bench) in the top CMakeLists.txt?)" >&2
	exit 1
}

echo "## Machine"
echo
echo "- kernel: $(uname -r)"
echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), nproc $(nproc)"
echo "- clang: $(clang --version 2>/dev/null | head -n 1 || echo unknown)"
echo "- sfc: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo
exec "$build_dir/bench/micro/bench_handoff" "$@"
