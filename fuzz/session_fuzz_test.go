package fuzz

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

const (
	fuzzTarget    = "iqn.2026-11.dev.gomp:fuzz-target"
	fuzzInitiator = "iqn.2026-11.dev.gomp:fuzz-initiator"
	fuzzPortal    = "fuzz:3260"
	blockSize     = 512
	ioSize        = 4096
	// maxAlloc bounds what one run may allocate: the initiator's buffers
	// are sized by negotiated limits (256 KiB segments), so a run that
	// allocates more trusted a length field it should not have.
	maxAlloc = 64 << 20
	// maxRun bounds one run in the bubble's virtual time: every step has
	// its own timeout well inside it.
	maxRun = 5 * time.Minute
)

// turn is one step of a scripted target: wait until the initiator has
// sent Wait more PDUs, then send Data.
type turn struct {
	Wait int
	Data []byte
}

// parseScript reads turns from b: a byte holding the wait (mod 4), a
// big-endian 16-bit length, that many bytes (fewer if b ends first).
func parseScript(b []byte) []turn {
	var turns []turn
	for len(b) >= 3 {
		n := min(int(b[1])<<8|int(b[2]), len(b)-3)
		turns = append(turns, turn{Wait: int(b[0] % 4), Data: b[3 : 3+n]})
		b = b[3+n:]
	}
	return turns
}

// appendScript encodes turns as parseScript reads them; a turn longer
// than 64 KiB is split.
func appendScript(b []byte, turns []turn) []byte {
	for _, t := range turns {
		wait, data := t.Wait, t.Data
		for first := true; first || len(data) > 0; first = false {
			n := min(len(data), 0xffff)
			b = append(b, byte(wait), byte(n>>8), byte(n))
			b = append(b, data[:n]...)
			data, wait = data[n:], 0
		}
	}
	return b
}

// fuzzInput is the fuzzer's input: a flag byte (bit 0: the recorded
// login comes first) and a script.
func fuzzInput(withLogin bool, turns []turn) []byte {
	flag := byte(0)
	if withLogin {
		flag = 1
	}
	return appendScript([]byte{flag}, turns)
}

// config is the session every run uses: fixed ISID and names, so that a
// recorded conversation replays byte for byte; no pings; short timeouts.
func config(dial func(context.Context, string, string) (net.Conn, error)) iscsi.Config {
	return iscsi.Config{Portal: fuzzPortal, TargetName: fuzzTarget, InitiatorName: fuzzInitiator,
		ISID: pdu.ISID{0x80, 0x12, 0x34, 0x56, 0x78, 0x9a}, Dial: dial, NOPInterval: -1,
		NOPTimeout: 2 * time.Second, LoginTimeout: 10 * time.Second}
}

// result is what a session run saw.
type result struct {
	loginErr error
	errs     []error // of each command, in order
	read     [][]byte
}

// runSession logs in and runs REPORT LUNS, READ, WRITE, READ (of what was
// written) and TEST UNIT READY, each bounded by its own context, then
// closes the session.
func runSession(cfg iscsi.Config) result {
	var res result
	s, err := iscsi.Dial(context.Background(), cfg)
	if err != nil {
		res.loginErr = err
		return res
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	}()
	written := pattern(ioSize)
	rl := make([]byte, 64)
	reportLUNs := scsi.ReportLUNs(scsi.SelectLogicalUnits, uint32(len(rl)))
	read16, write16 := scsi.Read16(0, ioSize/blockSize, false), scsi.Write16(8, ioSize/blockSize, false)
	readBack, tur := scsi.Read16(8, ioSize/blockSize, false), scsi.TestUnitReady()
	cmds := []*iscsi.Command{
		{LUN: 0, CDB: reportLUNs[:], Read: rl},
		{LUN: 1, CDB: read16[:], Read: make([]byte, ioSize)},
		{LUN: 1, CDB: write16[:], Write: written},
		{LUN: 1, CDB: readBack[:], Read: make([]byte, ioSize)},
		{LUN: 1, CDB: tur[:]},
	}
	for _, cmd := range cmds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res.errs = append(res.errs, s.Do(ctx, cmd))
		cancel()
		res.read = append(res.read, cmd.Read)
	}
	return res
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ byte(i>>8) ^ 0x5a
	}
	return b
}

