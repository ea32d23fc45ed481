package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/metrics"
	"github.com/gomp-dev/gomp/internal/iscsitest"
)

func TestLogFormatFlag(t *testing.T) {
	code, _, stderr := runCLI(t, "--log-format", "xml", "version")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, `--log-format "xml": want text or json`)
	for _, f := range logFormats {
		code, _, stderr := runCLI(t, "--log-format", f, "version")
		require.Equal(t, exitOK, code, stderr)
	}
	code, _, stderr = runCLI(t, "attach", "--target", "iqn.x", "--portal", "p", "--listen", "unix:/x",
		"--metrics-listen", "http://x")
	require.Equal(t, exitUsage, code, stderr)
}

// memPortals serves an in-process target on two loopback ports: two
// paths to one LUN, no lab needed.
func memPortals(t *testing.T) (name, p1, p2 string) {
	tg := iscsitest.New(iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(8192, 512)}})
	t.Cleanup(func() { tg.Close() })
	var portals []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() { _ = tg.Listen(ln) }()
		portals = append(portals, ln.Addr().String())
	}
	return tg.Name(), portals[0], portals[1]
}

// jsonRecords parses JSON log lines; other lines are skipped.
func jsonRecords(t *testing.T, logs string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// gomp attach --log-format json logs each state change as one JSON
// record with the device, the portal and the cause, and serves metrics
// that promtool accepts.
func TestAttachJSONLogsAndMetrics(t *testing.T) {
	iqn, p1, p2 := memPortals(t)
	msock := filepath.Join(t.TempDir(), "metrics.sock")
	ctl, _, name, logs := startAttachLogged(t, "--target", iqn, "--portal", p1, "--portal", p2, "--lun", "1",
		"--alias", "memdev", "--log-format", "json", "--metrics-listen", "unix:"+msock)
	require.Equal(t, "memdev", name)

	code, _, stderr := runCLI(t, "path", "fail", name, p2, "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	code, _, stderr = runCLI(t, "path", "reinstate", name, p2, "--control-dir", ctl)
	require.Equal(t, exitOK, code, stderr)
	want := map[string]string{"multipath path failed": "failed by request",
		"multipath path reinstated": "reinstated by request"}
	deadline := time.Now().Add(10 * time.Second) // the records are written off the I/O path
	for {
		found := 0
		for _, r := range jsonRecords(t, logs.String()) {
			if cause, ok := want[r["msg"].(string)]; ok && r["cause"] == cause {
				require.Equal(t, name, r["device"], "%v", r)
				require.Equal(t, p2, r["portal"], "%v", r)
				require.NotEmpty(t, r["time"])
				require.NotEmpty(t, r["level"])
				found++
			}
		}
		if found == len(want) {
			break
		}
		require.True(t, time.Now().Before(deadline), "state change records missing:\n%s", logs.String())
		time.Sleep(20 * time.Millisecond)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		require.True(t, json.Valid([]byte(line)), "every log line is one JSON record: %q", line)
	}

	body := scrape(t, msock)
	require.Equal(t, "1", metricValue(t, body, `gomp_device_info{device="memdev",wwid="`+wwidOf(t, ctl, name)+`"}`))
	require.Equal(t, "1", metricValue(t, body, `gomp_path_failures_total{device="memdev",portal="`+p2+`"}`))
	if promtool, err := exec.LookPath("promtool"); err == nil {
		require.NoError(t, metrics.PromtoolCheck(promtool, body))
	}
}

// wwidOf returns the WWID gomp status reports for name.
func wwidOf(t *testing.T, ctl, name string) string {
	code, out, stderr := runCLI(t, "status", "--json", "--control-dir", ctl, name)
	require.Equal(t, exitOK, code, stderr)
	var st []control.Status
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Len(t, st, 1)
	return st[0].Device.WWID
}

// startAttachLogged is startAttach that also returns attach's stderr.
func startAttachLogged(t *testing.T, args ...string) (ctl, sock, name string, logs *syncBuffer) {
	dir := t.TempDir()
	ctl, sock = filepath.Join(dir, "ctl"), filepath.Join(dir, "dev.nbd")
	root := newRootCmd()
	var out syncBuffer
	logs = &syncBuffer{}
	root.SetOut(&out)
	root.SetErr(logs)
	root.SetArgs(append([]string{"attach", "--listen", "unix:" + sock, "--control-dir", ctl}, args...))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, "attach stops cleanly")
		case <-time.After(30 * time.Second):
			t.Error("attach did not stop after cancel")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "ready: ") {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("attach ended before ready: %v\n%s", err, logs.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "attach not ready: %s", logs.String())
		time.Sleep(20 * time.Millisecond)
	}
	return ctl, sock, strings.Fields(out.String())[1], logs
}
