package main

import (
	"log/slog"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(before) })
	log := slog.New(slog.DiscardHandler)

	runtime.GOMAXPROCS(4)
	t.Setenv("GOMAXPROCS", "")
	setProcs(0, log)
	require.Equal(t, 2, runtime.GOMAXPROCS(0), "half")
	runtime.GOMAXPROCS(1)
	setProcs(0, log)
	require.Equal(t, 1, runtime.GOMAXPROCS(0), "at least one")
	setProcs(3, log)
	require.Equal(t, 3, runtime.GOMAXPROCS(0), "--procs")

	t.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3)
	setProcs(0, log)
	require.Equal(t, 3, runtime.GOMAXPROCS(0), "$GOMAXPROCS is the user's choice")

	code, _, stderr := runCLI(t, "attach", "--procs", "-1", "--target", "iqn.x", "--portal", "127.0.0.1", "--listen", "unix:/nonexistent/x")
	require.Equal(t, exitUsage, code, stderr)
	require.Contains(t, stderr, "--procs -1")
}
