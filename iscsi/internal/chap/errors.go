package chap

import (
	"errors"
	"fmt"
	"io/fs"
)

// Sentinel errors to branch on with errors.Is; the typed errors below wrap
// them.
var (
	// ErrUnsupportedAlgorithm: a CHAP_A value that is not one of ours.
	ErrUnsupportedAlgorithm = errors.New("chap: unsupported algorithm")
	// ErrShortChallenge: the target's CHAP_C is below MinChallengeLength.
	ErrShortChallenge = errors.New("chap: challenge too short")
	// ErrReflected: the target sent back the challenge we sent it.
	ErrReflected = errors.New("chap: target reflected our challenge")
	// ErrIdentifier: a CHAP_I value that is not a number from 0 to 255.
	ErrIdentifier = errors.New("chap: invalid identifier")
	// ErrEmptySecret: a secret file or variable holds nothing.
	ErrEmptySecret = errors.New("chap: empty secret")
	// ErrSecretPermissions (a warning): the secret file is accessible to
	// group or others.
	ErrSecretPermissions = errors.New("chap: secret file accessible to group or others")
	// ErrWeakSecret (a warning): the secret is shorter than MinSecretLength.
	ErrWeakSecret = errors.New("chap: secret shorter than 12 bytes")
)

// AlgorithmError reports a CHAP_A value we do not support.
type AlgorithmError struct {
	Value string // as the target sent it (clipped)
}

// Error names the CHAP_A value the target chose.
func (e *AlgorithmError) Error() string {
	return fmt.Sprintf("chap: target chose CHAP_A=%q, not an algorithm we support", e.Value)
}

// Unwrap returns ErrUnsupportedAlgorithm.
func (e *AlgorithmError) Unwrap() error { return ErrUnsupportedAlgorithm }

// ChallengeError reports a target challenge we refuse.
type ChallengeError struct {
	Len int   // length of the target's challenge in bytes
	Err error // ErrShortChallenge or ErrReflected
}

// Error names the challenge length and why it is refused: too short, or
// equal to our own challenge (a reflection).
func (e *ChallengeError) Error() string {
	if e.Err == ErrShortChallenge {
		return fmt.Sprintf("chap: target's challenge of %d bytes is shorter than %d", e.Len, MinChallengeLength)
	}
	return fmt.Sprintf("chap: target's challenge of %d bytes equals ours (reflection)", e.Len)
}

// Unwrap returns Err.
func (e *ChallengeError) Unwrap() error { return e.Err }

// SecretWarning describes a secret that works but is unsafe. LoadSecret
// returns it as its warning value, not as a failure.
type SecretWarning struct {
	Source string      // file path or environment variable name
	Mode   fs.FileMode // permission bits, for ErrSecretPermissions
	Len    int         // secret length, for ErrWeakSecret
	Err    error       // ErrSecretPermissions or ErrWeakSecret
}

// Error names the secret's source and the problem: the file mode, or the
// secret's length.
func (e *SecretWarning) Error() string {
	if e.Err == ErrSecretPermissions {
		return fmt.Sprintf("chap: secret file %s has mode %04o: accessible to group or others", e.Source, e.Mode.Perm())
	}
	return fmt.Sprintf("chap: secret from %s is %d bytes, shorter than %d", e.Source, e.Len, MinSecretLength)
}

// Unwrap returns Err.
func (e *SecretWarning) Unwrap() error { return e.Err }
