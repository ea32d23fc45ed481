// Command ublkmem serves an in-memory disk on a kernel /dev/ublkbN until
// SIGTERM or SIGINT: the ublk twin of kernelbench, measuring the kernel's
// ublk driver (io_uring passthrough commands, CONFIG_BLK_DEV_UBLK) with
// nothing behind it, to compare with NBD's ceiling in the kernel lab's guest.
// It prints "ready: ublk /dev/ublkbN" once the device serves I/O.
//
// The io_uring and ublk plumbing is written by hand with the standard
// library and golang.org/x/sys/unix (no cgo): one io_uring (SQE128) for the
// control commands on /dev/ublk-control and one per hardware queue, each
// driven by a goroutine locked to its OS thread, as the driver requires.
// READ and WRITE copy between the memory and the per-tag buffers the kernel
// fills or drains; FLUSH is a no-op; DISCARD and WRITE_ZEROES zero the range;
// other operations are answered -EOPNOTSUPP.
package main
