package iscsi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// maxTransfer caps one READ/WRITE command when the LUN reports no limit.
const maxTransfer = 8 << 20

// LUNInfo is what INQUIRY, VPD and READ CAPACITY tell about a LUN.
type LUNInfo struct {
	LUN         uint16
	Vendor      string
	Product     string
	Revision    string
	DeviceType  scsi.DeviceType
	Serial      string
	WWID        string // multipath's rule over VPD 0x83; empty if none
	Designators []scsi.Designator
	BlockSize   uint32
	Blocks      uint64 // number of logical blocks
	ALUA        bool   // TPGS: implicit or explicit asymmetric access
	// ExplicitALUA: the LUN takes SET TARGET PORT GROUPS (TPGS explicit).
	ExplicitALUA bool

	// Thin provisioning and limits (VPD 0xB0, 0xB2; READ CAPACITY(16)).
	CanUnmap       bool   // LBPME and LBPU
	CanWriteSame   bool   // LBPWS: WRITE SAME(16) with UNMAP
	MaxTransfer    uint32 // bytes per command, 0 if unreported
	MaxUnmapBlocks uint32
	MaxWriteSame   uint64 // blocks per WRITE SAME, 0 if unreported

	// Cache is the Caching mode page's WCE and RCD and the DPOFUA and WP
	// bits (MODE SENSE, SBC-3 §6.4); zero when the LUN answers no MODE
	// SENSE.
	Cache scsi.CacheMode
}

// IsDisk reports a direct-access block device (SBC), the only kind gomp
// reads and writes.
func (i *LUNInfo) IsDisk() bool { return i.DeviceType == scsi.TypeDisk }

// Size returns the LUN's capacity in bytes.
func (i *LUNInfo) Size() int64 { return int64(i.Blocks) * int64(i.BlockSize) }

// reportLUNsMax bounds the REPORT LUNS answer gomp accepts: 64 Ki LUNs.
const reportLUNsMax = 8 + 8<<16

// ReportLUNs returns the LUN numbers the target exposes (REPORT LUNS,
// SPC-4 §6.33), in the target's order. A list longer than the first
// allocation (256 LUNs) is asked again with the length the target
// reports, up to 64 Ki LUNs; LUNs in addressing methods other than
// peripheral and flat are left out. Its errors name the portal.
func (s *Session) ReportLUNs(ctx context.Context) ([]uint16, error) {
	size := 16 + 8*256
	for range 3 { // the list may grow between two requests
		buf := make([]byte, size)
		cdb := scsi.ReportLUNs(scsi.SelectLogicalUnits, uint32(len(buf)))
		cmd := &Command{LUN: 0, CDB: cdb[:], Read: buf}
		if err := s.Do(ctx, cmd); err != nil {
			return nil, fmt.Errorf("iscsi: REPORT LUNS via %s: %w", s.cfg.Portal, err)
		}
		luns, err := scsi.ParseReportLUNs(buf[:len(buf)-max(cmd.Residual, 0)])
		var te *scsi.TruncatedError
		if errors.As(err, &te) && te.Need > size && te.Need <= reportLUNsMax {
			size = te.Need
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("iscsi: REPORT LUNS via %s: %w", s.cfg.Portal, err)
		}
		return lunNumbers(luns), nil
	}
	return nil, fmt.Errorf("iscsi: REPORT LUNS via %s: the LUN list keeps growing", s.cfg.Portal)
}

// DiskLUNs lists the LUNs the target reports (ReportLUNs), inquires each
// (Inquire) and returns those that are disks (LUNInfo.IsDisk), in the
// target's order; the others, such as tgt's controller LUN 0 or an
// enclosure, are left out. A LUN that Inquire fails on ends the listing:
// the disk LUNs inquired before it come back with its error, which names
// the LUN.
// It is what gomp ls and multipath.Scan run on every portal.
func (s *Session) DiskLUNs(ctx context.Context) ([]*LUNInfo, error) {
	luns, err := s.ReportLUNs(ctx)
	if err != nil {
		return nil, err
	}
	var disks []*LUNInfo
	for _, lun := range luns {
		info, err := s.Inquire(ctx, lun)
		if err != nil {
			return disks, err
		}
		if info.IsDisk() {
			disks = append(disks, info)
		}
	}
	return disks, nil
}

