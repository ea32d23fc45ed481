package multipath

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// Persistent reservations (SPC-4 §5.12) on a multipath device, as
// mpathpersist and multipathd do them: each path is its own I_T nexus, so
// a key is registered through every path (in parallel here); a path that
// is reinstated is registered again (REGISTER AND IGNORE EXISTING KEY)
// before the selector may use it, unless the key is no longer registered
// through any path (another host preempted or cleared it: re-registering
// would undo the fence). RESERVE, PREEMPT and CLEAR go through one path;
// RELEASE through every path, since only the holder's nexus releases.
// A RESERVATION CONFLICT is returned to the caller, never failed over.

// prPath is what reservations need from a path; iscsiPath has it.
type prPath interface {
	PersistentReserveIn(ctx context.Context, a scsi.PRInAction) ([]byte, error)
	PersistentReserveOut(ctx context.Context, a scsi.PROutAction, t scsi.PRType, p scsi.PROutParameters) error
}

// ErrNoReservationSupport: a path of the device cannot send persistent
// reservation commands.
var ErrNoReservationSupport = errors.New("multipath: path does not support persistent reservations")

// ErrReservationConflict: an I/O met RESERVATION CONFLICT. Another
// host's persistent reservation excludes this host (it holds the
// reservation, or preempted or cleared this host's key); the error also
// wraps the *iscsi.SCSIError. No path is failed for it.
var ErrReservationConflict = errors.New("multipath: reservation conflict: another host's persistent reservation refuses this I/O")

// reservation is a device's key and which paths registered it.
type reservation struct {
	op sync.Mutex // serialises reservation commands and re-registrations
	// conflicted: an I/O met RESERVATION CONFLICT since the key was last
	// registered (logged and checked once).
	conflicted atomic.Bool

	mu         sync.Mutex // leaf lock (taken under Device.mu); guards the following
	key        uint64
	aptpl      bool
	source     string // "", "multipath.conf", "file", "runtime"
	active     bool   // the key is registered: reinstated paths register it too
	registered map[*Path]bool
}

// ReservationStatus is the device's reservation key as status shows it.
type ReservationStatus struct {
	Key    string `json:"key,omitempty"` // 0x%x, empty when none
	APTPL  bool   `json:"aptpl"`
	Source string `json:"source,omitempty"` // multipath.conf, file, runtime
	// Registered: the key is registered, so every path must be.
	Registered bool `json:"registered"`
}

func (r *reservation) status() ReservationStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := ReservationStatus{APTPL: r.aptpl, Source: r.source, Registered: r.active}
	if r.key != 0 {
		s.Key = fmt.Sprintf("0x%x", r.key)
	}
	return s
}

func (r *reservation) pathRegistered(p *Path) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.registered[p]
}

func (r *reservation) setPath(p *Path, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.registered == nil {
		r.registered = map[*Path]bool{}
	}
	r.registered[p] = ok
}

// Reservation returns the device's reservation key and state.
func (d *Device) Reservation() ReservationStatus { return d.pr.status() }

// PathRegistered reports whether the device registered its key through
// the path to portal.
func (d *Device) PathRegistered(portal string) bool {
	p, err := d.path(portal)
	return err == nil && d.pr.pathRegistered(p)
}

func (d *Device) prkeysFile() string {
	if d.cfg.PRKeysFile != "" {
		return d.cfg.PRKeysFile
	}
	return DefaultPRKeysFile
}

// loadReservationKey resolves the key: reservation_key from Config or
// multipath.conf, "file" meaning the prkeys file's line for the WWID.
func (d *Device) loadReservationKey() error {
	v := d.set.ReservationKey
	var key uint64
	var aptpl bool
	var err error
	switch v {
	case "":
		return nil
	case ReservationKeyFile:
		if key, aptpl, _, err = readPRKey(d.prkeysFile(), d.wwid); err != nil {
			return err
		}
	default:
		if key, aptpl, err = ParseReservationKey(v); err != nil {
			return fmt.Errorf("multipath %s: %w", d.name, err)
		}
	}
	d.pr.mu.Lock()
	d.pr.key, d.pr.aptpl, d.pr.source = key, aptpl, "multipath.conf"
	if v == ReservationKeyFile {
		d.pr.source = "file"
	}
	d.pr.mu.Unlock()
	return nil
}

