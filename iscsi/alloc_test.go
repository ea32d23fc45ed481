package iscsi

import (
	"bufio"
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// The hot path (Session.Do and LUN.ReadAtContext/WriteAtContext with a
// warm session) allocates nothing on the initiator side.
//
// testing.AllocsPerRun counts every allocation in the process, and the fake
// target allocates per command (task state, buffers, PDUs). So the fake
// target only runs the login; then a scripted responder that allocates
// nothing takes the connection over and answers READ with one
// phase-collapsed Data-In and WRITE (all immediate data) with a SCSI
// Response. What AllocsPerRun reports is then the initiator's own.

const ioSize = 64 << 10

// zeroResponder answers full-feature PDUs from preallocated PDUs.
type zeroResponder struct {
	nc     net.Conn
	fr     *pdu.Framer
	data   []byte // what READs return
	statSN uint32
	done   chan struct{}

	din  pdu.DataIn
	resp pdu.SCSIResponse
	nop  pdu.NOPIn
	bye  pdu.LogoutResponse
}

func (r *zeroResponder) serve() {
	defer close(r.done)
	defer r.nc.Close()
	for {
		p, err := r.fr.ReadPDU()
		if err != nil {
			return
		}
		var out pdu.PDU
		switch p := p.(type) {
		case *pdu.SCSICommand:
			out = r.command(p)
		case *pdu.NOPOut:
			r.nop = pdu.NOPIn{ITT: p.ITT, TTT: pdu.ReservedTag, StatSN: r.next(), ExpCmdSN: p.CmdSN, MaxCmdSN: p.CmdSN + 63}
			out = &r.nop
		case *pdu.LogoutRequest:
			r.bye = pdu.LogoutResponse{ITT: p.ITT, StatSN: r.next(), ExpCmdSN: p.CmdSN, MaxCmdSN: p.CmdSN + 63}
			_ = r.fr.WritePDU(&r.bye)
			return
		default:
			continue // Data-Out: the tests write immediate data only
		}
		if err := r.fr.WritePDU(out); err != nil {
			return
		}
	}
}

func (r *zeroResponder) next() uint32 { r.statSN++; return r.statSN - 1 }

func (r *zeroResponder) command(p *pdu.SCSICommand) pdu.PDU {
	exp, max := p.CmdSN+1, p.CmdSN+64
	if p.Read {
		r.din = pdu.DataIn{Final: true, StatusValid: true, Status: pdu.StatusGood, ITT: p.ITT,
			TTT: pdu.ReservedTag, StatSN: r.next(), ExpCmdSN: exp, MaxCmdSN: max,
			Data: r.data[:p.ExpectedDataTransferLength]}
		return &r.din
	}
	r.resp = pdu.SCSIResponse{Response: pdu.ResponseCompleted, Status: pdu.StatusGood, ITT: p.ITT,
		StatSN: r.next(), ExpCmdSN: exp, MaxCmdSN: max}
	return &r.resp
}

// zeroRig logs in to a fake target and hands the connection to a
// zeroResponder: the target's Serve is parked in its OnLogin hook until
// cleanup.
func zeroRig(t testing.TB) (*Session, *zeroResponder) {
	release := make(chan struct{})
	var statSN atomic.Uint32
	hooks := iscsitest.Hooks{
		OnLogin: func(*iscsitest.Conn) { <-release },
		BeforeSend: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if r, ok := p.(*pdu.LoginResponse); ok {
				statSN.Store(r.StatSN + 1)
			}
			return iscsitest.Continue
		},
	}
	f := newFake(t, iscsitest.Config{Hooks: hooks})
	t.Cleanup(func() { close(release) }) // before the fakeNet's cleanup
	conns := make(chan net.Conn, 1)
	cfg := f.cfg()
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		ini, tgt := iscsitest.Pipe()
		conns <- tgt
		f.wg.Go(func() { _ = f.tg.Serve(tgt) })
		return ini, nil
	}
	s, err := Dial(context.Background(), cfg)
	require.NoError(t, err)
	p := s.Params()
	require.True(t, p.ImmediateData)
	require.GreaterOrEqual(t, p.FirstBurstLength, ioSize, "writes go as immediate data")
	require.GreaterOrEqual(t, p.TargetMaxRecvDataSegmentLength, ioSize)

	nc := <-conns
	r := &zeroResponder{nc: nc, fr: pdu.NewFramer(bufio.NewReader(nc), nc), data: pattern(1<<20, 0x3c),
		statSN: statSN.Load(), done: make(chan struct{})}
	r.fr.SetMaxRecvDataSegmentLength(p.TargetMaxRecvDataSegmentLength)
	r.fr.SetMaxSendDataSegmentLength(p.MaxRecvDataSegmentLength)
	go r.serve()
	t.Cleanup(func() {
		require.NoError(t, s.Close(context.Background()))
		<-r.done
	})
	return s, r
}

func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items: allocation counts are meaningless")
	}
	s, r := zeroRig(t)
	ctx := context.Background()
	buf := make([]byte, ioSize)
	rd := readCmd(0, buf)
	wr := writeCmd(0, pattern(ioSize, 1))
	info := &LUNInfo{LUN: fakeLUN, BlockSize: fakeBlockSize, Blocks: fakeBlocks}
	l := newLUN(s, info, 0)

	ops := []struct {
		name string
		fn   func() error
	}{
		{"Do READ 64 KiB", func() error { return s.Do(ctx, rd) }},
		{"Do WRITE 64 KiB", func() error { return s.Do(ctx, wr) }},
		{"LUN.ReadAtContext 64 KiB", func() error { _, err := l.ReadAtContext(ctx, buf, 4096); return err }},
		{"LUN.WriteAtContext 64 KiB", func() error { _, err := l.WriteAtContext(ctx, buf, 4096, false); return err }},
	}
	for _, op := range ops {
		for range 100 { // warm up pools and buffers
			require.NoError(t, op.fn())
		}
		var err error
		allocs := testing.AllocsPerRun(1000, func() {
			if e := op.fn(); e != nil {
				err = e
			}
		})
		require.NoError(t, err)
		t.Logf("%s: %.2f allocs/op", op.name, allocs)
		require.Zero(t, allocs, op.name)
	}
	require.Equal(t, r.data[:ioSize], buf)
}

func BenchmarkDo(b *testing.B) {
	for _, write := range []bool{false, true} {
		name := map[bool]string{false: "read64KiB", true: "write64KiB"}[write]
		b.Run(name, func(b *testing.B) {
			s, _ := zeroRig(b)
			cmd := readCmd(0, make([]byte, ioSize))
			if write {
				cmd = writeCmd(0, pattern(ioSize, 1))
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(ioSize)
			for b.Loop() {
				if err := s.Do(ctx, cmd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDoFakeTarget runs the same commands against the full fake
// target; its allocations include the target's.
func BenchmarkDoFakeTarget(b *testing.B) {
	for _, write := range []bool{false, true} {
		name := map[bool]string{false: "read64KiB", true: "write64KiB"}[write]
		b.Run(name, func(b *testing.B) {
			f := newFake(b, iscsitest.Config{})
			s := f.dial(b)
			cmd := readCmd(0, make([]byte, ioSize))
			if write {
				cmd = writeCmd(0, pattern(ioSize, 1))
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(ioSize)
			for b.Loop() {
				if err := s.Do(ctx, cmd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
