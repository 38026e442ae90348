#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - the flow monitor benchmark of docs/bench-flowmon.md, in one
# command: builds bench_flowmon if needed, times the monitor's chains next to
# an empty XDP program and a passthrough chain under BPF_PROG_TEST_RUN, and
# prints the report (markdown) on stdout; progress and build chatter go to
# stderr. Needs root.
#
#   bench/flowmon/run.sh > report.md
#
# Environment (defaults in brackets):
#   BUILD_DIR      build directory, relative to the repository root [build]
#   CPU            the CPU the benchmark runs on [the last one]
#   ROUNDS         samples per case, medians reported [9]
#   REPEAT SHOTS   method A repetitions [1000000] and method B runs [100000]
#   SAMPLING       the sampled chain's 1-in-N [100]
#   LARGE SMALL    maxFlows of the large tables [2097152] and the evicting one [1024]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${BUILD_DIR:-build}
case $build_dir in
/*) ;;
*) build_dir=$root/$build_dir ;;
esac
cpu=${CPU:-$(($(nproc) - 1))}
rounds=${ROUNDS:-9}

# shellcheck source=bench/include/bench_run.sh
. "$root/bench/include/bench_run.sh"
bench_prepare bench_flowmon

echo "# Flow monitor benchmark"
echo
bench_machine "$cpu"
echo "- command: \`bench/flowmon/run.sh\` with ROUNDS=$rounds REPEAT=${REPEAT:-1000000} SHOTS=${SHOTS:-100000} SAMPLING=${SAMPLING:-100} LARGE=${LARGE:-2097152} SMALL=${SMALL:-1024}"
echo

"$build_dir/bench/flowmon/bench_flowmon" -c "$cpu" -r "$rounds" -n "${REPEAT:-1000000}" \
	-s "${SHOTS:-100000}" -m "${SAMPLING:-100}" -L "${LARGE:-2097152}" -S "${SMALL:-1024}"
