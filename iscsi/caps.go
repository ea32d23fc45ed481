package iscsi

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// A LUN uses an optional command or bit only while the LUN offers it and
// the target has not refused it. These are the bits of LUN.caps (what the
// LUN reported) and LUN.refused (what the target refused when asked).
const (
	capFUA       uint32 = 1 << iota // WRITE with FUA: DPOFUA
	capVolatile                     // writes may sit in a volatile cache (WCE, or unknown)
	capSync16                       // SYNCHRONIZE CACHE(16)
	capSync                         // SYNCHRONIZE CACHE at all
	capUnmap                        // UNMAP
	capWriteSame                    // WRITE SAME(16)
)

var capNames = map[uint32][2]string{ // what was refused, what is used instead
	capFUA:       {"WRITE(16) with FUA", "WRITE(16), then SYNCHRONIZE CACHE"},
	capSync16:    {"SYNCHRONIZE CACHE(16)", "SYNCHRONIZE CACHE(10)"},
	capSync:      {"SYNCHRONIZE CACHE", "nothing: the LUN has no cache to flush"},
	capUnmap:     {"UNMAP", "nothing: trims are dropped"},
	capWriteSame: {"WRITE SAME(16)", "WRITE(16) of zero blocks"},
}

// capsOf returns the capability bits info reports.
func capsOf(info *LUNInfo) uint32 {
	c := capSync16 | capSync | capWriteSame
	if info.Cache.DPOFUA {
		c |= capFUA
	}
	if info.Cache.Volatile() {
		c |= capVolatile
	}
	if info.CanUnmap {
		c |= capUnmap
	}
	return c
}

// capabilityChange reports the unit attentions after which a LUN's
// capabilities are read again (SPC-4 Annex D): MODE PARAMETERS CHANGED,
// INQUIRY DATA HAS CHANGED.
func capabilityChange(code scsi.AdditionalSense) bool {
	return code == 0x2A01 || code == 0x3F03
}

// Mode sense requests tried in turn: the 10-byte form (SBC devices must
// have it), the 6-byte one, then every page, whose header alone still
// carries WP and DPOFUA.
var modeSenseTries = []struct {
	ten  bool
	page scsi.ModePage
}{{true, scsi.ModePageCaching}, {false, scsi.ModePageCaching}, {false, scsi.ModePageAll}}

// cacheMode reads the LUN's Caching page and device-specific parameter
// into info.Cache. A LUN that answers no MODE SENSE keeps a zero CacheMode:
// its cache is assumed volatile and FUA is not used.
func (s *Session) cacheMode(ctx context.Context, info *LUNInfo) {
	var errs []error
	for _, try := range modeSenseTries {
		m, err := s.modeSense(ctx, info.LUN, try.ten, try.page)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrConnection) || ctx.Err() != nil {
				break
			}
			continue
		}
		info.Cache = scsi.CacheMode{DPOFUA: m.DPOFUA(), WriteProtect: m.WriteProtect()}
		if p, ok := m.Page(scsi.ModePageCaching, 0); ok {
			if c, err := scsi.ParseCachingPage(p); err == nil {
				info.Cache.Known, info.Cache.WriteCache, info.Cache.ReadCacheDisabled = true, c.WCE, c.RCD
			}
		}
		return
	}
	s.cfg.Logger.Warn("iscsi: no MODE SENSE answer; assuming a volatile write cache and no FUA",
		"portal", s.cfg.Portal, "lun", info.LUN, "err", errors.Join(errs...))
}

func (s *Session) modeSense(ctx context.Context, lun uint16, ten bool, page scsi.ModePage) (scsi.ModeParameters, error) {
	buf := make([]byte, 255)
	var cdb []byte
	if ten {
		c := scsi.ModeSense10(page, uint16(len(buf)))
		cdb = c[:]
	} else {
		c := scsi.ModeSense6(page, uint8(len(buf)))
		cdb = c[:]
	}
	cmd := &Command{LUN: lun, CDB: cdb, Read: buf}
	if err := s.Do(ctx, cmd); err != nil {
		return scsi.ModeParameters{}, fmt.Errorf("%v page 0x%02x: %w", scsi.Opcode(cdb[0]), uint8(page), err)
	}
	b := buf[:len(buf)-max(cmd.Residual, 0)]
	if ten {
		return scsi.ParseModeSense10(b)
	}
	return scsi.ParseModeSense6(b)
}

// refusal reports the additional sense code of a target's refusal of a
// command or of a bit in it: ILLEGAL REQUEST with INVALID COMMAND
// OPERATION CODE (0x20) or INVALID FIELD IN CDB (0x24).
func refusal(err error) (asc uint8, ok bool) {
	var se *SCSIError
	if !errors.As(err, &se) || !se.HasSense || se.Sense.Key != scsi.KeyIllegalRequest {
		return 0, false
	}
	switch se.Sense.ASC {
	case 0x20, 0x24:
		return se.Sense.ASC, true
	}
	return 0, false
}

// has reports whether the LUN may use capability bit now.
func (l *LUN) has(bit uint32) bool { return l.caps.Load()&^l.refused.Load()&bit != 0 }

// refuse records that the target refused capability bit, when err is such
// a refusal with one of the additional sense codes ascs; it logs the first
// refusal of each bit and reports whether err was one.
func (l *LUN) refuse(bit uint32, err error, ascs ...uint8) bool {
	asc, ok := refusal(err)
	if !ok || !slices.Contains(ascs, asc) {
		return false
	}
	if l.refused.Or(bit)&bit == 0 {
		n := capNames[bit]
		l.s.cfg.Logger.Warn("iscsi: the target refused "+n[0]+"; this LUN now gets "+n[1],
			"portal", l.s.cfg.Portal, "lun", l.info.LUN, "err", err)
	}
	return true
}

// Stale reports whether the target announced, since the LUN was opened or
// last refreshed, that its mode parameters or inquiry data changed (a unit
// attention): Refresh reads them again.
func (l *LUN) Stale() bool { return l.s.capGen.Load() != l.gen.Load() }

// Refresh inquires the LUN again and takes its new cache mode,
// thin-provisioning support and capacity (as ReadCapacity does); what the
// target refused stays refused. The block size stays as it was at open.
func (l *LUN) Refresh(ctx context.Context) (*LUNInfo, error) {
	gen := l.s.capGen.Load()
	info, err := l.s.Inquire(ctx, l.info.LUN)
	if err != nil {
		return nil, err
	}
	l.setCaps(info, gen)
	if info.BlockSize == l.info.BlockSize {
		l.blocks.Store(info.Blocks)
	}
	return info, nil
}

// setCaps publishes the capabilities of info, read at capability
// generation gen.
func (l *LUN) setCaps(info *LUNInfo, gen uint64) {
	l.mu.Lock()
	l.cache, l.unmap, l.writeSame = info.Cache, info.CanUnmap, info.CanWriteSame
	l.mu.Unlock()
	l.caps.Store(capsOf(info))
	l.gen.Store(gen)
}
