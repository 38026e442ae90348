#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Re-applying a changed chain is hitless: under continuous traffic in both
# directions, a series of applies that add, reorder and remove functions
# (each a new generation swapped in) loses no packet, duplicates none, and
# every packet is carried by the XDP chain (no missed tail call, and the
# egress counted at least every datagram as forwarded).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
require_seqgen

CHAIN=${LAB_PREFIX%-}-hitless
COUNT=60000
RATE=15000
EGRESS="{action: redirect, interface: $SFC_OUT}"

lab_up
chain_yaml "$TEST_TMP/0.yaml" "$CHAIN" auto "$EGRESS" a b
chain_yaml "$TEST_TMP/1.yaml" "$CHAIN" auto "$EGRESS" a b c
chain_yaml "$TEST_TMP/2.yaml" "$CHAIN" auto "$EGRESS" c a b
chain_yaml "$TEST_TMP/3.yaml" "$CHAIN" auto "$EGRESS" b
chain_yaml "$TEST_TMP/4.yaml" "$CHAIN" auto "$EGRESS"
chain_yaml "$TEST_TMP/5.yaml" "$CHAIN" auto "$EGRESS" a b c d e f g h

check "apply the first chain" sfc_apply "$TEST_TMP/0.yaml"
# Warm the neighbour caches, so that the XDP egress's FIB lookups succeed
# from the first datagram on.
check "warm-up forward" in_ns client ping -c 2 -i 0.2 -W 2 "$SERVER4"
check "warm-up reverse" in_ns server ping -c 2 -i 0.2 -W 2 "$CLIENT4"
fwd0=$(chain_stat "$CHAIN" egress forward forwarded)
rev0=$(chain_stat "$CHAIN" egress reverse forwarded)

# Two receivers, one per direction (the lib's helper runs one at a time).
in_ns server "$SEQGEN" recv --port 6001 --expect $COUNT --timeout 3 -j \
	--ready "$TEST_TMP/r1" >"$TEST_TMP/fwd.json" 2>&1 &
r1=$!
in_ns client "$SEQGEN" recv --port 6002 --expect $COUNT --timeout 3 -j \
	--ready "$TEST_TMP/r2" >"$TEST_TMP/rev.json" 2>&1 &
r2=$!
for _ in $(seq 100); do
	[ -e "$TEST_TMP/r1" ] && [ -e "$TEST_TMP/r2" ] && break
	sleep 0.05
done
in_ns client "$SEQGEN" send --dst "$SERVER4" --port 6001 --count $COUNT --rate $RATE --size 200 &
s1=$!
in_ns server "$SEQGEN" send --dst "$CLIENT4" --port 6002 --count $COUNT --rate $RATE --size 200 &
s2=$!

# Swap generations while the traffic runs: add, reorder, remove, empty, long.
swaps=0
for _ in 1 2; do
	for n in 1 2 3 4 5 0; do
		out=$("$SFCCTL" -j -n "$NS_SFC" apply "$TEST_TMP/$n.yaml")
		if grep -q '"result":"swapped"' <<<"$out"; then
			swaps=$((swaps + 1))
		else
			echo "apply $n.yaml: $out" >&2
		fi
		sleep 0.2
	done
done
wait $s1 $s2
wait $r1
wait $r2
fwd=$(cat "$TEST_TMP/fwd.json")
rev=$(cat "$TEST_TMP/rev.json")
echo "    forward: $fwd"
echo "    reverse: $rev"

is "$swaps" 12 "12 generations swapped in under traffic"
is "$(json_num "$fwd" received)" $COUNT "forward: all $COUNT received"
is "$(json_num "$fwd" lost)" 0 "forward: none lost"
is "$(json_num "$fwd" duplicates)" 0 "forward: no duplicates"
is "$(json_num "$rev" received)" $COUNT "reverse: all $COUNT received"
is "$(json_num "$rev" lost)" 0 "reverse: none lost"
is "$(json_num "$rev" duplicates)" 0 "reverse: no duplicates"
is "$(chain_stat "$CHAIN" "*" "*" tail_call_miss)" 0 "no missed tail call in any stage"
is "$(chain_stat "$CHAIN" "*" "*" aborted)" 0 "nothing aborted"
fwd1=$(chain_stat "$CHAIN" egress forward forwarded)
rev1=$(chain_stat "$CHAIN" egress reverse forwarded)
check "forward: the XDP egress carried all $COUNT ($((fwd1 - fwd0)))" test $((fwd1 - fwd0)) -ge $COUNT
check "reverse: the XDP egress carried all $COUNT ($((rev1 - rev0)))" test $((rev1 - rev0)) -ge $COUNT
gen=$("$SFCCTL" -j status "$CHAIN" | sed -nE 's/.*"generation":([0-9]+).*/\1/p' | head -1)
is "$gen" 13 "generation 13"
left=$(find "/sys/fs/bpf/sfc/$CHAIN" -maxdepth 1 -name 'gen*' | wc -l)
is "$left" 1 "only the live generation stays pinned"

done_testing
