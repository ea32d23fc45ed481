package multipath

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/internal/testlog"

	"github.com/stretchr/testify/require"
)

// labEnv is the tgtd lab of scripts/lab.sh; tests skip without GOMP_LAB=1.
//
// The lab LUN is shared with other packages' tests, which may run at the
// same time: multipath's tests write only in [labRegion, 1 GiB), where no
// other lab test writes (iscsi uses [0, 256 MiB) and 512 MiB, cmd/gomp
// [0, 8 MiB) and 700 MiB, the demo [0, 64 MiB)).
const labRegion = 800 << 20

type labEnv struct {
	portal1, portal2, target string
}

func lab(t *testing.T) labEnv {
	t.Helper()
	if os.Getenv("GOMP_LAB") != "1" {
		t.Skip("needs the tgtd lab: run `make test` (as root), or `scripts/lab.sh up` and set GOMP_LAB=1 with its env file")
	}
	env := labEnv{portal1: os.Getenv("GOMP_LAB_PORTAL1"), portal2: os.Getenv("GOMP_LAB_PORTAL2"),
		target: os.Getenv("GOMP_LAB_TARGET")}
	if env.portal1 == "" || env.portal2 == "" || env.target == "" {
		t.Fatal("lab env GOMP_LAB_PORTAL1, GOMP_LAB_PORTAL2 or GOMP_LAB_TARGET is not set")
	}
	return env
}

// fault is an nftables table of our own that drops or resets the
// connections from one local source address (only this test's sessions
// use it) to some lab portals. Deleting the table restores them.
type fault struct {
	t     *testing.T
	table string
	src   string
	mu    sync.Mutex
	on    bool
}

// newFault prepares a fault for connections from src; it is always
// removed at the end of the test.
func newFault(t *testing.T, name, src string) *fault {
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (Debian nftables)")
	}
	f := &fault{t: t, table: fmt.Sprintf("gomp_mp_%s_%d", name, os.Getpid()), src: src}
	t.Cleanup(f.restore)
	return f
}

// cut drops (verdict "drop") or resets ("reject with tcp reset") every
// packet from src to the given portals' addresses on port 3260.
func (f *fault) cut(verdict string, portals ...string) {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	cmds := [][]string{{"add", "table", "inet", f.table},
		{"add", "chain", "inet", f.table, "out", "{ type filter hook output priority 0; }"}}
	for _, p := range portals {
		host, port, err := net.SplitHostPort(p)
		require.NoError(f.t, err)
		cmds = append(cmds, append([]string{"add", "rule", "inet", f.table, "out", "ip", "saddr", f.src,
			"ip", "daddr", host, "tcp", "dport", port}, strings.Fields(verdict)...))
	}
	f.on = true
	for _, c := range cmds {
		out, err := exec.Command("nft", c...).CombinedOutput()
		require.NoError(f.t, err, "nft %s: %s", strings.Join(c, " "), out)
	}
}

func (f *fault) restore() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		return
	}
	if out, err := exec.Command("nft", "delete", "table", "inet", f.table).CombinedOutput(); err != nil {
		f.t.Errorf("nft delete table %s: %v: %s", f.table, err, out)
	}
	f.on = false
}

// labDevice opens the lab LUN through both portals, with every session
// bound to source address src and short intervals.
func labDevice(t *testing.T, env labEnv, src string, s Settings) *Device {
	t.Helper()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := Open(ctx, Config{Target: env.target, LUN: 1, Portals: []string{env.portal1, env.portal2},
		Dial: dialer.DialContext, LoginTimeout: time.Second, ReconnectBackoff: time.Second,
		Settings: s, Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Logf("close: %v", err)
		}
	})
	return d
}

// workload writes random blocks in a region and reads each back, several
// goroutines at once, each in its own part of the region. It records
// every acknowledged write and verifies every read against it.
type workload struct {
	d       *Device
	base    int64
	bs      int
	blocks  int // per worker
	workers int

	ops, errs, mismatches atomic.Int64
	maxStall              atomic.Int64 // ns, the slowest single call
	firstErr              atomic.Value
	acked                 []map[int]uint64 // per worker: block -> sequence of the last acked write
	stop                  chan struct{}
	wg                    sync.WaitGroup
	log                   chan string // mismatch reports, printed by finish
}

