# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# shellcheck disable=SC2034 # the lab names and addresses are for the tests
#
# Helpers for the integration tests; source it first thing:
#
#	. "$(dirname "$0")/lib.sh"
#	require_root_bpf
#	lab_up
#	sfc_apply "$TEST_TMP/chain.yaml"
#	check "client reaches server" in_ns client ping -c1 -W2 "$SERVER4"
#	done_testing
#
# Each test gets its own lab (namespaces ${LAB_PREFIX}client, ...sfc,
# ...server; LAB_PREFIX is t<pid>- so tests never clash) and its own
# $TEST_TMP. On exit, however the test ends (except SIGKILL, e.g. a ctest
# timeout), the EXIT trap stops the test's background jobs, deletes every
# chain applied through sfc_apply or named to track_chain, removes the lab
# and $TEST_TMP.
#
# Environment (ctest sets the first three): SFCCTL, SEQGEN, SFC_SRC_DIR,
# LAB_PREFIX.
#
# Backends for a load balancer: set LAB_BACKENDS=N (1..32) before lab_up
# and the lab gets N backend namespaces behind a switch on sfc-out
# (scripts/lab.sh --backends N). Backend K is namespace ${LAB_PREFIX}bK
# (in_ns bK ...), at ${BACKEND4[K]} and ${BACKEND6[K]}; the arrays are
# indexed 1..N (0 is unset), filled by lab_up:
#
#	LAB_BACKENDS=3
#	lab_up
#	for k in "${!BACKEND4[@]}"; do in_ns "b$k" ping -c1 "$CLIENT4"; done
#
# Never run sfcctl under `ip netns exec`: it remounts /sys and hides
# /sys/fs/bpf. Use in_ns (nsenter --net) or sfcctl's own -n NETNS.

set -uo pipefail

SFC_SRC_DIR=${SFC_SRC_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SFCCTL=${SFCCTL:-$SFC_SRC_DIR/build/loader/sfcctl}
SEQGEN=${SEQGEN:-$SFC_SRC_DIR/build/tests/integration/seqgen}
LAB_SH=$SFC_SRC_DIR/scripts/lab.sh
LAB_PREFIX=${LAB_PREFIX:-t$$-}
TEST_NAME=$(basename "$0" .sh)

# The lab (scripts/lab.sh holds the same values).
NS_CLIENT=${LAB_PREFIX}client
NS_SFC=${LAB_PREFIX}sfc
NS_SERVER=${LAB_PREFIX}server
CLIENT_IF=eth0
SERVER_IF=eth0
SFC_IN=sfc-in
SFC_OUT=sfc-out
CLIENT4=10.10.1.1 SFC_IN4=10.10.1.254 SFC_OUT4=10.10.2.254 SERVER4=10.10.2.1
CLIENT6=fd00:10:1::1 SFC_IN6=fd00:10:1::fe SFC_OUT6=fd00:10:2::fe SERVER6=fd00:10:2::1
LAB_BACKENDS=${LAB_BACKENDS:-0}
NS_BR=${LAB_PREFIX}br
BACKEND_IF=eth0
NS_BACKEND=() BACKEND4=() BACKEND6=()

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sfc-${TEST_NAME}.XXXXXX")

_passed=0
_failed=0
_lab_is_up=0
_chains=()

# ---- assertions ---------------------------------------------------------

ok() {
	_passed=$((_passed + 1))
	echo "ok - $*"
}

fail() {
	_failed=$((_failed + 1))
	echo "FAIL - $*"
}

# check DESC CMD...: pass when CMD exits 0; on failure show its output.
check() {
	local desc=$1 out=$TEST_TMP/check.out rc
	shift
	"$@" >"$out" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		ok "$desc"
	else
		fail "$desc (exit $rc: $*)"
		sed 's/^/    | /' "$out"
	fi
	return $rc
}

# check_fails DESC CMD...: pass when CMD exits non-zero.
check_fails() {
	local desc=$1 out=$TEST_TMP/check.out
	shift
	if "$@" >"$out" 2>&1; then
		fail "$desc (succeeded, expected failure: $*)"
		sed 's/^/    | /' "$out"
		return 1
	fi
	ok "$desc"
}

# is GOT WANT DESC: string equality.
is() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		fail "$3 (got '$1', want '$2')"
		return 1
	fi
}

