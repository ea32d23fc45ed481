package pdu

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// bhsBytes returns a 48-byte BHS with byte 0 op (I bit included) and byte 1
// flags, then sets 4-byte big-endian words given as offset, value pairs;
// offset 4 sets TotalAHSLength (high byte) and DataSegmentLength together.
func bhsBytes(op, flags byte, words ...uint32) []byte {
	b := make([]byte, BHSLength)
	b[0], b[1] = op, flags
	for i := 0; i+1 < len(words); i += 2 {
		be.PutUint32(b[words[i]:], words[i+1])
	}
	return b
}

// ahs1 is TotalAHSLength 1 word with DataSegmentLength 0 (BHS offset 4).
const ahs1 = 0x01000000

func TestDecodeErrors(t *testing.T) {
	four := []byte{1, 2, 3, 4}
	tests := []struct {
		name  string
		in    []byte
		op    Opcode
		field string
		value uint64
	}{
		{"unknown opcode", bhsBytes(0x1c, 0x80), 0x1c, "Opcode", 0x1c},
		{"unknown opcode with I bit", bhsBytes(0x7d, 0x80), 0x3d, "Opcode", 0x3d},
		{"AHS on NOP-Out", goldenCat(bhsBytes(0x40, 0x80, 4, ahs1, 16, 1), four), OpNOPOut, "TotalAHSLength", 1},
		{"AHS on Data-In", goldenCat(bhsBytes(0x25, 0x00, 4, ahs1), four), OpDataIn, "TotalAHSLength", 1},
		{"AHS on Login Request", goldenCat(bhsBytes(0x43, 0x87, 4, ahs1), four), OpLoginReq, "TotalAHSLength", 1},
		{"data on R2T", goldenCat(bhsBytes(0x31, 0x80, 4, 4, 44, 1), four), OpR2T, "DataSegmentLength", 4},
		{"data on TMF Request, not even read", bhsBytes(0x42, 0x81, 4, 4), OpTaskMgmtReq, "DataSegmentLength", 4},
		{"data on TMF Response", goldenCat(bhsBytes(0x22, 0x80, 4, 1), four), OpTaskMgmtResp, "DataSegmentLength", 1},
		{"data on Logout Request", goldenCat(bhsBytes(0x46, 0x81, 4, 4), four), OpLogoutReq, "DataSegmentLength", 4},
		{"data on Logout Response", goldenCat(bhsBytes(0x26, 0x80, 4, 4), four), OpLogoutResp, "DataSegmentLength", 4},
		{"data on SNACK", goldenCat(bhsBytes(0x10, 0x80, 4, 4), four), OpSNACKReq, "DataSegmentLength", 4},
		{"Data-In S without F", bhsBytes(0x25, 0x01), OpDataIn, "flags", 0x01},
		{"Data-In O and U", bhsBytes(0x25, 0x87), OpDataIn, "flags", 0x87},
		{"Data-In U without S", bhsBytes(0x25, 0x82), OpDataIn, "flags", 0x82},
		{"SCSI Response O and U", bhsBytes(0x21, 0x86), OpSCSIResponse, "flags", 0x86},
		{"SCSI Response o and u", bhsBytes(0x21, 0x98), OpSCSIResponse, "flags", 0x98},
		{"Login T and C", bhsBytes(0x43, 0xc1), OpLoginReq, "flags", 0xc0},
		{"Login CSG=2", bhsBytes(0x43, 0x08), OpLoginReq, "CSG", 2},
		{"Login CSG=3", bhsBytes(0x43, 0x0c), OpLoginReq, "CSG", 3},
		{"Login T, NSG<CSG", bhsBytes(0x43, 0x84), OpLoginReq, "NSG", 0},
		{"Login T, NSG=CSG", bhsBytes(0x43, 0x85), OpLoginReq, "NSG", 1},
		{"Login T, NSG=2", bhsBytes(0x43, 0x82), OpLoginReq, "NSG", 2},
		{"Login Response success, T and C", bhsBytes(0x23, 0xc1), OpLoginResp, "flags", 0xc0},
		{"Login Response success, T, NSG=CSG", bhsBytes(0x23, 0x80), OpLoginResp, "NSG", 0},
		{"Text Request F and C", bhsBytes(0x04, 0xc0), OpTextReq, "flags", 0xc0},
		{"Text Response F and C", bhsBytes(0x24, 0xc0), OpTextResp, "flags", 0xc0},
		{"TMF Function 0", bhsBytes(0x42, 0x80), OpTaskMgmtReq, "Function", 0},
		{"Reject of 47 bytes", goldenCat(bhsBytes(0x3f, 0x80, 4, 47, 16, ReservedTag), make([]byte, 48)), OpReject, "DataSegmentLength", 47},
		{"Reject without data", bhsBytes(0x3f, 0x80, 16, ReservedTag), OpReject, "DataSegmentLength", 0},
		{"Async ITT 0", bhsBytes(0x32, 0x80), OpAsyncMessage, "ITT", 0},
		{"Async ITT 0x12345678", bhsBytes(0x32, 0x80, 16, 0x12345678), OpAsyncMessage, "ITT", 0x12345678},
		{"R2T DesiredDataTransferLength 0", bhsBytes(0x31, 0x80, 16, 1), OpR2T, "DesiredDataTransferLength", 0},
		{"AHSLength beyond TotalAHSLength", goldenCat(bhsBytes(0x01, 0xc0, 4, ahs1),
			[]byte{0x00, 0x05, 0x02, 0x00}), OpSCSICommand, "AHSLength", 5},
		{"Extended CDB AHSLength beyond TotalAHSLength", goldenCat(bhsBytes(0x01, 0xc0, 4, 2*ahs1),
			[]byte{0x00, 0x11, 0x01, 0x00, 0xa0, 0xa1, 0xa2, 0xa3}), OpSCSICommand, "AHSLength", 17},
		{"unknown AHS type", goldenCat(bhsBytes(0x01, 0xc0, 4, 2*ahs1),
			[]byte{0x00, 0x05, 0x07, 0x00, 0x00, 0x00, 0x02, 0x00}), OpSCSICommand, "AHSType", 7},
		{"Bidi AHS with AHSLength 4", goldenCat(bhsBytes(0x01, 0xe0, 4, 2*ahs1),
			[]byte{0x00, 0x04, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00}), OpSCSICommand, "AHSType", 2},
		{"Extended CDB AHS without CDB bytes", goldenCat(bhsBytes(0x01, 0xc0, 4, ahs1),
			[]byte{0x00, 0x01, 0x01, 0x00}), OpSCSICommand, "AHSType", 1},
		{"two Extended CDB AHS", goldenCat(bhsBytes(0x01, 0xc0, 4, 4*ahs1),
			[]byte{0x00, 0x02, 0x01, 0x00, 0xa0, 0x00, 0x00, 0x00},
			[]byte{0x00, 0x02, 0x01, 0x00, 0xa1, 0x00, 0x00, 0x00}), OpSCSICommand, "AHSType", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, n, err := Decode(tc.in)
			require.ErrorIs(t, err, ErrInvalidField)
			require.NotErrorIs(t, err, ErrTruncated)
			require.Equal(t, tc.field == "Opcode", errors.Is(err, ErrUnknownOpcode))
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.op, fe.Op)
			require.Equal(t, tc.field, fe.Field)
			require.Equal(t, tc.value, fe.Value)
			require.Nil(t, p)
			require.Zero(t, n)
		})
	}
}

