#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# shellcheck disable=SC2317 # functions called through traps and wait_for
# sfcctl agent on a chain with a firewall and a flowmon, real traffic through
# the lab, the collector on the host's loopback:
#  - UDP (IPv4 forward, IPv6 reverse) and a TCP transfer with FIN, exported
#    over IPFIX/UDP to nfdump's nfcapd: nfdump reports exactly the packets
#    and IP bytes that were sent, also of a reverse flow the firewall drops
#    after the monitor counted it;
#  - the metrics pages (--metrics and the flowmon's prometheus.listen) pass
#    `promtool check metrics`, and their counters equal `sfcctl -j stats`;
#  - kill -9 of the agent in the middle of a flow: packets keep flowing, and
#    the restarted agent exports the rest: the collector gets every packet
#    once;
#  - kill -9 at many points under traffic (section 6): hundreds of flows
#    that idle out and begin again, agents killed at random moments and,
#    under strace, at the K-th bpf() or sendto() call: the collector gets
#    every packet of every flow (duplicates, told by their flow and
#    flowStartMilliseconds, counted once), the receiver every datagram;
#  - a collector that is down: errors counted, the agent lives on, no flow
#    leaves the table until the collector is back and has it;
#  - IPFIX over TCP to a collector written here (it checks the message
#    headers and sequence numbers): templates, both families, flowEndReason
#    idle, active and end of flow, flowDirection, timestamps,
#    forwardingStatus (forwarded; dropped by the firewall: ACL deny); the
#    collector going away is counted, not fatal.
# The agent uses a pin root of its own, so that an agent running on the host
# (systemd) does not take the test's flows.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
require_seqgen
for c in nfcapd nfdump promtool python3; do
	command -v "$c" >/dev/null 2>&1 ||
		skip "$c not installed (Debian: apt-get install nfdump prometheus python3)"
done

CHAIN=${LAB_PREFIX%-}-agent
PIN_ROOT=/sys/fs/bpf/sfc-${LAB_PREFIX%-}
SEQ_END=3 # seqgen ends each stream with 3 END datagrams of the same size

# The chain lives under PIN_ROOT, which lib.sh's cleanup does not know.
agent_cleanup() {
	local rc=$?
	"$SFCCTL" --pin-root "$PIN_ROOT" delete "$CHAIN" >/dev/null 2>&1
	rm -rf "$PIN_ROOT"
	return "$rc"
}
trap 'agent_cleanup; _cleanup' EXIT

S() { "$SFCCTL" --pin-root "$PIN_ROOT" "$@"; }

# free_port tcp|udp: a port nobody listens on now.
free_port() {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}

P_IPFIX=$(free_port udp)
P_TCP=$(free_port tcp)
P_ALL=$(free_port tcp)
P_CHAIN=$(free_port tcp)
while [ "$P_CHAIN" = "$P_ALL" ] || [ "$P_CHAIN" = "$P_TCP" ]; do P_CHAIN=$(free_port tcp); done

# write_chain TRANSPORT PORT
write_chain() {
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
        rules: [{action: drop, protocol: udp, dstPort: 9}]
    - name: mon
      type: flowmon
      config:
        maxFlows: 4096
        activeTimeout: 4s
        inactiveTimeout: 2s
        ipfix: {collector: "127.0.0.1:$2", transport: $1, observationDomain: 7}
        prometheus: {listen: "127.0.0.1:$P_CHAIN"}
EOF
}

# metrics PORT: the page (python: curl is not a dependency).
metrics() {
	python3 -c '
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())' "$1"
}

# metric PORT NAME LABELS: one sample's value ("" when absent).
metric() {
	metrics "$1" | python3 -c '
import sys
name, labels = sys.argv[1], sys.argv[2]
want = name + ("{" + labels + "}" if labels else "")
for line in sys.stdin:
    if line.startswith(want + " "):
        print(int(float(line.split()[-1]))); break' "$2" "$3"
}

L="chain=\"$CHAIN\",function=\"mon\""

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

flows_empty() { [ "$(metric "$P_ALL" sfc_flowmon_flows "$L")" = 0 ]; }

AGENT_PID=
agent_start() {
	# not through S(): $! must be sfcctl itself, not a subshell
	"$SFCCTL" --pin-root "$PIN_ROOT" agent --metrics "127.0.0.1:$P_ALL" \
		>>"$TEST_TMP/agent.log" 2>&1 &
	AGENT_PID=$!
	wait_for 10 metrics "$P_ALL"
}

