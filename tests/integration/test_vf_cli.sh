#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# sfcctl vf and sfcctl render libvirt on a fake sysfs tree (SFC_SYSFS_ROOT):
# a PF 0000:03:00.0 with 8 VFs on iavf, a second PF with 2, and a NIC
# without SR-IOV. It checks vf list (-j, read with python3's json), the
# refusals and their exit codes, what numvfs and bind wrote into the tree,
# and the domain XML of render libvirt with virt-xml-validate and with
# libvirt's test driver (virsh define, then dumpxml).
#
# As root, the lab's sfc namespace lends the fake tree real interfaces: the
# PF's interface is the veth sfc-out, VF 0's is sfc-in, which runs a chain.
# vf list must then see XDP on VF 0, numvfs and bind must refuse, and a VF
# setting request must reach the kernel, pass its attribute policy and be
# refused by veth, which has no VFs (EOPNOTSUPP).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

require_sfcctl
for c in python3 virsh virt-xml-validate; do
	command -v $c >/dev/null 2>&1 || skip "$c not installed (run scripts/setup.sh)"
done

SYS=$TEST_TMP/sys
PCIDIR=devices/pci0000:00/0000:00:01.0
PF0=0000:03:00.0
PF1=0000:04:00.0
PLAIN=0000:00:02.0
PF_IF=sfc-out		# the lab's interfaces, so that as root they are real
VF0_IF=sfc-in

rc() { "$@" >/dev/null 2>&1; echo $?; }
sf() { SFC_SYSFS_ROOT=$SYS "$SFCCTL" "$@"; }
# shellcheck disable=SC2069 # stderr alone, stdout dropped
err_of() { SFC_SYSFS_ROOT=$SYS "$SFCCTL" "$@" 2>&1 >/dev/null; }

# ---- the fake tree --------------------------------------------------------

# dev PCI DRIVER GROUP: a PCI device, its bus link, driver and IOMMU group.
dev() {
	local d=$SYS/$PCIDIR/$1
	mkdir -p "$d" "$SYS/bus/pci/devices" "$SYS/kernel/iommu_groups/$3/devices"
	ln -sfn "../../../$PCIDIR/$1" "$SYS/bus/pci/devices/$1"
	echo "(null)" >"$d/driver_override"
	ln -sfn "../../../../bus/pci/drivers/$2" "$d/driver"
	ln -sfn "../../../../kernel/iommu_groups/$3" "$d/iommu_group"
	ln -sfn "../../../../$PCIDIR/$1" "$SYS/kernel/iommu_groups/$3/devices/$1"
}

# netdev PCI NAME MAC FLAGS: the device's interface.
netdev() {
	local n=$SYS/$PCIDIR/$1/net/$2
	mkdir -p "$n" "$SYS/class/net"
	ln -sfn "../../../$1" "$n/device"
	echo "$3" >"$n/address"
	echo "$4" >"$n/flags"
	ln -sfn "../../$PCIDIR/$1/net/$2" "$SYS/class/net/$2"
}

make_tree() {
	local k pci
	rm -rf "$SYS"
	mkdir -p "$SYS/bus/pci/drivers"/{ice,iavf,e1000e}
	for d in ice iavf e1000e; do : >"$SYS/bus/pci/drivers/$d/unbind"; done
	: >"$SYS/bus/pci/drivers_probe"
	dev $PLAIN e1000e 9001
	netdev $PLAIN sfct-plain 52:54:00:aa:00:01 0x1003
	dev $PF0 ice 9012
	netdev $PF0 $PF_IF b4:96:91:00:00:00 0x1003
	echo 8 >"$SYS/$PCIDIR/$PF0/sriov_totalvfs"
	echo 8 >"$SYS/$PCIDIR/$PF0/sriov_numvfs"
	echo 1 >"$SYS/$PCIDIR/$PF0/sriov_drivers_autoprobe"
	for k in 0 1 2 3 4 5 6 7; do
		pci=0000:03:01.$k
		dev $pci iavf $((9040 + k))
		ln -sfn ../$PF0 "$SYS/$PCIDIR/$pci/physfn"
		ln -sfn ../$pci "$SYS/$PCIDIR/$PF0/virtfn$k"
		if [ $k = 0 ]; then
			netdev $pci $VF0_IF 52:54:00:00:00:00 0x1002
		else
			netdev $pci sfct-vf$k 52:54:00:00:00:0$k 0x1002
		fi
	done
	dev $PF1 ice 9013
	netdev $PF1 sfct-pf1 b4:96:91:00:01:00 0x1003
	echo 4 >"$SYS/$PCIDIR/$PF1/sriov_totalvfs"
	echo 2 >"$SYS/$PCIDIR/$PF1/sriov_numvfs"
	for k in 0 1; do
		pci=0000:04:01.$k
		dev $pci iavf $((9050 + k))
		ln -sfn ../$PF1 "$SYS/$PCIDIR/$pci/physfn"
		ln -sfn ../$pci "$SYS/$PCIDIR/$PF1/virtfn$k"
	done
}

