package iscsi

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

// recordReader records the size of every read asked of it.
type recordReader struct {
	r    io.Reader
	asks []int
}

func (r *recordReader) Read(p []byte) (int, error) {
	r.asks = append(r.asks, len(p))
	return r.r.Read(p)
}

func TestReadBufferIsAReader(t *testing.T) {
	data := pattern(100000, 1)
	for name, r := range map[string]io.Reader{
		"plain":    bytes.NewReader(data),
		"one byte": iotest.OneByteReader(bytes.NewReader(data)),
		"half":     iotest.HalfReader(bytes.NewReader(data)),
		"data+err": iotest.DataErrReader(bytes.NewReader(data)),
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, iotest.TestReader(newReadBuffer(r, 4096), data))
		})
	}
}

func TestReadBufferDirectAndExact(t *testing.T) {
	// A header, a large data segment, another header, a small segment, a
	// third header.
	stream := pattern(48+20000+48+100+48, 2)
	rec := &recordReader{r: bytes.NewReader(stream)}
	b := newReadBuffer(rec, 4096)
	got := make([]byte, 0, len(stream))
	read := func(n int) {
		p := make([]byte, n)
		_, err := io.ReadFull(b, p)
		require.NoError(t, err)
		got = append(got, p...)
	}
	read(48)
	require.Equal(t, []int{4096}, rec.asks, "the first header fills the buffer")
	read(20000)
	require.Equal(t, []int{4096, 20000 - (4096 - 48)}, rec.asks, "the rest of a large segment is read in place")
	read(48)
	require.Equal(t, 48, rec.asks[2], "after a direct read, the next header is read alone")
	read(100)
	read(48)
	require.Equal(t, []int{4096, 20000 - (4096 - 48), 48, 100, 4096}, rec.asks,
		"the small segment (second exact fill), then full fills again")
	require.Equal(t, stream, got)
}

func TestReadBufferErrors(t *testing.T) {
	boom := errors.New("boom")
	b := newReadBuffer(io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(boom)), 16)
	p := make([]byte, 8)
	n, err := io.ReadFull(b, p)
	require.Equal(t, 3, n)
	require.ErrorIs(t, err, boom, "the bytes before the error, then the error")
	require.Equal(t, "abc", string(p[:n]))
	b = newReadBuffer(iotest.ErrReader(boom), 16)
	_, err = b.Read(p)
	require.ErrorIs(t, err, boom)
	_, err = b.Read(make([]byte, directMin))
	require.ErrorIs(t, err, boom, "a direct read reports the error too")
}
