package chaostest

import (
	"context"
	"errors"
	"github.com/gomp-dev/gomp/internal/testlog"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/nbd"
	"github.com/stretchr/testify/require"
)

// Our part of lab LUN 1: [300 MiB, 500 MiB). The workers use all but the
// last MiB, which the both-paths-down phase writes to.
const (
	regionBase  = 300 << 20
	regionEnd   = 500 << 20
	scratchBase = regionEnd - 1<<20
)

// Source addresses of our sessions, used by no other lab test.
const (
	source1 = "127.0.0.31"
	source2 = "127.0.0.32"
)

const (
	polling     = time.Second
	noPathRetry = 3
)

func TestLabChaos(t *testing.T) {
	env := lab(t)
	dur := chaosDuration(t)
	removed, err := RemoveStaleTables()
	require.NoError(t, err)
	if len(removed) > 0 {
		t.Logf("removed nft tables of dead runs: %v", removed)
	}
	fault := NewFault("paths")
	t.Cleanup(func() {
		if err := fault.Restore(); err != nil {
			t.Error(err)
		}
	})
	paths := []Path{{Portal: env.portal1, Source: source1}, {Portal: env.portal2, Source: source2}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	st, err := OpenStack(ctx, StackConfig{Target: env.target, LUN: 1, Paths: paths, Logger: testLogger(t),
		// Damping holds a flapping path back for FlapHold; kept short so
		// that the controller can soon fault the other path again.
		Settings: multipath.Settings{PollingInterval: polling, NoPathRetry: noPathRetry, FlapHold: 5 * time.Second}})
	cancel()
	require.NoError(t, err)
	closed := false
	t.Cleanup(func() {
		if !closed {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			st.Close(ctx)
			// Connections whose reset a blackhole dropped stay in tgtd.
			for _, src := range []string{source1, source2} {
				if n, err := env.tgtd.KillFrom(src); n > 0 || err != nil {
					t.Logf("deleted %d leftover tgtd connection(s) from %s: %v", n, src, err)
				}
			}
		}
	})
	clients := dialClients(t, st, 2)

	w := mainPhase(t, st, fault, env, clients, dur)
	finalVerification(t, st, w)
	bothPathsDown(t, st, fault, clients[0], paths)

	shutdown(t, st, env.tgtd, clients)
	closed = true
}

// shutdown closes the clients and the stack once both paths are back,
// and checks that tgtd is left with no connection of ours. (A connection
// closed while blackholed stays open in tgtd, its reset lost; the next
// login with the same ISID reinstates the session, which ends it.)
func shutdown(t *testing.T, st *Stack, tgtd Tgtd, clients []*Client) {
	took := waitFor(t, time.Minute, "both paths active", func() bool { return st.ActivePaths() == 2 })
	t.Logf("both paths active %v after the recovery", took.Round(time.Millisecond))
	for _, c := range clients {
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, st.Close(ctx), "clean shutdown")
	var left []Conn
	waitFor(t, 30*time.Second, "tgtd has no connection of ours after close", func() bool {
		c1, err1 := tgtd.Conns(source1)
		c2, err2 := tgtd.Conns(source2)
		left = append(c1, c2...)
		return err1 == nil && err2 == nil && len(left) == 0
	})
	t.Log("shutdown clean: server drained, device closed, sessions logged out")
}

// mainPhase runs the workload under the controller for dur and checks
// that no I/O failed and no read-back mismatched.
func mainPhase(t *testing.T, st *Stack, fault *Fault, env labEnv, clients []*Client, dur time.Duration) *Workload {
	w := &Workload{Clients: clients, Base: regionBase, Size: scratchBase - regionBase, Workers: 8}
	ctrl := &Controller{Stack: st, Fault: fault, Tgtd: env.tgtd, Rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
		Logf: t.Logf}
	t.Logf("main phase: %v, %d workers on %d NBD connections, region [%d MiB, %d MiB)",
		dur, w.Workers, len(clients), regionBase>>20, scratchBase>>20)
	w.Start()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	err := ctrl.Run(ctx)
	cancel()
	w.Stop()
	require.NoError(t, err, "controller")
	s := w.Stats()
	for _, m := range w.Mismatches() {
		t.Log(m)
	}
	if s.FirstError != nil {
		t.Logf("first I/O error: %v", s.FirstError)
	}
	t.Logf("chaos: %s", ctrl.Summary())
	t.Logf("device events: %d path failed, %d path reinstated, %d path stalled, %d no path, %d queueing expired",
		st.Events(multipath.EventPathFailed), st.Events(multipath.EventPathReinstated), st.Events(multipath.EventPathStalled),
		st.Events(multipath.EventNoPath), st.Events(multipath.EventQueueingExpired))
	for _, g := range st.Dev.Status().Groups {
		for _, p := range g.Paths {
			t.Logf("path %s: %s, %d I/Os completed, %d errors, %d recent failures", p.Portal, p.State, p.Completed, p.Errors, p.Failures)
		}
	}
	t.Logf("REPORT main phase: %d I/Os completed (%d writes, %d reads, %d flushes; %d MiB written, %d MiB read), "+
		"%d errors, %d mismatched sectors, worst I/O stall %v",
		s.IOs-s.Errors, s.Writes, s.Reads, s.Flushes, s.BytesWritten>>20, s.BytesRead>>20,
		s.Errors, s.Mismatches, s.WorstStall.Round(time.Millisecond))
	require.Zero(t, s.Errors, "I/O errors while a path lived")
	require.Zero(t, s.Mismatches, "read-back mismatches")
	require.NotZero(t, s.Writes)
	return w
}

// finalVerification reads every recorded sector back.
func finalVerification(t *testing.T, st *Stack, w *Workload) {
	took := waitFor(t, time.Minute, "a path active", func() bool { return st.ActivePaths() > 0 })
	t.Logf("final verification with %d active path(s) (waited %v)", st.ActivePaths(), took.Round(time.Millisecond))
	before := len(w.Mismatches())
	fc := w.VerifyAll()
	for _, m := range w.Mismatches()[before:] {
		t.Log(m)
	}
	t.Logf("REPORT final verification: %d sectors of %d acknowledged writes checked, %d lost sectors, "+
		"%d acknowledged writes lost, %d sectors of failed writes skipped, %d read errors",
		fc.Sectors, fc.Writes, fc.LostSectors, fc.LostWrites, fc.Unknown, fc.ReadErrors)
	require.Zero(t, fc.ReadErrors, "final verification reads")
	require.Zero(t, fc.LostSectors, "acknowledged writes lost")
	require.NotZero(t, fc.Sectors)
}

// bothPathsDown cuts every path: I/O queued or issued then must fail with
// an error once no_path_retry expires, not hang; once the paths are back
// the same NBD connection works again.
func bothPathsDown(t *testing.T, st *Stack, fault *Fault, c *Client, paths []Path) {
	require.NoError(t, fault.Cut(Blackhole, paths...))
	start := time.Now()
	t.Logf("both paths blackholed at %s (no_path_retry %d × %v)", start.Format("15:04:05.000"), noPathRetry, polling)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = scratchIO(c, i) })
	}
	wg.Wait()
	t.Logf("REPORT both paths down: %d I/Os failed after %v", len(errs), time.Since(start).Round(time.Millisecond))
	for i, err := range errs {
		requireIOError(t, err, i)
	}
	t.Logf("first error: %v", errs[0])
	late := time.Now()
	requireIOError(t, scratchIO(c, 4), 4)
	t.Logf("an I/O issued after expiry failed after %v", time.Since(late).Round(time.Millisecond))

	require.NoError(t, fault.Restore())
	back := waitFor(t, time.Minute, "a path back", func() bool { return st.ActivePaths() > 0 })
	t.Logf("a path back %v after the fault ended", back.Round(time.Millisecond))
	require.NoError(t, scratchIO(c, 0), "I/O on the same NBD connection after recovery")
}

