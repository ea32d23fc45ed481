package chap

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/gomp-dev/gomp/pdu"
)

// MinChallengeLength is the shortest target challenge (CHAP_C) we answer, in
// bytes. A short challenge lets an eavesdropper collect responses for a
// dictionary attack; 16 bytes is what MD5 CHAP implementations (LIO, and the
// MD5 digest size) use.
const MinChallengeLength = 16

// MinSecretLength is the shortest secret accepted without a warning: RFC 7143
// §12.1.3 requires IPsec for secrets shorter than 96 bits.
const MinSecretLength = 12

// Response computes a CHAP response (RFC 1994 §4.1): the digest of the
// identifier, then the secret, then the challenge. It returns nil for an
// invalid algorithm.
func Response(alg Algorithm, id byte, secret, challenge []byte) []byte {
	h := alg.newHash()
	if h == nil {
		return nil
	}
	h.Write([]byte{id})
	h.Write(secret)
	h.Write(challenge)
	return h.Sum(make([]byte, 0, alg.Size()))
}

// NewChallenge draws an identifier and a challenge for mutual CHAP from r,
// or from crypto/rand when r is nil. The challenge is max(16, alg.Size())
// bytes long.
func NewChallenge(alg Algorithm, r io.Reader) (id byte, challenge []byte, err error) {
	if !alg.Valid() {
		return 0, nil, fmt.Errorf("chap: new challenge: %w", &AlgorithmError{Value: alg.String()})
	}
	if r == nil {
		r = rand.Reader
	}
	buf := make([]byte, 1+max(MinChallengeLength, alg.Size()))
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, nil, fmt.Errorf("chap: new challenge: %w", err)
	}
	return buf[0], buf[1:], nil
}

// Verify reports whether response is the correct CHAP response to our
// identifier and challenge. The comparison takes constant time for a
// response of the right length; a wrong length or algorithm fails at once.
func Verify(alg Algorithm, id byte, secret, challenge, response []byte) bool {
	want := Response(alg, id, secret, challenge)
	if want == nil {
		return false
	}
	return subtle.ConstantTimeCompare(want, response) == 1
}

// ValidateChallenge checks the target's challenge before we answer it:
// shorter than MinChallengeLength is refused (ErrShortChallenge), and so is
// a challenge equal to ours (ErrReflected: RFC 7143 §12.1.3 forbids reusing
// the other direction's challenge; a target doing so may be replaying our own
// challenge to get its answer). ours is nil for one-way CHAP.
func ValidateChallenge(ours, theirs []byte) error {
	if len(theirs) < MinChallengeLength {
		return &ChallengeError{Len: len(theirs), Err: ErrShortChallenge}
	}
	if ours != nil && bytes.Equal(ours, theirs) {
		return &ChallengeError{Len: len(theirs), Err: ErrReflected}
	}
	return nil
}

// ParseIdentifier parses a CHAP_I value: a number from 0 to 255, decimal or
// hex (RFC 7143 §12.1.3).
func ParseIdentifier(v string) (byte, error) {
	n, err := pdu.ParseNumber(v)
	if err != nil {
		return 0, fmt.Errorf("chap: CHAP_I=%q: %w", clip(v), errors.Join(ErrIdentifier, err))
	}
	if n > 255 {
		return 0, fmt.Errorf("chap: CHAP_I=%q exceeds 255: %w", clip(v), ErrIdentifier)
	}
	return byte(n), nil
}

// FormatIdentifier formats a CHAP_I value in decimal.
func FormatIdentifier(id byte) string { return strconv.Itoa(int(id)) }
