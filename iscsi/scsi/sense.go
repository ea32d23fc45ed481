package scsi

import (
	"fmt"
	"math"
)

// SenseKey is the SENSE KEY of sense data (SPC-4 §4.5.6, Table 27).
type SenseKey uint8

// Sense keys.
const (
	KeyNoSense        SenseKey = 0x0
	KeyRecoveredError SenseKey = 0x1
	KeyNotReady       SenseKey = 0x2
	KeyMediumError    SenseKey = 0x3
	KeyHardwareError  SenseKey = 0x4
	KeyIllegalRequest SenseKey = 0x5
	KeyUnitAttention  SenseKey = 0x6
	KeyDataProtect    SenseKey = 0x7
	KeyBlankCheck     SenseKey = 0x8
	KeyVendorSpecific SenseKey = 0x9
	KeyCopyAborted    SenseKey = 0xA
	KeyAbortedCommand SenseKey = 0xB
	KeyVolumeOverflow SenseKey = 0xD
	KeyMiscompare     SenseKey = 0xE
	KeyCompleted      SenseKey = 0xF
)

var senseKeyNames = map[SenseKey]string{
	KeyNoSense: "NO SENSE", KeyRecoveredError: "RECOVERED ERROR", KeyNotReady: "NOT READY",
	KeyMediumError: "MEDIUM ERROR", KeyHardwareError: "HARDWARE ERROR",
	KeyIllegalRequest: "ILLEGAL REQUEST", KeyUnitAttention: "UNIT ATTENTION",
	KeyDataProtect: "DATA PROTECT", KeyBlankCheck: "BLANK CHECK",
	KeyVendorSpecific: "VENDOR SPECIFIC", KeyCopyAborted: "COPY ABORTED",
	KeyAbortedCommand: "ABORTED COMMAND", KeyVolumeOverflow: "VOLUME OVERFLOW",
	KeyMiscompare: "MISCOMPARE", KeyCompleted: "COMPLETED",
}

// String returns the name of the value, or "SenseKey(0xNN)" for an unknown
// value.
func (k SenseKey) String() string { return enumString(senseKeyNames, k, "SenseKey") }

// Sense is decoded sense data in either format (SPC-4 §4.5). Fields the data
// did not carry are zero.
type Sense struct {
	// Deferred: the data reports an error of an earlier command (response
	// codes 0x71, 0x73); otherwise it is about the current command.
	Deferred bool
	// Descriptor: the data was in descriptor format (0x72, 0x73).
	Descriptor bool
	Key        SenseKey
	ASC, ASCQ  uint8
	// Information is the INFORMATION field (e.g. the first failing LBA),
	// valid when InfoValid. Fixed format carries only 32 bits.
	InfoValid       bool
	Information     uint64
	CommandSpecific uint64 // COMMAND-SPECIFIC INFORMATION
	// SenseKeySpecific holds the three SENSE KEY SPECIFIC bytes (a field
	// pointer or progress indication), valid when SKSV; its top bit is SKSV.
	SKSV             bool
	SenseKeySpecific [3]byte
	FRU              uint8 // FIELD REPLACEABLE UNIT CODE
	Filemark         bool  // stream commands
	EOM              bool  // stream commands
	ILI              bool  // incorrect length indicator
}

// Code returns ASC and ASCQ as one value, to switch on the AS* constants.
func (s Sense) Code() AdditionalSense { return AdditionalSense(s.ASC)<<8 | AdditionalSense(s.ASCQ) }

// Progress returns the progress indication of a NOT READY or NO SENSE
// report (e.g. 04/04 format in progress) as a fraction of 65536.
func (s Sense) Progress() (uint16, bool) {
	if !s.SKSV || (s.Key != KeyNotReady && s.Key != KeyNoSense) {
		return 0, false
	}
	return be.Uint16(s.SenseKeySpecific[1:]), true
}

