package main

import (
	"log/slog"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/metrics"
)

// startMetrics serves --metrics-listen (metrics.Serve): tcp:HOST:PORT or
// unix:PATH; empty serves nothing; anything else is a usage error.
func startMetrics(spec string, devs *metrics.Devices, log *slog.Logger) (*metrics.Server, error) {
	if spec != "" && !metrics.ValidListen(spec) {
		return nil, usagef("--metrics-listen %q: want tcp:HOST:PORT or unix:PATH", spec)
	}
	return metrics.Serve(spec, devs, log)
}
