package multipath

import (
	"context"
	"fmt"
	"time"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// activateLocked asks the target to make the current group's target port
// group active/optimized, with SET TARGET PORT GROUPS, when every path of
// the group that may carry I/O is in standby (ghost) and the LUN takes
// explicit ALUA requests: an array with explicit-only ALUA never leaves
// standby by itself, and Linux's scsi_dh_alua activates a standby group in
// the same way when dm-multipath switches to it. One request runs at a
// time; the same group is asked again no sooner than a polling interval
// later, while the checkers read the new states, and again after that if
// it is still in standby. Device.mu held.
func (d *Device) activateLocked() {
	if d.activating || d.closing || !d.info.ExplicitALUA || d.current < 0 || d.current >= len(d.groups) {
		return
	}
	var via *Path
	for _, p := range d.groups[d.current].paths {
		switch {
		case !p.active:
		case p.state != PathGhost:
			return // the group has a path that is not in standby
		case via == nil && p.tpg >= 0:
			via = p
		}
	}
	if via == nil {
		return
	}
	if wait := d.set.PollingInterval - time.Since(d.activated); via.tpg == d.activatedTPG && wait > 0 {
		d.activateLater(wait)
		return
	}
	d.activating = true
	d.wg.Add(1)
	go d.activate(via, uint16(via.tpg))
}

// activateLater runs activateLocked again after wait, once. Device.mu held.
func (d *Device) activateLater(wait time.Duration) {
	if d.activateSoon {
		return
	}
	d.activateSoon = true
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-d.ctx.Done():
		case <-t.C:
		}
		d.mu.Lock()
		d.activateSoon = false
		d.activateLocked()
		d.mu.Unlock()
	}()
}

func (d *Device) activate(p *Path, tpg uint16) {
	defer d.wg.Done()
	ctx, cancel := context.WithTimeout(d.ctx, d.set.CheckerTimeout)
	err := p.io.SetTargetPortGroups(ctx, []scsi.PortGroupState{{ID: tpg, State: scsi.StateActiveOptimized}})
	cancel()
	d.mu.Lock()
	d.activating = false
	if err == nil {
		d.activated, d.activatedTPG = time.Now(), int(tpg)
		d.emitLocked(Event{Kind: EventGroupActivated, Portal: p.portal, State: p.state,
			Msg: fmt.Sprintf("target port group %d set active/optimized", tpg)})
	} else {
		d.emitLocked(Event{Kind: EventPathState, Portal: p.portal, State: p.state, Err: err,
			Msg: fmt.Sprintf("SET TARGET PORT GROUPS for group %d failed", tpg)})
	}
	d.activateLocked() // the current group may have changed meanwhile
	d.mu.Unlock()
	for _, q := range d.paths {
		q.check()
	}
}
