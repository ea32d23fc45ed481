package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/gomp-dev/gomp/iscsi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "readwrite:", err)
		os.Exit(1)
	}
}

// run writes random data at -offset of the LUN, flushes, reads it back
// through an io.SectionReader and compares, reporting on stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("readwrite", flag.ContinueOnError)
	portal := fs.String("portal", "127.0.0.1:3260", "target portal, host[:port]")
	target := fs.String("target", "iqn.2026-11.dev.gomp:lab", "target IQN")
	lunNum := fs.Uint("lun", 1, "logical unit number, 0 to 65535")
	off := fs.Int64("offset", 600<<20, "where to write, in bytes: a multiple of the block size")
	n := fs.Uint("length", 1<<20, "how many bytes to write: a multiple of the block size")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *lunNum > 0xffff {
		return fmt.Errorf("-lun %d is not a LUN number", *lunNum)
	}
	s, err := iscsi.Dial(ctx, iscsi.Config{Portal: *portal, TargetName: *target})
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	lun, err := s.OpenLUN(ctx, uint16(*lunNum))
	if err != nil {
		return err
	}

	// Random data, new at every run: what an earlier run left cannot pass
	// the check. An unaligned range fails with iscsi.ErrUnaligned.
	want := make([]byte, *n)
	rand.Read(want)
	var w io.WriterAt = lun
	if _, err := w.WriteAt(want, *off); err != nil {
		return err
	}
	if err := lun.Flush(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d bytes at offset %d of LUN %d\n", *n, *off, *lunNum)

	got := make([]byte, *n)
	if _, err := io.ReadFull(io.NewSectionReader(lun, *off, int64(*n)), got); err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errors.New("the data read back is not the data written")
	}
	fmt.Fprintf(stdout, "read back %d bytes through io.SectionReader: the data written\n", len(got))
	return nil
}
