package pdu

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireTextError checks err is a *TextError, that it is (or is not) a
// limit violation, and its offset when off >= 0.
func requireTextError(t *testing.T, err error, limit bool, off int) {
	t.Helper()
	require.ErrorIs(t, err, ErrText)
	if limit {
		require.ErrorIs(t, err, ErrLimit)
	} else {
		require.NotErrorIs(t, err, ErrLimit)
	}
	var te *TextError
	require.ErrorAs(t, err, &te)
	if off >= 0 {
		require.Equal(t, off, te.Offset)
	}
}

func TestParseText(t *testing.T) {
	key63, key64 := strings.Repeat("k", 63), strings.Repeat("k", 64)
	tests := []struct {
		name    string
		in      string
		lim     TextLimits
		want    []KeyValue
		wantErr bool
		limit   bool
		off     int
	}{
		{name: "normal", in: "HeaderDigest=None\x00DataDigest=CRC32C,None\x00MaxRecvDataSegmentLength=65536\x00",
			want: []KeyValue{{"HeaderDigest", "None"}, {"DataDigest", "CRC32C,None"}, {"MaxRecvDataSegmentLength", "65536"}}},
		{name: "value holding '='", in: "TargetAddress=a=b\x00", want: []KeyValue{{"TargetAddress", "a=b"}}},
		{name: "empty value", in: "X-a=\x00", want: []KeyValue{{"X-a", ""}}},
		{name: "missing final NUL", in: "A=1\x00B=2", want: []KeyValue{{"A", "1"}, {"B", "2"}}},
		{name: "empty pairs skipped", in: "\x00A=1\x00\x00\x00B=2\x00\x00", want: []KeyValue{{"A", "1"}, {"B", "2"}}},
		{name: "empty text", in: ""},
		{name: "duplicates kept in order", in: "A=1\x00A=2\x00", want: []KeyValue{{"A", "1"}, {"A", "2"}}},
		{name: "every key character", in: "aZ09.-+@_=v\x00", want: []KeyValue{{"aZ09.-+@_", "v"}}},
		{name: "key of 63 bytes", in: key63 + "=1\x00", want: []KeyValue{{key63, "1"}}},
		{name: "no '='", in: "A=1\x00Bogus\x00", wantErr: true, off: 4},
		{name: "empty key", in: "=x\x00", wantErr: true, off: 0},
		{name: "bad key character", in: "A=1\x00Ke y=1\x00", wantErr: true, off: 4},
		{name: "key of 64 bytes", in: key64 + "=1\x00", wantErr: true, limit: true, off: 0},
		{name: "value at MaxValueLength", in: "A=1234", lim: TextLimits{MaxValueLength: 4}, want: []KeyValue{{"A", "1234"}}},
		{name: "value over MaxValueLength", in: "A=12345", lim: TextLimits{MaxValueLength: 4}, wantErr: true, limit: true, off: 2},
		{name: "value over default 8192", in: "A=" + strings.Repeat("x", 8193), wantErr: true, limit: true, off: 2},
		{name: "MaxKeys keys", in: "A=1\x00B=2\x00", lim: TextLimits{MaxKeys: 2}, want: []KeyValue{{"A", "1"}, {"B", "2"}}},
		{name: "too many keys", in: "A=1\x00B=2\x00C=3\x00", lim: TextLimits{MaxKeys: 2}, wantErr: true, limit: true, off: 8},
		{name: "text at MaxTextLength", in: "A=1\x00B=2\x00", lim: TextLimits{MaxTextLength: 8}, want: []KeyValue{{"A", "1"}, {"B", "2"}}},
		{name: "text over MaxTextLength", in: "A=1\x00B=22\x00", lim: TextLimits{MaxTextLength: 8}, wantErr: true, limit: true, off: 0},
		{name: "text at default 1 MiB", in: strings.Repeat("\x00", 1<<20)},
		{name: "text over default 1 MiB", in: strings.Repeat("\x00", 1<<20+1), wantErr: true, limit: true, off: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kvs, err := ParseText([]byte(tc.in), tc.lim)
			if tc.wantErr {
				requireTextError(t, err, tc.limit, tc.off)
				require.Nil(t, kvs)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, kvs)
		})
	}
}

