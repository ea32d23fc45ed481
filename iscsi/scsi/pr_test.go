package scsi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Golden PERSISTENT RESERVE IN parameter data (SPC-4 §6.13).

// readKeysTwo: one key registered through two I_T nexuses.
var readKeysTwo = []byte{
	0x00, 0x00, 0x00, 0x02, // PRGENERATION 2
	0x00, 0x00, 0x00, 0x10, // ADDITIONAL LENGTH 16
	0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x3A, 0xBC, // RESERVATION KEY 0x123abc
	0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x3A, 0xBC, // RESERVATION KEY 0x123abc
}

// readResvWERO: Write Exclusive, Registrants Only, held by key 0x123abc.
var readResvWERO = []byte{
	0x00, 0x00, 0x00, 0x03, // PRGENERATION 3
	0x00, 0x00, 0x00, 0x10, // ADDITIONAL LENGTH 16
	0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x3A, 0xBC, // RESERVATION KEY
	0x00, 0x00, 0x00, 0x00, // obsolete
	0x00,       // reserved
	0x05,       // SCOPE 0 (LU_SCOPE), TYPE 5
	0x00, 0x00, // obsolete
}

// reportCapsFull: every capability and type (as LIO reports it, with
// PTPL_C and no PTPL_A).
var reportCapsFull = []byte{
	0x00, 0x08, // LENGTH 8
	0x1D,       // CRH, SIP_C, ATP_C, PTPL_C
	0x80,       // TMV; ALLOW COMMANDS 0; PTPL_A 0
	0xEA, 0x01, // WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX; EX_AC_AR
	0x00, 0x00, // reserved
}

// fullStatusTwo: the holder's registration and a second one of another
// initiator, each with an iSCSI TransportID in format 01b.
var fullStatusTwo = cat(
	[]byte{
		0x00, 0x00, 0x00, 0x07, // PRGENERATION 7
		0x00, 0x00, 0x00, 0x58, // ADDITIONAL LENGTH 88
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x0A, // RESERVATION KEY 0xa0a
		0x00, 0x00, 0x00, 0x00, // reserved
		0x01,                   // ALL_TG_PT 0, R_HOLDER 1
		0x05,                   // SCOPE 0, TYPE 5
		0x00, 0x00, 0x00, 0x00, // reserved
		0x00, 0x01, // RELATIVE TARGET PORT IDENTIFIER 1
		0x00, 0x00, 0x00, 0x1C, // ADDITIONAL DESCRIPTOR LENGTH 28
		0x45, 0x00, 0x00, 0x18, // FORMAT 01b, iSCSI; ADDITIONAL LENGTH 24
	},
	pad("iqn.a,i,0x0123456789", 24, 0), // NUL terminated, padded to 4
	[]byte{
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0B, 0x0B, // RESERVATION KEY 0xb0b
		0x00, 0x00, 0x00, 0x00, // reserved
		0x02,                   // ALL_TG_PT 1, R_HOLDER 0
		0x00,                   // SCOPE, TYPE: not the holder
		0x00, 0x00, 0x00, 0x00, // reserved
		0x00, 0x02, // RELATIVE TARGET PORT IDENTIFIER 2
		0x00, 0x00, 0x00, 0x0C, // ADDITIONAL DESCRIPTOR LENGTH 12
		0x05, 0x00, 0x00, 0x08, // FORMAT 00b, iSCSI; ADDITIONAL LENGTH 8
	},
	pad("iqn.b", 8, 0),
)

func TestParseReadKeys(t *testing.T) {
	want := ReservationKeys{Generation: 2, Keys: []uint64{0x123abc, 0x123abc}}
	got, err := ParseReadKeys(readKeysTwo)
	require.NoError(t, err)
	require.Equal(t, want, got)
	requirePrefixes(t, readKeysTwo, len(readKeysTwo), ParseReadKeys, nil)
	enc, err := want.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, readKeysTwo, enc)

	_, err = ParseReadKeys([]byte{0, 0, 0, 1, 0, 0, 0, 4, 1, 2, 3, 4})
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "ADDITIONAL LENGTH", fe.Field)
}

func TestParseReadReservation(t *testing.T) {
	want := Reservation{Generation: 3, Held: true, Key: 0x123abc, Type: PRWriteExclusiveRegistrantsOnly}
	got, err := ParseReadReservation(readResvWERO)
	require.NoError(t, err)
	require.Equal(t, want, got)
	requirePrefixes(t, readResvWERO, len(readResvWERO), ParseReadReservation, nil)
	enc, err := want.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, readResvWERO, enc)

	none := []byte{0, 0, 0, 9, 0, 0, 0, 0}
	got, err = ParseReadReservation(none)
	require.NoError(t, err)
	require.Equal(t, Reservation{Generation: 9}, got)
	enc, _ = got.AppendBinary(nil)
	require.Equal(t, none, enc)

	_, err = ParseReadReservation([]byte{0, 0, 0, 1, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8})
	require.ErrorIs(t, err, ErrInvalidField)
}

