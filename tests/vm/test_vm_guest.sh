#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The guest image end to end: vm-images/build.sh's image (taken from its cache
# when nothing changed; the vm_image test builds it first), booted under qemu
# by vm-images/boot.sh on a lab of the host's namespaces, handed its chain and
# addresses by a cloud-init NoCloud seed (vm-images/seed.sh):
#
#   t<pid>-client eth0 10.10.1.1 --- [t<pid>-sfc: sfc-in, br-in, tap-in]
#       === guest eth1 10.10.1.254       virtio-net, native XDP
#       guest eth2 10.10.2.254 === [t<pid>-sfc: tap-out, br-out, sfc-out]
#       --- t<pid>-br switch --- backends b1 b2 b3 10.10.2.11..13 (HTTP)
#
# In the guest, the chain "edge" on eth1 -> eth2 (redirect): firewall (stateful,
# default drop) -> flowmon -> loadbalancer (VIP 10.10.9.10:80, nat, b1..b3).
#
#   1. boot: the guest agent answers and systemd reaches "running" (no unit
#      failed: cloud-init, sfc-chains, sfc-agent); the seed's chain file is
#      in /etc/sfc/chains byte for byte and its addresses on eth1 and eth2;
#   2. sfc-chains.service applied the chain at boot (its log says so), the
#      agent runs; sfc-xdp-prep ran on eth1 and eth2 (one combined queue
#      per guest CPU), and XDP got TX queues of its own (the kernel did not
#      fall back to a shared, locked one); sfcctl xdp says native; the chain
#      is attached in native mode on both NICs with the three functions;
#   3. traffic through the guest: ping from the client to a backend; N_CONN
#      keep-alive HTTP connections to the VIP, every one answered by a
#      backend; the flow table holds exactly N_CONN forward flows to the VIP
#      and N_CONN replies from it, all forwarded; sfcctl lb's new_flows per
#      backend equal the answers each backend gave, every backend got some;
#   4. the firewall: N_UDP datagrams to a refused port are dropped by their
#      rule, counted exactly; a TCP connection to a port no rule allows does
#      not open; the fw stage's drops in sfcctl stats cover both;
#   5. the connections closed, the agent in the guest removes their flows
#      (ended by FIN) from the table;
#   6. shutdown through the guest agent: the guest powers off, qemu exits 0.
#
# Counts and states only: every wait is bounded and followed by a check of
# the state reached, never of the time it took (under TCG, a few minutes).
# The times of the build, the boot and the test are printed for the record.
# SFC_VM_ACCEL (default tcg: KVM does not boot guests on the machines this
# runs on) and SFC_VM_CACHE are passed on; SFC_VM_KERNEL (bookworm, the
# default, or backports) picks the guest kernel the image is built with.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

VM=$SFC_SRC_DIR/vm-images
BUILD=${SFC_BUILD_DIR:-$SFC_SRC_DIR/build}
TRAFFIC=$SFC_SRC_DIR/tests/vm/vm_traffic.py
QGA_SOCK=$TEST_TMP/qga.sock
CONSOLE=$TEST_TMP/console.log
VIP=10.10.9.10
N_CONN=30
N_UDP=25
REFUSED_PORT=9999
LAB_BACKENDS=3
BOOT_PID=

# ---- requirements ---------------------------------------------------------

[ "$(id -u)" = 0 ] || skip "needs root (uid is $(id -u)): mmdebstrap --mode=root, taps, namespaces"
caps=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
(((0x$caps >> 12) & 1)) || skip "root without CAP_NET_ADMIN (CapEff $caps)"
(((0x$caps >> 21) & 1)) || skip "root without CAP_SYS_ADMIN (CapEff $caps)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun: cannot create taps here"
ip netns add "${LAB_PREFIX}probe" >/dev/null 2>&1 || skip "cannot create network namespaces"
ip netns delete "${LAB_PREFIX}probe"
# Tools missing are a broken setup (scripts/setup.sh installs them), not a skip.
for c in qemu-system-x86_64 qemu-img mmdebstrap mkfs.fat mcopy syslinux python3 nsenter; do
	command -v "$c" >/dev/null 2>&1 || {
		echo "FAIL - $c not installed (scripts/setup.sh installs it)"
		exit 1
	}
done

# gx CMD...: run CMD in the guest (through the guest agent); its output here.
gx() { python3 "$VM/qga.py" "$QGA_SOCK" exec --timeout 120 -- "$@"; }
# gsh 'SCRIPT': the same through /bin/sh -c.
gsh() { python3 "$VM/qga.py" "$QGA_SOCK" sh --timeout 120 "$1"; }

