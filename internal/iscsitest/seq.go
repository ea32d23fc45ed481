package iscsitest

import "github.com/gomp-dev/gomp/pdu"

// serialLess reports a < b in RFC 1982 serial arithmetic on 32 bits, as
// RFC 7143 §4.2.2.1 requires for CmdSN and StatSN comparisons.
func serialLess(a, b uint32) bool { return a != b && int32(a-b) < 0 }

// maxCmdSN is ExpCmdSN+window-1; a closed window gives ExpCmdSN-1.
// Called with mu held.
func (c *Conn) maxCmdSN() uint32 { return c.expCmdSN + uint32(c.window) - 1 }

// nextStatSN returns the StatSN for a status-bearing PDU and advances it.
// Called with mu held.
func (c *Conn) nextStatSN() uint32 {
	s := c.statSN
	c.statSN++
	return s
}

// newTTT returns a Target Transfer Tag, never the reserved value. Called
// with mu held.
func (c *Conn) newTTT() uint32 {
	c.lastTTT++
	if c.lastTTT == pdu.ReservedTag {
		c.lastTTT = 1
	}
	return c.lastTTT
}

// sequenced delivers a command in CmdSN order (RFC 7143 §4.2.2.1):
// immediate commands at once; others when CmdSN reaches ExpCmdSN, queued
// if ahead of it within the window, silently dropped outside it. Called
// with mu held.
func (c *Conn) sequenced(p pdu.PDU, immediate bool, cmdSN uint32) error {
	if immediate {
		return c.execute(p)
	}
	if serialLess(cmdSN, c.expCmdSN) || serialLess(c.maxCmdSN(), cmdSN) {
		c.bumpStats(func(s *Stats) { s.Dropped++ })
		c.violation("%v CmdSN %d outside the window [%d, %d]: dropped", p.Opcode(), cmdSN, c.expCmdSN, c.maxCmdSN())
		return nil
	}
	if cmdSN != c.expCmdSN {
		raw, err := p.AppendBinary(nil)
		if err != nil {
			return err
		}
		c.queue[cmdSN] = raw
		return nil
	}
	c.expCmdSN++
	if err := c.execute(p); err != nil {
		return err
	}
	return c.drainQueue()
}

// drainQueue executes queued commands that are now in order. An entry
// with nil bytes is a CmdSN consumed by an ABORT TASK for a command that
// never arrived. Called with mu held.
func (c *Conn) drainQueue() error {
	for {
		raw, ok := c.queue[c.expCmdSN]
		if !ok {
			return nil
		}
		delete(c.queue, c.expCmdSN)
		c.expCmdSN++
		if raw == nil {
			continue
		}
		p, _, err := pdu.Decode(raw)
		if err != nil {
			return err
		}
		if err := c.execute(p); err != nil {
			return err
		}
	}
}

// SetCmdSNWindow changes MaxCmdSN-ExpCmdSN+1 from the next PDU on;
// WindowClosed (or 0) closes the window. To tell the initiator at once,
// follow with Ping.
func (c *Conn) SetCmdSNWindow(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.window = max(n, 0)
}
