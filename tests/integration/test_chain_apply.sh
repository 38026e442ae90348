#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A chain in the lab's sfc namespace, applied with sfcctl -n: traffic passes
# both ways through it (the XDP egress forwards it, the counters say so)
# after sfcctl has exited; re-apply is a no-op; a failing apply changes
# nothing; sfcctl under `ip netns exec` is refused; delete leaves nothing
# pinned or attached.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
require_seqgen

CHAIN=${LAB_PREFIX%-}-apply
PIN=/sys/fs/bpf/sfc/$CHAIN

lab_up
chain_yaml "$TEST_TMP/a.yaml" "$CHAIN" native "{action: redirect, interface: $SFC_OUT}" first second
check "validate" "$SFCCTL" validate "$TEST_TMP/a.yaml"
track_chain "$CHAIN"
out=$("$SFCCTL" -j -n "$NS_SFC" apply "$TEST_TMP/a.yaml")
is "$(sed -nE 's/.*"result":"([a-z]+)".*/\1/p' <<<"$out")" created "apply creates the chain"
check "pinned" test -e "$PIN/info" -a -e "$PIN/root_progs" -a -d "$PIN/gen1"

st=$("$SFCCTL" -j status "$CHAIN")
is "$(grep -o '"attached":true' <<<"$st" | wc -l)" 2 "both interfaces attached"
is "$(grep -o '"mode":"native"' <<<"$st" | wc -l)" 2 "native mode on veth"
check "sfc-in carries an XDP program" bash -c \
	"nsenter --net=/run/netns/$NS_SFC ip link show $SFC_IN | grep -q xdp"

# sfcctl has exited: the chain runs on its own from its pins.
for pair in "client:$SERVER4" "server:$CLIENT4" "client:$SERVER6" "server:$CLIENT6"; do
	from=${pair%%:*} to=${pair#*:}
	check "ping $from -> $to through the chain" in_ns "$from" ping -c 3 -i 0.2 -W 2 "$to"
done
check "routed by the XDP egress (ttl 63)" bash -c \
	"nsenter --net=/run/netns/$NS_CLIENT ping -c1 -W2 $SERVER4 | grep -q 'ttl=63'"

fwd0=$(chain_stat "$CHAIN" egress forward forwarded)
rev0=$(chain_stat "$CHAIN" egress reverse forwarded)
seqgen_recv_start server 5001 --expect 2000 --timeout 2
check "send 2000 client -> server" in_ns client "$SEQGEN" send --dst "$SERVER4" --port 5001 \
	--count 2000 --rate 20000 --size 200
seqgen_recv_wait
is "$(json_num "$SEQ_RESULT" lost)" 0 "2000 datagrams, none lost"
fwd1=$(chain_stat "$CHAIN" egress forward forwarded)
check "the XDP egress forwarded them all ($fwd0 -> $fwd1)" test $((fwd1 - fwd0)) -ge 2000
seqgen_recv_start client 5002 --expect 500 --timeout 2
check "send 500 server -> client (v6)" in_ns server "$SEQGEN" send --dst "$CLIENT6" --port 5002 \
	--count 500 --rate 20000 --size 200
seqgen_recv_wait
is "$(json_num "$SEQ_RESULT" lost)" 0 "500 datagrams back, none lost"
rev1=$(chain_stat "$CHAIN" egress reverse forwarded)
check "reverse direction forwarded by XDP ($rev0 -> $rev1)" test $((rev1 - rev0)) -ge 500
for fn in first second; do
	p=$(chain_stat "$CHAIN" "$fn" forward packets)
	check "function $fn saw the forward packets ($p)" test "$p" -ge 2000
	p=$(chain_stat "$CHAIN" "$fn" reverse packets)
	check "function $fn saw the reverse packets ($p)" test "$p" -ge 500
done
is "$(chain_stat "$CHAIN" entry forward tail_call_miss)" 0 "no missed tail call"

# Re-apply: nothing to do.
out=$("$SFCCTL" -j -n "$NS_SFC" apply "$TEST_TMP/a.yaml")
is "$(sed -nE 's/.*"result":"([a-z]+)".*/\1/p' <<<"$out")" unchanged "re-apply is a no-op"
is "$(sed -nE 's/.*"generation":([0-9]+).*/\1/p' <<<"$out")" 1 "still generation 1"

# A failing apply changes nothing: a missing interface, a bad file.
sed "s/interface: $SFC_OUT/interface: nosuchdev/" "$TEST_TMP/a.yaml" >"$TEST_TMP/bad.yaml"
err=$("$SFCCTL" -n "$NS_SFC" apply "$TEST_TMP/bad.yaml" 2>&1)
is "$?" 1 "apply with a missing interface fails"
check "the error names the key" grep -q 'spec.egress.interface: no interface "nosuchdev"' <<<"$err"
printf 'apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata: {name: %s}\nspec: {interface: 7}\n' \
	"$CHAIN" >"$TEST_TMP/bad2.yaml"
"$SFCCTL" -n "$NS_SFC" apply "$TEST_TMP/bad2.yaml" 2>/dev/null
is "$?" 1 "apply of an invalid file fails"
st2=$("$SFCCTL" -j status "$CHAIN")
is "$(sed -nE 's/.*"generation":([0-9]+).*/\1/p' <<<"$st2" | head -1)" 1 "chain untouched"
check "traffic still flows" in_ns client ping -c 2 -i 0.2 -W 2 "$SERVER4"

# While another sfcctl holds the pin root's lock (an apply or a delete runs),
# status reads anyway, says so, and judges no repair: exit 0, busy.
PIN_ROOT_DIR=$(dirname "$PIN")
flock -x "$PIN_ROOT_DIR" sleep 3 &
HOLDER=$!
for _ in $(seq 50); do
	flock -n -s "$PIN_ROOT_DIR" true || break
	sleep 0.1
done
out=$("$SFCCTL" status "$CHAIN")
is "$?" 0 "status while the pin root is locked: exit 0"
check "  and says an apply or a delete is running" grep -q "an apply or a delete is running" <<<"$out"
check "  -j: busy" grep -q '"busy":true' <<<"$("$SFCCTL" -j status "$CHAIN")"
wait "$HOLDER" # the sleep holds the lock too: let it end
check "  not busy once the lock is gone" grep -q '"busy":false' <<<"$("$SFCCTL" -j status "$CHAIN")"

# ip netns exec hides the host's bpffs: refused, nothing half-made.
err=$(ip netns exec "$NS_SFC" "$SFCCTL" apply "$TEST_TMP/a.yaml" 2>&1)
is "$?" 1 "sfcctl under ip netns exec is refused"
check "and says to use -n" grep -q -- "-n NETNS" <<<"$err"

# Delete: nothing pinned, nothing attached, the kernel forwards again.
check "delete" "$SFCCTL" delete "$CHAIN"
check_fails "pins gone" test -e "$PIN"
check_fails "no XDP on sfc-in" bash -c \
	"nsenter --net=/run/netns/$NS_SFC ip link show $SFC_IN | grep -q xdp"
check_fails "no XDP on sfc-out" bash -c \
	"nsenter --net=/run/netns/$NS_SFC ip link show $SFC_OUT | grep -q xdp"
check "kernel forwarding after delete" in_ns client ping -c 2 -i 0.2 -W 2 "$SERVER4"
"$SFCCTL" delete "$CHAIN" 2>/dev/null
is "$?" 1 "deleting it again fails"

done_testing
