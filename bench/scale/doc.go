// Command scale measures one gomp attach serving many LUNs: a tgtd of its
// own (control port -ctl, portals 127.22.64.1..N:3260 on loopback) with
// -luns null LUNs (tgtd's bstype null: no backing data, every read
// completes at once) behind one target, and the real gomp binary attaching
// every LUN through every portal with one NBD socket per device.
//
// It prints one table:
//
//   - attach: the time from starting gomp attach to its last "ready:" line
//     (goal: 64 LUNs in 5 s or less), and the iSCSI sessions tgtd holds for
//     the target (I_T nexuses; one per portal expected, whatever the LUNs);
//   - idle: the gomp process's RSS, Go heap and goroutines with one LUN
//     attached (--lun 1) and with all, and their difference per added
//     device (the Go figures from its --metrics-listen socket);
//   - load: 4 KiB random reads for -time with 1, 8 and all devices busy,
//     one NBD connection per busy device and the same total queue depth
//     (-qd) split between them, so that only the spread over devices
//     changes: IOPS, and the CPU time gomp and tgtd spent per I/O (from
//     /proc/PID/stat). Flat per-I/O cost from 1 to all devices means a
//     device costs nothing while idle and nothing extra while busy.
//
// make bench-scale builds bin/gomp and runs it (root: tgtd and its
// portals). Every process it starts is stopped by pid when it ends.
//
// Not measured: writes, large I/O and the kernel's /dev/nbdN (see make
// bench-kernel). tgtd's null backing store (bs_null.c) completes each
// command at once on tgtd's single event-loop thread, without a worker
// thread or a copy (a 1 TiB LUN that reads back whatever its buffer held):
// the ceiling is that one thread's PDU handling, shared with gomp and the
// readers on the same CPUs, not a disk.
package main
