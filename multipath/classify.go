package multipath

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// action is what the device does about a failed attempt.
type action uint8

const (
	// actReturn: give the result to the caller (success, the caller's
	// context ended, or an error the LUN itself reports on every path).
	actReturn action = iota
	// actRetry: a transient condition; retry a bounded number of times,
	// then treat it as a path error.
	actRetry
	// actFailPath: the path cannot serve the I/O; fail it and retry the
	// I/O on another path.
	actFailPath
)

func (a action) String() string {
	switch a {
	case actReturn:
		return "return"
	case actRetry:
		return "retry"
	case actFailPath:
		return "fail path"
	}
	return "action(?)"
}

// classify decides, like the kernel's blk_path_error and
// scsi_io_completion_action, what to do about err from one attempt:
//
//	nil, or the caller's context ended           return
//	connection lost, session closed, aborted,
//	timed out (errors.Is ErrConnection, …)        fail path
//	*SCSIError ClassTargetError (MEDIUM ERROR,
//	  ILLEGAL REQUEST, DATA PROTECT, space
//	  allocation failed, RESERVATION CONFLICT…)   return
//	*SCSIError ClassRetry (UNIT ATTENTION, BUSY,
//	  TASK SET FULL, becoming ready…) or ClassOK   retry
//	*SCSIError ClassPathError (04/0B standby,
//	  25/00, ACA ACTIVE, no sense…)               fail path
//	*RejectError                                  return (the target refuses the PDU on any path)
//	misaligned, beyond the end, unsupported       return
//	anything else (e.g. *ResponseError)           fail path, as the kernel does
func classify(ctx context.Context, err error) action {
	switch {
	case err == nil || ctx.Err() != nil:
		return actReturn
	case errors.Is(err, iscsi.ErrConnection), errors.Is(err, iscsi.ErrSessionClosed),
		errors.Is(err, iscsi.ErrAborted), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, os.ErrDeadlineExceeded):
		return actFailPath
	case errors.Is(err, iscsi.ErrUnaligned), errors.Is(err, io.EOF), errors.Is(err, errors.ErrUnsupported):
		return actReturn
	}
	var se *iscsi.SCSIError
	if errors.As(err, &se) {
		switch se.Class() {
		case scsi.ClassTargetError:
			return actReturn
		case scsi.ClassRetry, scsi.ClassOK:
			return actRetry
		}
		return actFailPath
	}
	var re *iscsi.RejectError
	if errors.As(err, &re) {
		return actReturn
	}
	return actFailPath
}

// turState maps a TEST UNIT READY result to a path state, as
// multipath-tools' tur checker does: GOOD up; UNIT ATTENTION retried
// (by the caller); NOT READY 04/0B ghost (standby), 04/0A pending
// (transitioning); ILLEGAL REQUEST 25/00 disconnected; anything else down.
func turState(err error) (state PathState, retry bool) {
	if err == nil || isReservationConflict(err) { // another host's reservation: the path works
		return PathUp, false
	}
	var se *iscsi.SCSIError
	if !errors.As(err, &se) || !se.HasSense {
		return PathDown, false
	}
	switch s := se.Sense; {
	case s.Key == scsi.KeyUnitAttention:
		return PathDown, true
	case s.Key == scsi.KeyNotReady && s.Code() == scsi.ASTargetPortStandby:
		return PathGhost, false
	case s.Key == scsi.KeyNotReady && s.Code() == scsi.ASTransitioning:
		return PathPending, false
	case s.Key == scsi.KeyIllegalRequest && s.Code() == scsi.ASLUNotSupported:
		return PathDisconnected, false
	}
	return PathDown, false
}
