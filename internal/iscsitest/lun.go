package iscsitest

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
)

// chunkSize is the allocation unit of a LUN's sparse store.
const chunkSize = 64 << 10

// LUN is an in-memory block device. Storage is sparse (allocated in 64 KiB
// chunks on first write), so a LUN may be far larger than memory as long as
// tests write little of it; unwritten and unmapped blocks read as zeros.
//
// A LUN may be shared by several Targets, which then expose the same device
// (identity and data) on several paths, as multipath tests need. Its methods
// are safe for concurrent use; set the exported fields before serving.
type LUN struct {
	// Thin makes the LUN thin provisioned: READ CAPACITY(16) sets LBPME
	// and LBPRZ, VPD B2 reports UNMAP and WRITE SAME(16) with UNMAP, and
	// both commands deallocate. Without it they fail with ILLEGAL REQUEST.
	Thin bool
	// Caching is what MODE SENSE reports and what the LUN does with FUA
	// and writes; nil is a volatile write cache with DPO and FUA. Set it
	// before serving; SetCaching changes it later.
	Caching *Caching
	// Unsupported lists operation codes the LUN answers with ILLEGAL
	// REQUEST, INVALID COMMAND OPERATION CODE (20/00), as a target that
	// lacks them does.
	Unsupported map[byte]bool

	blocks    atomic.Uint64 // SetBlocks may change it while serving
	blockSize uint32

	mu       sync.Mutex // guards the following
	chunks   map[uint64][]byte
	serial   string
	naa      [16]byte
	identity bool // serial and naa are set
}

// Caching describes a LUN's cache as MODE SENSE reports it (the Caching
// page's WCE and RCD, the device-specific parameter's DPOFUA and WP), and
// how it treats writes: a write with FUA on a LUN without DPOFUA, or with
// RefuseFUA, fails with INVALID FIELD IN CDB (24/00), as LIO without a
// write cache does; any write to a write-protected LUN fails with DATA
// PROTECT, WRITE PROTECTED (27/00).
type Caching struct {
	WriteCache, ReadCacheDisabled, DPOFUA, WriteProtect bool
	RefuseFUA                                           bool
}

var defaultCaching = Caching{WriteCache: true, DPOFUA: true}

func (l *LUN) caching() Caching {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Caching == nil {
		return defaultCaching
	}
	return *l.Caching
}

// SetCaching changes the LUN's cache mode while it is served (a target
// would announce it with MODE PARAMETERS CHANGED: see Conn.UnitAttention).
func (l *LUN) SetCaching(c Caching) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Caching = &c
}

// NewLUN returns a zeroed LUN of blocks blocks of blockSize bytes (512 or a
// larger power of two). Its identity is set by SetIdentity, or by the first
// Target it is given to, from the target name and LUN number.
func NewLUN(blocks uint64, blockSize uint32) *LUN {
	if blockSize < 512 || blockSize&(blockSize-1) != 0 {
		panic(fmt.Sprintf("iscsitest: NewLUN: block size %d is not a power of two >= 512", blockSize))
	}
	l := &LUN{blockSize: blockSize, chunks: make(map[uint64][]byte)}
	l.blocks.Store(blocks)
	return l
}

// SetIdentity derives the LUN's unit serial number (VPD 0x80) and its NAA 6
// designator (VPD 0x83) from seed, deterministically. It returns l.
func (l *LUN) SetIdentity(seed uint64) *LUN {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setIdentityLocked(seed)
	return l
}

func (l *LUN) setIdentityLocked(seed uint64) {
	h := fnv.New64a()
	_ = binary.Write(h, binary.BigEndian, seed)
	x := h.Sum64()
	l.serial = fmt.Sprintf("GOMP%016X", x)
	// NAA 6 (IEEE Registered Extended): NAA nibble, a 24-bit company ID
	// (0x0014a5, an arbitrary fixed value), then 100 bits from the seed.
	l.naa = [16]byte{0x60, 0x01, 0x4a, 0x50}
	binary.BigEndian.PutUint32(l.naa[4:], uint32(x>>32))
	binary.BigEndian.PutUint64(l.naa[8:], x^seed)
	l.identity = true
}

