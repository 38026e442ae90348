#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The loadbalancer function end to end, with real backends: the lab with
# four backend namespaces behind a switch on sfc-out (lab.sh --backends 4),
# nginx (Debian's nginx-light) in each, answering with its own name, and a
# chain whose egress redirects between sfc-in and sfc-out, so that the
# backends' replies come back through the chain's reverse direction.
#
#   1. nat, IPv4 and IPv6 VIPs, weights 1:2:1: N_SPREAD separate HTTP
#      connections per family, each from a new client port, every one
#      answered, each backend's share within 4.5 sigma of its weight's
#      (binomial; the math is at judge() in the helper: 3.6 pp for a
#      quarter at N_SPREAD = 3000), and the Maglev tables by weight;
#   2. the client only ever hears from the VIPs: a capture on its interface
#      for the whole test holds no packet from a backend address (and the
#      packets it holds from every VIP prove it saw the traffic); its open
#      connections all have the VIP as peer (ss);
#   3. `sfcctl -j lb` agrees: new_flows per backend = the connections its
#      name came back on, per service = N, packets and replies counted;
#      no_backend, errors and failed inserts stay 0 for the whole test;
#   4. health checks in `sfcctl agent` (200ms, fall 2, rise 2): nginx of b2
#      stopped, b2 goes down and out of the Maglev tables, new connections
#      never reach it and b1 and b3 share them; restarted, it comes back up
#      and gets its share again;
#   5. an apply that adds b4 swaps generations under HOLD long-lived
#      keep-alive connections (a request on each every 100 ms): each one
#      keeps its backend and none resets, though some of them would now be
#      sent elsewhere (the dsr VIP, whose backends and so whose Maglev
#      table are the same, probed from the same client ports, shows
#      which); new connections reach b4 by weight;
#   6. b1 set to drain: its established connections keep working, new ones
#      never reach it;
#   7. a UDP service in nat mode: datagrams from N_UDP client ports spread
#      over echo servers on the backends' port 5353, every reply from the
#      VIP's address and port 53;
#   8. dsr: an IPv4 VIP whose backends decapsulate the IP-in-IP themselves
#      and answer from the VIP (on their lo) straight to the client; spread
#      by weight, new_flows per backend, no reply rewritten by the chain.
#      It is also the twin of check 5: a probe to it from the port of a
#      held nat connection cannot collide with that connection at the
#      backend (nat keeps the client's address and port, so a nat twin
#      would give the backend two connections with one 4-tuple).
#  And the example chains/loadbalancer.yaml applies on this lab and serves
#  its VIP.
#
# Client ports are drawn from one shuffle of 20000..60999 per seed, so a
# seed replays the same flows: the seed is printed, SEED=N replays it.
# Counts, shares and states only: every wait is bounded and followed by a
# check of the state reached, never of the time it took. About a minute.
#
# The chain and the agent use a pin root of their own, so that an agent
# running on the host is not disturbed (and does not disturb the test).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_root_bpf
require_sfcctl
for c in python3 nginx tcpdump clang; do
	command -v "$c" >/dev/null 2>&1 ||
		skip "$c not installed (scripts/setup.sh installs it; Debian: nginx-light, tcpdump, python3, clang)"
done

CHAIN=${LAB_PREFIX%-}-lbt
PIN_ROOT=/sys/fs/bpf/sfc-${LAB_PREFIX%-}-lbt
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
VIP4=10.10.9.10 VIP6=fd00:10:9::10 # nat, TCP 80 and UDP 53 (v4)
DSR4=10.10.9.20                    # dsr, TCP 80, the same backends as VIP4
UPORT=53 UPORT_BK=5353
N_SPREAD=3000 # connections per family for the weights
N_CHECK=800   # connections per phase after that
N_UDP=800
HOLD=60 # long-lived connections across the re-applies
HC="{type: http, path: /health, interval: 200ms, timeout: 150ms, rise: 2, fall: 2}"
PY=$TEST_TMP/lbt.py
LAB_BACKENDS=4

lbt_cleanup() {
	local rc=$?
	# The agent first (it writes the chain's maps), then the chain: both
	# live under PIN_ROOT, which lib.sh's cleanup does not know.
	[ -n "${AGENT_PID:-}" ] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	"$SFCCTL" --pin-root "$PIN_ROOT" delete "$CHAIN" >/dev/null 2>&1
	"$SFCCTL" --pin-root "$PIN_ROOT" delete loadbalancer >/dev/null 2>&1
	rm -rf "$PIN_ROOT"
	return "$rc"
}
trap 'lbt_cleanup; _cleanup' EXIT

# Pin roots of runs killed by SIGKILL (ctest's timeout), which could not clean up.
reap_stale_pin_roots lbt

S() { "$SFCCTL" --pin-root "$PIN_ROOT" "$@"; }

# ---- traffic helpers (python3, stdlib only) -----------------------------

cat >"$PY" <<'EOF'
"""Traffic for test_lb_traffic.sh, and the judge of what came back; one
subcommand each, see main()."""
import json, math, os, random, socket, sys, time


def ports(seed, offset, n):
    """n client ports: a slice of one shuffle of 20000..60999 per seed, so
    that calls with disjoint slices never reuse a port (no TIME_WAIT
    clash, no connection entry of an earlier flow) and a seed replays."""
    perm = list(range(20000, 61000))
    random.Random(seed).shuffle(perm)
    assert offset + n <= len(perm)
    return perm[offset:offset + n]


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def same_ip(a, b):
    f = family(a)
    return f == family(b) and socket.inet_pton(f, a) == socket.inet_pton(f, b)


def touch(path):
    open(path, "w").close()


