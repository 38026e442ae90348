#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh - set up, build, and run chains/demo.yaml on real traffic.
#
# Steps: scripts/setup.sh (Debian packages, bpffs), scripts/build.sh (into
# $BUILD_DIR, default ./build), `scripts/lab.sh up --prefix demo-`, then
#   sfcctl -n demo-sfc apply chains/demo.yaml
#   sfcctl status demo
#   ping client <-> server, IPv4 and IPv6, both ways
#   iperf3 TCP client -> server for 5 s (when iperf3 is installed)
#   sfcctl stats demo
# and the teardown: `sfcctl delete demo`, `scripts/lab.sh down`. The teardown
# runs on every exit, failure and Ctrl-C included. A lab left up by an earlier
# run with the same prefix is removed first.
#
# sfcctl runs on the host with -n, never under `ip netns exec`: that command
# remounts /sys in a private mount namespace, which hides /sys/fs/bpf.
#
# Environment: BUILD_DIR, JOBS (see build.sh), IPERF_SECONDS (default 5),
# SFC_SKIP_BUILD=1 to use an existing build as it is.
#
# Exit status: 0 when every step passed, 1 when one failed (the output says
# which), 2 usage.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
export BUILD_DIR=$build_dir

PREFIX=demo-
NS_CLIENT=${PREFIX}client
NS_SFC=${PREFIX}sfc
NS_SERVER=${PREFIX}server
CHAIN_FILE=$root/chains/demo.yaml
CHAIN=demo
SFCCTL=$build_dir/loader/sfcctl
LAB=$root/scripts/lab.sh
# The lab's addresses (scripts/lab.sh).
CLIENT4=10.10.1.1 SERVER4=10.10.2.1
CLIENT6=fd00:10:1::1 SERVER6=fd00:10:2::1
IPERF_SECONDS=${IPERF_SECONDS:-5}

prog=${0##*/}
step_name=""
lab_up=0
chain_applied=0
iperf_pid=""

case ${1:-} in
"") ;;
-h | --help)
	sed -n '4,24s/^# \{0,1\}//p' "$0"
	exit 0
	;;
*)
	printf 'usage: %s [-h]\n' "$prog" >&2
	exit 2
	;;
esac

section() {
	step_name=$*
	printf '\n==> %s\n' "$*"
}

die() {
	printf '%s: error: %s\n' "$prog" "$*" >&2
	exit 1
}

# in_ns NAME CMD...: CMD in the network namespace NAME only (as lab.sh does).
in_ns() {
	local n=$1
	shift
	nsenter --net="/run/netns/$n" "$@"
}

teardown() {
	local rc=$?

	set +e
	trap - EXIT INT TERM
	if [ "$rc" != 0 ] && [ -n "$step_name" ]; then
		printf '\n%s: FAILED during: %s (exit %s)\n' "$prog" "$step_name" "$rc" >&2
	fi
	if [ -n "$iperf_pid" ]; then
		kill "$iperf_pid" 2>/dev/null
		wait "$iperf_pid" 2>/dev/null
	fi
	if [ $chain_applied = 1 ] || [ $lab_up = 1 ]; then
		section "teardown"
	fi
	if [ $chain_applied = 1 ]; then
		echo "+ sfcctl delete $CHAIN"
		"$SFCCTL" delete "$CHAIN" || rc=1
	fi
	if [ $lab_up = 1 ]; then
		echo "+ scripts/lab.sh down --prefix $PREFIX"
		bash "$LAB" down --prefix "$PREFIX" || rc=1
	fi
	if [ "$rc" = 0 ]; then
		printf '\n%s: all steps passed\n' "$prog"
	fi
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $IPERF_SECONDS =~ ^[1-9][0-9]*$ ]] || die "IPERF_SECONDS must be a positive integer, not '$IPERF_SECONDS'"
[ "$(id -u)" = 0 ] || die "must be root (XDP, bpffs, network namespaces)"

section "setup: scripts/setup.sh"
bash "$root/scripts/setup.sh"

section "build: scripts/build.sh (into $build_dir)"
if [ "${SFC_SKIP_BUILD:-0}" = 1 ]; then
	echo "SFC_SKIP_BUILD=1: using the existing build"
else
	SFC_SKIP_SETUP=1 bash "$root/scripts/build.sh"
fi
[ -x "$SFCCTL" ] || die "no sfcctl at $SFCCTL"
"$SFCCTL" version

