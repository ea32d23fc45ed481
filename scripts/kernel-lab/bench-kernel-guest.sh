# scripts/kernel-lab/bench-kernel-guest.sh — the kernel-path benchmark inside
# the kernel-lab guest (`make bench-kernel`). Sourced by guest-test.sh's bench
# section (busybox sh), whose lab helpers it uses (lab_up, lab_down, alive,
# up, since). bench-kernel.sh on the host puts it, fio, open-iscsi and
# multipath-tools into the initramfs.
#
# Three block devices on one LUN of the guest's tgtd, reached over two
# loopback portals (127.0.0.1, 127.0.0.2), all up at once:
#   nbd  gomp attach --nbd auto over both portals -> /dev/nbdN
#   dm   the classic stack: iscsid + iscsiadm (kernel iscsi_tcp), one session
#        per portal, and a dm-multipath map over both /dev/sdX made by
#        multipath (multipathd running), path_grouping_policy multibus
#   sd   one of those /dev/sdX alone (one path, no dm)
#   base (when bench-kernel.sh was given BENCH_BASE=REV) gomp built at REV,
#        attached the same way: the build before a change, side by side
#   mem  (when asked for) kernelbench (scripts/kernel-lab/kernelbench): an
#        in-memory export on /dev/nbdN served by gomp's NBD server, nothing
#        behind it: what the kernel's nbd driver and the socketpair cost alone
#   nbd128  (when asked for) a second gomp attach whose
#        queue/max_sectors_kb is put back to the nbd driver's 128 KiB
#   ublk (when asked for; a kernel with ublk_drv: BENCH_KERNEL=6.12) ublkmem
#        (scripts/kernel-lab/ublkmem): an in-memory disk on /dev/ublkbN, the
#        ublk driver's own cost, to set beside mem's
#   ublkgomp (likewise) ublkmem -target: gomp's multipath device over both
#        portals exported through ublk rather than NBD
#   qnbd (when asked for) another userspace initiator behind the same nbd
#        driver: qemu-nbd --connect with libiscsi (iscsi://127.0.0.1, one
#        path, no multipath), max_sectors_kb raised to gomp's 1280 KiB:
#        what any iSCSI initiator in userspace exported through NBD costs
# Every workload runs on the three devices one after the other, in an order
# that rotates each round; rounds repeat the whole set. fio, libaio,
# O_DIRECT, time_based. Guest CPU (every CPU busy in /proc/stat: user, nice,
# system, irq, softirq, steal) over each run is divided by the MB or the
# I/Os it moved.
#
# Kernel command line knobs (KLAB_APPEND): klab.benchtime=S (default 5),
# klab.rounds=N (default 3), klab.workloads=W,W... (default all of
# seqread1 seqread16 seqwrite1 seqwrite16 randread1 randread32 randwrite1
# randwrite32), klab.devices=D,D... (default nbd dm sd), klab.gompargs=A,A...
# (extra gomp attach arguments, e.g. --connections,1), klab.baseargs=A,A...
# (more of them for the base device only).
#
# Each result is a line "BENCH-RESULT round dev workload bytes ios jiffies
# seconds pjiffies" (bytes, I/Os and seconds as fio counts them; busy
# jiffies of the guest over the whole fio process, and of the process serving
# the device, gomp or kernelbench, 0 for the others); the tables are lines starting with "BENCH|", which bench-kernel.sh
# prints at the end.

B_IQN_CLASSIC=iqn.2026-11.dev.gomp:classic-initiator
B_RES=/tmp/bench.res
B_FIO=/usr/local/sbin/fio

b_arg() { sed -n "s/.*klab\.$1=\([^ ]*\).*/\1/p" /proc/cmdline | tr ',' ' '; }

# b_workload NAME: sets W_RW W_BS W_QD
b_workload() {
	case $1 in
	seqread*) W_RW=read W_BS=1m W_QD=${1#seqread} ;;
	seqwrite*) W_RW=write W_BS=1m W_QD=${1#seqwrite} ;;
	randread*) W_RW=randread W_BS=4k W_QD=${1#randread} ;;
	randwrite*) W_RW=randwrite W_BS=4k W_QD=${1#randwrite} ;;
	*) return 1 ;;
	esac
}

