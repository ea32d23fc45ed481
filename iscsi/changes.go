package iscsi

import (
	"context"
	"fmt"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// Unit attentions that announce a change of the target's inventory or of
// a LUN's size (SPC-4 Annex D). Do retries the command that met one, as
// for any unit attention, and records it here, so that the change is not
// lost with the retry.
const (
	// UAReportedLUNsChanged is REPORTED LUNS DATA HAS CHANGED (3F/0E):
	// a LUN was added to or removed from the target.
	UAReportedLUNsChanged scsi.AdditionalSense = 0x3F0E
	// UACapacityChanged is CAPACITY DATA HAS CHANGED (2A/09): the LUN
	// was resized.
	UACapacityChanged scsi.AdditionalSense = 0x2A09
)

// noteUnitAttention records a unit attention a command to lun met: the
// LUNs re-read their identity and capabilities after one that may change
// them (LUN.Stale), LUNsGeneration counts inventory changes, and
// Config.OnUnitAttention is told.
func (s *Session) noteUnitAttention(lun uint16, code scsi.AdditionalSense) {
	switch {
	case code == UAReportedLUNsChanged:
		s.lunsGen.Add(1)
		s.capGen.Add(1) // the LUN at a number may be another one now: verify its identity
	case code == UACapacityChanged, capabilityChange(code):
		s.capGen.Add(1)
	}
	if f := s.cfg.OnUnitAttention; f != nil {
		f(lun, code)
	}
}

// LUNsGeneration counts the REPORTED LUNS DATA HAS CHANGED unit attentions
// the session met: a caller that listed the LUNs at generation g lists
// them again once it differs.
func (s *Session) LUNsGeneration() uint64 { return s.lunsGen.Load() }

// ReadCapacity runs READ CAPACITY(16) and returns the LUN's capacity in
// bytes and its block size. When the block size is the one the LUN had at
// open, the handle takes the new capacity (Size, and the range I/O may
// use); a LUN whose block size changed is left as it was and an error
// says so.
func (l *LUN) ReadCapacity(ctx context.Context) (int64, uint32, error) {
	var info LUNInfo
	info.LUN = l.info.LUN
	if err := l.s.capacity(ctx, &info); err != nil {
		return 0, 0, fmt.Errorf("%w (portal %s, target %s)", err, l.s.cfg.Portal, l.s.cfg.TargetName)
	}
	if info.BlockSize != l.info.BlockSize {
		return info.Size(), info.BlockSize, fmt.Errorf("iscsi: LUN %d via %s (target %s): block size changed from %d to %d",
			l.info.LUN, l.s.cfg.Portal, l.s.cfg.TargetName, l.info.BlockSize, info.BlockSize)
	}
	l.blocks.Store(info.Blocks)
	return info.Size(), info.BlockSize, nil
}
