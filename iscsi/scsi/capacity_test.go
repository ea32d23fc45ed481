package scsi

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseReadCapacity16(t *testing.T) {
	want := Capacity{LastLBA: 0x1FFFFF, BlockLength: 512, ProtectionType: 1, ProtEn: true,
		LBPPBE: 3, LBPME: true, LBPRZ: true, LowestAlignedLBA: 0x0123}
	got, err := ParseReadCapacity16(readCap16)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.EqualValues(t, 1<<21, got.Blocks())
	require.EqualValues(t, 1<<30, got.Bytes())
	require.EqualValues(t, 4096, got.PhysicalBlockLength())

	// Bytes 16-31 are reserved: prefixes of 16 bytes or more parse alike.
	requirePrefixes(t, readCap16, readCapacity16MinLen, ParseReadCapacity16,
		func(t *testing.T, n int, got Capacity) { require.Equal(t, want, got, "prefix %d", n) })

	enc, err := want.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, readCap16, enc)
}

func TestParseReadCapacity16ZeroBlockLength(t *testing.T) {
	in := append([]byte{}, readCap16...)
	in[10], in[11] = 0, 0
	_, err := ParseReadCapacity16(in)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, 8, fe.Offset)
}

func TestCapacitySaturates(t *testing.T) {
	c := Capacity{LastLBA: math.MaxUint64, BlockLength: 4096}
	require.Equal(t, uint64(math.MaxUint64), c.Blocks())
	require.Equal(t, uint64(math.MaxUint64), c.Bytes())
	c = Capacity{LastLBA: 1<<52 - 2, BlockLength: 4096} // largest that fits
	require.Equal(t, uint64(1<<64-4096), c.Bytes())
	c.LastLBA = 1<<52 - 1 // 2^64 bytes
	require.Equal(t, uint64(math.MaxUint64), c.Bytes())
}
