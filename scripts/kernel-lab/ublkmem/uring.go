//go:build linux

package main

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// io_uring ABI values (include/uapi/linux/io_uring.h).
const (
	ioringSetupSQE128      = 1 << 10
	ioringFeatSingleMmap   = 1 << 0
	ioringEnterGetevents   = 1 << 0
	ioringOffSQRing        = 0
	ioringOffCQRing        = 0x8000000
	ioringOffSQEs          = 0x10000000
	ioringOpRead           = 22
	ioringOpURingCmd       = 46
	sqe128Size             = 128
	cqeSize                = 16
	uringParamsSize        = 120
	uringCmdAreaOffset     = 48
	uringCmdAreaSizeSQE128 = 80
)

// sqRingOffsets is struct io_sqring_offsets.
type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqRingOffsets is struct io_cqring_offsets.
type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// uringParams is struct io_uring_params (120 bytes).
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqRingOffsets
	cqOff                                                                  cqRingOffsets
}

// sqe is a 128-byte io_uring submission entry (IORING_SETUP_SQE128) laid
// out for IORING_OP_URING_CMD: cmdOp sits where off does, and cmd is the
// 80-byte command area at offset 48.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	cmdOp       uint32
	pad1        uint32
	addr        uint64
	len         uint32
	opFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	fileIndex   int32
	cmd         [uringCmdAreaSizeSQE128]byte
}

// cqe is struct io_uring_cqe (no CQE32).
type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// ring is a hand-driven io_uring with 128-byte SQEs. It is not safe for
// concurrent use: one goroutine owns it.
type ring struct {
	fd      int
	sqMap   []byte
	cqMap   []byte // same memory as sqMap with IORING_FEAT_SINGLE_MMAP
	cqOwn   bool   // cqMap is a mapping of its own
	sqeMap  []byte
	sqHead  *uint32
	sqTail  *uint32
	sqMask  uint32
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    unsafe.Pointer
	tail    uint32 // our SQ tail, published on submit
	entries uint32
}

// newRing sets up an io_uring of at least entries SQEs (CQ twice that).
func newRing(entries uint32) (*ring, error) {
	var p uringParams
	p.flags = ioringSetupSQE128
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, fmt.Errorf("io_uring_setup(%d entries, SQE128): %w", entries, errno)
	}
	r := &ring{fd: int(fd), entries: p.sqEntries}
	if err := r.mapRings(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// mapRings maps the SQ ring, CQ ring and SQE array described by p and
// fills the SQ index array with the identity (SQE i in slot i).
func (r *ring) mapRings(p *uringParams) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*cqeSize
	single := p.features&ioringFeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	prot, flags := unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE
	if r.sqMap, err = unix.Mmap(r.fd, ioringOffSQRing, sqSize, prot, flags); err != nil {
		return fmt.Errorf("io_uring: mmap SQ ring: %w", err)
	}
	r.cqMap = r.sqMap
	if !single {
		if r.cqMap, err = unix.Mmap(r.fd, ioringOffCQRing, cqSize, prot, flags); err != nil {
			return fmt.Errorf("io_uring: mmap CQ ring: %w", err)
		}
		r.cqOwn = true
	}
	if r.sqeMap, err = unix.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries)*sqe128Size, prot, flags); err != nil {
		return fmt.Errorf("io_uring: mmap SQEs: %w", err)
	}
	r.sqHead = (*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.head]))
	r.sqTail = (*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.tail]))
	r.sqMask = *(*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.ringMask]))
	r.cqHead = (*uint32)(unsafe.Pointer(&r.cqMap[p.cqOff.head]))
	r.cqTail = (*uint32)(unsafe.Pointer(&r.cqMap[p.cqOff.tail]))
	r.cqMask = *(*uint32)(unsafe.Pointer(&r.cqMap[p.cqOff.ringMask]))
	r.cqes = unsafe.Pointer(&r.cqMap[p.cqOff.cqes])
	array := unsafe.Slice((*uint32)(unsafe.Pointer(&r.sqMap[p.sqOff.array])), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.tail = atomic.LoadUint32(r.sqTail)
	return nil
}

// errSQFull is returned by getSQE when every SQE awaits submission.
var errSQFull = errors.New("io_uring: submission queue full")

// getSQE returns the next free SQE, zeroed; it is published by submit.
func (r *ring) getSQE() (*sqe, error) {
	if r.tail-atomic.LoadUint32(r.sqHead) >= r.entries {
		return nil, errSQFull
	}
	s := (*sqe)(unsafe.Pointer(&r.sqeMap[uintptr(r.tail&r.sqMask)*sqe128Size]))
	*s = sqe{}
	r.tail++
	return s, nil
}

// enter publishes the prepared SQEs, submits them and, when wait > 0,
// waits until at least wait CQEs are ready. Interrupted calls (Go's
// preemption signals) are resumed.
func (r *ring) enter(wait uint32) error {
	atomic.StoreUint32(r.sqTail, r.tail)
	for {
		pending := r.tail - atomic.LoadUint32(r.sqHead)
		if pending == 0 && (wait == 0 || r.ready() >= wait) {
			return nil
		}
		var flags uintptr
		if wait > 0 {
			flags = ioringEnterGetevents
		}
		_, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(pending), uintptr(wait), flags, 0, 0)
		switch errno {
		case 0:
			if wait == 0 || r.ready() >= wait {
				return nil
			}
		case unix.EINTR:
		default:
			return fmt.Errorf("io_uring_enter: %w", errno)
		}
	}
}

// ready is the number of CQEs waiting to be reaped.
func (r *ring) ready() uint32 {
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
}

// reap calls fn for every ready CQE, in order, and consumes them.
func (r *ring) reap(fn func(c cqe)) {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		c := *(*cqe)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*cqeSize))
		fn(c)
	}
	atomic.StoreUint32(r.cqHead, head)
}

// close unmaps the rings and closes the io_uring.
func (r *ring) close() {
	if r.sqeMap != nil {
		_ = unix.Munmap(r.sqeMap)
	}
	if r.cqOwn {
		_ = unix.Munmap(r.cqMap)
	}
	if r.sqMap != nil {
		_ = unix.Munmap(r.sqMap)
	}
	r.sqMap, r.cqMap, r.sqeMap = nil, nil, nil
	if r.fd >= 0 {
		_ = unix.Close(r.fd)
		r.fd = -1
	}
}
