package iscsitest

import (
	"encoding/binary"
	"slices"

	"github.com/gomp-dev/gomp/pdu"
)

// Sense keys (SPC-4 §4.5.6).
const (
	senseNoSense        = 0x00
	senseIllegalRequest = 0x05
	senseUnitAttention  = 0x06
	senseAbortedCommand = 0x0b
	senseMediumError    = 0x03
	senseDataProtect    = 0x07
)

// maxTransfer caps the bytes one READ or WRITE may move, so that a CDB
// cannot make the target allocate without bound.
const maxTransfer = 32 << 20

// scsiResult is a command's outcome: status, sense data, Data-In.
type scsiResult struct {
	status pdu.SCSIStatus
	sense  []byte
	data   []byte
}

func good(data []byte) scsiResult { return scsiResult{status: pdu.StatusGood, data: data} }

func checkCondition(key, asc, ascq byte) scsiResult {
	return scsiResult{status: pdu.StatusCheckCondition, sense: fixedSense(key, asc, ascq)}
}

// fixedSense builds fixed-format sense data (SPC-4 §4.5.3).
func fixedSense(key, asc, ascq byte) []byte {
	s := make([]byte, 18)
	s[0] = 0x70 // current error, fixed format
	s[2] = key
	s[7] = 10 // additional sense length
	s[12], s[13] = asc, ascq
	return s
}

// cdbCtx is what a command implementation sees.
type cdbCtx struct {
	c   *Conn
	cdb []byte
	lun *LUN // nil for an absent LUN (only anyLUN commands see that)
	out []byte
}

// command is one supported operation code.
type command struct {
	// anyLUN commands work on absent LUNs and neither report nor clear
	// a unit attention (SAM-5 §5.14: INQUIRY, REPORT LUNS, REQUEST SENSE).
	anyLUN bool
	// check validates the CDB before any data moves and returns the
	// Data-Out length it needs; nil means no data out, nothing to check.
	check func(x *cdbCtx) (uint32, *scsiResult)
	run   func(x *cdbCtx) scsiResult
}

// commands is indexed by CDB operation code.
var commands = map[byte]command{
	0x00: {run: func(*cdbCtx) scsiResult { return good(nil) }}, // TEST UNIT READY
	0x03: {anyLUN: true, run: requestSense},
	0x12: {anyLUN: true, run: inquiry},
	0x1a: {run: modeSense6},
	0x25: {run: readCapacity10},
	0x28: {check: checkRead, run: read},                                          // READ(10)
	0x2a: {check: checkWrite, run: write},                                        // WRITE(10)
	0x35: {check: checkSync, run: func(*cdbCtx) scsiResult { return good(nil) }}, // SYNCHRONIZE CACHE(10)
	0x42: {check: checkUnmap, run: unmap},
	0x5a: {run: modeSense10},
	0x88: {check: checkRead, run: read},                                          // READ(16)
	0x8a: {check: checkWrite, run: write},                                        // WRITE(16)
	0x91: {check: checkSync, run: func(*cdbCtx) scsiResult { return good(nil) }}, // SYNCHRONIZE CACHE(16)
	0x93: {check: checkWriteSame, run: writeSame},
	0x9e: {check: checkServiceAction(0x10), run: readCapacity16}, // SERVICE ACTION IN(16)
	0xa0: {anyLUN: true, run: reportLUNs},
	0xa3: {check: checkServiceAction(0x0a), run: reportTargetPortGroups}, // MAINTENANCE IN
}

