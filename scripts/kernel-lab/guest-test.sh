#!/bin/sh
# scripts/kernel-lab/guest-test.sh — the tests run inside the kernel-lab guest
# (busybox sh, root, Debian's kernel, nbd.ko not yet loaded). /init runs it
# and turns its exit code into PASS/FAIL. Arguments pick sections (default:
# all): nbd-netlink nbd-ioctl lab gomp. What the guest contains is listed in
# guest.conf; /etc/kernel-lab.env says which optional binaries made it
# (HAVE_TGTD, HAVE_TGTADM, HAVE_NFT).
#
# Lab helpers for tests of `gomp attach` against tgtd inside the guest:
#   lab_up [SIZE]     tgtd on 127.0.0.1:3260 and 127.0.0.2:3260, target
#                     $LAB_IQN with LUN 1 (a SIZE, default $LAB_LUN_SIZE,
#                     sparse file in /tmp)
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
# alive PID: PID exists and is not a zombie (one read of its status file: the
# shell may reap it at any moment)
alive() { grep -q '^State:[[:space:]]*[^Z[:space:]]' "/proc/$1/status" 2>/dev/null; }

# section NAME CMD...: runs CMD (in a subshell) with its output prefixed and
# streamed as it comes, so a section that hangs still shows how far it got;
# counts a failure on a non-zero exit. Whatever CMD leaves running in the
# background must not hold its stdout/stderr.
section() {
	name=$1
	shift
	say "== $name (uptime $(up)s)"
	t0=$(up)
	rm -f /tmp/section.rc
	{
		"$@"
		echo $? >/tmp/section.rc
	} 2>&1 | sed "s/^/  [$name] /"
	rc=$(cat /tmp/section.rc 2>/dev/null || echo 255)
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
	truncate -s "${1:-$LAB_LUN_SIZE}" /tmp/lun1.img
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
	rm -f /tmp/lun1.img
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

# ---- gomp: `gomp attach --nbd auto --mount` against tgtd over both portals,
# with faults. One "ok:"/"FAIL:" line per check; the section fails on any
# FAIL. Data files are written from /tmp copies whose sha256 is taken before
# they reach the device; reads go to the device (sync + drop_caches first).
G_MNT=/mnt/g
G_SRC=/tmp/gomp-src
G_SUMS=/tmp/gomp.sums
G_ERR=/tmp/gomp.err # stderr of every gomp attach, appended
G_FAILS=0
GOMP_PID=

g_ok() { echo "ok: $*"; }
g_fail() {
	echo "FAIL: $*"
	G_FAILS=$((G_FAILS + 1))
	return 1
}
# check DESC CMD...: runs CMD, prints ok/FAIL DESC; returns CMD's verdict
check() {
	d=$1
	shift
	if "$@"; then g_ok "$d"; else g_fail "$d"; fi
}
since() { awk "BEGIN{printf \"%.1f\", $(up)-$1}"; }

# gomp_attach ARGS...: starts `gomp attach` on both portals with --nbd auto
# in the background and waits (60 s at most) for its ready line; sets
# GOMP_PID, GOMP_NAME, GOMP_DEV, GOMP_IDX.
gomp_attach() {
	: >/tmp/gomp.out
	echo "\$ gomp attach --target $LAB_IQN --portal 127.0.0.1 --portal 127.0.0.2 --nbd auto $*"
	gomp attach --target $LAB_IQN --portal 127.0.0.1 --portal 127.0.0.2 --nbd auto "$@" \
		</dev/null >/tmp/gomp.out 2>>$G_ERR &
	GOMP_PID=$!
	t0=$(up)
	i=0
	while ! grep -q '^ready: ' /tmp/gomp.out; do
		if ! alive $GOMP_PID; then
			wait $GOMP_PID
			echo "gomp attach exited $? before it was ready:"
			tail -n 20 $G_ERR
			GOMP_PID=
			return 1
		fi
		if [ $i -ge 600 ]; then
			echo "gomp attach printed no ready line in 60s"
			tail -n 20 $G_ERR
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "$(cat /tmp/gomp.out)   (after $(since $t0)s)"
	set -- $(cat /tmp/gomp.out) # ready: NAME /dev/nbdN [mounted on DIR]
	GOMP_NAME=$2 GOMP_DEV=$3 GOMP_IDX=${3#/dev/nbd}
	case $GOMP_DEV in /dev/nbd[0-9]*) ;; *)
		echo "no /dev/nbdN in the ready line"
		return 1
		;;
	esac
	[ -b "$GOMP_DEV" ] || { echo "$GOMP_DEV is not a block device"; return 1; }
	s=$(cat /sys/block/nbd$GOMP_IDX/size)
	[ "$s" -gt 0 ] || { echo "/sys/block/nbd$GOMP_IDX/size is $s"; return 1; }
}

