#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build.sh [OPTIONS] - build the sfc guest image: a bootable qcow2 of Debian
# bookworm, from Debian's archive only, with sfc installed from this tree.
#
#   --build-dir DIR   sfc's cmake build directory whose `cmake --install` goes
#                     into the guest (default: $BUILD_DIR, else ./build)
#   --output FILE     also copy the image to FILE
#   --cache DIR       where images, bases and .debs are kept (default:
#                     $SFC_VM_CACHE, else ~/.cache/sfc-vm)
#   --mirror SRC      Debian's archive: a URI, or a sources.list file (default:
#                     the bookworm entries of apt's own sources on this host)
#   --kernel K        the guest's kernel: "bookworm" (default; bookworm's own
#                     linux-image-amd64, 6.1) or "backports" (bookworm-backports'
#                     linux-image-amd64, 6.12)
#   --rebuild         build the base and the image again, cached or not
#   -h, --help        this text
#
# Prints the image's path on stdout; the progress goes to stderr. Two layers
# are cached under the cache directory, each by a hash of its inputs:
#   base-KEY/         the root tree after mmdebstrap and guest/customize.sh,
#                     with its kernel and initramfs: KEY hashes guest/packages,
#                     guest/customize.sh, guest/rootfs/, the sources and the
#                     code below that builds it. Minutes to build (the .debs
#                     are kept in debs/, so only the first build downloads).
#   sfc-guest-KEY.qcow2   the base plus `cmake --install` of the build dir,
#                     assembled into a disk: KEY hashes the base's key, every
#                     installed file (sfcctl included), guest/syslinux.cfg and
#                     the code that assembles it. Seconds to build.
# An unchanged tree and build directory reuse the image as it is. The two
# newest bases and three newest images are kept.
#
# Needs root (mmdebstrap --mode=root builds in a plain directory; no loop
# device and no mount is used: mkfs.ext4 -d fills the root file system,
# mtools the boot partition, syslinux boots it) and the packages that
# scripts/setup.sh installs (mmdebstrap, e2fsprogs, dosfstools, mtools,
# syslinux, fdisk, qemu-utils). See docs/vm-image.md.
set -euo pipefail

prog=vm-images/build.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
guest=$here/guest
suite=bookworm

build_dir=${BUILD_DIR:-build}
output=
cache=${SFC_VM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/sfc-vm}
mirror=
kernel=bookworm
rebuild=0

msg() { printf '%s: [%4ss] %s\n' "$prog" "$SECONDS" "$*" >&2; }
err() { printf '%s: error: %s\n' "$prog" "$*" >&2; }
usage() {
	printf 'usage: %s [--build-dir DIR] [--output FILE] [--cache DIR] [--mirror SRC] [--kernel bookworm|backports] [--rebuild]\n' "$prog" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--build-dir | --output | --cache | --mirror | --kernel)
		[ $# -ge 2 ] || usage
		case $1 in
		--kernel) kernel=$2 ;;
		--build-dir) build_dir=$2 ;;
		--output) output=$2 ;;
		--cache) cache=$2 ;;
		--mirror) mirror=$2 ;;
		esac
		shift
		;;
	--rebuild) rebuild=1 ;;
	-h | --help)
		sed -n '4,/^set -euo/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) usage ;;
	esac
	shift
done
case $build_dir in
/*) ;;
*) build_dir=$root/$build_dir ;;
esac
case $kernel in
backports) kernel_pkg=linux-image-amd64/$suite-backports ;;
bookworm) kernel_pkg=linux-image-amd64 ;;
*)
	err "bad --kernel '$kernel' (backports or bookworm)"
	exit 2
	;;
esac

if [ "$(id -u)" != 0 ]; then
	err "must be root: mmdebstrap --mode=root builds the guest's tree with its owners (uid is $(id -u))"
	exit 1
fi
missing=()
for c in mmdebstrap mkfs.ext4 mkfs.fat mcopy syslinux sfdisk qemu-img cmake chroot flock sha256sum; do
	command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
if [ ${#missing[@]} -gt 0 ]; then
	err "not installed: ${missing[*]} (scripts/setup.sh installs them)"
	exit 1
fi
mbr_bin=
for f in /usr/lib/syslinux/mbr/mbr.bin /usr/lib/SYSLINUX/mbr.bin; do
	[ -r "$f" ] && mbr_bin=$f && break
done
[ -n "$mbr_bin" ] || {
	err "syslinux's mbr.bin not found (Debian: syslinux-common)"
	exit 1
}
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
	err "$build_dir is not a cmake build directory (scripts/build.sh makes one)"
	exit 1
fi

mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
# One build at a time per cache: the layers are written under their final
# names only when complete, but two builds of one key would race for it.
exec 9>"$cache/.lock"
if ! flock -n 9; then
	msg "waiting for another build in $cache"
	flock 9
fi
# Holding the lock, whatever is half-built is a build that died.
rm -rf "$cache"/base-*.new "$cache"/tmp.*
work=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ---- inputs -------------------------------------------------------------

# debian_sources: one-line "deb URI SUITE main" entries for bookworm,
# bookworm-updates and bookworm-security, from apt's sources on this host
# (one-line .list files and deb822 .sources files); other suites (third-party
# repositories) are left out.
debian_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '
			$1 == "deb" {
				line = $0
				sub(/\[[^]]*\][ \t]*/, "", line)
				split(line, w, /[ \t]+/)
				if (w[3] == s || w[3] == s "-updates" || w[3] == s "-security")
					print "deb", w[2], w[3], "main"
			}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v s="$suite" '
			function flush(   u, x, n, m, i, j) {
				if (types ~ /(^| )deb( |$)/) {
					n = split(uris, u, " ")
					m = split(suites, x, " ")
					for (i = 1; i <= n; i++)
						for (j = 1; j <= m; j++)
							if (x[j] == s || x[j] == s "-updates" || x[j] == s "-security")
								print "deb", u[i], x[j], "main"
				}
				types = uris = suites = ""
			}
			/^#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			END { flush() }' "$f"
	done
}