# done_testing: the last line of every test; exit 1 when anything failed.
done_testing() {
	echo "$_passed passed, $_failed failed"
	[ "$_failed" = 0 ] || exit 1
	exit 0
}

skip() {
	echo "SKIP: $*"
	exit 77
}

# ---- requirements -------------------------------------------------------

# require_root_bpf: skip (exit 77) unless root with BPF, bpffs and netns.
require_root_bpf() {
	local c caps

	[ "$(id -u)" = 0 ] || skip "needs root (uid is $(id -u))"
	caps=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
	# CAP_SYS_ADMIN (21) covers bpf() and setns() on every kernel we run.
	(((0x$caps >> 21) & 1)) || skip "root without CAP_SYS_ADMIN (CapEff $caps)"
	for c in ip nsenter ethtool bpftool; do
		command -v "$c" >/dev/null 2>&1 || skip "$c not installed (run scripts/setup.sh)"
	done
	[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] ||
		skip "bpffs not mounted at /sys/fs/bpf (run scripts/setup.sh)"
	bpftool prog show >/dev/null 2>&1 || skip "bpf() not permitted here (bpftool prog show failed)"
	ip netns add "${LAB_PREFIX}probe" >/dev/null 2>&1 ||
		skip "cannot create network namespaces"
	ip netns delete "${LAB_PREFIX}probe"
}

# require_sfcctl / require_seqgen: missing binaries are a broken build, not
# a reason to skip.
require_sfcctl() {
	[ -x "$SFCCTL" ] || {
		echo "FAIL - sfcctl not found at $SFCCTL (build first, or set SFCCTL)"
		exit 1
	}
}

require_seqgen() {
	[ -x "$SEQGEN" ] || {
		echo "FAIL - seqgen not found at $SEQGEN (build first, or set SEQGEN)"
		exit 1
	}
}

# ---- lab ----------------------------------------------------------------

