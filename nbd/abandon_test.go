package nbd

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ctxBackend's writes wait for release or their context, and record how
// each ended.
type ctxBackend struct {
	*MemoryBackend
	release   chan struct{}
	started   atomic.Int32
	cancelled atomic.Int32
	written   atomic.Int32
}

func (b *ctxBackend) Inline() bool { return false }

func (b *ctxBackend) WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error) {
	b.started.Add(1)
	select {
	case <-b.release:
		b.written.Add(1)
		return b.MemoryBackend.WriteAtContext(ctx, p, off, fua)
	case <-ctx.Done():
		b.cancelled.Add(1)
		return 0, ctx.Err()
	}
}

// A client that goes away without NBD_CMD_DISC (as the kernel gives a
// socket up when it resends its requests elsewhere) has its requests in
// flight cancelled, so that none of them runs later; after NBD_CMD_DISC
// they are finished and answered.
func TestRequestsOfAGoneClientAreCancelled(t *testing.T) {
	for _, disc := range []bool{false, true} {
		t.Run(map[bool]string{false: "closed", true: "NBD_CMD_DISC"}[disc], func(t *testing.T) {
			be := &ctxBackend{MemoryBackend: NewMemory(1 << 20), release: make(chan struct{})}
			rc := dialRaw(t, startServer(t, &Server{Backend: be}))
			rc.goExport("", false)
			rc.request(Request{Type: CmdWrite, Cookie: 1, Offset: 0, Length: 4096}, make([]byte, 4096))
			require.Eventually(t, func() bool { return be.started.Load() == 1 }, 10*time.Second, time.Millisecond)
			if disc {
				rc.request(Request{Type: CmdDisc, Cookie: 2}, nil)
				close(be.release)
				r, _ := rc.simple(0)
				require.Equal(t, uint64(1), r.Cookie)
				require.Zero(t, r.Errno)
				require.Equal(t, int32(1), be.written.Load())
				rc.expectClosed()
				return
			}
			require.NoError(t, rc.c.Close())
			require.Eventually(t, func() bool { return be.cancelled.Load() == 1 }, 10*time.Second, time.Millisecond)
			close(be.release)
			require.Zero(t, be.written.Load(), "the write of the gone client never ran")
		})
	}
}
