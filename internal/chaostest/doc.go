// Package chaostest is gomp's chaos test: the whole stack (multipath
// Device → nbd.Server on a unix socket → a small NBD client of its own)
// runs a write-verify workload on the lab LUN while a controller breaks
// the paths at random, and every acknowledged write is checked at the end.
//
// The tool is the non-test code (Stack, Workload, Controller, Fault,
// Client); TestLabChaos drives it against the tgtd lab (GOMP_LAB=1, env
// from scripts/lab.sh), for GOMP_CHAOS_DURATION (default 2m; "make
// chaos" runs 10 minutes).
//
// # Workload
//
// Several workers write blocks of 4 KiB to 256 KiB at random offsets, each
// in its own part of the region [300 MiB, 499 MiB) of lab LUN 1, which no
// other package's tests touch. Every 4 KiB sector written carries a stamp
// (a per-run id, the write's sequence number, the sector's offset) and a
// pattern derived from it, so a read tells which write a sector holds. A
// write is recorded once the NBD reply acknowledges it; the workers read
// recorded ranges back as they go, and at the end every recorded sector is
// read and compared with the last write acknowledged for it.
//
// # Faults
//
// Sessions are bound to two source addresses of our own (127.0.0.31 for
// portal 1, 127.0.0.32 for portal 2), so the faults touch no other
// test's sessions: nftables rules on the output hook drop (a blackhole)
// or reset ("reject with tcp reset") one path's packets, and tgtadm
// deletes one path's connection inside tgtd. A fault is applied to a
// portal only while the other portal's path is active, so one path always
// lives in the main phase. Then both paths are cut past no_path_retry: I/O
// must fail with an error, not hang, and the device must recover and shut
// down cleanly.
package chaostest
