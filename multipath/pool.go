package multipath

import (
	"context"
	"net"
	"sync"
	"sync/atomic"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// SessionPool shares iSCSI sessions between the devices of a process, as
// open-iscsi does: one session per (initiator name, target, portal and
// binding), carrying every LUN of the target that is attached through
// it, so that 64 LUNs on 4 portals hold 4 sessions, not 256. A session is
// reference-counted by the paths using it and logged out when the last
// one closes. The zero value is ready to use; a SessionPool is safe for
// concurrent use.
//
// The first path to use a session sets its parameters (CHAP,
// negotiation, timers): devices sharing a pool should share them too.
// A session's failure is every one of its paths' failure, and a path's
// Reset (the I/O watchdog) drops the session's connection for all of
// them, as a SCSI host reset does.
type SessionPool struct {
	// ISID, when not nil, returns the ISID of the session of
	// (initiator, target, portal); a stable ISID makes a restarted
	// process's login a reinstatement of its old session (same I_T
	// nexus) rather than a new one beside it (an iscsi.Config.ISID,
	// RFC 7143 §11.12.5). nil picks a random one.
	ISID func(initiator, target, portal string) [6]byte
	// OnUnitAttention, when not nil, hears every UNIT ATTENTION a command
	// of one of the pool's sessions meets (iscsi.Config.OnUnitAttention),
	// with the session's target and portal: REPORTED LUNS DATA HAS
	// CHANGED calls for a rescan. It must not block.
	OnUnitAttention func(target, portal string, lun uint16, code scsi.AdditionalSense)

	mu       sync.Mutex // guards the following
	sessions map[poolKey]*sharedSession
}

// poolKey names one shared session.
type poolKey struct {
	initiator, target, portal string // portal with its binding (JoinPortal)
}

// Sessions returns the number of sessions the pool holds (logged in or
// being reinstated).
func (sp *SessionPool) Sessions() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	n := 0
	for _, ss := range sp.sessions {
		if s := ss.s.Load(); s != nil && s.State() != iscsi.StateClosed {
			n++
		}
	}
	return n
}

// acquire returns the shared session for cfg's target and portal, with
// one more reference; cfg (its Dial replaced) configures a new one.
func (sp *SessionPool) acquire(cfg iscsi.Config, dial func(context.Context, string, string) (net.Conn, error)) *sharedSession {
	key := poolKey{initiator: cfg.InitiatorName, target: cfg.TargetName, portal: iscsi.JoinPortal(cfg.Portal, cfg.Bind)}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if ss := sp.sessions[key]; ss != nil {
		ss.refs++
		return ss
	}
	if sp.ISID != nil {
		cfg.ISID = sp.ISID(key.initiator, key.target, key.portal)
	}
	if f := sp.OnUnitAttention; f != nil {
		cfg.OnUnitAttention = func(lun uint16, code scsi.AdditionalSense) { f(key.target, key.portal, lun, code) }
	}
	ss := newSharedSession(cfg, dial)
	ss.pool, ss.key = sp, key
	if sp.sessions == nil {
		sp.sessions = map[poolKey]*sharedSession{}
	}
	sp.sessions[key] = ss
	return ss
}

// sharedSession is one iSCSI session and the paths (LUNs) using it. The
// session reinstates itself after a connection loss (Recover); one that
// ended for good (or was never logged in) is dialled again by the next
// path that needs it.
type sharedSession struct {
	pool *SessionPool // nil for a path's private session
	key  poolKey
	cfg  iscsi.Config
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	refs int // pool.mu (or 1 for a private session)

	s    atomic.Pointer[iscsi.Session] // nil until the first login
	conn atomic.Pointer[net.TCPConn]   // the current connection, for reset

	mu     sync.Mutex // serialises connect and close
	closed bool

	wmu      sync.Mutex // guards the following
	watchers []accessWatch
}

// newSharedSession returns an unconnected session for cfg with one
// reference; dial (nil: cfg.Bind's dialer) opens its TCP connections.
func newSharedSession(cfg iscsi.Config, dial func(context.Context, string, string) (net.Conn, error)) *sharedSession {
	ss := &sharedSession{cfg: cfg, dial: dial, refs: 1}
	if ss.cfg.ISID == [6]byte{} {
		ss.cfg.ISID = iscsi.RandomISID()
	}
	ss.cfg.Dial = ss.dialTCP
	ss.cfg.OnUnitAttention = ss.unitAttention(cfg.OnUnitAttention)
	return ss
}

// dialTCP opens the session's TCP connections with TCP_NODELAY and an
// abortive close (SO_LINGER 0): when a failed connection is closed, the
// kernel must discard unsent commands rather than keep retransmitting
// them, or a write already retried on another path could reach the
// target later, over newer data.
func (ss *sharedSession) dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	var err error
	if ss.dial != nil {
		c, err = ss.dial(ctx, network, addr)
	} else {
		c, err = ss.cfg.Bind.DialContext(ctx, network, addr)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetLinger(0)
		ss.conn.Store(tc)
	}
	return c, nil
}

// live returns the session when it is not closed, else nil.
func (ss *sharedSession) live() *iscsi.Session {
	if s := ss.s.Load(); s != nil && s.State() != iscsi.StateClosed {
		return s
	}
	return nil
}

// connect returns the session, logging in first when there is none or
// it ended.
func (ss *sharedSession) connect(ctx context.Context) (*iscsi.Session, error) {
	if s := ss.live(); s != nil {
		return s, nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return nil, &iscsi.ConnError{Portal: ss.cfg.Portal, Err: iscsi.ErrSessionClosed}
	}
	if s := ss.live(); s != nil {
		return s, nil
	}
	if old := ss.s.Load(); old != nil {
		_ = old.Close(ctx)
	}
	s, err := iscsi.Dial(ctx, ss.cfg)
	if err != nil {
		return nil, err
	}
	ss.s.Store(s)
	return s, nil
}

// reset drops the current TCP connection: the session fails its commands
// with connection errors and reconnects.
func (ss *sharedSession) reset() {
	if c := ss.conn.Load(); c != nil {
		_ = c.Close()
	}
}

// release drops one reference; the last logs out.
func (ss *sharedSession) release(ctx context.Context) error {
	if sp := ss.pool; sp != nil {
		sp.mu.Lock()
		ss.refs--
		last := ss.refs == 0
		if last {
			delete(sp.sessions, ss.key)
		}
		sp.mu.Unlock()
		if !last {
			return nil
		}
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.closed = true
	if s := ss.s.Load(); s != nil {
		return s.Close(ctx)
	}
	return nil
}
