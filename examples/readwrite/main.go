package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage): // flag has printed the error and the usage
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "readwrite:", err)
		os.Exit(1)
	}
}

// errUsage marks bad command-line arguments.
var errUsage = errors.New("usage")

// options are the command line.
type options struct {
	portal, target string
	lun            uint
	offset, length byteSize
}

func parseFlags(args []string) (*options, error) {
	o := &options{offset: 600 << 20, length: 1 << 20}
	fs := flag.NewFlagSet("readwrite", flag.ContinueOnError)
	fs.StringVar(&o.portal, "portal", "127.0.0.1:3260", "target portal, host[:port]")
	fs.StringVar(&o.target, "target", "iqn.2026-11.dev.gomp:lab", "target IQN")
	fs.UintVar(&o.lun, "lun", 1, "logical unit number")
	fs.Var(&o.offset, "offset", "where to write, in bytes (suffixes KiB, MiB, GiB); a multiple of the block size")
	fs.Var(&o.length, "length", "how much to write (suffixes KiB, MiB, GiB); a multiple of the block size")
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() != 0 || o.lun > 0xffff || o.length == 0 {
		fs.Usage()
		return nil, fmt.Errorf("%w: bad arguments", errUsage)
	}
	return o, nil
}

// run writes the pattern, reads it back and compares, reporting on stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	s, err := iscsi.Dial(ctx, iscsi.Config{Portal: o.portal, TargetName: o.target})
	if err != nil {
		return err
	}
	defer closeSession(ctx, s)
	lun, err := s.OpenLUN(ctx, uint16(o.lun))
	if err != nil {
		return err
	}
	off, n, bs := int64(o.offset), int64(o.length), int64(lun.Info().BlockSize)
	if off%bs != 0 || n%bs != 0 || off+n > lun.Size() {
		return fmt.Errorf("[%d, %d) is not whole %d-byte blocks inside the LUN's %d bytes", off, off+n, bs, lun.Size())
	}
	pattern := makePattern(off, n, bs, rand.Uint64())
	if err := write(ctx, lun, pattern, off); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d bytes at offset %d of LUN %d (%d blocks of %d bytes)\n", n, off, o.lun, n/bs, bs)
	return verify(stdout, lun, pattern, off, bs)
}

// write stores p at off through the LUN's io.WriterAt, then flushes the
// target's cache.
func write(ctx context.Context, lun *iscsi.LUN, p []byte, off int64) error {
	var w io.WriterAt = lun
	if _, err := w.WriteAt(p, off); err != nil {
		return err
	}
	return lun.Flush(ctx)
}

// verify reads [off, off+len(want)) back through an io.SectionReader and
// compares it with want.
func verify(stdout io.Writer, lun *iscsi.LUN, want []byte, off, bs int64) error {
	var r io.ReaderAt = lun
	section := io.NewSectionReader(r, off, int64(len(want)))
	var got bytes.Buffer
	h := sha256.New()
	// A LUN reads whole blocks only, so the copy buffer is a multiple of
	// the block size (and so is the section's length, for the last read).
	buf := make([]byte, 128*bs)
	if _, err := io.CopyBuffer(io.MultiWriter(&got, h), section, buf); err != nil {
		return err
	}
	if i := firstDiff(got.Bytes(), want); i >= 0 {
		at := int64(i) / bs * bs
		return fmt.Errorf("read back differs from what was written in the block at offset %d", off+at)
	}
	fmt.Fprintf(stdout, "read back %d bytes through io.SectionReader: sha256 %x\n", got.Len(), h.Sum(nil))
	fmt.Fprintln(stdout, "verified: the data read back is the data written")
	return nil
}

// makePattern returns n bytes for offset off: each bs-byte block starts
// with its byte offset and stamp (big-endian) and is filled with a byte
// derived from both.
func makePattern(off, n, bs int64, stamp uint64) []byte {
	p := make([]byte, n)
	for b := int64(0); b < n; b += bs {
		blk := p[b : b+bs]
		pos := uint64(off + b)
		binary.BigEndian.PutUint64(blk[0:8], pos)
		binary.BigEndian.PutUint64(blk[8:16], stamp)
		fill := byte(pos/uint64(bs)) ^ byte(stamp)
		for i := 16; i < len(blk); i++ {
			blk[i] = fill
		}
	}
	return p
}

// firstDiff returns the index of the first byte where a and b differ, or
// -1 when they are equal.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// closeSession logs out, even when ctx has ended, within a few seconds.
func closeSession(ctx context.Context, s *iscsi.Session) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx) // the data was flushed already
}

// byteSize is a flag.Value for sizes such as 4096, 64KiB or 960MiB.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	mult := int64(1)
	for i, suffix := range []string{"KiB", "MiB", "GiB"} {
		if num, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = num, 1<<(10*(i+1))
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return fmt.Errorf("want a size such as 4096, 64KiB or 960MiB")
	}
	*b = byteSize(v * mult)
	return nil
}
