package multipath

import (
	"context"
	"errors"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// turRetries is how often the checker repeats TEST UNIT READY after a
// UNIT ATTENTION, like multipath-tools' tur checker.
const turRetries = 3

var errIOTimeout = errors.New("multipath: I/O made no progress within IOTimeout")

// checkLoop is one path's checker, like multipathd's checkerloop for that
// path: a failed path is tested every PollingInterval, and at once when
// its session reconnects; a healthy one starts at PollingInterval and
// backs off to MaxPollingInterval while nothing changes. Every path is
// tested at once when a command met ASYMMETRIC ACCESS STATE CHANGED.
func (d *Device) checkLoop(p *Path) {
	defer d.wg.Done()
	base := d.set.PollingInterval
	interval := base
	timer := time.NewTimer(interval)
	defer timer.Stop()
	poll := time.NewTicker(max(base/8, 10*time.Millisecond))
	defer poll.Stop()
	wd := watchdog{}
	connected := p.io.Connected()
	for {
		select {
		case <-d.ctx.Done():
			return
		case <-timer.C:
		case <-p.wake:
		case <-p.kick:
			interval = base
			timer.Reset(interval)
			continue
		case <-p.io.AccessStateChanged():
			d.accessStateChanged(p) // wakes this checker too
			continue
		case <-poll.C:
			now := p.io.Connected()
			edge := now && !connected
			connected = now
			if !edge || d.isActive(p) {
				continue
			}
		}
		wd.check(d, p)
		healthy := d.checkPath(p)
		interval = d.nextInterval(p, healthy, interval)
		timer.Reset(interval)
	}
}

// kickChecker tells the checker that the path changed state, so that it
// goes back to the base interval.
func (p *Path) kickChecker() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (d *Device) isActive(p *Path) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return p.active
}

// nextInterval doubles a healthy path's interval up to the maximum, resets
// it otherwise, and wakes early for a damping hold or the I/O watchdog.
func (d *Device) nextInterval(p *Path, healthy bool, cur time.Duration) time.Duration {
	next := d.set.PollingInterval
	if healthy {
		next = min(2*cur, d.set.MaxPollingInterval)
	}
	if d.cfg.IOTimeout > 0 {
		next = min(next, max(d.cfg.IOTimeout/2, 10*time.Millisecond))
	}
	d.mu.Lock()
	hold := p.holdUntil
	d.mu.Unlock()
	if !hold.IsZero() {
		next = max(min(next, time.Until(hold)), time.Millisecond)
	}
	return next
}

// checkResult is what one check learned.
type checkResult struct {
	start  time.Time // when the check began
	state  PathState
	err    error
	info   *iscsi.LUNInfo // fresh identity, read on reinstatement
	prio   int
	tpg    int
	prioOK bool
}

// checkPath tests a path and applies the verdict; it reports whether the
// path is healthy and unchanged.
func (d *Device) checkPath(p *Path) bool {
	ctx, cancel := context.WithTimeout(d.ctx, d.set.CheckerTimeout)
	defer cancel()
	r := d.test(ctx, p)
	if d.ctx.Err() != nil {
		return false
	}
	return d.applyCheck(p, r)
}

// test runs TEST UNIT READY and, on a ready path, verifies its identity
// (when it is not in use) and refreshes its priority.
func (d *Device) test(ctx context.Context, p *Path) checkResult {
	r := checkResult{start: time.Now()}
	for range turRetries {
		var retry bool
		r.err = p.io.TUR(ctx)
		if r.state, retry = turState(r.err); !retry {
			break
		}
	}
	if !r.state.usable() {
		return r
	}
	d.mu.Lock()
	info, verify := p.info, !p.active || p.info == nil || p.io.Stale()
	d.mu.Unlock()
	if verify {
		fresh, err := p.io.Identify(ctx)
		if err != nil {
			return checkResult{start: r.start, state: PathDown, err: err}
		}
		if fresh.WWID != d.wwid {
			return checkResult{start: r.start, state: PathWWIDMismatch, info: fresh,
				err: &WWIDMismatchError{Portal: p.portal, Want: d.wwid, Got: fresh.WWID}}
		}
		if err := d.checkSize(p, fresh.Size()); err != nil {
			return checkResult{start: r.start, state: PathDown, err: err}
		}
		info, r.info = fresh, fresh
	}
	if err := d.registerPath(ctx, p); err != nil {
		return checkResult{start: r.start, state: PathDown, err: err}
	}
	if d.useALUA(info) {
		t, err := p.io.ReportTargetPortGroups(ctx)
		r.prio, r.tpg, r.prioOK = d.priority(info, t, err)
	} else {
		r.prio, r.tpg, r.prioOK = d.priority(info, scsi.TargetPortGroups{}, nil)
	}
	return r
}