make_tree

# ---- help and usage ---------------------------------------------------------

is "$(rc "$SFCCTL" vf help)" 0 "vf help"
is "$(rc "$SFCCTL" help vf)" 0 "help vf"
is "$(rc "$SFCCTL" vf set help)" 0 "vf set help"
is "$(rc "$SFCCTL" render help)" 0 "render help"
is "$(rc "$SFCCTL" render libvirt help)" 0 "render libvirt help"
check "vf help names every command" bash -c \
	"'$SFCCTL' vf help | grep -q 'vf numvfs PF N' && '$SFCCTL' vf help | grep -q 'vf bind PF VF vfio|host'"
is "$(rc sf vf frob)" 2 "unknown vf command"
is "$(rc sf vf list a b)" 2 "vf list with two PFs"
is "$(rc sf -n x vf list)" 2 "-n does not apply to vf"
is "$(rc sf vf numvfs $PF0)" 2 "numvfs without N"
is "$(rc sf vf numvfs $PF0 x)" 2 "numvfs N not a number"
is "$(rc sf vf bind $PF0 1 elsewhere)" 2 "bind to neither vfio nor host"
is "$(rc "$SFCCTL" render)" 2 "render without a target"
is "$(rc "$SFCCTL" render vmware)" 2 "render an unknown target"
check "vf prefix: vf li = vf list" sf vf li

# ---- vf list ------------------------------------------------------------------

out=$(sf -j vf list)
check "vf -j list: two PFs, every field" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["sysfs_root"] == sys.argv[2], d["sysfs_root"]
pfs = d["pfs"]
assert [p["pci"] for p in pfs] == ["0000:03:00.0", "0000:04:00.0"], pfs
p = pfs[0]
assert p["netdev"] == "sfc-out" and p["driver"] == "ice" and p["iommu_group"] == 9012, p
assert p["total_vfs"] == 8 and p["num_vfs"] == 8 and p["drivers_autoprobe"] is True, p
assert [v["index"] for v in p["vfs"]] == list(range(8)), p["vfs"]
v = p["vfs"][3]
want = {"index": 3, "pci": "0000:03:01.3", "driver": "iavf", "driver_override": None,
        "netdev": "sfct-vf3", "mac": "52:54:00:00:00:03", "iommu_group": 9043, "up": False,
        "xdp_attached": None, "xdp_native": None, "in_use": False, "in_use_by": None}
assert v == want, v
q = pfs[1]
assert q["num_vfs"] == 2 and q["drivers_autoprobe"] is None and q["vfs"][1]["netdev"] is None, q
' "$out" "$SYS"
out=$(sf vf list $PF0)
# shellcheck disable=SC2016 # $1 is for the inner bash
check "vf list PF: a header and a row per VF" bash -c '
grep -q "^PF 0000:03:00.0  sfc-out  driver ice  VFs 8/8  iommu_group 9012$" <<<"$1" &&
grep -qE "^  VF +PCI +DRIVER +INTERFACE +MAC +IOMMU +XDP +STATE$" <<<"$1" &&
grep -qE "^  3 +0000:03:01.3 +iavf +sfct-vf3 +52:54:00:00:00:03 +9043 +- +down$" <<<"$1" &&
[ "$(grep -c "0000:03:01" <<<"$1")" = 8 ]' _ "$out"
check "vf list by the short PCI address" sf vf list 04:00.0
is "$(rc sf vf list sfct-plain)" 1 "vf list of a NIC without SR-IOV: exit 1"
is "$(err_of vf list sfct-plain)" \
	"sfcctl: sfct-plain (0000:00:02.0) is not an SR-IOV PF (it has no sriov_totalvfs)" \
	"... and says so"
