package multipath

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/stretchr/testify/require"
)

// slowPath is a fake path whose reads and writes take delay, on the
// synctest clock.
type slowPath struct {
	*fakePath
	delay time.Duration
}

func (s *slowPath) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.fakePath.ReadAtContext(ctx, p, off)
}

func (s *slowPath) WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error) {
	time.Sleep(s.delay)
	return s.fakePath.WriteAtContext(ctx, p, off, fua)
}

// openIOs is openFakes for any pathIO.
func openIOs(t *testing.T, cfg Config, ios ...pathIO) *Device {
	t.Helper()
	cfg.Portals = nil
	for i := range ios {
		cfg.Portals = append(cfg.Portals, fmt.Sprintf("p%d", i))
	}
	d, err := open(context.Background(), cfg.withDefaults(), ios)
	require.NoError(t, err)
	return d
}

func pathStats(d *Device, portal string) PathStats {
	for _, p := range d.Stats().Paths {
		if p.Portal == portal {
			return p
		}
	}
	return PathStats{}
}

// I/O counts, bytes and latencies by operation, per path.
func TestStatsCountIOAndLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0 := &slowPath{fakePath: newFake(disk), delay: 200 * time.Microsecond}
		p1 := &slowPath{fakePath: newFake(disk), delay: 3 * time.Millisecond}
		d := openIOs(t, testConfig(Settings{PathSelector: "round-robin 0"}), p0, p1)
		defer closeDev(t, d)
		ctx := context.Background()
		for i := range 10 { // five on each path
			_, err := d.ReadAtContext(ctx, make([]byte, 4096), int64(i)*4096)
			require.NoError(t, err)
		}
		for range 4 {
			_, err := d.WriteAtContext(ctx, make([]byte, 8192), 0, false)
			require.NoError(t, err)
		}
		require.NoError(t, d.Flush(ctx))

		st := d.Stats()
		require.Equal(t, testWWID, st.Name)
		require.Len(t, st.Paths, 2)
		require.Equal(t, uint64(15), st.Paths[0].IOs+st.Paths[1].IOs)
		for i, want := range []time.Duration{200 * time.Microsecond, 3 * time.Millisecond} {
			ps := st.Paths[i]
			require.True(t, ps.Up)
			require.Equal(t, "active", ps.State)
			require.Equal(t, uint64(5), ps.Ops["read"].Count)
			require.Equal(t, uint64(2), ps.Ops["write"].Count)
			require.Equal(t, uint64(5*4096), ps.ReadBytes)
			require.Equal(t, uint64(2*8192), ps.WrittenBytes)
			require.Equal(t, 7*want, ps.Ops["read"].Sum+ps.Ops["write"].Sum)
			for _, p := range []time.Duration{ps.Ops["read"].P50, ps.Latency.P90, ps.Latency.P99} {
				require.InEpsilon(t, float64(want), float64(p), 0.25, "percentile %v of %v reads", p, want)
			}
			require.Equal(t, uint64(7), ps.Ops["read"].Count+ps.Ops["write"].Count)
			require.Equal(t, ps.IOs, ps.Latency.Count)
			require.Zero(t, sumCounts(ps.Errors))
			require.Nil(t, ps.Session, "fakes have no iSCSI session")
		}
		require.Equal(t, uint64(1), st.Paths[0].Ops["flush"].Count+st.Paths[1].Ops["flush"].Count)
		require.Zero(t, st.Failovers+st.Failbacks+st.NoPathEvents+st.QueuedTotal)
		require.Equal(t, 2, st.UsablePaths)
	})
}