func startWorkload(d *Device, workers int) *workload {
	w := &workload{d: d, base: labRegion, bs: 4096, blocks: 256, workers: workers, stop: make(chan struct{}),
		log: make(chan string, 64)}
	for range workers {
		w.acked = append(w.acked, map[int]uint64{})
	}
	for i := range workers {
		w.wg.Go(func() { w.run(i) })
	}
	return w
}

func (w *workload) offset(worker, block int) int64 {
	return w.base + int64((worker*w.blocks+block)*w.bs)
}

// fill writes a block's content for a sequence number.
func fill(buf []byte, worker, block int, seq uint64) {
	for i := 0; i < len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], seq^uint64(worker)<<48^uint64(block)<<32^uint64(i))
	}
}

func (w *workload) run(worker int) {
	rng := rand.New(rand.NewPCG(uint64(worker), 42))
	wbuf, rbuf, want := make([]byte, w.bs), make([]byte, w.bs), make([]byte, w.bs)
	for seq := uint64(1); ; seq++ {
		select {
		case <-w.stop:
			return
		default:
		}
		b := rng.IntN(w.blocks)
		fill(wbuf, worker, b, seq)
		if w.timed(func() error {
			_, err := w.d.WriteAtContext(context.Background(), wbuf, w.offset(worker, b), false)
			return err
		}) {
			w.acked[worker][b] = seq
		} else {
			delete(w.acked[worker], b) // unknown now: old or new content
			continue
		}
		if w.timed(func() error { _, err := w.d.ReadAtContext(context.Background(), rbuf, w.offset(worker, b)); return err }) {
			fill(want, worker, b, seq)
			if !bytes.Equal(rbuf, want) {
				w.mismatch("read-back", worker, b, seq, rbuf)
			}
		}
	}
}

// mismatch records a block that does not hold the last acknowledged
// write, decoding which write it holds instead.
func (w *workload) mismatch(when string, worker, block int, want uint64, got []byte) {
	if w.mismatches.Add(1) > 20 {
		return
	}
	found := binary.LittleEndian.Uint64(got) ^ uint64(worker)<<48 ^ uint64(block)<<32
	w.log <- fmt.Sprintf("%s mismatch at %v: worker %d block %d (offset %d): want write #%d, found #%d (%x)",
		when, time.Now().Format("15:04:05.000"), worker, block, w.offset(worker, block), want, found, got[:16])
}

func (w *workload) ackedCount() int {
	n := 0
	for _, m := range w.acked {
		n += len(m)
	}
	return n
}

// timed runs one I/O, keeping the error count and the worst latency.
func (w *workload) timed(io func() error) bool {
	start := time.Now()
	err := io()
	el := int64(time.Since(start))
	for {
		cur := w.maxStall.Load()
		if el <= cur || w.maxStall.CompareAndSwap(cur, el) {
			break
		}
	}
	w.ops.Add(1)
	if err != nil {
		w.errs.Add(1)
		w.firstErr.CompareAndSwap(nil, err)
		return false
	}
	return true
}

