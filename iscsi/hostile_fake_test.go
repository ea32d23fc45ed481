package iscsi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// The hostile-target suite: the scripted target (internal/iscsitest) breaks
// the protocol on purpose, in every way a broken or malicious target can,
// and the initiator must answer each with a typed error of the right
// class within a bounded time, never panic, keep its memory bounded and
// leave no goroutine behind. Every case runs in a testing/synctest bubble,
// so timeouts are exact and instant, and a hang is a deadlock the bubble
// reports instead of a test that never ends.

// hostile is a fake network of one misbehaving target. Unlike fakeNet it
// does not require the target to have seen no initiator violation: a
// target that lies makes an initiator that believes it look wrong.
type hostile struct {
	tg  *iscsitest.Target
	log *boundedLog
	wg  sync.WaitGroup // Serve goroutines

	mu    sync.Mutex // guards conns
	conns []*iscsitest.Conn
}

// newHostile serves a target built from cfg (a 16 MiB LUN 1 unless cfg
// has LUNs); it is closed at cleanup.
func newHostile(t *testing.T, cfg iscsitest.Config) *hostile {
	if cfg.LUNs == nil {
		cfg.LUNs = map[uint16]*iscsitest.LUN{fakeLUN: iscsitest.NewLUN(fakeBlocks, fakeBlockSize)}
	}
	h := &hostile{log: &boundedLog{max: 1 << 20}}
	inner := cfg.Hooks.OnConnect
	cfg.Hooks.OnConnect = func(c *iscsitest.Conn) {
		h.mu.Lock()
		h.conns = append(h.conns, c)
		h.mu.Unlock()
		if inner != nil {
			inner(c)
		}
	}
	h.tg = iscsitest.New(cfg)
	t.Cleanup(func() {
		h.tg.Close()
		h.wg.Wait()
		if t.Failed() {
			t.Logf("initiator log:\n%s", h.log.String())
		}
	})
	return h
}

func (h *hostile) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	ini, tgt := iscsitest.Pipe()
	h.wg.Go(func() { _ = h.tg.Serve(tgt) })
	return ini, nil
}

// cfg is a session Config for the target: pings every 2 s, failing after
// 3 s of silence, a 10 s login timeout.
func (h *hostile) cfg() Config {
	return Config{Portal: fakePortal, TargetName: h.tg.Name(), InitiatorName: testInitiator,
		Dial: h.dial, NOPInterval: 2 * time.Second, NOPTimeout: 3 * time.Second,
		LoginTimeout: 10 * time.Second, Logger: newTestLogger(h.log)}
}

// conn returns the latest connection.
func (h *hostile) conn(t *testing.T) *iscsitest.Conn {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	require.NotEmpty(t, h.conns)
	return h.conns[len(h.conns)-1]
}

// login dials a session; the test closes it.
func (h *hostile) login(t *testing.T, mods ...func(*Config)) *Session {
	t.Helper()
	cfg := h.cfg()
	for _, m := range mods {
		m(&cfg)
	}
	s, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	return s
}

// closeAndCheck closes s and requires that no goroutine of the package
// is left. Inside a bubble, synctest.Wait lets every goroutine that is on
// its way out finish first.
func closeAndCheck(t *testing.T, s *Session) {
	t.Helper()
	if s != nil {
		_ = s.Close(context.Background())
	}
	synctest.Wait()
	g := iscsiGoroutines()
	require.Empty(t, g, "%d goroutines left:\n%s", len(g), strings.Join(g, "\n\n"))
}

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// errClass is what kind of error a hostile behaviour must produce.
type errClass int

const (
	// classProtocol: connection-fatal, naming a protocol violation
	// (ErrConnection and ErrProtocol).
	classProtocol errClass = iota
	// classConnection: connection-fatal (ErrConnection), e.g. a ping
	// timeout on a target that went silent.
	classConnection
	// classAborted: the caller's context ended first (ErrAborted).
	classAborted
)

func requireClass(t *testing.T, class errClass, err error) {
	t.Helper()
	require.Error(t, err)
	switch class {
	case classProtocol:
		require.ErrorIs(t, err, ErrConnection, "connection-fatal")
		require.ErrorIs(t, err, ErrProtocol, "names a protocol violation: %v", err)
		var ce *ConnError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, fakePortal, ce.Portal)
	case classConnection:
		require.ErrorIs(t, err, ErrConnection, "connection-fatal")
		var ce *ConnError
		require.ErrorAs(t, err, &ce)
	case classAborted:
		require.ErrorIs(t, err, ErrAborted)
		require.False(t, errors.Is(err, ErrConnection), "a task-level error: %v", err)
	}
}

