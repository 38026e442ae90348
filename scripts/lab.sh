#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# lab.sh - a three-namespace lab for running sfc chains on veth pairs.
#
#   lab.sh up     [--prefix P] [--backends N]   build the lab and print its topology
#   lab.sh down   [--prefix P]   remove it, backends too (safe to run twice)
#   lab.sh status [--prefix P]   show it; exit 0 when up, 1 when not (fully) up
#
#   ${P}client              ${P}sfc                          ${P}server
#   eth0 10.10.1.1/24 ---- sfc-in  10.10.1.254/24
#        fd00:10:1::1/64           fd00:10:1::fe/64
#                                  sfc-out 10.10.2.254/24 ---- eth0 10.10.2.1/24
#                                          fd00:10:2::fe/64         fd00:10:2::1/64
#
# P defaults to "sfc-". Client and server route everything via the sfc node,
# which forwards IPv4 and IPv6; attach a chain there with
#   sfcctl -n ${P}sfc apply chain.yaml
#
# --backends N (1..32; default 0, the lab above) puts a switch between
# sfc-out and the server, for a load balancer's backends: namespace ${P}br
# holds bridge br0 with one veth port per host (sfc, server, b1 .. bN, no
# addresses), and backend K gets a namespace of its own, ${P}bK, with eth0
# at 10.10.2.(10+K)/24 and fd00:10:2::(10+K)/64 (b1: 10.10.2.11,
# fd00:10:2::11) and default routes via the sfc node, so that its replies
# go back through the chain:
#
#   sfc-out ---- sfc [${P}br br0] server ---- eth0 ${P}server
#                           b1 .. bN ---- eth0 ${P}b1 .. ${P}bN
#
# Commands in a namespace go through nsenter --net=/run/netns/NAME, never
# `ip netns exec`: that one also unshares the mount namespace and remounts
# /sys, which hides /sys/fs/bpf, so sfcctl would see no pinned chains (and
# pin new ones where nobody else can find them). One style everywhere, even
# for commands that would not care:
#   nsenter --net=/run/netns/sfc-client ping 10.10.2.1
set -euo pipefail