# b_busy: jiffies every CPU spent busy so far (the "cpu" line of /proc/stat)
b_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# b_ctxt: context switches of the whole guest so far (/proc/stat ctxt)
b_ctxt() { awk '$1 == "ctxt" { print $2; exit }' /proc/stat; }

# b_proc PID: user + system jiffies of process PID so far (0 without one)
b_proc() { [ -n "$1" ] && awk '{ print $14 + $15 }' /proc/$1/stat 2>/dev/null || echo 0; }

# b_pid DEV: the process serving device DEV (nbd, base, nbd128, mem)
b_pid() {
	case $1 in
	nbd) echo "$NBD_PID" ;;
	base) echo "$BASE_PID" ;;
	nbd128) echo "$N128_PID" ;;
	mem) echo "$MEM_PID" ;;
	qnbd) echo "$QNBD_PID" ;;
	ublk) echo "$UBLK_PID" ;;
	ublkgomp) echo "$UGOMP_PID" ;;
	esac
}

# b_run ROUND DEV NAME WORKLOAD: one fio run; appends its BENCH-RESULT line.
b_run() {
	local j0 j1 p0 p1 c0 c1 pid out
	b_workload "$4" || { echo "unknown workload $4"; return 1; }
	pid=$(b_pid $3)
	j0=$(b_busy) p0=$(b_proc $pid) c0=$(b_ctxt)
	# terse v3: field 6/7/8 read io KiB, bw KiB/s, iops; 47/48/49 write
	out=$($B_FIO --name=b --filename="$2" --ioengine=libaio --direct=1 --rw=$W_RW --bs=$W_BS \
		--iodepth=$W_QD --runtime="$B_TIME" --time_based --randrepeat=0 --norandommap \
		--thread --output-format=terse --terse-version=3 2>/tmp/fio.err)
	j1=$(b_busy) p1=$(b_proc $pid) c1=$(b_ctxt)
	# rates over fio's own runtime; CPU over the whole fio process
	echo "$out" | awk -F';' -v r="$1" -v d="$3" -v w="$4" -v bs="$W_BS" -v j=$((j1 - j0)) -v c=$((c1 - c0)) \
		-v p=$((p1 - p0)) '
		NF > 50 {
			kib = $6 + $47; ios = kib / (bs == "1m" ? 1024 : 4); ms = $9 > $50 ? $9 : $50
			printf "BENCH-RESULT %s %s %s %.0f %d %d %.3f %d\n", r, d, w, kib * 1024, ios, j, ms / 1000, p
			if (ios > 0) printf "%s %s %s %.2f\n", r, d, w, c / ios >>"/tmp/bench.ctxt"
			found = 1
		}
		END { if (!found) exit 1 }' >>$B_RES || {
		echo "fio on $2 ($4) failed:"
		cat /tmp/fio.err
		return 1
	}
	tail -n 1 $B_RES
}

# ---- the classic stack
classic_modules() {
	local m
	for m in scsi_transport_iscsi libiscsi libiscsi_tcp iscsi_tcp sd_mod dm_mod dm_multipath \
		dm_round_robin dm_service_time; do
		modprobe $m || { echo "modprobe $m failed"; return 1; }
	done
}

classic_files() {
	mkdir -p /etc/iscsi /var/lib/iscsi /run/lock/iscsi /etc/multipath /run/udev/data
	# iscsid checks that iscsiadm is root with SO_PEERCRED, by name
	grep -q '^root:' /etc/passwd 2>/dev/null || echo 'root:x:0:0:root:/root:/bin/sh' >>/etc/passwd
	grep -q '^root:' /etc/group 2>/dev/null || echo 'root:x:0:' >>/etc/group
	echo "InitiatorName=$B_IQN_CLASSIC" >/etc/iscsi/initiatorname.iscsi
	# open-iscsi's defaults (Debian's iscsid.conf), startup manual
	cat >/etc/iscsi/iscsid.conf <<-EOF
		node.startup = manual
		node.session.timeo.replacement_timeout = 120
		node.conn[0].timeo.noop_out_interval = 5
		node.conn[0].timeo.noop_out_timeout = 5
		node.session.cmds_max = 128
		node.session.queue_depth = 32
		node.session.iscsi.FirstBurstLength = 262144
		node.session.iscsi.MaxBurstLength = 16776192
		node.conn[0].iscsi.MaxRecvDataSegmentLength = 262144
		node.session.iscsi.InitialR2T = No
		node.session.iscsi.ImmediateData = Yes
	EOF
	# no udevd: multipath reads the WWID from sysfs (uid_attribute ""); both
	# paths in one priority group, as gomp's default for tgtd
	cat >/etc/multipath.conf <<-EOF
		defaults {
			user_friendly_names no
			find_multipaths no
			uid_attribute ""
			path_grouping_policy multibus
			no_path_retry 12
		}
		blacklist {
			devnode "^nbd"
		}
	EOF
}