// everyNth returns a BeforeSend hook applying fn to every PDU of type T
// from the n-th on.
func fromNth[T pdu.PDU](n int32, fn func(T)) func(*iscsitest.Conn, pdu.PDU) iscsitest.Action {
	var seen atomic.Int32
	return func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		if v, ok := p.(T); ok && seen.Add(1) >= n {
			fn(v)
		}
		return iscsitest.Continue
	}
}

// rewriteNth returns a Rewrite hook applying fn to the encoded bytes of
// the n-th PDU (from 1) of type T the target sends.
func rewriteNth[T pdu.PDU](n int32, fn func(wire []byte) []byte) func(*iscsitest.Conn, pdu.PDU, []byte) []byte {
	var seen atomic.Int32
	return func(_ *iscsitest.Conn, p pdu.PDU, wire []byte) []byte {
		if _, ok := p.(T); ok && seen.Add(1) == n {
			return fn(wire)
		}
		return wire
	}
}

// actNth returns a BeforeSend hook answering a for the n-th PDU of type T.
func actNth[T pdu.PDU](n int32, a iscsitest.Action) func(*iscsitest.Conn, pdu.PDU) iscsitest.Action {
	var seen atomic.Int32
	return func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		if _, ok := p.(T); ok && seen.Add(1) == n {
			return a
		}
		return iscsitest.Continue
	}
}

// afterLogin returns a BeforeSend hook answering a for every PDU of the
// full-feature phase.
func afterLogin(a iscsitest.Action) func(*iscsitest.Conn, pdu.PDU) iscsitest.Action {
	return func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		if p.Opcode() == pdu.OpLoginResp {
			return iscsitest.Continue
		}
		return a
	}
}

// setDataSegmentLength forges bytes 5-7 of an encoded header.
func setDataSegmentLength(wire []byte, n int) []byte {
	wire[5], wire[6], wire[7] = byte(n>>16), byte(n>>8), byte(n)
	return wire
}

// inject forges p on the latest connection, with the connection's
// sequence numbers filled in by fill.
func (h *hostile) inject(t *testing.T, p pdu.PDU) {
	t.Helper()
	require.NoError(t, h.conn(t).Inject(p))
}

const hostileIO = 16 << 10 // bytes per hostile read or write

func hostileRead(ctx context.Context, s *Session) error {
	return s.Do(ctx, readCmd(0, make([]byte, hostileIO)))
}

func hostileWrite(ctx context.Context, s *Session) error {
	return s.Do(ctx, writeCmd(0, pattern(hostileIO, 9)))
}

// waitFailed waits for the session to end on its own and returns what a
// command gets then: a ConnError carrying the cause.
func waitFailed(ctx context.Context, s *Session) error {
	<-s.Done()
	return s.Ping(ctx)
}

// newTestLogger logs at Debug level to w.
func newTestLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// boundedLog keeps the first max bytes written to it and counts the rest,
// so that a flood the initiator logs does not weigh on the memory check.
type boundedLog struct {
	max int

	mu      sync.Mutex // guards the following
	buf     bytes.Buffer
	dropped int
}