// TestDecodeLoginFailureKeepsStages: a failed login may answer with any
// stage bits; only its status matters (RFC 7143 §11.13.5).
func TestDecodeLoginFailureKeepsStages(t *testing.T) {
	in := bhsBytes(0x23, 0xc6, 36, uint32(LoginTargetError)<<16)
	p, n, err := Decode(in)
	require.NoError(t, err)
	require.Equal(t, BHSLength, n)
	resp := p.(*LoginResponse)
	require.Equal(t, LoginTargetError, resp.Status)
	require.True(t, resp.Transit && resp.Continue)
	require.Equal(t, Stage(1), resp.CSG)
	require.Equal(t, Stage(2), resp.NSG)
	out, err := resp.AppendBinary(nil)
	require.NoError(t, err)
	require.Equal(t, in, out, "a failure answer encodes its stage bits unchanged")
}

func TestDecodeEncodeErrors(t *testing.T) {
	cdb := func(n int) []byte { return make([]byte, n) }
	huge := make([]byte, MaxDataSegmentLength+1)
	tests := []struct {
		name     string
		pdu      PDU
		sentinel error
		field    string
		value    uint64
	}{
		{"CDB of 5 bytes", &SCSICommand{CDB: cdb(5)}, ErrInvalidField, "CDB length", 5},
		{"CDB of 2000 bytes", &SCSICommand{CDB: cdb(2000)}, ErrInvalidField, "CDB length", 2000},
		{"no CDB", &SCSICommand{}, ErrInvalidField, "CDB length", 0},
		{"CDB of 1033 bytes", &SCSICommand{CDB: cdb(1033)}, ErrInvalidField, "CDB length", 1033},
		{"CDB of 1025 bytes and Bidi AHS", &SCSICommand{CDB: cdb(1025), Bidi: true}, ErrLimit, "TotalAHSLength", 1024},
		{"SCSI Command data too long", &SCSICommand{CDB: cdb(16), Data: huge}, ErrLimit, "DataSegmentLength", MaxDataSegmentLength + 1},
		{"Data-Out data too long", &DataOut{Data: huge}, ErrLimit, "DataSegmentLength", MaxDataSegmentLength + 1},
		{"TMF Function 0", &TaskMgmtRequest{}, ErrInvalidField, "Function", 0},
		{"TMF Function 128", &TaskMgmtRequest{Function: 128}, ErrInvalidField, "Function", 128},
		{"Login T and C", &LoginRequest{Transit: true, Continue: true, NSG: 1}, ErrInvalidField, "flags", 0xc0},
		{"Login CSG=2", &LoginRequest{CSG: 2}, ErrInvalidField, "CSG", 2},
		{"Login T, NSG=CSG", &LoginRequest{Transit: true, CSG: 1, NSG: 1}, ErrInvalidField, "NSG", 1},
		{"Login NSG=4", &LoginRequest{NSG: 4}, ErrInvalidField, "NSG", 4},
		{"Login Response success, T and C", &LoginResponse{Transit: true, Continue: true, NSG: 1}, ErrInvalidField, "flags", 0xc0},
		{"Text Request F and C", &TextRequest{Final: true, Continue: true}, ErrInvalidField, "flags", 0xc0},
		{"Text Response F and C", &TextResponse{Final: true, Continue: true}, ErrInvalidField, "flags", 0xc0},
		{"Logout reason 0x80", &LogoutRequest{Reason: 0x80}, ErrInvalidField, "ReasonCode", 0x80},
		{"SNACK type 0x10", &SNACKRequest{Type: 0x10}, ErrInvalidField, "Type", 0x10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{0xaa}
			out, err := tc.pdu.AppendBinary(prefix)
			require.ErrorIs(t, err, tc.sentinel)
			require.Equal(t, prefix, out, "nothing appended on error")
			switch tc.sentinel {
			case ErrLimit:
				var le *LimitError
				require.ErrorAs(t, err, &le)
				require.Equal(t, tc.field, le.Field)
				require.Equal(t, tc.value, le.Value)
			default:
				var fe *FieldError
				require.ErrorAs(t, err, &fe)
				require.Equal(t, tc.field, fe.Field)
				require.Equal(t, tc.value, fe.Value)
			}
		})
	}
}