NFCAPD_PID=
# nfcapd_start DIR: a collector on the host's loopback, files rotated every 2 s.
nfcapd_start() {
	mkdir -p "$1"
	nfcapd -w "$1" -b 127.0.0.1 -p "$P_IPFIX" -t 2 >"$1.log" 2>&1 &
	NFCAPD_PID=$!
	wait_for 5 grep -q "Startup" "$1.log"
}

nfcapd_stop() {
	kill "$NFCAPD_PID" 2>/dev/null
	wait "$NFCAPD_PID" 2>/dev/null
	NFCAPD_PID=
}

# nf_flow DIR PROTO SPORT DPORT: "packets bytes flows flags dirs fwds" of
# the records nfcapd stored for that 5-tuple's ports, summed (fwds: the
# forwarding status values).
nf_flow() {
	nfdump -R "$1" -o csv 2>/dev/null | python3 -c '
import csv, sys
proto, sport, dport = sys.argv[1:4]
pk = by = n = 0; flags = set(); dirs = set(); fwds = set()
for r in csv.DictReader(sys.stdin):
    if r.get("pr") is None or r["ts"] in ("", "Summary"):
        break
    if r["pr"] == proto and r["sp"] == sport and r["dp"] == dport:
        pk += int(r["ipkt"]); by += int(r["ibyt"]); n += 1
        flags.update(c for c in r["flg"] if c != "."); dirs.add(r["dir"]); fwds.add(r["fwd"])
print(pk, by, n, "".join(sorted(flags)) or "-", ",".join(sorted(dirs)),
      ",".join(sorted(fwds)))' "$2" "$3" "$4"
}

# nf_has_fwd DIR: does nfcapd store forwardingStatus (IE 89) from IPFIX?
# nfdump 1.7.1 (Debian 12) decodes the element but keeps 0.
nf_has_fwd() {
	nfdump -R "$1" -o csv 2>/dev/null | python3 -c '
import csv, sys
for r in csv.DictReader(sys.stdin):
    if r.get("pr") is None or r["ts"] in ("", "Summary"):
        break
    if r["fwd"] not in ("", "0"):
        sys.exit(0)
sys.exit(1)'
}

# nf_sport DIR PROTO DPORT: the source port of the flow to DPORT (seqgen
# picks its own).
nf_sport() {
	nfdump -R "$1" -o csv "proto $2 and dst port $3" 2>/dev/null | awk -F, 'NR == 2 {print $6}'
}

# nf_total DIR: the number of records nfcapd stored.
nf_total() {
	nfdump -R "$1" -o csv 2>/dev/null | python3 -c '
import csv, sys
n = 0
for r in csv.DictReader(sys.stdin):
    if r.get("pr") is None or r["ts"] in ("", "Summary"):
        break
    n += 1
print(n)'
}

# ---- setup --------------------------------------------------------------

lab_up
write_chain udp "$P_IPFIX"
check "apply a chain with a firewall and a flowmon" S -n "$NS_SFC" apply "$TEST_TMP/chain.yaml"
nfcapd_start "$TEST_TMP/nf1"
agent_start
check "agent serves --metrics" metrics "$P_ALL"
check "agent serves the flowmon's prometheus.listen" metrics "$P_CHAIN"
check_fails "a second agent on the same pin root is refused" S agent --once
# The lab's own chatter (neighbour discovery) is exported too: let it settle.
wait_for 15 flows_empty

# ---- 1. IPFIX over UDP to nfcapd: exact counts ---------------------------

seqgen_recv_start server 5001 --expect 1000 --timeout 2
check "send 1000 UDP datagrams client -> server (IPv4)" in_ns client "$SEQGEN" send \
	--dst "$SERVER4" --port 5001 --count 1000 --rate 5000 --size 200
seqgen_recv_wait
is "$(json_num "$SEQ_RESULT" lost)" 0 "1000 datagrams arrived"
seqgen_recv_start client 5002 --expect 300 --timeout 2
check "send 300 UDP datagrams server -> client (IPv6, reverse)" in_ns server "$SEQGEN" send \
	--dst "$CLIENT6" --port 5002 --count 300 --rate 5000 --size 100
seqgen_recv_wait
is "$(json_num "$SEQ_RESULT" lost)" 0 "300 datagrams arrived"