// String formats s like "ILLEGAL REQUEST: INVALID FIELD IN CDB (24/00)",
// prefixed with "deferred " for deferred errors and followed by the
// information field when valid.
func (s Sense) String() string {
	str := fmt.Sprintf("%v: %s (%02X/%02X)", s.Key, ASCString(s.ASC, s.ASCQ), s.ASC, s.ASCQ)
	if s.Deferred {
		str = "deferred " + str
	}
	if s.InfoValid {
		str += fmt.Sprintf(", information 0x%x", s.Information)
	}
	return str
}

// Response codes (SPC-4 §4.5.1, Table 24).
const (
	respFixedCurrent       = 0x70
	respFixedDeferred      = 0x71
	respDescriptorCurrent  = 0x72
	respDescriptorDeferred = 0x73
	senseHeaderLen         = 8 // both formats, through ADDITIONAL SENSE LENGTH
)

// ParseSense decodes sense data in fixed (0x70, 0x71) or descriptor (0x72,
// 0x73) format. It needs the 8-byte header; after that it reads what both
// the buffer and the ADDITIONAL SENSE LENGTH hold, so sense data cut short
// by the transport still yields its key, and missing fields read as zero.
// Other response codes are a *FieldError. It does not allocate.
func ParseSense(b []byte) (Sense, error) {
	if err := truncated("sense data", b, senseHeaderLen); err != nil {
		return Sense{}, err
	}
	end := min(len(b), senseHeaderLen+int(b[7])) // ADDITIONAL SENSE LENGTH
	switch code := b[0] & 0x7F; code {           // RESPONSE CODE
	case respFixedCurrent, respFixedDeferred:
		return parseFixedSense(b[:end], code == respFixedDeferred), nil
	case respDescriptorCurrent, respDescriptorDeferred:
		return parseDescriptorSense(b[:end], code == respDescriptorDeferred), nil
	default:
		return Sense{}, &FieldError{What: "sense data", Field: "RESPONSE CODE", Value: uint64(code),
			Reason: "not fixed or descriptor format"}
	}
}

// parseFixedSense decodes fixed format (SPC-4 §4.5.3); b is cut to the
// additional sense length.
func parseFixedSense(b []byte, deferred bool) Sense {
	s := Sense{
		Deferred:        deferred,
		InfoValid:       b[0]&0x80 != 0, // VALID
		Filemark:        b[2]&0x80 != 0,
		EOM:             b[2]&0x40 != 0,
		ILI:             b[2]&0x20 != 0,
		Key:             SenseKey(b[2] & 0x0F),
		Information:     uint64(be.Uint32(b[3:])),
		CommandSpecific: uint64(u32At(b, 8)),
		ASC:             byteAt(b, 12),
		ASCQ:            byteAt(b, 13),
		FRU:             byteAt(b, 14),
	}
	if len(b) >= 18 {
		copy(s.SenseKeySpecific[:], b[15:18])
		s.SKSV = b[15]&0x80 != 0
	}
	return s
}

// parseDescriptorSense decodes descriptor format (SPC-4 §4.5.2); b is cut
// to the additional sense length. A descriptor cut short is skipped.
func parseDescriptorSense(b []byte, deferred bool) Sense {
	s := Sense{Deferred: deferred, Descriptor: true,
		Key: SenseKey(b[1] & 0x0F), ASC: b[2], ASCQ: b[3]}
	for d := b[senseHeaderLen:]; len(d) >= 2; {
		n := 2 + int(d[1]) // ADDITIONAL LENGTH
		if n > len(d) {
			break
		}
		s.applyDescriptor(d[0], d[:n])
		d = d[n:]
	}
	return s
}

// Sense data descriptor types (SPC-4 §4.5.2.1, Table 26; SBC-3 §4.18).
const (
	descInformation     = 0x00
	descCommandSpecific = 0x01
	descSenseKeySpec    = 0x02
	descFRU             = 0x03
	descStreamCommands  = 0x04
	descBlockCommands   = 0x05
)

