//go:build linux

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pair returns two connected sockets of network ("tcp" or "unix"), the
// first wrapped.
func pair(t *testing.T, network string) (net.Conn, net.Conn) {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "s")
	}
	ln, err := net.Listen(network, addr)
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial(network, ln.Addr().String())
	require.NoError(t, err)
	peer := <-accepted
	require.NotNil(t, peer)
	w := Wrap(c)
	require.IsType(t, &rawConn{}, w)
	t.Cleanup(func() { w.Close(); peer.Close() })
	return w, peer
}

func TestRoundTrip(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			c, peer := pair(t, network)
			// More buffers than one writev takes, empty ones among them,
			// and more bytes than the socket buffers hold, so that writes
			// are partial and wait for the reader.
			var bufs [][]byte
			var want []byte
			for i := range 3000 {
				b := bytes.Repeat([]byte{byte(i)}, i%7*1111)
				bufs = append(bufs, b)
				want = append(want, b...)
			}
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(peer)
				got <- b
			}()
			n, err := c.(interface {
				WriteBuffers([][]byte) (int64, error)
			}).WriteBuffers(bufs)
			require.NoError(t, err)
			require.Equal(t, int64(len(want)), n)
			m, err := c.Write([]byte("end"))
			require.NoError(t, err)
			require.Equal(t, 3, m)
			require.NoError(t, c.(*rawConn).Conn.(interface{ CloseWrite() error }).CloseWrite())
			require.Equal(t, append(want, "end"...), <-got)

			// Reading: a read waits for data, returns what is there, then EOF.
			go func() {
				time.Sleep(20 * time.Millisecond)
				peer.Write([]byte("hello"))
				peer.Close()
			}()
			b, err := io.ReadAll(c)
			require.NoError(t, err)
			require.Equal(t, "hello", string(b))
			n2, err := c.Read(make([]byte, 10))
			require.Equal(t, 0, n2)
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

func TestDeadlineAndClose(t *testing.T) {
	c, peer := pair(t, "tcp")
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Millisecond)))
	_, err := c.Read(make([]byte, 10))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var oe *net.OpError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, "read", oe.Op)
	require.True(t, oe.Timeout())

	require.NoError(t, c.SetReadDeadline(time.Time{}))
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 10))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	require.ErrorIs(t, <-done, net.ErrClosed, "Close wakes a waiting read")
	_, err = c.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
	_ = peer
}

func TestResetIsAnError(t *testing.T) {
	c, peer := pair(t, "tcp")
	require.NoError(t, peer.(*net.TCPConn).SetLinger(0))
	peer.Close()
	_, err := c.Read(make([]byte, 10))
	require.Error(t, err)
	require.False(t, errors.Is(err, io.EOF), "a reset is not a clean end: %v", err)
	require.Contains(t, err.Error(), "read tcp")
}

func TestWrapOther(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	require.Equal(t, a, Wrap(a), "not a socket: unchanged")
}

func TestNoAllocs(t *testing.T) {
	c, peer := pair(t, "unix")
	buf := make([]byte, 4096)
	in := make([]byte, 48+4096)
	bufs := [][]byte{buf[:48], buf}
	w := c.(interface {
		WriteBuffers([][]byte) (int64, error)
	})
	go io.Copy(peer, peer) // echo
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := w.WriteBuffers(bufs); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// TestHappensBefore: memory written before a socket write is visible to
// the goroutine that read those bytes, for the race detector too (under
// -race, a missing annotation of the raw calls reports a race here).
func TestHappensBefore(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		a, peer := pair(t, network)
		b := Wrap(peer)
		var shared int
		go func() {
			shared = 42
			a.Write([]byte{1})
		}()
		_, err := io.ReadFull(b, make([]byte, 1))
		require.NoError(t, err)
		require.Equal(t, 42, shared)
	}
}

// TestSocketpair: the kernel nbd driver's sockets are an unnamed socketpair
// made into net.Conns with net.FileConn.
func TestSocketpair(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	require.NoError(t, err)
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		conns[i], err = net.FileConn(f)
		require.NoError(t, err)
		f.Close()
		defer conns[i].Close()
	}
	a, b := Wrap(conns[0]), Wrap(conns[1])
	require.IsType(t, &rawConn{}, a)
	_, err = a.Write([]byte("ping"))
	require.NoError(t, err)
	p := make([]byte, 4)
	_, err = io.ReadFull(b, p)
	require.NoError(t, err)
	require.Equal(t, "ping", string(p))
	conns[0].Close()
	_, err = b.Read(p)
	require.ErrorIs(t, err, io.EOF)
}
