package scsi

import "fmt"

// VPDPage is a vital product data page code (SPC-4 §7.8, SBC-3 §6.5).
type VPDPage uint8

// VPD pages.
const (
	VPDSupportedPages             VPDPage = 0x00 // SPC-4 §7.8.16
	VPDUnitSerial                 VPDPage = 0x80 // SPC-4 §7.8.18
	VPDDeviceIdentification       VPDPage = 0x83 // SPC-4 §7.8.6
	VPDExtendedInquiry            VPDPage = 0x86 // SPC-4 §7.8.7 (named only)
	VPDSCSIPorts                  VPDPage = 0x88 // SPC-4 §7.8.15 (named only)
	VPDBlockLimits                VPDPage = 0xB0 // SBC-3 §6.5.3
	VPDBlockDeviceCharacteristics VPDPage = 0xB1 // SBC-3 §6.5.2 (named only)
	VPDLogicalBlockProvisioning   VPDPage = 0xB2 // SBC-3 §6.5.4
)

var vpdPageNames = map[VPDPage]string{
	VPDSupportedPages: "Supported VPD Pages", VPDUnitSerial: "Unit Serial Number",
	VPDDeviceIdentification: "Device Identification", VPDExtendedInquiry: "Extended INQUIRY Data",
	VPDSCSIPorts: "SCSI Ports", VPDBlockLimits: "Block Limits",
	VPDBlockDeviceCharacteristics: "Block Device Characteristics",
	VPDLogicalBlockProvisioning:   "Logical Block Provisioning",
}

// String returns the name of the value, or "VPDPage(0xNN)" for an unknown
// value.
func (p VPDPage) String() string { return enumString(vpdPageNames, p, "VPDPage") }

// vpdBody checks the 4-byte VPD header (SPC-4 §7.8.1) and returns the page
// body: b[4 : 4+PAGE LENGTH]. Bytes after the page are ignored.
func vpdBody(b []byte, page VPDPage) ([]byte, error) {
	what := fmt.Sprintf("VPD page 0x%02x", uint8(page))
	if err := truncated(what, b, 4); err != nil {
		return nil, err
	}
	if VPDPage(b[1]) != page {
		return nil, &FieldError{What: what, Field: "PAGE CODE", Offset: 1, Value: uint64(b[1]),
			Reason: "not the page asked for"}
	}
	return lengthPrefixed(what, b, 4, uint64(be.Uint16(b[2:]))) // PAGE LENGTH
}

// ParseSupportedPages decodes the Supported VPD Pages page (0x00).
func ParseSupportedPages(b []byte) ([]VPDPage, error) {
	body, err := vpdBody(b, VPDSupportedPages)
	if err != nil {
		return nil, err
	}
	pages := make([]VPDPage, len(body))
	for i, p := range body {
		pages[i] = VPDPage(p)
	}
	return pages, nil
}

// ParseUnitSerial decodes the Unit Serial Number page (0x80): the
// PRODUCT SERIAL NUMBER without its leading and trailing spaces or NULs.
func ParseUnitSerial(b []byte) (string, error) {
	body, err := vpdBody(b, VPDUnitSerial)
	if err != nil {
		return "", err
	}
	return trimField(body), nil
}

// BlockLimits is the Block Limits VPD page, 0xB0 (SBC-3 §6.5.3). Lengths
// are in logical blocks; zero means the device reports no limit, except
// where noted.
type BlockLimits struct {
	WSNZ                             bool   // WRITE SAME with zero blocks is rejected
	MaxCompareAndWriteLength         uint8  // 0: COMPARE AND WRITE not supported
	OptimalTransferLengthGranularity uint16 // OPTIMAL TRANSFER LENGTH GRANULARITY
	MaxTransferLength                uint32 // MAXIMUM TRANSFER LENGTH
	OptimalTransferLength            uint32 // OPTIMAL TRANSFER LENGTH
	MaxPrefetchLength                uint32 // MAXIMUM PREFETCH LENGTH
	MaxUnmapLBACount                 uint32 // 0: UNMAP not supported; 0xFFFFFFFF: no limit
	MaxUnmapDescriptorCount          uint32 // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
	OptimalUnmapGranularity          uint32 // OPTIMAL UNMAP GRANULARITY
	UGAValid                         bool   // UnmapGranularityAlignment is valid
	UnmapGranularityAlignment        uint32 // first LBA of an optimal unmap granule
	MaxWriteSameLength               uint64 // MAXIMUM WRITE SAME LENGTH
}

