package nbd

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
)

// Memory backend geometry: data lives in 64 KiB chunks allocated on first
// write; a chunk never written, trimmed whole, or zeroed whole with unmap
// (no NO_HOLE) reads back as zeroes and holds no memory. Chunk access is guarded
// by one of memStripes locks chosen by chunk index.
const (
	memChunkShift = 16
	memChunkSize  = 1 << memChunkShift
	memStripes    = 256
)

type memChunk [memChunkSize]byte

// MemoryBackend is a sparse in-memory Backend. It implements every optional
// interface (Flusher, Trimmer, Zeroer, BlockSizer, Capable, Inliner,
// Receiver) and is safe for concurrent use.
type MemoryBackend struct {
	size      int64
	chunks    []*memChunk // guarded by locks[i%memStripes]
	locks     [memStripes]sync.RWMutex
	allocated atomic.Int64 // chunks in use
}

// NewMemory returns an empty (all-zero) MemoryBackend of size bytes. Memory
// is allocated only as data is written.
func NewMemory(size int64) *MemoryBackend {
	size = max(size, 0)
	return &MemoryBackend{size: size, chunks: make([]*memChunk, (size+memChunkSize-1)>>memChunkShift)}
}

// Size returns the size given to NewMemory.
func (m *MemoryBackend) Size() int64 { return m.size }

// Allocated returns the bytes of memory holding data (a multiple of 64 KiB).
func (m *MemoryBackend) Allocated() int64 { return m.allocated.Load() << memChunkShift }

// BlockSize returns 1, 4096 and 32 MiB: any alignment works.
func (m *MemoryBackend) BlockSize() (minimum, preferred, maximum uint32) {
	return 1, 4096, 32 << 20
}

// CanFlush returns true: the memory backend has every operation.
func (m *MemoryBackend) CanFlush() bool { return true }

// CanFUA returns true.
func (m *MemoryBackend) CanFUA() bool { return true }

// CanTrim returns true.
func (m *MemoryBackend) CanTrim() bool { return true }

// CanZero returns true.
func (m *MemoryBackend) CanZero() bool { return true }

// CanMultiConn returns true: all connections see one store.
func (m *MemoryBackend) CanMultiConn() bool { return true }

// Inline returns true: every call is a memory copy under a striped lock.
func (m *MemoryBackend) Inline() bool { return true }

// ReadOnly returns false.
func (m *MemoryBackend) ReadOnly() bool { return false }

// Flush does nothing: memory is as durable as it gets.
func (m *MemoryBackend) Flush(context.Context) error { return nil }

// check validates a range; a range past the end is ENOSPC for writes and
// EINVAL otherwise.
func (m *MemoryBackend) check(off, n int64, write bool) error {
	if off >= 0 && n >= 0 && off <= m.size && n <= m.size-off {
		return nil
	}
	if write {
		return ErrNoSpace
	}
	return ErrInvalid
}

// span is the part of one chunk that a range covers.
type span struct {
	idx    int64 // chunk index
	lo, hi int   // byte range within the chunk
	done   int64 // bytes of the range before this span
}

// nextSpan returns the span of [off+done, off+n) within its first chunk.
func nextSpan(off, n, done int64) span {
	pos := off + done
	lo := int(pos & (memChunkSize - 1))
	hi := int(min(int64(memChunkSize), int64(lo)+n-done))
	return span{idx: pos >> memChunkShift, lo: lo, hi: hi, done: done}
}

// ReadAt implements io.ReaderAt: ReadAtContext without a context.
func (m *MemoryBackend) ReadAt(p []byte, off int64) (int, error) {
	return m.ReadAtContext(context.Background(), p, off)
}

// WriteAt implements io.WriterAt: WriteAtContext without a context or FUA.
func (m *MemoryBackend) WriteAt(p []byte, off int64) (int, error) {
	return m.WriteAtContext(context.Background(), p, off, false)
}