// SetReservationKey sets the key at run time (0 removes it), as
// mpathpersist's --param-sark does with reservation_key "file". The key
// is used by the next Register and by reinstated paths once registered.
func (d *Device) SetReservationKey(key uint64, aptpl bool) {
	d.pr.op.Lock()
	defer d.pr.op.Unlock()
	d.pr.mu.Lock()
	d.pr.key, d.pr.aptpl, d.pr.source = key, aptpl, "runtime"
	d.pr.active = d.pr.active && key != 0
	d.pr.mu.Unlock()
}

// openReservation runs at Open, before the paths carry I/O: when the
// device has a key and the LUN already lists it (this host registered it
// before a restart), every path registers it again.
func (d *Device) openReservation(ctx context.Context) {
	if err := d.loadReservationKey(); err != nil {
		d.log.Warn("multipath: no reservation key", "device", d.name, "err", err)
		return
	}
	d.pr.mu.Lock()
	key := d.pr.key
	d.pr.mu.Unlock()
	if key == 0 {
		return
	}
	keys, err := d.ReadKeys(ctx)
	if err != nil {
		d.log.Warn("multipath: READ KEYS failed; the reservation key is not registered", "device", d.name, "err", err)
		return
	}
	if !slices.Contains(keys.Keys, key) {
		d.log.Info("multipath: reservation key not registered; gomp persist --out --register registers it",
			"device", d.name, "key", fmt.Sprintf("0x%x", key))
		return
	}
	d.pr.op.Lock()
	defer d.pr.op.Unlock()
	d.pr.mu.Lock()
	d.pr.active = true
	d.pr.mu.Unlock()
	for p, err := range d.registerAll(ctx, d.usablePaths(), 0, key, true) {
		if err != nil {
			d.failPath(p, err)
		}
	}
}

// usablePaths lists the paths in use.
func (d *Device) usablePaths() []*Path {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ps []*Path
	for _, p := range d.paths {
		if p.active {
			ps = append(ps, p)
		}
	}
	return ps
}

func prOf(p *Path) (prPath, error) {
	if pp, ok := p.io.(prPath); ok {
		return pp, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNoReservationSupport, p.portal)
}

// registerAll registers newKey (replacing oldKey, or whatever the nexus
// had with ignore) through paths in parallel, recording which succeeded.
// pr.op held.
func (d *Device) registerAll(ctx context.Context, paths []*Path, oldKey, newKey uint64, ignore bool) map[*Path]error {
	d.pr.mu.Lock()
	aptpl := d.pr.aptpl
	d.pr.mu.Unlock()
	a := scsi.PROutRegister
	if ignore {
		a = scsi.PROutRegisterIgnore
	}
	errs := make([]error, len(paths))
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() {
			pp, err := prOf(p)
			if err == nil {
				err = pp.PersistentReserveOut(ctx, a, 0, scsi.PROutParameters{Key: oldKey, ServiceActionKey: newKey, APTPL: aptpl})
			}
			errs[i] = err
			d.pr.setPath(p, err == nil && newKey != 0)
		})
	}
	wg.Wait()
	out := make(map[*Path]error, len(paths))
	failed := 0
	for i, p := range paths {
		out[p] = errs[i]
		if errs[i] != nil {
			failed++
		}
	}
	d.log.Info("multipath: "+a.String()+" done", "device", d.name, "key", fmt.Sprintf("0x%x", newKey),
		"paths", len(paths), "failed", failed, "took", time.Since(start))
	return out
}

