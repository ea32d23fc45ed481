package scsi

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func hexID(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c - 'a' + 10)
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

func TestParseDeviceIdentificationTGT(t *testing.T) {
	ds, err := ParseDeviceIdentification(vpd83TGT)
	require.NoError(t, err)
	require.Equal(t, []Designator{
		{CodeSet: CodeSetASCII, Association: AssocLogicalUnit, Type: DesigT10VendorID,
			ID: pad("IET     00010001", 36, 0)},
		{CodeSet: CodeSetBinary, Association: AssocLogicalUnit, Type: DesigNAA,
			ID: hexID(t, "3000000100000001")},
		{CodeSet: CodeSetBinary, Association: AssocLogicalUnit, Type: DesigNAA,
			ID: hexID(t, "60000000000000000e00000000010001")},
	}, ds)
	require.EqualValues(t, NAALocallyAssigned, ds[1].NAA())
	require.EqualValues(t, NAAIEEERegisteredExtended, ds[2].NAA())

	wwid, ok := WWID(ds)
	require.True(t, ok)
	require.Equal(t, "360000000000000000e00000000010001", wwid)

	_, ok = TargetPortGroup(ds) // tgt reports no ALUA designators
	require.False(t, ok)
	requirePrefixes(t, vpd83TGT, len(vpd83TGT), ParseDeviceIdentification, nil)
}

func TestParseDeviceIdentificationMulti(t *testing.T) {
	ds, err := ParseDeviceIdentification(vpd83Multi)
	require.NoError(t, err)
	require.Equal(t, []Designator{
		{CodeSet: CodeSetBinary, Association: AssocLogicalUnit, Type: DesigNAA,
			ID: hexID(t, "6001405abcdef0123456789abcdef012")},
		{CodeSet: CodeSetASCII, Association: AssocLogicalUnit, Type: DesigT10VendorID,
			ID: []byte("LIO-ORG block1:abcdef012")},
		{ProtocolID: ProtocolISCSI, CodeSet: CodeSetBinary, PIV: true, Association: AssocTargetPort,
			Type: DesigRelativeTargetPort, ID: []byte{0, 0, 0, 2}},
		{ProtocolID: ProtocolISCSI, CodeSet: CodeSetBinary, PIV: true, Association: AssocTargetPort,
			Type: DesigTargetPortGroup, ID: []byte{0, 0, 0, 7}},
		{CodeSet: CodeSetBinary, Association: AssocLogicalUnit, Type: DesigLogicalUnitGroup,
			ID: []byte{0, 0, 0, 1}},
		{ProtocolID: ProtocolISCSI, CodeSet: CodeSetUTF8, PIV: true, Association: AssocTargetPort,
			Type: DesigSCSIName, ID: pad("iqn.2003-01.org.linux-iscsi.h:t1,t,0x1", 40, 0)},
		{ProtocolID: ProtocolISCSI, CodeSet: CodeSetUTF8, PIV: true, Association: AssocTargetDevice,
			Type: DesigSCSIName, ID: pad("iqn.2003-01.org.linux-iscsi.h:t1", 32, 0)},
	}, ds)

	wwid, ok := WWID(ds)
	require.True(t, ok)
	require.Equal(t, "36001405abcdef0123456789abcdef012", wwid)
	tpg, ok := TargetPortGroup(ds)
	require.True(t, ok)
	require.EqualValues(t, 7, tpg)
	rtp, ok := RelativeTargetPort(ds)
	require.True(t, ok)
	require.EqualValues(t, 2, rtp)
	requirePrefixes(t, vpd83Multi, len(vpd83Multi), ParseDeviceIdentification, nil)

	// The designators survive reuse of the input buffer.
	in := append([]byte{}, vpd83Multi...)
	ds, err = ParseDeviceIdentification(in)
	require.NoError(t, err)
	clear(in)
	require.EqualValues(t, 0x60, ds[0].ID[0])
}

func TestAppendDesignatorsRoundTrip(t *testing.T) {
	for _, page := range [][]byte{vpd83TGT, vpd83Multi} {
		ds, err := ParseDeviceIdentification(page)
		require.NoError(t, err)
		body, err := AppendDesignators(nil, ds)
		require.NoError(t, err)
		require.Equal(t, page[4:], body)
	}
	_, err := AppendDesignators(nil, []Designator{{ID: make([]byte, 256)}})
	require.ErrorIs(t, err, ErrLimit)
}

func TestParseDeviceIdentificationMalformed(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		field  string
		offset int
	}{
		{"descriptor overruns page", []byte{0x00, 0x83, 0x00, 0x06,
			0x01, 0x03, 0x00, 0x08, // NAA, DESIGNATOR LENGTH 8 ...
			0x60, 0x00, // ... but only 2 bytes left in the page
		}, "DESIGNATOR LENGTH", 7},
		{"header overruns page", []byte{0x00, 0x83, 0x00, 0x0A,
			0x01, 0x03, 0x00, 0x04, 0x30, 0, 0, 1, // a 4-byte designator
			0x01, 0x03, // half a header
		}, "designation descriptor", 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDeviceIdentification(tt.in)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.True(t, errors.Is(err, ErrInvalidField))
			require.Equal(t, tt.field, fe.Field)
			require.Equal(t, tt.offset, fe.Offset)
		})
	}
	ds, err := ParseDeviceIdentification([]byte{0x00, 0x83, 0x00, 0x00}) // empty page
	require.NoError(t, err)
	require.Empty(t, ds)
}

func TestDesignatorString(t *testing.T) {
	ds, err := ParseDeviceIdentification(vpd83TGT)
	require.NoError(t, err)
	require.Equal(t, `T10 vendor ID (logical unit): "IET     00010001"`, ds[0].String())
	require.Equal(t, "NAA 3 (logical unit): 3000000100000001", ds[1].String())
}
