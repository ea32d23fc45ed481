package iscsi

import (
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// dataIn handles a Data-In header and reads its payload straight into the
// command's buffer (RFC 7143 §11.7; DataPDUInOrder=Yes and
// DataSequenceInOrder=Yes are negotiated, so offsets must be contiguous).
func (c *conn) dataIn(p *pdu.DataIn) error {
	s := c.s
	s.mu.Lock()
	t, err := c.dataInTask(p)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	var dst []byte
	n := uint32(c.t.fr.DataLength())
	if !t.abandoned {
		dst = t.cmd.Read[p.BufferOffset : p.BufferOffset+n]
		t.busy++
	}
	s.mu.Unlock()

	err = c.t.fr.ReadData(dst)

	s.mu.Lock()
	defer s.mu.Unlock()
	if dst != nil {
		t.busy--
	}
	if err != nil {
		t.signal()
		return err
	}
	t.expDataSN++
	t.received += n
	s.stats.BytesRead.Add(uint64(n))
	s.updateWindow(p.ExpCmdSN, p.MaxCmdSN)
	if p.StatusValid {
		s.ackStatSN(p.StatSN)
		if err := t.checkTransfer(p.Status, p.Underflow, p.ResidualCount); err != nil {
			return err
		}
		if !t.abandoned {
			t.cmd.Status = p.Status
			t.cmd.Residual = residual(p.Overflow, p.Underflow, p.ResidualCount)
		}
		s.finish(t, statusError(p.Status, nil))
	} else if t.quiet() || t.abandoned {
		t.signal()
	}
	return nil
}

// dataInTask finds and checks the task of a Data-In. s.mu held.
func (c *conn) dataInTask(p *pdu.DataIn) (*task, error) {
	t := c.s.tasks[p.ITT]
	n := uint32(c.t.fr.DataLength())
	switch {
	case t == nil || t.conn != c || t.kind != kindSCSI:
		return nil, protocolError("Data-In for unknown ITT 0x%x", p.ITT)
	case p.DataSN != t.expDataSN:
		return nil, protocolError("Data-In ITT 0x%x DataSN %d, expected %d", p.ITT, p.DataSN, t.expDataSN)
	case p.BufferOffset != t.received:
		return nil, protocolError("Data-In ITT 0x%x BufferOffset %d, expected %d", p.ITT, p.BufferOffset, t.received)
	case uint64(p.BufferOffset)+uint64(n) > uint64(t.readLen):
		return nil, protocolError("Data-In ITT 0x%x carries bytes %d..%d beyond the %d-byte transfer",
			p.ITT, p.BufferOffset, p.BufferOffset+n, t.readLen)
	case p.StatusValid && p.Status == pdu.StatusGood && p.Overflow:
		// An overflow is legal; the residual tells how much was cut.
	}
	return t, nil
}

// checkTransfer checks a command's final status against the data that
// moved (RFC 7143 §11.4.5): an underflow residual cannot exceed the
// transfer, and a read that completed GOOD received every byte the
// residual does not account for. Otherwise the caller would be handed a
// negative length, or a buffer part of which the target never wrote.
// s.mu held.
func (t *task) checkTransfer(status pdu.SCSIStatus, under bool, count uint32) error {
	edtl := t.readLen + t.writeLen
	if under && count > edtl {
		return protocolError("ITT 0x%x: residual underflow of %d bytes in a %d-byte transfer", t.itt, count, edtl)
	}
	if status != pdu.StatusGood || t.readLen == 0 {
		return nil
	}
	want := t.readLen
	if under {
		want -= count
	}
	if t.received != want {
		return protocolError("ITT 0x%x: GOOD status after %d bytes of Data-In, %d expected", t.itt, t.received, want)
	}
	return nil
}

func residual(over, under bool, count uint32) int {
	switch {
	case under:
		return int(count)
	case over:
		return -int(count)
	}
	return 0
}

// statusError turns a SCSI status (and sense data) into an error.
func statusError(status pdu.SCSIStatus, sense []byte) error {
	if status == pdu.StatusGood || status == pdu.StatusConditionMet {
		return nil
	}
	e := &SCSIError{Status: status}
	if len(sense) > 0 {
		if sd, err := scsi.ParseSense(sense); err == nil {
			e.Sense, e.HasSense = sd, true
		}
	}
	return e
}

// dispatch handles every target PDU but Data-In, after its data segment
// was read into the Framer's buffer.
func (c *conn) dispatch(p pdu.PDU) error {
	switch p := p.(type) {
	case *pdu.SCSIResponse:
		return c.scsiResponse(p)
	case *pdu.R2T:
		return c.r2t(p)
	case *pdu.NOPIn:
		return c.nopIn(p)
	case *pdu.AsyncMessage:
		return c.async(p)
	case *pdu.Reject:
		return c.reject(p)
	case *pdu.TaskMgmtResponse:
		return c.tmfResponse(p)
	case *pdu.LogoutResponse:
		return c.logoutResponse(p)
	}
	return protocolError("unexpected %v in full-feature phase", p.Opcode())
}

func (c *conn) scsiResponse(p *pdu.SCSIResponse) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := c.responseTask(p.ITT, p.StatSN, p.ExpCmdSN, p.MaxCmdSN, kindSCSI, "SCSI Response")
	if err != nil {
		return err
	}
	if p.Response != pdu.ResponseCompleted {
		s.finish(t, &ResponseError{Response: p.Response})
		return nil
	}
	sense, _, err := p.Sense()
	if err != nil {
		return protocolError("SCSI Response ITT 0x%x: %v", p.ITT, err)
	}
	if err := t.checkTransfer(p.Status, p.Underflow, p.ResidualCount); err != nil {
		return err
	}
	t.senseLen = copy(t.sense[:], sense)
	if !t.abandoned {
		t.cmd.Status = p.Status
		t.cmd.Residual = residual(p.Overflow, p.Underflow, p.ResidualCount)
	}
	if p.Status == pdu.StatusGood && t.readLen > 0 && p.ExpDataSN != t.expDataSN {
		return protocolError("SCSI Response ITT 0x%x ExpDataSN %d, received %d Data-In", p.ITT, p.ExpDataSN, t.expDataSN)
	}
	s.finish(t, statusError(p.Status, t.sense[:t.senseLen]))
	return nil
}

