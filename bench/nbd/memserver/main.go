package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomp-dev/gomp/nbd"
)

func main() {
	socket := flag.String("socket", "", "unix socket path to listen on (required)")
	size := flag.String("size", "1G", "export size (bytes, or with K, M, G suffix)")
	verbose := flag.Bool("v", false, "log connections")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "memserver:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(*socket, *size, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "memserver:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(socket, sizeArg string, verbose bool) error {
	if socket == "" {
		return fmt.Errorf("-socket is required")
	}
	size, err := parseSize(sizeArg)
	if err != nil {
		return err
	}
	os.Remove(socket)
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	defer os.Remove(socket)
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	srv := &nbd.Server{
		Backend:     nbd.NewMemory(size),
		Description: "gomp memserver",
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	if err := srv.Serve(context.Background(), ln); err != nil && err != nbd.ErrServerClosed {
		return err
	}
	return nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult = 1 << 10
	case strings.HasSuffix(s, "M"):
		mult = 1 << 20
	case strings.HasSuffix(s, "G"):
		mult = 1 << 30
	}
	n, err := strconv.ParseInt(strings.TrimRight(s, "KMG"), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
