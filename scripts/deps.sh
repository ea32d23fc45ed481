#!/usr/bin/env bash
# scripts/deps.sh TARGET... — install the Debian packages a make target needs.
#
#   demo    make demo: tgtd, nbdcopy/nbdinfo (the NBD client), nft, ss, python3
#   test    make test: every peer the test suite talks to (see below)
#   kernel  make test-kernel: QEMU, initramfs tools and busybox for the guest,
#           and tgtd and nft, whose binaries and libraries go into the guest
#   bench   make bench-*: fio, nbdkit, libiscsi, qemu-img/qemu-nbd with
#           libiscsi (qemu-block-extra)
#   fresh   scripts/fresh-check.sh: debootstrap
#
# Idempotent: with everything installed it prints nothing and exits 0. It
# installs only the missing packages, with apt-get (root), without
# recommends, and without starting any daemon: tgt's init script would start
# a tgtd on 0.0.0.0:3260, where the lab's tgtd must listen. On failure it
# prints one line naming the packages and apt's error, and exits 1.
#
# Environment: GOMP_DEPS_DRY=1 prints the missing packages and installs
# nothing.
set -euo pipefail

export LC_ALL=C
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

# Packages per target. Base tools a Debian system of this kind has (make,
# git, gcc, iproute2, procps, python3, util-linux) are listed where a
# target uses them, so a smaller system still gets them.
pkgs_demo=(tgt libnbd-bin nftables iproute2 util-linux python3)
# test: tgtd (lab), nft (path faults), nbdinfo/nbdcopy and nbdsh (NBD
# interop), qemu-img/qemu-io, fio, promtool (prometheus: metrics format),
# systemd-analyze (the unit file), ip/tc (network namespaces), gcc and libc
# headers (-race needs cgo), tshark and iscsi-perf (the independent judges).
pkgs_test=("${pkgs_demo[@]}" qemu-utils fio libiscsi-bin tshark gcc libc6-dev python3 python3-libnbd
	nbdkit prometheus systemd)
pkgs_kernel=(qemu-system-x86 cpio kmod e2fsprogs busybox-static tgt nftables)
pkgs_fresh=(debootstrap)
pkgs_bench=(tgt libnbd-bin fio nbdkit libiscsi-bin qemu-utils qemu-block-extra python3 iproute2 util-linux)

die() {
	printf 'deps: %s\n' "$*" >&2
	exit 1
}

usage() {
	echo "usage: $0 demo|test|kernel|bench|fresh..." >&2
	exit 2
}

installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}

# apt_error LOG prints the most telling line of a failed apt-get's output.
apt_error() {
	local line
	line=$(grep -m1 -E '^(E:|Err:|dpkg: error)' "$1" || true)
	[[ -n $line ]] || line=$(grep -v '^\s*$' "$1" | tail -n 1 || true)
	printf '%s' "${line:-no output}"
}

# install PKG...: apt-get update and install, with no daemon started and no
# question asked.
install() {
	local log rc=0 made_policy=
	log=$(mktemp)
	# tshark asks whether non-root users may capture; answer no.
	echo 'wireshark-common wireshark-common/install-setuid boolean false' |
		debconf-set-selections 2>/dev/null || true
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	local opts=(-q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confold
		-o Dpkg::Options::=--force-confdef)
	{
		DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" update &&
			DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y --no-install-recommends "$@"
	} </dev/null >"$log" 2>&1 || rc=$?
	[[ -z $made_policy ]] || rm -f /usr/sbin/policy-rc.d
	if ((rc != 0)); then
		local msg
		msg=$(apt_error "$log")
		rm -f "$log"
		die "apt-get install $* failed (exit $rc): $msg"
	fi
	rm -f "$log"
	local p
	for p in "$@"; do
		installed "$p" || die "apt-get install $p succeeded but $p is not installed"
	done
}

(($# > 0)) || usage
want=()
for t in "$@"; do
	case $t in
	demo) want+=("${pkgs_demo[@]}") ;;
	test) want+=("${pkgs_test[@]}") ;;
	kernel) want+=("${pkgs_kernel[@]}") ;;
	bench) want+=("${pkgs_bench[@]}") ;;
	fresh) want+=("${pkgs_fresh[@]}") ;;
	*) usage ;;
	esac
done

missing=()
declare -A seen=()
for p in "${want[@]}"; do
	[[ -z ${seen[$p]:-} ]] || continue
	seen[$p]=1
	installed "$p" || missing+=("$p")
done
((${#missing[@]} > 0)) || exit 0

if [[ ${GOMP_DEPS_DRY:-} == 1 ]]; then
	echo "deps: missing for $*: ${missing[*]}"
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	die "missing Debian packages for $*: ${missing[*]} (run as root, or: apt-get install ${missing[*]})"
fi
echo "deps: installing for $*: ${missing[*]}"
install "${missing[@]}"
