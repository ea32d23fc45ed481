package main

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/chaostest"
	"github.com/gomp-dev/gomp/internal/iscsitest"
)

const resizeTarget = "iqn.2026-11.dev.gomp:resize-cli"

// resizePortals serves lunA through one in-process target and lunB
// through another of the same name, each on a loopback port: two paths to
// one LUN when both are the same *LUN (tgtd cannot resize a LUN, so gomp
// resize is tested here). It returns the portals and the targets.
func resizePortals(t *testing.T, lunA, lunB *iscsitest.LUN) (p1, p2 string, tgs []*iscsitest.Target) {
	var portals []string
	for _, lun := range []*iscsitest.LUN{lunA, lunB} {
		tg := iscsitest.New(iscsitest.Config{Name: resizeTarget, LUNs: map[uint16]*iscsitest.LUN{1: lun}})
		t.Cleanup(func() { tg.Close() })
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = tg.Listen(ln) }()
		portals, tgs = append(portals, ln.Addr().String()), append(tgs, tg)
	}
	return portals[0], portals[1], tgs
}

// resizeCLI runs gomp resize NAME and returns its exit code and output.
func resizeCLI(t *testing.T, ctl, name string) (int, string, string) {
	return runCLI(t, "resize", name, "--control-dir", ctl)
}

// deviceSize is the size gomp status --json gives the device.
func deviceSize(t *testing.T, ctl, name string) int64 {
	t.Helper()
	sts := statusJSON(t, ctl)
	require.Len(t, sts, 1)
	require.Equal(t, name, sts[0].Device.Name)
	return sts[0].Device.Size
}

// gomp resize against a running gomp attach: unchanged while the LUN is,
// the device, gomp status and new NBD clients follow a grown LUN and I/O
// beyond the old end works; a shrunk LUN is refused and the device keeps
// its size; CAPACITY DATA HAS CHANGED grows it without gomp resize.
func TestAttachResizeCommand(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	const old = 8192 * 512
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(22)
	p1, p2, tgs := resizePortals(t, lun, lun)
	ctl, sock, name, _ := startAttach(t, "--target", resizeTarget, "--portal", p1, "--portal", p2, "--lun", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	code, out, stderr := resizeCLI(t, ctl, name)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, name+": unchanged, 4194304 -> 4194304 bytes\n", out)

	lun.SetBlocks(2 * 8192)
	code, out, stderr = resizeCLI(t, ctl, name)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, name+": resized, 4194304 -> 8388608 bytes\n", out)
	require.EqualValues(t, 2*old, deviceSize(t, ctl, name))
	c, err := chaostest.Dial(ctx, sock, name)
	require.NoError(t, err)
	defer c.Close()
	require.EqualValues(t, 2*old, c.Size(), "a new NBD client is told the new size")
	want := bytes.Repeat([]byte("r"), 64<<10)
	require.NoError(t, c.WriteAt(ctx, want, 2*old-int64(len(want)), true))
	got := make([]byte, len(want))
	require.NoError(t, c.ReadAt(ctx, got, 2*old-int64(len(want))))
	require.Equal(t, want, got)

	lun.SetBlocks(8192)
	code, _, stderr = resizeCLI(t, ctl, name)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "shrank from 8388608 bytes")
	require.EqualValues(t, 2*old, deviceSize(t, ctl, name))

	lun.SetBlocks(3 * 8192)
	for _, tg := range tgs {
		for _, conn := range tg.Conns() {
			conn.UnitAttention(1, 0x2A, 0x09) // CAPACITY DATA HAS CHANGED
		}
	}
	require.Eventually(t, func() bool { return deviceSize(t, ctl, name) == 3*old }, 10*time.Second, 20*time.Millisecond,
		"CAPACITY DATA HAS CHANGED grows the device")
}

// Paths that disagree on the capacity leave the device as it is; gomp
// resize says so, and grows it once they agree.
func TestAttachResizeDisagreeingPaths(t *testing.T) {
	t.Setenv(envStateDir, t.TempDir())
	a, b := iscsitest.NewLUN(8192, 512).SetIdentity(23), iscsitest.NewLUN(8192, 512).SetIdentity(23)
	p1, p2, _ := resizePortals(t, a, b)
	ctl, _, name, _ := startAttach(t, "--target", resizeTarget, "--portal", p1, "--portal", p2, "--lun", "1")

	a.SetBlocks(4 * 8192)
	code, _, stderr := resizeCLI(t, ctl, name)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "the paths disagree on the capacity")
	require.EqualValues(t, 8192*512, deviceSize(t, ctl, name))

	b.SetBlocks(4 * 8192)
	code, out, stderr := resizeCLI(t, ctl, name)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, name+": resized, 4194304 -> 16777216 bytes\n", out)
	require.EqualValues(t, 4*8192*512, deviceSize(t, ctl, name))
}
