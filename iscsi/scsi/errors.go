package scsi

import (
	"errors"
	"fmt"
	"math"
)

// Sentinel errors to branch on with errors.Is. The typed errors below wrap
// them so that both errors.Is and errors.As work.
var (
	// ErrTruncated: the buffer is shorter than the structure or its own
	// length field requires. The TruncatedError's Need is the allocation
	// length to retry the command with.
	ErrTruncated = errors.New("scsi: truncated")
	// ErrInvalidField: a field holds a value the standard forbids, or a
	// length field points outside its structure.
	ErrInvalidField = errors.New("scsi: invalid field")
	// ErrLimit: an encoder argument does not fit its field.
	ErrLimit = errors.New("scsi: value exceeds field")
)

// TruncatedError reports input shorter than a structure requires. When a
// length field in the data asked for more than the buffer holds, Need is
// the total length the device has to return, so that the caller can reissue
// the command with that allocation length.
type TruncatedError struct {
	What string // e.g. "REPORT LUNS parameter data"
	Have int    // bytes available
	Need int    // bytes required
}

// Error names what was truncated, the bytes present and the bytes needed.
func (e *TruncatedError) Error() string {
	return fmt.Sprintf("scsi: truncated %s: have %d bytes, need %d", e.What, e.Have, e.Need)
}

// Unwrap returns ErrTruncated.
func (e *TruncatedError) Unwrap() error { return ErrTruncated }

// FieldError reports a field whose value is invalid.
type FieldError struct {
	What   string // structure, e.g. "VPD page 0x83"
	Field  string // field name as the standard spells it
	Offset int    // byte offset of the field in the input
	Value  uint64 // offending value
	Reason string // what is wrong with it
}

// Error names the data, the field, its value, its byte offset and the
// reason.
func (e *FieldError) Error() string {
	return fmt.Sprintf("scsi: %s: %s = %d (0x%x) at byte %d: %s",
		e.What, e.Field, e.Value, e.Value, e.Offset, e.Reason)
}

// Unwrap returns ErrInvalidField.
func (e *FieldError) Unwrap() error { return ErrInvalidField }

// LimitError reports an encoder argument too large for its field.
type LimitError struct {
	What  string // structure being built
	Field string // field that would overflow
	Value uint64 // value asked for
	Limit uint64 // largest value the field holds
}

// Error names the encoder, the field, the value and its limit.
func (e *LimitError) Error() string {
	return fmt.Sprintf("scsi: %s: %s %d exceeds limit %d", e.What, e.Field, e.Value, e.Limit)
}

// Unwrap returns ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// truncated returns a *TruncatedError when b holds fewer than need bytes.
func truncated(what string, b []byte, need int) error {
	if len(b) >= need {
		return nil
	}
	return &TruncatedError{What: what, Have: len(b), Need: need}
}

// lengthPrefixed returns b[hdr:hdr+n], or a *TruncatedError whose Need is
// hdr+n (saturated to math.MaxInt) when b is shorter than that. The length
// field is never trusted beyond the buffer.
func lengthPrefixed(what string, b []byte, hdr int, n uint64) ([]byte, error) {
	if err := truncated(what, b, hdr); err != nil {
		return nil, err
	}
	if n > uint64(len(b)-hdr) {
		need := math.MaxInt
		if n <= uint64(math.MaxInt-hdr) {
			need = hdr + int(n)
		}
		return nil, &TruncatedError{What: what, Have: len(b), Need: need}
	}
	return b[hdr : hdr+int(n)], nil
}
