#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Upgrade: a chain applied by the previous release's sfcctl (the tag
# v0.1.0) is adopted and updated by this one without loss, and a chain
# whose pinned layouts this release cannot read is refused and left running.
#
#   1. v0.1.0's sfcctl, built from `git archive v0.1.0` into a cache keyed by
#      its commit (${XDG_CACHE_HOME:-~/.cache}/sfc-upgrade/<commit>/, built
#      once), applies firewall (stateful) -> flowmon -> loadbalancer (nat,
#      three backends) on the lab with backends;
#   2. under traffic: a seqgen stream client -> server (every datagram
#      numbered) and HOLD keep-alive TCP connections through the VIP, a
#      request on each every 100 ms;
#   3. this sfcctl reads the old chain (version, status, stats, flows, lb,
#      rules), says unchanged to the same file, applies a firewall rule
#      change, adds a function and removes it again (and drains b1: its
#      held connections stay by their LB connection entries alone), all in
#      place;
#   4. refusals, each with the chain left exactly as it was (its pins and
#      their inodes unchanged, the stream still counting): info claiming a
#      future chain ABI; the layout record claiming another map layout of
#      the firewall; a pinned flowmon table, and the chain's stats,
#      replaced by a map whose value is 8 bytes larger;
#   5. the agent: v0.1.0's exports the chain's flows over IPFIX to a
#      collector here, is stopped, and this release's agent, started on the
#      same pins, goes on exporting;
#   6. the whole time: no datagram lost or duplicated, every held
#      connection answered in every phase by the backend it started on,
#      every firewall conntrack entry, flowmon flow record and LB
#      connection entry that existed under the old sfcctl still there (the
#      flow records still counting: packets only grow), the stages'
#      counters never reset;
#   7. this sfcctl deletes the chain: no pin, no XDP program and none of
#      the chain's programs or maps left in the kernel.
#
# Counts and states only; every wait is bounded and followed by a check of
# the state reached. A cold cache builds v0.1.0's sfcctl first (a minute or
# two on two cores); REBUILD_OLD=1 rebuilds it. SFCCTL_OLD=path uses that
# binary as the old release instead. Without git history (a tarball) or
# without the tag and its commit, the test skips.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
require_seqgen
for c in python3 git cmake flock; do
	command -v "$c" >/dev/null 2>&1 || skip "$c not installed (scripts/setup.sh installs it)"
done

# The previous release, and its commit for a clone without tags: move both
# on at each release, so that every release is tested against the one before.
OLD_TAG=${OLD_TAG:-v0.1.0}
OLD_COMMIT=${OLD_COMMIT:-388bf18}
CHAIN=${LAB_PREFIX%-}-upg
PIN_ROOT=/sys/fs/bpf/sfc-${LAB_PREFIX%-}-upg
DIR=$PIN_ROOT/$CHAIN
SAVE=/sys/fs/bpf/sfc-${LAB_PREFIX%-}-upg-saved # a pin moved aside (same bpffs)
VIP4=10.10.9.10
UDP_PORT=6001
RATE=2000 # datagrams per second, for as long as the upgrade takes
HOLD=24 # P(none of them on b1, which is drained later) = (2/3)^24 = 6e-5
PY=$TEST_TMP/upg.py
LAB_BACKENDS=3
IPFIX_PORT=$((20000 + $$ % 20000)) # the agents' collector, on the host's loopback

