package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/chaostest"
	"github.com/gomp-dev/gomp/nbd"
)

// The tests of this file run a tgtd of their own (tgtLab).
const (
	rescanLabTarget = "iqn.2026-11.dev.gomp:rescan"
	rescanLabHost   = "iqn.1993-08.org.debian:01:rescan-host"
)

var rescanLabHosts = []string{"127.22.1.1", "127.22.1.2"}

// rescanLab is a gomp attach of every LUN of target 1 of its own tgtd,
// both portals, one NBD socket per device.
type rescanLab struct {
	*tgtLab
	ctl  string      // gomp's control directory
	out  *syncBuffer // gomp attach's stdout
	errb *syncBuffer
}

// startRescanLab serves LUNs 1..luns (16 MiB each) and attaches them.
func startRescanLab(t *testing.T, luns int) (*rescanLab, []readyDevice) {
	l := newTgtLabOn(t, rescanLabHosts)
	l.NewTarget(1, rescanLabTarget, rescanLabHost)
	for lun := 1; lun <= luns; lun++ {
		l.AddLUN(1, lun, 16<<20)
	}
	t.Setenv(envStateDir, t.TempDir())
	dir := t.TempDir()
	r := &rescanLab{tgtLab: l, ctl: filepath.Join(dir, "ctl")}
	socks := filepath.Join(dir, "socks")
	require.NoError(t, os.Mkdir(socks, 0o700))
	out, errb, done := runBackground(t, "attach", "--target", rescanLabTarget,
		"--portal", l.Portals[0], "--portal", l.Portals[1], "--initiator-name", rescanLabHost,
		"--listen", "unix:"+socks+"/", "--control-dir", r.ctl, "--nop-interval", "1s", "--nop-timeout", "1s")
	r.out, r.errb = out, errb
	devs := waitReady(t, out, errb, done, luns)
	require.Equal(t, 2, l.Nexuses(1), "one session per portal")
	return r, devs
}

// statusJSON is gomp status --json of the devices under control
// directory ctl, one entry per device.
func statusJSON(t *testing.T, ctl string) []control.Status {
	t.Helper()
	code, js, stderr := runCLI(t, "status", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var sts []control.Status
	require.NoError(t, json.Unmarshal([]byte(js), &sts))
	return sts
}

func (r *rescanLab) status() []control.Status { return statusJSON(r.t, r.ctl) }

// byLUN returns the status of the device of lun, nil when none.
func byLUN(sts []control.Status, lun uint16) *control.Status {
	for i := range sts {
		if sts[i].Device.LUN == lun {
			return &sts[i]
		}
	}
	return nil
}

// device returns the device of lun with its NBD socket, from its status.
func (r *rescanLab) device(lun uint16) readyDevice {
	r.t.Helper()
	st := byLUN(r.status(), lun)
	require.NotNil(r.t, st, "no device for LUN %d", lun)
	u, err := url.Parse(st.Exports.URI)
	require.NoError(r.t, err)
	return readyDevice{name: st.Device.Name, socket: u.Query().Get("socket")}
}

// waitDevice waits (bounded) until LUN lun is a device.
func (r *rescanLab) waitDevice(lun uint16, within time.Duration, why string) readyDevice {
	r.t.Helper()
	require.Eventually(r.t, func() bool { return byLUN(r.status(), lun) != nil }, within, 100*time.Millisecond,
		"LUN %d is no device (%s)\n%s", lun, why, r.errb.String())
	return r.device(lun)
}

// deleteLUN removes lun from target 1; tgtd refuses while the LUN has a
// command queued, so it is retried (bounded).
func (r *rescanLab) deleteLUN(lun int) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.Adm("--op", "delete", "--mode", "logicalunit", "--tid", "1", "--lun", fmt.Sprint(lun))
		if err == nil {
			return
		}
		require.True(r.t, time.Now().Before(deadline), "%v", err)
		time.Sleep(50 * time.Millisecond)
	}
}

