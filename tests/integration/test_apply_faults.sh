#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kill -9 of sfcctl in the middle of apply and delete, at every state-changing
# syscall in turn (strace's fault injection), for the five paths: create,
# config (in place), swap (a function added and one removed, a firewall
# rule changed), reattach (xdpMode changed) and delete. After each kill:
#  - the chain behaves as the old or the new file in each direction (the
#    root programs' verdicts through BPF_PROG_TEST_RUN, the XDP mode on each
#    interface, the passthrough's mark for the config path), never as
#    something else; the documented windows (directions on two generations
#    between the two root_progs writes, interfaces detached during a
#    re-attach or a delete) are counted apart, and `sfcctl status` must not
#    call them healthy;
#  - applying the new file again (deleting again, for delete) succeeds, the
#    chain behaves as the new file, status is healthy, and the pins under the
#    chain are the same paths as after a clean apply of that file;
#  - at the end of each path, after delete, no program or link the chain
#    ever pinned is still loaded, and no XDP program is left on the lab.
#
# The kill points: one traced apply per path lists the syscalls (bpf() by
# command, mkdir, unlink, rmdir, rename, sendto/sendmsg); every bpf()
# OBJ_PIN, LINK_*, update of a pinned map (root_progs, info, spec, stats,
# nf/*), and every mkdir/unlink/rmdir/rename is a point; program loads and
# updates of not-yet-pinned maps (a new generation's program array) are
# points too, every FAULT_STRIDE-th of them (default: all when the whole run
# fits the ctest timeout, see FAULT_BUDGET). FAULT_PATHS picks paths.
#
#	FAULT_STRIDE=1 FAULT_PATHS="swap" ctest -R apply_faults
#	FAULT_LIST_ONLY=1 ctest -R apply_faults -V	# the points, none run
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
command -v strace >/dev/null 2>&1 || skip "strace not installed (scripts/setup.sh installs it)"
XDP_VERDICT=${XDP_VERDICT:-$(dirname "$SEQGEN")/xdp_verdict}
[ -x "$XDP_VERDICT" ] || {
	echo "FAIL - xdp_verdict not found at $XDP_VERDICT (build first, or set XDP_VERDICT)"
	exit 1
}

CHAIN=${LAB_PREFIX%-}-fault
PIN=/sys/fs/bpf/sfc/$CHAIN
FAULT_PATHS=${FAULT_PATHS:-create config swap reattach delete}
# Non-priority points (program loads, fills of unpinned maps) are many and
# alike: with no FAULT_STRIDE, take every one only if the estimated run fits
# FAULT_BUDGET seconds.
FAULT_STRIDE=${FAULT_STRIDE:-}
FAULT_BUDGET=${FAULT_BUDGET:-200}
TRACE_SET=bpf,mkdir,mkdirat,unlink,unlinkat,rmdir,rename,renameat,renameat2,sendto,sendmsg

lab_up
track_chain "$CHAIN"

# ---- chain files --------------------------------------------------------

# yaml FILE MODE DROP_PORT FUNCTIONS...: fw (firewall dropping UDP to
# DROP_PORT) then the named passthroughs (NAME or NAME:MARK).
yaml() {
	local f=$1 mode=$2 port=$3 fn
	shift 3
	{
		printf 'apiVersion: sfc/v1alpha1\nkind: Chain\nmetadata:\n  name: %s\n' "$CHAIN"
		printf 'spec:\n  interface: %s\n  xdpMode: %s\n' "$SFC_IN" "$mode"
		printf '  egress: {action: redirect, interface: %s}\n  functions:\n' "$SFC_OUT"
		printf '    - name: fw\n      type: firewall\n      config:\n'
		printf '        defaultAction: allow\n'
		printf '        rules: [{action: drop, protocol: udp, dstPort: %s}]\n' "$port"
		for fn in "$@"; do
			if [[ $fn == *:* ]]; then
				printf '    - {name: %s, type: passthrough, config: {mark: %s}}\n' \
					"${fn%%:*}" "${fn#*:}"
			else
				printf '    - {name: %s, type: passthrough}\n' "$fn"
			fi
		done
	} >"$f"
}
PORT_A=1111 PORT_B=2222
yaml "$TEST_TMP/old.yaml" native $PORT_A pt:1
yaml "$TEST_TMP/config.yaml" native $PORT_A pt:2
yaml "$TEST_TMP/swap.yaml" native $PORT_B extra
yaml "$TEST_TMP/reattach.yaml" skb $PORT_B pt:1

