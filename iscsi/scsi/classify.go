package scsi

// Status is the SCSI status byte (SAM-5 §5.3.1, Table 32). The iSCSI layer
// converts its own status type to this one.
type Status uint8

// SCSI status codes.
const (
	StatusGood                Status = 0x00
	StatusCheckCondition      Status = 0x02
	StatusConditionMet        Status = 0x04
	StatusBusy                Status = 0x08
	StatusReservationConflict Status = 0x18
	StatusTaskSetFull         Status = 0x28
	StatusACAActive           Status = 0x30
	StatusTaskAborted         Status = 0x40
)

var statusNames = map[Status]string{
	StatusGood: "GOOD", StatusCheckCondition: "CHECK CONDITION",
	StatusConditionMet: "CONDITION MET", StatusBusy: "BUSY",
	StatusReservationConflict: "RESERVATION CONFLICT", StatusTaskSetFull: "TASK SET FULL",
	StatusACAActive: "ACA ACTIVE", StatusTaskAborted: "TASK ABORTED",
}

// String returns the name of the value, or "Status(0xNN)" for an unknown
// value.
func (s Status) String() string { return enumString(statusNames, s, "Status") }

// Class is what an initiator should do about a completed command, in the
// spirit of the Linux kernel's scsi_io_completion_action and blk_path_error.
type Class uint8

// Classes.
const (
	// ClassOK: the command succeeded (possibly after recovery).
	ClassOK Class = iota
	// ClassRetry: a transient condition; retry, after a short delay, on the
	// same path, a bounded number of times. When the retries run out,
	// treat it as ClassPathError.
	ClassRetry
	// ClassPathError: this path cannot serve the command now; fail the
	// path and retry the command on another one.
	ClassPathError
	// ClassTargetError: the command itself failed and would fail on every
	// path; return the error to the caller.
	ClassTargetError
)

var classNames = map[Class]string{
	ClassOK: "ok", ClassRetry: "retry", ClassPathError: "path error", ClassTargetError: "target error",
}

// String returns the name of the value, or "Class(0xNN)" for an unknown
// value.
func (c Class) String() string { return enumString(classNames, c, "Class") }

// Classify decides what to do about a command that completed with status
// and, for CHECK CONDITION, sense (nil when none was returned or it did not
// parse):
//
//	GOOD, CONDITION MET                          ClassOK
//	BUSY, TASK SET FULL, TASK ABORTED            ClassRetry
//	RESERVATION CONFLICT                         ClassTargetError
//	ACA ACTIVE, unknown status                   ClassPathError
//	CHECK CONDITION without sense                ClassPathError
//	CHECK CONDITION with sense                   by sense key, below
//
//	RECOVERED ERROR, COMPLETED                   ClassOK
//	NO SENSE, UNIT ATTENTION                     ClassRetry
//	ABORTED COMMAND                              ClassRetry; 10/xx (protection
//	                                             information) ClassTargetError
//	NOT READY 04/01 04/04-09 04/11 04/14
//	          04/1A 04/1B 04/1D ("in progress")  ClassRetry
//	NOT READY, anything else (04/0A ALUA
//	          transition, 04/0B standby, 04/0C
//	          unavailable, 04/12 offline, 3A/xx) ClassPathError
//	ILLEGAL REQUEST 25/00 LU not supported       ClassPathError
//	ILLEGAL REQUEST, anything else               ClassTargetError
//	MEDIUM ERROR, HARDWARE ERROR, DATA PROTECT
//	(incl. 27/07 space allocation failed),
//	BLANK CHECK, COPY ABORTED, VOLUME OVERFLOW,
//	MISCOMPARE                                   ClassTargetError
//	VENDOR SPECIFIC, reserved key 0xC            ClassPathError
//
// 04/0A is a path error rather than a retry: during an ALUA transition the
// port group may come back in any state, so the I/O goes to another path
// while the path checker watches this one. A deferred error is classified
// by its key like a current one; it reports a failure of an earlier
// command, which callers may want to log.
func Classify(status Status, sense *Sense) Class {
	switch status {
	case StatusGood, StatusConditionMet:
		return ClassOK
	case StatusBusy, StatusTaskSetFull, StatusTaskAborted:
		return ClassRetry
	case StatusReservationConflict:
		return ClassTargetError
	case StatusCheckCondition:
		if sense != nil {
			return sense.Class()
		}
	}
	return ClassPathError
}

// Class classifies a CHECK CONDITION that returned s; see Classify.
func (s Sense) Class() Class {
	switch s.Key {
	case KeyRecoveredError, KeyCompleted:
		return ClassOK
	case KeyNoSense, KeyUnitAttention:
		return ClassRetry
	case KeyAbortedCommand:
		if s.ASC == 0x10 {
			return ClassTargetError
		}
		return ClassRetry
	case KeyNotReady:
		return notReadyClass(s.Code())
	case KeyIllegalRequest:
		if s.Code() == ASLUNotSupported {
			return ClassPathError
		}
		return ClassTargetError
	case KeyMediumError, KeyHardwareError, KeyDataProtect, KeyBlankCheck,
		KeyCopyAborted, KeyVolumeOverflow, KeyMiscompare:
		return ClassTargetError
	}
	return ClassPathError
}

// notReadyClass retries the "in progress" conditions the kernel retries
// (scsi_io_completion_action) and fails the path on the others.
func notReadyClass(code AdditionalSense) Class {
	switch code {
	case ASBecomingReady, 0x0404, 0x0405, 0x0406, 0x0407, 0x0408, 0x0409,
		0x0411, 0x0414, 0x041A, 0x041B, 0x041D:
		return ClassRetry
	}
	return ClassPathError
}