prog=${0##*/}
prefix=sfc-

# Addresses; tests (tests/integration/lib.sh) use the same values.
CLIENT_IF=eth0
SERVER_IF=eth0
SFC_IN=sfc-in
SFC_OUT=sfc-out
CLIENT4=10.10.1.1/24 SFC_IN4=10.10.1.254/24
SFC_OUT4=10.10.2.254/24 SERVER4=10.10.2.1/24
CLIENT6=fd00:10:1::1/64 SFC_IN6=fd00:10:1::fe/64
SFC_OUT6=fd00:10:2::fe/64 SERVER6=fd00:10:2::1/64
BACKEND_IF=eth0
BACKENDS_MAX=32
# backend_addr4 K / backend_addr6 K: backend K's addresses (1-based).
backend_addr4() { echo "10.10.2.$((10 + $1))/24"; }
backend_addr6() { echo "fd00:10:2::$((10 + $1))/64"; }
backends=0

err() { printf '%s: error: %s\n' "$prog" "$*" >&2; }
usage() {
	printf 'usage: %s {up|down|status} [--prefix PREFIX] [--backends N]\n' "$prog" >&2
	exit 2
}

# ns NAME CMD...: run CMD in the network namespace NAME only (see above).
ns() {
	local n=$1
	shift
	nsenter --net="/run/netns/$n" "$@"
}

ns_exists() { [ -e "/run/netns/$1" ]; }

# sysctl_ns NAME KEY VALUE: /proc/sys/net is resolved in the writer's netns.
sysctl_ns() {
	local key=${2//.//}
	ns "$1" sh -c "echo $3 > /proc/sys/$key"
}

lab_names() {
	NS_CLIENT=${prefix}client
	NS_SFC=${prefix}sfc
	NS_SERVER=${prefix}server
	NS_BR=${prefix}br
}

# ns_backend K: backend K's namespace.
ns_backend() { echo "${prefix}b$1"; }

# The backend namespaces that exist, in order: down and status do not know
# the N the lab was built with. Only exact ${P}b<digits> names: a lab with
# the prefix "${P}b1-" is another lab.
backends_present() {
	local f n
	for f in /run/netns/"${prefix}"b[0-9]*; do
		n=${f#/run/netns/}
		if [[ ${n#"$prefix"} =~ ^b[0-9]+$ ]]; then
			echo "$n"
		fi
	done | sort -V
}

lab_down() {
	local n rc=0
	# shellcheck disable=SC2046 # names: one word each
	for n in "$NS_CLIENT" "$NS_SFC" "$NS_SERVER" "$NS_BR" $(backends_present); do
		# Deleting a namespace destroys its veth ends, their peers and any
		# XDP program attached to them (pins in bpffs stay: sfcctl delete).
		if ns_exists "$n"; then
			ip netns delete "$n" || rc=1
		fi
	done
	return $rc
}

# A veth's carrier comes up through linkwatch, which may defer the event by up
# to a second; until then the device transmits into noop_qdisc and drops. The
# first ARP/ND of a test would be lost and retried a second later, so return
# only when every end is operationally up (bounded: 5 s).
wait_oper_up() {
	local n dev state k ends=("$NS_CLIENT:$CLIENT_IF" "$NS_SFC:$SFC_IN" "$NS_SFC:$SFC_OUT"
		"$NS_SERVER:$SERVER_IF")
	if [ "$backends" -gt 0 ]; then
		ends+=("$NS_BR:br0" "$NS_BR:sfc" "$NS_BR:server")
		for ((k = 1; k <= backends; k++)); do
			ends+=("$NS_BR:b$k" "$(ns_backend $k):$BACKEND_IF")
		done
	fi
	for _ in $(seq 50); do
		state=ok
		for n in "${ends[@]}"; do
			dev=${n#*:}
			# Not /sys/class/net: under nsenter --net, /sys is still the host's.
			if [ "$(ns "${n%%:*}" ip -br link show dev "$dev" | awk '{print $2}')" != UP ]; then
				state="wait"
				break
			fi
		done
		[ $state = ok ] && return 0
		sleep 0.1
	done
	err "interfaces not operationally up after 5 s"
	return 1
}

lab_up() {
	local n k have6=1 names=("$NS_CLIENT" "$NS_SFC" "$NS_SERVER")

	if [ "$backends" -gt 0 ]; then
		names+=("$NS_BR")
		for ((k = 1; k <= backends; k++)); do
			names+=("$(ns_backend $k)")
		done
	fi
	for n in "${names[@]}"; do
		if ns_exists "$n"; then
			err "namespace $n exists: lab with prefix '$prefix' is already up (run: $prog down --prefix $prefix)"
			exit 1
		fi
	done
	[ -d /proc/sys/net/ipv6 ] || have6=0

	# A half-built lab is worse than none. (EXIT, not ERR: ERR traps are
	# not inherited by the functions where most commands fail.)
	trap 'rc=$?; if [ $rc != 0 ]; then err "up failed; removing what was built"; lab_down || true; fi' EXIT

	for n in "${names[@]}"; do
		ip netns add "$n"
		ns "$n" ip link set dev lo up
		if [ $have6 = 1 ] && [ "$n" = "$NS_BR" ]; then
			# The switch has no addresses: no link-local ones, no MLD or
			# router solicitations of its own on the backends' segment.
			sysctl_ns "$n" net.ipv6.conf.default.disable_ipv6 1
			sysctl_ns "$n" net.ipv6.conf.all.disable_ipv6 1
		elif [ $have6 = 1 ]; then
			# Before the veths exist, so their link-local addresses skip
			# DAD too: nothing waits for an address to leave "tentative".
			sysctl_ns "$n" net.ipv6.conf.default.accept_dad 0
			sysctl_ns "$n" net.ipv6.conf.all.accept_dad 0
		fi
	done

	# Each pair is created with both ends already in their namespaces, so
	# the fixed names never meet in the host namespace and labs with
	# different prefixes can coexist.
	ip link add "$SFC_IN" netns "$NS_SFC" type veth peer name "$CLIENT_IF" netns "$NS_CLIENT"
	if [ "$backends" = 0 ]; then
		ip link add "$SFC_OUT" netns "$NS_SFC" type veth peer name "$SERVER_IF" netns "$NS_SERVER"
	else
		# The switch: a port per host. No STP (ports forward as soon as
		# they are up) and no multicast snooping (no querier here: ND
		# and MLD are simply flooded).
		ip link add "$SFC_OUT" netns "$NS_SFC" type veth peer name sfc netns "$NS_BR"
		ip link add server netns "$NS_BR" type veth peer name "$SERVER_IF" netns "$NS_SERVER"
		for ((k = 1; k <= backends; k++)); do
			ip link add "b$k" netns "$NS_BR" type veth \
				peer name "$BACKEND_IF" netns "$(ns_backend $k)"
		done
		ns "$NS_BR" ip link add br0 type bridge stp_state 0 mcast_snooping 0
		for n in sfc server $(seq -f 'b%g' 1 "$backends"); do
			ns "$NS_BR" ip link set dev "$n" master br0 up
		done
		# Recorded for status, which cannot tell a backend whose namespace
		# was deleted (its port went with it) from one never built.
		ns "$NS_BR" ip link set dev br0 alias "sfc-lab backends $backends"
		ns "$NS_BR" ip link set dev br0 up
	fi

	# XDP on veth, three pitfalls:
	#  1. Native XDP on a veth turns off TSO (GSO_SOFTWARE) on its peer:
	#     the XDP program could not handle the super-packets. On Linux 6.18
	#     that happens with GRO on or off on the XDP side (older kernels
	#     kept the peer's TSO when GRO was on). GRO on for sfc-in and
	#     sfc-out merges again what a chain passes to the stack.
	#  2. XDP_REDIRECT into a veth (ndo_xdp_xmit) delivers to the peer's
	#     NAPI, which exists only when the peer has GRO on or an XDP program
	#     of its own; without it redirected frames are dropped. GRO on for
	#     the client and server ends too (they receive what sfc redirects),
	#     and with backends for the switch's sfc port, sfc-out's peer.
	#  3. An xdp_frame carries no checksum state, so a CHECKSUM_PARTIAL
	#     packet that is redirected leaves with its checksum never filled in
	#     and the receiver drops it. Senders compute checksums themselves:
	#     tx checksum offload off on the client, server and backend ends.
	# (ethtool -K reports "Actual changes" on stdout; errors go to stderr.)
	ns "$NS_SFC" ethtool -K "$SFC_IN" gro on >/dev/null
	ns "$NS_SFC" ethtool -K "$SFC_OUT" gro on >/dev/null
	ns "$NS_CLIENT" ethtool -K "$CLIENT_IF" gro on tx off >/dev/null
	ns "$NS_SERVER" ethtool -K "$SERVER_IF" gro on tx off >/dev/null
	if [ "$backends" -gt 0 ]; then
		ns "$NS_BR" ethtool -K sfc gro on >/dev/null
		for ((k = 1; k <= backends; k++)); do
			ns "$(ns_backend $k)" ethtool -K "$BACKEND_IF" gro on tx off >/dev/null
		done
	fi

	ns "$NS_CLIENT" ip addr add "$CLIENT4" dev "$CLIENT_IF"
	ns "$NS_SFC" ip addr add "$SFC_IN4" dev "$SFC_IN"
	ns "$NS_SFC" ip addr add "$SFC_OUT4" dev "$SFC_OUT"
	ns "$NS_SERVER" ip addr add "$SERVER4" dev "$SERVER_IF"
	for ((k = 1; k <= backends; k++)); do
		ns "$(ns_backend $k)" ip addr add "$(backend_addr4 $k)" dev "$BACKEND_IF"
	done
	if [ $have6 = 1 ]; then
		ns "$NS_CLIENT" ip addr add "$CLIENT6" dev "$CLIENT_IF" nodad
		ns "$NS_SFC" ip addr add "$SFC_IN6" dev "$SFC_IN" nodad
		ns "$NS_SFC" ip addr add "$SFC_OUT6" dev "$SFC_OUT" nodad
		ns "$NS_SERVER" ip addr add "$SERVER6" dev "$SERVER_IF" nodad
		for ((k = 1; k <= backends; k++)); do
			ns "$(ns_backend $k)" ip addr add "$(backend_addr6 $k)" dev "$BACKEND_IF" nodad
		done
	fi

	ns "$NS_CLIENT" ip link set dev "$CLIENT_IF" up
	ns "$NS_SFC" ip link set dev "$SFC_IN" up
	ns "$NS_SFC" ip link set dev "$SFC_OUT" up
	ns "$NS_SERVER" ip link set dev "$SERVER_IF" up
	for ((k = 1; k <= backends; k++)); do
		ns "$(ns_backend $k)" ip link set dev "$BACKEND_IF" up
	done

	# Backends route via the sfc node like the server: a load balancer's
	# nat replies have to go back through the chain.
	ns "$NS_CLIENT" ip route add default via "${SFC_IN4%/*}"
	ns "$NS_SERVER" ip route add default via "${SFC_OUT4%/*}"
	for ((k = 1; k <= backends; k++)); do
		ns "$(ns_backend $k)" ip route add default via "${SFC_OUT4%/*}"
	done
	sysctl_ns "$NS_SFC" net.ipv4.ip_forward 1
	if [ $have6 = 1 ]; then
		ns "$NS_CLIENT" ip -6 route add default via "${SFC_IN6%/*}"
		ns "$NS_SERVER" ip -6 route add default via "${SFC_OUT6%/*}"
		for ((k = 1; k <= backends; k++)); do
			ns "$(ns_backend $k)" ip -6 route add default via "${SFC_OUT6%/*}"
		done
		sysctl_ns "$NS_SFC" net.ipv6.conf.all.forwarding 1
	fi
	wait_oper_up
	trap - EXIT

	echo "lab '$prefix' up:"
	echo "  $NS_CLIENT $CLIENT_IF $CLIENT4 $CLIENT6"
	echo "    <-> $NS_SFC $SFC_IN $SFC_IN4 $SFC_IN6"
	echo "  $NS_SFC $SFC_OUT $SFC_OUT4 $SFC_OUT6"
	if [ "$backends" = 0 ]; then
		echo "    <-> $NS_SERVER $SERVER_IF $SERVER4 $SERVER6"
		echo "  routes: $NS_CLIENT and $NS_SERVER default via $NS_SFC (forwarding on)"
	else
		echo "    <-> $NS_BR br0 (ports sfc server b1..b$backends)"
		echo "    <-> $NS_SERVER $SERVER_IF $SERVER4 $SERVER6"
		for ((k = 1; k <= backends; k++)); do
			echo "    <-> $(ns_backend $k) $BACKEND_IF $(backend_addr4 $k) $(backend_addr6 $k)"
		done
		echo "  routes: $NS_CLIENT, $NS_SERVER and the backends default via $NS_SFC (forwarding on)"
	fi
	[ $have6 = 1 ] || echo "  (no IPv6 on this host: IPv4 only)"
	echo "  attach: sfcctl -n $NS_SFC apply CHAIN.yaml   (interfaces $SFC_IN, $SFC_OUT)"
	echo "  run:    nsenter --net=/run/netns/$NS_CLIENT ping ${SERVER4%/*}"
}

lab_status() {
	local n dev up=0 xdp mode link k want=0 names=("$NS_CLIENT" "$NS_SFC" "$NS_SERVER") present
	# With backends, the switch and the backends it was built for (or the
	# backend namespaces left, for a lab half removed).
	present=$(backends_present | wc -l)
	if ns_exists "$NS_BR" || [ "$present" -gt 0 ]; then
		if ns_exists "$NS_BR"; then
			want=$(ns "$NS_BR" ip link show dev br0 2>/dev/null |
				sed -n 's/.*alias sfc-lab backends \([0-9]*\).*/\1/p')
		fi
		names+=("$NS_BR")
		for ((k = 1; k <= (${want:-0} > present ? ${want:-0} : present); k++)); do
			names+=("$(ns_backend $k)")
		done
	fi
	for n in "${names[@]}"; do
		if ! ns_exists "$n"; then
			echo "$n: absent"
			continue
		fi
		up=$((up + 1))
		echo "$n:"
		for dev in $(ns "$n" ip -o link show type veth | sed -E 's/^[0-9]+: ([^@:]+).*/\1/') \
			$(ns "$n" ip -o link show type bridge | sed -E 's/^[0-9]+: ([^@:]+).*/\1/'); do
			# With XDP attached, `ip link` names the mode after the MTU
			# (xdp = native, xdpgeneric, xdpoffload, xdpmulti) and lists
			# "prog/xdp id N" on a line of its own.
			# A device can vanish meanwhile (its peer's namespace deleted).
			link=$(ns "$n" ip link show dev "$dev" 2>/dev/null) || continue
			xdp=$(grep -oE "prog/xdp id [0-9]+" <<<"$link" | tr "\n" " " || true)
			mode=$(grep -oE " (xdp|xdpgeneric|xdpoffload|xdpmulti) " <<<"$link" | head -n 1 | tr -d " " || true)
			xdp=${xdp:+$mode: ${xdp% }}
			printf '  %-8s %s%s\n' "$dev" \
				"$(ns "$n" ip -br addr show dev "$dev" 2>/dev/null | awk '{$1=""; print substr($0,2)}' |
					sed -E 's/ +/ /g')" "${xdp:+  [$xdp]}"
		done
	done
	if [ $up = ${#names[@]} ]; then
		echo "lab '$prefix': up$([ $up = 3 ] || echo ", $((up - 4)) backends")"
		return 0
	fi
	echo "lab '$prefix': $([ $up = 0 ] && echo down || echo "partial ($up/${#names[@]} namespaces)")"
	return 1
}

[ $# -ge 1 ] || usage
cmd=$1
shift
while [ $# -gt 0 ]; do
	case $1 in
	--prefix)
		[ $# -ge 2 ] || usage
		prefix=$2
		shift
		;;
	--prefix=*) prefix=${1#--prefix=} ;;
	--backends)
		[ $# -ge 2 ] || usage
		backends=$2
		shift
		;;
	--backends=*) backends=${1#--backends=} ;;
	-h | --help)
		sed -n '4,36s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) usage ;;
	esac
	shift
done
# Namespace names become file names under /run/netns.
if ! [[ $prefix =~ ^[A-Za-z0-9._-]{0,32}$ ]]; then
	err "bad prefix '$prefix' (up to 32 of A-Z a-z 0-9 . _ -)"
	exit 2
fi
if ! [[ $backends =~ ^[0-9]+$ ]] || [ "$backends" -gt $BACKENDS_MAX ]; then
	err "bad --backends '$backends' (0 to $BACKENDS_MAX)"
	exit 2
fi
lab_names

case $cmd in
up | down)
	if [ "$(id -u)" != 0 ]; then
		err "must be root"
		exit 1
	fi
	"lab_$cmd"
	;;
status) lab_status ;;
-h | --help | help) sed -n '4,36s/^# \{0,1\}//p' "$0" ;;
*) usage ;;
esac
