#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The firewall function decides like iptables: fw_equiv.py draws randomized
# rule sets and packets, runs every frame once through the chain's firewall
# (its pinned root_fwd under BPF_PROG_TEST_RUN, with xdp_verdict) and once
# through iptables/ip6tables with the same rules translated (real frames
# through a router namespace), and compares every verdict.
#
#   client eth0 ---- sfc-in  [sfc: forwards; iptables FORWARD] sfc-out ---- eth0 server
#   (AF_PACKET sends)        fw-in: the chain (no traffic)              (AF_PACKET captures)
#
# The lab of lib.sh, re-addressed: nothing may drop a frame but the rules.
# The router's own addresses (100.64.0.0/29) are outside every range the
# rounds draw from (private and documentation ranges); its default routes
# lead out of sfc-out to a permanent neighbour, the server's MAC, so no
# ARP/ND is ever waited for; rp_filter is off; GRO is off (no merging);
# client and server have no addresses and stay quiet.
#
# iptables backend: iptables-legacy (x_tables) by default, the reference:
# its tcp, udp, multiport and icmp matches never match a later fragment, as
# iptables(8) says. iptables-nft (Debian's default alternative) compiles
# --dport, --tcp-flags and --icmp-type into native nftables expressions that
# on this kernel (6.18) read a later fragment's payload, or for IPv6 its
# IPv6 header, as the L4 header; with FW_EQUIV_IPTABLES=nft (used when
# legacy is missing) fw_equiv.py excludes later fragments explicitly. The
# rules use no conntrack match, so the router never defragments or tracks;
# fw_equiv.py checks that conntrack counted nothing there.
#
# Environment: SEED (default 1; printed), FW_EQUIV_ROUNDS (rule sets, 60),
# FW_EQUIV_PACKETS (per rule set, 200), FW_EQUIV_IPTABLES (nft | legacy),
# FW_EQUIV_SETS (auto | ipset | expand: one iptables rule per set member),
# FW_EQUIV_BPF (auto | firewall | passthrough: a passthrough chain and
# iptables checked against fw_equiv.py's model, to test the harness itself),
# FW_EQUIV_KEEP (a directory to keep chain files and frames in), XDP_VERDICT.
# One round again: SEED=S FW_EQUIV_ONLY=K.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl

XDP_VERDICT=${XDP_VERDICT:-$SFC_SRC_DIR/build/tests/integration/xdp_verdict}
[ -x "$XDP_VERDICT" ] || {
	echo "FAIL - xdp_verdict not found at $XDP_VERDICT (build first, or set XDP_VERDICT)"
	exit 1
}
SEED=${SEED:-1}
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
command -v ipset >/dev/null 2>&1 || skip "ipset not installed (apt-get install ipset)"
bpf=${FW_EQUIV_BPF:-auto}
if [ "$bpf" = auto ]; then
	# `sfcctl help` lists the function types it knows.
	"$SFCCTL" help 2>&1 | grep -qE '^[[:space:]]+firewall[[:space:]]' ||
		skip "sfcctl has no firewall function type (FW_EQUIV_BPF=passthrough tests the harness)"
	bpf=firewall
fi

CHAIN=${LAB_PREFIX%-}-fweq
ROUTER_IN4=100.64.0.1/30 ROUTER_OUT4=100.64.0.5/30 NEXTHOP4=100.64.0.6 NEXTHOP6=fe80::ff

lab_up >/dev/null
# Under nsenter --net, /sys is still the host's: ask ip.
server_mac=$(in_ns server ip -br link show dev "$SERVER_IF" | awk '{print $3}')

