package main

import (
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"
)

// TestAttachTCPLimitsAndWarning: gomp attach --listen tcp on loopback warns
// that every local user can reach the device, and serves at most
// --nbd-max-connections clients at once (the surplus is closed unanswered).
func TestAttachTCPLimitsAndWarning(t *testing.T) {
	iqn, p1, p2 := memPortals(t)
	ctl, _, name, logs := startAttachLogged(t, "--target", iqn, "--portal", p1, "--portal", p2, "--lun", "1",
		"--listen", "tcp:127.0.0.1:0", "--nbd-max-connections", "1", "--nbd-max-memory", "64")
	require.Contains(t, logs.String(), "every local user can read and write the device")

	code, out, stderr := runCLI(t, "status", "--json", "--control-dir", ctl, name)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Len(t, st, 1)
	addr := strings.TrimPrefix(st[0].Exports.URI, "nbd://")
	addr = addr[:strings.IndexByte(addr, '/')]

	first, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer first.Close()
	require.NoError(t, first.SetDeadline(time.Now().Add(10*time.Second)))
	greeting := make([]byte, 18)
	_, err = io.ReadFull(first, greeting)
	require.NoError(t, err, "the first client is greeted")

	second, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer second.Close()
	require.NoError(t, second.SetDeadline(time.Now().Add(10*time.Second)))
	n, err := io.ReadFull(second, greeting)
	require.Error(t, err, "the second client is closed unanswered")
	require.Zero(t, n)
	require.Contains(t, logs.String(), "too many connections")
}

func TestAttachNBDLimitFlagsValidated(t *testing.T) {
	for _, bad := range [][]string{{"--nbd-max-connections", "0"}, {"--nbd-max-memory", "-1"}} {
		code, _, stderr := runCLI(t, append([]string{"attach", "--target", "iqn.x", "--portal", "127.0.0.1",
			"--listen", "unix:/tmp/x.nbd"}, bad...)...)
		require.Equal(t, exitUsage, code, stderr)
		require.Contains(t, stderr, "must be positive")
	}
}
