package scsi

// Golden inputs shared by the parser tests and the fuzz seeds. The tgt ones
// reproduce what tgtd (fujita/tgt usr/spc.c, sbc.c) returns for LUN 1 of
// target id 1 with default settings.

// inquiryTGT: tgt's standard INQUIRY data (spc_inquiry, 66 bytes).
var inquiryTGT = cat(
	[]byte{
		0x00, // PERIPHERAL QUALIFIER 0, DEVICE TYPE 0 (disk)
		0x00, // RMB 0
		0x05, // VERSION: SPC-3
		0x12, // HISUP, RESPONSE DATA FORMAT 2
		0x3D, // ADDITIONAL LENGTH 61
		0x00, // SCCS ACC TPGS 3PC PROTECT all 0
		0x00, // ENCSERV MULTIP 0
		0x02, // CMDQUE
	},
	pad("IET", 8, ' '),           // T10 VENDOR IDENTIFICATION
	pad("VIRTUAL-DISK", 16, ' '), // PRODUCT IDENTIFICATION
	pad("0001", 4, ' '),          // PRODUCT REVISION LEVEL
	make([]byte, 22),             // vendor specific, reserved
	[]byte{
		0x04, 0xC0, // VERSION DESCRIPTOR: SBC-3
		0x09, 0x60, // VERSION DESCRIPTOR: iSCSI
		0x03, 0x00, // VERSION DESCRIPTOR: SPC-3
		0x00, 0x00, // unused
	},
)

// inquiryALUA: a 36-byte answer from an ALUA array (LIO-shaped).
var inquiryALUA = cat(
	[]byte{
		0x00, // PERIPHERAL QUALIFIER 0, DEVICE TYPE 0
		0x00, // RMB 0
		0x06, // VERSION: SPC-4
		0x32, // NORMACA, HISUP, RESPONSE DATA FORMAT 2
		0x1F, // ADDITIONAL LENGTH 31
		0x19, // TPGS 01b (implicit), 3PC, PROTECT
		0x10, // MULTIP
		0x02, // CMDQUE
	},
	pad("LIO-ORG", 8, ' '), // T10 VENDOR IDENTIFICATION
	pad("block1", 16, ' '), // PRODUCT IDENTIFICATION
	pad("4.0", 4, 0),       // PRODUCT REVISION LEVEL, NUL padded
)

// vpd00TGT: tgt's Supported VPD Pages page.
var vpd00TGT = []byte{
	0x00,       // PERIPHERAL
	0x00,       // PAGE CODE
	0x00, 0x06, // PAGE LENGTH
	0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2, // supported pages
}

// vpd80TGT: tgt's Unit Serial Number page: "beaf" tid lun, right aligned
// in 36 space-filled bytes (update_vpd_80).
var vpd80TGT = cat(
	[]byte{0x00, 0x80, 0x00, 0x24}, // PERIPHERAL, PAGE CODE, PAGE LENGTH 36
	[]byte("                              beaf11"),
)

// vpd83TGT: tgt's Device Identification page (update_vpd_83) for scsi_id
// "IET     00010001": a T10 vendor ID, an NAA 3 built from tid<<32|lun, and
// an NAA 6 built from the hex digits of the scsi_id.
var vpd83TGT = cat(
	[]byte{0x00, 0x83, 0x00, 0x48}, // PERIPHERAL, PAGE CODE, PAGE LENGTH 72
	[]byte{
		0x02, // PROTOCOL IDENTIFIER 0, CODE SET ASCII
		0x01, // PIV 0, ASSOCIATION LU, TYPE T10 vendor ID
		0x00, // reserved
		0x24, // DESIGNATOR LENGTH 36
	},
	pad("IET     00010001", 36, 0), // scsi_id, NUL padded by strncpy
	[]byte{
		0x01, 0x03, 0x00, 0x08, // binary, LU, NAA, length 8
		0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // NAA 3: tid 1, lun 1
		0x01, 0x03, 0x00, 0x10, // binary, LU, NAA, length 16
		0x60, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // NAA 6, then the
		0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, // scsi_id's hex digits
	},
)

