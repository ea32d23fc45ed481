package iscsi

import (
	"context"
	"errors"
	"net"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// logins records the leading Login Request of every connection to a
// target.
type logins struct {
	mu   sync.Mutex
	reqs []pdu.LoginRequest
}

// hook is an OnReceive hook recording leading Login Requests.
func (l *logins) hook(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
	if r, ok := p.(*pdu.LoginRequest); ok && r.CSG == pdu.StageSecurity {
		l.mu.Lock()
		defer l.mu.Unlock()
		req := *r
		req.Data = nil
		l.reqs = append(l.reqs, req)
	}
	return iscsitest.Continue
}

func (l *logins) requests() []pdu.LoginRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]pdu.LoginRequest(nil), l.reqs...)
}

// With the window closed, commands wait without being sent (only immediate
// ones pass); a target ping announcing a larger MaxCmdSN lets them go.
func TestCmdSNWindowClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{MaxCmdSNWindow: iscsitest.WindowClosed})
		s := f.dial(t)
		c := f.conn(t)
		const n = 64
		const size = 8 << 10
		errs := make(chan error, n)
		for i := range n {
			go func() { errs <- s.Do(ctxT(t), writeCmd(uint64(i*size/fakeBlockSize), pattern(size, byte(i)))) }()
		}
		synctest.Wait()
		require.Empty(t, errs, "commands wait while the window is closed")
		require.NoError(t, s.Ping(ctxT(t)), "an immediate NOP-Out passes a closed window")
		require.Zero(t, c.Stats().Received[pdu.OpSCSICommand])

		c.SetCmdSNWindow(1)
		require.NoError(t, c.Ping())
		for range n {
			require.NoError(t, <-errs)
		}
		for i := range n {
			require.Equal(t, pattern(size, byte(i)), f.atTarget(t, int64(i*size), size))
		}
		require.NoError(t, s.Ping(ctxT(t)))
		st := c.Stats()
		require.Equal(t, n, st.Received[pdu.OpSCSICommand])
		require.Equal(t, 1, st.PingsAnswered)
		require.Zero(t, st.Dropped)
	})
}

// A command waiting on a closed window gives up when its context ends,
// without consuming a CmdSN.
func TestCmdSNWindowClosedContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{MaxCmdSNWindow: iscsitest.WindowClosed})
		s := f.dial(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		err := s.Do(ctx, readCmd(0, make([]byte, 512)))
		require.ErrorIs(t, err, ErrAborted)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		f.conn(t).SetCmdSNWindow(4)
		require.NoError(t, f.conn(t).Ping())
		require.NoError(t, s.Do(ctxT(t), readCmd(0, make([]byte, 512))), "no CmdSN gap")
	})
}

// With Recover, a lost connection is reinstated after DefaultTime2Wait:
// a new login with the same ISID and TSIH 0. A command issued meanwhile
// waits (ReplacementTimeout) and then succeeds.
func TestRecoverReinstates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ls := &logins{}
		f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{OnReceive: ls.hook}})
		s := f.dial(t, func(c *Config) {
			c.Recover, c.ReplacementTimeout = true, time.Minute
			c.Negotiation.DefaultTime2Wait = 3
		})
		first := f.conn(t)
		require.Equal(t, 3, s.Params().DefaultTime2Wait)
		start := time.Now()
		first.Kill()
		synctest.Wait()
		require.Equal(t, StateFailed, s.State())
		require.Error(t, s.LastError())

		want := pattern(64<<10, 9)
		require.NoError(t, s.Do(ctxT(t), writeCmd(0, want)), "waits for the reinstated session")
		require.Equal(t, 3*time.Second, time.Since(start), "after DefaultTime2Wait, not before")
		require.Equal(t, StateLoggedIn, s.State())
		require.Equal(t, want, f.atTarget(t, 0, len(want)))

		second := f.conn(t)
		require.NotSame(t, first, second)
		require.Equal(t, s.ISID(), second.Params().ISID, "same ISID")
		reqs := ls.requests()
		require.Len(t, reqs, 2)
		for _, r := range reqs {
			require.Zero(t, r.TSIH, "a reinstatement logs in with TSIH 0")
			require.Equal(t, s.ISID(), r.ISID)
		}
		require.NotEqual(t, first.Params().TSIH, second.Params().TSIH)
		require.Equal(t, uint64(1), s.Stats().Reconnects)
	})
}

