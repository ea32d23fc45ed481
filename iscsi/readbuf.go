package iscsi

import "io"

// directMin is the smallest read that readBuffer passes straight to the
// socket when it holds nothing: the rest of a data segment, read into the
// command's buffer without a copy.
const directMin = 8 << 10

// readBuffer is the read side of a connection. One read system call fills
// it with the headers and small data segments of many PDUs; a read of
// directMin bytes or more with nothing buffered (the Framer reading a data
// segment into a command's buffer) goes straight to the socket. After such
// a read the next two fills (the segment's last bytes, the next header)
// ask the socket only for the bytes wanted: during a stream of large
// Data-In PDUs the buffer would otherwise take in tens of KiB of each
// segment only to copy them out again.
type readBuffer struct {
	r      io.Reader
	buf    []byte
	lo, hi int // buffered bytes: buf[lo:hi]
	exact  int // fills left that read only what is asked (after a direct read)
	err    error
}

func newReadBuffer(r io.Reader, size int) *readBuffer {
	return &readBuffer{r: r, buf: make([]byte, size)}
}

// Read reads into p from the buffer, or, with nothing buffered, from the
// socket, at most once.
func (b *readBuffer) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.lo == b.hi {
		if b.err != nil {
			err := b.err
			b.err = nil
			return 0, err
		}
		if len(p) >= directMin {
			b.exact = 2
			return b.r.Read(p)
		}
		want := len(b.buf)
		if b.exact > 0 {
			want = len(p)
			b.exact--
		}
		b.lo = 0
		b.hi, b.err = b.r.Read(b.buf[:want])
		if b.hi == 0 {
			err := b.err
			b.err = nil
			if err == nil {
				err = io.ErrNoProgress
			}
			return 0, err
		}
	}
	n := copy(p, b.buf[b.lo:b.hi])
	b.lo += n
	return n, nil
}