# Two UDP frames per direction, to PORT_A and to PORT_B.
python3 - "$TEST_TMP" $PORT_A $PORT_B <<'EOF'
import struct, sys
d, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def csum(h):
    s = sum(struct.unpack('!%dH' % (len(h) // 2), h))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def frame(src, dst, dport):
    pay = b'x' * 18
    udp = struct.pack('!HHHH', 40000, dport, 8 + len(pay), 0) + pay
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes(map(int, src.split('.'))), bytes(map(int, dst.split('.'))))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    return bytes.fromhex('020000000002020000000001') + b'\x08\x00' + ip + udp
for name, s, t in (('fwd', '10.10.1.1', '10.10.2.1'), ('rev', '10.10.2.1', '10.10.1.1')):
    with open('%s/frames_%s' % (d, name), 'w') as f:
        for port in (a, b):
            f.write(frame(s, t, port).hex() + '\n')
EOF

ctl() { "$SFCCTL" -n "$NS_SFC" "$@"; }

# ---- what runs ------------------------------------------------------------

# verdict DIR: A (drops PORT_A only), B (PORT_B only), "all" (both: an empty
# root slot), "open" (none), "-" (no root pinned).
verdict() {
	local v
	[ -e "$PIN/root_$1" ] || {
		echo -
		return
	}
	v=$("$XDP_VERDICT" "$PIN/root_$1" <"$TEST_TMP/frames_$1" 2>/dev/null | tr '\n' ' ')
	case $v in
	"drop drop ") echo all ;;
	"drop "*) echo A ;;
	*" drop ") echo B ;;
	"") echo err ;;
	*) echo open ;;
	esac
}

# xdp_on IF: xdp (native), xdpgeneric (skb) or "-", from $LINKS (ip -o link
# in the sfc namespace) when set.
xdp_on() {
	local l
	l=$(grep -E "^[0-9]+: $1[@:]" <<<"${LINKS:-$(in_ns sfc ip -o link show 2>/dev/null)}")
	case $l in
	*" xdpgeneric"*) echo xdpgeneric ;;
	*" xdp "* | *" xdp/"*) echo xdp ;;
	*) echo - ;;
	esac
}

# mark: the passthrough pt's mark (config path), "-" without one.
mark() {
	local out
	out=$(bpftool map lookup pinned "$PIN/nf/pt/sfc_pass_mark" key 0 0 0 0 2>/dev/null) || {
		echo -
		return
	}
	sed -nE 's/.*"value": ([0-9]+).*/\1/p; s/.*value: ([0-9a-f]{2}) .*/\1/p' <<<"$out" |
		head -1 | sed 's/^0*\([0-9]\)/\1/'
}

# direction DIR IF: "<verdict>/<xdp>" of one direction ("-" when not attached:
# the interface then sees no chain whatever is pinned).
direction() {
	local x
	x=$(xdp_on "$2")
	if [ "$x" = - ]; then
		echo "-"
	else
		echo "$(verdict "$1")/$x"
	fi
}

# behaviour PATH: "<fwd> <rev>" plus the mark on the config path.
behaviour() {
	local b LINKS
	LINKS=$(in_ns sfc ip -o link show 2>/dev/null)
	b="$(direction fwd "$SFC_IN") $(direction rev "$SFC_OUT")"
	[ "$1" = config ] && b+=" m$(mark)"
	echo "$b"
}

tree() {
	[ -d "$PIN" ] || return 0
	(cd "$PIN" && find . -mindepth 1 | sed -E 's/gen[0-9]+/genN/g' | sort)
}

