package scsi

import "encoding/binary"

var be = binary.BigEndian

// Opcode is the OPERATION CODE, byte 0 of every CDB (SPC-4 §4.3.5.1).
type Opcode uint8

// Operation codes built by this package (SPC-4 Table D.2, SBC-3 Table 19).
const (
	OpTestUnitReady       Opcode = 0x00 // SPC-4 §6.47
	OpRequestSense        Opcode = 0x03 // SPC-4 §6.39 (named only)
	OpInquiry             Opcode = 0x12 // SPC-4 §6.6
	OpModeSense6          Opcode = 0x1A // SPC-4 §6.11
	OpReadCapacity10      Opcode = 0x25 // SBC-3 §5.16 (named only)
	OpRead10              Opcode = 0x28 // SBC-3 §5.13
	OpWrite10             Opcode = 0x2A // SBC-3 §5.32
	OpSynchronizeCache10  Opcode = 0x35 // SBC-3 §5.22
	OpUnmap               Opcode = 0x42 // SBC-3 §5.28
	OpModeSense10         Opcode = 0x5A // SPC-4 §6.12
	OpPersistentReserveIn Opcode = 0x5E // SPC-4 §6.13 (named only)
	OpRead16              Opcode = 0x88 // SBC-3 §5.15
	OpWrite16             Opcode = 0x8A // SBC-3 §5.34
	OpSynchronizeCache16  Opcode = 0x91 // SBC-3 §5.23
	OpWriteSame16         Opcode = 0x93 // SBC-3 §5.42
	OpServiceActionIn16   Opcode = 0x9E // SBC-3 §5.16, READ CAPACITY(16)
	OpReportLUNs          Opcode = 0xA0 // SPC-4 §6.33
	OpMaintenanceIn       Opcode = 0xA3 // SPC-4 §6.35, REPORT TARGET PORT GROUPS
	OpMaintenanceOut      Opcode = 0xA4 // SPC-4 §6.36, SET TARGET PORT GROUPS
)

// ServiceAction is the SERVICE ACTION field, byte 1 bits 4:0, of the
// SERVICE ACTION IN(16) and MAINTENANCE IN CDBs.
type ServiceAction uint8

// Service actions built by this package.
const (
	ServiceActionReportTargetPortGroups ServiceAction = 0x0A // MAINTENANCE IN, SPC-4 §6.36
	ServiceActionReadCapacity16         ServiceAction = 0x10 // SERVICE ACTION IN(16), SBC-3 §5.16
)

var serviceActionNames = map[ServiceAction]string{
	ServiceActionReportTargetPortGroups: "REPORT TARGET PORT GROUPS",
	ServiceActionReadCapacity16:         "READ CAPACITY(16)",
}

// String returns the name of the value, or "ServiceAction(0xNN)" for an
// unknown value.
func (a ServiceAction) String() string { return enumString(serviceActionNames, a, "ServiceAction") }

var opcodeNames = map[Opcode]string{
	OpTestUnitReady: "TEST UNIT READY", OpInquiry: "INQUIRY", OpRead10: "READ(10)",
	OpWrite10: "WRITE(10)", OpUnmap: "UNMAP", OpRead16: "READ(16)", OpWrite16: "WRITE(16)",
	OpSynchronizeCache16: "SYNCHRONIZE CACHE(16)", OpWriteSame16: "WRITE SAME(16)",
	OpServiceActionIn16: "SERVICE ACTION IN(16)", OpReportLUNs: "REPORT LUNS",
	OpMaintenanceIn: "MAINTENANCE IN", OpMaintenanceOut: "MAINTENANCE OUT", OpSynchronizeCache10: "SYNCHRONIZE CACHE(10)",
	OpReadCapacity10: "READ CAPACITY(10)", OpRequestSense: "REQUEST SENSE",
	OpModeSense10: "MODE SENSE(10)", OpModeSense6: "MODE SENSE(6)", OpPersistentReserveIn: "PERSISTENT RESERVE IN",
}

// String returns the name of the value, or "Opcode(0xNN)" for an unknown
// value.
func (o Opcode) String() string { return enumString(opcodeNames, o, "Opcode") }

// Byte 1 bits of the read and write CDBs (SBC-3 §5.13, §5.15).
const (
	bitFUA  = 0x08 // FUA: force unit access
	bitEVPD = 0x01 // INQUIRY EVPD
)

// Inquiry returns an INQUIRY CDB for standard inquiry data (SPC-4 §6.6.1).
// Ask for at least 36 bytes: ParseInquiry needs them.
func Inquiry(allocLen uint16) [6]byte {
	var c [6]byte
	c[0] = byte(OpInquiry)
	be.PutUint16(c[3:], allocLen) // ALLOCATION LENGTH
	return c
}

// InquiryVPD returns an INQUIRY CDB with EVPD set for one VPD page
// (SPC-4 §6.6.1, §7.8).
func InquiryVPD(page VPDPage, allocLen uint16) [6]byte {
	c := Inquiry(allocLen)
	c[1] = bitEVPD
	c[2] = byte(page) // PAGE CODE
	return c
}