# gomp_stop detach|detach-dev|term: stops the running gomp attach by
# `gomp detach NAME`, `gomp detach /dev/nbdN` or SIGTERM; checks that it
# exits 0 within 60 s, that $G_MNT is unmounted, the device disconnected
# (size 0, no pid) and the control socket removed.
gomp_stop() {
	t0=$(up)
	case $1 in
	detach) gomp detach "$GOMP_NAME" ;;
	detach-dev) gomp detach "$GOMP_DEV" ;;
	term) kill -TERM "$GOMP_PID" ;;
	esac || echo "stopping by $1 failed"
	i=0
	while alive $GOMP_PID && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive $GOMP_PID; then
		echo "gomp attach still runs 60s after $1; killing it"
		kill -9 $GOMP_PID
		wait $GOMP_PID
		GOMP_PID=
		return 1
	fi
	wait $GOMP_PID
	rc=$?
	GOMP_PID=
	echo "gomp attach exited $rc $(since $t0)s after $1"
	bad=0
	[ $rc = 0 ] || { tail -n 20 $G_ERR; bad=1; }
	if grep -q " $G_MNT " /proc/mounts; then echo "$G_MNT is still mounted"; bad=1; fi
	i=0
	while [ "$(cat /sys/block/nbd$GOMP_IDX/size)" != 0 ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	s=$(cat /sys/block/nbd$GOMP_IDX/size)
	[ "$s" = 0 ] || { echo "$GOMP_DEV still connected (size $s)"; bad=1; }
	[ ! -e /sys/block/nbd$GOMP_IDX/pid ] || { echo "$GOMP_DEV still has a pid file"; bad=1; }
	[ ! -e "/run/gomp/$GOMP_NAME.sock" ] || { echo "control socket /run/gomp/$GOMP_NAME.sock left behind"; bad=1; }
	return $bad
}