func (b *boundedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len()+len(p) > b.max {
		b.dropped += len(p)
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *boundedLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("%s[%d bytes more]\n", b.buf.String(), b.dropped)
}

// TestHostileFatal: each misbehaviour fails the connection (or, for a
// caller whose context ends first, the command) with an error of the
// class given, within the time given, and nothing is left running.
func TestHostileFatal(t *testing.T) {
	unknownITT := uint32(0x00dead00)
	cases := []struct {
		name   string
		target iscsitest.Config
		cfg    func(*Config)
		// during runs once the session is up, e.g. to inject PDUs.
		during func(t *testing.T, h *hostile)
		op     func(ctx context.Context, s *Session) error
		class  errClass
		within time.Duration // virtual time from the start of op
	}{
		{name: "AHS length covering the data segment", op: hostileRead, class: classProtocol,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{Rewrite: rewriteNth[*pdu.DataIn](1, func(w []byte) []byte {
				w[4] = 255 // 1020 bytes of "AHS": the data, read as a header
				return w
			})}}},
		{name: "AHS length beyond the end of the stream", op: hostileWrite, class: classConnection, within: 5 * time.Second,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{Rewrite: rewriteNth[*pdu.SCSIResponse](1, func(w []byte) []byte {
				w[4] = 255 // the initiator waits for 1020 bytes that never come
				return w
			})}}},
		{name: "DataSegmentLength beyond MaxRecvDataSegmentLength", op: hostileRead, class: classProtocol,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{Rewrite: rewriteNth[*pdu.DataIn](1, func(w []byte) []byte {
				return setDataSegmentLength(w, 256<<10+4)
			})}}},
		{name: "DataSegmentLength absurd", op: hostileRead, class: classProtocol,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{Rewrite: rewriteNth[*pdu.DataIn](1, func(w []byte) []byte {
				return setDataSegmentLength(w, pdu.MaxDataSegmentLength)
			})}}},
		{name: "unknown opcode", op: hostileWrite, class: classProtocol,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{Rewrite: rewriteNth[*pdu.SCSIResponse](1, func(w []byte) []byte {
				w[0] = 0x3d
				return w
			})}}},
		{name: "unsolicited Data-In for an unknown ITT", op: waitFailed, class: classProtocol,
			during: func(t *testing.T, h *hostile) {
				_, exp, max := h.conn(t).Numbers()
				h.inject(t, &pdu.DataIn{Final: true, ITT: unknownITT, TTT: pdu.ReservedTag, ExpCmdSN: exp, MaxCmdSN: max,
					Data: make([]byte, 512)})
			}},
		{name: "Data-In DataSN out of order", op: hostileRead, class: classProtocol,
			target: iscsitest.Config{DataInSplit: 4096, Hooks: iscsitest.Hooks{BeforeSend: nth(2, func(d *pdu.DataIn) { d.DataSN = 3 })}}},
		{name: "Data-In overlapping offsets", op: hostileRead, class: classProtocol,
			target: iscsitest.Config{DataInSplit: 4096, Hooks: iscsitest.Hooks{BeforeSend: nth(3, func(d *pdu.DataIn) { d.BufferOffset = 2048 })}}},
		{name: "Data-In offset beyond the buffer", op: hostileRead, class: classProtocol,
			target: iscsitest.Config{DataInSplit: 4096, Hooks: iscsitest.Hooks{BeforeSend: nth(1, func(d *pdu.DataIn) { d.BufferOffset = 1 << 31 })}}},
		{name: "R2T beyond the command's length", op: hostileWrite, class: classProtocol,
			target: iscsitest.Config{ForceInitialR2T: true, NoImmediateData: true,
				Hooks: iscsitest.Hooks{BeforeSend: nth(1, func(r *pdu.R2T) { r.BufferOffset, r.DesiredDataTransferLength = hostileIO, 512 })}}},
		{name: "R2T flood with wrong TTTs", op: hostileWrite, class: classProtocol,
			target: iscsitest.Config{ForceInitialR2T: true, NoImmediateData: true, Hooks: iscsitest.Hooks{
				BeforeSend: func(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
					r, ok := p.(*pdu.R2T)
					if !ok {
						return iscsitest.Continue
					}
					for i := range uint32(10000) { // the same bytes, again and again
						flood := *r
						flood.TTT = 0x1000 + i
						if c.Inject(&flood) != nil {
							break
						}
					}
					return iscsitest.Continue
				}}}},
		{name: "R2T for zero bytes", op: hostileWrite, class: classProtocol,
			target: iscsitest.Config{ForceInitialR2T: true, NoImmediateData: true,
				Hooks: iscsitest.Hooks{BeforeSend: nth(1, func(r *pdu.R2T) { r.DesiredDataTransferLength = 0 })}}},
		{name: "SCSI Response for an ITT never used", op: waitFailed, class: classProtocol,
			during: func(t *testing.T, h *hostile) {
				st, exp, max := h.conn(t).Numbers()
				h.inject(t, &pdu.SCSIResponse{ITT: unknownITT, StatSN: st, ExpCmdSN: exp, MaxCmdSN: max})
			}},
		{name: "Task Management Response for an ITT never used", op: waitFailed, class: classProtocol,
			during: func(t *testing.T, h *hostile) {
				st, exp, max := h.conn(t).Numbers()
				h.inject(t, &pdu.TaskMgmtResponse{ITT: unknownITT, StatSN: st, ExpCmdSN: exp, MaxCmdSN: max})
			}},
		{name: "Logout Response for an ITT never used", op: waitFailed, class: classProtocol,
			during: func(t *testing.T, h *hostile) {
				st, exp, max := h.conn(t).Numbers()
				h.inject(t, &pdu.LogoutResponse{ITT: unknownITT, StatSN: st, ExpCmdSN: exp, MaxCmdSN: max})
			}},
		{name: "NOP-In answering a ping never sent", op: waitFailed, class: classProtocol,
			during: func(t *testing.T, h *hostile) {
				st, exp, max := h.conn(t).Numbers()
				h.inject(t, &pdu.NOPIn{ITT: unknownITT, TTT: pdu.ReservedTag, StatSN: st, ExpCmdSN: exp, MaxCmdSN: max})
			}},
		{name: "Reject without the rejected header", op: waitFailed, class: classProtocol,
			during: func(t *testing.T, h *hostile) {
				st, exp, max := h.conn(t).Numbers()
				h.inject(t, &pdu.Reject{Reason: pdu.RejectProtocolError, StatSN: st, ExpCmdSN: exp, MaxCmdSN: max})
			}},
		{name: "residual larger than the transfer", class: classProtocol,
			op: func(ctx context.Context, s *Session) error { _, err := s.ReportLUNs(ctx); return err },
			target: iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: nth(1, func(r *pdu.SCSIResponse) {
				r.Underflow, r.Overflow, r.ResidualCount = true, false, 1<<20
			})}}},
		{name: "read answered GOOD short of its length, no residual", op: hostileRead, class: classProtocol,
			target: iscsitest.Config{DataInSplit: 4096, Hooks: iscsitest.Hooks{
				BeforeSend: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
					if d, ok := p.(*pdu.DataIn); ok && d.BufferOffset >= hostileIO/2 {
						return iscsitest.Drop // half the data never comes
					}
					if r, ok := p.(*pdu.SCSIResponse); ok {
						r.ExpDataSN = 2
					}
					return iscsitest.Continue
				}}}},
		{name: "stall mid-PDU, pings on", op: hostileRead, class: classConnection, within: 5 * time.Second,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: actNth[*pdu.DataIn](1, iscsitest.Truncate)}}},
		{name: "stall mid-PDU, pings off, caller's deadline", op: hostileRead, class: classAborted, within: 35 * time.Second,
			cfg:    func(c *Config) { c.NOPInterval = -1 },
			target: iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: actNth[*pdu.DataIn](1, iscsitest.Truncate)}}},
		{name: "slowloris, one byte per second", op: hostileRead, class: classConnection, within: 5 * time.Second,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: afterLogin(iscsitest.Trickle)}}},
		{name: "connection closed mid-PDU", op: hostileRead, class: classConnection,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: func(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
				if _, ok := p.(*pdu.DataIn); ok {
					go c.Kill() // once the half PDU is out: Stall waits for it
					return iscsitest.Stall
				}
				return iscsitest.Continue
			}}}},
		{name: "connection reset mid-PDU", op: hostileRead, class: classConnection,
			target: iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: func(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
				if _, ok := p.(*pdu.DataIn); ok {
					go c.Reset()
					return iscsitest.Stall
				}
				return iscsitest.Continue
			}}}},
		{name: "window closed forever", op: hostileRead, class: classAborted, within: 30 * time.Second,
			target: iscsitest.Config{MaxCmdSNWindow: iscsitest.WindowClosed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHostile(t, tc.target)
				mods := []func(*Config){}
				if tc.cfg != nil {
					mods = append(mods, tc.cfg)
				}
				s := h.login(t, mods...)
				if tc.during != nil {
					tc.during(t, h)
				}
				within := tc.within
				if within == 0 {
					within = time.Second
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				start := time.Now()
				err := tc.op(ctx, s)
				took := time.Since(start)
				t.Logf("%v after %v", err, took)
				requireClass(t, tc.class, err)
				require.LessOrEqual(t, took, within, "bounded time")
				if tc.class != classAborted {
					<-s.Done()
					require.Equal(t, StateClosed, s.State())
					require.ErrorIs(t, s.Do(ctx, readCmd(0, make([]byte, 512))), ErrSessionClosed)
				}
				closeAndCheck(t, s)
			})
		})
	}
}

