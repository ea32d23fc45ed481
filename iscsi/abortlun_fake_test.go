package iscsi

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// On a session shared by several LUNs, a LUN's AbortInFlight aborts its
// own commands only: another LUN's stall watchdog leaves them running.
func TestLUNAbortInFlightOwnCommandsOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &tmfs{}
		f := newFake(t, iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{
			fakeLUN: iscsitest.NewLUN(fakeBlocks, fakeBlockSize), 2: iscsitest.NewLUN(fakeBlocks, fakeBlockSize)},
			Hooks: iscsitest.Hooks{OnReceive: rec.hook, HoldCommand: holdOnce(scsi.OpWrite16)}})
		s := f.dial(t, func(c *Config) { c.NOPTimeout = 2 * time.Second })
		ctx := context.Background()
		own, err := s.OpenLUN(ctx, fakeLUN)
		require.NoError(t, err)
		other, err := s.OpenLUN(ctx, 2)
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- s.Do(ctx, writeCmd(8, pattern(4096, 3))) }() // LUN fakeLUN, held
		synctest.Wait()

		require.NoError(t, other.AbortInFlight(ctx, errStall))
		synctest.Wait()
		require.Empty(t, rec.requests(), "nothing of LUN 2 was in flight")
		select {
		case err := <-done:
			t.Fatalf("LUN %d's write ended by LUN 2's abort: %v", fakeLUN, err)
		default:
		}

		require.NoError(t, own.AbortInFlight(ctx, errStall))
		require.ErrorIs(t, <-done, ErrAborted)
		reqs := rec.requests()
		require.Len(t, reqs, 1)
		require.Equal(t, pdu.TMFAbortTask, reqs[0].Function)
		require.Equal(t, pdu.MakeLUN(fakeLUN), reqs[0].LUN)
	})
}
