#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The lab on its own, no sfc: scripts/lab.sh builds a routed path
# client <-> sfc <-> server for IPv4 and IPv6 that carries every packet, sets
# the veth offloads XDP needs, and leaves nothing behind.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_seqgen

lab_up
check "lab status reports up" bash "$LAB_SH" status --prefix "$LAB_PREFIX"

for pair in "client:$SERVER4" "server:$CLIENT4" "client:$SERVER6" "server:$CLIENT6"; do
	from=${pair%%:*} to=${pair#*:}
	check "ping $from -> $to through the sfc node" in_ns "$from" ping -c 3 -i 0.2 -W 2 "$to"
done
# The path really goes through the sfc node: one hop, so TTL 64 - 1.
check "client -> server is routed (ttl 63)" \
	bash -c "nsenter --net=/run/netns/$NS_CLIENT ping -c1 -W2 $SERVER4 | grep -q 'ttl=63'"

is "$(in_ns sfc cat /proc/sys/net/ipv4/ip_forward)" 1 "ipv4 forwarding on in the sfc node"
is "$(in_ns sfc cat /proc/sys/net/ipv6/conf/all/forwarding)" 1 "ipv6 forwarding on in the sfc node"

# The veth settings XDP needs (see scripts/lab.sh).
feature() { in_ns "$1" ethtool -k "$2" | sed -nE "s/^$3: (on|off).*/\1/p"; }
is "$(feature sfc "$SFC_IN" generic-receive-offload)" on "gro on sfc-in"
is "$(feature sfc "$SFC_OUT" generic-receive-offload)" on "gro on sfc-out"
is "$(feature client "$CLIENT_IF" generic-receive-offload)" on "gro on client $CLIENT_IF"
is "$(feature server "$SERVER_IF" generic-receive-offload)" on "gro on server $SERVER_IF"
is "$(feature client "$CLIENT_IF" tx-checksumming)" off "tx checksum offload off on client"
is "$(feature server "$SERVER_IF" tx-checksumming)" off "tx checksum offload off on server"

# Every datagram arrives, once, in order: the baseline the chain tests
# compare against.
for dst in "$SERVER4" "$SERVER6"; do
	if ! seqgen_recv_start server 5001 --expect 1000 --timeout 2; then
		fail "seqgen receiver for $dst"
		continue
	fi
	check "seqgen sends 1000 to $dst" in_ns client "$SEQGEN" send --dst "$dst" --port 5001 \
		--count 1000 --rate 20000 --size 256
	seqgen_recv_wait
	res=$SEQ_RESULT
	echo "    seqgen $dst: $res"
	is "$(json_num "$res" received)" 1000 "seqgen $dst: 1000 received"
	is "$(json_num "$res" lost)" 0 "seqgen $dst: 0 lost"
	is "$(json_num "$res" duplicates)" 0 "seqgen $dst: 0 duplicates"
done

check_fails "second up with the same prefix is refused" bash "$LAB_SH" up --prefix "$LAB_PREFIX"
check "lab still up after the refused up" bash "$LAB_SH" status --prefix "$LAB_PREFIX"

check "lab down" lab_down
left=$(ip netns list | awk '{print $1}' | grep -F -- "$LAB_PREFIX" || true)
is "$left" "" "no namespace with prefix $LAB_PREFIX left"
check "lab down again is safe" bash "$LAB_SH" down --prefix "$LAB_PREFIX"
check_fails "status reports down" bash "$LAB_SH" status --prefix "$LAB_PREFIX"

done_testing
