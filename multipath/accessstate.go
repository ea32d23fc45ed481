package multipath

import (
	"slices"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// accessChange reports whether a unit attention announces that
// asymmetric access states may have changed: ASYMMETRIC ACCESS STATE
// CHANGED (2A/06), IMPLICIT ASYMMETRIC ACCESS STATE TRANSITION FAILED
// (2A/07) or INQUIRY DATA HAS CHANGED (3F/03), the codes on which
// Linux's scsi_dh_alua queues a REPORT TARGET PORT GROUPS at once.
func accessChange(code scsi.AdditionalSense) bool {
	switch code {
	case scsi.ASAccessStateChanged, scsi.ASImplicitTransitionFailed, scsi.ASInquiryDataChanged:
		return true
	}
	return false
}

// accessWatch is one path's interest in a LUN's access state changes.
type accessWatch struct {
	lun uint16
	ch  chan struct{} // cap 1
}

// watchAccess signals ch (without blocking) whenever a command to lun
// on the session meets a unit attention that accessChange accepts.
func (ss *sharedSession) watchAccess(lun uint16, ch chan struct{}) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.watchers = append(ss.watchers, accessWatch{lun: lun, ch: ch})
}

// unwatchAccess undoes watchAccess.
func (ss *sharedSession) unwatchAccess(ch chan struct{}) {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	ss.watchers = slices.DeleteFunc(ss.watchers, func(w accessWatch) bool { return w.ch == ch })
}

// unitAttention is the session's iscsi.Config.OnUnitAttention: it tells
// the LUN's watchers about an access state change, then calls next (the
// pool's hook), if any. It runs on the goroutine of the command and does
// not block.
func (ss *sharedSession) unitAttention(next func(uint16, scsi.AdditionalSense)) func(uint16, scsi.AdditionalSense) {
	return func(lun uint16, code scsi.AdditionalSense) {
		if accessChange(code) {
			ss.wmu.Lock()
			for _, w := range ss.watchers {
				if w.lun == lun {
					select {
					case w.ch <- struct{}{}:
					default:
					}
				}
			}
			ss.wmu.Unlock()
		}
		if next != nil {
			next(lun, code)
		}
	}
}

// accessStateChanged runs on p's checker when a command through p met a
// unit attention announcing changed access states: every path is checked
// now (TEST UNIT READY, then REPORT TARGET PORT GROUPS on a usable one),
// not at its next polling interval, so that priorities, groups and
// failback follow the target at once, as scsi_dh_alua's immediate RTPG
// does for dm-multipath. A target may announce the change on the ports of
// one group only (LIO does), while it changes what every path reports.
func (d *Device) accessStateChanged(p *Path) {
	d.mu.Lock()
	d.emitLocked(Event{Kind: EventAccessStateChanged, Portal: p.portal, State: p.state,
		Msg: "unit attention: checking every path now"})
	d.mu.Unlock()
	for _, q := range d.paths {
		q.check()
	}
}