# A TCP transfer that ends with FIN; the client reports what it sent
# (TCP_INFO: segments and payload bytes, SYN and last ACK included).
in_ns server python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5003)); s.listen(1); open(sys.argv[1], "w").close()
c, _ = s.accept()
while c.recv(65536): pass
c.close()' "$TEST_TMP/tcp.ready" &
wait_for 5 test -e "$TEST_TMP/tcp.ready"
tcp_out=$(in_ns client python3 -c '
import socket, struct, sys, time
s = socket.create_connection((sys.argv[1], 5003))
s.sendall(b"x" * 200000); s.shutdown(socket.SHUT_WR)
while s.recv(65536): pass
time.sleep(0.2)  # our ACK of the peer FIN is out
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
# struct tcp_info: tcpi_segs_out at offset 136, tcpi_bytes_sent at 200 (Linux 4.19+)
segs_out = struct.unpack_from("I", info, 136)[0]
bytes_sent = struct.unpack_from("Q", info, 200)[0]
print(s.getsockname()[1], segs_out, bytes_sent)
s.close()' "$SERVER4")
read -r tcp_port tcp_segs tcp_payload <<<"$tcp_out"
ok "TCP transfer: port $tcp_port, $tcp_segs segments, $tcp_payload payload bytes"

# Reverse, the functions run in reverse order: the monitor counts these, then
# the firewall drops them (UDP to port 9).
check "send 50 UDP datagrams server -> client port 9 (reverse, dropped by fw)" in_ns server \
	"$SEQGEN" send --dst "$CLIENT4" --port 9 --count 50 --rate 5000 --size 100

check "the flows are expired and exported (table empty)" wait_for 15 flows_empty
sleep 3 # nfcapd rotates its file every 2 s
# seqgen picks its source port: the flows are found by their destination port
udp4=$(nf_sport "$TEST_TMP/nf1" udp 5001)
read -r pk by n fl dirs fwd4 <<<"$(nf_flow "$TEST_TMP/nf1" UDP "$udp4" 5001)"
is "$pk" $((1000 + SEQ_END)) "nfdump: IPv4 UDP flow has every packet sent ($pk)"
is "$by" $(((1000 + SEQ_END) * (200 + 28))) "nfdump: and its IP bytes (200 + 28 each)"
is "$dirs" 0 "nfdump: flowDirection 0 (forward, ingress)"
udp6=$(nf_sport "$TEST_TMP/nf1" udp 5002)
read -r pk by n fl dirs fwd6 <<<"$(nf_flow "$TEST_TMP/nf1" UDP "$udp6" 5002)"
is "$pk" $((300 + SEQ_END)) "nfdump: IPv6 UDP flow (reverse) has every packet sent ($pk)"
is "$by" $(((300 + SEQ_END) * (100 + 48))) "nfdump: and its IP bytes (100 + 48 each)"
is "$dirs" 1 "nfdump: flowDirection 1 (reverse, egress)"
udp9=$(nf_sport "$TEST_TMP/nf1" udp 9)
read -r pk by n fl dirs fwd9 <<<"$(nf_flow "$TEST_TMP/nf1" UDP "$udp9" 9)"
is "$pk" $((50 + SEQ_END)) "nfdump: the reverse flow the firewall dropped was counted ($pk)"
is "$dirs" 1 "nfdump: and it is reverse (egress)"
if nf_has_fwd "$TEST_TMP/nf1"; then
	is "$fwd4 $fwd6 $fwd9" "64 64 129" \
		"nfdump: forwardingStatus forwarded (64) twice, dropped by the firewall (129)"
else
	echo "note: $(nfdump -V) keeps no forwardingStatus from IPFIX; section 5 checks it"
fi
read -r pk by n fl dirs _ <<<"$(nf_flow "$TEST_TMP/nf1" TCP "$tcp_port" 5003)"
is "$pk" "$tcp_segs" "nfdump: TCP client -> server has every segment sent ($pk)"
check "nfdump: TCP bytes = payload + 40..60 bytes of headers per segment ($by)" \
	test "$by" -ge $((tcp_payload + 40 * tcp_segs)) -a "$by" -le $((tcp_payload + 60 * tcp_segs))
is "$n" 1 "nfdump: one record for it (FIN: ended, last ACK included)"
check "nfdump: TCP flags S, F, A, P ($fl)" bash -c "[[ '$fl' == *A* && '$fl' == *F* && '$fl' == *P* && '$fl' == *S* ]]"

# ---- 2. metrics -----------------------------------------------------------

metrics "$P_ALL" >"$TEST_TMP/all.prom"
metrics "$P_CHAIN" >"$TEST_TMP/chain.prom"
check "promtool check metrics: the --metrics page" promtool check metrics <"$TEST_TMP/all.prom"
check "promtool check metrics: the chain's page" promtool check metrics <"$TEST_TMP/chain.prom"
for f in sfc_stage_packets_total sfc_firewall_verdict_packets_total sfc_flowmon_flows_max \
	sfc_flowmon_evictions_total sfc_flowmon_export_errors_total \
	sfc_flowmon_exported_records_total sfc_flowmon_flows_by_verdict; do
	check "metric $f is served" grep -q "^$f{" "$TEST_TMP/chain.prom"
done
check "the --metrics page has the chain's stages" \
	grep -q "^sfc_stage_packets_total{chain=\"$CHAIN\",stage=\"egress\"" "$TEST_TMP/all.prom"
# equal to sfcctl -j stats (retried: a stray neighbour solicitation may pass in between)
stats_of() {
	S -j stats "$CHAIN" | python3 -c '
import json, sys
st = {s["name"]: s for s in json.load(sys.stdin)["stages"]}
print(st["mon"]["forward"]["packets"], st["fw"]["firewall"]["verdicts"]["default_allow"]["packets"])'
}
same=0
for _ in 1 2 3 4 5; do
	m1=$(metric "$P_ALL" sfc_stage_packets_total \
		"chain=\"$CHAIN\",stage=\"mon\",type=\"flowmon\",direction=\"forward\"")
	m2=$(metric "$P_CHAIN" sfc_firewall_verdict_packets_total \
		"chain=\"$CHAIN\",function=\"fw\",verdict=\"default_allow\"")
	read -r s1 s2 <<<"$(stats_of)"
	if [ -n "$m1" ] && [ "$m1 $m2" = "$s1 $s2" ]; then
		same=1
		break
	fi
	sleep 0.3
done
is "$same" 1 "metrics = sfcctl -j stats: mon forward packets $m1 = $s1, fw default_allow $m2 = $s2"
rec=$(metric "$P_ALL" sfc_flowmon_exported_records_total "$L")
is "$(metric "$P_ALL" sfc_flowmon_export_errors_total "$L")" 0 "no export error so far"

# ---- 3. kill -9 in the middle of a flow, restart -------------------------

seqgen_recv_start server 5004 --expect 1800 --timeout 3
in_ns client "$SEQGEN" send --dst "$SERVER4" --port 5004 --count 1800 --rate 200 \
	--size 300 >/dev/null &
sender=$!
sleep 5 # past the active timeout: one record is out
check "an active-timeout record went out before the kill" test \
	"$(metric "$P_ALL" sfc_flowmon_exported_records_total "$L")" -gt "$rec"
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
sleep 2
agent_start
check "agent restarted after SIGKILL" kill -0 "$AGENT_PID"
wait "$sender"
seqgen_recv_wait
is "$(json_num "$SEQ_RESULT" lost)" 0 "no packet lost while the agent was down"
check "the flow is expired" wait_for 15 flows_empty
sleep 3
udp=$(nf_sport "$TEST_TMP/nf1" udp 5004)
read -r pk by n fl dirs _ <<<"$(nf_flow "$TEST_TMP/nf1" UDP "$udp" 5004)"
is "$pk" $((1800 + SEQ_END)) "across the SIGKILL nothing lost, nothing twice ($n records)"
is "$by" $(((1800 + SEQ_END) * 328)) "and the bytes too"

# ---- 4. the collector is down ---------------------------------------------

rec0=$(metric "$P_ALL" sfc_flowmon_exported_records_total "$L")
sleep 0.5 # the last datagram is read
nfcapd_stop
rec1=$(metric "$P_ALL" sfc_flowmon_exported_records_total "$L")
if [ "$rec0" = "$rec1" ]; then
	is "$(nf_total "$TEST_TMP/nf1")" "$rec1" \
		"nfcapd stored every record the agent counts as exported ($rec1, two agents)"
else # a record went out as nfcapd stopped: it may or may not have it
	n=$(nf_total "$TEST_TMP/nf1")
	check "nfcapd stored every record the agent counts as exported ($rec0 <= $n <= $rec1)" \
		test "$rec0" -le "$n" -a "$n" -le "$rec1"
fi
err0=$(metric "$P_ALL" sfc_flowmon_export_errors_total "$L")
seqgen_recv_start server 5005 --expect 500 --timeout 2
in_ns client "$SEQGEN" send --dst "$SERVER4" --port 5005 --count 500 --rate 5000 \
	--size 400 >/dev/null
seqgen_recv_wait
sleep 4 # past the inactive timeout
err1=$(metric "$P_ALL" sfc_flowmon_export_errors_total "$L")
check "collector down: export errors counted ($err0 -> $err1)" test "$err1" -gt "$err0"
check "collector down: the agent lives on" kill -0 "$AGENT_PID"
check "collector down: idle flows stay in the table" test \
	"$(metric "$P_ALL" sfc_flowmon_flows "$L")" -gt 0
is "$(metric "$P_ALL" sfc_flowmon_collector_up \
	"$L,collector=\"127.0.0.1:$P_IPFIX\"")" 0 "sfc_flowmon_collector_up is 0"
