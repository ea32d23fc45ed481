package iscsi

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

var errStall = errors.New("stalled")

// answerTMF makes the target answer every task management request of
// function fn with resp instead of what it would say.
func answerTMF(fn *pdu.TMFunction, resp pdu.TMFResponse) func(*iscsitest.Conn, pdu.PDU) iscsitest.Action {
	return func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		if r, ok := p.(*pdu.TaskMgmtResponse); ok && *fn == pdu.TMFAbortTask {
			r.Response = resp
		}
		return iscsitest.Continue
	}
}

// abortResult is what abortCase saw.
type abortResult struct {
	doErr    error // Do's error, nil while Do still waits
	abortErr error // AbortInFlight's
	fns      []pdu.TMFunction
	f        *fake
}

// abortCase runs a held WRITE, then AbortInFlight, and reports what
// happened, with the task management functions the target saw.
func abortCase(t *testing.T, rec *tmfs, before func(*iscsitest.Conn, pdu.PDU) iscsitest.Action) abortResult {
	f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: rec.hook, BeforeSend: before,
		HoldCommand: holdOnce(scsi.OpWrite16)}})
	s := f.dial(t, func(c *Config) { c.NOPTimeout = 2 * time.Second })
	done := make(chan error, 1)
	go func() { done <- s.Do(context.Background(), writeCmd(8, pattern(4096, 9))) }()
	synctest.Wait()
	r := abortResult{f: f, abortErr: s.AbortInFlight(context.Background(), errStall)}
	synctest.Wait()
	select {
	case r.doErr = <-done:
	default:
	}
	for _, q := range rec.requests() {
		r.fns = append(r.fns, q.Function)
	}
	return r
}

// ABORT TASK answered FUNCTION COMPLETE: the command fails with ErrAborted
// wrapping the cause, and it never ran.
func TestAbortInFlightComplete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := abortCase(t, &tmfs{}, nil)
		require.NoError(t, r.abortErr)
		require.ErrorIs(t, r.doErr, ErrAborted)
		require.ErrorIs(t, r.doErr, errStall)
		require.Equal(t, []pdu.TMFunction{pdu.TMFAbortTask}, r.fns)
		require.Equal(t, make([]byte, 4096), r.f.atTarget(t, 8*fakeBlockSize, 4096), "the aborted write never ran")
	})
}

// ABORT TASK answered TASK DOES NOT EXIST counts as done too; any other
// answer (function not supported, rejected) escalates to LOGICAL UNIT RESET.
func TestAbortInFlightEscalates(t *testing.T) {
	for _, tc := range []struct {
		resp pdu.TMFResponse
		want []pdu.TMFunction
	}{
		{pdu.TMFTaskDoesNotExist, []pdu.TMFunction{pdu.TMFAbortTask}},
		{pdu.TMFNotSupported, []pdu.TMFunction{pdu.TMFAbortTask, pdu.TMFLogicalUnitReset}},
		{pdu.TMFRejected, []pdu.TMFunction{pdu.TMFAbortTask, pdu.TMFLogicalUnitReset}},
	} {
		t.Run(tc.resp.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &tmfs{}
				fn := pdu.TMFAbortTask
				// the hook answers only ABORT TASK falsely: it sees the
				// request's function through rec
				before := func(c *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
					if reqs := rec.requests(); len(reqs) > 0 {
						fn = reqs[len(reqs)-1].Function
					}
					return answerTMF(&fn, tc.resp)(c, p)
				}
				r := abortCase(t, rec, before)
				require.NoError(t, r.abortErr)
				require.ErrorIs(t, r.doErr, ErrAborted)
				require.Equal(t, tc.want, r.fns)
			})
		})
	}
}

// A target that answers neither: AbortInFlight fails after NOPTimeout for
// each step and the command is not failed, so that the caller drops the
// connection first; then it fails with a connection error.
func TestAbortInFlightUnconfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &tmfs{drop: true}
		start := time.Now()
		r := abortCase(t, rec, nil)
		require.Error(t, r.abortErr)
		require.Equal(t, 4*time.Second, time.Since(start))
		require.NoError(t, r.doErr, "the command still waits")
		require.Equal(t, []pdu.TMFunction{pdu.TMFAbortTask, pdu.TMFLogicalUnitReset}, r.fns)
		r.f.conn(t).Reset()
		synctest.Wait()
	})
}
