package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/metrics"
	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/multipath"
)

// memDevice opens a multipath device over two paths to an in-process
// target (in-memory connections) and serves its control socket in a
// temporary directory, which it returns.
func memDevice(t *testing.T) (*multipath.Device, string) {
	t.Helper()
	tg := iscsitest.New(iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(8192, 512)}})
	var wg sync.WaitGroup
	dial := func(context.Context, string, string) (net.Conn, error) {
		ini, tgt := iscsitest.Pipe()
		wg.Go(func() { _ = tg.Serve(tgt) })
		return ini, nil
	}
	ctx := context.Background()
	dev, err := multipath.Open(ctx, multipath.Config{Target: tg.Name(), LUN: 1, Dial: dial,
		Portals: []string{"192.0.2.1:3260", "192.0.2.2:3260"}, Settings: multipath.Settings{Alias: "mem"}})
	require.NoError(t, err)
	dir := t.TempDir()
	cs, err := control.Serve(dir, dev.Name(), dev, control.Exports{}, nil)
	require.NoError(t, err)
	t.Cleanup(func() {
		cs.Close()
		require.NoError(t, dev.Close(ctx))
		tg.Close()
		wg.Wait()
	})
	return dev, dir
}

// doIO reads n and writes m 4 KiB blocks through dev.
func doIO(t *testing.T, dev *multipath.Device, n, m int) {
	t.Helper()
	buf := make([]byte, 4096)
	for i := range n {
		_, err := dev.ReadAtContext(context.Background(), buf, int64(i%64)*4096)
		require.NoError(t, err)
	}
	for i := range m {
		_, err := dev.WriteAtContext(context.Background(), buf, int64(i%64)*4096, false)
		require.NoError(t, err)
	}
}

func TestStatsCommand(t *testing.T) {
	dev, dir := memDevice(t)
	doIO(t, dev, 20, 10)

	code, out, stderr := runCLI(t, "stats", "--json", "--control-dir", dir)
	require.Equal(t, exitOK, code, stderr)
	var all []control.Stats
	require.NoError(t, json.Unmarshal([]byte(out), &all))
	require.Len(t, all, 1)
	st := all[0].Device
	require.Equal(t, "mem", st.Name)
	require.Len(t, st.Paths, 2)
	var reads, writes, read, written, cmds uint64
	for _, p := range st.Paths {
		reads, writes = reads+p.Ops["read"].Count, writes+p.Ops["write"].Count
		read, written = read+p.ReadBytes, written+p.WrittenBytes
		require.NotNil(t, p.Session)
		cmds += p.Session.PDUsOut["scsi_command"]
	}
	require.Equal(t, []uint64{20, 10, 20 * 4096, 10 * 4096}, []uint64{reads, writes, read, written})
	require.GreaterOrEqual(t, cmds, uint64(30))

	code, out, stderr = runCLI(t, "stats", "mem", "--control-dir", dir)
	require.Equal(t, exitOK, code, stderr)
	for _, want := range []string{"mem (", "failovers=0", "path 192.0.2.1:3260 active", "latency p50=",
		"errors canceled=0 invalid=0 path=0", "session logged-in", "pdus_out ", "scsi_command=", "reconnects=0"} {
		require.Contains(t, out, want)
	}
	require.Regexp(t, `ios=\d+ \(read=\d+ write=\d+ flush=0 unmap=0 write_zeroes=0\) bytes_read=\S+ KiB`, out)

	code, _, stderr = runCLI(t, "stats", "nosuch", "--control-dir", dir)
	require.Equal(t, exitFailure, code)
	require.Contains(t, stderr, "no running gomp attach")
}

// lineWriter hands each line written to it to a channel.
type lineWriter struct {
	mu    sync.Mutex
	part  []byte
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- string(w.part[:i])
		w.part = w.part[i+1:]
	}
}

// The JSON twin of gomp status --watch: one frame per interval, each
// with the I/O of its interval only.
func TestStatusWatchJSON(t *testing.T) {
	dev, dir := memDevice(t)
	doIO(t, dev, 20, 4) // all before the first frame

	root := newRootCmd()
	out := &lineWriter{lines: make(chan string, 100)}
	root.SetOut(out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"status", "--watch", "--json", "--interval", "20ms", "--control-dir", dir})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	var frames []watchFrame
	for len(frames) < 3 {
		var f watchFrame
		require.NoError(t, json.Unmarshal([]byte(<-out.lines), &f))
		frames = append(frames, f)
	}
	cancel()
	require.NoError(t, <-done)

	var ios []uint64
	for _, f := range frames {
		require.Len(t, f.Devices, 1)
		d := f.Devices[0]
		require.Equal(t, "mem", d.Name)
		require.Equal(t, 2, d.UsablePaths)
		require.Len(t, d.Paths, 2)
		require.Positive(t, f.Interval)
		var n uint64
		for _, p := range d.Paths {
			n += p.IOs
			require.Equal(t, "active", p.State)
			if p.IOs > 0 {
				require.Positive(t, p.IOPS)
				require.Positive(t, p.LatencyAvg)
			} else {
				require.Zero(t, p.IOPS)
				require.Zero(t, p.LatencyAvg)
			}
		}
		ios = append(ios, n)
	}
	require.Equal(t, []uint64{24, 0, 0}, ios, "the first frame counts since attach, the others their interval")
}

