package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/metrics"
	"github.com/gomp-dev/gomp/multipath"
)

// labStats returns gomp stats --json for the one device attached.
func labStats(t *testing.T, ctl string) multipath.DeviceStats {
	t.Helper()
	code, out, stderr := runCLI(t, "stats", "--json", "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	var all []control.Stats
	require.NoError(t, json.Unmarshal([]byte(out), &all))
	require.Len(t, all, 1)
	return all[0].Device
}

// totals sums the paths' counters that a workload moves.
type totals struct {
	reads, writes, readBytes, writtenBytes, latencyCount uint64
	commands, dataIn, dataOut                            uint64
}

func sumPaths(st multipath.DeviceStats) totals {
	var s totals
	for _, p := range st.Paths {
		s.reads += p.Ops["read"].Count
		s.writes += p.Ops["write"].Count
		s.readBytes += p.ReadBytes
		s.writtenBytes += p.WrittenBytes
		s.latencyCount += p.Latency.Count
		if p.Session != nil {
			s.commands += p.Session.Commands
			s.dataIn += p.Session.DataInBytes
			s.dataOut += p.Session.DataOutBytes
		}
	}
	return s
}

// TestLabStatsAndMetrics: gomp attach on both lab portals with
// --metrics-listen; an NBD client (qemu-io) writes and reads 8 MiB; gomp
// stats --json shows the counters grown by at least that much, and the
// scraped /metrics passes promtool.
func TestLabStatsAndMetrics(t *testing.T) {
	lab(t)
	needTool(t, "qemu-io")
	needTool(t, "promtool")
	p1, p2, iqn := os.Getenv("GOMP_LAB_PORTAL1"), os.Getenv("GOMP_LAB_PORTAL2"), os.Getenv("GOMP_LAB_TARGET")
	msock := filepath.Join(t.TempDir(), "metrics.sock")
	ctl, sock, name, logs := startAttachLogged(t, "--target", iqn, "--portal", p1, "--portal", p2, "--lun", "1",
		"--metrics-listen", "unix:"+msock)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("attach log:\n%s", logs.String())
		}
	})
	before := sumPaths(labStats(t, ctl))

	// Lab LUN region of this test: [720 MiB, 736 MiB).
	const off, n = 720 << 20, 8 << 20
	uri := "nbd+unix:///?socket=" + sock
	out, err := exec.Command("qemu-io", "-f", "raw",
		"-c", "write -P 0x5a "+strconv.Itoa(off)+" "+strconv.Itoa(n),
		"-c", "read -P 0x5a "+strconv.Itoa(off)+" "+strconv.Itoa(n), uri).CombinedOutput()
	require.NoError(t, err, "%s", out)

	st := labStats(t, ctl)
	require.Equal(t, name, st.Name)
	require.Equal(t, 2, st.UsablePaths)
	after := sumPaths(st)
	require.Greater(t, after.reads, before.reads)
	require.Greater(t, after.writes, before.writes)
	require.GreaterOrEqual(t, after.readBytes-before.readBytes, uint64(n))
	require.GreaterOrEqual(t, after.writtenBytes-before.writtenBytes, uint64(n))
	require.GreaterOrEqual(t, after.latencyCount-before.latencyCount, (after.reads-before.reads)+(after.writes-before.writes))
	require.Greater(t, after.commands, before.commands)
	require.GreaterOrEqual(t, after.dataIn-before.dataIn, uint64(n))
	require.GreaterOrEqual(t, after.dataOut-before.dataOut, uint64(n))
	for _, p := range st.Paths {
		require.Equal(t, "active", p.State, p.Portal)
		require.NotNil(t, p.Session, p.Portal)
		require.Equal(t, "logged-in", p.Session.State)
		if l := p.Ops["write"]; l.Count > 0 {
			require.Positive(t, l.P50, p.Portal)
			require.LessOrEqual(t, l.P50, l.P99, p.Portal)
		}
	}

	body := scrape(t, msock)
	require.NoError(t, metrics.PromtoolCheck("promtool", body))
	require.Contains(t, string(body), `gomp_path_io_total{device="`+name+`",op="write",portal="`+p1+`"}`)
	require.Contains(t, string(body), `gomp_session_pdus_sent_total{device="`+name+`",opcode="scsi_command",portal="`+p2+`"}`)
}
