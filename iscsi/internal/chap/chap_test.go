package chap

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/pdu"
)

// vectorChallenge is 0x00..0x0f.
var vectorChallenge = []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// Expected digests of 0x01 || "secretsecret" || 0x00..0x0f, computed outside
// Go with both `openssl dgst -md5|-sha1|-sha256|-sha3-256` and python3
// hashlib on the same 29 bytes.
var knownAnswers = []struct {
	alg  Algorithm
	want string
}{
	{MD5, "226dc576c33f04ff9c3a200ffe35f442"},
	{SHA1, "ae35ac1694de2cf7e68e790fbface9a28501fed7"},
	{SHA256, "024aef34e176668b34ec2bf7f5525e3bf7f0e94d7cec77cb07d08c3d5a8e23ca"},
	{SHA3_256, "e2bd0aba5f885a39aa4fbebccc63203c2f728f034cbaf009b44c2f0c5544f172"},
}

func TestResponseKnownAnswers(t *testing.T) {
	for _, tc := range knownAnswers {
		t.Run(tc.alg.String(), func(t *testing.T) {
			got := Response(tc.alg, 0x01, []byte("secretsecret"), vectorChallenge)
			require.Equal(t, tc.want, hex.EncodeToString(got))
			require.Len(t, got, tc.alg.Size())
			require.Equal(t, "0x"+tc.want, pdu.FormatHex(got))
			require.True(t, Verify(tc.alg, 0x01, []byte("secretsecret"), vectorChallenge, got))
		})
	}
}

// TestResponseRFC1994Formula recomputes MD5 CHAP from the RFC 1994 formula
// for arbitrary inputs, independently of Response.
func TestResponseRFC1994Formula(t *testing.T) {
	for id := range 256 {
		secret := bytes.Repeat([]byte{byte(id)}, id%40+1)
		challenge := bytes.Repeat([]byte{^byte(id)}, 16+id%17)
		msg := append(append([]byte{byte(id)}, secret...), challenge...)
		want := md5.Sum(msg)
		require.Equal(t, want[:], Response(MD5, byte(id), secret, challenge))
	}
}

func TestResponseInvalidAlgorithm(t *testing.T) {
	for _, a := range []Algorithm{0, 4, 9, 0x80, 255} {
		require.Nil(t, Response(a, 1, []byte("secretsecret"), vectorChallenge))
		require.False(t, Verify(a, 1, []byte("secretsecret"), vectorChallenge, nil))
	}
}

func TestAlgorithm(t *testing.T) {
	tests := []struct {
		alg   Algorithm
		name  string
		size  int
		valid bool
	}{
		{MD5, "MD5", 16, true},
		{SHA1, "SHA-1", 20, true},
		{SHA256, "SHA-256", 32, true},
		{SHA3_256, "SHA3-256", 32, true},
		{0, "Algorithm(0)", 0, false},
		{4, "Algorithm(4)", 0, false},
		{9, "Algorithm(9)", 0, false},
		{0x81, "Algorithm(129)", 0, false}, // MS-CHAPv2 in the PPP registry
	}
	for _, tc := range tests {
		require.Equal(t, tc.name, tc.alg.String())
		require.Equal(t, tc.size, tc.alg.Size())
		require.Equal(t, tc.valid, tc.alg.Valid())
	}
	require.Equal(t, "8,7,6,5", FormatAlgorithms(DefaultAlgorithms()))
	require.Equal(t, "5", FormatAlgorithms([]Algorithm{MD5}))
	require.Equal(t, "", FormatAlgorithms(nil))
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in   string
		want Algorithm
		ok   bool
	}{
		{"5", MD5, true},
		{"6", SHA1, true},
		{"7", SHA256, true},
		{"8", SHA3_256, true},
		{"0x5", MD5, true},
		{"05", MD5, true},
		{"4", 0, false},
		{"9", 0, false},
		{"261", 0, false}, // 5 + 256 must not wrap to MD5
		{"129", 0, false},
		{"", 0, false},
		{"5,7", 0, false}, // a list is an offer, not a choice
		{"Reject", 0, false},
		{"None", 0, false},
		{"-5", 0, false},
		{"18446744073709551621", 0, false}, // 2^64+5
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseAlgorithm(tc.in)
			if !tc.ok {
				require.ErrorIs(t, err, ErrUnsupportedAlgorithm)
				var ae *AlgorithmError
				require.ErrorAs(t, err, &ae)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNewChallenge(t *testing.T) {
	for _, alg := range DefaultAlgorithms() {
		src := bytes.NewReader(bytes.Repeat([]byte{0xa5}, 64))
		id, c, err := NewChallenge(alg, src)
		require.NoError(t, err)
		require.Equal(t, byte(0xa5), id)
		require.Len(t, c, max(16, alg.Size()), alg.String())
	}
	_, c1, err := NewChallenge(SHA256, nil)
	require.NoError(t, err)
	_, c2, err := NewChallenge(SHA256, nil)
	require.NoError(t, err)
	require.Len(t, c1, 32)
	require.NotEqual(t, c1, c2, "crypto/rand challenges repeat")

	_, _, err = NewChallenge(MD5, bytes.NewReader(make([]byte, 5)))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, _, err = NewChallenge(Algorithm(9), nil)
	require.ErrorIs(t, err, ErrUnsupportedAlgorithm)
}

func TestVerify(t *testing.T) {
	secret := []byte("targetsecret")
	for _, alg := range DefaultAlgorithms() {
		id, c, err := NewChallenge(alg, nil)
		require.NoError(t, err)
		good := Response(alg, id, secret, c)
		require.True(t, Verify(alg, id, secret, c, good))

		for i := range good {
			bad := bytes.Clone(good)
			bad[i] ^= 0x01
			require.False(t, Verify(alg, id, secret, c, bad), "flipped byte %d", i)
		}
		require.False(t, Verify(alg, id+1, secret, c, good), "wrong id")
		require.False(t, Verify(alg, id, []byte("targetsecreT"), c, good), "wrong secret")
		require.False(t, Verify(alg, id, secret, c, good[:len(good)-1]), "short")
		require.False(t, Verify(alg, id, secret, c, append(bytes.Clone(good), 0)), "long")
		require.False(t, Verify(alg, id, secret, c, nil), "empty")
	}
	// The same response under another algorithm of equal size fails.
	id, c, _ := NewChallenge(SHA256, nil)
	require.False(t, Verify(SHA3_256, id, secret, c, Response(SHA256, id, secret, c)))
}

func TestValidateChallenge(t *testing.T) {
	ours := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name   string
		ours   []byte
		theirs []byte
		want   error
	}{
		{"one-way 16 bytes", nil, make([]byte, 16), nil},
		{"one-way tgtd 50 bytes", nil, make([]byte, 50), nil},
		{"mutual different", ours, bytes.Repeat([]byte{8}, 32), nil},
		{"mutual prefix of ours", ours, ours[:16], nil},
		{"empty", nil, nil, ErrShortChallenge},
		{"15 bytes", nil, make([]byte, 15), ErrShortChallenge},
		{"reflected", ours, bytes.Clone(ours), ErrReflected},
		{"short and reflected", ours[:8], ours[:8], ErrShortChallenge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateChallenge(tc.ours, tc.theirs)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			var ce *ChallengeError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, len(tc.theirs), ce.Len)
			require.True(t, strings.HasPrefix(err.Error(), "chap: "))
		})
	}
}

