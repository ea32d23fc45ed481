package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/nbd"
)

// startAttachments logs in (once per portal: the devices share their
// sessions through g.sessions), builds the device of each LUN asked
// (--lun, else every disk LUN the target maps to this host, one device
// per WWID), exports each and opens its control socket. A LUN that cannot
// be attached is logged and does not stop the others; it fails only when
// none is attached.
func startAttachments(ctx context.Context, g *globalOpts, o *attachOpts) ([]*attachment, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	tlsMode, tlsCfg, err := o.tls.server()
	if err != nil {
		return nil, err
	}
	log := g.logger()
	cfg, err := o.mpConfig(g, log)
	if err != nil {
		return nil, err
	}
	cfg.Pool = &g.sessions
	openCtx, cancel := context.WithTimeout(ctx, g.timeout)
	devs, err := o.openDevices(openCtx, cfg, log)
	cancel()
	if len(devs) == 0 {
		clearCHAP(cfg.CHAP)
		return nil, err
	}
	if err != nil {
		log.Error("not every LUN attached", "target", o.target, "err", err)
	}
	users := &atomic.Int32{}
	users.Store(int32(len(devs)))
	var atts []*attachment
	for i, dev := range devs {
		a, err := exportDevice(ctx, g, o, dev, nbdTLS{tlsMode, tlsCfg}, log)
		if err != nil {
			for _, a := range atts {
				a.stop()
			}
			for _, d := range devs[i+1:] {
				_ = d.Close(ctx)
			}
			clearCHAP(cfg.CHAP)
			return nil, err
		}
		a.creds, a.credUsers = cfg.CHAP, users
		atts = append(atts, a)
	}
	if len(o.luns) != 1 { // a target attached LUN by LUN is rescanned; --lun N is one device
		set := newLUNSet(g, o, cfg, nbdTLS{tlsMode, tlsCfg}, log, atts)
		g.lunSets.add(set)
		for _, a := range atts {
			a.set = set
		}
	}
	return atts, nil
}

// openDevices opens the device of the one --lun given, or scans the
// target and opens one device per WWID among the LUNs asked.
func (o *attachOpts) openDevices(ctx context.Context, cfg multipath.Config, log *slog.Logger) ([]*multipath.Device, error) {
	if len(o.luns) == 1 {
		cfg.LUN = uint16(o.luns[0])
		dev, err := multipath.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		return []*multipath.Device{dev}, nil
	}
	found, release, scanErr := multipath.Scan(ctx, cfg)
	defer release(context.WithoutCancel(ctx))
	found = slices.DeleteFunc(found, func(f multipath.FoundLUN) bool {
		return len(o.luns) > 0 && !slices.Contains(o.luns, int(f.LUNs[0]))
	})
	if len(found) == 0 {
		return nil, errors.Join(fmt.Errorf("%s via %s: no disk LUN to attach%s", o.target,
			strings.Join(o.portals, ", "), lunsAsked(o.luns)), scanErr)
	}
	if err := o.checkExports(len(found)); err != nil {
		return nil, err
	}
	if scanErr != nil {
		log.Warn("scan", "target", o.target, "err", scanErr)
	}
	return multipath.OpenFound(ctx, cfg, found)
}

// lunsAsked describes --lun for an error.
func lunsAsked(luns []int) string {
	if len(luns) == 0 {
		return ""
	}
	return fmt.Sprintf(" among --lun %v", luns)
}

// checkExports refuses the export flags that name one device when n
// devices are to be attached.
func (o *attachOpts) checkExports(n int) error {
	if n <= 1 {
		return nil
	}
	one := func(flag string) error {
		return usagef("%s names one device and the target maps %d LUNs to this host: give --lun N", flag, n)
	}
	switch {
	case o.alias != "":
		return one("--alias")
	case o.mount != "":
		return one("--mount")
	case o.nbdDev != "" && o.nbdDev != "auto":
		return usagef("--nbd %s names one device and the target maps %d LUNs to this host: give --nbd auto or --lun N", o.nbdDev, n)
	}
	for _, l := range o.listen {
		if !strings.HasPrefix(l, "unix:") || !strings.HasSuffix(l, "/") {
			return usagef("--listen %s serves one device and the target maps %d LUNs to this host: give --listen unix:DIR/ (a socket per device) or --lun N", l, n)
		}
	}
	return nil
}

