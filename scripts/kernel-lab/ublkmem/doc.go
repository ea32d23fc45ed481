// Command ublkmem serves a disk on a kernel /dev/ublkbN until SIGTERM or
// SIGINT: either an in-memory disk (the default) or, with -target, a LUN
// through gomp's multipath (multipath.Open over one path per -portal), to
// put "gomp over ublk" beside "gomp over NBD" in the kernel lab's guest.
// In memory mode it is the ublk twin of kernelbench, measuring the
// kernel's ublk driver (io_uring passthrough commands,
// CONFIG_BLK_DEV_UBLK) with nothing behind it, to compare with NBD's
// ceiling. It prints "ready: ublk /dev/ublkbN" (memory) or
// "ready: ALIAS /dev/ublkbN" (-target; -alias, default ublkgomp) once the
// device serves I/O. On SIGTERM it stops the ublk device, then closes the
// multipath device.
//
// The io_uring and ublk plumbing is written by hand with the standard
// library and golang.org/x/sys/unix (no cgo): one io_uring (SQE128) for the
// control commands on /dev/ublk-control and one per hardware queue, each
// driven by a goroutine locked to its OS thread, as the driver requires.
//
// The memory disk is served synchronously on the queue thread: READ and
// WRITE copy between the memory and the per-tag buffers the kernel fills
// or drains; FLUSH is a no-op; DISCARD and WRITE_ZEROES zero the range;
// other operations are answered -EOPNOTSUPP.
//
// A LUN (and the memory disk with -async) is served asynchronously, as a
// backend that waits on the network must be: the queue thread hands each
// request's tag to a pool of depth worker goroutines, which call
// ReadAtContext, WriteAtContext (FUA from UBLK_IO_F_FUA), Flush, Trim or
// WriteZeroes on the tag's buffer, queue the result and write an eventfd;
// the queue thread keeps an IORING_OP_READ of that eventfd armed on its
// ring, and on its completion commits every finished tag
// (COMMIT_AND_FETCH_REQ) in one io_uring_enter. A failed request is
// committed as -EIO. The device advertises a volatile cache and FUA when
// the LUN has them, DISCARD when it unmaps, WRITE_ZEROES always, and
// requests up to the LUN's transfer limit capped by -maxio.
package main
