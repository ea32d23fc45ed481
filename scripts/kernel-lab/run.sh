#!/usr/bin/env bash
# scripts/kernel-lab/run.sh — `make test-kernel`: boot Debian's stock kernel
# (which ships nbd.ko) under QEMU with software emulation and run
# guest-test.sh inside it, for a host whose own kernel has no nbd, no module
# loading and no KVM.
#
#   1. fetch linux-image-amd64's kernel package (and busybox-static, unless it
#      is installed) with `apt-get download` into a cache dir, extract with
#      dpkg-deb, keep vmlinuz + the modules guest.conf names (+ dependencies);
#      nothing is installed into the host's /boot or /lib/modules;
#   2. build an initramfs: busybox, the modules (depmod -b), the Go programs
#      (CGO_ENABLED=0), host binaries with their libraries, guest-init.sh as
#      /init and guest-test.sh — all listed in guest.conf;
#   3. boot qemu-system-x86_64 -accel tcg -nic none with a serial console,
#      print the console and exit 0 when the guest printed
#      "KERNEL-LAB-RESULT: PASS" (1 on FAIL or a dead guest, 124 on timeout).
#
# Host packages (installed here when missing and running as root; .ci/run
# installs them): qemu-system-x86 cpio kmod e2fsprogs busybox-static.
#
# Env knobs:
#   KLAB_CACHE=/var/tmp/gomp-kernel-lab   debs + extracted kernel (reused)
#   KLAB_TIMEOUT=1060   seconds before the guest is killed
#   KLAB_SMP=2 KLAB_MEM=1G
#   KLAB_KPKG=linux-image-6.1.0-N-amd64   (default: KLAB_KMETA's dependency)
#   KLAB_KMETA=linux-image-amd64   the metapackage naming the kernel, e.g.
#                       linux-image-6.12-amd64 (Debian 12's 6.12)
#   KLAB_KEEP=1         keep the work dir (initramfs, serial log)
#   KLAB_APPEND=...     extra kernel command line
#   KLAB_GUEST_ARGS=... passed to guest-test.sh (kernel command line klab.args=)
#   KLAB_CONF_EXTRA=FILE sourced after guest.conf, to add to its lists
#   KLAB_OVERLAY=DIR    its files are copied over the initramfs root last
#                       (make bench-kernel uses these two: bench-kernel.sh)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${KLAB_CACHE:-/var/tmp/gomp-kernel-lab}
TIMEOUT=${KLAB_TIMEOUT:-1060}
SMP=${KLAB_SMP:-2}
MEM=${KLAB_MEM:-1G}
KEEP=${KLAB_KEEP:-0}
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
# shellcheck source=guest.conf
. "$HERE/guest.conf"
if [ -n "${KLAB_CONF_EXTRA:-}" ]; then
	# shellcheck disable=SC1090
	. "$KLAB_CONF_EXTRA"
fi

