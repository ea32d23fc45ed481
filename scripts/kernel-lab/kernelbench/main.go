//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gomp-dev/gomp/nbd"
	"github.com/gomp-dev/gomp/nbd/kernel"
)

func main() {
	size := flag.Int64("size", 256<<20, "export size in bytes")
	conns := flag.Int("conns", 2, "connections (kernel hardware queues)")
	flag.Parse()
	if err := run(*size, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "kernelbench:", err)
		os.Exit(1)
	}
}

func run(size int64, conns int) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	attachCtx, cancel := context.WithTimeout(ctx, time.Minute)
	d, err := kernel.Attach(attachCtx, &nbd.Server{Logger: log}, nbd.NewMemory(size), kernel.AttachConfig{
		Index: -1, Connections: conns, Logger: log})
	cancel()
	if err != nil {
		return err
	}
	fmt.Println("ready: mem", d.Path())
	select {
	case <-ctx.Done():
	case <-d.Done():
		return fmt.Errorf("%s: connections ended: %v", d.Path(), d.Wait())
	}
	dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return d.Disconnect(dctx)
}
