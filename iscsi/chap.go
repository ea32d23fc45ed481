package iscsi

import (
	"fmt"
	"log/slog"

	"github.com/gomp-dev/gomp/iscsi/internal/chap"
)

// CHAP holds the credentials of one-way or mutual CHAP (RFC 7143 §12.1.3).
type CHAP struct {
	User   string // CHAP_N we send
	Secret Secret // secret the target shares for User
	// TargetUser and TargetSecret, when set, make CHAP mutual: the target
	// must prove it knows TargetSecret, and answer as TargetUser.
	TargetUser   string
	TargetSecret Secret
	// Algorithms in preference order; nil means SHA3-256, SHA-256, SHA-1,
	// MD5. A target that rejects the list is retried with MD5 alone.
	Algorithms []CHAPAlgorithm
}

// algorithms returns c's CHAP_A preference in the chap package's type:
// Algorithms, or chap.DefaultAlgorithms when c or its list is nil.
func (c *CHAP) algorithms() []chap.Algorithm {
	if c == nil || c.Algorithms == nil {
		return chap.DefaultAlgorithms()
	}
	algs := make([]chap.Algorithm, len(c.Algorithms))
	for i, a := range c.Algorithms {
		algs[i] = chap.Algorithm(a)
	}
	return algs
}

// Secret is a CHAP secret: the bytes a CHAP_R is computed from (RFC 7143
// §12.1.3, which expects at least 12 bytes without IPsec). Its methods make
// it print as "[redacted]" through every fmt verb (%v, %s, %x, %q, %#v),
// slog and text or JSON marshalling, so that it cannot leak through logs or
// error strings; convert it to []byte to get at the bytes.
type Secret []byte

// String returns "[redacted]", never the secret.
func (s Secret) String() string { return chap.Secret(s).String() }

// GoString returns "[redacted]", so that %#v does not print the secret
// either.
func (s Secret) GoString() string { return chap.Secret(s).GoString() }

// Format implements fmt.Formatter so that %x, %v, %q and the rest print
// "[redacted]" rather than the bytes.
func (s Secret) Format(f fmt.State, verb rune) { chap.Secret(s).Format(f, verb) }

// LogValue implements slog.LogValuer: "[redacted]".
func (s Secret) LogValue() slog.Value { return chap.Secret(s).LogValue() }

// MarshalText implements encoding.TextMarshaler, so that encoding/json and
// friends write "[redacted]" too. There is deliberately no UnmarshalText.
func (s Secret) MarshalText() ([]byte, error) { return chap.Secret(s).MarshalText() }

// Clear overwrites the secret's bytes with zeros.
func (s Secret) Clear() { clear(s) }

// Weak reports whether s is shorter than the 12 bytes RFC 7143 §12.1.3
// expects of a secret used without IPsec.
func (s Secret) Weak() bool { return chap.Secret(s).Weak() }

// LoadSecret reads a CHAP secret from a file, dropping one trailing newline.
// An empty secret, or a file that is not a regular file or is larger than
// 64 KiB, is an error. The warning is non-nil, and s still returned, when
// the file is readable by group or others or the secret is Weak.
func LoadSecret(path string) (s Secret, warning, err error) {
	cs, warning, err := chap.LoadSecret(path)
	return Secret(cs), warning, err
}

// LoadSecretEnv reads a CHAP secret from the environment variable name.
// The warning is non-nil when the secret is shorter than 12 bytes, as
// LoadSecret warns for a file. The value stays readable in
// /proc/PID/environ for the life of the process: prefer a file.
func LoadSecretEnv(name string) (s Secret, warning, err error) {
	cs, warning, err := chap.LoadSecretEnv(name)
	return Secret(cs), warning, err
}

// CHAPAlgorithm is one CHAP digest algorithm (CHAP_A), numbered as in the
// IANA "PPP Authentication Algorithms" registry RFC 7143 §12.1.3 uses.
type CHAPAlgorithm uint8

// CHAP algorithms, in RFC 7143 / IANA numbering.
const (
	CHAPMD5     CHAPAlgorithm = 5 // RFC 1994; the one RFC 7143 requires
	CHAPSHA1    CHAPAlgorithm = 6
	CHAPSHA256  CHAPAlgorithm = 7
	CHAPSHA3256 CHAPAlgorithm = 8
)

// String returns the algorithm's name ("MD5", "SHA-1", "SHA-256",
// "SHA3-256"), or "Algorithm(N)" for an unknown value.
func (a CHAPAlgorithm) String() string { return chap.Algorithm(a).String() }

// Valid reports whether a is an algorithm this package implements.
func (a CHAPAlgorithm) Valid() bool { return chap.Algorithm(a).Valid() }

// Size returns the digest size in bytes, the length of a CHAP_R, or 0 for
// an invalid algorithm.
func (a CHAPAlgorithm) Size() int { return chap.Algorithm(a).Size() }
