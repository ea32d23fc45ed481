//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockDev is what the asynchronous server drives: gomp's
// *multipath.Device, or the memory disk through memDev.
type blockDev interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
	WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error)
	Flush(ctx context.Context) error
	Trim(ctx context.Context, off, length int64) error
	WriteZeroes(ctx context.Context, off, length int64, unmap bool) error
	Size() int64
}

// serveDev carries out the request d on dev with the tag's data buffer
// buf and returns the result to commit: bytes done for READ and WRITE, 0
// for the others, -EOPNOTSUPP for what dev does not take, -EIO when dev
// fails or the request lies outside it (with the error, which the
// asynchronous server reports).
func serveDev(ctx context.Context, dev blockDev, d ioDesc, buf []byte) (int32, error) {
	if d.opFlags&0xff == ublkIOOpFlush { // its sector is the block layer's -1
		if err := dev.Flush(ctx); err != nil {
			return -int32(unix.EIO), err
		}
		return 0, nil
	}
	size := uint64(dev.Size())
	if d.startSector > size>>sectorShift {
		return -int32(unix.EIO), errOutside
	}
	off := d.startSector << sectorShift
	n := uint64(d.nrSectors) << sectorShift
	if n > size-off {
		return -int32(unix.EIO), errOutside
	}
	var err error
	switch d.opFlags & 0xff {
	case ublkIOOpRead, ublkIOOpWrite:
		if n > uint64(len(buf)) {
			return -int32(unix.EIO), errOutside
		}
		if d.opFlags&0xff == ublkIOOpRead {
			_, err = dev.ReadAtContext(ctx, buf[:n], int64(off))
		} else {
			_, err = dev.WriteAtContext(ctx, buf[:n], int64(off), d.opFlags&ublkIOFFUA != 0)
		}
		if err == nil {
			return int32(n), nil
		}
	case ublkIOOpDiscard:
		err = dev.Trim(ctx, int64(off), int64(n))
	case ublkIOOpWriteZeroes:
		err = dev.WriteZeroes(ctx, int64(off), int64(n), d.opFlags&ublkIOFNoUnmap == 0)
	default:
		return -int32(unix.EOPNOTSUPP), nil
	}
	if errors.Is(err, errors.ErrUnsupported) {
		return -int32(unix.EOPNOTSUPP), err
	}
	if err != nil {
		return -int32(unix.EIO), err
	}
	return 0, nil
}

// errOutside: a request beyond the device or the tag's buffer.
var errOutside = errors.New("request outside the device or the tag's buffer")

// memDev is the memory disk as a blockDev: served on the queue thread,
// or with -async through the workers, to measure what the hand-off costs.
type memDev struct{ s *store }

func (m memDev) Size() int64 { return int64(len(m.s.mem)) }
func (m memDev) ReadAtContext(_ context.Context, p []byte, off int64) (int, error) {
	return copy(p, m.s.mem[off:]), nil
}
func (m memDev) WriteAtContext(_ context.Context, p []byte, off int64, _ bool) (int, error) {
	return copy(m.s.mem[off:], p), nil
}
func (m memDev) Flush(context.Context) error { return nil }
func (m memDev) Trim(_ context.Context, off, n int64) error {
	clear(m.s.mem[off : off+n])
	return nil
}
func (m memDev) WriteZeroes(ctx context.Context, off, n int64, _ bool) error {
	return m.Trim(ctx, off, n)
}

// completion is a served tag and the result to commit.
type completion struct {
	tag    uint16
	result int32
}

// asyncServer serves one queue's requests off its thread: the queue
// thread hands a tag to a pool of depth workers (a buffered channel, so
// it never blocks), a worker serves the tag's descriptor on dev with the
// tag's buffer and appends the result to a list, and writes the eventfd
// when the list was not yet signalled; the queue thread keeps a read of
// the eventfd armed on its ring, and on its completion takes the list and
// commits every tag in one io_uring_enter. Nothing here allocates per
// request: the channel carries tag numbers, the lists are preallocated
// with room for every tag and swapped, and every request uses the one
// context.
type asyncServer struct {
	dev    blockDev
	ctx    context.Context
	cancel context.CancelFunc
	desc   func(tag uint16) ioDesc
	buf    func(tag uint16) []byte
	work   chan uint16
	efd    int
	wg     sync.WaitGroup

	mu    sync.Mutex
	done  []completion // results not yet taken by the queue thread
	spare []completion // the list the queue thread took last
	woken bool         // the eventfd was written since the last take

	failed atomic.Int64 // requests answered with an error
	logged atomic.Int64
}

// eventfdOne is the 8-byte value workers write to the eventfd.
var eventfdOne = [8]byte{1}

// newAsyncServer starts depth workers serving on dev under ctx; desc and
// buf give a tag's descriptor and buffer.
func newAsyncServer(ctx context.Context, dev blockDev, depth int, desc func(uint16) ioDesc, buf func(uint16) []byte) (*asyncServer, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC) // blocking: io_uring polls it
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	s := &asyncServer{dev: dev, desc: desc, buf: buf, efd: efd,
		work:  make(chan uint16, depth),
		done:  make([]completion, 0, depth),
		spare: make([]completion, 0, depth)}
	s.ctx, s.cancel = context.WithCancel(ctx)
	for range depth {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// worker serves tags until the work channel is closed.
func (s *asyncServer) worker() {
	defer s.wg.Done()
	for tag := range s.work {
		res, err := serveDev(s.ctx, s.dev, s.desc(tag), s.buf(tag))
		if err != nil {
			s.report(tag, err)
		}
		s.complete(tag, res)
	}
}

// report counts a failed request and writes the first few to stderr.
func (s *asyncServer) report(tag uint16, err error) {
	s.failed.Add(1)
	if s.logged.Add(1) <= 10 {
		d := s.desc(tag)
		fmt.Fprintf(os.Stderr, "ublkmem: op %d sector %d count %d: %v\n", d.opFlags&0xff, d.startSector, d.nrSectors, err)
	}
}

// start hands tag to a worker; it never blocks (at most depth tags are
// out at once).
func (s *asyncServer) start(tag uint16) { s.work <- tag }

// complete queues tag's result for the queue thread and wakes it.
func (s *asyncServer) complete(tag uint16, res int32) {
	s.mu.Lock()
	s.done = append(s.done, completion{tag, res})
	wake := !s.woken
	s.woken = true
	s.mu.Unlock()
	if wake {
		for {
			_, err := unix.Write(s.efd, eventfdOne[:])
			if err != unix.EINTR {
				break
			}
		}
	}
}

// take returns the results queued since the last take; the slice is
// valid until the next call.
func (s *asyncServer) take() []completion {
	s.mu.Lock()
	out := s.done
	s.done = s.spare[:0]
	s.woken = false
	s.mu.Unlock()
	s.spare = out
	return out
}

// prepEventfdRead queues on r a read of the eventfd into buf (8 bytes
// outside Go's heap) with user data ud.
func (s *asyncServer) prepEventfdRead(r *ring, buf []byte, ud uint64) error {
	e, err := r.getSQE()
	if err != nil {
		return err
	}
	e.opcode = ioringOpRead
	e.fd = int32(s.efd)
	e.addr = uint64(uintptr(unsafe.Pointer(&buf[0])))
	e.len = 8
	e.userData = ud
	return nil
}

// stop cancels the requests' context when abort, closes the work channel,
// waits for the workers and closes the eventfd.
func (s *asyncServer) stop(abort bool) {
	if abort {
		s.cancel()
	}
	close(s.work)
	s.wg.Wait()
	s.cancel()
	_ = unix.Close(s.efd)
}