// typed reports whether err is one of the errors package iscsi promises:
// connection-fatal, aborted, closed, or a task-level error with a type.
func typed(err error) bool {
	var (
		le *iscsi.LoginError
		se *iscsi.SCSIError
		re *iscsi.RejectError
		xe *iscsi.ResponseError
	)
	return err == nil || errors.Is(err, iscsi.ErrConnection) || errors.Is(err, iscsi.ErrAborted) ||
		errors.Is(err, iscsi.ErrSessionClosed) || errors.As(err, &le) || errors.As(err, &se) ||
		errors.As(err, &re) || errors.As(err, &xe)
}

// recorder wraps the target's end of a connection and records each write
// (the target writes one PDU per call) with the number of PDUs it had
// received since its previous write.
type recorder struct {
	net.Conn
	received *atomic.Int32

	mu        sync.Mutex // guards the following
	turns     []turn
	seen      int32
	loginEnds int // turns of the login, set by OnLogin
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	got := r.received.Load()
	r.turns = append(r.turns, turn{Wait: int(got - r.seen), Data: bytes.Clone(p)})
	r.seen = got
	r.mu.Unlock()
	return r.Conn.Write(p)
}

// record runs the session against the scripted target and returns the
// target's side of it: the login turns and the full-feature turns.
func record(t testing.TB) (login, ff []turn) {
	var received atomic.Int32
	rec := &recorder{received: &received}
	tg := iscsitest.New(iscsitest.Config{Name: fuzzTarget,
		LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(64, blockSize).SetIdentity(7)},
		Hooks: iscsitest.Hooks{
			OnReceive: func(*iscsitest.Conn, pdu.PDU) iscsitest.Action { received.Add(1); return iscsitest.Continue },
			OnLogin: func(*iscsitest.Conn) {
				rec.mu.Lock()
				rec.loginEnds = len(rec.turns)
				rec.mu.Unlock()
			},
		}})
	defer tg.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	dialed := false
	res := runSession(config(func(context.Context, string, string) (net.Conn, error) {
		if dialed {
			return nil, syscall.ECONNREFUSED
		}
		dialed = true
		ini, tgt := iscsitest.Pipe()
		rec.Conn = tgt
		wg.Go(func() { _ = tg.Serve(rec) })
		return ini, nil
	}))
	require.NoError(t, res.loginErr)
	for i, err := range res.errs {
		require.NoError(t, err, "command %d", i)
	}
	wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Positive(t, rec.loginEnds)
	return rec.turns[:rec.loginEnds], rec.turns[rec.loginEnds:]
}

// recorded caches the recorded conversation.
var recorded = sync.OnceValues(func() ([]turn, []turn) { return record(&silentTB{}) })

// silentTB lets record run outside a test (a fuzz target's seed
// builder); a failure there panics, as it is a broken harness.
type silentTB struct{ testing.TB }

func (silentTB) Helper() {}
func (silentTB) Errorf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
func (silentTB) FailNow() { panic("record failed") }

