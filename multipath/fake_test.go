package multipath

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/stretchr/testify/require"
)

const (
	testWWID  = "36001405aaaaaaaaaaaaaaaaaaaaaaaaa"
	testBlock = 512
	testSize  = 4 << 20
)

// fakeDisk is the LUN behind every fake path of a test.
type fakeDisk struct {
	mu   sync.Mutex
	data []byte
}

func newFakeDisk() *fakeDisk { return &fakeDisk{data: make([]byte, testSize)} }

func (d *fakeDisk) read(p []byte, off int64) {
	d.mu.Lock()
	copy(p, d.data[off:])
	d.mu.Unlock()
}

func (d *fakeDisk) write(p []byte, off int64) {
	d.mu.Lock()
	copy(d.data[off:], p)
	d.mu.Unlock()
}

// fakePath is a scriptable pathIO. By default it works; tests make it
// fail, hang (a blackhole the "NOP ping" detects after detect), or
// answer TEST UNIT READY with an error.
type fakePath struct {
	disk *fakeDisk

	mu        sync.Mutex // guards the following
	info      iscsi.LUNInfo
	ioErr     error // returned by I/O without touching the disk
	ioErrLeft int   // >0: only that many more times
	turErr    error
	identErr  error
	stale     bool                        // Stale's answer; Identify clears it
	stpgs     []scsi.PortGroupState       // SET TARGET PORT GROUPS received
	onSTPG    func([]scsi.PortGroupState) // what the "target" does with them
	tpgs      scsi.TargetPortGroups
	down      bool          // connection lost: everything fails with a ConnError
	gate      chan struct{} // non-nil: I/O blocks until closed (then fails) or ctx ends
	stalled   bool          // I/O blocks until Reset (connection alive)
	resets    int
	aborts    int   // AbortInFlight calls that released stalled I/O
	abortErr  error // AbortInFlight's answer; non-nil: nothing is released
	closed    bool

	ios, turs atomic.Int64
}

func newFake(disk *fakeDisk) *fakePath {
	return &fakePath{disk: disk, info: iscsi.LUNInfo{LUN: 1, Vendor: "GOMP", Product: "FAKE",
		DeviceType: scsi.TypeDisk, WWID: testWWID, BlockSize: testBlock, Blocks: testSize / testBlock,
		CanUnmap: true, CanWriteSame: true}}
}

var errFakeConn = &iscsi.ConnError{Portal: "fake", Err: errors.New("connection reset by fake")}

func (f *fakePath) set(fn func(f *fakePath)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

// blackhole makes I/O hang until detect has passed, then fail with a
// connection error, and keeps the path down.
func (f *fakePath) blackhole(detect time.Duration) {
	f.mu.Lock()
	gate := make(chan struct{})
	f.gate = gate
	f.mu.Unlock()
	time.AfterFunc(detect, func() {
		f.mu.Lock()
		f.down = true
		f.gate = nil
		f.mu.Unlock()
		close(gate)
	})
}

func (f *fakePath) restore() {
	f.set(func(f *fakePath) { f.down, f.gate, f.ioErr, f.turErr, f.stalled = false, nil, nil, nil, false })
}

// enter decides an I/O's fate before it touches the disk.
func (f *fakePath) enter(ctx context.Context) error {
	f.ios.Add(1)
	f.mu.Lock()
	gate, stalled, resets, aborts := f.gate, f.stalled, f.resets, f.aborts
	err := f.ioErr
	if err != nil && f.ioErrLeft > 0 {
		if f.ioErrLeft--; f.ioErrLeft == 0 {
			f.ioErr = nil
		}
	}
	down := f.down
	f.mu.Unlock()
	switch {
	case down:
		return errFakeConn
	case gate != nil:
		select {
		case <-gate:
			return errFakeConn
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", iscsi.ErrAborted, ctx.Err())
		}
	case stalled:
		return f.waitReset(ctx, resets, aborts)
	}
	return err
}

func (f *fakePath) waitReset(ctx context.Context, resets, aborts int) error {
	for {
		f.mu.Lock()
		r, a := f.resets, f.aborts
		f.mu.Unlock()
		if r != resets {
			return errFakeConn
		}
		if a != aborts {
			return fmt.Errorf("%w: aborted by the fake", iscsi.ErrAborted)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", iscsi.ErrAborted, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (f *fakePath) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	f.disk.read(p, off)
	return len(p), nil
}

func (f *fakePath) WriteAtContext(ctx context.Context, p []byte, off int64, _ bool) (int, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	f.disk.write(p, off)
	return len(p), nil
}

func (f *fakePath) Flush(ctx context.Context) error { return f.enter(ctx) }

func (f *fakePath) Unmap(ctx context.Context, off, n int64) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	f.disk.write(make([]byte, n), off)
	return nil
}

func (f *fakePath) WriteZeroes(ctx context.Context, off, n int64, _ bool) error {
	return f.Unmap(ctx, off, n)
}

func (f *fakePath) TUR(ctx context.Context) error {
	f.turs.Add(1)
	f.mu.Lock()
	down, gate, err := f.down, f.gate, f.turErr
	f.mu.Unlock()
	switch {
	case down:
		return errFakeConn
	case gate != nil:
		select {
		case <-gate:
			return errFakeConn
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", iscsi.ErrAborted, ctx.Err())
		}
	}
	return err
}

func (f *fakePath) Identify(context.Context) (*iscsi.LUNInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errFakeConn
	}
	if f.identErr != nil {
		return nil, f.identErr
	}
	f.stale = false
	info := f.info
	return &info, nil
}

func (f *fakePath) ReportTargetPortGroups(context.Context) (scsi.TargetPortGroups, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return scsi.TargetPortGroups{}, errFakeConn
	}
	t := f.tpgs // a copy, as a target's answer is: setALUAState changes f.tpgs later
	t.Groups = slices.Clone(t.Groups)
	return t, nil
}

