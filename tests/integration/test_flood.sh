#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2317 # functions called through traps and wait_for
# Floods through a whole chain: firewall (stateful) -> flowmon -> loadbalancer
# (nat), every table deliberately small (FLOOD_TABLE entries), the lab with
# two backends. xdpgen (bench/evnf) floods from the client at its full rate
# (live frames, one thread per CPU of FLOOD_CPUS): TCP SYNs from random IPv4
# sources, TCP SYNs from random IPv6 sources, UDP from random IPv4 sources,
# each frame from a source address and port of its own. A sink on the
# backends' switch drops the flood after the chain, so the backends and the
# way back see none of it. Meanwhile:
#  - HOLD keep-alive TCP connections to the VIPs (IPv4 and IPv6), opened
#    before the first flood, each make a request every 100 ms through every
#    flood and after (but one of each family, which waits the floods out and
#    makes requests before and after them only): every request is answered,
#    and always by the backend that answered the first. Their load balancer
#    entries may be evicted: Maglev gives the same tuple the same backend as
#    long as the backends do not change. Their firewall entries must stay:
#    a TCP segment of no known connection is invalid. They do, because the
#    kernel's LRU evicts entries never looked up again (the flood's) before
#    those that were (docs/hardening.md, Floods);
#  - the machine stays responsive: during each flood, a ping and a TCP
#    connect between two namespaces off the chain, `sfcctl status`, `sfcctl
#    -j stats` and the agent's metrics page all complete (bounded waits; no
#    time is asserted).
# After each flood:
#  - every frame xdpgen built (its own count, from the program) is
#    accounted for, exactly: it went into sfc-in's ring or was dropped at
#    that ring (the veth's xdp_xmit / xdp_xmit_errors on the client), and
#    every frame that went in was counted by the firewall's rule for that
#    flood's source prefix (each frame opens a connection: the rules see
#    all of them);
#  - the tables are full but never over their size: the firewall's
#    connections, the load balancer's connections and the flow table; each
#    created an entry per frame (connections_created, new_flows: at least
#    the frames that went in), and what does not fit was evicted (derived:
#    created - present; the flow table's from the agent's count too);
#  - the per-hop counters add up, for each stage and direction (packets =
#    handed_on + dropped + passed + forwarded + aborted, each stage got what
#    the one before handed on), with no tail call missed and none aborted.
# Figures (Mpps offered and taken, ring drops, CPU, table fill, evictions)
# are printed as "# ..." lines, for docs/hardening.md; nothing asserts them.
# FLOOD_SECONDS (3), FLOOD_CPUS (every CPU but the last), FLOOD_TABLE (4096),
# HOLD (12).
#
# The chain and the agent use a pin root of their own, so that an agent
# running on the host does not take the test's chain.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
XDPGEN=${XDPGEN:-$(dirname "$SFCCTL")/../bench/evnf/xdpgen}
[ -x "$XDPGEN" ] || {
	echo "FAIL - xdpgen not found at $XDPGEN (build first, or set XDPGEN)"
	exit 1
}

CHAIN=${LAB_PREFIX%-}-flood
PIN_ROOT=/sys/fs/bpf/sfc-${LAB_PREFIX%-}-flood
FLOOD_SECONDS=${FLOOD_SECONDS:-3}
# Every CPU but the last, which is left to the chain's other work, the
# probes and the rest of the machine (on 2 CPUs one thread gave the higher
# rate: two left the chain's receive work no CPU of its own).
FLOOD_CPUS=${FLOOD_CPUS:-$(seq -s, 0 $(($(nproc) > 1 ? $(nproc) - 2 : 0)))}
FLOOD_TABLE=${FLOOD_TABLE:-4096}
HOLD=${HOLD:-12} # held connections, two thirds IPv4
VIP4=10.10.9.10 VIP6=fd00:10:9::10
# The floods' sources: one prefix per flood, so that one firewall rule
# counts each (198.18.0.0/15 is for benchmarks, RFC 2544).
SRC_SYN4=198.18.0.0/16 SRC_UDP4=198.19.0.0/16 SRC_SYN6=fd00:66::/64
PY=$TEST_TMP/flood.py
LAB_BACKENDS=2

