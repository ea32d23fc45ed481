package scsi

import (
	"math"
	"math/bits"
)

// Capacity is READ CAPACITY(16) parameter data (SBC-3 §5.16.2).
type Capacity struct {
	LastLBA     uint64 // RETURNED LOGICAL BLOCK ADDRESS: the last LBA
	BlockLength uint32 // LOGICAL BLOCK LENGTH IN BYTES, never zero
	// ProtectionType is P_TYPE; with ProtEn set the device uses protection
	// type ProtectionType+1.
	ProtectionType uint8
	ProtEn         bool
	PIExponent     uint8 // P_I_EXPONENT
	// LBPPBE: 2^LBPPBE logical blocks per physical block.
	LBPPBE           uint8
	LBPME            bool   // logical block provisioning management enabled
	LBPRZ            bool   // unmapped blocks read as zero
	LowestAlignedLBA uint16 // LOWEST ALIGNED LOGICAL BLOCK ADDRESS (14 bits)
}

// Blocks returns the number of logical blocks, LastLBA+1, saturating at
// math.MaxUint64.
func (c Capacity) Blocks() uint64 {
	if c.LastLBA == math.MaxUint64 {
		return math.MaxUint64
	}
	return c.LastLBA + 1
}

// Bytes returns the capacity in bytes, saturating at math.MaxUint64.
func (c Capacity) Bytes() uint64 {
	hi, lo := bits.Mul64(c.Blocks(), uint64(c.BlockLength))
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// PhysicalBlockLength returns the physical block size in bytes,
// BlockLength << LBPPBE.
func (c Capacity) PhysicalBlockLength() uint64 {
	return uint64(c.BlockLength) << (c.LBPPBE & 0x0F)
}

// readCapacity16MinLen covers every defined field; the 16 bytes after them
// are reserved.
const readCapacity16MinLen = 16

// ParseReadCapacity16 decodes READ CAPACITY(16) parameter data. It needs
// the first 16 of the 32 bytes; a zero LOGICAL BLOCK LENGTH is a
// *FieldError, so that callers may divide by BlockLength.
func ParseReadCapacity16(b []byte) (Capacity, error) {
	const what = "READ CAPACITY(16) parameter data"
	if err := truncated(what, b, readCapacity16MinLen); err != nil {
		return Capacity{}, err
	}
	c := Capacity{
		LastLBA:          be.Uint64(b[0:]),
		BlockLength:      be.Uint32(b[8:]),
		ProtectionType:   b[12] >> 1 & 7,
		ProtEn:           b[12]&0x01 != 0,
		PIExponent:       b[13] >> 4,
		LBPPBE:           b[13] & 0x0F,
		LBPME:            b[14]&0x80 != 0,
		LBPRZ:            b[14]&0x40 != 0,
		LowestAlignedLBA: be.Uint16(b[14:]) & 0x3FFF,
	}
	if c.BlockLength == 0 {
		return Capacity{}, &FieldError{What: what, Field: "LOGICAL BLOCK LENGTH IN BYTES", Offset: 8,
			Reason: "zero"}
	}
	return c, nil
}

// AppendBinary appends c as 32 bytes of READ CAPACITY(16) parameter data,
// for tests and fake targets. Fields are masked to their widths.
func (c Capacity) AppendBinary(b []byte) ([]byte, error) {
	b = be.AppendUint64(b, c.LastLBA)
	b = be.AppendUint32(b, c.BlockLength)
	b = append(b, (c.ProtectionType&7)<<1|flagIf(c.ProtEn, 0x01), // P_TYPE, PROT_EN
		c.PIExponent<<4|c.LBPPBE&0x0F) // P_I_EXPONENT, LBPPBE
	b = be.AppendUint16(b, uint16(flagIf(c.LBPME, 0x80)|flagIf(c.LBPRZ, 0x40))<<8|
		c.LowestAlignedLBA&0x3FFF) // LBPME, LBPRZ, LOWEST ALIGNED LBA
	return append(b, make([]byte, 16)...), nil // reserved
}
