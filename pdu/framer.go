package pdu

import (
	"fmt"
	"io"
)

// DefaultMaxDataSegmentLength is MaxRecvDataSegmentLength's default and the
// limit in force during login (RFC 7143 §13.12).
const DefaultMaxDataSegmentLength = 8192

// BuffersWriter is a writer that can also write several buffers in one call,
// such as a TCP connection through net.Buffers (writev). When the Framer's
// writer implements it, each Flush is a single WriteBuffers call carrying
// headers and payloads unjoined. WriteBuffers may modify the slice it is
// given but not the bytes the buffers hold.
type BuffersWriter interface {
	WriteBuffers(bufs [][]byte) (int64, error)
}

// A Framer reads and writes PDUs with the limits and digests negotiated for
// one connection.
//
// The read side (ReadPDU, ReadHeader, ReadData) must be used by one goroutine
// at a time, and so must the write side (QueuePDU, Flush, WritePDU); the two
// sides may run concurrently. The Set methods must not run concurrently with
// either side. A PDU returned by a read, and everything it points to, is
// valid only until the next read.
//
// The Framer reads exactly the bytes of each PDU; give it a buffered reader
// (bufio.Reader) to save system calls on headers. Large data segments read
// into a caller's buffer bypass such a buffer when it is empty.
type Framer struct {
	r io.Reader
	w io.Writer

	headerDigest bool
	dataDigest   bool
	maxRecv      int // largest data segment accepted
	maxSend      int // largest data segment written

	// read side
	rerr    error // sticky: the stream is out of sync
	hdr     [BHSLength + MaxAHSLength + DigestLength]byte
	cur     PDU
	pending int  // data segment length of cur, not yet read
	unread  bool // cur's data segment has not been read
	cache   [64]PDU
	rbuf    []byte
	trailer [3 + DigestLength]byte

	// write side
	wbuf  []byte // headers, padding and digests of queued PDUs
	queue []queued
	bufs  [][]byte
	flat  []byte // joined output for writers that are not BuffersWriters
}

type queued struct {
	hdrStart, hdrEnd int // in wbuf
	data             []byte
	trailerEnd       int // trailer is wbuf[hdrEnd:trailerEnd]
}

// NewFramer returns a Framer reading from r and writing to w, either of which
// may be nil when only one side is used. Digests are off and both data
// segment limits are DefaultMaxDataSegmentLength, as at the start of a login.
func NewFramer(r io.Reader, w io.Writer) *Framer {
	return &Framer{r: r, w: w, maxRecv: DefaultMaxDataSegmentLength, maxSend: DefaultMaxDataSegmentLength}
}

// SetDigests turns CRC32C header and data digests on or off in both
// directions (RFC 7143 §13.1: they start after the login's last response).
func (f *Framer) SetDigests(header, data bool) { f.headerDigest, f.dataDigest = header, data }

// SetMaxRecvDataSegmentLength sets the largest data segment the reader
// accepts: our declared MaxRecvDataSegmentLength. n is clamped to 512 ..
// MaxDataSegmentLength.
func (f *Framer) SetMaxRecvDataSegmentLength(n int) { f.maxRecv = clampSegment(n) }

// SetMaxSendDataSegmentLength sets the largest data segment the writer sends:
// the peer's declared MaxRecvDataSegmentLength.
func (f *Framer) SetMaxSendDataSegmentLength(n int) { f.maxSend = clampSegment(n) }

// MaxSendDataSegmentLength returns the write-side limit.
func (f *Framer) MaxSendDataSegmentLength() int { return f.maxSend }

func clampSegment(n int) int { return min(max(n, 512), MaxDataSegmentLength) }

// ReadPDU reads one whole PDU; its data segment lands in the Framer's buffer.
// On a data digest mismatch it returns the PDU and a *DigestError: the stream
// is still in sync and the caller may go on reading.
func (f *Framer) ReadPDU() (PDU, error) {
	p, err := f.ReadHeader()
	if err != nil {
		return nil, err
	}
	if err := f.ReadData(nil); err != nil {
		if _, ok := err.(*DigestError); ok {
			return p, err
		}
		return nil, err
	}
	return p, nil
}

// ReadHeader reads a BHS, its AHS and header digest, and decodes them. The
// data segment, of DataLength bytes, is left unread: read it with ReadData,
// or the next ReadHeader discards it.
//
// DataSegmentLength is checked against the receive limit before anything
// else is read. A *FieldError leaves the stream in sync (the next ReadHeader
// skips the data segment); an I/O error, a *LimitError or a header
// *DigestError does not, and every later read returns the same error.
func (f *Framer) ReadHeader() (PDU, error) {
	if f.unread {
		if err := f.ReadData(nil); err != nil && f.rerr != nil {
			return nil, err
		}
	}
	if f.rerr != nil {
		return nil, f.rerr
	}
	h := (*BHS)(f.hdr[:BHSLength])
	if _, err := io.ReadFull(f.r, h[:]); err != nil {
		return nil, f.fail(err)
	}
	op, ahsLen, n := h.Opcode(), h.TotalAHSLength(), h.DataSegmentLength()
	if n > f.maxRecv {
		return nil, f.fail(&LimitError{Op: op, Field: "DataSegmentLength", Value: uint64(n), Limit: uint64(f.maxRecv)})
	}
	end := BHSLength + ahsLen
	if f.headerDigest {
		end += DigestLength
	}
	if _, err := io.ReadFull(f.r, f.hdr[BHSLength:end]); err != nil {
		return nil, f.fail(midPDU(err))
	}
	if f.headerDigest {
		got, want := digestAt(f.hdr[end-DigestLength:end]), CRC32C(f.hdr[:end-DigestLength])
		if got != want {
			return nil, f.fail(&DigestError{Op: op, Kind: HeaderDigest, Got: got, Want: want})
		}
	}
	f.pending, f.unread, f.cur = n, true, nil
	p := f.cached(op)
	if p == nil {
		return nil, unknownOpcode(op)
	}
	if err := p.decode(h, f.hdr[BHSLength:BHSLength+ahsLen]); err != nil {
		return nil, err
	}
	f.cur = p
	return p, nil
}