func TestAppendText(t *testing.T) {
	kvs := []KeyValue{{"InitiatorName", "iqn.2024-01.dev.gomp:host"}, {"X-empty", ""}, {"TargetAddress", "10.0.0.1:3260,1"}}
	b, err := AppendText([]byte("A=1\x00"), kvs...)
	require.NoError(t, err)
	require.Equal(t, "A=1\x00InitiatorName=iqn.2024-01.dev.gomp:host\x00X-empty=\x00TargetAddress=10.0.0.1:3260,1\x00", string(b))
	got, err := ParseText(b, TextLimits{})
	require.NoError(t, err)
	require.Equal(t, append([]KeyValue{{"A", "1"}}, kvs...), got)

	for _, bad := range []KeyValue{
		{"Bad Key", "1"}, {"", "1"}, {"K=ey", "1"}, {strings.Repeat("k", 64), "1"}, {"A", "x\x00y"},
	} {
		_, err := AppendText(nil, bad)
		requireTextError(t, err, false, -1)
	}
}

func TestTextParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"8192", 8192, true},
		{"0", 0, true},
		{"0x2000", 8192, true},
		{"0X2000", 8192, true},
		{"0x1", 1, true},
		{"0bAAAgAA==", 8192, true},
		{"0BAAAgAA==", 8192, true},
		{"18446744073709551615", 1<<64 - 1, true},
		{"0xffffffffffffffff", 1<<64 - 1, true},
		{"0x000102030405060708", 0x0102030405060708, true}, // 9 bytes, leading zero
		{"0x0000000000000000002000", 8192, true},
		{"0bAAECAwQFBgcI", 0x0102030405060708, true}, // 9 bytes in base64
		{"18446744073709551616", 0, false},
		{"0x010000000000000000", 0, false}, // 65 bits
		{"-1", 0, false},
		{"+1", 0, false},
		{"", 0, false},
		{"abc", 0, false},
		{"0x", 0, false},
		{"0xg1", 0, false},
		{"0b!!!!", 0, false},
		{"1.5", 0, false},
		{" 1", 0, false},
	}
	for _, tc := range tests {
		n, err := ParseNumber(tc.in)
		if !tc.ok {
			requireTextError(t, err, false, -1)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.want, n, "%q", tc.in)
	}
}

func TestTextParseBinary(t *testing.T) {
	tests := []struct {
		in   string
		want []byte
		ok   bool
	}{
		{"0x123", []byte{0x01, 0x23}, true}, // odd digit count: implied leading zero
		{"0xABcdEF", []byte{0xab, 0xcd, 0xef}, true},
		{"0X00ff", []byte{0x00, 0xff}, true},
		{"0bAQID", []byte{1, 2, 3}, true},
		{"0BAQI=", []byte{1, 2}, true},
		{"0xg0", nil, false},
		{"0x12 34", nil, false},
		{"0b@@@@", nil, false},
		{"0bAQI", nil, false}, // base64 padding missing
		{"1234", nil, false},
		{"0x", nil, false},
		{"", nil, false},
	}
	for _, tc := range tests {
		b, err := ParseBinary(tc.in)
		if !tc.ok {
			requireTextError(t, err, false, -1)
			continue
		}
		require.NoError(t, err, "%q", tc.in)
		require.Equal(t, tc.want, b, "%q", tc.in)
	}
	require.Equal(t, "0x00ff10", FormatHex([]byte{0x00, 0xff, 0x10}))
	require.Equal(t, "0bAQID", FormatBase64([]byte{1, 2, 3}))
}

func TestTextParseBool(t *testing.T) {
	for in, want := range map[string]bool{"Yes": true, "No": false} {
		v, err := ParseBool(in)
		require.NoError(t, err)
		require.Equal(t, want, v)
		require.Equal(t, in, FormatBool(want))
	}
	for _, in := range []string{"yes", "NO", "", "true", "1"} {
		_, err := ParseBool(in)
		requireTextError(t, err, false, -1)
	}
}

func TestTextSplitListAndLookup(t *testing.T) {
	require.Equal(t, []string{"CHAP", "None"}, SplitList("CHAP,None"))
	require.Equal(t, []string{"None"}, SplitList("None"))

	kvs := []KeyValue{{"A", "1"}, {"B", ""}, {"A", "2"}}
	v, ok := Lookup(kvs, "A")
	require.True(t, ok)
	require.Equal(t, "1", v, "first pair wins")
	v, ok = Lookup(kvs, "B")
	require.True(t, ok)
	require.Empty(t, v)
	_, ok = Lookup(kvs, "a")
	require.False(t, ok, "keys are case-sensitive")
}

