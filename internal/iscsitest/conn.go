package iscsitest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"

	"github.com/gomp-dev/gomp/pdu"
)

// Params are a connection's login results (RFC 7143 §13). Before a key is
// negotiated its field holds the RFC default.
type Params struct {
	SessionType   string // "Normal" or "Discovery"
	InitiatorName string
	TargetName    string
	ISID          pdu.ISID
	TSIH          uint16
	CID           uint16
	AuthMethod    string // "None" or "CHAP"
	CHAPAlgorithm byte   // CHAP_A in use, 0 without CHAP
	MutualCHAP    bool   // the initiator authenticated the target

	HeaderDigest bool // CRC32C
	DataDigest   bool // CRC32C
	// InitiatorMaxRecvDataSegmentLength limits what the target sends;
	// TargetMaxRecvDataSegmentLength is what the target declared.
	InitiatorMaxRecvDataSegmentLength int
	TargetMaxRecvDataSegmentLength    int
	MaxBurstLength                    int
	FirstBurstLength                  int
	MaxOutstandingR2T                 int
	InitialR2T                        bool
	ImmediateData                     bool
	DataPDUInOrder                    bool
	DataSequenceInOrder               bool
	ErrorRecoveryLevel                int
	MaxConnections                    int
	DefaultTime2Wait                  int
	DefaultTime2Retain                int
	// Keys are the pairs the initiator sent during login, in order.
	Keys []pdu.KeyValue
}

func defaultParams() Params {
	return Params{SessionType: "Normal", AuthMethod: "None",
		InitiatorMaxRecvDataSegmentLength: pdu.DefaultMaxDataSegmentLength,
		TargetMaxRecvDataSegmentLength:    pdu.DefaultMaxDataSegmentLength,
		MaxBurstLength:                    DefaultMaxBurstLength, FirstBurstLength: DefaultFirstBurstLength,
		MaxOutstandingR2T: 1, InitialR2T: true, ImmediateData: true, DataPDUInOrder: true,
		DataSequenceInOrder: true, MaxConnections: 1, DefaultTime2Wait: 2, DefaultTime2Retain: 20}
}

// Stats counts what a connection saw. Stats returns a copy.
type Stats struct {
	Received map[pdu.Opcode]int // PDUs read, login included
	Sent     map[pdu.Opcode]int // PDUs written (not those a hook dropped)
	Commands map[byte]int       // SCSI commands executed or failed, by CDB[0]
	// Dropped counts non-immediate commands outside the CmdSN window.
	Dropped int
	// PingsSent counts target NOP-In pings; PingsAnswered the NOP-Outs
	// that answered one of them.
	PingsSent, PingsAnswered int
	// Violations lists, in order, the RFC 7143 rules the initiator broke.
	Violations []string
}

func (s Stats) clone() Stats {
	s.Received, s.Sent, s.Commands = maps.Clone(s.Received), maps.Clone(s.Sent), maps.Clone(s.Commands)
	s.Violations = slices.Clone(s.Violations)
	return s
}

// Conn is one connection of a Target, which is also one session: multiple
// connections per session are not supported.
//
// Methods marked "hook-safe" may be called from any goroutine, hooks
// included. The others take the connection's lock, which BeforeSend and
// HoldCommand hooks run under: call them from OnConnect, OnLogin and
// OnReceive hooks or from other goroutines, never from those two.
type Conn struct {
	t        *Target
	cfg      *Config
	nc       net.Conn
	log      *slog.Logger
	id       uint64
	fr       *pdu.Framer // read side: the serve goroutine only
	done     chan struct{}
	killOnce sync.Once
	wg       sync.WaitGroup // the pinger

	wmu           sync.Mutex   // guards the following: the write side
	out           bytes.Buffer // the Framer's output for one PDU
	digestH       bool         // digests in force on the write side
	digestD       bool
	corruptHeader bool // flip the next header digest
	corruptData   bool // flip the next data digest

	smu   sync.Mutex // guards the following; taken last, never held across calls
	pub   Params
	stats Stats

	mu       sync.Mutex // guards the following: session and task state
	neg      Params
	statSN   uint32
	expCmdSN uint32
	window   int                 // MaxCmdSN-ExpCmdSN+1, 0 when closed
	queue    map[uint32][]byte   // commands ahead of ExpCmdSN, encoded; nil: consumed
	tasks    map[uint32]*task    // by ITT
	taskSeq  uint64              // tasks started
	aborted  map[uint32]bool     // ITTs of aborted tasks
	pings    map[uint32]struct{} // target pings awaiting a NOP-Out, by TTT
	ua       map[uint16]uint16   // pending unit attention per LUN: ASC<<8 | ASCQ
	lastTTT  uint32
	text     textState
}

