package scsi

import "strings"

// ModePage is a mode page code, byte 0 bits 5:0 of a mode page (SPC-4
// §7.5, SBC-3 §6.4).
type ModePage uint8

// Mode pages.
const (
	ModePageCaching ModePage = 0x08 // SBC-3 §6.4.5
	ModePageControl ModePage = 0x0A // SPC-4 §7.5.8 (named only)
	ModePageAll     ModePage = 0x3F // every page the device has
)

var modePageNames = map[ModePage]string{
	ModePageCaching: "Caching", ModePageControl: "Control", ModePageAll: "All Pages",
}

// String returns the name of the value, or "ModePage(0xNN)" for an unknown
// value.
func (p ModePage) String() string { return enumString(modePageNames, p, "ModePage") }

// Byte 1 bits of MODE SENSE(6) and (10) (SPC-4 §6.11, §6.12).
const bitDBD = 0x08 // DBD: return no block descriptors

// ModeSense6 returns a MODE SENSE(6) CDB for the current values of one
// page (SPC-4 §6.11), without block descriptors (DBD).
func ModeSense6(page ModePage, allocLen uint8) [6]byte {
	var c [6]byte
	c[0] = byte(OpModeSense6)
	c[1] = bitDBD
	c[2] = byte(page) & 0x3F // PC 00b (current values), PAGE CODE
	c[4] = allocLen          // ALLOCATION LENGTH
	return c
}

// ModeSense10 returns a MODE SENSE(10) CDB for the current values of one
// page (SPC-4 §6.12), without block descriptors (DBD).
func ModeSense10(page ModePage, allocLen uint16) [10]byte {
	var c [10]byte
	c[0] = byte(OpModeSense10)
	c[1] = bitDBD
	c[2] = byte(page) & 0x3F
	be.PutUint16(c[7:], allocLen) // ALLOCATION LENGTH
	return c
}

// SynchronizeCache10 returns a SYNCHRONIZE CACHE(10) CDB (SBC-3 §5.22), for
// devices that refuse the 16-byte form. blocks == 0 means to the end of the
// medium.
func SynchronizeCache10(lba uint32, blocks uint16, immed bool) [10]byte {
	var c [10]byte
	c[0] = byte(OpSynchronizeCache10)
	c[1] = flagIf(immed, 0x02) // IMMED
	be.PutUint32(c[2:], lba)
	be.PutUint16(c[7:], blocks) // NUMBER OF LOGICAL BLOCKS
	return c
}

// ModeParameters is the parameter data of MODE SENSE(6) or (10): the mode
// parameter header (SPC-4 §7.5.5) and the mode pages that follow the block
// descriptors. Pages aliases the parsed buffer.
type ModeParameters struct {
	MediumType uint8
	// DeviceSpecific is the DEVICE-SPECIFIC PARAMETER; for a direct-access
	// device (SBC-3 §6.4.1) bit 7 is WP and bit 4 DPOFUA.
	DeviceSpecific uint8
	Pages          []byte // the mode pages, back to back
}

// WriteProtect reports the WP bit of a direct-access device: the medium
// is write protected.
func (m ModeParameters) WriteProtect() bool { return m.DeviceSpecific&0x80 != 0 }

// DPOFUA reports the DPOFUA bit of a direct-access device: it honours the
// DPO and FUA bits of READ and WRITE.
func (m ModeParameters) DPOFUA() bool { return m.DeviceSpecific&0x10 != 0 }

// ParseModeSense6 decodes MODE SENSE(6) parameter data: a 4-byte header,
// block descriptors, then pages. Pages cut short by the allocation length
// are returned as far as they came; Page reports a page only when all of it
// is present.
func ParseModeSense6(b []byte) (ModeParameters, error) {
	const what = "MODE SENSE(6) parameter data"
	if err := truncated(what, b, 4); err != nil {
		return ModeParameters{}, err
	}
	// MODE DATA LENGTH counts the bytes after itself.
	return modeParameters(what, b, 4, int(b[0])+1, b[1], b[2], int(b[3]))
}

// ParseModeSense10 decodes MODE SENSE(10) parameter data: an 8-byte header,
// block descriptors, then pages; see ParseModeSense6.
func ParseModeSense10(b []byte) (ModeParameters, error) {
	const what = "MODE SENSE(10) parameter data"
	if err := truncated(what, b, 8); err != nil {
		return ModeParameters{}, err
	}
	return modeParameters(what, b, 8, int(be.Uint16(b))+2, b[2], b[3], int(be.Uint16(b[6:])))
}