section "lab: scripts/lab.sh up --prefix $PREFIX"
# A chain named demo that an earlier run left: remove it if it is ours (its
# interfaces are in $NS_SFC), refuse to touch anyone else's.
if "$SFCCTL" -j status "$CHAIN" >/dev/null 2>&1; then
	if "$SFCCTL" -j status "$CHAIN" | grep -q "\"netns\": *\"$NS_SFC\""; then
		echo "chain $CHAIN left by an earlier demo: deleting it"
		"$SFCCTL" delete "$CHAIN"
	else
		die "a chain named $CHAIN already runs outside $NS_SFC; delete it first (sfcctl delete $CHAIN)"
	fi
fi
if [ -e "/run/netns/$NS_CLIENT" ] || [ -e "/run/netns/$NS_SFC" ] ||
	[ -e "/run/netns/$NS_SERVER" ]; then
	echo "lab '$PREFIX' left by an earlier run: tearing it down first"
	bash "$LAB" down --prefix "$PREFIX"
fi
lab_up=1
bash "$LAB" up --prefix "$PREFIX"

section "apply: sfcctl -n $NS_SFC apply chains/demo.yaml"
"$SFCCTL" validate "$CHAIN_FILE"
chain_applied=1
"$SFCCTL" -n "$NS_SFC" apply "$CHAIN_FILE"

section "status: sfcctl status $CHAIN"
"$SFCCTL" status "$CHAIN"

section "traffic: ping through the chain, IPv4 and IPv6, both ways"
for pair in "$NS_CLIENT:$SERVER4" "$NS_SERVER:$CLIENT4" "$NS_CLIENT:$SERVER6" "$NS_SERVER:$CLIENT6"; do
	from=${pair%%:*} to=${pair#*:}
	echo "+ $from: ping -c 3 $to"
	in_ns "$from" ping -c 3 -i 0.2 -W 2 "$to" | tail -n 2
done

if command -v iperf3 >/dev/null 2>&1; then
	section "traffic: iperf3 TCP $NS_CLIENT -> $NS_SERVER, ${IPERF_SECONDS} s"
	# nsenter execs iperf3 itself, so $! is the server's pid.
	in_ns "$NS_SERVER" iperf3 -s -1 -B "$SERVER4" >/dev/null &
	iperf_pid=$!
	for _ in $(seq 50); do
		in_ns "$NS_SERVER" ss -Hltn "sport = :5201" | grep -q . && break
		sleep 0.1
	done
	# A command substitution, not a redirection of in_ns: a function's
	# redirection is still in force when a Ctrl-C trap runs inside it, and
	# the teardown's output would go to the file.
	if ! iperf_out=$(in_ns "$NS_CLIENT" timeout $((IPERF_SECONDS + 30)) \
		iperf3 -c "$SERVER4" -t "$IPERF_SECONDS" -f m 2>&1); then
		printf '%s\n' "$iperf_out"
		die "iperf3 failed"
	fi
	# The summary: the header and the sender and receiver lines.
	printf '%s\n' "$iperf_out" | grep -E -- '- - -|Interval|sender|receiver' | tail -n 4
	wait "$iperf_pid" || true
	iperf_pid=""
else
	section "traffic: iperf3 not installed, skipping the TCP run"
fi

section "stats: sfcctl stats $CHAIN"
"$SFCCTL" stats "$CHAIN"
# The packets above must have been forwarded by the XDP egress, not by the
# kernel's stack: egress forwarded > 0 in both directions.
fwd=$("$SFCCTL" -j stats "$CHAIN" | tr -d ' \n' |
	grep -oE '"name":"egress"[^]]*' | grep -oE '"forwarded":[0-9]+' | cut -d: -f2 | tr '\n' ' ')
read -r fwd_f fwd_r _ <<<"$fwd" || true
echo "egress forwarded: forward ${fwd_f:-?}, reverse ${fwd_r:-?}"
if [ "${fwd_f:-0}" -eq 0 ] || [ "${fwd_r:-0}" -eq 0 ]; then
	die "the chain's egress forwarded nothing in one direction: traffic bypassed XDP"
fi

section "delete: sfcctl delete $CHAIN"
"$SFCCTL" delete "$CHAIN"
chain_applied=0
[ ! -e "/sys/fs/bpf/sfc/$CHAIN" ] || die "/sys/fs/bpf/sfc/$CHAIN still exists after delete"
echo "chain $CHAIN deleted: nothing left under /sys/fs/bpf/sfc/$CHAIN"

section "lab: scripts/lab.sh down --prefix $PREFIX"
bash "$LAB" down --prefix "$PREFIX"
lab_up=0
step_name=""
