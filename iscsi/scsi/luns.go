package scsi

// ParseReportLUNs decodes REPORT LUNS parameter data (SPC-4 §6.33.2): the
// 8-byte LUNs, raw and big-endian as SAM-5 §4.7 lays them out. When the
// LUN LIST LENGTH asks for more than b holds, the *TruncatedError's Need is
// the allocation length to retry with. A list length that is not a multiple
// of 8 is a *FieldError.
func ParseReportLUNs(b []byte) ([]uint64, error) {
	const what = "REPORT LUNS parameter data"
	if err := truncated(what, b, 8); err != nil {
		return nil, err
	}
	n := be.Uint32(b) // LUN LIST LENGTH; bytes 4-7 reserved
	if n%8 != 0 {
		return nil, &FieldError{What: what, Field: "LUN LIST LENGTH", Offset: 0, Value: uint64(n),
			Reason: "not a multiple of 8"}
	}
	list, err := lengthPrefixed(what, b, 8, uint64(n))
	if err != nil {
		return nil, err
	}
	luns := make([]uint64, len(list)/8)
	for i := range luns {
		luns[i] = be.Uint64(list[8*i:])
	}
	return luns, nil
}

// LUNNumber decodes a single-level LUN (SAM-5 §4.7) in peripheral device
// addressing with bus identifier 0 (numbers 0-255) or flat space addressing
// (0-16383), the two methods iSCSI targets use. ok is false for other
// addressing methods and for multi-level LUNs.
func LUNNumber(lun uint64) (n uint16, ok bool) {
	if lun&0x0000FFFFFFFFFFFF != 0 { // second to fourth levels
		return 0, false
	}
	hi := uint16(lun >> 48)
	switch hi >> 14 { // ADDRESS METHOD
	case 0: // peripheral device addressing
		if hi>>8 != 0 { // BUS IDENTIFIER
			return 0, false
		}
		return hi & 0xFF, true
	case 1: // flat space addressing
		return hi & 0x3FFF, true
	}
	return 0, false
}

// AppendReportLUNs appends REPORT LUNS parameter data listing luns, the
// inverse of ParseReportLUNs for tests and fake targets. More LUNs than the
// 32-bit LUN LIST LENGTH can count is a *LimitError.
func AppendReportLUNs(b []byte, luns []uint64) ([]byte, error) {
	const maxLUNs = 0xFFFFFFFF / 8
	if uint64(len(luns)) > maxLUNs {
		return b, &LimitError{What: "REPORT LUNS parameter data", Field: "LUN LIST LENGTH",
			Value: uint64(len(luns)), Limit: maxLUNs}
	}
	b = be.AppendUint32(b, uint32(8*len(luns))) // LUN LIST LENGTH
	b = append(b, 0, 0, 0, 0)                   // reserved
	for _, l := range luns {
		b = be.AppendUint64(b, l)
	}
	return b, nil
}
