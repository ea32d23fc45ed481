package chap

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"hash"
	"strconv"
	"strings"

	"github.com/gomp-dev/gomp/pdu"
)

// Algorithm is a CHAP digest algorithm, numbered as in the IANA "PPP
// Authentication Algorithms" registry used by CHAP_A (RFC 7143 §12.1.3).
type Algorithm uint8

// Algorithms we implement.
const (
	MD5      Algorithm = 5 // RFC 1994; the one RFC 7143 requires
	SHA1     Algorithm = 6
	SHA256   Algorithm = 7
	SHA3_256 Algorithm = 8
)

// String returns the algorithm's name ("MD5", "SHA-1", "SHA-256",
// "SHA3-256"), or "Algorithm(N)" for an unknown value.
func (a Algorithm) String() string {
	switch a {
	case MD5:
		return "MD5"
	case SHA1:
		return "SHA-1"
	case SHA256:
		return "SHA-256"
	case SHA3_256:
		return "SHA3-256"
	}
	return "Algorithm(" + strconv.Itoa(int(a)) + ")"
}

// Valid reports whether a is an algorithm this package implements.
func (a Algorithm) Valid() bool { return a >= MD5 && a <= SHA3_256 }

// Size returns the digest size in bytes, the length of a CHAP_R, or 0 for an
// invalid algorithm.
func (a Algorithm) Size() int {
	switch a {
	case MD5:
		return md5.Size
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	case SHA3_256:
		return 32
	}
	return 0
}

// newHash returns a fresh hash for a, or nil for an invalid algorithm.
func (a Algorithm) newHash() hash.Hash {
	switch a {
	case MD5:
		return md5.New()
	case SHA1:
		return sha1.New()
	case SHA256:
		return sha256.New()
	case SHA3_256:
		return sha3.New256()
	}
	return nil
}

// DefaultAlgorithms returns our CHAP_A preference, strongest first:
// SHA3-256, SHA-256, SHA-1, MD5. See the package documentation about tgtd.
func DefaultAlgorithms() []Algorithm {
	return []Algorithm{SHA3_256, SHA256, SHA1, MD5}
}

// FormatAlgorithms formats a CHAP_A offer, e.g. "8,7,6,5".
func FormatAlgorithms(algs []Algorithm) string {
	var b strings.Builder
	for i, a := range algs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(a)))
	}
	return b.String()
}

// ParseAlgorithm parses the target's CHAP_A answer: a single number naming
// an algorithm we implement. The caller should also check that it is one it
// offered (slices.Contains). "Reject", lists and unknown numbers fail with an
// *AlgorithmError.
func ParseAlgorithm(v string) (Algorithm, error) {
	n, err := pdu.ParseNumber(v)
	if err != nil || n > 255 || !Algorithm(n).Valid() {
		return 0, &AlgorithmError{Value: clip(v)}
	}
	return Algorithm(n), nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
