package nbd

import (
	"runtime"

	"github.com/gomp-dev/gomp/internal/rawio"
)

// maxBatch bounds the replies coalesced into one vectored write.
const maxBatch = 64

// writeLoop is the connection's only writer. It takes answered requests,
// encodes their reply headers, and writes every reply already waiting in one
// vectored write (headers and read payloads unjoined, nothing copied), then
// returns buffers and slots. After a write error it keeps draining without
// writing, so workers and the reader never block on it.
func (c *txConn) writeLoop() {
	defer c.wg.Done()
	batch := make([]*request, 0, maxBatch)
	for r := range c.done {
		batch = append(batch[:0], r)
		if r.buf == nil || len(r.buf.b) <= inlineMax {
			// Let the workers that are ready to run finish first, so
			// that their replies go out in this write: a worker woken
			// with others by one read of the backend's socket would
			// otherwise cost a write system call per reply. Not for a
			// large read's reply, which is worth sending at once.
			runtime.Gosched()
		}
		batch = c.gather(batch)
		c.writeBatch(batch)
		for i, r := range batch {
			c.release(r)
			batch[i] = nil
		}
	}
}

// gather appends the replies that are ready without waiting.
func (c *txConn) gather(batch []*request) []*request {
	for len(batch) < cap(batch) {
		select {
		case r, ok := <-c.done:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// writeBatch writes the replies of batch with one vectored write and
// returns the connection's write error, if any. The writer goroutine and,
// in inline mode, the reader both call it.
func (c *txConn) writeBatch(batch []*request) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return c.werr
	}
	for _, r := range batch {
		c.vec = c.appendReply(c.vec, r)
	}
	_, err := rawio.WriteBuffers(c.rw, c.vec, &c.nb)
	clear(c.vec)
	c.vec = c.vec[:0]
	if err != nil {
		c.werr = connErrorf(c.peer, "writing reply: %w", err)
		c.cancel()
	}
	return c.werr
}

// appendReply appends the buffers of r's reply: a simple reply (with the data
// of a successful read), or with structured replies, for reads, one
// OFFSET_DATA chunk (or an ERROR chunk) flagged DONE.
func (c *txConn) appendReply(vec [][]byte, r *request) [][]byte {
	q := &r.req
	if q.Type != CmdRead || !c.exp.structured {
		h, _ := SimpleReply{Errno: r.errno, Cookie: q.Cookie}.AppendBinary(r.hdr[:0])
		vec = append(vec, h)
		if q.Type == CmdRead && r.errno == 0 && r.buf != nil {
			vec = append(vec, r.buf.b)
		}
		return vec
	}
	switch {
	case r.errno != 0:
		msg := errnoText[r.errno]
		vec = append(vec, appendErrorChunk(r.hdr[:0], q.Cookie, r.errno, len(msg)), msg)
	case r.buf == nil:
		h, _ := ChunkHeader{Flags: ReplyFlagDone, Type: ChunkNone, Cookie: q.Cookie}.AppendBinary(r.hdr[:0])
		vec = append(vec, h)
	default:
		h := appendOffsetData(r.hdr[:0], ReplyFlagDone, q.Cookie, q.Offset, uint32(len(r.buf.b)))
		vec = append(vec, h, r.buf.b)
	}
	return vec
}
