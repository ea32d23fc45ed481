package multipath

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// DeviceStats is a snapshot of a device's counters: what multipathd's
// "show maps stats" and iscsiadm -m session -s report, and more. Counters
// run from Open. Its JSON form (field names in the tags) is stable.
type DeviceStats struct {
	Name string    `json:"name"`
	WWID string    `json:"wwid"`
	Time time.Time `json:"time"` // when the snapshot was taken
	// Failovers counts the times a path carrying I/O failed while another
	// path could take its I/O over; Failbacks the times I/O came back to
	// a recovered path (reinstated into the path group in use, or the
	// failback policy switching back to a better group).
	Failovers     uint64 `json:"failovers"`
	Failbacks     uint64 `json:"failbacks"`
	GroupSwitches uint64 `json:"group_switches"` // I/O moved to another path group, for any reason
	// NoPathEvents counts the times the last usable path went;
	// NoPathTime is the time spent without one, the current stretch
	// included; NoPath says whether the device is without one now.
	NoPathEvents uint64        `json:"no_path_events"`
	NoPathTime   time.Duration `json:"no_path_ns"`
	NoPath       bool          `json:"no_path"`
	UsablePaths  int           `json:"usable_paths"` // paths I/O goes to now
	QueuedIOs    int64         `json:"queued_ios"`   // I/O waiting for a path now
	QueuedTotal  uint64        `json:"queued_total"` // I/O that had to wait for a path
	NoPathErrors uint64        `json:"no_path_errors"`
	Paths        []PathStats   `json:"paths"` // in Config.Portals order
}

// PathStats are one path's counters.
type PathStats struct {
	// Portal names the path as Config.Portals does, with the port and
	// any @binding: unique per path, unlike PathStatus.Portal.
	Portal   string `json:"portal"`
	State    string `json:"state"` // as PathStatus.State: active, ghost, failed, …
	Up       bool   `json:"up"`    // I/O may be sent to it (dm state active)
	InFlight int64  `json:"in_flight"`
	// IOs counts requests that completed without error; Ops has them by
	// operation ("read", "write", "flush", "unmap", "write_zeroes"),
	// with their latency; Latency merges every operation.
	IOs          uint64                  `json:"ios"`
	ReadBytes    uint64                  `json:"read_bytes"`
	WrittenBytes uint64                  `json:"written_bytes"`
	Latency      LatencyStats            `json:"latency"`
	Ops          map[string]LatencyStats `json:"ops"`
	// Errors counts failed requests by ErrorClass name, every class
	// present.
	Errors map[string]uint64 `json:"errors"`
	// RetriedElsewhere counts requests that failed on this path with a
	// path error and were sent again through another path.
	RetriedElsewhere uint64 `json:"retried_elsewhere"`
	Failures         uint64 `json:"failures"`       // times the path was failed
	Reinstatements   uint64 `json:"reinstatements"` // times it was put back in use
	LastError        string `json:"last_error,omitempty"`
	// Session is the iSCSI session's counters; nil before the path
	// first logged in (or for paths that are not iSCSI sessions).
	Session *iscsi.SessionStats `json:"session,omitempty"`
}

