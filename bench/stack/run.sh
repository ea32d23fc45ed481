#!/usr/bin/env bash
# bench/stack/run.sh [SECONDS] — the whole stack in one run, with fio's nbd
# engine as the client: fio -> gomp attach --listen (multipath over iSCSI)
# -> tgtd, against fio -> qemu-nbd with its libiscsi driver (iscsi://) -> tgtd,
# on the same lab LUN. gomp runs with one portal (like for like) and with both.
# Prints MB/s or IOPS per workload and the ratios gomp/qemu-nbd. Needs the lab
# (make lab-up) and Debian fio, qemu-utils, qemu-block-extra.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
T=${1:-5}
P1=${GOMP_LAB_PORTAL1:-127.0.0.1:3260}
P2=${GOMP_LAB_PORTAL2:-127.0.0.2:3260}
TARGET=${GOMP_LAB_TARGET:-iqn.2026-11.dev.gomp:lab}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
CGO_ENABLED=0 go build -o "$tmp/gomp" ./cmd/gomp

wait_sock() { for _ in $(seq 200); do [[ -S $1 ]] && return 0; sleep 0.05; done; echo "no socket $1" >&2; return 1; }

# cpu_ticks PID -> user+system clock ticks of PID (every thread) so far
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
TGTD=$(cat "${GOMP_LAB_DIR:-/run/gomp-lab}/tgtd.pid")

# fio_run SOCK RW BS INITIATOR_PID -> "MB/s IOPS TGTD_CPU INITIATOR_CPU FIO_CPU"
# (CPU in seconds over the run: tgtd's, the NBD server's, fio's own)
fio_run() {
	local t0 i0 t1 i1
	t0=$(cpu_ticks "$TGTD") i0=$(cpu_ticks "$4")
	fio --name=b --ioengine=nbd --uri="nbd+unix:///?socket=$1" --rw="$2" --bs="$3" --iodepth=32 \
		--size=1G --time_based --runtime="$T" --output-format=json --output="$tmp/fio.json" >"$tmp/fio.err" 2>&1 ||
		{ cat "$tmp/fio.err" >&2; return 1; }
	t1=$(cpu_ticks "$TGTD") i1=$(cpu_ticks "$4")
	python3 - "$tmp/fio.json" "$((t1 - t0))" "$((i1 - i0))" "$HZ" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
tgtd, init, hz = (int(a) for a in sys.argv[2:])
bw = j["read"]["bw_bytes"] + j["write"]["bw_bytes"]
iops = j["read"]["iops"] + j["write"]["iops"]
fio = (j["usr_cpu"] + j["sys_cpu"]) / 100 * j["job_runtime"] / 1000
print(f"{bw/1e6:.1f} {iops:.0f} {tgtd/hz:.3f} {init/hz:.3f} {fio:.3f}")
PY
}

start_gomp() { # SOCK PORTAL...
	local sock=$1; shift
	local args=()
	for p in "$@"; do args+=(--portal "$p"); done
	"$tmp/gomp" attach --target "$TARGET" "${args[@]}" --lun 1 --listen "unix:$sock" \
		--control-dir "$tmp/ctl-$(basename "$sock")" >"$tmp/ready" 2>"$tmp/gomp.log" &
	pids+=($!)
	pid_of[$sock]=$!
	wait_sock "$sock"
}

declare -A pid_of
start_gomp "$tmp/g1.sock" "$P1"
start_gomp "$tmp/g2.sock" "$P1" "$P2"
qemu-nbd -t -e 8 -f raw --cache=none -k "$tmp/q.sock" "iscsi://$P1/$TARGET/1" 2>"$tmp/qemu.log" &
pids+=($!)
pid_of[$tmp/q.sock]=$!
wait_sock "$tmp/q.sock"

# Fill the 1 GiB every workload touches: on unwritten blocks of a thin LUN
# qemu's iscsi driver answers reads from its allocation map (GET LBA
# STATUS) without reading, which measures nothing.
fio --name=fill --ioengine=nbd --uri="nbd+unix:///?socket=$tmp/g1.sock" --rw=write --bs=1M --iodepth=32 \
	--size=1G >"$tmp/fill.log" 2>&1 || { cat "$tmp/fill.log" >&2; exit 1; }

