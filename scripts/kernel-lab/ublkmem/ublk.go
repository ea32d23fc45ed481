//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ublk ABI values (include/uapi/linux/ublk_cmd.h, Linux 6.12).
const (
	ublkCmdAddDev        = 0x04
	ublkCmdDelDev        = 0x05
	ublkCmdStartDev      = 0x06
	ublkCmdStopDev       = 0x07
	ublkCmdSetParams     = 0x08
	ublkIOFetchReq       = 0x20
	ublkIOCommitAndFetch = 0x21

	ublkFCmdIoctlEncode = 1 << 6

	ublkParamTypeBasic   = 1 << 0
	ublkParamTypeDiscard = 1 << 1

	ublkIOOpRead        = 0
	ublkIOOpWrite       = 1
	ublkIOOpFlush       = 2
	ublkIOOpDiscard     = 3
	ublkIOOpWriteSame   = 4
	ublkIOOpWriteZeroes = 5

	// op_flags bits above the operation (UBLK_IO_F_*)
	ublkIOFFUA     = 1 << 13
	ublkIOFNoUnmap = 1 << 15

	// ublk_param_basic.attrs (UBLK_ATTR_*)
	ublkAttrReadOnly      = 1 << 0
	ublkAttrVolatileCache = 1 << 2
	ublkAttrFUA           = 1 << 3

	ublkIOResOK    = 0
	ublkIOResAbort = -int32(unix.ENODEV)

	ublkMaxQueueDepth  = 4096
	ublkCmdBufOffset   = 0
	ublkDescSize       = 24
	sectorShift        = 9
	ctrlCmdSize        = 32
	ioCmdSize          = 16
	devInfoSize        = 64
	paramsLenBasicDisc = 60 // offsetof(struct ublk_params, devt)
)

// ctrlCmd is struct ublksrv_ctrl_cmd, written into an SQE's command area
// for the commands on /dev/ublk-control.
type ctrlCmd struct {
	devID      uint32
	queueID    uint16
	len        uint16
	addr       uint64
	data       uint64
	devPathLen uint16
	pad        uint16
	reserved   uint32
}

// devInfo is struct ublksrv_ctrl_dev_info, ADD_DEV's argument and answer.
type devInfo struct {
	nrHWQueues    uint16
	queueDepth    uint16
	state         uint16
	pad0          uint16
	maxIOBufBytes uint32
	devID         uint32
	ublksrvPID    int32
	pad1          uint32
	flags         uint64
	ublksrvFlags  uint64
	ownerUID      uint32
	ownerGID      uint32
	reserved1     uint64
	reserved2     uint64
}

// ioDesc is struct ublksrv_io_desc, one per tag in the queue's shared
// descriptor array.
type ioDesc struct {
	opFlags     uint32
	nrSectors   uint32
	startSector uint64
	addr        uint64
}

// ioCmd is struct ublksrv_io_cmd, the command area of FETCH_REQ and
// COMMIT_AND_FETCH_REQ on /dev/ublkcN.
type ioCmd struct {
	qID    uint16
	tag    uint16
	result int32
	addr   uint64
}

// paramBasic is struct ublk_param_basic.
type paramBasic struct {
	attrs            uint32
	logicalBSShift   uint8
	physicalBSShift  uint8
	ioOptShift       uint8
	ioMinShift       uint8
	maxSectors       uint32
	chunkSectors     uint32
	devSectors       uint64
	virtBoundaryMask uint64
}

// paramDiscard is struct ublk_param_discard.
type paramDiscard struct {
	discardAlignment      uint32
	discardGranularity    uint32
	maxDiscardSectors     uint32
	maxWriteZeroesSectors uint32
	maxDiscardSegments    uint16
	reserved0             uint16
}

// params is the head of struct ublk_params: len, types, basic and
// discard (len says how much of it the kernel reads).
type params struct {
	len     uint32
	types   uint32
	basic   paramBasic
	discard paramDiscard
}

// iowr encodes a 'u' ioctl number as _IOWR('u', nr, size), the form
// UBLK_F_CMD_IOCTL_ENCODE commands take.
func iowr(nr, size uint32) uint32 {
	const dirReadWrite = 3
	return dirReadWrite<<30 | size<<16 | uint32('u')<<8 | nr
}

// ctrlOpNames names the control commands in error messages.
var ctrlOpNames = map[uint32]string{
	ublkCmdAddDev:    "ADD_DEV",
	ublkCmdDelDev:    "DEL_DEV",
	ublkCmdStartDev:  "START_DEV",
	ublkCmdStopDev:   "STOP_DEV",
	ublkCmdSetParams: "SET_PARAMS",
}

// control is /dev/ublk-control with its io_uring and a page of memory
// outside Go's heap for the commands' payloads.
type control struct {
	fd   int
	ring *ring
	page []byte
}