def tcp_from(src, sport, timeout):
    """A TCP socket bound to src:sport. SO_REUSEADDR: a probe may share the
    port of a connection that is still open (to another destination)."""
    s = socket.socket(family(src), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    s.settimeout(timeout)
    return s


def http_get(s, host, close):
    """GET / on a connected socket: the body, stripped (a backend's name)."""
    s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\n%s\r\n" %
               (host, "Connection: close\r\n" if close else "")).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            raise ConnectionError("closed before the response's headers")
        buf += b
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    if lines[0].split()[1] != "200":
        raise ConnectionError("status: %s" % lines[0])
    length = [int(l.split(":", 1)[1]) for l in lines if l.lower().startswith("content-length:")][0]
    while len(body) < length:
        b = s.recv(4096)
        if not b:
            raise ConnectionError("closed in the body")
        body += b
    return body.decode().strip()


# A broken path costs a timeout per connection: after GIVE_UP failures the
# rest count as failed untried, so that a failing test still ends in time.
GIVE_UP = 5


def conns(src, vip, port, n, seed, offset):
    """n HTTP connections to vip:port, one per client port: JSON with the
    count per backend name, failures, peers that were not the VIP."""
    by, failed, not_vip, errors = {}, 0, 0, []
    for sp in ports(seed, offset, n):
        if failed >= GIVE_UP:
            failed += 1
            continue
        try:
            s = tcp_from(src, sp, 2)
            s.connect((vip, port))
            if not same_ip(s.getpeername()[0], vip):
                not_vip += 1
            # Connection: close, so nginx closes first: no TIME_WAIT here.
            name = http_get(s, vip, True)
            s.close()
            by[name] = by.get(name, 0) + 1
        except OSError as e:
            failed += 1
            errors.append("port %d: %s" % (sp, e))
    print(json.dumps({"n": n, "ok": sum(by.values()), "failed": failed, "not_vip": not_vip,
                      "by": by, "errors": errors[:5]}, sort_keys=True))
    return 0


def probe(src, vip, port, n, seed, offset):
    """One request to vip:port from each of the n ports (which may be in
    use by held connections to another VIP): the names, in port order.
    Closed with a reset: no TIME_WAIT, so a later probe from the same port
    can follow."""
    names, failed = [], 0
    for sp in ports(seed, offset, n):
        if failed >= GIVE_UP:
            names.append("error: gave up")
            continue
        try:
            s = tcp_from(src, sp, 2)
            s.connect((vip, port))
            names.append(http_get(s, vip, False))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            s.close()
        except OSError as e:
            failed += 1
            names.append("error: %s" % e)
    print(json.dumps(names))
    return 0


def hold(src, vip, port, n, seed, offset, d):
    """n keep-alive connections, a request on each every 100 ms until the
    file d/stop appears. The test writes the phase number to d/phase; after
    a whole round in phase p this writes d/ack-p. At the end, JSON per
    connection: port, first backend, every backend seen, requests per
    phase, the error that ended it (none: null)."""
    cs = []
    for sp in ports(seed, offset, n):
        s = tcp_from(src, sp, 2)
        s.connect((vip, port))
        cs.append({"port": sp, "sock": s, "first": http_get(s, vip, False), "seen": [],
                   "phases": {}, "error": None})
    for c in cs:
        c["seen"].append(c["first"])
    with open(os.path.join(d, "ready.tmp"), "w") as f:
        json.dump([[c["port"], c["first"]] for c in cs], f)
    os.rename(os.path.join(d, "ready.tmp"), os.path.join(d, "ready"))
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
                name = http_get(c["sock"], vip, False)
            except OSError as e:
                c["error"] = "%s: %s" % (type(e).__name__, e)
                continue
            if name not in c["seen"]:
                c["seen"].append(name)
            c["phases"][phase] = c["phases"].get(phase, 0) + 1
        touch(os.path.join(d, "ack-" + phase))
        if stop:
            break
        time.sleep(0.1)
    for c in cs:
        del c["sock"]
    print(json.dumps(cs))
    return 0


def udp(src, vip, port, n, seed, offset):
    """A datagram to vip:port from each of n ports, on an unconnected
    socket (so a reply from any source is seen), up to 3 tries: JSON with
    the count per name and the replies from another source than vip:port."""
    by, lost, wrong, errors = {}, 0, 0, []
    for sp in ports(seed, offset, n):
        if lost >= GIVE_UP:
            lost += 1
            continue
        s = socket.socket(family(src), socket.SOCK_DGRAM)
        s.bind((src, sp))
        s.settimeout(1)
        name = None
        for _ in range(3):
            s.sendto(b"who", (vip, port))
            try:
                data, peer = s.recvfrom(2048)
            except socket.timeout:
                continue
            if not same_ip(peer[0], vip) or peer[1] != port:
                wrong += 1
                errors.append("port %d: reply from %s port %d" % (sp, peer[0], peer[1]))
            name = data.decode().split()[0]
            break
        s.close()
        if name:
            by[name] = by.get(name, 0) + 1
        else:
            lost += 1
    print(json.dumps({"n": n, "ok": sum(by.values()), "lost": lost, "wrong_source": wrong,
                      "by": by, "errors": errors[:5]}, sort_keys=True))
    return 0


def udp_echo(addr, port, name, ready):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind((addr, port))
    touch(ready)
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(name.encode() + b" " + data, peer)


# ---- judging: one process per phase, lines "1 what" (ok) or "0 what" ----


def load(path):
    with open(path) as f:
        return json.load(f)


def lb_of(path):
    return load(path)["loadbalancers"][0]


