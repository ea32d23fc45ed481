package multipath

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// pathIO is how a path reaches the LUN. Production wraps an iscsi.Session
// and LUN (iscsiPath); tests use fakes. Every method is safe for
// concurrent use. Errors follow package iscsi's conventions: connection
// errors satisfy errors.Is(err, iscsi.ErrConnection), command errors are
// *iscsi.SCSIError and friends.
type pathIO interface {
	ReadAtContext(ctx context.Context, p []byte, off int64) (int, error)
	WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error)
	Flush(ctx context.Context) error
	Unmap(ctx context.Context, off, n int64) error
	WriteZeroes(ctx context.Context, off, n int64, unmap bool) error
	// TUR sends TEST UNIT READY, connecting first when the path has
	// never been connected.
	TUR(ctx context.Context) error
	// Identify inquires the LUN afresh (connecting first if needed).
	Identify(ctx context.Context) (*iscsi.LUNInfo, error)
	// Stale reports, without I/O, that the target announced changed
	// mode parameters or inquiry data since the last Identify.
	Stale() bool
	// ReportTargetPortGroups runs REPORT TARGET PORT GROUPS.
	ReportTargetPortGroups(ctx context.Context) (scsi.TargetPortGroups, error)
	// SetTargetPortGroups runs SET TARGET PORT GROUPS.
	SetTargetPortGroups(ctx context.Context, groups []scsi.PortGroupState) error
	// AccessStateChanged receives when a command to the LUN met a unit
	// attention announcing changed asymmetric access states (nil: the
	// path cannot tell).
	AccessStateChanged() <-chan struct{}
	// Connected reports, without I/O, whether the transport is up.
	Connected() bool
	// Reset drops the transport so that commands in flight fail with a
	// connection error; the transport reconnects by itself.
	Reset(cause error)
	// AbortInFlight ends the commands in flight so that none can still
	// run at the target, failing them with an iscsi.ErrAborted error; an
	// error means that could not be confirmed (see
	// iscsi.Session.AbortInFlight).
	AbortInFlight(ctx context.Context, cause error) error
	// Close logs out for good.
	Close(ctx context.Context) error
}

// PathState is a path checker's verdict, as multipathd reports it.
type PathState uint8

// Path states.
const (
	PathUp           PathState = iota // "ready": TEST UNIT READY succeeded
	PathDown                          // "faulty": connection lost or command failed
	PathGhost                         // ALUA standby (NOT READY 04/0B): usable only as a last resort
	PathPending                       // ALUA transitioning (04/0A): checked again soon
	PathDisconnected                  // the target no longer has the LUN (25/00)
	PathDelayed                       // ready, but held back after flapping
	PathWWIDMismatch                  // the portal reaches a different LUN
)

var pathStateNames = [...]string{"ready", "faulty", "ghost", "pending", "disconnected", "delayed", "wwid-mismatch"}

// String returns the state as multipath -ll shows it ("ready", "faulty",
// "ghost", …), or "PathState(N)" for an unknown value.
func (s PathState) String() string {
	if int(s) < len(pathStateNames) {
		return pathStateNames[s]
	}
	return fmt.Sprintf("PathState(%d)", uint8(s))
}

// usable reports whether the checker allows I/O on a path in state s.
func (s PathState) usable() bool { return s == PathUp || s == PathGhost }

// maxFailureLog bounds the failure times a path remembers for damping.
const maxFailureLog = 32

// Path is one way to the LUN: a session to one portal. The methods that
// Selectors use are lock-free reads of per-path counters.
type Path struct {
	portal  string
	index   int
	io      pathIO
	relTput int64

	inFlight      atomic.Int64
	inFlightBytes atomic.Int64
	completed     atomic.Uint64
	errs          atomic.Uint64
	readBytes     atomic.Uint64
	writtenBytes  atomic.Uint64
	progress      atomic.Uint64 // completions, failed or not (I/O watchdog)
	st            pathCounters  // statistics (Device.Stats)

	wake chan struct{} // cap 1: check now
	kick chan struct{} // cap 1: state changed, back to the base interval

	// guarded by Device.mu
	active    bool      // dm state: I/O may be sent
	state     PathState // checker state
	manual    bool      // failed by FailPath; only ReinstatePath brings it back
	prio      int
	tpg       int // ALUA target port group, -1 when unknown
	info      *iscsi.LUNInfo
	lastErr   error
	changed   time.Time
	failures  []time.Time // recent failures, oldest first
	holdUntil time.Time   // damping: not reinstated before
}

func newPath(index int, portal string, io pathIO) *Path {
	return &Path{portal: portal, index: index, io: io, relTput: 1, tpg: -1, st: pathCounters{epoch: time.Now()},
		wake: make(chan struct{}, 1), kick: make(chan struct{}, 1), state: PathDown}
}

// Portal returns the path's portal, "host:port".
func (p *Path) Portal() string { return p.portal }

// InFlight returns the number of requests in flight on the path.
func (p *Path) InFlight() int64 { return p.inFlight.Load() }

// InFlightBytes returns the bytes of the requests in flight on the path.
func (p *Path) InFlightBytes() int64 { return p.inFlightBytes.Load() }

// RelativeThroughput is the path's weight for service-time; always 1, as
// multipath.conf gives no way to set it.
func (p *Path) RelativeThroughput() int64 { return p.relTput }

// check asks the path's checker to run now.
func (p *Path) check() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// do runs one request on the path, keeping its counters.
func (p *Path) do(ctx context.Context, r *request) (int, error) {
	size := int64(r.size())
	p.inFlight.Add(1)
	p.inFlightBytes.Add(size)
	start := p.st.now()
	n, err := p.exec(ctx, r)
	lat := p.st.now() - start
	p.inFlightBytes.Add(-size)
	p.inFlight.Add(-1)
	p.progress.Add(1)
	if err != nil {
		p.errs.Add(1)
		p.st.failed(ctx, err)
		return n, err
	}
	p.completed.Add(1)
	p.st.done(r.op, lat)
	switch r.op {
	case opRead:
		p.readBytes.Add(uint64(n))
	case opWrite:
		p.writtenBytes.Add(uint64(n))
	}
	return n, nil
}

func (p *Path) exec(ctx context.Context, r *request) (int, error) {
	switch r.op {
	case opRead:
		return p.io.ReadAtContext(ctx, r.p, r.off)
	case opWrite:
		return p.io.WriteAtContext(ctx, r.p, r.off, r.fua)
	case opFlush:
		return 0, p.io.Flush(ctx)
	case opUnmap:
		return 0, p.io.Unmap(ctx, r.off, r.length)
	case opZero:
		return 0, p.io.WriteZeroes(ctx, r.off, r.length, r.unmap)
	}
	return 0, fmt.Errorf("multipath: unknown operation %d", r.op)
}

// recordFailure notes a failure for damping. Device.mu held.
func (p *Path) recordFailure(now time.Time) {
	if len(p.failures) == maxFailureLog {
		copy(p.failures, p.failures[1:])
		p.failures = p.failures[:maxFailureLog-1]
	}
	p.failures = append(p.failures, now)
}

// failuresSince counts the failures at or after t. Device.mu held.
func (p *Path) failuresSince(t time.Time) int {
	n := 0
	for _, f := range p.failures {
		if !f.Before(t) {
			n++
		}
	}
	return n
}

// setState records a checker state change. Device.mu held.
func (p *Path) setState(s PathState, now time.Time) bool {
	if p.state == s {
		return false
	}
	p.state, p.changed = s, now
	return true
}
