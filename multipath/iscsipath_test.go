package multipath

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/stretchr/testify/require"
)

// serveTarget runs an in-process target on a loopback port and returns
// its portal.
func serveTarget(t *testing.T, cfg iscsitest.Config) (*iscsitest.Target, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tg := iscsitest.New(cfg)
	go func() { _ = tg.Listen(ln) }()
	t.Cleanup(func() { _ = tg.Close() })
	return tg, ln.Addr().String()
}

// TestOpenOverInMemoryTargets drives the production path (iscsi sessions)
// against the scripted target: three portals, two reaching one LUN
// through ALUA port groups in different states, one reaching another LUN.
func TestOpenOverInMemoryTargets(t *testing.T) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(42)
	const name = "iqn.2026-11.dev.gomp:mem"
	_, nonOpt := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun},
		PortGroup: 1, PortGroupState: 1, RelativePort: 1}) // active/non-optimized
	_, opt := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun},
		PortGroup: 2, PortGroupState: 0, RelativePort: 2}) // active/optimized
	_, wrong := serveTarget(t, iscsitest.Config{Name: name,
		LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(8192, 512).SetIdentity(7)}})
	unreachable := closedPort(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ev collectEvents
	d, err := Open(ctx, Config{Target: name, LUN: 1, Portals: []string{nonOpt, opt, wrong, unreachable},
		LoginTimeout: 2 * time.Second, OnEvent: ev.add, Settings: Settings{PollingInterval: time.Second}})
	require.NoError(t, err)
	s := d.Status()
	require.Equal(t, "group_by_prio", s.Policy, "the target reports ALUA")
	require.Len(t, s.Groups, 3)
	require.Equal(t, 50, s.Groups[0].Priority)
	require.Equal(t, opt, s.Groups[0].Paths[0].Portal)
	require.Equal(t, 2, s.Groups[0].Paths[0].TPG)
	require.Equal(t, 10, s.Groups[1].Priority)
	require.Equal(t, []string{opt}, activePortals(d))
	require.Equal(t, "refused", pathState(d, wrong))
	require.Equal(t, "failed", pathState(d, unreachable))

	want := bytes.Repeat([]byte("gomp"), 1024)
	_, err = d.WriteAtContext(ctx, want, 8192, true)
	require.NoError(t, err)
	got := make([]byte, len(want))
	_, err = lun.ReadAt(got, 8192)
	require.NoError(t, err)
	require.Equal(t, want, got, "written through the optimized path")
	require.NoError(t, d.WriteZeroes(ctx, 8192, 4096, false))
	_, err = d.ReadAtContext(ctx, got, 8192)
	require.NoError(t, err)
	require.Equal(t, make([]byte, 4096), got)
	require.NoError(t, d.Close(ctx))
	require.Contains(t, ev.kinds(), "path failed "+unreachable)
}

// closedPort returns a loopback portal nobody listens on.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// TestInMemoryPathResetAndReinstate: a path whose connections the target
// resets under I/O fails over without errors; its session reconnects and
// the checker reinstates it.
func TestInMemoryPathResetAndReinstate(t *testing.T) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(42)
	const name = "iqn.2026-11.dev.gomp:mem"
	_, a := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun}})
	tgB, b := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Open(ctx, Config{Target: name, LUN: 1, Portals: []string{a, b}, LoginTimeout: time.Second,
		ReconnectBackoff: 200 * time.Millisecond, Settings: Settings{PollingInterval: 500 * time.Millisecond}})
	require.NoError(t, err)
	defer d.Close(ctx)
	require.Equal(t, []string{a, b}, activePortals(d))

	stop := make(chan struct{})
	errs := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		for i := 0; ; i++ {
			select {
			case <-stop:
				errs <- nil
				return
			default:
			}
			if _, err := d.WriteAtContext(ctx, buf, int64(i%64)*4096, false); err != nil {
				errs <- err
				return
			}
		}
	}()
	waitFor(t, 5*time.Second, "I/O on both paths", func() bool { return pathStatus(d, b).Completed > 10 })
	for _, c := range tgB.Conns() {
		c.Reset()
	}
	waitFor(t, 5*time.Second, "path b failed", func() bool { return pathStatus(d, b).DMState == "failed" })
	waitFor(t, 10*time.Second, "path b reinstated", func() bool { return pathStatus(d, b).DMState == "active" })
	close(stop)
	require.NoError(t, <-errs, "no I/O error while path b was reset")
}