def svc_of(d, key):
    """The service "vip:port/proto" of a `sfcctl -j lb` load balancer."""
    for s in d["services"]:
        if "%s:%d/%s" % (s["vip"], s["port"], s["protocol"]) == key:
            return s
    raise KeyError("no service %s" % key)


def backends_of(d):
    """Every backend by "address:port"; one listed by several services is
    one id with one set of counters."""
    return dict(("%s:%d" % (b["address"], b["port"]), b) for s in d["services"] for b in s["backends"])


def verdict(good, text):
    print("%d %s" % (bool(good), text))


# A flow's backend is its Maglev entry, picked by a hash of the client's
# address and ports; the client ports are random, so over n connections a
# backend of weight share p gets Binomial(n, p) of them: its share has
# sigma = sqrt(p(1-p)/n). The tolerance is 4.5 sigma, which chance exceeds
# with probability 7e-6 per comparison (about 3e-4 over the ~40 of the
# test). At n = 3000, p = 1/4: sigma = 0.79 pp, tolerance 3.6 pp; p = 1/2:
# 0.91 pp, 4.1 pp. A balancer that ignored the weights (1/3 each) would be
# 8.3 pp off for a 1/4 backend and 16.7 pp for the 1/2 one. The Maglev
# tables (65537 entries) follow the weights to 0.1 pp: the test checks it.
Z = 4.5


def judge(a):
    """judge DESC RESULT [OPTIONS] NAME:WEIGHT[=ADDR:PORT]...: a conns or
    udp result against the weights (weight 0: no connection at all). With
    --before/--after (`sfcctl -j lb` before and after) and --svc KEY: the
    service's new_flows grew by n, each NAME=ADDR:PORT backend's by its
    answers, and no_backend did not grow; --min-packets P and --min-replies R:
    the service's packets grew
    by at least P x n and its reply packets by R x n (R 0: not at all);
    --sums: the backends' packets, vip_packets and replies add up to the
    services'."""
    desc, r = a.pop(0), load(a.pop(0))
    opt = {}
    while a and a[0].startswith("--"):
        k = a.pop(0)[2:]
        opt[k] = True if k == "sums" else a.pop(0)
    w, addr = {}, {}
    for x in a:
        nw, _, ap = x.partition("=")
        n, wt = nw.split(":")
        w[n] = int(wt)
        if ap:
            addr[n] = ap
    n = r["n"]
    ok = r["ok"]
    bad = r.get("failed", 0) + r.get("lost", 0)
    verdict(ok == n and not bad, "%s: %d of %d answered%s" % (
        desc, ok, n, "" if ok == n and not bad else " " + json.dumps(r.get("errors"))))
    tot = sum(w.values())
    for name in sorted(set(w) | set(r["by"])):
        got = r["by"].get(name, 0)
        p = w.get(name, 0) / tot
        if p == 0:
            verdict(got == 0, "%s: %s got %d connections, want none" % (desc, name, got))
            continue
        tol = Z * math.sqrt(p * (1 - p) / max(ok, 1))
        verdict(ok and abs(got / ok - p) <= tol, "%s: %s: %d of %d = %.1f%%, want %.1f%% +- %.1f pp"
                % (desc, name, got, ok, 100 * got / max(ok, 1), 100 * p, 100 * tol))
    if "before" not in opt:
        return 0
    b, f = lb_of(opt["before"]), lb_of(opt["after"])
    key = opt["svc"]
    sb, sa = svc_of(b, key), svc_of(f, key)
    dsvc = lambda field: sa[field] - sb[field]
    verdict(dsvc("new_flows") == n, "%s: service new_flows +%d, for the %d connections"
            % (desc, dsvc("new_flows"), n))
    got = f["counters"]["no_backend"] - b["counters"]["no_backend"]
    verdict(got == 0, "%s: no_backend +%d: no packet dropped for want of a backend" % (desc, got))
    bb, ba = backends_of(b), backends_of(f)
    for name in sorted(addr):
        got = ba.get(addr[name], {}).get("new_flows", 0) - bb.get(addr[name], {}).get("new_flows", 0)
        want = r["by"].get(name, 0)
        verdict(got == want, "%s: new_flows of %s (%s) +%d, for the %d answers from %s"
                % (desc, name, addr[name], got, want, name))
    if "min-packets" in opt:
        m = int(opt["min-packets"])
        verdict(dsvc("packets") >= m * n, "%s: %d packets to the backends (>= %d x %d)"
                % (desc, dsvc("packets"), m, n))
    if "min-replies" in opt:
        m = int(opt["min-replies"])
        got = dsvc("reply_packets")
        verdict(got >= m * n if m else got == 0, "%s: %d replies rewritten back to the VIP (%s)"
                % (desc, got, ">= %d x %d" % (m, n) if m else "none: they go straight to the client"))
    if "sums" in opt:
        sum_b = lambda field: sum(s[field] for s in b["services"])
        sum_a = lambda field: sum(s[field] for s in f["services"])
        dbk = sum(ba[k]["packets"] - bb.get(k, {}).get("packets", 0) for k in ba)
        verdict(dbk == sum_a("packets") - sum_b("packets"),
                "%s: the backends' packets (+%d) add up to the services' (+%d)"
                % (desc, dbk, sum_a("packets") - sum_b("packets")))
        for c, field in (("vip_packets", "packets"), ("replies", "reply_packets")):
            got = f["counters"][c] - b["counters"][c]
            verdict(got == sum_a(field) - sum_b(field), "%s: %s +%d, the services' %s"
                    % (desc, c, got, field))
    return 0


