#!/usr/bin/env bash
# scripts/fresh-check.sh — the README's quick start on a fresh machine.
#
# Builds a bare Debian root with debootstrap (minbase bookworm, from the mirror
# in /etc/apt/sources.list.d/debian.sources), copies in the Go toolchain,
# /etc/apt (package access as on this host) and /etc/ssl/certs (the host's
# certificate authorities, which the Go module proxy needs), mounts the root on
# itself (so that / is a mount point), /proc, /sys, /dev (bound) with a tmpfs on
# /dev/shm and a tmpfs on /run, installs only what a base image of
# this kind has (make git ca-certificates iproute2 procps python3 curl gcc
# libc6-dev xz-utils net-tools kmod; never a test peer), clones this
# repository's HEAD and runs, in `chroot DIR`, `make demo` and then `make test`
# with CI=true (a test skipped for a missing peer fails). No Go module cache
# comes along.
#
# Usage: scripts/fresh-check.sh            (as root; takes 15-25 minutes)
# Environment:
#   FRESH_DIR   the root to build (default /var/tmp/gomp-fresh; must not exist)
#   FRESH_KEEP  1 keeps the root afterwards (it is unmounted either way)
#   FRESH_LOG   where the transcript goes (default /var/tmp/gomp-fresh.log)
#
# The host's tgtd lab must be down: the chroot shares the host's network and
# its lab listens on 127.0.0.1:3260 and 127.0.0.2:3260. At the end every
# process still running inside the root (started by this script) is killed by
# pid, everything under the root is unmounted, and the root is removed. The
# last lines give both commands' wall-clock times and make test's summary.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
DIR=${FRESH_DIR:-/var/tmp/gomp-fresh}
LOG=${FRESH_LOG:-/var/tmp/gomp-fresh.log}
SUITE=bookworm
BASE_PKGS=(make git ca-certificates iproute2 procps python3 curl gcc libc6-dev xz-utils net-tools kmod)

say() { printf '[fresh-check %s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$LOG"; }
die() {
	say "error: $*"
	exit 1
}

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot, mounts)"
[[ ! -e $DIR ]] || die "$DIR exists; remove it or set FRESH_DIR"
if bash scripts/lab.sh status >/dev/null 2>&1; then
	die "the host's tgtd lab is up (it would hold the chroot's portals): scripts/lab.sh down"
fi
command -v debootstrap >/dev/null || bash scripts/deps.sh fresh

# mirror prints the first URIs of the stanza serving $SUITE in debian.sources.
mirror() {
	awk -v suite="$SUITE" '
		/^URIs:/ { uri = $2 }
		/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && !found) { print uri; found = 1 } }
		/^$/ { uri = "" }' /etc/apt/sources.list.d/debian.sources
}

# in_root runs a bash command line inside the root, as a login shell would.
in_root() {
	chroot "$DIR" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
		PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		/bin/bash -c "$1"
}

# cleanup kills what still runs inside the root, by pid, then unmounts
# everything under it, deepest first, and removes it.
cleanup() {
	local pid root m
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		root=$(readlink "/proc/$pid/root" 2>/dev/null) || continue
		if [[ $root == "$DIR" ]]; then
			say "killing pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) left in the root"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	sleep 1
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done < <(awk -v d="$DIR" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/mounts | sort -r)
	if [[ ${FRESH_KEEP:-} != 1 ]]; then
		if awk -v d="$DIR" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
			say "not removing $DIR: something is still mounted under it"
		else
			rm -rf --one-file-system "$DIR"
		fi
	fi
}

: >"$LOG"
url=$(mirror)
[[ -n $url ]] || die "no mirror for $SUITE in /etc/apt/sources.list.d/debian.sources"
trap cleanup EXIT

say "debootstrap --variant=minbase $SUITE $DIR $url"
t0=$(date +%s)
debootstrap --variant=minbase "$SUITE" "$DIR" "$url" >>"$LOG" 2>&1 || die "debootstrap failed (see $LOG)"
say "debootstrap took $(($(date +%s) - t0)) s"

say "copying the Go toolchain, /etc/apt and /etc/ssl/certs in"
mkdir -p "$DIR/usr/local"
cp -a /usr/local/go "$DIR/usr/local/go"
rm -rf "$DIR/etc/apt"
cp -a /etc/apt "$DIR/etc/apt"
mkdir -p "$DIR/etc/ssl"
rm -rf "$DIR/etc/ssl/certs"
cp -aL /etc/ssl/certs "$DIR/etc/ssl/certs"
cp -L /etc/resolv.conf "$DIR/etc/resolv.conf"

# The root is a mount point of its own, as / is on a machine: "ip netns exec"
# and "ip -n" remount / (mount --make-rslave /), which fails on a plain
# directory. Private, so that nothing mounted below reaches the host.
mount --bind "$DIR" "$DIR"
mount --make-private "$DIR"
mount -t proc proc "$DIR/proc"
mount -t sysfs sysfs "$DIR/sys"
mount --bind /dev "$DIR/dev"
mount --make-private "$DIR/dev"
mount -t tmpfs -o mode=1777 tmpfs "$DIR/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$DIR/run"

say "installing the base image's packages: ${BASE_PKGS[*]}"
in_root "apt-get -q update && DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends ${BASE_PKGS[*]}" \
	>>"$LOG" 2>&1 || die "installing the base packages failed (see $LOG)"

say "cloning $(git -C "$REPO" rev-parse --short HEAD) into /root/gomp"
git clone -q "$REPO" "$DIR/root/gomp"

run_timed() { # NAME: runs make NAME in the clone, returns its exit code
	local start rc=0
	start=$(date +%s)
	say "make $1 (in chroot $DIR, /root/gomp)"
	in_root "cd /root/gomp && CI=true make $1" 2>&1 | tee -a "$LOG" | sed 's/^/    /' || rc=$?
	secs=$(($(date +%s) - start))
	say "make $1: exit $rc, $((secs / 60)) min $((secs % 60)) s wall clock"
	return "$rc"
}
rc=0
run_timed demo || rc=1
demo_secs=$secs
run_timed test || rc=1
test_secs=$secs
summary=$(grep -E '^tests: [0-9]+ passed' "$LOG" | tail -n 1 || true)

say "done: make demo $((demo_secs / 60)) min $((demo_secs % 60)) s, make test $((test_secs / 60)) min $((test_secs % 60)) s"
say "make test summary: ${summary:-none}"
exit "$rc"