func sumCounts(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func TestErrorClass(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	tests := []struct {
		ctx  context.Context
		err  error
		want ErrorClass
	}{
		{bg, errFakeConn, ErrorTransport},
		{bg, fmt.Errorf("x: %w", iscsi.ErrSessionClosed), ErrorTransport},
		{bg, context.DeadlineExceeded, ErrorTransport},
		{bg, senseErr(scsi.KeyMediumError, 0x11, 0), ErrorTarget},
		{bg, senseErr(scsi.KeyIllegalRequest, 0x24, 0), ErrorTarget},
		{bg, senseErr(scsi.KeyUnitAttention, 0x29, 0), ErrorRetryable},
		{bg, errBusy, ErrorRetryable},
		{bg, senseErr(scsi.KeyNotReady, 0x04, 0x0b), ErrorPath},
		{bg, errACAActive, ErrorPath},
		{bg, &iscsi.RejectError{}, ErrorRejected},
		{bg, iscsi.ErrUnaligned, ErrorInvalid},
		{bg, errors.ErrUnsupported, ErrorInvalid},
		{bg, errors.New("something else"), ErrorPath},
		{canceled, fmt.Errorf("%w: %w", iscsi.ErrAborted, context.Canceled), ErrorCanceled},
	}
	for _, tc := range tests {
		got := errorClass(tc.ctx, tc.err)
		require.Equal(t, tc.want, got, "%v", tc.err)
		if tc.ctx == bg {
			// The classes follow what the device does.
			fails := classify(tc.ctx, tc.err) == actFailPath
			require.Equal(t, fails, got == ErrorTransport || got == ErrorPath, "%v", tc.err)
		}
	}
	require.Equal(t, []string{"transport", "path", "target", "retryable", "rejected", "invalid", "canceled"},
		errorClassNames[:])
}

// A path failure counts a failover, an error of its class and the I/O
// retried elsewhere; the failback and reinstatement are counted too.
func TestStatsFailoverAndFailback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _, _ := failoverDevice(t, FailbackImmediate) // p0 failed, I/O moved to p1
		defer closeDev(t, d)
		st := d.Stats()
		require.Equal(t, uint64(1), st.Failovers)
		require.Equal(t, uint64(1), st.GroupSwitches)
		require.Zero(t, st.Failbacks)
		p0 := st.Paths[0]
		require.False(t, p0.Up)
		require.Equal(t, uint64(1), p0.Errors["transport"])
		require.Equal(t, uint64(1), p0.RetriedElsewhere)
		require.Equal(t, uint64(1), p0.Failures)
		require.Contains(t, p0.LastError, "connection reset by fake")
		require.Equal(t, uint64(1), st.Paths[1].Ops["read"].Count)

		time.Sleep(time.Second + time.Millisecond) // the checker reinstates p0, failback
		st = d.Stats()
		require.Equal(t, uint64(1), st.Failbacks)
		require.Equal(t, uint64(2), st.GroupSwitches)
		require.Equal(t, uint64(1), st.Paths[0].Reinstatements)
		require.True(t, st.Paths[0].Up)
		require.Zero(t, st.NoPathEvents)
	})
}

// Time without a usable path, queued I/O, and I/O failed for want of a
// path.
func TestStatsNoPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p0 := newFake(newFakeDisk())
		d := openFakes(t, testConfig(Settings{NoPathRetry: NoPathRetryQueue}), p0)
		defer closeDev(t, d)
		p0.set(func(f *fakePath) { f.down = true })
		done := make(chan error, 1)
		go func() { _, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0); done <- err }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		st := d.Stats()
		require.True(t, st.NoPath)
		require.Equal(t, 10*time.Second, st.NoPathTime)
		require.Equal(t, int64(1), st.QueuedIOs)
		require.Equal(t, uint64(1), st.QueuedTotal)
		require.Equal(t, uint64(1), st.NoPathEvents)
		require.Zero(t, st.UsablePaths)
		require.Zero(t, st.Failovers, "nowhere to fail over to")

		p0.restore()
		require.NoError(t, <-done)
		st = d.Stats()
		require.False(t, st.NoPath)
		require.Zero(t, st.QueuedIOs)
		out := st.NoPathTime
		require.Greater(t, out, 10*time.Second)
		time.Sleep(time.Minute)
		require.Equal(t, out, d.Stats().NoPathTime, "the clock stopped with the path back")

		d.DisableQueueing()
		p0.set(func(f *fakePath) { f.down = true })
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.ErrorIs(t, err, ErrNoPath)
		st = d.Stats()
		require.Equal(t, uint64(1), st.NoPathErrors)
		require.Equal(t, uint64(2), st.NoPathEvents)
		p0.restore()
		time.Sleep(2 * time.Second)
	})
}

