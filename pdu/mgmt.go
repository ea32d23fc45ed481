package pdu

// NOPOut is a NOP-Out PDU (opcode 0x00, RFC 7143 §11.18): a ping from the
// initiator, or the answer to a NOP-In that carried a TTT.
type NOPOut struct {
	Immediate bool
	LUN       LUN    // bytes 8-15
	ITT       uint32 // bytes 16-19; ReservedTag when answering a NOP-In
	TTT       uint32 // bytes 20-23; ReservedTag for a ping
	CmdSN     uint32 // bytes 24-27
	ExpStatSN uint32 // bytes 28-31
	Data      []byte // ping data
}

// Opcode returns OpNOPOut.
func (p *NOPOut) Opcode() Opcode { return OpNOPOut }

// Payload returns Data, the data segment.
func (p *NOPOut) Payload() []byte     { return p.Data }
func (p *NOPOut) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *NOPOut) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *NOPOut) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *NOPOut) encode(h *BHS) error {
	h.putCommon(OpNOPOut, p.Immediate, 0x80, 0, len(p.Data))
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.TTT)
	h.put32(24, p.CmdSN)
	h.put32(28, p.ExpStatSN)
	return nil
}

func (p *NOPOut) decode(h *BHS, ahs []byte) error {
	if err := plain(OpNOPOut, h, ahs, false); err != nil {
		return err
	}
	// ITT and TTT may both be ReservedTag: a NOP-Out that only confirms
	// ExpStatSN and asks for no answer (RFC 7143 §11.18.1-§11.18.2).
	*p = NOPOut{Immediate: h.Immediate(), LUN: h.lun(), ITT: h.u32(16), TTT: h.u32(20),
		CmdSN: h.u32(24), ExpStatSN: h.u32(28)}
	return nil
}

// NOPIn is a NOP-In PDU (opcode 0x20, RFC 7143 §11.19): the answer to a ping,
// or a target's own ping when TTT is not ReservedTag.
type NOPIn struct {
	LUN      LUN    // bytes 8-15
	ITT      uint32 // bytes 16-19; ReservedTag for a target ping
	TTT      uint32 // bytes 20-23; not ReservedTag when an answer is wanted
	StatSN   uint32 // bytes 24-27
	ExpCmdSN uint32 // bytes 28-31
	MaxCmdSN uint32 // bytes 32-35
	Data     []byte // ping data
}

// Opcode returns OpNOPIn.
func (p *NOPIn) Opcode() Opcode { return OpNOPIn }

// Payload returns Data, the data segment.
func (p *NOPIn) Payload() []byte     { return p.Data }
func (p *NOPIn) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *NOPIn) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *NOPIn) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *NOPIn) encode(h *BHS) error {
	h.putCommon(OpNOPIn, false, 0x80, 0, len(p.Data))
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.TTT)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	return nil
}

func (p *NOPIn) decode(h *BHS, ahs []byte) error {
	if err := plain(OpNOPIn, h, ahs, false); err != nil {
		return err
	}
	// ITT and TTT may both be ReservedTag: an unsolicited NOP-In that
	// carries a new ExpCmdSN/MaxCmdSN and wants no answer (§11.19).
	*p = NOPIn{LUN: h.lun(), ITT: h.u32(16), TTT: h.u32(20), StatSN: h.u32(24),
		ExpCmdSN: h.u32(28), MaxCmdSN: h.u32(32)}
	return nil
}

// TaskMgmtRequest is a Task Management Function Request (opcode 0x02,
// RFC 7143 §11.5).
type TaskMgmtRequest struct {
	Immediate         bool
	Function          TMFunction // byte 1 bits 0-6
	LUN               LUN        // bytes 8-15
	ITT               uint32     // bytes 16-19
	ReferencedTaskTag uint32     // bytes 20-23, ABORT TASK / TASK REASSIGN
	CmdSN             uint32     // bytes 24-27
	ExpStatSN         uint32     // bytes 28-31
	RefCmdSN          uint32     // bytes 32-35
	ExpDataSN         uint32     // bytes 36-39
}

// Opcode returns OpTaskMgmtReq.
func (p *TaskMgmtRequest) Opcode() Opcode { return OpTaskMgmtReq }

// Payload returns nil: a TaskMgmtRequest has no data segment.
func (p *TaskMgmtRequest) Payload() []byte   { return nil }
func (p *TaskMgmtRequest) setPayload([]byte) {}

