package nbd

import (
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestForcedBuffersKept: a socket whose buffers were forced beyond the
// system's maximum (as kernel attach does with its socketpairs) is left
// alone by sizeSocketBuffers.
func TestForcedBuffersKept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SO_SNDBUFFORCE needs CAP_NET_ADMIN")
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(fds[1])
	require.NoError(t, unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, SocketBufferSize))
	f := os.NewFile(uintptr(fds[0]), "forced")
	nc, err := net.FileConn(f)
	f.Close()
	require.NoError(t, err)
	defer nc.Close()
	require.True(t, buffersSized(nc))
	sizeSocketBuffers(nc) // must not cut them back to wmem_max
	require.True(t, buffersSized(nc))

	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	require.False(t, buffersSized(a)) // no socket
}