// hostileWorkload writes and reads back n regions from n goroutines and
// returns the first error; every region must read back as written, both
// through the session and at the target.
func hostileWorkload(ctx context.Context, s *Session, lun *iscsitest.LUN, n int) error {
	const size = 8 << 10
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs <- writeReadBack(ctx, s, uint64(i*size/fakeBlockSize), pattern(size, byte(i))) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	for i := range n {
		at := make([]byte, size)
		if _, err := lun.ReadAt(at, int64(i*size)); err != nil {
			return err
		}
		if string(at) != string(pattern(size, byte(i))) {
			return fmt.Errorf("region %d differs at the target", i)
		}
	}
	return nil
}

func writeReadBack(ctx context.Context, s *Session, lba uint64, want []byte) error {
	if err := s.Do(ctx, writeCmd(lba, want)); err != nil {
		return err
	}
	got := make([]byte, len(want))
	if err := s.Do(ctx, readCmd(lba, got)); err != nil {
		return err
	}
	if string(got) != string(want) {
		return fmt.Errorf("LBA %d reads back differently", lba)
	}
	return nil
}

// flood calls send n times or until it fails (the connection is gone).
func flood(n int, send func(i int) error) {
	for i := range n {
		if send(i) != nil {
			return
		}
	}
}

// TestHostileSurvivable: misbehaviours RFC 7143 lets an initiator ride
// out (sequence numbers it must ignore, StatSN it need not check) or that
// cost nothing but bandwidth (floods of PDUs that ask for nothing or only
// for an answer, while the target reads): the I/O completes with the
// right data, the connection stays up, memory stays bounded.
func TestHostileSurvivable(t *testing.T) {
	var toggle atomic.Uint32
	cases := []struct {
		name   string
		target iscsitest.Config
		// during runs on a goroutine of its own while the workload runs.
		during func(c *iscsitest.Conn)
	}{
		{name: "MaxCmdSN moves backwards", target: iscsitest.Config{MaxCmdSNWindow: 8,
			Hooks: iscsitest.Hooks{BeforeSend: fromNth(2, func(r *pdu.SCSIResponse) {
				switch toggle.Add(1) % 3 {
				case 0:
					r.MaxCmdSN = r.ExpCmdSN // back to a window of one
				case 1:
					r.MaxCmdSN = r.ExpCmdSN - 2 // invalid: must be ignored
				}
			})}}},
		{name: "StatSN gaps and duplicates", target: iscsitest.Config{
			Hooks: iscsitest.Hooks{BeforeSend: fromNth(1, func(r *pdu.SCSIResponse) {
				switch toggle.Add(1) % 3 {
				case 0:
					r.StatSN += 1000
				case 1:
					r.StatSN = 7
				}
			})}}},
		{name: "ExpCmdSN beyond what was sent", target: iscsitest.Config{MaxCmdSNWindow: 8,
			Hooks: iscsitest.Hooks{BeforeSend: fromNth(1, func(r *pdu.SCSIResponse) {
				r.ExpCmdSN += 1000
				r.MaxCmdSN += 1000
			})}}},
		{name: "NOP-In flood asking nothing", during: func(c *iscsitest.Conn) {
			_, exp, max := c.Numbers()
			flood(100000, func(int) error {
				return c.Inject(&pdu.NOPIn{ITT: pdu.ReservedTag, TTT: pdu.ReservedTag, ExpCmdSN: exp, MaxCmdSN: max})
			})
		}},
		{name: "NOP-In ping flood, answers read", during: func(c *iscsitest.Conn) {
			flood(20000, func(i int) error {
				if i%256 == 255 {
					time.Sleep(time.Millisecond) // bursts: the answers go out in between
				}
				return c.Ping()
			})
		}},
		{name: "asynchronous event flood", during: func(c *iscsitest.Conn) {
			sense := []byte{0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x2a, 0x09}
			msgs := []pdu.AsyncMessage{
				{Event: pdu.AsyncSCSIEvent, LUN: pdu.MakeLUN(fakeLUN), Data: pdu.AppendSenseSegment(nil, sense, nil)},
				{Event: pdu.AsyncParameterNegotiation},
				{Event: pdu.AsyncVendorSpecific, VendorCode: 9},
			}
			flood(10000, func(i int) error { return c.SendAsync(msgs[i%len(msgs)]) })
		}},
		{name: "reject storm", during: func(c *iscsitest.Conn) {
			_, exp, max := c.Numbers()
			hdr, _ := (&pdu.SCSICommand{Final: true, ITT: 0x00dead00, CDB: make([]byte, 16)}).AppendHeader(nil)
			flood(10000, func(int) error {
				return c.Inject(&pdu.Reject{Reason: pdu.RejectInvalidPDUField, ExpCmdSN: exp, MaxCmdSN: max, Data: hdr})
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHostile(t, tc.target)
				s := h.login(t)
				base := heapInUse()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				done := make(chan struct{})
				if tc.during != nil {
					c := h.conn(t)
					go func() {
						defer close(done)
						tc.during(c)
					}()
				} else {
					close(done)
				}
				require.NoError(t, hostileWorkload(ctx, s, h.tg.LUN(fakeLUN), 64))
				<-done
				require.NoError(t, s.Ping(ctx), "the connection is still up")
				require.Equal(t, StateLoggedIn, s.State())
				require.Less(t, heapInUse(), base+32<<20, "memory bounded")
				st := h.conn(t).Stats()
				require.Zero(t, st.Dropped, "no command sent outside the target's real window")
				require.Equal(t, st.PingsSent, st.PingsAnswered)
				closeAndCheck(t, s)
			})
		})
	}
}