// lunNumbers returns the single-level LUN numbers of a REPORT LUNS list.
func lunNumbers(luns []uint64) []uint16 {
	out := make([]uint16, 0, len(luns))
	for _, l := range luns {
		if n, ok := scsi.LUNNumber(l); ok {
			out = append(out, n)
		}
	}
	return out
}

// inquire runs INQUIRY (standard or a VPD page) and returns the bytes the
// target sent.
func (s *Session) inquire(ctx context.Context, lun uint16, vpd bool, page scsi.VPDPage) ([]byte, error) {
	buf := make([]byte, 1024)
	var cdb [6]byte
	if vpd {
		cdb = scsi.InquiryVPD(page, uint16(len(buf)))
	} else {
		cdb = scsi.Inquiry(uint16(len(buf)))
	}
	cmd := &Command{LUN: lun, CDB: cdb[:], Read: buf}
	if err := s.Do(ctx, cmd); err != nil {
		return nil, err
	}
	return buf[:len(buf)-max(cmd.Residual, 0)], nil
}

// Inquire collects a LUN's identity, capacity and capabilities.
func (s *Session) Inquire(ctx context.Context, lun uint16) (*LUNInfo, error) {
	b, err := s.inquire(ctx, lun, false, 0)
	if err != nil {
		return nil, fmt.Errorf("iscsi: INQUIRY LUN %d: %w", lun, err)
	}
	std, err := scsi.ParseInquiry(b)
	if err != nil {
		return nil, fmt.Errorf("iscsi: INQUIRY LUN %d: %w", lun, err)
	}
	info := &LUNInfo{LUN: lun, Vendor: std.Vendor, Product: std.Product, Revision: std.Revision,
		DeviceType: std.DeviceType, ALUA: std.TPGS != 0, ExplicitALUA: std.TPGS&scsi.TPGSExplicit != 0}
	pages := s.supportedPages(ctx, lun)
	if err := s.identify(ctx, info, pages); err != nil {
		return nil, err
	}
	if !info.IsDisk() {
		return info, nil // a controller or other non-block LUN has no capacity
	}
	if err := s.capacity(ctx, info); err != nil {
		return nil, err
	}
	s.limits(ctx, info, pages)
	s.cacheMode(ctx, info)
	return info, nil
}

func (s *Session) supportedPages(ctx context.Context, lun uint16) map[scsi.VPDPage]bool {
	have := map[scsi.VPDPage]bool{}
	b, err := s.inquire(ctx, lun, true, scsi.VPDSupportedPages)
	if err != nil {
		return have
	}
	pages, err := scsi.ParseSupportedPages(b)
	if err != nil {
		return have
	}
	for _, p := range pages {
		have[p] = true
	}
	return have
}

// identify reads VPD 0x80 and 0x83 and derives the WWID.
func (s *Session) identify(ctx context.Context, info *LUNInfo, pages map[scsi.VPDPage]bool) error {
	if pages[scsi.VPDUnitSerial] {
		if b, err := s.inquire(ctx, info.LUN, true, scsi.VPDUnitSerial); err == nil {
			info.Serial, _ = scsi.ParseUnitSerial(b)
		}
	}
	if !pages[scsi.VPDDeviceIdentification] {
		return nil
	}
	b, err := s.inquire(ctx, info.LUN, true, scsi.VPDDeviceIdentification)
	if err != nil {
		return fmt.Errorf("iscsi: VPD 0x83 LUN %d: %w", info.LUN, err)
	}
	if info.Designators, err = scsi.ParseDeviceIdentification(b); err != nil {
		return fmt.Errorf("iscsi: VPD 0x83 LUN %d: %w", info.LUN, err)
	}
	info.WWID, _ = scsi.WWID(info.Designators)
	if raw, _ := scsi.RawWWID(info.Designators); raw != info.WWID {
		s.cfg.Logger.Warn("iscsi: the LUN's identifier holds characters unsafe in a name; using a sanitized WWID",
			"portal", s.cfg.Portal, "lun", info.LUN, "designator", safename.Text(raw), "wwid", info.WWID)
	}
	return nil
}

