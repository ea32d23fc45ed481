package multipath

import (
	"slices"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// Path priorities of multipath-tools' alua prioritizer, and its const one.
const (
	prioActiveOptimized    = 50
	prioActiveNonOptimized = 10
	prioStandby            = 1
	prioPreferredBonus     = 80
	prioConst              = 1
)

// priority returns a path's priority and ALUA target port group: from
// REPORT TARGET PORT GROUPS when the LUN reports ALUA (and prio is not
// "const"), else prioConst for every path. ok is false when the RTPG
// data could not be used; the caller then keeps the old priority.
func (d *Device) priority(info *iscsi.LUNInfo, t scsi.TargetPortGroups, err error) (prio, tpg int, ok bool) {
	if !d.useALUA(info) {
		return prioConst, -1, true
	}
	if err != nil {
		return 0, -1, false
	}
	return aluaPriority(info.Designators, t)
}

// aluaPriority finds the path's own target port group in t (by the VPD
// 0x83 target port group designator, else by its relative target port,
// else the only group) and maps its state: active/optimized 50,
// active/non-optimized 10, standby 1, others 0, plus 80 when preferred.
func aluaPriority(ds []scsi.Designator, t scsi.TargetPortGroups) (prio, tpg int, ok bool) {
	id, hasID := scsi.TargetPortGroup(ds)
	rel, hasRel := scsi.RelativeTargetPort(ds)
	for _, g := range t.Groups {
		mine := (hasID && g.ID == id) || (!hasID && hasRel && slices.Contains(g.Ports, rel)) ||
			(!hasID && !hasRel && len(t.Groups) == 1)
		if mine {
			return statePriority(g), int(g.ID), true
		}
	}
	return 0, -1, false
}

func statePriority(g scsi.PortGroup) int {
	p := 0
	switch g.State {
	case scsi.StateActiveOptimized:
		p = prioActiveOptimized
	case scsi.StateActiveNonOptimized:
		p = prioActiveNonOptimized
	case scsi.StateStandby:
		p = prioStandby
	}
	if g.Preferred {
		p += prioPreferredBonus
	}
	return p
}