// TestDecodeSCSICommandCDBLimits round-trips CDBs at the edges of what the
// Extended CDB AHS and TotalAHSLength can carry.
func TestDecodeSCSICommandCDBLimits(t *testing.T) {
	for _, tc := range []struct {
		n    int
		bidi bool
	}{{6, false}, {16, false}, {17, false}, {260, false}, {1032, false}, {1024, true}} {
		cdb := make([]byte, tc.n)
		for i := range cdb {
			cdb[i] = byte(i*7 + 1)
		}
		in := &SCSICommand{Final: true, Read: true, ITT: 1, CDB: cdb}
		if tc.bidi {
			in.Write, in.Bidi, in.BidiReadLength = true, true, 9
		}
		wire, err := in.AppendBinary(nil)
		require.NoError(t, err, "CDB of %d bytes", tc.n)
		p, n, err := Decode(wire)
		require.NoError(t, err, "CDB of %d bytes", tc.n)
		require.Equal(t, len(wire), n)
		require.Equal(t, goldenComparable(in), goldenComparable(p))
	}
}

func TestLUNRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		n   uint16
		raw uint64
	}{
		{0, 0},
		{1, 0x0001 << 48},
		{255, 0x00ff << 48},
		{256, 0x4100 << 48},   // flat space addressing
		{16383, 0x7fff << 48}, // largest flat LUN
	} {
		l := MakeLUN(tc.n)
		require.Equal(t, LUN(tc.raw), l, "MakeLUN(%d)", tc.n)
		n, ok := l.Number()
		require.True(t, ok, "LUN %d", tc.n)
		require.Equal(t, tc.n, n)
	}
}

func TestLUNNotSingleLevel(t *testing.T) {
	for _, l := range []LUN{
		0x0001_0002_0000_0000, // two peripheral levels
		0x4001_4002_0000_0000, // two flat levels
		0x0000_0000_0000_0001, // junk in the fourth level
		0x0101_0000_0000_0000, // peripheral addressing on bus 1
		0x8001_0000_0000_0000, // logical unit addressing method
		0xd200_0000_0000_0000, // extended addressing method
	} {
		_, ok := l.Number()
		require.False(t, ok, "LUN 0x%016x", uint64(l))
	}
}