# shellcheck disable=SC2317 # called through check
readdress() {
	local n ns dev k
	[[ $server_mac =~ ^([0-9a-f]{2}:){5}[0-9a-f]{2}$ ]] || return 1
	# Client and server: no addresses, no IPv6, so nothing of their own.
	for n in "client:$CLIENT_IF" "server:$SERVER_IF"; do
		ns=${n%%:*} dev=${n#*:}
		in_ns "$ns" ip -4 addr flush dev "$dev" &&
			in_ns "$ns" sh -c "echo 1 > /proc/sys/net/ipv6/conf/$dev/disable_ipv6" &&
			in_ns "$ns" ethtool -K "$dev" gro off >/dev/null || return 1
	done
	for dev in "$SFC_IN" "$SFC_OUT"; do
		in_ns sfc ip -4 addr flush dev "$dev" &&
			in_ns sfc ip -6 addr flush dev "$dev" scope global &&
			in_ns sfc ethtool -K "$dev" gro off >/dev/null &&
			in_ns sfc sh -c "echo 0 > /proc/sys/net/ipv4/conf/$dev/rp_filter" || return 1
	done
	for k in all default; do
		in_ns sfc sh -c "echo 0 > /proc/sys/net/ipv4/conf/$k/rp_filter" || return 1
	done
	in_ns sfc ip addr add "$ROUTER_IN4" dev "$SFC_IN" &&
		in_ns sfc ip addr add "$ROUTER_OUT4" dev "$SFC_OUT" &&
		in_ns sfc ip neigh replace "$NEXTHOP4" lladdr "$server_mac" dev "$SFC_OUT" nud permanent &&
		in_ns sfc ip route replace default via "$NEXTHOP4" dev "$SFC_OUT" &&
		in_ns sfc ip -6 neigh replace "$NEXTHOP6" lladdr "$server_mac" dev "$SFC_OUT" nud permanent &&
		in_ns sfc ip -6 route replace default via "$NEXTHOP6" dev "$SFC_OUT" &&
		[ "$(in_ns sfc cat /proc/sys/net/ipv4/ip_forward)" = 1 ] &&
		[ "$(in_ns sfc cat /proc/sys/net/ipv6/conf/all/forwarding)" = 1 ] &&
		# The chain's own veth: attached, never carries a frame.
		in_ns sfc ip link add fw-in type veth peer name fw-peer &&
		in_ns sfc ip link set fw-in up &&
		in_ns sfc ip link set fw-peer up
}
check "lab re-addressed (forwarding, permanent next hops, rp_filter off)" readdress || exit 1

# iptables-legacy unless told otherwise or missing; tried in the router.
ipt_works() {
	local c
	for c in "iptables-$1-restore" "iptables-$1-save" "ip6tables-$1-restore" "ip6tables-$1-save"; do
		command -v "$c" >/dev/null 2>&1 || return 1
	done
	in_ns sfc "iptables-$1" -S FORWARD >/dev/null 2>&1 &&
		in_ns sfc "ip6tables-$1" -S FORWARD >/dev/null 2>&1
}
ipt=${FW_EQUIV_IPTABLES:-}
if [ -z "$ipt" ]; then
	ipt=legacy
	ipt_works legacy || ipt=nft
fi
ipt_works "$ipt" || skip "iptables-$ipt missing or not working in a netns (apt-get install iptables)"

track_chain "$CHAIN"
args=(run --seed "$SEED" --rounds "${FW_EQUIV_ROUNDS:-60}" --packets "${FW_EQUIV_PACKETS:-200}"
	--sfcctl "$SFCCTL" --xdp-verdict "$XDP_VERDICT" --chain "$CHAIN" --bpf "$bpf"
	--fw-netns "$NS_SFC" --fw-if fw-in
	--router "$NS_SFC" --router-in "$SFC_IN"
	--sender "$NS_CLIENT" --sender-if "$CLIENT_IF"
	--receiver "$NS_SERVER" --receiver-if "$SERVER_IF"
	--iptables "$ipt" --sets "${FW_EQUIV_SETS:-auto}" --tmp "$TEST_TMP")
[ -n "${FW_EQUIV_ONLY:-}" ] && args+=(--only "$FW_EQUIV_ONLY")
[ -n "${FW_EQUIV_KEEP:-}" ] && args+=(--keep "$FW_EQUIV_KEEP")
# In the background: a TERM or INT trap runs now, not when python is done.
python3 "$(dirname "$0")/fw_equiv.py" "${args[@]}" &
wait $!
is "$?" 0 "$bpf and iptables-$ipt agree on every packet (SEED=$SEED)"

done_testing