# classic_disk PORTAL: the sdX of the session on PORTAL
classic_disk() {
	$X/iscsiadm -m session -P 3 2>/dev/null | awk -v p="$1:" '
		/Current Portal:/ { cur = (index($3, p) == 1) }
		cur && /Attached scsi disk/ { print $4; exit }'
}

classic_up() {
	local i d
	classic_modules && classic_files || return 1
	# setsid: out of this shell's process group (without it the test shell
	# was sent SIGTERM)
	setsid $X/iscsid -f >/tmp/iscsid.log 2>&1 &
	ISCSID_PID=$!
	i=0
	until $X/iscsiadm -m session >/dev/null 2>&1 || [ $? = 21 ]; do # 21: no sessions
		[ $i -lt 100 ] || { echo "iscsid does not answer"; cat /tmp/iscsid.log; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	$X/iscsiadm -m discovery -t st -p 127.0.0.1 >/dev/null &&
		$X/iscsiadm -m node -T $LAB_IQN -p 127.0.0.2:3260 -o new >/dev/null &&
		$X/iscsiadm -m node -T $LAB_IQN -l || { cat /tmp/iscsid.log; return 1; }
	i=0
	while [ -z "$(classic_disk 127.0.0.1)" ] || [ -z "$(classic_disk 127.0.0.2)" ]; do
		[ $i -lt 100 ] || { echo "no sd disks after login"; $X/iscsiadm -m session -P 3; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	SD1=$(classic_disk 127.0.0.1) SD2=$(classic_disk 127.0.0.2)
	for d in $SD1 $SD2; do
		while [ ! -b /dev/$d ]; do sleep 0.1; done
		echo "I:1" >/run/udev/data/b$(cat /sys/block/$d/dev)
	done
	echo "open-iscsi: 127.0.0.1 -> /dev/$SD1, 127.0.0.2 -> /dev/$SD2"
	DM_DISABLE_UDEV=1 setsid $X/multipathd -d -s >/tmp/multipathd.log 2>&1 &
	MULTIPATHD_PID=$!
	sleep 1
	DM_DISABLE_UDEV=1 $X/multipath -v1 >/tmp/multipath.log 2>&1
	i=0
	while [ -z "$(dmsetup ls --target multipath 2>/dev/null | awk '$1 != "No" {print $1; exit}')" ]; do
		[ $i -lt 50 ] || {
			echo "no multipath map:"
			cat /tmp/multipath.log /tmp/multipathd.log
			return 1
		}
		sleep 0.2
		i=$((i + 1))
	done
	DM_NAME=$(dmsetup ls --target multipath | awk '{print $1; exit}')
	DM_MINOR=$(dmsetup info -c --noheadings -o minor "$DM_NAME" | tr -d ' ')
	DM_DEV=/dev/mapper/$DM_NAME
	[ -b "$DM_DEV" ] || DM_DEV=/dev/dm-$DM_MINOR
	echo "dm-multipath: $DM_DEV"
	DM_DISABLE_UDEV=1 $X/multipath -ll 2>/dev/null | sed 's/^/    /'
	dmsetup table "$DM_NAME" | sed 's/^/    table: /'
}

classic_down() {
	[ -n "$DM_NAME" ] && dmsetup remove -f "$DM_NAME" >/dev/null 2>&1
	[ -n "$MULTIPATHD_PID" ] && kill "$MULTIPATHD_PID" 2>/dev/null
	$X/iscsiadm -m node -u >/dev/null 2>&1
	[ -n "$ISCSID_PID" ] && kill "$ISCSID_PID" 2>/dev/null
}

# b_queue DEV: the queue limits that shape the kernel's requests
b_queue() {
	local q=/sys/block/${1#/dev/}/queue f
	[ "$1" != "$DM_DEV" ] || q=/sys/block/dm-$DM_MINOR/queue
	for f in max_sectors_kb max_hw_sectors_kb read_ahead_kb logical_block_size physical_block_size \
		nr_requests scheduler; do
		printf '%s=%s ' $f "$(cat $q/$f 2>/dev/null)"
	done
	echo "hw_queues=$(ls -d $q/../mq/* 2>/dev/null | wc -l)"
}

# ---- the tables
# b_report: medians over rounds, and the median of each round's ratios.
b_report() {
	awk -v devs="$B_DEVS" -v wls="$B_WLS" '
	function median(a, n,    i, j, t) {
		for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
	}
	function med(key, what,    i, n, a) {
		n = 0
		for (i = 1; i <= rounds; i++) if ((i, key) in rate) a[++n] = (what == "rate" ? rate[i, key] : what == "cpu" ? cpu[i, key] : pcpu[i, key])
		return n ? median(a, n) : -1
	}
	function ratio(w, d1, d2,    i, n, a, lo, hi) {
		n = 0; lo = 1e9; hi = 0
		for (i = 1; i <= rounds; i++) if ((i, d1 SUBSEP w) in rate && (i, d2 SUBSEP w) in rate && rate[i, d2, w] > 0) {
			a[++n] = rate[i, d1, w] / rate[i, d2, w]
			if (a[n] < lo) lo = a[n]; if (a[n] > hi) hi = a[n]
		}
		return n ? sprintf("%.2fx [%.2f-%.2f]", median(a, n), lo, hi) : "-"
	}
	function show(w, d,    v) {
		v = med(d SUBSEP w, "rate")
		if (v < 0) return "-"
		return w ~ /^seq/ ? sprintf("%.1f MB/s", v) : sprintf("%.0f IOPS", v)
	}
	function showcpu(w, d, what,    v) {
		v = med(d SUBSEP w, what)
		if (v < 0) return "-"
		return sprintf(w ~ /^seq/ ? "%.0f" : "%.1f", v)
	}
	$1 == "BENCH-RESULT" {
		r = $2; if (r > rounds) rounds = r
		secs = $8; busy = $7 * 10000; pbusy = $9 * 10000 # jiffies (USER_HZ 100) in microseconds
		units = $4 ~ /^seq/ ? $5 / 1e6 : $6
		rate[r, $3, $4] = units / secs
		cpu[r, $3, $4] = units ? busy / units : 0
		pcpu[r, $3, $4] = units ? pbusy / units : 0
	}
	END {
		nd = split(devs, D, " "); nw = split(wls, W, " ")
		hasdm = (" " devs " ") ~ / dm /; hassd = (" " devs " ") ~ / sd /; hasnbd = (" " devs " ") ~ / nbd /
		has128 = hasnbd && (" " devs " ") ~ / nbd128 /; hasbase = hasnbd && (" " devs " ") ~ / base /
		hasmem = hasdm && (" " devs " ") ~ / mem /
		hasq = (" " devs " ") ~ / qnbd /; hasqsd = hasq && hassd; hasnq = hasq && hasnbd
		hasum = (" " devs " ") ~ / ublk / && (" " devs " ") ~ / mem /
		hasug = (" " devs " ") ~ / ublkgomp /; hasugn = hasug && hasnbd; hasugd = hasug && hasdm
		printf "BENCH| workload |"
		for (i = 1; i <= nd; i++) printf " %s |", (D[i] == "nbd" ? "gomp /dev/nbdN" : D[i] == "dm" ? "dm-multipath" : D[i] == "sd" ? "one /dev/sdX" : D[i])
		if (hasnbd && hasdm) printf " nbd/dm |"
		if (hasnbd && hassd) printf " nbd/sd |"
		if (hasdm && hassd) printf " dm/sd |"
		if (hasbase) printf " nbd/base |"
		if (has128) printf " nbd/nbd128 |"
		if (hasmem) printf " mem/dm |"
		if (hasqsd) printf " qnbd/sd |"
		if (hasnq) printf " nbd/qnbd |"
		if (hasum) printf " ublk/mem |"
		if (hasugn) printf " ublkgomp/nbd |"
		if (hasugd) printf " ublkgomp/dm |"
		printf " guest CPU µs per MB or per I/O, "
		for (i = 1; i <= nd; i++) printf "%s%s", (i > 1 ? " / " : ""), D[i]
		np = 0
		for (i = 1; i <= nd; i++) if (D[i] != "dm" && D[i] != "sd") P[++np] = D[i]
		if (np) {
			printf " | of it in the serving process, "
			for (i = 1; i <= np; i++) printf "%s%s", (i > 1 ? " / " : ""), P[i]
		}
		print " |"
		printf "BENCH|---|"; for (i = 1; i <= nd + hasnbd * hasdm + hasnbd * hassd + hasdm * hassd + hasbase + has128 + hasmem + hasqsd + hasnq + hasum + hasugn + hasugd + 1 + (np > 0); i++) printf "---|"; print ""
		for (k = 1; k <= nw; k++) {
			w = W[k]
			printf "BENCH| %s |", w
			for (i = 1; i <= nd; i++) printf " %s |", show(w, D[i])
			if (hasnbd && hasdm) printf " %s |", ratio(w, "nbd", "dm")
			if (hasnbd && hassd) printf " %s |", ratio(w, "nbd", "sd")
			if (hasdm && hassd) printf " %s |", ratio(w, "dm", "sd")
			if (hasbase) printf " %s |", ratio(w, "nbd", "base")
			if (has128) printf " %s |", ratio(w, "nbd", "nbd128")
			if (hasmem) printf " %s |", ratio(w, "mem", "dm")
			if (hasqsd) printf " %s |", ratio(w, "qnbd", "sd")
			if (hasnq) printf " %s |", ratio(w, "nbd", "qnbd")
			if (hasum) printf " %s |", ratio(w, "ublk", "mem")
			if (hasugn) printf " %s |", ratio(w, "ublkgomp", "nbd")
			if (hasugd) printf " %s |", ratio(w, "ublkgomp", "dm")
			printf " "
			for (i = 1; i <= nd; i++) printf "%s%s", (i > 1 ? " / " : ""), showcpu(w, D[i], "cpu")
			if (np) {
				printf " | "
				for (i = 1; i <= np; i++) printf "%s%s", (i > 1 ? " / " : ""), showcpu(w, P[i], "pcpu")
			}
			print " |"
		}
	}' $B_RES
}

# b_ctxt_report: the guest's context switches per I/O (fio, the kernel,
# tgtd and the serving process together), median of the rounds, per
# workload and device: how many thread switches each path costs an I/O,
# which the emulator makes dear.
b_ctxt_report() {
	awk -v devs="$B_DEVS" -v wls="$B_WLS" '
		{ v[$2, $3] = v[$2, $3] " " $4 }
		function median(s,    a, n, i, j, t) {
			n = split(s, a, " ")
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : -1
		}
		END {
			nd = split(devs, D, " "); nw = split(wls, W, " ")
			print "BENCH|"
			printf "BENCH| guest context switches per I/O |"
			for (i = 1; i <= nd; i++) printf " %s |", D[i]
			print ""
			printf "BENCH|---|"; for (i = 1; i <= nd; i++) printf "---|"; print ""
			for (k = 1; k <= nw; k++) {
				printf "BENCH| %s |", W[k]
				for (i = 1; i <= nd; i++) {
					m = median(v[D[i], W[k]])
					if (m < 0) printf " - |"
					else printf " %.1f |", m
				}
				print ""
			}
		}' /tmp/bench.ctxt
}

# b_device NAME: the block device of NAME
b_device() {
	case $1 in
	nbd) echo "$NBD_DEV" ;;
	base) echo "$BASE_DEV" ;;
	nbd128) echo "$N128_DEV" ;;
	mem) echo "$MEM_DEV" ;;
	qnbd) echo "$QNBD_DEV" ;;
	ublk) echo "$UBLK_DEV" ;;
	ublkgomp) echo "$UGOMP_DEV" ;;
	dm) echo "$DM_DEV" ;;
	sd) echo "/dev/$SD1" ;;
	esac
}