# path_state IP: dm_state (active/failed) of the path to IP:3260, from
# `gomp status --json`.
path_state() {
	gomp status --json "$GOMP_NAME" 2>/dev/null | awk -v ip="\"$1" '
		/"portal":/ { p = (index($2, ip ":") == 1 || index($2, ip "\"") == 1) }
		p && /"dm_state":/ { gsub(/[",]/, "", $2); print $2; exit }'
}

# wait_path IP STATE SECONDS: polls until the path to IP is in STATE.
wait_path() {
	t0=$(up)
	i=0
	while [ "$(path_state $1)" != "$2" ]; do
		[ $i -lt $(($3 * 5)) ] || { echo "path $1 is $(path_state $1), not $2, after $3s"; return 1; }
		sleep 0.2
		i=$((i + 1))
	done
	echo "path $1 $2 after $(since $t0)s"
}

# put NAME MiB [BS]: a random file written to $G_MNT/NAME, its sha256 (taken
# from the /tmp copy) appended to $G_SUMS.
put() {
	mkdir -p $G_SRC "$(dirname "$G_MNT/$1")"
	dd if=/dev/urandom of="$G_SRC/f" bs=${3:-1048576} count=$2 2>/dev/null &&
		sha256sum "$G_SRC/f" | sed "s|$G_SRC/f|$G_MNT/$1|" >>$G_SUMS &&
		cp "$G_SRC/f" "$G_MNT/$1" && rm -f "$G_SRC/f"
}

# verify: sync, drop the page cache, read every file back and check it.
verify() {
	t0=$(up)
	sync && echo 3 >/proc/sys/vm/drop_caches || return 1
	n=$(wc -l <$G_SUMS)
	if sha256sum -c $G_SUMS >/tmp/sums.out 2>&1; then
		echo "$n files read back, checksums OK ($(du -sm $G_MNT | cut -f1) MiB, $(since $t0)s)"
	else
		grep -v ': OK$' /tmp/sums.out | head -n 20
		return 1
	fi
}

g_status() {
	echo "\$ gomp status"
	gomp status 2>&1 | sed 's/^/    /'
}

# nexuses: tgtd's I_T nexus (session) ids of target 1
nexuses() {
	$X/tgtadm --lld iscsi --op show --mode target |
		awk '/^Target /{t = ($2 == "1:")} t && /I_T nexus:/{print $3}' | tr '\n' ' '
}

gomp_cleanup() {
	restore_path
	if [ -n "$GOMP_PID" ] && alive $GOMP_PID; then
		kill -TERM $GOMP_PID
		i=0
		while alive $GOMP_PID && [ $i -lt 300 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		alive $GOMP_PID && kill -9 $GOMP_PID
		wait $GOMP_PID 2>/dev/null
	fi
	GOMP_PID=
	grep -q " $G_MNT " /proc/mounts && umount -l $G_MNT
	lab_down
	if [ -s $G_ERR ]; then
		echo "gomp attach stderr (last 30 lines):"
		tail -n 30 $G_ERR | sed 's/^/    /'
	fi
}

# g_abort MSG: a failure that ends the section (later steps depend on it)
g_abort() {
	g_fail "$*"
	gomp_cleanup
	echo "aborted after $G_FAILS failure(s)"
	return 1
}

test_gompfmt() {
	lab_up 256M || return 1
	for k in 1 2 3 4; do
		gomp_attach -v || return 1
		t0=$(up)
		$X/mke2fs -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0 $GOMP_DEV
		echo "mke2fs rc $? took $(since $t0)s"
		dmesg | grep nbd | tail -n 12
		gomp_stop detach-dev
	done
	tail -n 100 $G_ERR
	lab_down
}

test_gomp() {
	gomp version
	lab_up 256M || { cat /tmp/tgtd.log; return 1; }
	rm -f $G_SUMS $G_ERR
	mkdir -p $G_MNT

	# 1. first attach, no mount: make the file system on /dev/nbdN
	gomp_attach || g_abort "attach (no mount) came up" || return 1
	g_ok "attach (no mount): $GOMP_DEV ready"
	t0=$(up)
	$X/mke2fs -q -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0 $GOMP_DEV
	check "mke2fs -t ext4 $GOMP_DEV ($(since $t0)s)" [ $? = 0 ]
	check "gomp detach $GOMP_DEV: exit 0, disconnected" gomp_stop detach-dev

	# 2. attach with --mount, write files
	gomp_attach --mount $G_MNT --fstype ext4 || g_abort "attach --mount came up" || return 1
	g_ok "attach --mount $G_MNT: ready"
	check "$GOMP_DEV mounted on $G_MNT (ext4)" grep -q "^$GOMP_DEV $G_MNT ext4 rw" /proc/mounts ||
		{ grep " $G_MNT " /proc/mounts; gomp_cleanup; return 1; }
	t0=$(up)
	put a/f20M 20 && for i in $(seq 1 16); do put a/small/s$i $((i * 3)) 1024 || break; done
	check "write 20 MiB + 16 small files, sync ($(since $t0)s)" verify
	g_status

	# 3. blackhole 127.0.0.2 while I/O is in flight; keep writing and reading
	t0=$(up)
	(put b/f16M 16 && sync) >/tmp/bg.out 2>&1 &
	bg=$!
	sleep 0.5
	check "cut portal 127.0.0.2 (nft drop) during a 16 MiB write" cut_path 127.0.0.2
	wait $bg
	check "the write in flight completed ($(since $t0)s)" [ $? = 0 ] || cat /tmp/bg.out
	check "gomp status: path 127.0.0.2 failed" wait_path 127.0.0.2 failed 30
	check "gomp status: path 127.0.0.1 active" wait_path 127.0.0.1 active 1
	t0=$(up)
	put b/f8M 8 && cp $G_MNT/a/f20M $G_MNT/b/f20M.copy &&
		grep " $G_MNT/a/f20M\$" $G_SUMS | sed "s|a/f20M|b/f20M.copy|" >>$G_SUMS
	check "with 127.0.0.2 cut: write 8 MiB + copy 20 MiB, read all back ($(since $t0)s)" verify
	g_status
	restore_path
	check "restored 127.0.0.2: path reinstated" wait_path 127.0.0.2 active 60

	# 4. tgtd drops one session's connection while I/O is in flight
	if [ "$HAVE_TGTADM" = 1 ]; then
		before=$(nexuses)
		t0=$(up)
		(put c/f16M 16 && sync) >/tmp/bg.out 2>&1 &
		bg=$!
		sleep 0.5
		sid=${before%% *}
		check "tgtadm --op delete --mode conn --tid 1 --sid $sid --cid 0 (sessions: $before)" \
			$X/tgtadm --lld iscsi --op delete --mode conn --tid 1 --sid "$sid" --cid 0
		wait $bg
		check "the write in flight completed ($(since $t0)s)" [ $? = 0 ] || cat /tmp/bg.out
		check "after the connection kill: read all back" verify
		i=0
		while [ $i -lt 150 ]; do
			[ "$(path_state 127.0.0.1)" = active ] && [ "$(path_state 127.0.0.2)" = active ] &&
				[ "$(nexuses | wc -w)" = 2 ] && break
			sleep 0.2
			i=$((i + 1))
		done
		check "two sessions again ($(nexuses)) and both paths active ($(since $t0)s)" \
			[ $i -lt 150 ]
		g_status
	fi

	# 5. detach by name: exit 0, unmounted, disconnected
	check "gomp detach $GOMP_NAME: exit 0, $G_MNT unmounted, $GOMP_DEV disconnected" gomp_stop detach

	# 6. re-attach, mount, every file's checksum; stop by SIGTERM
	gomp_attach --mount $G_MNT --fstype ext4 || g_abort "re-attach --mount came up" || return 1
	g_ok "re-attach --mount $G_MNT: ready"
	check "after re-attach: every file's checksum" verify
	check "SIGTERM: exit 0, $G_MNT unmounted, $GOMP_DEV disconnected" gomp_stop term

	# 7. the file system is clean
	gomp_attach || g_abort "attach for e2fsck came up" || return 1
	check "e2fsck -fn $GOMP_DEV: clean" $X/e2fsck -fn $GOMP_DEV
	check "gomp detach: exit 0, disconnected" gomp_stop detach

	gomp_cleanup
	echo "$G_FAILS failure(s)"
	[ $G_FAILS = 0 ]
}

sections=${*:-nbd-netlink nbd-ioctl lab gomp}
for s in $sections; do
	case $s in
	nbd-netlink) section nbd-netlink test_nbd_netlink ;;
	nbd-ioctl) section nbd-ioctl test_nbd_ioctl ;;
	lab) section lab test_lab ;;
	gomp) section gomp test_gomp ;;
	gompfmt) section gompfmt test_gompfmt ;;
	*) fail "unknown section $s" ;;
	esac
done
say "kernel log (nbd):"
dmesg | grep -i nbd | tail -n 100 | sed 's/^/  /'
say "$FAILS failure(s)"
[ $FAILS = 0 ]
