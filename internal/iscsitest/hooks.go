package iscsitest

import (
	"bytes"
	"fmt"
	"time"

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
	// Truncate, on send only, writes the PDU's header (BHS, AHS and
	// header digest) and then stalls like Stall: the data segment never
	// comes. On receive it is Stall.
	Truncate
	// Trickle, on send only, writes the PDU one byte at a time,
	// Config.TrickleInterval apart (a slowloris peer), holding the
	// connection's write side meanwhile; killing the connection stops
	// it. On receive it is Continue.
	Trickle
)

var actionNames = [...]string{"Continue", "Drop", "Close", "Reset", "Stall", "Truncate", "Trickle"}

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
	// Rewrite sees every PDU the target sends once it is encoded (digests
	// included) and returns the bytes to write in its place: a header
	// whose AHS or data segment length lies, a truncated PDU, trailing
	// garbage. It may change wire in place and return it. It runs with
	// the connection's write side locked: call no Conn method from it.
	// PDUs written with Inject and WriteRaw do not pass through it.
	Rewrite func(c *Conn, p pdu.PDU, wire []byte) []byte
}

func (c *Conn) onReceive(p pdu.PDU) Action {
	h := c.cfg.Hooks.OnReceive
	if h == nil {
		return Continue
	}
	return c.act(h(c, p))
}

// act carries out the connection-level part of an action on receive.
func (c *Conn) act(a Action) Action {
	switch a {
	case Close:
		c.Kill()
	case Reset:
		c.Reset()
	case Stall, Truncate:
		<-c.done
	case Trickle:
		return Continue
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
	case Continue, Stall, Truncate, Trickle:
		return c.write(p, a)
	case Drop:
		return nil
	}
	c.act(a)
	return errKilled
}

// write encodes p with the connection's digests, passes it through the
// Rewrite hook and writes it as action a says: in one call (Continue),
// half of it (Stall) or its header (Truncate) then nothing until the end,
// or byte by byte (Trickle).
func (c *Conn) write(p pdu.PDU, a Action) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.out.Reset()
	if err := c.fr.WritePDU(p); err != nil {
		return fmt.Errorf("iscsitest: encoding %v: %w", p.Opcode(), err)
	}
	b := c.corrupt(c.out.Bytes(), len(p.Payload()) > 0)
	if h := c.cfg.Hooks.Rewrite; h != nil {
		b = h(c, p, b)
	}
	if a == Stall || a == Truncate {
		n := len(b) / 2
		if a == Truncate {
			n = min(c.headerLength(b), len(b))
		}
		_, _ = c.nc.Write(b[:n])
		<-c.done
		return errKilled
	}
	// Counted before the write, and taken back if it fails: the initiator
	// may act on p (and a test read the counters) before Write returns.
	c.count(p, false)
	var err error
	if a == Trickle {
		err = c.trickle(b)
	} else {
		_, err = c.nc.Write(b)
	}
	if err != nil {
		c.bumpStats(func(s *Stats) { s.Sent[p.Opcode()]-- })
	}
	return err
}

// headerLength is the length of the header of the encoded PDU b: BHS,
// AHS and header digest. Called with wmu held.
func (c *Conn) headerLength(b []byte) int {
	if len(b) < pdu.BHSLength {
		return len(b)
	}
	n := pdu.BHSLength + int(b[4])*4
	if c.digestH {
		n += pdu.DigestLength
	}
	return n
}

// trickle writes b one byte per Config.TrickleInterval until done or the
// connection is killed. Called with wmu held.
func (c *Conn) trickle(b []byte) error {
	tick := time.NewTicker(c.cfg.TrickleInterval)
	defer tick.Stop()
	for i := range b {
		select {
		case <-c.done:
			return errKilled
		case <-tick.C:
		}
		if _, err := c.nc.Write(b[i : i+1]); err != nil {
			return err
		}
	}
	return nil
}

// Inject encodes p with the connection's digests and writes it whole,
// outside the target's protocol state: no hook sees it, no sequence
// number moves, nothing is recorded. For floods and forged PDUs (a
// Data-In for a task that does not exist, a Reject of nothing). Hook-safe,
// but not from Rewrite.
func (c *Conn) Inject(p pdu.PDU) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var out bytes.Buffer
	fr := pdu.NewFramer(nil, &out)
	fr.SetDigests(c.digestH, c.digestD)
	fr.SetMaxSendDataSegmentLength(pdu.MaxDataSegmentLength)
	if err := fr.WritePDU(p); err != nil {
		return fmt.Errorf("iscsitest: encoding %v: %w", p.Opcode(), err)
	}
	_, err := c.nc.Write(out.Bytes())
	return err
}

// Numbers returns the connection's next StatSN, its ExpCmdSN and its
// MaxCmdSN, for PDUs forged with Inject. It takes the connection's lock:
// not from BeforeSend, HoldCommand or Rewrite.
func (c *Conn) Numbers() (statSN, expCmdSN, maxCmdSN uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statSN, c.expCmdSN, c.maxCmdSN()
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
