// Readwrite opens one LUN as an io.ReaderAt and io.WriterAt, writes a block
// pattern at an offset, and reads it back through an io.SectionReader to
// show that a LUN composes with the standard library.
//
// Against the project's lab (make lab-up; the defaults are the lab's). It
// overwrites -length bytes at -offset of the LUN:
//
//	go run ./examples/readwrite
//	go run ./examples/readwrite -portal 127.0.0.2:3260 -offset 600MiB -length 4MiB
//
// Every block of the pattern carries its byte offset and a random stamp
// drawn for this run, so data left by an earlier run cannot pass the check.
//
// It uses package iscsi's LUN as io.ReaderAt and io.WriterAt (READ(16)
// and WRITE(16), SBC-3 §5.15 and §5.34, over RFC 7143). Not implemented:
// multipath, CHAP credentials, and checks of anything but the pattern
// written by this run.
package main