// TestUnitReady returns a TEST UNIT READY CDB (SPC-4 §6.47).
func TestUnitReady() [6]byte { return [6]byte{byte(OpTestUnitReady)} }

// ReadCapacity16 returns a READ CAPACITY(16) CDB: SERVICE ACTION IN(16) with
// service action 0x10 (SBC-3 §5.16). The parameter data is 32 bytes long.
func ReadCapacity16(allocLen uint32) [16]byte {
	var c [16]byte
	c[0] = byte(OpServiceActionIn16)
	c[1] = byte(ServiceActionReadCapacity16)
	be.PutUint32(c[10:], allocLen) // ALLOCATION LENGTH
	return c
}

// Read10 returns a READ(10) CDB (SBC-3 §5.13). The argument types bound the
// LBA to 32 bits and the transfer to 65535 blocks; use Read16 beyond.
func Read10(lba uint32, blocks uint16, fua bool) [10]byte {
	return rw10(OpRead10, lba, blocks, fua)
}

// Write10 returns a WRITE(10) CDB (SBC-3 §5.32), bounded like Read10.
func Write10(lba uint32, blocks uint16, fua bool) [10]byte {
	return rw10(OpWrite10, lba, blocks, fua)
}

func rw10(op Opcode, lba uint32, blocks uint16, fua bool) [10]byte {
	var c [10]byte
	c[0] = byte(op)
	c[1] = flagIf(fua, bitFUA)
	be.PutUint32(c[2:], lba)    // LOGICAL BLOCK ADDRESS
	be.PutUint16(c[7:], blocks) // TRANSFER LENGTH
	return c
}

// Read16 returns a READ(16) CDB (SBC-3 §5.15). A transfer length of zero
// transfers nothing; the session splits larger transfers.
func Read16(lba uint64, blocks uint32, fua bool) [16]byte {
	return lba16(OpRead16, flagIf(fua, bitFUA), lba, blocks)
}

// Write16 returns a WRITE(16) CDB (SBC-3 §5.34).
func Write16(lba uint64, blocks uint32, fua bool) [16]byte {
	return lba16(OpWrite16, flagIf(fua, bitFUA), lba, blocks)
}

// SynchronizeCache16 returns a SYNCHRONIZE CACHE(16) CDB (SBC-3 §5.23).
// blocks == 0 means from lba to the end of the medium; lba 0 and blocks 0
// flush everything.
func SynchronizeCache16(lba uint64, blocks uint32, immed bool) [16]byte {
	return lba16(OpSynchronizeCache16, flagIf(immed, 0x02), lba, blocks) // IMMED bit 1
}

// WriteSameFlags are the byte 1 bits of WRITE SAME(16) (SBC-3 §5.42).
type WriteSameFlags uint8

// WRITE SAME(16) flags.
const (
	// WriteSameNDOB: no data-out buffer; the blocks are written as zeros
	// (or unmapped with WriteSameUnmap). Without it the command carries one
	// logical block of data-out.
	WriteSameNDOB WriteSameFlags = 0x01
	// WriteSameUnmap asks the device to unmap the blocks if it can.
	WriteSameUnmap WriteSameFlags = 0x08
	// WriteSameAnchor anchors the blocks instead (valid only with Unmap).
	WriteSameAnchor WriteSameFlags = 0x10

	writeSameMask = WriteSameNDOB | WriteSameUnmap | WriteSameAnchor
)

// String returns the names of the set flags (ANCHOR, UNMAP, NDOB) joined by
// "|", unknown bits in hex, or "0" when none is set.
func (f WriteSameFlags) String() string {
	return flagString(uint8(f), []flagName{{0x10, "ANCHOR"}, {0x08, "UNMAP"}, {0x01, "NDOB"}})
}

// WriteSame16 returns a WRITE SAME(16) CDB (SBC-3 §5.42). Bits of f other
// than the three defined flags are ignored; blocks == 0 asks the device to
// write to the end of the medium, which most reject.
func WriteSame16(lba uint64, blocks uint32, f WriteSameFlags) [16]byte {
	return lba16(OpWriteSame16, byte(f&writeSameMask), lba, blocks)
}

// lba16 is the shared layout of the 16-byte LBA commands.
func lba16(op Opcode, flags byte, lba uint64, blocks uint32) [16]byte {
	var c [16]byte
	c[0] = byte(op)
	c[1] = flags
	be.PutUint64(c[2:], lba)     // LOGICAL BLOCK ADDRESS
	be.PutUint32(c[10:], blocks) // TRANSFER LENGTH / NUMBER OF LOGICAL BLOCKS
	return c                     // c[14] GROUP NUMBER 0, c[15] CONTROL 0
}

// Unmap returns an UNMAP CDB (SBC-3 §5.28) announcing a parameter list of
// paramLen bytes, as built by AppendUnmapParameters.
func Unmap(paramLen uint16, anchor bool) [10]byte {
	var c [10]byte
	c[0] = byte(OpUnmap)
	c[1] = flagIf(anchor, 0x01)   // ANCHOR
	be.PutUint16(c[7:], paramLen) // PARAMETER LIST LENGTH
	return c
}

