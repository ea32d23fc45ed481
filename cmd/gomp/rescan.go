package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/multipath"
)

// lunSet is the devices one gomp attach of a target brought up, kept
// in step with the LUNs the target maps to this host: a rescan (gomp
// rescan, or REPORTED LUNS DATA HAS CHANGED) attaches new LUNs as new
// devices and fails the devices of LUNs that disappeared, as iscsiadm -m
// session -R and multipathd do. A LUN is known by its WWID: a LUN number
// now naming another LUN is another device.
type lunSet struct {
	g   *globalOpts
	o   *attachOpts
	cfg multipath.Config
	tls nbdTLS
	log *slog.Logger

	mu    sync.Mutex // serialises rescans; guards the following
	atts  map[string]*attachment
	users *atomic.Int32          // attachments sharing cfg.CHAP
	serve func(*attachment) bool // hands a new attachment to serveAttachments; false once stopping
	kick  chan struct{}          // cap 1: rescan soon
}

func newLUNSet(g *globalOpts, o *attachOpts, cfg multipath.Config, t nbdTLS, log *slog.Logger, atts []*attachment) *lunSet {
	s := &lunSet{g: g, o: o, cfg: cfg, tls: t, log: log, atts: map[string]*attachment{}, kick: make(chan struct{}, 1)}
	for _, a := range atts {
		s.atts[a.dev.WWID()] = a
		s.users = a.credUsers
		a.control.SetRescanner(s)
	}
	return s
}

// run rescans on each kick until ctx ends; serve starts the new devices.
func (s *lunSet) run(ctx context.Context, serve func(*attachment) bool) {
	s.mu.Lock()
	s.serve = serve
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		s.log.Info("REPORTED LUNS DATA HAS CHANGED: rescanning", "target", s.o.target)
		if r, err := s.Rescan(ctx); err != nil {
			s.log.Error("rescan", "target", s.o.target, "err", err, "added", r.Added, "gone", r.Gone)
		}
	}
}

// unitAttention is the session pool's hook: REPORTED LUNS DATA HAS
// CHANGED on a session of the set's target asks for a rescan.
func (s *lunSet) unitAttention(target string, code scsi.AdditionalSense) {
	if code != iscsi.UAReportedLUNsChanged || target != s.o.target {
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
func (s *lunSet) Rescan(ctx context.Context) (control.RescanReport, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var r control.RescanReport
	found, release, scanErr := multipath.Scan(ctx, s.cfg)
	defer release(context.WithoutCancel(ctx))
	if len(found) == 0 && scanErr != nil {
		return r, fmt.Errorf("rescan %s via %s: %w", s.o.target, strings.Join(s.o.portals, ", "), scanErr)
	}
	r.Gone = s.markGone(found, scanErr)
	var todo []multipath.FoundLUN
	for _, f := range found {
		if s.atts[f.Info.WWID] == nil && (len(s.o.luns) == 0 || slices.Contains(s.o.luns, int(f.LUNs[0]))) {
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
func (s *lunSet) markGone(found []multipath.FoundLUN, scanErr error) []string {
	if scanErr != nil {
		return nil
	}
	var gone []string
	for wwid, a := range s.atts {
		if slices.ContainsFunc(found, func(f multipath.FoundLUN) bool { return f.Info.WWID == wwid }) || a.dev.Gone() != nil {
			continue
		}
		err := fmt.Errorf("rescan of %s via %s: no portal reports LUN %d with this WWID", s.o.target,
			strings.Join(s.o.portals, ", "), a.dev.Info().LUN)
		a.dev.SetGone(err)
		s.log.Error("LUN gone from the target: its device fails I/O until detached", "device", a.dev.Name(),
			"wwid", safename.Text(wwid), "target", s.o.target, "lun", a.dev.Info().LUN)
		gone = append(gone, a.dev.Name())
	}
	slices.Sort(gone)
	return gone
}

// attach opens, exports and serves the devices of new LUNs.
func (s *lunSet) attach(ctx context.Context, todo []multipath.FoundLUN) ([]string, error) {
	if err := s.o.checkExports(len(s.atts) + len(todo)); err != nil {
		return nil, fmt.Errorf("new LUNs not attached: %w", err)
	}
	if s.serve == nil {
		return nil, errors.New("new LUNs not attached: the process does not serve new devices")
	}
	devs, openErr := multipath.OpenFound(ctx, s.cfg, todo)
	errs := []error{openErr}
	var added []string
	for _, dev := range devs {
		a, err := exportDevice(ctx, s.g, s.o, dev, s.tls, s.log)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.users.Add(1)
		a.creds, a.credUsers = s.cfg.CHAP, s.users
		a.control.SetRescanner(s)
		if !s.serve(a) {
			errs = append(errs, a.stop())
			continue
		}
		s.atts[dev.WWID()] = a
		added = append(added, safename.Text(dev.Name())+" "+safename.Text(a.readyTarget()))
		s.log.Info("new LUN attached", "device", dev.Name(), "lun", dev.Info().LUN, "where", a.readyTarget())
	}
	return added, errors.Join(errs...)
}

// followResize makes a grown device grow its kernel device too.
func (a *attachment) followResize() {
	a.dev.SetOnResize(func(_, size int64) {
		if a.kernel == nil {
			return
		}
		kd, ok := a.kernel.device().(interface {
			Resize(context.Context, int64) error
		})
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kd.Resize(ctx, size); err != nil {
			a.log.Error("the kernel device keeps its old size", "device", a.dev.Name(), "err", err)
		}
	})
}

// lunSets are the lunSets of a process, for the session pool's
// unit-attention hook.
type lunSets struct {
	mu   sync.Mutex // guards list
	list []*lunSet
}

func (ls *lunSets) add(s *lunSet) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.list = append(ls.list, s)
}

// unitAttention is multipath.SessionPool.OnUnitAttention: it kicks the
// rescan of the sets of target.
func (ls *lunSets) unitAttention(target, _ string, _ uint16, code scsi.AdditionalSense) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, s := range ls.list {
		s.unitAttention(target, code)
	}
}