func (s *Session) capacity(ctx context.Context, info *LUNInfo) error {
	buf := make([]byte, 32)
	cdb := scsi.ReadCapacity16(uint32(len(buf)))
	if err := s.Do(ctx, &Command{LUN: info.LUN, CDB: cdb[:], Read: buf}); err != nil {
		return fmt.Errorf("iscsi: READ CAPACITY(16) LUN %d: %w", info.LUN, err)
	}
	c, err := scsi.ParseReadCapacity16(buf)
	if err != nil {
		return fmt.Errorf("iscsi: READ CAPACITY(16) LUN %d: %w", info.LUN, err)
	}
	if c.BlockLength == 0 {
		return fmt.Errorf("iscsi: READ CAPACITY(16) LUN %d: block length 0", info.LUN)
	}
	info.BlockSize, info.Blocks = c.BlockLength, c.LastLBA+1
	info.CanUnmap = c.LBPME
	return nil
}

// limits reads VPD 0xB0 and 0xB2 where offered; a target without them
// simply does not advertise UNMAP or WRITE SAME.
func (s *Session) limits(ctx context.Context, info *LUNInfo, pages map[scsi.VPDPage]bool) {
	lbpu := false
	if pages[scsi.VPDLogicalBlockProvisioning] {
		if b, err := s.inquire(ctx, info.LUN, true, scsi.VPDLogicalBlockProvisioning); err == nil {
			if p, err := scsi.ParseLogicalBlockProvisioning(b); err == nil {
				lbpu, info.CanWriteSame = p.LBPU, p.LBPWS && info.CanUnmap
			}
		}
	}
	info.CanUnmap = info.CanUnmap && lbpu
	if pages[scsi.VPDBlockLimits] {
		if b, err := s.inquire(ctx, info.LUN, true, scsi.VPDBlockLimits); err == nil {
			if l, err := scsi.ParseBlockLimits(b); err == nil {
				info.MaxTransfer = l.MaxTransferLength * info.BlockSize
				info.MaxUnmapBlocks = l.MaxUnmapLBACount
				info.MaxWriteSame = l.MaxWriteSameLength
			}
		}
	}
}

// LUN is one logical unit reached through a session: a block device with
// io.ReaderAt and io.WriterAt. It is safe for concurrent use.
//
// It uses optional commands and bits only as the LUN offers them (FUA
// with DPOFUA, UNMAP with LBPME and LBPU) and stops using one the target
// refuses anyway (ILLEGAL REQUEST, INVALID FIELD IN CDB or INVALID COMMAND
// OPERATION CODE), falling back as Linux's sd driver does: FUA to a write
// and SYNCHRONIZE CACHE, SYNCHRONIZE CACHE(16) to (10), WRITE SAME to
// writes of zero blocks. The first refusal of each is logged.
type LUN struct {
	s    *Session
	info LUNInfo // as at open; the fields below supersede its capabilities
	max  int     // bytes per command, a multiple of the block size

	caps    atomic.Uint32 // cap* bits the LUN reported
	refused atomic.Uint32 // cap* bits the target refused
	gen     atomic.Uint64 // Session.capGen when caps were read
	blocks  atomic.Uint64 // capacity: info.Blocks, or the last ReadCapacity

	mu        sync.Mutex // guards the following
	cache     scsi.CacheMode
	unmap     bool
	writeSame bool
}

// OpenLUN inquires lun and returns a handle to it.
func (s *Session) OpenLUN(ctx context.Context, lun uint16) (*LUN, error) {
	gen := s.capGen.Load()
	info, err := s.Inquire(ctx, lun)
	if err != nil {
		return nil, err
	}
	if !info.IsDisk() {
		return nil, fmt.Errorf("iscsi: LUN %d is a %v, not a disk", lun, info.DeviceType)
	}
	return newLUN(s, info, gen), nil
}

func newLUN(s *Session, info *LUNInfo, gen uint64) *LUN {
	m := maxTransfer
	if info.MaxTransfer > 0 && int(info.MaxTransfer) < m {
		m = int(info.MaxTransfer)
	}
	m -= m % int(info.BlockSize)
	l := &LUN{s: s, info: *info, max: max(m, int(info.BlockSize))}
	l.blocks.Store(info.Blocks)
	l.setCaps(info, gen)
	return l
}

// Info returns what the LUN reported at open, with the cache mode and
// thin-provisioning support of the last Refresh.
func (l *LUN) Info() LUNInfo {
	info := l.info
	info.Blocks = l.blocks.Load()
	l.mu.Lock()
	info.Cache, info.CanUnmap, info.CanWriteSame = l.cache, l.unmap, l.writeSame
	l.mu.Unlock()
	return info
}

