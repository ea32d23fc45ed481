package iscsitest

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// PipeBufferSize is the capacity of each direction of a Pipe. A Write blocks
// while the buffer is full, as a TCP socket does when both windows are.
const PipeBufferSize = 4 << 20

// Pipe returns the two ends of an in-memory, full-duplex connection. Unlike
// net.Pipe, each direction is buffered (PipeBufferSize bytes), so both ends
// may write before either reads, as over TCP.
//
// Close is an orderly shutdown: the peer reads what was buffered, then
// io.EOF; its writes fail with EPIPE. CloseAbruptly is a reset: the peer's
// reads and writes fail at once with ECONNRESET and buffered data is lost.
// After either, the closing end's own reads and writes fail with
// net.ErrClosed. Deadlines work as on a net.TCPConn: an operation past its
// deadline fails with an error that wraps os.ErrDeadlineExceeded and whose
// Timeout method reports true. Deadline timers use the time package, so a
// Pipe created inside a testing/synctest bubble runs on the bubble's clock.
func Pipe() (initiator, target *PipeConn) {
	a, b := newHalfPipe(), newHalfPipe()
	initiator = &PipeConn{r: b, w: a, local: pipeAddr("initiator"), remote: pipeAddr("target")}
	target = &PipeConn{r: a, w: b, local: pipeAddr("target"), remote: pipeAddr("initiator")}
	return initiator, target
}

// PipeConn is one end of a Pipe. Its methods are safe for concurrent use.
type PipeConn struct {
	r, w          *halfPipe // r: bytes the peer wrote; w: bytes for the peer
	local, remote pipeAddr
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// Read reads buffered bytes, blocking until some arrive, the peer closes, or
// the read deadline passes.
func (c *PipeConn) Read(p []byte) (int, error) {
	n, err := c.r.read(p)
	return n, c.opError("read", err)
}

// Write writes all of p, blocking while the peer's buffer is full.
func (c *PipeConn) Write(p []byte) (int, error) {
	n, err := c.w.write(p)
	return n, c.opError("write", err)
}

// Close shuts the connection down in order; see Pipe. It is idempotent.
func (c *PipeConn) Close() error {
	c.r.closeReader(false)
	c.w.closeWriter(false)
	return nil
}

// CloseAbruptly resets the connection, as a TCP RST does; see Pipe.
func (c *PipeConn) CloseAbruptly() {
	c.r.closeReader(true)
	c.w.closeWriter(true)
}

// LocalAddr returns a fake address, "initiator" or "target".
func (c *PipeConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the peer's fake address.
func (c *PipeConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets the read and write deadlines.
func (c *PipeConn) SetDeadline(t time.Time) error {
	c.r.setDeadline(&c.r.rdl, t)
	c.w.setDeadline(&c.w.wdl, t)
	return nil
}

// SetReadDeadline sets the deadline of pending and future reads.
func (c *PipeConn) SetReadDeadline(t time.Time) error {
	c.r.setDeadline(&c.r.rdl, t)
	return nil
}

// SetWriteDeadline sets the deadline of pending and future writes.
func (c *PipeConn) SetWriteDeadline(t time.Time) error {
	c.w.setDeadline(&c.w.wdl, t)
	return nil
}

func (c *PipeConn) opError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	return &net.OpError{Op: op, Net: "pipe", Source: c.local, Addr: c.remote, Err: err}
}

// errPipeClosed is this end's own Close, reported as net.ErrClosed.
var errPipeClosed = net.ErrClosed

// halfPipe is one direction of a Pipe: a bounded byte queue with exactly one
// writing end and one reading end.
type halfPipe struct {
	mu      sync.Mutex // guards the following
	cond    sync.Cond  // signalled on every state change
	buf     []byte     // unread bytes are buf[off:]
	off     int
	rclosed bool // the reading end closed
	wclosed bool // the writing end closed
	reset   bool // closed abruptly: both ends fail at once
	rdl     deadline
	wdl     deadline
}

type deadline struct {
	t     time.Time
	timer *time.Timer
}

func newHalfPipe() *halfPipe {
	h := &halfPipe{}
	h.cond.L = &h.mu
	return h
}

func (h *halfPipe) read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		switch {
		case h.rclosed:
			return 0, errPipeClosed
		case h.reset:
			return 0, syscall.ECONNRESET
		case h.off < len(h.buf):
			return h.take(p), nil
		case h.wclosed:
			return 0, io.EOF
		case len(p) == 0:
			return 0, nil
		case h.rdl.expired():
			return 0, os.ErrDeadlineExceeded
		}
		h.cond.Wait()
	}
}

// take moves buffered bytes into p. Called with mu held.
func (h *halfPipe) take(p []byte) int {
	n := copy(p, h.buf[h.off:])
	h.off += n
	if h.off == len(h.buf) {
		h.buf, h.off = h.buf[:0], 0
	}
	h.cond.Broadcast()
	return n
}

func (h *halfPipe) write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for {
		switch {
		case h.wclosed:
			return n, errPipeClosed
		case h.reset:
			return n, syscall.ECONNRESET
		case h.rclosed:
			return n, syscall.EPIPE
		case n == len(p):
			return n, nil
		case h.wdl.expired():
			return n, os.ErrDeadlineExceeded
		}
		if space := PipeBufferSize - (len(h.buf) - h.off); space > 0 {
			n += h.put(p[n:min(len(p), n+space)])
			continue
		}
		h.cond.Wait()
	}
}

// put appends b, compacting the buffer first when that saves growing it.
// Called with mu held.
func (h *halfPipe) put(b []byte) int {
	if h.off > 0 && len(h.buf)+len(b) > cap(h.buf) {
		h.buf = append(h.buf[:0], h.buf[h.off:]...)
		h.off = 0
	}
	h.buf = append(h.buf, b...)
	h.cond.Broadcast()
	return len(b)
}

func (h *halfPipe) closeReader(reset bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rclosed = true
	h.reset = h.reset || reset
	h.cond.Broadcast()
}

func (h *halfPipe) closeWriter(reset bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.wclosed = true
	if reset {
		h.reset, h.buf, h.off = true, nil, 0
	}
	h.cond.Broadcast()
}

// setDeadline replaces d and wakes waiters at the new time.
func (h *halfPipe) setDeadline(d *deadline, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	d.t = t
	if dur := time.Until(t); !t.IsZero() && dur > 0 {
		d.timer = time.AfterFunc(dur, func() {
			h.mu.Lock()
			h.cond.Broadcast()
			h.mu.Unlock()
		})
	}
	h.cond.Broadcast()
}

func (d *deadline) expired() bool { return !d.t.IsZero() && !time.Now().Before(d.t) }

// isClosedErr reports whether err means the connection is gone, as opposed
// to a protocol error.
func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}
