package nbd_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gomp-dev/gomp/nbd"
)

// Serve a 1 GiB in-memory disk on a unix socket; clients connect to
// nbd+unix:///?socket=PATH. Shutdown answers what is in flight, then closes.
func ExampleServer_Serve() {
	dir, err := os.MkdirTemp("", "nbd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("unix", filepath.Join(dir, "disk.sock"))
	if err != nil {
		log.Fatal(err)
	}
	srv := &nbd.Server{
		Backend:     nbd.NewMemory(1 << 30),
		Description: "scratch disk",
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()

	// ... serve until asked to stop, then:
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Print(err)
	}
	fmt.Println(<-done)
	// Output: nbd: server closed
}

// A Backend reports errors with the errno to send: wrap one of the Err*
// values, or return an *Error.
func ExampleErrnoOf() {
	err := &nbd.Error{Errno: nbd.ErrnoNoSpace, Err: os.ErrInvalid}
	fmt.Println(nbd.ErrnoOf(err), nbd.ErrnoOf(context.Canceled))
	// Output: ENOSPC ESHUTDOWN
}