// adopt gives the LUN an identity from seed unless it has one.
func (l *LUN) adopt(seed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.identity {
		l.setIdentityLocked(seed)
	}
}

// Serial returns the unit serial number.
func (l *LUN) Serial() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.serial
}

// NAA returns the 16-byte NAA 6 designator.
func (l *LUN) NAA() [16]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.naa
}

// Blocks returns the number of logical blocks.
func (l *LUN) Blocks() uint64 { return l.blocks.Load() }

// SetBlocks resizes the LUN to blocks blocks while it is served, as an
// array's volume resize does; blocks beyond a smaller size are dropped.
// The initiators learn it from READ CAPACITY, or from the unit attention
// CAPACITY DATA HAS CHANGED (2A/09) that a test raises with
// Conn.UnitAttention.
func (l *LUN) SetBlocks(blocks uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blocks.Store(blocks)
	end := blocks * uint64(l.blockSize)
	for c, chunk := range l.chunks {
		switch start := c * chunkSize; {
		case start >= end:
			delete(l.chunks, c)
		case start+uint64(len(chunk)) > end:
			clear(chunk[end-start:])
		}
	}
}

// BlockSize returns the logical block size in bytes.
func (l *LUN) BlockSize() uint32 { return l.blockSize }

// Size returns the capacity in bytes.
func (l *LUN) Size() int64 { return int64(l.Blocks()) * int64(l.blockSize) }

// ReadAt reads len(p) bytes at byte offset off. It fails past the end.
func (l *LUN) ReadAt(p []byte, off int64) (int, error) {
	if err := l.check(off, len(p)); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.span(off, len(p), func(c uint64, in, at int, n int) {
		if chunk := l.chunks[c]; chunk != nil {
			copy(p[at:at+n], chunk[in:])
		} else {
			clear(p[at : at+n])
		}
	})
	return len(p), nil
}

// WriteAt writes p at byte offset off. It fails past the end.
func (l *LUN) WriteAt(p []byte, off int64) (int, error) {
	if err := l.check(off, len(p)); err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.span(off, len(p), func(c uint64, in, at int, n int) {
		chunk := l.chunks[c]
		if chunk == nil {
			chunk = make([]byte, chunkSize)
			l.chunks[c] = chunk
		}
		copy(chunk[in:in+n], p[at:])
	})
	return len(p), nil
}

// Unmap deallocates n blocks from lba: they read as zeros afterwards.
func (l *LUN) Unmap(lba, n uint64) error {
	off, size := int64(lba)*int64(l.blockSize), int64(n)*int64(l.blockSize)
	if blocks := l.Blocks(); lba > blocks || n > blocks-lba {
		return fmt.Errorf("iscsitest: unmap of %d blocks at %d beyond %d blocks", n, lba, blocks)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for done := int64(0); done < size; {
		step := min(size-done, 1<<30)
		l.span(off+done, int(step), func(c uint64, in, _ int, n int) {
			if n == chunkSize {
				delete(l.chunks, c)
			} else if chunk := l.chunks[c]; chunk != nil {
				clear(chunk[in : in+n])
			}
		})
		done += step
	}
	return nil
}

// Allocated returns the bytes of backing store in use, a multiple of the
// 64 KiB chunk size: it drops when whole chunks are unmapped.
func (l *LUN) Allocated() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.chunks)) * chunkSize
}

func (l *LUN) check(off int64, n int) error {
	if off < 0 || off > l.Size() || int64(n) > l.Size()-off {
		return fmt.Errorf("iscsitest: access of %d bytes at %d beyond LUN size %d", n, off, l.Size())
	}
	return nil
}

// span calls fn for each chunk piece of [off, off+n): chunk index, offset in
// the chunk, offset in the caller's range, and length.
func (l *LUN) span(off int64, n int, fn func(chunk uint64, in, at, n int)) {
	for at := 0; at < n; {
		pos := off + int64(at)
		c, in := uint64(pos/chunkSize), int(pos%chunkSize)
		step := min(n-at, chunkSize-in)
		fn(c, in, at, step)
		at += step
	}
}