upg_cleanup() {
	local rc=$?
	# The agent first (it writes the chain's maps), then the chain.
	[ -n "${AGENT_PID:-}" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	"$SFCCTL" --pin-root "$PIN_ROOT" delete "$CHAIN" >/dev/null 2>&1
	rm -rf "$PIN_ROOT" "$SAVE"
	return "$rc"
}
trap 'upg_cleanup; _cleanup' EXIT

# Pin roots of runs killed by SIGKILL (ctest's timeout), which could not clean up.
reap_stale_pin_roots upg -saved

# ---- the previous release's sfcctl -----------------------------------------

# old_sfcctl: the path of v0.1.0's sfcctl, built into the cache when it is
# not there yet; the reason on stdout and status 77 when it cannot be had.
old_sfcctl() {
	local commit cache tmp log
	if [ -n "${SFCCTL_OLD:-}" ]; then
		echo "$SFCCTL_OLD"
		return 0
	fi
	git -c safe.directory='*' -C "$SFC_SRC_DIR" rev-parse --git-dir >/dev/null 2>&1 || {
		echo "no git history in $SFC_SRC_DIR: $OLD_TAG's sources cannot be had"
		return 77
	}
	commit=$(git -c safe.directory='*' -C "$SFC_SRC_DIR" rev-parse -q --verify "$OLD_TAG^{commit}" 2>/dev/null ||
		git -c safe.directory='*' -C "$SFC_SRC_DIR" rev-parse -q --verify "$OLD_COMMIT^{commit}" 2>/dev/null) || {
		echo "neither the tag $OLD_TAG nor the commit $OLD_COMMIT is in $SFC_SRC_DIR's history"
		return 77
	}
	cache=${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/sfc-upgrade/$commit
	mkdir -p "$cache" || return 1
	(
		# One build at a time; a finished one is reused.
		flock 9
		[ -x "$cache/sfcctl" ] && [ "${REBUILD_OLD:-0}" != 1 ] && exit 0
		tmp=$(mktemp -d "$cache/build.XXXXXX") || exit 1
		log=$cache/build.log
		echo "building $OLD_TAG's sfcctl ($commit) into $cache (once)" >&2
		if git -c safe.directory='*' -C "$SFC_SRC_DIR" archive --format=tar "$commit" | tar -x -C "$tmp" &&
			cmake -S "$tmp" -B "$tmp/build" -DSFC_BUILD_TESTS=OFF \
				-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$log" 2>&1 &&
			cmake --build "$tmp/build" --target sfcctl -j "$(nproc)" >>"$log" 2>&1; then
			cp "$tmp/build/loader/sfcctl" "$cache/sfcctl.new" && mv "$cache/sfcctl.new" "$cache/sfcctl"
			rc=$?
		else
			echo "build of $OLD_TAG failed; the log's end:" >&2
			tail -n 20 "$log" >&2
			rc=1
		fi
		rm -rf "$tmp"
		exit $rc
	) 9>"$cache/lock" || return 1
	echo "$cache/sfcctl"
}

out=$(old_sfcctl)
case $? in
0) OLD=$out ;;
77) skip "$out" ;;
*)
	echo "FAIL - cannot build $OLD_TAG's sfcctl: $out"
	exit 1
	;;
esac

NEW_VERSION=$(sed -nE 's/^project\(sfc VERSION ([0-9.]+).*/\1/p' "$SFC_SRC_DIR/CMakeLists.txt")
check "this sfcctl is release $NEW_VERSION" grep -q "^sfcctl $NEW_VERSION\$" <("$SFCCTL" version)
check "the old one is release ${OLD_TAG#v}" grep -q "^sfcctl ${OLD_TAG#v}\$" <("$OLD" version)

S() { "$SFCCTL" --pin-root "$PIN_ROOT" "$@"; }
O() { "$OLD" --pin-root "$PIN_ROOT" "$@"; }

# ---- helpers (python3, stdlib only) -----------------------------------------

cat >"$PY" <<'EOF'
"""Servers, the connection holder and the judges of test_upgrade.sh."""
import json, os, socket, socketserver, sys, threading, time


def serve(addr, port, name, ready):
    """A line server: every line gets this backend's name back."""
    class H(socketserver.StreamRequestHandler):
        def handle(self):
            for _ in self.rfile:
                self.wfile.write(name.encode() + b"\n")
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    s = socketserver.ThreadingTCPServer((addr, port), H)
    open(ready, "w").close()
    s.serve_forever()


def ask(c):
    c["sock"].sendall(b"who\n")
    buf = b""
    while not buf.endswith(b"\n"):
        b = c["sock"].recv(64)
        if not b:
            raise ConnectionError("closed")
        buf += b
    return buf.decode().strip()


