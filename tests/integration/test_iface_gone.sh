#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# An interface removed under a running chain, then the chain's whole netns:
# `sfcctl status` (text and -j) says the interface (the netns) is gone and
# exits 1; applying the same file fails with an error that names the missing
# interface (netns) and changes nothing; `sfcctl delete` succeeds and leaves
# no pin, no program, no link.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl

CHAIN=${LAB_PREFIX%-}-gone
PIN=/sys/fs/bpf/sfc/$CHAIN
NS_OWN=${LAB_PREFIX}own

trap 'rc=$?; ip netns del "$NS_OWN" 2>/dev/null; (exit $rc); _cleanup' EXIT

# ids: "prog ID" / "link ID" of everything pinned under the chain.
ids() {
	local kind
	for kind in prog link; do
		bpftool -j -f "$kind" show 2>/dev/null | python3 -c '
import json, sys
kind, pin = sys.argv[1], sys.argv[2] + "/"
for o in json.load(sys.stdin) or []:
    if any(p.startswith(pin) for p in o.get("pinned", [])):
        print(kind, o["id"])' "$kind" "$PIN"
	done
}

# shellcheck disable=SC2317 # called through check
# none_left IDS_FILE: none of them is loaded any more (freed after an RCU
# grace period: retry a little).
none_left() {
	local kind id left
	for _ in $(seq 20); do
		left=0
		while read -r kind id; do
			bpftool "$kind" show id "$id" >/dev/null 2>&1 && left=$((left + 1))
		done <"$1"
		[ "$left" = 0 ] && return 0
		sleep 0.2
	done
	echo "$left of $(wc -l <"$1") still loaded: $(tr '\n' ' ' <"$1")"
	return 1
}

tree() { (cd "$PIN" && find . | sort); }

# gone_checks WHAT WORD FILE: status, apply and delete of a chain that lost WHAT.
gone_checks() {
	local what=$1 word=$2 file=$3 out rc before
	out=$("$SFCCTL" status "$CHAIN" 2>&1)
	rc=$?
	is "$rc" 1 "$what: status exits 1"
	check "$what: status says so" grep -q "$word" <<<"$out"
	# shellcheck disable=SC2001 # a prefix on every line
	echo "$out" | sed 's/^/    # /'
	out=$("$SFCCTL" -j status "$CHAIN" 2>&1)
	rc=$?
	is "$rc" 1 "$what: status -j exits 1"
	check "$what: status -j has interface_gone" grep -q '"interface_gone":true' <<<"$out"
	check "$what: status -j lists the problem" grep -q "\"problems\":\[\"[^]]*$word" <<<"$out"

	before=$(tree)
	out=$("$SFCCTL" -n "$4" apply "$file" 2>&1)
	rc=$?
	is "$rc" 1 "$what: apply of the same file fails"
	check "$what: and names what is missing ($out)" grep -q "$5" <<<"$out"
	is "$(tree)" "$before" "$what: the failed apply changed no pin"

	ids >"$TEST_TMP/ids"
	check "$what: the chain had programs and links pinned" test -s "$TEST_TMP/ids"
	check "$what: delete succeeds" "$SFCCTL" delete "$CHAIN"
	check_fails "$what: no pins left" test -e "$PIN"
	check "$what: no program or link of the chain left" none_left "$TEST_TMP/ids"
}

lab_up
chain_yaml "$TEST_TMP/c.yaml" "$CHAIN" native "{action: redirect, interface: $SFC_OUT}" one
check "apply" sfc_apply "$TEST_TMP/c.yaml"
check "status is healthy" "$SFCCTL" status "$CHAIN"

# 1. The chain's interface is removed (its veth peer goes with it).
check "remove $SFC_IN" in_ns sfc ip link del "$SFC_IN"
gone_checks "$SFC_IN removed" "$SFC_IN.*is gone" "$TEST_TMP/c.yaml" "$NS_SFC" \
	"spec.interface: no interface \"$SFC_IN\""
check_fails "no XDP left on $SFC_OUT" bash -c \
	"nsenter --net=/run/netns/$NS_SFC ip link show $SFC_OUT | grep -q xdp"

# 2. The chain's whole netns is removed.
ip netns add "$NS_OWN"
in_ns "$NS_OWN" ip link add own0 type veth peer name own1
in_ns "$NS_OWN" ip link add own2 type veth peer name own3
for i in own0 own1 own2 own3; do in_ns "$NS_OWN" ip link set "$i" up; done
sed -e "s/interface: $SFC_IN/interface: own0/" -e "s/interface: $SFC_OUT/interface: own2/" \
	"$TEST_TMP/c.yaml" >"$TEST_TMP/own.yaml"
track_chain "$CHAIN"
check "apply in netns $NS_OWN" "$SFCCTL" -n "$NS_OWN" apply "$TEST_TMP/own.yaml"
check "status is healthy" "$SFCCTL" status "$CHAIN"
check "remove netns $NS_OWN" ip netns del "$NS_OWN"
gone_checks "netns removed" "netns $NS_OWN is gone" "$TEST_TMP/own.yaml" "$NS_OWN" \
	"netns $NS_OWN does not exist"

done_testing