// finish stops the workload and reads back every acknowledged block.
func (w *workload) finish(t *testing.T) {
	close(w.stop)
	w.wg.Wait()
	t.Logf("workers stopped; verifying %d blocks", w.ackedCount())
	buf, want := make([]byte, w.bs), make([]byte, w.bs)
	for worker, blocks := range w.acked {
		for b, seq := range blocks {
			_, err := w.d.ReadAtContext(context.Background(), buf, w.offset(worker, b))
			require.NoError(t, err)
			fill(want, worker, b, seq)
			if !bytes.Equal(buf, want) {
				w.mismatch("final", worker, b, seq, buf)
			}
		}
	}
	if e := w.firstErr.Load(); e != nil {
		t.Logf("first I/O error: %v", e)
	}
	for len(w.log) > 0 {
		t.Log(<-w.log)
	}
	t.Logf("workload: %d I/Os, %d errors, %d mismatches, worst stall %v",
		w.ops.Load(), w.errs.Load(), w.mismatches.Load(), time.Duration(w.maxStall.Load()).Round(time.Millisecond))
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
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func pathStatus(d *Device, portal string) PathStatus {
	for _, g := range d.Status().Groups {
		for _, p := range g.Paths {
			if p.Portal == portal {
				return p
			}
		}
	}
	return PathStatus{}
}

// failoverUnderLoad: I/O on both paths; portal 2 faults; I/O carries on
// through portal 1 with no error and no lost write; portal 2 comes back
// within two polling intervals of the fault's end.
func failoverUnderLoad(t *testing.T, name, src, verdict string) {
	env := lab(t)
	const polling = 2 * time.Second
	d := labDevice(t, env, src, Settings{PollingInterval: polling, NoPathRetry: 5})
	t.Logf("device %s: policy %s, selector %s", d.Name(), d.Status().Policy, d.Status().Selector)
	f := newFault(t, name, src)
	w := startWorkload(d, 4)
	time.Sleep(time.Second)
	before := pathStatus(d, env.portal2).Completed
	require.NotZero(t, before, "both paths carry I/O")

	t.Logf("fault on at %s", time.Now().Format("15:04:05.000"))
	f.cut(verdict, env.portal2)
	detect := waitFor(t, 10*time.Second, "portal 2 failed", func() bool { return pathStatus(d, env.portal2).DMState == "failed" })
	time.Sleep(2 * time.Second)
	f.restore()
	t.Logf("fault off at %s", time.Now().Format("15:04:05.000"))
	back := waitFor(t, 2*polling, "portal 2 back", func() bool { return pathStatus(d, env.portal2).DMState == "active" })
	after := pathStatus(d, env.portal2).Completed
	time.Sleep(time.Second)
	require.Greater(t, pathStatus(d, env.portal2).Completed, after, "portal 2 carries I/O again")
	stopAt := time.Now()
	w.finish(t)
	t.Logf("workload stop and final verification took %v", time.Since(stopAt).Round(time.Millisecond))
	t.Logf("%s: failure detected after %v, path back %v after the fault ended (polling %v)",
		name, detect.Round(time.Millisecond), back.Round(time.Millisecond), polling)
	require.Zero(t, w.errs.Load(), "I/O errors")
	require.Zero(t, w.mismatches.Load(), "mismatches")
}

func TestLabBlackholePortal2(t *testing.T) {
	failoverUnderLoad(t, "blackhole", "127.0.0.11", "drop")
}

func TestLabResetPortal2(t *testing.T) {
	failoverUnderLoad(t, "reset", "127.0.0.12", "reject with tcp reset")
}

// TestLabCutBothPaths: with no path, queued I/O fails after no_path_retry
// and the call returns; with queueing forever, DisableQueueing and the
// caller's context end it; after the fault the device works again.
func TestLabCutBothPaths(t *testing.T) {
	env := lab(t)
	const polling = time.Second
	src := "127.0.0.13"
	d := labDevice(t, env, src, Settings{PollingInterval: polling, NoPathRetry: 2})
	f := newFault(t, "cutboth", src)
	buf := make([]byte, 4096)
	_, err := d.ReadAtContext(context.Background(), buf, labRegion)
	require.NoError(t, err)

	f.cut("drop", env.portal1, env.portal2)
	start := time.Now()
	_, err = d.ReadAtContext(context.Background(), buf, labRegion)
	el := time.Since(start)
	require.ErrorIs(t, err, ErrNoPath)
	t.Logf("no_path_retry 2 × %v: the read failed after %v: %v", polling, el.Round(time.Millisecond), err)
	require.Less(t, el, 3*time.Second+2*polling+2*time.Second, "detection (NOP ≤ 3 s) + no_path_retry")

	d.mu.Lock()
	d.set.NoPathRetry = NoPathRetryQueue // now queue forever
	d.mu.Unlock()
	d.RestoreQueueing()
	d.DisableQueueing()
	d.RestoreQueueing()
	require.True(t, d.Status().Queueing)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	start = time.Now()
	_, err = d.ReadAtContext(ctx, buf, labRegion)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	t.Logf("queue forever: the caller's context ended the read after %v", time.Since(start).Round(time.Millisecond))

	done := make(chan error, 1)
	go func() { _, err := d.ReadAtContext(context.Background(), buf, labRegion); done <- err }()
	waitFor(t, 5*time.Second, "read queued", func() bool { return d.Status().QueuedIOs == 1 })
	start = time.Now()
	d.DisableQueueing()
	require.ErrorIs(t, <-done, ErrNoPath)
	t.Logf("queue forever: DisableQueueing ended the read after %v", time.Since(start).Round(time.Millisecond))
	d.RestoreQueueing()

	f.restore()
	t.Logf("fault off at %s", time.Now().Format("15:04:05.000"))
	back := waitFor(t, 2*polling+3*time.Second, "a path back", func() bool { return len(d.active.Load().paths) > 0 })
	t.Logf("first path back %v after the fault ended", back.Round(time.Millisecond))
	_, err = d.ReadAtContext(context.Background(), buf, labRegion)
	require.NoError(t, err)
}

// TestLabUnreachablePortalAtOpen: a portal that refuses connections at
// Open is a failed path; the device works through the other one.
func TestLabUnreachablePortalAtOpen(t *testing.T) {
	env := lab(t)
	host, _, err := net.SplitHostPort(env.portal1)
	require.NoError(t, err)
	dead := net.JoinHostPort(host, "1") // nothing listens on port 1
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := Open(ctx, Config{Target: env.target, LUN: 1, Portals: []string{dead, env.portal2},
		LoginTimeout: time.Second, Settings: Settings{PollingInterval: time.Second}, Logger: testLogger(t)})
	require.NoError(t, err)
	defer d.Close(ctx)
	require.Equal(t, "failed", pathStatus(d, dead).State)
	require.Contains(t, pathStatus(d, dead).LastError, "connect")
	_, err = d.WriteAtContext(ctx, make([]byte, 4096), labRegion, true)
	require.NoError(t, err)
	require.NoError(t, d.Flush(ctx))

	_, err = Open(ctx, Config{Target: env.target, LUN: 1, Portals: []string{dead}, LoginTimeout: time.Second})
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrNoPath))
	t.Logf("open with no reachable portal: %v", err)
}

