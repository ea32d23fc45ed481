package scsi

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// ProtocolID is the PROTOCOL IDENTIFIER of a designation descriptor (SPC-4
// §7.6.1, Table 362); meaningful only when the descriptor's PIV is set.
type ProtocolID uint8

// Protocol identifiers.
const (
	ProtocolFC    ProtocolID = 0x0
	ProtocolSPI   ProtocolID = 0x1
	ProtocolSSA   ProtocolID = 0x2
	ProtocolSBP   ProtocolID = 0x3
	ProtocolSRP   ProtocolID = 0x4
	ProtocolISCSI ProtocolID = 0x5
	ProtocolSAS   ProtocolID = 0x6
	ProtocolADT   ProtocolID = 0x7
	ProtocolATA   ProtocolID = 0x8
	ProtocolUAS   ProtocolID = 0x9
	ProtocolSOP   ProtocolID = 0xA
	ProtocolNone  ProtocolID = 0xF
)

var protocolIDNames = map[ProtocolID]string{
	ProtocolFC: "FCP", ProtocolSPI: "SPI", ProtocolSSA: "SSA", ProtocolSBP: "SBP",
	ProtocolSRP: "SRP", ProtocolISCSI: "iSCSI", ProtocolSAS: "SAS", ProtocolADT: "ADT",
	ProtocolATA: "ATA", ProtocolUAS: "UAS", ProtocolSOP: "SOP", ProtocolNone: "none",
}

// String returns the name of the value, or "ProtocolID(0xNN)" for an unknown
// value.
func (p ProtocolID) String() string { return enumString(protocolIDNames, p, "ProtocolID") }

// CodeSet is the CODE SET of a designation descriptor (SPC-4 §7.8.6.1).
type CodeSet uint8

// Code sets.
const (
	CodeSetBinary CodeSet = 1
	CodeSetASCII  CodeSet = 2
	CodeSetUTF8   CodeSet = 3
)

var codeSetNames = map[CodeSet]string{CodeSetBinary: "binary", CodeSetASCII: "ASCII", CodeSetUTF8: "UTF-8"}

// String returns the name of the value, or "CodeSet(0xNN)" for an unknown
// value.
func (c CodeSet) String() string { return enumString(codeSetNames, c, "CodeSet") }

// Association says what a designator names (SPC-4 §7.8.6.1, Table 591).
type Association uint8

// Associations.
const (
	AssocLogicalUnit  Association = 0 // the addressed logical unit
	AssocTargetPort   Association = 1 // the target port that received the command
	AssocTargetDevice Association = 2 // the SCSI target device holding the LU
)

var associationNames = map[Association]string{
	AssocLogicalUnit: "logical unit", AssocTargetPort: "target port", AssocTargetDevice: "target device",
}

// String returns the name of the value, or "Association(0xNN)" for an
// unknown value.
func (a Association) String() string { return enumString(associationNames, a, "Association") }

// DesignatorType is the DESIGNATOR TYPE (SPC-4 §7.8.6.1, Table 592).
type DesignatorType uint8

// Designator types.
const (
	DesigVendorSpecific     DesignatorType = 0x0
	DesigT10VendorID        DesignatorType = 0x1 // 8-byte vendor + vendor-specific (§7.8.6.4)
	DesigEUI64              DesignatorType = 0x2 // 8, 12 or 16 bytes (§7.8.6.5)
	DesigNAA                DesignatorType = 0x3 // 8 or 16 bytes (§7.8.6.6)
	DesigRelativeTargetPort DesignatorType = 0x4 // 4 bytes (§7.8.6.7)
	DesigTargetPortGroup    DesignatorType = 0x5 // 4 bytes (§7.8.6.8)
	DesigLogicalUnitGroup   DesignatorType = 0x6 // 4 bytes (§7.8.6.9)
	DesigMD5LogicalUnit     DesignatorType = 0x7 // 16 bytes (§7.8.6.10)
	DesigSCSIName           DesignatorType = 0x8 // "iqn."/"eui."/"naa." string (§7.8.6.11)
	DesigProtocolPort       DesignatorType = 0x9 // protocol specific port identifier
	DesigUUID               DesignatorType = 0xA // SPC-5
)

var designatorTypeNames = map[DesignatorType]string{
	DesigVendorSpecific: "vendor specific", DesigT10VendorID: "T10 vendor ID",
	DesigEUI64: "EUI-64", DesigNAA: "NAA", DesigRelativeTargetPort: "relative target port",
	DesigTargetPortGroup: "target port group", DesigLogicalUnitGroup: "logical unit group",
	DesigMD5LogicalUnit: "MD5 logical unit", DesigSCSIName: "SCSI name string",
	DesigProtocolPort: "protocol specific port", DesigUUID: "UUID",
}

// String returns the name of the value, or "DesignatorType(0xNN)" for an
// unknown value.
func (t DesignatorType) String() string {
	return enumString(designatorTypeNames, t, "DesignatorType")
}

// NAA is the NAA field, the top four bits of an NAA designator: its
// format (SPC-4 §7.8.6.6, Table 605).
type NAA uint8

// NAA formats.
const (
	NAAIEEEExtended           NAA = 0x2 // 8 bytes
	NAALocallyAssigned        NAA = 0x3 // 8 bytes
	NAAIEEERegistered         NAA = 0x5 // 8 bytes
	NAAIEEERegisteredExtended NAA = 0x6 // 16 bytes
)

