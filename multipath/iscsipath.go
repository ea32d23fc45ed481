package multipath

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

var errNotConnected = errors.New("not logged in yet")

// iscsiPath is a path to one LUN over an iSCSI session to one portal:
// the path's own session, or one shared with the other LUNs of the
// target through Config.Pool. The session reinstates itself after a
// connection loss (Recover; with the default zero ReplacementTimeout
// commands fail at once meanwhile); a portal unreachable at Open is
// dialled again by the checker's TUR.
type iscsiPath struct {
	lun  uint16
	sess *sharedSession

	h      atomic.Pointer[iscsi.LUN] // nil until the first login
	access chan struct{}             // cap 1: AccessStateChanged

	mu     sync.Mutex // serialises connect and Close
	closed bool
}

// newISCSIPath returns the path to lun through portal, its session from
// c.Pool when set.
func newISCSIPath(c Config, portal string, lun uint16) *iscsiPath {
	addr, bind, err := iscsi.ParsePortal(portal)
	if err != nil { // Config.validate refused it already
		addr = portal
	}
	cfg := iscsi.Config{Portal: addr, Bind: bind, TargetName: c.Target, InitiatorName: c.InitiatorName,
		InitiatorAlias: c.InitiatorAlias, CHAP: c.CHAP, Negotiation: c.Negotiation,
		LoginTimeout: c.loginTimeout(), NOPInterval: c.NOPInterval, NOPTimeout: c.NOPTimeout,
		ReplacementTimeout: max(c.ReplacementTimeout, 0), Recover: true, MaxRecoveryBackoff: c.reconnectBackoff(),
		Logger: c.Logger}
	p := &iscsiPath{lun: lun, access: make(chan struct{}, 1)}
	if c.Pool != nil {
		p.sess = c.Pool.acquire(cfg, c.Dial)
	} else {
		p.sess = newSharedSession(cfg, c.Dial)
	}
	p.sess.watchAccess(lun, p.access)
	return p
}

// handle returns the LUN, or a connection error before the first login.
func (p *iscsiPath) handle() (*iscsi.LUN, error) {
	if l := p.h.Load(); l != nil {
		return l, nil
	}
	return nil, &iscsi.ConnError{Portal: p.sess.cfg.Portal, Err: errNotConnected}
}

// connect opens the LUN when the path has none, or its session ended
// (logging in again when no other LUN did so already).
func (p *iscsiPath) connect(ctx context.Context) (*iscsi.LUN, bool, error) {
	if l := p.h.Load(); l != nil && l.Session().State() != iscsi.StateClosed {
		return l, false, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false, &iscsi.ConnError{Portal: p.sess.cfg.Portal, Err: iscsi.ErrSessionClosed}
	}
	if l := p.h.Load(); l != nil && l.Session().State() != iscsi.StateClosed {
		return l, false, nil
	}
	s, err := p.sess.connect(ctx)
	if err != nil {
		return nil, false, err
	}
	l, err := s.OpenLUN(ctx, p.lun)
	if err != nil {
		return nil, false, err
	}
	p.h.Store(l)
	return l, true, nil
}

func (p *iscsiPath) ReadAtContext(ctx context.Context, b []byte, off int64) (int, error) {
	l, err := p.handle()
	if err != nil {
		return 0, err
	}
	return l.ReadAtContext(ctx, b, off)
}

func (p *iscsiPath) WriteAtContext(ctx context.Context, b []byte, off int64, fua bool) (int, error) {
	l, err := p.handle()
	if err != nil {
		return 0, err
	}
	return l.WriteAtContext(ctx, b, off, fua)
}

func (p *iscsiPath) Flush(ctx context.Context) error {
	l, err := p.handle()
	if err != nil {
		return err
	}
	return l.Flush(ctx)
}

func (p *iscsiPath) Unmap(ctx context.Context, off, n int64) error {
	l, err := p.handle()
	if err != nil {
		return err
	}
	return l.Unmap(ctx, off, n)
}

func (p *iscsiPath) WriteZeroes(ctx context.Context, off, n int64, unmap bool) error {
	l, err := p.handle()
	if err != nil {
		return err
	}
	return l.WriteZeroes(ctx, off, n, unmap)
}

func (p *iscsiPath) TUR(ctx context.Context) error {
	l, _, err := p.connect(ctx)
	if err != nil {
		return err
	}
	return l.TestUnitReady(ctx)
}

func (p *iscsiPath) Identify(ctx context.Context) (*iscsi.LUNInfo, error) {
	l, fresh, err := p.connect(ctx)
	if err != nil {
		return nil, err
	}
	if fresh {
		info := l.Info()
		return &info, nil
	}
	return l.Refresh(ctx)
}

func (p *iscsiPath) Stale() bool {
	l := p.h.Load()
	return l != nil && l.Stale()
}

// ReportTargetPortGroups runs REPORT TARGET PORT GROUPS, growing the
// buffer once when the target has more to say.
func (p *iscsiPath) ReportTargetPortGroups(ctx context.Context) (scsi.TargetPortGroups, error) {
	l, err := p.handle()
	if err != nil {
		return scsi.TargetPortGroups{}, err
	}
	size := 1024
	for range 2 {
		buf := make([]byte, size)
		cdb := scsi.ReportTargetPortGroups(uint32(len(buf)), false)
		cmd := &iscsi.Command{LUN: p.lun, CDB: cdb[:], Read: buf}
		if err := l.Session().Do(ctx, cmd); err != nil {
			return scsi.TargetPortGroups{}, fmt.Errorf("REPORT TARGET PORT GROUPS: %w", err)
		}
		t, err := scsi.ParseTargetPortGroups(buf[:len(buf)-max(cmd.Residual, 0)])
		var te *scsi.TruncatedError
		if errors.As(err, &te) && te.Need > size && te.Need <= 1<<20 {
			size = te.Need
			continue
		}
		return t, err
	}
	return scsi.TargetPortGroups{}, errors.New("REPORT TARGET PORT GROUPS: data keeps growing")
}

func (p *iscsiPath) SetTargetPortGroups(ctx context.Context, groups []scsi.PortGroupState) error {
	l, err := p.handle()
	if err != nil {
		return err
	}
	params := scsi.AppendSetTargetPortGroups(nil, groups)
	cdb := scsi.SetTargetPortGroups(uint32(len(params)))
	if err := l.Session().Do(ctx, &iscsi.Command{LUN: p.lun, CDB: cdb[:], Write: params}); err != nil {
		return fmt.Errorf("SET TARGET PORT GROUPS: %w", err)
	}
	return nil
}

func (p *iscsiPath) AccessStateChanged() <-chan struct{} { return p.access }

func (p *iscsiPath) Connected() bool {
	l := p.h.Load()
	return l != nil && l.Session().State() == iscsi.StateLoggedIn
}

// Reset drops the session's current TCP connection; the session fails
// its commands (those of every LUN it carries) with connection errors and
// reconnects.
func (p *iscsiPath) Reset(error) { p.sess.reset() }

func (p *iscsiPath) AbortInFlight(ctx context.Context, cause error) error {
	l, err := p.handle()
	if err != nil {
		return err
	}
	return l.AbortInFlight(ctx, cause) // this LUN's commands: the session may carry others
}

// Close ends the path; its session is logged out once no other path
// uses it.
func (p *iscsiPath) Close(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.sess.unwatchAccess(p.access)
	return p.sess.release(ctx)
}