// scratchIO reads (even i) or writes (odd i) 64 KiB in the scratch MiB,
// with a hang guard far beyond detection plus no_path_retry.
func scratchIO(c *Client, i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	buf := make([]byte, 64<<10)
	off := int64(scratchBase + i*len(buf))
	if i%2 == 0 {
		return c.ReadAt(ctx, buf, off)
	}
	return c.WriteAt(ctx, buf, off, false)
}

func requireIOError(t *testing.T, err error, i int) {
	t.Helper()
	require.Error(t, err, "I/O %d with no path", i)
	require.False(t, errors.Is(err, context.DeadlineExceeded), "I/O %d hung: %v", i, err)
	var ne *nbd.Error
	require.ErrorAs(t, err, &ne, "I/O %d: an NBD error reply", i)
}

func dialClients(t *testing.T, st *Stack, n int) []*Client {
	var cs []*Client
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := st.Dial(ctx)
		cancel()
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		cs = append(cs, c)
	}
	require.NotZero(t, cs[0].Flags()&nbd.FlagSendFlush, "export flags %s", cs[0].Flags())
	return cs
}

// chaosDuration is GOMP_CHAOS_DURATION (default 2m), shortened to fit
// the test's deadline with three minutes left for the later phases.
func chaosDuration(t *testing.T) time.Duration {
	dur := 2 * time.Minute
	if v := os.Getenv("GOMP_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		require.NoError(t, err, "GOMP_CHAOS_DURATION")
		dur = d
	}
	if dl, ok := t.Deadline(); ok {
		if left := time.Until(dl) - 3*time.Minute; left < dur {
			t.Logf("main phase shortened from %v to %v to fit -timeout", dur, left.Round(time.Second))
			dur = max(left, 10*time.Second)
		}
	}
	return dur
}

type labEnv struct {
	portal1, portal2, target string
	tgtd                     Tgtd
}

// lab returns the lab's settings; the test skips without GOMP_LAB=1, nft
// or tgtadm.
func lab(t *testing.T) labEnv {
	t.Helper()
	if os.Getenv("GOMP_LAB") != "1" {
		t.Skip("needs the tgtd lab: run `make test` or `make chaos` (as root), or `scripts/lab.sh up` and set GOMP_LAB=1 with its env file")
	}
	for _, tool := range []string{"nft", "tgtadm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	env := labEnv{portal1: os.Getenv("GOMP_LAB_PORTAL1"), portal2: os.Getenv("GOMP_LAB_PORTAL2"),
		target: os.Getenv("GOMP_LAB_TARGET")}
	if env.portal1 == "" || env.portal2 == "" || env.target == "" {
		t.Fatal("lab env GOMP_LAB_PORTAL1, GOMP_LAB_PORTAL2 or GOMP_LAB_TARGET is not set")
	}
	env.tgtd = Tgtd{CTL: os.Getenv("GOMP_LAB_CTL"), Target: env.target}
	return env
}

// waitFor polls cond until it holds or limit passes; it returns how long
// that took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// testLogger logs through t.Log until the test ends.
func testLogger(t *testing.T) *slog.Logger { return testlog.New(t) }
