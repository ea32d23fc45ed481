package iscsi

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/pdu"
)

// dropOurPings is an OnReceive hook that loses every NOP-Out asking for an
// answer (the initiator's pings), as a dead path does.
func dropOurPings(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
	if n, ok := p.(*pdu.NOPOut); ok && n.ITT != pdu.ReservedTag {
		return iscsitest.Drop
	}
	return iscsitest.Continue
}

// The target's NOP-In pings are answered with its TTT (synctest: the
// target pings every 5 s of the bubble's clock).
func TestTargetPingsAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{NOPInInterval: 5 * time.Second})
		s := f.dial(t)
		time.Sleep(31 * time.Second)
		synctest.Wait()
		st := f.conn(t).Stats()
		require.Equal(t, 6, st.PingsSent)
		require.Equal(t, 6, st.PingsAnswered)
		require.Equal(t, StateLoggedIn, s.State())
	})
}

// Our pings go out every NOPInterval and keep the connection up while the
// target answers.
func TestPingsKeepAlive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{})
		s := f.dial(t, func(c *Config) { c.NOPInterval, c.NOPTimeout = 2*time.Second, 3*time.Second })
		time.Sleep(21 * time.Second)
		synctest.Wait()
		require.Equal(t, 10, f.conn(t).Stats().Received[pdu.OpNOPOut])
		require.Equal(t, StateLoggedIn, s.State())
		require.Zero(t, s.Stats().NOPTimeouts)
	})
}

// A ping left unanswered for NOPTimeout fails the connection, exactly
// NOPInterval+NOPTimeout after the last traffic.
func TestPingTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: dropOurPings}})
		s := f.dial(t, func(c *Config) { c.NOPInterval, c.NOPTimeout = 2*time.Second, 3*time.Second })
		time.Sleep(5*time.Second - time.Nanosecond)
		synctest.Wait()
		require.Equal(t, StateLoggedIn, s.State())
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		require.Equal(t, StateClosed, s.State())
		require.ErrorContains(t, s.LastError(), "ping timeout")
		require.Equal(t, uint64(1), s.Stats().NOPTimeouts)
		err := s.Do(ctxT(t), readCmd(0, make([]byte, 512)))
		require.ErrorIs(t, err, ErrConnection)
	})
}

// Other traffic from the target within NOPTimeout (its own pings here)
// proves the path alive even when our pings are lost.
func TestPingTimeoutOtherTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{NOPInInterval: time.Second, Hooks: iscsitest.Hooks{OnReceive: dropOurPings}})
		s := f.dial(t, func(c *Config) { c.NOPInterval, c.NOPTimeout = 2*time.Second, 3*time.Second })
		time.Sleep(30 * time.Second)
		synctest.Wait()
		require.Equal(t, StateLoggedIn, s.State())
		require.Zero(t, s.Stats().NOPTimeouts)
	})
}

// Session.Ping is an immediate NOP-Out answered by a NOP-In; it passes a
// closed CmdSN window and honours its context.
func TestSessionPing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{MaxCmdSNWindow: iscsitest.WindowClosed})
		s := f.dial(t)
		require.NoError(t, s.Ping(ctxT(t)))
		require.Equal(t, 1, f.conn(t).Stats().Received[pdu.OpNOPOut])

		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		f2 := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: dropOurPings}})
		s2 := f2.dial(t)
		start := time.Now()
		err := s2.Ping(ctx)
		require.ErrorIs(t, err, ErrAborted)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 4*time.Second, time.Since(start))
		require.Equal(t, StateLoggedIn, s2.State(), "a caller's ping timeout is not a path failure")
	})
}
