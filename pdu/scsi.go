package pdu

import "fmt"

// AHS types (RFC 7143 §11.2.2.1).
const (
	ahsExtendedCDB uint8 = 1
	ahsBidiReadLen uint8 = 2
)

// CDB length limits: 16 bytes live in the BHS, the rest in an Extended CDB
// AHS whose AHSLength is a 16-bit field but whose total must fit
// TotalAHSLength (RFC 7143 §11.2.2.3).
const (
	minCDBLength = 6
	maxCDBLength = 16 + MaxAHSLength - 4
)

// SCSICommand is a SCSI Command PDU (opcode 0x01, RFC 7143 §11.3).
type SCSICommand struct {
	Immediate bool     // byte 0 I bit
	Final     bool     // F (0x80): no unsolicited Data-Out follows
	Read      bool     // R (0x40): data expected from the target
	Write     bool     // W (0x20): data expected from the initiator
	Attr      TaskAttr // ATTR (bits 0-2)
	LUN       LUN      // bytes 8-15
	ITT       uint32   // bytes 16-19, Initiator Task Tag
	// ExpectedDataTransferLength (bytes 20-23, §11.3.6): for a
	// bidirectional command, the write length.
	ExpectedDataTransferLength uint32
	CmdSN                      uint32 // bytes 24-27
	ExpStatSN                  uint32 // bytes 28-31
	// CDB is 6 to 1032 bytes (1024 with Bidi): the first 16 go into bytes
	// 32-47 (zero padded), the rest into an Extended CDB AHS (§11.2.2.3).
	CDB []byte
	// BidiReadLength is the Bidirectional Expected Read-Data Length AHS
	// (§11.2.2.4), present when Bidi is set.
	Bidi           bool
	BidiReadLength uint32
	Data           []byte // immediate data

	cdbBuf []byte // decode scratch for a CDB longer than 16 bytes
}

// Opcode returns OpSCSICommand.
func (p *SCSICommand) Opcode() Opcode { return OpSCSICommand }

// Payload returns Data, the data segment.
func (p *SCSICommand) Payload() []byte     { return p.Data }
func (p *SCSICommand) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *SCSICommand) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

func (p *SCSICommand) ahsLength() int {
	n := 0
	if len(p.CDB) > 16 {
		n += PaddedLength(3 + len(p.CDB) - 16 + 1)
	}
	if p.Bidi {
		n += 8
	}
	return n
}

// AppendHeader appends the BHS and the Extended CDB / Bidirectional AHS.
func (p *SCSICommand) AppendHeader(b []byte) ([]byte, error) {
	if len(p.CDB) < minCDBLength || len(p.CDB) > maxCDBLength {
		return b, &FieldError{Op: OpSCSICommand, Field: "CDB length", Value: uint64(len(p.CDB)), Reason: fmt.Sprintf("must be %d to %d bytes", minCDBLength, maxCDBLength)}
	}
	ahsLen := p.ahsLength()
	if ahsLen > MaxAHSLength {
		return b, &LimitError{Op: OpSCSICommand, Field: "TotalAHSLength", Value: uint64(ahsLen), Limit: MaxAHSLength}
	}
	if n := len(p.Data); n > MaxDataSegmentLength {
		return b, &LimitError{Op: OpSCSICommand, Field: "DataSegmentLength", Value: uint64(n), Limit: MaxDataSegmentLength}
	}
	var h BHS
	flags := flagIf(p.Final, 0x80) | flagIf(p.Read, 0x40) | flagIf(p.Write, 0x20) | byte(p.Attr&7)
	h.putCommon(OpSCSICommand, p.Immediate, flags, ahsLen, len(p.Data))
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.ExpectedDataTransferLength)
	h.put32(24, p.CmdSN)
	h.put32(28, p.ExpStatSN)
	copy(h[32:48], p.CDB)
	b = append(b, h[:]...)
	if len(p.CDB) > 16 {
		ext := p.CDB[16:]
		// AHSLength counts the reserved byte plus the CDB spillover.
		b = append(b, byte((len(ext)+1)>>8), byte(len(ext)+1), ahsExtendedCDB, 0)
		b = append(b, ext...)
		b = append(b, zeroPad[:PaddedLength(4+len(ext))-(4+len(ext))]...)
	}
	if p.Bidi {
		b = append(b, 0, 5, ahsBidiReadLen, 0)
		b = be.AppendUint32(b, p.BidiReadLength)
	}
	return b, nil
}

