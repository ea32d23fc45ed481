package iscsi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/iscsi/internal/chap"
	"github.com/gomp-dev/gomp/iscsi/internal/serial"
	"github.com/gomp-dev/gomp/pdu"
)

// State is a session's state.
type State int32

// Session states.
const (
	StateLoggedIn State = iota // full-feature phase, commands flow
	StateFailed                // connection lost, reinstatement under way
	StateClosed                // logged out or given up
)

// String returns "logged-in", "failed" or "closed", or "State(N)" for an
// unknown value.
func (s State) String() string {
	switch s {
	case StateLoggedIn:
		return "logged-in"
	case StateFailed:
		return "failed"
	case StateClosed:
		return "closed"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Session is a normal iSCSI session with one connection to one portal
// (RFC 7143 §4.4, ERL 0). It carries every LUN of its target. All methods
// are safe for concurrent use.
type Session struct {
	cfg       Config
	expStatSN atomic.Uint32 // read by the writer for every PDU
	stats     sessionCounters
	capGen    atomic.Uint64 // unit attentions that change LUN capabilities (LUN.Stale)
	lunsGen   atomic.Uint64 // REPORTED LUNS DATA HAS CHANGED seen (LUNsGeneration)

	mu         sync.Mutex // guards the following
	state      State
	conn       *conn
	tasks      map[uint32]*task
	nextITT    uint32
	cmdSN      uint32 // next CmdSN to assign
	expCmdSN   uint32
	maxCmdSN   uint32
	changed    chan struct{} // closed on any window or state change
	watched    bool          // a waiter holds changed: notify must close it
	params     Params
	tsih       uint16
	movedTo    string // a permanent redirect's portal, for reinstatements
	lastErr    error
	recovering bool
	shutdown   bool // Close has begun: a lost connection is not recovered
	health     sessionHealth

	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
	taskPool  sync.Pool // *task, see newPooledTask
}

// Dial logs in to cfg.TargetName at cfg.Portal and returns a session in the
// full-feature phase. Redirects (RFC 7143 §11.13.5, status 0x0101/0x0102)
// are followed.
func Dial(ctx context.Context, cfg Config) (*Session, error) {
	cfg = cfg.withDefaults()
	if cfg.TargetName == "" {
		return nil, errors.New("iscsi: Dial needs a TargetName; use Discover for discovery sessions")
	}
	s := &Session{cfg: cfg, tasks: make(map[uint32]*task), changed: make(chan struct{}), nextITT: 1}
	s.taskPool.New = newPooledTask
	s.ctx, s.cancel = context.WithCancel(context.Background())
	t, res, err := loginTo(ctx, cfg, 0, false)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.mu.Lock()
	s.start(t, res)
	s.mu.Unlock()
	cfg.Logger.Info("iscsi session logged in", "portal", cfg.Portal, "target", cfg.TargetName,
		"isid", cfg.ISID.String(), "tsih", res.tsih, "error_recovery_level", res.params.ErrorRecoveryLevel)
	return s, nil
}

// loginTo dials a portal and runs a login, following redirects and
// retrying once with CHAP MD5 alone when the target refuses the list.
func loginTo(ctx context.Context, cfg Config, tsih uint16, discovery bool) (*transport, *loginResult, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.LoginTimeout)
	defer cancel()
	algs := cfg.CHAP.algorithms()
	movedTo := ""
	for range 5 {
		c, err := cfg.Dial(ctx, "tcp", cfg.Portal)
		if err != nil {
			return nil, nil, &ConnError{Portal: cfg.Portal, Err: fmt.Errorf("connect: %w", err)}
		}
		t := newTransport(c)
		l := &login{cfg: cfg, t: t, tsih: tsih, discovery: discovery, algs: algs}
		res, err := l.run(ctx)
		if err == nil {
			res.movedTo = movedTo
			return t, res, nil
		}
		c.Close()
		var re *redirectError
		switch {
		case errors.Is(err, errRetryMD5):
			algs = []chap.Algorithm{chap.MD5}
		case errors.As(err, &re):
			cfg.Logger.Info("iscsi login redirected", "portal", cfg.Portal, "to", re.addr, "permanent", re.permanent)
			cfg.Portal = withPort(portalOf(re.addr))
			if re.permanent {
				movedTo = cfg.Portal
			}
		default:
			if ctx.Err() != nil && !errors.Is(err, ErrConnection) {
				err = &ConnError{Portal: cfg.Portal, Err: fmt.Errorf("login: %w", ctx.Err())}
			}
			return nil, nil, err
		}
	}
	return nil, nil, &LoginError{Portal: cfg.Portal, Target: cfg.TargetName, Err: errors.New("too many redirects")}
}

// start enters the full-feature phase on a logged-in transport. s.mu held.
func (s *Session) start(t *transport, res *loginResult) {
	p := res.params
	t.fr.SetDigests(p.HeaderDigest, p.DataDigest)
	t.fr.SetMaxRecvDataSegmentLength(p.MaxRecvDataSegmentLength)
	t.fr.SetMaxSendDataSegmentLength(p.TargetMaxRecvDataSegmentLength)
	s.params, s.tsih = p, res.tsih
	if res.movedTo != "" {
		s.movedTo = res.movedTo
	}
	s.stats.PDUsOut[pdu.OpLoginReq].Add(uint64(res.sent))
	s.stats.PDUsIn[pdu.OpLoginResp].Add(uint64(res.received))
	s.cmdSN, s.expCmdSN, s.maxCmdSN = res.expCmdSN, res.expCmdSN, res.maxCmdSN
	s.expStatSN.Store(res.expStatSN)
	s.state = StateLoggedIn
	c := newConn(s, t)
	s.conn = c
	s.notifyLocked()
	s.wg.Add(3)
	go c.readLoop()
	go c.writeLoop()
	go c.pingLoop()
}

// goLocked runs fn in a goroutine that Close waits for; once Close has
// begun it does nothing (the WaitGroup must not grow during its Wait).
// s.mu held.
func (s *Session) goLocked(fn func()) {
	if !s.shutdown {
		s.wg.Go(fn)
	}
}

// notifyLocked wakes everything waiting for a window or state change. With
// no waiter it does nothing, so that the window moving with every response
// costs no allocation.
func (s *Session) notifyLocked() {
	if !s.watched {
		return
	}
	close(s.changed)
	s.changed, s.watched = make(chan struct{}), false
}

// State returns the session's current state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Params returns the negotiated parameters of the current connection.
func (s *Session) Params() Params {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.params
}

// Portal returns the portal this session is connected to.
func (s *Session) Portal() string { return s.cfg.Portal }

// TargetName returns the target's IQN.
func (s *Session) TargetName() string { return s.cfg.TargetName }

// ISID returns the session's initiator session id.
func (s *Session) ISID() pdu.ISID { return s.cfg.ISID }

// LastError returns the error that last failed the connection, if any.
func (s *Session) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Done returns a channel closed when the session is closed for good.
func (s *Session) Done() <-chan struct{} { return s.ctx.Done() }

// allocITT returns a free task tag: never ReservedTag, never one in use.
// s.mu held.
func (s *Session) allocITT() uint32 {
	for {
		itt := s.nextITT
		s.nextITT++
		if itt == pdu.ReservedTag {
			continue
		}
		if _, busy := s.tasks[itt]; !busy {
			return itt
		}
	}
}

// acquire waits until the session is logged in and, for a non-immediate
// task, the CmdSN window is open. It returns with s.mu held.
func (s *Session) acquire(ctx context.Context, immediate bool) (*conn, error) {
	var deadline <-chan time.Time
	s.mu.Lock()
	for {
		switch {
		case s.state == StateClosed:
			err := s.lastErr
			s.mu.Unlock()
			if err == nil {
				return nil, ErrSessionClosed
			}
			return nil, &ConnError{Portal: s.cfg.Portal, Err: fmt.Errorf("%w: %w", ErrSessionClosed, err)}
		case s.state == StateFailed && s.cfg.ReplacementTimeout <= 0:
			err := s.lastErr
			s.mu.Unlock()
			return nil, &ConnError{Portal: s.cfg.Portal, Err: fmt.Errorf("session failed: %w", err)}
		case s.state == StateLoggedIn && (immediate || serial.Window(s.cmdSN, s.maxCmdSN) > 0):
			return s.conn, nil
		}
		if s.state == StateFailed && deadline == nil {
			timer := time.NewTimer(s.cfg.ReplacementTimeout)
			defer timer.Stop()
			deadline = timer.C
		}
		changed := s.changed
		s.watched = true
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrAborted, ctx.Err())
		case <-deadline:
			s.mu.Lock()
			err := s.lastErr
			s.mu.Unlock()
			return nil, &ConnError{Portal: s.cfg.Portal, Err: fmt.Errorf("replacement timeout: %w", err)}
		}
		s.mu.Lock()
	}
}

