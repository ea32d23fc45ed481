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

	"github.com/gomp-dev/gomp/internal/chaostest"
	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/multipath"
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

// The main flow: a *multipath.Device is a Backend, so the LUN that
// multipath.Open assembles from its paths is served as it is. Here the
// two paths reach an in-process fake target (as in package multipath's
// Example) and the client is the small one of gomp's chaos test; any NBD
// client can connect instead: nbdinfo, qemu-img, the kernel (gomp attach).
func ExampleServer_multipath() {
	ctx := context.Background()
	tg := iscsitest.New(iscsitest.Config{
		Name: "iqn.2026-11.dev.gomp:example",
		LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(2048, 512)}, // 1 MiB
	})
	defer tg.Close()
	d, err := multipath.Open(ctx, multipath.Config{
		Target:  "iqn.2026-11.dev.gomp:example",
		Portals: []string{"192.0.2.10:3260", "192.0.2.11:3260"},
		LUN:     1,
		Dial:    tg.Dial, // both portals reach tg, in process
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close(ctx) // after Shutdown: flushes the LUN and logs out

	dir, err := os.MkdirTemp("", "nbd-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "lun.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		log.Fatal(err)
	}
	srv := &nbd.Server{Backend: d, Description: "gomp " + d.Name()}
	go srv.Serve(ctx, ln)
	defer srv.Shutdown(ctx)

	c, err := chaostest.Dial(ctx, sock, "") // nbd+unix:///?socket=SOCK
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	block := make([]byte, 4096)
	copy(block, "hello, NBD")
	if err := c.WriteAt(ctx, block, 8192, true); err != nil {
		log.Fatal(err)
	}
	got := make([]byte, len(block))
	if err := c.ReadAt(ctx, got, 8192); err != nil {
		log.Fatal(err)
	}
	onLUN := make([]byte, len(block)) // what the target stores
	if _, err := tg.LUN(1).ReadAt(onLUN, 8192); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Size())
	fmt.Printf("%s, %s\n", got[:10], onLUN[:10])
	// Output:
	// 1048576
	// hello, NBD, hello, NBD
}
