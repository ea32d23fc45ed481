package nbd

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMaxConns: Serve closes a connection beyond MaxConns at once, before
// any greeting, and admits one again when a served connection ends.
func TestMaxConns(t *testing.T) {
	path := startServer(t, &Server{Backend: NewMemory(1 << 20), MaxConns: 2})
	a, b := dialRaw(t, path), dialRaw(t, path)
	a.read(18) // both greeted: both counted
	b.read(18)
	extra := dialRaw(t, path)
	extra.expectClosed()
	a.c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dialRaw(t, path)
		buf := make([]byte, 18)
		if _, err := c.c.Read(buf); err == nil {
			break // greeted: admitted again
		}
		require.True(t, time.Now().Before(deadline), "a slot must free up when a connection ends")
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMaxTotalInFlightBytes: two connections each send a read as large as
// the server-wide budget; the second is not buffered (the backend does not
// see it) until the first is answered, and then it is served.
func TestMaxTotalInFlightBytes(t *testing.T) {
	const size = 1 << 20
	release := make(chan struct{})
	var started atomic.Int32
	be := &hookBackend{MemoryBackend: NewMemory(4 << 20), before: func(int64) error {
		started.Add(1)
		<-release
		return nil
	}}
	srv := &Server{Backend: be, MaxRequest: size, MaxTotalInFlightBytes: size}
	path := startServer(t, srv)
	a, b := dialRaw(t, path), dialRaw(t, path)
	a.goExport("", false)
	b.goExport("", false)
	a.request(Request{Type: CmdRead, Cookie: 1, Offset: 0, Length: size}, nil)
	require.Eventually(t, func() bool { return started.Load() == 1 }, 10*time.Second, 5*time.Millisecond)
	b.request(Request{Type: CmdRead, Cookie: 2, Offset: size, Length: size}, nil)
	require.Eventually(t, srv.mem.waiting, 10*time.Second, 5*time.Millisecond, "b's read waits for the budget")
	require.Equal(t, int32(1), started.Load(), "the second read must wait for the budget")
	require.Equal(t, int64(size), srv.mem.inUse())
	close(release)
	r, data := a.simple(size)
	require.Equal(t, uint64(1), r.Cookie)
	require.Len(t, data, size)
	r, data = b.simple(size)
	require.Equal(t, uint64(2), r.Cookie)
	require.Len(t, data, size)
	a.disc()
	b.disc()
	require.Equal(t, int64(0), srv.mem.inUse(), "every byte given back")
}

// TestMaxTotalInFlightBytesInline: with an inline backend, a connection
// whose own held replies fill the budget writes them instead of waiting
// for itself.
func TestMaxTotalInFlightBytesInline(t *testing.T) {
	const size = 64 << 10
	srv := &Server{Backend: NewMemory(1 << 20), MaxRequest: size, MaxTotalInFlightBytes: size}
	rc := dialRaw(t, startServer(t, srv))
	rc.goExport("", false)
	for i := range 8 {
		rc.request(Request{Type: CmdRead, Cookie: uint64(i), Offset: uint64(i) * size, Length: size}, nil)
	}
	seen := map[uint64]bool{}
	for range 8 {
		r, data := rc.simple(size)
		require.Zero(t, r.Errno)
		require.Len(t, data, size)
		seen[r.Cookie] = true
	}
	require.Len(t, seen, 8)
	rc.disc()
	require.Equal(t, int64(0), srv.mem.inUse())
}
