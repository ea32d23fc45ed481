package chaostest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/nbd"
)

// Stack is what gomp attach --listen unix:PATH runs, in process: a
// multipath Device over the paths, served by an nbd.Server on a unix
// socket.
type Stack struct {
	Dev    *multipath.Device
	Srv    *nbd.Server
	Socket string
	Paths  []Path

	dir    string
	serve  chan error
	events [16]atomic.Int64 // by multipath.EventKind
}

// StackConfig says what to open.
type StackConfig struct {
	Target   string
	LUN      uint16
	Paths    []Path
	Settings multipath.Settings
	Logger   *slog.Logger
}

// OpenStack opens the device (each path's sessions bound to its Source)
// and starts serving it.
func OpenStack(ctx context.Context, cfg StackConfig) (*Stack, error) {
	src := map[string]string{}
	var portals []string
	for _, p := range cfg.Paths {
		portals = append(portals, p.Portal)
		src[p.Portal] = p.Source
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{}
		if s, ok := src[addr]; ok {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(s)}
		}
		return d.DialContext(ctx, network, addr)
	}
	s := &Stack{Paths: cfg.Paths, serve: make(chan error, 1)}
	dev, err := multipath.Open(ctx, multipath.Config{Target: cfg.Target, LUN: cfg.LUN, Portals: portals,
		Dial: dial, LoginTimeout: time.Second, ReconnectBackoff: time.Second,
		Settings: cfg.Settings, Logger: cfg.Logger, OnEvent: s.count})
	if err != nil {
		return nil, err
	}
	s.Dev = dev
	dir, err := os.MkdirTemp("", "chaos") // short: sun_path holds 108 bytes
	if err != nil {
		dev.Close(ctx)
		return nil, err
	}
	s.dir, s.Socket = dir, filepath.Join(dir, "nbd.sock")
	s.Srv = &nbd.Server{Backend: dev, ExportName: dev.Name(), Description: "gomp chaos " + dev.WWID(), Logger: cfg.Logger}
	ln, err := net.Listen("unix", s.Socket)
	if err != nil {
		dev.Close(ctx)
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { s.serve <- s.Srv.Serve(context.Background(), ln) }()
	return s, nil
}

func (s *Stack) count(e multipath.Event) {
	if int(e.Kind) < len(s.events) {
		s.events[e.Kind].Add(1)
	}
}

// Events returns how many events of kind the device has reported.
func (s *Stack) Events(kind multipath.EventKind) int64 {
	if int(kind) < len(s.events) {
		return s.events[kind].Load()
	}
	return 0
}

// Dial opens an NBD client on the stack's socket.
func (s *Stack) Dial(ctx context.Context) (*Client, error) {
	return Dial(ctx, s.Socket, s.Dev.Name())
}

// Close stops as gomp attach does: drain the NBD server, then close the
// device (flush, log out). Every step's error is returned.
func (s *Stack) Close(ctx context.Context) error {
	var errs []error
	if err := s.Srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("nbd shutdown: %w", err))
	}
	select {
	case err := <-s.serve:
		if !errors.Is(err, nbd.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("nbd serve: %w", err))
		}
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("nbd serve did not return: %w", ctx.Err()))
	}
	if err := s.Dev.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("device close: %w", err))
	}
	os.RemoveAll(s.dir)
	return errors.Join(errs...)
}

// PathState returns the dm state ("active" or "failed") of the path to
// portal.
func (s *Stack) PathState(portal string) string {
	for _, g := range s.Dev.Status().Groups {
		for _, p := range g.Paths {
			if p.Portal == portal {
				return p.DMState
			}
		}
	}
	return ""
}

// ActivePaths counts the paths in use.
func (s *Stack) ActivePaths() int {
	n := 0
	for _, p := range s.Paths {
		if s.PathState(p.Portal) == "active" {
			n++
		}
	}
	return n
}