// Size returns the capacity in bytes: as at open, or as the last
// ReadCapacity found it.
func (l *LUN) Size() int64 { return int64(l.blocks.Load()) * int64(l.info.BlockSize) }

// ErrUnaligned is returned for offsets or lengths that are not multiples of
// the block size.
var ErrUnaligned = errors.New("iscsi: I/O not aligned to the logical block size")

func (l *LUN) check(off int64, n int) error {
	bs := int64(l.info.BlockSize)
	switch {
	case off < 0:
		return fmt.Errorf("iscsi: negative offset %d", off)
	case off%bs != 0 || int64(n)%bs != 0:
		return fmt.Errorf("%w: offset %d, length %d, block size %d", ErrUnaligned, off, n, bs)
	case off+int64(n) > l.Size():
		return fmt.Errorf("iscsi: I/O at %d+%d beyond the %d-byte LUN: %w", off, n, l.Size(), io.EOF)
	}
	return nil
}

// ReadAt implements io.ReaderAt for block-aligned offsets and lengths.
func (l *LUN) ReadAt(p []byte, off int64) (int, error) {
	return l.ReadAtContext(context.Background(), p, off)
}

// WriteAt implements io.WriterAt for block-aligned offsets and lengths.
func (l *LUN) WriteAt(p []byte, off int64) (int, error) {
	return l.WriteAtContext(context.Background(), p, off, false)
}

// ReadAtContext reads len(p) bytes at off with READ(16), split into
// commands of at most the LUN's transfer limit.
func (l *LUN) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	return l.rw(ctx, p, off, false, false)
}

// WriteAtContext writes p at off with WRITE(16); with fua the data is
// durable when it returns: the FUA bit where the LUN honours it (DPOFUA),
// else a SYNCHRONIZE CACHE after the write when the LUN's write cache is
// enabled (or unknown).
func (l *LUN) WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error) {
	if !fua {
		return l.rw(ctx, p, off, true, false)
	}
	if l.has(capFUA) {
		n, err := l.rw(ctx, p, off, true, true)
		if !l.refuse(capFUA, err, 0x24) {
			return n, err
		}
	}
	n, err := l.rw(ctx, p, off, true, false)
	if err != nil || !l.has(capVolatile) {
		return n, err
	}
	return n, l.Flush(ctx)
}

// rwCommand is a pooled READ/WRITE command with its CDB, so that the
// block I/O path allocates nothing per call.
type rwCommand struct {
	cmd Command
	cdb [16]byte
}

var rwPool = sync.Pool{New: func() any { return new(rwCommand) }}

func (l *LUN) rw(ctx context.Context, p []byte, off int64, write, fua bool) (int, error) {
	if err := l.check(off, len(p)); err != nil {
		return 0, err
	}
	bs := int64(l.info.BlockSize)
	rc := rwPool.Get().(*rwCommand)
	defer rwPool.Put(rc)
	done := 0
	for done < len(p) {
		n := min(len(p)-done, l.max)
		lba, blocks := uint64((off+int64(done))/bs), uint32(int64(n)/bs)
		cmd := &rc.cmd
		*cmd = Command{LUN: l.info.LUN}
		if write {
			rc.cdb = scsi.Write16(lba, blocks, fua)
			cmd.Write = p[done : done+n]
		} else {
			rc.cdb = scsi.Read16(lba, blocks, fua)
			cmd.Read = p[done : done+n]
		}
		cmd.CDB = rc.cdb[:]
		err := l.s.Do(ctx, cmd)
		residual := cmd.Residual
		*cmd = Command{} // drop references to the caller's buffer
		if err != nil {
			return done, err
		}
		if residual > 0 {
			return done + n - residual, fmt.Errorf("iscsi: short transfer: %d of %d bytes", n-residual, n)
		}
		done += n
	}
	return done, nil
}

// Flush makes written data durable: SYNCHRONIZE CACHE(16) (SBC-3 §5.23),
// or (10) on a target that refuses the 16-byte form. A target that has
// no SYNCHRONIZE CACHE at all (INVALID COMMAND OPERATION CODE) has no
// cache to flush: that is no error, as in Linux's sd driver.
func (l *LUN) Flush(ctx context.Context) error {
	if l.has(capSync16) {
		cdb := scsi.SynchronizeCache16(0, 0, false)
		err := l.s.Do(ctx, &Command{LUN: l.info.LUN, CDB: cdb[:]})
		if !l.refuse(capSync16, err, 0x20, 0x24) {
			return err
		}
	}
	if !l.has(capSync) {
		return nil
	}
	cdb := scsi.SynchronizeCache10(0, 0, false)
	err := l.s.Do(ctx, &Command{LUN: l.info.LUN, CDB: cdb[:]})
	if l.refuse(capSync, err, 0x20) {
		return nil
	}
	return err
}

