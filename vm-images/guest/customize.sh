#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# customize.sh ROOTFS - turn a fresh bookworm tree (mmdebstrap's, with the
# overlay rootfs/ beside this file already in: vm-images/build.sh copies it
# before the packages) into the sfc guest's base: fstab, host name, the
# units enabled and the ones that only cost boot time under TCG masked. Run
# by vm-images/build.sh as root; sfc itself (cmake --install) is added
# later, so that a new sfcctl does not rebuild this base.
set -euo pipefail

root=$1
[ -x "$root/bin/systemctl" ] || [ -x "$root/usr/bin/systemctl" ] || {
	echo "customize.sh: $root has no systemd" >&2
	exit 1
}

echo sfc-guest >"$root/etc/hostname"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	sfc-guest
::1		localhost ip6-localhost ip6-loopback
ff02::1		ip6-allnodes
ff02::2		ip6-allrouters
EOF
# Partition 2 of the disk; partition 1 (SFC-BOOT, FAT) holds the boot loader,
# the kernel and the initramfs, and is not mounted.
cat >"$root/etc/fstab" <<'EOF'
# <file system>	<mount point>	<type>	<options>		<dump>	<pass>
LABEL=sfc-root	/		ext4	errors=remount-ro	0	1
EOF

# Empty: systemd makes a new machine id at each first boot of a copy.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# systemctl in the chroot only edits symlinks: no /proc needed.
chroot "$root" systemctl enable systemd-networkd.service sfc-chains.service
# Timers that would run apt, scrub or trim in the first minutes of a guest
# that lives for a test: nothing to gain, and minutes of CPU under TCG.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	e2scrub_reap.service fstrim.timer