// AppendBinary appends the whole PDU (no digests).
func (p *TaskMgmtRequest) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *TaskMgmtRequest) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *TaskMgmtRequest) encode(h *BHS) error {
	if p.Function == 0 || p.Function > 0x7f {
		return &FieldError{Op: OpTaskMgmtReq, Field: "Function", Value: uint64(p.Function), Reason: "must be 1 to 127"}
	}
	h.putCommon(OpTaskMgmtReq, p.Immediate, 0x80|byte(p.Function), 0, 0)
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.ReferencedTaskTag)
	h.put32(24, p.CmdSN)
	h.put32(28, p.ExpStatSN)
	h.put32(32, p.RefCmdSN)
	h.put32(36, p.ExpDataSN)
	return nil
}

func (p *TaskMgmtRequest) decode(h *BHS, ahs []byte) error {
	if err := plain(OpTaskMgmtReq, h, ahs, true); err != nil {
		return err
	}
	*p = TaskMgmtRequest{Immediate: h.Immediate(), Function: TMFunction(h[1] & 0x7f), LUN: h.lun(),
		ITT: h.u32(16), ReferencedTaskTag: h.u32(20), CmdSN: h.u32(24), ExpStatSN: h.u32(28),
		RefCmdSN: h.u32(32), ExpDataSN: h.u32(36)}
	if p.Function == 0 {
		return &FieldError{Op: OpTaskMgmtReq, Field: "Function", Value: 0, Reason: "must be 1 to 127"}
	}
	return nil
}

// TaskMgmtResponse is a Task Management Function Response (opcode 0x22,
// RFC 7143 §11.6).
type TaskMgmtResponse struct {
	Response TMFResponse // byte 2
	ITT      uint32      // bytes 16-19
	StatSN   uint32      // bytes 24-27
	ExpCmdSN uint32      // bytes 28-31
	MaxCmdSN uint32      // bytes 32-35
}

// Opcode returns OpTaskMgmtResp.
func (p *TaskMgmtResponse) Opcode() Opcode { return OpTaskMgmtResp }

// Payload returns nil: a TaskMgmtResponse has no data segment.
func (p *TaskMgmtResponse) Payload() []byte   { return nil }
func (p *TaskMgmtResponse) setPayload([]byte) {}

// AppendBinary appends the whole PDU (no digests).
func (p *TaskMgmtResponse) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *TaskMgmtResponse) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *TaskMgmtResponse) encode(h *BHS) error {
	h.putCommon(OpTaskMgmtResp, false, 0x80, 0, 0)
	h[2] = byte(p.Response)
	h.put32(16, p.ITT)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	return nil
}

func (p *TaskMgmtResponse) decode(h *BHS, ahs []byte) error {
	if err := plain(OpTaskMgmtResp, h, ahs, true); err != nil {
		return err
	}
	*p = TaskMgmtResponse{Response: TMFResponse(h[2]), ITT: h.u32(16), StatSN: h.u32(24),
		ExpCmdSN: h.u32(28), MaxCmdSN: h.u32(32)}
	return nil
}

// LogoutRequest is a Logout Request (opcode 0x06, RFC 7143 §11.14).
type LogoutRequest struct {
	Immediate bool
	Reason    LogoutReason // byte 1 bits 0-6
	ITT       uint32       // bytes 16-19
	CID       uint16       // bytes 20-21, for reasons 1 and 2
	CmdSN     uint32       // bytes 24-27
	ExpStatSN uint32       // bytes 28-31
}

// Opcode returns OpLogoutReq.
func (p *LogoutRequest) Opcode() Opcode { return OpLogoutReq }

// Payload returns nil: a LogoutRequest has no data segment.
func (p *LogoutRequest) Payload() []byte   { return nil }
func (p *LogoutRequest) setPayload([]byte) {}

// AppendBinary appends the whole PDU (no digests).
func (p *LogoutRequest) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *LogoutRequest) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *LogoutRequest) encode(h *BHS) error {
	if p.Reason > 0x7f {
		return &FieldError{Op: OpLogoutReq, Field: "ReasonCode", Value: uint64(p.Reason), Reason: "must fit 7 bits"}
	}
	h.putCommon(OpLogoutReq, p.Immediate, 0x80|byte(p.Reason), 0, 0)
	h.put32(16, p.ITT)
	h.put16(20, p.CID)
	h.put32(24, p.CmdSN)
	h.put32(28, p.ExpStatSN)
	return nil
}

