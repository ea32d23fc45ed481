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

printf '%-22s %16s %16s %16s %8s %8s\n' workload "gomp 1 path" "gomp 2 paths" "qemu-nbd" "ratio1" "ratio2"
for w in "read 1M" "write 1M" "randread 4k" "randwrite 4k"; do
	set -- $w
	read -r g1 g1i <<<"$(fio_run "$tmp/g1.sock" "$1" "$2")"
	read -r g2 g2i <<<"$(fio_run "$tmp/g2.sock" "$1" "$2")"
	read -r q qi <<<"$(fio_run "$tmp/q.sock" "$1" "$2")"
	if [[ $2 == 1M ]]; then
		awk -v n="$w" -v a="$g1" -v b="$g2" -v c="$q" 'BEGIN{printf "%-22s %11.1f MB/s %11.1f MB/s %11.1f MB/s %7.2fx %7.2fx\n", n" QD32", a, b, c, a/c, b/c}'
	else
		awk -v n="$w" -v a="$g1i" -v b="$g2i" -v c="$qi" 'BEGIN{printf "%-22s %11d IOPS %11d IOPS %11d IOPS %7.2fx %7.2fx\n", n" QD32", a, b, c, a/c, b/c}'
	fi
done