is "$(err_of vf list sfct-vf3)" "sfcctl: sfct-vf3 is a VF (of PF 0000:03:00.0), not an SR-IOV PF" \
	"a VF named as PF"
out=$(sf -j vf list nope)
check "-j error is JSON" python3 -c '
import json, sys
assert "nope: no such interface" in json.loads(sys.argv[1])["error"]' "$out"

# ---- numvfs -----------------------------------------------------------------

num() { cat "$SYS/$PCIDIR/$PF0/sriov_numvfs"; }
is "$(err_of vf numvfs $PF0 9)" "sfcctl: PF 0000:03:00.0 supports at most 8 VFs, not 9" \
	"more VFs than sriov_totalvfs"
echo 0x1003 >"$SYS/$PCIDIR/0000:03:01.2/net/sfct-vf2/flags"
ln -sfn ../../../../bus/pci/drivers/vfio-pci "$SYS/$PCIDIR/0000:03:01.5/driver"
out=$(err_of vf numvfs $PF_IF 4)
is "$out" "sfcctl: cannot change the VFs of PF 0000:03:00.0 from 8 to 4: the VFs are removed \
first, and 2 are in use: VF 2 (0000:03:01.2): its interface sfct-vf2 is up; VF 5 \
(0000:03:01.5): bound to vfio-pci" "numvfs refused while VFs are in use"
is "$(num)" 8 "... and nothing written"
echo 0x1002 >"$SYS/$PCIDIR/0000:03:01.2/net/sfct-vf2/flags"
ln -sfn ../../../../bus/pci/drivers/iavf "$SYS/$PCIDIR/0000:03:01.5/driver"
out=$(sf -j vf numvfs $PF_IF 4)
is "$out" '{"pf":"0000:03:00.0","num_vfs":4,"was":8,"changed":true}' "numvfs 8 -> 4 (-j)"
is "$(num)" 4 "sriov_numvfs holds 4 (0 was written first: the unit test checks the order)"
is "$(sf vf numvfs $PF0 4)" "PF 0000:03:00.0: 4 VFs already" "numvfs to the same number"
echo 8 >"$SYS/$PCIDIR/$PF0/sriov_numvfs"

# ---- set: checked before anything is sent ----------------------------------------

is "$(rc sf vf set $PF0 1 vlan 4096)" 2 "vlan 4096: usage"
is "$(err_of vf set $PF0 1 mac 01:00:5e:00:00:01)" \
	"sfcctl: vf set: 01:00:5e:00:00:01 is a multicast address; a VF needs a unicast one
Try 'sfcctl help vf'." "multicast MAC"
is "$(rc sf vf set $PF0 1 mac 52:54:00:zz:00:01)" 2 "MAC that is not one"
is "$(err_of vf set $PF0 1 rate 2000 1000 | head -1)" \
	"sfcctl: vf set: minimum rate 2000 Mbit/s is above the maximum 1000 Mbit/s" "rate min > max"
is "$(rc sf vf set $PF0 1 qos 3)" 2 "qos before vlan"
is "$(rc sf vf set $PF0 1 trust maybe)" 2 "trust maybe"
is "$(rc sf vf set $PF0 1 colour blue)" 2 "unknown setting"
is "$(rc sf vf set $PF0 1)" 2 "nothing to set"
is "$(err_of vf set $PF0 9 trust on)" "sfcctl: VF 9 is out of range: PF 0000:03:00.0 has 8 VFs (0..7)" \
	"VF index out of range"
is "$(err_of vf set $PF0 0000:04:01.0 trust on)" \
	"sfcctl: 0000:04:01.0 is not a VF of PF 0000:03:00.0: its PF is 0000:04:00.0" "another PF's VF"

# ---- bind: what it writes ------------------------------------------------------

