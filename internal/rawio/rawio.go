package rawio

import "net"

// WriteBuffers writes every byte of bufs to c with as few system calls as
// it can: the raw writev of a conn from Wrap, else net.Buffers (writev for
// the net package's own conns, a Write per buffer for others). nb is the
// caller's net.Buffers, kept by the caller so that the call does not
// allocate.
func WriteBuffers(c net.Conn, bufs [][]byte, nb *net.Buffers) (int64, error) {
	if w, ok := c.(interface {
		WriteBuffers([][]byte) (int64, error)
	}); ok {
		return w.WriteBuffers(bufs)
	}
	*nb = bufs
	n, err := nb.WriteTo(c)
	*nb = nil
	return n, err
}