// r2t queues the Data-Out sequence a Ready To Transfer asks for
// (RFC 7143 §11.8), after checking it against the command.
func (c *conn) r2t(p *pdu.R2T) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateWindow(p.ExpCmdSN, p.MaxCmdSN)
	t := s.tasks[p.ITT]
	switch {
	case t == nil || t.conn != c || t.kind != kindSCSI:
		return protocolError("R2T for unknown ITT 0x%x", p.ITT)
	case uint64(p.BufferOffset)+uint64(p.DesiredDataTransferLength) > uint64(t.writeLen):
		return protocolError("R2T ITT 0x%x asks for bytes %d+%d beyond the %d-byte write",
			p.ITT, p.BufferOffset, p.DesiredDataTransferLength, t.writeLen)
	case p.BufferOffset < t.solicited:
		// At ErrorRecoveryLevel 0 with DataSequenceInOrder=Yes an R2T never
		// asks for bytes already asked for (RFC 7143 §13.19): a target that
		// does would have us send the write again and again.
		return protocolError("R2T ITT 0x%x asks again for bytes from %d; R2Ts so far asked up to %d",
			p.ITT, p.BufferOffset, t.solicited)
	case p.DesiredDataTransferLength > uint32(s.params.MaxBurstLength):
		return protocolError("R2T ITT 0x%x asks for %d bytes, MaxBurstLength is %d",
			p.ITT, p.DesiredDataTransferLength, s.params.MaxBurstLength)
	case p.TTT == pdu.ReservedTag:
		return protocolError("R2T ITT 0x%x with reserved TTT", p.ITT)
	}
	t.solicited = p.BufferOffset + p.DesiredDataTransferLength
	if t.abandoned {
		return nil
	}
	t.busy++
	c.enqueue(outItem{t: t, burst: true, off: p.BufferOffset, n: p.DesiredDataTransferLength, ttt: p.TTT})
	return nil
}

