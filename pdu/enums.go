package pdu

import "fmt"

func enumString[T ~uint8 | ~uint16](names map[T]string, v T, typ string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return fmt.Sprintf("%s(0x%02x)", typ, uint64(v))
}

// TaskAttr is the task attribute of a SCSI Command (RFC 7143 §11.3.1, ATTR).
type TaskAttr uint8

// Task attributes (RFC 7143 §11.3.1).
const (
	AttrUntagged    TaskAttr = 0
	AttrSimple      TaskAttr = 1
	AttrOrdered     TaskAttr = 2
	AttrHeadOfQueue TaskAttr = 3
	AttrACA         TaskAttr = 4
)

var taskAttrNames = map[TaskAttr]string{
	AttrUntagged: "Untagged", AttrSimple: "Simple", AttrOrdered: "Ordered",
	AttrHeadOfQueue: "Head of Queue", AttrACA: "ACA",
}

// String returns the name of the value, or "TaskAttr(0xNN)" for an unknown
// value.
func (a TaskAttr) String() string { return enumString(taskAttrNames, a, "TaskAttr") }

// ServiceResponse is the iSCSI Response field of a SCSI Response
// (RFC 7143 §11.4.3).
type ServiceResponse uint8

// Service responses (RFC 7143 §11.4.3).
const (
	ResponseCompleted     ServiceResponse = 0x00
	ResponseTargetFailure ServiceResponse = 0x01
)

var serviceResponseNames = map[ServiceResponse]string{
	ResponseCompleted: "Command Completed at Target", ResponseTargetFailure: "Target Failure",
}

// String returns the name of the value, or "ServiceResponse(0xNN)" for an
// unknown value.
func (r ServiceResponse) String() string {
	return enumString(serviceResponseNames, r, "ServiceResponse")
}

// SCSIStatus is the SCSI status byte (SAM-5; RFC 7143 §11.4.2).
type SCSIStatus uint8

// SCSI status codes (SAM-5 §5.3).
const (
	StatusGood                SCSIStatus = 0x00
	StatusCheckCondition      SCSIStatus = 0x02
	StatusConditionMet        SCSIStatus = 0x04
	StatusBusy                SCSIStatus = 0x08
	StatusReservationConflict SCSIStatus = 0x18
	StatusTaskSetFull         SCSIStatus = 0x28
	StatusACAActive           SCSIStatus = 0x30
	StatusTaskAborted         SCSIStatus = 0x40
)

var scsiStatusNames = map[SCSIStatus]string{
	StatusGood: "GOOD", StatusCheckCondition: "CHECK CONDITION",
	StatusConditionMet: "CONDITION MET", StatusBusy: "BUSY",
	StatusReservationConflict: "RESERVATION CONFLICT", StatusTaskSetFull: "TASK SET FULL",
	StatusACAActive: "ACA ACTIVE", StatusTaskAborted: "TASK ABORTED",
}

// String returns the name of the value, or "SCSIStatus(0xNN)" for an unknown
// value.
func (s SCSIStatus) String() string { return enumString(scsiStatusNames, s, "SCSIStatus") }

// TMFunction is the function code of a Task Management Function Request
// (RFC 7143 §11.5.1).
type TMFunction uint8

// Task management functions (RFC 7143 §11.5.1).
const (
	TMFAbortTask        TMFunction = 1
	TMFAbortTaskSet     TMFunction = 2
	TMFClearACA         TMFunction = 3
	TMFClearTaskSet     TMFunction = 4
	TMFLogicalUnitReset TMFunction = 5
	TMFTargetWarmReset  TMFunction = 6
	TMFTargetColdReset  TMFunction = 7
	TMFTaskReassign     TMFunction = 8
)

var tmFunctionNames = map[TMFunction]string{
	TMFAbortTask: "ABORT TASK", TMFAbortTaskSet: "ABORT TASK SET", TMFClearACA: "CLEAR ACA",
	TMFClearTaskSet: "CLEAR TASK SET", TMFLogicalUnitReset: "LOGICAL UNIT RESET",
	TMFTargetWarmReset: "TARGET WARM RESET", TMFTargetColdReset: "TARGET COLD RESET",
	TMFTaskReassign: "TASK REASSIGN",
}

// String returns the name of the value, or "TMFunction(0xNN)" for an unknown
// value.
func (f TMFunction) String() string { return enumString(tmFunctionNames, f, "TMFunction") }

// TMFResponse is the Response field of a Task Management Function Response
// (RFC 7143 §11.6.1).
type TMFResponse uint8

// Task management responses (RFC 7143 §11.6.1).
const (
	TMFComplete                 TMFResponse = 0
	TMFTaskDoesNotExist         TMFResponse = 1
	TMFLUNDoesNotExist          TMFResponse = 2
	TMFTaskStillAllegiant       TMFResponse = 3
	TMFReassignmentNotSupported TMFResponse = 4
	TMFNotSupported             TMFResponse = 5
	TMFAuthorizationFailed      TMFResponse = 6
	TMFRejected                 TMFResponse = 255
)

