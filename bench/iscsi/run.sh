#!/usr/bin/env bash
# bench/iscsi/run.sh [SECONDS] — gomp's raw iSCSI session against libiscsi on
# the same tgtd LUN, in one run: reads against libiscsi's iscsi-perf, writes
# against qemu-img bench with its libiscsi driver (iscsi-perf only reads).
# Prints MB/s or IOPS, CPU seconds per GiB moved, and the ratios gomp/libiscsi.
# Needs the lab (make lab-up) and Debian libiscsi-bin + qemu-block-extra.
# iscsi-perf and qemu-img bench drive I/O from one thread; the gomp side runs
# with gomp attach's default GOMAXPROCS, half the CPUs (one on a 2-core lab,
# where tgtd shares the cores); set GOMAXPROCS to override.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
T=${1:-5}
PORTAL=${GOMP_LAB_PORTAL1:-127.0.0.1:3260}
TARGET=${GOMP_LAB_TARGET:-iqn.2026-11.dev.gomp:lab}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/iscsibench" ./bench/iscsi

# cpu_of CMD... runs CMD, keeps its stdout in $tmp/out, prints its CPU seconds.
cpu_of() {
	/usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; return 1; }
	awk '{print $1 + $2}' "$tmp/time"
}

# gomp BS QD [flags] -> "rate_mb_s iops cpu_per_gib"
gomp() {
	local bs=$1 qd=$2; shift 2
	"$tmp/iscsibench" -portal "$PORTAL" -target "$TARGET" -bs "$bs" -qd "$qd" -time "${T}s" "$@" >"$tmp/g"
	sed -E 's/.*iops=([0-9.]+) mbps=([0-9.]+) cpu_s_per_gib=([0-9.]+).*/\2 \1 \3/' "$tmp/g"
}

# perf BS QD [-r] -> libiscsi iscsi-perf read
perf() {
	local bs=$1 qd=$2; shift 2
	local cpu; cpu=$(cpu_of iscsi-perf -m "$qd" -b $((bs / 512)) -t "$T" "$@" "iscsi://$PORTAL/$TARGET/1")
	local iops; iops=$(grep -o 'iops average [0-9]*' "$tmp/out" | tail -1 | awk '{print $3}')
	awk -v i="$iops" -v bs="$bs" -v c="$cpu" -v t="$T" \
		'BEGIN { gib = i * bs * t / 2^30; printf "%.1f %d %.3f\n", i * bs / 1e6, i, c / gib }'
}

# qbench BS QD COUNT [extra] -> qemu-img bench write through libiscsi
qbench() {
	local bs=$1 qd=$2 count=$3; shift 3
	local cpu; cpu=$(cpu_of qemu-img bench -t none -n -w -c "$count" -d "$qd" -s "$bs" "$@" \
		--image-opts "driver=iscsi,transport=tcp,portal=$PORTAL,target=$TARGET,lun=1")
	local secs; secs=$(grep -o 'completed in [0-9.]*' "$tmp/out" | awk '{print $3}')
	awk -v n="$count" -v bs="$bs" -v c="$cpu" -v s="$secs" \
		'BEGIN { gib = n * bs / 2^30; printf "%.1f %d %.3f\n", n * bs / s / 1e6, n / s, c / gib }'
}

# row NAME GOMP PEER: runs the two commands (shell words) alternately ROUNDS
# times (default 3) and prints the medians, and for each ratio the median of
# the rounds' ratios with its range.
ROUNDS=${ROUNDS:-3}
row() {
	: >"$tmp/rounds"
	for _ in $(seq "$ROUNDS"); do
		local g p
		g=$(eval "$2")
		p=$(eval "$3")
		echo "$g $p" >>"$tmp/rounds"
	done
	python3 - "$1" "$tmp/rounds" <<'PY'
import statistics as st, sys
name, path = sys.argv[1:]
rows = [list(map(float, l.split())) for l in open(path) if l.strip()]
gm, gi, gc, pm, pi, pc = (st.median(c) for c in zip(*rows))
thr = [r[0] / r[3] for r in rows]
cpu = [r[2] / r[5] for r in rows]
rng = lambda r: f"{st.median(r):.2f}x [{min(r):.2f}-{max(r):.2f}]"
print(f"{name:<20} {gm:9.1f} {gi:9.0f} {pm:9.1f} {pi:9.0f} {rng(thr):>19} {gc:8.3f} {pc:8.3f} {rng(cpu):>19}")
PY
}

echo "median of $ROUNDS alternating rounds of ${T}s (ratio range in brackets)"
printf '%-20s %9s %9s %9s %9s %19s %8s %8s %19s\n' workload gomp_MB/s gomp_iops lib_MB/s lib_iops ratio gomp_cpu lib_cpu cpu_ratio
row "seq read 1M QD32" "gomp 1048576 32" "perf 1048576 32"
row "rand read 4K QD32" "gomp 4096 32 -random" "perf 4096 32 -r"
row "rand read 4K QD1" "gomp 4096 1 -random" "perf 4096 1 -r"
row "seq write 1M QD32" "gomp 1048576 32 -write" "qbench 1048576 32 $((200 * T))"
row "rand write 4K QD32" "gomp 4096 32 -write -random" "qbench 4096 32 $((5000 * T)) -S $((4096 * 7919))"
row "rand write 4K QD1" "gomp 4096 1 -write -random" "qbench 4096 1 $((1000 * T)) -S $((4096 * 7919))"
echo "cpu = initiator CPU seconds per GiB moved; ratio > 1 means gomp is faster (cpu_ratio < 1: gomp uses less CPU)"