// DataLength returns the data segment length of the PDU from the last
// ReadHeader, without padding.
func (f *Framer) DataLength() int { return f.pending }

// ReadData reads the data segment of the PDU from the last ReadHeader, its
// padding and data digest, and sets the PDU's payload. With dst nil the data
// lands in the Framer's buffer; otherwise len(dst) must equal DataLength and
// the data is read straight into dst (the zero-copy read path). A data digest
// mismatch returns a *DigestError after the whole PDU was consumed.
func (f *Framer) ReadData(dst []byte) error {
	if f.rerr != nil {
		return f.rerr
	}
	if !f.unread {
		return fmt.Errorf("pdu: ReadData without a pending header")
	}
	n := f.pending
	if dst == nil {
		if cap(f.rbuf) < n {
			f.rbuf = make([]byte, n, max(n, min(2*cap(f.rbuf), f.maxRecv)))
		}
		dst = f.rbuf[:n]
	} else if len(dst) != n {
		return fmt.Errorf("pdu: ReadData into %d bytes, data segment is %d", len(dst), n)
	}
	f.unread = false
	if _, err := io.ReadFull(f.r, dst); err != nil {
		return f.fail(midPDU(err))
	}
	tail := f.trailer[:PaddedLength(n)-n]
	if f.dataDigest && n > 0 {
		tail = f.trailer[:len(tail)+DigestLength]
	}
	if _, err := io.ReadFull(f.r, tail); err != nil {
		return f.fail(midPDU(err))
	}
	if f.cur != nil {
		f.cur.setPayload(dst[:n:n])
	}
	if f.dataDigest && n > 0 {
		pad := len(tail) - DigestLength
		want := updateCRC32C(CRC32C(dst), tail[:pad])
		if got := digestAt(tail[pad:]); got != want {
			op := Opcode(0)
			if f.cur != nil {
				op = f.cur.Opcode()
			}
			return &DigestError{Op: op, Kind: DataDigest, Got: got, Want: want}
		}
	}
	return nil
}

// midPDU turns a clean EOF inside a PDU into io.ErrUnexpectedEOF.
func midPDU(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (f *Framer) fail(err error) error {
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = fmt.Errorf("pdu: reading PDU: %w", err)
	}
	f.rerr, f.unread, f.cur = err, false, nil
	return err
}

// cached returns the Framer's reusable PDU for op.
func (f *Framer) cached(op Opcode) PDU {
	if f.cache[op] == nil {
		f.cache[op] = New(op)
	}
	return f.cache[op]
}

// WritePDU writes one PDU now: QueuePDU then Flush.
func (f *Framer) WritePDU(p PDU) error {
	if err := f.QueuePDU(p); err != nil {
		return err
	}
	return f.Flush()
}

// QueuePDU encodes p's header, digests and padding into the Framer and
// queues its data segment by reference: the caller must not change the data
// until Flush returns. A data segment larger than the send limit is refused
// with a *LimitError.
func (f *Framer) QueuePDU(p PDU) error {
	data := p.Payload()
	if len(data) > f.maxSend {
		return &LimitError{Op: p.Opcode(), Field: "DataSegmentLength", Value: uint64(len(data)), Limit: uint64(f.maxSend)}
	}
	start := len(f.wbuf)
	b, err := p.AppendHeader(f.wbuf)
	if err != nil {
		f.wbuf = f.wbuf[:start]
		return err
	}
	if f.headerDigest {
		b = appendDigest(b, CRC32C(b[start:]))
	}
	hdrEnd := len(b)
	pad := zeroPad[:PaddedLength(len(data))-len(data)]
	b = append(b, pad...)
	if f.dataDigest && len(data) > 0 {
		b = appendDigest(b, updateCRC32C(CRC32C(data), pad))
	}
	f.wbuf = b
	f.queue = append(f.queue, queued{hdrStart: start, hdrEnd: hdrEnd, data: data, trailerEnd: len(b)})
	return nil
}

// Buffered returns the number of bytes queued and not yet flushed.
func (f *Framer) Buffered() int {
	n := len(f.wbuf)
	for _, q := range f.queue {
		n += len(q.data)
	}
	return n
}

// Flush writes every queued PDU in one write: one WriteBuffers call when the
// writer is a BuffersWriter, else one Write of the joined bytes.
func (f *Framer) Flush() error {
	if len(f.queue) == 0 {
		return nil
	}
	f.bufs = f.bufs[:0]
	for _, q := range f.queue {
		f.bufs = append(f.bufs, f.wbuf[q.hdrStart:q.hdrEnd])
		if len(q.data) > 0 {
			f.bufs = append(f.bufs, q.data)
		}
		if q.trailerEnd > q.hdrEnd {
			f.bufs = append(f.bufs, f.wbuf[q.hdrEnd:q.trailerEnd])
		}
	}
	var err error
	if bw, ok := f.w.(BuffersWriter); ok {
		_, err = bw.WriteBuffers(f.bufs)
	} else {
		f.flat = f.flat[:0]
		for _, b := range f.bufs {
			f.flat = append(f.flat, b...)
		}
		_, err = f.w.Write(f.flat)
	}
	clear(f.queue) // drop references to caller data
	clear(f.bufs)
	f.queue, f.wbuf = f.queue[:0], f.wbuf[:0]
	return err
}