# ROUNDS interleaved rounds (default 3): each round runs gomp 1 path, gomp 2
# paths and qemu-nbd back to back, so that the machine's drift hits all three
# alike; printed are the medians and, per ratio, the median of the rounds'
# ratios with their range.
ROUNDS=${ROUNDS:-3}
echo "fio nbd engine, QD32, ${T}s per run, median of $ROUNDS interleaved rounds (ratio range in brackets)"
printf '%-18s %16s %16s %16s %20s %20s\n' workload "gomp 1 path" "gomp 2 paths" "qemu-nbd" "ratio 1 path" "ratio 2 paths"
for w in "read 1M" "write 1M" "randread 4k" "randwrite 4k"; do
	set -- $w
	: >"$tmp/rounds"
	for _ in $(seq "$ROUNDS"); do
		row=()
		for s in g1 g2 q; do
			row+=($(fio_run "$tmp/$s.sock" "$1" "$2" "${pid_of[$tmp/$s.sock]}"))
		done
		echo "${row[*]}" >>"$tmp/rounds"
	done
	python3 - "$w QD32" "$2" "$tmp/rounds" "$(nproc)" "$T" "$tmp/cpu" <<'PY'
import statistics as st, sys
name, bs, path, ncpu, secs, cpu_out = sys.argv[1:]
ncpu, secs = int(ncpu), float(secs)
rows = [list(map(float, l.split())) for l in open(path) if l.strip()]
# per config (gomp 1 path, gomp 2 paths, qemu-nbd): MB/s IOPS tgtd init fio
cfg = [[r[5 * k:5 * k + 5] for r in rows] for k in range(3)]
col, per = (0, "MB") if bs == "1M" else (1, "req")
rate = [[c[col] for c in runs] for runs in cfg]
med = [st.median(r) for r in rate]
ratio = lambda a, b: [x / y for x, y in zip(a, b)]
span = lambda r: f"{st.median(r):.2f}x [{min(r):.2f}-{max(r):.2f}]"
unit = "MB/s" if bs == "1M" else "IOPS"
fmt = "{:11.1f} " + unit if bs == "1M" else "{:11.0f} " + unit
print(f"{name:<18} " + " ".join(f"{fmt.format(v):>16}" for v in med)
      + f" {span(ratio(rate[0], rate[2])):>20} {span(ratio(rate[1], rate[2])):>20}")
# CPU per unit moved (µs per MB for 1M, per request for 4k): for each
# process the median over the rounds of its CPU seconds over the units.
def cost(runs):  # [tgtd, initiator, fio]
    return [st.median(c[2 + i] / (c[col] * secs) * 1e6 for c in runs) for i in range(3)]
g, q = cost(cfg[0]), cost(cfg[2])
qrate = med[2]
# The fastest the machine could go with every CPU busy, and what the
# initiator may spend per unit for 1.5x qemu-nbd with tgtd and fio as measured.
ceil = lambda c: ncpu / (sum(c) / 1e6)
budget = ncpu / (1.5 * qrate) * 1e6 - g[0] - g[2]
with open(cpu_out, "a") as f:
    print(f"{name:<18} {'/'.join(f'{v:.1f}' for v in g):>18} {'/'.join(f'{v:.1f}' for v in q):>18}"
          f" {ceil(g) / qrate:>10.2f}x {budget:>10.1f} us/{per} (gomp uses {g[1]:.1f})", file=f)
PY
done
echo
echo "CPU per MB (1M) or per request (4k) in µs, tgtd/initiator/fio, 1 path; the ceiling is gomp's rate with"
echo "all $(nproc) CPUs busy, over qemu-nbd's; the budget is what the initiator may spend for 1.5x qemu-nbd"
printf '%-18s %18s %18s %11s %s\n' workload "gomp" "qemu-nbd" "ceiling" "  budget for 1.5x"
cat "$tmp/cpu"