def hold(vip, port, n, d):
    """n connections to vip:port, a request on each every 100 ms until
    d/stop; the test writes the phase to d/phase, and after a whole round
    in phase p this writes d/ack-p. JSON per connection at the end."""
    cs = []
    for _ in range(n):
        s = socket.create_connection((vip, port), timeout=2)
        c = {"port": s.getsockname()[1], "sock": s, "seen": [], "phases": {}, "error": None}
        c["first"] = ask(c)
        c["seen"].append(c["first"])
        cs.append(c)
    open(os.path.join(d, "ready"), "w").close()
    end = time.monotonic() + 600
    while time.monotonic() < end:
        stop = os.path.exists(os.path.join(d, "stop"))
        try:
            phase = open(os.path.join(d, "phase")).read().strip() or "0"
        except OSError:
            phase = "0"
        for c in cs:
            if c["error"]:
                continue
            try:
                name = ask(c)
            except OSError as e:
                c["error"] = "%s: %s" % (type(e).__name__, e)
                continue
            if name not in c["seen"]:
                c["seen"].append(name)
            c["phases"][phase] = c["phases"].get(phase, 0) + 1
        open(os.path.join(d, "ack-" + phase), "w").close()
        if stop:
            break
        time.sleep(0.1)
    for c in cs:
        del c["sock"]
    print(json.dumps(cs))


def entries(path):
    """bpftool -j map dump: {key (hex string): [value bytes per CPU or one]}."""
    out = {}
    for e in json.load(open(path)):
        k = "".join(x[2:] for x in e["key"])
        if "values" in e:
            out[k] = [bytes(int(x, 16) for x in v["value"]) for v in e["values"]]
        else:
            out[k] = [bytes(int(x, 16) for x in e["value"])]
    return out


def kept(before, after):
    """Entries of before still in after: 'N of M' and the missing ones."""
    b, a = entries(before), entries(after)
    missing = [k for k in b if k not in a]
    print("%d %d %s" % (len(b) - len(missing), len(b), " ".join(missing[:3])))


def flows_grew(before, after):
    """sfcctl -j flows, before and after: the flows of before (by
    direction, protocol, addresses and ports) whose packets did not grow."""
    def load(p):
        r = {}
        for fm in json.load(open(p))["flowmons"]:
            for f in fm["flows"]:
                k = tuple(str(f.get(x)) for x in ("direction", "protocol", "src", "dst",
                                                  "src_port", "dst_port"))
                r[k] = f["packets"]
        return r
    b, a = load(before), load(after)
    shrunk = [k for k in b if k in a and a[k] < b[k]]
    grew = [k for k in b if k in a and a[k] > b[k]]
    print("%d %d %d" % (len(b), len(grew), len(shrunk)))


def stats(before, after):
    """sfcctl -j stats: stages whose counters went down (reset), and the
    packets the stages of before counted in between."""
    def load(p):
        return {s["name"]: s for s in json.load(open(p))["stages"]}
    b, a = load(before), load(after)
    reset = []
    for n, s in b.items():
        for d in ("forward", "reverse"):
            for k, v in s[d].items():
                if isinstance(v, int) and n in a and a[n][d][k] < v:
                    reset.append("%s.%s.%s" % (n, d, k))
    grew = sum(a[n]["forward"]["packets"] - b[n]["forward"]["packets"] for n in b if n in a)
    print("%s %d" % (",".join(reset) or "none", grew))


def record(path):
    """bpftool -j map lookup of <chain>/layout: version, applied_by, and
    name:map_abi per function."""
    v = json.load(open(path))
    v = bytes(int(x, 16) for x in (v["value"] if "value" in v else v[0]["value"]))
    n = int.from_bytes(v[40:44], "little")
    fns = []
    for i in range(n):
        f = v[48 + 40 * i:88 + 40 * i]
        fns.append("%s:%d" % (f[:33].split(b"\0")[0].decode(), int.from_bytes(f[36:40], "little")))
    print(int.from_bytes(v[0:4], "little"), v[8:40].split(b"\0")[0].decode(), " ".join(fns))


def patch(path, offset, value, out):
    """bpftool -j map lookup output: the value as bpftool's hex words, with
    the little-endian __u32 at offset set to value."""
    v = json.load(open(path))
    b = bytearray(int(x, 16) for x in (v["value"] if "value" in v else v[0]["value"]))
    offset = int(offset)
    b[offset:offset + 4] = int(value).to_bytes(4, "little")
    open(out, "w").write(" ".join("%d" % x for x in b))


def value_hex(path, out):
    v = json.load(open(path))
    b = bytes(int(x, 16) for x in (v["value"] if "value" in v else v[0]["value"]))
    open(out, "w").write(" ".join("%d" % x for x in b))


