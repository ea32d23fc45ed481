package pdu

// PDU is one iSCSI Protocol Data Unit. It is implemented only by the types of
// this package, one per opcode.
//
// A PDU returned by a Framer read, and every slice inside it (CDB, Data), is
// valid only until the next read on that Framer. A PDU built by the caller is
// read, never retained, by encoders: the data it points to must stay
// unchanged until the write that carries it returns.
type PDU interface {
	// Opcode returns the PDU's opcode.
	Opcode() Opcode
	// AppendHeader appends the BHS and any AHS (no digest).
	AppendHeader(b []byte) ([]byte, error)
	// AppendBinary appends the whole PDU: BHS, AHS, data segment and its
	// padding, without digests.
	AppendBinary(b []byte) ([]byte, error)
	// Payload returns the data segment, without padding.
	Payload() []byte

	// decode fills the PDU from a BHS and its AHS bytes. The payload is set
	// separately by setPayload.
	decode(h *BHS, ahs []byte) error
	setPayload(data []byte)
}

// headerEncoder is implemented by PDUs without AHS: they write their BHS.
type headerEncoder interface {
	PDU
	encode(h *BHS) error
}

// appendBHS appends the 48-byte BHS of a PDU that carries no AHS.
func appendBHS(b []byte, p headerEncoder) ([]byte, error) {
	if n := len(p.Payload()); n > MaxDataSegmentLength {
		return b, &LimitError{Op: p.Opcode(), Field: "DataSegmentLength", Value: uint64(n), Limit: MaxDataSegmentLength}
	}
	// Encode in place: a BHS on the stack would escape through the
	// interface call and cost an allocation per PDU.
	start := len(b)
	b = append(b, zeroBHS[:]...)
	if err := p.encode((*BHS)(b[start:])); err != nil {
		return b[:start], err
	}
	return b, nil
}

var (
	zeroBHS BHS
	zeroPad [3]byte
)

// appendPDU appends header, data segment and padding.
func appendPDU(b []byte, p PDU) ([]byte, error) {
	b, err := p.AppendHeader(b)
	if err != nil {
		return b, err
	}
	data := p.Payload()
	b = append(b, data...)
	return append(b, zeroPad[:PaddedLength(len(data))-len(data)]...), nil
}

// New returns a zero PDU of the type for op, or nil for an opcode RFC 7143
// does not define.
func New(op Opcode) PDU {
	switch op {
	case OpNOPOut:
		return new(NOPOut)
	case OpSCSICommand:
		return new(SCSICommand)
	case OpTaskMgmtReq:
		return new(TaskMgmtRequest)
	case OpLoginReq:
		return new(LoginRequest)
	case OpTextReq:
		return new(TextRequest)
	case OpDataOut:
		return new(DataOut)
	case OpLogoutReq:
		return new(LogoutRequest)
	case OpSNACKReq:
		return new(SNACKRequest)
	case OpNOPIn:
		return new(NOPIn)
	case OpSCSIResponse:
		return new(SCSIResponse)
	case OpTaskMgmtResp:
		return new(TaskMgmtResponse)
	case OpLoginResp:
		return new(LoginResponse)
	case OpTextResp:
		return new(TextResponse)
	case OpDataIn:
		return new(DataIn)
	case OpLogoutResp:
		return new(LogoutResponse)
	case OpR2T:
		return new(R2T)
	case OpAsyncMessage:
		return new(AsyncMessage)
	case OpReject:
		return new(Reject)
	}
	return nil
}

// Decode decodes one PDU without digests from the start of b and returns it
// with the number of bytes it used (header, AHS, data and padding). The PDU's
// slices point into b. Decode never panics; on malformed input it returns a
// *TruncatedError, *FieldError or *LimitError.
func Decode(b []byte) (PDU, int, error) {
	if len(b) < BHSLength {
		return nil, 0, &TruncatedError{What: "BHS", Have: len(b), Need: BHSLength}
	}
	h := (*BHS)(b[:BHSLength])
	p := New(h.Opcode())
	if p == nil {
		return nil, 0, unknownOpcode(h.Opcode())
	}
	ahsEnd := BHSLength + h.TotalAHSLength()
	if len(b) < ahsEnd {
		return nil, 0, &TruncatedError{What: "AHS", Have: len(b) - BHSLength, Need: h.TotalAHSLength()}
	}
	if err := p.decode(h, b[BHSLength:ahsEnd]); err != nil {
		return nil, 0, err
	}
	n := h.DataSegmentLength()
	end := ahsEnd + PaddedLength(n)
	if len(b) < end {
		return nil, 0, &TruncatedError{What: "data segment", Have: len(b) - ahsEnd, Need: PaddedLength(n)}
	}
	if n > 0 {
		p.setPayload(b[ahsEnd : ahsEnd+n : ahsEnd+n])
	}
	return p, end, nil
}

func unknownOpcode(op Opcode) error {
	return &FieldError{Op: op, Field: "Opcode", Value: uint64(op), Reason: "not defined by RFC 7143"}
}

// noAHS rejects an AHS on a PDU type that defines none.
func noAHS(op Opcode, ahs []byte) error {
	if len(ahs) != 0 {
		return &FieldError{Op: op, Field: "TotalAHSLength", Value: uint64(len(ahs) / 4), Reason: "this PDU carries no AHS"}
	}
	return nil
}

// noData rejects a data segment on a PDU type that carries none.
func noData(op Opcode, h *BHS) error {
	if n := h.DataSegmentLength(); n != 0 {
		return &FieldError{Op: op, Field: "DataSegmentLength", Value: uint64(n), Reason: "this PDU carries no data segment"}
	}
	return nil
}

// plain checks a PDU without AHS and, if dataless, without data segment.
func plain(op Opcode, h *BHS, ahs []byte, dataless bool) error {
	if err := noAHS(op, ahs); err != nil {
		return err
	}
	if dataless {
		return noData(op, h)
	}
	return nil
}
