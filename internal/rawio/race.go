//go:build race && linux

package rawio

import (
	"runtime"
	"unsafe"
)

// ioSync gives the race detector the happens-before edges that the syscall
// package's Read and Write annotate and raw system calls do not: a write
// to a socket happens before a read that may return its bytes.
var ioSync int64

// raceRead tells the race detector that the kernel wrote p.
func raceRead(p []byte) {
	if len(p) > 0 {
		runtime.RaceWriteRange(unsafe.Pointer(&p[0]), len(p))
	}
	runtime.RaceAcquire(unsafe.Pointer(&ioSync))
}

// raceWrite tells the race detector that the kernel is about to read the
// first n bytes of bufs.
func raceWrite(bufs [][]byte, n int64) {
	runtime.RaceReleaseMerge(unsafe.Pointer(&ioSync))
	for _, b := range bufs {
		if n <= 0 {
			return
		}
		k := min(int64(len(b)), n)
		if k > 0 {
			runtime.RaceReadRange(unsafe.Pointer(&b[0]), int(k))
		}
		n -= k
	}
}