flood_cleanup() {
	local rc=$?
	[ -n "${AGENT_PID:-}" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	"$SFCCTL" --pin-root "$PIN_ROOT" delete "$CHAIN" >/dev/null 2>&1
	rm -rf "$PIN_ROOT"
	return "$rc"
}
trap 'flood_cleanup; _cleanup' EXIT

# Pin roots of runs killed by SIGKILL (ctest's timeout), which could not clean up.
reap_stale_pin_roots flood

S() { "$SFCCTL" --pin-root "$PIN_ROOT" "$@"; }

# wait_for SECONDS CMD...: until CMD succeeds (a bound, not a timing).
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ---- helpers (python3, stdlib only) ---------------------------------------

cat >"$PY" <<'EOF'
"""Traffic and judging for test_flood.sh; one subcommand each, see main()."""
import json, os, socket, sys, threading, time


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def serve(name, ready, *addrs):
    """A line server on port 80 of each address: every line read is
    answered with this backend's name."""
    def conn(c):
        f = c.makefile("rb")
        try:
            for _ in f:
                c.sendall(name.encode() + b"\n")
        except OSError:
            pass
        c.close()

    def accept(s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=conn, args=(c,), daemon=True).start()

    for a in addrs:
        s = socket.socket(family(a), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a, 80))
        s.listen(1024)
        threading.Thread(target=accept, args=(s,), daemon=True).start()
    open(ready, "w").close()
    while True:
        time.sleep(3600)


def ask(c):
    c["sock"].sendall(b"who\n")
    buf = b""
    while not buf.endswith(b"\n"):
        b = c["sock"].recv(64)
        if not b:
            raise ConnectionError("closed by the peer")
        buf += b
    return buf.decode().strip()


def hold(d, n4, n6, vip4, vip6):
    """n4 + n6 keep-alive connections to vip4:80 and vip6:80, each with a
    thread that makes a request every 100 ms until d/stop appears. The test
    writes the phase name to d/phase; a request counts for the phase it was
    sent in. When the test removes d/round, it comes back once every
    connection has had a request answered that was sent after that. At the
    end, JSON per connection: local port, backends seen, requests per phase,
    the error that ended it (null: none). A request may wait for TCP to
    retransmit through a flood: 60 s before it counts as lost."""
    cs = []
    for vip, n in ((vip4, n4), (vip6, n6)):
        for _ in range(n):
            s = socket.create_connection((vip, 80), timeout=10)
            s.settimeout(60)
            c = {"vip": vip, "port": s.getsockname()[1], "sock": s, "seen": [], "phases": {},
                 "error": None, "done": 0.0, "idle": False}
            c["seen"].append(ask(c))
            cs.append(c)
    # The last of each family waits out the floods: no request in them.
    for vip in (vip4, vip6):
        mine = [c for c in cs if c["vip"] == vip]
        if len(mine) > 1:
            mine[-1]["idle"] = True
    stop = os.path.join(d, "stop")

    def phase():
        try:
            return open(os.path.join(d, "phase")).read().strip() or "before"
        except OSError:
            return "before"

    def run(c):
        while not os.path.exists(stop):
            t, p = time.monotonic(), phase()
            if c["idle"] and p not in ("before", "after"):
                c["done"] = t
                time.sleep(0.05)
                continue
            try:
                name = ask(c)
            except OSError as e:
                c["error"] = "%s in phase %s: %s" % (type(e).__name__, p, e)
                return
            if name not in c["seen"]:
                c["seen"].append(name)
            c["phases"][p] = c["phases"].get(p, 0) + 1
            c["done"] = t
            time.sleep(0.1)

    ts = [threading.Thread(target=run, args=(c,), daemon=True) for c in cs]
    for t in ts:
        t.start()
    with open(os.path.join(d, "ready.tmp"), "w") as f:
        json.dump([[c["port"], c["seen"][0]] for c in cs], f)
    os.rename(os.path.join(d, "ready.tmp"), os.path.join(d, "ready"))
    mark = None
    end = time.monotonic() + 280
    while time.monotonic() < end and not os.path.exists(stop):
        if not os.path.exists(os.path.join(d, "round")):
            if mark is None:
                mark = time.monotonic()
            elif all(c["done"] > mark or c["error"] for c in cs):
                open(os.path.join(d, "round"), "w").close()
                mark = None
        time.sleep(0.05)
    for t in ts:
        t.join(70)
    for c in cs:
        del c["sock"]
    print(json.dumps(cs))