vm_cleanup() {
	# lib.sh's cleanup stops the background jobs (boot.sh, qemu, the
	# servers) and removes the lab; a qemu left behind would keep the taps.
	if [ -n "$BOOT_PID" ] && kill -0 "$BOOT_PID" 2>/dev/null; then
		echo "# killing the guest (boot.sh $BOOT_PID); the console's last lines:"
		tail -n 20 "$CONSOLE" 2>/dev/null | sed 's/^/    | /'
	fi
	_cleanup
}
trap vm_cleanup EXIT

# ---- 1. build (cached), seed, lab, boot -----------------------------------

t0=$SECONDS
img=$(bash "$VM/build.sh" --build-dir "$BUILD" --kernel "${SFC_VM_KERNEL:-bookworm}") || {
	fail "vm-images/build.sh --build-dir $BUILD --kernel ${SFC_VM_KERNEL:-bookworm}"
	done_testing
}
ok "image $img ($((SECONDS - t0)) s, cached when unchanged)"

cat >"$TEST_TMP/edge.yaml" <<EOF
# test_vm_guest.sh: handed to the guest by the seed, applied at boot.
apiVersion: sfc/v1alpha1
kind: Chain
metadata:
  name: edge
spec:
  interface: eth1
  xdpMode: native
  egress: {action: redirect, interface: eth2}
  functions:
    - name: fw
      type: firewall
      config:
        defaultAction: drop
        stateful: true
        rules:
          - {action: drop, protocol: udp, dstPort: $REFUSED_PORT, comment: the refused datagrams}
          - {action: allow, dst: $VIP, protocol: tcp, dstPort: 80}
          - {action: allow, protocol: icmp}
    - name: mon
      type: flowmon
      config: {inactiveTimeout: 10m}
    - name: lb
      type: loadbalancer
      config:
        services:
          - vip: $VIP
            port: 80
            protocol: tcp
            mode: nat
            backends: [{address: 10.10.2.11}, {address: 10.10.2.12}, {address: 10.10.2.13}]
EOF
check "the chain file is valid" "$SFCCTL" validate "$TEST_TMP/edge.yaml"
check "seed.sh makes the seed: chain, eth1 and eth2 addresses" \
	bash "$VM/seed.sh" -o "$TEST_TMP/seed.img" --keep "$TEST_TMP/seed" --chain "$TEST_TMP/edge.yaml" \
	--addr "eth1=$SFC_IN4/24" --addr "eth1=$SFC_IN6/64" --addr "eth2=$SFC_OUT4/24" --addr "eth2=$SFC_OUT6/64"

lab_up
for k in 1 2 3; do
	in_ns "b$k" python3 "$TRAFFIC" serve "b$k" "${BACKEND4[k]}" 80 &
done

t_boot=$SECONDS
bash "$VM/boot.sh" --image "$img" --seed "$TEST_TMP/seed.img" --lab "$LAB_PREFIX" \
	--accel "${SFC_VM_ACCEL:-tcg}" --console "$CONSOLE" --qga "$QGA_SOCK" --run-dir "$TEST_TMP/vm" \
	>"$TEST_TMP/boot.log" 2>&1 &
BOOT_PID=$!

if ! python3 "$VM/qga.py" "$QGA_SOCK" wait --timeout 480; then
	fail "the guest agent did not answer (boot.sh: $(tail -n 3 "$TEST_TMP/boot.log" | tr '\n' ' '))"
	done_testing
fi
state=$(python3 "$VM/qga.py" "$QGA_SOCK" exec --timeout 300 -- systemctl is-system-running --wait)
echo "# boot to ready: $((SECONDS - t_boot)) s under ${SFC_VM_ACCEL:-tcg}"
is "$state" running "systemd in the guest: running, no unit failed" ||
	gsh 'systemctl --failed --no-legend; journalctl -b -p warning --no-pager | tail -n 30' | sed 's/^/    | /'

# ---- 2. what the seed and the boot did ------------------------------------

is "$(gx sha256sum /etc/sfc/chains/edge.yaml | cut -d' ' -f1)" \
	"$(sha256sum <"$TEST_TMP/edge.yaml" | cut -d' ' -f1)" "cloud-init wrote the seed's chain to /etc/sfc/chains/edge.yaml"
