#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - the load balancer benchmark of docs/bench-lb.md, in one command:
# builds bench_lb if needed, times the balancer's paths (established flow,
# new flow, reply, traffic that is no VIP's) next to an empty XDP program and
# a passthrough chain under BPF_PROG_TEST_RUN, and prints the report
# (markdown) on stdout or into a file; progress and build chatter go to
# stderr. Needs root.
#
#   bench/lb/run.sh > report.md
#   bench/lb/run.sh --rounds 3 --shots 20000 -o /tmp/lb.md     # a quick look
#
# Options, each also an environment variable (defaults in brackets):
#   --build-dir DIR  BUILD_DIR  build directory, relative to the repository root [build]
#   --cpu N          CPU        the CPU the benchmark runs on [the last one]
#   --rounds N       ROUNDS     samples per case, medians reported [9]
#   --repeat N       REPEAT     method A: repetitions per sample [1000000]
#   --shots N        SHOTS      method B: test runs per sample [100000]
#   --flows N        FLOWS      established flows of the est-F case [1000000]
#   --large N        LARGE      maxConnections of lbb-lb [8388608]; at least
#                               2 FLOWS + 6 ROUNDS SHOTS + 1000
#   --small N        SMALL      maxConnections of lbb-small, which evicts [1024]
#   -o FILE          OUT        write the report to FILE instead of stdout
#   -h, --help                  this text
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${BUILD_DIR:-build}
cpu=${CPU:-$(($(nproc) - 1))}
rounds=${ROUNDS:-9}
repeat=${REPEAT:-1000000}
shots=${SHOTS:-100000}
flows=${FLOWS:-1000000}
large=${LARGE:-8388608}
small=${SMALL:-1024}
out=${OUT:-}

usage() {
	sed -n '4,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--build-dir | --cpu | --rounds | --repeat | --shots | --flows | --large | --small | -o)
		[ $# -ge 2 ] || { echo "run.sh: $1 needs a value" >&2; exit 2; }
		case $1 in
		--build-dir) build_dir=$2 ;;
		--cpu) cpu=$2 ;;
		--rounds) rounds=$2 ;;
		--repeat) repeat=$2 ;;
		--shots) shots=$2 ;;
		--flows) flows=$2 ;;
		--large) large=$2 ;;
		--small) small=$2 ;;
		-o) out=$2 ;;
		esac
		shift 2 ;;
	*) echo "run.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
	esac
done
case $build_dir in
/*) ;;
*) build_dir=$root/$build_dir ;;
esac

# shellcheck source=bench/include/bench_run.sh
. "$root/bench/include/bench_run.sh"
bench_prepare bench_lb

report() {
	local load0 rc=0

	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	echo "# Load balancer benchmark"
	echo
	bench_machine "$cpu"
	echo "- uncommitted in the data path (bpf/): $(git -C "$root" diff --name-only HEAD -- bpf 2>/dev/null | tr '\n' ' ' | sed 's/ $//;s/^$/none/')"
	echo "- command: \`bench/lb/run.sh --rounds $rounds --repeat $repeat --shots $shots --flows $flows --large $large --small $small\`"
	"$build_dir/bench/lb/bench_lb" -c "$cpu" -r "$rounds" -n "$repeat" -s "$shots" \
		-F "$flows" -L "$large" -S "$small" >"$tmp" || rc=$?
	echo "- load average (1, 5, 15 min): $load0 before the run, $(cut -d' ' -f1-3 /proc/loadavg) after"
	echo
	cat "$tmp"
	return $rc
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if [ -n "$out" ]; then
	report >"$out"
else
	report
fi