// Register registers newKey (0 unregisters) through every usable path in
// parallel, as mpathpersist --out --register: oldKey is the key the
// nexuses hold now (--param-rk), ignore uses REGISTER AND IGNORE EXISTING
// KEY. A key set in multipath.conf must be the one registered; with
// reservation_key "file" the prkeys file records it. Paths that are down
// now register when they are reinstated.
//
// All or nothing, as mpathpersist: when a registration (newKey not 0)
// fails on some path, the paths that succeeded are rolled back (REGISTER
// with their new key back to oldKey; 0, unregistered, with ignore) so that
// the LUN is never left registered through only some of the device's
// I_T nexuses, and the error names the failed paths.
func (d *Device) Register(ctx context.Context, oldKey, newKey uint64, ignore, aptpl bool) error {
	d.pr.op.Lock()
	defer d.pr.op.Unlock()
	d.pr.mu.Lock()
	conf := d.pr.source == "multipath.conf" && d.pr.key != 0
	confKey := d.pr.key
	d.pr.mu.Unlock()
	if conf && newKey != 0 && newKey != confKey {
		return fmt.Errorf("multipath %s: reservation_key is 0x%x in multipath.conf; refusing to register 0x%x",
			d.name, confKey, newKey)
	}
	paths := d.usablePaths()
	if len(paths) == 0 {
		return fmt.Errorf("multipath %s: register: %w", d.name, ErrNoPath)
	}
	d.pr.mu.Lock()
	d.pr.aptpl = aptpl
	d.pr.mu.Unlock()
	res := d.registerAll(ctx, paths, oldKey, newKey, ignore)
	var failed, done []*Path
	var errs []error
	for _, p := range paths {
		if err := res[p]; err != nil {
			failed = append(failed, p)
			errs = append(errs, fmt.Errorf("path %s: %w", p.portal, err))
		} else {
			done = append(done, p)
		}
	}
	switch {
	case len(failed) == 0:
		d.keyRegistered(newKey, aptpl)
		return nil
	case newKey != 0:
		undo := "nothing to roll back"
		if err := d.rollback(ctx, done, newKey, oldKey, ignore); err != nil {
			errs = append(errs, err)
			undo = "rollback incomplete"
		} else if len(done) > 0 {
			undo = "rolled back through " + portals(done)
		}
		return fmt.Errorf("multipath %s: register key 0x%x failed through %s (%s): %w",
			d.name, newKey, portals(failed), undo, errors.Join(errs...))
	case len(done) > 0:
		d.keyRegistered(newKey, aptpl) // unregistered through some paths: the key is no longer in use
	}
	return fmt.Errorf("multipath %s: register: %w", d.name, errors.Join(errs...))
}