// ParseBlockLimits decodes the Block Limits page (0xB0). SBC-2 devices
// return a shorter page (PAGE LENGTH 0x0C or 0x10); fields past the page
// length read as zero, which SBC-3 defines as "not reported".
func ParseBlockLimits(b []byte) (BlockLimits, error) {
	p, err := vpdBody(b, VPDBlockLimits)
	if err != nil {
		return BlockLimits{}, err
	}
	// Offsets below are into the page body: page byte N is p[N-4].
	uga := u32At(p, 28)
	return BlockLimits{
		WSNZ:                             byteAt(p, 0)&0x01 != 0,
		MaxCompareAndWriteLength:         byteAt(p, 1),
		OptimalTransferLengthGranularity: u16At(p, 2),
		MaxTransferLength:                u32At(p, 4),
		OptimalTransferLength:            u32At(p, 8),
		MaxPrefetchLength:                u32At(p, 12),
		MaxUnmapLBACount:                 u32At(p, 16),
		MaxUnmapDescriptorCount:          u32At(p, 20),
		OptimalUnmapGranularity:          u32At(p, 24),
		UGAValid:                         uga&0x80000000 != 0,
		UnmapGranularityAlignment:        uga &^ 0x80000000,
		MaxWriteSameLength:               u64At(p, 32),
	}, nil
}

// ProvisioningType is the PROVISIONING TYPE of the Logical Block
// Provisioning page (SBC-3 §6.5.4, Table 198).
type ProvisioningType uint8

// Provisioning types.
const (
	ProvisioningFull     ProvisioningType = 0 // fully provisioned, or not reported
	ProvisioningResource ProvisioningType = 1 // resource provisioned
	ProvisioningThin     ProvisioningType = 2 // thin provisioned
)

var provisioningTypeNames = map[ProvisioningType]string{
	ProvisioningFull: "full", ProvisioningResource: "resource", ProvisioningThin: "thin",
}

// String returns the name of the value, or "ProvisioningType(0xNN)" for an
// unknown value.
func (p ProvisioningType) String() string {
	return enumString(provisioningTypeNames, p, "ProvisioningType")
}

// LogicalBlockProvisioning is the Logical Block Provisioning VPD page, 0xB2
// (SBC-3 §6.5.4).
type LogicalBlockProvisioning struct {
	ThresholdExponent uint8 // THRESHOLD EXPONENT
	LBPU              bool  // UNMAP supported
	LBPWS             bool  // WRITE SAME(16) with UNMAP supported
	LBPWS10           bool  // WRITE SAME(10) with UNMAP supported
	// LBPRZ: unmapped blocks read as zeros. SBC-4 widens LBPRZ to bits
	// 4:2; this is true only for the value 001b, which is the SBC-3 bit.
	LBPRZ            bool
	ANCSup           bool // ANCHOR supported
	DP               bool // a provisioning group descriptor follows (not decoded)
	ProvisioningType ProvisioningType
}

// ParseLogicalBlockProvisioning decodes the Logical Block Provisioning page
// (0xB2). Fields past the page length read as zero.
func ParseLogicalBlockProvisioning(b []byte) (LogicalBlockProvisioning, error) {
	p, err := vpdBody(b, VPDLogicalBlockProvisioning)
	if err != nil {
		return LogicalBlockProvisioning{}, err
	}
	f := byteAt(p, 1) // page byte 5
	return LogicalBlockProvisioning{
		ThresholdExponent: byteAt(p, 0),
		LBPU:              f&0x80 != 0,
		LBPWS:             f&0x40 != 0,
		LBPWS10:           f&0x20 != 0,
		LBPRZ:             f>>2&7 == 1,
		ANCSup:            f&0x02 != 0,
		DP:                f&0x01 != 0,
		ProvisioningType:  ProvisioningType(byteAt(p, 2) & 0x07),
	}, nil
}

// byteAt and the uNAt helpers read big-endian fields that may lie past the
// end of b; missing bytes read as zero.
func byteAt(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

func u16At(b []byte, i int) uint16 { return uint16(uintAt(b, i, 2)) }
func u32At(b []byte, i int) uint32 { return uint32(uintAt(b, i, 4)) }
func u64At(b []byte, i int) uint64 { return uintAt(b, i, 8) }

// uintAt reads an n-byte field at b[i:] only if all of it is present.
func uintAt(b []byte, i, n int) uint64 {
	if i+n > len(b) {
		return 0
	}
	var v uint64
	for _, c := range b[i : i+n] {
		v = v<<8 | uint64(c)
	}
	return v
}
