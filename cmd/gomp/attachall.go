package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/attach"

	"github.com/gomp-dev/gomp/multipath"
)

// startAttachments logs in (once per portal: the devices share their
// sessions through g.sessions), builds the device of each LUN asked
// (--lun, else every disk LUN the target maps to this host, one device
// per WWID), exports each and opens its control socket. A LUN that cannot
// be attached is logged and does not stop the others; it fails only when
// none is attached. added is told of the devices a rescan attaches later.
func startAttachments(ctx context.Context, g *globalOpts, o *attachOpts, added func(*attach.Attachment)) ([]*attach.Attachment, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	log := g.logger()
	eo, err := o.exportOptions(g, log)
	if err != nil {
		return nil, err
	}
	eo.OnAttach = added
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
	creds := attach.NewRelease(func() { clearCHAP(cfg.CHAP) })
	var atts []*attach.Attachment
	for i, dev := range devs {
		a, err := attach.Export(ctx, eo, dev, creds)
		if err != nil {
			for _, a := range atts {
				a.Stop()
			}
			for _, d := range devs[i+1:] {
				_ = d.Close(ctx)
			}
			clearCHAP(cfg.CHAP)
			return nil, err
		}
		atts = append(atts, a)
	}
	if len(o.luns) != 1 { // a target attached LUN by LUN is rescanned; --lun N is one device
		g.lunSets.Add(attach.NewSet(cfg, eo, o.luns, o.checkExports, atts))
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
