#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# coverage.sh BUILD_DIR [CORPUS_DIR...] - line coverage of the chain-file
# parser by a corpus (default: the committed corpus and regressions).
#
# Builds fuzz_chain.c's replay with clang's source-based coverage, runs the
# corpus once and prints llvm-cov's report for the files the parser is made
# of. BUILD_DIR must be built (it has the BPF skeleton headers). Used for the
# figures in docs/hardening.md.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(cd "${1:?usage: coverage.sh BUILD_DIR [CORPUS_DIR...]}" && pwd)
shift
[ $# -gt 0 ] || set -- "$root/tests/fuzz/corpus/chain" "$root/tests/fuzz/regressions/chain"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

clang -O1 -g -std=gnu11 -w -fprofile-instr-generate -fcoverage-mapping -DFUZZ_STANDALONE \
	-DSFC_VERSION='"cov"' -I"$root/loader/include" -I"$root/loader/lib" \
	-I"$root/bpf/include" -I"$build/bpf-gen" \
	"$root"/loader/lib/*.c "$root/tests/fuzz/fuzz_chain.c" -Wl,--wrap=sfc_read_file -Wl,--wrap=sfc_read_file_at \
	$(pkg-config --libs libbpf libxdp yaml-0.1 libelf zlib) -o "$tmp/replay"
LLVM_PROFILE_FILE="$tmp/replay.profraw" "$tmp/replay" "$@"
llvm-profdata merge -sparse "$tmp/replay.profraw" -o "$tmp/replay.profdata"
files=()
for f in config.c yaml.c json.c nf.c nf_passthrough.c nf_firewall.c fw_compile.c nf_flowmon.c \
	nf_lb.c; do
	files+=("$root/loader/lib/$f")
done
if [ -n "${SHOW_FUNCTIONS:-}" ]; then
	llvm-cov report -show-functions "$tmp/replay" -instr-profile="$tmp/replay.profdata" \
		"${files[@]}" | sed "s|$root/loader/lib/||"
	exit 0
fi
llvm-cov report "$tmp/replay" -instr-profile="$tmp/replay.profdata" "${files[@]}" |
	sed "s|$root/loader/lib/||"
