#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh - the firewall benchmark of docs/bench-firewall.md, in one command:
# builds bench_fw and fw_blast if needed, generates the rule sets, times the
# XDP firewall under BPF_PROG_TEST_RUN (bench_fw) and iptables forwarding
# with the same rules (ipt_bench.py), and prints the report (markdown) on
# stdout; progress and build chatter go to stderr. Needs root.
#
#   bench/fw/run.sh > report.md
#
# Environment (defaults in brackets):
#   BUILD_DIR      build directory, relative to the repository root [build]
#   OUT            where the rule sets are written [$BUILD_DIR/bench-fw]
#   RULES          rule counts without a set ["10 1000 10000 100000"]
#   SET_RULES      rule counts with the prefix set, dropped by rule 0 ["10 100000"]
#   SET_SIZE       prefixes in the generated set [100000]
#   SET_FILE       use this prefix file (one per line) instead of generating one
#   SEED           gen_rules.py's seed [1]
#   CPU            the CPU both benchmarks run on [the last one]
#   ROUNDS         samples per case, medians reported [9]
#   REPEAT SHOTS   bench_fw's method A repetitions [1000000] and method B runs [100000]
#   IPT=0          skip iptables
#   IPT_BACKENDS   [nft,legacy]    IPT_FAMILIES  [4]    IPT_SECONDS per sample [1]
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/bench/fw
build_dir=${BUILD_DIR:-build}
case $build_dir in
/*) ;;
*) build_dir=$root/$build_dir ;;
esac
out=${OUT:-$build_dir/bench-fw}
rules=${RULES:-10 1000 10000 100000}
set_rules=${SET_RULES:-10 100000}
set_size=${SET_SIZE:-100000}
cpu=${CPU:-$(($(nproc) - 1))}
rounds=${ROUNDS:-9}

if [ "$(id -u)" != 0 ]; then
	echo "run.sh: needs root (BPF_PROG_TEST_RUN, netns, iptables)" >&2
	exit 1
fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
	BUILD_DIR=$build_dir bash "$root/scripts/build.sh" >&2
fi
cmake --build "$build_dir" --target bench_fw fw_blast >&2 || {
	echo "run.sh: cannot build bench_fw and fw_blast in $build_dir" >&2
	exit 1
}

# 10 -> fw-10, 1000 -> fw-1k, 100000 -> fw-100k
name_of() {
	local n=$1
	if [ "$n" -ge 1000 ] && [ $((n % 1000)) = 0 ]; then
		echo "fw-$((n / 1000))k"
	else
		echo "fw-$n"
	fi
}

mkdir -p "$out"
names=()
for n in $rules; do
	names+=("$(name_of "$n")")
	python3 "$here/gen_rules.py" --rules "$n" --name "${names[-1]}" --out "$out" \
		--seed "${SEED:-1}"
done
for n in $set_rules; do
	names+=("$(name_of "$n")-set")
	if [ -n "${SET_FILE:-}" ]; then
		set_arg=(--set-file "$SET_FILE")
	else
		set_arg=(--set-size "$set_size")
	fi
	python3 "$here/gen_rules.py" --rules "$n" --name "${names[-1]}" --out "$out" \
		--seed "${SEED:-1}" "${set_arg[@]}"
done
chains=()
for n in "${names[@]}"; do
	chains+=("$out/$n.yaml")
done

echo "# Firewall benchmark"
echo
echo "- kernel: $(uname -r)"
echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), nproc $(nproc); both benchmarks pinned to CPU $cpu"
echo "- clang: $(clang --version 2>/dev/null | head -n 1 || echo unknown)"
echo "- sfc: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "- command: \`bench/fw/run.sh\` with RULES=\"$rules\" SET_RULES=\"$set_rules\" SET_SIZE=$set_size ROUNDS=$rounds"
echo

"$build_dir/bench/fw/bench_fw" -c "$cpu" -r "$rounds" -n "${REPEAT:-1000000}" \
	-s "${SHOTS:-100000}" -t "$out/xdp.tsv" "${chains[@]}"

if [ "${IPT:-1}" != 0 ]; then
	python3 "$here/ipt_bench.py" --dir "$out" --blast "$build_dir/bench/fw/fw_blast" \
		--cpu "$cpu" --rounds "$rounds" --seconds "${IPT_SECONDS:-1}" \
		--backends "${IPT_BACKENDS:-nft,legacy}" --families "${IPT_FAMILIES:-4}" \
		--tsv "$out/ipt.tsv" --xdp-tsv "$out/xdp.tsv" "${names[@]}"
fi
