package iscsi

import (
	"bytes"
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

// tmfs records the Task Management requests a target receives; with a
// gate, it holds each one until the gate is closed.
type tmfs struct {
	gate chan struct{} // nil: no delay
	drop bool

	mu   sync.Mutex
	reqs []pdu.TaskMgmtRequest
}

func (r *tmfs) hook(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
	req, ok := p.(*pdu.TaskMgmtRequest)
	if !ok {
		return iscsitest.Continue
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, *req)
	r.mu.Unlock()
	if r.gate != nil {
		<-r.gate
	}
	if r.drop {
		return iscsitest.Drop
	}
	return iscsitest.Continue
}

func (r *tmfs) requests() []pdu.TaskMgmtRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pdu.TaskMgmtRequest(nil), r.reqs...)
}

func holdOnce(op scsi.Opcode) func(*iscsitest.Conn, []byte) bool {
	var done atomic.Bool
	return func(_ *iscsitest.Conn, cdb []byte) bool {
		return cdb[0] == byte(op) && done.CompareAndSwap(false, true)
	}
}

// A command whose context ends while the target holds it returns
// ErrAborted at once; ABORT TASK goes to the target for its ITT; data the
// target sends for it later is discarded, never written to the caller's
// buffer.
func TestAbortOnContextEnd(t *testing.T) {
	cases := []struct {
		name  string
		late  bool // the target answers the command before the abort
		write bool
	}{
		{name: "read aborted at the target"},
		{name: "read answered after the caller left", late: true},
		{name: "write aborted at the target", write: true},
		{name: "write answered after the caller left", late: true, write: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &tmfs{}
				if tc.late {
					rec.gate = make(chan struct{})
				}
				op := map[bool]scsi.Opcode{false: scsi.OpRead16, true: scsi.OpWrite16}[tc.write]
				f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: rec.hook, HoldCommand: holdOnce(op)}})
				s := f.dial(t)
				c := f.conn(t)
				_, err := f.lun().WriteAt(pattern(64<<10, 0x77), 0)
				require.NoError(t, err)

				buf := bytes.Repeat([]byte{0xee}, 64<<10)
				cmd := readCmd(0, buf)
				if tc.write {
					cmd = writeCmd(0, buf)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.Do(ctx, cmd) }()
				synctest.Wait()
				held := c.Held()
				require.Len(t, held, 1)

				cancel()
				start := time.Now()
				err = <-done
				require.Zero(t, time.Since(start), "Do returns at once")
				require.ErrorIs(t, err, ErrAborted)
				require.ErrorIs(t, err, context.Canceled)
				require.False(t, errors.Is(err, ErrConnection))
				if tc.write {
					clear(buf) // the caller owns its buffer again
				}
				synctest.Wait()
				if tc.late {
					n, err := c.Release() // Data-In and status for the abandoned task
					require.NoError(t, err)
					require.Equal(t, 1, n)
					close(rec.gate)
				}
				synctest.Wait()
				if !tc.write {
					require.Equal(t, bytes.Repeat([]byte{0xee}, 64<<10), buf, "nothing written after Do returned")
				}
				reqs := rec.requests()
				require.Len(t, reqs, 1)
				require.Equal(t, pdu.TMFAbortTask, reqs[0].Function)
				require.Equal(t, held[0], reqs[0].ReferencedTaskTag)
				require.Equal(t, pdu.MakeLUN(fakeLUN), reqs[0].LUN)
				require.Empty(t, c.Held())
				require.Equal(t, uint64(1), s.Stats().TaskAborts)

				require.Equal(t, StateLoggedIn, s.State())
				got := make([]byte, 4096)
				require.NoError(t, s.Do(ctxT(t), readCmd(0, got)), "the session goes on")
				if tc.write && !tc.late {
					require.Equal(t, pattern(4096, 0x77), got, "the aborted write never ran")
				}
			})
		})
	}
}