func newConn(t *Target, nc net.Conn) *Conn {
	c := &Conn{t: t, cfg: &t.cfg, nc: nc, log: t.log.With("remote", nc.RemoteAddr().String()),
		done: make(chan struct{}), neg: defaultParams(), queue: make(map[uint32][]byte),
		tasks: make(map[uint32]*task), aborted: make(map[uint32]bool), pings: make(map[uint32]struct{}), ua: make(map[uint16]uint16)}
	c.fr = pdu.NewFramer(bufio.NewReader(nc), &c.out)
	c.pub = c.neg
	c.stats = Stats{Received: map[pdu.Opcode]int{}, Sent: map[pdu.Opcode]int{}, Commands: map[byte]int{}}
	c.window = max(t.cfg.MaxCmdSNWindow, 0)
	c.statSN = t.cfg.InitialStatSN
	return c
}

// Internal outcomes that end serve without being errors.
var (
	errKilled = errors.New("iscsitest: connection killed")
	errLogout = errors.New("iscsitest: logged out")
)

func (c *Conn) serve() error {
	defer c.shutdown()
	if h := c.cfg.Hooks.OnConnect; h != nil {
		h(c)
	}
	if err := c.login(); err != nil {
		return c.outcome(err)
	}
	if h := c.cfg.Hooks.OnLogin; h != nil {
		h(c)
	}
	c.startPinger()
	return c.outcome(c.fullFeature())
}

// outcome maps the error that ended serve to Serve's result.
func (c *Conn) outcome(err error) error {
	var rej *LoginRejectedError
	switch {
	case errors.As(err, &rej):
		return err
	case err == errKilled || err == errLogout || isClosedErr(err):
		c.log.Debug("connection ended", "reason", err)
		return nil
	}
	c.log.Debug("connection failed", "err", err)
	return err
}

func (c *Conn) shutdown() {
	c.Kill()
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tasks = nil
}

// fullFeature reads and handles PDUs until the connection ends.
func (c *Conn) fullFeature() error {
	for {
		p, err := c.fr.ReadPDU()
		if err != nil {
			if err = c.readError(p, err); err != nil {
				return err
			}
			continue
		}
		if err := c.receive(p); err != nil {
			return err
		}
	}
}

// readError handles a failed read: it answers the errors after which the
// stream is still in sync and returns nil, or returns the fatal error.
func (c *Conn) readError(p pdu.PDU, err error) error {
	var de *pdu.DigestError
	var fe *pdu.FieldError
	switch {
	case errors.As(err, &de) && de.Kind == pdu.DataDigest && p != nil:
		c.mu.Lock()
		defer c.mu.Unlock()
		c.count(p, true)
		return c.dataDigestError(p)
	case errors.As(err, &fe):
		c.mu.Lock()
		defer c.mu.Unlock()
		c.violation("undecodable PDU: %v", err)
		reason := pdu.RejectInvalidPDUField
		if errors.Is(err, pdu.ErrUnknownOpcode) {
			reason = pdu.RejectCommandNotSupported
		}
		hdr := make([]byte, pdu.BHSLength)
		hdr[0] = byte(fe.Op)
		return c.reject(reason, hdr)
	}
	return err
}

