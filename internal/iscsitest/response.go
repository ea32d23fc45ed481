package iscsitest

import "github.com/gomp-dev/gomp/pdu"

// respond sends a finished task's Data-In, then its status: in the last
// Data-In with phase collapse, else in a SCSI Response (RFC 7143 §11.4).
func (c *Conn) respond(t *task, res scsiResult) error {
	data := res.data
	if len(data) > 0 && !t.read {
		c.violation("command returns %d bytes of Data-In but the R bit is clear", len(data))
	}
	xfer := uint64(len(data))
	if res.data == nil {
		xfer = uint64(t.need)
	}
	st := residual(xfer, t.edtl)
	if !t.read {
		data = nil
	}
	data = data[:min(len(data), int(t.edtl))]
	collapse := c.cfg.PhaseCollapse && len(data) > 0 && res.status == pdu.StatusGood && len(res.sense) == 0
	sent, err := c.sendDataIn(t, data, res, st, collapse)
	if err != nil || collapse {
		return err
	}
	resp := &pdu.SCSIResponse{Response: pdu.ResponseCompleted, Status: res.status, ITT: t.itt,
		StatSN: c.nextStatSN(), ExpCmdSN: c.expCmdSN, MaxCmdSN: c.maxCmdSN(),
		ExpDataSN: sent + t.r2tSN, Overflow: st.over, Underflow: st.under, ResidualCount: st.count}
	if len(res.sense) > 0 {
		resp.Data = pdu.AppendSenseSegment(nil, res.sense, nil)
	}
	return c.send(resp)
}

// residualState is the O/U flags and ResidualCount (RFC 7143 §11.4.5).
type residualState struct {
	over, under bool
	count       uint32
}

func residual(xfer uint64, edtl uint32) residualState {
	switch {
	case xfer > uint64(edtl):
		return residualState{over: true, count: uint32(min(xfer-uint64(edtl), 1<<32-1))}
	case xfer < uint64(edtl):
		return residualState{under: true, count: edtl - uint32(xfer)}
	}
	return residualState{}
}

// sendDataIn sends data in Data-In PDUs of at most the initiator's
// MaxRecvDataSegmentLength (and Config.DataInSplit), F ending each
// MaxBurstLength sequence (RFC 7143 §11.7). It returns the PDU count.
func (c *Conn) sendDataIn(t *task, data []byte, res scsiResult, st residualState, collapse bool) (uint32, error) {
	seg := c.neg.InitiatorMaxRecvDataSegmentLength
	if c.cfg.DataInSplit > 0 {
		seg = min(seg, c.cfg.DataInSplit)
	}
	var sn uint32
	for off, inBurst := 0, 0; off < len(data); sn++ {
		n := min(seg, len(data)-off, c.neg.MaxBurstLength-inBurst)
		last := off+n == len(data)
		inBurst += n
		d := &pdu.DataIn{Final: last || inBurst == c.neg.MaxBurstLength, ITT: t.itt, TTT: pdu.ReservedTag,
			ExpCmdSN: c.expCmdSN, MaxCmdSN: c.maxCmdSN(), DataSN: sn, BufferOffset: uint32(off),
			Data: data[off : off+n]}
		if d.Final {
			inBurst = 0
		}
		if last && collapse {
			d.StatusValid, d.Status, d.StatSN = true, res.status, c.nextStatSN()
			d.Overflow, d.Underflow, d.ResidualCount = st.over, st.under, st.count
		}
		if err := c.send(d); err != nil {
			return sn, err
		}
		off += n
	}
	return sn, nil
}
