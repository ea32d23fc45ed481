package scsi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Fuzz targets, seeded from the golden inputs. Each parser must not panic
// on any input; what it accepts must survive encode and re-parse unchanged
// where an encoder exists.

func FuzzParseSense(f *testing.F) {
	for _, tt := range senseTests {
		f.Add(tt.in)
	}
	f.Add([]byte{0x72, 0x06, 0x2A, 0x06, 0, 0, 0, 0xFF, 0x00, 0xFF})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSense(b)
		if err != nil {
			return
		}
		_ = s.String()
		_ = s.Class()
		_, _ = s.Progress()
		enc, err := s.AppendBinary(nil)
		require.NoError(t, err, "parsed sense must encode: %+v", s)
		s2, err := ParseSense(enc)
		require.NoError(t, err)
		require.Equal(t, s, s2)
	})
}

func FuzzParseVPD83(f *testing.F) {
	f.Add(vpd83TGT)
	f.Add(vpd83Multi)
	f.Fuzz(func(t *testing.T, b []byte) {
		ds, err := ParseDeviceIdentification(b)
		if err != nil {
			return
		}
		checkWWID(t, ds)
		_, _ = TargetPortGroup(ds)
		_, _ = RelativeTargetPort(ds)
		for _, d := range ds {
			_ = d.String()
		}
		body, err := AppendDesignators(nil, ds)
		require.NoError(t, err)
		page := append([]byte{b[0], 0x83, byte(len(body) >> 8), byte(len(body))}, body...)
		ds2, err := ParseDeviceIdentification(page)
		require.NoError(t, err)
		require.Equal(t, ds, ds2)
	})
}

// checkWWID checks the shape every WWID has.
func checkWWID(t *testing.T, ds []Designator) {
	w, ok := WWID(ds)
	if !ok {
		require.Empty(t, w)
		return
	}
	require.NotEmpty(t, w)
	require.Less(t, len(w), wwidMax)
	require.Contains(t, "1238", w[:1])
	require.NotContains(t, w, "\x00")
}

func FuzzParseVPD(f *testing.F) {
	for _, b := range [][]byte{vpd00TGT, vpd80TGT, vpdB0, vpdB2TGT, vpd83TGT} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		switch VPDPage(b[1]) {
		case VPDSupportedPages:
			pages, err := ParseSupportedPages(b)
			if err == nil {
				require.Len(t, pages, int(b[2])<<8|int(b[3]))
			}
		case VPDUnitSerial:
			s, err := ParseUnitSerial(b)
			if err == nil {
				require.Equal(t, strings.Trim(s, " \x00"), s)
			}
		case VPDBlockLimits:
			l, err := ParseBlockLimits(b)
			if err == nil {
				require.Zero(t, l.UnmapGranularityAlignment>>31)
			}
		case VPDLogicalBlockProvisioning:
			p, err := ParseLogicalBlockProvisioning(b)
			if err == nil {
				require.Less(t, uint8(p.ProvisioningType), uint8(8))
			}
		case VPDDeviceIdentification:
			if ds, err := ParseDeviceIdentification(b); err == nil {
				checkWWID(t, ds)
			}
		}
	})
}

func FuzzParseReportLUNs(f *testing.F) {
	f.Add(reportLUNs)
	f.Add([]byte{0, 0, 0, 8, 0, 0, 0, 0, 0x80, 1, 2, 3, 4, 5, 6, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		luns, err := ParseReportLUNs(b)
		if err != nil {
			return
		}
		require.LessOrEqual(t, 8+8*len(luns), len(b))
		for _, l := range luns {
			if n, ok := LUNNumber(l); ok {
				require.Less(t, n, uint16(0x4000))
			}
		}
		enc, err := AppendReportLUNs(nil, luns)
		require.NoError(t, err)
		luns2, err := ParseReportLUNs(enc)
		require.NoError(t, err)
		require.Equal(t, luns, luns2)
	})
}

func FuzzParseRTPG(f *testing.F) {
	f.Add(rtpgExtended)
	f.Add(rtpgLengthOnly)
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := ParseTargetPortGroups(b)
		if err != nil {
			return
		}
		for _, pg := range g.Groups {
			_ = pg.State.String()
			_ = pg.Supported.String()
			_ = pg.Supported.Has(pg.State)
		}
		enc, err := g.AppendBinary(nil)
		require.NoError(t, err)
		g2, err := ParseTargetPortGroups(enc)
		require.NoError(t, err)
		require.Equal(t, g, g2)
	})
}

func FuzzParseInquiry(f *testing.F) {
	f.Add(inquiryTGT)
	f.Add(inquiryALUA)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseInquiry(b)
		if err != nil {
			return
		}
		require.LessOrEqual(t, d.DeviceType, DeviceType(0x1F))
		require.LessOrEqual(t, d.TPGS, TPGSBoth)
		for _, s := range []string{d.Vendor, d.Product, d.Revision} {
			require.Equal(t, strings.Trim(s, " \x00"), s)
		}
	})
}

func FuzzParseReadCapacity16(f *testing.F) {
	f.Add(readCap16)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseReadCapacity16(b)
		if err != nil {
			return
		}
		require.NotZero(t, c.BlockLength)
		_ = c.Bytes()
		enc, err := c.AppendBinary(nil)
		require.NoError(t, err)
		c2, err := ParseReadCapacity16(enc)
		require.NoError(t, err)
		require.Equal(t, c, c2)
	})
}