def judge_hold(path, *phases):
    """Lines "1 text" (ok) or "0 text" per check of hold's result."""
    cs = json.load(open(path))
    bad = [c for c in cs if c["error"]]
    print(int(not bad), "all %d held connections worked to the end%s" % (
        len(cs), "" if not bad else ": " + "; ".join(
            "port %d: %s" % (c["port"], c["error"]) for c in bad[:4])))
    moved = [c for c in cs if len(c["seen"]) != 1]
    print(int(not moved), "each held connection kept its backend%s" % (
        "" if not moved else ": " + "; ".join(
            "port %d: %s" % (c["port"], " -> ".join(c["seen"])) for c in moved[:4])))
    by = {}
    for c in cs:
        by[c["seen"][0]] = by.get(c["seen"][0], 0) + 1
    print(1, "held connections by backend: %s" % json.dumps(by, sort_keys=True))
    busy = [c for c in cs if not c["idle"]]
    for p in phases:
        mine = busy if p != "after" else cs
        idle = [c["port"] for c in mine if not c["phases"].get(p)]
        print(int(not idle), "every %sheld connection made requests during %s (%d in all)%s" % (
            "" if p == "after" else "busy ", p, sum(c["phases"].get(p, 0) for c in mine),
            "" if not idle else ": none from ports %s" % idle[:8]))
    quiet = [c for c in cs if c["idle"]]
    print(1, "%d held connections made no request during the floods, only before and after" %
          len(quiet))


def stats(path):
    """`sfcctl -j stats` and `sfcctl -j lb` and `sfcctl -j flows`, as one
    flat JSON object of the figures the test needs."""
    st, lb, fl = (json.load(open(path + x)) for x in (".stats", ".lb", ".flows"))
    o = {}
    for s in st["stages"]:
        for d in ("forward", "reverse"):
            for k, v in s[d].items():
                o["%s.%s.%s" % (s["name"], d, k)] = v
        fw = s.get("firewall")
        if fw:
            o["fw.connections"] = fw["connections"]
            o["fw.max_connections"] = fw["max_connections"]
            for k, v in fw["verdicts"].items():
                o["fw.v.%s" % k] = v["packets"]
            for r in fw["rules"]:
                o["fw.rule.%d" % r["index"]] = r["packets"]
    l = lb["loadbalancers"][0]
    o["lb.connections"] = l["connections"]
    o["lb.max_connections"] = l["max_connections"]
    o["lb.evictions"] = l["evictions"]
    for k, v in l["counters"].items():
        o["lb.c.%s" % k] = v
    f = fl["flowmons"][0]
    for k in ("max_flows", "flows_present", "new_flows", "evictions", "insert_failed",
              "packets"):
        o["mon.%s" % k] = f[k]
    o["mon.removed"] = (f.get("agent") or {}).get("removed", 0)
    print(json.dumps(o, sort_keys=True))


def hops(path):
    """Per stage and direction: packets = handed_on + dropped + passed +
    forwarded + aborted, and each stage got what the one before handed on.
    Lines as judge_hold's."""
    st = json.load(open(path))
    by = {s["name"]: s for s in st["stages"]}
    order = {"forward": ["entry", "fw", "mon", "lb", "egress"],
             "reverse": ["entry", "lb", "mon", "fw", "egress"]}
    good, text = True, []
    for d, names in order.items():
        prev = None
        for n in names:
            c = by[n][d]
            out = c["handed_on"] + c["dropped"] + c["passed"] + c["forwarded"] + c["aborted"]
            if c["packets"] != out:
                good = False
                text.append("%s %s: packets %d != %d out" % (n, d, c["packets"], out))
            if prev is not None and c["packets"] != prev:
                good = False
                text.append("%s %s: packets %d, handed on to it %d" % (n, d, c["packets"], prev))
            if c["tail_call_miss"] or c["aborted"]:
                good = False
                text.append("%s %s: tail_call_miss %d aborted %d" % (
                    n, d, c["tail_call_miss"], c["aborted"]))
            prev = c["handed_on"]
        text.append("%s: entry %d packets, egress %d" % (
            d, by["entry"][d]["packets"], by["egress"][d]["packets"]))
    print(int(good), "the per-hop counters add up: " + "; ".join(text))
    return 0 if good else 1


