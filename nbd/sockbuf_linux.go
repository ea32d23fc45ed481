package nbd

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// buffersSized reports whether nc's send buffer already holds
// SocketBufferSize (forced by kernel attach code on its socketpairs), which
// SetWriteBuffer would cut back to the system's maximum.
func buffersSized(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	v := 0
	raw.Control(func(fd uintptr) {
		v, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
	})
	return err == nil && v >= SocketBufferSize
}