// precheck decides what a command can be told before its data moves: an
// absent LUN, a unit attention, an unknown opcode, a bad CDB. It returns
// the Data-Out length the command needs otherwise.
func (c *Conn) precheck(t *task) (*scsiResult, uint32) {
	fail := func(key, asc, ascq byte) (*scsiResult, uint32) {
		r := checkCondition(key, asc, ascq)
		return &r, 0
	}
	cmd, known := commands[t.cdb[0]]
	n, hasLUN := t.lun.Number()
	dev := c.cfg.LUNs[n]
	switch {
	case !known && (!hasLUN || dev == nil):
		return fail(senseIllegalRequest, 0x25, 0x00) // LOGICAL UNIT NOT SUPPORTED
	case !known:
		if ua, ok := c.ua[n]; ok {
			delete(c.ua, n)
			return fail(senseUnitAttention, byte(ua>>8), byte(ua))
		}
		return fail(senseIllegalRequest, 0x20, 0x00) // INVALID COMMAND OPERATION CODE
	case cmd.anyLUN:
	case !hasLUN || dev == nil:
		return fail(senseIllegalRequest, 0x25, 0x00)
	case c.ua[n] != 0:
		ua := c.ua[n]
		delete(c.ua, n)
		return fail(senseUnitAttention, byte(ua>>8), byte(ua))
	case dev.Unsupported[t.cdb[0]]:
		return fail(senseIllegalRequest, 0x20, 0x00)
	}
	if cmd.check == nil {
		return nil, 0
	}
	need, res := cmd.check(&cdbCtx{c: c, cdb: t.cdb, lun: dev})
	if res != nil {
		return res, 0
	}
	return nil, need
}

// UnitAttention makes the next command to lun on this connection (other
// than INQUIRY, REPORT LUNS, REQUEST SENSE) fail with UNIT ATTENTION and
// the additional sense code asc/ascq, e.g. 0x2A/0x01 MODE PARAMETERS
// CHANGED. It takes the connection's lock: do not call it from
// BeforeSend or HoldCommand.
func (c *Conn) UnitAttention(lun uint16, asc, ascq byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ua[lun] = uint16(asc)<<8 | uint16(ascq)
}

// exec runs a task's command on its data.
func (c *Conn) exec(t *task) scsiResult {
	n, _ := t.lun.Number()
	return commands[t.cdb[0]].run(&cdbCtx{c: c, cdb: t.cdb, lun: c.cfg.LUNs[n], out: t.buf})
}

// cdbField reads a big-endian field of size bytes at off, zero if the CDB
// is too short.
func cdbField(cdb []byte, off, size int) uint64 {
	if off+size > len(cdb) {
		return 0
	}
	var v uint64
	for _, b := range cdb[off : off+size] {
		v = v<<8 | uint64(b)
	}
	return v
}

// rw returns the LBA and block count of a READ/WRITE/SYNC/WRITE SAME CDB:
// 10-byte CDBs (opcode < 0x80) or 16-byte ones.
func rw(cdb []byte) (lba, blocks uint64) {
	if cdb[0] < 0x80 {
		return cdbField(cdb, 2, 4), cdbField(cdb, 7, 2)
	}
	return cdbField(cdb, 2, 8), cdbField(cdb, 10, 4)
}

// checkRange validates an LBA range and its byte size.
func checkRange(x *cdbCtx, lba, blocks uint64) (uint32, *scsiResult) {
	if lba > x.lun.Blocks() || blocks > x.lun.Blocks()-lba {
		r := checkCondition(senseIllegalRequest, 0x21, 0x00) // LBA OUT OF RANGE
		return 0, &r
	}
	size := blocks * uint64(x.lun.blockSize)
	if size > maxTransfer {
		r := checkCondition(senseIllegalRequest, 0x24, 0x00) // INVALID FIELD IN CDB
		return 0, &r
	}
	return uint32(size), nil
}

func checkRead(x *cdbCtx) (uint32, *scsiResult) {
	lba, blocks := rw(x.cdb)
	_, res := checkRange(x, lba, blocks)
	return 0, res
}

func checkWrite(x *cdbCtx) (uint32, *scsiResult) {
	c := x.lun.caching()
	fua := x.cdb[1]&0x08 != 0
	switch {
	case c.WriteProtect:
		r := checkCondition(senseDataProtect, 0x27, 0x00) // WRITE PROTECTED
		return 0, &r
	case fua && (!c.DPOFUA || c.RefuseFUA):
		r := checkCondition(senseIllegalRequest, 0x24, 0x00) // INVALID FIELD IN CDB
		return 0, &r
	}
	lba, blocks := rw(x.cdb)
	return checkRange(x, lba, blocks)
}