# pinned_ids: "prog ID" and "link ID" lines of everything pinned under the chain.
pinned_ids() {
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

# ---- the paths ------------------------------------------------------------

# old/new file and expected behaviour of each path.
declare -A FROM TO
FROM[create]="" TO[create]=old.yaml
FROM[config]=old.yaml TO[config]=config.yaml
FROM[swap]=old.yaml TO[swap]=swap.yaml
FROM[reattach]=old.yaml TO[reattach]=reattach.yaml
FROM[delete]=old.yaml TO[delete]=""

# reset PATH: the path's starting state, from scratch.
reset() {
	"$SFCCTL" delete "$CHAIN" >/dev/null 2>&1
	[ -e "$PIN" ] && rm -rf "$PIN"
	[ -z "${FROM[$1]}" ] || ctl apply "$TEST_TMP/${FROM[$1]}" >/dev/null
}

# run_op PATH [STRACE_ARGS...]: the path's operation, under strace when given.
run_op() {
	local p=$1
	shift
	if [ "$p" = delete ]; then
		"$@" "$SFCCTL" delete "$CHAIN"
	else
		"$@" "$SFCCTL" -n "$NS_SFC" apply "$TEST_TMP/${TO[$p]}"
	fi
}

# points TRACE: "syscall index prio what" per kill point, from a trace of
# the same operation from the same state (see the top). A call that failed
# (mkdir of an existing parent, a probe) changed nothing: no point. prio 1,
# always run: the commits and switches (root_progs, info and spec writes,
# links, the markers, the chain folder) and the first point of each kind
# (command and top folder: the first program load, the first pin in gen<N>/,
# the first unlink in nf/ ...); prio 0: the rest, every FAULT_STRIDE-th.
points() {
	python3 - "$1" "$PIN" <<'EOF'
import re, sys
counts, fds, seen = {}, {}, set()
pin = sys.argv[2]
def point(name, n, prio, what):
    # The first point of each kind (command, top folder) runs always too.
    kind = re.sub(r'^([^:]*:/[^/]*).*', r'\1', what)
    kind = re.sub(r'gen\d+', 'gen', kind)
    if kind not in seen:
        seen.add(kind)
        prio = 1
    print(name, n, prio, what)
key = re.compile(r'/(root_progs|info|spec)$')
for line in open(sys.argv[1]):
    m = re.match(r'^(?:\d+\s+)?(\w+)\((.*)', line.strip())
    if not m:
        continue
    name, rest = m.groups()
    counts[name] = counts.get(name, 0) + 1
    n = counts[name]
    r = re.search(r'\)\s+=\s+(-?\d+)', rest)
    ret = int(r.group(1)) if r else -1
    path = re.search(r'"([^"]*)"', rest)
    path = path.group(1) if path else ''
    if name == 'bpf':
        cmd = rest.split(',')[0]
        fd = re.search(r'map_fd=(\d+)', rest)
        fd = int(fd.group(1)) if fd else -1
        if cmd == 'BPF_OBJ_GET':
            p = re.search(r'pathname="([^"]+)"', rest)
            if ret >= 0:
                fds[ret] = bool(p and key.search(p.group(1)))
            continue
        if cmd == 'BPF_MAP_CREATE':
            if ret >= 0:
                fds[ret] = bool(re.search(r'map_name="sfc_(info|spec)"', rest))
            continue
        if ret < 0:
            continue
        if cmd in ('BPF_LINK_CREATE', 'BPF_LINK_UPDATE', 'BPF_LINK_DETACH'):
            point(name, n, 1, cmd)
        elif cmd == 'BPF_OBJ_PIN':
            p = re.search(r'pathname="([^"]+)"', rest)
            p = p.group(1)[len(pin):] if p else ''
            point(name, n, 1 if re.search(r'^/(link_|info|spec|root_progs)', p) else 0,
                  cmd + ':' + p)
        elif cmd in ('BPF_MAP_UPDATE_ELEM', 'BPF_MAP_DELETE_ELEM'):
            point(name, n, 1 if fds.get(fd) else 0, cmd)
        elif cmd == 'BPF_PROG_LOAD':
            point(name, n, 0, cmd)
    elif ret < 0:
        continue
    elif name in ('sendto', 'sendmsg'):
        point(name, n, 0, 'netlink')
    else:
        rel = path[len(pin):] if path.startswith(pin) else path
        prio = 1 if re.search(r'^(/applying|/deleting|/link_\w+)?$', rel) else 0
        point(name, n, prio, name + ':' + (rel or '/'))
EOF
}

total_points=0 n_old=0 n_new=0 n_split=0 n_detached=0 n_half=0 n_leaked=0 n_bad=0
summary=()
ALL_IDS=$TEST_TMP/ids

# classify PATH BEHAVIOUR: old, new, split, detached or half.
classify() {
	local p=$1 b=$2 old new f r
	case $p in
	create) old="- -" new="A/xdp A/xdp" ;;
	config) old="A/xdp A/xdp m1" new="A/xdp A/xdp m2" ;;
	swap) old="A/xdp A/xdp" new="B/xdp B/xdp" ;;
	reattach) old="A/xdp A/xdp" new="B/xdpgeneric B/xdpgeneric" ;;
	delete) old="A/xdp A/xdp" new="- -" ;;
	esac
	[ "$b" = "$old" ] && echo old && return
	[ "$b" = "$new" ] && echo new && return
	read -r f r _ <<<"$b"
	# Each direction as old or new, but not both the same.
	if { [ "$f" = "${old%% *}" ] || [ "$f" = "${new%% *}" ]; } &&
		{ [ "$r" = "$(cut -d' ' -f2 <<<"$old")" ] || [ "$r" = "$(cut -d' ' -f2 <<<"$new")" ]; }; then
		[ "$p" = config ] && echo half && return
		echo split
		return
	fi
	# Not attached at all, mid re-attach: the kernel sees the packets.
	if [ "$p" = reattach ] && { [ "$f" = - ] || [ "$r" = - ]; }; then
		echo detached
		return
	fi
	echo half
}

