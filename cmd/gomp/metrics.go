package main

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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/metrics"
	"github.com/gomp-dev/gomp/multipath"
)

// deviceSet is the devices a process serves, for its metrics. Safe for
// concurrent use; the zero value is empty.
type deviceSet struct {
	mu   sync.Mutex // guards devs
	devs []*multipath.Device
}

// Add adds d.
func (s *deviceSet) Add(d *multipath.Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devs = append(s.devs, d)
}

// Remove forgets d; on a nil set it does nothing.
func (s *deviceSet) Remove(d *multipath.Device) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.devs = slices.DeleteFunc(s.devs, func(x *multipath.Device) bool { return x == d })
}

// stats snapshots every device, for the collector.
func (s *deviceSet) stats() []multipath.DeviceStats {
	s.mu.Lock()
	devs := slices.Clone(s.devs)
	s.mu.Unlock()
	out := make([]multipath.DeviceStats, len(devs))
	for i, d := range devs {
		out[i] = d.Stats()
	}
	return out
}

// checkMetricsListen validates --metrics-listen: empty (off), unix:PATH
// or tcp:HOST:PORT.
func checkMetricsListen(spec string) error {
	if spec == "" || strings.HasPrefix(spec, "unix:") || strings.HasPrefix(spec, "tcp:") {
		return nil
	}
	return usagef("--metrics-listen %q: want tcp:HOST:PORT or unix:PATH", spec)
}

// metricsServer serves /metrics for --metrics-listen.
type metricsServer struct {
	srv  *http.Server
	ln   net.Listener
	path string // unix socket to remove at close
}

// startMetrics serves the Prometheus metrics of devs (and of the Go
// runtime and the process) on spec, tcp:HOST:PORT or unix:PATH (mode
// 0600). An empty spec serves nothing and returns nil.
func startMetrics(spec string, devs *deviceSet, log *slog.Logger) (*metricsServer, error) {
	if spec == "" {
		return nil, nil
	}
	if err := checkMetricsListen(spec); err != nil {
		return nil, err
	}
	ms := &metricsServer{}
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
	reg.MustRegister(metrics.New(devs.stats), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ms.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = ms.srv.Serve(ms.ln) }()
	log.Info("serving metrics", "listen", spec, "addr", ms.ln.Addr().String())
	return ms, nil
}

// addr returns the address the server listens on.
func (ms *metricsServer) addr() net.Addr { return ms.ln.Addr() }

// close stops the server (waiting up to 2 s for scrapes under way) and
// removes its socket. A nil server does nothing.
func (ms *metricsServer) close() {
	if ms == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = ms.srv.Shutdown(ctx) // closing a unix listener removes its socket
}
