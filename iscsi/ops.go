package iscsi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gomp-dev/gomp/iscsi/internal/serial"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// maxUnitAttentionRetries bounds the transparent retry of commands that
// meet a UNIT ATTENTION (as after login, or a LUN reset).
const maxUnitAttentionRetries = 3

// quiesceGrace is how long an abandoned command waits for the reader or
// writer to stop using its buffers before the connection is dropped to
// force them off.
const quiesceGrace = 2 * time.Second

// Do runs one SCSI command and waits for its status. A status other than
// GOOD returns a *SCSIError; a UNIT ATTENTION is retried transparently up
// to three times. A lost connection returns an error satisfying
// errors.Is(err, ErrConnection): the target may or may not have executed
// the command. When ctx ends first, the task is aborted (ABORT TASK) and
// Do returns an ErrAborted error once the connection no longer uses the
// command's buffers.
func (s *Session) Do(ctx context.Context, cmd *Command) error {
	for attempt := 0; ; attempt++ {
		err := s.do(ctx, cmd)
		if err == nil || attempt >= maxUnitAttentionRetries || ctx.Err() != nil {
			return err
		}
		if se := unitAttention(err); se != nil {
			s.cfg.Logger.Debug("iscsi unit attention, retrying", "portal", s.cfg.Portal, "sense", se.Sense)
			s.noteUnitAttention(cmd.LUN, se.Sense.Code())
			continue
		}
		return err
	}
}

// unitAttention returns err's *SCSIError if it reports a UNIT ATTENTION.
// A function of its own, so that the error variable escapes only when
// there is an error (Do allocates nothing on success).
func unitAttention(err error) *SCSIError {
	var se *SCSIError
	if errors.As(err, &se) && se.HasSense && se.Sense.Key == scsi.KeyUnitAttention {
		return se
	}
	return nil
}

func (s *Session) do(ctx context.Context, cmd *Command) error {
	if len(cmd.Read) > 0 && len(cmd.Write) > 0 {
		return errors.New("iscsi: bidirectional commands are not supported")
	}
	t := s.newTask(kindSCSI)
	c, err := s.acquire(ctx, false) // s.mu held on success
	if err != nil {
		s.taskPool.Put(t)
		return err
	}
	s.submit(c, t, cmd)
	s.mu.Unlock()
	c.flushOrWake()
	s.stats.Commands.Add(1)
	return s.wait(ctx, c, t)
}

// submit assigns ITT and CmdSN and queues the command with its immediate
// and unsolicited data (RFC 7143 §3.2.4.2). s.mu held.
func (s *Session) submit(c *conn, t *task, cmd *Command) {
	t.itt, t.conn, t.cmd = s.allocITT(), c, cmd
	t.readLen, t.writeLen = uint32(len(cmd.Read)), uint32(len(cmd.Write))
	s.tasks[t.itt] = t
	attr := cmd.Attr
	if attr == pdu.AttrUntagged {
		attr = pdu.AttrSimple
	}
	t.req = pdu.SCSICommand{Final: true, Read: len(cmd.Read) > 0, Write: len(cmd.Write) > 0,
		Attr: attr, LUN: pdu.MakeLUN(cmd.LUN), ITT: t.itt, CmdSN: s.cmdSN, CDB: cmd.CDB,
		ExpectedDataTransferLength: uint32(len(cmd.Read) + len(cmd.Write))}
	s.cmdSN++
	t.busy++
	var burst outItem
	if w := len(cmd.Write); w > 0 {
		p := s.params
		first := min(w, p.FirstBurstLength)
		imm := 0
		if p.ImmediateData {
			imm = min(first, p.TargetMaxRecvDataSegmentLength)
			t.req.Data = cmd.Write[:imm]
		}
		if !p.InitialR2T && imm < first {
			t.req.Final = false
			burst = outItem{t: t, burst: true, off: uint32(imm), n: uint32(first - imm), ttt: pdu.ReservedTag}
			t.busy++
		}
	}
	if burst.t != nil {
		c.queue(outItem{p: &t.req, t: t}, burst)
	} else {
		c.queue(outItem{p: &t.req, t: t})
	}
}

