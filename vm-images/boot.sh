#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# boot.sh [OPTIONS] - boot the sfc guest under qemu with two data NICs.
#
#   --image FILE         the qcow2 to boot (default: vm-images/build.sh's, built
#                        or taken from its cache for $BUILD_DIR / ./build)
#   --seed FILE          a NoCloud seed (vm-images/seed.sh); default: one made
#                        here with the lab's addresses (eth1 10.10.1.254/24,
#                        fd00:10:1::fe/64; eth2 10.10.2.254/24, fd00:10:2::fe/64),
#                        every --chain, and root logged in on the console
#   --chain FILE         a chain file for the default seed (repeatable)
#   --lab PREFIX         the host side (default "vm-"): scripts/lab.sh's
#                        namespaces PREFIXclient, PREFIXsfc, PREFIXserver (and
#                        PREFIXbr, PREFIXb1..N with --backends). qemu runs in
#                        PREFIXsfc, whose sfc-in and sfc-out lose their
#                        addresses and are bridged to the guest's eth1 and eth2
#                        (taps tap-in, tap-out): the guest takes the lab's
#                        router's place. A lab that is up is used as it is and
#                        left up; one built here is removed on exit.
#   --backends N         a lab built here gets N backends (lab.sh --backends)
#   --tap IF             no lab: the next data NIC is the existing tap IF of
#                        this namespace (made with `ip tuntap add IF mode tap
#                        multi_queue`; twice: eth1, eth2)
#   --vf BDF             the next data NIC is the PCI device BDF (an SR-IOV VF
#                        bound to vfio-pci: `sfcctl vf bind PF N vfio`), passed
#                        through with -device vfio-pci (twice: eth1, eth2; a NIC
#                        not given by --tap or --vf is a lab tap)
#   --accel auto|kvm|tcg KVM, TCG, or (default) KVM when a trial boot under KVM
#                        reaches the firmware's boot menu, TCG otherwise
#   --cpus N             vCPUs (default 2); --memory MIB (default 1024)
#   --console FILE       the serial console goes to FILE (default: this
#                        terminal, Ctrl-A x quits; FILE when not a terminal)
#   --qga SOCK           the guest agent's socket (vm-images/qga.py SOCK ...)
#   --run-dir DIR        where the socket, console log and default seed go
#                        (default: a temporary directory, removed on exit)
#   --write              write to the image (default: a throwaway overlay)
#   --dry-run            print the qemu command line and exit
#
# The guest's NICs, in PCI slot order (net.ifnames=0 keeps these names):
#   eth0  management: qemu's user-mode network, restricted (restrict=on: the
#         guest reaches neither the host nor beyond), in the place of the
#         libvirt network NIC of `sfcctl render libvirt`
#   eth1  data: virtio-net on tap-in, or --vf
#   eth2  data: virtio-net on tap-out, or --vf
# virtio-net gets 2 x vCPUs queue pairs, no vhost, and no guest offloads
# (guest_tso4/6, guest_ecn, guest_ufo, guest_csum off): the driver refuses
# native XDP while the host may hand it GRO'd or partly checksummed frames,
# and XDP_TX/XDP_REDIRECT want a TX queue per CPU beyond the ones in use.
# Root: taps, namespaces, vfio. See docs/vm-image.md.
set -euo pipefail

prog=vm-images/boot.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
LAB_SH=$root/scripts/lab.sh

image= seed= lab=vm- backends=0 accel=auto cpus=2 memory=1024 console= qga= run_dir= write=0 dry=0
chains=() taps=() vfs=()

msg() { printf '%s: %s\n' "$prog" "$*" >&2; }
err() { printf '%s: error: %s\n' "$prog" "$*" >&2; }
usage() {
	printf 'usage: %s [--image FILE] [--seed FILE] [--chain FILE]... [--lab PREFIX] [--backends N] [--tap IF]... [--vf BDF]... [--accel auto|kvm|tcg] [--cpus N] [--memory MIB] [--console FILE] [--qga SOCK] [--run-dir DIR] [--write] [--dry-run]\n' "$prog" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--image | --seed | --chain | --lab | --backends | --tap | --vf | --accel | --cpus | --memory | --console | --qga | --run-dir)
		[ $# -ge 2 ] || usage
		case $1 in
		--image) image=$2 ;;
		--seed) seed=$2 ;;
		--chain) chains+=("$2") ;;
		--lab) lab=$2 ;;
		--backends) backends=$2 ;;
		--tap) taps+=("$2") ;;
		--vf) vfs+=("$2") ;;
		--accel) accel=$2 ;;
		--cpus) cpus=$2 ;;
		--memory) memory=$2 ;;
		--console) console=$2 ;;
		--qga) qga=$2 ;;
		--run-dir) run_dir=$2 ;;
		esac
		shift
		;;
	--write) write=1 ;;
	--dry-run) dry=1 ;;
	-h | --help)
		sed -n '4,/^set -euo/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) usage ;;
	esac
	shift
