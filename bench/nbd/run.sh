#!/usr/bin/env bash
# bench/nbd/run.sh — gomp's NBD server (bench/nbd/memserver: nbd.NewMemory)
# against the reference server `nbdkit memory`, both on unix sockets, both
# driven by fio's nbd engine in one run:
#
#   1 MiB sequential write and read at QD32  (MB/s)
#   4 KiB random write and read at QD32       (IOPS)
#
# For each it prints both medians, the median of the rounds' ratios
# gomp/nbdkit with their range, and the CPU seconds each server process used
# per GiB moved.
#
# Usage: bash bench/nbd/run.sh        (from anywhere; needs go, fio, nbdkit)
# Environment: RUNTIME seconds per fio run (default 5), SIZE export size
# (default 1G), QD (default 32), ROUNDS interleaved rounds whose medians
# are printed (default 3), KEEP=1 keeps the work directory.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

RUNTIME=${RUNTIME:-5}
SIZE=${SIZE:-1G}
QD=${QD:-32}
ROUNDS=${ROUNDS:-3}

for tool in go fio nbdkit python3; do
	if ! command -v "$tool" >/dev/null; then
		echo "bench-nbd: $tool not found (apt-get install fio nbdkit)" >&2
		exit 1
	fi
done

work=$(mktemp -d /tmp/bench-nbd.XXXXXX)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ -z ${KEEP:-} ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT

go build -o "$work/memserver" ./bench/nbd/memserver

"$work/memserver" -socket "$work/gomp.sock" -size "$SIZE" 2>"$work/memserver.log" &
gomp_pid=$!
pids+=("$gomp_pid")
nbdkit --foreground --unix "$work/nbdkit.sock" memory "$SIZE" 2>"$work/nbdkit.log" &
nbdkit_pid=$!
pids+=("$nbdkit_pid")

for sock in gomp nbdkit; do
	for _ in $(seq 100); do
		[[ -S $work/$sock.sock ]] && break
		sleep 0.05
	done
	[[ -S $work/$sock.sock ]] || {
		echo "bench-nbd: $sock did not start" >&2
		exit 1
	}
done

# cpu_ticks PID: user+system clock ticks used so far by the process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run_fio NAME SOCK PID RW BS: one fio run; prints "value cpu_s_per_gib".
run_fio() {
	local name=$1 sock=$2 pid=$3 rw=$4 bs=$5 before after
	before=$(cpu_ticks "$pid")
	fio --name="$name" --ioengine=nbd --uri="nbd+unix:///?socket=$sock" \
		--rw="$rw" --bs="$bs" --iodepth="$QD" --size="$SIZE" \
		--time_based --runtime="$RUNTIME" --output-format=json \
		--output="$work/$name.json" >/dev/null
	after=$(cpu_ticks "$pid")
	python3 - "$work/$name.json" "$rw" "$bs" "$((after - before))" "$(getconf CLK_TCK)" <<'EOF'
import json, sys
path, rw, bs, ticks, hz = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
out = open(path).read()
job = json.loads(out[out.index("{"):])["jobs"][0]
if job["error"]:
    sys.exit(f"fio error {job['error']}")
side = job["write" if "write" in rw else "read"]
gib = side["io_bytes"] / 2**30
value = side["iops"] if bs == "4k" else side["bw_bytes"] / 1e6
print(f"{value:.0f} {ticks / hz / gib if gib else 0:.2f}")
EOF
}

workloads=(
	"seq-write-1M write 1M MB/s"
	"seq-read-1M read 1M MB/s"
	"rand-write-4K randwrite 4k IOPS"
	"rand-read-4K randread 4k IOPS"
)

echo "fio nbd engine, QD$QD, ${RUNTIME}s per run, ${SIZE} export, $(nproc) cpus, median of $ROUNDS interleaved rounds (ratio range in brackets)"
printf '%-14s %6s %12s %12s %20s %14s %16s\n' workload unit gomp nbdkit ratio "gomp cpu-s/GiB" "nbdkit cpu-s/GiB"
for w in "${workloads[@]}"; do
	read -r name rw bs unit <<<"$w"
	: >"$work/rounds"
	for _ in $(seq "$ROUNDS"); do
		read -r g gcpu < <(run_fio "gomp-$name" "$work/gomp.sock" "$gomp_pid" "$rw" "$bs")
		read -r k kcpu < <(run_fio "nbdkit-$name" "$work/nbdkit.sock" "$nbdkit_pid" "$rw" "$bs")
		echo "$g $gcpu $k $kcpu" >>"$work/rounds"
	done
	python3 - "$name" "$unit" "$work/rounds" <<'EOF'
import statistics as st, sys
name, unit, path = sys.argv[1:]
rows = [list(map(float, l.split())) for l in open(path) if l.strip()]
g, gcpu, k, kcpu = (st.median(c) for c in zip(*rows))
r = [a / b for a, _, b, _ in rows if b]
ratio = f"{st.median(r):.2f}x [{min(r):.2f}-{max(r):.2f}]" if r else "n/a"
print(f"{name:<14} {unit:>6} {g:12.0f} {k:12.0f} {ratio:>20} {gcpu:14.2f} {kcpu:16.2f}")
EOF
done
