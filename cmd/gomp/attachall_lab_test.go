package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/chaostest"
)

// readyDevice is one "ready: NAME URI" line of gomp attach.
type readyDevice struct{ name, socket string }

// waitReady polls (bounded) until attach printed n ready lines and
// returns them.
func waitReady(t *testing.T, out, errb *syncBuffer, done chan error, n int) []readyDevice {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for strings.Count(out.String(), "ready: ") < n {
		select {
		case err := <-done:
			t.Fatalf("attach ended before ready: %v\n%s", err, errb.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "attach not ready: %s\n%s", out.String(), errb.String())
		time.Sleep(20 * time.Millisecond)
	}
	var devs []readyDevice
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "ready:" {
			continue
		}
		u, err := url.Parse(f[2])
		require.NoError(t, err)
		devs = append(devs, readyDevice{name: f[1], socket: u.Query().Get("socket")})
	}
	require.Len(t, devs, n)
	return devs
}

// nbdCheck writes a pattern of its own to each device through NBD, then
// reads every device back: each LUN holds its own data.
func nbdCheck(t *testing.T, devs []readyDevice, off int64, seed byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pattern := func(i int) []byte { return bytes.Repeat([]byte{seed + byte(i)}, 64<<10) }
	clients := make([]*chaostest.Client, len(devs))
	for i, d := range devs {
		c, err := chaostest.Dial(ctx, d.socket, d.name)
		require.NoError(t, err, d.name)
		t.Cleanup(func() { c.Close() })
		clients[i] = c
		require.NoError(t, c.WriteAt(ctx, pattern(i), off, true), d.name)
	}
	for i, c := range clients {
		got := make([]byte, 64<<10)
		require.NoError(t, c.ReadAt(ctx, got, off), devs[i].name)
		require.Equal(t, pattern(i), got, devs[i].name)
	}
}

// A target with 8 LUNs on 2 portals, mapped to this host's initiator
// name, attaches as 8 devices over exactly 2 sessions (I_T nexuses at
// tgtd), each with its own socket and control entry and I/O verified on
// each; a cut portal fails over every device on it, and they carry on.
func TestLabAttachEveryLUNSharedSessions(t *testing.T) {
	l := newTgtLab(t, 2)
	needTool(t, "nft")
	const (
		target = "iqn.2026-11.dev.gomp:eight"
		host   = "iqn.1993-08.org.debian:01:eight-host"
		nLUNs  = 8
	)
	l.NewTarget(1, target, host)
	for lun := 1; lun <= nLUNs; lun++ {
		l.AddLUN(1, lun, 16<<20)
	}
	t.Setenv(envStateDir, t.TempDir())
	dir := t.TempDir()
	ctl, socks := filepath.Join(dir, "ctl"), filepath.Join(dir, "socks")
	require.NoError(t, os.Mkdir(socks, 0o700))
	out, errb, done := runBackground(t, "attach", "--target", target, "--portal", l.Portals[0], "--portal", l.Portals[1],
		"--initiator-name", host, "--listen", "unix:"+socks+"/", "--control-dir", ctl, "--nop-interval", "1s", "--nop-timeout", "1s")
	devs := waitReady(t, out, errb, done, nLUNs)
	require.Equal(t, 2, l.Nexuses(1), "one session per portal")

	code, js, stderr := runCLI(t, "status", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var sts []control.Status
	require.NoError(t, json.Unmarshal([]byte(js), &sts))
	require.Len(t, sts, nLUNs)
	luns := map[uint16]bool{}
	for _, st := range sts {
		luns[st.Device.LUN] = true
		require.Equal(t, host, st.Device.InitiatorName)
		require.Len(t, st.Device.Groups, 1)
		require.Len(t, st.Device.Groups[0].Paths, 2, "paths grouped by WWID over both portals")
	}
	require.Len(t, luns, nLUNs)
	nbdCheck(t, devs, 1<<20, 'a')

	cutPortal(t, l.Portals[1])
	nbdCheck(t, devs, 2<<20, 'A')
	require.Eventually(t, func() bool { return failedPaths(t, ctl) == nLUNs }, 20*time.Second, 50*time.Millisecond,
		"every device failed its path through the cut portal")
	require.Equal(t, 0, strings.Count(errb.String(), "level=ERROR"), errb.String())
}

// cutPortal blackholes portal (nftables, output hook) until the test
// ends.
func cutPortal(t *testing.T, portal string) {
	host, port, _ := strings.Cut(portal, ":")
	table := fmt.Sprintf("gomp_cut_%d", os.Getpid())
	sh(t, "nft", "add", "table", "inet", table)
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "inet", table).Run() })
	sh(t, "nft", "add", "chain", "inet", table, "out", "{ type filter hook output priority 0; }")
	sh(t, "nft", "add", "rule", "inet", table, "out", "ip", "daddr", host, "tcp", "dport", port, "drop")
}

// failedPaths counts the paths of all devices that are not active.
func failedPaths(t *testing.T, ctl string) int {
	code, js, _ := runCLI(t, "status", "--json", "--control-dir", ctl)
	if code != exitOK {
		return -1
	}
	var sts []control.Status
	require.NoError(t, json.Unmarshal([]byte(js), &sts))
	n := 0
	for _, st := range sts {
		for _, g := range st.Device.Groups {
			for _, p := range g.Paths {
				if p.DMState == "failed" {
					n++
				}
			}
		}
	}
	return n
}
