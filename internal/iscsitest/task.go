package iscsitest

import (
	"slices"
	"sort"

	"github.com/gomp-dev/gomp/pdu"
)

// task is one SCSI command from arrival to status.
type task struct {
	seq        uint64 // arrival order
	itt        uint32
	lun        pdu.LUN
	cdb        []byte
	edtl       uint32 // ExpectedDataTransferLength
	read       bool   // R bit
	write      bool   // W bit
	early      *scsiResult
	need       uint32 // bytes the CDB transfers from the initiator
	want       uint32 // bytes the target collects: min(need, edtl)
	buf        []byte // Data-Out, len want
	unsol      uint32 // end of immediate and unsolicited data
	unsolSN    uint32 // next unsolicited DataSN
	unsolDone  bool   // no more unsolicited data will come
	soliciting bool   // R2Ts have started at unsol
	next       uint32 // next offset to solicit
	r2ts       map[uint32]*r2tState
	r2tSN      uint32
	held       bool
	digestBad  bool // a Data-Out failed its digest
}

// r2tState is an outstanding R2T.
type r2tState struct {
	offset, length uint32
	got            uint32 // bytes received
	dataSN         uint32 // next expected DataSN
}

// scsiCommand starts a task (RFC 7143 §11.3) and moves it as far as the
// data at hand allows.
func (c *Conn) scsiCommand(p *pdu.SCSICommand) error {
	if c.neg.SessionType == "Discovery" {
		c.violation("SCSI Command in a discovery session")
		return c.rejectPDU(pdu.RejectProtocolError, p)
	}
	if _, dup := c.tasks[p.ITT]; dup {
		c.violation("SCSI Command reuses the ITT 0x%x of a task in progress", p.ITT)
		return c.rejectPDU(pdu.RejectTaskInProgress, p)
	}
	t := c.newTask(p)
	c.tasks[t.itt] = t
	c.bumpStats(func(s *Stats) { s.Commands[t.cdb[0]]++ })
	c.immediateData(t, p)
	t.unsolDone = p.Final
	if !p.Final && c.neg.InitialR2T {
		c.violation("unsolicited Data-Out announced (F=0) with InitialR2T=Yes")
	}
	return c.advance(t)
}

func (c *Conn) newTask(p *pdu.SCSICommand) *task {
	c.taskSeq++
	t := &task{seq: c.taskSeq, itt: p.ITT, lun: p.LUN, cdb: slices.Clone(p.CDB),
		edtl: p.ExpectedDataTransferLength, read: p.Read, write: p.Write,
		r2ts: make(map[uint32]*r2tState)}
	t.early, t.need = c.precheck(t)
	if t.need > t.edtl && t.early == nil {
		r := checkCondition(senseIllegalRequest, 0x24, 0x00)
		t.early = &r
	}
	if t.early == nil {
		t.want = min(t.need, t.edtl)
		t.buf = make([]byte, t.want)
		if t.want > 0 && !t.write {
			c.violation("command needs %d bytes of Data-Out but the W bit is clear", t.need)
		}
	}
	return t
}

// immediateData takes the data segment of the command (RFC 7143 §4.2.5.2).
func (c *Conn) immediateData(t *task, p *pdu.SCSICommand) {
	n := len(p.Data)
	if n == 0 {
		return
	}
	switch {
	case !c.neg.ImmediateData:
		c.violation("immediate data with ImmediateData=No")
	case n > c.neg.FirstBurstLength:
		c.violation("%d bytes of immediate data exceed FirstBurstLength %d", n, c.neg.FirstBurstLength)
	case uint32(n) > t.edtl:
		c.violation("%d bytes of immediate data exceed ExpectedDataTransferLength %d", n, t.edtl)
	}
	t.store(0, p.Data)
	t.unsol = uint32(n)
}

// store copies data at offset into the task's buffer, ignoring what falls
// beyond what the target wants.
func (t *task) store(offset uint32, data []byte) {
	if offset < uint32(len(t.buf)) {
		copy(t.buf[offset:], data)
	}
}

// dataOut routes a Data-Out PDU to its task (RFC 7143 §11.7).
func (c *Conn) dataOut(d *pdu.DataOut) error {
	t := c.tasks[d.ITT]
	if t == nil {
		if !c.aborted[d.ITT] {
			c.violation("Data-Out for unknown ITT 0x%x", d.ITT)
		}
		return nil
	}
	if d.TTT == pdu.ReservedTag {
		c.unsolicited(t, d)
	} else if !c.solicited(t, d) {
		return nil
	}
	return c.advance(t)
}

