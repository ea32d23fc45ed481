package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/unixsock"
	"github.com/gomp-dev/gomp/multipath"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Devices is the devices a process serves, for its metrics. Safe for
// concurrent use; the zero value is empty.
type Devices struct {
	mu   sync.Mutex // guards devs
	devs []*multipath.Device
}

// Add adds d.
func (s *Devices) Add(d *multipath.Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devs = append(s.devs, d)
}

// Remove forgets d; on a nil set it does nothing.
func (s *Devices) Remove(d *multipath.Device) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devs = slices.DeleteFunc(s.devs, func(x *multipath.Device) bool { return x == d })
}

// stats snapshots every device, for the collector.
func (s *Devices) stats() []multipath.DeviceStats {
	s.mu.Lock()
	devs := slices.Clone(s.devs)
	s.mu.Unlock()
	out := make([]multipath.DeviceStats, len(devs))
	for i, d := range devs {
		out[i] = d.Stats()
	}
	return out
}

// Server serves /metrics.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	path string // unix socket to remove at close
}

// ValidListen reports whether spec is a listen address Serve takes:
// tcp:HOST:PORT or unix:PATH.
func ValidListen(spec string) bool {
	return strings.HasPrefix(spec, "unix:") || strings.HasPrefix(spec, "tcp:")
}

// Serve serves the Prometheus metrics of devs (and of the Go
// runtime and the process) on spec, tcp:HOST:PORT or unix:PATH (mode
// 0600). An empty spec serves nothing and returns nil.
func Serve(spec string, devs *Devices, log *slog.Logger) (*Server, error) {
	if spec == "" {
		return nil, nil
	}
	if !ValidListen(spec) {
		return nil, fmt.Errorf("metrics: listen %q: want tcp:HOST:PORT or unix:PATH", spec)
	}
	ms := &Server{}
	var err error
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		ms.ln, err = unixsock.Listen(path, log)
		ms.path = path
	} else {
		ms.ln, err = net.Listen("tcp", strings.TrimPrefix(spec, "tcp:"))
	}
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", spec, err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(New(devs.stats), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ms.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ms.srv.Serve(ms.ln) }()
	log.Info("serving metrics", "listen", spec, "addr", ms.ln.Addr().String())
	return ms, nil
}

// Addr returns the address the server listens on.
func (ms *Server) Addr() net.Addr { return ms.ln.Addr() }

// Close stops the server (waiting up to 2 s for scrapes under way) and
// removes its socket. A nil server does nothing.
func (ms *Server) Close() {
	if ms == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = ms.srv.Shutdown(ctx) // closing a unix listener removes its socket
}