// Extent is a run of logical blocks, one UNMAP block descriptor.
type Extent struct {
	LBA    uint64
	Blocks uint32
}

// MaxUnmapDescriptors is the most block descriptors one UNMAP parameter
// list can carry: its UNMAP DATA LENGTH field is 16 bits.
const MaxUnmapDescriptors = (0xffff - 8) / 16

// AppendUnmapParameters appends the UNMAP parameter list (SBC-3 §5.28.2):
// an 8-byte header and one 16-byte block descriptor per extent. More than
// MaxUnmapDescriptors extents is a *LimitError; callers also respect the
// device's MaximumUnmapDescriptors from VPD page 0xB0.
func AppendUnmapParameters(b []byte, extents []Extent) ([]byte, error) {
	if len(extents) > MaxUnmapDescriptors {
		return b, &LimitError{What: "UNMAP parameter list", Field: "block descriptors",
			Value: uint64(len(extents)), Limit: MaxUnmapDescriptors}
	}
	n := 16 * len(extents)
	b = be.AppendUint16(b, uint16(n+6)) // UNMAP DATA LENGTH (n-2)
	b = be.AppendUint16(b, uint16(n))   // UNMAP BLOCK DESCRIPTOR DATA LENGTH
	b = append(b, 0, 0, 0, 0)           // reserved
	for _, e := range extents {
		b = be.AppendUint64(b, e.LBA)    // UNMAP LOGICAL BLOCK ADDRESS
		b = be.AppendUint32(b, e.Blocks) // NUMBER OF LOGICAL BLOCKS
		b = append(b, 0, 0, 0, 0)        // reserved
	}
	return b, nil
}

// SelectReport is the SELECT REPORT field of REPORT LUNS (SPC-4 §6.33).
type SelectReport uint8

// SELECT REPORT values.
const (
	SelectLogicalUnits SelectReport = 0x00 // logical units, no well-known ones
	SelectWellKnownLUs SelectReport = 0x01 // well-known logical units only
	SelectAllLUs       SelectReport = 0x02 // both
)

var selectReportNames = map[SelectReport]string{
	SelectLogicalUnits: "logical units", SelectWellKnownLUs: "well known logical units",
	SelectAllLUs: "all logical units",
}

// String returns the name of the value, or "SelectReport(0xNN)" for an
// unknown value.
func (s SelectReport) String() string { return enumString(selectReportNames, s, "SelectReport") }

// ReportLUNs returns a REPORT LUNS CDB (SPC-4 §6.33). SPC-4 lets a device
// reject an allocation length below 16.
func ReportLUNs(sel SelectReport, allocLen uint32) [12]byte {
	var c [12]byte
	c[0] = byte(OpReportLUNs)
	c[2] = byte(sel)              // SELECT REPORT
	be.PutUint32(c[6:], allocLen) // ALLOCATION LENGTH
	return c
}

// ReportTargetPortGroups returns a REPORT TARGET PORT GROUPS CDB: MAINTENANCE
// IN with service action 0x0A (SPC-4 §6.36). With extended set it asks for
// the extended header (PARAMETER DATA FORMAT 001b), which carries the
// implicit transition time; devices that lack it answer in the length-only
// format, which ParseTargetPortGroups also reads.
func ReportTargetPortGroups(allocLen uint32, extended bool) [12]byte {
	var c [12]byte
	c[0] = byte(OpMaintenanceIn)
	c[1] = flagIf(extended, 0x20) | byte(ServiceActionReportTargetPortGroups)
	be.PutUint32(c[6:], allocLen) // ALLOCATION LENGTH
	return c
}

// SetTargetPortGroups returns a SET TARGET PORT GROUPS CDB: MAINTENANCE OUT
// with service action 0x0A (SPC-4 §6.40), announcing a parameter list of
// paramLen bytes as AppendSetTargetPortGroups builds it.
func SetTargetPortGroups(paramLen uint32) [12]byte {
	var c [12]byte
	c[0] = byte(OpMaintenanceOut)
	c[1] = byte(ServiceActionReportTargetPortGroups) // SET TARGET PORT GROUPS shares 0x0A
	be.PutUint32(c[6:], paramLen)                    // PARAMETER LIST LENGTH
	return c
}

// PortGroupState asks a target port group into an asymmetric access state,
// one descriptor of the SET TARGET PORT GROUPS parameter list.
type PortGroupState struct {
	ID    uint16
	State AccessState
}

// AppendSetTargetPortGroups appends the SET TARGET PORT GROUPS parameter
// list (SPC-4 §6.40.2): four reserved bytes, then one 4-byte descriptor per
// group (ASYMMETRIC ACCESS STATE, reserved, TARGET PORT GROUP).
func AppendSetTargetPortGroups(b []byte, groups []PortGroupState) []byte {
	b = append(b, 0, 0, 0, 0)
	for _, g := range groups {
		b = append(b, byte(g.State)&0x0F, 0)
		b = be.AppendUint16(b, g.ID)
	}
	return b
}

func flagIf(cond bool, mask byte) byte {
	if cond {
		return mask
	}
	return 0
}
