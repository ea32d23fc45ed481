package nbd

import (
	"io"
)

// allowedFlags are the command flags valid for each command on this
// connection (proto.md "Command flags"); anything else is EINVAL.
func (e *exportState) allowedFlags(t Command) CommandFlags {
	var f CommandFlags
	if e.flags&FlagSendFUA != 0 {
		f |= CmdFlagFUA // valid on every command once negotiated
	}
	switch t {
	case CmdRead:
		if e.flags&FlagSendDF != 0 {
			f |= CmdFlagDF
		}
	case CmdWriteZeroes:
		f |= CmdFlagNoHole
	}
	return f
}

// check validates a request against the export before anything is allocated
// or read, and returns the errno to fail it with (0 if it may run), per
// proto.md "Error values": EINVAL for unknown commands and flags, unadvertised
// commands, misalignment and reads or trims past the end; ENOSPC for writes
// past the end; EPERM for modifications of a read-only export.
func (c *txConn) check(q *Request) Errno {
	e := c.exp
	if q.Flags&^e.allowedFlags(q.Type) != 0 {
		return ErrnoInvalid
	}
	switch q.Type {
	case CmdRead:
		return e.checkRead(q)
	case CmdWrite:
		return e.checkModify(q, true, ErrnoNoSpace)
	case CmdFlush:
		if e.fl == nil {
			return ErrnoInvalid
		}
		return 0
	case CmdTrim:
		return e.checkModify(q, e.tr != nil, ErrnoInvalid)
	case CmdWriteZeroes:
		return e.checkModify(q, e.zr != nil, ErrnoNoSpace)
	}
	return ErrnoInvalid
}

func (e *exportState) checkRead(q *Request) Errno {
	switch {
	case q.Length > e.maxPayload && e.structured:
		return ErrnoOverflow
	case q.Length > e.maxPayload:
		return ErrnoInvalid
	case !e.inRange(q.Offset, q.Length), !e.aligned(q.Offset, q.Length):
		return ErrnoInvalid
	}
	return 0
}

// checkModify checks a write, trim or zeroing; supported says whether the
// export offers the command, beyond the errno for a range past the end.
func (e *exportState) checkModify(q *Request, supported bool, beyond Errno) Errno {
	switch {
	case e.readOnly:
		return ErrnoPerm
	case !supported:
		return ErrnoInvalid
	case q.Type == CmdWrite && q.Length > e.maxPayload:
		return ErrnoInvalid
	case !e.inRange(q.Offset, q.Length):
		return beyond
	case !e.aligned(q.Offset, q.Length):
		return ErrnoInvalid
	}
	return 0
}

// execute runs a checked request against the backend and records its errno.
func (c *txConn) execute(r *request) {
	q, e, ctx := &r.req, c.exp, c.ctx
	off, fua := int64(q.Offset), q.Flags&CmdFlagFUA != 0
	var err error
	switch q.Type {
	case CmdRead:
		if r.buf != nil {
			n, rerr := e.b.ReadAtContext(ctx, r.buf.b, off)
			err = shortIO(n, len(r.buf.b), rerr, io.ErrUnexpectedEOF)
		}
	case CmdWrite:
		if r.buf != nil {
			n, werr := e.b.WriteAtContext(ctx, r.buf.b, off, fua)
			err = shortIO(n, len(r.buf.b), werr, io.ErrShortWrite)
		}
	case CmdFlush:
		err = e.fl.Flush(ctx)
	case CmdTrim:
		if q.Length > 0 {
			err = e.tr.Trim(ctx, off, int64(q.Length))
		}
		err = c.flushIf(fua, err)
	case CmdWriteZeroes:
		if q.Length > 0 {
			err = e.zr.WriteZeroes(ctx, off, int64(q.Length), q.Flags&CmdFlagNoHole == 0)
		}
		err = c.flushIf(fua, err)
	}
	c.finish(r, err)
}

// finish records the outcome of an executed request.
func (c *txConn) finish(r *request, err error) {
	r.errno = ErrnoOf(err)
	if err != nil {
		q := &r.req
		c.log.Debug("nbd: request failed", "peer", c.peer, "cmd", q.Type, "offset", q.Offset,
			"length", q.Length, "errno", r.errno, "err", err)
	}
}

// flushIf makes a trim or zeroing durable for FUA, the backends' Trim and
// WriteZeroes having no FUA flag of their own.
func (c *txConn) flushIf(fua bool, err error) error {
	if err != nil || !fua || c.exp.fl == nil {
		return err
	}
	return c.exp.fl.Flush(c.ctx)
}
