package nbd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"

	"github.com/gomp-dev/gomp/internal/rawio"
)

// readBufferSize is the connection's read buffer: request headers and small
// write payloads arriving together are read with one system call; payload
// bytes beyond what is buffered are read straight into the request buffer.
const readBufferSize = 16 << 10

// SocketBufferSize is asked of the kernel for a connection's send and
// receive buffers (it caps it at net.core.wmem_max/rmem_max): with the
// default ~200 KiB, a 1 MiB reply takes several write, EAGAIN, epoll
// rounds. A socket whose send buffer already holds SocketBufferSize (kernel
// attach code forces it on its socketpairs, beyond the system's maximum) is
// left as it is.
const SocketBufferSize = 4 << 20

// sizeSocketBuffers enlarges the socket buffers of TCP and unix sockets,
// best effort, leaving alone those already as large (a kernel socketpair's,
// forced beyond the system's maximum).
func sizeSocketBuffers(nc net.Conn) {
	if buffersSized(nc) {
		return
	}
	if s, ok := nc.(interface {
		SetReadBuffer(int) error
		SetWriteBuffer(int) error
	}); ok {
		s.SetReadBuffer(SocketBufferSize)
		s.SetWriteBuffer(SocketBufferSize)
	}
}

// errDisconnect ends the read loop on NBD_CMD_DISC.
var errDisconnect = errors.New("nbd: client sent NBD_CMD_DISC")

// request is one request in flight. A connection owns MaxInFlight of them;
// the reader fills one, a worker executes it, the writer answers it and
// hands it back.
type request struct {
	req   Request
	buf   *buffer // read or write payload, from the pool
	errno Errno
	hdr   [32]byte // encoded reply header
}

// txConn is one connection in the transmission phase: one reader (the
// goroutine that called transmit), up to MaxInFlight workers started on
// demand, and one writer.
type txConn struct {
	s    *Server
	tc   *trackedConn
	nc   net.Conn
	rw   net.Conn // nc doing its I/O with raw system calls (internal/rawio), or the TLS conn over nc
	br   *bufio.Reader
	exp  *exportState
	log  *slog.Logger
	peer string

	parent context.Context // ServeConn's
	ctx    context.Context // cancelled when the connection dies
	cancel context.CancelFunc

	slots    []request
	free     chan *request // idle slots; the reader takes, the writer returns
	work     chan *request // reader → workers (unbuffered: a send finds an idle worker)
	done     chan *request // workers and reader → writer
	released chan struct{} // writer → reader: payload bytes were released
	inBytes  atomic.Int64  // payload bytes in flight
	maxBytes int64
	workers  int // started so far; reader only
	wg       sync.WaitGroup
	hdr      [RequestLen]byte

	// inline mode (see Inliner): requests executed by the reader, whose
	// replies wait here until the reader would block
	inline  bool
	pending []*request
	recv    Receiver // exp's backend, when it is one (inline mode only)
	pr      payloadReader

	// reply writing, by the writer goroutine and, in inline mode, the reader
	wmu  sync.Mutex // guards the following
	vec  [][]byte
	nb   net.Buffers
	werr error
}

// transmit serves exp on tc until the client disconnects or the connection
// fails; see ServeConn.
func (s *Server) transmit(ctx context.Context, tc *trackedConn, exp *exportState) error {
	sizeSocketBuffers(tc.nc)
	c := s.newTxConn(ctx, tc, exp)
	defer c.cancel()
	c.log.Debug("nbd: transmission", "peer", c.peer, "flags", exp.flags, "size", exp.size,
		"structured", exp.structured)
	c.wg.Add(1)
	go c.writeLoop()
	err := c.readLoop()
	if c.abandoned(err) {
		c.cancel()
	}
	c.drain()
	return c.result(err)
}

// abandoned reports whether the read loop ended with the client gone
// without NBD_CMD_DISC (EOF, a reset, a protocol error): its requests in
// flight are cancelled, not finished, since nobody can be told their
// outcome. The kernel gives a socket up this way when it resends the
// socket's requests on another one, and a copy finished later (a write
// queued for a path, say) could land after the resent copy and newer data
// on the same blocks. After NBD_CMD_DISC or a graceful stop the requests
// are finished and answered, as the protocol requires.
func (c *txConn) abandoned(err error) bool {
	return !errors.Is(err, errDisconnect) && !c.tc.stopping.Load()
}

