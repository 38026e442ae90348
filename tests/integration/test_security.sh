#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2317 # functions called through traps and wait_for
# shellcheck disable=SC2016 # bash -c '...' _ ARGS: expanded by the inner shell
# What root-only means for sfc, and what user input cannot reach
# (docs/hardening.md, "Security"):
#  - apply and the agent under umask 000: every folder under the pin root is
#    0700, every pin 0600, all owned by root; the agent's lock folder is
#    0700, its lock file 0600;
#  - the agent listens where configured and nowhere else: nothing without
#    --metrics or prometheus.listen, then exactly the configured addresses
#    (no UDP socket for IPFIX, no unix socket), and [::]:PORT is IPv6 only;
#  - chain and function names with '/', "..", ".", 300 characters, a NUL,
#    on the command line and in chain files, are refused, and nothing is
#    created outside (or inside) the pin root;
#  - set files: "../" out of the chain file's folder, a symlink out of it,
#    /dev/zero, a FIFO, /proc/self/fd/N, /proc/version are refused with
#    file:line:col, and a FIFO never makes sfcctl wait; legit relative,
#    symlinked-inside and absolute paths still work;
#  - a pin root that is not root's (another owner, a symlink, a writable
#    ancestor, a foreign entry) is refused; one that is root's but world
#    writable is made 0700 with a warning.
# The chains live under a pin root of this test's own.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
command -v ss >/dev/null 2>&1 || skip "ss not installed (iproute2)"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"

ID=${LAB_PREFIX%-}
CHAIN=$ID-sec
PIN_ROOT=/sys/fs/bpf/sfc-$ID-sec
ALT=/sys/fs/bpf/sfc-$ID-alt # the pin roots sfc must refuse or repair
AGENT_PID=

sec_cleanup() {
	local rc=$?
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	"$SFCCTL" --pin-root "$PIN_ROOT" -n "$NS_SFC" delete "$CHAIN" >/dev/null 2>&1
	"$SFCCTL" --pin-root "$ALT" -n "$NS_SFC" delete "$CHAIN" >/dev/null 2>&1
	rm -rf "$PIN_ROOT" "$ALT" "$ALT-anc" "$ALT-link"
	return "$rc"
}
trap 'sec_cleanup; _cleanup' EXIT

S() { "$SFCCTL" --pin-root "$PIN_ROOT" "$@"; }

free_port() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if sys.argv[2] == "6" else socket.AF_INET,
                  socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
s.bind(("::1" if sys.argv[2] == "6" else "127.0.0.1", 0)); print(s.getsockname()[1])' "$1" "${2:-4}"
}

wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# connects HOST PORT: a TCP connect succeeds.
connects() {
	python3 -c '
import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()' "$1" "$2"
}

# listeners PID: the sockets PID listens on (TCP LISTEN, UDP/raw UNCONN,
# unix), one "proto local-address" per line, sorted.
listeners() {
	{
		ss -Hlntup | awk -v p="pid=$1," 'index($0, p) {print $1, $5}'
		ss -Hlxp | awk -v p="pid=$1," 'index($0, p) {print "unix", $5}'
		ss -Hlwp 2>/dev/null | awk -v p="pid=$1," 'index($0, p) {print "raw", $5}'
	} | sort
}

# modes DIR: "mode owner:group type" of everything under DIR, one per line,
# with the paths that break the rule (dirs 700, files 600, root:root).
bad_modes() {
	find "$1" \( -type d ! -perm 0700 \) -o \( ! -type d ! -perm 0600 \) -o ! -user root \
		-o ! -group root -o \( ! -type d ! -type f \) | while read -r p; do
		stat -c '%a %U:%G %F %n' "$p"
	done
}

P_ALL=$(free_port tcp)
P_FN=$(free_port tcp 6)
P_ANY=$(free_port tcp 6)
P_IPFIX=$(free_port udp)