# A test killed by SIGKILL (ctest's timeout) cannot clean up: remove the labs
# of tests whose process is gone (t<pid>- prefixes only, pid not running).
_reap_stale_labs() {
	local f pid
	for f in /run/netns/t[0-9]*-sfc; do
		[ -e "$f" ] || continue
		pid=${f#/run/netns/t}
		pid=${pid%%-*}
		[[ $pid =~ ^[0-9]+$ ]] || continue
		[ -d "/proc/$pid" ] && continue
		echo "lab_up: removing stale lab t$pid- (its test is gone)" >&2
		bash "$LAB_SH" down --prefix "t$pid-" >/dev/null 2>&1
	done
}

lab_up() {
	local k args=()
	[[ $LAB_PREFIX == "t$$-" ]] && _reap_stale_labs
	[ "$LAB_BACKENDS" -gt 0 ] && args=(--backends "$LAB_BACKENDS")
	_lab_is_up=1 # even a failed up leaves something for cleanup to remove
	bash "$LAB_SH" up --prefix "$LAB_PREFIX" "${args[@]}" || {
		echo "FAIL - lab up (prefix $LAB_PREFIX${args[*]:+ ${args[*]}})"
		exit 1
	}
	# The same addresses as lab.sh's backend_addr4/6.
	NS_BACKEND=() BACKEND4=() BACKEND6=()
	for ((k = 1; k <= LAB_BACKENDS; k++)); do
		NS_BACKEND[k]=${LAB_PREFIX}b$k
		BACKEND4[k]=10.10.2.$((10 + k))
		BACKEND6[k]=fd00:10:2::$((10 + k))
	done
}

lab_down() {
	bash "$LAB_SH" down --prefix "$LAB_PREFIX" && _lab_is_up=0
}

# in_ns NAME CMD...: run CMD in a namespace of this test's lab (client, sfc,
# server, br, b1 .. bN) or any named netns. nsenter --net changes only the network
# namespace, so /sys/fs/bpf stays visible.
in_ns() {
	local n=$1
	shift
	if [ -e "/run/netns/$LAB_PREFIX$n" ]; then
		n=$LAB_PREFIX$n
	elif [ ! -e "/run/netns/$n" ]; then
		echo "in_ns: no network namespace '$n' or '$LAB_PREFIX$n'" >&2
		return 1
	fi
	nsenter --net="/run/netns/$n" "$@"
}

# ---- chains -------------------------------------------------------------

# track_chain NAME: delete chain NAME on exit.
track_chain() {
	local c
	for c in "${_chains[@]}"; do
		[ "$c" = "$1" ] && return 0
	done
	_chains+=("$1")
}

# chain_name FILE: the chain's name in FILE (its first `name:` key).
chain_name() {
	sed -nE 's/^[[:space:]]*name:[[:space:]]*["'\'']?([A-Za-z0-9_-]+)["'\'']?[[:space:]]*(#.*)?$/\1/p' "$1" |
		head -n 1
}

# sfc_apply FILE [NAME]: apply FILE in the sfc namespace and track the chain
# (NAME, or the one chain_name finds). Returns sfcctl's status.
sfc_apply() {
	local name=${2:-$(chain_name "$1")}
	[ -n "$name" ] && track_chain "$name"
	"$SFCCTL" -n "$NS_SFC" apply "$1"
}

# chain_yaml FILE NAME MODE EGRESS [FUNCTION...]: a chain file on the lab's
# sfc-in with the given xdpMode and egress (a flow mapping) and one
# passthrough function per FUNCTION name (none: an empty list).
chain_yaml() {
	local f=$1 name=$2 mode=$3 egress=$4 fn
	shift 4
	{
		printf 'apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: %s\n' "$name"
		printf 'spec:\n  interface: %s\n  xdpMode: %s\n  egress: %s\n' "$SFC_IN" "$mode" "$egress"
		printf '  functions:\n'
		for fn in "$@"; do
			printf '    - {name: %s, type: passthrough}\n' "$fn"
		done
		[ $# -gt 0 ] || printf '    []\n'
	} >"$f"
}

# chain_stat NAME STAGE DIR FIELD: a counter from `sfcctl -j stats NAME`;
# STAGE or DIR "*" sums over every stage or both directions.
chain_stat() {
	"$SFCCTL" -j stats "$1" | python3 -c '
import json, sys
stage, dirs, field = sys.argv[1:4]
dirs = ("forward", "reverse") if dirs == "*" else (dirs,)
stages = json.load(sys.stdin)["stages"]
print(sum(s[d][field] for s in stages if stage in ("*", s["name"]) for d in dirs))' "$2" "$3" "$4"
}

# ---- traffic ------------------------------------------------------------

# seqgen_recv_start NS PORT [RECV_ARGS...]: start a JSON receiver in NS in the
# background and wait until its socket is bound. Sets SEQ_RECV_PID.
seqgen_recv_start() {
	local ns=$1 port=$2
	shift 2
	rm -f "$TEST_TMP/seqgen.ready"
	in_ns "$ns" "$SEQGEN" recv --port "$port" --ready "$TEST_TMP/seqgen.ready" -j "$@" \
		>"$TEST_TMP/seqgen.json" 2>"$TEST_TMP/seqgen.err" &
	SEQ_RECV_PID=$!
	for _ in $(seq 100); do
		[ -e "$TEST_TMP/seqgen.ready" ] && return 0
		kill -0 "$SEQ_RECV_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "seqgen_recv_start: receiver did not start: $(cat "$TEST_TMP/seqgen.err")" >&2
	return 1
}

# seqgen_recv_wait: wait for the receiver (not in $(...): the receiver is a
# child of this shell only); its JSON line goes to SEQ_RESULT, the status
# (0: nothing lost) is returned.
seqgen_recv_wait() {
	local rc
	wait "$SEQ_RECV_PID"
	rc=$?
	SEQ_RESULT=$(cat "$TEST_TMP/seqgen.json")
	cat "$TEST_TMP/seqgen.err" >&2
	return $rc
}

# json_num JSON KEY: a number (or true/false) from a flat JSON object.
json_num() {
	sed -nE "s/.*\"$2\":(-?[0-9.]+|true|false).*/\1/p" <<<"$1"
}

# ---- cleanup ------------------------------------------------------------

# _descendants PID...: the given PIDs and all their descendants, by pid.
# A background `in_ns ... &` is a subshell whose child (nsenter, then the
# command) survives a kill of the subshell alone.
_descendants() {
	local f line rest pid ppid found=" $* " more=1
	local -A parent=()
	for f in /proc/[0-9]*/stat; do
		# The process may be gone: the redirection fails before 2> applies.
		{ read -r line <"$f"; } 2>/dev/null || continue
		pid=${line%% *}
		rest=${line##*) } # comm may hold spaces and parentheses
		ppid=${rest#* }
		parent[$pid]=${ppid%% *}
	done
	while [ $more = 1 ]; do
		more=0
		for pid in "${!parent[@]}"; do
			if [[ $found != *" $pid "* && $found == *" ${parent[$pid]} "* ]]; then
				found+="$pid "
				more=1
			fi
		done
	done
	echo "$found"
}

_cleanup() {
	local rc=$? c pids
	trap - EXIT
	pids=$(jobs -p)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2046,SC2086 # pids: one word each
		kill $(_descendants $pids) 2>/dev/null
		wait 2>/dev/null
	fi
	# Chains first, while their interfaces still exist to detach from.
	for c in "${_chains[@]}"; do
		"$SFCCTL" -n "$NS_SFC" delete "$c" >/dev/null 2>&1 ||
			"$SFCCTL" delete "$c" >/dev/null 2>&1
		if [ -e "/sys/fs/bpf/sfc/$c" ]; then
			echo "cleanup: sfcctl delete $c left /sys/fs/bpf/sfc/$c; removing the pins" >&2
			rm -rf "/sys/fs/bpf/sfc/$c"
		fi
	done
	if [ $_lab_is_up = 1 ]; then
		bash "$LAB_SH" down --prefix "$LAB_PREFIX" >/dev/null || echo "cleanup: lab down failed" >&2
	fi
	rm -rf "$TEST_TMP"
	exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# reap_stale_pin_roots NAME [SUFFIX...]: remove the pin roots
# /sys/fs/bpf/sfc-t<pid>-NAME (and -NAME<SUFFIX>) that tests of their own pin
# root left when they were killed by SIGKILL (ctest's timeout) and could not
# clean up: for each whose process is gone, its chain t<pid>-NAME is deleted
# and the folder removed, as lab_up does with the labs of such runs.
reap_stale_pin_roots() {
	local name=$1 sfx d pid
	shift
	for sfx in "" "$@"; do
		for d in /sys/fs/bpf/sfc-t[0-9]*-"$name$sfx"; do
			pid=${d#/sys/fs/bpf/sfc-t}
			pid=${pid%%-*}
			if ! [[ -d $d && $pid =~ ^[0-9]+$ ]] || [ -d "/proc/$pid" ]; then
				continue
			fi
			echo "removing the stale pin root $d (its test is gone)" >&2
			"$SFCCTL" --pin-root "$d" delete "t$pid-$name" >/dev/null 2>&1
			rm -rf "$d"
		done
	done
}
