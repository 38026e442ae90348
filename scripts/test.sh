#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test.sh [CTEST_ARGS...] - the test command: setup, build, run every suite.
#
# Runs scripts/setup.sh, builds with scripts/build.sh into $BUILD_DIR (default
# ./build), then `ctest --output-on-failure` there: unit, bpf and integration
# suites. Extra arguments go to ctest, e.g. `scripts/test.sh -L integration`
# or `scripts/test.sh -R integration_lab`.
#
# Tests that lack a privilege (root, bpffs, netns) report SKIP, which ctest
# counts as skipped, not failed; CI runs as root so that nothing skips there.
#
# Exit status: ctest's (0 all passed), or the failing setup/build step's.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export BUILD_DIR=$build_dir

bash "$root/scripts/setup.sh"
SFC_SKIP_SETUP=1 bash "$root/scripts/build.sh"

log=$build_dir/ctest.log
echo "test.sh: running ctest in $build_dir (log: $log)"
set +e
(cd "$build_dir" && ctest --output-on-failure --parallel "${JOBS:-$(nproc 2>/dev/null || echo 2)}" "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# CI runs as root with BPF and netns: a skipped suite there is a failure.
if [ "${CI:-}" = true ] && grep -q '(Skipped)' "$log"; then
	echo "test.sh: CI=true and some tests were skipped (see above): treating that as a failure"
	grep '(Skipped)' "$log" || true
	[ "$rc" != 0 ] || rc=1
fi

# ctest's own summary scrolls away behind --output-on-failure; repeat it last.
summary=$(grep -E '^[0-9]+% tests passed' "$log" | tail -n 1 || true)
echo "test.sh: ${summary:-no ctest summary (ctest exited $rc)}"
exit "$rc"