// testLogger logs through t.Log until the test ends.
func testLogger(t *testing.T) *slog.Logger { return testlog.New(t) }

// TestLabNoStaleWriteAfterBlackhole: a write stuck on a blackholed path is
// retried on the other one, then overwritten there; when the blackhole
// lifts, the dead connection must not deliver the old write to the target
// (its socket is closed abortively, so the kernel drops the unsent data
// instead of retransmitting it).
func TestLabNoStaleWriteAfterBlackhole(t *testing.T) {
	env := lab(t)
	src := "127.0.0.14"
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	d, err := Open(ctx, Config{Target: env.target, LUN: 1, Portals: []string{env.portal1, env.portal2},
		Dial: dialer.DialContext, NOPInterval: 200 * time.Millisecond, NOPTimeout: 400 * time.Millisecond,
		LoginTimeout: time.Second, Settings: Settings{PollingInterval: time.Second}, Logger: testLogger(t)})
	require.NoError(t, err)
	defer d.Close(ctx)
	f := newFault(t, "stale", src)
	const off = labRegion + 64<<20
	old, newer := bytes.Repeat([]byte{0xA1}, 64<<10), bytes.Repeat([]byte{0xB2}, 64<<10) // immediate data: no R2T needed

	require.NoError(t, d.FailPath(env.portal1)) // the old write must go through portal 2
	f.cut("drop", env.portal2)
	done := make(chan error, 1)
	go func() { _, err := d.WriteAtContext(ctx, old, off, false); done <- err }()
	waitFor(t, 2*time.Second, "write in flight on portal 2", func() bool { return pathStatus(d, env.portal2).InFlight == 1 })
	require.NoError(t, d.ReinstatePath(env.portal1))
	require.NoError(t, <-done, "retried through portal 1 once portal 2 was found dead")
	_, err = d.WriteAtContext(ctx, newer, off, false)
	require.NoError(t, err)
	f.restore() // the dead connection's retransmissions could now reach tgtd
	time.Sleep(4 * time.Second)
	got := make([]byte, len(newer))
	_, err = d.ReadAtContext(ctx, got, off)
	require.NoError(t, err)
	require.True(t, bytes.Equal(newer, got), "a stale write replaced newer data (first bytes %x)", got[:8])
}