# status_truthful CLASS: sfcctl status must not call a split, detached or
# half chain healthy.
status_truthful() {
	local st rc
	st=$("$SFCCTL" -j status "$CHAIN" 2>&1)
	rc=$?
	case $1 in
	old | new) return 0 ;;
	esac
	[ $rc != 0 ] && return 0
	grep -q '"attached":false' <<<"$st" && return 0
	echo "status calls a $1 chain healthy: $st"
	return 1
}

# one_point PATH SYSCALL INDEX WHAT: kill there, judge, recover, judge.
one_point() {
	local p=$1 sc=$2 k=$3 what=$4 rc b cls out t msg=""
	reset "$p" || {
		fail "$p: reset before $sc#$k"
		n_bad=$((n_bad + 1))
		return
	}
	run_op "$p" strace -f -qq -o /dev/null -e trace="$sc" \
		-e inject="$sc:signal=KILL:when=$k" \
		>/dev/null 2>&1
	rc=$?
	if [ $rc != 137 ]; then
		# The run took another course than the traced one.
		fail "$p: no kill at $sc#$k ($what): exit $rc"
		n_bad=$((n_bad + 1))
		msg="not killed (exit $rc)"
	fi
	pinned_ids >>"$ALL_IDS"
	b=$(behaviour "$p")
	cls=$(classify "$p" "$b")
	case $cls in
	old) n_old=$((n_old + 1)) ;;
	new) n_new=$((n_new + 1)) ;;
	split) n_split=$((n_split + 1)) ;;
	detached) n_detached=$((n_detached + 1)) ;;
	*) n_half=$((n_half + 1)) ;;
	esac
	total_points=$((total_points + 1))
	out=$(status_truthful "$cls") || {
		fail "$p: kill at $sc#$k ($what): $out"
		n_bad=$((n_bad + 1))
	}
	[ "$cls" = half ] && fail "$p: kill at $sc#$k ($what): chain is half: $b"

	# Again, to the end.
	if [ "$p" = delete ]; then
		out=$("$SFCCTL" delete "$CHAIN" 2>&1) || {
			fail "$p: kill at $sc#$k ($what): delete again: $out"
			n_bad=$((n_bad + 1))
		}
		b=$(behaviour "$p")
		if [ -e "$PIN" ] || [ "$b" != "- -" ]; then
			fail "$p: kill at $sc#$k ($what): after delete again: $b, $(tree | tr '\n' ' ')"
			n_bad=$((n_bad + 1))
		fi
	else
		out=$(ctl apply "$TEST_TMP/${TO[$p]}" 2>&1) || {
			fail "$p: kill at $sc#$k ($what): apply again: $out"
			n_bad=$((n_bad + 1))
			return
		}
		b=$(behaviour "$p")
		[ "$(classify "$p" "$b")" = new ] || {
			fail "$p: kill at $sc#$k ($what): after apply again: $b ($out)"
			n_bad=$((n_bad + 1))
		}
		"$SFCCTL" status "$CHAIN" >"$TEST_TMP/st" 2>&1 || {
			fail "$p: kill at $sc#$k ($what): status after apply again: $(cat "$TEST_TMP/st")"
			n_bad=$((n_bad + 1))
		}
		t=$(tree)
		[ "$t" = "$(cat "$TEST_TMP/ref_$p")" ] || {
			fail "$p: kill at $sc#$k ($what): pins differ from a clean apply:" \
				"$(diff <(echo "$t") "$TEST_TMP/ref_$p" | grep '^[<>]' | tr '\n' ' ')"
			n_bad=$((n_bad + 1))
		}
	fi
	echo "# $p $sc#$k $what: $cls${msg:+ ($msg)}"
}

