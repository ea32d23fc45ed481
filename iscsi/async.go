package iscsi

import (
	"context"
	"time"

	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// async handles an Asynchronous Message (RFC 7143 §11.9).
func (c *conn) async(p *pdu.AsyncMessage) error {
	s := c.s
	s.mu.Lock()
	s.updateWindow(p.ExpCmdSN, p.MaxCmdSN)
	s.mu.Unlock()
	s.ackStatSN(p.StatSN)
	log := s.cfg.Logger.With("portal", s.cfg.Portal, "target", s.cfg.TargetName)
	switch p.Event {
	case pdu.AsyncSCSIEvent:
		sense, _, err := p.Sense()
		if err != nil {
			return protocolError("asynchronous SCSI event: %v", err)
		}
		if sd, err := scsi.ParseSense(sense); err == nil {
			log.Info("iscsi target reports a SCSI event", "lun", p.LUN, "sense", sd)
		}
	case pdu.AsyncLogoutRequest:
		// The target wants us gone within Parameter3 seconds: log out
		// now; with Recover the session logs in again after Time2Wait,
		// by which time the target has moved or come back.
		if !c.leaving.CompareAndSwap(false, true) {
			break // one logout per connection, however often asked
		}
		log.Warn("iscsi target requests logout", "within_s", p.Parameter3)
		s.mu.Lock()
		s.goLocked(c.logoutForTarget)
		s.mu.Unlock()
	case pdu.AsyncDropConnection, pdu.AsyncDropAllConnections:
		c.t2w.Store(int64(time.Duration(p.Parameter2) * time.Second))
		c.t2wSet.Store(true)
		log.Warn("iscsi target will drop the connection", "event", p.Event,
			"time2wait_s", p.Parameter2, "time2retain_s", p.Parameter3)
		return errTargetDrop
	case pdu.AsyncParameterNegotiation:
		// We offer nothing to renegotiate; the target may go on with the
		// values it has (RFC 7143 §11.9.1 asks us to send a Text Request,
		// which only an empty one satisfies).
		log.Info("iscsi target requests parameter negotiation; keeping current values")
	default:
		log.Info("iscsi asynchronous message", "event", p.Event, "vcode", p.VendorCode)
	}
	return nil
}

// errTargetDrop fails the connection when the target announced it drops it.
var errTargetDrop = errorString("target announced it drops the connection")

type errorString string

func (e errorString) Error() string { return string(e) }

// logoutForTarget answers AsyncLogoutRequest: a logout of the connection,
// then the connection is closed and the session recovers.
func (c *conn) logoutForTarget() {
	s := c.s
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return
	}
	t := s.newTask(kindLogout)
	t.itt, t.conn = s.allocITT(), c
	s.tasks[t.itt] = t
	c.enqueue(outItem{p: &pdu.LogoutRequest{Immediate: true, Reason: pdu.LogoutCloseSession, ITT: t.itt, CmdSN: s.cmdSN}})
	s.mu.Unlock()
	_ = s.waitSimple(ctx, t)
	c.fail(errorString("logged out at the target's request"))
}