func TestWatchRates(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	path := func(ios, read, lat uint64, errs uint64) multipath.PathStats {
		return multipath.PathStats{Portal: "a", State: "active", IOs: ios, ReadBytes: read,
			Latency: multipath.LatencyStats{Count: ios, Sum: time.Duration(lat)},
			Errors:  map[string]uint64{"transport": errs, "target": 0}}
	}
	prev := multipath.DeviceStats{Name: "d", Time: t0, Paths: []multipath.PathStats{path(100, 1<<20, 100e6, 1)}}
	cur := multipath.DeviceStats{Name: "d", Time: t0.Add(2 * time.Second), Failovers: 1,
		Paths: []multipath.PathStats{path(300, 5<<20, 300e6, 3)}}
	got := rates(prev, cur)
	require.Equal(t, uint64(1), got.Failovers)
	require.Equal(t, []watchPath{{Portal: "a", State: "active", IOs: 200, IOPS: 100, ReadBPS: 2 << 20,
		LatencyAvg: time.Millisecond, Errors: 2}}, got.Paths)

	var b bytes.Buffer
	st := control.Status{Device: multipath.Status{Name: "d", Groups: []multipath.GroupStatus{{State: "active",
		Paths: []multipath.PathStatus{{Portal: "a", DMState: "active", Checker: "ready"}}}}}}
	require.NoError(t, drawWatch(&b, 2*time.Second, []control.Status{st},
		watchFrame{Time: t0, Devices: []watchDevice{got}}))
	text := b.String()
	require.Contains(t, text, "Every 2s: gomp status")
	require.Regexp(t, `a\s+active\s+100\s+2.0 MiB\s+0 B\s+1ms\s+2\s+0`, text)
	require.NotContains(t, text, "\x1b[", "no terminal escapes into a buffer")
}

// scrape GETs /metrics over a unix socket.
func scrape(t *testing.T, sock string) []byte {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://gomp/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// metricValue returns the value of the sample line that starts with
// series, e.g. `gomp_path_io_total{device="mem",op="read",portal="a"}`.
func metricValue(t *testing.T, exposition []byte, series string) string {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(exposition))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return v
		}
	}
	t.Fatalf("no %s in\n%s", series, exposition)
	return ""
}

func TestMetricsEndpoint(t *testing.T) {
	dev, _ := memDevice(t)
	doIO(t, dev, 6, 2)
	var set metrics.Devices
	set.Add(dev)
	sock := filepath.Join(t.TempDir(), "metrics.sock")
	ms, err := startMetrics("unix:"+sock, &set, newLogger(io.Discard, "text", 0))
	require.NoError(t, err)
	defer ms.Close()
	require.Equal(t, sock, ms.Addr().String())

	body := scrape(t, sock)
	p1 := `device="mem",portal="192.0.2.1:3260"`
	require.Equal(t, "1", metricValue(t, body, `gomp_path_up{`+p1+`}`))
	require.Equal(t, "1", metricValue(t, body, `gomp_path_state{`+p1+`,state="active"}`))
	require.Equal(t, "0", metricValue(t, body, `gomp_device_failovers_total{device="mem"}`))
	require.Equal(t, "1", metricValue(t, body, `gomp_session_logged_in{`+p1+`}`))
	require.Contains(t, string(body), `gomp_path_latency_seconds_bucket{device="mem",op="read",portal="192.0.2.1:3260",le="+Inf"}`)
	require.Contains(t, string(body), "go_goroutines ")
	require.Contains(t, string(body), "process_cpu_seconds_total ")
	if promtool, err := exec.LookPath("promtool"); err == nil {
		require.NoError(t, metrics.PromtoolCheck(promtool, body))
	}

	set.Remove(dev)
	require.NotContains(t, string(scrape(t, sock)), "gomp_path_up", "a detached device leaves the metrics")

	_, err = startMetrics("http://x", &set, newLogger(io.Discard, "text", 0))
	var ue *usageError
	require.ErrorAs(t, err, &ue)
}