func (p *LogoutRequest) decode(h *BHS, ahs []byte) error {
	if err := plain(OpLogoutReq, h, ahs, true); err != nil {
		return err
	}
	*p = LogoutRequest{Immediate: h.Immediate(), Reason: LogoutReason(h[1] & 0x7f), ITT: h.u32(16),
		CID: h.u16(20), CmdSN: h.u32(24), ExpStatSN: h.u32(28)}
	return nil
}

// LogoutResponse is a Logout Response (opcode 0x26, RFC 7143 §11.15).
type LogoutResponse struct {
	Response    LogoutResult // byte 2
	ITT         uint32       // bytes 16-19
	StatSN      uint32       // bytes 24-27
	ExpCmdSN    uint32       // bytes 28-31
	MaxCmdSN    uint32       // bytes 32-35
	Time2Wait   uint16       // bytes 40-41, seconds
	Time2Retain uint16       // bytes 42-43, seconds
}

// Opcode returns OpLogoutResp.
func (p *LogoutResponse) Opcode() Opcode { return OpLogoutResp }

// Payload returns nil: a LogoutResponse has no data segment.
func (p *LogoutResponse) Payload() []byte   { return nil }
func (p *LogoutResponse) setPayload([]byte) {}

// AppendBinary appends the whole PDU (no digests).
func (p *LogoutResponse) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *LogoutResponse) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *LogoutResponse) encode(h *BHS) error {
	h.putCommon(OpLogoutResp, false, 0x80, 0, 0)
	h[2] = byte(p.Response)
	h.put32(16, p.ITT)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	h.put16(40, p.Time2Wait)
	h.put16(42, p.Time2Retain)
	return nil
}

func (p *LogoutResponse) decode(h *BHS, ahs []byte) error {
	if err := plain(OpLogoutResp, h, ahs, true); err != nil {
		return err
	}
	*p = LogoutResponse{Response: LogoutResult(h[2]), ITT: h.u32(16), StatSN: h.u32(24),
		ExpCmdSN: h.u32(28), MaxCmdSN: h.u32(32), Time2Wait: h.u16(40), Time2Retain: h.u16(42)}
	return nil
}

// SNACKRequest is a SNACK Request (opcode 0x10, RFC 7143 §11.16).
type SNACKRequest struct {
	Type      SNACKType // byte 1 bits 0-3
	LUN       LUN       // bytes 8-15, DataACK only
	ITT       uint32    // bytes 16-19, ReservedTag for Status SNACK
	TTT       uint32    // bytes 20-23: TTT (DataACK) or SNACK Tag (R-Data)
	ExpStatSN uint32    // bytes 28-31
	BegRun    uint32    // bytes 40-43
	RunLength uint32    // bytes 44-47
}

// Opcode returns OpSNACKReq.
func (p *SNACKRequest) Opcode() Opcode { return OpSNACKReq }

// Payload returns nil: a SNACKRequest has no data segment.
func (p *SNACKRequest) Payload() []byte   { return nil }
func (p *SNACKRequest) setPayload([]byte) {}

// AppendBinary appends the whole PDU (no digests).
func (p *SNACKRequest) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *SNACKRequest) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *SNACKRequest) encode(h *BHS) error {
	if p.Type > 0x0f {
		return &FieldError{Op: OpSNACKReq, Field: "Type", Value: uint64(p.Type), Reason: "must fit 4 bits"}
	}
	h.putCommon(OpSNACKReq, false, 0x80|byte(p.Type), 0, 0)
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.TTT)
	h.put32(28, p.ExpStatSN)
	h.put32(40, p.BegRun)
	h.put32(44, p.RunLength)
	return nil
}

func (p *SNACKRequest) decode(h *BHS, ahs []byte) error {
	if err := plain(OpSNACKReq, h, ahs, true); err != nil {
		return err
	}
	*p = SNACKRequest{Type: SNACKType(h[1] & 0x0f), LUN: h.lun(), ITT: h.u32(16), TTT: h.u32(20),
		ExpStatSN: h.u32(28), BegRun: h.u32(40), RunLength: h.u32(44)}
	return nil
}

