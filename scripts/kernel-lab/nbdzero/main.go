package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gomp-dev/gomp/internal/chaostest"
)

func main() {
	socket := flag.String("socket", "", "NBD unix socket")
	export := flag.String("export", "", "export name")
	off := flag.Int64("offset", 0, "byte offset")
	length := flag.Uint("length", 1<<20, "bytes to zero (at most 4 GiB - 1)")
	noHole := flag.Bool("no-hole", false, "NBD_CMD_FLAG_NO_HOLE: keep the range allocated")
	flag.Parse()
	if err := run(*socket, *export, *off, uint32(*length), *noHole); err != nil {
		fmt.Fprintln(os.Stderr, "nbdzero:", err)
		os.Exit(1)
	}
}

func run(socket, export string, off int64, n uint32, noHole bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := chaostest.Dial(ctx, socket, export)
	if err != nil {
		return err
	}
	defer c.Close()
	t0 := time.Now()
	if err := c.WriteZeroes(ctx, off, n, noHole); err != nil {
		return err
	}
	took := time.Since(t0)
	buf := make([]byte, n)
	if err := c.ReadAt(ctx, buf, off); err != nil {
		return err
	}
	if i := bytes.IndexFunc(buf, func(r rune) bool { return r != 0 }); i >= 0 {
		return fmt.Errorf("WRITE_ZEROES at %d+%d: byte %d reads back non-zero", off, n, off+int64(i))
	}
	fmt.Printf("nbdzero: WRITE_ZEROES at %d+%d (no-hole %v) in %v; reads back as zeroes\n", off, n, noHole, took.Round(time.Millisecond))
	return nil
}