// ErrUnsupported is wrapped by the error of an optional command the LUN
// does not offer or the target refused (UNMAP); errors.Is(err,
// errors.ErrUnsupported) holds too.
var ErrUnsupported = fmt.Errorf("iscsi: command not supported by the LUN: %w", errors.ErrUnsupported)

// Unmap releases the blocks of [off, off+n) (UNMAP, SBC-3 §5.28).
func (l *LUN) Unmap(ctx context.Context, off, n int64) error {
	if !l.has(capUnmap) {
		return fmt.Errorf("iscsi: LUN %d: UNMAP: %w", l.info.LUN, ErrUnsupported)
	}
	if err := l.check(off, int(n)); err != nil {
		return err
	}
	bs := int64(l.info.BlockSize)
	lba, blocks := uint64(off/bs), uint64(n/bs)
	chunk := uint64(l.info.MaxUnmapBlocks)
	if chunk == 0 || chunk > 1<<22 {
		chunk = 1 << 22
	}
	for blocks > 0 {
		c := min(blocks, chunk)
		params, err := scsi.AppendUnmapParameters(nil, []scsi.Extent{{LBA: lba, Blocks: uint32(c)}})
		if err != nil {
			return err
		}
		cdb := scsi.Unmap(uint16(len(params)), false)
		if err := l.s.Do(ctx, &Command{LUN: l.info.LUN, CDB: cdb[:], Write: params}); err != nil {
			if l.refuse(capUnmap, err, 0x20, 0x24) {
				return fmt.Errorf("iscsi: LUN %d: UNMAP: %w (%w)", l.info.LUN, ErrUnsupported, err)
			}
			return err
		}
		lba, blocks = lba+c, blocks-c
	}
	return nil
}

// WriteZeroes zeroes [off, off+n) with WRITE SAME(16) of a zero block, with
// the UNMAP bit when unmap is set and the LUN supports it; on a target
// that refuses WRITE SAME, with writes of zero blocks.
func (l *LUN) WriteZeroes(ctx context.Context, off, n int64, unmap bool) error {
	if err := l.check(off, int(n)); err != nil {
		return err
	}
	if !l.has(capWriteSame) {
		return l.writeZeroBlocks(ctx, off, n)
	}
	bs := int64(l.info.BlockSize)
	zero := zeros[:bs]
	var flags scsi.WriteSameFlags
	if unmap && l.Info().CanWriteSame {
		flags |= scsi.WriteSameUnmap
	}
	lba, blocks := uint64(off/bs), uint64(n/bs)
	chunk := l.info.MaxWriteSame
	if chunk == 0 || chunk > 1<<16 {
		chunk = 1 << 16
	}
	for blocks > 0 {
		c := min(blocks, chunk)
		cdb := scsi.WriteSame16(lba, uint32(c), flags)
		if err := l.s.Do(ctx, &Command{LUN: l.info.LUN, CDB: cdb[:], Write: zero}); err != nil {
			if l.refuse(capWriteSame, err, 0x20, 0x24) {
				return l.writeZeroBlocks(ctx, int64(lba)*bs, int64(blocks)*bs)
			}
			return err
		}
		lba, blocks = lba+c, blocks-c
	}
	return nil
}

// zeros is the source of zero-block writes; never written.
var zeros [1 << 20]byte

// writeZeroBlocks zeroes [off, off+n) with plain writes.
func (l *LUN) writeZeroBlocks(ctx context.Context, off, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros))/int64(l.info.BlockSize)*int64(l.info.BlockSize))
		if _, err := l.rw(ctx, zeros[:k], off, true, false); err != nil {
			return err
		}
		off, n = off+k, n-k
	}
	return nil
}

// TestUnitReady sends TEST UNIT READY, the path checker's probe.
func (l *LUN) TestUnitReady(ctx context.Context) error {
	cdb := scsi.TestUnitReady()
	return l.s.Do(ctx, &Command{LUN: l.info.LUN, CDB: cdb[:]})
}

// Session returns the session the LUN is reached through.
func (l *LUN) Session() *Session { return l.s }