sources=$work/sources.list
if [ -z "$mirror" ]; then
	debian_sources | awk '!seen[$0]++' >"$sources"
	if [ ! -s "$sources" ]; then
		err "no $suite entries in apt's sources (/etc/apt/sources.list*): pass --mirror URI"
		exit 1
	fi
elif [ -f "$mirror" ]; then
	cp "$mirror" "$sources"
else
	printf 'deb %s %s main\ndeb %s %s-updates main\n' "$mirror" "$suite" "$mirror" "$suite" >"$sources"
fi
# bookworm-backports from where bookworm comes from, for its kernel only
# (apt takes nothing else from backports unless asked by name).
if [ "$kernel" = backports ] && ! grep -q " $suite-backports " "$sources"; then
	awk -v s="$suite" '$3 == s {print $1, $2, s "-backports", $4}' "$sources" >>"$sources"
fi

# The guest's packages: guest/packages without comments and blank lines.
packages=$kernel_pkg,$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$guest/packages" | tr -s ' \t\n' ',' | sed 's/,$//')

# tree_hash DIR: the paths, types, modes, link targets and contents of DIR.
tree_hash() {
	(
		cd "$1"
		find . -printf '%p %y %m %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum
	) | sha256sum | cut -c1-64
}

# ---- layer 1: the base ---------------------------------------------------

# build_base DIR: mmdebstrap and customize.sh into DIR/rootfs; the kernel
# and initramfs copied to DIR/vmlinuz and DIR/initrd.img. The text of this
# function is part of the base's key.
build_base() {
	local dir=$1 log=$1/mmdebstrap.log k
	mkdir -p "$dir/rootfs" "$cache/debs"
	msg "base: mmdebstrap $suite ($(wc -l <"$sources") sources; .debs kept in $cache/debs); log: $log"
	# The .debs of earlier builds go in first and the new ones come back out
	# (mmdebstrap's sync-in/sync-out), so only the first build downloads.
	# The overlay guest/rootfs/ goes in before the packages (essential hook),
	# so that the kernel's initramfs is built with its initramfs-tools config.
	# No docs or translations: smaller, and faster to copy at every image.
	if ! mmdebstrap --mode=root --format=directory --variant=apt \
		--include="$packages" \
		--aptopt='Acquire::Languages "none"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--skip=essential/unlink \
		--setup-hook='mkdir -p "$1"/var/cache/apt/archives' \
		--essential-hook="cp -r --preserve=mode,timestamps --no-preserve=ownership $guest/rootfs/. \"\$1\"/" \
		--setup-hook="sync-in $cache/debs /var/cache/apt/archives/" \
		--customize-hook="sync-out /var/cache/apt/archives $cache/debs" \
		--verbose \
		"$suite" "$dir/rootfs" "$sources" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		err "mmdebstrap failed (whole log: $log)"
		return 1
	fi
	rm -f "$cache/debs/lock"
	rm -rf "$cache/debs/partial"
	msg "base: customize (guest/customize.sh)"
	bash "$guest/customize.sh" "$dir/rootfs" >>"$log" 2>&1 || {
		tail -n 20 "$log" >&2
		err "guest/customize.sh failed (log: $log)"
		return 1
	}
	k=$(find "$dir/rootfs/boot" -maxdepth 1 -name 'vmlinuz-*' | sort -V | tail -n 1)
	[ -n "$k" ] && [ -f "$dir/rootfs/boot/initrd.img-${k##*/vmlinuz-}" ] || {
		err "no kernel and initramfs in $dir/rootfs/boot"
		return 1
	}
	cp "$k" "$dir/vmlinuz"
	cp "$dir/rootfs/boot/initrd.img-${k##*/vmlinuz-}" "$dir/initrd.img"
	echo "${k##*/vmlinuz-}" >"$dir/kernel-release"
	# Every package and version, for docs and for whoever asks what changed.
	chroot "$dir/rootfs" dpkg-query -W -f '${Package} ${Version}\n' >"$dir/packages.txt"
}

