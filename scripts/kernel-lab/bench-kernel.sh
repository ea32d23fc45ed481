#!/usr/bin/env bash
# scripts/kernel-lab/bench-kernel.sh — `make bench-kernel`: gomp's /dev/nbdN
# against the classic stack (open-iscsi + dm-multipath) and one /dev/sdX,
# in one boot of the kernel lab's guest (run.sh), interleaved rounds of fio;
# see bench-kernel-guest.sh for what runs in the guest.
#
# Beyond what run.sh puts into the guest (guest.conf), this adds:
#   - open-iscsi (iscsid, iscsiadm) and multipath-tools (multipath,
#     multipathd, /lib/multipath plugins), fetched with `apt-get download`
#     and extracted with dpkg-deb into the cache dir like the kernel, with
#     their libraries (from the extraction, else the host's);
#   - fio, dmsetup and qemu-nbd with qemu's libiscsi driver (device qnbd)
#     from the host (installed when missing);
#   - the modules iscsi_tcp (libiscsi, libiscsi_tcp, scsi_transport_iscsi),
#     sd_mod, dm_multipath (dm_mod), dm_round_robin, dm_service_time;
#   - bench-kernel-guest.sh, run by guest-test.sh's bench section.
# The host's own iSCSI and multipath are never touched: everything runs on
# the guest's loopback.
#
# Env knobs: BENCHTIME=S seconds per run (default 5), ROUNDS=N (default 3),
# BENCH_WORKLOADS="seqread1 ..." and BENCH_DEVICES="nbd dm sd" (subsets),
# BENCH_GOMPARGS="--connections 1" (extra gomp attach arguments),
# BENCH_BASE=REV (also gomp built at git revision REV, as device "base":
# before and after a change in one boot) with BENCH_BASEARGS (more attach
# arguments for it alone), BENCH_TSC=0 (keep the guest's HPET clock source
# rather than the TSC), BENCH_DEVICES may add "mem" (an in-memory export
# on /dev/nbdN, kernelbench/ beside this script: NBD's own cost),
# "qnbd" (qemu-nbd with libiscsi on /dev/nbdN: another userspace initiator
# behind the same driver), "ublk" and "ublkgomp" (ublkmem/ beside this
# script on /dev/ublkbN, memory or gomp's multipath device: kernels with
# ublk_drv only: BENCH_KERNEL=6.12) and "nbd128", BENCH_KERNEL=6.12 (the
# guest boots linux-image-6.12-amd64's kernel, which has ublk_drv, rather
# than Debian 12's default 6.1), plus run.sh's KLAB_* (KLAB_CACHE, KLAB_KEEP,
# KLAB_APPEND, ...).
# The serial console goes to bin/bench-kernel.log; the tables are printed at
# the end.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${KLAB_CACHE:-/var/tmp/gomp-kernel-lab}
BENCHTIME=${BENCHTIME:-5}
ROUNDS=${ROUNDS:-3}
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

CLASSIC_DEBS=(open-iscsi libopeniscsiusr libisns0 multipath-tools liburcu8)
CLASSIC_BINS=(sbin/iscsid sbin/iscsiadm sbin/multipath sbin/multipathd)
# qemu's libiscsi block driver, loaded by qemu-nbd for iscsi:// (device qnbd)
QEMU_ISCSI=/usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so

