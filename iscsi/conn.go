package iscsi

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/pdu"
)

// conn is the full-feature phase of one TCP connection: a reader goroutine
// dispatching by ITT, a writer goroutine sending queued PDUs in batches
// (one writev per batch), and a pinger.
type conn struct {
	s    *Session
	t    *transport
	done chan struct{} // closed when the connection failed
	once sync.Once
	err  error // why it failed; set before done closes

	lastRecv atomic.Int64 // unix nanoseconds of the last PDU received
	t2w      atomic.Int64 // Time2Wait asked by the target (async drop), ns
	t2wSet   atomic.Bool  // t2w holds the target's value
	leaving  atomic.Bool  // the target asked for a logout, which is under way

	wmu    sync.Mutex // guards the following
	wq     []outItem
	closed bool // the writer has stopped: queued work is released at once

	wake chan struct{} // cap 1: work for the writer goroutine

	writing    sync.Mutex  // held by whoever writes to the Framer; guards:
	batch      []outItem   // items being written
	scratchOut pdu.DataOut // Data-Out template
}

// outItem is one unit of work for the writer: a PDU, or a Data-Out
// sequence cut from a task's write buffer.
type outItem struct {
	p     pdu.PDU
	t     *task  // task whose buffers the item uses (busy accounting)
	burst bool   // a Data-Out sequence: off, n, ttt
	off   uint32 // buffer offset of the sequence
	n     uint32 // bytes in the sequence
	ttt   uint32
}

func newConn(s *Session, t *transport) *conn {
	c := &conn{s: s, t: t, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	c.lastRecv.Store(time.Now().UnixNano())
	return c
}

// fail closes the connection once and hands the failure to the session.
func (c *conn) fail(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
		abort(c.t.conn)
		c.s.connFailed(c, err)
	})
}

// time2Wait is how long reinstatement waits (RFC 7143 §6.3.5). s.mu held
// (connFailed calls it).
func (c *conn) time2Wait() time.Duration {
	if c.t2wSet.Load() { // Parameter2 = 0 means at once
		return time.Duration(c.t2w.Load())
	}
	return time.Duration(c.s.params.DefaultTime2Wait) * time.Second
}

// enqueue hands items to the writer goroutine and wakes it.
func (c *conn) enqueue(items ...outItem) {
	c.queue(items...)
	c.wakeWriter()
}

// queue appends items for whoever writes next. Items that carry a task
// need s.mu held, so that CmdSN order is wire order and, once the
// connection is closed, the task's busy count can drop here. The writer
// never takes s.mu while holding wmu.
func (c *conn) queue(items ...outItem) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		for _, it := range items {
			if it.t != nil {
				it.t.busy--
				it.t.signal()
			}
		}
		return
	}
	c.wq = append(c.wq, items...)
}

func (c *conn) wakeWriter() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// flushOrWake writes the queue from the calling goroutine when nobody is
// writing (saving a goroutine handoff per command at low queue depth), or
// leaves it to the writer goroutine.
func (c *conn) flushOrWake() {
	if !c.writing.TryLock() {
		c.wakeWriter()
		return
	}
	err := c.drain()
	c.writing.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("write: %w", err))
		return
	}
	c.wmu.Lock()
	more := len(c.wq) > 0
	c.wmu.Unlock()
	if more {
		c.wakeWriter()
	}
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	for {
		select {
		case <-c.done:
			c.writing.Lock()
			c.wmu.Lock()
			c.closed = true
			c.wmu.Unlock()
			c.release(c.takeQueue(c.batch[:0]))
			c.writing.Unlock()
			return
		case <-c.wake:
		}
		c.writing.Lock()
		err := c.drain()
		c.writing.Unlock()
		if err != nil {
			c.fail(fmt.Errorf("write: %w", err))
		}
	}
}

// drain writes batches until the queue is empty. c.writing held.
func (c *conn) drain() error {
	for {
		c.batch = c.takeQueue(c.batch[:0])
		if len(c.batch) == 0 {
			return nil
		}
		err := c.writeBatch(c.batch)
		c.release(c.batch)
		clear(c.batch)
		if err != nil {
			return err
		}
	}
}