mkdir -p "$TEST_TMP/chains/sets" "$TEST_TMP/outside"
printf '# blocklist\n192.0.2.0/24\n198.51.100.7\n' >"$TEST_TMP/chains/sets/block.txt"
printf '203.0.113.0/24\n' >"$TEST_TMP/outside/secret.txt"
ln -s sets/block.txt "$TEST_TMP/chains/inside-link.txt"

# write_chain FILE LISTEN_LINE SETFILE [NAME] [FN]
write_chain() {
	cat >"$1" <<EOF
apiVersion: sfc/v1alpha1
kind: Chain
metadata:
  name: ${4:-$CHAIN}
spec:
  interface: $SFC_IN
  egress: {action: pass}
  functions:
    - name: ${5:-fw}
      type: firewall
      config:
        defaultAction: allow
        stateful: true
        sets:
          block: {file: $3}
        rules: [{action: drop, src: "@block"}]
    - name: mon
      type: flowmon
      config:
        maxFlows: 1024
        ipfix: {collector: "127.0.0.1:$P_IPFIX", transport: udp}
$2
EOF
}

lab_up
CH=$TEST_TMP/chains/chain.yaml

# ---- 1. modes and owners under umask 000 ----------------------------------

write_chain "$CH" "" sets/block.txt
check "apply under umask 000" bash -c 'umask 000; exec "$@"' _ "$SFCCTL" --pin-root "$PIN_ROOT" \
	-n "$NS_SFC" apply "$CH"
is "$(stat -c %a "$PIN_ROOT")" 700 "pin root is 0700"
n=$(find "$PIN_ROOT" | wc -l)
check "found the chain's pins ($n paths)" test "$n" -gt 20
check "every folder 0700, every pin 0600, all root:root (umask 000)" \
	bash -c '[ -z "$1" ] || { echo "$1"; exit 1; }' _ "$(bad_modes "$PIN_ROOT")"

# a new generation, still under umask 000
write_chain "$CH.2" "" sets/block.txt
sed -i 's/^    - name: mon/    - name: p\n      type: passthrough\n    - name: mon/' "$CH.2"
check "a swap under umask 000" bash -c 'umask 000; exec "$@"' _ "$SFCCTL" --pin-root "$PIN_ROOT" \
	-n "$NS_SFC" apply "$CH.2"
check "after the swap: gen2 and nf/p are 0700, their pins 0600" \
	bash -c '[ -d "$2/$3/gen2" ] && [ -d "$2/$3/nf/p" ] && [ -z "$1" ] || { echo "$1"; exit 1; }' \
	_ "$(bad_modes "$PIN_ROOT")" "$PIN_ROOT" "$CHAIN"

# ---- 2. the agent's sockets and files ---------------------------------------

