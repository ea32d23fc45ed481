package scsi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

var senseTests = []struct {
	name string
	in   []byte
	want Sense
	str  string
}{
	{"fixed, tgt", senseFixedTGT, Sense{Key: KeyIllegalRequest, ASC: 0x24},
		"ILLEGAL REQUEST: INVALID FIELD IN CDB (24/00)"},
	{"fixed, information", senseFixedInfo, Sense{Key: KeyMediumError, ASC: 0x11, InfoValid: true,
		Information: 0x1234, CommandSpecific: 5, FRU: 7, ILI: true, SKSV: true,
		SenseKeySpecific: [3]byte{0x80, 0x40, 0x00}},
		"MEDIUM ERROR: UNRECOVERED READ ERROR (11/00), information 0x1234"},
	{"descriptor, tgt", senseDescriptorTGT, Sense{Descriptor: true, Key: KeyMediumError, ASC: 0x11,
		InfoValid: true, Information: 0x1234},
		"MEDIUM ERROR: UNRECOVERED READ ERROR (11/00), information 0x1234"},
	{"descriptor, deferred", senseDescriptorDeferred, Sense{Deferred: true, Descriptor: true,
		Key: KeyNotReady, ASC: 0x04, ASCQ: 0x04, SKSV: true, SenseKeySpecific: [3]byte{0x80, 0x80, 0x00},
		FRU: 9, ILI: true},
		"deferred NOT READY: LOGICAL UNIT NOT READY, FORMAT IN PROGRESS (04/04)"},
}

func TestParseSense(t *testing.T) {
	for _, tt := range senseTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSense(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.str, got.String())
			// Prefixes of 8 bytes or more are sense data cut short by the
			// transport: the key survives and no field is invented.
			requirePrefixes(t, tt.in, senseHeaderLen, ParseSense, func(t *testing.T, n int, got Sense) {
				require.Equal(t, tt.want.Key, got.Key, "prefix %d", n)
				requireSubset(t, tt.want, got, tt.name)
			})
		})
	}
}

func TestSenseRoundTrip(t *testing.T) {
	for _, tt := range senseTests {
		enc, err := tt.want.AppendBinary(nil)
		require.NoError(t, err, tt.name)
		got, err := ParseSense(enc)
		require.NoError(t, err, tt.name)
		require.Equal(t, tt.want, got, tt.name)
	}
	// tgt's 18-byte fixed sense is exactly what the encoder emits.
	enc, err := Sense{Key: KeyIllegalRequest, ASC: 0x24}.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, senseFixedTGT, enc)
	enc, err = senseTests[2].want.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, senseDescriptorTGT, enc)

	_, err = Sense{Information: 1 << 32}.AppendBinary(nil)
	require.ErrorIs(t, err, ErrLimit)
	_, err = Sense{CommandSpecific: 1 << 40}.AppendBinary(nil)
	require.ErrorIs(t, err, ErrLimit)
	_, err = Sense{Descriptor: true, Information: 1 << 40}.AppendBinary(nil)
	require.NoError(t, err)
}

func TestParseSenseEdges(t *testing.T) {
	// ADDITIONAL SENSE LENGTH shorter than the buffer: bytes past it are
	// not sense data.
	in := append([]byte{}, senseFixedTGT...)
	in[7] = 4 // ends after COMMAND-SPECIFIC INFORMATION
	got, err := ParseSense(in)
	require.NoError(t, err)
	require.Equal(t, Sense{Key: KeyIllegalRequest}, got)

	// A descriptor cut short is skipped; an unknown one is ignored.
	got, err = ParseSense([]byte{0x72, 0x06, 0x2A, 0x06, 0, 0, 0, 6,
		0x80, 0x00, // vendor descriptor with no payload
		0x00, 0x0A, 0x80, 0x00}) // information descriptor missing 8 bytes
	require.NoError(t, err)
	require.Equal(t, Sense{Descriptor: true, Key: KeyUnitAttention, ASC: 0x2A, ASCQ: 0x06}, got)
	require.Equal(t, ASAccessStateChanged, got.Code())

	for _, code := range []byte{0x00, 0x7F, 0x74, 0x6F} {
		_, err := ParseSense([]byte{code, 0, 0, 0, 0, 0, 0, 0})
		var fe *FieldError
		require.ErrorAs(t, err, &fe, "response code 0x%02x", code)
		require.Equal(t, "RESPONSE CODE", fe.Field)
	}
}

func TestSenseProgress(t *testing.T) {
	s, err := ParseSense(senseDescriptorDeferred)
	require.NoError(t, err)
	p, ok := s.Progress()
	require.True(t, ok)
	require.EqualValues(t, 0x8000, p)

	s, err = ParseSense(senseFixedInfo) // MEDIUM ERROR: a field pointer, not progress
	require.NoError(t, err)
	_, ok = s.Progress()
	require.False(t, ok)
}

// TestParseSenseAllocs: parsing sense data, on every failed command, does
// not allocate.
func TestParseSenseAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		_, _ = ParseSense(senseFixedInfo)
		_, _ = ParseSense(senseDescriptorDeferred)
	})
	require.Zero(t, n)
}

func BenchmarkParseSense(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		_, _ = ParseSense(senseDescriptorDeferred)
	}
}
