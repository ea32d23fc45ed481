// Command gomp is an iSCSI initiator with built-in multipath, exported
// through NBD: for one host, it does the work of open-iscsi's iscsiadm and
// multipath-tools. See "gomp help" and the README.
//
//	gomp discover PORTAL...                 SendTargets discovery
//	gomp ls --target IQN --portal P...      log in and list the disk LUNs
//	gomp attach --target IQN --portal P...  build the multipath device, export it
//	gomp status [--json] [NAME]             devices and paths, like multipath -ll
//	gomp path fail|reinstate NAME PORTAL    fail or reinstate a path by hand
//	gomp detach NAME|/dev/nbdX              stop a running attach
//	gomp version
//
// The protocols live in the library packages, whose documentation lists
// the sections implemented and not implemented: iSCSI (RFC 7143; discovery
// per §4.3 and Appendix C) in package iscsi, multipath and multipath.conf
// in package multipath, NBD (the NBD project's doc/proto.md) and the Linux
// nbd driver in package nbd. A running attach serves a small HTTP API on
// the Unix socket CONTROL-DIR/NAME.sock (default /run/gomp, mode 0600),
// which status, path and detach call.
//
// Exit codes: 0 success, 1 failure, 2 bad command line. CHAP secrets come
// from files or the GOMP_CHAP_SECRET and GOMP_MUTUAL_SECRET environment
// variables, never from the command line.
//
// Not implemented: an iscsiadm-style node database (targets and portals
// are given on every command line, and attach runs in the foreground),
// a command for the control API's POST /queueing/disable and
// /queueing/restore, and builds for systems other than Linux.
package main