// A LUN added at run time becomes a device on its own: tgtd raises
// REPORTED LUNS DATA HAS CHANGED on every LUN of every I_T nexus when a
// logical unit is added (and removed), the checker's TEST UNIT READY
// receives it and gomp rescans. gomp rescan attaches the next one before
// it returns. I/O is verified on every device, old and new, over the same
// two sessions.
func TestLabRescanNewLUN(t *testing.T) {
	r, devs := startRescanLab(t, 2)
	nbdCheck(t, devs, 1<<20, 'a')

	r.AddLUN(1, 3, 16<<20)
	devs = append(devs, r.waitDevice(3, 30*time.Second, "after REPORTED LUNS DATA HAS CHANGED"))
	require.Contains(t, r.errb.String(), "REPORTED LUNS DATA HAS CHANGED: rescanning")
	require.Eventually(t, func() bool { return strings.Contains(r.out.String(), "ready: "+devs[2].name+" ") },
		5*time.Second, 20*time.Millisecond, "a device a rescan attached has its ready line:\n%s", r.out.String())

	r.AddLUN(1, 4, 16<<20)
	code, out, stderr := runCLI(t, "rescan", "--all", "--control-dir", r.ctl)
	require.Equal(t, exitOK, code, stderr)
	require.NotNil(t, byLUN(r.status(), 4), "gomp rescan returns with the new LUN attached (it printed %q)", out)
	devs = append(devs, r.device(4))
	require.Eventually(t, func() bool { return strings.Count(r.out.String(), "ready: ") == 4 },
		5*time.Second, 20*time.Millisecond, r.out.String())

	require.Len(t, r.status(), 4)
	require.Equal(t, 2, r.Nexuses(1), "new devices share the sessions")
	for _, st := range r.status() {
		require.Len(t, st.Device.Groups, 1, st.Device.Name)
		require.Len(t, st.Device.Groups[0].Paths, 2, "%s: a path per portal", st.Device.Name)
	}
	nbdCheck(t, devs, 2<<20, 'k')
	require.Equal(t, 0, strings.Count(r.errb.String(), "level=ERROR"), r.errb.String())
}

// A LUN deleted at run time fails its device: NBD I/O to it fails, gomp
// status (JSON and text) says it is gone and why, and the other devices
// carry on with verified I/O.
func TestLabRescanDeletedLUN(t *testing.T) {
	r, devs := startRescanLab(t, 3)
	nbdCheck(t, devs, 1<<20, 'a')
	gone := r.device(2)
	c, err := chaostest.Dial(context.Background(), gone.socket, gone.name)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })

	r.deleteLUN(2)
	require.Eventually(t, func() bool { return byLUN(r.status(), 2).Device.Gone != "" }, 30*time.Second,
		100*time.Millisecond, "LUN 2's device is not gone\n%s", r.errb.String())
	st := byLUN(r.status(), 2)
	require.Contains(t, st.Device.Gone, "the LUN is no longer on the target")
	require.Contains(t, st.Device.Gone, "no portal reports LUN 2 with this WWID")
	for _, lun := range []uint16{1, 3} {
		require.Empty(t, byLUN(r.status(), lun).Device.Gone, "LUN %d", lun)
	}
	code, text, stderr := runCLI(t, "status", "--control-dir", r.ctl, gone.name)
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, text, "gone: multipath "+gone.name)
	require.Contains(t, r.errb.String(), "LUN gone from the target")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	buf := make([]byte, 4096)
	for _, err := range []error{c.ReadAt(ctx, buf, 0), c.WriteAt(ctx, buf, 0, false)} {
		var ne *nbd.Error
		require.True(t, errors.As(err, &ne), "an NBD error reply, not a hang or a dropped connection: %v", err)
	}
	nbdCheck(t, []readyDevice{devs[0], devs[2]}, 2<<20, 'd')

	code, _, stderr = runCLI(t, "rescan", gone.name, "--control-dir", r.ctl)
	require.Equal(t, exitOK, code, stderr)
	require.Len(t, r.status(), 3, "a gone device stays until detached; no new device")
}

// A portal cut (nftables) fails over every device on it, one added at run
// time included: I/O carries on, verified, through the other portal.
func TestLabRescanPathCut(t *testing.T) {
	needTool(t, "nft")
	r, devs := startRescanLab(t, 2)
	r.AddLUN(1, 3, 16<<20)
	devs = append(devs, r.waitDevice(3, 30*time.Second, "after REPORTED LUNS DATA HAS CHANGED"))
	nbdCheck(t, devs, 1<<20, 'a')

	cutPortal(t, r.Portals[1])
	nbdCheck(t, devs, 2<<20, 'A')
	require.Eventually(t, func() bool { return failedPaths(t, r.ctl) == len(devs) }, 20*time.Second,
		50*time.Millisecond, "every device failed its path through the cut portal")
	for _, st := range r.status() {
		for _, p := range st.Device.Groups[0].Paths {
			require.Equal(t, p.Portal == r.Portals[0], p.DMState == "active", "%s %s", st.Device.Name, p.Portal)
		}
	}
	require.Equal(t, 0, strings.Count(r.errb.String(), "level=ERROR"), r.errb.String())
}
