package main

import (
	"sync"

	"golang.org/x/sys/unix"
)

// secretHolds counts the credentials in use; while any is, the process is
// not dumpable: no core dump, and no ptrace or /proc/PID/mem by processes
// of the same user, can read a CHAP secret from memory.
var secretHolds struct {
	mu sync.Mutex // guards n
	n  int
}

// holdSecrets marks one more set of credentials in use and makes the
// process non-dumpable (prctl PR_SET_DUMPABLE 0).
func holdSecrets() {
	secretHolds.mu.Lock()
	defer secretHolds.mu.Unlock()
	secretHolds.n++
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}

// releaseSecrets undoes one holdSecrets; with none left the process is
// dumpable again.
func releaseSecrets() {
	secretHolds.mu.Lock()
	defer secretHolds.mu.Unlock()
	if secretHolds.n > 0 {
		secretHolds.n--
	}
	if secretHolds.n == 0 {
		_ = unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
	}
}

// dumpable reports the process's PR_GET_DUMPABLE flag.
func dumpable() bool {
	v, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	return err == nil && v != 0
}