// Failed reinstatement attempts back off exponentially from one second,
// capped at MaxRecoveryBackoff.
func TestRecoverBackoff(t *testing.T) {
	cases := []struct {
		name    string
		refuse  int
		maxWait time.Duration
		want    []int // seconds after the loss of each dial
	}{
		{name: "first attempt", want: []int{2}},
		{name: "three refused", refuse: 3, want: []int{2, 3, 5, 9}},
		{name: "capped", refuse: 5, maxWait: 2 * time.Second, want: []int{2, 3, 5, 7, 9, 11}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(t, iscsitest.Config{})
				var mu sync.Mutex
				var dials []time.Duration
				var start time.Time
				s := f.dial(t, func(c *Config) {
					c.Recover, c.MaxRecoveryBackoff = true, tc.maxWait
					c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
						mu.Lock()
						if !start.IsZero() {
							dials = append(dials, time.Since(start))
						}
						mu.Unlock()
						return f.Dial(ctx, network, addr)
					}
				})
				f.refuseDials(tc.refuse)
				mu.Lock()
				start = time.Now()
				mu.Unlock()
				f.conn(t).Kill()
				time.Sleep(time.Minute)
				require.Equal(t, StateLoggedIn, s.State())
				var want []time.Duration
				for _, d := range tc.want {
					want = append(want, time.Duration(d)*time.Second)
				}
				mu.Lock()
				defer mu.Unlock()
				require.Equal(t, want, dials)
			})
		})
	}
}

// ReplacementTimeout bounds how long commands wait for a failed session:
// zero fails them at once, as multipath wants.
func TestReplacementTimeout(t *testing.T) {
	cases := []struct {
		name    string
		timeout time.Duration
	}{{"zero", 0}, {"five seconds", 5 * time.Second}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(t, iscsitest.Config{})
				s := f.dial(t, func(c *Config) { c.Recover, c.ReplacementTimeout = true, tc.timeout })
				f.refuseDials(1 << 20) // the target stays unreachable
				f.conn(t).Kill()
				synctest.Wait()
				require.Equal(t, StateFailed, s.State())
				start := time.Now()
				err := s.Do(ctxT(t), readCmd(0, make([]byte, 512)))
				require.ErrorIs(t, err, ErrConnection)
				require.Equal(t, tc.timeout, time.Since(start))
				require.Equal(t, StateFailed, s.State(), "still trying")
				require.NoError(t, s.Close(context.Background()))
				require.Equal(t, StateClosed, s.State())
			})
		})
	}
}

// Without Recover a lost connection closes the session for good.
func TestConnectionLostWithoutRecover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{})
		s := f.dial(t)
		f.conn(t).Kill()
		synctest.Wait()
		require.Equal(t, StateClosed, s.State())
		select {
		case <-s.Done():
		default:
			t.Fatal("Done is not closed although the session is closed for good")
		}
		err := s.Do(ctxT(t), readCmd(0, make([]byte, 512)))
		require.ErrorIs(t, err, ErrConnection)
		require.ErrorIs(t, err, ErrSessionClosed)
		require.Len(t, f.Dialed(), 1, "no reconnection")
		require.NoError(t, s.Close(context.Background()))
	})
}

// Close during a reinstatement stops it; every goroutine ends.
func TestCloseDuringRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(t, iscsitest.Config{})
		s := f.dial(t, func(c *Config) { c.Recover = true })
		f.refuseDials(1 << 20)
		f.conn(t).Kill()
		time.Sleep(10 * time.Second)
		require.Equal(t, StateFailed, s.State())
		require.NoError(t, s.Close(context.Background()))
		require.Equal(t, StateClosed, s.State())
		n := len(f.Dialed())
		time.Sleep(time.Minute)
		require.Len(t, f.Dialed(), n, "no attempt after Close")
	})
}

