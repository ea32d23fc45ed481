package main

import (
	"io"

	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/nbd"
)

// A *multipath.Device is served as an nbd.Backend with every optional
// interface the NBD server looks for, and is an io.ReaderAt and
// io.WriterAt as an iscsi.LUN is; multipath does not import nbd, so a
// method renamed on either side breaks this build rather than silently
// dropping a transmission flag.
var _ interface {
	io.ReaderAt
	io.WriterAt
	nbd.Backend
	nbd.Capable
	nbd.Flusher
	nbd.Trimmer
	nbd.Zeroer
	nbd.BlockSizer
} = (*multipath.Device)(nil)