var tmfResponseNames = map[TMFResponse]string{
	TMFComplete: "Function complete", TMFTaskDoesNotExist: "Task does not exist",
	TMFLUNDoesNotExist: "LUN does not exist", TMFTaskStillAllegiant: "Task still allegiant",
	TMFReassignmentNotSupported: "Task allegiance reassignment not supported",
	TMFNotSupported:             "Task management function not supported",
	TMFAuthorizationFailed:      "Function authorization failed", TMFRejected: "Function rejected",
}

// String returns the name of the value, or "TMFResponse(0xNN)" for an
// unknown value.
func (r TMFResponse) String() string { return enumString(tmfResponseNames, r, "TMFResponse") }

// Stage is a login stage, the CSG and NSG fields of Login PDUs
// (RFC 7143 §11.12.3).
type Stage uint8

// Login stages (RFC 7143 §11.12.3). Stage 2 is reserved.
const (
	StageSecurity    Stage = 0
	StageOperational Stage = 1
	StageFullFeature Stage = 3
)

var stageNames = map[Stage]string{
	StageSecurity: "SecurityNegotiation", StageOperational: "LoginOperationalNegotiation",
	StageFullFeature: "FullFeaturePhase",
}

// String returns the name of the value, or "Stage(0xNN)" for an unknown
// value.
func (s Stage) String() string { return enumString(stageNames, s, "Stage") }

// LoginStatus is Status-Class (high byte) and Status-Detail (low byte) of a
// Login Response (RFC 7143 §11.13.5).
type LoginStatus uint16

// Login status codes (RFC 7143 §11.13.5).
const (
	LoginSuccess                LoginStatus = 0x0000
	LoginTargetMovedTemporarily LoginStatus = 0x0101
	LoginTargetMovedPermanently LoginStatus = 0x0102
	LoginInitiatorError         LoginStatus = 0x0200
	LoginAuthenticationFailure  LoginStatus = 0x0201
	LoginAuthorizationFailure   LoginStatus = 0x0202
	LoginNotFound               LoginStatus = 0x0203
	LoginTargetRemoved          LoginStatus = 0x0204
	LoginUnsupportedVersion     LoginStatus = 0x0205
	LoginTooManyConnections     LoginStatus = 0x0206
	LoginMissingParameter       LoginStatus = 0x0207
	LoginCannotIncludeInSession LoginStatus = 0x0208
	LoginSessionTypeUnsupported LoginStatus = 0x0209
	LoginSessionDoesNotExist    LoginStatus = 0x020a
	LoginInvalidDuringLogin     LoginStatus = 0x020b
	LoginTargetError            LoginStatus = 0x0300
	LoginServiceUnavailable     LoginStatus = 0x0301
	LoginOutOfResources         LoginStatus = 0x0302
)

var loginStatusNames = map[LoginStatus]string{
	LoginSuccess:                "success",
	LoginTargetMovedTemporarily: "target moved temporarily",
	LoginTargetMovedPermanently: "target moved permanently",
	LoginInitiatorError:         "initiator error",
	LoginAuthenticationFailure:  "authentication failed",
	LoginAuthorizationFailure:   "authorization failed",
	LoginNotFound:               "target not found",
	LoginTargetRemoved:          "target removed",
	LoginUnsupportedVersion:     "unsupported version",
	LoginTooManyConnections:     "too many connections",
	LoginMissingParameter:       "missing parameter",
	LoginCannotIncludeInSession: "cannot include connection in session",
	LoginSessionTypeUnsupported: "session type not supported",
	LoginSessionDoesNotExist:    "session does not exist",
	LoginInvalidDuringLogin:     "request invalid during login",
	LoginTargetError:            "target error",
	LoginServiceUnavailable:     "service unavailable",
	LoginOutOfResources:         "out of resources",
}

// String returns the status's name, or for a code without one its status
// class and the detail byte in hex.
func (s LoginStatus) String() string {
	if n, ok := loginStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("%s (detail 0x%02x)", s.Class(), uint8(s))
}

// Class returns the Status-Class.
func (s LoginStatus) Class() StatusClass { return StatusClass(s >> 8) }

// Detail returns the Status-Detail.
func (s LoginStatus) Detail() uint8 { return uint8(s) }

// StatusClass is the Status-Class of a Login Response (RFC 7143 §11.13.5).
type StatusClass uint8

// Status classes (RFC 7143 §11.13.5).
const (
	ClassSuccess        StatusClass = 0
	ClassRedirection    StatusClass = 1
	ClassInitiatorError StatusClass = 2
	ClassTargetError    StatusClass = 3
)

var statusClassNames = map[StatusClass]string{
	ClassSuccess: "Success", ClassRedirection: "Redirection",
	ClassInitiatorError: "Initiator Error", ClassTargetError: "Target Error",
}

// String returns the name of the value, or "StatusClass(0xNN)" for an
// unknown value.
func (c StatusClass) String() string { return enumString(statusClassNames, c, "StatusClass") }

// LogoutReason is the reason code of a Logout Request (RFC 7143 §11.14.1).
type LogoutReason uint8