def cpu():
    """Busy and total jiffies of all CPUs (/proc/stat)."""
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    print(sum(v) - v[3] - v[4], sum(v))


def main(a):
    cmd = a.pop(0)
    f = {"serve": serve, "hold": hold, "judge-hold": judge_hold, "stats": stats,
         "hops": hops, "cpu": cpu}.get(cmd)
    if not f:
        print("flood.py: unknown command %s" % cmd, file=sys.stderr)
        return 2
    if cmd == "hold":
        return f(a[0], int(a[1]), int(a[2]), a[3], a[4])
    return f(*a) or 0


sys.exit(main(sys.argv[1:]))
EOF

PYTHON=$(python3 -c 'import sys; print(sys.executable)')

# judge CMD ARGS...: the helper's lines "1 text" / "0 text" as ok / fail.
judge() {
	local good text
	if ! "$PYTHON" "$PY" "$@" >"$TEST_TMP/judge.out" 2>&1; then
		grep -q '^[01] ' "$TEST_TMP/judge.out" || {
			fail "$1: the helper failed"
			sed 's/^/    | /' "$TEST_TMP/judge.out"
			return
		}
	fi
	while read -r good text; do
		if [ "$good" = 1 ]; then ok "$text"; else fail "$text"; fi
	done <"$TEST_TMP/judge.out"
}

# snap NAME: the chain's counters and tables into $TEST_TMP/NAME.json (flat).
snap() {
	local f=$TEST_TMP/$1
	S -j stats "$CHAIN" >"$f.stats" && S -j lb "$CHAIN" >"$f.lb" &&
		S -j --top 1 flows "$CHAIN" mon >"$f.flows" && "$PYTHON" "$PY" stats "$f" >"$f.json"
}

# v NAME KEY: one figure of a snap.
v() { "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$TEST_TMP/$1.json" "$2"; }

# xmit NS DEV: "ok errors" of the XDP frames DEV sent into its veth peer,
# over its queues (ethtool -S: tx_queue_N_xdp_xmit, ..._xdp_xmit_errors).
xmit() {
	in_ns "$1" ethtool -S "$2" | awk '
		/tx_queue_[0-9]+_xdp_xmit:/ { ok += $2 }
		/tx_queue_[0-9]+_xdp_xmit_errors:/ { err += $2 }
		END { print ok + 0, err + 0 }'
}

mac_of() { in_ns "$1" ip -br link show dev "$2" | awk '{print $3}'; }

# ---- the lab, the backends, the chain ---------------------------------------

lab_up >/dev/null
mkdir -p "$PIN_ROOT"
# A receive queue on sfc-in for each CPU, as many as the veth has (here
# the CPUs), so that each generator CPU hands its frames to a queue of its
# own: the veth's xdp_xmit counters of a queue that two CPUs write at once
# can lose an update (a bulk of 16 frames, seen here), and the counts would
# no longer be exact.
rxmax=$(in_ns sfc ethtool -l "$SFC_IN" | awk '/^RX:/ {print $2; exit}')
in_ns sfc ethtool -L "$SFC_IN" rx "$rxmax" tx "$rxmax" 2>/dev/null ||
	in_ns sfc ethtool -L "$SFC_IN" rx "$rxmax" 2>/dev/null
nq=$(in_ns sfc ethtool -l "$SFC_IN" | awk '/^RX:/ {n = $2} END {print n}')
if [ "${nq:-1}" -lt "$(tr ',' '\n' <<<"$FLOOD_CPUS" | wc -l)" ]; then
	echo "note: sfc-in has $nq receive queue(s) for generator CPUs $FLOOD_CPUS: one thread only"
	FLOOD_CPUS=${FLOOD_CPUS%%,*}
fi
for k in "${!BACKEND4[@]}"; do
	in_ns "b$k" "$PYTHON" "$PY" serve "b$k" "$TEST_TMP/b$k.ready" "${BACKEND4[k]}" \
		"${BACKEND6[k]}" >"$TEST_TMP/b$k.log" 2>&1 &
	check "b$k: line server on ${BACKEND4[k]}:80 and [${BACKEND6[k]}]:80" \
		wait_for 10 test -e "$TEST_TMP/b$k.ready"
done

