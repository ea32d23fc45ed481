package multipath

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// Sentinel errors; the errors returned by this package wrap them.
var (
	// ErrNoPath: no path could carry the I/O, and queueing is off,
	// expired (no_path_retry) or was disabled.
	ErrNoPath = errors.New("multipath: no usable path")
	// ErrClosed: the device is closed or closing.
	ErrClosed = errors.New("multipath: device closed")
	// ErrBlacklisted: multipath.conf blacklists the LUN.
	ErrBlacklisted = errors.New("multipath: LUN is blacklisted")
)

// WWIDMismatchError is a portal that reaches a different LUN than the
// device's other paths. Such a path is never used; the checker keeps
// looking at it in case the target is fixed.
type WWIDMismatchError struct {
	Portal string
	Want   string // the device's WWID
	Got    string // what the portal's LUN reports
}

// Error names the portal and both WWIDs.
func (e *WWIDMismatchError) Error() string {
	return fmt.Sprintf("multipath: path %s refused: its LUN has WWID %s, the device has WWID %s",
		e.Portal, e.Got, e.Want)
}

// Device is a multipath block device over the paths to one LUN. I/O
// methods are safe for concurrent use and never block on a global lock;
// the caller's buffers are used only until the method returns.
type Device struct {
	cfg    Config
	set    Settings
	log    *slog.Logger
	name   string
	wwid   string
	info   iscsi.LUNInfo
	sel    Selector
	policy GroupingPolicy
	paths  []*Path // fixed at Open, in Config.Portals order

	active atomic.Pointer[pathSet] // what I/O may use now
	caps   atomic.Pointer[Capabilities]
	// trimRefused: a target refused UNMAP; trims are dropped
	trimRefused atomic.Bool
	closed      atomic.Bool  // Close finished flushing: I/O is refused
	queued      atomic.Int64 // I/O waiting for a path
	// Resize (resize.go): the capacity once a resize changed it (0: info's),
	// an automatic resize running, and the SetOnResize hook.
	size     atomic.Int64
	resizing atomic.Bool
	onResize atomic.Pointer[func(old, size int64)]
	gone     atomic.Pointer[error] // SetGone (gone.go)

	zeroOnce sync.Once
	zero     []byte // shared zero buffer for emulated WRITE ZEROES

	mu            sync.Mutex // guards the following, and Path's guarded fields
	groups        []*group
	current       int // index in groups of the group in use, -1 none
	queueing      bool
	queueDisabled bool // DisableQueueing
	noPathTimer   *time.Timer
	failbackTimer *time.Timer
	changed       chan struct{} // closed on every state change
	closing       bool
	activating    bool      // SET TARGET PORT GROUPS in flight (activateLocked)
	activatedTPG  int       // the group the last successful one activated
	activateSoon  bool      // activateLater is pending
	activated     time.Time // and when
	events        []Event
	st            deviceCounters // statistics (Stats)
	trigger       *Path          // the path whose change updateLocked is applying

	pr reservation // persistent reservation key and registrations

	evWake    chan struct{} // cap 1
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open logs in to every portal (one session each, distinct ISIDs),
// inquires the LUN, groups the paths and starts their checkers. A portal
// that cannot be reached is kept as a failed path for the checker to
// retry; a portal reaching a LUN with another WWID is refused (see
// WWIDMismatchError). Open fails only when no path works.
func Open(ctx context.Context, cfg Config) (*Device, error) {
	cfg.Portals = normalizePortals(cfg.Portals)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	pcfg := cfg
	var name *atomic.Pointer[string]
	pcfg.Logger, name = pathLogger(cfg.Logger)
	ios := make([]pathIO, len(cfg.Portals))
	for i, portal := range cfg.Portals {
		ios[i] = newISCSIPath(pcfg, portal, cfg.lunAt(i))
	}
	d, err := open(ctx, cfg, ios)
	if err == nil {
		name.Store(&d.name)
	}
	return d, err
}

// normalizePortals adds the iSCSI port to portals without one, as
// package iscsi does, so that "10.0.0.1" and "10.0.0.1:3260" are one path;
// a binding suffix (@IFACE, @SOURCE_IP) is kept. A portal that does not
// parse is left as it is, for the dial to report.
func normalizePortals(portals []string) []string {
	out := make([]string, len(portals))
	for i, p := range portals {
		out[i] = p
		if addr, b, err := iscsi.ParsePortal(p); err == nil {
			out[i] = iscsi.JoinPortal(addr, b)
		}
	}
	return out
}

// open builds a device over ios, one per Config.Portals entry.
func open(ctx context.Context, cfg Config, ios []pathIO) (*Device, error) {
	probes := probeAll(ctx, cfg, ios)
	ref := -1
	for i := range probes {
		if probes[i].info != nil {
			ref = i
			break
		}
	}
	if ref < 0 {
		closeAll(ctx, ios)
		return nil, openError(cfg, probes)
	}
	d := &Device{cfg: cfg, log: cfg.Logger, current: -1, activatedTPG: -1, changed: make(chan struct{}),
		evWake: make(chan struct{}, 1)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.active.Store(emptySet)
	if err := d.configure(probes[ref].info); err != nil {
		d.cancel()
		closeAll(ctx, ios)
		return nil, err
	}
	d.addPaths(ios, probes)
	d.start()
	d.openReservation(ctx)
	return d, nil
}

func openError(cfg Config, probes []probe) error {
	errs := []error{fmt.Errorf("multipath: no path to %s LUN %d", cfg.Target, cfg.LUN)}
	for i := range probes {
		errs = append(errs, fmt.Errorf("%s: %w", cfg.Portals[i], probes[i].err))
	}
	return errors.Join(errs...)
}

func closeAll(ctx context.Context, ios []pathIO) {
	var wg sync.WaitGroup
	for _, io := range ios {
		wg.Go(func() { _ = io.Close(ctx) })
	}
	wg.Wait()
}

// configure resolves the settings, selector, grouping policy and name
// from the reference path's identity.
func (d *Device) configure(info *iscsi.LUNInfo) error {
	if info.WWID == "" {
		return fmt.Errorf("multipath: %s LUN %d reports no WWID (VPD 0x83); its paths cannot be verified",
			d.cfg.Target, d.cfg.LUN)
	}
	if f := d.cfg.File; f != nil && f.Blacklisted(info.WWID, info.Vendor, info.Product) {
		return fmt.Errorf("%w: WWID %s (%s %s) in %s", ErrBlacklisted, info.WWID, info.Vendor, info.Product, f)
	}
	d.info, d.wwid = *info, info.WWID
	d.set = d.cfg.resolve(info.WWID, info.Vendor, info.Product)
	d.sel = d.cfg.Selector
	if d.sel == nil {
		sel, err := NewSelector(d.set.PathSelector, d.set.RRMinIO)
		if err != nil {
			return fmt.Errorf("multipath: %w", err)
		}
		d.sel = sel
	}
	d.policy = d.set.GroupingPolicy
	if d.policy == GroupAuto {
		d.policy = GroupMultibus
		if d.useALUA(info) {
			d.policy = GroupByPrio
		}
	}
	name, err := d.resolveName()
	if err != nil {
		return err
	}
	d.name = name
	d.warnFindMultipaths()
	return nil
}

// resolveName applies the naming rule: Alias (Config, then the
// multipaths entry), then a user friendly name from the bindings file,
// then the WWID. The name becomes file names, notify fields and labels,
// so an alias must pass safename.Check (an error otherwise) and a WWID is
// passed through safename.Name (a no-op for the WWIDs scsi.WWID makes).
func (d *Device) resolveName() (string, error) {
	if d.set.Alias != "" {
		if err := safename.Check(d.set.Alias); err != nil {
			return "", fmt.Errorf("multipath: alias: %w", err)
		}
		return d.set.Alias, nil
	}
	wwid := safename.Name(d.wwid)
	if d.set.UserFriendlyNames == Yes {
		name, err := NewBindings(d.set.BindingsFile).Alias(wwid, d.set.AliasPrefix)
		if err == nil {
			return name, nil
		}
		d.log.Warn("multipath: no user friendly name; using the WWID", "wwid", wwid, "err", err)
	}
	return wwid, nil
}

func (d *Device) warnFindMultipaths() {
	switch d.set.FindMultipaths {
	case "yes", "on", "strict", "1":
		if len(d.cfg.Portals) < 2 {
			d.log.Warn("multipath: find_multipaths asks for two paths; building the device over one portal",
				"device", d.name, "find_multipaths", d.set.FindMultipaths)
		}
	}
}

// useALUA reports whether priorities come from REPORT TARGET PORT GROUPS.
func (d *Device) useALUA(info *iscsi.LUNInfo) bool {
	return info != nil && info.ALUA && d.set.Prio != "const"
}

// addPaths creates the paths from the probes of Open.
func (d *Device) addPaths(ios []pathIO, probes []probe) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for i, io := range ios {
		p := newPath(i, d.cfg.Portals[i], io)
		p.changed = now
		pr := probes[i]
		switch {
		case pr.err != nil:
			p.lastErr = pr.err
			d.emitLocked(Event{Kind: EventPathFailed, Portal: p.portal, State: PathDown, Err: pr.err,
				Msg: "unreachable at open; the checker will retry"})
		case pr.info.WWID != d.wwid:
			p.state, p.info = PathWWIDMismatch, pr.info
			p.lastErr = &WWIDMismatchError{Portal: p.portal, Want: d.wwid, Got: pr.info.WWID}
			d.emitLocked(Event{Kind: EventPathState, Portal: p.portal, State: p.state, Err: p.lastErr,
				Msg: "path refused"})
		default:
			p.active, p.state, p.info = true, PathUp, pr.info
			p.prio, p.tpg, _ = d.priority(pr.info, pr.tpgs, pr.tpgErr)
		}
		d.paths = append(d.paths, p)
	}
	d.refreshCapsLocked()
}

// start groups the paths, publishes the first path set and starts the
// checkers and the event dispatcher.
func (d *Device) start() {
	d.mu.Lock()
	d.groups = buildGroups(d.policy, d.paths)
	d.current = d.bestGroupLocked()
	d.queueing = d.queueModeLocked()
	d.active.Store(d.buildSetLocked())
	d.mu.Unlock()
	d.wg.Add(1 + len(d.paths))
	go d.dispatch()
	for _, p := range d.paths {
		go d.checkLoop(p)
	}
	d.log.Info("multipath device ready", "device", d.name, "wwid", d.wwid, "size", d.info.Size(),
		"selector", d.sel.Name(), "policy", string(d.policy), "paths", len(d.paths))
}

// updateLocked re-evaluates the groups after a state change of path up
// (nil when no path's), publishes the new path set and wakes queued I/O.
func (d *Device) updateLocked(tr trigger, up *Path) {
	d.trigger = up
	defer func() { d.trigger = nil }()
	for _, g := range d.groups {
		g.updatePrio()
	}
	d.chooseGroupLocked(tr, up)
	old := d.active.Load()
	set := d.buildSetLocked()
	d.active.Store(set)
	d.countTransitionLocked(tr, old, set)
	d.queueTransitionLocked(len(old.paths) > 0, len(set.paths) > 0)
	d.activateLocked()
	d.notifyLocked()
}

// notifyLocked wakes everything waiting for a state change.
func (d *Device) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// Name returns the device's name: Config.Alias, else the alias of its
// multipaths entry, else (user_friendly_names) its bindings name, else
// its WWID.
func (d *Device) Name() string { return d.name }

// WWID returns the LUN's WWID as multipath-tools derives it.
func (d *Device) WWID() string { return d.wwid }

// Info returns what the reference path reported at Open.
func (d *Device) Info() iscsi.LUNInfo { return d.info }

// Close flushes the LUN's cache, fails queued I/O with ErrClosed, stops
// the checkers and logs out of every session; ctx bounds the flush and
// the logouts. Later I/O fails with ErrClosed. Close is idempotent.
func (d *Device) Close(ctx context.Context) error {
	d.closeOnce.Do(func() { d.closeErr = d.close(ctx) })
	return d.closeErr
}

func (d *Device) close(ctx context.Context) error {
	d.mu.Lock()
	d.closing = true
	d.stopTimersLocked()
	d.notifyLocked()
	d.mu.Unlock()
	var errs []error
	if len(d.active.Load().paths) == 0 {
		errs = append(errs, fmt.Errorf("multipath %s: cannot flush at close: %w", d.name, ErrNoPath))
	} else if err := d.Flush(ctx); err != nil {
		errs = append(errs, fmt.Errorf("multipath %s: flush at close: %w", d.name, err))
	}
	d.closed.Store(true)
	d.cancel()
	errs = append(errs, d.closePaths(ctx)...)
	d.mu.Lock()
	d.emitLocked(Event{Kind: EventClosed})
	d.mu.Unlock()
	d.wg.Wait()
	return errors.Join(errs...)
}

func (d *Device) stopTimersLocked() {
	if d.noPathTimer != nil {
		d.noPathTimer.Stop()
		d.noPathTimer = nil
	}
	if d.failbackTimer != nil {
		d.failbackTimer.Stop()
		d.failbackTimer = nil
	}
}

func (d *Device) closePaths(ctx context.Context) []error {
	errs := make([]error, len(d.paths))
	var wg sync.WaitGroup
	for i, p := range d.paths {
		wg.Go(func() {
			if err := p.io.Close(ctx); err != nil {
				errs[i] = fmt.Errorf("multipath %s: close path %s: %w", d.name, p.portal, err)
			}
		})
	}
	wg.Wait()
	return errs
}

// probe is what Open learns from one path.
type probe struct {
	info   *iscsi.LUNInfo
	tpgs   scsi.TargetPortGroups
	tpgErr error
	err    error
}

// probeAll inquires every path concurrently.
func probeAll(ctx context.Context, cfg Config, ios []pathIO) []probe {
	probes := make([]probe, len(ios))
	var wg sync.WaitGroup
	for i, io := range ios {
		wg.Go(func() { probes[i] = probePath(ctx, io) })
	}
	wg.Wait()
	return probes
}

func probePath(ctx context.Context, io pathIO) probe {
	info, err := io.Identify(ctx)
	if err != nil {
		return probe{err: err}
	}
	if !info.IsDisk() {
		return probe{err: fmt.Errorf("LUN %d is a %v, not a disk", info.LUN, info.DeviceType)}
	}
	pr := probe{info: info}
	if info.ALUA {
		pr.tpgs, pr.tpgErr = io.ReportTargetPortGroups(ctx)
	}
	return pr
}
