package iscsitest

import (
	"encoding/binary"
	"fmt"
)

// Standard INQUIRY identification (SPC-4 §6.6.2).
const (
	inquiryVendor   = "GOMP    "
	inquiryProduct  = "SCRIPTED TARGET "
	inquiryRevision = "0001"
)

// vpdPages are the supported VPD pages, in ascending order.
var vpdPages = []byte{0x00, 0x80, 0x83, 0xb0, 0xb2}

// inquiry answers standard INQUIRY data or a VPD page (SPC-4 §6.6).
func inquiry(x *cdbCtx) scsiResult {
	evpd, page, alloc := x.cdb[1]&0x01 != 0, x.cdb[2], cdbField(x.cdb, 3, 2)
	switch {
	case !evpd && page != 0, evpd && x.lun == nil:
		return checkCondition(senseIllegalRequest, 0x24, 0x00)
	case !evpd:
		return good(trim(standardInquiry(x.lun != nil), alloc))
	}
	var body []byte
	switch page {
	case 0x00:
		body = vpdPages
	case 0x80:
		body = []byte(x.lun.Serial())
	case 0x83:
		body = deviceIdentification(x)
	case 0xb0:
		body = blockLimits(x.lun)
	case 0xb2:
		body = provisioning(x.lun)
	default:
		return checkCondition(senseIllegalRequest, 0x24, 0x00)
	}
	b := []byte{0x00, page, 0, 0}
	binary.BigEndian.PutUint16(b[2:], uint16(len(body)))
	return good(trim(append(b, body...), alloc))
}

// standardInquiry is the 36-byte standard data: a direct-access block
// device claiming SPC-4 with implicit ALUA and command queuing. Without a
// LUN the peripheral qualifier says "not connected" (0x7f).
func standardInquiry(present bool) []byte {
	b := make([]byte, 8, 36)
	if !present {
		b[0] = 0x7f
	}
	b[2] = 0x06        // VERSION: SPC-4
	b[3] = 0x10 | 0x02 // HISUP, RESPONSE DATA FORMAT 2
	b[4] = 36 - 5      // ADDITIONAL LENGTH
	b[5] = 0x10        // TPGS: implicit ALUA
	b[7] = 0x02        // CMDQUE
	b = append(b, inquiryVendor...)
	b = append(b, inquiryProduct...)
	return append(b, inquiryRevision...)
}

// deviceIdentification lists the designators of VPD page 0x83 (SPC-4
// §7.8.6): the LUN's NAA 6 name, the target port group, the relative
// target port, and the target port's SCSI name string.
func deviceIdentification(x *cdbCtx) []byte {
	naa := x.lun.NAA()
	b := designator(nil, 0x01, 0x03, naa[:]) // binary; LU; NAA
	var u16 [4]byte
	binary.BigEndian.PutUint16(u16[2:], x.c.cfg.PortGroup)
	b = designator(b, 0x51, 0x95, u16[:]) // iSCSI, binary; PIV, port; target port group
	binary.BigEndian.PutUint16(u16[2:], x.c.cfg.RelativePort)
	b = designator(b, 0x51, 0x94, u16[:]) // relative target port
	name := []byte(fmt.Sprintf("%s,t,0x%04x", x.c.cfg.Name, x.c.cfg.PortGroup))
	name = append(name, make([]byte, 4-len(name)%4)...) // NUL-terminated, padded to 4
	return designator(b, 0x53, 0x98, name)              // iSCSI, UTF-8; PIV, port; SCSI name string
}

func designator(b []byte, codeSet, assocType byte, id []byte) []byte {
	b = append(b, codeSet, assocType, 0, byte(len(id)))
	return append(b, id...)
}

// blockLimits is the body of VPD page 0xB0 (SBC-4 §6.6.4): WSNZ, maximum
// and optimal transfer lengths, and for thin LUNs the UNMAP and WRITE SAME
// limits.
func blockLimits(l *LUN) []byte {
	b := make([]byte, 0x3c)
	b[0] = 0x01 // WSNZ: WRITE SAME with 0 blocks is not supported
	maxBlocks := uint32(maxTransfer / l.blockSize)
	binary.BigEndian.PutUint32(b[4:], maxBlocks) // MAXIMUM TRANSFER LENGTH
	binary.BigEndian.PutUint32(b[8:], maxBlocks) // OPTIMAL TRANSFER LENGTH
	if l.Thin {
		binary.BigEndian.PutUint32(b[16:], 1<<22)                         // MAXIMUM UNMAP LBA COUNT
		binary.BigEndian.PutUint32(b[20:], 256)                           // MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT
		binary.BigEndian.PutUint32(b[24:], uint32(chunkSize)/l.blockSize) // OPTIMAL UNMAP GRANULARITY
		binary.BigEndian.PutUint64(b[32:], 1<<22)                         // MAXIMUM WRITE SAME LENGTH
	}
	return b
}

// provisioning is the body of VPD page 0xB2 (SBC-4 §6.6.6): for thin LUNs
// LBPU, LBPWS and LBPRZ, provisioning type thin.
func provisioning(l *LUN) []byte {
	b := make([]byte, 4)
	if l.Thin {
		b[1] = 0x80 | 0x40 | 0x04 // LBPU, LBPWS, LBPRZ
		b[2] = 0x02               // PROVISIONING TYPE: thin
	}
	return b
}