// A target that acknowledges commands never sent (ExpCmdSN beyond our
// next CmdSN) must not open the window: here the real window is closed,
// so believing the lie would send commands the target drops, and they
// would hang. The lie is ignored; commands wait, cancellable, until the
// target really opens the window.
func TestHostileExpCmdSNAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHostile(t, iscsitest.Config{MaxCmdSNWindow: iscsitest.WindowClosed,
			Hooks: iscsitest.Hooks{BeforeSend: fromNth(1, func(r *pdu.NOPIn) {
				r.ExpCmdSN += 1000
				r.MaxCmdSN = r.ExpCmdSN + 31
			})}})
		s := h.login(t)
		ctx := ctxT(t)
		require.NoError(t, s.Ping(ctx), "immediate: passes the closed window")
		short, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		requireClass(t, classAborted, hostileRead(short, s))
		c := h.conn(t)
		require.Zero(t, c.Stats().Dropped, "nothing was sent outside the window")

		c.SetCmdSNWindow(8)
		_, exp, _ := c.Numbers()
		require.NoError(t, c.Inject(&pdu.NOPIn{ITT: pdu.ReservedTag, TTT: pdu.ReservedTag, ExpCmdSN: exp, MaxCmdSN: exp + 7}))
		require.NoError(t, hostileWrite(ctx, s), "the real window opened")
		require.Zero(t, c.Stats().Dropped)
		closeAndCheck(t, s)
	})
}