func (f *fakePath) Stale() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stale
}

// AccessStateChanged: the fakes announce no unit attentions (the
// in-process target does: TestAccessStateChangedRefreshesAtOnce).
func (f *fakePath) AccessStateChanged() <-chan struct{} { return nil }

func (f *fakePath) Connected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.down
}

func (f *fakePath) Reset(error) { f.set(func(f *fakePath) { f.resets++ }) }

func (f *fakePath) AbortInFlight(context.Context, error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.abortErr != nil {
		return f.abortErr
	}
	f.aborts++
	return nil
}

func (f *fakePath) SetTargetPortGroups(_ context.Context, groups []scsi.PortGroupState) error {
	f.mu.Lock()
	on, down := f.onSTPG, f.down
	f.stpgs = append(f.stpgs, groups...)
	f.mu.Unlock()
	if down {
		return errFakeConn
	}
	if on != nil {
		on(groups)
	}
	return nil
}

func (f *fakePath) Close(context.Context) error {
	f.set(func(f *fakePath) { f.closed = true })
	return nil
}

// alua gives the fake an ALUA identity: target port group id in the
// given state.
func (f *fakePath) alua(id uint16, state scsi.AccessState, preferred bool) *fakePath {
	f.set(func(f *fakePath) {
		f.info.ALUA = true
		var b [4]byte
		b[3] = byte(id)
		f.info.Designators = []scsi.Designator{{Association: scsi.AssocTargetPort,
			Type: scsi.DesigTargetPortGroup, ID: b[:]}}
		f.tpgs = scsi.TargetPortGroups{Groups: []scsi.PortGroup{{ID: id, State: state, Preferred: preferred}}}
	})
	return f
}

func (f *fakePath) setALUAState(state scsi.AccessState) {
	f.set(func(f *fakePath) { f.tpgs.Groups[0].State = state })
}

// testConfig is a Config for fakes, with short intervals.
func testConfig(s Settings) Config {
	if s.PollingInterval == 0 {
		s.PollingInterval = time.Second
	}
	return Config{Target: "iqn.2026-11.dev.gomp:test", LUN: 1, Settings: s}
}

// openFakes opens a device over fakes, portals p0, p1, …; it is closed at
// the end of the test (inside a synctest bubble, close it yourself).
func openFakes(t *testing.T, cfg Config, fakes ...*fakePath) *Device {
	t.Helper()
	cfg.Portals = nil
	ios := make([]pathIO, len(fakes))
	for i, f := range fakes {
		cfg.Portals = append(cfg.Portals, fmt.Sprintf("p%d", i))
		ios[i] = f
	}
	require.NoError(t, cfg.validate())
	d, err := open(context.Background(), cfg.withDefaults(), ios)
	require.NoError(t, err)
	return d
}

// closeDev closes a device and checks Close's result; a device left
// without a usable path cannot flush, which is not an error here.
func closeDev(t *testing.T, d *Device) {
	t.Helper()
	if err := d.Close(context.Background()); !errors.Is(err, ErrNoPath) {
		require.NoError(t, err)
	}
}

// senseErr builds a CHECK CONDITION with the given sense. (Status
// values are untyped constants: multipath does not import package pdu.)
func senseErr(key scsi.SenseKey, asc, ascq uint8) *iscsi.SCSIError {
	return &iscsi.SCSIError{Status: 0x02, HasSense: true, Sense: scsi.Sense{Key: key, ASC: asc, ASCQ: ascq}}
}

var (
	errBusy        = &iscsi.SCSIError{Status: 0x08}
	errResConflict = &iscsi.SCSIError{Status: 0x18}
	errACAActive   = &iscsi.SCSIError{Status: 0x30}
	errTaskAborted = &iscsi.SCSIError{Status: 0x40}
)

// pathState returns a path's one-word state from Snapshot.
func pathState(d *Device, portal string) string {
	for _, g := range d.Status().Groups {
		for _, p := range g.Paths {
			if p.Portal == portal {
				return p.State
			}
		}
	}
	return "?"
}

func activePortals(d *Device) []string {
	var out []string
	for _, p := range d.active.Load().paths {
		out = append(out, p.portal)
	}
	return out
}

// collectEvents records events; safe for concurrent use.
type collectEvents struct {
	mu sync.Mutex
	ev []Event
}

func (c *collectEvents) add(e Event) {
	c.mu.Lock()
	c.ev = append(c.ev, e)
	c.mu.Unlock()
}

func (c *collectEvents) kinds() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.ev {
		s := e.Kind.String()
		if e.Portal != "" {
			s += " " + e.Portal
		}
		out = append(out, s)
	}
	return out
}