// vpd83Multi: an ALUA array's page with LU, target port and target device
// designators (LIO-shaped).
var vpd83Multi = cat(
	[]byte{0x00, 0x83, 0x00, 0x98}, // PERIPHERAL, PAGE CODE, PAGE LENGTH 152
	[]byte{
		0x01, 0x03, 0x00, 0x10, // binary, LU, NAA, length 16
		0x60, 0x01, 0x40, 0x5A, 0xBC, 0xDE, 0xF0, 0x12, // NAA 6 IEEE Registered Extended
		0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0, 0x12,
		0x02, 0x01, 0x00, 0x18, // ASCII, LU, T10 vendor ID, length 24
	},
	[]byte("LIO-ORG block1:abcdef012"),
	[]byte{
		0x51, 0x94, 0x00, 0x04, // iSCSI, binary; PIV, target port, relative target port
		0x00, 0x00, 0x00, 0x02, // RELATIVE TARGET PORT IDENTIFIER 2
		0x51, 0x95, 0x00, 0x04, // iSCSI, binary; PIV, target port, target port group
		0x00, 0x00, 0x00, 0x07, // TARGET PORT GROUP 7
		0x01, 0x06, 0x00, 0x04, // binary, LU, logical unit group
		0x00, 0x00, 0x00, 0x01, // LOGICAL UNIT GROUP 1
		0x53, 0x98, 0x00, 0x28, // iSCSI, UTF-8; PIV, target port, SCSI name, length 40
	},
	pad("iqn.2003-01.org.linux-iscsi.h:t1,t,0x1", 40, 0),
	[]byte{
		0x53, 0xA8, 0x00, 0x20, // iSCSI, UTF-8; PIV, target device, SCSI name, length 32
	},
	pad("iqn.2003-01.org.linux-iscsi.h:t1", 32, 0),
)

// vpdB0: a Block Limits page (SBC-3, 60-byte body) with thin provisioning.
var vpdB0 = []byte{
	0x00, 0xB0, 0x00, 0x3C, // PERIPHERAL, PAGE CODE, PAGE LENGTH 60
	0x01,       // WSNZ
	0x80,       // MAXIMUM COMPARE AND WRITE LENGTH 128
	0x00, 0x08, // OPTIMAL TRANSFER LENGTH GRANULARITY 8
	0x00, 0x00, 0x40, 0x00, // MAXIMUM TRANSFER LENGTH 16384
	0x00, 0x00, 0x08, 0x00, // OPTIMAL TRANSFER LENGTH 2048
	0x00, 0x00, 0x00, 0x00, // MAXIMUM PREFETCH LENGTH
	0xFF, 0xFF, 0xFF, 0xFF, // MAXIMUM UNMAP LBA COUNT (no limit)
	0x00, 0x00, 0x01, 0x00, // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT 256
	0x00, 0x00, 0x00, 0x08, // OPTIMAL UNMAP GRANULARITY 8
	0x80, 0x00, 0x00, 0x03, // UGAVALID, UNMAP GRANULARITY ALIGNMENT 3
	0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, // MAXIMUM WRITE SAME LENGTH 4 Mi
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // SBC-4 atomic fields
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
}

// vpdB2TGT: tgt's Logical Block Provisioning page with thin provisioning.
var vpdB2TGT = []byte{
	0x00, 0xB2, 0x00, 0x04, // PERIPHERAL, PAGE CODE, PAGE LENGTH 4
	0x00, // THRESHOLD EXPONENT
	0xE4, // LBPU, LBPWS, LBPWS10, LBPRZ
	0x02, // PROVISIONING TYPE: thin
	0x00, // THRESHOLD PERCENTAGE
}

// readCap16: READ CAPACITY(16) data for 1 GiB of 512-byte blocks on 4 KiB
// physical blocks, type 2 protection, thin provisioned.
var readCap16 = cat(
	[]byte{
		0x00, 0x00, 0x00, 0x00, 0x00, 0x1F, 0xFF, 0xFF, // RETURNED LOGICAL BLOCK ADDRESS
		0x00, 0x00, 0x02, 0x00, // LOGICAL BLOCK LENGTH IN BYTES 512
		0x03, // P_TYPE 1, PROT_EN
		0x03, // P_I_EXPONENT 0, LBPPBE 3
		0xC1, // LBPME, LBPRZ, LOWEST ALIGNED LBA high bits
		0x23, // LOWEST ALIGNED LBA low byte
	},
	make([]byte, 16), // reserved
)

// reportLUNs: two LUNs, 0 (peripheral) and 257 (flat space).
var reportLUNs = []byte{
	0x00, 0x00, 0x00, 0x10, // LUN LIST LENGTH 16
	0x00, 0x00, 0x00, 0x00, // reserved
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 0, peripheral addressing
	0x41, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // LUN 257, flat space addressing
}

