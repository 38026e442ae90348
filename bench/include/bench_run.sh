# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # root, build_dir: the caller's
#
# bench_run.sh - sourced by the run.sh of bench/flowmon and bench/lb: the
# root check, the build of the benchmark, and the report's lines on the
# machine. The caller sets $root (the repository) and $build_dir (absolute).

# bench_prepare TARGET: exits unless root; builds TARGET (configuring
# $build_dir first if it never was), its chatter on stderr.
bench_prepare() {
	if [ "$(id -u)" != 0 ]; then
		echo "run.sh: needs root (BPF_PROG_TEST_RUN, netns)" >&2
		exit 1
	fi
	if [ ! -f "$build_dir/CMakeCache.txt" ]; then
		BUILD_DIR=$build_dir bash "$root/scripts/build.sh" >&2
	fi
	cmake --build "$build_dir" --target "$1" >&2 || {
		echo "run.sh: cannot build $1 in $build_dir" >&2
		exit 1
	}
}

# bench_machine CPU: markdown list items naming the kernel, the CPU (and the
# one the benchmark is pinned to), clang, the commit and the date.
bench_machine() {
	echo "- kernel: $(uname -r)"
	echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), nproc $(nproc); pinned to CPU $1"
	echo "- clang: $(clang --version 2>/dev/null | head -n 1 || echo unknown)"
	echo "- sfc: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
}
