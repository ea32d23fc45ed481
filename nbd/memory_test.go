package nbd

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemoryReadWrite(t *testing.T) {
	ctx := context.Background()
	const size = 3*memChunkSize + 1000 // a partial last chunk
	m := NewMemory(size)
	require.EqualValues(t, size, m.Size())
	zero := make([]byte, size)
	got := make([]byte, size)
	_, err := m.ReadAtContext(ctx, got, 0)
	require.NoError(t, err)
	require.Equal(t, zero, got)
	require.Zero(t, m.Allocated())

	data := pattern(2*memChunkSize+10, 3) // touches chunks 0 to 3
	n, err := m.WriteAtContext(ctx, data, memChunkSize-5, false)
	require.NoError(t, err)
	require.Equal(t, len(data), n)
	require.EqualValues(t, 4*memChunkSize, m.Allocated())
	back := make([]byte, len(data))
	_, err = m.ReadAtContext(ctx, back, memChunkSize-5)
	require.NoError(t, err)
	require.Equal(t, data, back)

	tail := pattern(1000, 9)
	_, err = m.WriteAtContext(ctx, tail, 3*memChunkSize, true)
	require.NoError(t, err)
	_, err = m.ReadAtContext(ctx, back[:1000], 3*memChunkSize)
	require.NoError(t, err)
	require.Equal(t, tail, back[:1000])
}

func TestMemoryBounds(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(8192)
	_, err := m.WriteAtContext(ctx, make([]byte, 2), 8191, false)
	require.ErrorIs(t, err, ErrNoSpace)
	_, err = m.ReadAtContext(ctx, make([]byte, 2), 8191)
	require.ErrorIs(t, err, ErrInvalid)
	_, err = m.ReadAtContext(ctx, make([]byte, 1), -1)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorIs(t, m.Trim(ctx, 0, 8193), ErrInvalid)
	require.ErrorIs(t, m.WriteZeroes(ctx, 8000, 200, true), ErrNoSpace)
	_, err = m.ReadAtContext(ctx, make([]byte, 0), 8192) // empty at the end is fine
	require.NoError(t, err)
}

func TestMemoryTrimAndZeroes(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(4 * memChunkSize)
	full := pattern(4*memChunkSize, 1)
	_, err := m.WriteAtContext(ctx, full, 0, false)
	require.NoError(t, err)
	require.EqualValues(t, 4*memChunkSize, m.Allocated())

	// Trim chunk 1 whole and 100 bytes of chunk 2: one chunk freed.
	require.NoError(t, m.Trim(ctx, memChunkSize, memChunkSize+100))
	require.EqualValues(t, 3*memChunkSize, m.Allocated())
	// Zero chunk 3 keeping it allocated (no unmap: NO_HOLE), then punch chunk 0.
	require.NoError(t, m.WriteZeroes(ctx, 3*memChunkSize, memChunkSize, false))
	require.EqualValues(t, 3*memChunkSize, m.Allocated())
	require.NoError(t, m.WriteZeroes(ctx, 0, memChunkSize, true))
	require.EqualValues(t, 2*memChunkSize, m.Allocated())

	want := append([]byte(nil), full...)
	clear(want[0 : 2*memChunkSize+100])
	clear(want[3*memChunkSize:])
	got := make([]byte, len(want))
	_, err = m.ReadAtContext(ctx, got, 0)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NoError(t, m.Flush(ctx))
}

func TestMemoryInterfaces(t *testing.T) {
	var b Backend = NewMemory(1 << 20)
	_, ok := b.(interface {
		io.ReaderAt
		io.WriterAt
	})
	require.True(t, ok, "io.ReaderAt and io.WriterAt, as iscsi.LUN and multipath.Device")
	_, ok = b.(Flusher)
	require.True(t, ok)
	_, ok = b.(Trimmer)
	require.True(t, ok)
	_, ok = b.(Zeroer)
	require.True(t, ok)
	mn, pr, mx := b.(BlockSizer).BlockSize()
	require.True(t, validBlockSizes(mn, pr, mx))
	c := b.(Capable)
	require.True(t, c.CanFlush() && c.CanFUA() && c.CanTrim() && c.CanZero() && c.CanMultiConn())
	require.False(t, c.ReadOnly())
	require.Equal(t, FlagHasFlags|FlagSendFlush|FlagSendFUA|FlagSendTrim|FlagSendWriteZeroes|FlagCanMultiConn, ExportFlags(b))
	require.Equal(t, FlagHasFlags, ExportFlags(plainBackend{NewMemory(1)}))
	require.Equal(t, FlagHasFlags|FlagReadOnly|FlagSendFlush|FlagCanMultiConn, ExportFlags(roBackend{NewMemory(1)}))
}

// TestMemoryConcurrent runs writers and readers on overlapping chunks under
// the race detector; each goroutine owns its bytes, so results are exact.
func TestMemoryConcurrent(t *testing.T) {
	ctx := context.Background()
	m := NewMemory(1 << 20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				off := int64((i*8+g)*512) % (1 << 20)
				p := pattern(512, byte(g))
				if _, err := m.WriteAtContext(ctx, p, off, false); err != nil {
					t.Error(err)
					return
				}
				got := make([]byte, 512)
				if _, err := m.ReadAtContext(ctx, got, off); err != nil || string(got) != string(p) {
					t.Errorf("goroutine %d: read back differs at %d (%v)", g, off, err)
					return
				}
				if i%50 == 0 {
					m.Trim(ctx, off, 512)
				}
			}
		})
	}
	wg.Wait()
}
