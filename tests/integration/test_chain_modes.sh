#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# xdpMode and egress actions with real traffic: skb (generic) mode with
# egress pass (the kernel forwards after the chain), a dry run that says what
# an apply would do, then native mode with redirect, which re-attaches.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl

CHAIN=${LAB_PREFIX%-}-modes

field() { # field JSON KEY: first string value of KEY
	sed -nE "s/.*\"$2\":\"([^\"]*)\".*/\1/p" <<<"$1" | head -1
}

lab_up
chain_yaml "$TEST_TMP/skb.yaml" "$CHAIN" skb "{action: pass}" only
chain_yaml "$TEST_TMP/native.yaml" "$CHAIN" native "{action: redirect, interface: $SFC_OUT}" only

check "apply in skb mode" sfc_apply "$TEST_TMP/skb.yaml"
st=$("$SFCCTL" -j status "$CHAIN")
is "$(field "$st" mode)" skb "status says skb mode"
is "$(field "$st" method)" link "status says the attach method (libxdp has no dispatcher here)"
is "$(field "$st" egress)" pass "egress pass"
check "ping through the chain, forwarded by the kernel" in_ns client ping -c 3 -i 0.2 -W 2 "$SERVER4"
p=$(chain_stat "$CHAIN" only forward packets)
check "the function saw the pings ($p)" test "$p" -ge 3

out=$("$SFCCTL" -j -n "$NS_SFC" apply --dry-run "$TEST_TMP/native.yaml")
is "$(field "$out" result)" reattached "dry run: would re-attach"
is "$(field "$("$SFCCTL" -j status "$CHAIN")" mode)" skb "dry run changed nothing"

out=$("$SFCCTL" -j -n "$NS_SFC" apply "$TEST_TMP/native.yaml")
is "$(field "$out" result)" reattached "mode change re-attaches"
st=$("$SFCCTL" -j status "$CHAIN")
is "$(field "$st" mode)" native "now native"
is "$(grep -o '"attached":true' <<<"$st" | wc -l)" 2 "both interfaces attached"
check "ping through the redirecting chain" in_ns client ping -c 3 -i 0.2 -W 2 "$SERVER4"
check "and back" in_ns server ping -c 3 -i 0.2 -W 2 "$CLIENT4"
check "counters survived the re-attach" test "$(chain_stat "$CHAIN" only forward packets)" -ge 6

check "delete" "$SFCCTL" delete "$CHAIN"
check_fails "no XDP left" bash -c \
	"nsenter --net=/run/netns/$NS_SFC ip link | grep -q xdp"

done_testing