T0=$(date +%s.%N)
log() { printf '[kernel-lab %5.1fs] %s\n' "$(awk -v s="$T0" -v n="$(date +%s.%N)" 'BEGIN{print n-s}')" "$*" >&2; }
die() { log "error: $*"; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_updated=0
apt_update() { if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi; }

host_tools() {
	local missing=()
	have qemu-system-x86_64 || missing+=(qemu-system-x86)
	have cpio || missing+=(cpio)
	have depmod || missing+=(kmod)
	have mke2fs || missing+=(e2fsprogs)
	have go || die "go toolchain not found"
	((${#missing[@]})) || return 0
	[ "$(id -u)" = 0 ] || die "missing host packages: ${missing[*]} (apt-get install them)"
	log "installing host packages: ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# fetch_deb PKG: path of PKG's .deb in the cache, downloading it if needed.
fetch_deb() {
	local f
	f=$(ls "$CACHE/debs/$1"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$f" ]; then
		mkdir -p "$CACHE/debs"
		(cd "$CACHE/debs" && apt-get download -qq "$1" 2>/dev/null) ||
			{ apt_update; (cd "$CACHE/debs" && apt-get download -qq "$1"); }
		f=$(ls "$CACHE/debs/$1"_*.deb | head -n 1)
	fi
	echo "$f"
}

kernel_package() {
	local k=${KLAB_KPKG:-}
	local m=${KLAB_KMETA:-linux-image-amd64}
	meta() { apt-cache depends "$m" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}'; }
	[ -n "$k" ] || k=$(meta)
	[ -n "$k" ] || { apt_update; k=$(meta); }
	[ -n "$k" ] || die "cannot resolve the kernel package behind $m"
	echo "$k"
}

# extract_kernel PKG: $KC holds vmlinuz, version, modules/ (paths relative to
# /lib/modules/$KVER, decompressed) and preload (insmod order). The package
# ships no modules.dep (its postinst runs depmod): depmod runs on a temporary
# extraction, never on the host's tree.
extract_kernel() {
	local kpkg=$1 stamp tmpk kver deb
	stamp="layout 2: $kpkg ${GUEST_MODULES[*]} / ${GUEST_MODULES_PRELOAD[*]}"
	KC="$CACHE/kernel-$kpkg"
	if [ -f "$KC/.done" ] && [ "$(cat "$KC/.done")" = "$stamp" ]; then return; fi
	deb=$(fetch_deb "$kpkg")
	log "extracting $(basename "$deb")"
	tmpk=$(mktemp -d "$CACHE/extract.XXXXXX")
	dpkg-deb -x "$deb" "$tmpk"
	kver=$(ls "$tmpk/lib/modules")
	depmod -b "$tmpk" "$kver"
	rm -rf "$KC"
	mkdir -p "$KC/modules"
	cp "$tmpk/boot/vmlinuz-$kver" "$KC/vmlinuz"
	echo "$kver" >"$KC/version"
	local mdir="$tmpk/lib/modules/$kver" path rel f
	# what is built in (kmodule and depmod read these)
	for f in modules.builtin modules.builtin.modinfo; do
		[ ! -f "$mdir/$f" ] || cp "$mdir/$f" "$KC/modules/"
	done
	modprobe -a -d "$tmpk" -S "$kver" --show-depends "${GUEST_MODULES[@]}" |
		awk '$1 == "insmod" {print $2}' | sort -u | while read -r path; do
		rel=${path#"$mdir"/}
		mkdir -p "$KC/modules/$(dirname "$rel")"
		case "$path" in
		*.ko) cp "$path" "$KC/modules/$rel" ;;
		*.ko.xz) xz -dc "$path" >"$KC/modules/${rel%.xz}" ;;
		*.ko.zst) zstd -qdc "$path" >"$KC/modules/${rel%.zst}" ;;
		*.ko.gz) gzip -dc "$path" >"$KC/modules/${rel%.gz}" ;;
		esac
	done
	# insmod order of the preloaded modules, dependencies (and softdeps) first
	modprobe -a -d "$tmpk" -S "$kver" --show-depends "${GUEST_MODULES_PRELOAD[@]}" |
		awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++' |
		sed -e "s|^$mdir/||" -e 's/\.\(xz\|zst\|gz\)$//' >"$KC/preload"
	rm -rf "$tmpk"
	echo "$stamp" >"$KC/.done"
}

busybox_binary() {
	if [ "$(dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null || true)" = installed ]; then
		echo /bin/busybox
		return
	fi
	local deb
	deb=$(fetch_deb busybox-static)
	if [ ! -x "$CACHE/busybox/bin/busybox" ]; then
		rm -rf "$CACHE/busybox"
		dpkg-deb -x "$deb" "$CACHE/busybox"
	fi
	echo "$CACHE/busybox/bin/busybox"
}

# copy_with_libs BIN: BIN into $R/usr/local/sbin, its libraries at their paths.
copy_with_libs() {
	local bin=$1 lib
	install -m755 "$bin" "$R/usr/local/sbin/$(basename "$bin")"
	ldd "$bin" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' |
		while read -r lib; do
			# 755: the kernel needs exec permission on the ELF interpreter
			[ -f "$R$lib" ] || install -D -m755 "$(readlink -f "$lib")" "$R$lib"
		done
}

find_bin() { PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin command -v "$1" 2>/dev/null || true; }

build_initramfs() {
	local kver=$1 bb=$2 name pkg bin lib dir upper
	R="$WORK/root"
	mkdir -p "$R"/{bin,sbin,dev,proc,sys,tmp,mnt,etc,run,usr/bin,usr/sbin,usr/local/bin,usr/local/sbin,var/run}
	install -m755 "$bb" "$R/bin/busybox"
	mkdir -p "$R/lib/modules/$kver"
	cp -r "$KC/modules/." "$R/lib/modules/$kver/"
	(cd "$R/lib/modules/$kver" && find kernel -name '*.ko' | sort >modules.order)
	depmod -b "$R" "$kver"
	cp "$KC/preload" "$R/etc/kernel-lab.preload"
	for entry in "${GUEST_GO[@]}"; do
		name=${entry%%=*} pkg=${entry#*=}
		log "go build $pkg -> /usr/local/bin/$name (CGO_ENABLED=0)"
		(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$R/usr/local/bin/$name" "$pkg")
	done
	{
		echo "KVER=$kver"
		for name in "${GUEST_BINS_REQUIRED[@]}"; do
			bin=$(find_bin "$name")
			[ -n "$bin" ] || die "host binary $name not found (see guest.conf)"
			copy_with_libs "$bin"
		done
		for name in "${GUEST_BINS_OPTIONAL[@]}"; do
			bin=$(find_bin "$name")
			upper=$(echo "$name" | tr '[:lower:]-' '[:upper:]_')
			if [ -n "$bin" ]; then copy_with_libs "$bin"; echo "HAVE_$upper=1"; else echo "HAVE_$upper=0"; fi
		done
	} >"$R/etc/kernel-lab.env"
	for lib in "${GUEST_EXTRA_LIBS[@]}"; do
		for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
			if [ -f "$dir/$lib" ]; then install -D -m755 "$(readlink -f "$dir/$lib")" "$R$dir/$lib"; break; fi
		done
	done
	for f in "${GUEST_ETC[@]}"; do [ -f "$f" ] && cp "$f" "$R/etc/"; done
	install -m755 "$HERE/guest-init.sh" "$R/init"
	install -m755 "$HERE/guest-test.sh" "$R/guest-test.sh"
	[ -z "${KLAB_OVERLAY:-}" ] || cp -a "$KLAB_OVERLAY/." "$R/"
	(cd "$R" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet | gzip -1) >"$WORK/initrd.cpio.gz"
	log "initramfs $(du -h "$WORK/initrd.cpio.gz" | cut -f1) (unpacked $(du -sh "$R" | cut -f1)); $(tr '\n' ' ' <"$R/etc/kernel-lab.env")"
}

# boot: runs QEMU, sets RESULT (PASS, FAIL, DIED, TIMEOUT).
boot() {
	local serial=$1 start qpid
	# loglevel=3: only critical kernel messages break into the test's output;
	# guest-test.sh prints the nbd lines of dmesg at the end
	local append="console=ttyS0 panic=-1 quiet loglevel=3 ${KLAB_APPEND:-}"
	[ -z "${KLAB_GUEST_ARGS:-}" ] || append="$append klab.args=${KLAB_GUEST_ARGS// /,}"
	log "booting: qemu-system-x86_64 -machine q35 -accel tcg -smp $SMP -m $MEM -nic none (timeout ${TIMEOUT}s)"
	start=$(date +%s)
	: >"$serial"
	# -nic none: no user-mode NIC reaching the host; the guest uses its own lo.
	qemu-system-x86_64 -machine q35 -accel tcg -smp "$SMP" -m "$MEM" -nographic -no-reboot -nic none \
		-kernel "$KC/vmlinuz" -initrd "$WORK/initrd.cpio.gz" -append "$append" \
		</dev/null >"$serial" 2>&1 &
	qpid=$!
	QPID=$qpid
	RESULT=TIMEOUT
	result_line() {
		if grep -aq 'KERNEL-LAB-RESULT: PASS' "$serial"; then RESULT=PASS; return 0; fi
		if grep -aq 'KERNEL-LAB-RESULT: FAIL' "$serial"; then RESULT=FAIL; return 0; fi
		return 1
	}
	while :; do
		result_line && break
		# the guest prints its result and powers off at once: read the log
		# once more after QEMU is gone before calling it dead
		kill -0 "$qpid" 2>/dev/null || { result_line || RESULT=DIED; break; }
		(($(date +%s) - start < TIMEOUT)) || break
		sleep 0.5
	done
	for _ in $(seq 1 60); do kill -0 "$qpid" 2>/dev/null || break; sleep 0.5; done
	if kill -0 "$qpid" 2>/dev/null; then kill "$qpid"; log "qemu did not power off; killed"; fi
	wait "$qpid" 2>/dev/null || true
	QPID=
	log "guest ran $(($(date +%s) - start))s"
}

main() {
	host_tools
	mkdir -p "$CACHE"
	local kpkg kver bb
	kpkg=$(kernel_package)
	extract_kernel "$kpkg"
	kver=$(cat "$KC/version")
	bb=$(busybox_binary)
	log "kernel $kpkg ($kver), busybox $bb"
	WORK=$(mktemp -d /tmp/gomp-kernel-lab.XXXXXX)
	QPID=
	trap 'if [ -n "$QPID" ]; then kill "$QPID" 2>/dev/null || true; fi; if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi' EXIT
	build_initramfs "$kver" "$bb"
	boot "$WORK/serial.log"
	echo "----- guest serial console -----"
	tr -d '\r' <"$WORK/serial.log"
	echo "--------------------------------"
	log "result: $RESULT"
	case $RESULT in
	PASS) exit 0 ;;
	TIMEOUT) exit 124 ;;
	*) exit 1 ;;
	esac
}

main "$@"
