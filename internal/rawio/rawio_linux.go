package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawConn does a socket's reads and vectored writes with raw system calls
// on the non-blocking socket, waiting through Go's poller only when the
// socket is not ready.
type rawConn struct {
	net.Conn
	rc  syscall.RawConn
	net string

	// read in progress
	p       []byte
	n       int
	rerrno  syscall.Errno
	readFn  func(fd uintptr) bool
	bufs    [][]byte // write in progress
	buf     int      // first buffer not fully written
	off     int      // bytes of bufs[buf] written
	wn      int64
	werrno  syscall.Errno
	iov     []syscall.Iovec
	one     [1][]byte // Write's buffer, without allocating
	writeFn func(fd uintptr) bool
}

// maxIov is the most buffers one writev takes (Linux UIO_MAXIOV).
const maxIov = 1024

// Wrap returns c doing its I/O with raw system calls when c is a
// *net.TCPConn or *net.UnixConn, else c itself.
func Wrap(c net.Conn) net.Conn {
	var sc syscall.Conn
	network := "tcp"
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc, network = c, "unix"
	default:
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawConn{Conn: c, rc: rc, net: network, iov: make([]syscall.Iovec, 0, 64)}
	r.readFn, r.writeFn = r.read, r.writev
	return r
}

func (c *rawConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.p, c.n, c.rerrno = p, 0, 0
	err := c.rc.Read(c.readFn)
	c.p = nil
	switch {
	case err != nil:
		return 0, c.opError("read", err)
	case c.rerrno != 0:
		return 0, c.opError("read", os.NewSyscallError("read", c.rerrno))
	case c.n == 0:
		return 0, io.EOF
	}
	raceRead(p[:c.n])
	return c.n, nil
}

func (c *rawConn) read(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.p[0])), uintptr(len(c.p)))
		switch e {
		case 0:
			c.n = int(n)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rerrno = e
		return true
	}
}

// WriteBuffers writes every byte of bufs with as few writev calls as the
// socket allows.
func (c *rawConn) WriteBuffers(bufs [][]byte) (int64, error) {
	c.bufs, c.buf, c.off, c.wn, c.werrno = bufs, 0, 0, 0, 0
	raceWrite(bufs, 1<<62)
	err := c.rc.Write(c.writeFn)
	n := c.wn
	clear(c.iov[:cap(c.iov)])
	c.bufs = nil
	switch {
	case err != nil:
		return n, c.opError("write", err)
	case c.werrno != 0:
		return n, c.opError("write", os.NewSyscallError("writev", c.werrno))
	}
	return n, nil
}

func (c *rawConn) Write(p []byte) (int, error) {
	c.one[0] = p
	n, err := c.WriteBuffers(c.one[:])
	c.one[0] = nil
	return int(n), err
}

func (c *rawConn) writev(fd uintptr) bool {
	for {
		for c.buf < len(c.bufs) && c.off == len(c.bufs[c.buf]) {
			c.buf, c.off = c.buf+1, 0
		}
		if c.buf == len(c.bufs) {
			return true
		}
		iov := c.iov[:0]
		for i := c.buf; i < len(c.bufs) && len(iov) < maxIov; i++ {
			b := c.bufs[i]
			if i == c.buf {
				b = b[c.off:]
			}
			if len(b) == 0 {
				continue
			}
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			iov = append(iov, v)
		}
		c.iov = iov
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
		c.wn += int64(n)
		for left := int(n); left > 0; {
			k := min(left, len(c.bufs[c.buf])-c.off)
			c.off += k
			left -= k
			if c.off == len(c.bufs[c.buf]) {
				c.buf, c.off = c.buf+1, 0
			}
		}
	}
}

// opError names a failure like the net package does; an error of the
// RawConn (deadline, closed connection) is already an *net.OpError, for
// the "raw-read" or "raw-write" operation, and is renamed.
func (c *rawConn) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err
	}
	return &net.OpError{Op: op, Net: c.net, Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}
