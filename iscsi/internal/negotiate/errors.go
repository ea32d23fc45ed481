package negotiate

import (
	"errors"
	"fmt"
)

// Sentinel errors to branch on with errors.Is.
var (
	// ErrNegotiation: the target's keys break RFC 7143 §6 or §13. The
	// login must fail; every such error is an *Error.
	ErrNegotiation = errors.New("negotiate: negotiation failed")
	// ErrConfig: a Config value is outside its key's legal range.
	ErrConfig = errors.New("negotiate: invalid config")
)

// Error reports a key the target sent that we cannot accept.
type Error struct {
	Key    string
	Value  string // as sent, clipped to 40 bytes
	Reason string
}

// Error names the key, the value the target sent and the reason it was
// refused.
func (e *Error) Error() string {
	return fmt.Sprintf("negotiate: target sent %s=%s: %s", e.Key, e.Value, e.Reason)
}

// Unwrap returns ErrNegotiation.
func (e *Error) Unwrap() error { return ErrNegotiation }

func fail(key, value, format string, args ...any) *Error {
	return &Error{Key: key, Value: clip(value), Reason: fmt.Sprintf(format, args...)}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
