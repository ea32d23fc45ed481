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
	"syscall"
	"time"

	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/nbd"
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
		fmt.Fprintln(os.Stderr, "nbd-serve:", err)
		os.Exit(1)
	}
}

// errUsage marks bad command-line arguments.
var errUsage = errors.New("usage")

// options are the command line.
type options struct {
	mp           multipath.Config
	socket, name string
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("nbd-serve", flag.ContinueOnError)
	target := fs.String("target", "iqn.2026-11.dev.gomp:lab", "target IQN")
	portals := fs.String("portals", "127.0.0.1:3260,127.0.0.2:3260", "comma-separated portals, one per path")
	lun := fs.Uint("lun", 1, "logical unit number")
	socket := fs.String("socket", filepath.Join(os.TempDir(), "gomp-nbd.sock"), "unix socket to serve on")
	name := fs.String("name", "", "NBD export name")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() != 0 || *lun > 0xffff || *portals == "" {
		fs.Usage()
		return nil, fmt.Errorf("%w: bad arguments", errUsage)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	mp := multipath.Config{Target: *target, Portals: strings.Split(*portals, ","), LUN: uint16(*lun), Logger: log}
	return &options{mp: mp, socket: *socket, name: *name}, nil
}

// run serves the device until ctx ends, then shuts down and returns nil.
// It prints the export's URI on stdout once clients can connect.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	d, err := multipath.Open(ctx, o.mp)
	if err != nil {
		return err
	}
	defer closeDevice(ctx, d)
	ln, err := listen(o.socket)
	if err != nil {
		return err
	}
	srv := &nbd.Server{Backend: d, ExportName: o.name, Description: "gomp " + d.Name(), Logger: o.mp.Logger}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.WithoutCancel(ctx), ln) }()
	fmt.Fprintf(stdout, "serving %s (%d bytes) at nbd+unix:///%s?socket=%s\n", d.Name(), d.Size(), o.name, o.socket)

	select {
	case err := <-served: // the listener failed
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, nbd.ErrServerClosed) {
		return err
	}
	return nil
}

// listen listens on the unix socket path, replacing a stale socket that
// an earlier run killed without closing left behind. The listener removes
// the socket when it is closed.
func listen(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if !errors.Is(err, syscall.EADDRINUSE) {
		return ln, err
	}
	if c, derr := net.Dial("unix", path); derr == nil {
		c.Close()
		return nil, err // someone is serving there
	}
	if rerr := os.Remove(path); rerr != nil {
		return nil, rerr
	}
	return net.Listen("unix", path)
}

// closeDevice flushes the LUN and logs out, even when ctx has ended.
func closeDevice(ctx context.Context, d *multipath.Device) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "nbd-serve: close:", err)
	}
}
