package pdu

import "fmt"

// ISID is the 6-byte initiator part of the session identifier
// (RFC 7143 §11.12.5): T (2 bits) and A (6 bits), B (16), C (8), D (16).
type ISID [6]byte

// ISID types, the T field (RFC 7143 §11.12.5).
const (
	ISIDTypeOUI    = 0x00
	ISIDTypeEN     = 0x40
	ISIDTypeRandom = 0x80
)

// String returns the six bytes in hex.
func (i ISID) String() string { return fmt.Sprintf("%x", i[:]) }

// LoginRequest is a Login Request (opcode 0x03, RFC 7143 §11.12). It is
// always sent immediate.
type LoginRequest struct {
	Transit    bool   // T (0x80): ready to move to NSG
	Continue   bool   // C (0x40): text continues in the next PDU
	CSG        Stage  // bits 2-3, current stage
	NSG        Stage  // bits 0-1, next stage, valid with Transit
	VersionMax uint8  // byte 2
	VersionMin uint8  // byte 3
	ISID       ISID   // bytes 8-13
	TSIH       uint16 // bytes 14-15; 0 for a new session
	ITT        uint32 // bytes 16-19
	CID        uint16 // bytes 20-21
	CmdSN      uint32 // bytes 24-27
	ExpStatSN  uint32 // bytes 28-31
	Data       []byte // text key=value pairs
}

// Opcode returns OpLoginReq.
func (p *LoginRequest) Opcode() Opcode { return OpLoginReq }

// Payload returns Data, the data segment.
func (p *LoginRequest) Payload() []byte     { return p.Data }
func (p *LoginRequest) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *LoginRequest) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *LoginRequest) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *LoginRequest) encode(h *BHS) error {
	flags, err := loginFlags(OpLoginReq, p.Transit, p.Continue, p.CSG, p.NSG)
	if err != nil {
		return err
	}
	h.putCommon(OpLoginReq, true, flags, 0, len(p.Data))
	h[2], h[3] = p.VersionMax, p.VersionMin
	copy(h[8:14], p.ISID[:])
	h.put16(14, p.TSIH)
	h.put32(16, p.ITT)
	h.put16(20, p.CID)
	h.put32(24, p.CmdSN)
	h.put32(28, p.ExpStatSN)
	return nil
}

func (p *LoginRequest) decode(h *BHS, ahs []byte) error {
	if err := plain(OpLoginReq, h, ahs, false); err != nil {
		return err
	}
	*p = LoginRequest{Transit: h.flag(0x80), Continue: h.flag(0x40), CSG: Stage(h[1] >> 2 & 3),
		NSG: Stage(h[1] & 3), VersionMax: h[2], VersionMin: h[3], ISID: ISID(h[8:14]),
		TSIH: h.u16(14), ITT: h.u32(16), CID: h.u16(20), CmdSN: h.u32(24), ExpStatSN: h.u32(28)}
	_, err := loginFlags(OpLoginReq, p.Transit, p.Continue, p.CSG, p.NSG)
	return err
}

// LoginResponse is a Login Response (opcode 0x23, RFC 7143 §11.13).
type LoginResponse struct {
	Transit       bool        // T (0x80)
	Continue      bool        // C (0x40)
	CSG           Stage       // bits 2-3
	NSG           Stage       // bits 0-1, valid with Transit
	VersionMax    uint8       // byte 2
	VersionActive uint8       // byte 3
	ISID          ISID        // bytes 8-13
	TSIH          uint16      // bytes 14-15
	ITT           uint32      // bytes 16-19
	StatSN        uint32      // bytes 24-27
	ExpCmdSN      uint32      // bytes 28-31
	MaxCmdSN      uint32      // bytes 32-35
	Status        LoginStatus // bytes 36-37, Status-Class and Status-Detail
	Data          []byte      // text key=value pairs
}

// Opcode returns OpLoginResp.
func (p *LoginResponse) Opcode() Opcode { return OpLoginResp }

// Payload returns Data, the data segment.
func (p *LoginResponse) Payload() []byte     { return p.Data }
func (p *LoginResponse) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *LoginResponse) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *LoginResponse) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *LoginResponse) encode(h *BHS) error {
	flags, err := loginFlags(OpLoginResp, p.Transit, p.Continue, p.CSG, p.NSG)
	if err != nil && p.Status == LoginSuccess {
		return err
	}
	if err != nil { // a failure answer keeps whatever stage bits it had
		flags = flagIf(p.Transit, 0x80) | flagIf(p.Continue, 0x40) | byte(p.CSG&3)<<2 | byte(p.NSG&3)
	}
	h.putCommon(OpLoginResp, false, flags, 0, len(p.Data))
	h[2], h[3] = p.VersionMax, p.VersionActive
	copy(h[8:14], p.ISID[:])
	h.put16(14, p.TSIH)
	h.put32(16, p.ITT)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	h.put16(36, uint16(p.Status))
	return nil
}

