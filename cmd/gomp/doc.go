// Command gomp is an iSCSI initiator with built-in multipath, exported
// through NBD: for one host, it does the work of open-iscsi's iscsiadm and
// multipath-tools. See "gomp help" and the README.
//
//	gomp discover PORTAL...                   SendTargets discovery
//	gomp ls --target IQN --portal P...        log in and list the disk LUNs
//	gomp attach --target IQN --portal P...    one multipath device per LUN, exported
//	gomp attach --node NAME | --all           attach from node records
//	gomp node add|ls|show|rm                  node records (iscsiadm -m node)
//	gomp status [--json] [--watch] [NAME]     devices and paths, like multipath -ll
//	gomp stats [--json] [NAME]                counters per device, path and session
//	gomp path fail|reinstate NAME PORTAL      fail or reinstate a path by hand
//	gomp group switch NAME N                  multipathd switchgroup
//	gomp queueing disable|restore NAME        multipathd disablequeueing/restorequeueing
//	gomp rescan NAME|--all                    iscsiadm -m session -R: attach new LUNs
//	gomp resize NAME                          multipathd resize map
//	gomp persist --in|--out ...               mpathpersist: persistent reservations
//	gomp config check|show                    read a multipath.conf as attach would
//	gomp detach NAME|NODE|/dev/nbdX           stop a running attach
//	gomp version
//
// attach's session flags replace open-iscsi's node settings: --digest,
// --header-digest and --data-digest (HeaderDigest, DataDigest),
// --nop-interval and --nop-timeout (noop_out_*), --login-timeout,
// --command-timeout (the SCSI command timer) and --replacement-timeout
// (node.session.timeo.replacement_timeout). Every attach flag but --node,
// --all and --state-dir can be saved in a node record.
//
// The protocols live in the library packages, whose documentation lists
// the sections implemented and not implemented: iSCSI (RFC 7143; discovery
// per §4.3 and Appendix C) in package iscsi, multipath and multipath.conf
// in package multipath, NBD (the NBD project's doc/proto.md) and the Linux
// nbd driver in package nbd. A running attach serves a small HTTP API on
// the Unix socket CONTROL-DIR/NAME.sock (default /run/gomp, mode 0600):
// GET /status and /stats, POST /path/fail|reinstate?portal=P,
// /group/switch?index=I (0-based, as active_group in the status),
// /queueing/disable|restore and /detach, which the commands above call.
//
// attach's NBD sockets (--listen) take nbdkit's TLS flags: --tls
// off|on|require, --tls-certificates DIR (server-cert.pem, server-key.pem,
// ca-cert.pem) and --tls-verify-peer (client certificates signed by
// ca-cert.pem); X.509 only, since Go's crypto/tls has no TLS-PSK.
//
// Exit codes: 0 success, 1 failure, 2 bad command line. CHAP secrets come
// from files or the GOMP_CHAP_SECRET and GOMP_MUTUAL_SECRET environment
// variables, never from the command line.
//
// Not implemented: reloading a changed multipath.conf or node record into
// a running attach, iSNS or SLP discovery, and builds for systems other
// than Linux.
package main
