package chap

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
)

// Secret is a CHAP secret. It prints as "[redacted]" through every fmt verb,
// slog and text or JSON marshalling, so that it cannot end up in a log line.
// Use it as a []byte (Response, Verify) to get at the bytes.
type Secret []byte

const redacted = "[redacted]"

// String returns "[redacted]", never the secret.
func (Secret) String() string { return redacted }

// GoString returns "[redacted]", so that %#v does not print the secret
// either.
func (Secret) GoString() string { return redacted }

// Format implements fmt.Formatter so that %x, %v, %q and the rest print
// "[redacted]" rather than the bytes.
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText implements encoding.TextMarshaler, so that encoding/json and
// friends write "[redacted]" too. There is deliberately no UnmarshalText.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Clear overwrites the secret's bytes with zeros.
func (s Secret) Clear() { clear(s) }

// maxSecretFile bounds what LoadSecret reads; CHAP secrets are short.
const maxSecretFile = 64 << 10

// LoadSecret reads a secret from the file at path, dropping one trailing
// newline ("\n" or "\r\n"). An empty secret, a file that is not a regular
// file or is larger than 64 KiB is an error. A file accessible to group or
// others (as ssh refuses for private keys) and a secret shorter than
// MinSecretLength are reported in warning, a *SecretWarning (two are
// joined with errors.Join), while s is still returned.
func LoadSecret(path string) (s Secret, warning error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("chap: load secret: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("chap: load secret: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("chap: load secret: %s is not a regular file (%v)", path, fi.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, nil, fmt.Errorf("chap: load secret: %w", &os.PathError{Op: "read", Path: path, Err: err})
	}
	if len(b) > maxSecretFile {
		return nil, nil, fmt.Errorf("chap: load secret: %s is larger than %d bytes", path, maxSecretFile)
	}
	s = Secret(trimNewline(b))
	if len(s) == 0 {
		return nil, nil, fmt.Errorf("chap: load secret from %s: %w", path, ErrEmptySecret)
	}
	var warns []error
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		warns = append(warns, &SecretWarning{Source: path, Mode: perm, Err: ErrSecretPermissions})
	}
	if w := weak(path, s); w != nil {
		warns = append(warns, w)
	}
	return s, errors.Join(warns...), nil
}

// SecretFromEnv reads a secret from the environment variable name, taken as
// is (no newline trimming). An unset or empty variable is an error. Check
// s.Weak() for the length warning LoadSecret gives. The value stays in the
// process environment, readable by the same user in /proc; prefer a file.
func SecretFromEnv(name string) (Secret, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("chap: secret variable %s is not set", name)
	}
	if v == "" {
		return nil, fmt.Errorf("chap: secret variable %s: %w", name, ErrEmptySecret)
	}
	return Secret(v), nil
}

// LoadSecretEnv is SecretFromEnv with LoadSecret's length warning: a
// secret shorter than MinSecretLength is returned with a *SecretWarning
// naming "$name".
func LoadSecretEnv(name string) (s Secret, warning error, err error) {
	if s, err = SecretFromEnv(name); err != nil {
		return nil, nil, err
	}
	return s, weak("$"+name, s), nil
}

// Weak reports whether s is shorter than MinSecretLength.
func (s Secret) Weak() bool { return len(s) < MinSecretLength }

func weak(source string, s Secret) error {
	if s.Weak() {
		return &SecretWarning{Source: source, Len: len(s), Err: ErrWeakSecret}
	}
	return nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}