func TestParseReportCapabilities(t *testing.T) {
	want := PRCapabilities{CompatibleReservation: true, SpecifyInitiatorPorts: true, AllTargetPorts: true,
		PersistThroughPowerLoss: true, TypeMaskValid: true,
		Types: PRTypeMaskOf(PRWriteExclusive, PRExclusiveAccess, PRWriteExclusiveRegistrantsOnly,
			PRExclusiveAccessRegistrantsOnly, PRWriteExclusiveAllRegistrants, PRExclusiveAccessAllRegistrants)}
	got, err := ParseReportCapabilities(reportCapsFull)
	require.NoError(t, err)
	require.Equal(t, want, got)
	requirePrefixes(t, reportCapsFull, len(reportCapsFull), ParseReportCapabilities, nil)
	enc, err := want.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, reportCapsFull, enc)
	for ty := range PRType(16) {
		require.Equal(t, ty.Valid(), got.Types.Has(ty), ty.String())
	}
	_, err = ParseReportCapabilities([]byte{0, 9, 0, 0, 0, 0, 0, 0})
	require.ErrorIs(t, err, ErrInvalidField)
}

func TestParseReadFullStatus(t *testing.T) {
	want := PRFullStatus{Generation: 7, Registrations: []PRRegistration{
		{Key: 0xa0a, Holder: true, Type: PRWriteExclusiveRegistrantsOnly, RelativeTargetPort: 1,
			TransportID: ISCSITransportID("iqn.a", "0123456789")},
		{Key: 0xb0b, AllTargetPorts: true, RelativeTargetPort: 2, TransportID: ISCSITransportID("iqn.b", "")},
	}}
	got, err := ParseReadFullStatus(fullStatusTwo)
	require.NoError(t, err)
	require.Equal(t, want, got)
	requirePrefixes(t, fullStatusTwo, len(fullStatusTwo), ParseReadFullStatus, nil)
	enc, err := want.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, fullStatusTwo, enc)
	name, ok := got.Registrations[0].ISCSIInitiator()
	require.True(t, ok)
	require.Equal(t, "iqn.a,i,0x0123456789", name)
	name, ok = got.Registrations[1].ISCSIInitiator()
	require.True(t, ok)
	require.Equal(t, "iqn.b", name)

	bad := append([]byte(nil), fullStatusTwo...)
	bad[8+20+3] = 0xF0 // first ADDITIONAL DESCRIPTOR LENGTH overruns
	_, err = ParseReadFullStatus(bad)
	var fe *FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "ADDITIONAL DESCRIPTOR LENGTH", fe.Field)
	require.Equal(t, 28, fe.Offset)
	_, err = ParseReadFullStatus([]byte{0, 0, 0, 1, 0, 0, 0, 4, 1, 2, 3, 4})
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "full status descriptor", fe.Field)
}

func TestPersistentReserveCDBs(t *testing.T) {
	require.Equal(t, [10]byte{
		0x5E,          // PERSISTENT RESERVE IN
		0x03,          // SERVICE ACTION: READ FULL STATUS
		0, 0, 0, 0, 0, // reserved
		0x20, 0x00, // ALLOCATION LENGTH 8192
		0x00, // CONTROL
	}, PersistentReserveIn(PRInReadFullStatus, 8192))
	require.Equal(t, [10]byte{
		0x5F, // PERSISTENT RESERVE OUT
		0x04, // SERVICE ACTION: PREEMPT
		0x05, // SCOPE LU, TYPE Write Exclusive, Registrants Only
		0, 0, // reserved
		0, 0, 0, 24, // PARAMETER LIST LENGTH
		0x00, // CONTROL
	}, PersistentReserveOut(PROutPreempt, PRWriteExclusiveRegistrantsOnly))
	p := PROutParameters{Key: 0x0102030405060708, ServiceActionKey: 0xA0A, APTPL: true, AllTargetPorts: true}
	enc, err := p.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, cat(
		[]byte{1, 2, 3, 4, 5, 6, 7, 8},       // RESERVATION KEY
		[]byte{0, 0, 0, 0, 0, 0, 0x0A, 0x0A}, // SERVICE ACTION RESERVATION KEY
		[]byte{0, 0, 0, 0},                   // obsolete
		[]byte{0x05, 0, 0, 0},                // ALL_TG_PT, APTPL; reserved; obsolete
	), enc)
	got, err := ParsePROutParameters(enc)
	require.NoError(t, err)
	require.Equal(t, p, got)
	requirePrefixes(t, enc, len(enc), ParsePROutParameters, nil)
	enc[20] |= 0x08
	_, err = ParsePROutParameters(enc)
	require.ErrorIs(t, err, ErrInvalidField)
	require.Equal(t, "PREEMPT AND ABORT", PROutPreemptAndAbort.String())
	require.Equal(t, "READ KEYS", PRInReadKeys.String())
	require.Equal(t, "Exclusive Access, all registrants", PRExclusiveAccessAllRegistrants.String())
	require.Equal(t, "PRType(0x02)", PRType(2).String())
	require.Equal(t, "LU_SCOPE", PRScopeLU.String())
}