is "$(err_of vf bind $PF0 1 vfio)" "sfcctl: the vfio-pci driver is not loaded (modprobe vfio-pci)" \
	"bind with vfio-pci not loaded"
mkdir -p "$SYS/bus/pci/drivers/vfio-pci"
: >"$SYS/bus/pci/drivers/vfio-pci/unbind"
# No kernel acts on the writes here: the bind times out, says so and undoes
# driver_override. The writes stay in the files.
out=$(err_of vf bind $PF0 1 vfio)
is "$out" "sfcctl: VF 0000:03:01.1 did not bind to vfio-pci within 2000 ms: it is on iavf (see \
dmesg); driver_override is cleared again" "bind that the kernel does not carry out"
is "$(cat "$SYS/bus/pci/drivers/iavf/unbind")" 0000:03:01.1 "unbound from iavf"
is "$(cat "$SYS/bus/pci/drivers_probe")" 0000:03:01.1 "drivers_probe"
is "$(od -An -c "$SYS/$PCIDIR/0000:03:01.1/driver_override" | tr -d ' ')" '\n' \
	"driver_override cleared (\\n) after vfio-pci"
ln -sfn ../../../../bus/pci/drivers/vfio-pci "$SYS/$PCIDIR/0000:03:01.6/driver"
is "$(sf -j vf bind $PF0 6 vfio)" \
	'{"pf":"0000:03:00.0","vf":6,"pci":"0000:03:01.6","driver_before":"vfio-pci","driver":"vfio-pci","changed":false}' \
	"bind a VF already on vfio-pci: unchanged"
is "$(sf vf bind $PF0 0000:03:01.6 vfio)" "VF 6 (0000:03:01.6): on vfio-pci already" "by PCI address"
ln -sfn ../../../../bus/pci/drivers/iavf "$SYS/$PCIDIR/0000:03:01.6/driver"
is "$(err_of vf bind $PF1 3 host)" "sfcctl: VF 3 is out of range: PF 0000:04:00.0 has 2 VFs (0..1)" \
	"bind a VF the PF does not have"

# ---- render libvirt ------------------------------------------------------------------

: >"$TEST_TMP/seed.iso"
(
	cd "$TEST_TMP" &&
		sf render libvirt name nfv-1 image /var/lib/libvirt/images/nfv.qcow2 \
			kernel /boot/vmlinuz initrd /boot/initrd.img \
			cmdline "root=/dev/vda1 console=ttyS0 sfc=\"a&b\"" seed seed.iso \
			vf "$PF_IF:3,mac=52:54:00:00:00:33,vlan=100" vf "$PF0:4" \
			vf "0000:03:01.5,managed=no,vlan=4095" network default memory 1024 vcpus 4
) >"$TEST_TMP/direct.xml"
is "$?" 0 "render libvirt, direct kernel boot"
check "virt-xml-validate: direct kernel boot" virt-xml-validate "$TEST_TMP/direct.xml" domain
check "managed=no as written" grep -q "<interface type='hostdev' managed='no'>" "$TEST_TMP/direct.xml"
sf render libvirt name nfv-2 image disk.raw format raw type qemu machine pc \
	vf 03:01.7 seed /tmp/s.iso >"$TEST_TMP/disk.xml"
check "virt-xml-validate: disk boot, pc machine" virt-xml-validate "$TEST_TMP/disk.xml" domain

virsh -q -c test:///default "define $TEST_TMP/direct.xml; dumpxml nfv-1" >"$TEST_TMP/dump1.xml" \
	2>"$TEST_TMP/virsh.err"
is "$?" 0 "virsh define + dumpxml (test driver) $(cat "$TEST_TMP/virsh.err")"
check "the defined domain has the VFs, MAC, VLAN, boot, seed" python3 -c '
import sys, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
d = ET.fromstring(text[text.index("<domain"):])
assert d.findtext("name") == "nfv-1"
assert d.find("memory").text == str(1024 * 1024) and d.find("memory").get("unit") == "KiB"
assert d.findtext("vcpu") == "4"
os_ = d.find("os")
assert os_.findtext("kernel") == "/boot/vmlinuz" and os_.findtext("initrd") == "/boot/initrd.img"
assert os_.findtext("cmdline") == "root=/dev/vda1 console=ttyS0 sfc=\"a&b\"", os_.findtext("cmdline")
hd = [i for i in d.iter("interface") if i.get("type") == "hostdev"]
assert len(hd) == 3, len(hd)
addr = lambda i: i.find("source/address")
# libvirt leaves out managed="no", its default
got = [(i.get("managed", "no"), addr(i).get("bus"), addr(i).get("slot"), addr(i).get("function"))
       for i in hd]