func (c *conn) nopIn(p *pdu.NOPIn) error {
	s := c.s
	s.mu.Lock()
	s.updateWindow(p.ExpCmdSN, p.MaxCmdSN)
	if p.ITT != pdu.ReservedTag {
		s.ackStatSN(p.StatSN)
		if t := s.tasks[p.ITT]; t != nil && t.kind == kindNOP {
			s.finish(t, nil)
		} else {
			s.mu.Unlock()
			return protocolError("NOP-In for unknown ITT 0x%x", p.ITT)
		}
	}
	s.mu.Unlock()
	if p.TTT != pdu.ReservedTag {
		// The target pings us: answer with its TTT (RFC 7143 §11.19.1).
		if n := c.backlog(); n >= maxWriteBacklog {
			return protocolError("target sends NOP-In pings faster than we can answer: %d PDUs queued", n)
		}
		c.enqueue(outItem{p: &pdu.NOPOut{Immediate: true, LUN: p.LUN, ITT: pdu.ReservedTag,
			TTT: p.TTT, CmdSN: c.s.currentCmdSN()}})
	}
	return nil
}

// maxWriteBacklog bounds the PDUs waiting for the writer when the reader
// adds one of its own (a ping's answer): a target that pings without
// reading, or faster than we can answer, must not make us queue answers
// without end.
const maxWriteBacklog = 4096

// backlog returns the number of items waiting for the writer.
func (c *conn) backlog() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.wq)
}

func (s *Session) currentCmdSN() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmdSN
}

func (c *conn) reject(p *pdu.Reject) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ackStatSN(p.StatSN)
	s.updateWindow(p.ExpCmdSN, p.MaxCmdSN)
	h := p.RejectedHeader()
	if h == nil {
		return protocolError("Reject without the rejected header")
	}
	if t := s.tasks[h.ITT()]; t != nil && t.conn == c {
		s.finish(t, &RejectError{Reason: p.Reason, Op: h.Opcode()})
		return nil
	}
	s.cfg.Logger.Warn("iscsi target rejected a PDU", "portal", s.cfg.Portal,
		"reason", p.Reason, "opcode", h.Opcode(), "itt", h.ITT())
	return nil
}

func (c *conn) tmfResponse(p *pdu.TaskMgmtResponse) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := c.responseTask(p.ITT, p.StatSN, p.ExpCmdSN, p.MaxCmdSN, kindTMF, "Task Management Response")
	if err != nil {
		return err
	}
	t.tmfResp = p.Response
	if p.Response != pdu.TMFComplete {
		err = &ResponseError{TMF: p.Response, tmf: true}
	}
	s.finish(t, err)
	return nil
}

func (c *conn) logoutResponse(p *pdu.LogoutResponse) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := c.responseTask(p.ITT, p.StatSN, p.ExpCmdSN, p.MaxCmdSN, kindLogout, "Logout Response")
	if err != nil {
		return err
	}
	t.logout = *p
	s.finish(t, nil)
	return nil
}

// responseTask applies a status-bearing response's sequence numbers and
// finds the task it answers, which must be of kind. s.mu held.
func (c *conn) responseTask(itt, statSN, expCmdSN, maxCmdSN uint32, kind taskKind, what string) (*task, error) {
	s := c.s
	s.ackStatSN(statSN)
	s.updateWindow(expCmdSN, maxCmdSN)
	t := s.tasks[itt]
	if t == nil || t.conn != c || t.kind != kind {
		return nil, protocolError("%s for unknown ITT 0x%x", what, itt)
	}
	return t, nil
}
