#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# seed.sh [OPTIONS] -o SEED - a cloud-init NoCloud seed for the sfc guest: a
# FAT volume labelled CIDATA holding user-data, meta-data and network-config.
#
#   -o, --output SEED      the seed image to write (a raw disk image, 2 MiB)
#   --chain FILE           a chain file, written to /etc/sfc/chains/NAME (its
#                          own name; repeatable); sfc-chains.service applies
#                          every one at boot
#   --file SRC:DEST        any other file, written to DEST in the guest (a
#                          firewall set's list beside its chain, say)
#   --addr IF=ADDR/LEN     a static address on IF (eth1, eth2, ...; repeatable,
#                          IPv4 and IPv6)
#   --route IF=DEST,GW     a static route through IF (DEST may be "default")
#   --dhcp IF              DHCP (IPv4) on IF
#   --hostname NAME        the guest's name (default sfc-guest)
#   --autologin            root logs in on the serial console without a password
#   --user-data FILE       use FILE as user-data instead of generating it
#   --network-config FILE  use FILE as network-config instead of generating it
#   --keep DIR             also leave the three files in DIR
#
# The instance id is a hash of the three files, so that a guest booted again
# with another seed runs cloud-init's per-instance modules (write_files) again.
# Without --addr, --route or --dhcp, no network-config is written and
# cloud-init's fallback (DHCP on the first NIC) applies. Needs dosfstools and
# mtools, no root. See docs/vm-image.md for the format.
set -euo pipefail

prog=vm-images/seed.sh
err() { printf '%s: error: %s\n' "$prog" "$*" >&2; }
usage() {
	printf 'usage: %s -o SEED [--chain FILE]... [--file SRC:DEST]... [--addr IF=ADDR/LEN]... [--route IF=DEST,GW]... [--dhcp IF]... [--hostname NAME] [--autologin] [--user-data FILE] [--network-config FILE] [--keep DIR]\n' "$prog" >&2
	exit 2
}

out= hostname=sfc-guest autologin=0 user_data= net_config= keep=
files=() addrs=() routes=() dhcps=()
while [ $# -gt 0 ]; do
	case $1 in
	-o | --output | --chain | --file | --addr | --route | --dhcp | --hostname | --user-data | --network-config | --keep)
		[ $# -ge 2 ] || usage
		case $1 in
		-o | --output) out=$2 ;;
		--chain)
			# sfc-chains.service applies *.yaml only.
			[[ $2 == *.yaml ]] || {
				err "--chain $2: the name must end in .yaml (sfc-chains applies /etc/sfc/chains/*.yaml)"
				exit 2
			}
			files+=("$2:/etc/sfc/chains/${2##*/}")
			;;
		--file) files+=("$2") ;;
		--addr) addrs+=("$2") ;;
		--route) routes+=("$2") ;;
		--dhcp) dhcps+=("$2") ;;
		--hostname) hostname=$2 ;;
		--user-data) user_data=$2 ;;
		--network-config) net_config=$2 ;;
		--keep) keep=$2 ;;
		esac
		shift
		;;
	--autologin) autologin=1 ;;
	-h | --help)
		sed -n '4,/^set -euo/s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) usage ;;
	esac
	shift
done
[ -n "$out" ] || usage
for c in mkfs.fat mcopy base64 sha256sum; do
	command -v "$c" >/dev/null 2>&1 || {
		err "$c not installed (Debian: dosfstools, mtools, coreutils)"
		exit 1
	}
