package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/multipath"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "multipath-status:", err)
		os.Exit(1)
	}
}

// run opens the device and prints its status on stdout, again after each
// event, until ctx ends; then it closes the device and returns nil.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("multipath-status", flag.ContinueOnError)
	target := fs.String("target", "iqn.2026-11.dev.gomp:lab", "target IQN")
	portals := fs.String("portals", "127.0.0.1:3260,127.0.0.2:3260", "comma-separated portals, one per path")
	lun := fs.Uint("lun", 1, "logical unit number, 0 to 65535")
	polling := fs.Duration("polling", 2*time.Second, "path checker interval (multipath.conf polling_interval)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *lun > 0xffff {
		return fmt.Errorf("-lun %d is not a LUN number", *lun)
	}
	// OnEvent must return quickly: it hands events over to this goroutine.
	// A burst beyond the buffer loses event lines, not the status after them.
	events := make(chan multipath.Event, 64)
	d, err := multipath.Open(ctx, multipath.Config{
		Target: *target, Portals: strings.Split(*portals, ","), LUN: uint16(*lun),
		Settings: multipath.Settings{PollingInterval: *polling},
		OnEvent: func(e multipath.Event) {
			select {
			case events <- e:
			default:
			}
		},
	})
	if err != nil {
		return err
	}
	printStatus(stdout, nil, d.Status())
	for {
		select {
		case e := <-events:
			printStatus(stdout, &e, d.Status())
		case <-ctx.Done():
			return closeDevice(ctx, stdout, d, events)
		}
	}
}

// closeDevice closes d and prints the events its closing caused: every
// event is delivered before Close returns.
func closeDevice(ctx context.Context, stdout io.Writer, d *multipath.Device, events <-chan multipath.Event) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := d.Close(ctx)
	for {
		select {
		case e := <-events:
			printStatus(stdout, &e, multipath.Status{})
		default:
			return err
		}
	}
}

// printStatus writes the event, if any, and then the status, if it has
// any group, in one Write, in the spirit of "multipath -ll":
//
//	10:41:07 event path failed 127.0.0.2:3260 (faulty): I/O error: …
//	360000000000000000e00000000010001 IET,VIRTUAL-DISK size=1073741824 selector='service-time 0' queueing=yes
//	group 0 prio=1 status=active
//	  127.0.0.1:3260 active ready completed=12 errors=0
//	  127.0.0.2:3260 failed faulty completed=3 errors=1
func printStatus(w io.Writer, e *multipath.Event, s multipath.Status) {
	var b bytes.Buffer
	if e != nil {
		fmt.Fprintf(&b, "%s event %s", e.Time.Format(time.TimeOnly), e.Kind)
		if e.Portal != "" {
			fmt.Fprintf(&b, " %s (%s)", e.Portal, e.State)
		}
		if e.Msg != "" {
			fmt.Fprintf(&b, ": %s", e.Msg)
		}
		if e.Err != nil {
			fmt.Fprintf(&b, ": %v", e.Err)
		}
		b.WriteByte('\n')
	}
	if len(s.Groups) > 0 {
		fmt.Fprintf(&b, "%s %s,%s size=%d selector='%s' queueing=%s\n", s.Name, s.Vendor, s.Product, s.Size,
			s.Selector, yesNo(s.Queueing))
		for i, g := range s.Groups {
			fmt.Fprintf(&b, "group %d prio=%d status=%s\n", i, g.Priority, g.State)
			for _, p := range g.Paths {
				fmt.Fprintf(&b, "  %s %s %s completed=%d errors=%d\n", p.Portal, p.State, p.Checker, p.Completed, p.Errors)
			}
		}
	}
	w.Write(b.Bytes())
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}