def main(a):
    cmd = a.pop(0)
    if cmd == "judge":
        return judge(a)
    if cmd == "conns":
        return conns(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]))
    if cmd == "probe":
        return probe(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]))
    if cmd == "hold":
        return hold(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]), a[6])
    if cmd == "udp":
        return udp(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]))
    if cmd == "udp-echo":
        return udp_echo(a[0], int(a[1]), a[2], a[3])
    print("lbt.py: unknown command %s" % cmd, file=sys.stderr)
    return 2


sys.exit(main(sys.argv[1:]))
EOF

# The interpreter itself, not a wrapper (pyenv's shims cost a shell and
# some 100 ms a call, and the test makes a few hundred).
PYTHON=$(python3 -c 'import sys; print(sys.executable)')

# py ARGS...: the helper in the client namespace.
py() { in_ns client "$PYTHON" "$PY" "$@"; }

# Client ports: every call takes the next slice of the seed's shuffle.
PORT_OFF=0
# take N: sets OFF to the start of the next N ports.
take() {
	OFF=$PORT_OFF
	PORT_OFF=$((PORT_OFF + $1))
}

# wait_for SECONDS CMD...: until CMD succeeds (a bound, not an assertion on
# time: the check after it is about the state reached).
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# judge DESC RESULT ARGS...: the helper's judge (see there: shares within
# 4.5 sigma of the weights, counters), each line an ok or a fail.
judge() {
	local good text
	if ! "$PYTHON" "$PY" judge "$@" >"$TEST_TMP/judge.out" 2>&1; then
		fail "$1: the judge failed"
		sed 's/^/    | /' "$TEST_TMP/judge.out"
		return
	fi
	while read -r good text; do
		if [ "$good" = 1 ]; then
			ok "$text"
		else
			fail "$text (seed $SEED)"
		fi
	done <"$TEST_TMP/judge.out"
}

# R FILE: a result file of this test.
R() { echo "$TEST_TMP/$1.json"; }

# bk K WEIGHT PORT [FAMILY]: judge's NAME:WEIGHT=ADDR:PORT for backend K.
bk() {
	if [ "${4:-4}" = 6 ]; then echo "b$1:$2=${BACKEND6[$1]}:$3"; else echo "b$1:$2=${BACKEND4[$1]}:$3"; fi
}

# ---- sfcctl -j lb ---------------------------------------------------------

# snap FILE: `sfcctl -j lb CHAIN` into FILE, for judge --before/--after.
snap() { S -j lb "$CHAIN" >"$1"; }

# lbj PYEXPR: PYEXPR over `sfcctl -j lb CHAIN`, with d the load balancer,
# c its counters, SV(vip, port, proto) a service and B(svc, address) one of
# its backends.
lbj() {
	S -j lb "$CHAIN" | "$PYTHON" -c '
import json, sys
d = json.load(sys.stdin)["loadbalancers"][0]
c = d["counters"]
def SV(vip, port=80, proto="tcp"):
    return next(s for s in d["services"] if s["vip"] == vip and s["port"] == port
                and s["protocol"] == proto)
def B(s, a):
    return next(b for b in s["backends"] if b["address"] == a)
print(eval(sys.argv[1]))' "$1"
}

# lb_true PYEXPR: PYEXPR over sfcctl -j lb is True.
lb_true() { [ "$(lbj "$1")" = True ]; }

# ---- backends -------------------------------------------------------------

declare -A NGINX_PID=()
# nginx_conf K: backend K's nginx, in $TEST_TMP/bK: its v4 and v6 address
# and the dsr VIP, port 80; / answers bK, /health ok.
nginx_conf() {
	local k=$1 d=$TEST_TMP/b$1
	mkdir -p "$d"
	cat >"$d/nginx.conf" <<-EOF
		daemon off;
		worker_processes 1;
		# Workers as root: the paths below are in the test's private tmp.
		user root;
		pid $d/nginx.pid;
		error_log $d/error.log notice;
		events { worker_connections 1024; }
		http {
		    access_log $d/access.log;
		    client_body_temp_path $d/body;
		    proxy_temp_path $d/proxy;
		    fastcgi_temp_path $d/fastcgi;
		    uwsgi_temp_path $d/uwsgi;
		    scgi_temp_path $d/scgi;
		    default_type text/plain;
		    # The held connections make a request every 100 ms for the
		    # whole test: never close them for their count or age.
		    keepalive_requests 1000000;
		    keepalive_timeout 600s;
		    server {
		        listen ${BACKEND4[k]}:80;
		        listen [${BACKEND6[k]}]:80;
		        listen $DSR4:80;
		        location = /health { return 200 "ok\n"; }
		        location / { return 200 "b$k\n"; }
		    }
		}
	EOF
}

# nginx_start K: start backend K's nginx and wait until it answers.
nginx_start() {
	local k=$1 d=$TEST_TMP/b$1
	# nsenter execs nginx (daemon off): $! is nginx's master itself.
	nsenter --net="/run/netns/${NS_BACKEND[k]}" nginx -c "$d/nginx.conf" -e "$d/error.log" \
		>>"$d/stderr" 2>&1 &
	NGINX_PID[$k]=$!
	wait_for 10 in_ns "b$k" "$PYTHON" -c '
import socket, sys
socket.create_connection((sys.argv[1], 80), timeout=1).close()' "${BACKEND4[k]}"
}

nginx_stop() {
	kill -TERM "${NGINX_PID[$1]}" 2>/dev/null
	wait "${NGINX_PID[$1]}" 2>/dev/null
	unset "NGINX_PID[$1]"
}