cat >"$TEST_TMP/chain.yaml" <<EOF
apiVersion: sfc/v1alpha1
kind: Chain
metadata: {name: $CHAIN}
spec:
  interface: $SFC_IN
  egress: {action: redirect, interface: $SFC_OUT}
  functions:
    - name: fw
      type: firewall
      config:
        defaultAction: allow
        stateful: true
        maxConnections: $FLOOD_TABLE
        rules:
          - {action: allow, src: $SRC_SYN4, comment: "flood syn4"}
          - {action: allow, src: $SRC_UDP4, comment: "flood udp4"}
          - {action: allow, src: "$SRC_SYN6", comment: "flood syn6"}
    - name: mon
      type: flowmon
      config: {maxFlows: $FLOOD_TABLE, activeTimeout: 60s, inactiveTimeout: 30s}
    - name: lb
      type: loadbalancer
      config:
        maxConnections: $FLOOD_TABLE
        tableSize: 251
        services:
          - vip: $VIP4
            port: 80
            protocol: tcp
            backends: [{address: ${BACKEND4[1]}}, {address: ${BACKEND4[2]}}]
          - vip: "$VIP6"
            port: 80
            protocol: tcp
            backends: [{address: "${BACKEND6[1]}"}, {address: "${BACKEND6[2]}"}]
          - vip: $VIP4
            port: 9
            protocol: udp
            backends: [{address: ${BACKEND4[1]}}, {address: ${BACKEND4[2]}}]
EOF
check "apply fw (stateful) -> mon -> lb (nat), tables of $FLOOD_TABLE" \
	S -n "$NS_SFC" apply "$TEST_TMP/chain.yaml" || exit 1

P_METRICS=$("$PYTHON" -c '
import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$SFCCTL" --pin-root "$PIN_ROOT" agent --metrics "127.0.0.1:$P_METRICS" >"$TEST_TMP/agent.log" 2>&1 &
AGENT_PID=$!
metrics() {
	"$PYTHON" -c '
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=60).read()' "$P_METRICS"
}
check "the agent serves its metrics" wait_for 10 metrics

# The sink: every packet from a flood prefix, dropped where the chain hands
# it to the backends' switch, and counted by its destination's last byte.
mkfifo "$TEST_TMP/sink.in"
exec {SINK_FD}<>"$TEST_TMP/sink.in"
in_ns br "$XDPGEN" sink -i sfc --src-net 198.18.0.0/15 --src-net fd00:66::/32 \
	<"$TEST_TMP/sink.in" >"$TEST_TMP/sink.out" 2>"$TEST_TMP/sink.err" &
check "the flood sink is attached on the switch's port to sfc-out" \
	wait_for 10 grep -q attached "$TEST_TMP/sink.out"
# sink_total: the sink's count so far.
sink_total() {
	local n
	n=$(grep -c total "$TEST_TMP/sink.out")
	echo >&"$SINK_FD"
	wait_for 10 test "$(grep -c total "$TEST_TMP/sink.out")" -gt "$n"
	tail -n 1 "$TEST_TMP/sink.out" | sed -nE 's/.*"total": ([0-9]+).*/\1/p'
}

# Off the chain, for responsiveness: a listener on the server.
in_ns server "$PYTHON" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7)); s.listen(64); open(sys.argv[1], "w").close()
while True: s.accept()[0].close()' "$TEST_TMP/srv.ready" &
wait_for 10 test -e "$TEST_TMP/srv.ready"

# ---- the held connections -----------------------------------------------------

mkdir -p "$TEST_TMP/hold"
echo before >"$TEST_TMP/hold/phase"
n6=$((HOLD / 3))
in_ns client "$PYTHON" "$PY" hold "$TEST_TMP/hold" $((HOLD - n6)) "$n6" "$VIP4" "$VIP6" \
	>"$TEST_TMP/hold.json" 2>"$TEST_TMP/hold.err" &
HOLD_PID=$!
check "$HOLD keep-alive connections to $VIP4:80 and [$VIP6]:80 answered" \
	wait_for 30 test -e "$TEST_TMP/hold/ready" || cat "$TEST_TMP/hold.err"
# round: wait for a whole round of requests after now.
round() {
	rm -f "$TEST_TMP/hold/round"
	wait_for 120 test -e "$TEST_TMP/hold/round"
}
round

CMAC=$(mac_of client "$CLIENT_IF")
SMAC=$(mac_of sfc "$SFC_IN")

