package iscsitest

import (
	"slices"
	"time"

	"github.com/gomp-dev/gomp/pdu"
)

// nopOut answers an initiator ping with a NOP-In echoing its data, or
// records the answer to a target ping (RFC 7143 §11.18).
func (c *Conn) nopOut(p *pdu.NOPOut) error {
	if p.TTT != pdu.ReservedTag {
		if _, ok := c.pings[p.TTT]; !ok {
			c.violation("NOP-Out answers unknown TTT 0x%x", p.TTT)
			return nil
		}
		delete(c.pings, p.TTT)
		c.bumpStats(func(s *Stats) { s.PingsAnswered++ })
		return nil
	}
	if p.ITT == pdu.ReservedTag {
		return nil // no answer wanted: it only carried ExpStatSN
	}
	return c.send(&pdu.NOPIn{LUN: p.LUN, ITT: p.ITT, TTT: pdu.ReservedTag,
		StatSN: c.nextStatSN(), ExpCmdSN: c.expCmdSN, MaxCmdSN: c.maxCmdSN(),
		Data: slices.Clone(p.Data)})
}

// Ping sends a NOP-In with a Target Transfer Tag, which the initiator must
// answer with a NOP-Out (counted in Stats.PingsAnswered). It also tells the
// initiator the current MaxCmdSN.
func (c *Conn) Ping() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ping()
}

// ping sends a target NOP-In: ITT reserved, no data (RFC 7143 §11.19).
func (c *Conn) ping() error {
	ttt := c.newTTT()
	c.pings[ttt] = struct{}{}
	c.bumpStats(func(s *Stats) { s.PingsSent++ })
	// StatSN is the next one and does not advance: ITT is reserved.
	return c.send(&pdu.NOPIn{LUN: 0, ITT: pdu.ReservedTag, TTT: ttt,
		StatSN: c.statSN, ExpCmdSN: c.expCmdSN, MaxCmdSN: c.maxCmdSN()})
}

// startPinger pings every Config.NOPInInterval until the connection ends.
func (c *Conn) startPinger() {
	iv := c.cfg.NOPInInterval
	if iv <= 0 {
		return
	}
	c.wg.Go(func() {
		tick := time.NewTicker(iv)
		defer tick.Stop()
		for {
			select {
			case <-c.done:
				return
			case <-tick.C:
				if c.Ping() != nil {
					c.Kill()
					return
				}
			}
		}
	})
}

// SendAsync sends an Asynchronous Message (RFC 7143 §11.9), filling in
// StatSN, ExpCmdSN and MaxCmdSN.
func (c *Conn) SendAsync(m pdu.AsyncMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.StatSN, m.ExpCmdSN, m.MaxCmdSN = c.nextStatSN(), c.expCmdSN, c.maxCmdSN()
	return c.send(&m)
}

// logout answers a Logout Request and ends the connection (RFC 7143
// §11.14-§11.15). Only this connection's CID can be logged out.
func (c *Conn) logout(p *pdu.LogoutRequest) error {
	resp := &pdu.LogoutResponse{Response: pdu.LogoutSuccess, ITT: p.ITT}
	switch {
	case p.Reason == pdu.LogoutRemoveForRecovery:
		resp.Response = pdu.LogoutRecoveryUnsupported
	case p.Reason == pdu.LogoutCloseConnection && p.CID != c.neg.CID:
		resp.Response = pdu.LogoutCIDNotFound
	}
	resp.StatSN, resp.ExpCmdSN, resp.MaxCmdSN = c.nextStatSN(), c.expCmdSN, c.maxCmdSN()
	if err := c.send(resp); err != nil || resp.Response != pdu.LogoutSuccess {
		return err
	}
	return errLogout
}

// rejectPDU answers p with a Reject carrying its header (RFC 7143 §11.17).
func (c *Conn) rejectPDU(reason pdu.RejectReason, p pdu.PDU) error {
	hdr, err := p.AppendHeader(nil)
	if err != nil || len(hdr) < pdu.BHSLength {
		hdr = make([]byte, pdu.BHSLength)
		hdr[0] = byte(p.Opcode())
	}
	return c.reject(reason, hdr[:pdu.BHSLength])
}

func (c *Conn) reject(reason pdu.RejectReason, hdr []byte) error {
	return c.send(&pdu.Reject{Reason: reason, StatSN: c.nextStatSN(), ExpCmdSN: c.expCmdSN,
		MaxCmdSN: c.maxCmdSN(), DataSN: 0, Data: hdr})
}

// dataDigestError handles a PDU whose data digest failed (RFC 7143 §7.8):
// a command is rejected and not considered received; Data-Out is rejected
// and its task will end with CHECK CONDITION.
func (c *Conn) dataDigestError(p pdu.PDU) error {
	c.violation("%v with a bad data digest", p.Opcode())
	if err := c.rejectPDU(pdu.RejectDataDigestError, p); err != nil {
		return err
	}
	if d, ok := p.(*pdu.DataOut); ok {
		if t := c.tasks[d.ITT]; t != nil {
			t.digestBad = true
			return c.dataOut(d)
		}
	}
	return nil
}