// modeParameters returns the pages of b after a header of hdr bytes and
// bdLen bytes of block descriptors, within the total the header claims.
func modeParameters(what string, b []byte, hdr, total int, medium, dsp byte, bdLen int) (ModeParameters, error) {
	if total < hdr+bdLen {
		return ModeParameters{}, &FieldError{What: what, Field: "BLOCK DESCRIPTOR LENGTH", Offset: hdr - 2,
			Value: uint64(bdLen), Reason: "beyond the MODE DATA LENGTH"}
	}
	if err := truncated(what, b, hdr+bdLen); err != nil {
		return ModeParameters{}, err
	}
	return ModeParameters{MediumType: medium, DeviceSpecific: dsp, Pages: b[hdr+bdLen : min(total, len(b))]}, nil
}

// Page returns the first mode page with code page and, for a sub-page
// format page (SPF), sub-page subpage; the result includes the page's own
// header. A page cut short, or absent, is reported as not found.
func (m ModeParameters) Page(page ModePage, subpage uint8) ([]byte, bool) {
	b := m.Pages
	for len(b) >= 2 {
		code, spf := ModePage(b[0]&0x3F), b[0]&0x40 != 0
		var sub uint8
		var n int
		if spf {
			if len(b) < 4 {
				return nil, false
			}
			sub, n = b[1], 4+int(be.Uint16(b[2:]))
		} else {
			n = 2 + int(b[1])
		}
		if n > len(b) {
			return nil, false
		}
		if code == page && sub == subpage {
			return b[:n], true
		}
		b = b[n:]
	}
	return nil, false
}

// Caching is the Caching mode page, 0x08 (SBC-3 §6.4.5), as far as an
// initiator needs it.
type Caching struct {
	WCE bool // write cache enabled: a write may be acknowledged before it is durable
	RCD bool // read cache disabled
}

// ParseCachingPage decodes a Caching mode page as Page returns it. The page
// must be at least 3 bytes long (its WCE and RCD byte).
func ParseCachingPage(p []byte) (Caching, error) {
	const what = "Caching mode page"
	if err := truncated(what, p, 3); err != nil {
		return Caching{}, err
	}
	if ModePage(p[0]&0x3F) != ModePageCaching {
		return Caching{}, &FieldError{What: what, Field: "PAGE CODE", Offset: 0, Value: uint64(p[0] & 0x3F),
			Reason: "not the Caching page"}
	}
	return Caching{WCE: p[2]&0x04 != 0, RCD: p[2]&0x01 != 0}, nil
}

// CacheMode is what a direct-access logical unit says of its caching
// (the Caching page) and of forced unit access and write protection (the
// mode parameter header's device-specific parameter).
type CacheMode struct {
	// Known is set when the Caching page was read; otherwise WriteCache
	// and ReadCacheDisabled mean nothing.
	Known             bool
	WriteCache        bool // WCE
	ReadCacheDisabled bool // RCD
	DPOFUA            bool // FUA (and DPO) honoured
	WriteProtect      bool // WP
}

// Volatile reports whether writes may sit in a volatile cache: the cache
// is enabled, or it could not be read and is assumed to be (the safe way
// round: an unneeded SYNCHRONIZE CACHE costs little).
func (c CacheMode) Volatile() bool { return c.WriteCache || !c.Known }

// String describes the mode like Linux's sd driver does: "write cache:
// enabled, read cache: enabled, supports DPO and FUA", with
// ", write protected" when WP is set.
func (c CacheMode) String() string {
	var b strings.Builder
	if c.Known {
		b.WriteString("write cache: " + enabled(c.WriteCache) + ", read cache: " + enabled(!c.ReadCacheDisabled))
	} else {
		b.WriteString("write cache: unknown (assumed enabled), read cache: unknown")
	}
	if c.DPOFUA {
		b.WriteString(", supports DPO and FUA")
	} else {
		b.WriteString(", doesn't support DPO or FUA")
	}
	if c.WriteProtect {
		b.WriteString(", write protected")
	}
	return b.String()
}

func enabled(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}