// rtpgGroups is the port group data both RTPG goldens carry.
var rtpgGroups = []byte{
	0x80,       // PREF, ASYMMETRIC ACCESS STATE active/optimized
	0x8F,       // T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP
	0x00, 0x01, // TARGET PORT GROUP 1
	0x00,                   // reserved
	0x02,                   // STATUS CODE: altered by implicit ALUA
	0x00,                   // vendor specific
	0x01,                   // TARGET PORT COUNT 1
	0x00, 0x00, 0x00, 0x01, // obsolete, RELATIVE TARGET PORT IDENTIFIER 1
	0x01,       // ASYMMETRIC ACCESS STATE active/non-optimized
	0x8F,       // T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP
	0x00, 0x02, // TARGET PORT GROUP 2
	0x00,                   // reserved
	0x00,                   // STATUS CODE: no status
	0x00,                   // vendor specific
	0x02,                   // TARGET PORT COUNT 2
	0x00, 0x00, 0x00, 0x02, // obsolete, RELATIVE TARGET PORT IDENTIFIER 2
	0x00, 0x00, 0x00, 0x03, // obsolete, RELATIVE TARGET PORT IDENTIFIER 3
}

// rtpgExtended: two groups in the extended header format.
var rtpgExtended = cat(
	[]byte{
		0x00, 0x00, 0x00, 0x20, // RETURN DATA LENGTH 32
		0x10,       // FORMAT TYPE 001b
		0x3C,       // IMPLICIT TRANSITION TIME 60 s
		0x00, 0x00, // reserved
	},
	rtpgGroups,
)

// rtpgLengthOnly: the same groups in the length-only format.
var rtpgLengthOnly = cat(
	[]byte{0x00, 0x00, 0x00, 0x1C}, // RETURN DATA LENGTH 28
	rtpgGroups,
)

// senseFixedTGT: tgt's fixed format sense for an invalid CDB field
// (sense_data_build).
var senseFixedTGT = []byte{
	0x70,                   // VALID 0, RESPONSE CODE current, fixed
	0x00,                   // obsolete
	0x05,                   // SENSE KEY ILLEGAL REQUEST
	0x00, 0x00, 0x00, 0x00, // INFORMATION
	0x0A,                   // ADDITIONAL SENSE LENGTH 10
	0x00, 0x00, 0x00, 0x00, // COMMAND-SPECIFIC INFORMATION
	0x24,             // ADDITIONAL SENSE CODE
	0x00,             // ADDITIONAL SENSE CODE QUALIFIER
	0x00,             // FIELD REPLACEABLE UNIT CODE
	0x00, 0x00, 0x00, // SKSV, SENSE KEY SPECIFIC
}

// senseFixedInfo: a medium error with INFORMATION and a field pointer.
var senseFixedInfo = []byte{
	0xF0,                   // VALID, RESPONSE CODE current, fixed
	0x00,                   // obsolete
	0x23,                   // ILI, SENSE KEY MEDIUM ERROR
	0x00, 0x00, 0x12, 0x34, // INFORMATION: LBA 0x1234
	0x0A,                   // ADDITIONAL SENSE LENGTH 10
	0x00, 0x00, 0x00, 0x05, // COMMAND-SPECIFIC INFORMATION
	0x11,             // ADDITIONAL SENSE CODE: UNRECOVERED READ ERROR
	0x00,             // ADDITIONAL SENSE CODE QUALIFIER
	0x07,             // FIELD REPLACEABLE UNIT CODE
	0x80, 0x40, 0x00, // SKSV, progress/field pointer 0x4000
}

// senseDescriptorTGT: tgt's descriptor format sense with an information
// descriptor (sense_data_build_with_info).
var senseDescriptorTGT = []byte{
	0x72,             // RESPONSE CODE current, descriptor
	0x03,             // SENSE KEY MEDIUM ERROR
	0x11,             // ADDITIONAL SENSE CODE
	0x00,             // ADDITIONAL SENSE CODE QUALIFIER
	0x00, 0x00, 0x00, // reserved
	0x0C,                                           // ADDITIONAL SENSE LENGTH 12
	0x00,                                           // DESCRIPTOR TYPE information
	0x0A,                                           // ADDITIONAL LENGTH 10
	0x80,                                           // VALID
	0x00,                                           // reserved
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, // INFORMATION
}

// senseDescriptorDeferred: a deferred NOT READY with progress, FRU and a
// block commands descriptor, then a descriptor of unknown type.
var senseDescriptorDeferred = []byte{
	0x73,             // RESPONSE CODE deferred, descriptor
	0x02,             // SENSE KEY NOT READY
	0x04,             // ADDITIONAL SENSE CODE
	0x04,             // FORMAT IN PROGRESS
	0x00, 0x00, 0x00, // reserved
	0x18,                   // ADDITIONAL SENSE LENGTH 24
	0x02, 0x06, 0x00, 0x00, // sense key specific descriptor
	0x80, 0x80, 0x00, 0x00, // SKSV, PROGRESS INDICATION 0x8000
	0x03, 0x02, 0x00, 0x09, // FRU descriptor: FRU 9
	0x05, 0x02, 0x00, 0x20, // block commands descriptor: ILI
	0x80, 0x02, 0xAA, 0xBB, // vendor specific descriptor, ignored
}