nfcapd_start "$TEST_TMP/nf2"
check "collector back: the flows go out (after the backoff)" wait_for 40 flows_empty
sleep 3
udp=$(nf_sport "$TEST_TMP/nf2" udp 5005)
read -r pk by n fl dirs _ <<<"$(nf_flow "$TEST_TMP/nf2" UDP "$udp" 5005)"
is "$pk" $((500 + SEQ_END)) "collector back: it gets every packet of the flow kept for it"
is "$by" $(((500 + SEQ_END) * 428)) "and the bytes"

# ---- 5. IPFIX over TCP ------------------------------------------------------

# A collector that checks each message: version, length, sequence numbers
# (per connection), set lengths; prints a JSON line per data record.
cat >"$TEST_TMP/collector.py" <<'EOF'
import ipaddress, json, socket, struct, sys
port, out = int(sys.argv[1]), open(sys.argv[2], "w", buffering=1)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(4)
open(sys.argv[3], "w").close()
def recvn(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d: raise EOFError
        b += d
    return b
def problem(msg): out.write(json.dumps({"problem": msg}) + "\n")
while True:
    c, _ = srv.accept(); templates = {}; seen = 0
    try:
        while True:
            ver, length, etime, seq, dom = struct.unpack("!HHIII", recvn(c, 16))
            if ver != 10: problem("version %d" % ver)
            if seq != seen: problem("sequence %d, expected %d" % (seq, seen))
            body = recvn(c, length - 16); off = 0
            while off < len(body):
                sid, slen = struct.unpack_from("!HH", body, off)
                if slen < 4 or off + slen > len(body): problem("set length"); break
                s = body[off + 4: off + slen]; off += slen
                if sid == 2:
                    p = 0
                    while p + 4 <= len(s):
                        tid, cnt = struct.unpack_from("!HH", s, p); p += 4
                        f = [struct.unpack_from("!HH", s, p + 4 * i) for i in range(cnt)]
                        p += 4 * cnt; templates[tid] = f
                        out.write(json.dumps({"template": tid, "ies": [i for i, _ in f]}) + "\n")
                elif sid >= 256:
                    f = templates.get(sid)
                    if f is None: problem("data before template %d" % sid); continue
                    rl = sum(l for _, l in f); p = 0
                    while p + rl <= len(s):
                        r = {"template": sid, "domain": dom, "export_time": etime}
                        for ie, l in f:
                            v = s[p:p + l]; p += l
                            r[str(ie)] = str(ipaddress.ip_address(v)) if ie in (8, 12, 27, 28) \
                                else int.from_bytes(v, "big")
                        seen += 1
                        out.write(json.dumps(r) + "\n")
    except (EOFError, ConnectionError):
        c.close()
EOF
python3 "$TEST_TMP/collector.py" "$P_TCP" "$TEST_TMP/tcp.jsonl" "$TEST_TMP/coll.ready" &
COLL_PID=$!
wait_for 5 test -e "$TEST_TMP/coll.ready"
write_chain tcp "$P_TCP"
check "re-apply: IPFIX over TCP (config in place)" S -n "$NS_SFC" apply "$TEST_TMP/chain.yaml"
check "the agent connects and sends the templates" wait_for 10 grep -q '"template": 257' \
	"$TEST_TMP/tcp.jsonl"
t0=$(date +%s%3N)
seqgen_recv_start server 5006 --expect 100 --timeout 2
in_ns client "$SEQGEN" send --dst "$SERVER4" --port 5006 --count 100 --rate 5000 \
	--size 64 >/dev/null
seqgen_recv_wait
check "ping6 client -> server" in_ns client ping -6 -c 3 -i 0.2 -W 2 "$SERVER6"
in_ns server python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5007)); s.listen(1)
c, _ = s.accept()
while c.recv(65536): pass
c.close()' &
# Listening before the client connects, however long python takes to start.
for _ in $(seq 100); do
	in_ns server ss -Hltn 'sport = :5007' | grep -q . && break
	sleep 0.1
