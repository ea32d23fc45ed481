package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/multipath"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAttach runs gomp attach in-process until the test ends.
func startAttach(t *testing.T, args ...string) (ctl, sock, name string, done chan error) {
	dir := t.TempDir()
	ctl, sock = filepath.Join(dir, "ctl"), filepath.Join(dir, "lab.nbd")
	out, errb, done := runBackground(t, append([]string{"attach", "--listen", "unix:" + sock, "--control-dir", ctl}, args...)...)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "ready: ") {
		select {
		case err := <-done:
			t.Fatalf("attach ended before ready: %v\n%s", err, errb.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "attach not ready: %s", errb.String())
		time.Sleep(20 * time.Millisecond)
	}
	fields := strings.Fields(out.String())
	require.GreaterOrEqual(t, len(fields), 3)
	require.Equal(t, "nbd+unix:///"+fields[1]+"?socket="+sock, fields[2])
	return ctl, sock, fields[1], done
}

// needTool skips the test when a peer binary is missing, or fails it
// under CI, where every peer is installed.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not installed (CI=true: every peer must be)", name)
	}
	t.Skipf("%s not installed", name)
}

// TestLabAttachWholeStack: gomp attach on both lab portals; data written
// through NBD reads back through a plain iSCSI session, and the other way;
// status, path fail/reinstate and detach through the control socket.
func TestLabAttachWholeStack(t *testing.T) {
	lab(t)
	needTool(t, "qemu-img")
	needTool(t, "qemu-io")
	p1, p2, target := os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_PORTAL2"), os.Getenv("GOMP_LAB_TARGET")
	ctl, sock, name, done := startAttach(t, "--target", target, "--portal", p1, "--portal", p2, "--lun", "1")
	uri := "nbd+unix:///?socket=" + sock
	// Lab LUN regions: iscsi tests [0, 256 MiB) and 512 MiB, examples
	// [600, 700 MiB), this test [700, 716 MiB), multipath [800 MiB, 1 GiB).
	const off, n = 700 << 20, 8 << 20
	data := make([]byte, n)
	_, _ = rand.Read(data)
	file := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.WriteFile(file, data, 0o600))

	// iSCSI writes at off, NBD (qemu-img dd) reads it back.
	ctx := context.Background()
	s, err := iscsi.Dial(ctx, iscsi.Config{Portal: p1, TargetName: target})
	require.NoError(t, err)
	defer s.Close(ctx)
	lun, err := s.OpenLUN(ctx, 1)
	require.NoError(t, err)
	_, err = lun.WriteAt(data, off)
	require.NoError(t, err)
	part := filepath.Join(t.TempDir(), "part")
	cmd := exec.Command("qemu-img", "dd", "-f", "raw", "-O", "raw", "bs=1M", "skip=700", "count=708", // qemu-img dd counts from 0
		"if="+uri, "of="+part)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	got, err := os.ReadFile(part)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "iSCSI write must read back through NBD")

	// The other way: NBD (qemu-io) writes at off2, iSCSI reads it.
	const off2 = off + n
	out, err = exec.Command("qemu-io", "-f", "raw", "-c",
		"write -s "+file+" "+strconv.Itoa(off2)+" "+strconv.Itoa(n), uri).CombinedOutput()
	require.NoError(t, err, "%s", out)
	back := make([]byte, n)
	_, err = lun.ReadAt(back, off2)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, back), "NBD write must read back through iSCSI")

	code, stdout, stderr := runCLI(t, "status", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(stdout), &st))
	require.Len(t, st, 1)
	require.Equal(t, name, st[0].Device.Name)
	require.Len(t, st[0].Device.Groups, 1)
	require.Len(t, st[0].Device.Groups[0].Paths, 2)

	code, _, stderr = runCLI(t, "path", "fail", name, p2, "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	code, stdout, _ = runCLI(t, "status", "--control-dir", ctl)
	require.Equal(t, exitOK, code)
	require.Regexp(t, p2+` failed`, stdout)
	code, _, stderr = runCLI(t, "path", "reinstate", name, p2, "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)

	code, _, stderr = runCLI(t, "detach", name, "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	select {
	case err := <-done:
		require.NoError(t, err, "attach must exit 0 after detach")
	case <-time.After(30 * time.Second):
		t.Fatal("attach did not exit after detach")
	}
	_, err = os.Stat(sock)
	require.True(t, os.IsNotExist(err), "the NBD socket is removed")
}

func TestAttachUsage(t *testing.T) {
	for _, args := range [][]string{
		{"attach"},
		{"attach", "--target", "iqn.x", "--portal", "p"},
		{"attach", "--target", "iqn.x", "--portal", "p", "--listen", "ftp:x"},
		{"attach", "--target", "iqn.x", "--portal", "p", "--listen", "unix:/x", "--mount", "/mnt"},
		{"path", "explode", "a", "b"},
		{"detach"},
	} {
		code, _, stderr := runCLI(t, args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, stderr)
	}
	code, _, stderr := runCLI(t, "status", "--control-dir", t.TempDir())
	require.Equal(t, exitOK, code, stderr)
	code, _, stderr = runCLI(t, "detach", "nosuch", "--control-dir", t.TempDir())
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "no running gomp attach")
}

// TestNoPathRetryFlag: --no-path-retry reads what multipath.conf's
// no_path_retry takes, with multipath's parser (0 is fail, as in
// multipath-tools); a bad value is a usage error naming the flag.
func TestNoPathRetryFlag(t *testing.T) {
	base := []string{"--target", "iqn.2026-11.dev.gomp:t", "--portal", "127.0.0.1", "--listen", "unix:/tmp/x.nbd",
		"--config", "/dev/null"}
	for v, want := range map[string]multipath.NoPathRetry{"fail": multipath.NoPathRetryFail, "0": multipath.NoPathRetryFail,
		"queue": multipath.NoPathRetryQueue, "7": 7} {
		o := &attachOpts{}
		require.NoError(t, recordFlagSet(o).Parse(append(base, "--no-path-retry", v)))
		cfg, err := o.mpConfig(&globalOpts{}, nil)
		require.NoError(t, err, v)
		require.Equal(t, want, cfg.NoPathRetry, v)
	}
	for _, v := range []string{"banana", "-1", "1.5"} {
		code, _, stderr := runCLI(t, append([]string{"attach"}, append(base, "--no-path-retry="+v)...)...)
		require.Equal(t, exitUsage, code, "%q: %s", v, stderr)
		require.Contains(t, stderr, "--no-path-retry", v)
	}
}
