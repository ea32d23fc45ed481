package scsi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

var wantGroups = []PortGroup{
	{Preferred: true, State: StateActiveOptimized, Supported: 0x8F, ID: 1,
		Status: PortGroupAlteredByImplicit, Ports: []uint16{1}},
	{State: StateActiveNonOptimized, Supported: 0x8F, ID: 2, Ports: []uint16{2, 3}},
}

func TestParseTargetPortGroups(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want TargetPortGroups
	}{
		{"extended", rtpgExtended, TargetPortGroups{Extended: true, TransitionTime: 60, Groups: wantGroups}},
		{"length only", rtpgLengthOnly, TargetPortGroups{Groups: wantGroups}},
		{"no groups", []byte{0, 0, 0, 0}, TargetPortGroups{}},
		{"extended, no groups", []byte{0, 0, 0, 4, 0x10, 0, 0, 0}, TargetPortGroups{Extended: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTargetPortGroups(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			requirePrefixes(t, tt.in, len(tt.in), ParseTargetPortGroups, nil)
			enc, err := tt.want.AppendBinary(nil)
			require.NoError(t, err)
			require.Equal(t, tt.in, enc)
		})
	}
}

func TestParseTargetPortGroupsMalformed(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		field  string
		offset int
	}{
		{"port count overruns", []byte{0, 0, 0, 12,
			0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0x02, // TARGET PORT COUNT 2 ...
			0, 0, 0, 1, // ... one port present
		}, "TARGET PORT COUNT", 11},
		{"descriptor header overruns", []byte{0, 0, 0, 16,
			0x00, 0x01, 0x00, 0x01, 0, 0, 0, 0x01, 0, 0, 0, 1, // one group
			0x02, 0x01, 0x00, 0x02, // half a descriptor
		}, "target port group descriptor", 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTargetPortGroups(tt.in)
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.field, fe.Field)
			require.Equal(t, tt.offset, fe.Offset)
		})
	}
	_, err := TargetPortGroups{Groups: []PortGroup{{Ports: make([]uint16, 256)}}}.AppendBinary([]byte{1})
	require.ErrorIs(t, err, ErrLimit)
}

func TestSupportedStates(t *testing.T) {
	s := SupportedStates(0x8F)
	for _, st := range []AccessState{StateActiveOptimized, StateActiveNonOptimized, StateStandby,
		StateUnavailable, StateTransitioning} {
		require.True(t, s.Has(st), st.String())
	}
	require.False(t, s.Has(StateOffline))
	require.False(t, s.Has(StateLBADependent))
	require.False(t, s.Has(AccessState(7)))
	require.True(t, StateActiveNonOptimized.Active())
	require.False(t, StateStandby.Active())
}