done
check "TCP connection with FIN" in_ns client python3 -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 5007)); s.sendall(b"y" * 5000)
s.shutdown(socket.SHUT_WR)
while s.recv(100): pass
s.close()' "$SERVER4"
seqgen_recv_start server 5008 --expect 1200 --timeout 3
in_ns client "$SEQGEN" send --dst "$SERVER4" --port 5008 --count 1200 --rate 200 \
	--size 64 >/dev/null
seqgen_recv_wait
check "UDP server -> client port 9 (reverse: counted, then dropped by fw)" in_ns server \
	"$SEQGEN" send --dst "$CLIENT4" --port 9 --count 20 --rate 5000 --size 64
check "every flow exported over TCP" wait_for 15 flows_empty
t1=$(date +%s%3N)
python3 - "$TEST_TMP/tcp.jsonl" "$t0" "$t1" "$SERVER4" "$SERVER6" >"$TEST_TMP/tcp.check" 2>&1 <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
t0, t1, server4, server6 = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
bad = [r for r in recs if "problem" in r]
assert not bad, bad
tmpl = {r["template"]: r["ies"] for r in recs if "ies" in r}
common = [7, 11, 4, 6, 1, 2, 152, 153, 58, 61, 136, 89]
assert tmpl[256] == [8, 12] + common, tmpl
assert tmpl[257] == [27, 28] + common, tmpl
data = [r for r in recs if "1" in r]
for r in data:
    assert r["domain"] == 7, r
    assert t0 - 2000 <= r["152"] <= r["153"] <= t1 + 1000, ("timestamps", r, t0, t1)