// wait waits for a task to finish and its buffers to be released.
func (s *Session) wait(ctx context.Context, c *conn, t *task) error {
	for {
		select {
		case <-t.sig:
			s.mu.Lock()
			if t.quiet() {
				err := t.err
				s.mu.Unlock()
				s.taskPool.Put(t)
				return err
			}
			s.mu.Unlock()
		case <-ctx.Done():
			return s.abandon(ctx, c, t)
		}
	}
}

// abandon stops waiting for a task whose context ended: further data for
// it is discarded, it is aborted at the target, and abandon returns once
// its buffers are no longer used.
func (s *Session) abandon(ctx context.Context, c *conn, t *task) error {
	s.mu.Lock()
	if t.quiet() { // finished just now
		err := t.err
		s.mu.Unlock()
		s.taskPool.Put(t)
		return err
	}
	t.abandoned = true
	t.abandonedFlag.Store(true)
	finished := t.finished
	if !finished {
		s.stats.Aborts.Add(1)
		s.goLocked(func() { s.abortTask(c, t) })
	}
	s.mu.Unlock()
	timer := time.NewTimer(quiesceGrace)
	defer timer.Stop()
	for {
		s.mu.Lock()
		busy := t.busy
		s.mu.Unlock()
		if busy == 0 {
			// The task stays in the table until the target answers or the
			// connection dies; it is not returned to the pool.
			return fmt.Errorf("%w: %w", ErrAborted, ctx.Err())
		}
		select {
		case <-t.sig:
		case <-timer.C:
			c.fail(errors.New("aborted command still in transfer"))
		}
	}
}

// abortTask sends ABORT TASK for t (RFC 7143 §11.5.1), escalating as
// abortOne does; if the target confirms neither within NOPTimeout, the
// connection is dropped, as open-iscsi does when its abort times out.
func (s *Session) abortTask(c *conn, t *task) {
	s.mu.Lock()
	ref := taskRef{t: t, itt: t.itt, cmdSN: t.req.CmdSN, lun: t.req.LUN}
	s.mu.Unlock()
	if err := s.abortOne(s.ctx, ref, nil); err != nil && !errors.Is(err, ErrConnection) && s.ctx.Err() == nil {
		c.fail(fmt.Errorf("ABORT TASK 0x%x: %w", t.itt, err))
	}
}

func (s *Session) tmfTimeout() time.Duration {
	if s.cfg.NOPTimeout > 0 {
		return s.cfg.NOPTimeout
	}
	return 5 * time.Second
}

// taskRef names a task in flight as it was when it was picked for an
// abort: the task may finish, and its ITT be reused, meanwhile.
type taskRef struct {
	t     *task
	itt   uint32
	cmdSN uint32
	lun   pdu.LUN
}

// abortOne makes sure a task can no longer execute at the target: ABORT
// TASK answered FUNCTION COMPLETE or TASK DOES NOT EXIST, else (function
// not supported, rejected, no answer) LOGICAL UNIT RESET answered FUNCTION
// COMPLETE, each given NOPTimeout (5 s when unset). Then the task, if it
// is still the one picked, fails with ErrAborted (wrapping cause, if any).
// An error means neither was confirmed: the command may still execute.
func (s *Session) abortOne(ctx context.Context, ref taskRef, cause error) error {
	actx, cancel := context.WithTimeout(ctx, s.tmfTimeout())
	err := s.taskMgmt(actx, &pdu.TaskMgmtRequest{Function: pdu.TMFAbortTask, LUN: ref.lun,
		ReferencedTaskTag: ref.itt, RefCmdSN: ref.cmdSN})
	cancel()
	if !tmfDone(err) {
		if errors.Is(err, ErrConnection) || ctx.Err() != nil {
			return fmt.Errorf("ABORT TASK: %w", err)
		}
		n, _ := ref.lun.Number()
		s.cfg.Logger.Warn("iscsi: ABORT TASK not confirmed; resetting the logical unit", "portal", s.cfg.Portal,
			"itt", ref.itt, "lun", n, "err", err)
		rctx, cancel := context.WithTimeout(ctx, s.tmfTimeout())
		rerr := s.LUNReset(rctx, n)
		cancel()
		if rerr != nil {
			return fmt.Errorf("ABORT TASK: %v; LOGICAL UNIT RESET: %w", err, rerr)
		}
	}
	done := ErrAborted
	if cause != nil {
		done = fmt.Errorf("%w: %w", ErrAborted, cause)
	}
	s.mu.Lock()
	if s.tasks[ref.itt] == ref.t && ref.t.req.CmdSN == ref.cmdSN {
		s.finish(ref.t, done)
	}
	s.mu.Unlock()
	return nil
}

