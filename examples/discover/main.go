package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage): // flag has printed the error and the usage
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "discover:", err)
		os.Exit(1)
	}
}

// errUsage marks bad command-line arguments.
var errUsage = errors.New("usage")

// run discovers the targets at -portal and lists their LUNs on stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("discover", flag.ContinueOnError)
	portal := fs.String("portal", "127.0.0.1:3260", "discovery portal, host[:port]")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit for the whole listing")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

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

// listLUNs logs in to t through the first of its portals that answers and
// prints one line per LUN.
func listLUNs(ctx context.Context, w io.Writer, t iscsi.DiscoveredTarget) error {
	s, err := dial(ctx, t)
	if err != nil {
		return err
	}
	defer closeSession(ctx, s)
	luns, err := s.ReportLUNs(ctx)
	if err != nil {
		return fmt.Errorf("REPORT LUNS via %s: %w", s.Portal(), err)
	}
	for _, lun := range luns {
		info, err := s.Inquire(ctx, lun)
		if err != nil {
			return err
		}
		printLUN(w, info)
	}
	return nil
}

// dial tries the target's portals in the order discovery listed them.
func dial(ctx context.Context, t iscsi.DiscoveredTarget) (*iscsi.Session, error) {
	var errs []error
	for _, p := range t.Portals {
		s, err := iscsi.Dial(ctx, iscsi.Config{Portal: p.Addr, TargetName: t.Name})
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("target %s has no portal", t.Name)
	}
	return nil, errors.Join(errs...)
}

// closeSession logs out, even when ctx has ended, within a few seconds.
func closeSession(ctx context.Context, s *iscsi.Session) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx) // nothing was written: a failed logout loses nothing
}

func printLUN(w io.Writer, i *iscsi.LUNInfo) {
	wwid := i.WWID
	if wwid == "" {
		wwid = "-"
	}
	fmt.Fprintf(w, "  LUN %d  %s  vendor %q  product %q  wwid %s", i.LUN, i.DeviceType, i.Vendor, i.Product, wwid)
	if i.IsDisk() {
		fmt.Fprintf(w, "  size %d bytes (%d blocks of %d)", i.Size(), i.Blocks, i.BlockSize)
	}
	fmt.Fprintln(w)
}
