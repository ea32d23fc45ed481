package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// TestPersistOutput: gomp persist prints mpathpersist's shapes.
func TestPersistOutput(t *testing.T) {
	enc := func(v interface{ AppendBinary([]byte) ([]byte, error) }) []byte {
		b, err := v.AppendBinary(nil)
		require.NoError(t, err)
		return b
	}
	tests := []struct {
		a    scsi.PRInAction
		data []byte
		want string
	}{
		{scsi.PRInReadKeys, enc(scsi.ReservationKeys{Generation: 2, Keys: []uint64{0x123abc, 0x123abc}}),
			"  PR generation=0x2, \t2 registered reservation keys follow:\n    0x123abc\n    0x123abc\n"},
		{scsi.PRInReadKeys, enc(scsi.ReservationKeys{}), "  PR generation=0x0, \tthere are NO registered reservation keys\n"},
		{scsi.PRInReadReservation, enc(scsi.Reservation{Generation: 3, Held: true, Key: 0xa, Type: scsi.PRWriteExclusiveRegistrantsOnly}),
			"  PR generation=0x3, Reservation follows:\n   Key = 0xa\n  scope = LU_SCOPE, type = Write Exclusive, registrants only\n"},
		{scsi.PRInReadReservation, enc(scsi.Reservation{Generation: 1}), "  PR generation=0x1, there is NO reservation held \n"},
		{scsi.PRInReadFullStatus, enc(scsi.PRFullStatus{Generation: 7, Registrations: []scsi.PRRegistration{
			{Key: 0xa, Holder: true, Type: scsi.PRWriteExclusiveRegistrantsOnly, RelativeTargetPort: 1,
				TransportID: scsi.ISCSITransportID("iqn.a", "023d00010000")}}}),
			"  PR generation=0x7 \n    Key = 0xa\n      All target ports bit clear\n      Relative port address: 0x1\n" +
				"      << Reservation holder >>\n      scope: LU_SCOPE, type: Write Exclusive, registrants only\n" +
				"      Transport Id of initiator:\n        iSCSI name and session id: iqn.a,i,0x023d00010000\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		require.NoError(t, printPRIn(&b, tt.a, tt.data))
		require.Equal(t, tt.want, b.String())
	}
	var b bytes.Buffer
	require.NoError(t, printPRIn(&b, scsi.PRInReportCapabilities, enc(scsi.PRCapabilities{TypeMaskValid: true,
		Types: scsi.PRTypeMaskOf(scsi.PRWriteExclusive)})))
	require.Contains(t, b.String(), "Type Mask Valid(TMV): 1\n")
	require.Contains(t, b.String(), "      Write Exclusive: 1\n      Exclusive Access, all registrants: 0\n")
}

func TestPersistUsage(t *testing.T) {
	for _, args := range [][]string{
		{"persist", "--in", "--out", "x"},
		{"persist", "--in", "x"},
		{"persist", "--out", "--reserve", "--param-rk", "1", "x"},
		{"persist", "--out", "--register", "--param-sark", "zz", "x"},
		{"persist", "--in", "--read-keys"},
	} {
		code, _, _ := runCLI(t, append(args, "--control-dir", t.TempDir())...)
		require.Equal(t, exitUsage, code, "%v", args)
	}
}