// logRecords collects JSON log records; safe for concurrent use.
type logRecords struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logRecords) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records returns the records whose message starts with prefix.
func (l *logRecords) records(t *testing.T, prefix string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		if msg, _ := m["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// Every state change is one log record naming the device and the cause,
// and the portal of the path behind it.
func TestStateChangesAreLoggedWithDevicePortalAndCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs logRecords
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		cfg := testConfig(Settings{GroupingPolicy: GroupFailover, NoPathRetry: NoPathRetryQueue, Alias: "data"})
		cfg.Logger = logs.logger()
		d := openFakes(t, cfg, p0, p1)
		defer closeDev(t, d)
		ctx := context.Background()

		p0.set(func(f *fakePath) { f.down = true }) // failover to p1
		_, err := d.ReadAtContext(ctx, make([]byte, 512), 0)
		require.NoError(t, err)
		p1.set(func(f *fakePath) { f.down = true }) // no path: I/O queues
		done := make(chan error, 1)
		go func() { _, err := d.ReadAtContext(ctx, make([]byte, 512), 0); done <- err }()
		time.Sleep(5 * time.Second)
		p1.restore() // the checker reinstates p1, queued I/O resumes
		require.NoError(t, <-done)
		d.DisableQueueing()
		d.RestoreQueueing()
		synctest.Wait()

		want := map[string]bool{"path failed": true, "group switched": true, "no path": true,
			"path reinstated": true, "paths restored": true, "queueing disabled": false, "queueing restored": false}
		seen := map[string]bool{}
		for _, r := range logs.records(t, "multipath ") {
			kind := strings.TrimPrefix(r["msg"].(string), "multipath ")
			if _, ok := want[kind]; !ok {
				continue
			}
			seen[kind] = true
			require.Equal(t, "data", r["device"], "%v", r)
			require.NotEmpty(t, r["cause"], "%v", r)
			if want[kind] {
				require.Contains(t, []any{"p0", "p1"}, r["portal"], "%v", r)
			}
		}
		for kind := range want {
			require.True(t, seen[kind], "no %q record", kind)
		}
	})
}

// Over real iSCSI sessions (the in-process target): each path carries its
// session's counters, and the sessions' own records (connection lost,
// reconnect attempts with their error) name the device.
func TestInMemorySessionStatsAndReconnectLogs(t *testing.T) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(42)
	const name = "iqn.2026-11.dev.gomp:mem"
	_, a := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun}})
	tgB, b := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun}})
	var refuse atomic.Bool
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if refuse.Load() && addr == b {
			return nil, errors.New("refused by the test")
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	var logs logRecords
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Open(ctx, Config{Target: name, LUN: 1, Portals: []string{a, b}, LoginTimeout: time.Second,
		ReconnectBackoff: 100 * time.Millisecond, Dial: dial, Logger: logs.logger(),
		Settings: Settings{PollingInterval: 200 * time.Millisecond, Alias: "mem"}})
	require.NoError(t, err)
	defer d.Close(ctx)
	buf := make([]byte, 4096)
	for i := range 8 {
		_, err := d.WriteAtContext(ctx, buf, int64(i)*4096, false)
		require.NoError(t, err)
		_, err = d.ReadAtContext(ctx, buf, int64(i)*4096)
		require.NoError(t, err)
	}
	st := d.Stats()
	var reads, writes uint64
	for _, p := range st.Paths {
		require.NotNil(t, p.Session, p.Portal)
		require.Equal(t, p.Portal, p.Session.Portal)
		require.Equal(t, "logged-in", p.Session.State)
		require.NotZero(t, p.Session.PDUsOut["login_request"])
		require.GreaterOrEqual(t, p.Session.PDUsOut["scsi_command"], p.IOs, "plus the probes")
		require.GreaterOrEqual(t, p.Session.DataInBytes, p.ReadBytes)
		require.GreaterOrEqual(t, p.Session.DataOutBytes, p.WrittenBytes)
		reads, writes = reads+p.Ops["read"].Count, writes+p.Ops["write"].Count
	}
	require.Equal(t, []uint64{8, 8}, []uint64{reads, writes})

	refuse.Store(true)
	for _, c := range tgB.Conns() {
		c.Reset()
	}
	waitFor(t, 10*time.Second, "a failed reconnect", func() bool {
		s := pathStats(d, b).Session
		return s != nil && s.LoginFailures > 0
	})
	refuse.Store(false)
	waitFor(t, 10*time.Second, "path b back", func() bool {
		p := pathStats(d, b)
		return p.Up && p.Session.Reconnects == 1
	})
	s := pathStats(d, b).Session
	require.Equal(t, uint64(1), s.ConnectionFailures)
	require.Contains(t, s.LastLoginError, "refused by the test")

	for _, msg := range []string{"iscsi connection failed", "iscsi reconnect failed", "iscsi session reinstated"} {
		recs := logs.records(t, msg)
		require.NotEmpty(t, recs, msg)
		for _, r := range recs {
			require.Equal(t, "mem", r["device"], "%v", r)
			require.Equal(t, b, r["portal"], "%v", r)
		}
	}
	for _, r := range logs.records(t, "iscsi reconnect failed") {
		require.Contains(t, r["err"], "refused by the test")
	}
}