// ReadAtContext copies from the store into p; unwritten ranges read as
// zeroes.
func (m *MemoryBackend) ReadAtContext(_ context.Context, p []byte, off int64) (int, error) {
	if err := m.check(off, int64(len(p)), false); err != nil {
		return 0, err
	}
	for done := int64(0); done < int64(len(p)); {
		s := nextSpan(off, int64(len(p)), done)
		dst := p[s.done : s.done+int64(s.hi-s.lo)]
		l := &m.locks[s.idx%memStripes]
		l.RLock()
		if c := m.chunks[s.idx]; c != nil {
			copy(dst, c[s.lo:s.hi])
		} else {
			clear(dst)
		}
		l.RUnlock()
		done += int64(len(dst))
	}
	return len(p), nil
}

// WriteAtContext copies p into the store, allocating chunks as needed; fua
// changes nothing.
func (m *MemoryBackend) WriteAtContext(_ context.Context, p []byte, off int64, _ bool) (int, error) {
	if err := m.check(off, int64(len(p)), true); err != nil {
		return 0, err
	}
	for done := int64(0); done < int64(len(p)); {
		s := nextSpan(off, int64(len(p)), done)
		src := p[s.done : s.done+int64(s.hi-s.lo)]
		l := &m.locks[s.idx%memStripes]
		l.Lock()
		copy(m.chunkLocked(s.idx)[s.lo:s.hi], src)
		l.Unlock()
		done += int64(len(src))
	}
	return len(p), nil
}

// ReceiveAt reads n bytes from r straight into the store (see Receiver),
// each chunk's part under its stripe lock: a client that stalls inside a
// payload holds up the requests of other connections on that one stripe
// until it sends on or its connection is closed.
func (m *MemoryBackend) ReceiveAt(_ context.Context, r io.Reader, off, n int64, _ bool) error {
	if err := m.check(off, n, true); err != nil {
		return err
	}
	for done := int64(0); done < n; {
		s := nextSpan(off, n, done)
		l := &m.locks[s.idx%memStripes]
		l.Lock()
		k, err := io.ReadFull(r, m.chunkLocked(s.idx)[s.lo:s.hi])
		l.Unlock()
		if err != nil {
			return err
		}
		done += int64(k)
	}
	return nil
}

// chunkLocked returns chunk idx, allocating it; its stripe lock must be held
// for writing.
func (m *MemoryBackend) chunkLocked(idx int64) *memChunk {
	c := m.chunks[idx]
	if c == nil {
		c = new(memChunk)
		m.chunks[idx] = c
		m.allocated.Add(1)
	}
	return c
}

// Trim discards [off, off+length): whole chunks are freed, partial ones
// zeroed, so trimmed data reads back as zeroes.
func (m *MemoryBackend) Trim(_ context.Context, off, length int64) error {
	if err := m.check(off, length, false); err != nil {
		return err
	}
	m.zero(off, length, true)
	return nil
}

// WriteZeroes zeroes [off, off+length); with unmap whole chunks are freed,
// without it they stay allocated.
func (m *MemoryBackend) WriteZeroes(_ context.Context, off, length int64, unmap bool) error {
	if err := m.check(off, length, true); err != nil {
		return err
	}
	m.zero(off, length, unmap)
	return nil
}

func (m *MemoryBackend) zero(off, length int64, unmap bool) {
	for done := int64(0); done < length; {
		s := nextSpan(off, length, done)
		l := &m.locks[s.idx%memStripes]
		l.Lock()
		m.zeroSpanLocked(s, unmap)
		l.Unlock()
		done += int64(s.hi - s.lo)
	}
}

func (m *MemoryBackend) zeroSpanLocked(s span, unmap bool) {
	c := m.chunks[s.idx]
	switch {
	case !unmap:
		clear(m.chunkLocked(s.idx)[s.lo:s.hi])
	case c == nil:
	case s.lo == 0 && s.hi == memChunkSize:
		m.chunks[s.idx] = nil
		m.allocated.Add(-1)
	default:
		clear(c[s.lo:s.hi])
	}
}