// applyDescriptor records one sense data descriptor d of type t; unknown
// types and descriptors too short for their type are ignored.
func (s *Sense) applyDescriptor(t byte, d []byte) {
	switch {
	case t == descInformation && len(d) >= 12:
		s.InfoValid, s.Information = d[2]&0x80 != 0, be.Uint64(d[4:])
	case t == descCommandSpecific && len(d) >= 12:
		s.CommandSpecific = be.Uint64(d[4:])
	case t == descSenseKeySpec && len(d) >= 7:
		copy(s.SenseKeySpecific[:], d[4:7])
		s.SKSV = d[4]&0x80 != 0
	case t == descFRU && len(d) >= 4:
		s.FRU = d[3]
	case t == descStreamCommands && len(d) >= 4:
		s.Filemark, s.EOM, s.ILI = d[3]&0x80 != 0, d[3]&0x40 != 0, d[3]&0x20 != 0
	case t == descBlockCommands && len(d) >= 4:
		s.ILI = d[3]&0x20 != 0
	}
}

// AppendBinary appends s as sense data in its own format: 18 bytes of fixed
// format, or descriptor format with the descriptors its fields need
// (information, command-specific, sense key specific, FRU, stream or block
// commands). It serves tests and fake targets. In fixed format an
// Information or CommandSpecific value over 32 bits is a *LimitError.
func (s Sense) AppendBinary(b []byte) ([]byte, error) {
	if s.Descriptor {
		return s.appendDescriptor(b), nil
	}
	if s.Information > math.MaxUint32 {
		return b, fixedLimit("INFORMATION", s.Information)
	}
	if s.CommandSpecific > math.MaxUint32 {
		return b, fixedLimit("COMMAND-SPECIFIC INFORMATION", s.CommandSpecific)
	}
	return s.appendFixed(b), nil
}

func fixedLimit(field string, v uint64) error {
	return &LimitError{What: "fixed format sense data", Field: field, Value: v, Limit: math.MaxUint32}
}

func (s Sense) appendFixed(b []byte) []byte {
	code := byte(respFixedCurrent)
	if s.Deferred {
		code = respFixedDeferred
	}
	b = append(b, flagIf(s.InfoValid, 0x80)|code, 0, s.streamBits()|byte(s.Key)&0x0F)
	b = be.AppendUint32(b, uint32(s.Information)) // INFORMATION
	b = append(b, 10)                             // ADDITIONAL SENSE LENGTH
	b = be.AppendUint32(b, uint32(s.CommandSpecific))
	b = append(b, s.ASC, s.ASCQ, s.FRU)
	return append(b, s.sksBytes()...)
}

func (s Sense) appendDescriptor(b []byte) []byte {
	start := len(b)
	code := byte(respDescriptorCurrent)
	if s.Deferred {
		code = respDescriptorDeferred
	}
	b = append(b, code, byte(s.Key)&0x0F, s.ASC, s.ASCQ, 0, 0, 0, 0)
	if s.InfoValid || s.Information != 0 {
		b = append(b, descInformation, 0x0A, flagIf(s.InfoValid, 0x80), 0)
		b = be.AppendUint64(b, s.Information)
	}
	if s.CommandSpecific != 0 {
		b = append(b, descCommandSpecific, 0x0A, 0, 0)
		b = be.AppendUint64(b, s.CommandSpecific)
	}
	if s.SKSV || s.SenseKeySpecific != [3]byte{} {
		b = append(append(b, descSenseKeySpec, 0x06, 0, 0), s.sksBytes()...)
		b = append(b, 0)
	}
	if s.FRU != 0 {
		b = append(b, descFRU, 0x02, 0, s.FRU)
	}
	if s.Filemark || s.EOM {
		b = append(b, descStreamCommands, 0x02, 0, s.streamBits())
	} else if s.ILI {
		b = append(b, descBlockCommands, 0x02, 0, 0x20)
	}
	b[start+7] = byte(len(b) - start - senseHeaderLen) // ADDITIONAL SENSE LENGTH
	return b
}

// streamBits returns the FILEMARK, EOM and ILI bits.
func (s Sense) streamBits() byte {
	return flagIf(s.Filemark, 0x80) | flagIf(s.EOM, 0x40) | flagIf(s.ILI, 0x20)
}

// sksBytes returns SenseKeySpecific with its top bit set to SKSV.
func (s Sense) sksBytes() []byte {
	k := s.SenseKeySpecific
	k[0] = k[0]&0x7F | flagIf(s.SKSV, 0x80)
	return k[:]
}
