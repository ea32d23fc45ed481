package pdu

import "fmt"

// Opcode is the 6-bit operation code in byte 0 of the BHS (RFC 7143 §11.2.1.2).
type Opcode uint8

// Initiator opcodes (RFC 7143 §11.2.1.2).
const (
	OpNOPOut      Opcode = 0x00
	OpSCSICommand Opcode = 0x01
	OpTaskMgmtReq Opcode = 0x02
	OpLoginReq    Opcode = 0x03
	OpTextReq     Opcode = 0x04
	OpDataOut     Opcode = 0x05
	OpLogoutReq   Opcode = 0x06
	OpSNACKReq    Opcode = 0x10
)

// Target opcodes (RFC 7143 §11.2.1.2).
const (
	OpNOPIn        Opcode = 0x20
	OpSCSIResponse Opcode = 0x21
	OpTaskMgmtResp Opcode = 0x22
	OpLoginResp    Opcode = 0x23
	OpTextResp     Opcode = 0x24
	OpDataIn       Opcode = 0x25
	OpLogoutResp   Opcode = 0x26
	OpR2T          Opcode = 0x31
	OpAsyncMessage Opcode = 0x32
	OpReject       Opcode = 0x3f
)

var opcodeNames = map[Opcode]string{
	OpNOPOut:       "NOP-Out",
	OpSCSICommand:  "SCSI Command",
	OpTaskMgmtReq:  "Task Management Function Request",
	OpLoginReq:     "Login Request",
	OpTextReq:      "Text Request",
	OpDataOut:      "SCSI Data-Out",
	OpLogoutReq:    "Logout Request",
	OpSNACKReq:     "SNACK Request",
	OpNOPIn:        "NOP-In",
	OpSCSIResponse: "SCSI Response",
	OpTaskMgmtResp: "Task Management Function Response",
	OpLoginResp:    "Login Response",
	OpTextResp:     "Text Response",
	OpDataIn:       "SCSI Data-In",
	OpLogoutResp:   "Logout Response",
	OpR2T:          "Ready To Transfer",
	OpAsyncMessage: "Asynchronous Message",
	OpReject:       "Reject",
}

// String returns the PDU name RFC 7143 uses (e.g. "SCSI Data-In"), or
// "Opcode(0xNN)" for an unknown value.
func (o Opcode) String() string {
	if s, ok := opcodeNames[o]; ok {
		return s
	}
	return fmt.Sprintf("Opcode(0x%02x)", uint8(o))
}

// Known reports whether o is an opcode defined by RFC 7143. Vendor-specific
// opcodes (0x1c-0x1e, 0x3c-0x3e) are not known.
func (o Opcode) Known() bool {
	_, ok := opcodeNames[o]
	return ok
}

// FromTarget reports whether o is sent by a target (bit 5 set).
func (o Opcode) FromTarget() bool { return o&0x20 != 0 }