assert got == [("yes", "0x03", "0x01", "0x3"), ("yes", "0x03", "0x01", "0x4"),
               ("no", "0x03", "0x01", "0x5")], got
assert all(addr(i).get("domain") == "0x0000" and addr(i).get("type") == "pci" for i in hd)
assert hd[0].find("mac").get("address") == "52:54:00:00:00:33"
assert hd[0].find("vlan/tag").get("id") == "100" and hd[1].find("vlan") is None
assert hd[2].find("vlan/tag").get("id") == "4095"
net = [i for i in d.iter("interface") if i.get("type") == "network"]
assert len(net) == 1 and net[0].find("source").get("network") == "default"
disks = {x.get("device"): x for x in d.iter("disk")}
assert disks["disk"].find("source").get("file") == "/var/lib/libvirt/images/nfv.qcow2"
assert disks["disk"].find("driver").get("type") == "qcow2"
assert disks["disk"].find("target").get("bus") == "virtio"
cd = disks["cdrom"]
assert cd.find("source").get("file") == sys.argv[2] + "/seed.iso", cd.find("source").get("file")
assert cd.find("readonly") is not None and cd.find("target").get("bus") == "sata"
' "$TEST_TMP/dump1.xml" "$TEST_TMP"
virsh -q -c test:///default "define $TEST_TMP/disk.xml; dumpxml nfv-2" >"$TEST_TMP/dump2.xml" 2>&1
check "disk boot: defined, boots from hd, raw image made absolute" python3 -c '
import sys, xml.etree.ElementTree as ET
text = open(sys.argv[1]).read()
d = ET.fromstring(text[text.index("<domain"):])
assert d.get("type") == "qemu" and d.find("os/boot").get("dev") == "hd"
assert d.find("os/kernel") is None
disk = [x for x in d.iter("disk") if x.get("device") == "disk"][0]
assert disk.find("source").get("file") == sys.argv[2] + "/disk.raw"
assert disk.find("driver").get("type") == "raw"
cd = [x for x in d.iter("disk") if x.get("device") == "cdrom"][0]
assert cd.find("target").get("bus") == "ide"
a = d.find("devices/interface/source/address")
assert (a.get("bus"), a.get("slot"), a.get("function")) == ("0x03", "0x01", "0x7")
' "$TEST_TMP/dump2.xml" "$PWD"
out=$(sf -j render libvirt name nfv-3 image /i.qcow2)
check "render -j: the XML in a JSON string" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["name"] == "nfv-3" and d["xml"].startswith("<domain type=\x27kvm\x27>"), d' "$out"

is "$(rc sf render libvirt name x)" 2 "render without image"
is "$(rc sf render libvirt name 'a b' image /i)" 2 "render: bad name"
is "$(rc sf render libvirt name x image /i initrd /r)" 2 "initrd without kernel"
is "$(rc sf render libvirt name x image /i format vmdk)" 2 "unknown format"
is "$(rc sf render libvirt name x image /i name y)" 2 "name twice"
is "$(rc sf render libvirt name x image /i vf "$PF0:1,mac=01:00:00:00:00:01")" 2 "vf multicast mac"
is "$(rc sf render libvirt name x image /i vf "$PF0:1" vf 0000:03:01.1)" 2 "the same VF twice"
is "$(err_of render libvirt name x image /i vf "$PF0:8")" \
	"sfcctl: render: vf 0000:03:00.0:8: VF 8 is out of range: PF 0000:03:00.0 has 8 VFs (0..7)" \
	"render: a VF the PF does not have"
is "$(err_of render libvirt name x image /i vf sfct-plain:0)" \
	"sfcctl: render: vf sfct-plain:0: sfct-plain (0000:00:02.0) is not an SR-IOV PF (it has no sriov_totalvfs)" \
	"render: a PF that is none"