base_key=$({
	echo "suite $suite"
	cat "$sources"
	echo "packages $packages"
	sha256sum <"$guest/customize.sh"
	tree_hash "$guest/rootfs"
	declare -f build_base
} | sha256sum | cut -c1-16)
base=$cache/base-$base_key

if [ $rebuild = 1 ] || [ ! -f "$base/kernel-release" ]; then
	rm -rf "$base" "$base.new"
	t0=$SECONDS
	build_base "$base.new"
	mv "$base.new" "$base"
	msg "base: built $base_key in $((SECONDS - t0)) s (kernel $(cat "$base/kernel-release"), $(du -sm "$base/rootfs" | cut -f1) MiB)"
else
	msg "base: cached $base_key (kernel $(cat "$base/kernel-release"))"
fi
touch "$base"

# ---- layer 2: sfc, and the disk -------------------------------------------

stage=$work/stage
DESTDIR=$stage cmake --install "$build_dir" >"$work/install.log" 2>&1 || {
	cat "$work/install.log" >&2
	err "cmake --install $build_dir failed"
	exit 1
}
[ -n "$(find "$stage" -name sfcctl -type f)" ] || {
	err "cmake --install $build_dir installed no sfcctl (is it built? scripts/build.sh)"
	exit 1
}

# assemble IMAGE: the base's tree plus the staged install as an ext4 root
# file system (partition 2), the kernel, initramfs and syslinux on a FAT boot
# partition (partition 1, active), syslinux's MBR; converted to qcow2. The
# text of this function is part of the image's key.
assemble() {
	local out=$1 tree=$work/rootfs boot_mib=128 root_mib used
	msg "image: copying the base and installing sfc"
	cp -a "$base/rootfs" "$tree"
	cp -a "$stage/." "$tree/"
	chroot "$tree" systemctl enable sfc-agent.service >"$work/enable.log" 2>&1 || {
		cat "$work/enable.log" >&2
		return 1
	}
	# Room to spare: half the tree again, and 512 MiB (journal, logs, pins).
	used=$(du -sm "$tree" | cut -f1)
	root_mib=$(((used * 3 / 2 + 512 + 63) / 64 * 64))
	msg "image: root file system ${root_mib} MiB (${used} MiB used), boot partition ${boot_mib} MiB"
	truncate -s "${root_mib}M" "$work/root.img"
	mkfs.ext4 -q -F -L sfc-root -d "$tree" "$work/root.img"
	mkfs.fat -C -n SFC-BOOT "$work/boot.img" $((boot_mib * 1024)) >/dev/null
	mcopy -i "$work/boot.img" "$base/vmlinuz" ::/vmlinuz
	mcopy -i "$work/boot.img" "$base/initrd.img" ::/initrd.img
	mcopy -i "$work/boot.img" "$guest/syslinux.cfg" ::/syslinux.cfg
	syslinux --install "$work/boot.img"
	# 1 MiB, the boot partition, the root partition; sectors of 512 bytes.
	truncate -s $(((1 + boot_mib + root_mib) * 1024 * 1024)) "$work/disk.raw"
	sfdisk -q "$work/disk.raw" <<-EOF
		label: dos
		start=2048, size=$((boot_mib * 2048)), type=6, bootable
		start=$(((1 + boot_mib) * 2048)), size=$((root_mib * 2048)), type=83
	EOF
	dd if="$mbr_bin" of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
	dd if="$work/boot.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
	dd if="$work/root.img" of="$work/disk.raw" bs=1M seek=$((1 + boot_mib)) conv=notrunc,sparse status=none
	qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$out"
}

image_key=$({
	echo "base $base_key"
	tree_hash "$stage"
	sha256sum <"$guest/syslinux.cfg"
	declare -f assemble
} | sha256sum | cut -c1-16)
image=$cache/sfc-guest-$image_key.qcow2

if [ $rebuild = 1 ] || [ ! -f "$image" ]; then
	t0=$SECONDS
	assemble "$work/image.qcow2"
	mv "$work/image.qcow2" "$image"
	msg "image: built $image_key in $((SECONDS - t0)) s ($(du -m "$image" | cut -f1) MiB)"
else
	msg "image: cached $image_key"
fi
touch "$image"

# The newest two bases and three images stay.
# shellcheck disable=SC2012 # names are ours: base-HEX, sfc-guest-HEX.qcow2
ls -1dt "$cache"/base-* 2>/dev/null | grep -v '\.new$' | tail -n +3 | xargs -r rm -rf
# shellcheck disable=SC2012
ls -1t "$cache"/sfc-guest-*.qcow2 2>/dev/null | tail -n +4 | xargs -r rm -f

if [ -n "$output" ]; then
	mkdir -p "$(dirname "$output")"
	cp "$image" "$output.tmp" && mv "$output.tmp" "$output"
	msg "copied to $output"
	echo "$output"
else
	echo "$image"
fi
