package scsi

import "strings"

// DeviceType is the PERIPHERAL DEVICE TYPE (SPC-4 §6.6.2, Table 141).
type DeviceType uint8

// Peripheral device types a multipath initiator meets.
const (
	TypeDisk              DeviceType = 0x00 // direct access block device (SBC-3)
	TypeTape              DeviceType = 0x01 // sequential access device (SSC-3)
	TypeCDROM             DeviceType = 0x05 // CD/DVD device (MMC-5)
	TypeMediumChanger     DeviceType = 0x08 // media changer (SMC-3)
	TypeStorageController DeviceType = 0x0C // storage array controller (SCC-2)
	TypeEnclosure         DeviceType = 0x0D // enclosure services (SES-2)
	TypeSimplifiedDisk    DeviceType = 0x0E // simplified direct access device (RBC)
	TypeWellKnownLU       DeviceType = 0x1E // well known logical unit
	TypeUnknownOrNoDevice DeviceType = 0x1F // unknown or no device type
)

var deviceTypeNames = map[DeviceType]string{
	TypeDisk: "direct access block device", TypeTape: "sequential access device",
	TypeCDROM: "CD/DVD device", TypeMediumChanger: "media changer device",
	TypeStorageController: "storage array controller", TypeEnclosure: "enclosure services device",
	TypeSimplifiedDisk: "simplified direct access device", TypeWellKnownLU: "well known logical unit",
	TypeUnknownOrNoDevice: "unknown or no device type",
}

// String returns the name of the value, or "DeviceType(0xNN)" for an unknown
// value.
func (t DeviceType) String() string { return enumString(deviceTypeNames, t, "DeviceType") }

// Version is the VERSION field of standard INQUIRY data: the SPC revision
// the device claims (SPC-4 §6.6.2, Table 142).
type Version uint8

// VERSION values.
const (
	VersionNone Version = 0x00
	VersionSPC  Version = 0x03
	VersionSPC2 Version = 0x04
	VersionSPC3 Version = 0x05
	VersionSPC4 Version = 0x06
	VersionSPC5 Version = 0x07
)

var versionNames = map[Version]string{
	VersionNone: "no standard", VersionSPC: "SPC", VersionSPC2: "SPC-2",
	VersionSPC3: "SPC-3", VersionSPC4: "SPC-4", VersionSPC5: "SPC-5",
}

// String returns the name of the value, or "Version(0xNN)" for an unknown
// value.
func (v Version) String() string { return enumString(versionNames, v, "Version") }

// TPGS is the TARGET PORT GROUP SUPPORT field: whether and how the logical
// unit supports asymmetric logical unit access (ALUA, SPC-4 §5.11.2).
type TPGS uint8

// TPGS values (SPC-4 §6.6.2, Table 144).
const (
	TPGSNone     TPGS = 0 // no ALUA
	TPGSImplicit TPGS = 1 // the device changes states itself
	TPGSExplicit TPGS = 2 // only SET TARGET PORT GROUPS changes states
	TPGSBoth     TPGS = 3
)

var tpgsNames = map[TPGS]string{
	TPGSNone: "no ALUA", TPGSImplicit: "implicit ALUA", TPGSExplicit: "explicit ALUA",
	TPGSBoth: "implicit and explicit ALUA",
}

// String returns the name of the value, or "TPGS(0xNN)" for an unknown
// value.
func (t TPGS) String() string { return enumString(tpgsNames, t, "TPGS") }

// InquiryData is standard INQUIRY data (SPC-4 §6.6.2).
type InquiryData struct {
	// PeripheralQualifier is 0 when a logical unit is attached, 1 when one
	// could be but is not, 3 when none can be (data[0] == 0x7F).
	PeripheralQualifier uint8
	DeviceType          DeviceType
	RMB                 bool // removable medium
	Version             Version
	NormACA             bool
	HiSup               bool   // hierarchical LUN addressing
	ResponseDataFormat  uint8  // 2 for every SPC-2 and later device
	SCCS                bool   // embedded storage array controller
	ACC                 bool   // access controls coordinator
	TPGS                TPGS   // ALUA support
	ThreePC             bool   // third-party copy
	Protect             bool   // protection information supported
	EncServ             bool   // embedded enclosure services
	MultiP              bool   // multi-port device
	CmdQue              bool   // full task management model
	Vendor              string // T10 VENDOR IDENTIFICATION, trimmed
	Product             string // PRODUCT IDENTIFICATION, trimmed
	Revision            string // PRODUCT REVISION LEVEL, trimmed
}

// inquiryMinLen is the mandatory part of standard INQUIRY data, through
// PRODUCT REVISION LEVEL.
const inquiryMinLen = 36

// ParseInquiry decodes standard INQUIRY data. It needs the first 36 bytes
// (a *TruncatedError otherwise) and ignores ADDITIONAL LENGTH and anything
// after byte 35 (version descriptors and vendor-specific data).
func ParseInquiry(b []byte) (InquiryData, error) {
	if err := truncated("standard INQUIRY data", b, inquiryMinLen); err != nil {
		return InquiryData{}, err
	}
	return InquiryData{
		PeripheralQualifier: b[0] >> 5,
		DeviceType:          DeviceType(b[0] & 0x1F),
		RMB:                 b[1]&0x80 != 0,
		Version:             Version(b[2]),
		NormACA:             b[3]&0x20 != 0,
		HiSup:               b[3]&0x10 != 0,
		ResponseDataFormat:  b[3] & 0x0F,
		SCCS:                b[5]&0x80 != 0,
		ACC:                 b[5]&0x40 != 0,
		TPGS:                TPGS(b[5] >> 4 & 3),
		ThreePC:             b[5]&0x08 != 0,
		Protect:             b[5]&0x01 != 0,
		EncServ:             b[6]&0x40 != 0,
		MultiP:              b[6]&0x10 != 0,
		CmdQue:              b[7]&0x02 != 0,
		Vendor:              trimField(b[8:16]),
		Product:             trimField(b[16:32]),
		Revision:            trimField(b[32:36]),
	}, nil
}

// trimField returns an ASCII field without its space or NUL padding.
func trimField(b []byte) string {
	return strings.Trim(string(b), " \x00")
}