func (p *SCSICommand) decode(h *BHS, ahs []byte) error {
	buf := p.cdbBuf
	*p = SCSICommand{cdbBuf: buf,
		Immediate: h.Immediate(), Final: h.flag(0x80), Read: h.flag(0x40), Write: h.flag(0x20),
		Attr: TaskAttr(h[1] & 7), LUN: h.lun(), ITT: h.u32(16),
		ExpectedDataTransferLength: h.u32(20), CmdSN: h.u32(24), ExpStatSN: h.u32(28),
		CDB: h[32:48:48],
	}
	for len(ahs) > 0 {
		if len(ahs) < 4 {
			return &TruncatedError{What: "AHS", Have: len(ahs), Need: 4}
		}
		length := int(be.Uint16(ahs))
		typ := ahs[2]
		total := PaddedLength(3 + length)
		if total > len(ahs) {
			return &FieldError{Op: OpSCSICommand, Field: "AHSLength", Value: uint64(length), Reason: fmt.Sprintf("exceeds the %d AHS bytes left", len(ahs))}
		}
		switch {
		case typ == ahsExtendedCDB && length >= 2 && len(p.CDB) == 16:
			// One reserved byte, then the CDB spillover: join both parts
			// in the PDU's own scratch so that CDB stays one slice.
			p.cdbBuf = append(append(p.cdbBuf[:0], p.CDB...), ahs[4:3+length]...)
			p.CDB = p.cdbBuf
		case typ == ahsBidiReadLen && length == 5 && !p.Bidi:
			p.Bidi, p.BidiReadLength = true, be.Uint32(ahs[4:])
		default:
			return &FieldError{Op: OpSCSICommand, Field: "AHSType", Value: uint64(typ), Reason: fmt.Sprintf("unexpected AHS (AHSLength %d)", length)}
		}
		ahs = ahs[total:]
	}
	return nil
}

// SCSIResponse is a SCSI Response PDU (opcode 0x21, RFC 7143 §11.4).
type SCSIResponse struct {
	BidiOverflow  bool            // o (0x10)
	BidiUnderflow bool            // u (0x08)
	Overflow      bool            // O (0x04)
	Underflow     bool            // U (0x02)
	Response      ServiceResponse // byte 2
	Status        SCSIStatus      // byte 3, valid when Response is Completed
	ITT           uint32          // bytes 16-19
	SNACKTag      uint32          // bytes 20-23
	StatSN        uint32          // bytes 24-27
	ExpCmdSN      uint32          // bytes 28-31
	MaxCmdSN      uint32          // bytes 32-35
	ExpDataSN     uint32          // bytes 36-39
	// BidiReadResidualCount (bytes 40-43) and ResidualCount (bytes 44-47),
	// meaningful when the matching flag is set (§11.4.5).
	BidiReadResidualCount uint32
	ResidualCount         uint32
	// Data is the raw data segment: SenseLength, sense data, response data
	// (§11.4.7). Use Sense to split it; AppendSenseSegment to build it.
	Data []byte
}

// Opcode returns OpSCSIResponse.
func (p *SCSIResponse) Opcode() Opcode { return OpSCSIResponse }

// Payload returns Data, the data segment.
func (p *SCSIResponse) Payload() []byte     { return p.Data }
func (p *SCSIResponse) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *SCSIResponse) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *SCSIResponse) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *SCSIResponse) encode(h *BHS) error {
	flags := 0x80 | flagIf(p.BidiOverflow, 0x10) | flagIf(p.BidiUnderflow, 0x08) |
		flagIf(p.Overflow, 0x04) | flagIf(p.Underflow, 0x02)
	h.putCommon(OpSCSIResponse, false, flags, 0, len(p.Data))
	h[2], h[3] = byte(p.Response), byte(p.Status)
	h.put32(16, p.ITT)
	h.put32(20, p.SNACKTag)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	h.put32(36, p.ExpDataSN)
	h.put32(40, p.BidiReadResidualCount)
	h.put32(44, p.ResidualCount)
	return nil
}