// Logout reasons (RFC 7143 §11.14.1).
const (
	LogoutCloseSession      LogoutReason = 0
	LogoutCloseConnection   LogoutReason = 1
	LogoutRemoveForRecovery LogoutReason = 2
)

var logoutReasonNames = map[LogoutReason]string{
	LogoutCloseSession: "close the session", LogoutCloseConnection: "close the connection",
	LogoutRemoveForRecovery: "remove the connection for recovery",
}

// String returns the name of the value, or "LogoutReason(0xNN)" for an
// unknown value.
func (r LogoutReason) String() string { return enumString(logoutReasonNames, r, "LogoutReason") }

// LogoutResult is the Response field of a Logout Response
// (RFC 7143 §11.15.1).
type LogoutResult uint8

// Logout responses (RFC 7143 §11.15.1).
const (
	LogoutSuccess             LogoutResult = 0
	LogoutCIDNotFound         LogoutResult = 1
	LogoutRecoveryUnsupported LogoutResult = 2
	LogoutCleanupFailed       LogoutResult = 3
)

var logoutResultNames = map[LogoutResult]string{
	LogoutSuccess: "connection or session closed successfully", LogoutCIDNotFound: "CID not found",
	LogoutRecoveryUnsupported: "connection recovery is not supported",
	LogoutCleanupFailed:       "cleanup failed for various reasons",
}

// String returns the name of the value, or "LogoutResult(0xNN)" for an
// unknown value.
func (r LogoutResult) String() string { return enumString(logoutResultNames, r, "LogoutResult") }

// SNACKType is the Type field of a SNACK Request (RFC 7143 §11.16.1).
type SNACKType uint8

// SNACK types (RFC 7143 §11.16.1).
const (
	SNACKDataR2T  SNACKType = 0
	SNACKStatus   SNACKType = 1
	SNACKDataACK  SNACKType = 2
	SNACKRDataACK SNACKType = 3
)

var snackTypeNames = map[SNACKType]string{
	SNACKDataR2T: "Data/R2T SNACK", SNACKStatus: "Status SNACK",
	SNACKDataACK: "DataACK", SNACKRDataACK: "R-Data SNACK",
}

// String returns the name of the value, or "SNACKType(0xNN)" for an unknown
// value.
func (t SNACKType) String() string { return enumString(snackTypeNames, t, "SNACKType") }

// AsyncEvent is the AsyncEvent field of an Asynchronous Message
// (RFC 7143 §11.9.1).
type AsyncEvent uint8

// Asynchronous events (RFC 7143 §11.9.1).
const (
	AsyncSCSIEvent            AsyncEvent = 0
	AsyncLogoutRequest        AsyncEvent = 1
	AsyncDropConnection       AsyncEvent = 2
	AsyncDropAllConnections   AsyncEvent = 3
	AsyncParameterNegotiation AsyncEvent = 4
	AsyncVendorSpecific       AsyncEvent = 255
)

var asyncEventNames = map[AsyncEvent]string{
	AsyncSCSIEvent: "SCSI asynchronous event", AsyncLogoutRequest: "target requests logout",
	AsyncDropConnection:       "target will drop the connection",
	AsyncDropAllConnections:   "target will drop all connections",
	AsyncParameterNegotiation: "target requests parameter negotiation",
	AsyncVendorSpecific:       "vendor-specific event",
}

// String returns the name of the value, or "AsyncEvent(0xNN)" for an unknown
// value.
func (e AsyncEvent) String() string { return enumString(asyncEventNames, e, "AsyncEvent") }

// RejectReason is the Reason field of a Reject PDU (RFC 7143 §11.17.1).
type RejectReason uint8

// Reject reasons (RFC 7143 §11.17.1).
const (
	RejectDataDigestError     RejectReason = 0x02
	RejectSNACKReject         RejectReason = 0x03
	RejectProtocolError       RejectReason = 0x04
	RejectCommandNotSupported RejectReason = 0x05
	RejectImmediateCommand    RejectReason = 0x06
	RejectTaskInProgress      RejectReason = 0x07
	RejectInvalidDataACK      RejectReason = 0x08
	RejectInvalidPDUField     RejectReason = 0x09
	RejectLongOperation       RejectReason = 0x0a
	RejectNegotiationReset    RejectReason = 0x0b
	RejectWaitingForLogout    RejectReason = 0x0c
)

var rejectReasonNames = map[RejectReason]string{
	RejectDataDigestError: "data (payload) digest error", RejectSNACKReject: "SNACK reject",
	RejectProtocolError: "protocol error", RejectCommandNotSupported: "command not supported",
	RejectImmediateCommand: "immediate command reject: too many immediate commands",
	RejectTaskInProgress:   "task in progress", RejectInvalidDataACK: "invalid data ACK",
	RejectInvalidPDUField:  "invalid PDU field",
	RejectLongOperation:    "long operation reject: out of resources",
	RejectNegotiationReset: "negotiation reset", RejectWaitingForLogout: "waiting for logout",
}

// String returns the name of the value, or "RejectReason(0xNN)" for an
// unknown value.
func (r RejectReason) String() string { return enumString(rejectReasonNames, r, "RejectReason") }
