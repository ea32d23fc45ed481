package scsi

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseReportLUNs(t *testing.T) {
	luns, err := ParseReportLUNs(reportLUNs)
	require.NoError(t, err)
	require.Equal(t, []uint64{0, 0x4101000000000000}, luns)
	requirePrefixes(t, reportLUNs, len(reportLUNs), ParseReportLUNs, nil)

	enc, err := AppendReportLUNs(nil, luns)
	require.NoError(t, err)
	require.Equal(t, reportLUNs, enc)

	empty, err := ParseReportLUNs([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	require.NoError(t, err)
	require.Empty(t, empty)
}

func TestParseReportLUNsErrors(t *testing.T) {
	_, err := ParseReportLUNs([]byte{0, 0, 0, 0x0C, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "LUN LIST LENGTH", fe.Field)

	// A LUN LIST LENGTH of 4 GiB-8 in a 16-byte buffer allocates nothing
	// and says how much to ask for.
	_, err = ParseReportLUNs([]byte{0xFF, 0xFF, 0xFF, 0xF8, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	var te *TruncatedError
	require.ErrorAs(t, err, &te)
	require.True(t, errors.Is(err, ErrTruncated))
	require.Equal(t, 8+0xFFFFFFF8, te.Need)
}

func TestLUNNumber(t *testing.T) {
	tests := []struct {
		lun  uint64
		n    uint16
		ok   bool
		name string
	}{
		{0x0000000000000000, 0, true, "peripheral 0"},
		{0x00FF000000000000, 255, true, "peripheral 255"},
		{0x4101000000000000, 257, true, "flat 257"},
		{0x7FFF000000000000, 0x3FFF, true, "flat max"},
		{0x0101000000000000, 0, false, "peripheral, bus 1"},
		{0x0001000100000000, 0, false, "two levels"},
		{0x8001000000000000, 0, false, "logical unit addressing"},
		{0xC100000000000000, 0, false, "extended addressing"},
		{0x0000000000000001, 0, false, "stray low byte"},
	}
	for _, tt := range tests {
		n, ok := LUNNumber(tt.lun)
		require.Equal(t, tt.ok, ok, tt.name)
		require.Equal(t, tt.n, n, tt.name)
	}
}