func (c *conn) takeQueue(into []outItem) []outItem {
	c.wmu.Lock()
	into, c.wq = c.wq, into
	c.wmu.Unlock()
	return into
}

// writeBatch encodes every item and flushes in one write, or in several
// when the batch exceeds 1 MiB.
func (c *conn) writeBatch(batch []outItem) error {
	fr := c.t.fr
	for i := range batch {
		it := &batch[i]
		if it.t != nil && it.t.abandonedFlag.Load() {
			continue
		}
		var err error
		if it.burst {
			err = c.queueBurst(it)
		} else {
			setExpStatSN(it.p, c.s.expStatSN.Load())
			if err = fr.QueuePDU(it.p); err == nil {
				c.s.stats.countOut(it.p)
			}
		}
		if err != nil {
			return err
		}
		if fr.Buffered() >= 1<<20 {
			if err := fr.Flush(); err != nil {
				return err
			}
		}
	}
	return fr.Flush()
}

// queueBurst cuts one Data-Out sequence into PDUs of at most the target's
// MaxRecvDataSegmentLength, DataSN from 0, F on the last (RFC 7143 §11.7).
func (c *conn) queueBurst(it *outItem) error {
	t := it.t
	max := uint32(c.t.fr.MaxSendDataSegmentLength())
	d := &c.scratchOut
	end := it.off + it.n
	var sn uint32
	for off := it.off; off < end; sn++ {
		n := min(max, end-off)
		*d = pdu.DataOut{Final: off+n == end, LUN: t.req.LUN, ITT: t.itt, TTT: it.ttt,
			ExpStatSN: c.s.expStatSN.Load(), DataSN: sn, BufferOffset: off,
			Data: t.cmd.Write[off : off+n]}
		if err := c.t.fr.QueuePDU(d); err != nil {
			return err
		}
		off += n
	}
	c.s.stats.BytesWritten.Add(uint64(it.n))
	c.s.stats.PDUsOut[pdu.OpDataOut].Add(uint64(sn))
	return nil
}

func setExpStatSN(p pdu.PDU, sn uint32) {
	switch p := p.(type) {
	case *pdu.SCSICommand:
		p.ExpStatSN = sn
	case *pdu.NOPOut:
		p.ExpStatSN = sn
	case *pdu.TaskMgmtRequest:
		p.ExpStatSN = sn
	case *pdu.LogoutRequest:
		p.ExpStatSN = sn
	case *pdu.TextRequest:
		p.ExpStatSN = sn
	}
}

// release drops the writer's hold on the tasks of a batch.
func (c *conn) release(batch []outItem) {
	if len(batch) == 0 {
		return
	}
	c.s.mu.Lock()
	for _, it := range batch {
		if t := it.t; t != nil {
			t.busy--
			if t.quiet() || t.abandoned {
				t.signal()
			}
		}
	}
	c.s.mu.Unlock()
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	fr := c.t.fr
	for {
		p, err := fr.ReadHeader()
		if err == nil {
			c.lastRecv.Store(time.Now().UnixNano())
			c.s.stats.PDUsIn[p.Opcode()&0x3f].Add(1)
			if in, ok := p.(*pdu.DataIn); ok {
				err = c.dataIn(in)
			} else if err = fr.ReadData(nil); err == nil {
				err = c.dispatch(p)
			}
		}
		if err != nil {
			if errors.Is(err, pdu.ErrDigest) {
				c.s.stats.DigestErrors.Add(1)
			}
			c.fail(fmt.Errorf("read: %w", wireError(err)))
			return
		}
	}
}

// abort closes a failed connection with a reset (SO_LINGER 0) rather than
// an orderly close: the kernel must not go on retransmitting commands that
// were queued on a dead path, or a target could execute a write late, after
// the caller retried it elsewhere and wrote newer data over it.
func abort(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	nc.Close()
}