done
ifname_ok() { [[ $1 =~ ^[A-Za-z0-9_.-]{1,15}$ ]]; }
[[ $hostname =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$ ]] || {
	err "bad --hostname '$hostname'"
	exit 2
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- user-data ------------------------------------------------------------

if [ -n "$user_data" ]; then
	cp "$user_data" "$tmp/user-data"
else
	{
		echo "#cloud-config"
		echo "# vm-images/seed.sh: the sfc guest's files (docs/vm-image.md)"
		if [ ${#files[@]} -gt 0 ] || [ $autologin = 1 ]; then
			echo "write_files:"
		fi
		for f in "${files[@]}"; do
			src=${f%%:*} dest=${f#*:}
			if [ "$src" = "$f" ] || [ -z "$dest" ] || [ "${dest#/}" = "$dest" ]; then
				err "bad --file '$f' (SRC:DEST, DEST absolute)"
				exit 2
			fi
			[ -r "$src" ] || {
				err "cannot read $src"
				exit 1
			}
			# base64: any content, whatever its quotes and indentation.
			printf '  - path: %s\n    permissions: "0644"\n    encoding: b64\n    content: %s\n' \
				"$dest" "$(base64 -w0 <"$src")"
		done
		if [ $autologin = 1 ]; then
			cat <<-'EOF'
				  - path: /etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf
				    permissions: "0644"
				    content: |
				      [Service]
				      ExecStart=
				      ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 - $TERM
				runcmd:
				  - [systemctl, daemon-reload]
				  - [systemctl, restart, serial-getty@ttyS0.service]
			EOF
		fi
	} >"$tmp/user-data"
fi

# ---- network-config (version 2, rendered for systemd-networkd) -----------

declare -A if_addrs=() if_routes=() if_dhcp=()
ifaces=()
add_if() {
	ifname_ok "$1" || {
		err "bad interface name '$1'"
		exit 2
	}
	[[ " ${ifaces[*]} " == *" $1 "* ]] || ifaces+=("$1")
}
for a in "${addrs[@]}"; do
	i=${a%%=*} v=${a#*=}
	[[ $a == *=* && $v =~ ^[0-9A-Fa-f:.]+/[0-9]{1,3}$ ]] || {
		err "bad --addr '$a' (IF=ADDR/LEN)"
		exit 2
	}
	add_if "$i"
	if_addrs[$i]+="\"$v\", "
done
for r in "${routes[@]}"; do
	i=${r%%=*} v=${r#*=}
	dest=${v%%,*} gw=${v#*,}
	[ "$dest" = default ] && { [[ $gw == *:* ]] && dest=::/0 || dest=0.0.0.0/0; }
	[[ $r == *=*,* && $dest =~ ^[0-9A-Fa-f:.]+/[0-9]{1,3}$ && $gw =~ ^[0-9A-Fa-f:.]+$ ]] || {
		err "bad --route '$r' (IF=DEST,GW)"
		exit 2
	}
	add_if "$i"
	if_routes[$i]+="{to: \"$dest\", via: \"$gw\"}, "
done
for i in "${dhcps[@]}"; do
	add_if "$i"
	if_dhcp[$i]=1
done

if [ -n "$net_config" ]; then
	cp "$net_config" "$tmp/network-config"
elif [ ${#ifaces[@]} -gt 0 ]; then
	{
		echo "# vm-images/seed.sh (docs/vm-image.md)"
		echo "version: 2"
		echo "ethernets:"
		for i in "${ifaces[@]}"; do
			echo "  $i:"
			echo "    match: {name: $i}"
			echo "    dhcp4: $([ -n "${if_dhcp[$i]:-}" ] && echo true || echo false)"
			echo "    dhcp6: false"
			if [ -n "${if_addrs[$i]:-}" ]; then echo "    addresses: [${if_addrs[$i]%, }]"; fi
			if [ -n "${if_routes[$i]:-}" ]; then echo "    routes: [${if_routes[$i]%, }]"; fi
		done
	} >"$tmp/network-config"
fi

# ---- meta-data, and the volume ---------------------------------------------

id=sfc-$(cat "$tmp/user-data" "$tmp/network-config" 2>/dev/null | sha256sum | cut -c1-16)
printf 'instance-id: %s\nlocal-hostname: %s\n' "$id" "$hostname" >"$tmp/meta-data"

rm -f "$out.tmp"
mkfs.fat -C -n CIDATA "$out.tmp" 2048 >/dev/null
for f in user-data meta-data network-config; do
	if [ -e "$tmp/$f" ]; then mcopy -i "$out.tmp" "$tmp/$f" "::/$f"; fi
done
mv "$out.tmp" "$out"
if [ -n "$keep" ]; then
	mkdir -p "$keep"
	cp "$tmp"/* "$keep/"
fi
echo "$prog: $out: instance $id, $(ls "$tmp" | tr '\n' ' ')" >&2
