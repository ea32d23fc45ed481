package iscsi

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// nth returns a BeforeSend hook applying fn to the n-th PDU (from 1) of
// type T the target sends.
func nth[T pdu.PDU](n int32, fn func(T)) func(*iscsitest.Conn, pdu.PDU) iscsitest.Action {
	var seen atomic.Int32
	return func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		if v, ok := p.(T); ok && seen.Add(1) == n {
			fn(v)
		}
		return iscsitest.Continue
	}
}

// A target that breaks the protocol fails the connection: the command gets
// an error satisfying ErrConnection and ErrProtocol, and so does the
// session (no Recover).
func TestProtocolViolations(t *testing.T) {
	const size = 16 << 10
	read := func(s *Session) error { return s.Do(ctxT(t), readCmd(0, make([]byte, size))) }
	write := func(s *Session) error { return s.Do(ctxT(t), writeCmd(0, pattern(size, 1))) }
	ping := func(s *Session) error { return s.Ping(ctxT(t)) }
	cases := []struct {
		name string
		hook func(*iscsitest.Conn, pdu.PDU) iscsitest.Action
		r2t  bool // the target solicits every byte of a write
		op   func(*Session) error
	}{
		{name: "Data-In for an unknown ITT", op: read,
			hook: nth(1, func(d *pdu.DataIn) { d.ITT ^= 0x00ff0000 })},
		{name: "Data-In skips a DataSN", op: read,
			hook: nth(2, func(d *pdu.DataIn) { d.DataSN++ })},
		{name: "Data-In repeats a DataSN", op: read,
			hook: nth(3, func(d *pdu.DataIn) { d.DataSN = 1 })},
		{name: "Data-In leaves a gap", op: read,
			hook: nth(2, func(d *pdu.DataIn) { d.BufferOffset += 512 })},
		{name: "Data-In overlaps", op: read,
			hook: nth(2, func(d *pdu.DataIn) { d.BufferOffset -= 512 })},
		{name: "Data-In beyond the transfer", op: read,
			hook: nth(4, func(d *pdu.DataIn) { d.Data = append(d.Data, make([]byte, 512)...) })},
		{name: "SCSI Response for an unknown ITT", op: write,
			hook: nth(1, func(r *pdu.SCSIResponse) { r.ITT ^= 0x00ff0000 })},
		{name: "SCSI Response with a wrong ExpDataSN", op: read,
			hook: nth(1, func(r *pdu.SCSIResponse) { r.ExpDataSN++ })},
		{name: "R2T for an unknown ITT", op: write, r2t: true,
			hook: nth(1, func(r *pdu.R2T) { r.ITT ^= 0x00ff0000 })},
		{name: "R2T beyond the write", op: write, r2t: true,
			hook: nth(1, func(r *pdu.R2T) { r.BufferOffset = size - 512 })},
		{name: "R2T above MaxBurstLength", op: write, r2t: true,
			hook: nth(1, func(r *pdu.R2T) { r.BufferOffset, r.DesiredDataTransferLength = 0, 9<<10 })},
		{name: "R2T with the reserved TTT", op: write, r2t: true,
			hook: nth(1, func(r *pdu.R2T) { r.TTT = pdu.ReservedTag })},
		{name: "NOP-In for an unknown ITT", op: ping,
			hook: nth(1, func(r *pdu.NOPIn) { r.ITT ^= 0x00ff0000 })},
		{name: "Task Management Response for an unknown ITT",
			op:   func(s *Session) error { return s.LUNReset(ctxT(t), fakeLUN) },
			hook: nth(1, func(r *pdu.TaskMgmtResponse) { r.ITT ^= 0x00ff0000 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tcfg := iscsitest.Config{DataInSplit: 4096, Hooks: iscsitest.Hooks{BeforeSend: tc.hook}}
			if tc.r2t {
				tcfg.ForceInitialR2T, tcfg.NoImmediateData, tcfg.R2TSplit = true, true, 4096
			}
			f := newFake(t, tcfg)
			s := f.dial(t, func(c *Config) { c.Negotiation.MaxBurstLength = 8 << 10 })
			err := tc.op(s)
			require.ErrorIs(t, err, ErrConnection)
			require.ErrorIs(t, err, ErrProtocol)
			var ce *ConnError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, fakePortal, ce.Portal)
			require.Equal(t, StateClosed, s.State())
			require.ErrorIs(t, s.LastError(), ErrProtocol)
			<-s.Done()
			require.ErrorIs(t, read(s), ErrSessionClosed)
		})
	}
}