def flows(dport, proto):
    return [r for r in data if r["11"] == dport and r["4"] == proto]
u = flows(5006, 17)
assert sum(r["2"] for r in u) == 103 and sum(r["1"] for r in u) == 103 * 92, u
assert {r["136"] for r in u} == {1}, ("idle", u)          # idle timeout
assert {r["61"] for r in u} == {0}, u                     # forward: ingress
assert {r["89"] for r in u} == {64}, ("forwarded", u)     # forwardingStatus
t = flows(5007, 6)
assert t and t[-1]["136"] == 3 and t[-1]["6"] & 0x01, ("end of flow", t)
assert {r["89"] for r in t} == {64}, ("forwarded", t)
back = [r for r in data if r["7"] == 5007 and r["4"] == 6]
assert back and {r["61"] for r in back} == {1}, ("reverse: egress", back)
assert {r["89"] for r in back} == {64}, ("reverse, forwarded", back)
d = flows(9, 17)
assert sum(r["2"] for r in d) == 23 and {r["61"] for r in d} == {1}, ("reverse to port 9", d)
assert {r["89"] for r in d} == {129}, ("dropped by the firewall: ACL deny", d)
l = flows(5008, 17)
assert sum(r["2"] for r in l) == 1203, l
assert 2 in {r["136"] for r in l} and l[-1]["136"] == 1, ("active, then idle", l)
e6 = [r for r in data if r["4"] == 58 and r["template"] == 257 and r["28"] == server6]
assert e6 and e6[0]["11"] == 128 << 8 and e6[0]["7"] == 0, ("ICMPv6 echo: type 128 in dport", e6)
print("records", len(data), "ok")
EOF
rc=$?
is "$rc" 0 "TCP collector: templates, sequence numbers, fields, end reasons"
sed 's/^/    | /' "$TEST_TMP/tcp.check"

# The collector goes away: the agent counts the errors and lives on.
kill "$COLL_PID"
wait "$COLL_PID" 2>/dev/null
err0=$(metric "$P_ALL" sfc_flowmon_export_errors_total "$L")
in_ns client ping -c 2 -i 0.2 -W 2 "$SERVER4" >/dev/null
errors_above() { [ "$(metric "$P_ALL" sfc_flowmon_export_errors_total "$L")" -gt "$1" ]; }
check "TCP collector gone: errors counted" wait_for 15 errors_above "$err0"
check "TCP collector gone: the agent lives on" kill -0 "$AGENT_PID"

# ---- 6. kill -9 at many points under traffic --------------------------------

# KILL_FLOWS UDP flows (one socket each), 10 datagrams a second while on,
# each on for 0.5..4 s and off for 1.5..3.5 s in turn, for KILL_SECONDS: the
# pauses straddle the 2 s inactive timeout, so flows are idled out, deleted
# and begun again, and active records go out, while the agent is killed
# over and over, each agent under strace (see traced_agent): by kill -9 at
# a random moment, at the K-th bpf() call (K random: startup, scans, the
# writes after a send, deletes) or at the K-th sendto() (a message not
# sent). The agents' sends are slowed, so that flows take packets between
# the read and the delete, and kills land there. The collector must get
# every packet of every flow: summed over the records, duplicates (the
# same flow and flowStartMilliseconds, which a kill between a send and the
# writes after it can cause) counted once, as the later record, which
# covers the earlier. The receiver must get every datagram.
KILL_FLOWS=${KILL_FLOWS:-300}
KILL_SECONDS=${KILL_SECONDS:-20}
KILL_SEED=${KILL_SEED:-$((RANDOM * 32768 + RANDOM))}
echo "# kill test: seed $KILL_SEED (KILL_SEED=$KILL_SEED replays the traffic pattern and kill points)"
python3 "$TEST_TMP/collector.py" "$P_TCP" "$TEST_TMP/kill.jsonl" "$TEST_TMP/coll2.ready" &
COLL_PID=$!
wait_for 5 test -e "$TEST_TMP/coll2.ready"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
agent_start
check "kill test: the table empties first (earlier flows go out)" wait_for 30 flows_empty

