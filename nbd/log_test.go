package nbd

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestProtocolViolationLogged: a dropped connection leaves one clear warning
// naming the client and the cause.
func TestProtocolViolationLogged(t *testing.T) {
	var logs syncBuffer
	srv := &Server{Backend: NewMemory(1 << 20), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	path := startServer(t, srv)
	rc := dialRaw(t, path)
	rc.goExport("", false)
	rc.write(unhex(t, `12560953 0000 0000 0000000000000001 0000000000000000 00000200 // historic magic`))
	rc.expectClosed()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "protocol violation") },
		5*time.Second, time.Millisecond)
	line := logs.String()
	require.Equal(t, 1, strings.Count(line, "\n"), line)
	require.Contains(t, line, "level=WARN")
	require.Contains(t, line, "peer=unix:"+path)
	require.Contains(t, line, "nbd: client unix:"+path+": protocol violation: request magic 0x12560953")
}