func (p *SCSIResponse) decode(h *BHS, ahs []byte) error {
	if err := plain(OpSCSIResponse, h, ahs, false); err != nil {
		return err
	}
	*p = SCSIResponse{
		BidiOverflow: h.flag(0x10), BidiUnderflow: h.flag(0x08),
		Overflow: h.flag(0x04), Underflow: h.flag(0x02),
		Response: ServiceResponse(h[2]), Status: SCSIStatus(h[3]),
		ITT: h.u32(16), SNACKTag: h.u32(20), StatSN: h.u32(24), ExpCmdSN: h.u32(28),
		MaxCmdSN: h.u32(32), ExpDataSN: h.u32(36), BidiReadResidualCount: h.u32(40),
		ResidualCount: h.u32(44),
	}
	if p.Overflow && p.Underflow {
		return &FieldError{Op: OpSCSIResponse, Field: "flags", Value: uint64(h[1]), Reason: "O and U both set"}
	}
	if p.BidiOverflow && p.BidiUnderflow {
		return &FieldError{Op: OpSCSIResponse, Field: "flags", Value: uint64(h[1]), Reason: "o and u both set"}
	}
	return nil
}

// Sense splits the data segment into sense data and response data
// (RFC 7143 §11.4.7). An empty data segment has neither.
func (p *SCSIResponse) Sense() (sense, response []byte, err error) {
	return splitSense(OpSCSIResponse, p.Data)
}

func splitSense(op Opcode, data []byte) (sense, rest []byte, err error) {
	if len(data) == 0 {
		return nil, nil, nil
	}
	if len(data) < 2 {
		return nil, nil, &TruncatedError{What: "SenseLength", Have: len(data), Need: 2}
	}
	n := int(be.Uint16(data))
	if 2+n > len(data) {
		return nil, nil, &FieldError{Op: op, Field: "SenseLength", Value: uint64(n), Reason: fmt.Sprintf("exceeds the %d-byte data segment", len(data))}
	}
	return data[2 : 2+n : 2+n], data[2+n:], nil
}

// AppendSenseSegment appends a SCSI Response or Asynchronous Message data
// segment: the 2-byte SenseLength, the sense data, then rest.
func AppendSenseSegment(b, sense, rest []byte) []byte {
	b = be.AppendUint16(b, uint16(len(sense)))
	return append(append(b, sense...), rest...)
}

// DataOut is a SCSI Data-Out PDU (opcode 0x05, RFC 7143 §11.7).
type DataOut struct {
	Final        bool   // F (0x80): last PDU of the sequence
	LUN          LUN    // bytes 8-15
	ITT          uint32 // bytes 16-19
	TTT          uint32 // bytes 20-23, echoed from the R2T or ReservedTag
	ExpStatSN    uint32 // bytes 28-31
	DataSN       uint32 // bytes 36-39
	BufferOffset uint32 // bytes 40-43
	Data         []byte
}

// Opcode returns OpDataOut.
func (p *DataOut) Opcode() Opcode { return OpDataOut }

// Payload returns Data, the data segment.
func (p *DataOut) Payload() []byte     { return p.Data }
func (p *DataOut) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *DataOut) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *DataOut) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *DataOut) encode(h *BHS) error {
	h.putCommon(OpDataOut, false, flagIf(p.Final, 0x80), 0, len(p.Data))
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.TTT)
	h.put32(28, p.ExpStatSN)
	h.put32(36, p.DataSN)
	h.put32(40, p.BufferOffset)
	return nil
}

func (p *DataOut) decode(h *BHS, ahs []byte) error {
	if err := plain(OpDataOut, h, ahs, false); err != nil {
		return err
	}
	*p = DataOut{Final: h.Final(), LUN: h.lun(), ITT: h.u32(16), TTT: h.u32(20),
		ExpStatSN: h.u32(28), DataSN: h.u32(36), BufferOffset: h.u32(40)}
	return nil
}

// DataIn is a SCSI Data-In PDU (opcode 0x25, RFC 7143 §11.7).
type DataIn struct {
	Final         bool       // F (0x80)
	Acknowledge   bool       // A (0x40): target asks for a DataACK SNACK
	Overflow      bool       // O (0x04), valid with StatusValid
	Underflow     bool       // U (0x02), valid with StatusValid
	StatusValid   bool       // S (0x01): phase collapse, status included
	Status        SCSIStatus // byte 3, valid with StatusValid
	LUN           LUN        // bytes 8-15, valid with Acknowledge
	ITT           uint32     // bytes 16-19
	TTT           uint32     // bytes 20-23, valid with Acknowledge
	StatSN        uint32     // bytes 24-27, valid with StatusValid
	ExpCmdSN      uint32     // bytes 28-31
	MaxCmdSN      uint32     // bytes 32-35
	DataSN        uint32     // bytes 36-39
	BufferOffset  uint32     // bytes 40-43
	ResidualCount uint32     // bytes 44-47, valid with StatusValid
	Data          []byte
}

// Opcode returns OpDataIn.
func (p *DataIn) Opcode() Opcode { return OpDataIn }

