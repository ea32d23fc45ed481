package attach

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/multipath"
)

// Set is the devices one gomp attach of a target brought up, kept
// in step with the LUNs the target maps to this host: a rescan (gomp
// rescan, or REPORTED LUNS DATA HAS CHANGED) attaches new LUNs as new
// devices and fails the devices of LUNs that disappeared, as iscsiadm -m
// session -R and multipathd do. A LUN is known by its WWID: a LUN number
// now naming another LUN is another device.
type Set struct {
	cfg   multipath.Config
	o     *Options
	luns  []int             // the LUNs to attach; empty: every disk LUN
	check func(n int) error // refuses Options that name one device when n are attached
	log   *slog.Logger

	mu    sync.Mutex // serialises rescans; guards the following
	atts  map[string]*Attachment
	creds *Release               // held by the attachments sharing cfg.CHAP
	serve func(*Attachment) bool // hands a new attachment to Serve; false once stopping
	kick  chan struct{}          // cap 1: rescan soon
}

// NewSet returns the set of the devices atts of the target of cfg (opened
// for the LUNs luns, every disk LUN when empty) and makes their control
// sockets answer rescans with it. check refuses the export options that
// name one device when n devices are to be attached.
func NewSet(cfg multipath.Config, o *Options, luns []int, check func(n int) error, atts []*Attachment) *Set {
	s := &Set{cfg: cfg, o: o, luns: luns, check: check, log: o.Logger, atts: map[string]*Attachment{},
		kick: make(chan struct{}, 1)}
	for _, a := range atts {
		s.atts[a.dev.WWID()] = a
		s.creds = a.creds
		a.set = s
		a.control.SetRescanner(s)
	}
	return s
}

// run rescans on each kick until ctx ends; serve starts the new devices.
func (s *Set) run(ctx context.Context, serve func(*Attachment) bool) {
	s.mu.Lock()
	s.serve = serve
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		s.log.Info("REPORTED LUNS DATA HAS CHANGED: rescanning", "target", s.cfg.Target)
		if r, err := s.Rescan(ctx); err != nil {
			s.log.Error("rescan", "target", s.cfg.Target, "err", err, "added", r.Added, "gone", r.Gone)
		}
	}
}

// unitAttention is the session pool's hook: REPORTED LUNS DATA HAS
// CHANGED on a session of the set's target asks for a rescan.
func (s *Set) unitAttention(target string, code scsi.AdditionalSense) {
	if code != iscsi.UAReportedLUNsChanged || target != s.cfg.Target {
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// rescan lists and inquires the target's LUNs again through every portal.
// A WWID attached here that no portal reports any more has its device
// failed (multipath.Device.SetGone), unless a portal did not answer (then
// nothing is known to be gone); a disk LUN with a new WWID is attached as
// a new device, when the attach flags allow more than one.
func (s *Set) Rescan(ctx context.Context) (control.RescanReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r control.RescanReport
	found, release, scanErr := multipath.Scan(ctx, s.cfg)
	defer release(context.WithoutCancel(ctx))
	if len(found) == 0 && scanErr != nil {
		return r, fmt.Errorf("rescan %s via %s: %w", s.cfg.Target, strings.Join(s.cfg.Portals, ", "), scanErr)
	}
	r.Gone = s.markGone(found, scanErr)
	var todo []multipath.FoundLUN
	for _, f := range found {
		if s.atts[f.Info.WWID] == nil && (len(s.luns) == 0 || slices.Contains(s.luns, int(f.LUNs[0]))) {
			todo = append(todo, f)
		}
	}
	errs := []error{scanErr}
	if len(todo) > 0 {
		added, err := s.attach(ctx, todo)
		r.Added, errs = added, append(errs, err)
	}
	err := errors.Join(errs...)
	if err != nil {
		r.Error = err.Error()
	}
	return r, err
}

// markGone fails the devices whose WWID found lacks; none when scanErr
// says a portal (or LUN) did not answer.
func (s *Set) markGone(found []multipath.FoundLUN, scanErr error) []string {
	if scanErr != nil {
		return nil
	}
	var gone []string
	for wwid, a := range s.atts {
		if slices.ContainsFunc(found, func(f multipath.FoundLUN) bool { return f.Info.WWID == wwid }) || a.dev.Gone() != nil {
			continue
		}
		err := fmt.Errorf("rescan of %s via %s: no portal reports LUN %d with this WWID", s.cfg.Target,
			strings.Join(s.cfg.Portals, ", "), a.dev.Info().LUN)
		a.dev.SetGone(err)
		s.log.Error("LUN gone from the target: its device fails I/O until detached", "device", a.dev.Name(),
			"wwid", safename.Text(wwid), "target", s.cfg.Target, "lun", a.dev.Info().LUN)
		gone = append(gone, a.dev.Name())
	}
	slices.Sort(gone)
	return gone
}

// attach opens, exports and serves the devices of new LUNs.
func (s *Set) attach(ctx context.Context, todo []multipath.FoundLUN) ([]string, error) {
	if err := s.check(len(s.atts) + len(todo)); err != nil {
		return nil, fmt.Errorf("new LUNs not attached: %w", err)
	}
	if s.serve == nil {
		return nil, errors.New("new LUNs not attached: the process does not serve new devices")
	}
	devs, openErr := multipath.OpenFound(ctx, s.cfg, todo)
	errs := []error{openErr}
	var added []string
	for _, dev := range devs {
		a, err := Export(ctx, s.o, dev, s.creds)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		a.set = s
		a.control.SetRescanner(s)
		if !s.serve(a) {
			errs = append(errs, a.Stop())
			continue
		}
		s.atts[dev.WWID()] = a
		added = append(added, safename.Text(dev.Name())+" "+safename.Text(a.Ready()))
		s.log.Info("new LUN attached", "device", dev.Name(), "lun", dev.Info().LUN, "where", a.Ready())
		if s.o.OnAttach != nil {
			s.o.OnAttach(a)
		}
	}
	return added, errors.Join(errs...)
}

// Sets are the Sets of a process, for the session pool's unit-attention
// hook. The zero value is empty.
type Sets struct {
	mu   sync.Mutex // guards list
	list []*Set
}

// Add adds s.
func (ls *Sets) Add(s *Set) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.list = append(ls.list, s)
}

// UnitAttention is multipath.SessionPool.OnUnitAttention: it kicks the
// rescan of the sets of target.
func (ls *Sets) UnitAttention(target, _ string, _ uint16, code scsi.AdditionalSense) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, s := range ls.list {
		s.unitAttention(target, code)
	}
}
