package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/nbd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nbd-serve:", err)
		os.Exit(1)
	}
}

// run opens the device and serves it until ctx ends, then closes it. It
// prints the export's URI on stdout once clients can connect.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("nbd-serve", flag.ContinueOnError)
	target := fs.String("target", "iqn.2026-11.dev.gomp:lab", "target IQN")
	portals := fs.String("portals", "127.0.0.1:3260,127.0.0.2:3260", "comma-separated portals, one per path")
	lun := fs.Uint("lun", 1, "logical unit number, 0 to 65535")
	socket := fs.String("socket", filepath.Join(os.TempDir(), "gomp-nbd.sock"), "unix socket to serve on")
	name := fs.String("name", "", "NBD export name")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *lun > 0xffff {
		return fmt.Errorf("-lun %d is not a LUN number", *lun)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	d, err := multipath.Open(ctx, multipath.Config{Target: *target, Portals: strings.Split(*portals, ","),
		LUN: uint16(*lun), Logger: log})
	if err != nil {
		return err
	}
	srv := &nbd.Server{Backend: d, ExportName: *name, Description: "gomp " + d.Name(), Logger: log}
	ln, err := net.Listen("unix", *socket) // removed when closed
	if err == nil {
		fmt.Fprintf(stdout, "serving %s (%d bytes) at nbd+unix:///%s?socket=%s\n", d.Name(), d.Size(), *name, *socket)
		err = serve(ctx, srv, ln)
	}
	// Close flushes the LUN's cache and logs out of every path.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(err, d.Close(cctx))
}

// serve runs srv on ln until ctx ends, then shuts it down: the requests
// in flight are answered.
func serve(ctx context.Context, srv *nbd.Server, ln net.Listener) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.WithoutCancel(ctx), ln) }()
	select {
	case err := <-served: // the listener failed
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-served // nbd.ErrServerClosed
	return err
}