func (s *Server) newTxConn(ctx context.Context, tc *trackedConn, exp *exportState) *txConn {
	n := s.maxInFlight()
	c := &txConn{
		s: s, tc: tc, nc: tc.nc, rw: rawio.Wrap(tc.ioConn()), exp: exp, log: s.logger(), peer: peerName(tc.nc),
		slots:    make([]request, n),
		free:     make(chan *request, n),
		work:     make(chan *request),
		done:     make(chan *request, n),
		released: make(chan struct{}, 1),
		maxBytes: s.maxInFlightBytes(),
		vec:      make([][]byte, 0, 3*n),
	}
	if in, ok := exp.b.(Inliner); ok && in.Inline() {
		c.inline = true
		c.pending = make([]*request, 0, min(n, maxBatch))
		c.recv, _ = exp.b.(Receiver)
	}
	c.br = bufio.NewReaderSize(c.rw, readBufferSize)
	c.parent = ctx
	c.ctx, c.cancel = context.WithCancel(ctx)
	context.AfterFunc(c.ctx, func() { c.nc.Close() })
	for i := range c.slots {
		c.free <- &c.slots[i]
	}
	return c
}

// result turns the read loop's end into ServeConn's error: nil for a client
// that disconnected or a graceful stop.
func (c *txConn) result(err error) error {
	switch {
	case c.parent.Err() != nil:
		return c.parent.Err()
	case errors.Is(err, errDisconnect), errors.Is(err, io.EOF):
		err = nil
	case c.tc.stopping.Load() && errors.Is(err, os.ErrDeadlineExceeded):
		err = nil
	}
	if c.werr != nil {
		return c.werr
	}
	return err
}

// readLoop reads requests and dispatches them until NBD_CMD_DISC, an error,
// or a graceful stop.
func (c *txConn) readLoop() error {
	if c.inline {
		return c.inlineLoop()
	}
	for {
		r, err := c.next()
		if err != nil {
			return err
		}
		if r.errno != 0 {
			c.done <- r
			continue
		}
		c.dispatch(r)
	}
}

// inlineMax is the largest read or write that inline mode executes on the
// reader: a larger copy runs on a worker, overlapped with reading the next
// requests.
const inlineMax = 64 << 10

// inlineLoop is readLoop for an Inliner backend: the reader executes each
// request itself and keeps its reply until it has no whole request left in
// its buffer, then writes every reply it holds with one vectored write. A
// batch of requests that arrived together costs one read and one write,
// with no goroutine handoff.
func (c *txConn) inlineLoop() error {
	defer c.flushPending() // answer what was executed, whatever ended the loop
	for {
		r, err := c.next()
		if err != nil {
			return err
		}
		if r.errno == 0 && !c.receives(&r.req) { // a received write is done
			if r.req.Length > inlineMax && (r.req.Type == CmdRead || r.req.Type == CmdWrite) {
				c.dispatch(r) // a large copy: a worker overlaps it with reading on
				continue
			}
			c.execute(r)
		}
		c.pending = append(c.pending, r)
		if len(c.pending) == cap(c.pending) {
			if err := c.flushPending(); err != nil {
				return err
			}
		}
	}
}

// beforeRead writes the pending replies of inline mode when reading need
// more bytes could wait on the socket (a client waiting for them may send
// nothing more), or when taking a slot for the next request could wait for
// them to be released.
func (c *txConn) beforeRead(need int, n int64) error {
	if len(c.pending) == 0 {
		return nil
	}
	if c.br.Buffered() >= need && len(c.free) > 0 && (n == 0 || c.inBytes.Load()+n <= c.maxBytes) {
		return nil
	}
	return c.flushPending()
}

// flushPending writes the pending replies and releases their slots.
func (c *txConn) flushPending() error {
	if len(c.pending) == 0 {
		return nil
	}
	err := c.writeBatch(c.pending)
	for i, r := range c.pending {
		c.release(r)
		c.pending[i] = nil
	}
	c.pending = c.pending[:0]
	return err
}

// next reads one request header, checks it, takes a slot and reads any write
// payload. Checks come before any buffer is taken.
func (c *txConn) next() (*request, error) {
	if err := c.beforeRead(RequestLen, 0); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(c.br, c.hdr[:]); err != nil {
		return nil, c.readError(err, "request header")
	}
	q, err := ParseRequest(c.hdr[:])
	if err != nil {
		return nil, connError(c.peer, err)
	}
	if q.Type == CmdDisc {
		return nil, errDisconnect
	}
	if q.Type == CmdWrite && q.Length > c.s.RequestLimit() {
		return nil, protocolError(c.peer, "write of %d bytes exceeds the %d-byte limit", q.Length, c.s.RequestLimit())
	}
	errno := c.check(&q)
	direct := errno == 0 && c.receives(&q)
	var n int64 // request buffer bytes
	if errno == 0 && (q.Type == CmdRead || q.Type == CmdWrite) && !direct {
		n = int64(q.Length)
	}
	payload := 0
	if q.Type == CmdWrite {
		payload = int(q.Length)
	}
	if err := c.beforeRead(payload, n); err != nil {
		return nil, err
	}
	r, err := c.acquire(n)
	if err != nil {
		return nil, err
	}
	r.req, r.errno = q, errno
	if n > 0 {
		r.buf = c.s.pool.get(int(n))
	}
	if direct {
		if err := c.receive(r); err != nil {
			c.release(r)
			return nil, err
		}
	} else if q.Type == CmdWrite {
		if err := c.readPayload(r); err != nil {
			c.release(r)
			return nil, err
		}
	}
	return r, nil
}

