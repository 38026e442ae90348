#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# extract_seeds.sh BUILD_DIR OUT_DIR - the chain fuzzer's unit-test seeds.
#
# Builds the unit tests that parse chain files (tests/unit/test_{config,
# firewall,flowmon,lb}.c) again with seed_shim.h forced in, runs them, and
# so saves every chain file they parse (the broken cases of their tables,
# the good ones, the examples) into OUT_DIR as fuzz_chain.c inputs, named
# <test>-<hash>.yaml. Run once; the files are committed under
# tests/fuzz/corpus/chain/. Needs a built BUILD_DIR (libsfc.a).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
build=$(cd "${1:?usage: extract_seeds.sh BUILD_DIR OUT_DIR}" && pwd)
out=${2:?usage: extract_seeds.sh BUILD_DIR OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

libs=$(pkg-config --libs libbpf libxdp yaml-0.1 libelf zlib)
# the shim itself calls the real parser: no -include for it
gcc -O1 -g -std=gnu11 -Wall -I"$root/loader/include" -c "$root/tests/fuzz/seeds/seed_shim.c" \
	-o "$tmp/seed_shim.o"
for t in config firewall flowmon lb; do
	gcc -O1 -g -std=gnu11 -w -include "$root/tests/fuzz/seeds/seed_shim.h" \
		-I"$root/loader/include" -I"$root/loader/lib" -I"$root/bpf/include" \
		-I"$root/tests" -I"$build/bpf-gen" \
		"$root/tests/unit/test_$t.c" "$tmp/seed_shim.o" \
		-Wl,--wrap=sfc_read_file -Wl,--wrap=sfc_read_file_at "$build/loader/libsfc.a" $libs -lm -o "$tmp/test_$t"
	args=("$root/chains")
	[ "$t" = firewall ] && args+=(--quick)
	# the seeds are what the tests parse, whatever their verdict
	(cd "$tmp" && SEED_DIR="$out" SEED_PREFIX="unit-$t" "$tmp/test_$t" "${args[@]}" \
		>/dev/null 2>&1) || echo "extract_seeds.sh: test_$t failed (seeds kept)" >&2
done

# the examples under their own names; firewall.yaml with its set file
for f in "$root"/chains/*.yaml; do
	n=$(basename "$f" .yaml)
	cp "$f" "$out/chains-$n.yaml"
	if grep -q 'file: blocklist.txt' "$f"; then
		printf '\n#@file\n' >> "$out/chains-$n.yaml"
		cat "$root/chains/blocklist.txt" >> "$out/chains-$n.yaml"
	fi
done
# one copy of each text: the examples' names win, then the first test's
md5sum "$out"/chains-*.yaml "$out"/unit-*.yaml | awk 'seen[$1]++ { print $2 }' | xargs -r rm -f
echo "extract_seeds.sh: $(ls "$out" | wc -l) seeds in $out"
