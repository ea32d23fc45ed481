//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// store is the disk: anonymous memory outside Go's heap, shared by the
// queues (the block layer orders overlapping requests, as for any disk).
type store struct {
	mem []byte
}

// newStore maps size bytes of zeroed memory.
func newStore(size int64) (*store, error) {
	mem, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("memory of %d bytes: %w", size, err)
	}
	return &store{mem: mem}, nil
}

// close unmaps the memory.
func (s *store) close() {
	if s.mem != nil {
		_ = unix.Munmap(s.mem)
		s.mem = nil
	}
}

// queue is one hardware queue: its io_uring, the read-only descriptor
// array the kernel fills, and one data buffer of maxIO bytes per tag.
type queue struct {
	id    uint16
	depth int
	maxIO int
	cdev  int // /dev/ublkcN, shared by the queues
	ring  *ring
	descs []byte
	bufs  []byte
	ctx   context.Context
	dev   blockDev     // serves on the queue thread (memory), or
	async *asyncServer // serves dev on workers, when not nil
	efdIn []byte       // the eventfd read's 8 bytes (a page outside Go's heap)
}

// eventfdTag is the user data of the queue's eventfd read, beyond any
// tag | op<<16.
const eventfdTag = 1 << 63

// descArea is the page-rounded size of a descriptor array of depth tags.
func descArea(depth int) int {
	page := os.Getpagesize()
	return (depth*ublkDescSize + page - 1) / page * page
}

// newQueue maps queue id's descriptors from cdev and sets up its ring and
// buffers. Requests are served on dev under ctx: by workers with async,
// else on the queue's thread (the memory disk).
func newQueue(ctx context.Context, id uint16, depth, maxIO, cdev int, dev blockDev, async bool) (*queue, error) {
	q := &queue{id: id, depth: depth, maxIO: maxIO, cdev: cdev, ctx: ctx, dev: dev}
	var err error
	entries := uint32(depth)
	if async {
		// depth commits and the eventfd read may wait in the SQ at
		// once; the CQ (twice the SQ) holds depth+1 completions
		entries++
		if q.efdIn, err = unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
			return nil, fmt.Errorf("queue %d: eventfd buffer: %w", id, err)
		}
	}
	off := int64(ublkCmdBufOffset + int(id)*descArea(ublkMaxQueueDepth))
	if q.descs, err = unix.Mmap(cdev, off, descArea(depth), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return nil, fmt.Errorf("queue %d: mmap io descriptors: %w", id, err)
	}
	if q.bufs, err = unix.Mmap(-1, 0, depth*maxIO, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE); err != nil {
		q.close()
		return nil, fmt.Errorf("queue %d: data buffers: %w", id, err)
	}
	if q.ring, err = newRing(entries); err != nil {
		q.close()
		return nil, fmt.Errorf("queue %d: %w", id, err)
	}
	if async {
		if q.async, err = newAsyncServer(ctx, dev, depth, q.desc, q.buf); err != nil {
			q.close()
			return nil, fmt.Errorf("queue %d: %w", id, err)
		}
	}
	return q, nil
}

// close releases the ring, buffers and descriptor mapping (the workers
// are stopped by run, or here if it never ran).
func (q *queue) close() {
	if q.async != nil {
		q.async.stop(true)
		q.async = nil
	}
	if q.efdIn != nil {
		_ = unix.Munmap(q.efdIn)
		q.efdIn = nil
	}
	if q.ring != nil {
		q.ring.close()
		q.ring = nil
	}
	if q.bufs != nil {
		_ = unix.Munmap(q.bufs)
		q.bufs = nil
	}
	if q.descs != nil {
		_ = unix.Munmap(q.descs)
		q.descs = nil
	}
}

// buf is tag's data buffer.
func (q *queue) buf(tag uint16) []byte {
	return q.bufs[int(tag)*q.maxIO : (int(tag)+1)*q.maxIO]
}

// desc is a copy of tag's current descriptor.
func (q *queue) desc(tag uint16) ioDesc {
	return *(*ioDesc)(unsafe.Pointer(&q.descs[int(tag)*ublkDescSize]))
}

