#!/bin/busybox sh
# scripts/kernel-lab/guest-init.sh — /init of the kernel-lab guest (PID 1).
# Generic setup only: file systems, the preloaded modules, loopback, then
# /guest-test.sh; prints KERNEL-LAB-RESULT: PASS or FAIL from its exit code
# (run.sh waits for that line) and powers off.
/bin/busybox mkdir -p /usr/bin /usr/sbin /var/run/tgtd
/bin/busybox --install -s
export PATH=/usr/local/bin:/usr/local/sbin:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# CONFIG_DEVTMPFS=y but DEVTMPFS_MOUNT does not apply to an initramfs
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
. /etc/kernel-lab.env
echo "kernel-lab: init at uptime $(cut -d' ' -f1 /proc/uptime)s, kernel $(uname -r), $(nproc) cpu(s)"

for m in $(cat /etc/kernel-lab.preload); do
	# crc32c-intel needs SSE4.2, which TCG's default CPU lacks (ENODEV):
	# crc32c_generic covers it
	insmod "/lib/modules/$KVER/$m" 2>/tmp/insmod.err ||
		echo "kernel-lab: insmod $(basename "$m"): $(sed 's/.*: //' /tmp/insmod.err)"
done
ip link set lo up

args=$(sed -n 's/.*klab\.args=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' ')
# busybox timeout sends one signal: KILL, so a stuck test cannot hang the guest
timeout -s KILL 1000 sh /guest-test.sh $args
rc=$?
echo "kernel-lab: guest-test.sh exit $rc at uptime $(cut -d' ' -f1 /proc/uptime)s"
if [ $rc = 0 ]; then echo "KERNEL-LAB-RESULT: PASS"; else echo "KERNEL-LAB-RESULT: FAIL (exit $rc)"; fi
sync
poweroff -f