// A target that pings us without ever reading our answers must not make
// the initiator queue answers without bound: once the backlog passes a
// limit the connection fails as a protocol violation.
func TestHostilePingFloodUnread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stopReading := func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if n, ok := p.(*pdu.NOPOut); ok && n.TTT != pdu.ReservedTag {
				return iscsitest.Stall // the first answer: the target reads no more
			}
			return iscsitest.Continue
		}
		h := newHostile(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: stopReading}})
		s := h.login(t, func(c *Config) { c.NOPInterval = -1 })
		c := h.conn(t)
		base := heapInUse()
		var sent atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			flood(300000, func(i int) error {
				sent.Add(1)
				return c.Inject(&pdu.NOPIn{ITT: pdu.ReservedTag, TTT: uint32(i + 1)})
			})
		}()
		select {
		case <-s.Done():
		case <-done:
		}
		grown := int64(heapInUse()) - int64(base)
		t.Logf("%d pings sent, heap grew %d KiB, session %v: %v", sent.Load(), grown>>10, s.State(), s.LastError())
		requireClass(t, classProtocol, waitFailed(ctxT(t), s))
		require.Less(t, grown, int64(16<<20), "memory bounded")
		closeAndCheck(t, s)
	})
}

// A flood of asynchronous logout requests leads to one logout, not one
// goroutine and one Logout Request per message.
func TestHostileAsyncLogoutFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logouts atomic.Int32
		ignoreLogout := func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if p.Opcode() == pdu.OpLogoutReq {
				logouts.Add(1)
				return iscsitest.Drop // never answered: each logout waits 5 s
			}
			return iscsitest.Continue
		}
		h := newHostile(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: ignoreLogout}})
		s := h.login(t, func(c *Config) { c.NOPInterval = -1 })
		c := h.conn(t)
		flood(1000, func(int) error { return c.SendAsync(pdu.AsyncMessage{Event: pdu.AsyncLogoutRequest, Parameter3: 10}) })
		synctest.Wait()
		g := iscsiGoroutines()
		require.LessOrEqual(t, len(g), 4, "reader, writer, pinger and one logout:\n%s", strings.Join(g, "\n\n"))
		require.Equal(t, int32(1), logouts.Load(), "one Logout Request")
		<-s.Done()
		require.Equal(t, StateClosed, s.State())
		closeAndCheck(t, s)
	})
}