// Payload returns Data, the data segment.
func (p *DataIn) Payload() []byte     { return p.Data }
func (p *DataIn) setPayload(d []byte) { p.Data = d }

// AppendBinary appends the whole PDU (no digests).
func (p *DataIn) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *DataIn) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *DataIn) encode(h *BHS) error {
	flags := flagIf(p.Final, 0x80) | flagIf(p.Acknowledge, 0x40) | flagIf(p.Overflow, 0x04) |
		flagIf(p.Underflow, 0x02) | flagIf(p.StatusValid, 0x01)
	h.putCommon(OpDataIn, false, flags, 0, len(p.Data))
	h[3] = byte(p.Status)
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.TTT)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	h.put32(36, p.DataSN)
	h.put32(40, p.BufferOffset)
	h.put32(44, p.ResidualCount)
	return nil
}

func (p *DataIn) decode(h *BHS, ahs []byte) error {
	if err := plain(OpDataIn, h, ahs, false); err != nil {
		return err
	}
	*p = DataIn{Final: h.Final(), Acknowledge: h.flag(0x40), Overflow: h.flag(0x04),
		Underflow: h.flag(0x02), StatusValid: h.flag(0x01), Status: SCSIStatus(h[3]),
		LUN: h.lun(), ITT: h.u32(16), TTT: h.u32(20), StatSN: h.u32(24), ExpCmdSN: h.u32(28),
		MaxCmdSN: h.u32(32), DataSN: h.u32(36), BufferOffset: h.u32(40), ResidualCount: h.u32(44)}
	switch {
	case p.StatusValid && !p.Final:
		return &FieldError{Op: OpDataIn, Field: "flags", Value: uint64(h[1]), Reason: "S set without F"}
	case p.Overflow && p.Underflow:
		return &FieldError{Op: OpDataIn, Field: "flags", Value: uint64(h[1]), Reason: "O and U both set"}
	case (p.Overflow || p.Underflow) && !p.StatusValid:
		return &FieldError{Op: OpDataIn, Field: "flags", Value: uint64(h[1]), Reason: "O or U set without S"}
	}
	return nil
}

// R2T is a Ready To Transfer PDU (opcode 0x31, RFC 7143 §11.8).
type R2T struct {
	LUN                       LUN    // bytes 8-15
	ITT                       uint32 // bytes 16-19
	TTT                       uint32 // bytes 20-23, echoed in the Data-Out
	StatSN                    uint32 // bytes 24-27
	ExpCmdSN                  uint32 // bytes 28-31
	MaxCmdSN                  uint32 // bytes 32-35
	R2TSN                     uint32 // bytes 36-39
	BufferOffset              uint32 // bytes 40-43
	DesiredDataTransferLength uint32 // bytes 44-47
}

// Opcode returns OpR2T.
func (p *R2T) Opcode() Opcode { return OpR2T }

// Payload returns nil: a R2T has no data segment.
func (p *R2T) Payload() []byte   { return nil }
func (p *R2T) setPayload([]byte) {}

// AppendBinary appends the whole PDU (no digests).
func (p *R2T) AppendBinary(b []byte) ([]byte, error) { return appendPDU(b, p) }

// AppendHeader appends the BHS.
func (p *R2T) AppendHeader(b []byte) ([]byte, error) { return appendBHS(b, p) }

func (p *R2T) encode(h *BHS) error {
	h.putCommon(OpR2T, false, 0x80, 0, 0)
	h.putLUN(p.LUN)
	h.put32(16, p.ITT)
	h.put32(20, p.TTT)
	h.put32(24, p.StatSN)
	h.put32(28, p.ExpCmdSN)
	h.put32(32, p.MaxCmdSN)
	h.put32(36, p.R2TSN)
	h.put32(40, p.BufferOffset)
	h.put32(44, p.DesiredDataTransferLength)
	return nil
}

func (p *R2T) decode(h *BHS, ahs []byte) error {
	if err := plain(OpR2T, h, ahs, true); err != nil {
		return err
	}
	*p = R2T{LUN: h.lun(), ITT: h.u32(16), TTT: h.u32(20), StatSN: h.u32(24),
		ExpCmdSN: h.u32(28), MaxCmdSN: h.u32(32), R2TSN: h.u32(36), BufferOffset: h.u32(40),
		DesiredDataTransferLength: h.u32(44)}
	if p.DesiredDataTransferLength == 0 {
		return &FieldError{Op: OpR2T, Field: "DesiredDataTransferLength", Value: 0, Reason: "must be greater than 0"}
	}
	return nil
}
