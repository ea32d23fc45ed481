package nbd

import (
	"context"
	"io"
)

// Backend is the storage behind an export. The server calls it from several
// goroutines at once (up to MaxInFlight per connection, and from every
// connection), so implementations must be safe for concurrent use.
//
// Buffers passed to ReadAtContext and WriteAtContext belong to the server and
// are valid only
// until the call returns. The server validates offset, length, alignment and
// read-only state before calling, so a Backend sees only requests that lie
// inside [0, Size()). Errors are mapped to NBD errno values with ErrnoOf;
// return an *Error (or one of ErrNoSpace, ErrInvalid, …) to choose one.
// The context is cancelled when the client's connection goes away or the
// server is stopped.
type Backend interface {
	// ReadAtContext fills p from offset off; a short read without error is
	// EIO.
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
	// WriteAtContext writes p at offset off. With fua the data must be
	// durable when it returns (NBD_CMD_FLAG_FUA).
	WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error)
	// Size is the export size in bytes; it must not change while served.
	Size() int64
}

// Flusher is implemented by backends with a volatile write cache. Having it
// advertises NBD_FLAG_SEND_FLUSH and NBD_FLAG_SEND_FUA (unless Capable
// says otherwise).
type Flusher interface {
	// Flush makes every completed write durable.
	Flush(ctx context.Context) error
}

// Trimmer is implemented by backends that can discard data; it advertises
// NBD_FLAG_SEND_TRIM (unless Capable says otherwise).
type Trimmer interface {
	// Trim discards [off, off+length); the range may read back as anything
	// until rewritten.
	Trim(ctx context.Context, off, length int64) error
}

// Zeroer is implemented by backends that can write zeroes without a payload;
// it advertises NBD_FLAG_SEND_WRITE_ZEROES (unless Capable says otherwise).
type Zeroer interface {
	// WriteZeroes makes [off, off+length) read back as zeroes. With unmap
	// the backend may deallocate the range (punch a hole); without it the
	// range must stay allocated. The server passes unmap false for
	// NBD_CMD_FLAG_NO_HOLE.
	WriteZeroes(ctx context.Context, off, length int64, unmap bool) error
}

// BlockSizer is implemented by backends with size constraints (proto.md "Size
// constraints"); they are sent in NBD_INFO_BLOCK_SIZE and enforced: requests
// not aligned to minimum fail with EINVAL. minimum must be a power of two ≤
// 64 KiB, preferred a power of two ≥ max(minimum, 512), maximum ≥ preferred;
// invalid values are replaced by the defaults (1, 4096, MaxRequest). The
// server's MaxRequest caps maximum.
type BlockSizer interface {
	BlockSize() (minimum, preferred, maximum uint32)
}

// Inliner is implemented by backends whose calls return without waiting
// (memory, say). Inline true has the server execute requests on the
// connection's reader goroutine and answer all the requests that arrived
// together with one write, instead of handing each request to a worker
// and each reply to a writer: less CPU and latency per request, but a call
// that does block stalls the whole connection meanwhile. Reads and writes
// above 64 KiB still run on workers, their copy overlapping the reading of
// the next requests, unless the backend is a Receiver, which takes every
// write's payload on the reader with no copy to overlap.
type Inliner interface {
	Inline() bool
}

// Receiver is implemented by Inliner backends that take a write's payload
// straight from the connection, saving the copy through a request buffer:
// ReceiveAt reads exactly n bytes from r and stores them at off, like
// WriteAtContext(ctx, p, off, fua) with p the next n bytes of r. The server checks the
// range first, calls it on the connection's reader (inline mode only), and
// keeps failures of r for itself: whatever ReceiveAt returns, a failed read
// ends the connection, bytes left unread are skipped and fail the request
// with EIO, and any other error is the request's errno.
type Receiver interface {
	ReceiveAt(ctx context.Context, r io.Reader, off, n int64, fua bool) error
}

// Capable is implemented by backends that say what they can do now (a LUN
// without UNMAP, a write-protected one); it is asked each time a connection
// enters transmission and by ExportFlags. Its answers only narrow the
// method set:
// an operation whose method the backend lacks is never advertised. A
// backend without Capable is taken at its method set: flushes, FUA, trims
// and zeroing are advertised when it has Flush, Trim and WriteZeroes, and
// it is writable and not CAN_MULTI_CONN. Trim, zeroing and FUA are never
// advertised on a read-only export.
//
// The methods have plain names and types, so a backend implements Capable
// without importing this package (as multipath.Device does).
type Capable interface {
	// CanFlush reports whether writes need a flush to be durable; false
	// advertises neither NBD_FLAG_SEND_FLUSH nor NBD_FLAG_SEND_FUA.
	CanFlush() bool
	// CanFUA reports whether forced unit access is worth asking for; false
	// leaves NBD_FLAG_SEND_FUA out.
	CanFUA() bool
	// CanTrim reports whether Trim works; false leaves NBD_FLAG_SEND_TRIM
	// out.
	CanTrim() bool
	// CanZero reports whether WriteZeroes works; false leaves
	// NBD_FLAG_SEND_WRITE_ZEROES out.
	CanZero() bool
	// CanMultiConn reports whether flushes are visible across connections;
	// true advertises NBD_FLAG_CAN_MULTI_CONN.
	CanMultiConn() bool
	// ReadOnly true advertises NBD_FLAG_READ_ONLY and fails writes, trims
	// and zeroing with EPERM.
	ReadOnly() bool
}