// updateWindow applies ExpCmdSN/MaxCmdSN from a response (RFC 7143
// §4.2.2.1): ignored when MaxCmdSN < ExpCmdSN - 1, or when ExpCmdSN
// acknowledges a CmdSN we have not assigned (believing it would open the
// window beyond what the target allows), else each only moves forward.
// s.mu held.
func (s *Session) updateWindow(exp, max uint32) {
	if serial.Less(max, exp-1) || serial.Less(s.cmdSN, exp) {
		return
	}
	opened := false
	if serial.Less(s.expCmdSN, exp) {
		s.expCmdSN = exp
	}
	if serial.Less(s.maxCmdSN, max) {
		s.maxCmdSN, opened = max, true
	}
	if opened {
		s.notifyLocked()
	}
}

// ackStatSN records a StatSN received with status.
func (s *Session) ackStatSN(statSN uint32) {
	for {
		cur := s.expStatSN.Load()
		if !serial.Less(cur, statSN+1) || s.expStatSN.CompareAndSwap(cur, statSN+1) {
			return
		}
	}
}

// finish completes a task with err. s.mu held.
func (s *Session) finish(t *task, err error) {
	if t.finished {
		return
	}
	t.finished, t.err = true, err
	delete(s.tasks, t.itt)
	t.signal()
}