# b_attach VAR BIN ARGS...: `BIN attach` of the lab LUN on both portals
# with --nbd auto (and ARGS), through b_start with 60 s for its ready line.
b_attach() {
	local var=$1 bin=$2
	shift 2
	echo "\$ $bin attach --target $LAB_IQN --portal 127.0.0.1 --portal 127.0.0.2 --nbd auto $*"
	b_start $var 600 $bin attach --target $LAB_IQN --portal 127.0.0.1 --portal 127.0.0.2 --nbd auto "$@" || return 1
	cat /tmp/$var.out
}

# b_detach VAR: stops ${VAR}_PID (SIGTERM: detach and log out)
b_detach() {
	local pid i=0
	eval "pid=\${${1}_PID}"
	[ -n "$pid" ] || return 0
	kill -TERM $pid 2>/dev/null
	while alive $pid && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	alive $pid && kill -9 $pid
	wait $pid 2>/dev/null
	eval "${1}_PID="
}

bench_cleanup() {
	b_detach NBD
	b_detach BASE
	b_detach N128
	b_detach MEM
	b_detach QNBD
	b_detach UBLK
	b_detach UGOMP
	classic_down
	lab_down
}

# b_free_nbd: the first /dev/nbdN with nothing connected
b_free_nbd() {
	local b
	for b in /sys/block/nbd*; do
		[ -e $b/pid ] || [ "$(cat $b/size)" != 0 ] || { echo /dev/${b##*/}; return 0; }
	done
	return 1
}

# b_qnbd_up: qemu-nbd (libiscsi) on a free /dev/nbdN, in the foreground
# (-v: no daemon, so the process is ours to measure and stop)
b_qnbd_up() {
	local i=0
	QNBD_DEV=$(b_free_nbd) || { echo "qnbd: no free /dev/nbdN"; return 1; }
	mkdir -p /var/lock # qemu-nbd -c binds a socket there
	echo "\$ qemu-nbd -v --cache=none -f raw -c $QNBD_DEV iscsi://127.0.0.1/$LAB_IQN/1"
	# qemu looks for block-iscsi.so beside its binary's ../lib, not where
	# the overlay puts it (its path on the host)
	QEMU_MODULE_DIR=/usr/lib/x86_64-linux-gnu/qemu \
		qemu-nbd -v --cache=none -f raw -c $QNBD_DEV "iscsi://127.0.0.1/$LAB_IQN/1" \
		</dev/null >/tmp/QNBD.out 2>&1 &
	QNBD_PID=$!
	until [ -e /sys/block/${QNBD_DEV#/dev/}/pid ]; do
		alive $QNBD_PID && [ $i -lt 300 ] || { echo "qemu-nbd:"; cat /tmp/QNBD.out; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	echo 1280 >/sys/block/${QNBD_DEV#/dev/}/queue/max_sectors_kb
	echo "qemu-nbd (libiscsi) on $QNBD_DEV"
}

# b_start VAR TENTHS CMD ARGS...: CMD in the background until its line
# "ready: NAME /dev/X" (TENTHS tenths of a second at most); sets
# ${VAR}_PID and ${VAR}_DEV.
b_start() {
	local var=$1 limit=$2 i=0 pid
	shift 2
	: >/tmp/$var.out
	"$@" </dev/null >/tmp/$var.out 2>/tmp/$var.err &
	pid=$!
	while ! grep -q '^ready: ' /tmp/$var.out; do
		alive $pid || { echo "$* exited:"; tail -n 20 /tmp/$var.err; return 1; }
		[ $i -lt $limit ] || { echo "$*: no ready line in $((limit / 10))s"; tail -n 20 /tmp/$var.err; return 1; }
		sleep 0.1
		i=$((i + 1))
	done
	eval "${var}_PID=$pid ${var}_DEV=$(awk '$1 == "ready:" {print $3; exit}' /tmp/$var.out)"
}

# b_ublk_up: the ublk devices asked for (Linux >= 6.0 with ublk_drv)
b_ublk_up() {
	case " $B_DEVS " in *" ublk "* | *" ublkgomp "*) ;; *) return 0 ;; esac
	modprobe ublk_drv || { echo "no ublk_drv in this kernel ($(uname -r))"; return 1; }
	case " $B_DEVS " in *" ublk "*)
		b_start UBLK 300 ublkmem || return 1
		echo "ublkmem: in-memory disk on $UBLK_DEV"
		;;
	esac
	case " $B_DEVS " in *" ublkgomp "*)
		b_start UGOMP 300 ublkmem -target $LAB_IQN -portal 127.0.0.1 -portal 127.0.0.2 || return 1
		echo "ublkmem -target: gomp's multipath device over ublk on $UGOMP_DEV"
		;;
	esac
}

# b_gomp_up: the gomp devices asked for
b_gomp_up() {
	case " $B_DEVS " in *" nbd "* | *" base "* | *" nbd128 "* | *" mem "*) ;; *) return 0 ;; esac
	# one-connection attach first: see "cold workqueue" in guest-test.sh
	b_attach WARM gomp --connections 1 --alias warm-up >/dev/null && b_detach WARM ||
		{ echo "warm-up attach failed"; return 1; }
	case " $B_DEVS " in *" nbd "*) b_attach NBD gomp --alias nbd $B_GOMPARGS || return 1 ;; esac
	case " $B_DEVS " in *" base "*)
		[ -x /usr/local/bin/gomp-base ] || { echo "no gomp-base: give bench-kernel.sh BENCH_BASE=REV"; return 1; }
		gomp-base version
		b_attach BASE gomp-base --alias base $B_GOMPARGS $B_BASEARGS || return 1
		;;
	esac
	case " $B_DEVS " in *" mem "*)
		b_start MEM 300 kernelbench || return 1
		echo "kernelbench: in-memory export on $MEM_DEV"
		;;
	esac
	case " $B_DEVS " in *" nbd128 "*)
		b_attach N128 gomp --alias nbd128 $B_GOMPARGS || return 1
		echo 128 >/sys/block/${N128_DEV#/dev/}/queue/max_sectors_kb
		;;
	esac
}