// rollback undoes a partial registration of key on paths: back to oldKey
// (0, unregistered, after REGISTER AND IGNORE EXISTING KEY, whose old key
// is unknown). It returns nil when every path was rolled
// back, and names the paths it could not roll back otherwise. pr.op held.
func (d *Device) rollback(ctx context.Context, paths []*Path, key, oldKey uint64, ignore bool) error {
	if len(paths) == 0 {
		return nil
	}
	if ignore {
		oldKey = 0
	}
	d.log.Warn("multipath: registration failed on some paths; rolling back the others",
		"device", d.name, "key", fmt.Sprintf("0x%x", key), "paths", portals(paths))
	var errs []error
	for p, err := range d.registerAll(ctx, paths, key, oldKey, false) {
		if err != nil {
			errs = append(errs, fmt.Errorf("path %s: %w", p.portal, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("rollback left key 0x%x registered: %w", key, errors.Join(errs...))
	}
	d.log.Info("multipath: registration rolled back", "device", d.name, "paths", portals(paths))
	return nil
}

// portals names paths for messages: "a, b".
func portals(paths []*Path) string {
	s := make([]string, len(paths))
	for i, p := range paths {
		s[i] = p.portal
	}
	return strings.Join(s, ", ")
}

// keyRegistered records a registered (or, 0, unregistered) key. pr.op held.
func (d *Device) keyRegistered(key uint64, aptpl bool) {
	d.pr.conflicted.Store(false)
	d.pr.mu.Lock()
	file := d.pr.source == "file" || d.set.ReservationKey == ReservationKeyFile
	d.pr.key, d.pr.aptpl, d.pr.active = key, aptpl, key != 0
	switch {
	case file:
		d.pr.source = "file"
	case d.pr.source == "" || key == 0:
		d.pr.source = "runtime"
	}
	if key == 0 {
		clear(d.pr.registered)
	}
	d.pr.mu.Unlock()
	if file {
		if err := writePRKey(d.prkeysFile(), d.wwid, key, aptpl); err != nil {
			d.log.Warn("multipath: prkeys file not updated", "device", d.name, "err", err)
		}
	}
}

// onePath runs fn on the usable paths in turn until one answers: a path
// error (connection lost, …) moves on; a command error is returned.
func (d *Device) onePath(ctx context.Context, what string, fn func(pp prPath) error) error {
	var errs []error
	for _, p := range d.usablePaths() {
		pp, err := prOf(p)
		if err == nil {
			err = fn(pp)
		}
		if err == nil || classify(ctx, err) != actFailPath {
			switch {
			case err == nil:
				return nil
			case refusedCDB(err):
				return fmt.Errorf("multipath %s: the target does not support %s (%w; through %s: %w)",
					d.name, what, errors.ErrUnsupported, p.portal, err)
			}
			return fmt.Errorf("multipath %s: %s through %s: %w", d.name, what, p.portal, err)
		}
		errs = append(errs, fmt.Errorf("path %s: %w", p.portal, err))
	}
	if len(errs) == 0 {
		return fmt.Errorf("multipath %s: %s: %w", d.name, what, ErrNoPath)
	}
	return fmt.Errorf("multipath %s: %s: %w", d.name, what, errors.Join(errs...))
}

// refusedCDB reports ILLEGAL REQUEST, INVALID COMMAND OPERATION CODE or
// INVALID FIELD IN CDB: the target does not implement the service action
// (tgtd has no READ FULL STATUS nor PREEMPT AND ABORT) or the type.
func refusedCDB(err error) bool {
	var se *iscsi.SCSIError
	if !errors.As(err, &se) || !se.HasSense || se.Sense.Key != scsi.KeyIllegalRequest {
		return false
	}
	c := se.Sense.Code()
	return c == scsi.ASInvalidOpcode || c == scsi.ASInvalidFieldInCDB
}

// PersistentReserveIn runs PERSISTENT RESERVE IN through one usable path
// and returns its parameter data (see iscsi.LUN.PersistentReserveIn). A
// service action the target does not implement is errors.ErrUnsupported.
func (d *Device) PersistentReserveIn(ctx context.Context, a scsi.PRInAction) ([]byte, error) {
	var b []byte
	err := d.onePath(ctx, a.String(), func(pp prPath) (err error) {
		b, err = pp.PersistentReserveIn(ctx, a)
		return err
	})
	return b, err
}

// ReadKeys returns the registered keys (READ KEYS), one per I_T nexus.
func (d *Device) ReadKeys(ctx context.Context) (scsi.ReservationKeys, error) {
	b, err := d.PersistentReserveIn(ctx, scsi.PRInReadKeys)
	if err != nil {
		return scsi.ReservationKeys{}, err
	}
	return scsi.ParseReadKeys(b)
}

// ReadReservation returns the reservation (READ RESERVATION).
func (d *Device) ReadReservation(ctx context.Context) (scsi.Reservation, error) {
	b, err := d.PersistentReserveIn(ctx, scsi.PRInReadReservation)
	if err != nil {
		return scsi.Reservation{}, err
	}
	return scsi.ParseReadReservation(b)
}

// PersistentReserveOut runs a PERSISTENT RESERVE OUT service action as
// mpathpersist does: REGISTER and REGISTER AND IGNORE EXISTING KEY through
// every path (Register); RELEASE through every path; RESERVE, PREEMPT,
// PREEMPT AND ABORT and CLEAR through one. RESERVE and RELEASE are
// checked with READ RESERVATION afterwards. A service action or type
// the target does not implement is errors.ErrUnsupported.
func (d *Device) PersistentReserveOut(ctx context.Context, a scsi.PROutAction, t scsi.PRType, p scsi.PROutParameters) error {
	switch a {
	case scsi.PROutRegister, scsi.PROutRegisterIgnore:
		return d.Register(ctx, p.Key, p.ServiceActionKey, a == scsi.PROutRegisterIgnore, p.APTPL)
	case scsi.PROutRelease:
		return d.release(ctx, t, p)
	}
	d.pr.op.Lock()
	defer d.pr.op.Unlock()
	what := a.String()
	if a != scsi.PROutClear {
		what = fmt.Sprintf("%v of type %v", a, t)
	}
	err := d.onePath(ctx, what, func(pp prPath) error { return pp.PersistentReserveOut(ctx, a, t, p) })
	if err != nil {
		return err
	}
	switch a {
	case scsi.PROutClear:
		d.keyRegistered(0, false)
	case scsi.PROutReserve:
		return d.checkReservation(ctx, a, func(r scsi.Reservation) bool { return r.Held && r.Type == t })
	}
	return nil
}

// release sends RELEASE through every usable path (only the holder's
// nexus releases; the others answer GOOD) and checks that the device's
// key no longer holds a reservation.
func (d *Device) release(ctx context.Context, t scsi.PRType, p scsi.PROutParameters) error {
	d.pr.op.Lock()
	defer d.pr.op.Unlock()
	paths := d.usablePaths()
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Go(func() {
			pp, err := prOf(path)
			if err == nil {
				err = pp.PersistentReserveOut(ctx, scsi.PROutRelease, t, p)
			}
			if err != nil {
				errs[i] = fmt.Errorf("path %s: %w", path.portal, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("multipath %s: RELEASE: %w", d.name, err)
	}
	return d.checkReservation(ctx, scsi.PROutRelease, func(r scsi.Reservation) bool {
		return !r.Held || r.Key != p.Key || r.Key == 0
	})
}

// checkReservation reads the reservation back and fails unless ok.
func (d *Device) checkReservation(ctx context.Context, a scsi.PROutAction, ok func(scsi.Reservation) bool) error {
	r, err := d.ReadReservation(ctx)
	if err != nil {
		return fmt.Errorf("multipath %s: %v done, READ RESERVATION to check it: %w", d.name, a, err)
	}
	if !ok(r) {
		return fmt.Errorf("multipath %s: %v done, but READ RESERVATION shows held=%t key 0x%x type %v",
			d.name, a, r.Held, r.Key, r.Type)
	}
	return nil
}

// registerPath registers the device's key through a path the checker is
// about to reinstate (or one in use that missed a registration), before
// the selector may use it: READ KEYS through the path, then, when the key
// is still registered through some nexus, REGISTER AND IGNORE EXISTING KEY
// through this one (multipathd's mpath_pr_event_handle). When the key is
// gone (preempted or cleared by another host) the path is reinstated
// unregistered: its I/O then meets RESERVATION CONFLICT, as the fence
// wants.
func (d *Device) registerPath(ctx context.Context, p *Path) error {
	d.pr.mu.Lock()
	active, key, done := d.pr.active, d.pr.key, d.pr.registered[p]
	d.pr.mu.Unlock()
	if !active || key == 0 || (done && d.isActive(p)) {
		return nil
	}
	d.pr.op.Lock()
	defer d.pr.op.Unlock()
	pp, err := prOf(p)
	if err != nil {
		return err
	}
	b, err := pp.PersistentReserveIn(ctx, scsi.PRInReadKeys)
	if err != nil {
		return fmt.Errorf("multipath: reservation: %w", err)
	}
	keys, err := scsi.ParseReadKeys(b)
	if err != nil {
		return fmt.Errorf("multipath: reservation: READ KEYS through %s: %w", p.portal, err)
	}
	if !slices.Contains(keys.Keys, key) {
		d.pr.mu.Lock()
		d.pr.active = false // fenced: no path registers again until Register
		clear(d.pr.registered)
		d.pr.mu.Unlock()
		d.log.Warn("multipath: reservation key no longer registered (preempted or cleared); paths are not registered again",
			"device", d.name, "portal", p.portal, "key", fmt.Sprintf("0x%x", key))
		return nil
	}
	d.pr.mu.Lock()
	aptpl := d.pr.aptpl
	d.pr.mu.Unlock()
	err = pp.PersistentReserveOut(ctx, scsi.PROutRegisterIgnore, 0, scsi.PROutParameters{ServiceActionKey: key, APTPL: aptpl})
	if err != nil {
		return fmt.Errorf("multipath: reservation: register key 0x%x through %s: %w", key, p.portal, err)
	}
	d.pr.setPath(p, true)
	d.log.Info("multipath: reservation key registered through path", "device", d.name, "portal", p.portal,
		"key", fmt.Sprintf("0x%x", key))
	return nil
}

var _ prPath = (*iscsiPath)(nil)

func (p *iscsiPath) PersistentReserveIn(ctx context.Context, a scsi.PRInAction) ([]byte, error) {
	l, err := p.handle()
	if err != nil {
		return nil, err
	}
	return l.PersistentReserveIn(ctx, a)
}

func (p *iscsiPath) PersistentReserveOut(ctx context.Context, a scsi.PROutAction, t scsi.PRType, prm scsi.PROutParameters) error {
	l, err := p.handle()
	if err != nil {
		return err
	}
	return l.PersistentReserveOut(ctx, a, t, prm)
}

// isReservationConflict reports a RESERVATION CONFLICT status.
func isReservationConflict(err error) bool {
	if err == nil { // before se, which escapes: no allocation on the I/O path
		return false
	}
	var se *iscsi.SCSIError
	return errors.As(err, &se) && scsi.Status(se.Status) == scsi.StatusReservationConflict
}

// conflict wraps an I/O's RESERVATION CONFLICT in ErrReservationConflict.
// The first since the key was registered is logged with what READ KEYS
// says, and when the device's key is gone (another host preempted or
// cleared it) the device records that it is no longer registered, as a
// reinstated path would find out.
func (d *Device) conflict(ctx context.Context, err error) error {
	if d.pr.conflicted.CompareAndSwap(false, true) {
		d.checkFenced(ctx, err)
	}
	return fmt.Errorf("%w: %w", ErrReservationConflict, err)
}

func (d *Device) checkFenced(ctx context.Context, cause error) {
	d.pr.mu.Lock()
	key, active := d.pr.key, d.pr.active
	d.pr.mu.Unlock()
	keys, err := d.ReadKeys(ctx)
	switch {
	case err != nil:
		d.log.Warn("multipath: I/O refused: RESERVATION CONFLICT (another host's reservation); no path is failed",
			"device", d.name, "err", cause, "read_keys", err)
	case active && !slices.Contains(keys.Keys, key):
		d.pr.op.Lock()
		d.pr.mu.Lock()
		d.pr.active = false
		clear(d.pr.registered)
		d.pr.mu.Unlock()
		d.pr.op.Unlock()
		d.log.Warn("multipath: I/O refused: RESERVATION CONFLICT: this host's reservation key was preempted or cleared by another host (fenced); no path is failed",
			"device", d.name, "key", fmt.Sprintf("0x%x", key), "registered_keys", len(keys.Keys))
	default:
		d.log.Warn("multipath: I/O refused: RESERVATION CONFLICT: another host holds a reservation that excludes this host; no path is failed",
			"device", d.name, "key", fmt.Sprintf("0x%x", key), "registered", active)
	}
}