func TestParseIdentifier(t *testing.T) {
	tests := []struct {
		in   string
		want byte
		ok   bool
	}{
		{"0", 0, true},
		{"1", 1, true},
		{"255", 255, true},
		{"0xff", 255, true},
		{"256", 0, false},
		{"", 0, false},
		{"x", 0, false},
		{"-1", 0, false},
	}
	for _, tc := range tests {
		got, err := ParseIdentifier(tc.in)
		if !tc.ok {
			require.ErrorIs(t, err, ErrIdentifier, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
		require.Equal(t, tc.want, must(ParseIdentifier(FormatIdentifier(got))))
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func FuzzParseAlgorithm(f *testing.F) {
	for _, s := range []string{"5", "7", "8", "0x06", "261", "5,7", "Reject", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAlgorithm(s)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Fatalf("ParseAlgorithm(%q) = %v, not ErrUnsupportedAlgorithm", s, err)
			}
			return
		}
		if !a.Valid() || a.Size() == 0 {
			t.Fatalf("ParseAlgorithm(%q) = %v, invalid", s, a)
		}
	})
}

func FuzzParseIdentifier(f *testing.F) {
	for _, s := range []string{"0", "255", "256", "0xff", "0b/w==", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIdentifier(s)
		if err != nil {
			if !errors.Is(err, ErrIdentifier) {
				t.Fatalf("ParseIdentifier(%q) = %v, not ErrIdentifier", s, err)
			}
			return
		}
		if back, err := ParseIdentifier(FormatIdentifier(id)); err != nil || back != id {
			t.Fatalf("round trip of %d: %d, %v", id, back, err)
		}
	})
}

// FuzzChallengeResponse feeds arbitrary target values (CHAP_A, CHAP_I,
// CHAP_C as text) through the initiator's path: it never panics, and a
// response it computes always verifies.
func FuzzChallengeResponse(f *testing.F) {
	f.Add("5", "1", "0x000102030405060708090a0b0c0d0e0f", []byte("secretsecret"))
	f.Add("7", "0xff", "0b"+strings.Repeat("A", 24), []byte("s"))
	f.Add("8", "256", "0x01", []byte{})
	f.Fuzz(func(t *testing.T, a, i, c string, secret []byte) {
		alg, err := ParseAlgorithm(a)
		if err != nil {
			return
		}
		id, err := ParseIdentifier(i)
		if err != nil {
			return
		}
		challenge, err := pdu.ParseBinary(c)
		if err != nil || ValidateChallenge(nil, challenge) != nil {
			return
		}
		r := Response(alg, id, secret, challenge)
		if len(r) != alg.Size() || !Verify(alg, id, secret, challenge, r) {
			t.Fatalf("response %x for %v does not verify", r, alg)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	b.ReportAllocs()
	secret := []byte("secretsecret")
	r := Response(SHA256, 1, secret, vectorChallenge)
	for b.Loop() {
		if !Verify(SHA256, 1, secret, vectorChallenge, r) {
			b.Fatal("verify failed")
		}
	}
}
