package multipath

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/gomp-dev/gomp/iscsi"
)

// FoundLUN is one logical unit of a target as Scan finds it: its
// identity and every portal that reaches it, with the LUN number behind
// each (usually the same everywhere).
type FoundLUN struct {
	Info    iscsi.LUNInfo // as the first portal reported it
	Portals []string      // in Config.Portals order
	LUNs    []uint16      // parallel to Portals
}

// Config returns base set up for the device of f: its portals and LUN
// numbers.
func (f FoundLUN) Config(base Config) Config {
	base.Portals, base.PortalLUNs, base.LUN = f.Portals, f.LUNs, f.LUNs[0]
	return base
}

// maxParallelOpens bounds the devices OpenAll opens at once.
const maxParallelOpens = 16

// OpenAll opens one device per disk LUN that the target maps to this
// initiator, as iscsiadm -m node -l and multipathd do: it logs in to
// every portal of cfg once (sessions shared through cfg.Pool, a new pool
// when nil), lists the LUNs (REPORT LUNS), inquires each, groups them by
// WWID across portals, and opens a device for each group that want
// accepts (nil: all). cfg.LUN, cfg.PortalLUNs and cfg.Alias are not used.
// It returns the devices opened, in LUN order, and an error joining what
// failed (a portal that did not answer, a LUN without a WWID, a device
// that did not open); devices and an error can come together.
func OpenAll(ctx context.Context, cfg Config, want func(FoundLUN) bool) ([]*Device, error) {
	if cfg.Pool == nil {
		cfg.Pool = &SessionPool{}
	}
	cfg.Alias, cfg.LUN, cfg.PortalLUNs = "", 0, nil
	found, release, err := Scan(ctx, cfg)
	defer release(ctx)
	var todo []FoundLUN
	for _, f := range found {
		if want == nil || want(f) {
			todo = append(todo, f)
		}
	}
	devs, openErr := OpenFound(ctx, cfg, todo)
	return devs, errors.Join(err, openErr)
}

// OpenFound opens the device of each FoundLUN of Scan (Config(cfg))
// concurrently, at most 16 at once, and returns those that opened, in
// found's order, with the errors of the others joined. cfg.Alias, when
// set, names every device: leave it empty for more than one.
func OpenFound(ctx context.Context, cfg Config, found []FoundLUN) ([]*Device, error) {
	devs := make([]*Device, len(found))
	errs := make([]error, len(found))
	sem := make(chan struct{}, maxParallelOpens)
	var wg sync.WaitGroup
	for i, f := range found {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			devs[i], errs[i] = Open(ctx, f.Config(cfg))
		})
	}
	wg.Wait()
	return slices.DeleteFunc(devs, func(d *Device) bool { return d == nil }), errors.Join(errs...)
}

// Scan logs in to every portal of cfg (through cfg.Pool when set),
// inquires every LUN the target reports and returns its disk LUNs
// grouped by WWID, ordered by LUN number. The sessions stay referenced
// until release is called, so that devices opened meanwhile from the
// same pool reuse them. The error joins the failures of single portals
// and of LUNs without a WWID (which multipath cannot verify); it comes
// alone only when no portal answered.
func Scan(ctx context.Context, cfg Config) (found []FoundLUN, release func(context.Context), err error) {
	cfg.Portals = normalizePortals(cfg.Portals)
	cfg.PortalLUNs = nil
	if err := cfg.validate(); err != nil {
		return nil, func(context.Context) {}, err
	}
	cfg = cfg.withDefaults()
	paths := make([]*iscsiPath, len(cfg.Portals))
	infos := make([][]*iscsi.LUNInfo, len(cfg.Portals))
	errs := make([]error, len(cfg.Portals))
	var wg sync.WaitGroup
	for i, portal := range cfg.Portals {
		paths[i] = newISCSIPath(cfg, portal, 0)
		wg.Go(func() { infos[i], errs[i] = scanPortal(ctx, cfg, paths[i]) })
	}
	wg.Wait()
	release = func(ctx context.Context) {
		for _, p := range paths {
			_ = p.Close(ctx)
		}
	}
	found, noWWID := groupByWWID(cfg.Portals, infos)
	errs = append(errs, noWWID...)
	return found, release, errors.Join(errs...)
}

// scanPortal lists and inquires the disk LUNs behind one portal.
func scanPortal(ctx context.Context, cfg Config, p *iscsiPath) ([]*iscsi.LUNInfo, error) {
	s, err := p.sess.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("multipath: scan %s %s: %w", p.sess.cfg.Portal, cfg.Target, err)
	}
	infos, err := s.DiskLUNs(ctx)
	if err != nil {
		return infos, fmt.Errorf("multipath: scan %s %s: %w", s.Portal(), cfg.Target, err)
	}
	return infos, nil
}

// groupByWWID merges the LUNs seen through each portal into one
// FoundLUN per WWID, ordered by the LUN number of its first portal. LUNs
// without a WWID are returned as errors.
func groupByWWID(portals []string, infos [][]*iscsi.LUNInfo) ([]FoundLUN, []error) {
	byWWID := map[string]*FoundLUN{}
	var order []*FoundLUN
	var errs []error
	for i, list := range infos {
		for _, info := range list {
			if info.WWID == "" {
				errs = append(errs, fmt.Errorf("multipath: %s LUN %d reports no WWID (VPD 0x83): not attached",
					portals[i], info.LUN))
				continue
			}
			f := byWWID[info.WWID]
			if f == nil {
				f = &FoundLUN{Info: *info}
				byWWID[info.WWID] = f
				order = append(order, f)
			}
			f.Portals, f.LUNs = append(f.Portals, portals[i]), append(f.LUNs, info.LUN)
		}
	}
	slices.SortStableFunc(order, func(a, b *FoundLUN) int { return int(a.LUNs[0]) - int(b.LUNs[0]) })
	found := make([]FoundLUN, len(order))
	for i, f := range order {
		found[i] = *f
	}
	return found, errs
}