in_ns server python3 -c '
import json, socket, sys, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((sys.argv[1], 6000)); s.settimeout(0.5); open(sys.argv[2], "w").close()
got = {}
while not os.path.exists(sys.argv[3]):
    try:
        d, a = s.recvfrom(2048)
    except socket.timeout:
        continue
    got[a[1]] = got.get(a[1], 0) + 1
print(json.dumps(got))' "$SERVER4" "$TEST_TMP/krecv.ready" "$TEST_TMP/krecv.stop" \
	>"$TEST_TMP/krecv.json" &
KRECV_PID=$!
wait_for 5 test -e "$TEST_TMP/krecv.ready"
in_ns client python3 -c '
import json, random, socket, sys, time
n, dur, seed, server = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
fl = []
t0 = time.monotonic()
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((server, 6000))
    fl.append({"s": s, "port": s.getsockname()[1], "sent": 0,
               "on": rng.random() < 0.7, "until": t0 + rng.uniform(0, 3)})
payload = b"k" * 100
while True:
    now = time.monotonic()
    if now >= t0 + dur:
        break
    for f in fl:
        if now >= f["until"]:
            f["on"] = not f["on"]
            f["until"] = now + (rng.uniform(0.5, 4) if f["on"] else rng.uniform(1.5, 3.5))
        if f["on"]:
            f["s"].send(payload); f["sent"] += 1
    time.sleep(max(0, 0.1 - (time.monotonic() - now)))
print(json.dumps({f["port"]: f["sent"] for f in fl}))' "$KILL_FLOWS" "$KILL_SECONDS" "$KILL_SEED" \
	"$SERVER4" >"$TEST_TMP/ksent.json" &
KSEND_PID=$!