// tmfDone reports whether a task management answer means the task can no
// longer execute: FUNCTION COMPLETE, or TASK DOES NOT EXIST.
func tmfDone(err error) bool {
	var re *ResponseError
	return err == nil || errors.As(err, &re) && re.tmf && re.TMF == pdu.TMFTaskDoesNotExist
}

// AbortInFlight ends every SCSI command in flight on the session so that
// none can still execute at the target, for a caller about to retry them
// elsewhere (multipath's stall watchdog): each is aborted as abortOne does
// (ABORT TASK, else LOGICAL UNIT RESET) and fails with ErrAborted wrapping
// cause. An error means the target confirmed neither for some command:
// the caller must drop the connection, so that the session's reinstatement
// (RFC 7143 §6.3.5) clears them, before it retries them.
func (s *Session) AbortInFlight(ctx context.Context, cause error) error {
	return s.abortInFlight(ctx, cause, func(pdu.LUN) bool { return true })
}

// AbortInFlight is Session.AbortInFlight for the commands of this LUN
// only: a session shared by several LUNs keeps the others' commands.
func (l *LUN) AbortInFlight(ctx context.Context, cause error) error {
	lun := pdu.MakeLUN(l.info.LUN)
	return l.s.abortInFlight(ctx, cause, func(x pdu.LUN) bool { return x == lun })
}

// abortInFlight aborts the SCSI commands in flight whose LUN match
// accepts.
func (s *Session) abortInFlight(ctx context.Context, cause error, match func(pdu.LUN) bool) error {
	s.mu.Lock()
	var refs []taskRef
	for _, t := range s.tasks {
		if t.kind == kindSCSI && !t.finished && match(t.req.LUN) {
			refs = append(refs, taskRef{t: t, itt: t.itt, cmdSN: t.req.CmdSN, lun: t.req.LUN})
		}
	}
	s.mu.Unlock()
	errs := make([]error, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() { errs[i] = s.abortOne(ctx, ref, cause) })
	}
	wg.Wait()
	if len(refs) > 0 {
		s.cfg.Logger.Info("iscsi: commands in flight aborted", "portal", s.cfg.Portal, "commands", len(refs),
			"err", errors.Join(errs...))
	}
	return errors.Join(errs...)
}

// LUNReset sends LOGICAL UNIT RESET for lun and waits for its response.
// The target ends the LUN's tasks without answering them (RFC 7143
// §11.5.1), so commands sent to lun before the reset fail with ErrAborted.
func (s *Session) LUNReset(ctx context.Context, lun uint16) error {
	req := &pdu.TaskMgmtRequest{Function: pdu.TMFLogicalUnitReset, LUN: pdu.MakeLUN(lun)}
	if err := s.taskMgmt(ctx, req); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tasks {
		if t.kind == kindSCSI && t.req.LUN == req.LUN && serial.Less(t.req.CmdSN, req.CmdSN) {
			s.finish(t, fmt.Errorf("%w: logical unit reset", ErrAborted))
		}
	}
	return nil
}

// taskMgmt sends an immediate Task Management Function Request.
func (s *Session) taskMgmt(ctx context.Context, req *pdu.TaskMgmtRequest) error {
	t := s.newTask(kindTMF)
	c, err := s.acquire(ctx, true)
	if err != nil {
		return err
	}
	t.itt, t.conn = s.allocITT(), c
	s.tasks[t.itt] = t
	req.Immediate, req.ITT, req.CmdSN = true, t.itt, s.cmdSN
	c.enqueue(outItem{p: req})
	s.mu.Unlock()
	return s.waitSimple(ctx, t)
}