// prep queues io command op for tag, with result for a commit.
func (q *queue) prep(op uint32, tag uint16, result int32) error {
	s, err := q.ring.getSQE()
	if err != nil {
		return fmt.Errorf("queue %d tag %d: %w", q.id, tag, err)
	}
	s.opcode = ioringOpURingCmd
	s.fd = int32(q.cdev)
	s.cmdOp = iowr(op, ioCmdSize)
	s.userData = uint64(tag) | uint64(op)<<16
	cmd := (*ioCmd)(unsafe.Pointer(&s.cmd[0]))
	cmd.qID = q.id
	cmd.tag = tag
	cmd.result = result
	cmd.addr = uint64(uintptr(unsafe.Pointer(&q.buf(tag)[0])))
	return nil
}

// run serves the queue on a thread of its own until the kernel aborts
// every tag (STOP_DEV) or something fails; fetched gets nil once all tags
// are fetched (or the error that kept them from it). The thread is never
// unlocked, so it ends with the goroutine: the kernel ties the queue to
// the task that fetched, and a thread that leaves cancels its commands.
func (q *queue) run(fetched chan<- error) (err error) {
	runtime.LockOSThread()
	if err := q.fetchAll(); err != nil {
		fetched <- err
		return err
	}
	if q.async != nil {
		a := q.async
		defer func() {
			// every tag was aborted (none is with a worker), or we
			// failed: then cancel whatever the workers still serve
			a.stop(err != nil)
			q.async = nil
		}()
		if err := a.prepEventfdRead(q.ring, q.efdIn, eventfdTag); err != nil {
			fetched <- err
			return err
		}
		if err := q.ring.enter(0); err != nil {
			fetched <- err
			return err
		}
	}
	fetched <- nil
	aborted := 0
	for aborted < q.depth {
		if err := q.ring.enter(1); err != nil {
			return fmt.Errorf("queue %d: %w", q.id, err)
		}
		var failed error
		woken := false
		q.ring.reap(func(c cqe) {
			if failed != nil {
				return
			}
			if c.userData == eventfdTag {
				if c.res < 0 {
					failed = fmt.Errorf("ublk: queue %d: eventfd read: %w", q.id, unix.Errno(-c.res))
				}
				woken = true
				return
			}
			tag, op := uint16(c.userData), uint32(c.userData>>16)
			switch c.res {
			case ublkIOResOK:
				if q.async != nil {
					q.async.start(tag)
				} else {
					res, _ := serveDev(q.ctx, q.dev, q.desc(tag), q.buf(tag))
					failed = q.prep(ublkIOCommitAndFetch, tag, res)
				}
			case ublkIOResAbort:
				aborted++
			default:
				failed = q.cmdError(op, tag, c.res)
			}
		})
		if failed == nil && woken {
			failed = q.commitDone()
		}
		if failed != nil {
			return failed
		}
	}
	return nil
}

// commitDone prepares COMMIT_AND_FETCH_REQ for every tag the workers
// finished and re-arms the eventfd read; the loop's next enter submits
// them all.
func (q *queue) commitDone() error {
	for _, c := range q.async.take() {
		if err := q.prep(ublkIOCommitAndFetch, c.tag, c.result); err != nil {
			return err
		}
	}
	return q.async.prepEventfdRead(q.ring, q.efdIn, eventfdTag)
}

// fetchAll submits FETCH_REQ for every tag and checks that the kernel
// took them: a refused fetch completes at once, an accepted one only when
// a request comes, which cannot happen before START_DEV.
func (q *queue) fetchAll() error {
	for tag := 0; tag < q.depth; tag++ {
		if err := q.prep(ublkIOFetchReq, uint16(tag), 0); err != nil {
			return err
		}
	}
	if err := q.ring.enter(0); err != nil {
		return fmt.Errorf("queue %d: FETCH_REQ: %w", q.id, err)
	}
	var err error
	q.ring.reap(func(c cqe) {
		if err == nil {
			err = q.cmdError(uint32(c.userData>>16), uint16(c.userData), c.res)
		}
	})
	return err
}

// cmdError describes an io command the kernel answered with res.
func (q *queue) cmdError(op uint32, tag uint16, res int32) error {
	name := "FETCH_REQ"
	if op == ublkIOCommitAndFetch {
		name = "COMMIT_AND_FETCH_REQ"
	}
	if res < 0 {
		return fmt.Errorf("ublk: queue %d tag %d: %s: %w", q.id, tag, name, unix.Errno(-res))
	}
	return fmt.Errorf("ublk: queue %d tag %d: %s: unexpected result %d", q.id, tag, name, res)
}