done

# ---- arguments ----------------------------------------------------------

case $accel in auto | kvm | tcg) ;; *)
	err "bad --accel '$accel' (auto, kvm or tcg)"
	exit 2
	;;
esac
[[ $cpus =~ ^[1-9][0-9]{0,2}$ ]] || {
	err "bad --cpus '$cpus'"
	exit 2
}
[[ $memory =~ ^[1-9][0-9]{2,6}$ ]] || {
	err "bad --memory '$memory' (MiB, at least 100)"
	exit 2
}
[[ $backends =~ ^[0-9]+$ ]] || {
	err "bad --backends '$backends'"
	exit 2
}
[[ $lab =~ ^[A-Za-z0-9._-]{1,32}$ ]] || {
	err "bad --lab '$lab' (1 to 32 of A-Z a-z 0-9 . _ -)"
	exit 2
}
if [ $((${#taps[@]} + ${#vfs[@]})) -gt 2 ]; then
	err "two data NICs at most (--tap and --vf together)"
	exit 2
fi
for t in "${taps[@]}"; do
	[[ $t =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || {
		err "bad --tap '$t'"
		exit 2
	}
done

# vf_check BDF: the full address of a PCI device that qemu can pass through,
# or a message saying why not. Validated here, before anything is built: a
# VF on its host driver, without an IOMMU group or without vfio would only
# fail later inside qemu, with a less helpful message.
vf_check() {
	local a=$1 dev drv grp
	if [[ $a =~ ^[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; then
		a=0000:$a
	elif ! [[ $a =~ ^[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$ ]]; then
		err "bad --vf '$1': a PCI address, DDDD:BB:DD.F or BB:DD.F (sfcctl vf list shows them)"
		return 2
	fi
	a=${a,,}
	dev=/sys/bus/pci/devices/$a
	[ -e "$dev" ] || {
		err "--vf $a: no such PCI device"
		return 1
	}
	[ -e "$dev/physfn" ] || msg "warning: $a is not an SR-IOV VF (no physfn): passing the whole device through"
	drv=$(basename "$(readlink "$dev/driver" 2>/dev/null)" 2>/dev/null || true)
	[ "$drv" = vfio-pci ] || {
		err "--vf $a is bound to ${drv:-no driver}, not vfio-pci: sfcctl vf bind PF N vfio (docs/sriov.md, step 4)"
		return 1
	}
	grp=$(basename "$(readlink "$dev/iommu_group" 2>/dev/null)" 2>/dev/null || true)
	[ -n "$grp" ] && [ -e "/dev/vfio/$grp" ] || {
		err "--vf $a: no /dev/vfio/${grp:-GROUP} (IOMMU on? vfio-pci loaded?)"
		return 1
	}
	echo "$a"
}
vf_addrs=()
for v in "${vfs[@]}"; do
	a=$(vf_check "$v") || exit $?
	vf_addrs+=("$a")
done

if [ "$(id -u)" != 0 ] && [ $dry = 0 ]; then
	err "must be root (taps, network namespaces, vfio)"
	exit 1
fi
command -v qemu-system-x86_64 >/dev/null 2>&1 || {
	err "qemu-system-x86_64 not installed (Debian: qemu-system-x86; scripts/setup.sh installs it)"
	exit 1
}

if [ -z "$image" ]; then
	image=$(bash "$here/build.sh") || exit 1
fi
[ -r "$image" ] || {
	err "cannot read the image $image"
	exit 1
}
image=$(realpath "$image")

own_run_dir=0
if [ $dry = 1 ]; then
	run_dir=${run_dir:-${TMPDIR:-/tmp}/sfc-vm.XXXXXX}
elif [ -z "$run_dir" ]; then
	run_dir=$(mktemp -d "${TMPDIR:-/tmp}/sfc-vm.XXXXXX")
	own_run_dir=1
fi
if [ $dry = 0 ]; then
	mkdir -p "$run_dir"
	run_dir=$(realpath "$run_dir")
fi
qga=${qga:-$run_dir/qga.sock}
if [ -z "$console" ] && ! [ -t 0 ]; then
	console=$run_dir/console.log
fi

# ---- the host side: lab, taps, bridges ------------------------------------

# The data NICs: "tap:IF" (a tap of the lab when IF is tap-in/tap-out) or
# "vf:BDF", in order eth1, eth2.
nics=()
lab_taps=(tap-in tap-out)
for t in "${taps[@]}"; do nics+=("tap:$t"); done
for a in "${vf_addrs[@]}"; do nics+=("vf:$a"); done
use_lab=0
while [ ${#nics[@]} -lt 2 ]; do
	use_lab=1
	nics+=("lab:${lab_taps[${#nics[@]}]}")
done
# A lab NIC takes the lab's place for its slot: eth1 is sfc-in's, eth2 sfc-out's.
if [ $use_lab = 1 ] && [ ${#taps[@]} -gt 0 ]; then
	err "--tap and a lab NIC together: give both data NICs (--tap/--vf) or neither"
	exit 2
fi

netns=
lab_built=0
wired=()
cleanup() {
	local rc=$? b
	trap - EXIT INT TERM
	if [ -n "${qemu_pid:-}" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill "$qemu_pid" 2>/dev/null
		wait "$qemu_pid" 2>/dev/null
	fi
	if [ $lab_built = 1 ]; then
		bash "$LAB_SH" down --prefix "$lab" >/dev/null || err "lab down failed"
	elif [ -n "$netns" ] && [ -e "/run/netns/$netns" ]; then
		# A lab that was up stays up; the taps and bridges made here go.
		for b in "${wired[@]}"; do
			nsenter --net="/run/netns/$netns" ip link delete "$b" 2>/dev/null || true
		done
	fi
	[ $own_run_dir = 1 ] && rm -rf "$run_dir"
	exit $rc
}

in_lab() { nsenter --net="/run/netns/$netns" "$@"; }

# wire SLOT: in the lab's sfc namespace, bridge the lab's veth of SLOT
# (sfc-in for eth1, sfc-out for eth2) with a new multi-queue tap for qemu.
wire() {
	local veth tap=${lab_taps[$1]} br=br-${lab_taps[$1]#tap-}
	veth=$([ "$1" = 0 ] && echo sfc-in || echo sfc-out)
	in_lab ip link show dev "$veth" >/dev/null 2>&1 || {
		err "lab '$lab' has no $veth in $netns"
		return 1
	}
	# The guest owns these addresses now.
	in_lab ip addr flush dev "$veth"
	in_lab ip link add "$br" type bridge
	wired+=("$br")
	in_lab ip tuntap add dev "$tap" mode tap multi_queue
	wired+=("$tap")
	for d in "$br" "$tap" "$veth"; do
		# No addresses, no link-local traffic of their own on the wire.
		in_lab sh -c "echo 1 > /proc/sys/net/ipv6/conf/$d/disable_ipv6" 2>/dev/null || true
	done
	in_lab ip link set dev "$veth" master "$br"
	in_lab ip link set dev "$tap" master "$br"
	in_lab ip link set dev "$br" up
	in_lab ip link set dev "$tap" up
}

if [ $dry = 0 ]; then
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if [ $use_lab = 1 ]; then
		netns=${lab}sfc
		if [ ! -e "/run/netns/$netns" ]; then
			args=(--prefix "$lab")
			[ "$backends" -gt 0 ] && args+=(--backends "$backends")
			lab_built=1
			bash "$LAB_SH" up "${args[@]}" >&2
		fi
		# Forwarding off: the guest routes, this namespace is a wire.
		in_lab sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'
		for i in 0 1; do
			[ "${nics[$i]%%:*}" = lab ] && wire $i
		done
	fi
fi

# ---- the seed -------------------------------------------------------------

if [ -z "$seed" ]; then
	seed=$run_dir/seed.img
	args=(-o "$seed" --autologin
		--addr eth1=10.10.1.254/24 --addr eth1=fd00:10:1::fe/64
		--addr eth2=10.10.2.254/24 --addr eth2=fd00:10:2::fe/64)
	for c in "${chains[@]}"; do args+=(--chain "$c"); done
	if [ $dry = 0 ]; then
		bash "$here/seed.sh" "${args[@]}"
	fi
elif [ ${#chains[@]} -gt 0 ]; then
	err "--chain goes into the default seed: with --seed, give the chains to seed.sh"
	exit 2
fi

# ---- accelerator ----------------------------------------------------------

# kvm_boots: a trial boot under KVM, bounded to 20 s: KVM is used when the
# firmware gets as far as looking for a boot device. /dev/kvm can exist and
# still not run a guest (nested virtualization without the features qemu
# needs: the guest never starts, or qemu fails at once).
kvm_boots() {
	local log
	[ -w /dev/kvm ] || return 1
	log=$(mktemp)
	timeout 20 qemu-system-x86_64 -accel kvm -machine q35 -cpu host -m 64 -nodefaults -display none \
		-no-reboot -chardev file,id=dbg,path="$log" -device isa-debugcon,iobase=0x402,chardev=dbg \
		-boot strict=on >/dev/null 2>&1 &
	local pid=$! i
	for ((i = 0; i < 200; i++)); do
		grep -qE 'Booting from|No bootable device' "$log" 2>/dev/null && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	kill $pid 2>/dev/null
	wait $pid 2>/dev/null
	if grep -qE 'Booting from|No bootable device' "$log"; then
		rm -f "$log"
		return 0
	fi
	rm -f "$log"
	return 1
}

if [ "$accel" = auto ]; then
	if [ $dry = 0 ] && kvm_boots; then
		accel=kvm
	else
		accel=tcg
	fi
	msg "accelerator: $accel (--accel auto)"
fi
if [ "$accel" = kvm ]; then
	accel_args=(-accel kvm -cpu host)
else
	# Multi-threaded TCG: one host thread per vCPU.
	accel_args=(-accel tcg,thread=multi -cpu max)
fi

# ---- qemu -----------------------------------------------------------------

queues=$((2 * cpus))
qemu=(qemu-system-x86_64 -name sfc-guest "${accel_args[@]}" -machine q35 -smp "$cpus" -m "$memory"
	-nodefaults -no-user-config -display none -vga none -pidfile "$run_dir/qemu.pid"
	-drive "file=$image,if=none,id=disk,format=qcow2,snapshot=$([ $write = 1 ] && echo off || echo on)"
	-device virtio-blk-pci,drive=disk,addr=0x5,bootindex=0
	-drive "file=$seed,if=none,id=seed,format=raw,readonly=on"
	-device virtio-blk-pci,drive=seed,addr=0x6
	-device virtio-rng-pci,addr=0x8
	-chardev "socket,id=qga,path=$qga,server=on,wait=off"
	-device virtio-serial-pci,addr=0x7
	-device virtserialport,chardev=qga,name=org.qemu.guest_agent.0
	-netdev user,id=mgmt,restrict=on
	-device virtio-net-pci,netdev=mgmt,mac=52:54:00:5f:00:00,addr=0x2,romfile=)
for i in 0 1; do
	n=${nics[$i]}
	slot=$((3 + i))
	case ${n%%:*} in
	vf) qemu+=(-device "vfio-pci,host=${n#vf:},addr=0x$slot") ;;
	*)
		qemu+=(-netdev "tap,id=data$i,ifname=${n#*:},script=no,downscript=no,vhost=off,queues=$queues"
			-device "virtio-net-pci,netdev=data$i,mac=52:54:00:5f:00:0$((i + 1)),addr=0x$slot,mq=on,vectors=$((2 * queues + 2)),guest_tso4=off,guest_tso6=off,guest_ecn=off,guest_ufo=off,guest_csum=off,romfile=")
		;;
	esac
done
if [ -n "$console" ]; then
	qemu+=(-serial "file:$console")
else
	# The console on this terminal, with qemu's monitor behind Ctrl-A c.
	qemu+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$run_dir/console.log" -serial chardev:con
		-mon chardev=con,mode=readline)
fi

if [ $dry = 1 ]; then
	for a in "${qemu[@]}"; do
		if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then printf '%s ' "$a"; else printf "'%s' " "$a"; fi
	done
	echo
	exit 0
fi

msg "booting $image ($accel, $cpus vCPUs, $memory MiB; eth1 ${nics[0]}, eth2 ${nics[1]}${netns:+, qemu in netns $netns})"
msg "guest agent: $here/qga.py $qga exec -- CMD...${console:+; console: $console}"
# In the background, so that a signal reaches the trap at once; stdin stays
# the terminal's for the console. qemu dies with this script, even by
# SIGKILL (a test's timeout), instead of holding the taps and the netns.
if [ -n "$netns" ]; then
	in_lab setpriv --pdeathsig KILL -- "${qemu[@]}" <&0 &
else
	setpriv --pdeathsig KILL -- "${qemu[@]}" <&0 &
fi
qemu_pid=$!
rc=0
wait $qemu_pid || rc=$?
qemu_pid=
msg "qemu exited ($rc)"
exit $rc