// listenFor returns the --listen values of the device name: unix:DIR/
// becomes unix:DIR/NAME.nbd.
func (o *attachOpts) listenFor(name string) []string {
	out := make([]string, len(o.listen))
	for i, l := range o.listen {
		out[i] = l
		if dir, ok := strings.CutPrefix(l, "unix:"); ok && strings.HasSuffix(dir, "/") {
			out[i] = "unix:" + filepath.Join(dir, name+".nbd")
		}
	}
	return out
}

// nbdTLS is the TLS setting of the NBD sockets (--tls).
type nbdTLS struct {
	mode nbd.TLSMode
	cfg  *tls.Config
}

// exportDevice exports dev over NBD (kernel and/or sockets) and opens its
// control socket; on error dev is closed.
func exportDevice(ctx context.Context, g *globalOpts, o *attachOpts, dev *multipath.Device, t nbdTLS, log *slog.Logger) (*attachment, error) {
	a := &attachment{dev: dev, log: log, srv: &nbd.Server{Backend: dev, ExportName: dev.Name(),
		Description: "gomp " + dev.WWID(), Logger: log, MaxConns: o.nbdMaxConns,
		MaxTotalInFlightBytes: int64(o.nbdMaxMiB) << 20, TLS: t.mode, TLSConfig: t.cfg},
		served: &g.served}
	g.served.add(dev)
	if err := a.export(ctx, o); err != nil {
		a.stop()
		return nil, err
	}
	a.exports.Node = o.node
	cs, err := control.Serve(o.controlDir, dev.Name(), dev, a.exports, log)
	if err != nil {
		a.stop()
		return nil, err
	}
	a.control = cs
	a.followResize()
	return a, nil
}

// serveAttachments runs until ctx ends (SIGINT, SIGTERM: every device is
// detached) or each device was detached ("gomp detach NAME"), and
// returns the errors of the detaches. Devices a rescan attaches later
// (lunSet) are served alike. stopping, when not nil, is called once,
// before the detaching that ends the process starts: on the signal or
// the detach of the last device.
func serveAttachments(ctx context.Context, log *slog.Logger, atts []*attachment, stopping func()) error {
	var (
		wg   sync.WaitGroup
		once sync.Once
		mu   sync.Mutex // guards the following
		left int
		done bool
		errs []error
	)
	watch := func(a *attachment) {
		defer wg.Done()
		select {
		case <-ctx.Done():
			log.Info("signal received, detaching", "device", a.dev.Name())
		case <-a.control.Detached():
			log.Info("detach requested", "device", a.dev.Name())
		}
		mu.Lock()
		left--
		last := left == 0 || ctx.Err() != nil
		done = done || last
		mu.Unlock()
		if last && stopping != nil {
			once.Do(stopping)
		}
		err := a.stop()
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	serve := func(a *attachment) bool {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return false
		}
		left++
		wg.Add(1)
		go watch(a)
		return true
	}
	for _, a := range atts {
		serve(a)
	}
	rctx, cancel := context.WithCancel(ctx)
	var rescans sync.WaitGroup
	for _, set := range uniqueSets(atts) {
		rescans.Go(func() { set.run(rctx, serve) })
	}
	wg.Wait()
	cancel()
	rescans.Wait()
	return errors.Join(errs...)
}

// uniqueSets returns the lunSets of atts, once each.
func uniqueSets(atts []*attachment) []*lunSet {
	var sets []*lunSet
	for _, a := range atts {
		if a.set != nil && !slices.Contains(sets, a.set) {
			sets = append(sets, a.set)
		}
	}
	return sets
}