// LatencyStats describes the latency of completed requests, from a
// histogram of fixed log-scale buckets; percentiles are estimated within
// a bucket (at most 19 % wide).
type LatencyStats struct {
	Count uint64        `json:"count"`
	Sum   time.Duration `json:"sum_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	// Buckets are the non-empty buckets of the LatencyBuckets bounds, in
	// order, each with its own (not cumulative) count.
	Buckets []LatencyBucket `json:"buckets,omitempty"`
}

// LatencyBucket is one histogram bucket: Count requests took less than
// Le and at least the previous bound of LatencyBuckets.
type LatencyBucket struct {
	Le    time.Duration `json:"le_ns"`
	Count uint64        `json:"count"`
}

// ErrorClass sorts the errors of a path's requests, for statistics; the
// classes follow what the device does about them (see Device.ReadAtContext).
type ErrorClass uint8

// Error classes.
const (
	ErrorTransport ErrorClass = iota // connection lost, session closed, command timed out: the path fails
	ErrorPath                        // SCSI status or response saying the path cannot serve (standby, LUN gone, …): the path fails
	ErrorTarget                      // the LUN's own error (MEDIUM ERROR, ILLEGAL REQUEST, …): returned to the caller
	ErrorRetryable                   // transient (BUSY, UNIT ATTENTION, TASK SET FULL): retried on the path
	ErrorRejected                    // the target rejected the PDU: returned
	ErrorInvalid                     // misaligned, beyond the end, unsupported: returned
	ErrorCanceled                    // the caller's context ended
	numErrorClasses
)

var errorClassNames = [...]string{"transport", "path", "target", "retryable", "rejected", "invalid", "canceled"}

// String returns the class's label value, e.g. "transport".
func (c ErrorClass) String() string {
	if int(c) < len(errorClassNames) {
		return errorClassNames[c]
	}
	return "unknown"
}

// errorClass sorts err from one attempt, as classify decides about it.
func errorClass(ctx context.Context, err error) ErrorClass {
	switch {
	case ctx.Err() != nil:
		return ErrorCanceled
	case errors.Is(err, iscsi.ErrConnection), errors.Is(err, iscsi.ErrSessionClosed),
		errors.Is(err, iscsi.ErrAborted), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded):
		return ErrorTransport
	case errors.Is(err, iscsi.ErrUnaligned), errors.Is(err, io.EOF), errors.Is(err, errors.ErrUnsupported):
		return ErrorInvalid
	}
	var se *iscsi.SCSIError
	if errors.As(err, &se) {
		switch se.Class() {
		case scsi.ClassTargetError:
			return ErrorTarget
		case scsi.ClassRetry, scsi.ClassOK:
			return ErrorRetryable
		}
		return ErrorPath
	}
	var re *iscsi.RejectError
	if errors.As(err, &re) {
		return ErrorRejected
	}
	return ErrorPath
}

// statOpNames are the operation names of PathStats.Ops, by opKind.
var statOpNames = [...]string{"read", "write", "flush", "unmap", "write_zeroes"}

const numOps = len(statOpNames)

// pathCounters are a path's statistics beyond what the selectors read.
// The I/O path touches them with atomic adds only.
type pathCounters struct {
	epoch      time.Time         // a monotonic origin: time.Since is cheaper than time.Now
	lat        [numOps]histogram // completed requests, by opKind
	errs       [numErrorClasses]atomic.Uint64
	moved      atomic.Uint64 // failed here, retried on another path
	failures   atomic.Uint64
	reinstated atomic.Uint64
}

// now is a monotonic clock reading for latencies.
func (c *pathCounters) now() time.Duration { return time.Since(c.epoch) }

// done records a completed request.
func (c *pathCounters) done(op opKind, d time.Duration) { c.lat[op].Record(d) }

// failed records a failed request. Not on the fast path: it may look
// into the error.
func (c *pathCounters) failed(ctx context.Context, err error) {
	c.errs[errorClass(ctx, err)].Add(1)
}

// deviceCounters are a device's statistics.
type deviceCounters struct {
	// guarded by Device.mu
	failovers, failbacks, groupSwitches, noPathEvents uint64
	noPathSince                                       time.Time // zero while a path is usable
	noPathTotal                                       time.Duration

	queuedTotal  atomic.Uint64
	noPathErrors atomic.Uint64
}

// startOutageLocked notes that the last usable path went. Device.mu held.
func (c *deviceCounters) startOutageLocked(now time.Time) {
	c.noPathEvents++
	c.noPathSince = now
}

// endOutageLocked notes that a path is usable again and returns how long
// the device was without one. Device.mu held.
func (c *deviceCounters) endOutageLocked(now time.Time) time.Duration {
	if c.noPathSince.IsZero() {
		return 0
	}
	d := now.Sub(c.noPathSince)
	c.noPathTotal += d
	c.noPathSince = time.Time{}
	return d
}

// countTransitionLocked counts failovers and failbacks from the change of
// the path set I/O uses. Device.mu held.
func (d *Device) countTransitionLocked(tr trigger, old, set *pathSet) {
	if len(set.paths) > 0 && slices.ContainsFunc(old.paths, func(p *Path) bool {
		return !p.active && !slices.Contains(set.paths, p)
	}) {
		d.st.failovers++
	}
	if (tr == trigUp || tr == trigFailbackDue) && slices.ContainsFunc(set.paths, func(p *Path) bool {
		return !slices.Contains(old.paths, p)
	}) {
		d.st.failbacks++
	}
}

// countEventLocked keeps the counters that follow events. Device.mu held.
func (d *Device) countEventLocked(e *Event) {
	switch e.Kind {
	case EventGroupSwitched:
		d.st.groupSwitches++
	case EventPathFailed, EventPathReinstated:
		for _, p := range d.paths {
			if p.portal != e.Portal {
				continue
			}
			if e.Kind == EventPathFailed {
				p.st.failures.Add(1)
			} else {
				p.st.reinstated.Add(1)
			}
		}
	}
}

// Stats returns a snapshot of the device's counters. It takes the
// device's lock briefly (never held by I/O) and reads the per-path
// counters without stopping I/O, so counters of one snapshot may be a
// few requests apart.
func (d *Device) Stats() DeviceStats {
	now := time.Now()
	d.mu.Lock()
	st := DeviceStats{Name: d.name, WWID: d.wwid, Time: now, Failovers: d.st.failovers,
		Failbacks: d.st.failbacks, GroupSwitches: d.st.groupSwitches, NoPathEvents: d.st.noPathEvents,
		NoPathTime: d.st.noPathTotal, NoPath: !d.st.noPathSince.IsZero(),
		UsablePaths: len(d.active.Load().paths)}
	if st.NoPath {
		st.NoPathTime += now.Sub(d.st.noPathSince)
	}
	for _, p := range d.paths {
		ps := PathStats{Portal: p.portal, State: p.summaryLocked(), Up: p.active}
		if p.lastErr != nil {
			ps.LastError = p.lastErr.Error()
		}
		st.Paths = append(st.Paths, ps)
	}
	d.mu.Unlock()
	st.QueuedIOs, st.QueuedTotal = d.queued.Load(), d.st.queuedTotal.Load()
	st.NoPathErrors = d.st.noPathErrors.Load()
	for i, p := range d.paths {
		p.fillStats(&st.Paths[i])
	}
	return st
}

// fillStats reads a path's counters into ps.
func (p *Path) fillStats(ps *PathStats) {
	ps.InFlight, ps.ReadBytes, ps.WrittenBytes = p.inFlight.Load(), p.readBytes.Load(), p.writtenBytes.Load()
	ps.RetriedElsewhere = p.st.moved.Load()
	ps.Failures, ps.Reinstatements = p.st.failures.Load(), p.st.reinstated.Load()
	ps.Ops = make(map[string]LatencyStats, numOps)
	var all histSnapshot
	for op := range numOps {
		h := p.st.lat[op].snapshot()
		ps.Ops[statOpNames[op]] = h.stats()
		all.add(&h)
	}
	ps.Latency, ps.IOs = all.stats(), all.count
	ps.Errors = make(map[string]uint64, numErrorClasses)
	for c := range numErrorClasses {
		ps.Errors[c.String()] = p.st.errs[c].Load()
	}
	if s, ok := p.io.(interface{ sessionStats() *iscsi.SessionStats }); ok {
		ps.Session = s.sessionStats()
	}
}

// sessionStats returns the path's session counters, nil before the first
// login.
func (p *iscsiPath) sessionStats() *iscsi.SessionStats {
	l := p.h.Load()
	if l == nil {
		return nil
	}
	st := l.Session().Stats()
	return &st
}
