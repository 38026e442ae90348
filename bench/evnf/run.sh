#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - the sfc chain against the same chain of kernel-path VNFs, in one
# command (docs/bench-evnf.md): builds what it needs, builds a namespace lab
# (or uses a topology file), runs every arm and workload over the sweeps, and
# writes CSV/JSON raw data, a Markdown report and PNG plots. Needs root.
#
#   bench/evnf/run.sh [--out DIR] [--quick] [evnf.py options...]
#
#   --quick   CI: every arm and workload once, 2 s each, 1 CPU point; writes
#             into a temp dir unless --out is given, and removes it after
#             printing the report. Exit 0 whenever the harness worked: no
#             timing is ever judged, only "did traffic go through".
#   --out DIR where the outputs go [$BUILD_DIR/bench-evnf]
#   Other options go to evnf.py (--cpus 1,2 --rules 10,1000,10000
#   --backends 2,4 --reps 3 --duration 8 --arms ... --workloads ...
#   --topology FILE --iptables iptables-legacy); see `evnf.py --help`.
#
# Environment: BUILD_DIR [build]; SFCCTL, XDPGEN, EVNF_MICRO: use these
# binaries instead of building them (ctest sets them).
#
# Exit status: 0 the harness worked, 1 it broke, 77 not root (ctest: skip).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build_dir=${BUILD_DIR:-build}
case $build_dir in
/*) ;;
*) build_dir=$root/$build_dir ;;
esac

orig="$*"
quick=0 out= args=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1; args+=("$1") ;;
	--out) out=$2; shift ;;
	--out=*) out=${1#--out=} ;;
	-h | --help) sed -n '4,25s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) args+=("$1") ;;
	esac
	shift
done

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: SKIP: needs root (netns, XDP, BPF_PROG_TEST_RUN, iptables)" >&2
	exit 77
fi
if [ -z "${SFCCTL:-}" ] || [ -z "${XDPGEN:-}" ] || [ -z "${EVNF_MICRO:-}" ]; then
	if [ ! -f "$build_dir/CMakeCache.txt" ]; then
		BUILD_DIR=$build_dir bash "$root/scripts/build.sh" >&2
	fi
	cmake --build "$build_dir" --target sfcctl xdpgen evnf_micro >&2 || {
		echo "run.sh: cannot build sfcctl, xdpgen and evnf_micro in $build_dir" >&2
		exit 1
	}
fi
SFCCTL=${SFCCTL:-$build_dir/loader/sfcctl}
XDPGEN=${XDPGEN:-$build_dir/bench/evnf/xdpgen}
EVNF_MICRO=${EVNF_MICRO:-$build_dir/bench/evnf/evnf_micro}

# Debian's python3, which has python3-matplotlib (a python3 earlier on PATH,
# such as a pyenv shim, may not).
py=/usr/bin/python3
[ -x "$py" ] || py=python3

tmp_out=
if [ -z "$out" ]; then
	if [ $quick = 1 ]; then
		tmp_out=$(mktemp -d /tmp/evnf-quick.XXXXXX)
		out=$tmp_out
	else
		out=$build_dir/bench-evnf
	fi
fi
trap '[ -z "$tmp_out" ] || rm -rf "$tmp_out"' EXIT

cmdline="bench/evnf/run.sh $orig"
[ $quick = 0 ] || cmdline="bench/evnf/run.sh --quick"
"$py" "$root/bench/evnf/evnf.py" --out "$out" --sfcctl "$SFCCTL" --xdpgen "$XDPGEN" \
	--evnf-micro "$EVNF_MICRO" --cmdline "$cmdline" ${args[@]+"${args[@]}"}

if [ $quick = 1 ]; then
	# The harness worked: every output is there. Show the report.
	for f in report.md runs.csv runs.json summary.json micro.json env.json \
		plots/throughput_vs_cpus.png plots/latency.png; do
		if [ ! -s "$out/$f" ]; then
			echo "run.sh: $out/$f was not written" >&2
			exit 1
		fi
	done
	cat "$out/report.md"
fi
echo "run.sh: outputs in $out" >&2
