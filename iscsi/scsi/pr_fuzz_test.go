package scsi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// prRoundTrip checks that what parse accepts encodes and parses back to
// the same value.
func prRoundTrip[T interface{ AppendBinary([]byte) ([]byte, error) }](t *testing.T, b []byte,
	parse func([]byte) (T, error)) {
	v, err := parse(b)
	if err != nil {
		return
	}
	enc, err := v.AppendBinary(nil)
	require.NoError(t, err)
	v2, err := parse(enc)
	require.NoError(t, err)
	require.Equal(t, v, v2)
}

func FuzzParseReadKeys(f *testing.F) {
	f.Add(readKeysTwo)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) { prRoundTrip(t, b, ParseReadKeys) })
}

func FuzzParseReadReservation(f *testing.F) {
	f.Add(readResvWERO)
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := ParseReadReservation(b); err == nil {
			_ = r.Type.String()
			_ = r.Scope.String()
		}
		prRoundTrip(t, b, ParseReadReservation)
	})
}

func FuzzParseReportCapabilities(f *testing.F) {
	f.Add(reportCapsFull)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseReportCapabilities(b)
		if err != nil {
			return
		}
		require.LessOrEqual(t, c.AllowCommands, uint8(7))
		enc, err := c.AppendBinary(nil)
		require.NoError(t, err)
		c2, err := ParseReportCapabilities(enc)
		require.NoError(t, err)
		require.Equal(t, c, c2)
	})
}

func FuzzParseReadFullStatus(f *testing.F) {
	f.Add(fullStatusTwo)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseReadFullStatus(b)
		if err != nil {
			return
		}
		for _, r := range s.Registrations {
			_, _ = r.ISCSIInitiator()
		}
		prRoundTrip(t, b, ParseReadFullStatus)
	})
}

func FuzzParsePROutParameters(f *testing.F) {
	f.Add(make([]byte, PROutParameterLength))
	f.Fuzz(func(t *testing.T, b []byte) { prRoundTrip(t, b, ParsePROutParameters) })
}