bench_main() {
	local r i w d order n t0 total
	B_TIME=$(b_arg benchtime)
	B_TIME=${B_TIME:-5}
	B_ROUNDS=$(b_arg rounds)
	B_ROUNDS=${B_ROUNDS:-3}
	B_WLS=$(b_arg workloads)
	B_WLS=${B_WLS:-seqread1 seqread16 seqwrite1 seqwrite16 randread1 randread32 randwrite1 randwrite32}
	B_DEVS=$(b_arg devices)
	B_DEVS=${B_DEVS:-nbd dm sd}
	B_GOMPARGS=$(b_arg gompargs)
	B_BASEARGS=$(b_arg baseargs)
	[ -x $B_FIO ] || { echo "no fio in the guest"; return 1; }
	: >$B_RES
	: >/tmp/bench.ctxt
	echo "rounds $B_ROUNDS, ${B_TIME}s per run, workloads: $B_WLS; devices: $B_DEVS"
	# a clock source without a vDSO read (hpet, acpi_pm: TCG often finds the
	# TSC unstable) makes every clock read of a userspace server a trap
	echo "clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" \
		"(available: $(cat /sys/devices/system/clocksource/clocksource0/available_clocksource))"
	lab_up 256M || { cat /tmp/tgtd.log; return 1; }
	# a written LUN: reads move data, not holes
	dd if=/dev/urandom of=/tmp/lun1.img bs=1M count=256 conv=notrunc 2>/dev/null
	case " $B_DEVS " in *" dm "* | *" sd "*) classic_up || { bench_cleanup; return 1; } ;; esac
	b_gomp_up || { bench_cleanup; return 1; }
	case " $B_DEVS " in *" qnbd "*) b_qnbd_up || { bench_cleanup; return 1; } ;; esac
	b_ublk_up || { bench_cleanup; return 1; }
	for d in $B_DEVS; do echo "$d: $(b_device $d): $(b_queue "$(b_device $d)")"; done
	n=0
	for d in $B_DEVS; do n=$((n + 1)); done
	total=0
	for w in $B_WLS; do total=$((total + n)); done
	echo "$((total * B_ROUNDS)) runs of ${B_TIME}s"
	t0=$(up)
	r=1
	while [ $r -le "$B_ROUNDS" ]; do
		for w in $B_WLS; do
			# rotate the device order: each device goes first in some round
			order=$B_DEVS
			i=1
			while [ $i -lt $(((r + $(echo "$B_WLS" | awk -v w=$w '{for(i=1;i<=NF;i++) if($i==w) print i}')) % n + 1)) ]; do
				set -- $order
				first=$1
				shift
				order="$* $first"
				i=$((i + 1))
			done
			for d in $order; do
				b_run $r "$(b_device $d)" $d $w || { bench_cleanup; return 1; }
			done
		done
		echo "round $r done at $(since $t0)s"
		r=$((r + 1))
	done
	b_report
	b_ctxt_report
	if [ -n "$NBD_PID" ]; then
		echo "gomp status:"
		gomp status nbd 2>&1 | sed 's/^/    /'
	fi
	bench_cleanup
}
