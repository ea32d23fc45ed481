// Command memserver serves an in-memory disk over NBD on a unix socket, for
// benchmarks (bench/nbd/run.sh) and manual tests:
//
//	memserver -socket /tmp/gomp.sock [-size 1G] [-v] [-cpuprofile FILE]
//
// It runs until SIGINT or SIGTERM, then shuts down gracefully.
//
// The NBD side is package nbd (the NBD project's doc/proto.md; see its
// documentation for what is and is not implemented) serving nbd.NewMemory.
// Not implemented: TCP listeners, persistence and more than one export.
package main
