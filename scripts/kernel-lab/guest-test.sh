#!/bin/sh
# scripts/kernel-lab/guest-test.sh — the tests run inside the kernel-lab guest
# (busybox sh, root, Debian's kernel, nbd.ko not yet loaded). /init runs it
# and turns its exit code into PASS/FAIL. Arguments pick sections (default:
# all): nbd-ioctl nbd-netlink lab gomp. What the guest contains is listed in
# guest.conf; /etc/kernel-lab.env says which optional binaries made it
# (HAVE_TGTD, HAVE_TGTADM, HAVE_NFT).
#
#   nbd-ioctl, nbd-netlink  kernelprobe: kernel.Attach both ways, ext4, reconfigure
#   lab    tgtd, both portals and the nftables cut work in this guest
#   lio    LIO (the kernel's target, configured through configfs) on both
#          portals with a fileio LUN, once with emulate_write_cache 0 and
#          once with 1: gomp reads the cache mode (the kernel gets FLUSH and
#          FUA only when the LUN offers them), mke2fs, attach --mount, write
#          files, cut a portal during O_DIRECT I/O, read everything back,
#          e2fsck; no nbd I/O error in dmesg
#   alua   LIO with two TPGs (127.0.0.1 in TPG 1, 127.0.0.2 in TPG 2) on
#          one LUN, two ALUA groups (1 active/optimized, preferred; 2
#          active/non-optimized), ACLs and mutual CHAP, ErrorRecoveryLevel
#          2 offered (gomp logs in at 0): NBD WRITE_ZEROES (nbdzero on the
#          --listen socket) reaches LIO as WRITE SAME, with and without
#          UNMAP; I/O on group 1 only; fstrim reaches it as UNMAP (the
#          backing file's blocks freed); group 1 to standby (through
#          transitioning), unavailable, back to active/optimized (failback
#          immediate); the optimized port moves to group 2 with nothing but
#          ASYMMETRIC ACCESS STATE CHANGED to tell (I/O follows in well
#          under a polling interval); both groups standby with
#          explicit-only ALUA: gomp sends SET TARGET PORT GROUPS and I/O
#          resumes. Re-attached with failback manual and gomp's NOP-Outs
#          off: LIO's NOP-Ins over 10 idle s are answered, no reconnect;
#          group 1 back to active/optimized keeps I/O on group 2 until
#          `gomp group switch NAME 1`. Re-attached with failback 4: I/O
#          returns 4 s after group 1's path is reinstated. Each transition
#          while O_DIRECT writes run: the longest stall, failed writes and
#          kernel I/O errors in a summary; data verified, e2fsck
#   pr     persistent reservations on LIO between two hosts (two gomp
#          attaches with their own initiator names): host A registers
#          through both paths and reserves Write Exclusive, Registrants
#          Only; host B's writes fail (RESERVATION CONFLICT) without a path
#          failing; B preempts A; A's writes then fail; READ FULL STATUS
#          lists B's key on both nexuses, one the holder; B writes through
#          exactly that one (LIO's rule, see test_pr); no path fails
#   outage every path down (issue: one owner of time on the kernel path):
#          (A) --no-path-retry queue, ext4 mounted, O_DIRECT write and read
#          in flight, both portals blackholed for OUTAGE s (default 180,
#          kernel command line klab.outage=N): the I/O waits, then
#          completes; every checksum, e2fsck clean, no nbd error, timeout
#          or unexpected reply in dmesg; (B) --no-path-retry 3: a write
#          fails with EIO after about 3 polling intervals, nothing stays in
#          D state; (C) queueing, then `gomp queueing disable`: the queued
#          write fails at once
#   gomp   `gomp attach --nbd auto` on both portals: mke2fs through a first
#          (one-connection) attach; attach --mount and write files; blackhole
#          one portal, then kill one connection in tgtd, each while O_DIRECT
#          I/O is in flight, and write and read everything back; `gomp
#          status` shows the path failed and reinstated; stop by `gomp detach
#          NAME`, `gomp detach /dev/nbdN` and SIGTERM (exit 0, unmounted,
#          disconnected); re-attach and check every file; e2fsck; no nbd
#          error or request timeout in dmesg
#   bench  not in the default list: `make bench-kernel` (bench-kernel.sh)
#          puts /bench-kernel-guest.sh, fio, open-iscsi and multipath-tools
#          into the guest and selects it; see that file
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
	# a socket left by a killed tgtd would pass the wait below at once
	rm -f /var/run/tgtd/socket.0 /var/run/tgtd/socket.0.lock
	$X/tgtd -f --iscsi portal=127.0.0.1:3260 >/tmp/tgtd.log 2>&1 &
	TGTD_PID=$!
	i=0
	until $X/tgtadm --op show --mode system >/dev/null 2>&1; do
		[ $i -lt 100 ] || { echo "lab_up: tgtd does not answer tgtadm after 10s"; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
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

# ---- gomp: `gomp attach --nbd auto [--mount]` against tgtd over both
# portals, with path faults while I/O is in flight. One "ok:"/"FAIL:" line
# per check; the section fails on any FAIL. Each file is made in /tmp and its
# sha256 taken there, before it reaches the device; read-backs go to the
# device (sync and drop_caches first, or O_DIRECT).
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
# check DESC CMD...: runs CMD, prints "ok: DESC" or "FAIL: DESC"; returns
# CMD's verdict
check() {
	local d=$1
	shift
	if "$@"; then g_ok "$d"; else g_fail "$d"; fi
}
since() { awk "BEGIN{printf \"%.1f\", $(up)-$1}"; }

# gomp_attach ARGS...: starts `gomp attach` on both portals with --nbd auto
# (and ARGS) in the background and waits, 60 s at most, for its ready line;
# sets GOMP_PID, GOMP_NAME, GOMP_DEV, GOMP_IDX.
gomp_attach() {
	local t0 i=0 s
	: >/tmp/gomp.out
	touch $G_ERR
	G_ERR0=$(wc -l <$G_ERR) # this attach's stderr starts after line G_ERR0
	echo "\$ gomp attach --target ${G_IQN:-$LAB_IQN} --portal 127.0.0.1 --portal 127.0.0.2 --nbd auto $*"
	gomp attach --target "${G_IQN:-$LAB_IQN}" --portal 127.0.0.1 --portal 127.0.0.2 --nbd auto "$@" \
		</dev/null >/tmp/gomp.out 2>>$G_ERR &
	GOMP_PID=$!
	t0=$(up)
	while ! grep -q '^ready: ' /tmp/gomp.out; do
		if ! alive $GOMP_PID; then
			wait $GOMP_PID
			echo "gomp attach exited $? before it was ready:"
			g_err_tail
			GOMP_PID=
			return 1
		fi
		if [ $i -ge 600 ]; then
			echo "gomp attach printed no ready line in 60s"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "$(cat /tmp/gomp.out)   (after $(since $t0)s)"
	set -- $(cat /tmp/gomp.out) # ready: NAME /dev/nbdN [mounted on DIR]
	GOMP_NAME=$2 GOMP_DEV=$3 GOMP_IDX=${3#/dev/nbd}
	case $GOMP_DEV in
	/dev/nbd[0-9]*) ;;
	*)
		echo "no /dev/nbdN in the ready line"
		return 1
		;;
	esac
	[ -b "$GOMP_DEV" ] || { echo "$GOMP_DEV is not a block device"; return 1; }
	s=$(cat /sys/block/nbd$GOMP_IDX/size)
	[ "$s" -gt 0 ] || { echo "/sys/block/nbd$GOMP_IDX/size is $s"; return 1; }
}

# g_err_tail: the last lines the running (or last) gomp attach wrote to stderr
g_err_tail() { tail -n +$((G_ERR0 + 1)) $G_ERR | tail -n 20 | sed 's/^/    /'; }

# gomp_stop detach|detach-dev|term: stops the running gomp attach with
# `gomp detach NAME`, `gomp detach /dev/nbdN` or SIGTERM; checks that it
# exits 0 within 60 s, that $G_MNT is unmounted, the device disconnected
# (size 0, no pid file) and the control socket removed.
gomp_stop() {
	local t0 i=0 rc bad=0 s
	t0=$(up)
	case $1 in
	detach) gomp detach "$GOMP_NAME" ;;
	detach-dev) gomp detach "$GOMP_DEV" ;;
	term) kill -TERM "$GOMP_PID" ;;
	esac || echo "stopping by $1 failed"
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
	[ $rc = 0 ] || { g_err_tail; bad=1; }
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