// anyStage matches a Login Response in any stage.
const anyStage = pdu.Stage(0xff)

// loginRespHook returns a BeforeSend hook applying fn to every Login
// Response from the n-th on, in the stage given (or anyStage).
func loginRespHook(n int32, stage pdu.Stage, fn func(r *pdu.LoginResponse)) func(*iscsitest.Conn, pdu.PDU) iscsitest.Action {
	var seen atomic.Int32
	return func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		r, ok := p.(*pdu.LoginResponse)
		if ok && (stage == anyStage || r.CSG == stage) && seen.Add(1) >= n {
			fn(r)
		}
		return iscsitest.Continue
	}
}

// withText replaces a Login Response's text.
func withText(text string) func(r *pdu.LoginResponse) {
	return func(r *pdu.LoginResponse) { r.Data = []byte(text) }
}

// withKey adds key=value to a Login Response's text.
func withKey(kv string) func(r *pdu.LoginResponse) {
	return func(r *pdu.LoginResponse) { r.Data = append(append([]byte(nil), r.Data...), kv+"\x00"...) }
}

// withValue replaces the value of a key the response carries.
func withValue(key, value string) func(r *pdu.LoginResponse) {
	return func(r *pdu.LoginResponse) {
		kvs, err := pdu.ParseText(r.Data, pdu.TextLimits{})
		if err != nil {
			return
		}
		if _, ok := pdu.Lookup(kvs, key); !ok {
			return
		}
		for i := range kvs {
			if kvs[i].Key == key {
				kvs[i].Value = value
			}
		}
		r.Data, _ = pdu.AppendText(nil, kvs...)
	}
}

// endlessLogin is an OnReceive hook answering every Login Request with an
// empty Login Response that announces more to come (C=1), for ever.
func endlessLogin(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
	req, ok := p.(*pdu.LoginRequest)
	if !ok {
		return iscsitest.Continue
	}
	if c.Inject(&pdu.LoginResponse{Continue: true, CSG: req.CSG, ISID: req.ISID, ITT: req.ITT,
		StatSN: req.ExpStatSN, ExpCmdSN: req.CmdSN, MaxCmdSN: req.CmdSN}) != nil {
		return iscsitest.Close
	}
	return iscsitest.Drop
}

