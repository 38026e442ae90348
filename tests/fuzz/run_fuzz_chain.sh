#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run_fuzz_chain.sh FUZZER FUZZ_DIR ARTIFACT_DIR - the ctest fuzz_chain.
#
# Runs the libFuzzer target for FUZZ_SECONDS (default 120) over a copy of
# FUZZ_DIR/corpus/chain (so the tree is never written) and the crash
# regressions, with the YAML dictionary. Fails on any crash, leak, timeout
# (10 s per input), RSS over 2 GiB or broken invariant; the input that did
# it is kept in ARTIFACT_DIR and printed, with the command that replays it.
# Extra libFuzzer flags: FUZZ_FLAGS. Exits 77 (SKIP) when FUZZER was not
# built (no clang with libFuzzer); CI counts that as a failure.
set -u
bin=$1 dir=$2 art=$3
secs=${FUZZ_SECONDS:-120}

if [ ! -x "$bin" ]; then
	echo "SKIP: $bin is not built (needs clang with libFuzzer: -fsanitize=fuzzer)"
	exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$art"
cp "$dir"/corpus/chain/* "$work/corpus/"
n0=$(ls "$work/corpus" | wc -l)
touch "$work/start"
# libFuzzer's own exit code for a finding is 77, ctest's SKIP: make it 1.
# shellcheck disable=SC2086
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
	-error_exitcode=1 -timeout_exitcode=1 -dict="$dir/yaml.dict" \
	-artifact_prefix="$art/" -print_final_stats=1 ${FUZZ_FLAGS:-} \
	"$work/corpus" "$dir/regressions/chain" > "$work/log" 2>&1
rc=$?
grep -E 'INFO: Seed:|^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|ERROR|SUMMARY|invariant|Test unit written' \
	"$work/log" | tail -n 40
n1=$(ls "$work/corpus" | wc -l)
echo "fuzz_chain: ${secs}s, corpus $n0 -> $n1 inputs, exit $rc"
if [ "$rc" -ne 0 ]; then
	tail -n 80 "$work/log"
	find "$art" -type f -newer "$work/start" | while read -r f; do
		echo "fuzz_chain: finding $f; replay: $bin $f"
	done
	exit 1
fi
exit 0
