package multipath

import (
	"cmp"
	"slices"
	"time"
)

// group is a path group: I/O goes to the usable paths of one group at a
// time.
type group struct {
	paths []*Path
	prio  int // average priority of its active paths (all paths when none is)
}

// activeCount returns the number of paths that may carry I/O.
// Device.mu held.
func (g *group) activeCount() int {
	n := 0
	for _, p := range g.paths {
		if p.active {
			n++
		}
	}
	return n
}

// usable reports whether the group has a path that may carry I/O.
func (g *group) usable() bool { return g.activeCount() > 0 }

// updatePrio recomputes the group priority, as multipathd's
// path_group_prio: the mean over active paths. Device.mu held.
func (g *group) updatePrio() {
	sum, n := 0, 0
	for _, p := range g.paths {
		if p.active {
			sum, n = sum+p.prio, n+1
		}
	}
	if n == 0 {
		for _, p := range g.paths {
			sum, n = sum+p.prio, n+1
		}
	}
	g.prio = sum / max(n, 1)
}

// buildGroups groups paths by policy (never GroupAuto) and orders the
// groups by priority, highest first, then by their first path's position
// in Config.Portals. Device.mu held.
func buildGroups(policy GroupingPolicy, paths []*Path) []*group {
	var groups []*group
	switch policy {
	case GroupMultibus:
		groups = []*group{{paths: slices.Clone(paths)}}
	case GroupFailover:
		for _, p := range paths {
			groups = append(groups, &group{paths: []*Path{p}})
		}
	case GroupByTPG:
		groups = groupBy(paths, func(p *Path) int { return p.tpg })
	default: // GroupByPrio
		groups = groupBy(paths, func(p *Path) int { return p.prio })
	}
	for _, g := range groups {
		g.updatePrio()
	}
	slices.SortStableFunc(groups, func(a, b *group) int { return cmp.Compare(b.prio, a.prio) })
	return groups
}

// groupBy puts paths with equal keys together, groups in order of first
// appearance.
func groupBy(paths []*Path, key func(*Path) int) []*group {
	var groups []*group
	at := map[int]*group{}
	for _, p := range paths {
		k := key(p)
		g := at[k]
		if g == nil {
			g = &group{}
			at[k] = g
			groups = append(groups, g)
		}
		g.paths = append(g.paths, p)
	}
	return groups
}

// trigger is what made the device re-evaluate its groups.
type trigger uint8

const (
	trigFail        trigger = iota // a path failed
	trigUp                         // a path was reinstated
	trigPrio                       // path priorities changed
	trigFailbackDue                // a deferred failback is due
	trigManual                     // SwitchGroup, FailPath, ReinstatePath, queueing changes
)

// bestGroupLocked returns the group multipathd's select_path_group would
// choose: highest priority among groups with a usable path, then most
// usable paths, then first; -1 when no group is usable.
//
// A group with a path ready for I/O beats a group whose usable paths are
// all in standby (ghost), whatever their priorities: a standby port
// refuses I/O, so it is used, or activated with SET TARGET PORT GROUPS,
// only when no group has a ready path.
func (d *Device) bestGroupLocked() int {
	best, bestReady, bestPrio, bestN := -1, false, 0, 0
	for i, g := range d.groups {
		n := g.activeCount()
		if n == 0 {
			continue
		}
		ready := g.ready()
		if best < 0 || ready && !bestReady ||
			ready == bestReady && (g.prio > bestPrio || g.prio == bestPrio && n > bestN) {
			best, bestReady, bestPrio, bestN = i, ready, g.prio, n
		}
	}
	return best
}

// ready reports whether the group has an active path that is not in
// standby. Device.mu held.
func (g *group) ready() bool {
	for _, p := range g.paths {
		if p.active && p.state != PathGhost {
			return true
		}
	}
	return false
}

// chooseGroupLocked moves I/O to another group when the current one has
// no usable path, or when failback allows it after a better group
// recovered.
func (d *Device) chooseGroupLocked(tr trigger, up *Path) {
	best, cur := d.bestGroupLocked(), d.current
	switch {
	case best < 0 || best == cur:
		return
	case cur < 0 || cur >= len(d.groups) || !d.groups[cur].usable():
		d.switchGroupLocked(best, "current path group has no usable path")
		return
	case !d.groups[cur].ready() && d.groups[best].ready():
		d.switchGroupLocked(best, "current path group is in standby")
		return
	case tr == trigFail || tr == trigManual:
		return
	case tr == trigFailbackDue:
		d.switchGroupLocked(best, "deferred failback")
		return
	}
	switch fb := d.set.Failback; {
	case fb == FailbackImmediate:
		d.switchGroupLocked(best, "failback")
	case fb == FailbackFollowover:
		if up != nil && slices.Contains(d.groups[best].paths, up) && d.groups[best].activeCount() == 1 {
			d.switchGroupLocked(best, "failback (followover)")
		}
	case fb > 0:
		d.armFailbackLocked(time.Duration(fb))
	}
}

func (d *Device) switchGroupLocked(n int, cause string) {
	from := d.current
	d.current = n
	d.emitLocked(Event{Kind: EventGroupSwitched, Group: n, FromGroup: from, Msg: cause})
}

// armFailbackLocked schedules a deferred failback, once.
func (d *Device) armFailbackLocked(delay time.Duration) {
	if d.failbackTimer != nil || d.closing {
		return
	}
	d.failbackTimer = time.AfterFunc(delay, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.failbackTimer = nil
		if !d.closing {
			d.updateLocked(trigFailbackDue, nil)
		}
	})
}

// regroupLocked rebuilds the groups after priorities changed, keeping I/O
// on the group that now holds the current group's first active path.
func (d *Device) regroupLocked() {
	var anchor *Path
	if d.current >= 0 && d.current < len(d.groups) {
		for _, p := range d.groups[d.current].paths {
			if p.active {
				anchor = p
				break
			}
		}
	}
	d.groups = buildGroups(d.policy, d.paths)
	d.current = -1
	for i, g := range d.groups {
		if anchor != nil && slices.Contains(g.paths, anchor) {
			d.current = i
		}
	}
}

// pathSet is an immutable snapshot of the paths I/O may use now, swapped
// atomically on every state change so that the I/O path takes no lock.
type pathSet struct {
	paths []*Path
	group int // index in Device.groups, -1 when none
}

var emptySet = &pathSet{group: -1}

// buildSetLocked snapshots the current group's active paths; ghost
// (standby) paths only when no other path is active, and never on a LUN
// with explicit ALUA: I/O there waits (queues) while the group is
// activated (activateLocked) instead of failing on standby ports.
func (d *Device) buildSetLocked() *pathSet {
	if d.current < 0 || d.current >= len(d.groups) {
		return emptySet
	}
	var ready, ghost []*Path
	for _, p := range d.groups[d.current].paths {
		switch {
		case !p.active:
		case p.state == PathGhost:
			ghost = append(ghost, p)
		default:
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 && !d.info.ExplicitALUA {
		ready = ghost
	}
	if len(ready) == 0 {
		return emptySet
	}
	return &pathSet{paths: ready, group: d.current}
}
