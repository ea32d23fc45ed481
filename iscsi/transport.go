package iscsi

import (
	"net"
	"time"

	"github.com/gomp-dev/gomp/internal/rawio"
	"github.com/gomp-dev/gomp/pdu"
)

// transport is one TCP connection with its Framer. Its write side is a
// BuffersWriter, so each Flush is one writev with payloads unjoined.
type transport struct {
	conn net.Conn
	fr   *pdu.Framer
	w    buffersConn
}

func newTransport(c net.Conn) *transport {
	t := &transport{conn: c}
	rc := rawio.Wrap(c)
	t.w.Conn = rc
	t.fr = pdu.NewFramer(newReadBuffer(rc, 64<<10), &t.w)
	return t
}

// buffersConn writes vectored through net.Buffers; the net.Buffers value
// lives in the struct so that WriteBuffers does not allocate.
type buffersConn struct {
	net.Conn
	nb net.Buffers
}

func (b *buffersConn) WriteBuffers(bufs [][]byte) (int64, error) {
	return rawio.WriteBuffers(b.Conn, bufs, &b.nb)
}

// Deadlines used to interrupt blocking reads when a context ends.
var (
	zeroTime time.Time
	pastTime = time.Unix(1, 0)
)
