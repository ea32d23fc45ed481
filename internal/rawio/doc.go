// Package rawio does the reads and vectored writes of a TCP or Unix socket
// with raw system calls on the non-blocking socket, waiting through Go's
// network poller (syscall.RawConn) only when the socket is not ready.
//
// A raw call skips the scheduler's bookkeeping for a call that may block:
// entersyscall and exitsyscall, and the hand-off of the thread's P to
// another thread when the call lasts more than 20 µs, which a loopback
// write that runs the receiver's TCP stack often does. On gomp's data path
// that bookkeeping cost as much as the short reads and writes themselves,
// in context switches and futex calls per command (the README's
// Performance section has the figures). The calls never block (the socket
// is non-blocking), so holding the P through one is short.
//
// Deadlines and Close work as for the wrapped net.Conn, whose other methods
// are promoted. Wrap is Linux-only; elsewhere it returns its argument.
package rawio
