#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# sfcctl lb and the agent's health checks of a load balancer, on a chain
# applied with -n in the lab (the backends are addresses of the server
# namespace, the VIPs are routed through the sfc node):
#  - `sfcctl lb` plain and -j: header, services (VIP, mode, health check),
#    backends (state, health, weight, Maglev share that follows the weights,
#    shared backends marked), usage errors and exit codes; `sfcctl stats`
#    with the load balancer's counters; one HTTP request through the VIP
#    shows up in the counters;
#  - `sfcctl agent` probes from the chain's netns: http backends come up, a
#    tcp-checked backend without a listener goes down and out of its
#    service's Maglev table; a listener killed (connection refused) or
#    answering 503 takes its backend down after `fall` checks, out of every
#    service that lists it (one shared id); back after `rise` checks, with
#    the very same table entries as before;
#  - the metrics page passes promtool and shows the health;
#  - an agent restart does not flap (transitions unchanged); a re-apply
#    that builds a new generation keeps the health, and the agent writes
#    the new generation's tables; a backend whose health check is removed
#    goes back to unknown (up) and into its table;
#  - `sfcctl agent --once` summarises the checks.
#
# The chain and the agent use a pin root of their own, so that an agent
# running on the host is not disturbed.
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
for c in python3 promtool; do
	command -v "$c" >/dev/null 2>&1 ||
		skip "$c not installed (Debian: apt-get install python3 prometheus)"
done

CHAIN=${LAB_PREFIX%-}-lb
PIN_ROOT=/sys/fs/bpf/sfc-${LAB_PREFIX%-}-lb
A=10.10.2.11 B=10.10.2.12 C=10.10.2.13 D=10.10.2.14
A6=fd00:10:2::11 C6=fd00:10:2::13

# The chain lives under PIN_ROOT, which lib.sh's cleanup does not know.
lb_cleanup() {
	local rc=$?
	"$SFCCTL" --pin-root "$PIN_ROOT" delete "$CHAIN" >/dev/null 2>&1
	rm -rf "$PIN_ROOT"
	return "$rc"
}
trap 'lb_cleanup; _cleanup' EXIT

S() { "$SFCCTL" --pin-root "$PIN_ROOT" "$@"; }