// Unit attention after login (29/00) is retried transparently.
func TestUnitAttentionRetried(t *testing.T) {
	f := newFake(t, iscsitest.Config{UnitAttentionOnLogin: true})
	s := f.dial(t)
	ctx := ctxT(t)
	cmd := readCmd(0, make([]byte, 4096))
	require.NoError(t, s.Do(ctx, cmd))
	require.Equal(t, pdu.StatusGood, cmd.Status)
	require.Equal(t, 2, f.conn(t).Stats().Commands[0x88], "the READ was sent twice")
	_, err := s.OpenLUN(ctx, fakeLUN)
	require.NoError(t, err)
}

// Five unit attentions in a row are more than the retry budget: the last
// one is returned as a *SCSIError.
func TestUnitAttentionRetryBudget(t *testing.T) {
	f := newFake(t, iscsitest.Config{Hooks: iscsitest.Hooks{BeforeSend: func(_ *iscsitest.Conn, p pdu.PDU) iscsitest.Action {
		if r, ok := p.(*pdu.SCSIResponse); ok {
			r.Status = pdu.StatusCheckCondition
			r.Data = pdu.AppendSenseSegment(nil, []byte{0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0}, nil)
		}
		return iscsitest.Continue
	}}})
	s := f.dial(t)
	err := s.Do(ctxT(t), &Command{LUN: fakeLUN, CDB: make([]byte, 6)})
	var se *SCSIError
	require.ErrorAs(t, err, &se)
	require.True(t, se.HasSense)
	require.Equal(t, 4, f.conn(t).Stats().Commands[0x00], "one try and three retries")
	require.False(t, errors.Is(err, ErrConnection))
}

// After Close, no goroutine of the package is left, whatever the session
// was doing: idle with pings, aborting a task the target ignores,
// reinstating a lost connection, or logging out at the target's request.
func TestCloseEndsGoroutines(t *testing.T) {
	hold := func(_ *iscsitest.Conn, cdb []byte) bool { return cdb[0] == byte(scsi.OpRead16) }
	cases := []struct {
		name   string
		target iscsitest.Config
		cfg    func(*Config)
		before func(t *testing.T, f *fake, s *Session)
	}{
		{name: "idle with pings", cfg: func(c *Config) { c.NOPInterval = time.Millisecond }},
		{name: "after I/O", before: func(t *testing.T, f *fake, s *Session) {
			runConcurrent(t, f, s, 8)
		}},
		{name: "abort unanswered", target: iscsitest.Config{Hooks: iscsitest.Hooks{HoldCommand: hold,
			OnReceive: (&tmfs{drop: true}).hook}},
			before: func(t *testing.T, f *fake, s *Session) {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- s.Do(ctx, readCmd(0, make([]byte, 4096))) }()
				for len(f.conn(t).Held()) == 0 {
					runtime.Gosched()
				}
				cancel()
				require.ErrorIs(t, <-done, ErrAborted)
			}},
		{name: "reinstating", cfg: func(c *Config) { c.Recover = true },
			before: func(t *testing.T, f *fake, s *Session) {
				f.refuseDials(1 << 20)
				f.conn(t).Kill()
				for s.State() != StateFailed {
					runtime.Gosched()
				}
			}},
		{name: "logout requested", cfg: func(c *Config) { c.Recover = true },
			before: func(t *testing.T, f *fake, s *Session) {
				require.NoError(t, f.conn(t).SendAsync(pdu.AsyncMessage{Event: pdu.AsyncLogoutRequest}))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.target)
			cfg := f.cfg()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s, err := Dial(context.Background(), cfg)
			require.NoError(t, err)
			if tc.before != nil {
				tc.before(t, f, s)
			}
			_ = s.Close(context.Background())
			requireNoGoroutines(t)
		})
	}
}