addrs=$(gx ip -j addr show | python3 -c '
import json, sys
print(" ".join(sorted("%s=%s/%s" % (i["ifname"], a["local"], a["prefixlen"]) for i in json.load(sys.stdin)
    for a in i.get("addr_info", []) if i["ifname"] in ("eth1", "eth2") and a.get("scope") == "global")))')
is "$addrs" "eth1=$SFC_IN4/24 eth1=$SFC_IN6/64 eth2=$SFC_OUT4/24 eth2=$SFC_OUT6/64" \
	"the seed's addresses on eth1 and eth2"
is "$(gx systemctl is-active sfc-chains.service)" active "sfc-chains.service ran"
check "sfc-chains applied the chain at boot (journal)" \
	gsh 'journalctl -b -u sfc-chains --no-pager | grep -F "/etc/sfc/chains/edge.yaml: chain edge: created" &&
		journalctl -b -u sfc-chains --no-pager | grep -F "1 chain file(s) in /etc/sfc/chains, 1 applied, 0 failed"'
is "$(gx systemctl is-active sfc-agent.service)" active "sfc-agent.service runs"
cpus=$(gx nproc)
for dev in eth1 eth2; do
	# "eth1 (virtio_net): combined queues 2 (of 4, 2 CPUs); ..." or "4 -> 2".
	check "sfc-xdp-prep set $dev to one combined queue per guest CPU ($cpus; journal)" \
		gsh "journalctl -b -t sfc-xdp-prep --no-pager |
			grep -E '$dev \(virtio_net\): combined queues ([0-9]+ -> )?$cpus \(of [0-9]+, $cpus CPUs\)'"
	is "$(gx sfcctl -j xdp "$dev" | python3 -c 'import json, sys; print(json.load(sys.stdin)["native"])')" \
		True "sfcctl xdp $dev: native XDP"
done
# virtio-net gives XDP_TX/XDP_REDIRECT a queue pair per CPU above the ones in
# use (boot.sh offers 2 x vCPUs), or warns that they share a locked one.
check "XDP got a TX queue per CPU on eth1 and eth2 (no \"locked tx mode\" warning)" \
	gsh "journalctl -b -k --no-pager >/tmp/kernel.log && ! grep -i 'locked tx' /tmp/kernel.log"
gx sfcctl -j status edge >"$TEST_TMP/status.json"
is "$(python3 -c '
import json, sys
st = json.load(open(sys.argv[1]))
print(" ".join("%s:%s:%s" % (a["interface"], a["mode"], a["attached"]) for a in st["attachments"]),
      "->".join(s["name"] for s in st["stages"]))' "$TEST_TMP/status.json")" \
	"eth1:native:True eth2:native:True entry->fw->mon->lb->egress" \
	"chain edge: attached in native mode on eth1 and eth2; entry -> fw -> mon -> lb -> egress"

# ---- 3. traffic through the guest -----------------------------------------

check "ping from the client to backend b1 through the guest" in_ns client ping -c 3 -W 10 "${BACKEND4[1]}"

in_ns client python3 "$TRAFFIC" hold "$VIP" 80 "$N_CONN" "$TEST_TMP/hold.json" "$TEST_TMP/release" &
HOLD_PID=$!
for _ in $(seq 600); do
	[ -e "$TEST_TMP/hold.json" ] || ! kill -0 $HOLD_PID 2>/dev/null && break
	sleep 0.5
done
answers=$(python3 -c '
import json, sys
h = json.load(open(sys.argv[1]))
for e in h["errors"]:
    print("#", e, file=sys.stderr)
print(" ".join(f"{k}={v}" for k, v in sorted(h["answers"].items())))' "$TEST_TMP/hold.json" 2>&1)
echo "# answers: $answers"
is "$(python3 -c 'import json, sys; print(sum(json.load(open(sys.argv[1]))["answers"].values()))' \
	"$TEST_TMP/hold.json" 2>/dev/null)" "$N_CONN" "$N_CONN HTTP connections to the VIP, every one answered"

gx sfcctl -j flows edge mon >"$TEST_TMP/flows.json"
is "$(python3 -c '
import json, sys
vip, client, n = sys.argv[2:5]
t = json.load(open(sys.argv[1]))["flowmons"][0]
fwd = [f for f in t["flows"] if f["direction"] == "forward" and f["protocol"] == 6
       and f["src"] == client and f["dst"] == vip and f["dst_port"] == 80]
rev = [f for f in t["flows"] if f["direction"] == "reverse" and f["protocol"] == 6
       and f["src"] == vip and f["src_port"] == 80 and f["dst"] == client]
# The first packets of a flow may have been passed to the kernel (whose
# forwarding resolves the neighbours the egress then finds): forwarded by
# the chain, maybe passed too, never dropped.
ok = all("forwarded" in f["verdicts"] and set(f["verdicts"]) <= {"forwarded", "passed"}
         and f["packets"] >= 3 for f in fwd + rev)
print(len(fwd), len(rev), "forwarded" if ok else [(f["verdicts"], f["packets"]) for f in fwd + rev])' \
	"$TEST_TMP/flows.json" "$VIP" "$CLIENT4" "$N_CONN")" "$N_CONN $N_CONN forwarded" \
	"flowmon: $N_CONN forward flows to the VIP and $N_CONN replies from it, all forwarded, none dropped"

gx sfcctl -j lb edge lb >"$TEST_TMP/lb.json"
lb=$(python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["loadbalancers"][0]
s = [s for s in t["services"] if s["vip"] == sys.argv[2] and s["port"] == 80][0]
print(s["new_flows"], " ".join("%s=%d" % (b["address"], b["new_flows"]) for b in s["backends"]))' \
	"$TEST_TMP/lb.json" "$VIP")
want=$(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["answers"]
print(sys.argv[2], " ".join("10.10.2.%d=%d" % (10 + k, a.get("b%d" % k, 0)) for k in (1, 2, 3)))' \
	"$TEST_TMP/hold.json" "$N_CONN")
is "$lb" "$want" "sfcctl lb: new_flows per backend = the answers each backend gave"
check "every backend got connections" python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["answers"]
sys.exit(0 if all(a.get("b%d" % k, 0) > 0 for k in (1, 2, 3)) else 1)' "$TEST_TMP/hold.json"

# ---- 4. the firewall --------------------------------------------------------

drops_before=$(gx sfcctl -j stats edge | python3 -c '
import json, sys
print([s for s in json.load(sys.stdin)["stages"] if s["name"] == "fw"][0]["forward"]["dropped"])')
check "$N_UDP datagrams to port $REFUSED_PORT sent" in_ns client python3 "$TRAFFIC" udp "$VIP" "$REFUSED_PORT" "$N_UDP"
check_fails "TCP to $VIP:8080 (no rule allows it) does not connect" \
	in_ns client python3 "$TRAFFIC" connect "$VIP" 8080 5
rule=$(gx sfcctl -j rules edge fw | python3 -c '
import json, sys
fw = json.load(sys.stdin)["firewalls"][0]
print([r for r in fw["rules"] if "9999" in r["rule"]][0]["packets"])')
is "$rule" "$N_UDP" "sfcctl rules: the drop rule for port $REFUSED_PORT counted $N_UDP packets"
drops=$(gx sfcctl -j stats edge | python3 -c '
import json, sys
print([s for s in json.load(sys.stdin)["stages"] if s["name"] == "fw"][0]["forward"]["dropped"])')
check "sfcctl stats: fw dropped at least $N_UDP + 1 more (was $drops_before, now $drops)" \
	test "$drops" -ge $((drops_before + N_UDP + 1))

# ---- 5. the agent removes ended flows ---------------------------------------

touch "$TEST_TMP/release"
wait $HOLD_PID
# vip_flows: flows to or from the VIP still in the table.
vip_flows() {
	gx sfcctl -j flows edge mon | python3 -c '
import json, sys
t = json.load(sys.stdin)["flowmons"][0]
print(sum(1 for f in t["flows"] if sys.argv[1] in (f["src"], f["dst"])))' "$VIP"
}
for _ in $(seq 60); do
	[ "$(vip_flows)" = 0 ] && break
	sleep 1
done
is "$(vip_flows)" 0 "the agent removed the $((2 * N_CONN)) flows ended by FIN"

# ---- 6. shutdown ------------------------------------------------------------

check "guest-shutdown sent" python3 "$VM/qga.py" "$QGA_SOCK" shutdown
for _ in $(seq 300); do
	kill -0 "$BOOT_PID" 2>/dev/null || break
	sleep 0.5
done
if kill -0 "$BOOT_PID" 2>/dev/null; then
	fail "the guest did not power off"
else
	wait "$BOOT_PID"
	is "$?" 0 "the guest powered off and qemu exited 0"
	BOOT_PID=
fi
check "the console shows the power-off" grep -q "reboot: Power down" "$CONSOLE"
echo "# whole test: $((SECONDS - t0)) s"
done_testing