// serveScript plays turns on c. A reader goroutine counts the
// initiator's PDUs (and, once they stop parsing, drains raw bytes and
// stops counting, so that no wait blocks for ever); each turn waits for
// its count, then writes its bytes. At the end c is closed.
func serveScript(c net.Conn, turns []turn) {
	defer c.Close()
	counted := make(chan struct{}, 1<<10)
	lost := make(chan struct{}) // closed when PDUs no longer parse
	go func() {
		fr := pdu.NewFramer(bufio.NewReader(c), nil)
		fr.SetMaxRecvDataSegmentLength(pdu.MaxDataSegmentLength)
		for {
			if _, err := fr.ReadPDU(); err != nil {
				close(lost)
				_, _ = bufio.NewReader(c).WriteTo(discard{})
				return
			}
			select {
			case counted <- struct{}{}:
			default: // nobody will wait for that many
			}
		}
	}()
	for _, t := range turns {
		for range t.Wait {
			select {
			case <-counted:
			case <-lost:
			}
		}
		if _, err := c.Write(t.Data); err != nil {
			return
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// replay runs the session against turns in a synctest bubble and checks
// the harness properties: no panic (implicit), bounded virtual time,
// bounded allocation, typed errors, and — enforced by the bubble — no
// goroutine left behind.
func replay(t *testing.T, turns []turn) result {
	var res result
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	synctest.Test(t, func(t *testing.T) {
		ini, tgt := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			serveScript(tgt, turns)
		}()
		dialed := false
		start := time.Now()
		res = runSession(config(func(context.Context, string, string) (net.Conn, error) {
			if dialed {
				return nil, syscall.ECONNREFUSED
			}
			dialed = true
			return ini, nil
		}))
		ini.Close()
		<-done
		require.LessOrEqual(t, time.Since(start), maxRun, "bounded time")
	})
	runtime.ReadMemStats(&after)
	require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(maxAlloc), "bounded allocation")
	require.True(t, typed(res.loginErr), "untyped login error: %v", res.loginErr)
	for i, err := range res.errs {
		require.True(t, typed(err), "untyped error from command %d: %v", i, err)
	}
	return res
}

// The recorded conversation replays: the seed is a real session, every
// command succeeds and the read-back returns what was written.
func TestSessionReplay(t *testing.T) {
	login, ff := recorded()
	for _, in := range [][]byte{fuzzInput(false, append(append([]turn(nil), login...), ff...)), fuzzInput(true, ff)} {
		turns := parseScript(in[1:])
		if in[0]&1 != 0 {
			turns = append(append([]turn(nil), login...), turns...)
		}
		res := replay(t, turns)
		require.NoError(t, res.loginErr)
		for i, err := range res.errs {
			require.NoError(t, err, "command %d", i)
		}
		require.Equal(t, pattern(ioSize), res.read[3], "read-back of the write")
	}
}

// TestWriteSeeds writes the seed corpora to testdata/fuzz (run with
// GOMP_WRITE_SEEDS=1 after a change to the initiator's login or
// commands): the recorded conversation and its variants, and the NBD
// client conversations.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("GOMP_WRITE_SEEDS") == "" {
		t.Skip("set GOMP_WRITE_SEEDS=1 to rewrite the seed corpora")
	}
	write := func(target, name string, in []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", in)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	for name, in := range sessionSeeds() {
		write("FuzzSession", name, in)
	}
	for i, in := range nbdSeeds() {
		write("FuzzNBDConn", fmt.Sprintf("client-conversation-%d", i), in)
	}
}

// sessionSeeds are meaningful inputs: the whole recorded conversation,
// its full-feature part after the recorded login, and that part cut
// short, stalled and garbled at the places that matter.
func sessionSeeds() map[string][]byte {
	login, ff := recorded()
	all := append(append([]turn(nil), login...), ff...)
	cut := func(turns []turn, n int) []turn { return turns[:min(n, len(turns))] }
	halfPDU := append(cut(ff, 2), turn{Wait: 1, Data: ff[min(2, len(ff)-1)].Data[:30]})
	bigDSL := append([]turn(nil), ff...)
	if len(bigDSL) > 0 {
		d := bytes.Clone(bigDSL[0].Data)
		d[5], d[6], d[7] = 0xff, 0xff, 0xff
		bigDSL[0] = turn{Wait: bigDSL[0].Wait, Data: d}
	}
	return map[string][]byte{
		"recorded-session":             fuzzInput(false, all),
		"recorded-full-feature":        fuzzInput(true, ff),
		"login-only":                   fuzzInput(false, login),
		"full-feature-cut-after-2":     fuzzInput(true, cut(ff, 2)),
		"full-feature-half-pdu":        fuzzInput(true, halfPDU),
		"full-feature-dsl-absurd":      fuzzInput(true, bigDSL),
		"full-feature-all-at-once":     fuzzInput(true, []turn{{Data: bytes.Join(turnData(ff), nil)}}),
		"login-first-response-only":    fuzzInput(false, cut(login, 1)),
		"empty-after-recorded-login":   {1},
		"garbage-after-recorded-login": append([]byte{1, 1, 0, 48}, bytes.Repeat([]byte{0xff}, 48)...),
	}
}

func turnData(turns []turn) [][]byte {
	out := make([][]byte, len(turns))
	for i, t := range turns {
		out[i] = t.Data
	}
	return out
}

// FuzzSession feeds a whole initiator session from a fuzzed target. See
// the package documentation for the input format and the properties.
func FuzzSession(f *testing.F) {
	for _, in := range sessionSeeds() {
		f.Add(in)
	}
	login, _ := recorded()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || len(in) > 1<<20 {
			return
		}
		turns := parseScript(in[1:])
		if in[0]&1 != 0 {
			turns = append(append([]turn(nil), login...), turns...)
		}
		replay(t, turns)
	})
}