# ---- root: real interfaces, XDP, the kernel's answer -------------------------------

if [ "$(id -u)" != 0 ] || ! ip netns add "${LAB_PREFIX}probe" >/dev/null 2>&1; then
	echo "# not root or no netns: the kernel-side checks are left out"
	done_testing
fi
ip netns delete "${LAB_PREFIX}probe"
require_root_bpf
lab_up
nsvf() { nsenter --net="/run/netns/$NS_SFC" env SFC_SYSFS_ROOT="$SYS" "$SFCCTL" "$@"; }

CHAIN=${LAB_PREFIX%-}-vf
chain_yaml "$TEST_TMP/c.yaml" "$CHAIN" native "{action: pass}" only
check "a chain on sfc-in (VF 0's interface in the fake tree)" sfc_apply "$TEST_TMP/c.yaml"
out=$(nsvf -j vf list $PF_IF)
check "vf list: VF 0 runs XDP, natively, and is in use" python3 -c '
import json, sys
v = json.loads(sys.argv[1])["pfs"][0]["vfs"]
assert v[0]["netdev"] == "sfc-in" and v[0]["xdp_attached"] is True and v[0]["xdp_native"] is True, v[0]
assert v[0]["in_use"] is True and v[0]["in_use_by"] == "its interface sfc-in runs XDP", v[0]
assert v[1]["xdp_attached"] is None and v[1]["in_use"] is False, v[1]' "$out"
out=$(nsvf vf list $PF_IF)
check "plain list says so" grep -qE "^  0 +0000:03:01.0 +iavf +sfc-in .* native +in use: its interface sfc-in runs XDP$" <<<"$out"
is "$(nsenter --net="/run/netns/$NS_SFC" env SFC_SYSFS_ROOT="$SYS" "$SFCCTL" vf bind $PF_IF 0 vfio 2>&1)" \
	"sfcctl: VF 0000:03:01.0 is in use: its interface sfc-in runs XDP" "bind refused: XDP runs there"
out=$(nsenter --net="/run/netns/$NS_SFC" env SFC_SYSFS_ROOT="$SYS" "$SFCCTL" vf numvfs $PF_IF 2 2>&1)
check "numvfs refused: VF 0 runs XDP" grep -q "1 is in use: VF 0 (0000:03:01.0): its interface sfc-in runs XDP" <<<"$out"
is "$(num)" 8 "... nothing written"

# The request goes out over rtnetlink to sfc-out; veth has no VFs, so the
# kernel answers EOPNOTSUPP, after its policy accepted every attribute (a
# malformed one is EINVAL or ERANGE).
out=$(nsenter --net="/run/netns/$NS_SFC" env SFC_SYSFS_ROOT="$SYS" "$SFCCTL" vf set $PF_IF 1 \
	mac 52:54:00:00:00:11 vlan 100 qos 2 spoofchk on trust off rate 10 1000 state enable 2>&1)
is "$?" 1 "vf set to a PF without VFs: exit 1"
is "$out" "sfcctl: sfc-out (PF 0000:03:00.0, driver ice) refused the VF 1 settings: Operation \
not supported" "the kernel's answer"
out=$(nsenter --net="/run/netns/$NS_SFC" env SFC_SYSFS_ROOT="$SYS" "$SFCCTL" vf set $PF_IF 1 \
	vlan 7 proto 802.1ad 2>&1)
check "802.1ad (IFLA_VF_VLAN_LIST): EOPNOTSUPP too" grep -q "Operation not supported$" <<<"$out"
is "$(rc sf vf set $PF_IF 1 trust on)" 1 "outside the namespace the PF's interface is not there"
is "$(err_of vf set $PF_IF 1 trust on)" \
	"sfcctl: PF 0000:03:00.0's interface sfc-out is not in this network namespace" "... and says so"

check "delete the chain" "$SFCCTL" delete "$CHAIN"
out=$(nsvf -j vf list $PF_IF)
check "VF 0 is free again" python3 -c '
import json, sys
v = json.loads(sys.argv[1])["pfs"][0]["vfs"][0]
assert v["xdp_attached"] is False and v["in_use"] is False, v' "$out"

done_testing
