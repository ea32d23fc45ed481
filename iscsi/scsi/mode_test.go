package scsi

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestModeCDBGolden(t *testing.T) {
	c6 := ModeSense6(ModePageCaching, 0xFF)
	require.Equal(t, []byte{
		0x1A,       // OPERATION CODE
		0x08,       // DBD
		0x08,       // PC 00b, PAGE CODE 0x08
		0x00,       // SUBPAGE CODE
		0xFF, 0x00, // ALLOCATION LENGTH, CONTROL
	}, c6[:])
	c10 := ModeSense10(ModePageCaching, 0x0200)
	require.Equal(t, []byte{
		0x5A,                         // OPERATION CODE
		0x08,                         // LLBAA 0, DBD 1
		0x08,                         // PC 00b, PAGE CODE 0x08
		0x00,                         // SUBPAGE CODE
		0x00, 0x00, 0x00, 0x02, 0x00, // reserved, ALLOCATION LENGTH 512
		0x00, // CONTROL
	}, c10[:])
	s10 := SynchronizeCache10(0x01020304, 0x0506, true)
	require.Equal(t, []byte{
		0x35,                   // OPERATION CODE
		0x02,                   // IMMED
		0x01, 0x02, 0x03, 0x04, // LOGICAL BLOCK ADDRESS
		0x00,       // GROUP NUMBER
		0x05, 0x06, // NUMBER OF LOGICAL BLOCKS
		0x00, // CONTROL
	}, s10[:])
	require.Equal(t, "MODE SENSE(6)", OpModeSense6.String())
	require.Equal(t, "Caching", ModePageCaching.String())
}

// cachingPage is a Caching mode page with WCE set and RCD clear, as LIO
// sends it with emulate_write_cache=1.
var cachingPage = []byte{
	0x08, 0x12, // PAGE CODE 0x08, PAGE LENGTH 18
	0x04,       // WCE 1, RCD 0
	0x00,       // retention priorities
	0xFF, 0xFF, // DISABLE PRE-FETCH TRANSFER LENGTH
	0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, // MINIMUM/MAXIMUM PRE-FETCH
	0x80, 0x14, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
}

// controlPage is a Control mode page (0x0A) that comes before the Caching
// page in an "all pages" answer.
var controlPage = []byte{0x0A, 0x0A, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0}

func modeSense10Data(dsp byte, bd []byte, pages ...[]byte) []byte {
	b := []byte{0, 0, 0x00, dsp, 0, 0, byte(len(bd) >> 8), byte(len(bd))}
	b = append(b, bd...)
	for _, p := range pages {
		b = append(b, p...)
	}
	be.PutUint16(b, uint16(len(b)-2))
	return b
}

func TestParseModeSense(t *testing.T) {
	shortBD := make([]byte, 8) // one short-LBA block descriptor
	tests := []struct {
		name      string
		ten       bool
		in        []byte
		want      CacheMode
		wantErr   error
		noCaching bool
	}{
		{"(6) WCE, DPOFUA", false, append([]byte{
			byte(3 + len(cachingPage)), // MODE DATA LENGTH
			0x00,                       // MEDIUM TYPE
			0x10,                       // DEVICE-SPECIFIC: DPOFUA
			0x00,                       // BLOCK DESCRIPTOR LENGTH
		}, cachingPage...), CacheMode{Known: true, WriteCache: true, DPOFUA: true}, nil, false},
		{"(10) write through, no FUA, block descriptor, control page first", true,
			modeSense10Data(0x00, shortBD, controlPage, []byte{0x08, 0x12, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
			CacheMode{Known: true, ReadCacheDisabled: true}, nil, false},
		{"(10) write protected, no caching page", true, modeSense10Data(0x90, nil, controlPage),
			CacheMode{DPOFUA: true, WriteProtect: true}, nil, true},
		{"(10) caching page cut by the allocation length", true,
			modeSense10Data(0x10, nil, cachingPage)[:8+5], CacheMode{DPOFUA: true}, nil, true},
		{"(6) header only", false, []byte{3, 0, 0x80, 0}, CacheMode{WriteProtect: true}, nil, true},
		{"(6) short header", false, []byte{3, 0, 0}, CacheMode{}, ErrTruncated, true},
		{"(10) short header", true, []byte{0, 6, 0, 0, 0, 0, 0}, CacheMode{}, ErrTruncated, true},
		{"(6) block descriptors beyond the data", false, []byte{3, 0, 0, 8}, CacheMode{}, ErrInvalidField, true},
		{"(10) block descriptors cut", true, []byte{0, 14, 0, 0, 0, 0, 0, 8, 0, 0}, CacheMode{}, ErrTruncated, true},
		{"(6) SPF page before caching", false, append([]byte{byte(3 + 6 + len(cachingPage)), 0, 0, 0,
			0x4A, 0x01, 0x00, 0x02, 0xAA, 0xBB}, cachingPage...), CacheMode{Known: true, WriteCache: true}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m ModeParameters
			var err error
			if tt.ten {
				m, err = ParseModeSense10(tt.in)
			} else {
				m, err = ParseModeSense6(tt.in)
			}
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			got := CacheMode{DPOFUA: m.DPOFUA(), WriteProtect: m.WriteProtect()}
			p, ok := m.Page(ModePageCaching, 0)
			require.Equal(t, !tt.noCaching, ok)
			if ok {
				c, err := ParseCachingPage(p)
				require.NoError(t, err)
				got.Known, got.WriteCache, got.ReadCacheDisabled = true, c.WCE, c.RCD
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseCachingPage(t *testing.T) {
	_, err := ParseCachingPage(cachingPage[:2])
	var te *TruncatedError
	require.True(t, errors.As(err, &te))
	_, err = ParseCachingPage(controlPage)
	require.ErrorIs(t, err, ErrInvalidField)
	c, err := ParseCachingPage(cachingPage)
	require.NoError(t, err)
	require.Equal(t, Caching{WCE: true}, c)
}

func TestCacheModeString(t *testing.T) {
	require.Equal(t, "write cache: enabled, read cache: enabled, supports DPO and FUA",
		CacheMode{Known: true, WriteCache: true, DPOFUA: true}.String())
	require.Equal(t, "write cache: disabled, read cache: disabled, doesn't support DPO or FUA, write protected",
		CacheMode{Known: true, ReadCacheDisabled: true, WriteProtect: true}.String())
	require.Equal(t, "write cache: unknown (assumed enabled), read cache: unknown, doesn't support DPO or FUA",
		CacheMode{}.String())
	require.True(t, CacheMode{}.Volatile())
	require.False(t, CacheMode{Known: true}.Volatile())
	require.True(t, CacheMode{Known: true, WriteCache: true}.Volatile())
}

func FuzzParseModeSense(f *testing.F) {
	f.Add(true, modeSense10Data(0x10, make([]byte, 8), controlPage, cachingPage))
	f.Add(false, append([]byte{byte(3 + len(cachingPage)), 0, 0x10, 0}, cachingPage...))
	f.Fuzz(func(t *testing.T, ten bool, b []byte) {
		var m ModeParameters
		var err error
		if ten {
			m, err = ParseModeSense10(b)
		} else {
			m, err = ParseModeSense6(b)
		}
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(m.Pages), len(b))
		for code := range ModePage(0x40) {
			p, ok := m.Page(code, 0)
			if !ok {
				continue
			}
			require.Equal(t, code, ModePage(p[0]&0x3F))
			if code == ModePageCaching {
				_, _ = ParseCachingPage(p)
			}
		}
	})
}