def layout_abi_offset(path, fn):
    """Offset of function fn's map_abi in the layout record."""
    v = json.load(open(path))
    v = bytes(int(x, 16) for x in (v["value"] if "value" in v else v[0]["value"]))
    for i in range(int.from_bytes(v[40:44], "little")):
        if v[48 + 40 * i:81 + 40 * i].split(b"\0")[0].decode() == fn:
            print(48 + 40 * i + 36)
            return
    print(-1)


def collect(port, out):
    """An IPFIX/UDP collector: a JSON line per message (sequence number,
    observation domain, data records by set id)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    f = open(out, "a", buffering=1)
    while True:
        m = s.recv(65535)
        if len(m) < 16 or int.from_bytes(m[0:2], "big") != 10:
            continue
        i, data = 16, 0
        while i + 4 <= len(m):
            sid, ln = int.from_bytes(m[i:i + 2], "big"), int.from_bytes(m[i + 2:i + 4], "big")
            if ln < 4:
                break
            data += sid >= 256
            i += ln
        f.write(json.dumps({"seq": int.from_bytes(m[8:12], "big"),
                            "domain": int.from_bytes(m[12:16], "big"), "data_sets": data}) + "\n")


def exported(path):
    """Messages with data sets so far."""
    n = 0
    try:
        for l in open(path):
            n += json.loads(l)["data_sets"] > 0
    except OSError:
        pass
    print(n)


def main(a):
    cmd = a.pop(0)
    f = globals()[cmd]
    conv = {"serve": (str, int, str, str), "hold": (str, int, int, str),
            "collect": (int, str)}.get(cmd)
    args = [t(x) for t, x in zip(conv, a)] if conv else a
    f(*args)


main(sys.argv[1:])
EOF

PYTHON=$(python3 -c 'import sys; print(sys.executable)')
py() { "$PYTHON" "$PY" "$@"; }

# wait_for SECONDS CMD...: until CMD succeeds (a bound, not an assertion).
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# pins: every pin of the chain with its inode: a pin replaced or re-made
# gets a new inode, so equal listings mean nothing was touched.
pins() { find "$DIR" -printf '%P %i\n' | sort; }

# dump MAP FILE: the chain's pinned map nf/MAP as bpftool JSON.
dump() { bpftool -j map dump pinned "$DIR/nf/$1" >"$2"; }

# snapshot TAG: what the chain holds, by this sfcctl and bpftool.
snapshot() {
	S -j stats "$CHAIN" >"$TEST_TMP/stats.$1"
	S -j flows "$CHAIN" >"$TEST_TMP/flows.$1"
	S -j lb "$CHAIN" >"$TEST_TMP/lb.$1"
	dump fw/sfc_fw_ct "$TEST_TMP/ct.$1"
	dump mon/sfc_flowmon_flows "$TEST_TMP/fl.$1"
	dump lb/sfc_lb_conns "$TEST_TMP/conns.$1"
}

# chain_file FILE [EXTRA_RULE] [EXTRA_FUNCTION] [drain]: the chain, with a
# further firewall rule and a passthrough function after the flowmon when
# given, and with b1 drained (out of the Maglev table, its flows kept).
chain_file() {
	{
		cat <<-EOF
			apiVersion: sfc/v1alpha1
			kind: Chain
			metadata:
			  name: $CHAIN
			spec:
			  interface: $SFC_IN
			  egress:
			    action: redirect
			    interface: $SFC_OUT
			  functions:
			    - name: fw
			      type: firewall
			      config:
			        defaultAction: drop
			        stateful: true
			        maxConnections: 65536
			        rules:
			          - {action: allow, protocol: icmp, icmpType: echo-request}
			          - {action: allow, dst: $SERVER4, protocol: udp, dstPort: $UDP_PORT}
			          - {action: allow, dst: $VIP4, protocol: tcp, dstPort: 80}
		EOF
		[ -n "${2:-}" ] && echo "          - $2"
		cat <<-EOF
			    - name: mon
			      type: flowmon
			      config:
			        maxFlows: 65536
			        activeTimeout: 1s
			        inactiveTimeout: 600s
			        ipfix: {collector: "127.0.0.1:$IPFIX_PORT", transport: udp, observationDomain: 7}
		EOF
		[ -n "${3:-}" ] && echo "    - {name: $3, type: passthrough}"
		cat <<-EOF
			    - name: lb
			      type: loadbalancer
			      config:
			        maxConnections: 65536
			        services:
			          - vip: $VIP4
			            port: 80
			            protocol: tcp
			            mode: nat
			            backends:
			              - {address: ${BACKEND4[1]}${4:+, state: drain}}
			              - {address: ${BACKEND4[2]}}
			              - {address: ${BACKEND4[3]}}
		EOF
	} >"$1"
}

# applied FILE RESULT DESC: this sfcctl applies FILE with result RESULT
# (a regex over the JSON result).
applied() {
	local out
	out=$(S -j -n "$NS_SFC" apply "$1" 2>&1)
	echo "    $out"
	check "$3" grep -Eq "\"result\":\"($2)\"" <<<"$out"
}

# phase N: tell the holder, and wait until it made a round in phase N.
phase() {
	echo "$1" >"$H/phase"
	check "every held connection answered in phase $1" wait_for 30 test -e "$H/ack-$1"
}

# ---- 1. the old release applies the chain ------------------------------------

lab_up
H=$TEST_TMP/hold
mkdir -p "$H"
for k in 1 2 3; do
	in_ns "b$k" "$PYTHON" "$PY" serve "${BACKEND4[k]}" 80 "b$k" "$TEST_TMP/b$k.ready" \
		>"$TEST_TMP/b$k.log" 2>&1 &
done
check "three backends listen" wait_for 10 test -e "$TEST_TMP/b1.ready" -a -e "$TEST_TMP/b2.ready" \
	-a -e "$TEST_TMP/b3.ready"

chain_file "$TEST_TMP/v0.yaml"
chain_file "$TEST_TMP/v1.yaml" "{action: allow, dst: $SERVER4, protocol: udp, dstPort: 6002}"
chain_file "$TEST_TMP/v2.yaml" "{action: allow, dst: $SERVER4, protocol: udp, dstPort: 6002}" tap
chain_file "$TEST_TMP/v3.yaml" "{action: allow, dst: $SERVER4, protocol: udp, dstPort: 6002}" "" drain
# v4 .. v7: each a new firewall rule set, so that each apply below would
# build a new generation (and check every pinned map) even if one before it
# had been let through.
for v in 4 5 6 7; do
	chain_file "$TEST_TMP/v$v.yaml" "{action: allow, dst: $SERVER4, protocol: udp, dstPort: 600$v}" tap drain
done

out=$(O -n "$NS_SFC" apply "$TEST_TMP/v0.yaml" 2>&1)
echo "    $OLD_TAG: $out"
check "$OLD_TAG's sfcctl applies firewall -> flowmon -> loadbalancer" grep -q created <<<"$out"
check "warm-up: client -> server" in_ns client ping -c 2 -i 0.2 -W 2 "$SERVER4"
for k in 1 2 3; do
	check "warm-up: client -> b$k" in_ns client ping -c 1 -W 2 "${BACKEND4[k]}"
done

# ---- 2. traffic ------------------------------------------------------------------

in_ns server "$SEQGEN" recv --port $UDP_PORT --timeout 3 --wait 30 -j --ready "$TEST_TMP/r.ready" \
	>"$TEST_TMP/recv.json" 2>"$TEST_TMP/recv.err" &
RECV_PID=$!
wait_for 10 test -e "$TEST_TMP/r.ready"
# nsenter execs seqgen: $! is the sender itself, to be stopped at the end.
nsenter --net="/run/netns/$NS_CLIENT" "$SEQGEN" send --dst "$SERVER4" --port $UDP_PORT \
	--rate $RATE --duration 590 --count 2000000 --size 200 >"$TEST_TMP/send.out" 2>&1 &
SEND_PID=$!
in_ns client "$PYTHON" "$PY" hold "$VIP4" 80 $HOLD "$H" >"$H/result" 2>"$H/err" &
HOLD_PID=$!
check "$HOLD connections held through $VIP4:80" wait_for 30 test -e "$H/ready"
phase 0
sleep 1 # the stream under way: flows, connections and counters to compare

# ---- 3. this release adopts it -------------------------------------------------------

# The old release's view first, this one's after it: no counter lower.
O -j stats "$CHAIN" >"$TEST_TMP/stats.by-old"
snapshot old
is "$(py stats "$TEST_TMP/stats.by-old" "$TEST_TMP/stats.old" | cut -d' ' -f1)" none \
	"this sfcctl's stats of the old chain agree with $OLD_TAG's (no counter lower)"
check "status reads the old chain" grep -q '"generation":1' <(S -j status "$CHAIN")
check "status names its three functions" grep -Eq '"fw".*"mon".*"lb"' <(S -j status "$CHAIN")
check "rules lists the old firewall's three rules" \
	"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["firewalls"][0]["rules"]) == 3, d' \
	<(S -j rules "$CHAIN")
check "flows lists the stream's flow" grep -q "\"dst_port\":$UDP_PORT" "$TEST_TMP/flows.old"
check "lb lists the service" grep -q "\"vip\":\"$VIP4\"" "$TEST_TMP/lb.old"
n_ct=$(py kept "$TEST_TMP/ct.old" "$TEST_TMP/ct.old" | cut -d' ' -f2)
n_fl=$(py kept "$TEST_TMP/fl.old" "$TEST_TMP/fl.old" | cut -d' ' -f2)
n_cn=$(py kept "$TEST_TMP/conns.old" "$TEST_TMP/conns.old" | cut -d' ' -f2)
check "the old chain holds state: $n_ct conntrack entries, $n_fl flow records, $n_cn LB connections" \
	test "$n_ct" -ge $((HOLD + 1)) -a "$n_fl" -ge $((HOLD + 1)) -a "$n_cn" -ge "$HOLD"
check "a chain of $OLD_TAG has no layout record" test ! -e "$DIR/layout"
check "status -j: applied by ${OLD_TAG#v}" grep -q "\"applied_by\":\"${OLD_TAG#v}\"" <(S -j status "$CHAIN")

pins >"$TEST_TMP/pins.0"
applied "$TEST_TMP/v0.yaml" unchanged "the same file, applied by this sfcctl: unchanged"
is "$(pins | md5sum)" "$(md5sum <"$TEST_TMP/pins.0")" "unchanged: no pin touched"
phase 1
applied "$TEST_TMP/v1.yaml" "config|swapped" "a firewall rule added: applied in place"
check "status -j: applied by $NEW_VERSION" grep -q "\"applied_by\":\"$NEW_VERSION\"" <(S -j status "$CHAIN")
check "rules shows the new rule" \
	"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["firewalls"][0]["rules"]) == 4, d' \
	<(S -j rules "$CHAIN")
read -r rec_v rec_by rec_fns < <(bpftool -j map lookup pinned "$DIR/layout" key 0 0 0 0 >"$TEST_TMP/layout.json" &&
	py record "$TEST_TMP/layout.json")
is "${rec_v:-} ${rec_by:-} ${rec_fns:-}" "1 $NEW_VERSION fw:1 mon:1 lb:1" \
	"the layout record: version 1, applied by $NEW_VERSION, each function's map ABI"
phase 2
applied "$TEST_TMP/v2.yaml" swapped "a function added (passthrough after the flowmon): swapped"
phase 3
applied "$TEST_TMP/v3.yaml" swapped "the function removed again, and b1 drained: swapped"
check "b1 drained: out of the Maglev table" "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))["loadbalancers"][0]
b = [b for s in d["services"] for b in s["backends"] if b["address"] == sys.argv[2]][0]
assert (b["state"], b["table_entries"]) == ("drain", 0), b' <(S -j lb "$CHAIN") "${BACKEND4[1]}"
phase 4

# ---- 4. refusals: each leaves the chain as it was --------------------------------------

# refused FILE PATTERN DESC: this sfcctl refuses FILE with a message that
# matches PATTERN (grep -E) and names the chain; no pin changed.
refused() {
	local out rc
	pins >"$TEST_TMP/pins.r"
	out=$(S -n "$NS_SFC" apply "$1" 2>&1)
	rc=$?
	echo "    $out"
	is "$rc" 1 "$3: refused (exit 1)"
	check "$3: the message names the chain and says what to do" \
		grep -Eq "chain $CHAIN.*($2).*(sfcctl delete $CHAIN|release that applied it)" <<<"$out"
	is "$(pins | md5sum)" "$(md5sum <"$TEST_TMP/pins.r")" "$3: no pin touched"
}

# The chain's info claims a chain ABI from the future.
bpftool -j map lookup pinned "$DIR/info" key 0 0 0 0 >"$TEST_TMP/info.json"
py value_hex "$TEST_TMP/info.json" "$TEST_TMP/info.orig"
py patch "$TEST_TMP/info.json" 0 99 "$TEST_TMP/info.future"
# shellcheck disable=SC2046 # one word per byte
bpftool map update pinned "$DIR/info" key 0 0 0 0 value $(cat "$TEST_TMP/info.future")
refused "$TEST_TMP/v4.yaml" "newer sfc.*chain ABI 99" "info with chain ABI 99"
check "status says why it cannot read it" grep -q "another sfc ABI version" <(S status "$CHAIN" 2>&1)
# shellcheck disable=SC2046
bpftool map update pinned "$DIR/info" key 0 0 0 0 value $(cat "$TEST_TMP/info.orig")
check "info restored: status reads it again" S status "$CHAIN"

# The layout record says the firewall's maps have another layout.
bpftool -j map lookup pinned "$DIR/layout" key 0 0 0 0 >"$TEST_TMP/layout.json"
off=$(py layout_abi_offset "$TEST_TMP/layout.json" fw)
py value_hex "$TEST_TMP/layout.json" "$TEST_TMP/layout.orig"
py patch "$TEST_TMP/layout.json" "$off" 7 "$TEST_TMP/layout.other"
# shellcheck disable=SC2046
bpftool map update pinned "$DIR/layout" key 0 0 0 0 value $(cat "$TEST_TMP/layout.other")
refused "$TEST_TMP/v5.yaml" "function fw \(firewall\).*layout 7" "the firewall's maps of layout 7"
# shellcheck disable=SC2046
bpftool map update pinned "$DIR/layout" key 0 0 0 0 value $(cat "$TEST_TMP/layout.orig")

# A pinned map replaced by one whose value is 8 bytes larger: the live
# programs keep the real one (they hold it), moved aside and put back after.
# replaced_map PIN FILE PATTERN DESC
replaced_map() {
	local pin=$1 type key val max
	read -r type key val max < <(bpftool -j map show pinned "$pin" |
		"$PYTHON" -c 'import json,sys; m=json.load(sys.stdin); print(m["type"], m["bytes_key"], m["bytes_value"], m["max_entries"])')
	mkdir -p "$SAVE"
	mv "$pin" "$SAVE/map"
	check "$4: values of $((val + 8)) bytes instead of $val" \
		bpftool map create "$pin" type "$type" key "$key" value $((val + 8)) entries "$max" name sfc_upg_fake
	refused "$2" "$3.*value has $((val + 8)) bytes" "$4"
	rm -f "$pin"
	mv "$SAVE/map" "$pin"
	rmdir "$SAVE"
}
replaced_map "$DIR/nf/mon/sfc_flowmon_flows" "$TEST_TMP/v6.yaml" "function mon \(flowmon\).*sfc_flowmon_flows" \
	"the flow table of another layout"
# The chain's own counters, made once by the release that created the chain.
replaced_map "$DIR/stats" "$TEST_TMP/v6.yaml" "the chain runtime.*sfc_stats" \
	"the chain's stats of another layout"

applied "$TEST_TMP/v7.yaml" swapped "with everything restored, a new rule set applies: swapped"
phase 5

snapshot new

# ---- 5. the agent: the old one stopped, the new one goes on exporting ----------------------

py collect $IPFIX_PORT "$TEST_TMP/ipfix.jsonl" 2>"$TEST_TMP/collect.err" &
# exported_more N: the collector has more than N messages with data records.
exported_more() { [ "$(py exported "$TEST_TMP/ipfix.jsonl")" -gt "$1" ]; }
# The binaries themselves, not through O and S: $! must be the agent.
"$OLD" --pin-root "$PIN_ROOT" agent >"$TEST_TMP/agent-old.log" 2>&1 &
AGENT_PID=$!
check "$OLD_TAG's agent exports the chain's flows (IPFIX)" wait_for 20 exported_more 0
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
is "$?" 0 "$OLD_TAG's agent stops cleanly (SIGTERM)"
n_old=$(py exported "$TEST_TMP/ipfix.jsonl")
"$SFCCTL" --pin-root "$PIN_ROOT" agent >"$TEST_TMP/agent-new.log" 2>&1 &
AGENT_PID=$!
check "this release's agent, on the same pins, goes on exporting ($n_old messages before it)" \
	wait_for 20 exported_more $((n_old + 1))
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
is "$?" 0 "this release's agent stops cleanly (SIGTERM)"
AGENT_PID=
check "the new agent's log has no error" bash -c "! grep -q ': error:' '$TEST_TMP/agent-new.log'"

# ---- 6. nothing lost ----------------------------------------------------------------

touch "$H/stop"
wait "$HOLD_PID"
is "$?" 0 "the holder ends cleanly"
sed 's/^/    holder: /' "$H/err"
kill -TERM "$SEND_PID"
wait "$SEND_PID" 2>/dev/null
wait "$RECV_PID"
r=$(cat "$TEST_TMP/recv.json")
echo "    stream: $r"
received=$(json_num "$r" received)
check "the stream ran through the whole upgrade ($received datagrams)" test "${received:-0}" -ge $RATE
is "$(json_num "$r" lost)" 0 "no datagram lost"
is "$(json_num "$r" duplicates)" 0 "no datagram duplicated"

hv() { "$PYTHON" -c 'import json,sys; res=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$H/result" "$1"; }
is "$(hv "[c['error'] for c in res if c['error']]")" "[]" "no held connection reset or failed"
is "$(hv "sum(1 for c in res if c['seen'] == [c['first']])")" $HOLD \
	"each of the $HOLD held connections kept its backend"
is "$(hv "sum(1 for c in res if all(c['phases'].get(p, 0) > 0 for p in '012345'))")" $HOLD \
	"each was answered in every phase"
echo "    held connections per backend: $(hv "sorted(set((c['first'], [d['first'] for d in res].count(c['first'])) for c in res))")"
on_b1=$(hv "sum(1 for c in res if c['first'] == 'b1' and c['seen'] == ['b1'] and c['phases'].get('5', 0) > 0)")
check "$on_b1 held connections on b1 kept it after it was drained (their LB connection entries, not Maglev)" \
	test "$on_b1" -ge 1

for m in "ct:conntrack entries" "fl:flow records" "conns:LB connection entries"; do
	read -r k n miss < <(py kept "$TEST_TMP/${m%%:*}.old" "$TEST_TMP/${m%%:*}.new")
	is "$k" "$n" "all $n ${m#*:} of the old chain still there${miss:+ (missing: $miss)}"
done
read -r nf ngrew nshrunk < <(py flows_grew "$TEST_TMP/flows.old" "$TEST_TMP/flows.new")
is "$nshrunk" 0 "no flow record's packet count went down ($nf flows)"
check "the stream's and the held connections' flow records kept counting ($ngrew grew)" \
	test "$ngrew" -ge $((HOLD + 1))
read -r reset grew < <(py stats "$TEST_TMP/stats.old" "$TEST_TMP/stats.new")
is "$reset" none "no stage counter was reset"
check "the stages kept counting ($grew packets more)" test "$grew" -gt 0
is "$("$PYTHON" -c '
import json, sys
print(sum(s[d]["tail_call_miss"] for s in json.load(open(sys.argv[1]))["stages"] for d in ("forward", "reverse")))' \
	"$TEST_TMP/stats.new")" 0 "no tail call missed"

# ---- 7. delete ----------------------------------------------------------------------

# ids: the ids of every object of KIND (prog or map) pinned in the chain.
ids() {
	find "$DIR" -type f -exec bpftool -j "$1" show pinned {} \; 2>/dev/null | "$PYTHON" -c '
import json, sys
t, d, i = sys.stdin.read(), json.JSONDecoder(), 0
while True:
    while i < len(t) and t[i].isspace():
        i += 1
    if i == len(t):
        break
    o, i = d.raw_decode(t, i)
    if "id" in o:  # not {"error": ...}: an object of another kind
        print(o["id"])' | sort -u
}
progs=$(ids prog)
maps=$(ids map)
check "this sfcctl deletes the chain" S delete "$CHAIN"
check "no pin left" test ! -e "$DIR"
check "no XDP program left on $SFC_IN and $SFC_OUT" \
	bash -c "! nsenter --net=/run/netns/$NS_SFC ip link show | grep -q xdp"
gone() {
	local id
	for id in $progs; do bpftool prog show id "$id" >/dev/null 2>&1 && return 1; done
	for id in $maps; do bpftool map show id "$id" >/dev/null 2>&1 && return 1; done
	return 0
}
check "none of its $(wc -w <<<"$progs") programs and $(wc -w <<<"$maps") maps left in the kernel" \
	wait_for 10 gone

done_testing