// applyCheck records a check's verdict: reinstates, fails, delays or
// re-prioritises the path. It reports whether the path is healthy and
// nothing changed.
func (d *Device) applyCheck(p *Path, r checkResult) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		return false
	}
	if p.changed.After(r.start) {
		return false // the path changed while it was being checked: the verdict is stale
	}
	now := time.Now()
	if r.info != nil {
		p.info = r.info
		d.refreshCapsLocked()
	}
	tr, changed := d.applyStateLocked(p, r, now)
	prioChanged := r.prioOK && (r.prio != p.prio || r.tpg != p.tpg)
	if prioChanged {
		p.prio, p.tpg = r.prio, r.tpg
		d.emitLocked(Event{Kind: EventPathPriority, Portal: p.portal, State: p.state, Prio: p.prio})
		if d.policy != GroupMultibus {
			d.regroupLocked()
		}
		tr = trigPrio
	}
	if changed || prioChanged {
		d.updateLocked(tr, p)
	}
	return p.active && p.state == PathUp && !changed && !prioChanged
}

// applyStateLocked applies the checker state; it returns the trigger for
// updateLocked and whether the dm state changed.
func (d *Device) applyStateLocked(p *Path, r checkResult, now time.Time) (trigger, bool) {
	switch {
	case r.state.usable():
		return d.readyLocked(p, r.state, now)
	case r.state == PathPending:
		if p.setState(PathPending, now) {
			d.emitLocked(Event{Kind: EventPathState, Portal: p.portal, State: PathPending, Err: r.err,
				Msg: "ALUA state transition"})
		}
		return trigManual, false
	case p.active:
		d.failLocked(p, r.state, r.err, "path checker", true)
		return trigFail, true
	}
	if p.setState(r.state, now) {
		d.emitLocked(Event{Kind: EventPathState, Portal: p.portal, State: r.state, Err: r.err, Msg: "path checker"})
	}
	p.lastErr = r.err
	return trigManual, false
}

// readyLocked handles a path the checker found usable: it is reinstated
// unless an operator failed it or damping holds it back.
func (d *Device) readyLocked(p *Path, st PathState, now time.Time) (trigger, bool) {
	if p.active || p.manual {
		if p.setState(st, now) {
			d.emitLocked(Event{Kind: EventPathState, Portal: p.portal, State: st, Msg: "path checker"})
			return trigManual, p.active // up <-> ghost changes the path set
		}
		return trigManual, false
	}
	if d.dampedLocked(p, now) {
		if p.setState(PathDelayed, now) {
			d.emitLocked(Event{Kind: EventPathState, Portal: p.portal, State: PathDelayed,
				Msg: "flapping: reinstatement delayed until " + p.holdUntil.Format(time.RFC3339)})
		}
		return trigManual, false
	}
	p.setState(st, now)
	p.active, p.changed, p.lastErr = true, now, nil
	d.emitLocked(Event{Kind: EventPathReinstated, Portal: p.portal, State: st, Msg: "path checker"})
	return trigUp, true
}

// dampedLocked reports whether a recovered path must wait: it failed
// FlapThreshold times within FlapWindow, and its hold has not run out.
// A path is never held back when no other path is usable.
func (d *Device) dampedLocked(p *Path, now time.Time) bool {
	thr := d.set.FlapThreshold
	if thr <= 0 {
		return false
	}
	if p.holdUntil.IsZero() && p.failuresSince(now.Add(-d.set.FlapWindow)) >= thr {
		p.holdUntil = now.Add(d.set.FlapHold)
	}
	if p.holdUntil.IsZero() {
		return false
	}
	if !now.Before(p.holdUntil) || len(d.active.Load().paths) == 0 {
		p.holdUntil, p.failures = time.Time{}, p.failures[:0]
		return false
	}
	return true
}

// watchdog fails over the I/O of a path that stopped completing commands
// while keeping its connection alive. It is owned by the path's checker.
// The I/O is retried elsewhere only once the original commands cannot run
// any more: they are aborted (ABORT TASK, else LOGICAL UNIT RESET, see
// iscsi.Session.AbortInFlight); only when the target confirms neither is
// the connection dropped (and the session reinstated, which clears them at
// the target), as Linux's SCSI error handling escalates before
// dm-multipath retries a timed-out command.
type watchdog struct {
	progress uint64
	since    time.Time
}

func (w *watchdog) check(d *Device, p *Path) {
	now := time.Now()
	prog := p.progress.Load()
	if d.cfg.IOTimeout <= 0 || p.inFlight.Load() == 0 || prog != w.progress || w.since.IsZero() {
		w.progress, w.since = prog, now
		return
	}
	if now.Sub(w.since) < d.cfg.IOTimeout {
		return
	}
	w.since = now
	d.mu.Lock()
	d.emitLocked(Event{Kind: EventPathStalled, Portal: p.portal, State: p.state, Err: errIOTimeout,
		Msg: "aborting its commands to retry them elsewhere"})
	d.mu.Unlock()
	if err := p.io.AbortInFlight(d.ctx, errIOTimeout); err != nil {
		d.log.Warn("multipath: the target confirmed no abort; dropping the connection", "device", d.name,
			"portal", p.portal, "err", err)
		p.io.Reset(errIOTimeout)
	}
}