var naaNames = map[NAA]string{
	NAAIEEEExtended: "IEEE Extended", NAALocallyAssigned: "Locally Assigned",
	NAAIEEERegistered: "IEEE Registered", NAAIEEERegisteredExtended: "IEEE Registered Extended",
}

// String returns the name of the value, or "NAA(0xNN)" for an unknown value.
func (n NAA) String() string { return enumString(naaNames, n, "NAA") }

// Designator is one designation descriptor of the Device Identification
// VPD page (SPC-4 §7.8.6.1).
type Designator struct {
	ProtocolID  ProtocolID
	CodeSet     CodeSet
	PIV         bool // ProtocolID is valid
	Association Association
	Type        DesignatorType
	ID          []byte // DESIGNATOR, without the 4-byte header
}

// NAA returns the NAA field of an NAA designator, or 0.
func (d Designator) NAA() NAA {
	if d.Type != DesigNAA || len(d.ID) == 0 {
		return 0
	}
	return NAA(d.ID[0] >> 4)
}

// String formats d for logs, e.g. "NAA 6 (logical unit): 60000000…" or
// "T10 vendor ID (logical unit): \"IET     00010001\"".
func (d Designator) String() string {
	name := d.Type.String()
	if d.Type == DesigNAA {
		name = fmt.Sprintf("NAA %d", uint8(d.NAA()))
	}
	if d.CodeSet == CodeSetASCII || d.CodeSet == CodeSetUTF8 {
		return fmt.Sprintf("%s (%v): %q", name, d.Association, bytes.TrimRight(d.ID, "\x00"))
	}
	return fmt.Sprintf("%s (%v): %s", name, d.Association, hex.EncodeToString(d.ID))
}

// ParseDeviceIdentification decodes the Device Identification page (0x83)
// into its designators, in page order. The IDs share one copy of the page,
// so they stay valid after b is reused. A descriptor that overruns the page
// is a *FieldError; the designators are not otherwise validated (WWID
// checks the lengths it relies on).
func ParseDeviceIdentification(b []byte) ([]Designator, error) {
	body, err := vpdBody(b, VPDDeviceIdentification)
	if err != nil {
		return nil, err
	}
	page := bytes.Clone(body)
	var ds []Designator
	for off := 0; off < len(page); {
		d, n, err := parseDesignator(page, off)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
		off += n
	}
	return ds, nil
}

// parseDesignator decodes the descriptor at page[off:] and returns its
// length.
func parseDesignator(page []byte, off int) (Designator, int, error) {
	if len(page)-off < 4 {
		return Designator{}, 0, &FieldError{What: "VPD page 0x83", Field: "designation descriptor",
			Offset: 4 + off, Value: uint64(len(page) - off), Reason: "header overruns the page"}
	}
	h := page[off : off+4]
	n := int(h[3]) // DESIGNATOR LENGTH
	if off+4+n > len(page) {
		return Designator{}, 0, &FieldError{What: "VPD page 0x83", Field: "DESIGNATOR LENGTH",
			Offset: 4 + off + 3, Value: uint64(n), Reason: "overruns the page"}
	}
	return Designator{
		ProtocolID:  ProtocolID(h[0] >> 4),
		CodeSet:     CodeSet(h[0] & 0x0F),
		PIV:         h[1]&0x80 != 0,
		Association: Association(h[1] >> 4 & 3),
		Type:        DesignatorType(h[1] & 0x0F),
		ID:          page[off+4 : off+4+n : off+4+n],
	}, 4 + n, nil
}

// AppendDesignators appends designation descriptors (without the VPD page
// header), the inverse of ParseDeviceIdentification for tests and fake
// targets. An ID over 255 bytes is a *LimitError.
func AppendDesignators(b []byte, ds []Designator) ([]byte, error) {
	for _, d := range ds {
		if len(d.ID) > 0xFF {
			return b, &LimitError{What: "designation descriptor", Field: "DESIGNATOR LENGTH",
				Value: uint64(len(d.ID)), Limit: 0xFF}
		}
		b = append(b, byte(d.ProtocolID)<<4|byte(d.CodeSet)&0x0F,
			flagIf(d.PIV, 0x80)|byte(d.Association&3)<<4|byte(d.Type)&0x0F, 0, byte(len(d.ID)))
		b = append(b, d.ID...)
	}
	return b, nil
}

// TargetPortGroup returns the target port group of the port the page came
// through: the TARGET PORT GROUP designator (type 5, association target
// port). REPORT TARGET PORT GROUPS lists the group's state under this ID.
func TargetPortGroup(ds []Designator) (uint16, bool) {
	return portDesignator(ds, DesigTargetPortGroup)
}

// RelativeTargetPort returns the RELATIVE TARGET PORT IDENTIFIER of the
// port the page came through (type 4, association target port).
func RelativeTargetPort(ds []Designator) (uint16, bool) {
	return portDesignator(ds, DesigRelativeTargetPort)
}

func portDesignator(ds []Designator, t DesignatorType) (uint16, bool) {
	for _, d := range ds {
		if d.Type == t && d.Association == AssocTargetPort && len(d.ID) == 4 {
			return be.Uint16(d.ID[2:]), true
		}
	}
	return 0, false
}