func TestTextAssemblerSplitKey(t *testing.T) {
	var a TextAssembler
	parts := []string{"Targ", "etName=iqn.x\x00Targ", "etAddress=10.0.0.1:3260,1\x00"}
	pending := 0
	for _, part := range parts[:2] {
		kvs, done, err := a.Add([]byte(part), true)
		require.NoError(t, err)
		require.False(t, done)
		require.Nil(t, kvs)
		pending += len(part)
		require.Equal(t, pending, a.Pending())
	}
	kvs, done, err := a.Add([]byte(parts[2]), false)
	require.NoError(t, err)
	require.True(t, done)
	want := []KeyValue{{"TargetName", "iqn.x"}, {"TargetAddress", "10.0.0.1:3260,1"}}
	require.Equal(t, want, kvs)
	require.Zero(t, a.Pending())

	// Reuse: nothing of the last text leaks into the next, and the pairs
	// already returned stay intact.
	_, _, err = a.Add([]byte("B="), true)
	require.NoError(t, err)
	kvs2, done, err := a.Add([]byte("2"), false)
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, []KeyValue{{"B", "2"}}, kvs2)
	require.Equal(t, want, kvs)
}

func TestTextAssemblerErrors(t *testing.T) {
	a := TextAssembler{Limits: TextLimits{MaxTextLength: 8}}
	_, _, err := a.Add([]byte("12345"), true)
	require.NoError(t, err)
	kvs, done, err := a.Add([]byte("6789"), true)
	requireTextError(t, err, true, -1)
	require.False(t, done)
	require.Nil(t, kvs)
	require.Zero(t, a.Pending(), "reset after an error")

	_, _, err = a.Add([]byte("A=1\x00"), true)
	require.NoError(t, err)
	_, done, err = a.Add([]byte("B=22\x00"), false)
	requireTextError(t, err, true, -1)
	require.False(t, done)

	_, done, err = a.Add([]byte("B y=1"), false)
	requireTextError(t, err, false, -1)
	require.False(t, done)
	require.Zero(t, a.Pending())

	kvs, done, err = a.Add([]byte("A=1"), false)
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, []KeyValue{{"A", "1"}}, kvs)
}

func TestTextNextChunk(t *testing.T) {
	tests := []struct {
		text string
		max  int
		want []string
	}{
		{"0123456789", 4, []string{"0123", "4567", "89"}},
		{"01234567", 4, []string{"0123", "4567"}},
		{"0123", 4, []string{"0123"}},
		{"", 4, []string{""}},
	}
	for _, tc := range tests {
		var got []string
		rest := []byte(tc.text)
		for {
			var chunk []byte
			chunk, rest = NextChunk(rest, tc.max)
			got = append(got, string(chunk))
			if rest == nil {
				break
			}
			require.Equal(t, len(chunk), cap(chunk), "appending to a chunk must not overwrite the rest")
		}
		require.Equal(t, tc.want, got, "%q by %d", tc.text, tc.max)
	}
}

// TestCRC32CVectors checks the CRC examples of RFC 7143 Appendix A.4 (RFC
// 3720 Appendix B.4): the register value and the wire bytes, least
// significant byte first as the RFC prints them.
func TestCRC32CVectors(t *testing.T) {
	var zeros, ones, inc, dec [32]byte
	for i := range 32 {
		ones[i], inc[i], dec[i] = 0xff, byte(i), byte(31-i)
	}
	tests := []struct {
		name string
		data []byte
		crc  uint32
		wire []byte
	}{
		{"32 bytes of zeros", zeros[:], 0x8a9136aa, []byte{0xaa, 0x36, 0x91, 0x8a}},
		{"32 bytes of ones", ones[:], 0x62a8ab43, []byte{0x43, 0xab, 0xa8, 0x62}},
		{"32 incrementing bytes", inc[:], 0x46dd794e, []byte{0x4e, 0x79, 0xdd, 0x46}},
		{"32 decrementing bytes", dec[:], 0x113fdb5c, []byte{0x5c, 0xdb, 0x3f, 0x11}},
		{"iSCSI Read (10) command PDU", rfcReadPDU, 0xd9963a56, []byte{0x56, 0x3a, 0x96, 0xd9}},
		{"check value 123456789", []byte("123456789"), 0xe3069283, []byte{0x83, 0x92, 0x06, 0xe3}},
		{"empty", nil, 0, []byte{0, 0, 0, 0}},
	}
	for _, tc := range tests {
		require.Equal(t, tc.crc, CRC32C(tc.data), tc.name)
		require.Equal(t, tc.wire, appendDigest(nil, tc.crc), tc.name)
		require.Equal(t, tc.crc, digestAt(tc.wire), tc.name)
		half := len(tc.data) / 2
		require.Equal(t, tc.crc, updateCRC32C(CRC32C(tc.data[:half]), tc.data[half:]), tc.name)
	}
}
