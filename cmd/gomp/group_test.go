package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"
)

// completed returns the completed I/O count of the path to portal.
func completed(st control.Status, portal string) uint64 {
	for _, g := range st.Device.Groups {
		for _, p := range g.Paths {
			if pathLabel(p) == portal {
				return p.Completed
			}
		}
	}
	return 0
}

// TestLabGroupSwitch: with path_grouping_policy failover each path is its
// own group; gomp group switch sends the I/O to the second one, as
// multipathd switchgroup does, and refuses a group that does not exist.
func TestLabGroupSwitch(t *testing.T) {
	l := newLabTune(t)
	needTool(t, "qemu-io")
	conf := filepath.Join(t.TempDir(), "multipath.conf")
	require.NoError(t, os.WriteFile(conf, []byte("defaults {\n\tpath_grouping_policy failover\n\tfailback manual\n}\n"), 0o600))
	ctl, sock, name, _ := startAttach(t, "--target", l.target, "--portal", l.p1, "--portal", l.p2, "--lun", "1",
		"--config", conf)
	st := labStatus(t, ctl)
	require.Len(t, st.Device.Groups, 2)
	require.Equal(t, 0, st.Device.ActiveGroup)
	first := st.Device.Groups[1].Paths[0].Portal

	code, out, stderr := runCLI(t, "group", "switch", name, "2", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, name+": I/O goes to path group 2\n", out)
	before := labStatus(t, ctl)
	require.Equal(t, 1, before.Device.ActiveGroup)
	out, err := qemuIO(t, sock, "read 730M 4M")
	require.NoError(t, err, out)
	after := labStatus(t, ctl)
	other := before.Device.Groups[0].Paths[0].Portal
	require.Greater(t, completed(after, first), completed(before, first), "group 2's path carries the I/O")
	require.Equal(t, completed(before, other), completed(after, other), "group 1's path is idle")

	code, _, stderr = runCLI(t, "group", "switch", name, "3", "--control-dir", ctl)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "no path group 2 (have 2)")
	code, _, _ = runCLI(t, "group", "switch", name, "0", "--control-dir", ctl)
	require.Equal(t, exitUsage, code)
	code, _, _ = runCLI(t, "group", "flip", name, "1", "--control-dir", ctl)
	require.Equal(t, exitUsage, code)
}

// TestLabQueueingDisableRestore: with no_path_retry queue and every path
// failed by hand, a read waits; gomp queueing disable fails it at once,
// as multipathd disablequeueing does, and restore brings queueing back.
func TestLabQueueingDisableRestore(t *testing.T) {
	l := newLabTune(t)
	needTool(t, "qemu-io")
	ctl, sock, name, _ := startAttach(t, "--target", l.target, "--portal", l.p1, "--portal", l.p2, "--lun", "1",
		"--no-path-retry", "queue")
	for _, p := range []string{l.p1, l.p2} {
		code, _, stderr := runCLI(t, "path", "fail", name, p, "--control-dir", ctl)
		require.Equal(t, exitOK, code, stderr)
	}
	read := exec.Command("qemu-io", "-f", "raw", "-c", "read 732M 64k", "nbd+unix:///?socket="+sock)
	done := make(chan error, 1)
	var out []byte
	go func() {
		var err error
		out, err = read.CombinedOutput()
		done <- err
	}()
	t.Cleanup(func() {
		if read.Process != nil {
			_ = read.Process.Kill()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for labStatus(t, ctl).Device.QueuedIOs == 0 {
		require.True(t, time.Now().Before(deadline), "the read must queue")
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatalf("the read ended while queued: %s", out)
	case <-time.After(300 * time.Millisecond):
	}

	code, stdout, stderr := runCLI(t, "queueing", "disable", name, "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, name+": queueing disabled\n", stdout)
	select {
	case <-done:
		require.Contains(t, string(out), "read failed", "the queued read fails")
	case <-time.After(10 * time.Second):
		t.Fatal("disable queueing did not fail the queued read")
	}
	st := labStatus(t, ctl)
	require.True(t, st.Device.QueueingDisabled)
	require.Zero(t, st.Device.QueuedIOs)

	code, stdout, stderr = runCLI(t, "queueing", "restore", name, "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, name+": queueing restored\n", stdout)
	require.False(t, labStatus(t, ctl).Device.QueueingDisabled)
	code, _, _ = runCLI(t, "queueing", "pause", name, "--control-dir", ctl)
	require.Equal(t, exitUsage, code)
}
