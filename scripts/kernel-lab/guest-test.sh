#!/bin/sh
# scripts/kernel-lab/guest-test.sh — the tests run inside the kernel-lab guest
# (busybox sh, root, Debian's kernel, nbd.ko not yet loaded). /init runs it
# and turns its exit code into PASS/FAIL. Arguments pick sections (default:
# all): nbd-netlink nbd-ioctl lab. What the guest contains is listed in
# guest.conf; /etc/kernel-lab.env says which optional binaries made it
# (HAVE_TGTD, HAVE_TGTADM, HAVE_NFT).
#
# Lab helpers for tests of `gomp attach` against tgtd inside the guest:
#   lab_up            tgtd on 127.0.0.1:3260 and 127.0.0.2:3260, target
#                     $LAB_IQN with LUN 1 ($LAB_LUN_SIZE file in /tmp)
#   lab_down          stops it (tgtd ignores SIGTERM)
#   cut_path IP [reset]  nftables blackhole (or TCP reset) of IP:3260
#   restore_path      removes every cut
. /etc/kernel-lab.env
X=/usr/local/sbin # e2fsprogs, tgtd, nft: busybox sh prefers its own applets, so use full paths
LAB_IQN=iqn.2026-11.dev.gomp:kernel-lab
LAB_LUN_SIZE=64M
FAILS=0

say() { echo "kernel-lab: $*"; }
fail() { say "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { say "ok: $*"; }
up() { cut -d' ' -f1 /proc/uptime; }
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# section NAME CMD...: runs CMD with its output prefixed, counts a failure on
# a non-zero exit.
section() {
	name=$1
	shift
	say "== $name (uptime $(up)s)"
	t0=$(up)
	"$@" >/tmp/section.out 2>&1
	rc=$?
	sed "s/^/  [$name] /" /tmp/section.out
	took=$(awk "BEGIN{print $(up)-$t0}")
	if [ $rc = 0 ]; then ok "$name (${took}s)"; else fail "$name: exit $rc (${took}s)"; fi
}

lab_up() {
	[ "$HAVE_TGTD" = 1 ] && [ "$HAVE_TGTADM" = 1 ] || { say "lab_up: no tgtd in the guest"; return 1; }
	mkdir -p /var/run/tgtd
	$X/tgtd -f --iscsi portal=127.0.0.1:3260 >/tmp/tgtd.log 2>&1 &
	TGTD_PID=$!
	i=0
	while [ ! -S /var/run/tgtd/socket.0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	truncate -s $LAB_LUN_SIZE /tmp/lun1.img
	$X/tgtadm --lld iscsi --op new --mode portal --param portal=127.0.0.2:3260 &&
		$X/tgtadm --lld iscsi --op new --mode target --tid 1 -T $LAB_IQN &&
		$X/tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b /tmp/lun1.img &&
		$X/tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
}

lab_down() {
	[ -n "$TGTD_PID" ] || return 0
	$X/tgtadm --lld iscsi --op delete --mode target --tid 1 --force >/dev/null 2>&1
	$X/tgtadm --op delete --mode system >/dev/null 2>&1
	i=0
	while alive "$TGTD_PID" && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	alive "$TGTD_PID" && kill -9 "$TGTD_PID"
	wait "$TGTD_PID" 2>/dev/null
	TGTD_PID=
}

cut_path() {
	verdict=drop
	[ "$2" = reset ] && verdict="reject with tcp reset"
	$X/nft list table ip klab >/dev/null 2>&1 ||
		{ $X/nft add table ip klab && $X/nft add chain ip klab out '{ type filter hook output priority 0; }'; } &&
		$X/nft add rule ip klab out ip daddr "$1" tcp dport 3260 $verdict
}

restore_path() { $X/nft delete table ip klab 2>/dev/null || true; }

# reachable IP: a TCP connect to IP:3260 succeeds within 2s
reachable() { nc -w 2 "$1" 3260 </dev/null >/dev/null 2>&1; }

test_nbd_netlink() {
	kernelprobe -mode netlink -conns 2 -reconfigure -mnt /mnt
}

test_nbd_ioctl() {
	kernelprobe -mode ioctl -conns 1 -mnt /mnt
}

# test_lab: the pieces a `gomp attach` test needs work in this kernel.
test_lab() {
	lab_up || { cat /tmp/tgtd.log; return 1; }
	echo "tgtd pid $TGTD_PID listening: $(netstat -ltn | awk '/:3260/{print $4}' | tr '\n' ' ')"
	rc=0
	reachable 127.0.0.1 && reachable 127.0.0.2 || { echo "portals not reachable"; rc=1; }
	if [ "$HAVE_NFT" = 1 ]; then
		cut_path 127.0.0.2 || rc=1
		if reachable 127.0.0.2; then echo "127.0.0.2 still reachable after cut_path"; rc=1; fi
		reachable 127.0.0.1 || { echo "127.0.0.1 unreachable while only .2 is cut"; rc=1; }
		restore_path
		reachable 127.0.0.2 || { echo "127.0.0.2 unreachable after restore_path"; rc=1; }
		[ $rc = 0 ] && echo "nft blackhole of 127.0.0.2:3260 cut and restored"
	else
		echo "no nft in the guest: path cutting not checked"
	fi
	lab_down
	return $rc
}

sections=${*:-nbd-netlink nbd-ioctl lab}
for s in $sections; do
	case $s in
	nbd-netlink) section nbd-netlink test_nbd_netlink ;;
	nbd-ioctl) section nbd-ioctl test_nbd_ioctl ;;
	lab) section lab test_lab ;;
	*) fail "unknown section $s" ;;
	esac
done
say "kernel log (nbd):"
dmesg | grep -i nbd | tail -n 20 | sed 's/^/  /'
say "$FAILS failure(s)"
[ $FAILS = 0 ]
