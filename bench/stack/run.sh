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

# fio_run SOCK RW BS -> "MB/s IOPS"
fio_run() {
	fio --name=b --ioengine=nbd --uri="nbd+unix:///?socket=$1" --rw="$2" --bs="$3" --iodepth=32 \
		--size=1G --time_based --runtime="$T" --output-format=json --output="$tmp/fio.json" >"$tmp/fio.err" 2>&1 ||
		{ cat "$tmp/fio.err" >&2; return 1; }
	python3 - "$tmp/fio.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
bw = j["read"]["bw_bytes"] + j["write"]["bw_bytes"]
iops = j["read"]["iops"] + j["write"]["iops"]
print(f"{bw/1e6:.1f} {iops:.0f}")
PY
}

start_gomp() { # SOCK PORTAL...
	local sock=$1; shift
	local args=()
	for p in "$@"; do args+=(--portal "$p"); done
	"$tmp/gomp" attach --target "$TARGET" "${args[@]}" --lun 1 --listen "unix:$sock" \
		--control-dir "$tmp/ctl-$(basename "$sock")" >"$tmp/ready" 2>"$tmp/gomp.log" &
	pids+=($!)
	wait_sock "$sock"
}

start_gomp "$tmp/g1.sock" "$P1"
start_gomp "$tmp/g2.sock" "$P1" "$P2"
qemu-nbd -t -e 8 -f raw --cache=none -k "$tmp/q.sock" "iscsi://$P1/$TARGET/1" 2>"$tmp/qemu.log" &
pids+=($!)
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
		read -r g1 g1i <<<"$(fio_run "$tmp/g1.sock" "$1" "$2")"
		read -r g2 g2i <<<"$(fio_run "$tmp/g2.sock" "$1" "$2")"
		read -r q qi <<<"$(fio_run "$tmp/q.sock" "$1" "$2")"
		if [[ $2 == 1M ]]; then
			echo "$g1 $g2 $q" >>"$tmp/rounds"
		else
			echo "$g1i $g2i $qi" >>"$tmp/rounds"
		fi
	done
	python3 - "$w QD32" "$2" "$tmp/rounds" <<'PY'
import statistics as st, sys
name, bs, path = sys.argv[1:]
rows = [list(map(float, l.split())) for l in open(path) if l.strip()]
med = [st.median(c) for c in zip(*rows)]
r1 = [g1 / q for g1, _, q in rows]
r2 = [g2 / q for _, g2, q in rows]
unit = "MB/s" if bs == "1M" else "IOPS"
fmt = "{:11.1f} " + unit if bs == "1M" else "{:11.0f} " + unit
ratio = lambda r: f"{st.median(r):.2f}x [{min(r):.2f}-{max(r):.2f}]"
print(f"{name:<18} " + " ".join(f"{fmt.format(v):>16}" for v in med) + f" {ratio(r1):>20} {ratio(r2):>20}")
PY
done