# leaks PATH: after delete, no program or link ever pinned under the chain
# may still exist, and no XDP may be left on the lab's sfc interfaces.
leaks() {
	local kind id left=0
	"$SFCCTL" delete "$CHAIN" >/dev/null 2>&1
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		left=0
		while read -r kind id; do
			bpftool "$kind" show id "$id" >/dev/null 2>&1 && left=$((left + 1))
		done < <(sort -u "$ALL_IDS")
		[ $left = 0 ] && break
		sleep 0.3 # programs are freed after an RCU grace period
	done
	[ "$(xdp_on "$SFC_IN") $(xdp_on "$SFC_OUT")" = "- -" ] || left=$((left + 1))
	n_leaked=$((n_leaked + left))
	is "$left" 0 "$1: nothing of the chain left loaded or attached ($(sort -u "$ALL_IDS" | wc -l) ids checked)"
	: >"$ALL_IDS"
}

# ---- the reference runs and the points ---------------------------------

declare -A NPTS
for p in $FAULT_PATHS; do
	[ -n "${TO[$p]+x}" ] || {
		fail "unknown path $p in FAULT_PATHS"
		continue
	}
	reset "$p"
	run_op "$p" strace -f -qq -o "$TEST_TMP/trace_$p" -e trace=$TRACE_SET >/dev/null 2>&1 ||
		fail "$p: the traced reference run failed"
	[ "$p" = delete ] || tree >"$TEST_TMP/ref_$p"
	b=$(behaviour "$p")
	is "$(classify "$p" "$b")" new "$p: a clean run gives the new behaviour ($b)"
	points "$TEST_TMP/trace_$p" >"$TEST_TMP/points_$p"
	NPTS[$p]=$(wc -l <"$TEST_TMP/points_$p")
	echo "# $p: ${NPTS[$p]} points ($(awk '$3 == 1' "$TEST_TMP/points_$p" | wc -l) priority)"
done

if [ -n "${FAULT_LIST_ONLY:-}" ]; then
	for p in $FAULT_PATHS; do
		sed "s/^/# $p: /" "$TEST_TMP/points_$p"
	done
	done_testing
fi

# Time one point to pick the stride.
if [ -z "$FAULT_STRIDE" ]; then
	t0=$(date +%s%N)
	p=${FAULT_PATHS%% *}
	read -r sc k _ what < <(awk '$3 == 1' "$TEST_TMP/points_$p" | tail -1)
	saved="$total_points $n_old $n_new $n_split $n_detached $n_half"
	one_point "$p" "$sc" "$k" "$what"
	read -r total_points n_old n_new n_split n_detached n_half <<<"$saved"
	per=$((($(date +%s%N) - t0) / 1000000))
	all=0 prio=0
	for p in $FAULT_PATHS; do
		all=$((all + NPTS[$p]))
		prio=$((prio + $(awk '$3 == 1' "$TEST_TMP/points_$p" | wc -l)))
	done
	rest=$((FAULT_BUDGET * 1000 / (per > 0 ? per : 1) - prio))
	if [ $rest -ge $((all - prio)) ]; then
		FAULT_STRIDE=1
	elif [ $rest -le 0 ]; then
		FAULT_STRIDE=1000000
	else
		FAULT_STRIDE=$(((all - prio + rest - 1) / rest))
	fi
	echo "# one point takes ${per} ms: $all points, $prio priority; stride $FAULT_STRIDE for the rest"
fi

for p in $FAULT_PATHS; do
	[ -e "$TEST_TMP/points_$p" ] || continue
	before=$total_points
	j=0
	while read -r sc k prio what; do
		if [ "$prio" = 0 ]; then
			j=$((j + 1))
			[ $((j % FAULT_STRIDE)) = 0 ] || [ "$FAULT_STRIDE" = 1 ] || continue
		fi
		one_point "$p" "$sc" "$k" "$what"
	done <"$TEST_TMP/points_$p"
	summary+=("$p $((total_points - before))")
	leaks "$p"
done

is "$n_half" 0 "no kill left a chain half old, half new"
is "$n_bad" 0 "every kill recovered: status truthful, apply again gives the new chain, same pins"
echo "kill points: $total_points (${summary[*]}; stride $FAULT_STRIDE), chains old: $n_old," \
	"new: $n_new, split (one direction switched): $n_split, detached (re-attach):" \
	"$n_detached, half: $n_half, leaked: $n_leaked"

done_testing
