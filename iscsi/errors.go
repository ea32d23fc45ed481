package iscsi

import (
	"errors"
	"fmt"

	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/gomp-dev/gomp/pdu"
)

// Sentinel errors. Errors returned by this package wrap them; branch with
// errors.Is.
var (
	// ErrConnection marks a connection-fatal error: the TCP connection is
	// gone, timed out, or the target broke the protocol. A command failing
	// with it was not completed by the target as far as the initiator
	// knows, and may be retried on another path.
	ErrConnection = errors.New("iscsi: connection failed")
	// ErrSessionClosed: the session was closed by Close or a logout.
	ErrSessionClosed = errors.New("iscsi: session closed")
	// ErrProtocol: the target sent something RFC 7143 forbids. Always also
	// ErrConnection, since the connection is dropped.
	ErrProtocol = errors.New("iscsi: protocol violation")
	// ErrAborted: the command was aborted (task management or context).
	ErrAborted = errors.New("iscsi: command aborted")
)

// ConnError is a connection-fatal error on one portal. It satisfies
// errors.Is(err, ErrConnection).
type ConnError struct {
	Portal string
	Err    error
}

// Error returns "iscsi: PORTAL: CAUSE".
func (e *ConnError) Error() string { return fmt.Sprintf("iscsi: %s: %v", e.Portal, e.Err) }

// Unwrap returns the cause.
func (e *ConnError) Unwrap() error { return e.Err }

// Is reports ErrConnection.
func (e *ConnError) Is(target error) bool { return target == ErrConnection }

// protocolError builds an ErrProtocol cause for a ConnError.
func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// wireError marks a PDU the target sent malformed — a field RFC 7143
// forbids, an unknown opcode, a length beyond the negotiated limits, bad
// text — as a protocol violation. I/O and digest errors stay as they are.
func wireError(err error) error {
	malformed := errors.Is(err, pdu.ErrInvalidField) || errors.Is(err, pdu.ErrUnknownOpcode) ||
		errors.Is(err, pdu.ErrLimit) || errors.Is(err, pdu.ErrText) || errors.Is(err, pdu.ErrTruncated)
	if malformed && !errors.Is(err, ErrProtocol) {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return err
}

// LoginError is a login refused by the target with a Login Response status
// (RFC 7143 §11.13.5), or a login that could not complete.
type LoginError struct {
	Portal string
	Target string
	Status pdu.LoginStatus
	Err    error // cause when Status is success (e.g. a negotiation error)
	// UsedCHAP tells whether we offered CHAP, for the hint.
	UsedCHAP bool
}

// Error names the portal, the target and the status (or the cause, when
// Err is set), with a hint for authentication failures and unknown targets.
func (e *LoginError) Error() string {
	cause := e.Status.String()
	if e.Err != nil {
		cause = e.Err.Error()
	}
	hint := ""
	switch e.Status {
	case pdu.LoginAuthenticationFailure:
		hint = " (check the CHAP user and secret)"
		if !e.UsedCHAP {
			hint = " (CHAP required by target; no credentials were given)"
		}
	case pdu.LoginNotFound:
		hint = " (check the target name; discovery lists them)"
	}
	return fmt.Sprintf("iscsi: login %s %s: %s%s", e.Portal, e.Target, cause, hint)
}

// Unwrap returns the cause, if any.
func (e *LoginError) Unwrap() error { return e.Err }

// SCSIError is a command that completed at the target with a status other
// than GOOD: a task-level error, the connection is fine.
type SCSIError struct {
	Status pdu.SCSIStatus
	Sense  scsi.Sense // valid when HasSense
	// HasSense is set when the target returned parseable sense data.
	HasSense bool
}

// Error names the SCSI status and, when the target returned sense data,
// the decoded sense.
func (e *SCSIError) Error() string {
	if e.HasSense {
		return fmt.Sprintf("iscsi: SCSI status %v: %v", e.Status, e.Sense)
	}
	return fmt.Sprintf("iscsi: SCSI status %v", e.Status)
}

// Class classifies the error for retry and failover decisions.
func (e *SCSIError) Class() scsi.Class {
	if e.HasSense {
		return scsi.Classify(scsi.Status(e.Status), &e.Sense)
	}
	return scsi.Classify(scsi.Status(e.Status), nil)
}

// RejectError is a command the target answered with a Reject PDU
// (RFC 7143 §11.17).
type RejectError struct {
	Reason pdu.RejectReason
	Op     pdu.Opcode // opcode of the rejected PDU
}

// Error names the rejected opcode and the reject reason.
func (e *RejectError) Error() string {
	return fmt.Sprintf("iscsi: target rejected %v: %v", e.Op, e.Reason)
}

// ResponseError is a command the target could not execute (iSCSI Response
// "Target Failure", RFC 7143 §11.4.3), or a task management function that
// did not complete.
type ResponseError struct {
	Response pdu.ServiceResponse
	TMF      pdu.TMFResponse
	tmf      bool
}

// Error names the task management response, or else the iSCSI service
// response.
func (e *ResponseError) Error() string {
	if e.tmf {
		return fmt.Sprintf("iscsi: task management: %v", e.TMF)
	}
	return fmt.Sprintf("iscsi: %v", e.Response)
}