// waitSimple waits for a task that uses no caller buffers.
func (s *Session) waitSimple(ctx context.Context, t *task) error {
	select {
	case <-t.sig:
		s.mu.Lock()
		err := t.err
		s.mu.Unlock()
		return err
	case <-ctx.Done():
		s.mu.Lock()
		// An abandoned task keeps its ITT until the target answers or the
		// connection ends: a late answer must not look like a stray PDU.
		t.abandoned = true
		err := t.err
		fin := t.finished
		s.mu.Unlock()
		if fin {
			return err
		}
		return fmt.Errorf("%w: %w", ErrAborted, ctx.Err())
	}
}

// Ping sends a NOP-Out and waits for the target's NOP-In
// (RFC 7143 §11.18).
func (s *Session) Ping(ctx context.Context) error {
	t := s.newTask(kindNOP)
	c, err := s.acquire(ctx, true)
	if err != nil {
		return err
	}
	t.itt, t.conn = s.allocITT(), c
	s.tasks[t.itt] = t
	c.enqueue(outItem{p: &pdu.NOPOut{Immediate: true, ITT: t.itt, TTT: pdu.ReservedTag, CmdSN: s.cmdSN}})
	s.mu.Unlock()
	return s.waitSimple(ctx, t)
}

// pingLoop sends a NOP-Out every NOPInterval; when neither the answer nor
// any other PDU arrives within NOPTimeout, the connection fails.
func (c *conn) pingLoop() {
	defer c.s.wg.Done()
	interval, timeout := c.s.cfg.NOPInterval, c.s.cfg.NOPTimeout
	if interval < 0 || timeout < 0 {
		<-c.done
		return
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-timer.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := c.s.pingOn(ctx, c)
		cancel()
		if err != nil && !errors.Is(err, ErrConnection) && c.lastRecv.Load() < sent.UnixNano() {
			c.s.stats.NOPTimeouts.Add(1)
			c.fail(fmt.Errorf("no NOP-In within %v (ping timeout)", timeout))
			return
		}
		timer.Reset(interval)
	}
}

// pingOn pings over a given connection, not whatever the session has now.
func (s *Session) pingOn(ctx context.Context, c *conn) error {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return &ConnError{Portal: s.cfg.Portal, Err: errors.New("connection replaced")}
	}
	t := s.newTask(kindNOP)
	t.itt, t.conn = s.allocITT(), c
	s.tasks[t.itt] = t
	c.enqueue(outItem{p: &pdu.NOPOut{Immediate: true, ITT: t.itt, TTT: pdu.ReservedTag, CmdSN: s.cmdSN}})
	s.mu.Unlock()
	select {
	case <-c.done:
		return &ConnError{Portal: s.cfg.Portal, Err: c.err}
	default:
	}
	return s.waitSimple(ctx, t)
}

// logout closes the session at the target (RFC 7143 §11.14).
func (s *Session) logout(ctx context.Context) error {
	s.mu.Lock()
	c := s.conn
	if c == nil {
		s.mu.Unlock()
		return nil
	}
	t := s.newTask(kindLogout)
	t.itt, t.conn = s.allocITT(), c
	s.tasks[t.itt] = t
	req := &pdu.LogoutRequest{Immediate: true, Reason: pdu.LogoutCloseSession, ITT: t.itt, CmdSN: s.cmdSN}
	c.enqueue(outItem{p: req})
	s.mu.Unlock()
	if err := s.waitSimple(ctx, t); err != nil {
		return fmt.Errorf("iscsi: logout %s: %w", s.cfg.Portal, err)
	}
	s.mu.Lock()
	resp := t.logout.Response
	s.mu.Unlock()
	if resp != pdu.LogoutSuccess {
		return fmt.Errorf("iscsi: logout %s: %v", s.cfg.Portal, resp)
	}
	s.cfg.Logger.Info("iscsi session logged out", "portal", s.cfg.Portal, "target", s.cfg.TargetName)
	return nil
}