# ---- the floods -----------------------------------------------------------------

# responsive: the probes a flood must not starve (each bounded, never timed).
responsive() {
	check "$1: ping server -> b1 (off the chain)" timeout 60 \
		nsenter --net="/run/netns/$NS_SERVER" ping -c 2 -i 0.2 -W 10 "${BACKEND4[1]}"
	check "$1: TCP connect b1 -> server:7 (off the chain)" timeout 60 \
		nsenter --net="/run/netns/${NS_BACKEND[1]}" "$PYTHON" -c '
import socket, sys
socket.create_connection((sys.argv[1], 7), timeout=30).close()' "$SERVER4"
	check "$1: sfcctl status completes" timeout 60 "$SFCCTL" --pin-root "$PIN_ROOT" status "$CHAIN"
	check "$1: sfcctl -j stats completes" timeout 60 "$SFCCTL" --pin-root "$PIN_ROOT" -j stats "$CHAIN"
	check "$1: the agent's metrics page answers" timeout 60 "$PYTHON" -c '
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=50).read()' "$P_METRICS"
}

# flood NAME MODE PREFIX DST DPORT RULE
flood() {
	local name=$1 mode=$2 src=$3 dst=$4 dport=$5 rule=$6 out=$TEST_TMP/$1.gen
	local x0 x1 c0 c1 s0 s1 frames secs ok err taken gen_ok

	echo "$name" >"$TEST_TMP/hold/phase"
	round
	snap "$name-0" || fail "$name: sfcctl snapshot before"
	x0=$(xmit client "$CLIENT_IF")
	s0=$(sink_total)
	c0=$("$PYTHON" "$PY" cpu)
	in_ns client "$XDPGEN" flood "$mode" -i "$CLIENT_IF" --smac "$CMAC" --dmac "$SMAC" \
		--src "$src" --dst "$dst" --dport "$dport" -t "$FLOOD_SECONDS" --cpus "$FLOOD_CPUS" \
		>"$out" 2>"$out.err" &
	local gen=$!
	sleep 1
	responsive "$name"
	wait "$gen"
	gen_ok=$?
	c1=$("$PYTHON" "$PY" cpu)
	check "$name: xdpgen flood $mode ran ($(cat "$out.err"))" test "$gen_ok" = 0 || return
	frames=$(json_num "$(tr -d ' ' <"$out")" frames)
	secs=$(json_num "$(tr -d ' ' <"$out")" seconds)
	# The frames that went into sfc-in's ring are counted once it is drained.
	x1=$(xmit client "$CLIENT_IF")
	read -r ok err <<<"$(paste -d' ' <(echo "$x0") <(echo "$x1") | awk '{print $3 - $1, $4 - $2}')"
	rule_done() {
		snap "$name-1" && [ "$(($(v "$name-1" "fw.rule.$rule") - $(v "$name-0" "fw.rule.$rule")))" = "$ok" ]
	}
	wait_for 10 rule_done
	snap "$name-1"
	s1=$(sink_total)
	is "$((ok + err))" "$frames" \
		"$name: every frame xdpgen built ($frames) left the client: $ok into sfc-in's ring, $err dropped at it"
	taken=$(($(v "$name-1" "fw.rule.$rule") - $(v "$name-0" "fw.rule.$rule")))
	is "$taken" "$ok" "$name: the firewall's rule $rule ($src) counted every one that went in ($ok)"
	d() { echo $(($(v "$name-1" "$1") - $(v "$name-0" "$1"))); }
	local fwc fwm lbc lbm mf mm
	fwc=$(v "$name-1" fw.connections) fwm=$(v "$name-1" fw.max_connections)
	lbc=$(v "$name-1" lb.connections) lbm=$(v "$name-1" lb.max_connections)
	mf=$(v "$name-1" mon.flows_present) mm=$(v "$name-1" mon.max_flows)
	check "$name: firewall connections $fwc of $fwm: full, not over" \
		test "$fwc" -le "$fwm" -a $((fwc * 2)) -ge "$fwm"
	check "$name: firewall connections_created +$(d fw.v.connections_created) >= $ok" \
		test "$(d fw.v.connections_created)" -ge "$ok"
	check "$name: load balancer connections $lbc of $lbm: full, not over" \
		test "$lbc" -le "$lbm" -a $((lbc * 2)) -ge "$lbm"
	# nat: a forward and a reply entry per flow
	check "$name: load balancer connections_created +$(d lb.c.connections_created) >= 2 x $ok" \
		test "$(d lb.c.connections_created)" -ge $((2 * ok))
	check "$name: load balancer evictions +$(d lb.evictions) >= created - size" \
		test "$(d lb.evictions)" -ge $(($(d lb.c.connections_created) - lbm))
	is "$(d lb.c.no_backend) $(d lb.c.errors) $(d lb.c.connection_inserts_failed)" "0 0 0" \
		"$name: load balancer: no_backend, errors, connection_inserts_failed stay 0"
	# The agent's forced end keeps it below 90 %, as far as its scans keep up.
	check "$name: flow table $mf of $mm: not over" test "$mf" -le "$mm"
	check "$name: flowmon new_flows +$(d mon.new_flows) >= $ok, insert_failed +$(d mon.insert_failed)" \
		test "$(d mon.new_flows)" -ge "$ok" -a "$(d mon.insert_failed)" = 0
	check "$name: flowmon evictions +$(d mon.evictions) >= new_flows - size - removed by the agent (+$(d mon.removed))" \
		test "$(d mon.evictions)" -ge $(($(d mon.new_flows) - mm - $(d mon.removed)))
	"$PYTHON" - "$name" "$mode" "$frames" "$secs" "$ok" "$err" "$c0" "$c1" "$((s1 - s0))" \
		"$fwc/$fwm" "$(d fw.v.connections_created)" "$lbc/$lbm" "$(d lb.evictions)" \
		"$mf/$mm" "$(d mon.new_flows)" "$(d mon.evictions)" "$FLOOD_CPUS" "$(d mon.removed)" <<'EOF'
import sys
(name, mode, frames, secs, ok, err, c0, c1, sink, fw, fwn, lb, lbe, mon, monn, mone,
 cpus, monr) = sys.argv[1:]
frames, secs, ok, err, sink = int(frames), float(secs), int(ok), int(err), int(sink)
b0, t0 = map(int, c0.split()); b1, t1 = map(int, c1.split())
print("# %s: %d frames in %.2f s from CPUs %s: %.3f Mpps offered, %.3f Mpps into the chain "
      "(%d dropped at sfc-in's ring), %d reached the backends' switch; CPU busy %.0f%% (all CPUs); "
      "firewall %s connections (+%s created), lb %s (+%s evicted), flows %s (+%s new, +%s evicted, "
      "+%s ended by the agent)"
      % (name, frames, secs, cpus, frames / secs / 1e6, ok / secs / 1e6, err, sink,
         100.0 * (b1 - b0) / max(t1 - t0, 1), fw, fwn, lb, lbe, mon, monn, mone, monr))
EOF
}

