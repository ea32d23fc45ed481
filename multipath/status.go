package multipath

import (
	"fmt"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
)

// Status is a snapshot of a device, like "multipath -ll". Its JSON form
// (field names in the tags) is stable.
type Status struct {
	Name             string        `json:"name"`
	WWID             string        `json:"wwid"`
	Target           string        `json:"target"`
	InitiatorName    string        `json:"initiator_name,omitempty"` // the host's identity at the target
	LUN              uint16        `json:"lun"`
	Vendor           string        `json:"vendor"`
	Product          string        `json:"product"`
	Revision         string        `json:"revision"`
	Size             int64         `json:"size"`
	BlockSize        uint32        `json:"block_size"`
	Selector         string        `json:"selector"`
	Policy           string        `json:"path_grouping_policy"`
	Failback         string        `json:"failback"`
	NoPathRetry      string        `json:"no_path_retry"`
	PollingInterval  time.Duration `json:"polling_interval_ns"`
	Queueing         bool          `json:"queueing"`          // I/O without a path queues now
	QueueingDisabled bool          `json:"queueing_disabled"` // DisableQueueing in force
	QueuedIOs        int64         `json:"queued_ios"`        // I/O waiting for a path
	ActiveGroup      int           `json:"active_group"`      // index in Groups, -1 when none
	Capabilities     Capabilities  `json:"capabilities"`
	Groups           []GroupStatus `json:"groups"`

	// Gone is why the device fails every I/O: its LUN is no longer on
	// the target (SetGone). Empty while the LUN is there.
	Gone string `json:"gone,omitempty"`

	// Reservation is the persistent reservation key; nil when none.
	Reservation *ReservationStatus `json:"reservation,omitempty"`
}

// GroupStatus describes one path group.
type GroupStatus struct {
	Priority int `json:"priority"`
	// State is "active" (I/O goes here), "enabled" (has a usable path)
	// or "disabled" (no usable path).
	State string       `json:"state"`
	Paths []PathStatus `json:"paths"`
}

// PathStatus describes one path.
type PathStatus struct {
	Portal string `json:"portal"` // host:port
	// Interface or Source is the path's binding (Config.Portals'
	// @IFACE or @SOURCE_IP), empty when unbound.
	Interface string `json:"interface,omitempty"`
	Source    string `json:"source,omitempty"`
	// State sums up the path in one word: active, ghost, pending (in
	// use); failed, delayed, disconnected, refused (not in use).
	State         string    `json:"state"`
	Checker       string    `json:"checker"`  // the checker's verdict: ready, faulty, ghost, …
	DMState       string    `json:"dm_state"` // active or failed
	Manual        bool      `json:"manual"`   // failed by FailPath
	Priority      int       `json:"priority"`
	TPG           int       `json:"target_port_group"` // -1 when unknown
	InFlight      int64     `json:"in_flight"`
	InFlightBytes int64     `json:"in_flight_bytes"`
	Completed     uint64    `json:"completed"`
	Errors        uint64    `json:"errors"`
	ReadBytes     uint64    `json:"read_bytes"`
	WrittenBytes  uint64    `json:"written_bytes"`
	Failures      int       `json:"recent_failures"` // within the damping window
	LastError     string    `json:"last_error,omitempty"`
	LastChange    time.Time `json:"last_change"`

	// Registered: the device's reservation key is registered through
	// this path (its I_T nexus).
	Registered bool `json:"registered,omitempty"`
}

// Status returns the device's status now.
func (d *Device) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{Name: d.name, WWID: d.wwid, Target: d.cfg.Target, InitiatorName: d.cfg.InitiatorName, LUN: d.cfg.LUN,
		Vendor: d.info.Vendor, Product: d.info.Product, Revision: d.info.Revision,
		Size: d.Size(), BlockSize: d.info.BlockSize, Selector: d.sel.Name(),
		Policy: string(d.policy), Failback: d.set.Failback.String(),
		NoPathRetry: d.set.NoPathRetry.String(), PollingInterval: d.set.PollingInterval,
		Queueing: d.queueing, QueueingDisabled: d.queueDisabled, QueuedIOs: d.queued.Load(),
		ActiveGroup: d.active.Load().group, Capabilities: d.Capabilities()}
	if r := d.pr.status(); r.Key != "" {
		s.Reservation = &r
	}
	if err := d.Gone(); err != nil {
		s.Gone = err.Error()
	}
	for i, g := range d.groups {
		gs := GroupStatus{Priority: g.prio, State: "disabled"}
		switch {
		case i == s.ActiveGroup:
			gs.State = "active"
		case g.usable():
			gs.State = "enabled"
		}
		for _, p := range g.paths {
			ps := p.statusLocked()
			ps.Failures = p.failuresSince(time.Now().Add(-d.set.FlapWindow))
			ps.Registered = d.pr.pathRegistered(p)
			gs.Paths = append(gs.Paths, ps)
		}
		s.Groups = append(s.Groups, gs)
	}
	return s
}

