package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/gomp-dev/gomp/iscsi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "discover:", err)
		os.Exit(1)
	}
}

// run discovers the targets at -portal and lists their LUNs on stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	portal := fs.String("portal", "127.0.0.1:3260", "discovery portal, host[:port]")
	if err := fs.Parse(args); err != nil {
		return err
	}
	targets, err := iscsi.Discover(ctx, iscsi.Config{Portal: *portal})
	if err != nil {
		return err
	}
	for _, t := range targets {
		fmt.Fprintf(stdout, "target %s\n", t.Name)
		for _, p := range t.Portals {
			fmt.Fprintf(stdout, "  portal %s,%d\n", p.Addr, p.TPGT)
		}
		if err := listLUNs(ctx, stdout, t); err != nil {
			if ctx.Err() != nil {
				return err
			}
			fmt.Fprintf(stdout, "  error: %v\n", err) // e.g. CHAP required: go on with the next target
		}
	}
	return nil
}

// listLUNs logs in to t through its first portal and prints every LUN it
// reports, disk or not (Session.DiskLUNs would keep the disks only).
func listLUNs(ctx context.Context, w io.Writer, t iscsi.DiscoveredTarget) error {
	s, err := iscsi.Dial(ctx, iscsi.Config{Portal: t.Portals[0].Addr, TargetName: t.Name})
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	luns, err := s.ReportLUNs(ctx)
	if err != nil {
		return err
	}
	for _, lun := range luns {
		i, err := s.Inquire(ctx, lun)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  LUN %d  %s  vendor %q  product %q  wwid %s", i.LUN, i.DeviceType, i.Vendor, i.Product, cmp.Or(i.WWID, "-"))
		if i.IsDisk() {
			fmt.Fprintf(w, "  size %d bytes (%d blocks of %d)", i.Size(), i.Blocks, i.BlockSize)
		}
		fmt.Fprintln(w)
	}
	return nil
}