// AsyncMessage is an Asynchronous Message (opcode 0x32, RFC 7143 §11.9).
type AsyncMessage struct {
	LUN        LUN        // bytes 8-15, for SCSI events
	StatSN     uint32     // bytes 24-27
	ExpCmdSN   uint32     // bytes 28-31
	MaxCmdSN   uint32     // bytes 32-35
	Event      AsyncEvent // byte 36
	VendorCode uint8      // byte 37, AsyncVCode
	// Parameter1-3 (bytes 38-43) mean what Event says: for
	// AsyncLogoutRequest, Parameter3 is the seconds to logout; for the drop
	// events, Parameter1 the CID, Parameter2 Time2Wait, Parameter3
	// Time2Retain (§11.9.1).
	Parameter1 uint16
	Parameter2 uint16
	Parameter3 uint16
	// Data is the raw data segment: SenseLength, sense data, iSCSI event
	// data (§11.9.4). Use Sense to split it.
	Data []byte
}

// Opcode returns OpAsyncMessage.
func (p *AsyncMessage) Opcode() Opcode { return OpAsyncMessage }

// Payload returns Data, the data segment.
func (p *AsyncMessage) Payload() []byte     { return p.Data }
func (p *AsyncMessage) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *AsyncMessage) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *AsyncMessage) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *AsyncMessage) encode(h *BHS) error {
	h.putCommon(OpAsyncMessage, false, 0x80, 0, len(p.Data))
	h.putLUN(p.LUN)
	h.put32(16, ReservedTag)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	h[36], h[37] = byte(p.Event), p.VendorCode
	h.put16(38, p.Parameter1)
	h.put16(40, p.Parameter2)
	h.put16(42, p.Parameter3)
	return nil
}

func (p *AsyncMessage) decode(h *BHS, ahs []byte) error {
	if err := plain(OpAsyncMessage, h, ahs, false); err != nil {
		return err
	}
	*p = AsyncMessage{LUN: h.lun(), StatSN: h.u32(24), ExpCmdSN: h.u32(28), MaxCmdSN: h.u32(32),
		Event: AsyncEvent(h[36]), VendorCode: h[37], Parameter1: h.u16(38),
		Parameter2: h.u16(40), Parameter3: h.u16(42)}
	if itt := h.u32(16); itt != ReservedTag {
		return &FieldError{Op: OpAsyncMessage, Field: "ITT", Value: uint64(itt), Reason: "must be 0xffffffff"}
	}
	return nil
}

// Sense splits the data segment into sense data and iSCSI event data.
func (p *AsyncMessage) Sense() (sense, eventData []byte, err error) {
	return splitSense(OpAsyncMessage, p.Data)
}

// Reject is a Reject PDU (opcode 0x3f, RFC 7143 §11.17).
type Reject struct {
	Reason   RejectReason // byte 2
	StatSN   uint32       // bytes 24-27
	ExpCmdSN uint32       // bytes 28-31
	MaxCmdSN uint32       // bytes 32-35
	DataSN   uint32       // bytes 36-39, DataSN/R2TSN for SNACK rejects
	// Data holds the complete header of the rejected PDU (§11.17.3); see
	// RejectedHeader.
	Data []byte
}

// Opcode returns OpReject.
func (p *Reject) Opcode() Opcode { return OpReject }

// Payload returns Data, the data segment.
func (p *Reject) Payload() []byte     { return p.Data }
func (p *Reject) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *Reject) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *Reject) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *Reject) encode(h *BHS) error {
	h.putCommon(OpReject, false, 0x80, 0, len(p.Data))
	h[2] = byte(p.Reason)
	h.put32(16, ReservedTag)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	h.put32(36, p.DataSN)
	return nil
}

func (p *Reject) decode(h *BHS, ahs []byte) error {
	if err := plain(OpReject, h, ahs, false); err != nil {
		return err
	}
	*p = Reject{Reason: RejectReason(h[2]), StatSN: h.u32(24), ExpCmdSN: h.u32(28),
		MaxCmdSN: h.u32(32), DataSN: h.u32(36)}
	if n := h.DataSegmentLength(); n < BHSLength {
		return &FieldError{Op: OpReject, Field: "DataSegmentLength", Value: uint64(n), Reason: "must hold the rejected 48-byte header"}
	}
	return nil
}

// RejectedHeader returns the BHS of the rejected PDU carried in the data
// segment, or nil if the segment is shorter than a BHS.
func (p *Reject) RejectedHeader() *BHS {
	if len(p.Data) < BHSLength {
		return nil
	}
	return (*BHS)(p.Data[:BHSLength])
}