func (c *Conn) unsolicited(t *task, d *pdu.DataOut) {
	end := uint64(d.BufferOffset) + uint64(len(d.Data))
	switch {
	case t.unsolDone:
		c.violation("unsolicited Data-Out after the unsolicited sequence ended")
		return
	case c.neg.InitialR2T:
		c.violation("unsolicited Data-Out with InitialR2T=Yes")
	case d.DataSN != t.unsolSN || d.BufferOffset != t.unsol:
		c.violation("unsolicited Data-Out DataSN %d offset %d, expected %d and %d", d.DataSN, d.BufferOffset, t.unsolSN, t.unsol)
	case end > uint64(c.neg.FirstBurstLength):
		c.violation("unsolicited data up to %d exceeds FirstBurstLength %d", end, c.neg.FirstBurstLength)
	}
	t.store(d.BufferOffset, d.Data)
	t.unsolSN++
	t.unsol = max(t.unsol, uint32(min(end, 1<<32-1)))
	t.unsolDone = d.Final
}

// solicited accounts a Data-Out answering an R2T; false if there is none.
func (c *Conn) solicited(t *task, d *pdu.DataOut) bool {
	r := t.r2ts[d.TTT]
	if r == nil {
		c.violation("Data-Out with TTT 0x%x that no outstanding R2T carries", d.TTT)
		return false
	}
	end := uint64(d.BufferOffset) + uint64(len(d.Data))
	if d.BufferOffset < r.offset || end > uint64(r.offset+r.length) || d.DataSN != r.dataSN {
		c.violation("Data-Out offset %d+%d DataSN %d outside R2T %d+%d (DataSN %d)",
			d.BufferOffset, len(d.Data), d.DataSN, r.offset, r.length, r.dataSN)
	}
	t.store(d.BufferOffset, d.Data)
	r.got += uint32(len(d.Data))
	r.dataSN++
	if d.Final {
		if r.got != r.length {
			c.violation("R2T sequence of %d bytes ended after %d", r.length, r.got)
		}
		delete(t.r2ts, d.TTT)
	}
	return true
}

// advance sends the R2Ts a task is due and runs it once its data is in.
func (c *Conn) advance(t *task) error {
	if !t.unsolDone {
		return nil
	}
	if !t.soliciting {
		t.soliciting, t.next = true, t.unsol
	}
	if err := c.sendR2Ts(t); err != nil {
		return err
	}
	if len(t.r2ts) > 0 || t.next < t.want {
		return nil
	}
	if h := c.cfg.Hooks.HoldCommand; h != nil && h(c, t.cdb) {
		t.held = true
		return nil
	}
	return c.run(t)
}

// sendR2Ts keeps up to MaxOutstandingR2T R2Ts outstanding, each at most
// MaxBurstLength (and Config.R2TSplit) bytes (RFC 7143 §11.8).
func (c *Conn) sendR2Ts(t *task) error {
	for len(t.r2ts) < c.neg.MaxOutstandingR2T && t.next < t.want {
		n := min(t.want-t.next, uint32(c.neg.MaxBurstLength))
		if c.cfg.R2TSplit > 0 {
			n = min(n, uint32(c.cfg.R2TSplit))
		}
		ttt := c.newTTT()
		t.r2ts[ttt] = &r2tState{offset: t.next, length: n}
		r := &pdu.R2T{LUN: t.lun, ITT: t.itt, TTT: ttt, StatSN: c.statSN, ExpCmdSN: c.expCmdSN,
			MaxCmdSN: c.maxCmdSN(), R2TSN: t.r2tSN, BufferOffset: t.next, DesiredDataTransferLength: n}
		t.r2tSN++
		t.next += n
		if err := c.send(r); err != nil {
			return err
		}
	}
	return nil
}

// run executes a task whose data is complete and sends its data and status.
func (c *Conn) run(t *task) error {
	delete(c.tasks, t.itt)
	var res scsiResult
	switch {
	case t.early != nil:
		res = *t.early
	case t.digestBad:
		res = checkCondition(senseAbortedCommand, 0x47, 0x05) // PROTOCOL SERVICE CRC ERROR
	default:
		res = c.exec(t)
	}
	return c.respond(t, res)
}

// Release runs the commands held by Hooks.HoldCommand, in arrival order,
// and returns how many there were.
func (c *Conn) Release() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.heldTasks()
	for _, t := range held {
		if err := c.run(t); err != nil {
			return 0, err
		}
	}
	return len(held), nil
}

// Held returns the ITTs of the commands being held, in arrival order.
func (c *Conn) Held() []uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var itts []uint32
	for _, t := range c.heldTasks() {
		itts = append(itts, t.itt)
	}
	return itts
}

func (c *Conn) heldTasks() []*task {
	var held []*task
	for _, t := range c.tasks {
		if t.held {
			held = append(held, t)
		}
	}
	sort.Slice(held, func(i, j int) bool { return held[i].seq < held[j].seq })
	return held
}
