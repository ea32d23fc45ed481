package multipath

import (
	"errors"
	"fmt"
)

// ErrLUNGone is the error of every I/O to a device whose LUN the target
// no longer reports (a rescan after REPORTED LUNS DATA HAS CHANGED, or
// gomp rescan): the device stays, failing I/O at once, until its owner
// closes it; a LUN that appears at the same number is another device
// (its WWID is checked), never this one.
var ErrLUNGone = errors.New("multipath: the LUN is no longer on the target")

// SetGone marks the device's LUN as gone from the target: later I/O
// fails at once with an error wrapping ErrLUNGone and cause, I/O waiting
// for a path fails (queueing is disabled), and every path is failed and
// left down (as by FailPath) so that no checker reinstates one. It is
// idempotent; the first cause is kept.
func (d *Device) SetGone(cause error) {
	err := fmt.Errorf("multipath %s (WWID %s): %w", d.name, d.wwid, ErrLUNGone)
	if cause != nil {
		err = fmt.Errorf("%w: %w", err, cause)
	}
	if !d.gone.CompareAndSwap(nil, &err) {
		return
	}
	d.mu.Lock()
	for _, p := range d.paths {
		p.manual = true
		if p.active {
			d.failLocked(p, PathDisconnected, err, "LUN gone from the target", false)
		}
	}
	d.updateLocked(trigManual, nil)
	d.mu.Unlock()
	d.DisableQueueing()
}

// Gone returns the error of SetGone, nil while the LUN is there.
func (d *Device) Gone() error {
	if e := d.gone.Load(); e != nil {
		return *e
	}
	return nil
}
