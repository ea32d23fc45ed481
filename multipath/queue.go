package multipath

import (
	"context"
	"fmt"
	"time"
)

// queueModeLocked reports whether I/O without a path queues rather than
// fails: no_path_retry is not "fail" and DisableQueueing is not in force.
func (d *Device) queueModeLocked() bool {
	return d.set.NoPathRetry != NoPathRetryFail && !d.queueDisabled
}

// queueTransitionLocked follows the device into and out of the no-path
// state: queueing starts (with the no_path_retry countdown) when the last
// path goes, and is restored when a path returns.
func (d *Device) queueTransitionLocked(had, has bool) {
	switch {
	case had && !has:
		d.st.startOutageLocked(time.Now())
		d.queueing = d.queueModeLocked()
		msg := "I/O fails"
		if d.queueing {
			msg = "I/O queues (no_path_retry " + d.set.NoPathRetry.String() + ")"
		}
		d.emitLocked(Event{Kind: EventNoPath, Msg: msg})
		d.armNoPathLocked()
	case !had && has:
		d.stopNoPathLocked()
		d.queueing = d.queueModeLocked()
		out := d.st.endOutageLocked(time.Now())
		d.emitLocked(Event{Kind: EventPathsRestored,
			Msg: fmt.Sprintf("a path is usable again after %v without one; %d queued I/O resume", out.Round(time.Millisecond), d.queued.Load())})
	}
}

// armNoPathLocked starts the no_path_retry countdown: N checker
// intervals, after which queued and new I/O fail.
func (d *Device) armNoPathLocked() {
	d.stopNoPathLocked()
	n := d.set.NoPathRetry
	if n <= 0 || !d.queueing || d.closing {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(time.Duration(n)*d.set.PollingInterval, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.noPathTimer != t || len(d.active.Load().paths) > 0 {
			return
		}
		d.noPathTimer = nil
		d.queueing = false
		d.emitLocked(Event{Kind: EventQueueingExpired,
			Msg: fmt.Sprintf("no path for %d checks; failing queued I/O", n)})
		d.notifyLocked()
	})
	d.noPathTimer = t
}

func (d *Device) stopNoPathLocked() {
	if d.noPathTimer != nil {
		d.noPathTimer.Stop()
		d.noPathTimer = nil
	}
}

// DisableQueueing fails queued I/O now, and I/O that finds no path from
// now on, whatever no_path_retry says, until RestoreQueueing (like
// "multipathd disablequeueing map").
func (d *Device) DisableQueueing() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.queueDisabled {
		return
	}
	d.queueDisabled = true
	d.queueing = false
	d.stopNoPathLocked()
	d.emitLocked(Event{Kind: EventQueueingDisabled, Msg: "by request"})
	d.notifyLocked()
}

// RestoreQueueing undoes DisableQueueing; when no path is usable, the
// no_path_retry countdown starts again.
func (d *Device) RestoreQueueing() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.queueDisabled {
		return
	}
	d.queueDisabled = false
	d.queueing = d.queueModeLocked()
	if len(d.active.Load().paths) == 0 {
		d.armNoPathLocked()
	}
	d.emitLocked(Event{Kind: EventQueueingRestored, Msg: "by request"})
	d.notifyLocked()
}

// waitPath waits for a usable path while queueing is on. It returns when
// a path is usable, or with ErrNoPath (queueing off or expired),
// ErrClosed (Close), or the caller's context error. It never waits
// without one of those being able to end it.
func (d *Device) waitPath(ctx context.Context) (*pathSet, error) {
	d.queued.Add(1)
	defer d.queued.Add(-1)
	d.st.queuedTotal.Add(1)
	for {
		d.mu.Lock()
		set := d.active.Load()
		switch {
		case len(set.paths) > 0:
			d.mu.Unlock()
			return set, nil
		case d.closing:
			d.mu.Unlock()
			return nil, ErrClosed
		case !d.queueing:
			d.mu.Unlock()
			return nil, ErrNoPath
		}
		changed := d.changed
		d.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("multipath: waiting for a path: %w", ctx.Err())
		}
	}
}
