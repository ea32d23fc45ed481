package pdu

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnumString(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		want string
	}{
		{OpNOPOut, "NOP-Out"},
		{OpSCSIResponse, "SCSI Response"},
		{OpR2T, "Ready To Transfer"},
		{OpReject, "Reject"},
		{Opcode(0x1c), "Opcode(0x1c)"},
		{Opcode(0x3e), "Opcode(0x3e)"},

		{AttrUntagged, "Untagged"},
		{AttrSimple, "Simple"},
		{AttrOrdered, "Ordered"},
		{AttrHeadOfQueue, "Head of Queue"},
		{AttrACA, "ACA"},
		{TaskAttr(7), "TaskAttr(0x07)"},

		{ResponseCompleted, "Command Completed at Target"},
		{ResponseTargetFailure, "Target Failure"},
		{ServiceResponse(0x80), "ServiceResponse(0x80)"},

		{StatusGood, "GOOD"},
		{StatusCheckCondition, "CHECK CONDITION"},
		{StatusBusy, "BUSY"},
		{StatusReservationConflict, "RESERVATION CONFLICT"},
		{StatusTaskSetFull, "TASK SET FULL"},
		{StatusTaskAborted, "TASK ABORTED"},
		{SCSIStatus(0x22), "SCSIStatus(0x22)"},

		{TMFAbortTask, "ABORT TASK"},
		{TMFLogicalUnitReset, "LOGICAL UNIT RESET"},
		{TMFTaskReassign, "TASK REASSIGN"},
		{TMFunction(0), "TMFunction(0x00)"},
		{TMFunction(0x7f), "TMFunction(0x7f)"},

		{TMFComplete, "Function complete"},
		{TMFLUNDoesNotExist, "LUN does not exist"},
		{TMFRejected, "Function rejected"},
		{TMFResponse(7), "TMFResponse(0x07)"},

		{StageSecurity, "SecurityNegotiation"},
		{StageOperational, "LoginOperationalNegotiation"},
		{StageFullFeature, "FullFeaturePhase"},
		{Stage(2), "Stage(0x02)"},

		{ClassSuccess, "Success"},
		{ClassRedirection, "Redirection"},
		{ClassInitiatorError, "Initiator Error"},
		{ClassTargetError, "Target Error"},
		{StatusClass(4), "StatusClass(0x04)"},

		{LogoutCloseSession, "close the session"},
		{LogoutCloseConnection, "close the connection"},
		{LogoutRemoveForRecovery, "remove the connection for recovery"},
		{LogoutReason(3), "LogoutReason(0x03)"},

		{LogoutSuccess, "connection or session closed successfully"},
		{LogoutCIDNotFound, "CID not found"},
		{LogoutCleanupFailed, "cleanup failed for various reasons"},
		{LogoutResult(4), "LogoutResult(0x04)"},

		{SNACKDataR2T, "Data/R2T SNACK"},
		{SNACKStatus, "Status SNACK"},
		{SNACKDataACK, "DataACK"},
		{SNACKRDataACK, "R-Data SNACK"},
		{SNACKType(4), "SNACKType(0x04)"},

		{AsyncSCSIEvent, "SCSI asynchronous event"},
		{AsyncLogoutRequest, "target requests logout"},
		{AsyncDropConnection, "target will drop the connection"},
		{AsyncVendorSpecific, "vendor-specific event"},
		{AsyncEvent(5), "AsyncEvent(0x05)"},

		{RejectDataDigestError, "data (payload) digest error"},
		{RejectProtocolError, "protocol error"},
		{RejectInvalidPDUField, "invalid PDU field"},
		{RejectWaitingForLogout, "waiting for logout"},
		{RejectReason(1), "RejectReason(0x01)"},
		{RejectReason(0xff), "RejectReason(0xff)"},

		{HeaderDigest, "header digest"},
		{DataDigest, "data digest"},
		{ISID{0x80, 0x12, 0x34, 0x56, 0x78, 0x9a}, "80123456789a"},
		{KeyValue{"MaxBurstLength", "262144"}, "MaxBurstLength=262144"},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.v.String(), "%T(%#v)", tc.v, tc.v)
	}
}

func TestEnumLoginStatus(t *testing.T) {
	tests := []struct {
		s      LoginStatus
		want   string
		class  StatusClass
		detail uint8
	}{
		{LoginSuccess, "success", ClassSuccess, 0},
		{LoginTargetMovedTemporarily, "target moved temporarily", ClassRedirection, 1},
		{LoginTargetMovedPermanently, "target moved permanently", ClassRedirection, 2},
		{LoginAuthenticationFailure, "authentication failed", ClassInitiatorError, 1},
		{LoginNotFound, "target not found", ClassInitiatorError, 3},
		{LoginInvalidDuringLogin, "request invalid during login", ClassInitiatorError, 0x0b},
		{LoginOutOfResources, "out of resources", ClassTargetError, 2},
		{LoginStatus(0x0299), "Initiator Error (detail 0x99)", ClassInitiatorError, 0x99},
		{LoginStatus(0x0103), "Redirection (detail 0x03)", ClassRedirection, 3},
		{LoginStatus(0x0707), "StatusClass(0x07) (detail 0x07)", 7, 7},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.s.String(), "LoginStatus(0x%04x)", uint16(tc.s))
		require.Equal(t, tc.class, tc.s.Class(), "LoginStatus(0x%04x)", uint16(tc.s))
		require.Equal(t, tc.detail, tc.s.Detail(), "LoginStatus(0x%04x)", uint16(tc.s))
	}
}

func TestEnumOpcode(t *testing.T) {
	for op := range Opcode(0x40) {
		_, named := opcodeNames[op]
		require.Equal(t, named, op.Known(), "%v", op)
		require.Equal(t, named, New(op) != nil, "New(%v)", op)
		require.Equal(t, op >= 0x20, op.FromTarget(), "%v", op)
		if !named {
			require.Equal(t, fmt.Sprintf("Opcode(0x%02x)", uint8(op)), op.String())
		}
	}
	require.Len(t, opcodeNames, 18, "RFC 7143 defines 8 initiator and 10 target opcodes")
}