log() { printf '[bench-kernel] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

host_tools() {
	local missing=()
	command -v fio >/dev/null || missing+=(fio)
	command -v dmsetup >/dev/null || missing+=(dmsetup)
	command -v qemu-nbd >/dev/null || missing+=(qemu-utils)
	[ -e "$QEMU_ISCSI" ] || missing+=(qemu-block-extra)
	((${#missing[@]})) || return 0
	[ "$(id -u)" = 0 ] || die "missing host packages: ${missing[*]}"
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# extract_classic: $CX holds the extracted open-iscsi and multipath-tools.
extract_classic() {
	local stamp p f
	CX="$CACHE/classic"
	stamp="${CLASSIC_DEBS[*]}"
	if [ -f "$CX/.done" ] && [ "$(cat "$CX/.done")" = "$stamp" ]; then return; fi
	mkdir -p "$CACHE/debs"
	rm -rf "$CX"
	mkdir -p "$CX"
	for p in "${CLASSIC_DEBS[@]}"; do
		f=$(ls "$CACHE/debs/${p}"_*.deb 2>/dev/null | head -n 1 || true)
		if [ -z "$f" ]; then
			(cd "$CACHE/debs" && apt-get download -qq "$p" 2>/dev/null) ||
				{ apt-get update -qq; (cd "$CACHE/debs" && apt-get download -qq "$p"); }
			f=$(ls "$CACHE/debs/${p}"_*.deb | head -n 1)
		fi
		log "extracting $(basename "$f")"
		dpkg-deb -x "$f" "$CX"
	done
	echo "$stamp" >"$CX/.done"
}

# copy_bin FILE DEST: FILE to $OVL/DEST with the libraries ldd finds, those
# of the extraction first (by soname into /usr/lib/x86_64-linux-gnu, which
# the guest's loader searches), the host's at their own paths.
copy_bin() {
	local file=$1 dest=$2 line name path
	install -D -m755 "$file" "$OVL/$dest"
	LD_LIBRARY_PATH="$CX/lib:$CX/usr/lib/x86_64-linux-gnu" ldd "$file" 2>/dev/null | while read -r line; do
		case $line in
		*"not found"*) die "$file: $line" ;;
		*" => /"*)
			name=${line%% =>*} path=${line#*=> } path=${path%% (*}
			case $path in
			"$CX"/*) install -D -m755 "$(readlink -f "$path")" "$OVL/usr/lib/x86_64-linux-gnu/$name" ;;
			*) install -D -m755 "$(readlink -f "$path")" "$OVL$path" ;;
			esac
			;;
		esac
	done
}

build_overlay() {
	local b f
	OVL="$WORK/overlay"
	mkdir -p "$OVL/etc"
	for b in "${CLASSIC_BINS[@]}"; do copy_bin "$CX/$b" "usr/local/sbin/$(basename "$b")"; done
	for f in "$CX"/lib/multipath/*.so; do copy_bin "$f" "lib/multipath/$(basename "$f")"; done
	copy_bin "$(command -v qemu-nbd)" usr/local/sbin/qemu-nbd
	copy_bin "$QEMU_ISCSI" "${QEMU_ISCSI#/}"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$OVL/etc/passwd"
	printf 'root:x:0:\n' >"$OVL/etc/group"
	install -m644 "$HERE/bench-kernel-guest.sh" "$OVL/bench-kernel-guest.sh"
	cat >"$WORK/guest-extra.conf" <<-'EOF'
		GUEST_BINS_OPTIONAL+=(fio dmsetup)
		GUEST_MODULES+=(iscsi_tcp sd_mod dm_multipath dm_round_robin dm_service_time)
		GUEST_GO+=(kernelbench=./scripts/kernel-lab/kernelbench ublkmem=./scripts/kernel-lab/ublkmem)
	EOF
	# ublk_drv: only in kernels that have it (BENCH_KERNEL=6.12)
	case " ${BENCH_DEVICES:-} " in *" ublk "* | *" ublkgomp "*)
		echo 'GUEST_MODULES+=(ublk_drv)' >>"$WORK/guest-extra.conf" ;;
	esac
	[ -z "${BENCH_BASE:-}" ] || build_base "$BENCH_BASE"
}

# build_base REV: gomp at git revision REV as /usr/local/bin/gomp-base
build_base() {
	local src="$WORK/base-src"
	mkdir -p "$src" "$OVL/usr/local/bin"
	git -C "$ROOT" archive "$1" | tar -x -C "$src" || die "git archive $1 failed"
	log "go build gomp at $1 ($(git -C "$ROOT" rev-parse --short "$1")) -> gomp-base"
	(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$OVL/usr/local/bin/gomp-base" ./cmd/gomp)
	B_DEVICES_DEFAULT="nbd base dm sd"
}

# knob NAME VALUE: " klab.NAME=VALUE" with spaces as commas, or nothing
knob() { [ -z "$2" ] || printf ' klab.%s=%s' "$1" "$(echo "$2" | tr ' ' ',')"; }

main() {
	host_tools
	extract_classic
	WORK=$(mktemp -d /tmp/gomp-bench-kernel.XXXXXX)
	trap 'rm -rf "$WORK"' EXIT
	build_overlay
	local append out rc=0
	# TCG's guest finds the TSC unstable and falls back to the HPET, whose
	# every read is an emulated MMIO trap: clock reads, frequent in a
	# userspace server and rare in the kernel's own I/O path, then weigh on
	# one side only. Real hosts read the TSC (BENCH_TSC=0 keeps the HPET).
	append=${KLAB_APPEND:-}
	[ -z "${BENCH_KERNEL:-}" ] || export KLAB_KMETA=linux-image-$BENCH_KERNEL-amd64
	[ "${BENCH_TSC:-1}" = 0 ] || append="$append clocksource=tsc tsc=reliable"
	append="$append$(knob benchtime "$BENCHTIME")$(knob rounds "$ROUNDS")"
	append="$append$(knob workloads "${BENCH_WORKLOADS:-}")$(knob devices "${BENCH_DEVICES:-${B_DEVICES_DEFAULT:-}}")"
	append="$append$(knob gompargs "${BENCH_GOMPARGS:-}")$(knob baseargs "${BENCH_BASEARGS:-}")"
	mkdir -p "$ROOT/bin"
	out="$ROOT/bin/bench-kernel.log"
	log "rounds $ROUNDS, ${BENCHTIME}s per run; serial console in $out"
	# 2 GiB: the LUN (tmpfs) and the in-memory export each take 256 MiB
	KLAB_MEM=${KLAB_MEM:-2G} KLAB_CONF_EXTRA="$WORK/guest-extra.conf" KLAB_OVERLAY="$OVL" KLAB_GUEST_ARGS=bench \
		KLAB_APPEND="$append" bash "$HERE/run.sh" >"$out" 2>&1 || rc=$?
	grep -a 'kernel-lab\] \|\[bench\] \(rounds\|nbd:\|base:\|nbd128:\|mem:\|qnbd:\|qemu-nbd\|kernelbench\|ublk\|clocksource\|dm:\|sd:\|round\|open-iscsi\|dm-multipath\|ready\)' "$out" |
		grep -av BENCH || true
	echo
	grep -a '\[bench\] BENCH|' "$out" | sed 's/.*BENCH|/|/' || true
	if [ $rc != 0 ]; then
		log "the guest failed (exit $rc); last lines of $out:"
		tail -n 40 "$out" >&2
	fi
	return $rc
}

main "$@"