# The dsr VIP's backends: the VIP on lo (so that nginx can listen on it and
# the kernel takes the inner packet as its own), and an XDP program on eth0
# that strips the outer IPv4 header of IP-in-IP packets. Not the kernel's
# ipip tunnel: kernels without CONFIG_NET_IPIP (the development machine's)
# would not run the test. rp_filter off: the inner source is the client.
# No system headers: /usr/include/linux/*.h need the multiarch asm/ headers,
# which clang -target bpf does not look for.
cat >"$TEST_TMP/decap.bpf.c" <<'EOF'
// SPDX-License-Identifier: GPL-2.0
typedef unsigned char __u8;
typedef unsigned int __u32;

struct xdp_md {
	__u32 data;
	__u32 data_end;
};

#define SEC(name) __attribute__((section(name), used))
#define XDP_DROP 1
#define XDP_PASS 2
#define ETH_HLEN 14
#define IP_HLEN 20	/* IHL 5: the outer header the balancer writes */
#define IPPROTO_IPIP 4

static long (*bpf_xdp_adjust_head)(struct xdp_md *ctx, int delta) = (void *)44;

SEC("xdp")
int lbt_decap(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data, *end = (__u8 *)(long)ctx->data_end;
	__u8 eth[ETH_HLEN];

	/* IPv4 (ethertype 0x0800), version 4 and IHL 5, protocol IP-in-IP. */
	if (data + ETH_HLEN + IP_HLEN > end || data[12] != 0x08 || data[13] != 0x00 ||
	    data[ETH_HLEN] != 0x45 || data[ETH_HLEN + 9] != IPPROTO_IPIP)
		return XDP_PASS;
	__builtin_memcpy(eth, data, ETH_HLEN);
	if (bpf_xdp_adjust_head(ctx, IP_HLEN))
		return XDP_DROP;
	data = (__u8 *)(long)ctx->data;
	end = (__u8 *)(long)ctx->data_end;
	if (data + ETH_HLEN > end)
		return XDP_DROP;
	__builtin_memcpy(data, eth, ETH_HLEN);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
EOF

# ---- the chain ------------------------------------------------------------

# backends_yaml FAMILY PORT WEIGHTS [DRAIN_K]: a flow list of backends 1..n
# with the weights (a space-separated list), backend DRAIN_K drained.
backends_yaml() {
	local fam=$1 port=$2 weights=$3 drain=${4:-0} k=0 w out="" addr
	for w in $weights; do
		k=$((k + 1))
		if [ "$fam" = 4 ]; then addr=${BACKEND4[k]}; else addr="\"${BACKEND6[k]}\""; fi
		out+="${out:+, }{address: $addr, weight: $w"
		[ "$port" = 80 ] || out+=", port: $port"
		[ "$k" = "$drain" ] && out+=", state: drain"
		out+="}"
	done
	echo "[$out]"
}

# write_chain FILE WEIGHTS [DRAIN_K]: the TCP services (VIP4, VIP6 and the
# dsr VIP) with WEIGHTS and backend DRAIN_K drained; the UDP service stays
# as it is.
write_chain() {
	cat >"$1" <<-EOF
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
		        services:
		          - vip: $VIP4
		            port: 80
		            protocol: tcp
		            backends: $(backends_yaml 4 80 "$2" "${3:-0}")
		            healthCheck: $HC
		          - vip: "$VIP6"
		            port: 80
		            protocol: tcp
		            backends: $(backends_yaml 6 80 "$2" "${3:-0}")
		            healthCheck: $HC
		          - vip: $VIP4
		            port: $UPORT
		            protocol: udp
		            backends: $(backends_yaml 4 $UPORT_BK "1 1 1")
		          # The same backends, weights and states as VIP4: the same
		          # Maglev table, so a flow from a client port goes to the
		          # same backend here as a new flow to VIP4 would.
		          - vip: $DSR4
		            port: 80
		            protocol: tcp
		            mode: dsr
		            backends: $(backends_yaml 4 80 "$2" "${3:-0}")
	EOF
}

# ---- the lab --------------------------------------------------------------

echo "# seed $SEED (SEED=$SEED replays the client ports)"
lab_up >/dev/null
mkdir -p "$PIN_ROOT"

check "compile the backends' IP-in-IP decapsulator" \
	clang -O2 -g -target bpf -c "$TEST_TMP/decap.bpf.c" -o "$TEST_TMP/decap.o"
for k in "${!BACKEND4[@]}"; do
	in_ns "b$k" ip addr add "$DSR4/32" dev lo
	for f in all default "$BACKEND_IF"; do
		in_ns "b$k" sh -c "echo 0 > /proc/sys/net/ipv4/conf/$f/rp_filter"
	done
	check "b$k: decapsulator on $BACKEND_IF" \
		in_ns "b$k" ip link set dev "$BACKEND_IF" xdpdrv obj "$TEST_TMP/decap.o" sec xdp
	nginx_conf "$k"
	check "b$k: nginx answers on ${BACKEND4[k]}:80" nginx_start "$k"
	rm -f "$TEST_TMP/udp$k.ready"
	in_ns "b$k" "$PYTHON" "$PY" udp-echo "${BACKEND4[k]}" $UPORT_BK "b$k" "$TEST_TMP/udp$k.ready" \
		>"$TEST_TMP/udp$k.log" 2>&1 &
	check "b$k: UDP echo on ${BACKEND4[k]}:$UPORT_BK" wait_for 10 test -e "$TEST_TMP/udp$k.ready"
done

# The capture for check 2, on the client's side of the link, for the whole
# test. nsenter execs tcpdump: $! is tcpdump, for the SIGINT that ends it.
# Immediate mode: each packet is written when it arrives, not when a block
# of the capture ring fills or times out, so that the file is whole once it
# stops growing.
nsenter --net="/run/netns/$NS_CLIENT" tcpdump -i "$CLIENT_IF" -n -s 128 -B 16384 -U --immediate-mode \
	-w "$TEST_TMP/client.pcap" >/dev/null 2>"$TEST_TMP/tcpdump.err" &
TCPDUMP_PID=$!
check "tcpdump listens on the client's $CLIENT_IF" wait_for 10 grep -q "listening on" "$TEST_TMP/tcpdump.err"

write_chain "$TEST_TMP/chain.yaml" "1 2 1"
check "validate" S validate "$TEST_TMP/chain.yaml"
check "apply creates the chain" S -n "$NS_SFC" apply "$TEST_TMP/chain.yaml"

# ---- 1. weights, 3. counters ------------------------------------------------

for vip in "$VIP4" "$VIP6"; do
	t=$(lbj "[b['table_share_percent'] for b in SV('$vip')['backends']]")
	check "$vip: Maglev table shares $t follow the weights 1:2:1 (+- 0.1 pp)" \
		"$PYTHON" -c "import sys; sys.exit(not all(abs(t - w) <= .1 for t, w in zip($t, (25, 50, 25))))"
done

snap "$(R s0)"
take $N_SPREAD
py conns "$CLIENT4" "$VIP4" 80 $N_SPREAD "$SEED" "$OFF" >"$(R r4)"
take $N_SPREAD
py conns "$CLIENT6" "$VIP6" 80 $N_SPREAD "$SEED" "$OFF" >"$(R r6)"
snap "$(R s1)"
# Per connection the client sends at least SYN, ACK, the request and its
# FIN; the backend at least SYN-ACK, the response and a FIN.
judge "nat $VIP4:80" "$(R r4)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP4:80/tcp" \
	--min-packets 4 --min-replies 3 --sums "$(bk 1 1 80)" "$(bk 2 2 80)" "$(bk 3 1 80)" "$(bk 4 0 80)"
judge "nat [$VIP6]:80" "$(R r6)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP6:80/tcp" \
	--min-packets 4 --min-replies 3 "$(bk 1 1 80 6)" "$(bk 2 2 80 6)" "$(bk 3 1 80 6)" "$(bk 4 0 80 6)"
is "$("$PYTHON" -c 'import json, sys; print([json.load(open(f))["not_vip"] for f in sys.argv[1:]])' \
	"$(R r4)" "$(R r6)")" "[0, 0]" "every connection's peer (getpeername) is its VIP"

# ---- 7. UDP -----------------------------------------------------------------

snap "$(R s0)"
take $N_UDP
py udp "$CLIENT4" "$VIP4" $UPORT $N_UDP "$SEED" "$OFF" >"$(R ru)"
snap "$(R s1)"
judge "UDP nat $VIP4:$UPORT" "$(R ru)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP4:$UPORT/udp" \
	--min-packets 1 --min-replies 1 "$(bk 1 1 $UPORT_BK)" "$(bk 2 1 $UPORT_BK)" "$(bk 3 1 $UPORT_BK)"
is "$("$PYTHON" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j["wrong_source"], j["errors"])' "$(R ru)")" \
	"0 []" "UDP: every reply comes from $VIP4 port $UPORT"

# ---- 8. dsr -----------------------------------------------------------------

snap "$(R s0)"
take $N_CHECK
py conns "$CLIENT4" "$DSR4" 80 $N_CHECK "$SEED" "$OFF" >"$(R rd)"
snap "$(R s1)"
judge "dsr $DSR4:80" "$(R rd)" --before "$(R s0)" --after "$(R s1)" --svc "$DSR4:80/tcp" \
	--min-packets 4 --min-replies 0 "$(bk 1 1 80)" "$(bk 2 2 80)" "$(bk 3 1 80)" "$(bk 4 0 80)"

# ---- 4. health checks -------------------------------------------------------

# Not through S(): $! must be sfcctl itself.
"$SFCCTL" --pin-root "$PIN_ROOT" agent --interval 200ms >>"$TEST_TMP/agent.log" 2>&1 &
AGENT_PID=$!
check "agent: every health-checked backend up" wait_for 20 lb_true \
	"all(b['health'] == 'up' for s in (SV('$VIP4'), SV('$VIP6')) for b in s['backends'])"

# b2 in the IPv4 and the IPv6 service: down, and none of their table.
B2="B(SV('$VIP4'), '${BACKEND4[2]}')"
B2_6="B(SV('$VIP6'), '${BACKEND6[2]}')"
nginx_stop 2
check "nginx of b2 stopped: b2 down and out of the IPv4 and IPv6 tables" wait_for 20 lb_true \
	"${B2}['health'] == ${B2_6}['health'] == 'down' and ${B2}['table_entries'] == ${B2_6}['table_entries'] == 0"
is "$(lbj "B(SV('$DSR4'), '${BACKEND4[2]}')['table_entries']")" 0 \
	"b2 (one id in every service that lists it) out of the dsr service's table too"
snap "$(R s0)"
take $N_CHECK
py conns "$CLIENT4" "$VIP4" 80 $N_CHECK "$SEED" "$OFF" >"$(R r4)"
take $N_CHECK
py conns "$CLIENT6" "$VIP6" 80 $N_CHECK "$SEED" "$OFF" >"$(R r6)"
snap "$(R s1)"
judge "b2 down, $VIP4:80" "$(R r4)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP4:80/tcp" \
	"$(bk 1 1 80)" "$(bk 2 0 80)" "$(bk 3 1 80)"
judge "b2 down, [$VIP6]:80" "$(R r6)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP6:80/tcp" \
	"$(bk 1 1 80 6)" "$(bk 2 0 80 6)" "$(bk 3 1 80 6)"

check "nginx of b2 restarted" nginx_start 2
check "b2 up again and back in the IPv4 and IPv6 tables" wait_for 20 lb_true \
	"${B2}['health'] == ${B2_6}['health'] == 'up' and ${B2}['table_entries'] > 0 and ${B2_6}['table_entries'] > 0"
is "$(lbj "(${B2}['health_transitions'], ${B2_6}['health_transitions'])")" "(2, 2)" \
	"b2: two transitions in each family (down, up)"
snap "$(R s0)"
take $N_CHECK
py conns "$CLIENT4" "$VIP4" 80 $N_CHECK "$SEED" "$OFF" >"$(R r4)"
take $N_CHECK
py conns "$CLIENT6" "$VIP6" 80 $N_CHECK "$SEED" "$OFF" >"$(R r6)"
snap "$(R s1)"
judge "b2 back, $VIP4:80" "$(R r4)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP4:80/tcp" \
	"$(bk 1 1 80)" "$(bk 2 2 80)" "$(bk 3 1 80)"
judge "b2 back, [$VIP6]:80" "$(R r6)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP6:80/tcp" \
	"$(bk 1 1 80 6)" "$(bk 2 2 80 6)" "$(bk 3 1 80 6)"

# ---- 5. an apply that adds a backend, 6. drain ------------------------------

H=$TEST_TMP/hold
mkdir -p "$H"
take $HOLD
HOLD_OFF=$OFF
py hold "$CLIENT4" "$VIP4" 80 $HOLD "$SEED" "$HOLD_OFF" "$H" >"$H/result" 2>"$H/err" &
HOLD_PID=$!
check "$HOLD keep-alive connections open through $VIP4:80" wait_for 30 test -e "$H/ready"
check "the holder made a round of requests on each" wait_for 30 test -e "$H/ack-0"

# heval PYEXPR: PYEXPR with held ([port, first backend] per held
# connection), p0 and p1 (the dsr probes' names, in the same order) and
# res (the holder's result) as far as they exist.
heval() {
	"$PYTHON" -c '
import json, os, sys
def load(f):
    try:
        return json.load(open(f))
    except (OSError, ValueError):
        return None  # not there yet, or still being written
d = sys.argv[1]
held, p0, p1, res = (load(os.path.join(d, f)) for f in ("ready", "p0", "p1", "result"))
print(eval(sys.argv[2]))' "$H" "$1"
}
echo "    held connections per backend: $(heval "sorted((n, [h for _, h in held].count(n)) for n in set(h for _, h in held))")"

# 2. The client's view: every established connection has the VIP as peer.
in_ns client ss -Htn state established >"$TEST_TMP/ss.out"
is "$(awk '{print $4}' "$TEST_TMP/ss.out" | sort | uniq -c | awk '{print $1, $2}')" "$HOLD $VIP4:80" \
	"ss on the client: $HOLD established connections, each with $VIP4:80 as peer"

py probe "$CLIENT4" "$DSR4" 80 $HOLD "$SEED" "$HOLD_OFF" >"$H/p0"
is "$(heval "sum(1 for (_, h), p in zip(held, p0) if h == p)")" "$HOLD" \
	"the dsr VIP, probed from the held connections' ports, picks each one's backend (one table)"

# no_backend_since N: how much no_backend grew since it was N.
no_backend_since() { echo $(($(lbj "c['no_backend']") - $1)); }
nb0=$(lbj "c['no_backend']")
write_chain "$TEST_TMP/chain-b4.yaml" "1 2 1 1"
echo 1 >"$H/phase"
out=$(S -n "$NS_SFC" apply "$TEST_TMP/chain-b4.yaml" 2>&1)
echo "    $out"
check "apply with b4 added: $out" grep -q "swapped to generation" <<<"$out"
check "the holder made a round of requests on each after the apply" wait_for 30 test -e "$H/ack-1"
py probe "$CLIENT4" "$DSR4" 80 $HOLD "$SEED" "$HOLD_OFF" >"$H/p1"
moved=$(heval "sum(1 for (_, h), p in zip(held, p1) if h != p)")
echo "    held flows that a new connection from their port would now move: $(heval "' '.join('%s->%s x%d' % (k[0], k[1], n) for k, n in sorted(__import__('collections').Counter((h, p) for (_, h), p in zip(held, p1) if h != p).items()))")"
# Adding a fifth of the weight remaps about a fifth of the table:
# P(none of 60 held flows remapped) = 0.8^60 ~ 2e-6.
check "$moved of the $HOLD held connections' flows would now be sent elsewhere" test "$moved" -ge 1
is "$(no_backend_since "$nb0")" 0 "no_backend +0 across the apply, its requests and probes"
snap "$(R s0)"
take $N_CHECK
py conns "$CLIENT4" "$VIP4" 80 $N_CHECK "$SEED" "$OFF" >"$(R r4)"
snap "$(R s1)"
judge "b4 added, $VIP4:80" "$(R r4)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP4:80/tcp" \
	"$(bk 1 1 80)" "$(bk 2 2 80)" "$(bk 3 1 80)" "$(bk 4 1 80)"

nb0=$(lbj "c['no_backend']")
write_chain "$TEST_TMP/chain-drain.yaml" "1 2 1 1" 1
echo 2 >"$H/phase"
out=$(S -n "$NS_SFC" apply "$TEST_TMP/chain-drain.yaml" 2>&1)
echo "    $out"
check "apply with b1 drained: $out" grep -q "swapped to generation" <<<"$out"
is "$(lbj "B(SV('$VIP4'), '${BACKEND4[1]}')['state'], B(SV('$VIP4'), '${BACKEND4[1]}')['table_entries']")" \
	"('drain', 0)" "b1 drained: out of the table"
check "the holder made a round of requests on each after the drain" wait_for 30 test -e "$H/ack-2"
is "$(no_backend_since "$nb0")" 0 "no_backend +0 across the drain and its requests"
snap "$(R s0)"
take $N_CHECK
py conns "$CLIENT4" "$VIP4" 80 $N_CHECK "$SEED" "$OFF" >"$(R r4)"
take $N_CHECK
py conns "$CLIENT6" "$VIP6" 80 $N_CHECK "$SEED" "$OFF" >"$(R r6)"
snap "$(R s1)"
judge "b1 drained, $VIP4:80" "$(R r4)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP4:80/tcp" \
	"$(bk 1 0 80)" "$(bk 2 2 80)" "$(bk 3 1 80)" "$(bk 4 1 80)"
judge "b1 drained, [$VIP6]:80" "$(R r6)" --before "$(R s0)" --after "$(R s1)" --svc "$VIP6:80/tcp" \
	"$(bk 1 0 80 6)" "$(bk 2 2 80 6)" "$(bk 3 1 80 6)" "$(bk 4 1 80 6)"

touch "$H/stop"
wait "$HOLD_PID"
is "$?" 0 "the holder ends cleanly"
sed 's/^/    holder: /' "$H/err"
echo "    requests per held connection and phase: $(heval "[min(c['phases'].get(p, 0) for c in res) for p in '012']") (min), $(heval "[max(c['phases'].get(p, 0) for c in res) for p in '012']") (max)"
is "$(heval "[c['port'] for c in res if c['error']] or [c['error'] for c in res if c['error']][:3]")" "[]" \
	"no held connection reset or failed across the two swaps"
is "$(heval "sum(1 for c in res if c['seen'] == [c['first']])")" "$HOLD" \
	"each of the $HOLD held connections kept its backend"
is "$(heval "sum(1 for c in res if all(c['phases'].get(p, 0) > 0 for p in '012'))")" "$HOLD" \
	"each answered before the swaps, after b4 was added, and after b1 was drained"
is "$(heval "sum(1 for (_, h), p, c in zip(held, p1, res) if h != p and c['seen'] == [h])")" "$moved" \
	"the $moved whose flows would now go elsewhere stayed on their backend"
# P(none of 60 on b1, a quarter of the weight) = 0.75^60 ~ 3e-8.
on_b1=$(heval "sum(1 for c in res if c['first'] == 'b1' and c['phases'].get('2', 0) > 0)")
check "$on_b1 held connections on the drained b1 kept working after the drain" test "$on_b1" -ge 1

# ---- the whole test ---------------------------------------------------------

is "$(lbj "[c[k] for k in ('no_backend', 'errors', 'connection_inserts_failed')]")" "[0, 0, 0]" \
	"no_backend, errors, connection_inserts_failed: 0"
is "$(S -j stats "$CHAIN" | "$PYTHON" -c '
import json, sys
print(sum(s[d]["tail_call_miss"] for s in json.load(sys.stdin)["stages"] for d in ("forward", "reverse")))')" \
	0 "no tail call missed"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
is "$?" 0 "SIGTERM: the agent exits cleanly"
AGENT_PID=
check "the agent's log has no error" bash -c "! grep -q ': error:' '$TEST_TMP/agent.log'"

# ---- chains/loadbalancer.yaml -------------------------------------------------

check "delete the test's chain" S delete "$CHAIN"
out=$(S -n "$NS_SFC" apply "$SFC_SRC_DIR/chains/loadbalancer.yaml" 2>&1)
check "chains/loadbalancer.yaml applies on this lab: $out" grep -q created <<<"$out"
take $N_CHECK
py conns "$CLIENT4" "$VIP4" 80 $N_CHECK "$SEED" "$OFF" >"$(R rx)"
judge "chains/loadbalancer.yaml, $VIP4:80" "$(R rx)" b1:1 b2:2 b3:0 b4:0
check "delete it" S delete loadbalancer

# ---- 2. the capture -----------------------------------------------------------

# The traffic is over; tcpdump may still be writing out what it has read:
# stop it once the file has stopped growing (bounded), so that what the
# kernel handed it is all in the file.
pcap_settled() {
	local a b
	a=$(stat -c %s "$TEST_TMP/client.pcap")
	sleep 0.3
	b=$(stat -c %s "$TEST_TMP/client.pcap")
	[ "$a" = "$b" ]
}
wait_for 10 pcap_settled
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID"
sed 's/^/    tcpdump: /' "$TEST_TMP/tcpdump.err"
captured=$(sed -n 's/^\([0-9]*\) packets captured$/\1/p' "$TEST_TMP/tcpdump.err")
received=$(sed -n 's/^\([0-9]*\) packets received by filter$/\1/p' "$TEST_TMP/tcpdump.err")
dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$TEST_TMP/tcpdump.err")
check "the capture is whole: $captured packets captured of $received, $dropped dropped by the kernel" \
	test -n "$captured" -a "$captured" = "$received" -a "$dropped" = 0
# pcount FILTER: packets of the capture that match FILTER.
pcount() { tcpdump -n -r "$TEST_TMP/client.pcap" "$1" 2>/dev/null | wc -l; }
bk_filter=$(printf 'src host %s or ' "${BACKEND4[@]}" "${BACKEND6[@]}")
bk_filter=${bk_filter% or }
is "$(pcount "$bk_filter")" 0 "no packet from a backend's address reached the client ($(pcount "ip or ip6") captured)"
for f in "src host $VIP4 and tcp src port 80" "src host $VIP6 and tcp src port 80" \
	"src host $VIP4 and udp src port $UPORT" "src host $DSR4 and tcp src port 80"; do
	n=$(pcount "$f")
	check "the client got $n packets from $f" test "$n" -gt 0
done

done_testing
