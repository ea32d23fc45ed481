package scsi

import (
	"bytes"
	"encoding/hex"
	"strconv"

	"github.com/gomp-dev/gomp/internal/safename"
)

// wwidMax mirrors multipath-tools' WWID_SIZE (128): a designator is cut to
// 128 bytes and the WWID to 127 characters.
const wwidMax = 128

// WWID returns the logical unit's World Wide Identifier as multipath-tools
// derives it from VPD page 0x83 (libmultipath/discovery.c, parse_vpd_pg83),
// so that our WWIDs match the names dm-multipath users already have.
//
// Only designators with association "logical unit" count. Among valid ones
// the highest priority wins, the first one on a tie:
//
//	priority  designator                          valid when
//	8         NAA 6, IEEE Registered Extended     ID is 16 bytes
//	7         NAA 5, IEEE Registered              ID is 8 bytes
//	6         NAA 2, IEEE Extended                ID is 8 bytes
//	4         EUI-64                              ID is 8, 12 or 16 bytes
//	3         SCSI name string                    starts "eui.", "naa." or "iqn."
//	2         T10 vendor ID                       ID is at least 8 bytes
//	1         NAA 3, Locally Assigned             ID is 8 bytes
//
// Other designator types, and other NAA values, are never chosen. The
// winner is formatted as:
//
//   - NAA: "3" + lowercase hex of the ID ("36001405…");
//   - EUI-64: "2" + lowercase hex of the ID;
//   - SCSI name string: "2" for "eui.", "3" for "naa.", "8" for "iqn.",
//     followed by the string after that 4-character prefix, up to its
//     first NUL; lowercased unless it is an iqn name
//     ("naa.6001405ABC" → "36001405abc", "iqn.2003-01.org:x" →
//     "82003-01.org:x");
//   - T10 vendor ID: "1" + the ID with every run of spaces replaced by one
//     "_", except a run at the very end, which is dropped, then cut at the
//     first NUL ("IET     00010001\x00…" → "1IET_00010001").
//
// Designators longer than 128 bytes are cut to 128 first, and the result to
// 127 characters. ok is false when no designator qualifies.
//
// The target chooses these bytes, and a WWID names files, log and sd_notify
// fields, metric labels and terminal output, so the result goes through
// safename.Name last (as udev sanitizes the ID_SERIAL multipath-tools
// reads): every byte outside [A-Za-z0-9+,-.:=@_] becomes "_". NAA and
// EUI-64 WWIDs (hex) and iqn/eui/naa names are unchanged by it; a T10 or
// SCSI name designator holding "/", a line break, an escape sequence, "#"
// or non-ASCII bytes is not.
func WWID(ds []Designator) (wwid string, ok bool) {
	raw, ok := RawWWID(ds)
	return safename.Name(raw), ok
}

// RawWWID is WWID before the name rule: the designator's text as the
// device sent it, cut to multipath-tools' length. It is for telling the
// user what a device sent (escape it before printing); names use WWID.
func RawWWID(ds []Designator) (wwid string, ok bool) {
	best, prio := -1, 0
	for i, d := range ds {
		if p := wwidPriority(d); p > prio {
			best, prio = i, p
		}
	}
	if best < 0 {
		return "", false
	}
	s := formatWWID(ds[best])
	if len(s) >= wwidMax {
		s = s[:wwidMax-1]
	}
	return s, true
}

// wwidPriority returns the designator's rank under multipath-tools' rule,
// or 0 when it cannot name the logical unit.
func wwidPriority(d Designator) int {
	if d.Association != AssocLogicalUnit {
		return 0
	}
	n := len(d.ID)
	switch d.Type {
	case DesigNAA:
		return naaPriority(d.NAA(), n)
	case DesigEUI64:
		if n == 8 || n == 12 || n == 16 {
			return 4
		}
	case DesigSCSIName:
		if n >= 4 && scsiNamePrefix(d.ID) != 0 {
			return 3
		}
	case DesigT10VendorID:
		if n >= 8 {
			return 2
		}
	}
	return 0
}

func naaPriority(naa NAA, n int) int {
	switch {
	case naa == NAAIEEERegisteredExtended && n == 16:
		return 8
	case naa == NAAIEEERegistered && n == 8:
		return 7
	case naa == NAAIEEEExtended && n == 8:
		return 6
	case naa == NAALocallyAssigned && n == 8:
		return 1
	}
	return 0
}

// scsiNamePrefix maps the name's prefix to the WWID type digit.
func scsiNamePrefix(id []byte) byte {
	switch {
	case bytes.HasPrefix(id, []byte("eui.")):
		return '2'
	case bytes.HasPrefix(id, []byte("naa.")):
		return '3'
	case bytes.HasPrefix(id, []byte("iqn.")):
		return '8'
	}
	return 0
}

func formatWWID(d Designator) string {
	id := d.ID
	if len(id) > wwidMax {
		id = id[:wwidMax]
	}
	switch d.Type {
	case DesigSCSIName:
		return scsiNameWWID(id)
	case DesigT10VendorID:
		return t10WWID(id)
	}
	return strconv.Itoa(int(d.Type)) + hex.EncodeToString(id) // NAA, EUI-64
}

func scsiNameWWID(id []byte) string {
	digit := scsiNamePrefix(id)
	name := cutNUL(id[4:])
	if digit != '8' {
		name = bytes.ToLower(name)
	}
	return string(digit) + string(name)
}

// t10WWID collapses runs of spaces to "_" (none after a trailing run) and
// then cuts at the first NUL, in that order, as multipath-tools does.
func t10WWID(id []byte) string {
	out := make([]byte, 0, 1+len(id))
	out = append(out, '1')
	for len(id) > 0 {
		i := bytes.IndexByte(id, ' ')
		if i < 0 {
			out = append(out, id...)
			break
		}
		out = append(out, id[:i]...)
		id = bytes.TrimLeft(id[i:], " ")
		if len(id) > 0 {
			out = append(out, '_')
		}
	}
	return string(cutNUL(out))
}

func cutNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