func checkSync(x *cdbCtx) (uint32, *scsiResult) {
	lba, blocks := rw(x.cdb)
	if lba > x.lun.Blocks() || blocks > x.lun.Blocks()-lba {
		r := checkCondition(senseIllegalRequest, 0x21, 0x00)
		return 0, &r
	}
	return 0, nil
}

func read(x *cdbCtx) scsiResult {
	lba, blocks := rw(x.cdb)
	data := make([]byte, blocks*uint64(x.lun.blockSize))
	if _, err := x.lun.ReadAt(data, int64(lba)*int64(x.lun.blockSize)); err != nil {
		return checkCondition(senseMediumError, 0x11, 0x00) // UNRECOVERED READ ERROR
	}
	return good(data)
}

func write(x *cdbCtx) scsiResult {
	lba, _ := rw(x.cdb)
	if _, err := x.lun.WriteAt(x.out, int64(lba)*int64(x.lun.blockSize)); err != nil {
		return checkCondition(senseMediumError, 0x0c, 0x00) // WRITE ERROR
	}
	return good(nil)
}

// checkUnmap requires a thin LUN; the parameter list length is the
// Data-Out length (SBC-4 §5.31).
func checkUnmap(x *cdbCtx) (uint32, *scsiResult) {
	if !x.lun.Thin {
		r := checkCondition(senseIllegalRequest, 0x20, 0x00)
		return 0, &r
	}
	return uint32(cdbField(x.cdb, 7, 2)), nil
}

// unmap deallocates each block descriptor of the parameter list.
func unmap(x *cdbCtx) scsiResult {
	if len(x.out) < 8 {
		return good(nil) // an empty list is no error
	}
	descs := x.out[8:min(len(x.out), 8+int(binary.BigEndian.Uint16(x.out[2:4])))]
	for ; len(descs) >= 16; descs = descs[16:] {
		lba, n := binary.BigEndian.Uint64(descs), uint64(binary.BigEndian.Uint32(descs[8:]))
		if err := x.lun.Unmap(lba, n); err != nil {
			return checkCondition(senseIllegalRequest, 0x21, 0x00)
		}
	}
	return good(nil)
}

// checkWriteSame validates WRITE SAME(16): UNMAP needs a thin LUN, NUMBER
// OF LOGICAL BLOCKS 0 is refused (WSNZ), and one block of data comes unless
// NDOB (SBC-4 §5.50).
func checkWriteSame(x *cdbCtx) (uint32, *scsiResult) {
	lba, blocks := rw(x.cdb)
	unmapBit, ndob := x.cdb[1]&0x08 != 0, x.cdb[1]&0x01 != 0
	if unmapBit && !x.lun.Thin || blocks == 0 {
		r := checkCondition(senseIllegalRequest, 0x24, 0x00)
		return 0, &r
	}
	if lba > x.lun.Blocks() || blocks > x.lun.Blocks()-lba {
		r := checkCondition(senseIllegalRequest, 0x21, 0x00)
		return 0, &r
	}
	if ndob {
		return 0, nil
	}
	return x.lun.blockSize, nil
}

func writeSame(x *cdbCtx) scsiResult {
	lba, blocks := rw(x.cdb)
	block := x.out
	if x.cdb[1]&0x01 != 0 { // NDOB: zeros
		block = make([]byte, x.lun.blockSize)
	}
	if x.cdb[1]&0x08 != 0 && !slices.ContainsFunc(block, func(b byte) bool { return b != 0 }) {
		_ = x.lun.Unmap(lba, blocks)
		return good(nil)
	}
	for i := range blocks {
		_, _ = x.lun.WriteAt(block, int64(lba+i)*int64(x.lun.blockSize))
	}
	return good(nil)
}

// checkServiceAction accepts only service action sa (CDB byte 1 bits 0-4).
func checkServiceAction(sa byte) func(x *cdbCtx) (uint32, *scsiResult) {
	return func(x *cdbCtx) (uint32, *scsiResult) {
		if x.cdb[1]&0x1f != sa {
			r := checkCondition(senseIllegalRequest, 0x24, 0x00)
			return 0, &r
		}
		return 0, nil
	}
}

// trim cuts data to an allocation length (SPC-4 §4.2.5.6).
func trim(data []byte, alloc uint64) []byte { return data[:min(uint64(len(data)), alloc)] }

