// Nbd-serve builds a multipath device over the paths to one LUN and
// exports it over NBD on a unix socket until Ctrl-C. Any NBD client can
// then use the LUN: qemu-img, nbdcopy, nbdfuse, or the kernel through
// nbd-client.
//
// Against the project's lab (make lab-up; the defaults are the lab's):
//
//	go run ./examples/nbd-serve -socket /tmp/gomp.sock
//	nbdinfo 'nbd+unix:///?socket=/tmp/gomp.sock'   # from another shell
//
// Ctrl-C stops accepting clients, answers the requests in flight, then
// flushes the LUN's cache and logs out of every path. Path and connection
// events are logged on stderr. The socket is removed on exit; one left by
// a killed run must be removed by hand.
//
// It joins package multipath (the device) and package nbd (the NBD
// project's doc/proto.md, as that package documents it). Not implemented:
// TCP listeners, attaching to the kernel's nbd driver (see gomp attach)
// and reading multipath.conf.
package main
