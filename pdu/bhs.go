package pdu

import "encoding/binary"

// BHSLength is the size of the Basic Header Segment (RFC 7143 §11.2.1).
const BHSLength = 48

// Structural limits of the wire format.
const (
	// MaxAHSLength is the largest total AHS: TotalAHSLength is one byte
	// counting 4-byte words (RFC 7143 §11.2.1.4).
	MaxAHSLength = 255 * 4
	// MaxDataSegmentLength is the largest value of the 24-bit
	// DataSegmentLength field (RFC 7143 §11.2.1.5).
	MaxDataSegmentLength = 1<<24 - 1
	// DigestLength is the size of a CRC32C digest (RFC 7143 §12.1).
	DigestLength = 4
	// ReservedTag is the reserved task tag value 0xffffffff (RFC 7143 §11.2.1.8).
	ReservedTag = 0xffffffff
)

// BHS is a raw Basic Header Segment. Accessors read the fields common to all
// opcodes (RFC 7143 §11.2.1); opcode-specific fields are decoded by the PDU
// types.
type BHS [BHSLength]byte

// Opcode returns byte 0 bits 0-5.
func (h *BHS) Opcode() Opcode { return Opcode(h[0] & 0x3f) }

// Immediate returns the I bit (byte 0, 0x40).
func (h *BHS) Immediate() bool { return h[0]&0x40 != 0 }

// Final returns the F bit (byte 1, 0x80).
func (h *BHS) Final() bool { return h[1]&0x80 != 0 }

// TotalAHSLength returns the AHS length in bytes (byte 4 counts words).
func (h *BHS) TotalAHSLength() int { return int(h[4]) * 4 }

// DataSegmentLength returns the 24-bit length of bytes 5-7, without padding.
func (h *BHS) DataSegmentLength() int {
	return int(h[5])<<16 | int(h[6])<<8 | int(h[7])
}

// ITT returns the Initiator Task Tag (bytes 16-19).
func (h *BHS) ITT() uint32 { return binary.BigEndian.Uint32(h[16:]) }

// PaddedLength returns n rounded up to a multiple of 4 (RFC 7143 §11.2.1.5).
func PaddedLength(n int) int { return (n + 3) &^ 3 }

// be is the byte order of every multi-byte BHS field.
var be = binary.BigEndian

// putCommon writes byte 0 (I bit and opcode), byte 1 (flags), the AHS length
// in words and the 24-bit DataSegmentLength. The caller writes the rest.
func (h *BHS) putCommon(op Opcode, immediate bool, flags byte, ahsLen, dataLen int) {
	*h = BHS{}
	h[0] = byte(op)
	if immediate {
		h[0] |= 0x40
	}
	h[1] = flags
	h[4] = byte(ahsLen / 4)
	h[5], h[6], h[7] = byte(dataLen>>16), byte(dataLen>>8), byte(dataLen)
}

func (h *BHS) u32(off int) uint32      { return be.Uint32(h[off:]) }
func (h *BHS) u16(off int) uint16      { return be.Uint16(h[off:]) }
func (h *BHS) put32(off int, v uint32) { be.PutUint32(h[off:], v) }
func (h *BHS) put16(off int, v uint16) { be.PutUint16(h[off:], v) }
func (h *BHS) lun() LUN                { return LUN(be.Uint64(h[8:])) }
func (h *BHS) putLUN(l LUN)            { be.PutUint64(h[8:], uint64(l)) }
func (h *BHS) flag(mask byte) bool     { return h[1]&mask != 0 }
func flagIf(cond bool, mask byte) byte {
	if cond {
		return mask
	}
	return 0
}

// LUN is the 8-byte logical unit number field, kept in its raw SAM encoding
// (SAM-5 §4.7; RFC 7143 §11.3.4).
type LUN uint64

// MakeLUN encodes n with SAM's peripheral (n < 256) or flat space
// (256 <= n < 16384) addressing method (SAM-5 §4.7.7). Numbers from 16384
// up do not fit a single-level LUN and wrap modulo 16384.
func MakeLUN(n uint16) LUN {
	if n < 256 {
		return LUN(uint64(n) << 48)
	}
	return LUN(uint64(0x4000|n&0x3fff) << 48)
}

// Number decodes a single-level LUN in peripheral or flat addressing. ok is
// false for other addressing methods or multi-level LUNs.
func (l LUN) Number() (n uint16, ok bool) {
	if uint64(l)&0x0000ffffffffffff != 0 {
		return 0, false
	}
	hi := uint16(l >> 48)
	switch hi >> 14 {
	case 0: // peripheral device addressing, bus 0
		if hi>>8 != 0 {
			return 0, false
		}
		return hi & 0xff, true
	case 1: // flat space addressing
		return hi & 0x3fff, true
	}
	return 0, false
}
