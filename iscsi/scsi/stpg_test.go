package scsi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetTargetPortGroupsGolden(t *testing.T) {
	params := AppendSetTargetPortGroups(nil, []PortGroupState{{ID: 2, State: StateActiveOptimized}, {ID: 0x0102, State: StateStandby}})
	require.Equal(t, []byte{
		0, 0, 0, 0, // reserved
		0x00, 0x00, 0x00, 0x02, // ASYMMETRIC ACCESS STATE active/optimized, reserved, TARGET PORT GROUP 2
		0x02, 0x00, 0x01, 0x02, // standby, reserved, TARGET PORT GROUP 0x0102
	}, params)
	c := SetTargetPortGroups(uint32(len(params)))
	require.Equal(t, []byte{
		0xA4,       // MAINTENANCE OUT
		0x0A,       // SERVICE ACTION: SET TARGET PORT GROUPS
		0, 0, 0, 0, // reserved
		0, 0, 0, 12, // PARAMETER LIST LENGTH
		0,    // reserved
		0x00, // CONTROL
	}, c[:])
	require.Equal(t, "MAINTENANCE OUT", OpMaintenanceOut.String())
}