// TestHostileLogin: a target that answers the login with garbage, lies
// about stages or status, continues for ever, trickles or stalls makes
// Dial fail with a typed error within LoginTimeout, leaving nothing
// running. Refusals of what the target said are *LoginError (the target
// is reachable but unusable); a broken stream is a ConnError.
func TestHostileLogin(t *testing.T) {
	const (
		wantLogin = iota // *LoginError
		wantConn         // ConnError, ErrConnection
		wantOK           // a harmless oddity: the session works
	)
	const sec, op, any = pdu.StageSecurity, pdu.StageOperational, anyStage
	chapTarget := &iscsitest.CHAPConfig{User: chapUser, Secret: chapSecret}
	cases := []struct {
		name     string
		chap     bool
		hook     func(*iscsitest.Conn, pdu.PDU) iscsitest.Action
		rewrite  func(*iscsitest.Conn, pdu.PDU, []byte) []byte
		recv     func(*iscsitest.Conn, pdu.PDU) iscsitest.Action
		want     int
		protocol bool // also ErrProtocol
	}{
		{name: "binary garbage as keys", hook: loginRespHook(1, any, withText("\xff\xfe=\x01\x00\x80")), want: wantLogin},
		{name: "key without a value", hook: loginRespHook(1, any, withText("NoEqualsSign\x00")), want: wantLogin},
		{name: "key too long", hook: loginRespHook(1, any, withText(strings.Repeat("K", 100)+"=1\x00")), want: wantLogin},
		{name: "key sent twice", hook: loginRespHook(1, op, withKey("MaxBurstLength=4096")), want: wantLogin},
		{name: "unknown keys only", hook: loginRespHook(1, sec, withText("X-Bogus=1\x00Y=2\x00")), want: wantOK},
		{name: "digest nobody offered", hook: loginRespHook(1, op, withValue("HeaderDigest", "Bogus")), want: wantLogin},
		{name: "MaxRecvDataSegmentLength out of range", hook: loginRespHook(1, op, withValue("MaxRecvDataSegmentLength", "1")), want: wantLogin},
		{name: "MaxBurstLength not a number", hook: loginRespHook(1, op, withValue("MaxBurstLength", "lots")), want: wantLogin},
		{name: "endless text continuation", want: wantLogin, protocol: true, recv: endlessLogin},
		{name: "stage going backwards", want: wantConn, protocol: true,
			rewrite: rewriteNth[*pdu.LoginResponse](2, func(w []byte) []byte {
				w[1] = 0x80 | byte(pdu.StageOperational)<<2 | byte(pdu.StageSecurity) // T, CSG=1, NSG=0
				return w
			})},
		{name: "login PDU beyond 8192 bytes", want: wantConn, protocol: true,
			rewrite: rewriteNth[*pdu.LoginResponse](1, func(w []byte) []byte {
				return append(setDataSegmentLength(w[:pdu.BHSLength], 9000), make([]byte, 9000+pdu.PaddedLength(9000)-9000)...)
			})},
		{name: "unknown status class", want: wantLogin,
			hook: loginRespHook(1, any, func(r *pdu.LoginResponse) { r.Status = 0x0907 })},
		{name: "response for another ITT", want: wantConn, protocol: true,
			hook: loginRespHook(1, any, func(r *pdu.LoginResponse) { r.ITT ^= 0x5a5a })},
		{name: "CHAP challenge too short", chap: true, want: wantLogin,
			hook: loginRespHook(1, sec, withValue("CHAP_C", "0x01"))},
		{name: "CHAP identifier not a byte", chap: true, want: wantLogin,
			hook: loginRespHook(1, sec, withValue("CHAP_I", "300"))},
		{name: "CHAP algorithm never offered", chap: true, want: wantLogin,
			hook: loginRespHook(1, sec, withValue("CHAP_A", "99"))},
		{name: "slowloris", want: wantConn, hook: actNth[*pdu.LoginResponse](1, iscsitest.Trickle)},
		{name: "stall mid-PDU", want: wantConn, hook: actNth[*pdu.LoginResponse](2, iscsitest.Truncate)},
		{name: "connection closed mid-PDU", want: wantConn, hook: func(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if p.Opcode() == pdu.OpLoginResp {
				go c.Kill()
				return iscsitest.Stall
			}
			return iscsitest.Continue
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tcfg := iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: tc.hook, Rewrite: tc.rewrite, OnReceive: tc.recv}}
				cfg := func(*Config) {}
				if tc.chap {
					tcfg.CHAP = chapTarget
					cfg = func(c *Config) { c.CHAP = &CHAP{User: chapUser, Secret: Secret(chapSecret)} }
				}
				h := newHostile(t, tcfg)
				c := h.cfg()
				cfg(&c)
				start := time.Now()
				s, err := Dial(context.Background(), c)
				t.Logf("%v after %v", err, time.Since(start))
				if tc.want == wantOK {
					require.NoError(t, err)
					require.NoError(t, s.Ping(ctxT(t)))
					closeAndCheck(t, s)
					return
				}
				if s != nil {
					closeAndCheck(t, s)
					t.Fatalf("Dial succeeded against a target that sent: %s", tc.name)
				}
				require.LessOrEqual(t, time.Since(start), c.LoginTimeout, "bounded by LoginTimeout")
				var le *LoginError
				switch tc.want {
				case wantLogin:
					require.ErrorAs(t, err, &le)
					require.Equal(t, fakePortal, le.Portal)
				case wantConn:
					require.ErrorIs(t, err, ErrConnection)
				}
				if tc.protocol {
					require.ErrorIs(t, err, ErrProtocol)
				}
				closeAndCheck(t, nil)
			})
		})
	}
}

// A SendTargets answer continued for ever ends discovery with a
// protocol error instead of a loop.
func TestHostileDiscoveryEndless(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		endless := func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if r, ok := p.(*pdu.TextResponse); ok {
				r.Final, r.Continue, r.TTT, r.Data = false, true, 0x77, nil
			}
			return iscsitest.Continue
		}
		h := newHostile(t, iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: endless}})
		_, err := Discover(context.Background(), h.cfg())
		require.ErrorIs(t, err, ErrConnection)
		require.ErrorIs(t, err, ErrProtocol)
		require.ErrorContains(t, err, "continued over")
		closeAndCheck(t, nil)
	})
}