// connFailed handles the loss of connection c: every task on it fails with
// a ConnError (the caller may retry them elsewhere), and reinstatement
// starts when configured.
func (s *Session) connFailed(c *conn, cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != c {
		return
	}
	err := &ConnError{Portal: s.cfg.Portal, Err: cause}
	s.conn, s.lastErr = nil, cause
	s.health.connFailures++
	for _, t := range s.tasks {
		if t.conn == c {
			s.finish(t, err)
		}
	}
	switch {
	case s.shutdown || s.ctx.Err() != nil:
		s.state = StateClosed
	default:
		if s.cfg.Recover {
			s.state = StateFailed
			if !s.recovering {
				s.recovering = true
				s.wg.Add(1)
				go s.recover(c.time2Wait())
			}
		} else {
			s.state = StateClosed
			s.cancel() // closed for good: Done must close
		}
	}
	level := slog.LevelWarn
	if s.shutdown {
		level = slog.LevelDebug // the target closes the connection after logout
	}
	s.cfg.Logger.Log(context.Background(), level, "iscsi connection failed", "portal", s.cfg.Portal,
		"target", s.cfg.TargetName, "err", cause, "state", s.state)
	s.notifyLocked()
}

// recover reinstates the session (RFC 7143 §6.3.5, ERL 0): same ISID,
// TSIH 0, after DefaultTime2Wait, with bounded exponential backoff.
func (s *Session) recover(wait time.Duration) {
	defer s.wg.Done()
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		timer := time.NewTimer(wait)
		select {
		case <-s.ctx.Done():
			timer.Stop()
			s.endRecovery()
			return
		case <-timer.C:
		}
		cfg := s.cfg
		s.mu.Lock()
		if s.movedTo != "" {
			cfg.Portal = s.movedTo
		}
		s.mu.Unlock()
		t, res, err := loginTo(s.ctx, cfg, 0, false)
		if err == nil {
			s.mu.Lock()
			closed := s.ctx.Err() != nil
			if !closed {
				s.recovering = false
				s.start(t, res)
			}
			s.mu.Unlock()
			if closed {
				t.conn.Close()
				s.endRecovery()
				return
			}
			s.stats.Reconnects.Add(1)
			s.cfg.Logger.Info("iscsi session reinstated", "portal", s.cfg.Portal,
				"target", s.cfg.TargetName, "attempt", attempt)
			return
		}
		s.mu.Lock()
		s.lastErr = err
		s.health.loginFailures++
		s.health.lastLoginErr = err
		s.mu.Unlock()
		s.cfg.Logger.Warn("iscsi reconnect failed", "portal", s.cfg.Portal, "target", s.cfg.TargetName,
			"attempt", attempt, "err", err)
		wait, backoff = backoff, min(2*backoff, s.cfg.MaxRecoveryBackoff)
	}
}

func (s *Session) endRecovery() {
	s.mu.Lock()
	s.recovering, s.state = false, StateClosed
	s.notifyLocked()
	s.mu.Unlock()
}

// Close logs out (RFC 7143 §11.14, reason "close the session") when the
// session is logged in, then closes the connection and stops every
// goroutine. Commands still running fail with ErrSessionClosed. ctx bounds
// the logout exchange.
func (s *Session) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.shutdown = true
		s.mu.Unlock()
		err = s.logout(ctx)
		s.cancel()
		s.mu.Lock()
		c := s.conn
		s.mu.Unlock()
		if c != nil {
			c.fail(ErrSessionClosed)
		}
		s.mu.Lock()
		s.state = StateClosed
		s.notifyLocked()
		s.mu.Unlock()
		s.wg.Wait()
	})
	return err
}