// A write abandoned between two R2Ts: the R2T arriving after the caller
// left is not answered, and the caller may reuse its buffer at once.
func TestAbortWriteBetweenR2Ts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		rec := &tmfs{}
		var r2ts atomic.Int32
		hooks := iscsitest.Hooks{OnReceive: rec.hook, BeforeSend: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
			if _, ok := p.(*pdu.R2T); ok && r2ts.Add(1) == 2 {
				<-gate
			}
			return iscsitest.Continue
		}}
		f := newFake(t, iscsitest.Config{ForceInitialR2T: true, NoImmediateData: true, R2TSplit: 4096, Hooks: hooks})
		s := f.dial(t)
		buf := pattern(16<<10, 5)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Do(ctx, writeCmd(0, buf)) }()
		synctest.Wait()
		cancel()
		require.ErrorIs(t, <-done, ErrAborted)
		clear(buf) // no Data-Out may read it now
		close(gate)
		synctest.Wait()

		st := f.conn(t).Stats()
		require.Equal(t, 1, st.Received[pdu.OpDataOut], "the second R2T is not answered")
		require.Len(t, rec.requests(), 1)
		require.Equal(t, make([]byte, 16<<10), f.atTarget(t, 0, 16<<10), "the write never ran")
		require.NoError(t, s.Do(ctxT(t), writeCmd(0, pattern(8192, 6))))
	})
}

// A target that answers neither ABORT TASK nor the LOGICAL UNIT RESET that
// follows loses the connection after NOPTimeout each, as Linux's SCSI error
// handling escalates.
func TestAbortUnanswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &tmfs{drop: true}
		f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: rec.hook, HoldCommand: holdOnce(scsi.OpRead16)}})
		s := f.dial(t, func(c *Config) { c.NOPTimeout = 5 * time.Second })
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := s.Do(ctx, readCmd(0, make([]byte, 4096)))
		require.ErrorIs(t, err, ErrAborted)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		start := time.Now()
		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		require.Equal(t, StateLoggedIn, s.State())
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		require.Equal(t, StateClosed, s.State())
		require.ErrorContains(t, s.LastError(), "LOGICAL UNIT RESET")
		require.Equal(t, 10*time.Second, time.Since(start))
		reqs := rec.requests()
		require.Len(t, reqs, 2)
		require.Equal(t, pdu.TMFAbortTask, reqs[0].Function)
		require.Equal(t, pdu.TMFLogicalUnitReset, reqs[1].Function)
	})
}

func TestLUNReset(t *testing.T) {
	rec := &tmfs{}
	f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: rec.hook}})
	s := f.dial(t)
	require.NoError(t, s.LUNReset(ctxT(t), fakeLUN))
	reqs := rec.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, pdu.TMFLogicalUnitReset, reqs[0].Function)
	require.Equal(t, pdu.MakeLUN(fakeLUN), reqs[0].LUN)
	require.True(t, reqs[0].Immediate)

	err := s.LUNReset(ctxT(t), 9)
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	require.Equal(t, pdu.TMFLUNDoesNotExist, re.TMF)
	require.False(t, errors.Is(err, ErrConnection))
	require.NoError(t, s.Do(ctxT(t), readCmd(0, make([]byte, 512))))
}

// A LUN reset ends the tasks of that LUN at the target without a response
// (SAM-5 §5.6): their callers must not wait forever.
func TestLUNResetEndsTasks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{HoldCommand: holdOnce(scsi.OpRead16)}})
		s := f.dial(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Do(ctx, readCmd(0, make([]byte, 4096))) }()
		synctest.Wait()
		require.Len(t, f.conn(t).Held(), 1)
		start := time.Now()
		require.NoError(t, s.LUNReset(ctxT(t), fakeLUN))
		err := <-done
		require.Zero(t, time.Since(start), "the task ends with the reset, not with its context")
		require.ErrorIs(t, err, ErrAborted)
		require.NoError(t, s.Do(ctxT(t), readCmd(0, make([]byte, 512))))
	})
}
