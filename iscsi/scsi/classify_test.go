package scsi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	sense := func(k SenseKey, asc, ascq uint8) *Sense { return &Sense{Key: k, ASC: asc, ASCQ: ascq} }
	tests := []struct {
		name   string
		status Status
		sense  *Sense
		want   Class
	}{
		{"GOOD", StatusGood, nil, ClassOK},
		{"GOOD ignores sense", StatusGood, sense(KeyMediumError, 0x11, 0), ClassOK},
		{"CONDITION MET", StatusConditionMet, nil, ClassOK},
		{"BUSY", StatusBusy, nil, ClassRetry},
		{"TASK SET FULL", StatusTaskSetFull, nil, ClassRetry},
		{"TASK ABORTED", StatusTaskAborted, nil, ClassRetry},
		{"RESERVATION CONFLICT", StatusReservationConflict, nil, ClassTargetError},
		{"ACA ACTIVE", StatusACAActive, nil, ClassPathError},
		{"unknown status", Status(0x10), nil, ClassPathError},
		{"CHECK CONDITION, no sense", StatusCheckCondition, nil, ClassPathError},
		{"RECOVERED ERROR", StatusCheckCondition, sense(KeyRecoveredError, 0x17, 0x01), ClassOK},
		{"COMPLETED", StatusCheckCondition, sense(KeyCompleted, 0x00, 0x1D), ClassOK},
		{"NO SENSE", StatusCheckCondition, sense(KeyNoSense, 0, 0), ClassRetry},
		{"UA power on", StatusCheckCondition, sense(KeyUnitAttention, 0x29, 0x00), ClassRetry},
		{"UA ALUA state changed", StatusCheckCondition, sense(KeyUnitAttention, 0x2A, 0x06), ClassRetry},
		{"UA capacity changed", StatusCheckCondition, sense(KeyUnitAttention, 0x2A, 0x09), ClassRetry},
		{"UA reported LUNs changed", StatusCheckCondition, sense(KeyUnitAttention, 0x3F, 0x0E), ClassRetry},
		{"UA soft threshold", StatusCheckCondition, sense(KeyUnitAttention, 0x38, 0x07), ClassRetry},
		{"ABORTED COMMAND", StatusCheckCondition, sense(KeyAbortedCommand, 0x47, 0x7F), ClassRetry},
		{"ABORTED COMMAND, guard check", StatusCheckCondition, sense(KeyAbortedCommand, 0x10, 0x01), ClassTargetError},
		{"becoming ready", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x01), ClassRetry},
		{"format in progress", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x04), ClassRetry},
		{"space allocation in progress", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x14), ClassRetry},
		{"ALUA transition", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x0A), ClassPathError},
		{"standby", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x0B), ClassPathError},
		{"unavailable", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x0C), ClassPathError},
		{"offline", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x12), ClassPathError},
		{"cause not reportable", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x00), ClassPathError},
		{"manual intervention", StatusCheckCondition, sense(KeyNotReady, 0x04, 0x03), ClassPathError},
		{"medium not present", StatusCheckCondition, sense(KeyNotReady, 0x3A, 0x00), ClassPathError},
		{"LU not supported", StatusCheckCondition, sense(KeyIllegalRequest, 0x25, 0x00), ClassPathError},
		{"invalid field in CDB", StatusCheckCondition, sense(KeyIllegalRequest, 0x24, 0x00), ClassTargetError},
		{"invalid opcode", StatusCheckCondition, sense(KeyIllegalRequest, 0x20, 0x00), ClassTargetError},
		{"LBA out of range", StatusCheckCondition, sense(KeyIllegalRequest, 0x21, 0x00), ClassTargetError},
		{"unrecovered read", StatusCheckCondition, sense(KeyMediumError, 0x11, 0x00), ClassTargetError},
		{"write error", StatusCheckCondition, sense(KeyMediumError, 0x0C, 0x00), ClassTargetError},
		{"internal target failure", StatusCheckCondition, sense(KeyHardwareError, 0x44, 0x00), ClassTargetError},
		{"write protected", StatusCheckCondition, sense(KeyDataProtect, 0x27, 0x00), ClassTargetError},
		{"space allocation failed", StatusCheckCondition, sense(KeyDataProtect, 0x27, 0x07), ClassTargetError},
		{"BLANK CHECK", StatusCheckCondition, sense(KeyBlankCheck, 0, 0), ClassTargetError},
		{"COPY ABORTED", StatusCheckCondition, sense(KeyCopyAborted, 0, 0), ClassTargetError},
		{"VOLUME OVERFLOW", StatusCheckCondition, sense(KeyVolumeOverflow, 0, 0), ClassTargetError},
		{"MISCOMPARE", StatusCheckCondition, sense(KeyMiscompare, 0x1D, 0x00), ClassTargetError},
		{"VENDOR SPECIFIC", StatusCheckCondition, sense(KeyVendorSpecific, 0x80, 0), ClassPathError},
		{"reserved key", StatusCheckCondition, sense(0x0C, 0, 0), ClassPathError},
		{"deferred medium error", StatusCheckCondition, &Sense{Deferred: true, Key: KeyMediumError, ASC: 0x0C}, ClassTargetError},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Classify(tt.status, tt.sense), tt.name)
		if tt.status == StatusCheckCondition && tt.sense != nil {
			require.Equal(t, tt.want, tt.sense.Class(), tt.name)
		}
	}
}