free_port() {
	python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# write_chain WEIGHT_B V6_CHECK(yes|no)
write_chain() {
	local v6hc=""
	[ "$2" = yes ] &&
		v6hc="healthCheck: {type: tcp, port: 80, interval: 200ms, timeout: 150ms, rise: 1, fall: 2}"
	cat >"$TEST_TMP/chain.yaml" <<EOF
apiVersion: sfc/v1alpha1
kind: Chain
metadata: {name: $CHAIN}
spec:
  interface: $SFC_IN
  egress: {action: redirect, interface: $SFC_OUT}
  functions:
    - name: lb
      type: loadbalancer
      config:
        tableSize: 1021
        services:
          - vip: 10.10.9.10
            port: 80
            protocol: tcp
            backends: [{address: $A}, {address: $B, weight: $1}]
            healthCheck: {type: http, path: /health, interval: 500ms, timeout: 450ms, rise: 2, fall: 3}
          - vip: 10.10.9.12
            port: 80
            protocol: tcp
            backends: [{address: $A}, {address: $D, state: drain}, {address: $C}]
          - vip: "fd00:10:9::10"
            port: 53
            protocol: udp
            mode: dsr
            backends: [{address: "$A6"}, {address: "$C6"}]
            $v6hc
EOF
}

# An HTTP server on ADDR:80 in the server netns whose status is in a file.
cat >"$TEST_TMP/httpd.py" <<'EOF'
import http.server, socket, sys
addr, statf = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            code = int(open(statf).read().strip())
        except Exception:
            code = 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
class S(http.server.HTTPServer):
    address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
S((addr, 80), H).serve_forever()
EOF

declare -A HTTPD=()
# httpd_start ADDR / httpd_stop ADDR
httpd_start() {
	local a=$1
	echo 200 >"$TEST_TMP/status-$a"
	in_ns server python3 "$TEST_TMP/httpd.py" "$a" "$TEST_TMP/status-$a" \
		2>>"$TEST_TMP/httpd.log" &
	HTTPD[$a]=$!
	wait_for 5 in_ns server python3 -c '
import socket, sys
a = sys.argv[1]
socket.create_connection((a, 80), timeout=1).close()' "$a"
}

httpd_stop() {
	# shellcheck disable=SC2046 # pids: one word each
	kill $(_descendants "${HTTPD[$1]}") 2>/dev/null
	wait "${HTTPD[$1]}" 2>/dev/null
	unset "HTTPD[$1]"
}

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

# lbj PYEXPR: PYEXPR over `sfcctl -j lb`, with d (the load balancer), S (its
# services) and B(service, address) (a backend).
lbj() {
	S -j lb "$CHAIN" | python3 -c '
import json, sys
d = json.load(sys.stdin)["loadbalancers"][0]
S = d["services"]
def B(s, a):
    return next(b for b in S[s]["backends"] if b["address"] == a)
print(eval(sys.argv[1]))' "$1"
}

# lb_is PYEXPR WANT
lb_is() { [ "$(lbj "$1")" = "$2" ]; }

# health_is SERVICE ADDRESS STATE
health_is() { lb_is "B($1, \"$2\")[\"health\"]" "$3"; }

AGENT_PID=
P_METRICS=$(free_port)
agent_start() {
	"$SFCCTL" --pin-root "$PIN_ROOT" agent --interval 200ms --metrics "127.0.0.1:$P_METRICS" \
		>>"$TEST_TMP/agent.log" 2>&1 &
	AGENT_PID=$!
}

agent_stop() {
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

metrics() {
	python3 -c '
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())' "$P_METRICS"
}

lab_up
for a in $A $B $C $D; do
	in_ns server ip addr add "$a/24" dev "$SERVER_IF"
done
for a in $A6 $C6; do
	in_ns server ip -6 addr add "$a/64" dev "$SERVER_IF" nodad
done
httpd_start $A
httpd_start $B
httpd_start $A6

write_chain 2 yes
mkdir -p "$PIN_ROOT"
check "apply the load balancer chain" S -n "$NS_SFC" apply "$TEST_TMP/chain.yaml"

# ---- sfcctl lb before any health check -------------------------------------

S lb "$CHAIN" >"$TEST_TMP/lb.txt" 2>&1
is "$?" 0 "sfcctl lb CHAIN exits 0"
sed 's/^/    | /' "$TEST_TMP/lb.txt"
check "plain: the header" grep -qE \
	'^lb: loadbalancer, generation 1, 3 services, table size 1021, connections 0/[0-9]+, evicted 0$' \
	"$TEST_TMP/lb.txt"
check "plain: an http-checked nat service" grep -qxF \
	'10.10.9.10:80/tcp nat, health check http GET /health every 500ms, timeout 450ms, rise 2, fall 3' \
	"$TEST_TMP/lb.txt"
check "plain: a service without health check" grep -qxF \
	'10.10.9.12:80/tcp nat, no health check' "$TEST_TMP/lb.txt"
check "plain: a tcp-checked dsr IPv6 service" grep -qxF \
	'[fd00:10:9::10]:53/udp dsr, health check tcp connect port 80 every 200ms, timeout 150ms, rise 1, fall 2' \
	"$TEST_TMP/lb.txt"
check "plain: the service counters line" grep -qE \
	'^  packets 0, bytes 0, reply packets 0, reply bytes 0, new flows 0, active connections 0, table backends 2/2$' \
	"$TEST_TMP/lb.txt"
check "plain: the backend table's header" grep -qE \
	'^  BACKEND +STATE +HEALTH +WEIGHT +SHARE +PACKETS +BYTES +NEW_FLOWS +CONNECTIONS$' "$TEST_TMP/lb.txt"
check "plain: a shared backend is marked, unknown health" grep -qE \
	"^  $A:80\\* +active +unknown +1 +[0-9.]+% +0 +0 +0 +0$" "$TEST_TMP/lb.txt"
check "plain: a drained backend has no share" grep -qE \
	"^  $D:80 +drain +unknown +1 +0\\.0% " "$TEST_TMP/lb.txt"
check "plain: the shared-backend note" grep -qF \
	'* also a backend of another service' "$TEST_TMP/lb.txt"
S lb "$CHAIN" lb >"$TEST_TMP/lb-fn.txt" 2>&1
check "sfcctl lb CHAIN FUNCTION prints the same" cmp "$TEST_TMP/lb.txt" "$TEST_TMP/lb-fn.txt"

S -j lb "$CHAIN" >"$TEST_TMP/lb.json"
is "$?" 0 "sfcctl -j lb CHAIN exits 0"
check "-j: the documented keys, numbers as numbers, shares by weight" python3 - "$TEST_TMP/lb.json" "$CHAIN" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["chain"] == sys.argv[2], doc
(lb,) = doc["loadbalancers"]
for k in ("generation", "table_size", "max_connections", "connections", "evictions"):
    assert type(lb[k]) is int, (k, lb[k])
assert lb["function"] == "lb" and lb["generation"] == 1 and lb["table_size"] == 1021, lb
assert set(lb["counters"]) >= {"vip_packets", "replies", "other", "connections_created",
                               "no_backend", "too_big_icmp", "errors"}, lb["counters"]
assert all(type(v) is int for v in lb["counters"].values())
s0, s1, s2 = lb["services"]
assert (s0["vip"], s0["port"], s0["protocol"], s0["family"], s0["mode"]) == \
    ("10.10.9.10", 80, "tcp", 4, "nat"), s0
assert s0["health_check"].startswith("http GET /health every 500ms"), s0["health_check"]
assert s1["health_check"] is None, s1
assert (s2["vip"], s2["mode"], s2["family"], s2["protocol"]) == ("fd00:10:9::10", "dsr", 6, "udp")
for s in (s0, s1, s2):
    for k in ("id", "table_backends", "packets", "bytes", "reply_packets", "reply_bytes",
              "new_flows", "active_connections"):
        assert type(s[k]) is int, (k, s)
    assert sum(b["table_entries"] for b in s["backends"]) == 1021, s
    for b in s["backends"]:
        assert b["health"] == "unknown" and b["health_checks"] == 0, b
        assert type(b["table_share_percent"]) in (int, float), b
        assert abs(b["table_share_percent"] - 100.0 * b["table_entries"] / 1021) < 0.01, b
        for k in ("port", "id", "weight", "health_failures", "health_transitions",
                  "health_changed_ms", "packets", "bytes", "reply_packets", "reply_bytes",
                  "new_flows", "active_connections", "service_connections"):
            assert type(b[k]) is int, (k, b)
a, b = s0["backends"]
assert (a["state"], b["state"], a["weight"], b["weight"]) == ("active", "active", 1, 2)
# weighted Maglev: the weight-2 backend has about two thirds of the table
assert 0.60 < b["table_entries"] / 1021 < 0.73, (a, b)
assert s0["table_backends"] == 2 and s1["table_backends"] == 2 and s2["table_backends"] == 2
a1, d1, c1 = s1["backends"]
assert d1["state"] == "drain" and d1["table_entries"] == 0, d1
assert a1["id"] == a["id"], "one id for a backend shared by two services"
EOF
cp "$TEST_TMP/lb.json" "$TEST_TMP/lb-before.json"

# usage and errors
S lb >/dev/null 2>&1
is "$?" 2 "sfcctl lb without a chain: usage, exit 2"
S lb "$CHAIN" lb extra >/dev/null 2>&1
is "$?" 2 "sfcctl lb with an extra argument: exit 2"
S lb "Bad_Name" >/dev/null 2>&1
is "$?" 2 "sfcctl lb with an invalid chain name: exit 2"
check "sfcctl lb help" bash -c '"$0" --pin-root "$1" lb help | grep -q "^Usage: sfcctl \[OPTIONS\] lb NAME \[FUNCTION\]"' \
	"$SFCCTL" "$PIN_ROOT"
out=$(S lb "$CHAIN" nosuch 2>&1)
is "$?" 1 "sfcctl lb CHAIN nosuch: exit 1"
is "$out" "sfcctl: chain $CHAIN has no function nosuch" "... and says why"
out=$(S -j lb nochain-$$ 2>/dev/null)
is "$?" 1 "sfcctl -j lb on a missing chain: exit 1"
check "... with a JSON error" python3 -c 'import json, sys; assert "error" in json.loads(sys.argv[1])' "$out"

# one request through the VIP, then the counters
check "an HTTP request through the VIP is answered" in_ns client python3 -c '
import urllib.request
assert urllib.request.urlopen("http://10.10.9.10/health", timeout=5).status == 200'
check "the VIP's counters: one new flow, packets both ways" python3 - <<EOF
import json, subprocess
d = json.loads(subprocess.check_output(["$SFCCTL", "--pin-root", "$PIN_ROOT", "-j", "lb", "$CHAIN"]))
lb = d["loadbalancers"][0]
s0 = lb["services"][0]
assert s0["new_flows"] == 1 and s0["packets"] >= 3 and s0["reply_packets"] >= 3, s0
assert sum(b["new_flows"] for b in s0["backends"]) == 1, s0
assert lb["counters"]["vip_packets"] == s0["packets"], lb
assert lb["counters"]["connections_created"] == 2, lb["counters"]   # forward and reply entries
assert lb["connections"] == 2 and s0["active_connections"] == 1, lb
EOF

# stats: the load balancer's counters after the stage table
S stats "$CHAIN" >"$TEST_TMP/stats.txt"
is "$?" 0 "sfcctl stats exits 0"
check "stats: the load balancer's header" grep -qE '^lb: loadbalancer, generation 1, 3 services' \
	"$TEST_TMP/stats.txt"
check "stats: its counters" grep -qE '^vip_packets +[1-9][0-9]*$' "$TEST_TMP/stats.txt"
check "stats: every counter" bash -c '[ "$(grep -cE "^(vip_packets|replies|other|connections_created|connection_hits|connections_expired|connections_backend_gone|connection_inserts_failed|no_backend|too_big_icmp|too_big_dropped|fragments|errors) +[0-9]+$" "$0")" = 13 ]' \
	"$TEST_TMP/stats.txt"
check "stats -j: the lb stage has the loadbalancer object" python3 - <<EOF
import json, subprocess
d = json.loads(subprocess.check_output(["$SFCCTL", "--pin-root", "$PIN_ROOT", "-j", "stats", "$CHAIN"]))
st = next(s for s in d["stages"] if s["name"] == "lb")
lb = st["loadbalancer"]
assert lb["function"] == "lb" and lb["counters"]["vip_packets"] >= 3, lb
assert len(lb["services"]) == 3
assert "loadbalancer" not in next(s for s in d["stages"] if s["name"] == "entry")
EOF

# ---- health checks ----------------------------------------------------------

agent_start
check "agent: $A up (http)" wait_for 10 health_is 0 $A up
check "agent: $B up (http)" wait_for 10 health_is 0 $B up
check "agent: $A6 up (tcp)" wait_for 10 health_is 2 $A6 up
check "agent: $C6 down (tcp, nothing listens)" wait_for 10 health_is 2 $C6 down
check "agent: $C6 is out of its service's table" wait_for 5 lb_is \
	"(B(2, \"$C6\")[\"table_entries\"], B(2, \"$A6\")[\"table_entries\"], S[2][\"table_backends\"])" \
	"(0, 1021, 1)"
is "$(lbj "(B(2, \"$C6\")['health_transitions'], B(2, \"$C6\")['health_failures'] >= 2)")" \
	"(1, True)" "$C6: one transition, its failures counted"
is "$(lbj "(B(1, \"$C\")['health'], B(1, \"$C\")['health_checks'])")" "('unknown', 0)" \
	"$C: no service checks it: unknown, never probed"
is "$(lbj "(B(0, \"$A\")['health_transitions'], B(0, \"$A\")['health_checks'] > 0)")" \
	"(0, True)" "$A: unknown to up is no transition"
check "agent log: the tcp backend went down, with the reason" grep -qF \
	"$CHAIN/lb: backend [$C6]:53 down after 2 failed checks (connect: Connection refused)" \
	"$TEST_TMP/agent.log"
check "plain: up and down" bash -c '
	"$0" --pin-root "$1" lb "$2" | grep -qE "^  \[$3\]:53 +active +down +1 +0\.0% "' \
	"$SFCCTL" "$PIN_ROOT" "$CHAIN" "$C6"

# A goes down: refused connections; out of both services that list it
share() { lbj "tuple(b['table_entries'] for b in S[$1]['backends'])"; }
share_is() { [ "$(share "$1")" = "$2" ]; }
S0_BEFORE=$(share 0)
S1_BEFORE=$(share 1)
httpd_stop $A
check "$A down after its listener is gone" wait_for 10 health_is 0 $A down
check "$A is out of service 0's table" wait_for 5 lb_is "(B(0, \"$A\")['table_entries'], B(0, \"$B\")['table_entries'], S[0]['table_backends'])" "(0, 1021, 1)"
check "$A is out of service 1's table too (shared backend)" wait_for 5 lb_is \
	"(B(1, \"$A\")['table_entries'], B(1, \"$C\")['table_entries'], S[1]['table_backends'])" "(0, 1021, 1)"
check "$A is down in service 1 too" health_is 1 $A down
check "agent log: $A down, connection refused" grep -qF \
	"$CHAIN/lb: backend $A:80 down after 3 failed checks (connect: Connection refused)" \
	"$TEST_TMP/agent.log"
check "new flows avoid $A: a request through the VIP reaches $B" in_ns client python3 -c '
import urllib.request
for _ in range(5):
    assert urllib.request.urlopen("http://10.10.9.10/health", timeout=5).status == 200'

httpd_start $A
check "$A up again" wait_for 10 health_is 0 $A up
check "service 0's table is as before" wait_for 5 share_is 0 "$S0_BEFORE"
is "$(share 0)" "$S0_BEFORE" "service 0: the same entries as before $A went down"
is "$(share 1)" "$S1_BEFORE" "service 1: the same entries as before $A went down"
is "$(lbj "B(0, \"$A\")['health_transitions']")" 2 "$A: two transitions"
check "agent log: $A up" grep -qF "$CHAIN/lb: backend $A:80 up after 2 passed checks" \
	"$TEST_TMP/agent.log"

# B answers 503: an http failure, not a connect failure
echo 503 >"$TEST_TMP/status-$B"
check "$B down on HTTP 503" wait_for 10 health_is 0 $B down
check "agent log: status 503" grep -qF \
	"$CHAIN/lb: backend $B:80 down after 3 failed checks (http: status 503)" "$TEST_TMP/agent.log"
is "$(lbj "(B(0, \"$A\")['table_entries'], S[0]['table_backends'])")" "(1021, 1)" \
	"$B is out of the table"
echo 200 >"$TEST_TMP/status-$B"
check "$B up on HTTP 200" wait_for 10 health_is 0 $B up
check "$B back in the table" wait_for 5 lb_is "S[0]['table_backends']" 2

# metrics
metrics >"$TEST_TMP/page.prom"
check "promtool check metrics" promtool check metrics <"$TEST_TMP/page.prom"
L="chain=\"$CHAIN\",function=\"lb\""
for want in \
	"sfc_lb_backend_up{$L,backend=\"$A:80\"} 1" \
	"sfc_lb_backend_up{$L,backend=\"[$C6]:53\"} 0" \
	"sfc_lb_backend_up{$L,backend=\"$C:80\"} 1" \
	"sfc_lb_backend_health_transitions_total{$L,backend=\"$A:80\"} 2" \
	"sfc_lb_service_table_backends{$L,service=\"[fd00:10:9::10]:53/udp\"} 1" \
	"sfc_lb_backend_table_entries{$L,service=\"10.10.9.12:80/tcp\",backend=\"$D:80\"} 0" \
	"sfc_lb_backend_weight{$L,service=\"10.10.9.10:80/tcp\",backend=\"$B:80\"} 2" \
	"sfc_lb_backend_draining{$L,service=\"10.10.9.12:80/tcp\",backend=\"$D:80\"} 1" \
	"sfc_lb_table_size{$L} 1021"; do
	check "metric: $want" grep -qxF "$want" "$TEST_TMP/page.prom"
done
for f in sfc_lb_packets_total sfc_lb_connections sfc_lb_connections_max sfc_lb_evictions_total \
	sfc_lb_service_packets_total sfc_lb_service_new_flows_total \
	sfc_lb_service_active_connections sfc_lb_backend_bytes_total \
	sfc_lb_backend_health_checks_total sfc_lb_backend_health_check_failures_total \
	sfc_lb_backend_service_connections; do
	check "metric $f is served" grep -q "^$f{" "$TEST_TMP/page.prom"
done
check "metric: vip_packets equals sfcctl stats" bash -c '
	want=$("$0" --pin-root "$1" -j lb "$2" | python3 -c "import json,sys; print(json.load(sys.stdin)[\"loadbalancers\"][0][\"counters\"][\"vip_packets\"])")
	grep -qxF "sfc_lb_packets_total{chain=\"$2\",function=\"lb\",counter=\"vip_packets\"} $want" "$3"' \
	"$SFCCTL" "$PIN_ROOT" "$CHAIN" "$TEST_TMP/page.prom"
is "$(grep -c "^sfc_lb_backend_up{$L,backend=\"$A:80\"}" "$TEST_TMP/page.prom")" 1 \
	"a shared backend's own series appear once"

# ---- restart and re-apply ---------------------------------------------------

T_A=$(lbj "B(0, \"$A\")['health_transitions']")
T_C6=$(lbj "B(2, \"$C6\")['health_transitions']")
agent_stop
is "$(lbj "(B(2, \"$C6\")['health'], B(0, \"$A\")['health'])")" "('down', 'up')" \
	"health stays in the map while no agent runs"
CHECKS=$(lbj "B(2, \"$C6\")['health_checks']")
agent_start
check "restarted agent probes again" wait_for 10 lb_is "B(2, \"$C6\")['health_checks'] > $CHECKS" True
sleep 1
is "$(lbj "(B(2, \"$C6\")['health'], B(2, \"$C6\")['health_transitions'], B(0, \"$A\")['health'], B(0, \"$A\")['health_transitions'])")" \
	"('down', $T_C6, 'up', $T_A)" "restart: no flapping (same states, same transitions)"

# a new generation (B's weight): health kept, the agent follows
write_chain 1 yes
check "re-apply: a config change" S -n "$NS_SFC" apply "$TEST_TMP/chain.yaml"
is "$(lbj "d['generation']")" 2 "a new generation"
is "$(lbj "(B(2, \"$C6\")['health'], B(2, \"$C6\")['table_entries'])")" "('down', 0)" \
	"the new generation keeps $C6 out of its table"
check "agent log: restarted for the new config" wait_for 5 grep -q \
	"$CHAIN/lb: .*restarting its agent work" "$TEST_TMP/agent.log"
httpd_start $C6
check "$C6 up (in generation 2)" wait_for 10 health_is 2 $C6 up
check "the agent wrote generation 2's table" wait_for 5 lb_is \
	"(S[2]['table_backends'], B(2, \"$C6\")['table_entries'] > 0)" "(2, True)"
httpd_stop $C6
check "$C6 down again" wait_for 10 health_is 2 $C6 down
check "... and out of the table" wait_for 5 lb_is "S[2]['table_backends']" 1

# the health check removed: the backend counts as up again
write_chain 1 no
check "re-apply without the IPv6 health check" S -n "$NS_SFC" apply "$TEST_TMP/chain.yaml"
check "$C6 back to unknown" wait_for 10 health_is 2 $C6 unknown
check "... and back in the table" wait_for 5 lb_is \
	"(S[2]['table_backends'], B(2, \"$C6\")['table_entries'] > 0)" "(2, True)"
check "agent log: no health check any more" grep -qF \
	"$CHAIN/lb: backend [$C6]:53 has no health check any more: counted as up" "$TEST_TMP/agent.log"
check "the agent is still running" kill -0 "$AGENT_PID"
agent_stop

# --once: one round of checks and a summary
out=$(S agent --once 2>>"$TEST_TMP/agent.log")
is "$?" 0 "agent --once exits 0"
check "--once: the load balancer's summary" grep -qE \
	"^$CHAIN/lb \\(loadbalancer\\): 2 health checks, 0 failed, 0 unanswered; backends 2 up, 0 down, 0 unknown; 0 state changes$" \
	<<<"$out"
out=$(S -j agent --once 2>>"$TEST_TMP/agent.log")
check "--once -j" python3 -c '
import json, sys
(s,) = [x for x in json.loads(sys.argv[1]) if x["type"] == "loadbalancer"]
assert s["ok"] and s["function"] == "lb" and s["summary"].startswith("2 health checks"), s' "$out"

if [ "$_failed" != 0 ]; then
	echo "--- agent log"
	sed 's/^/    | /' "$TEST_TMP/agent.log"
fi
done_testing