// openControl opens /dev/ublk-control (making the node from sysfs if
// devtmpfs has none) and sets up its ring.
func openControl() (*control, error) {
	const path = "/dev/ublk-control"
	if err := ensureNode(path, "/sys/class/misc/ublk-control/dev", unix.S_IFCHR, time.Second); err != nil {
		return nil, fmt.Errorf("ublk: %w (is ublk_drv loaded?)", err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("ublk: open %s: %w", path, err)
	}
	c := &control{fd: fd}
	if c.ring, err = newRing(4); err != nil {
		c.close()
		return nil, fmt.Errorf("ublk: control ring: %w", err)
	}
	if c.page, err = unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		c.close()
		return nil, fmt.Errorf("ublk: control buffer: %w", err)
	}
	return c, nil
}

// close releases the control ring, buffer and fd.
func (c *control) close() {
	if c.ring != nil {
		c.ring.close()
		c.ring = nil
	}
	if c.page != nil {
		_ = unix.Munmap(c.page)
		c.page = nil
	}
	if c.fd >= 0 {
		_ = unix.Close(c.fd)
		c.fd = -1
	}
}

// do runs control command op for device devID with inline data and, when
// n > 0, the first n bytes of c.page as its buffer; it waits for the answer.
func (c *control) do(op, devID uint32, data uint64, n int) error {
	s, err := c.ring.getSQE()
	if err != nil {
		return err
	}
	s.opcode = ioringOpURingCmd
	s.fd = int32(c.fd)
	s.cmdOp = iowr(op, ctrlCmdSize)
	s.userData = uint64(op)
	cmd := (*ctrlCmd)(unsafe.Pointer(&s.cmd[0]))
	cmd.devID = devID
	cmd.queueID = 0xffff
	cmd.data = data
	if n > 0 {
		cmd.addr = uint64(uintptr(unsafe.Pointer(&c.page[0])))
		cmd.len = uint16(n)
	}
	if err := c.ring.enter(1); err != nil {
		return fmt.Errorf("ublk: %s: %w", ctrlOpNames[op], err)
	}
	var res int32
	c.ring.reap(func(e cqe) { res = e.res })
	if res < 0 {
		return fmt.Errorf("ublk: %s: %w", ctrlOpNames[op], unix.Errno(-res))
	}
	return nil
}

// addDev creates a device (the kernel picks its number) and returns what
// the kernel made of info: dev_id, and queues, depth and buffer size
// possibly lowered.
func (c *control) addDev(info devInfo) (devInfo, error) {
	info.devID = ^uint32(0)
	info.flags |= ublkFCmdIoctlEncode
	*(*devInfo)(unsafe.Pointer(&c.page[0])) = info
	if err := c.do(ublkCmdAddDev, info.devID, 0, devInfoSize); err != nil {
		return devInfo{}, err
	}
	return *(*devInfo)(unsafe.Pointer(&c.page[0])), nil
}

// setParams sends the basic and discard parameters of device devID.
func (c *control) setParams(devID uint32, p params) error {
	p.len = paramsLenBasicDisc
	*(*params)(unsafe.Pointer(&c.page[0])) = p
	return c.do(ublkCmdSetParams, devID, 0, int(unsafe.Sizeof(p)))
}

// startDev starts device devID served by process pid: the kernel waits
// until every queue has fetched all its tags, then adds /dev/ublkbN.
func (c *control) startDev(devID uint32, pid int) error {
	return c.do(ublkCmdStartDev, devID, uint64(pid), 0)
}

// stopDev removes /dev/ublkbN and aborts the queues' fetch commands.
func (c *control) stopDev(devID uint32) error {
	return c.do(ublkCmdStopDev, devID, 0, 0)
}

// delDev deletes device devID; the kernel waits until /dev/ublkcN is closed.
func (c *control) delDev(devID uint32) error {
	return c.do(ublkCmdDelDev, devID, 0, 0)
}

// ensureNode waits up to wait for the device node at path (devtmpfs makes
// it) and otherwise creates it with mknod from the "major:minor" in sysDev.
func ensureNode(path, sysDev string, kind uint32, wait time.Duration) error {
	_, err := ensureNodeMade(path, sysDev, kind, wait)
	return err
}

// ensureNodeMade is ensureNode that also reports whether it made the node.
func ensureNodeMade(path, sysDev string, kind uint32, wait time.Duration) (bool, error) {
	deadline := time.Now().Add(wait)
	for {
		if _, err := os.Stat(path); err == nil {
			return false, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("stat %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(sysDev)
	if errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("%s: no such device node, and no %s to make it from", path, sysDev)
	} else if err != nil {
		return false, fmt.Errorf("%s: no such device node, and %w", path, err)
	}
	majStr, minStr, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	maj, err1 := strconv.ParseUint(majStr, 10, 32)
	minor, err2 := strconv.ParseUint(minStr, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return false, fmt.Errorf("%s: %q is not major:minor", sysDev, b)
	}
	if err := unix.Mknod(path, kind|0o600, int(unix.Mkdev(uint32(maj), uint32(minor)))); err != nil {
		return false, fmt.Errorf("mknod %s: %w", path, err)
	}
	return true, nil
}