// readError names a read failure; EOF inside a message is a protocol error.
func (c *txConn) readError(err error, what string) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return protocolError(c.peer, "connection closed inside %s", what)
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return connErrorf(c.peer, "reading %s: %w", what, err)
}

// readPayload reads a write's payload into its buffer, or skips it when the
// request already failed its checks.
func (c *txConn) readPayload(r *request) error {
	if r.buf == nil {
		return c.skipPayload(int64(r.req.Length))
	}
	if _, err := io.ReadFull(c.br, r.buf.b); err != nil {
		return c.readError(err, "write payload")
	}
	return nil
}

// skipPayload reads past the last n bytes of a write payload.
func (c *txConn) skipPayload(n int64) error {
	if n == 0 {
		return nil
	}
	_, err := c.br.Discard(int(n))
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return c.readError(err, "write payload")
	}
	return nil
}

// receives says whether q's payload goes straight to the Receiver (once q
// passed its checks).
func (c *txConn) receives(q *Request) bool {
	return c.recv != nil && q.Type == CmdWrite
}

// payloadReader hands a Receiver one write payload: reads stop at its end,
// and a failed read is kept, since it ends the connection whatever the
// Receiver makes of it.
type payloadReader struct {
	br   *bufio.Reader
	left int64
	err  error
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.br.Read(b)
	p.left -= int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		p.err = err
	}
	return n, err
}

// receive executes a checked write by having the Receiver read its payload
// from the connection; only a failed read is returned, the backend's
// verdict goes to r.errno.
func (c *txConn) receive(r *request) error {
	q := &r.req
	c.pr = payloadReader{br: c.br, left: int64(q.Length)}
	err := c.recv.ReceiveAt(c.ctx, &c.pr, int64(q.Offset), int64(q.Length), q.Flags&CmdFlagFUA != 0)
	if c.pr.err != nil {
		return c.readError(c.pr.err, "write payload")
	}
	if c.pr.left > 0 {
		if serr := c.skipPayload(c.pr.left); serr != nil {
			return serr
		}
		if err == nil {
			err = io.ErrShortWrite
		}
	}
	c.finish(r, err)
	return nil
}

// acquire takes a free slot, first waiting until n more payload bytes fit in
// the connection's budget (or nothing else is in flight) and in the
// server's (takeShared).
func (c *txConn) acquire(n int64) (*request, error) {
	for n > 0 {
		in := c.inBytes.Load()
		if in == 0 || in+n <= c.maxBytes {
			break
		}
		select {
		case <-c.released:
		case <-c.ctx.Done():
			return nil, c.ctx.Err()
		}
	}
	if err := c.takeShared(n); err != nil {
		return nil, err
	}
	select {
	case r := <-c.free:
		c.inBytes.Add(n)
		return r, nil
	case <-c.ctx.Done():
		c.s.mem.give(n)
		return nil, c.ctx.Err()
	}
}

// takeShared takes n bytes of the server-wide budget, waiting for other
// connections to give some back. Replies held by inline mode are written
// first, so that a connection never waits for bytes it holds itself.
func (c *txConn) takeShared(n int64) error {
	limit := c.s.maxTotalInFlightBytes()
	for n > 0 {
		ok, wake := c.s.mem.tryTake(n, limit)
		if ok {
			return nil
		}
		if len(c.pending) > 0 {
			if err := c.flushPending(); err != nil {
				return err
			}
			continue
		}
		select {
		case <-wake:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
	return nil
}

// release returns r's buffer and slot.
func (c *txConn) release(r *request) {
	if r.buf != nil {
		c.inBytes.Add(-int64(len(r.buf.b)))
		c.s.mem.give(int64(len(r.buf.b)))
		c.s.pool.put(r.buf)
		r.buf = nil
		select {
		case c.released <- struct{}{}:
		default:
		}
	}
	c.free <- r
}

// dispatch hands r to an idle worker, starting a new one if none is idle and
// fewer than MaxInFlight run. Since a slot is held for every request not yet
// answered, a worker is always idle or startable, so the send cannot block
// for long.
func (c *txConn) dispatch(r *request) {
	select {
	case c.work <- r:
		return
	default:
	}
	if c.workers < len(c.slots) {
		c.workers++
		c.wg.Add(1)
		go c.workLoop()
	}
	c.work <- r
}

func (c *txConn) workLoop() {
	defer c.wg.Done()
	for r := range c.work {
		c.execute(r)
		c.done <- r
	}
}

// drain waits until every slot is back (every request answered or dropped),
// then stops the writer and the workers.
func (c *txConn) drain() {
	for range c.slots {
		<-c.free
	}
	close(c.work)
	close(c.done)
	c.wg.Wait()
}