func requestSense(x *cdbCtx) scsiResult {
	return good(trim(fixedSense(senseNoSense, 0, 0), cdbField(x.cdb, 4, 1)))
}

// modeSense6 and modeSense10 answer with the mode parameter header and, for
// page 0x08 or 0x3F, the Caching page (SPC-4 §7.5.5, SBC-3 §6.4.5); other
// pages are refused with INVALID FIELD IN CDB. No block descriptors.
func modeSense6(x *cdbCtx) scsiResult {
	pages, ok := modePages(x)
	if !ok {
		return checkCondition(senseIllegalRequest, 0x24, 0x00)
	}
	b := append([]byte{byte(3 + len(pages)), 0, deviceSpecific(x.lun), 0}, pages...)
	return good(trim(b, cdbField(x.cdb, 4, 1)))
}

func modeSense10(x *cdbCtx) scsiResult {
	pages, ok := modePages(x)
	if !ok {
		return checkCondition(senseIllegalRequest, 0x24, 0x00)
	}
	b := append([]byte{0, byte(6 + len(pages)), 0, deviceSpecific(x.lun), 0, 0, 0, 0}, pages...)
	return good(trim(b, cdbField(x.cdb, 7, 2)))
}

// modePages returns the pages a MODE SENSE CDB asks for.
func modePages(x *cdbCtx) ([]byte, bool) {
	switch x.cdb[2] & 0x3F {
	case 0x08, 0x3F:
		c := x.lun.caching()
		p := make([]byte, 20)
		p[0], p[1] = 0x08, 18
		if c.WriteCache {
			p[2] |= 0x04 // WCE
		}
		if c.ReadCacheDisabled {
			p[2] |= 0x01 // RCD
		}
		return p, true
	}
	return nil, false
}

// deviceSpecific is the mode parameter header's DEVICE-SPECIFIC PARAMETER
// of a direct-access device: WP (bit 7), DPOFUA (bit 4).
func deviceSpecific(l *LUN) byte {
	c := l.caching()
	var b byte
	if c.WriteProtect {
		b |= 0x80
	}
	if c.DPOFUA {
		b |= 0x10
	}
	return b
}

func readCapacity10(x *cdbCtx) scsiResult {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b, uint32(min(x.lun.Blocks()-1, 0xffffffff)))
	binary.BigEndian.PutUint32(b[4:], x.lun.blockSize)
	return good(b)
}

// readCapacity16 returns the READ CAPACITY(16) parameter data, with LBPME
// and LBPRZ for thin LUNs (SBC-4 §5.20.2).
func readCapacity16(x *cdbCtx) scsiResult {
	b := make([]byte, 32)
	binary.BigEndian.PutUint64(b, x.lun.Blocks()-1)
	binary.BigEndian.PutUint32(b[8:], x.lun.blockSize)
	if x.lun.Thin {
		b[14] = 0x80 | 0x40
	}
	return good(trim(b, cdbField(x.cdb, 10, 4)))
}

// reportLUNs lists the target's LUNs in ascending order (SPC-4 §6.33).
func reportLUNs(x *cdbCtx) scsiResult {
	var nums []uint16
	for n := range x.c.cfg.LUNs {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	b := make([]byte, 8, 8+8*len(nums))
	binary.BigEndian.PutUint32(b, uint32(8*len(nums)))
	for _, n := range nums {
		b = binary.BigEndian.AppendUint64(b, uint64(pdu.MakeLUN(n)))
	}
	return good(trim(b, cdbField(x.cdb, 6, 4)))
}

// reportTargetPortGroups describes one port group with one port
// (SPC-4 §6.37).
func reportTargetPortGroups(x *cdbCtx) scsiResult {
	cfg := x.c.cfg
	b := make([]byte, 4, 16)
	b = append(b, byte(x.c.t.pgState.Load())&0x0f, 0x0f) // state; U/S/AN/AO supported
	b = binary.BigEndian.AppendUint16(b, cfg.PortGroup)
	b = append(b, 0, 0, 0, 1) // reserved, status code, vendor, one port
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint16(b, cfg.RelativePort)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return good(trim(b, cdbField(x.cdb, 6, 4)))
}