agent_start() {
	bash -c 'umask 000; exec "$@"' _ "$SFCCTL" --pin-root "$PIN_ROOT" agent --interval 200ms "$@" \
		>>"$TEST_TMP/agent.log" 2>&1 &
	AGENT_PID=$!
}
agent_stop() {
	kill "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}
lock_of() { grep -l " $PIN_ROOT\$" /run/sfc/agent-*.lock 2>/dev/null | head -n 1; }

agent_start
check "agent: its lock file appears" wait_for 10 lock_of
sleep 1 # a few discovery rounds: the flowmon is started, its IPFIX socket opened
is "$(listeners "$AGENT_PID")" "" "agent without --metrics or prometheus.listen: no listening socket"
is "$(stat -c '%a %U' /run/sfc)" "700 root" "/run/sfc is 0700 root"
is "$(stat -c '%a %U' "$(lock_of)")" "600 root" "the lock file is 0600 root (umask 000)"
check "the agent's own pins (flowmon) are 0600 too" \
	bash -c '[ -z "$1" ] || { echo "$1"; exit 1; }' _ "$(bad_modes "$PIN_ROOT")"
agent_stop

# the flowmon asks for [::1]:P_FN, --metrics for 127.0.0.1:P_ALL
write_chain "$CH" "        prometheus: {listen: \"[::1]:$P_FN\"}" sets/block.txt
check "apply with prometheus.listen" S -n "$NS_SFC" apply "$CH"
agent_start --metrics "127.0.0.1:$P_ALL"
check "agent: --metrics answers" wait_for 10 connects 127.0.0.1 "$P_ALL"
check "agent: prometheus.listen answers" wait_for 10 connects ::1 "$P_FN"
is "$(listeners "$AGENT_PID")" "$(printf 'tcp 127.0.0.1:%s\ntcp [::1]:%s' "$P_ALL" "$P_FN" | sort)" \
	"agent listens on exactly 127.0.0.1:$P_ALL and [::1]:$P_FN"
check_fails "not on the other loopback ([::1]:$P_ALL)" connects ::1 "$P_ALL"
check_fails "not on the other loopback (127.0.0.1:$P_FN)" connects 127.0.0.1 "$P_FN"
agent_stop

write_chain "$CH" "" sets/block.txt
check "apply without prometheus.listen" S -n "$NS_SFC" apply "$CH"
agent_start --metrics "[::]:$P_ANY"
check "agent: [::]:$P_ANY answers on ::1" wait_for 10 connects ::1 "$P_ANY"
is "$(listeners "$AGENT_PID")" "tcp [::]:$P_ANY" "agent listens on [::]:$P_ANY only"
check_fails "[::] is IPv6 only (IPV6_V6ONLY): 127.0.0.1:$P_ANY refused" connects 127.0.0.1 "$P_ANY"
agent_stop
check "the agent removed its lock file" bash -c '[ -z "$(grep -l " $1\$" /run/sfc/agent-*.lock 2>/dev/null)" ]' _ "$PIN_ROOT"

# ---- 3. names -----------------------------------------------------------------

# snapshot: everything under the pin root, to see that nothing was made
# (other tests change /sys/fs/bpf and /run/netns meanwhile: the paths an
# escape would make there are checked one by one)
snapshot() { find "$PIN_ROOT" -printf '%p %m %i\n' | sort | md5sum; }
escapes=(/sys/fs/bpf/x /sys/fs/bpf/y /sys/fs/bpf/a /sys/fs/bpf/b /sys/fs/bpf/etc "$PIN_ROOT/a"
	/sys/fs/bpf/sfc/x /run/netns/x /run/x /run/a)
escaped() {
	local p
	for p in "${escapes[@]}"; do
		[ -e "$p" ] && echo "$p"
	done
}
escaped_before=$(escaped)
before=$(snapshot)
long=$(printf 'a%.0s' $(seq 300))
for name in ../x a/b . .. "$long" ../../../../etc "x/../../y"; do
	for cmd in status delete stats flows lb rules; do
		out=$(S "$cmd" "$name" 2>&1)
		rc=$?
		if [ $rc = 0 ] || ! grep -Eq 'not a chain name|invalid chain name' <<<"$out"; then
			fail "sfcctl $cmd '${name:0:20}': exit $rc: $out"
			continue 2
		fi
	done
	ok "sfcctl status/delete/stats/flows/lb/rules '${name:0:20}': refused (not a chain name)"
	write_chain "$TEST_TMP/chains/name.yaml" "" sets/block.txt "\"$name\""
	out=$(S -n "$NS_SFC" apply "$TEST_TMP/chains/name.yaml" 2>&1)
	rc=$?
	if [ $rc != 0 ] && grep -q "name.yaml:4:9: metadata.name: " <<<"$out"; then
		ok "chain file metadata.name '${name:0:20}': refused at 4:9"
	else
		fail "chain file metadata.name '${name:0:20}': exit $rc: $out"
	fi
	write_chain "$TEST_TMP/chains/name.yaml" "" sets/block.txt "$CHAIN-n" "\"$name\""
	out=$(S -n "$NS_SFC" apply "$TEST_TMP/chains/name.yaml" 2>&1)
	rc=$?
	if [ $rc != 0 ] && grep -q "name.yaml:9:13: spec.functions\[0\].name: " <<<"$out"; then
		ok "function name '${name:0:20}': refused at 9:13"
	else
		fail "function name '${name:0:20}': exit $rc: $out"
	fi
done
write_chain "$TEST_TMP/chains/name.yaml" "" sets/block.txt '"a\0b"'
out=$(S -n "$NS_SFC" apply "$TEST_TMP/chains/name.yaml" 2>&1)
check "chain name with a NUL (\"a\\0b\"): refused at 4:9" grep -q "name.yaml:4:9: metadata.name" <<<"$out"
for ns in ../x a/b . ..; do
	check_fails "sfcctl -n '$ns' apply: refused" S -n "$ns" apply "$CH"
done
for root in relative/root /sys/fs/bpf/../bpf/x "/sys/fs/bpf/./x"; do
	out=$("$SFCCTL" --pin-root "$root" -n "$NS_SFC" apply "$CH" 2>&1)
	rc=$?
	if [ $rc != 0 ] && grep -Eq 'is not an absolute path|component' <<<"$out"; then
		ok "--pin-root '$root': refused"
	else
		fail "--pin-root '$root': exit $rc: $out"
	fi
done
is "$(snapshot)" "$before" "nothing was created or changed under the pin root"
is "$(escaped)" "$escaped_before" "nothing was created where an escape would lead (${escapes[*]})"
check_fails "no relative/root here" test -e relative

# ---- 4. set files -----------------------------------------------------------

mkfifo "$TEST_TMP/chains/fifo.txt"
ln -s ../outside/secret.txt "$TEST_TMP/chains/out-link.txt"
ln -s "$TEST_TMP/outside" "$TEST_TMP/chains/out-dir"
ln -s /etc/passwd "$TEST_TMP/chains/abs-link.txt"
truncate -s 300M "$TEST_TMP/chains/huge.txt" # sparse: its size is refused, not read

# set_refused FILE PATTERN DESC: validate and apply both refuse, at the file: node.
set_refused() {
	local out rc
	write_chain "$TEST_TMP/chains/set.yaml" "" "$1"
	out=$(timeout 20 "$SFCCTL" validate "$TEST_TMP/chains/set.yaml" 2>&1)
	rc=$?
	if [ $rc = 1 ] && grep -q "set.yaml:15:25: spec.functions\[0\].config.sets.block.file: .*$2" <<<"$out"; then
		ok "set file $1: refused ($3)"
	else
		fail "set file $1: exit $rc (want 1 and '$2' at 15:25): $out"
	fi
	out=$(timeout 20 "$SFCCTL" --pin-root "$PIN_ROOT" -n "$NS_SFC" apply "$TEST_TMP/chains/set.yaml" 2>&1)
	rc=$?
	[ $rc = 1 ] || fail "apply with set file $1: exit $rc: $out"
}
before=$(snapshot)
set_refused ../../../../../../etc/passwd "leads out of the chain file's folder" '".." out of the folder'
set_refused "../outside/secret.txt" "leads out of the chain file's folder" '".." to a sibling folder'
set_refused sets/../../outside/secret.txt "leads out of the chain file's folder" '".." in the middle'
set_refused out-link.txt "leads out of the chain file's folder" "a symlink out of the folder"
set_refused out-dir/secret.txt "leads out of the chain file's folder" "a symlinked folder out of it"
set_refused abs-link.txt "leads out of the chain file's folder" "a symlink to an absolute path"
set_refused /dev/zero "not a regular file" "a device"
set_refused fifo.txt "not a regular file" "a FIFO, without waiting for a writer"
set_refused /proc/self/fd/0 "magic link" "a /proc magic link"
set_refused /proc/version "not a regular file" "a file of /proc"
set_refused huge.txt "larger than 256 MiB" "a 300 MiB file"
set_refused sets "Is a directory" "a folder"
is "$(snapshot)" "$before" "refused set files changed nothing under the pin root"

for f in sets/block.txt ./sets/block.txt inside-link.txt sets/../sets/block.txt "$TEST_TMP/outside/secret.txt"; do
	write_chain "$TEST_TMP/chains/set.yaml" "" "$f"
	check "set file $f: valid" "$SFCCTL" validate "$TEST_TMP/chains/set.yaml"
done
check "chain file /dev/zero: refused" bash -c '"$1" validate /dev/zero 2>&1 | grep -q "not a regular file or a pipe"' _ "$SFCCTL"
write_chain "$TEST_TMP/chains/abs.yaml" "" "$TEST_TMP/chains/sets/block.txt"
check "chain file through a pipe still reads" bash -c '"$1" validate <(cat "$2")' _ "$SFCCTL" \
	"$TEST_TMP/chains/abs.yaml"

# ---- 5. pin roots that are not root's ---------------------------------------

# sfc-in takes one chain: the one under PIN_ROOT goes first
check "delete the chain" S -n "$NS_SFC" delete "$CHAIN"
check_fails "  its folder is gone" test -e "$PIN_ROOT/$CHAIN"
apply_alt() { "$SFCCTL" --pin-root "$1" -n "$NS_SFC" apply "$CH" 2>&1; }

mkdir "$ALT" && chmod 0777 "$ALT"
out=$(apply_alt "$ALT")
rc=$?
check "world-writable pin root (root's): applied" test $rc = 0 || echo "$out"
check "  with a warning" grep -q "had mode 0777 (writable by other users): made it 0700" <<<"$out"
is "$(stat -c %a "$ALT")" 700 "  and made 0700"
"$SFCCTL" --pin-root "$ALT" -n "$NS_SFC" delete "$CHAIN" >/dev/null 2>&1

chmod 0777 "$ALT"
mkdir "$ALT/$CHAIN" && chown nobody "$ALT/$CHAIN"
out=$(apply_alt "$ALT")
rc=$?
check "pin root with a folder of another user in it: refused" test $rc = 1
check "  naming it" grep -q "$CHAIN is owned by uid $(id -u nobody)" <<<"$out"
is "$(stat -c %a "$ALT")" 700 "  closed to others first (nothing added behind the check)"
check_fails "  nothing pinned" test -e "$ALT/$CHAIN/info"
rm -rf "${ALT:?}/$CHAIN"

chown nobody "$ALT"
chmod 0700 "$ALT"
out=$(apply_alt "$ALT")
check "pin root owned by another user: refused" grep -q "is owned by uid $(id -u nobody)" <<<"$out"
check_fails "  nothing pinned" test -e "$ALT/$CHAIN"
rm -rf "$ALT"

mkdir -p "$ALT-anc" && chmod 0777 "$ALT-anc"
out=$(apply_alt "$ALT-anc/root")
check "pin root under a world-writable, non-sticky folder: refused" \
	grep -q "can be changed by other users than root" <<<"$out"
chmod 1777 "$ALT-anc"
out=$(apply_alt "$ALT-anc/root")
check "  a sticky one (as bpffs's own root) is fine" test $? = 0 || echo "$out"
"$SFCCTL" --pin-root "$ALT-anc/root" -n "$NS_SFC" delete "$CHAIN" >/dev/null 2>&1
rm -rf "$ALT-anc"

mkdir -p "$ALT" && ln -s "$ALT" "$ALT-link"
out=$(apply_alt "$ALT-link")
check "a pin root that is a symlink: refused" grep -q "is a symlink" <<<"$out"
check_fails "  nothing pinned" test -e "$ALT/$CHAIN"
rm -rf "$ALT" "$ALT-link"

done_testing
