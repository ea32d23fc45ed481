package iscsitest

import "github.com/gomp-dev/gomp/pdu"

// taskMgmt answers a Task Management Function Request (RFC 7143 §11.5,
// §11.6). Aborted tasks get no SCSI Response: they vanish, and Data-Out
// still in flight for them is ignored. Commands queued behind a CmdSN that
// an ABORT TASK consumed run after the TMF response.
func (c *Conn) taskMgmt(p *pdu.TaskMgmtRequest) error {
	result := c.tmf(p)
	err := c.send(&pdu.TaskMgmtResponse{Response: result, ITT: p.ITT,
		StatSN: c.nextStatSN(), ExpCmdSN: c.expCmdSN, MaxCmdSN: c.maxCmdSN()})
	switch {
	case err != nil:
		return err
	case p.Function == pdu.TMFTargetColdReset && result == pdu.TMFComplete:
		return errKilled // a cold reset drops the connection after answering
	}
	return c.drainQueue()
}

func (c *Conn) tmf(p *pdu.TaskMgmtRequest) pdu.TMFResponse {
	if c.neg.SessionType == "Discovery" {
		return pdu.TMFRejected
	}
	n, ok := p.LUN.Number()
	lunExists := ok && c.cfg.LUNs[n] != nil
	switch p.Function {
	case pdu.TMFAbortTask:
		return c.abortTask(p)
	case pdu.TMFAbortTaskSet, pdu.TMFClearTaskSet, pdu.TMFLogicalUnitReset:
		if !lunExists {
			return pdu.TMFLUNDoesNotExist
		}
		c.abortWhere(func(t *task) bool { return t.lun == p.LUN })
		return pdu.TMFComplete
	case pdu.TMFTargetWarmReset, pdu.TMFTargetColdReset:
		c.abortWhere(func(*task) bool { return true })
		return pdu.TMFComplete
	case pdu.TMFTaskReassign:
		return pdu.TMFReassignmentNotSupported
	}
	return pdu.TMFNotSupported
}

// abortTask aborts the referenced task, or, if it has not arrived but its
// RefCmdSN is in the window and before the TMF's CmdSN, consumes that
// CmdSN so the command is never executed (RFC 7143 §11.5.1).
func (c *Conn) abortTask(p *pdu.TaskMgmtRequest) pdu.TMFResponse {
	if t := c.tasks[p.ReferencedTaskTag]; t != nil {
		c.abort(t)
		return pdu.TMFComplete
	}
	ref := p.RefCmdSN
	inWindow := !serialLess(ref, c.expCmdSN) && !serialLess(c.maxCmdSN(), ref)
	if !inWindow || !serialLess(ref, p.CmdSN) {
		return pdu.TMFTaskDoesNotExist
	}
	c.queue[ref] = nil
	return pdu.TMFComplete
}

func (c *Conn) abortWhere(match func(*task) bool) {
	for _, t := range c.tasks {
		if match(t) {
			c.abort(t)
		}
	}
}

func (c *Conn) abort(t *task) {
	delete(c.tasks, t.itt)
	c.aborted[t.itt] = true
}
