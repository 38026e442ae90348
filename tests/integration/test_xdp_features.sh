#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# sfcctl xdp IFNAME: does the driver run XDP natively? Asked both ways, the
# netdev netlink family's xdp-features and a trial attach in driver mode, on
# interfaces of the lab's sfc namespace that need no modules: veth and tap
# have native XDP, a bridge, a macvlan and lo do not. Both ways must agree,
# and the trial must leave no program behind. Then xdpMode auto on the
# bridge: the chain is attached in skb mode without a native attempt, and on
# the veth in native mode.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
command -v python3 >/dev/null 2>&1 || skip "python3 not installed (run scripts/setup.sh)"

rc() { "$@" >/dev/null 2>&1; echo $?; }
xdp() { "$SFCCTL" -n "$NS_SFC" "$@"; }

lab_up
in_ns sfc ip link add sfct-br type bridge || fail "bridge"
in_ns sfc ip link add link sfc-out name sfct-mv type macvlan mode bridge || fail "macvlan"
in_ns sfc ip tuntap add dev sfct-tap mode tap || fail "tap"
in_ns sfc ip link set sfct-br up

is "$(rc "$SFCCTL" xdp)" 2 "xdp without an interface"
is "$(rc xdp xdp sfc-in probe sideways)" 2 "unknown probe method"
is "$(rc xdp xdp sfc-in probe)" 2 "probe without a method"
is "$(rc xdp xdp sfct-none)" 1 "no such interface: exit 1"
is "$("$SFCCTL" -n "$NS_SFC" xdp sfct-none 2>&1)" \
	"sfcctl: sfct-none: no such interface in netns $NS_SFC" "... and says so"
is "$(rc "$SFCCTL" help xdp)" 0 "help xdp"

# netlink and attach agree; attach leaves nothing behind.
for spec in sfc-in:true sfct-tap:true sfct-br:false sfct-mv:false lo:false; do
	ifc=${spec%%:*} want=${spec#*:}
	nl=$(xdp -j xdp "$ifc" probe netlink)
	tr=$(xdp -j xdp "$ifc" probe attach)
	check "$ifc: native $want, by xdp-features and by a trial attach" python3 -c '
import json, sys
nl, tr, want = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3] == "true"
assert nl["method"] == "netlink" and tr["method"] == "attach", (nl, tr)
assert nl["native"] is want and tr["native"] is want, (nl, tr)
assert ("basic" in nl["xdp_features"]) is want, nl
assert nl["attach_error"] is None and nl["attach_message"] is None, nl
assert tr["xdp_features"] is None, tr
assert nl["xdp_mode_auto"] == tr["xdp_mode_auto"] == ("native" if want else "skb"), (nl, tr)
if want:
    assert tr["attach_error"] is None, tr
else:
    assert tr["attach_error"] == "Operation not supported", tr
    assert "does not support XDP in native mode" in tr["attach_message"], tr
' "$nl" "$tr" "$want"
	check_fails "$ifc: no XDP program left by the trial" \
		bash -c "nsenter --net=/run/netns/$NS_SFC ip link show $ifc | grep -q xdp"
done
out=$(xdp xdp sfc-in)
check "plain: veth features" grep -q "^sfc-in: native XDP yes (xdp-features: basic redirect" <<<"$out"
out=$(xdp xdp sfct-br probe attach)
check "plain: the kernel's word on the bridge" grep -q \
	"^sfct-br: native XDP no (trial attach in driver mode: Operation not supported: .*native mode)$" \
	<<<"$out"
check "plain: what auto does" grep -q "^xdpMode auto: skb$" <<<"$out"

# A program in place: driver mode answers the trial, skb mode stops it.
CHAIN=${LAB_PREFIX%-}-xf
chain_yaml "$TEST_TMP/n.yaml" "$CHAIN" native "{action: pass}" one
check "a chain in native mode on sfc-in" sfc_apply "$TEST_TMP/n.yaml"
out=$(xdp -j xdp sfc-in probe attach)
check "trial with a native program in place: native" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["native"] is True and d["attach_error"] == "Device or resource busy", d' "$out"
chain_yaml "$TEST_TMP/s.yaml" "$CHAIN" skb "{action: pass}" one
check "the chain in skb mode" sfc_apply "$TEST_TMP/s.yaml"
is "$(xdp xdp sfc-in probe attach 2>&1)" \
	"sfcctl: sfc-in has an XDP program in skb mode: cannot try driver mode" \
	"trial with an skb program in place: refused"
check "netlink answers all the same" bash -c "'$SFCCTL' -n $NS_SFC xdp sfc-in | grep -q 'native XDP yes'"
check "delete" "$SFCCTL" delete "$CHAIN"

# xdpMode auto uses the answer: no native attempt where the driver has none.
cat >"$TEST_TMP/br.yaml" <<EOF
apiVersion: sfc/v1alpha1
kind: Chain
metadata:
  name: $CHAIN
spec:
  interface: sfct-br
  xdpMode: auto
  egress: {action: pass}
  functions:
    - {name: one, type: passthrough}
EOF
track_chain "$CHAIN"
out=$("$SFCCTL" -v -n "$NS_SFC" apply "$TEST_TMP/br.yaml" 2>&1)
is "$?" 0 "auto on a bridge: applied"
check "... because the driver has no native XDP" grep -q \
	"sfct-br: the driver has no native XDP (xdp-features 0x0): attaching in skb mode" <<<"$out"
check_fails "... with no native attempt" grep -q "native attach\|libxdp native" <<<"$out"
check "... in skb mode" bash -c "'$SFCCTL' -j status $CHAIN | grep -q '\"mode\":\"skb\"'"
check "delete" "$SFCCTL" delete "$CHAIN"
chain_yaml "$TEST_TMP/a.yaml" "$CHAIN" auto "{action: pass}" one
check "auto on the veth" sfc_apply "$TEST_TMP/a.yaml"
check "... native" bash -c "'$SFCCTL' -j status $CHAIN | grep -q '\"mode\":\"native\"'"

done_testing