// receive applies the OnReceive hook, then handles p under the lock.
func (c *Conn) receive(p pdu.PDU) error {
	switch c.onReceive(p) {
	case Drop:
		return nil
	case Continue:
	default:
		return errKilled
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count(p, true)
	return c.dispatch(p)
}

func (c *Conn) dispatch(p pdu.PDU) error {
	switch p := p.(type) {
	case *pdu.SCSICommand:
		return c.sequenced(p, p.Immediate, p.CmdSN)
	case *pdu.TaskMgmtRequest:
		return c.sequenced(p, p.Immediate, p.CmdSN)
	case *pdu.TextRequest:
		return c.sequenced(p, p.Immediate, p.CmdSN)
	case *pdu.NOPOut:
		return c.sequenced(p, p.Immediate, p.CmdSN)
	case *pdu.LogoutRequest:
		return c.sequenced(p, p.Immediate, p.CmdSN)
	case *pdu.DataOut:
		return c.dataOut(p)
	}
	c.violation("%v not allowed in full feature phase at ErrorRecoveryLevel 0", p.Opcode())
	return c.rejectPDU(pdu.RejectProtocolError, p)
}

// execute runs a command whose turn in CmdSN order has come.
func (c *Conn) execute(p pdu.PDU) error {
	switch p := p.(type) {
	case *pdu.SCSICommand:
		return c.scsiCommand(p)
	case *pdu.TaskMgmtRequest:
		return c.taskMgmt(p)
	case *pdu.TextRequest:
		return c.textRequest(p)
	case *pdu.NOPOut:
		return c.nopOut(p)
	case *pdu.LogoutRequest:
		return c.logout(p)
	}
	return fmt.Errorf("iscsitest: cannot execute %v", p.Opcode())
}

// violation records an RFC rule the initiator broke. Called with mu held.
func (c *Conn) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.log.Debug("initiator violation", "what", msg)
	c.smu.Lock()
	defer c.smu.Unlock()
	c.stats.Violations = append(c.stats.Violations, msg)
}

func (c *Conn) count(p pdu.PDU, received bool) {
	c.smu.Lock()
	defer c.smu.Unlock()
	if received {
		c.stats.Received[p.Opcode()]++
	} else {
		c.stats.Sent[p.Opcode()]++
	}
}

func (c *Conn) bumpStats(fn func(s *Stats)) {
	c.smu.Lock()
	defer c.smu.Unlock()
	fn(&c.stats)
}

// Params returns the negotiated parameters; during login, those so far.
// Hook-safe.
func (c *Conn) Params() Params {
	c.smu.Lock()
	defer c.smu.Unlock()
	p := c.pub
	p.Keys = slices.Clone(p.Keys)
	return p
}

func (c *Conn) publish(p Params) {
	c.smu.Lock()
	defer c.smu.Unlock()
	c.pub = p
}

// Stats returns a copy of the connection's counters. Hook-safe.
func (c *Conn) Stats() Stats {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.stats.clone()
}

// Target returns the target serving c. Hook-safe.
func (c *Conn) Target() *Target { return c.t }

// Done is closed when the connection has been killed or has ended.
// Hook-safe.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Kill closes the connection now, in order (the initiator reads what was
// already written, then EOF). Hook-safe; idempotent.
func (c *Conn) Kill() {
	c.killOnce.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// Reset closes the connection abruptly: on a Pipe the initiator's reads
// fail at once with ECONNRESET; on TCP the close sends RST. Hook-safe.
func (c *Conn) Reset() {
	switch nc := c.nc.(type) {
	case *PipeConn:
		nc.CloseAbruptly()
	case *net.TCPConn:
		_ = nc.SetLinger(0)
	}
	c.Kill()
}
