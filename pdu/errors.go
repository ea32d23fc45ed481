package pdu

import (
	"errors"
	"fmt"
)

// Sentinel errors to branch on with errors.Is. The typed errors below wrap
// them so that both errors.Is and errors.As work.
var (
	// ErrTruncated: fewer bytes than the PDU's own length fields require.
	ErrTruncated = errors.New("pdu: truncated")
	// ErrInvalidField: a header field holds a value RFC 7143 forbids.
	ErrInvalidField = errors.New("pdu: invalid field")
	// ErrLimit: a length exceeds a negotiated or structural limit.
	ErrLimit = errors.New("pdu: limit exceeded")
	// ErrDigest: a header or data digest does not match.
	ErrDigest = errors.New("pdu: digest mismatch")
	// ErrUnknownOpcode: the opcode is not one RFC 7143 defines.
	ErrUnknownOpcode = errors.New("pdu: unknown opcode")
	// ErrText: a text segment (key=value pairs) is malformed.
	ErrText = errors.New("pdu: malformed text")
)

// FieldError reports a header field whose value is invalid.
type FieldError struct {
	Op     Opcode // PDU the field belongs to
	Field  string // field name as RFC 7143 spells it
	Value  uint64 // offending value
	Reason string // what is wrong with it
}

// Error names the opcode, the field, its value and the reason.
func (e *FieldError) Error() string {
	return fmt.Sprintf("pdu: %v: %s = %d (0x%x): %s", e.Op, e.Field, e.Value, e.Value, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidField) or ErrUnknownOpcode true.
func (e *FieldError) Is(target error) bool {
	return target == ErrInvalidField || (target == ErrUnknownOpcode && e.Field == "Opcode")
}

// LimitError reports a length beyond a limit, found before anything was read
// into or allocated for it.
type LimitError struct {
	Op    Opcode // PDU being read or written
	Field string // e.g. "DataSegmentLength"
	Value uint64 // length found
	Limit uint64 // largest allowed
}

// Error names the opcode, the field, the value and its limit.
func (e *LimitError) Error() string {
	return fmt.Sprintf("pdu: %v: %s %d exceeds limit %d", e.Op, e.Field, e.Value, e.Limit)
}

// Unwrap returns ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// DigestKind tells a header digest from a data digest.
type DigestKind uint8

// Digest kinds.
const (
	HeaderDigest DigestKind = iota
	DataDigest
)

// String returns "header digest" or "data digest".
func (k DigestKind) String() string {
	if k == HeaderDigest {
		return "header digest"
	}
	return "data digest"
}

// DigestError reports a CRC32C mismatch. After a data digest error the stream
// is still in sync (the whole PDU was consumed); after a header digest error
// it is not, and the connection must be dropped (RFC 7143 §7.8).
type DigestError struct {
	Op   Opcode
	Kind DigestKind
	Got  uint32 // digest received
	Want uint32 // digest computed
}

// Error names the opcode, the digest kind, and the received and computed
// CRC32C values.
func (e *DigestError) Error() string {
	return fmt.Sprintf("pdu: %v: %v mismatch: got 0x%08x, computed 0x%08x", e.Op, e.Kind, e.Got, e.Want)
}

// Unwrap returns ErrDigest.
func (e *DigestError) Unwrap() error { return ErrDigest }

// TruncatedError reports input shorter than a PDU's length fields require.
type TruncatedError struct {
	What string // e.g. "BHS", "AHS", "data segment"
	Have int
	Need int
}

// Error names what was truncated, the bytes present and the bytes needed.
func (e *TruncatedError) Error() string {
	return fmt.Sprintf("pdu: truncated %s: have %d bytes, need %d", e.What, e.Have, e.Need)
}

// Unwrap returns ErrTruncated.
func (e *TruncatedError) Unwrap() error { return ErrTruncated }

// TextError reports a malformed or over-limit text segment (RFC 7143 §6).
type TextError struct {
	Offset int    // byte offset in the (assembled) text
	Key    string // key involved, if known (truncated to 64 bytes)
	Reason string
	limit  bool
}

// Error names the byte offset, the key when known, and the reason.
func (e *TextError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("pdu: text at byte %d, key %q: %s", e.Offset, e.Key, e.Reason)
	}
	return fmt.Sprintf("pdu: text at byte %d: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrText) true, and ErrLimit for limit violations.
func (e *TextError) Is(target error) bool {
	return target == ErrText || (e.limit && target == ErrLimit)
}