# path_state IP: dm_state (active or failed) of the path to IP:3260, from
# `gomp status --json`.
path_state() {
	gomp status --json "$GOMP_NAME" 2>/dev/null | awk -v ip="\"$1" '
		/"portal":/ { p = (index($2, ip ":") == 1 || index($2, ip "\"") == 1) }
		p && /"dm_state":/ { gsub(/[",]/, "", $2); print $2; exit }'
}

# wait_path IP STATE SECONDS: waits until the path to IP is in STATE.
wait_path() {
	local t0 i=0
	t0=$(up)
	while [ "$(path_state $1)" != "$2" ]; do
		[ $i -lt $(($3 * 5)) ] || { echo "path $1 is $(path_state $1), not $2, after $3s"; return 1; }
		sleep 0.2
		i=$((i + 1))
	done
	echo "path $1 $2 after $(since $t0)s"
}

# mkdata NAME KiB: a random file $G_SRC/NAME; its sha256, under the name
# $G_MNT/NAME, goes to $G_SUMS.
mkdata() {
	mkdir -p "$(dirname "$G_SRC/$1")" "$(dirname "$G_MNT/$1")"
	dd if=/dev/urandom of="$G_SRC/$1" bs=1024 count=$2 2>/dev/null &&
		sha256sum "$G_SRC/$1" | sed "s|$G_SRC/|$G_MNT/|" >>$G_SUMS
}

# put NAME KiB: mkdata, then copy it to $G_MNT/NAME (through the page cache)
put() { mkdata "$1" "$2" && cp "$G_SRC/$1" "$G_MNT/$1" && rm -f "$G_SRC/$1"; }

# verify: sync, drop the page cache, read every file back and check it.
verify() {
	local t0 n
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

# io_start NAME: I/O that is in flight while a fault hits: an O_DIRECT
# write of the prepared $G_SRC/NAME to $G_MNT/NAME and an O_DIRECT read of
# a/f20M, each 256 KiB at a time. io_wait checks both.
io_start() {
	IO_T0=$(up)
	(dd if="$G_SRC/$1" of="$G_MNT/$1" bs=256k oflag=direct conv=fsync 2>/tmp/io-w.err) &
	IO_W=$!
	(dd if=$G_MNT/a/f20M bs=256k iflag=direct 2>/tmp/io-r.err | sha256sum >/tmp/io-r.sum) &
	IO_R=$!
}
io_wait() {
	local w r want got
	wait $IO_W
	w=$?
	wait $IO_R
	r=$?
	want=$(grep " $G_MNT/a/f20M\$" $G_SUMS | cut -d' ' -f1)
	got=$(cut -d' ' -f1 /tmp/io-r.sum)
	[ $w = 0 ] || { echo "the O_DIRECT write failed:"; cat /tmp/io-w.err; }
	[ $r = 0 ] && [ "$got" = "$want" ] || { echo "the O_DIRECT read failed or read wrong data:"; cat /tmp/io-r.err; }
	[ $w = 0 ] && [ $r = 0 ] && [ "$got" = "$want" ] || return 1
	echo "O_DIRECT write + read in flight through the fault done in $(since $IO_T0)s"
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

# kernel_errors SINCE: block errors the kernel logged after dmesg line SINCE.
# Through a path fault I/O must fail over: never fail, time out (the
# kernel's 30 s request timeout) or get an unexpected reply.
kernel_errors() {
	dmesg | tail -n +$(($1 + 1)) |
		grep -E 'I/O error, dev nbd|nbd[0-9]+: (Other side returned error|Connection timed out|Unexpected reply|Receive control failed|Send disconnect failed)|Buffer I/O error|EXT4-fs (error|warning)'
}

gomp_cleanup() {
	local i=0
	restore_path
	if [ -n "$GOMP_PID" ] && alive $GOMP_PID; then
		kill -TERM $GOMP_PID
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
	rm -rf $G_SRC
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

test_gomp() {
	local klog0 klog_crash t0 sessions sid i old_dev
	gomp version
	klog0=$(dmesg | wc -l)
	lab_up 256M || { cat /tmp/tgtd.log; return 1; }
	rm -rf $G_SUMS $G_ERR $G_SRC
	mkdir -p $G_MNT

	# 1. a first attach without --mount, to make the file system; with one
	# connection: see "cold workqueue" at the end of this file
	gomp_attach --connections 1 || g_abort "attach (no mount) came up" || return 1
	g_ok "attach --connections 1 (no mount): $GOMP_DEV ready"
	t0=$(up)
	$X/mke2fs -q -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0 $GOMP_DEV
	check "mke2fs -t ext4 $GOMP_DEV ($(since $t0)s)" [ $? = 0 ]
	check "gomp detach $GOMP_DEV: exit 0, disconnected" gomp_stop detach-dev

	# 2. attach --mount; write files
	gomp_attach --mount $G_MNT --fstype ext4 || g_abort "attach --mount came up" || return 1
	g_ok "attach --mount $G_MNT: ready"
	check "$GOMP_DEV mounted on $G_MNT (ext4, rw)" grep -q "^$GOMP_DEV $G_MNT ext4 rw" /proc/mounts ||
		{ grep " $G_MNT " /proc/mounts; g_abort "no mount" || return 1; }
	t0=$(up)
	put a/f20M 20480 && for i in $(seq 1 16); do put a/small/s$i $((i * 3)) || break; done
	echo "wrote 20 MiB + 16 small files in $(since $t0)s"
	check "20 MiB + 16 small files: sync, read back" verify
	g_status

	# 3. blackhole 127.0.0.2 while I/O is in flight; keep writing and reading
	mkdata b/f16M 16384
	io_start b/f16M
	sleep 0.3
	check "cut portal 127.0.0.2 (nftables drop) during O_DIRECT I/O" cut_path 127.0.0.2
	check "I/O in flight through the cut completed, data OK" io_wait
	check "gomp status: path 127.0.0.2 failed" wait_path 127.0.0.2 failed 30
	check "gomp status: path 127.0.0.1 active" wait_path 127.0.0.1 active 1
	put b/f8M 8192 && cp $G_MNT/a/f20M $G_MNT/b/f20M.copy &&
		grep " $G_MNT/a/f20M\$" $G_SUMS | sed "s|a/f20M|b/f20M.copy|" >>$G_SUMS
	check "with 127.0.0.2 cut: write 8 MiB + copy 20 MiB, sync, read all back" verify
	g_status
	restore_path
	check "127.0.0.2 restored: path reinstated" wait_path 127.0.0.2 active 60

	# 4. tgtd drops one session's connection while I/O is in flight
	sessions=$(nexuses)
	sid=${sessions%% *}
	mkdata c/f16M 16384
	io_start c/f16M
	sleep 0.3
	t0=$(up)
	check "tgtadm --op delete --mode conn --tid 1 --sid $sid --cid 0 (sessions: $sessions)" \
		$X/tgtadm --lld iscsi --op delete --mode conn --tid 1 --sid "$sid" --cid 0
	check "I/O in flight through the connection kill completed, data OK" io_wait
	check "after the connection kill: read all back" verify
	i=0
	while [ $i -lt 300 ]; do
		[ "$(path_state 127.0.0.1)" = active ] && [ "$(path_state 127.0.0.2)" = active ] &&
			[ "$(nexuses | wc -w)" = 2 ] && break
		sleep 0.2
		i=$((i + 1))
	done
	check "two sessions again ($(nexuses)), both paths active, $(since $t0)s after the kill" [ $i -lt 300 ]
	g_status

	# 5. detach by name: exit 0, unmounted, disconnected
	check "gomp detach NAME: exit 0, $G_MNT unmounted, $GOMP_DEV disconnected" gomp_stop detach

	# 6. re-attach and mount: every file's checksum; stop by SIGTERM
	gomp_attach --mount $G_MNT --fstype ext4 || g_abort "re-attach --mount came up" || return 1
	g_ok "re-attach --mount $G_MNT: ready"
	check "after re-attach: every file's checksum" verify

	# 7. crash: kill -9 gomp attach during O_DIRECT I/O. The kernel keeps
	# the device for its dead-connection timeout; a restarted gomp attach
	# (systemd's Restart=on-failure) hands it new sockets with
	# NBD_CMD_RECONFIGURE: same device, the mount survives, the I/O the
	# kernel held meanwhile completes.
	if kernel_errors $klog0 >/tmp/kerr.out; then
		g_fail "kernel log before the crash: errors on the nbd device:"
		sed 's/^/    /' /tmp/kerr.out
	fi
	klog_crash=$(dmesg | wc -l)
	mkdata d/f16M 16384
	io_start d/f16M
	sleep 0.3
	kill -9 $GOMP_PID
	wait $GOMP_PID 2>/dev/null
	GOMP_PID=
	check "kill -9 gomp attach during I/O: $GOMP_DEV still mounted on $G_MNT" grep -q "^$GOMP_DEV $G_MNT " /proc/mounts
	old_dev=$GOMP_DEV
	gomp_attach --nbd $old_dev --mount $G_MNT --fstype ext4 || g_abort "restarted attach came up" || return 1
	check "restarted gomp attach re-attached the same device ($GOMP_DEV)" [ "$GOMP_DEV" = "$old_dev" ]
	check "it re-attached with NBD_CMD_RECONFIGURE" sh -c "tail -n +$((G_ERR0 + 1)) $G_ERR | grep -q 're-attaching the existing device'"
	check "I/O in flight through the crash completed, data OK" io_wait
	check "after the restart: every file's checksum" verify
	# The killed gomp's sockets broke under the kernel (EPIPE): expected;
	# what matters is that no I/O error reached the file system.
	echo "kernel log through the crash and restart:"
	dmesg | tail -n +$((klog_crash + 1)) | grep -E 'nbd|EXT4' | sed 's/^/    /'
	check "no I/O error through the crash" sh -c "! dmesg | tail -n +$((klog_crash + 1)) | grep -qE 'I/O error|EXT4-fs (error|warning)'"
	klog0=$(dmesg | wc -l)
	g_status
	check "SIGTERM: exit 0, $G_MNT unmounted, $GOMP_DEV disconnected" gomp_stop term

	# 8. the file system is clean
	gomp_attach || g_abort "attach for e2fsck came up" || return 1
	check "e2fsck -fn $GOMP_DEV: clean" $X/e2fsck -fn $GOMP_DEV
	check "gomp detach NAME: exit 0, disconnected" gomp_stop detach

	if kernel_errors $klog0 >/tmp/kerr.out; then
		g_fail "kernel log: errors on the nbd device:"
		sed 's/^/    /' /tmp/kerr.out
	else
		g_ok "kernel log: no I/O error, request timeout or unexpected reply on the nbd device"
	fi
	gomp_cleanup
	echo "$G_FAILS failure(s)"
	[ $G_FAILS = 0 ]
}

# ---- lio: LIO, the target of the classic setup, configured through
# configfs the way targetcli does: a fileio backstore, one TPG with both
# portals, LUN 0, demo-mode ACLs.
LIO_IQN=iqn.2026-12.dev.gomp:lio
CFS=/sys/kernel/config/target

# lio_export B IQN CONTROL SERIAL [WCE]: LIO serving the fileio backstore
# B (made from CONTROL, fd_dev_name=…; emulate_write_cache WCE when given)
# as LUN 0 of IQN's TPG 1 on both portals, demo-mode ACLs. The unit serial
# is what targetcli sets (a UUID): without it LIO reports no NAA
# designator, so no WWID.
lio_export() {
	local b=$1 t=$CFS/iscsi/$2/tpgt_1
	modprobe target_core_file && modprobe iscsi_target_mod || return 1
	grep -q ' /sys/kernel/config ' /proc/mounts || mount -t configfs configfs /sys/kernel/config || return 1
	mkdir -p $b &&
		echo "$3" >$b/control &&
		{ [ -z "$5" ] || echo "$5" >$b/attrib/emulate_write_cache; } &&
		echo 1 >$b/enable &&
		echo "$4" >$b/wwn/vpd_unit_serial &&
		mkdir -p $t/lun/lun_0 &&
		ln -s $b $t/lun/lun_0/${b##*/} &&
		mkdir $t/np/127.0.0.1:3260 $t/np/127.0.0.2:3260 &&
		for a in generate_node_acls:1 authentication:0 demo_mode_write_protect:0 cache_dynamic_acls:1; do
			echo ${a#*:} >$t/attrib/${a%:*} || return 1
		done &&
		echo 1 >$t/enable
}

# lio_unexport B IQN: lio_export undone, in reverse order
lio_unexport() {
	local b=$1 t=$CFS/iscsi/$2/tpgt_1
	[ -d $t ] && echo 0 >$t/enable 2>/dev/null
	rm -f $t/lun/lun_0/${b##*/}
	rmdir $t/lun/lun_0 $t/np/* $t $CFS/iscsi/$2 $b ${b%/*} 2>/dev/null
	[ ! -d $CFS/iscsi/$2 ] && [ ! -d $b ]
}

# lio_up WCE: LIO serving a 128 MiB file with emulate_write_cache WCE
lio_up() {
	local b=$CFS/core/fileio_0/lun0
	truncate -s 128M /tmp/lio0.img
	lio_export $b $LIO_IQN "fd_dev_name=/tmp/lio0.img,fd_dev_size=$((128 << 20))" \
		5e1a2c3d-4b5a-4c6d-8e7f-$(printf %012d "$1") "$1" || return 1
	echo "LIO: $LIO_IQN on 127.0.0.1:3260 and 127.0.0.2:3260, fileio LUN 0 (128 MiB)," \
		"emulate_write_cache=$(cat $b/attrib/emulate_write_cache) emulate_fua_write=$(cat $b/attrib/emulate_fua_write)"
}

# lio_down: tears LIO's configuration down in reverse order
lio_down() {
	lio_unexport $CFS/core/fileio_0/lun0 $LIO_IQN
	local rc=$?
	rm -f /tmp/lio0.img
	return $rc
}

# nbd_queue NAME: /sys/block/nbdN/queue/NAME of the attached device
nbd_queue() { cat /sys/block/nbd$GOMP_IDX/queue/$1; }

# lio_round WCE: one round of the lio section with emulate_write_cache WCE
lio_round() {
	local wce=$1 t0 want_cache want_fua
	lio_up $wce || { g_fail "LIO configured (emulate_write_cache $wce)"; lio_down; return 1; }
	G_IQN=$LIO_IQN
	rm -rf $G_SUMS $G_SRC
	gomp_attach --connections 1 || { g_fail "attach to LIO came up"; lio_down; return 1; }
	gomp status "$GOMP_NAME" | grep '^cache: ' >/tmp/lio.status
	echo "gomp status: $(cat /tmp/lio.status)"
	echo "kernel: write_cache=$(nbd_queue write_cache) fua=$(nbd_queue fua)"
	if [ $wce = 1 ]; then
		want_cache="write back" want_fua=1
		check "status: write cache enabled, DPO and FUA; offers flush fua" \
			grep -q 'write cache: enabled, read cache: enabled, supports DPO and FUA; offers: flush fua' /tmp/lio.status
	else
		want_cache="write through" want_fua=0
		check "status: write cache disabled, no FUA; write-through" \
			grep -q "write cache: disabled, read cache: enabled, doesn't support DPO or FUA; offers: write-through" /tmp/lio.status
	fi
	check "kernel queue: write_cache '$want_cache', fua $want_fua" \
		[ "$(nbd_queue write_cache)" = "$want_cache" -a "$(nbd_queue fua)" = $want_fua ]
	t0=$(up)
	$X/mke2fs -q -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0 $GOMP_DEV
	check "mke2fs -t ext4 $GOMP_DEV ($(since $t0)s)" [ $? = 0 ]
	check "mount -t ext4 $GOMP_DEV $G_MNT" mount -t ext4 $GOMP_DEV $G_MNT
	put a/f20M 20480 && for i in 1 2 3 4; do put a/small/s$i $((i * 7)) || break; done
	check "20 MiB + 4 small files: sync, read back" verify
	mkdata b/f8M 8192
	io_start b/f8M
	sleep 0.3
	check "cut portal 127.0.0.2 during O_DIRECT I/O" cut_path 127.0.0.2
	check "I/O in flight through the cut completed, data OK" io_wait
	check "gomp status: path 127.0.0.2 failed" wait_path 127.0.0.2 failed 30
	put b/f4M 4096
	check "with 127.0.0.2 cut: write 4 MiB, sync, read all back" verify
	restore_path
	check "127.0.0.2 restored: path reinstated" wait_path 127.0.0.2 active 60
	umount $G_MNT
	check "e2fsck -fn $GOMP_DEV: clean" $X/e2fsck -fn $GOMP_DEV
	check "gomp detach: exit 0, disconnected" gomp_stop detach
	G_IQN=
	lio_down || g_fail "LIO torn down"
}

# lio_resize: a LUN that grows under a running attach. LIO's fileio
# backstore reads a block device's size at every READ CAPACITY (a regular
# file's is fixed at configuration), so the LUN is a loop device over a
# 64 MiB file, grown to 96 MiB (truncate, losetup -c); gomp resize reads
# the capacity through both paths and grows /dev/nbdN; data past the old
# end is written and read back, data before it is intact.
LIOR_IQN=iqn.2026-12.dev.gomp:lio-resize
lio_resize() {
	local b=$CFS/core/fileio_2/lunr loop out
	modprobe loop || { g_fail "modules for the resize round"; return 1; }
	truncate -s 64M /tmp/lior.img && loop=$(losetup -f) && losetup $loop /tmp/lior.img || { g_fail "loop device over /tmp/lior.img"; return 1; }
	lio_export $b $LIOR_IQN "fd_dev_name=$loop" 5e1a2c3d-4b5a-4c6d-8e7f-000000000099 ||
		{ g_fail "LIO serving $loop"; lio_resize_down $loop; return 1; }
	G_IQN=$LIOR_IQN
	gomp_attach --connections 1 || { g_fail "attach to the LUN to grow came up"; G_IQN=; lio_resize_down $loop; return 1; }
	check "$GOMP_DEV: 64 MiB" [ "$(blockdev --getsize64 $GOMP_DEV)" = $((64 << 20)) ]
	head -c $((1 << 20)) /dev/urandom >/tmp/lior.a
	dd if=/tmp/lior.a of=$GOMP_DEV bs=1M seek=63 oflag=direct 2>/dev/null
	truncate -s 96M /tmp/lior.img && losetup -c $loop
	out=$(gomp resize "$GOMP_NAME" 2>&1)
	echo "\$ gomp resize $GOMP_NAME: $out"
	check "gomp resize: grown to 96 MiB" [ "$out" = "$GOMP_NAME: resized, $((64 << 20)) -> $((96 << 20)) bytes" ]
	check "$GOMP_DEV: 96 MiB in the kernel" [ "$(blockdev --getsize64 $GOMP_DEV)" = $((96 << 20)) ]
	head -c $((1 << 20)) /dev/urandom >/tmp/lior.b
	dd if=/tmp/lior.b of=$GOMP_DEV bs=1M seek=80 oflag=direct 2>/dev/null
	check "1 MiB past the old end written and read back" \
		sh -c "dd if=$GOMP_DEV bs=1M skip=80 count=1 iflag=direct 2>/dev/null | cmp -s - /tmp/lior.b"
	check "the last MiB before the old end intact" \
		sh -c "dd if=$GOMP_DEV bs=1M skip=63 count=1 iflag=direct 2>/dev/null | cmp -s - /tmp/lior.a"
	check "gomp detach: exit 0, disconnected" gomp_stop detach
	G_IQN=
	lio_resize_down $loop || g_fail "LIO resize LUN torn down"
}

# lio_resize_down LOOP: lio_resize's configuration removed, in reverse
lio_resize_down() {
	lio_unexport $CFS/core/fileio_2/lunr $LIOR_IQN
	local rc=$?
	losetup -d $1 2>/dev/null
	rm -f /tmp/lior.img /tmp/lior.a /tmp/lior.b
	return $rc
}

test_lio() {
	local klog0 wce
	klog0=$(dmesg | wc -l)
	mkdir -p $G_MNT
	for wce in 0 1; do
		echo "-- LIO with emulate_write_cache $wce"
		lio_round $wce
	done
	echo "-- LIO LUN grown: gomp resize"
	lio_resize
	if kernel_errors $klog0 >/tmp/kerr.out; then
		g_fail "kernel log: errors on the nbd device:"
		sed 's/^/    /' /tmp/kerr.out
	else
		g_ok "kernel log: no I/O error, request timeout or unexpected reply on the nbd device"
	fi
	grep -q " $G_MNT " /proc/mounts && umount -l $G_MNT
	[ -n "$GOMP_PID" ] && gomp_cleanup
	lio_down
	echo "$G_FAILS failure(s)"
	[ $G_FAILS = 0 ]
}

# ---- alua: LIO with two target port groups and ALUA state changes
ALUA_IQN=iqn.2026-12.dev.gomp:alua
ALUA_B=$CFS/core/fileio_1/alua0
ALUA_INI=iqn.2026-12.dev.gomp:kernel-lab-host
ALUA_SECRET=initiator-secret-0123
ALUA_MUTUAL=target-secret-456789
ALUA_SOCK=/tmp/alua.nbd

# alua_up: LIO serving one 128 MiB fileio LUN through TPG 1 (127.0.0.1)
# and TPG 2 (127.0.0.2); ALUA group g1 (id 1) holds TPG 1's port, g2 (id
# 2) TPG 2's; both implicit and explicit (alua_access_type 3).
alua_up() {
	local b=$ALUA_B n t
	modprobe target_core_file && modprobe iscsi_target_mod || return 1
	grep -q ' /sys/kernel/config ' /proc/mounts || mount -t configfs configfs /sys/kernel/config || return 1
	truncate -s 128M /tmp/alua0.img
	# emulate_tpu/tpws only once the device is enabled: before that the
	# 6.1 fileio backstore dereferences its missing file (an oops)
	mkdir -p $b && echo "fd_dev_name=/tmp/alua0.img,fd_dev_size=$((128 << 20))" >$b/control &&
		echo 1 >$b/attrib/emulate_write_cache && echo 1 >$b/enable &&
		echo 1 >$b/attrib/emulate_tpu && echo 1 >$b/attrib/emulate_tpws &&
		echo 5e1a2c3d-4b5a-4c6d-8e7f-a1a2a3a4a5a6 >$b/wwn/vpd_unit_serial || return 1
	for n in 1 2; do
		mkdir $b/alua/g$n && echo $n >$b/alua/g$n/tg_pt_gp_id && echo 3 >$b/alua/g$n/alua_access_type || return 1
	done
	echo 1 >$b/alua/g1/preferred && echo 1 >$b/alua/g2/alua_access_state || return 1
	for n in 1 2; do
		t=$CFS/iscsi/$ALUA_IQN/tpgt_$n
		mkdir -p $t/lun/lun_0 && ln -s $b $t/lun/lun_0/alua0 && echo g$n >$t/lun/lun_0/alua_tg_pt_gp &&
			mkdir $t/np/127.0.0.$n:3260 || return 1
		# an ACL for this host's initiator name only, with mutual CHAP
		# (printf: LIO keeps a trailing newline as part of the name)
		mkdir -p $t/acls/$ALUA_INI/lun_0 && ln -s $t/lun/lun_0 $t/acls/$ALUA_INI/lun_0/lun0 &&
			printf %s gomp-host >$t/acls/$ALUA_INI/auth/userid &&
			printf %s $ALUA_SECRET >$t/acls/$ALUA_INI/auth/password &&
			printf %s lio-target >$t/acls/$ALUA_INI/auth/userid_mutual &&
			printf %s $ALUA_MUTUAL >$t/acls/$ALUA_INI/auth/password_mutual || return 1
		# the ACL's NOP-In pings: after 3 s without one, 3 s to answer
		# (LIO's minimums; defaults 15 and 30)
		echo 3 >$t/acls/$ALUA_INI/attrib/nopin_timeout && echo 3 >$t/acls/$ALUA_INI/attrib/nopin_response_timeout || return 1
		for a in generate_node_acls:0 authentication:1 demo_mode_write_protect:0; do
			echo ${a#*:} >$t/attrib/${a%:*} || return 1
		done
		# LIO offers error recovery up to level 2; gomp keeps level 0
		echo 2 >$t/param/ErrorRecoveryLevel && echo 1 >$t/enable || return 1
	done
	echo "LIO: $ALUA_IQN, TPG 1 127.0.0.1:3260 in ALUA group 1 ($(alua_state 1)), TPG 2 127.0.0.2:3260 in group 2 ($(alua_state 2));" \
		"ErrorRecoveryLevel $(cat $CFS/iscsi/$ALUA_IQN/tpgt_1/param/ErrorRecoveryLevel), nopin_timeout $(cat $CFS/iscsi/$ALUA_IQN/tpgt_1/acls/$ALUA_INI/attrib/nopin_timeout)," \
		"emulate_tpu $(cat $b/attrib/emulate_tpu), emulate_tpws $(cat $b/attrib/emulate_tpws)"
}

alua_down() {
	local b=$ALUA_B n t
	for n in 1 2; do
		t=$CFS/iscsi/$ALUA_IQN/tpgt_$n
		[ -d $t ] && echo 0 >$t/enable 2>/dev/null
		rm -f $t/acls/$ALUA_INI/lun_0/lun0 $t/lun/lun_0/alua0
		rmdir $t/acls/$ALUA_INI/lun_0 $t/acls/$ALUA_INI $t/lun/lun_0 $t/np/* $t 2>/dev/null
	done
	rmdir $CFS/iscsi/$ALUA_IQN $b/alua/g1 $b/alua/g2 $b $CFS/core/fileio_1 2>/dev/null
	rm -f /tmp/alua0.img
	[ ! -d $b ]
}

# alua_state N: group N's access state as LIO names it; alua_set N STATE
# [TRANS]: set it (0 active/optimized, 1 active/non-optimized, 2 standby,
# 3 unavailable), through TRANS seconds of transitioning. On 6.1 LIO only
# reports implicit_trans_secs; trans_delay_msecs is the real window: the
# group answers 02/04/0A (transitioning) while the configfs write sleeps.
# Group N's port is 127.0.0.N; what gomp shows for its path during the
# window is printed, and a path in use before must never be failed.
alua_state() { cat $ALUA_B/alua/g$1/alua_access_state; }
alua_set() {
	local g=$ALUA_B/alua/g$1 t=${3:-0} w seen before
	echo $t >$g/implicit_trans_secs && echo $((t * 1000)) >$g/trans_delay_msecs || return 1
	before=$(path_word 127.0.0.$1)
	if [ $t = 0 ]; then
		echo $2 >$g/alua_access_state
		return
	fi
	(
		echo $2 >$g/alua_access_state
		echo $? >/tmp/alua-set.rc
	) &
	w=$!
	: >/tmp/alua-trans.seen
	while alive $w; do
		path_word 127.0.0.$1 >>/tmp/alua-trans.seen
		sleep 0.2
	done
	wait $w
	echo 0 >$g/trans_delay_msecs
	seen=$(sort -u /tmp/alua-trans.seen | tr '\n' ' ')
	echo "during ${t}s of transitioning gomp showed the path to 127.0.0.$1 ($before before) as: $seen"
	[ "$before" = failed ] ||
		check "group $1 transitioning: its path never failed" sh -c "! grep -qE 'failed|faulty' /tmp/alua-trans.seen"
	[ "$(cat /tmp/alua-set.rc)" = 0 ]
}

# path_word IP: the path's one-word state in gomp status (active, ghost,
# pending, failed, …)
path_word() {
	gomp status --json "$GOMP_NAME" 2>/dev/null | awk -v ip="\"$1" '
		/"portal":/ { p = (index($2, ip ":") == 1 || index($2, ip "\"") == 1) }
		p && /"state":/ { gsub(/[",]/, "", $2); print $2; exit }'
}

# probe_start: a loop of 64 KiB O_DIRECT writes on the mounted file system,
# one uptime stamp (or ERR) per write; probe_stop prints the longest gap
# and the count of failed writes.
probe_start() {
	rm -f /tmp/probe.stop /tmp/probe.log
	dd if=/dev/urandom of=/tmp/probe.src bs=64k count=1 2>/dev/null
	(
		while [ ! -f /tmp/probe.stop ]; do
			if dd if=/tmp/probe.src of=$G_MNT/probe bs=64k count=1 oflag=direct conv=notrunc 2>/dev/null; then
				up
			else
				echo ERR
			fi
		done >/tmp/probe.log
	) &
	PROBE=$!
}
probe_stop() {
	touch /tmp/probe.stop
	wait $PROBE
	awk '$1 == "ERR" {e++; next} {if (p != "" && $1 - p > m) m = $1 - p; p = $1; n++}
		END {printf "%d writes, longest stall %.2fs, %d errors\n", n, m, e}' /tmp/probe.log
}
probe_errors() { grep -c ERR /tmp/probe.log; }

# completed IP: the path's completed I/O count from gomp status --json
completed() {
	gomp status --json "$GOMP_NAME" 2>/dev/null | awk -v ip="\"$1" '
		/"portal":/ { p = (index($2, ip ":") == 1) }
		p && /"completed":/ { gsub(/[",]/, "", $2); print $2; exit }'
}

# step_begin: the probe writes and the kernel log position is noted;
# step_end DESC: the probe stops and one line goes to the section's summary
# (longest stall between completed writes, writes that failed, nbd or
# EXT4 errors in the kernel log since step_begin); the step fails on any
# error.
step_begin() {
	STEP_KLOG=$(dmesg | wc -l)
	probe_start
}
step_end() {
	local d=$1 r k=0
	r=$(probe_stop)
	kernel_errors $STEP_KLOG >/tmp/kerr.step && k=$(wc -l </tmp/kerr.step)
	echo "$d: $r, $k kernel I/O error line(s)" | tee -a /tmp/alua.summary
	sed 's/^/    /' /tmp/kerr.step
	check "$d: no write failed, no I/O error in the kernel log" [ "$(probe_errors)" = 0 -a "$k" = 0 ]
}

# alua_step DESC CMD...: runs CMD (a state change) while the probe writes
# for 9 s
alua_step() {
	local d=$1
	shift
	step_begin
	sleep 1
	"$@" || g_fail "$d: the state change failed"
	sleep 8
	step_end "$d (group 1 $(alua_state 1), group 2 $(alua_state 2))"
}

# io_moved IP C0 SECONDS: waits until path IP has completed more than C0
# I/Os (SECONDS at most); prints the seconds since T_CHANGE
io_moved() {
	local i=0
	while [ "$(completed $1)" -le "$2" ]; do
		[ $i -lt $(($3 * 20)) ] || { echo "no I/O on $1 $(since $T_CHANGE)s after the change"; return 1; }
		sleep 0.05
		i=$((i + 1))
	done
	since $T_CHANGE
}

# stat_sum KEY: KEY=N summed over the device's paths in `gomp stats`
stat_sum() { gomp stats "$GOMP_NAME" | grep -o "$1=[0-9]*" | awk -F= '{s += $2} END {print s + 0}'; }

# written: bytes gomp wrote (WRITE) through every path
written() { gomp stats --json "$GOMP_NAME" | grep -o '"written_bytes": *[0-9]*' | awk -F: '{s += $2} END {print s + 0}'; }

# blocks: 512-byte blocks the LUN's backing file holds
blocks() { stat -c %b /tmp/alua0.img; }

# alua_write_same: before mke2fs, NBD WRITE_ZEROES through the NBD socket
# (the guest's nbd driver sends none: nbdzero) reaches LIO as WRITE SAME
# (emulate_tpws), with UNMAP unless NO_HOLE: 4 MiB of random data at 96
# MiB read back as zeroes through /dev/nbdN, the backing file's blocks
# freed, gomp's write zeroes counted, nothing written as plain zeroes.
alua_write_same() {
	local b0 b1 z0 z1 w0 w1 zsum hole
	zsum=$(dd if=/dev/zero bs=1M count=4 2>/dev/null | sha256sum | cut -d' ' -f1)
	for hole in yes no; do
		dd if=/dev/urandom of=$GOMP_DEV bs=1M seek=96 count=4 oflag=direct 2>/dev/null
		b0=$(blocks) z0=$(stat_sum zeroes) w0=$(written)
		nbdzero -socket $ALUA_SOCK -export "$GOMP_NAME" -offset $((96 << 20)) -length $((4 << 20)) \
			$([ $hole = no ] && echo -no-hole) 2>&1 | sed 's/^/    /'
		b1=$(blocks) z1=$(stat_sum zeroes) w1=$(written)
		echo "WRITE_ZEROES (holes $hole): backing file $b0 -> $b1 blocks, gomp: write zeroes $z0 -> $z1, bytes written $w0 -> $w1"
		check "WRITE_ZEROES (holes $hole): reads back as zeroes through $GOMP_DEV" \
			[ "$(dd if=$GOMP_DEV bs=1M skip=96 count=4 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)" = "$zsum" ]
		check "WRITE_ZEROES (holes $hole): sent as WRITE SAME, not as written zeroes" [ "$z1" -gt "$z0" -a "$w1" -lt $((w0 + (1 << 20))) ]
		if [ $hole = yes ]; then
			check "WRITE SAME with UNMAP freed the range in the backing file ($b0 -> $b1 blocks)" [ $((b0 - b1)) -ge 7000 ]
		else
			check "WRITE SAME without UNMAP (NO_HOLE) keeps it allocated ($b0 -> $b1 blocks)" [ $((b0 - b1)) -lt 1000 ]
		fi
	done
}

# alua_unmap: a deleted 16 MiB file, fstrim on the mounted ext4: the
# kernel's discards reach LIO as UNMAP (emulate_tpu) and free the blocks
# of the backing file
alua_unmap() {
	local b0 b1 b2 u0
	dd if=/dev/urandom of=$G_MNT/trim16M bs=1M count=16 conv=fsync 2>/dev/null
	sync
	b0=$(blocks) u0=$(stat_sum unmap)
	rm $G_MNT/trim16M && sync
	b1=$(blocks)
	fstrim -v $G_MNT 2>&1 | sed 's/^/    /'
	b2=$(blocks)
	echo "fstrim: backing file $b0 -> $b1 (rm) -> $b2 blocks (fstrim), gomp unmap $u0 -> $(stat_sum unmap)"
	check "fstrim: UNMAP sent" [ "$(stat_sum unmap)" -gt "$u0" ]
	check "fstrim: LIO freed the deleted file's 16 MiB in the backing file" [ $((b0 - b2)) -ge 30000 ]
}

# alua_ua_switch: the optimized port moves from group 1 to group 2 while
# I/O runs, with no path error: only ASYMMETRIC ACCESS STATE CHANGED on
# group 1's port tells. gomp checks every path at once, so I/O moves well
# within one polling interval (5 s; a healthy path's checker backs off to
# 20 s). Then group 2 becomes active/non-optimized too, announced on its
# own port: one group of both paths.
alua_ua_switch() {
	local c t
	alua_set 2 0 # group 2 active/optimized: still below group 1 (preferred)
	sleep 1
	step_begin
	sleep 1
	c=$(completed 127.0.0.2) T_CHANGE=$(up)
	# group 1 active/non-optimized, not preferred (a change LIO does not announce)
	echo 0 >$ALUA_B/alua/g1/preferred && echo 1 >$ALUA_B/alua/g1/alua_access_state
	t=$(io_moved 127.0.0.2 $c 25) || g_fail "I/O moved to group 2"
	check "ASYMMETRIC ACCESS STATE CHANGED: I/O on group 2 within 2.5 s (half a polling interval): ${t}s" awk "BEGIN{exit !($t < 2.5)}"
	sleep 2
	step_end "UA: optimized port from group 1 to group 2 (I/O moved in ${t}s)"
	step_begin
	sleep 1
	c=$(completed 127.0.0.1) T_CHANGE=$(up)
	echo 1 >$ALUA_B/alua/g2/alua_access_state
	t=$(io_moved 127.0.0.1 $c 25) || g_fail "I/O on group 1 again"
	check "ASYMMETRIC ACCESS STATE CHANGED: both active/non-optimized, I/O on 127.0.0.1 too within 2.5 s: ${t}s" awk "BEGIN{exit !($t < 2.5)}"
	sleep 2
	step_end "UA: group 2 active/non-optimized too (I/O on both in ${t}s)"
	g_status
	check "gomp logged the access state changes" sh -c "tail -n +$((G_ERR0 + 1)) $G_ERR | grep -q 'access state changed'"
	echo 1 >$ALUA_B/alua/g1/preferred && alua_set 1 0 || g_fail "group 1 active/optimized and preferred again"
}

# alua_nopin: an idle session (gomp's own pings off) longer than LIO's
# nopin_timeout + nopin_response_timeout: LIO pings, gomp answers, the
# sessions stay up
alua_nopin() {
	local n0 o0
	n0=$(stat_sum nop_in) o0=$(stat_sum nop_out)
	sleep 10
	gomp stats "$GOMP_NAME" | grep -E 'pdus_|reconnects' | sed 's/^/    /'
	echo "idle 10 s: NOP-In $n0 -> $(stat_sum nop_in), NOP-Out $o0 -> $(stat_sum nop_out)"
	check "LIO's NOP-In pings arrived and were answered (gomp sends no pings of its own here)" \
		sh -c "[ $(stat_sum nop_in) -ge $((n0 + 4)) ] && [ $(stat_sum nop_out) -ge $((o0 + 4)) ]"
	check "no connection lost, no reconnect" [ "$(stat_sum connection_failures)" = 0 -a "$(stat_sum reconnects)" = 0 ]
	check "no session reinstated in gomp's log" sh -c "! tail -n +$((G_ERR0 + 1)) $G_ERR | grep -qE 'session reinstated|reconnect failed'"
}

# alua_failback_manual: with failback manual, group 1 back to
# active/optimized is reinstated but I/O stays on group 2 until `gomp group
# switch NAME 1`
alua_failback_manual() {
	local c t
	alua_step "manual: group 1 -> unavailable" alua_set 1 3
	check "manual: 127.0.0.2 carries the I/O" [ "$(completed 127.0.0.2)" -gt 0 ]
	step_begin
	c=$(completed 127.0.0.1) T_CHANGE=$(up)
	alua_set 1 0
	wait_path 127.0.0.1 active 30 || g_fail "manual: path 127.0.0.1 reinstated"
	sleep 5
	g_status
	check "manual: I/O stays on group 2 $(since $T_CHANGE)s after group 1 is active/optimized again" [ "$(completed 127.0.0.1)" = "$c" ]
	step_end "manual: group 1 -> active/optimized, no failback"
	step_begin
	sleep 1
	c=$(completed 127.0.0.1) T_CHANGE=$(up)
	echo "\$ gomp group switch $GOMP_NAME 1"
	gomp group switch "$GOMP_NAME" 1 2>&1 | sed 's/^/    /'
	t=$(io_moved 127.0.0.1 $c 10) || g_fail "manual: I/O on group 1 after gomp group switch"
	check "manual: gomp group switch NAME 1 moved I/O to group 1 in ${t}s" awk "BEGIN{exit !($t < 2)}"
	sleep 2
	step_end "manual: gomp group switch NAME 1 (I/O moved in ${t}s)"
}

# alua_failback_deferred N: with failback N, group 1 back to
# active/optimized gets the I/O back N s after its path is reinstated,
# not before
alua_failback_deferred() {
	local n=$1 c t_up t
	alua_step "failback $n: group 1 -> unavailable" alua_set 1 3
	step_begin
	c=$(completed 127.0.0.1) T_CHANGE=$(up)
	alua_set 1 0
	wait_path 127.0.0.1 active 30 >/dev/null || g_fail "failback $n: path 127.0.0.1 reinstated"
	t_up=$(since $T_CHANGE)
	t=$(io_moved 127.0.0.1 $c 30) || g_fail "failback $n: I/O back on group 1"
	echo "failback $n: path 127.0.0.1 reinstated ${t_up}s, I/O on it ${t}s after the change"
	check "failback $n: I/O back on group 1 no sooner than $n s after the change, nor later than $n s + 2 polling intervals: ${t}s" \
		awk "BEGIN{exit !($t >= $n && $t <= $n + 5)}"
	check "failback $n: and about $n s after the reinstatement: $(awk "BEGIN{print $t - $t_up}")s" \
		awk "BEGIN{exit !($t - $t_up >= $n - 0.5 && $t - $t_up <= $n + 1.5)}"
	sleep 1
	step_end "failback $n: group 1 -> active/optimized (I/O back in ${t}s)"
}

# alua_reattach CONF ARGS...: detach, re-attach with multipath.conf CONF
# and ARGS (the file system mounted by gomp), every file checked
alua_reattach() {
	local conf=$1
	shift
	check "gomp detach: exit 0" gomp_stop detach
	gomp_attach --config "$conf" --mount $G_MNT --fstype ext4 $ALUA_ARGS "$@" || {
		g_fail "re-attach with $(tr '\n' ' ' <"$conf")"
		return 1
	}
	gomp status "$GOMP_NAME" | head -n 2 | tail -n 1 | sed 's/^/    /'
	check "every file's checksum" verify
}

test_alua() {
	local klog0 c1 c2 t0
	t0=$(up)
	klog0=$(dmesg | wc -l)
	: >/tmp/alua.summary
	alua_up || { g_fail "LIO with two ALUA groups configured"; alua_down; return 1; }
	G_IQN=$ALUA_IQN
	rm -rf $G_SUMS $G_SRC
	mkdir -p $G_MNT
	echo $ALUA_SECRET >/tmp/chap.secret && echo $ALUA_MUTUAL >/tmp/mutual.secret
	ALUA_ARGS="--initiator-name $ALUA_INI --chap-user gomp-host --chap-secret-file /tmp/chap.secret --mutual-user lio-target --mutual-secret-file /tmp/mutual.secret"
	set -- $ALUA_ARGS
	chmod 600 /tmp/chap.secret /tmp/mutual.secret
	gomp discover --initiator-name $ALUA_INI 127.0.0.1 >/tmp/disc.out 2>&1 # discovery needs no CHAP here
	sed 's/^/    /' /tmp/disc.out
	check "gomp discover: both portals with their TPGTs" sh -c "grep -qx '127.0.0.1:3260,1 $ALUA_IQN' /tmp/disc.out && grep -qx '127.0.0.2:3260,2 $ALUA_IQN' /tmp/disc.out"
	gomp ls --target $ALUA_IQN --portal 127.0.0.1 --portal 127.0.0.2 "$@" >/tmp/ls.out 2>&1
	sed 's/^/    /' /tmp/ls.out
	check "gomp ls: LIO's NAA WWID, both portals" sh -c "grep -q 'wwid 36001405' /tmp/ls.out && grep -q 'paths 127.0.0.1:3260, 127.0.0.2:3260' /tmp/ls.out"
	check "another initiator name is refused" sh -c "! gomp ls --target $ALUA_IQN --portal 127.0.0.1 --initiator-name iqn.2026-12.dev.gomp:intruder --chap-user gomp-host --chap-secret-file /tmp/chap.secret >/tmp/ls2.out 2>&1"
	sed 's/^/    /' /tmp/ls2.out
	check "a wrong mutual secret is refused" sh -c "echo not-the-target-secret >/tmp/bad.secret; chmod 600 /tmp/bad.secret; ! gomp ls --target $ALUA_IQN --portal 127.0.0.1 --initiator-name $ALUA_INI --chap-user gomp-host --chap-secret-file /tmp/chap.secret --mutual-user lio-target --mutual-secret-file /tmp/bad.secret >/tmp/ls3.out 2>&1"
	sed 's/^/    /' /tmp/ls3.out
	gomp_attach "$@" --listen unix:$ALUA_SOCK || {
		g_fail "attach to LIO (ALUA) came up"
		dmesg | grep -iE 'chap|auth|login|acl' | tail -n 20 | sed 's/^/    /'
		alua_down
		return 1
	}
	tail -n +$((G_ERR0 + 1)) $G_ERR | grep 'session logged in' >/tmp/logins.out
	check "LIO offers ErrorRecoveryLevel 2: every session logged in at level 0 ($(wc -l </tmp/logins.out) logins)" \
		[ "$(wc -l </tmp/logins.out)" -ge 2 -a "$(grep -c 'error_recovery_level=0' /tmp/logins.out)" = "$(wc -l </tmp/logins.out)" ]
	alua_write_same
	$X/mke2fs -q -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0 $GOMP_DEV
	check "mke2fs" [ $? = 0 ]
	check "mount" mount -t ext4 $GOMP_DEV $G_MNT
	g_status
	check "policy group_by_prio, group 1 first (priority 130)" sh -c "gomp status $GOMP_NAME | grep -q 'policy=group_by_prio' && gomp status $GOMP_NAME | grep -q 'prio=130 status=active'"
	c2=$(completed 127.0.0.2)
	put a/f16M 16384 && put a/f1M 1024
	check "16 MiB + 1 MiB written, read back" verify
	check "I/O went to group 1 only (127.0.0.2 completed stays $c2)" [ "$(completed 127.0.0.2)" = "$c2" ]
	alua_unmap
	alua_step "group 1 active/optimized -> standby (3 s transitioning)" alua_set 1 2 3
	check "127.0.0.2 carries the I/O" [ "$(completed 127.0.0.2)" -gt "$c2" ]
	alua_step "group 1 standby -> unavailable" alua_set 1 3
	alua_step "group 1 unavailable -> active/optimized (3 s transitioning; failback immediate)" alua_set 1 0 3
	check "failback: I/O on 127.0.0.1 again" wait_path 127.0.0.1 active 30
	c1=$(completed 127.0.0.1)
	put b/f2M 2048 && sync
	check "after failback 127.0.0.1 carries the I/O" [ "$(completed 127.0.0.1)" -gt "$c1" ]
	alua_ua_switch
	# both groups standby, then explicit-only ALUA: only SET TARGET PORT
	# GROUPS can bring one back
	alua_step "both groups standby, explicit-only ALUA" sh -c "echo 2 >$ALUA_B/alua/g2/alua_access_state && echo 2 >$ALUA_B/alua/g1/alua_access_state && echo 2 >$ALUA_B/alua/g1/alua_access_type && echo 2 >$ALUA_B/alua/g2/alua_access_type"
	echo "after SET TARGET PORT GROUPS: group 1 $(alua_state 1), group 2 $(alua_state 2)"
	check "gomp logged the activation" sh -c "tail -n +$((G_ERR0 + 1)) $G_ERR | grep -q 'group activated'"
	g_status
	check "every file's checksum" verify
	# implicit ALUA again (configfs transitions need it), groups as at the start
	echo 3 >$ALUA_B/alua/g1/alua_access_type && echo 3 >$ALUA_B/alua/g2/alua_access_type &&
		alua_set 2 1 && alua_set 1 0 || g_fail "implicit ALUA restored"

	umount $G_MNT # mounted by hand, not by gomp
	echo "-- failback manual; gomp's NOP-Out pings off"
	printf 'defaults {\n\tfailback manual\n}\n' >/tmp/mp-manual.conf
	if alua_reattach /tmp/mp-manual.conf --nop-interval off; then
		alua_nopin
		alua_failback_manual
	fi
	echo "-- failback 4, polling_interval 1"
	printf 'defaults {\n\tfailback 4\n\tpolling_interval 1\n}\n' >/tmp/mp-deferred.conf
	alua_reattach /tmp/mp-deferred.conf && alua_failback_deferred 4
	check "every file's checksum" verify
	check "gomp detach: exit 0, unmounted" gomp_stop detach
	check "e2fsck -fn of the LUN's backing file: clean" $X/e2fsck -fn /tmp/alua0.img
	G_IQN=
	alua_down || g_fail "LIO torn down"
	if kernel_errors $klog0 >/tmp/kerr.out; then
		g_fail "kernel log: errors on the nbd device:"
		sed 's/^/    /' /tmp/kerr.out
	else
		g_ok "kernel log: no I/O error on the nbd device, no EXT4 error"
	fi
	[ -n "$GOMP_PID" ] && gomp_cleanup
	echo "per transition (O_DIRECT 64 KiB writes on the mounted ext4):"
	sed 's/^/    /' /tmp/alua.summary
	echo "alua section: $(since $t0)s"
	echo "$G_FAILS failure(s)"
	[ $G_FAILS = 0 ]
}

# ---- pr: persistent reservations between two hosts on LIO. LIO holds a
# reservation on the one nexus (initiator name + ISID) that took it:
# target_scsi3_pr_reservation_check (target_core_pr.c) sends a command from
# the holder's initiator name with another ISID (the host's other path) to
# core_scsi3_pr_seq_non_holder with isid_mismatch, which treats it as not
# registered (LIO keeps "registered" per node ACL and LUN, not per ISID),
# so under Registrants Only (and All Registrants) the holder's writes pass
# through the holder's path only and conflict through its others; nexuses
# of other initiator names are judged properly. tgtd lets every registered
# nexus write (TestLabReservationFence). gomp's commands are right:
# REGISTER (ALL_TG_PT 0) on each nexus, RESERVE/PREEMPT type 5, LU scope,
# through one; writes carry no key. dm-multipath with open-iscsi (one name,
# an ISID per session) goes through the same code. The section checks that
# behaviour path by path, and shows READ FULL STATUS (tgtd has none).
PR_A=iqn.2026-12.dev.gomp:host-a
PR_B=iqn.2026-12.dev.gomp:host-b
PR_PREEMPT=preempt

# pr_write DEV: one 4 KiB O_DIRECT write to DEV; its exit code
pr_write() { dd if=/dev/urandom of=$1 bs=4k count=1 seek=7 oflag=direct 2>/tmp/pr-dd.err; }

test_pr() {
	local a_pid b_pid a_dev b_dev keys
	# LIO writes its APTPL metadata under /var/target/pr on every REGISTER
	# and answers 08/00 (LOGICAL UNIT COMMUNICATION FAILURE) if it cannot,
	# after registering the key anyway
	mkdir -p /var/target/pr
	lio_up 1 || { g_fail "LIO configured"; lio_down; return 1; }
	G_IQN=$LIO_IQN
	gomp_attach --initiator-name $PR_A || { g_fail "host A attached"; lio_down; return 1; }
	a_pid=$GOMP_PID a_dev=$GOMP_DEV
	mkdir -p /run/gb
	gomp -v attach --target $LIO_IQN --portal 127.0.0.1 --portal 127.0.0.2 --nbd auto --initiator-name $PR_B \
		--control-dir /run/gb </dev/null >/tmp/gomp-b.out 2>/tmp/gomp-b.err &
	b_pid=$!
	i=0
	while ! grep -q '^ready: ' /tmp/gomp-b.out && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	b_dev=$(awk '/^ready: /{print $3}' /tmp/gomp-b.out)
	check "host B attached ($b_dev)" [ -b "$b_dev" ]
	echo "\$ gomp persist --out --register --param-sark=0xa1 $GOMP_NAME   (host A)"
	gomp persist --out --register --param-sark=0xa1 "$GOMP_NAME" 2>&1 | sed 's/^/    /'
	gomp persist --in --read-keys "$GOMP_NAME" >/tmp/pr-keys.out 2>&1
	sed 's/^/    /' /tmp/pr-keys.out
	keys=$(grep -c '0xa1' /tmp/pr-keys.out)
	check "host A registered through both paths (READ KEYS: 0xa1 x $keys)" [ "$keys" = 2 ]
	echo "\$ gomp persist --out --reserve --param-rk=0xa1 --prout-type=5 $GOMP_NAME"
	gomp persist --out --reserve --param-rk=0xa1 --prout-type=5 "$GOMP_NAME" 2>&1 | sed 's/^/    /'
	gomp persist --in --read-reservation "$GOMP_NAME" 2>&1 | sed 's/^/    /'
	check "host A writes under its reservation" pr_write $a_dev
	check "host B's write is refused (RESERVATION CONFLICT)" sh -c "! dd if=/dev/urandom of=$b_dev bs=4k count=1 seek=9 oflag=direct 2>/dev/null"
	check "host B's paths stay active" sh -c "gomp status --control-dir /run/gb | grep -c 'active ready' | grep -qx 2"
	echo "\$ gomp persist --control-dir /run/gb --out --register --param-sark=0xb2 NAME; --out --preempt-abort --param-rk=0xb2 --param-sark=0xa1 --prout-type=5   (host B)"
	gomp persist --control-dir /run/gb --out --register --param-sark=0xb2 "$GOMP_NAME" 2>&1 | sed 's/^/    /'
	gomp persist --control-dir /run/gb --out --$PR_PREEMPT --param-rk=0xb2 --param-sark=0xa1 --prout-type=5 "$GOMP_NAME" 2>&1 | sed 's/^/    /'
	gomp persist --control-dir /run/gb --in --read-keys "$GOMP_NAME" >/tmp/pr-keys.out 2>&1
	sed 's/^/    /' /tmp/pr-keys.out
	check "after the preemption only host B's key is registered" sh -c "grep -q 0xb2 /tmp/pr-keys.out && ! grep -q 0xa1 /tmp/pr-keys.out"
	gomp persist --control-dir /run/gb --in --read-reservation "$GOMP_NAME" 2>&1 | sed 's/^/    /'
	echo "\$ gomp persist --control-dir /run/gb --in --read-full-status $GOMP_NAME"
	gomp persist --control-dir /run/gb --in --read-full-status "$GOMP_NAME" >/tmp/pr-full.out 2>&1
	sed 's/^/    /' /tmp/pr-full.out
	check "READ FULL STATUS: host B's key on both of its nexuses, holding the reservation" \
		sh -c "[ \$(grep -c 'Key = 0xb2' /tmp/pr-full.out) = 2 ] && grep -q '<< Reservation holder >>' /tmp/pr-full.out"
	# LIO lets the holder write through the holder's nexus only (above):
	# through exactly one of B's paths
	passes=
	for p in 127.0.0.1 127.0.0.2; do
		o=127.0.0.2
		[ $p = 127.0.0.2 ] && o=127.0.0.1
		gomp path fail --control-dir /run/gb "$GOMP_NAME" $o:3260 >/dev/null
		pr_write $b_dev && passes="$passes $p"
		gomp path reinstate --control-dir /run/gb "$GOMP_NAME" $o:3260 >/dev/null
	done
	check "host B writes through exactly one path, its holder nexus (LIO):$passes" [ $(echo $passes | wc -w) = 1 ]
	check "host B's conflicts failed no path" sh -c "gomp status --control-dir /run/gb | grep -c 'active ready' | grep -qx 2"
	check "host A's write is refused" sh -c "! dd if=/dev/urandom of=$a_dev bs=4k count=1 seek=11 oflag=direct 2>/dev/null"
	check "host A's paths stay active" sh -c "gomp status | grep -c 'active ready' | grep -qx 2"
	gomp persist --control-dir /run/gb --out --clear --param-rk=0xb2 "$GOMP_NAME" 2>&1 | sed 's/^/    /'
	check "host A detaches" gomp_stop detach
	gomp detach --control-dir /run/gb "$GOMP_NAME"
	i=0
	while alive $b_pid && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	alive $b_pid && { g_fail "host B did not detach"; kill -9 $b_pid; }
	wait $b_pid 2>/dev/null
	G_IQN=
	lio_down || g_fail "LIO torn down"
	echo "$G_FAILS failure(s)"
	[ $G_FAILS = 0 ]
}

# ---- outage: every path down

cut_all() { cut_path 127.0.0.1 && cut_path 127.0.0.2; }

# dstate: processes in uninterruptible sleep (D), one "PID NAME" a line
dstate() {
	for f in /proc/[0-9]*/status; do
		awk '/^Name:/{n=$2} /^State:/{s=$2} END{if (s == "D") print FILENAME, n}' "$f" 2>/dev/null
	done | sed 's|/proc/\([0-9]*\)/status|\1|'
}

# raw_write_start: an O_DIRECT 4 KiB write to the raw device in the
# background; RAW_W its pid, /tmp/raw.rc its exit code when done
raw_write_start() {
	rm -f /tmp/raw.rc
	(
		dd if=/dev/urandom of=$GOMP_DEV bs=4k count=1 seek=100 oflag=direct 2>/tmp/raw.err
		echo $? >/tmp/raw.rc
	) &
	RAW_W=$!
}

# raw_write_wait SECONDS: waits that long at most for the raw write to
# end; prints its exit code (or "running")
raw_write_wait() {
	local i=0
	while alive $RAW_W && [ $i -lt $(($1 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if alive $RAW_W; then echo running; else wait $RAW_W 2>/dev/null; cat /tmp/raw.rc; fi
}

outage_queue() { # (A)
	local t_cut t_back t_done i nlog klog
	klog=$(dmesg | wc -l)
	gomp_attach --mount $G_MNT --fstype ext4 --no-path-retry queue || { g_fail "attach --mount --no-path-retry queue"; return 1; }
	put a/f20M 20480 && put a/f1M 1024
	check "20 MiB + 1 MiB written, read back" verify
	mkdata b/f32M 32768
	io_start b/f32M
	sleep 0.5
	check "both portals blackholed (nftables drop) during O_DIRECT write + read" cut_all
	t_cut=$(up)
	wait_path 127.0.0.1 failed 30 && wait_path 127.0.0.2 failed 30 || g_fail "both paths failed"
	i=0
	while [ $(awk "BEGIN{print int($(up)-$t_cut)}") -lt $OUTAGE ]; do
		if ! alive $IO_W && ! alive $IO_R; then break; fi
		sleep 5
		i=$((i + 5))
		[ $((i % 60)) = 0 ] && echo "outage: $(since $t_cut)s, writer $(alive $IO_W && echo waiting || echo ended), D state: $(dstate | tr '\n' ' ')"
	done
	check "the writer still waits after $(since $t_cut)s of outage (not failed)" alive $IO_W
	g_status
	restore_path
	t_back=$(up)
	echo "portals restored after $(since $t_cut)s"
	check "I/O in flight through the outage completed, data OK" io_wait
	t_done=$(up)
	echo "outage $(awk "BEGIN{printf \"%.1f\", $t_back-$t_cut}")s; I/O done $(awk "BEGIN{printf \"%.1f\", $t_done-$t_back}")s after the restore; longest stall $(awk "BEGIN{printf \"%.1f\", $t_done-$t_cut}")s"
	check "after the outage: every file's checksum" verify
	check "both paths active again" wait_path 127.0.0.1 active 60
	wait_path 127.0.0.2 active 60 || g_fail "127.0.0.2 active again"
	check "gomp detach: exit 0, unmounted" gomp_stop detach
	nlog=$(dmesg | tail -n +$((klog + 1)) | grep -c nbd)
	echo "kernel log lines about nbd during (A): $nlog"
	dmesg | tail -n +$((klog + 1)) | grep -E 'nbd|EXT4|blocked for' | head -n 20 | sed 's/^/    /'
	if kernel_errors $klog >/tmp/kerr.out; then
		g_fail "(A) kernel log: errors on the nbd device:"
		sed 's/^/    /' /tmp/kerr.out
	else
		g_ok "(A) kernel log: no I/O error, request timeout or unexpected reply"
	fi
}

outage_retry3() { # (B)
	local t0 rc took
	gomp_attach --no-path-retry 3 || { g_fail "attach --no-path-retry 3"; return 1; }
	check "e2fsck -fn $GOMP_DEV after the outage: clean" $X/e2fsck -fn $GOMP_DEV
	cut_all
	t0=$(up)
	raw_write_start
	rc=$(raw_write_wait 60)
	took=$(since $t0)
	echo "--no-path-retry 3 (polling interval 5 s): the write ended ($rc) $took s after the cut: $(cat /tmp/raw.err | head -n 1)"
	check "(B) the write failed with an I/O error" [ "$rc" != running -a "$rc" != 0 ]
	check "(B) after 3 polling intervals +- one: 10 s <= $took s <= 25 s" awk "BEGIN{exit !($took >= 10 && $took <= 25)}"
	check "(B) nothing in D state" [ -z "$(dstate)" ]
	restore_path
	check "paths back" wait_path 127.0.0.1 active 60
	check "gomp detach: exit 0" gomp_stop detach
}

outage_disable() { # (C)
	local t0 rc
	gomp_attach --no-path-retry queue || { g_fail "attach --no-path-retry queue"; return 1; }
	cut_all
	raw_write_start
	wait_path 127.0.0.1 failed 30 && wait_path 127.0.0.2 failed 30
	sleep 5
	check "(C) the write is queued ($(gomp status --json $GOMP_NAME | grep -o '"queued_ios": *[0-9]*'))" alive $RAW_W
	t0=$(up)
	gomp queueing disable "$GOMP_NAME"
	rc=$(raw_write_wait 10)
	echo "gomp queueing disable: the queued write ended ($rc) $(since $t0)s later: $(head -n 1 /tmp/raw.err)"
	check "(C) the queued write failed at once" [ "$rc" != running -a "$rc" != 0 ]
	check "(C) nothing in D state" [ -z "$(dstate)" ]
	restore_path
	gomp queueing restore "$GOMP_NAME"
	check "paths back" wait_path 127.0.0.1 active 60
	check "gomp detach: exit 0" gomp_stop detach
}

test_outage() {
	OUTAGE=$(sed -n 's/.*klab\.outage=\([0-9]*\).*/\1/p' /proc/cmdline)
	OUTAGE=${OUTAGE:-180}
	lab_up 256M || { cat /tmp/tgtd.log; return 1; }
	rm -rf $G_SUMS $G_ERR $G_SRC
	mkdir -p $G_MNT
	gomp_attach --connections 1 || g_abort "attach (no mount) came up" || return 1
	$X/mke2fs -q -F -t ext4 -E lazy_itable_init=0,lazy_journal_init=0 $GOMP_DEV
	check "mke2fs -t ext4 $GOMP_DEV" [ $? = 0 ]
	check "gomp detach" gomp_stop detach-dev
	echo "-- (A) queue_if_no_path through a ${OUTAGE}s outage of every path, ext4 mounted"
	outage_queue
	echo "-- (B) --no-path-retry 3"
	outage_retry3
	echo "-- (C) gomp queueing disable while I/O is queued"
	outage_disable
	gomp_cleanup
	echo "$G_FAILS failure(s)"
	[ $G_FAILS = 0 ]
}

test_bench() {
	[ -f /bench-kernel-guest.sh ] || { echo "no /bench-kernel-guest.sh in this guest: run make bench-kernel"; return 1; }
	. /bench-kernel-guest.sh
	bench_main
}

# Cold workqueue (kernel 6.1): nbd runs each connection's receive loop as a
# long-running work item on its WQ_MEM_RECLAIM workqueue. On the first nbd
# use after boot the unbound high-priority worker pool has one idle worker;
# when creating more is slow (TCG on a loaded host) the workqueue's rescuer
# takes the pending receive loops and runs them one after the other, so a
# second connection's replies go unread: its requests time out after 30 s
# ("Connection timed out, retrying"), are requeued on the first, and the late
# reply shows up at disconnect ("Unexpected reply"). A one-connection attach
# first leaves the pool two idle workers for the next 5 minutes, so the
# default order starts with nbd-ioctl (one connection).
sections=${*:-nbd-ioctl nbd-netlink lab gomp lio alua pr outage}
for s in $sections; do
	case $s in
	nbd-netlink) section nbd-netlink test_nbd_netlink ;;
	nbd-ioctl) section nbd-ioctl test_nbd_ioctl ;;
	lab) section lab test_lab ;;
	gomp) section gomp test_gomp ;;
	lio) section lio test_lio ;;
	alua) section alua test_alua ;;
	pr) section pr test_pr ;;
	outage) section outage test_outage ;;
	bench) section bench test_bench ;;
	*) fail "unknown section $s" ;;
	esac
done
say "kernel log (nbd):"
dmesg | grep -i nbd | tail -n 100 | sed 's/^/  /'
say "$FAILS failure(s)"
[ $FAILS = 0 ]