flood syn4 syn "$SRC_SYN4" "$VIP4" 80 0
flood syn6 syn "$SRC_SYN6" "$VIP6" 80 2
flood udp4 udp "$SRC_UDP4" "$VIP4" 9 1

# ---- after ------------------------------------------------------------------------

echo after >"$TEST_TMP/hold/phase"
round
round
touch "$TEST_TMP/hold/stop"
wait "$HOLD_PID"
judge judge-hold "$TEST_TMP/hold.json" syn4 syn6 udp4 after
check "new connections to $VIP4:80 after the floods" in_ns client "$PYTHON" -c '
import socket, sys
for _ in range(20):
    s = socket.create_connection((sys.argv[1], 80), timeout=10); s.sendall(b"who\n")
    assert s.recv(64).startswith(b"b"); s.close()' "$VIP4"

# The counters, once nothing moves: retried, as a neighbour solicitation may
# pass between the reads of two stages.
hops_ok() {
	S -j stats "$CHAIN" >"$TEST_TMP/hops.json" && "$PYTHON" "$PY" hops "$TEST_TMP/hops.json" >/dev/null
}
wait_for 10 hops_ok
judge hops "$TEST_TMP/hops.json"
# Those connections ended with FIN: the agent handles their end notices 0.5 s
# later (a monitor without a collector once crashed it there).
sleep 2
check "the agent lived through the floods and the ends of flows" kill -0 "$AGENT_PID"
check "the agent's log has no error" bash -c "! grep -q ': error:' '$TEST_TMP/agent.log'"

done_testing