func (p *LoginResponse) decode(h *BHS, ahs []byte) error {
	if err := plain(OpLoginResp, h, ahs, false); err != nil {
		return err
	}
	*p = LoginResponse{Transit: h.flag(0x80), Continue: h.flag(0x40), CSG: Stage(h[1] >> 2 & 3),
		NSG: Stage(h[1] & 3), VersionMax: h[2], VersionActive: h[3], ISID: ISID(h[8:14]),
		TSIH: h.u16(14), ITT: h.u32(16), StatSN: h.u32(24), ExpCmdSN: h.u32(28),
		MaxCmdSN: h.u32(32), Status: LoginStatus(h.u16(36))}
	if p.Status != LoginSuccess {
		// A failed login answers with whatever stage bits the target
		// likes; only the status matters (§11.13.5).
		return nil
	}
	_, err := loginFlags(OpLoginResp, p.Transit, p.Continue, p.CSG, p.NSG)
	return err
}

// loginFlags builds byte 1 of a Login PDU and checks the stage rules of
// RFC 7143 §11.12.2-§11.12.3.
func loginFlags(op Opcode, transit, cont bool, csg, nsg Stage) (byte, error) {
	bad := func(field string, v uint64, why string) (byte, error) {
		return 0, &FieldError{Op: op, Field: field, Value: v, Reason: why}
	}
	switch {
	case transit && cont:
		return bad("flags", 0xc0, "T and C both set")
	case csg > StageFullFeature || csg == 2 || csg == StageFullFeature:
		return bad("CSG", uint64(csg), "must be 0 (security) or 1 (operational)")
	case transit && (nsg > StageFullFeature || nsg == 2 || nsg <= csg):
		return bad("NSG", uint64(nsg), fmt.Sprintf("invalid transition from CSG %d", csg))
	case !transit && nsg > StageFullFeature:
		return bad("NSG", uint64(nsg), "must fit 2 bits")
	}
	return flagIf(transit, 0x80) | flagIf(cont, 0x40) | byte(csg)<<2 | byte(nsg), nil
}

// TextRequest is a Text Request (opcode 0x04, RFC 7143 §11.10).
type TextRequest struct {
	Immediate bool
	Final     bool   // F (0x80)
	Continue  bool   // C (0x40)
	LUN       LUN    // bytes 8-15
	ITT       uint32 // bytes 16-19
	TTT       uint32 // bytes 20-23, ReservedTag or echoed from the response
	CmdSN     uint32 // bytes 24-27
	ExpStatSN uint32 // bytes 28-31
	Data      []byte // text key=value pairs
}

// Opcode returns OpTextReq.
func (p *TextRequest) Opcode() Opcode { return OpTextReq }

// Payload returns Data, the data segment.
func (p *TextRequest) Payload() []byte     { return p.Data }
func (p *TextRequest) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *TextRequest) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *TextRequest) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *TextRequest) encode(h *BHS) error {
	if p.Final && p.Continue {
		return &FieldError{Op: OpTextReq, Field: "flags", Value: 0xc0, Reason: "F and C both set"}
	}
	h.putCommon(OpTextReq, p.Immediate, flagIf(p.Final, 0x80)|flagIf(p.Continue, 0x40), 0, len(p.Data))
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.TTT)
	h.put32(24, p.CmdSN)
	h.put32(28, p.ExpStatSN)
	return nil
}

func (p *TextRequest) decode(h *BHS, ahs []byte) error {
	if err := plain(OpTextReq, h, ahs, false); err != nil {
		return err
	}
	*p = TextRequest{Immediate: h.Immediate(), Final: h.flag(0x80), Continue: h.flag(0x40),
		LUN: h.lun(), ITT: h.u32(16), TTT: h.u32(20), CmdSN: h.u32(24), ExpStatSN: h.u32(28)}
	if p.Final && p.Continue {
		return &FieldError{Op: OpTextReq, Field: "flags", Value: uint64(h[1]), Reason: "F and C both set"}
	}
	return nil
}

// TextResponse is a Text Response (opcode 0x24, RFC 7143 §11.11).
type TextResponse struct {
	Final    bool   // F (0x80)
	Continue bool   // C (0x40)
	LUN      LUN    // bytes 8-15
	ITT      uint32 // bytes 16-19
	TTT      uint32 // bytes 20-23, not ReservedTag when more is to come
	StatSN   uint32 // bytes 24-27
	ExpCmdSN uint32 // bytes 28-31
	MaxCmdSN uint32 // bytes 32-35
	Data     []byte // text key=value pairs
}

// Opcode returns OpTextResp.
func (p *TextResponse) Opcode() Opcode { return OpTextResp }

// Payload returns Data, the data segment.
func (p *TextResponse) Payload() []byte     { return p.Data }
func (p *TextResponse) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *TextResponse) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *TextResponse) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *TextResponse) encode(h *BHS) error {
	if p.Final && p.Continue {
		return &FieldError{Op: OpTextResp, Field: "flags", Value: 0xc0, Reason: "F and C both set"}
	}
	h.putCommon(OpTextResp, false, flagIf(p.Final, 0x80)|flagIf(p.Continue, 0x40), 0, len(p.Data))
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.TTT)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	return nil
}

func (p *TextResponse) decode(h *BHS, ahs []byte) error {
	if err := plain(OpTextResp, h, ahs, false); err != nil {
		return err
	}
	*p = TextResponse{Final: h.flag(0x80), Continue: h.flag(0x40), LUN: h.lun(), ITT: h.u32(16),
		TTT: h.u32(20), StatSN: h.u32(24), ExpCmdSN: h.u32(28), MaxCmdSN: h.u32(32)}
	if p.Final && p.Continue {
		return &FieldError{Op: OpTextResp, Field: "flags", Value: uint64(h[1]), Reason: "F and C both set"}
	}
	return nil
}