# traced_agent [WHAT K]: an agent under strace, whose every send waits
# 300 ms first: a scan reads a flow, the send waits, and only then come the
# writes and the delete, so that flows take packets in between (a flow that
# idled out, beginning again) and kills land in that window. With WHAT K,
# strace kills it at its K-th WHAT() call (sendto: no delay then, the
# message is not sent); without, or after 2 s without that call, kill -9
# from here at a random moment. Prints where the kill landed: "send" (at a
# sendto), "startup" (before the first scan), "commit" (after a send: the
# writes and deletes that follow it, or later in that scan), "scan"
# (elsewhere in a scan).
traced_agent() {
	local spid apid st=$TEST_TMP/strace.out inject=(-e inject=sendto:delay_enter=300000) t=20
	if [ $# = 2 ]; then
		[ "$1" = sendto ] && inject=()
		inject+=(-e "inject=$1:signal=KILL:when=$2")
	else
		t=$((RANDOM % 20 + 1))
	fi
	strace -f -qq -o "$st" -e trace=bpf,sendto "${inject[@]}" \
		"$SFCCTL" --pin-root "$PIN_ROOT" agent --metrics "127.0.0.1:$P_ALL" \
		>>"$TEST_TMP/agent.log" 2>&1 &
	spid=$!
	for _ in $(seq "$t"); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$spid" 2>/dev/null; then
		apid=$(pgrep -P "$spid")
		[ -n "$apid" ] && kill -9 "$apid"
	fi
	wait "$spid" 2>/dev/null
	awk '/ bpf\(BPF_MAP_LOOKUP_BATCH/ { scans++; sent = 0 }
		/ (bpf|sendto)\(/ { at_send = / sendto\(/ }
		/ sendto\(/ && !/= \?|unfinished/ { sent = 1 }
		END { print at_send ? "send" : scans == 0 ? "startup" : sent ? "commit" : "scan" }' "$st"
}

RANDOM=$KILL_SEED
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
n_kill=1
declare -A where=()
while kill -0 "$KSEND_PID" 2>/dev/null; do
	if ! command -v strace >/dev/null 2>&1; then
		# an agent killed by kill -9 at a random moment
		"$SFCCTL" --pin-root "$PIN_ROOT" agent --metrics "127.0.0.1:$P_ALL" \
			>>"$TEST_TMP/agent.log" 2>&1 &
		AGENT_PID=$!
		sleep "$((RANDOM % 2)).$((RANDOM % 10))"
		kill -9 "$AGENT_PID"
		wait "$AGENT_PID" 2>/dev/null
		w=kill:random
	else
		case $((n_kill % 3)) in
		0) w=kill:$(traced_agent) ;;
		1) w=bpf:$(traced_agent bpf $((RANDOM % 400 + 1))) ;;
		2) w=sendto:$(traced_agent sendto $((RANDOM % 3 + 1))) ;;
		esac
	fi
	n_kill=$((n_kill + 1))
	where[$w]=$((${where[$w]:-0} + 1))
done
wait "$KSEND_PID"
agent_start
command -v strace >/dev/null 2>&1 || echo "note: strace is not installed: kill -9 at random moments only"
w=$(for k in "${!where[@]}"; do echo "$k ${where[$k]}"; done | sort | paste -sd, -)
ok "kill test: $n_kill agents killed (by:where count; kill: kill -9 at a random moment, bpf/sendto: by strace at the K-th call): $w"
check "kill test: the last agent is running" kill -0 "$AGENT_PID"
check "kill test: every flow expired and exported" wait_for 40 flows_empty
sleep 1
touch "$TEST_TMP/krecv.stop"
wait "$KRECV_PID"
kill "$COLL_PID"
wait "$COLL_PID" 2>/dev/null
python3 - "$TEST_TMP/ksent.json" "$TEST_TMP/krecv.json" "$TEST_TMP/kill.jsonl" "$CLIENT4" \
	"$SERVER4" >"$TEST_TMP/kill.check" 2>&1 <<'EOF'
import json, sys
sent = {int(k): v for k, v in json.load(open(sys.argv[1])).items()}
got = {int(k): v for k, v in json.load(open(sys.argv[2])).items()}
client, server = sys.argv[4], sys.argv[5]
lines = [json.loads(l) for l in open(sys.argv[3])]
bad = [r for r in lines if "problem" in r]
print("1" if not bad else "0", "collector: messages, sequence numbers and sets well formed%s"
      % ("" if not bad else ": %s" % bad[:3]))
lost = {p: (n, got.get(p, 0)) for p, n in sent.items() if got.get(p, 0) != n}
print("1" if not lost else "0", "receiver: every datagram of the %d flows arrived (%d)%s"
      % (len(sent), sum(sent.values()), "" if not lost else ": %s" % list(lost.items())[:5]))
groups = {}
for r in lines:
    if "1" in r and r["4"] == 17 and r["8"] == client and r["12"] == server and r["11"] == 6000:
        groups.setdefault((r["7"], r["152"]), []).append(r)
per, dups, recs = {}, 0, 0
for (port, start), g in groups.items():
    best = max(g, key=lambda r: r["2"])
    p, b = per.get(port, (0, 0))
    per[port] = (p + best["2"], b + best["1"])
    dups += len(g) - 1
    recs += len(g)
wrong = {p: (n, per.get(p, (0, 0))[0]) for p, n in sent.items() if per.get(p, (0, 0))[0] != n}
bytes_wrong = [p for p, n in sent.items() if per.get(p, (0, 0))[1] != n * 128]
extra = [p for p in per if p not in sent]
print("1" if not wrong and not extra else "0",
      "collector: every packet of every flow (%d packets in %d records, %d of them duplicates)%s"
      % (sum(sent.values()), recs, dups, "" if not wrong and not extra else
         ": sent/exported %s, unknown ports %s" % (list(wrong.items())[:5], extra[:5])))
print("1" if not bytes_wrong else "0", "collector: and their IP bytes (128 each)%s"
      % ("" if not bytes_wrong else ": ports %s" % bytes_wrong[:5]))
EOF
while read -r good text; do
	if [ "$good" = 1 ]; then ok "kill test: $text"; else fail "kill test: $text (seed $KILL_SEED)"; fi
done < <(grep '^[01] ' "$TEST_TMP/kill.check")
grep -v '^[01] ' "$TEST_TMP/kill.check" | sed 's/^/    | /'

# ---- SIGTERM ----------------------------------------------------------------

kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
is "$?" 0 "SIGTERM: the agent exits cleanly (status 0)"
AGENT_PID=
check "the agent's log has no error" bash -c "! grep -q ': error:' '$TEST_TMP/agent.log'"

done_testing
