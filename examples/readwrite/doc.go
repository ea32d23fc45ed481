// Readwrite opens one LUN as an io.ReaderAt and io.WriterAt, writes random
// data at an offset, and reads it back through an io.SectionReader to show
// that a LUN composes with the standard library.
//
// Against the project's lab (make lab-up; the defaults are the lab's). It
// overwrites -length bytes at -offset of the LUN, both multiples of the
// block size (else iscsi.ErrUnaligned):
//
//	go run ./examples/readwrite
//	go run ./examples/readwrite -portal 127.0.0.2:3260 -offset 629145600 -length 4194304
//
// The data is drawn anew at every run, so what an earlier run left cannot
// pass the check.
//
// It uses package iscsi's LUN as io.ReaderAt and io.WriterAt (READ(16)
// and WRITE(16), SBC-3 §5.15 and §5.34, over RFC 7143) and LUN.Flush
// (SYNCHRONIZE CACHE). Not implemented: multipath and CHAP credentials.
package main
