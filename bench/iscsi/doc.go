// Command iscsibench measures gomp's raw iSCSI session throughput against
// one LUN: a fixed queue depth of workers issuing READ(16) or WRITE(16) of
// one size, sequential or random, for a fixed time. It prints one line:
//
//	gomp <mode> bs=<size> qd=<n> iops=<n> mbps=<n> cpu_s_per_gib=<n>
//
// bench/iscsi/run.sh runs it beside libiscsi's iscsi-perf on the same LUN.
//
// It drives package iscsi directly (one Session, LUN.ReadAtContext and
// LUN.WriteAtContext); the protocol work is that package's (RFC 7143). Not
// implemented: mixed read/write workloads, multipath, latency percentiles and
// more than one LUN or session.
package main