// A Reject of a command is that command's error; the session goes on.
func TestRejectedCommand(t *testing.T) {
	var rejectITT atomic.Uint32 // ITT of the TEST UNIT READY to reject
	hooks := iscsitest.Hooks{
		OnReceive: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if isCDB(p, scsi.OpTestUnitReady) {
				rejectITT.Store(p.(*pdu.SCSICommand).ITT)
			}
			return iscsitest.Continue
		},
		// The target executes the command, then answers with a Reject
		// in place of the SCSI Response, with the response's StatSN.
		BeforeSend: func(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			r, ok := p.(*pdu.SCSIResponse)
			if !ok || r.ITT != rejectITT.Load() {
				return iscsitest.Continue
			}
			cdb := scsi.TestUnitReady()
			hdr, err := (&pdu.SCSICommand{Final: true, ITT: r.ITT, CDB: cdb[:]}).AppendHeader(nil)
			if err != nil {
				panic(err)
			}
			raw, err := (&pdu.Reject{Reason: pdu.RejectInvalidPDUField, StatSN: r.StatSN,
				ExpCmdSN: r.ExpCmdSN, MaxCmdSN: r.MaxCmdSN, Data: hdr}).AppendBinary(nil)
			if err != nil {
				panic(err)
			}
			if err := c.WriteRaw(raw); err != nil {
				return iscsitest.Close
			}
			return iscsitest.Drop
		},
	}
	f := newFake(t, iscsitest.Config{Hooks: hooks})
	s := f.dial(t)
	cdb := scsi.TestUnitReady()
	err := s.Do(ctxT(t), &Command{LUN: fakeLUN, CDB: cdb[:]})
	var re *RejectError
	require.ErrorAs(t, err, &re)
	require.Equal(t, pdu.RejectInvalidPDUField, re.Reason)
	require.Equal(t, pdu.OpSCSICommand, re.Op)
	require.False(t, errors.Is(err, ErrConnection), "a rejected command is a task error")
	require.Equal(t, StateLoggedIn, s.State())

	want := pattern(8192, 3)
	require.NoError(t, s.Do(ctxT(t), writeCmd(0, want)))
	got := make([]byte, len(want))
	require.NoError(t, s.Do(ctxT(t), readCmd(0, got)))
	require.Equal(t, want, got)
}

// A corrupted header or data digest fails the connection: a digest error
// is connection-fatal at ErrorRecoveryLevel 0.
func TestDigestError(t *testing.T) {
	for _, kind := range []pdu.DigestKind{pdu.HeaderDigest, pdu.DataDigest} {
		t.Run(kind.String(), func(t *testing.T) {
			f := newFake(t, iscsitest.Config{})
			s := f.dial(t, func(c *Config) {
				c.Negotiation.HeaderDigest = []string{"CRC32C"}
				c.Negotiation.DataDigest = []string{"CRC32C"}
			})
			ctx := ctxT(t)
			require.NoError(t, s.Do(ctx, readCmd(0, make([]byte, 4096))), "digests work")
			f.conn(t).CorruptNextDigest(kind)
			err := s.Do(ctx, readCmd(0, make([]byte, 4096)))
			require.ErrorIs(t, err, ErrConnection)
			require.ErrorIs(t, err, pdu.ErrDigest)
			require.ErrorIs(t, s.LastError(), pdu.ErrDigest)
			require.Equal(t, uint64(1), s.Stats().DigestErrors)
			require.Equal(t, StateClosed, s.State())
		})
	}
}