// statusLocked describes a path. Device.mu held.
func (p *Path) statusLocked() PathStatus {
	ps := PathStatus{Portal: p.portal, State: p.summaryLocked(), Checker: p.state.String(),
		DMState: "failed", Manual: p.manual, Priority: p.prio, TPG: p.tpg,
		InFlight: p.inFlight.Load(), InFlightBytes: p.inFlightBytes.Load(),
		Completed: p.completed.Load(), Errors: p.errs.Load(), ReadBytes: p.readBytes.Load(),
		WrittenBytes: p.writtenBytes.Load(), LastChange: p.changed}
	if _, b, err := iscsi.ParsePortal(p.portal); err == nil && !b.IsZero() {
		ps.Portal, ps.Interface = strings.TrimSuffix(p.portal, "@"+b.String()), b.Interface
		if b.Source.IsValid() {
			ps.Source = b.Source.String()
		}
	}
	if p.active {
		ps.DMState = "active"
	}
	if p.lastErr != nil {
		ps.LastError = p.lastErr.Error()
	}
	return ps
}

func (p *Path) summaryLocked() string {
	if p.active {
		switch p.state {
		case PathGhost:
			return "ghost"
		case PathPending:
			return "pending"
		}
		return "active"
	}
	switch p.state {
	case PathPending, PathDelayed, PathDisconnected:
		return p.state.String()
	case PathWWIDMismatch:
		return "refused"
	}
	return "failed"
}

// FailPath takes the path to portal out of use until ReinstatePath (like
// "multipathd fail path", but sticky: the checker does not bring it back).
// I/O in flight on it completes.
func (d *Device) FailPath(portal string) error {
	p, err := d.path(portal)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p.manual = true
	if p.active {
		d.failLocked(p, p.state, nil, "failed by request", false)
		d.updateLocked(trigManual, p)
	}
	return nil
}

// ReinstatePath ends a FailPath and any damping hold. A path the checker
// last found ready is back in use at once; otherwise an immediate check
// is started and an error says why the path is not in use yet.
func (d *Device) ReinstatePath(portal string) error {
	p, err := d.path(portal)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	p.manual, p.holdUntil = false, time.Time{}
	if p.active {
		return nil
	}
	if p.state.usable() || p.state == PathDelayed {
		if p.state == PathDelayed {
			p.state = PathUp
		}
		p.active, p.changed, p.lastErr = true, time.Now(), nil
		d.emitLocked(Event{Kind: EventPathReinstated, Portal: p.portal, State: p.state, Msg: "reinstated by request"})
		d.updateLocked(trigUp, p)
		return nil
	}
	p.check()
	return fmt.Errorf("multipath %s: path %s is %v (%v); it will be used when the checker finds it ready",
		d.name, portal, p.state, p.lastErr)
}

// SwitchGroup sends I/O to path group n (an index into Status.Groups)
// now; it fails when the group has no usable path. Failback may move I/O
// back when a path state changes later.
func (d *Device) SwitchGroup(n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n < 0 || n >= len(d.groups) {
		return fmt.Errorf("multipath %s: no path group %d (have %d)", d.name, n, len(d.groups))
	}
	if !d.groups[n].usable() {
		return fmt.Errorf("multipath %s: path group %d has no usable path", d.name, n)
	}
	if n != d.current {
		d.switchGroupLocked(n, "switched by request")
		d.updateLocked(trigManual, nil)
	}
	return nil
}

// path finds the path to portal: "host[:port][@binding]" as in
// Config.Portals, or "host[:port]" alone when only one path goes there.
func (d *Device) path(portal string) (*Path, error) {
	want := normalizePortals([]string{portal})[0]
	var found []*Path
	for _, p := range d.paths {
		if p.portal == portal || p.portal == want {
			return p, nil
		}
		if addr, _, err := iscsi.ParsePortal(p.portal); err == nil && addr == want {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("multipath %s: no path to portal %s", d.name, portal)
	}
	return nil, fmt.Errorf("multipath %s: %d paths go to portal %s; name one as PORTAL@IFACE", d.name, len(found), portal)
}
