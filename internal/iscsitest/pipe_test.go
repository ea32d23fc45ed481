package iscsitest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

var _ net.Conn = (*PipeConn)(nil)

// Both ends write 1 MiB before reading: net.Pipe would deadlock here.
func TestPipeBothWriteFirst(t *testing.T) {
	a, b := Pipe()
	msgA, msgB := pattern(1<<20, 1), pattern(1<<20, 2)
	_, err := a.Write(msgA)
	require.NoError(t, err)
	_, err = b.Write(msgB)
	require.NoError(t, err)
	gotA, gotB := make([]byte, len(msgB)), make([]byte, len(msgA))
	_, err = io.ReadFull(a, gotA)
	require.NoError(t, err)
	_, err = io.ReadFull(b, gotB)
	require.NoError(t, err)
	require.Equal(t, msgB, gotA)
	require.Equal(t, msgA, gotB)
}

func TestPipeClose(t *testing.T) {
	a, b := Pipe()
	_, err := a.Write([]byte("abc"))
	require.NoError(t, err)
	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "idempotent")

	got, err := io.ReadAll(b)
	require.NoError(t, err, "the peer drains, then reads EOF")
	require.Equal(t, "abc", string(got))
	_, err = b.Write([]byte("x"))
	require.ErrorIs(t, err, syscall.EPIPE)

	_, err = a.Read(make([]byte, 1))
	require.ErrorIs(t, err, net.ErrClosed)
	_, err = a.Write([]byte("x"))
	require.ErrorIs(t, err, net.ErrClosed)
	require.Equal(t, "initiator", a.LocalAddr().String())
	require.Equal(t, "target", a.RemoteAddr().String())
}

func TestPipeCloseAbruptly(t *testing.T) {
	a, b := Pipe()
	_, err := a.Write([]byte("lost"))
	require.NoError(t, err)
	a.CloseAbruptly()
	_, err = b.Read(make([]byte, 4))
	require.ErrorIs(t, err, syscall.ECONNRESET, "buffered data is lost on reset")
	_, err = b.Write([]byte("x"))
	require.ErrorIs(t, err, syscall.ECONNRESET)
}

func TestPipeDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := Pipe()
		defer a.Close()
		defer b.Close()
		start := time.Now()
		require.NoError(t, a.SetReadDeadline(start.Add(time.Second)))
		_, err := a.Read(make([]byte, 1))
		var ne net.Error
		require.ErrorAs(t, err, &ne)
		require.True(t, ne.Timeout())
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.Equal(t, time.Second, time.Since(start))

		require.NoError(t, a.SetReadDeadline(time.Time{}))
		_, err = b.Write([]byte("y"))
		require.NoError(t, err)
		n, err := a.Read(make([]byte, 1))
		require.NoError(t, err, "a cleared deadline no longer fires")
		require.Equal(t, 1, n)

		// A write blocked on a full buffer times out too.
		require.NoError(t, b.SetWriteDeadline(time.Now().Add(time.Minute)))
		n, err = b.Write(make([]byte, PipeBufferSize+10))
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		require.Equal(t, PipeBufferSize, n)
	})
}

// A deadline set while a Read is blocked wakes it.
func TestPipeDeadlineWakesBlockedRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := Pipe()
		defer b.Close()
		errc := make(chan error)
		go func() {
			_, err := a.Read(make([]byte, 1))
			errc <- err
		}()
		synctest.Wait()
		require.NoError(t, a.SetDeadline(time.Now().Add(-time.Second)))
		require.ErrorIs(t, <-errc, os.ErrDeadlineExceeded)
	})
}

// Concurrent readers and writers in both directions; run with -race.
func TestPipeConcurrent(t *testing.T) {
	a, b := Pipe()
	msg := pattern(3<<20, 9)
	var wg sync.WaitGroup
	results := make([][]byte, 2)
	for i, pair := range [][2]*PipeConn{{a, b}, {b, a}} {
		wg.Go(func() {
			for off := 0; off < len(msg); off += 777 {
				_, err := pair[0].Write(msg[off:min(off+777, len(msg))])
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			var buf bytes.Buffer
			_, err := io.CopyN(&buf, pair[1], int64(len(msg)))
			if err != nil {
				t.Error(err)
			}
			results[i] = buf.Bytes()
		})
	}
	wg.Wait()
	require.Equal(t, msg, results[0])
	require.Equal(t, msg, results[1])
	require.NoError(t, a.Close())
	_, err := b.Read(make([]byte, 1))
	require.True(t, errors.Is(err, io.EOF))
}