// A connection lost in the middle of writes fails every command in
// flight with ErrConnection at once (no timeout involved); a command that
// reported success has its data at the target.
func TestConnectionLostMidWrite(t *testing.T) {
	const writers, size = 8, 1 << 20
	cases := []struct {
		name string
		kill func(c *iscsitest.Conn)
	}{
		{name: "closed", kill: (*iscsitest.Conn).Kill},
		{name: "reset", kill: (*iscsitest.Conn).Reset},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var dataOuts atomic.Int32
				hooks := iscsitest.Hooks{OnReceive: func(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
					if _, ok := p.(*pdu.DataOut); ok && dataOuts.Add(1) == 100 {
						tc.kill(c)
						return iscsitest.Drop
					}
					return iscsitest.Continue
				}}
				f := newFake(t, iscsitest.Config{R2TSplit: 16 << 10, MaxOutstandingR2T: 2, Hooks: hooks})
				s := f.dial(t)
				start := time.Now()
				var wg sync.WaitGroup
				errs := make([]error, writers)
				for i := range writers {
					wg.Go(func() { errs[i] = s.Do(ctxT(t), writeCmd(uint64(i*size/fakeBlockSize), pattern(size, byte(i)))) })
				}
				wg.Wait()
				require.Zero(t, time.Since(start), "failed by the loss itself, not by a timeout")
				failed := 0
				for i, err := range errs {
					if err == nil {
						require.Equal(t, pattern(size, byte(i)), f.atTarget(t, int64(i*size), size), "writer %d", i)
						continue
					}
					failed++
					require.ErrorIs(t, err, ErrConnection, "writer %d", i)
				}
				require.Positive(t, failed)
				require.Equal(t, StateClosed, s.State())
			})
		})
	}
}

// A command the target holds fails as soon as the connection goes.
func TestConnectionLostWhileHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var held atomic.Bool
		hold := func(_ *iscsitest.Conn, cdb []byte) bool {
			return cdb[0] == byte(scsi.OpWrite16) && held.CompareAndSwap(false, true)
		}
		f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{HoldCommand: hold}})
		s := f.dial(t, func(c *Config) { c.Recover = true })
		done := make(chan error, 1)
		go func() { done <- s.Do(ctxT(t), writeCmd(0, pattern(256<<10, 1))) }()
		synctest.Wait()
		c := f.conn(t)
		require.Len(t, c.Held(), 1)
		start := time.Now()
		c.Kill()
		err := <-done
		require.ErrorIs(t, err, ErrConnection)
		require.Zero(t, time.Since(start))
		require.Equal(t, StateFailed, s.State())

		time.Sleep(2 * time.Second) // DefaultTime2Wait
		synctest.Wait()
		require.Equal(t, StateLoggedIn, s.State())
		require.Equal(t, make([]byte, 4096), f.atTarget(t, 0, 4096), "the held write never ran")
		require.NoError(t, s.Do(ctxT(t), writeCmd(0, pattern(4096, 2))))
	})
}

// Close while commands are in flight fails them with ErrSessionClosed
// and leaves no goroutine behind.
func TestCloseWithCommandsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := func(_ *iscsitest.Conn, cdb []byte) bool { return cdb[0] == byte(scsi.OpRead16) }
		f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{HoldCommand: hold}})
		s := f.dial(t)
		done := make(chan error, 4)
		for range 4 {
			go func() { done <- s.Do(context.Background(), readCmd(0, make([]byte, 4096))) }()
		}
		synctest.Wait()
		require.NoError(t, s.Close(context.Background()))
		for range 4 {
			err := <-done
			require.ErrorIs(t, err, ErrConnection)
		}
		require.Equal(t, StateClosed, s.State())
	})
}
