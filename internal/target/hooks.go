package target

import (
	"fmt"

	"github.com/gomp-dev/gomp/pdu"
)

// Action is what a hook tells the target to do with a PDU.
type Action int

// Hook actions.
const (
	// Continue handles or sends the PDU as usual, including any change
	// the hook made to it in place.
	Continue Action = iota
	// Drop ignores a received PDU as if it never arrived (its CmdSN is
	// not consumed), or does not send a PDU (its StatSN is consumed, so
	// the initiator sees a gap).
	Drop
	// Close closes the connection in order, now.
	Close
	// Reset closes the connection abruptly (see Conn.Reset).
	Reset
	// Stall stops the connection until it is killed: on receive, the
	// target reads nothing more; on send, it writes the first half of
	// the PDU and nothing after.
	Stall
)

var actionNames = [...]string{"Continue", "Drop", "Close", "Reset", "Stall"}

// String returns the action's name ("Continue", "Drop", …), or "Action(N)" for an unknown value.
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Hooks inject faults and observe a Target. Every field is optional.
//
// A PDU passed to a hook, and the slices in it, are valid only during the
// call. Hooks may block, which delays the connection (a way to inject
// latency). BeforeSend and HoldCommand run with the connection locked: from
// them, call only Conn's hook-safe methods.
type Hooks struct {
	// OnConnect is called when Serve starts on a connection.
	OnConnect func(c *Conn)
	// OnLogin is called when the login succeeded, before the first
	// full-feature PDU is read; c.Params() is final.
	OnLogin func(c *Conn)
	// OnReceive sees every PDU read, login included, before the target
	// acts on it. It runs on the connection's reader goroutine, unlocked.
	OnReceive func(c *Conn, p pdu.PDU) Action
	// BeforeSend sees every PDU before it is encoded and may change it in
	// place (a wrong StatSN, a bad flag, a shortened data segment).
	BeforeSend func(c *Conn, p pdu.PDU) Action
	// HoldCommand, when it returns true, holds the SCSI command with that
	// CDB once its data has arrived, without executing or answering it:
	// it stays pending until Conn.Release or an abort.
	HoldCommand func(c *Conn, cdb []byte) bool
}

func (c *Conn) onReceive(p pdu.PDU) Action {
	h := c.cfg.Hooks.OnReceive
	if h == nil {
		return Continue
	}
	return c.act(h(c, p))
}

// act carries out the connection-level part of an action.
func (c *Conn) act(a Action) Action {
	switch a {
	case Close:
		c.Kill()
	case Reset:
		c.Reset()
	case Stall:
		<-c.done
	}
	return a
}

// send passes p through the BeforeSend hook and writes it. Called with mu
// held.
func (c *Conn) send(p pdu.PDU) error {
	a := Continue
	if h := c.cfg.Hooks.BeforeSend; h != nil {
		a = h(c, p)
	}
	switch a {
	case Continue:
		return c.write(p, false)
	case Drop:
		return nil
	case Stall:
		return c.write(p, true)
	}
	c.act(a)
	return errKilled
}

// write encodes p with the connection's digests and writes it in one call,
// or, with stall, writes half of it and waits for the end.
func (c *Conn) write(p pdu.PDU, stall bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.out.Reset()
	if err := c.fr.WritePDU(p); err != nil {
		return fmt.Errorf("target: encoding %v: %w", p.Opcode(), err)
	}
	b := c.corrupt(c.out.Bytes(), len(p.Payload()) > 0)
	if stall {
		_, _ = c.nc.Write(b[:len(b)/2])
		<-c.done
		return errKilled
	}
	if _, err := c.nc.Write(b); err != nil {
		return err
	}
	c.count(p, false)
	return nil
}

// corrupt flips an armed digest in an encoded PDU (no AHS: the header
// digest follows the BHS, the data digest ends the PDU). Called with wmu
// held.
func (c *Conn) corrupt(b []byte, hasData bool) []byte {
	if c.corruptHeader && c.digestH {
		b[pdu.BHSLength] ^= 0xff
		c.corruptHeader = false
	}
	if c.corruptData && c.digestD && hasData {
		b[len(b)-1] ^= 0xff
		c.corruptData = false
	}
	return b
}

// CorruptNextDigest arms a one-shot corruption of the next header or data
// digest the target sends. It waits for a PDU that carries such a digest,
// so it has no effect until that digest was negotiated. Hook-safe.
func (c *Conn) CorruptNextDigest(kind pdu.DigestKind) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if kind == pdu.HeaderDigest {
		c.corruptHeader = true
	} else {
		c.corruptData = true
	}
}

// WriteRaw writes b to the connection as is, between two PDUs: garbage,
// a truncated PDU, a PDU with a forged field. Hook-safe.
func (c *Conn) WriteRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.nc.Write(b)
	return err
}

// setDigests switches digests on for both directions of the Framer, after
// the last login response went out. Called by the reader with mu held.
func (c *Conn) setDigests(header, data bool, maxRecv, maxSend int) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.fr.SetDigests(header, data)
	c.fr.SetMaxRecvDataSegmentLength(maxRecv)
	c.fr.SetMaxSendDataSegmentLength(maxSend)
	c.digestH, c.digestD = header, data
}
