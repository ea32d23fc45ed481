package multipath

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	live := context.Background()
	cases := []struct {
		name string
		err  error
		want action
	}{
		{"success", nil, actReturn},
		{"connection lost", &iscsi.ConnError{Portal: "p", Err: io.ErrUnexpectedEOF}, actFailPath},
		{"wrapped connection error", fmt.Errorf("x: %w", &iscsi.ConnError{Portal: "p", Err: io.EOF}), actFailPath},
		{"session closed", iscsi.ErrSessionClosed, actFailPath},
		{"aborted task", fmt.Errorf("%w: by target", iscsi.ErrAborted), actFailPath},
		{"timeout", context.DeadlineExceeded, actFailPath},
		{"net timeout", os.ErrDeadlineExceeded, actFailPath},
		{"MEDIUM ERROR", senseErr(scsi.KeyMediumError, 0x11, 0x00), actReturn},
		{"ILLEGAL REQUEST invalid field", senseErr(scsi.KeyIllegalRequest, 0x24, 0x00), actReturn},
		{"ILLEGAL REQUEST LBA out of range", senseErr(scsi.KeyIllegalRequest, 0x21, 0x00), actReturn},
		{"DATA PROTECT write protected", senseErr(scsi.KeyDataProtect, 0x27, 0x00), actReturn},
		{"space allocation failed", senseErr(scsi.KeyDataProtect, 0x27, 0x07), actReturn},
		{"RESERVATION CONFLICT", errResConflict, actReturn},
		{"UNIT ATTENTION", senseErr(scsi.KeyUnitAttention, 0x29, 0x00), actRetry},
		{"BUSY", errBusy, actRetry},
		{"TASK ABORTED status", errTaskAborted, actRetry},
		{"NOT READY becoming ready", senseErr(scsi.KeyNotReady, 0x04, 0x01), actRetry},
		{"RECOVERED ERROR", senseErr(scsi.KeyRecoveredError, 0x17, 0x00), actRetry},
		{"NOT READY standby 04/0B", senseErr(scsi.KeyNotReady, 0x04, 0x0B), actFailPath},
		{"NOT READY transitioning 04/0A", senseErr(scsi.KeyNotReady, 0x04, 0x0A), actFailPath},
		{"LU not supported 25/00", senseErr(scsi.KeyIllegalRequest, 0x25, 0x00), actFailPath},
		{"ACA ACTIVE", errACAActive, actFailPath},
		{"reject", &iscsi.RejectError{}, actReturn},
		{"target failure response", &iscsi.ResponseError{}, actFailPath},
		{"unaligned", fmt.Errorf("x: %w", iscsi.ErrUnaligned), actReturn},
		{"beyond the end", fmt.Errorf("x: %w", io.EOF), actReturn},
		{"unsupported", errors.ErrUnsupported, actReturn},
		{"unknown", errors.New("something else"), actFailPath},
	}
	for _, c := range cases {
		require.Equal(t, c.want, classify(live, c.err), c.name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	aborted := fmt.Errorf("%w: %w", iscsi.ErrAborted, context.Canceled)
	require.Equal(t, actReturn, classify(ctx, aborted), "the caller's context ended: no failover")
}

func TestTURState(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		state PathState
		retry bool
	}{
		{"good", nil, PathUp, false},
		{"unit attention", senseErr(scsi.KeyUnitAttention, 0x29, 0x00), PathDown, true},
		{"standby", senseErr(scsi.KeyNotReady, 0x04, 0x0B), PathGhost, false},
		{"transitioning", senseErr(scsi.KeyNotReady, 0x04, 0x0A), PathPending, false},
		{"LU not supported", senseErr(scsi.KeyIllegalRequest, 0x25, 0x00), PathDisconnected, false},
		{"unavailable", senseErr(scsi.KeyNotReady, 0x04, 0x0C), PathDown, false},
		{"medium not present", senseErr(scsi.KeyNotReady, 0x3A, 0x00), PathDown, false},
		{"busy", errBusy, PathDown, false},
		{"connection", errFakeConn, PathDown, false},
		{"timeout", context.DeadlineExceeded, PathDown, false},
	}
	for _, c := range cases {
		st, retry := turState(c.err)
		require.Equal(t, c.state, st, c.name)
		require.Equal(t, c.retry, retry, c.name)
	}
}

func TestALUAPriority(t *testing.T) {
	tpgDesig := func(id uint16) scsi.Designator {
		return scsi.Designator{Association: scsi.AssocTargetPort, Type: scsi.DesigTargetPortGroup,
			ID: []byte{0, 0, byte(id >> 8), byte(id)}}
	}
	relDesig := func(id uint16) scsi.Designator {
		return scsi.Designator{Association: scsi.AssocTargetPort, Type: scsi.DesigRelativeTargetPort,
			ID: []byte{0, 0, byte(id >> 8), byte(id)}}
	}
	groups := scsi.TargetPortGroups{Groups: []scsi.PortGroup{
		{ID: 1, State: scsi.StateActiveOptimized, Ports: []uint16{1}},
		{ID: 2, State: scsi.StateActiveNonOptimized, Ports: []uint16{2}},
		{ID: 3, State: scsi.StateStandby, Ports: []uint16{3}},
		{ID: 4, State: scsi.StateUnavailable, Ports: []uint16{4}},
		{ID: 5, State: scsi.StateActiveOptimized, Preferred: true, Ports: []uint16{5}},
		{ID: 6, State: scsi.StateTransitioning, Ports: []uint16{6}},
	}}
	for id, want := range map[uint16]int{1: 50, 2: 10, 3: 1, 4: 0, 5: 130, 6: 0} {
		prio, tpg, ok := aluaPriority([]scsi.Designator{tpgDesig(id)}, groups)
		require.True(t, ok)
		require.Equal(t, want, prio, "group %d", id)
		require.Equal(t, int(id), tpg)
		prio, _, ok = aluaPriority([]scsi.Designator{relDesig(id)}, groups) // by relative port
		require.True(t, ok)
		require.Equal(t, want, prio, "port %d", id)
	}
	_, _, ok := aluaPriority([]scsi.Designator{tpgDesig(9)}, groups)
	require.False(t, ok, "own group missing from the report")
	one := scsi.TargetPortGroups{Groups: groups.Groups[1:2]}
	prio, _, ok := aluaPriority(nil, one)
	require.True(t, ok, "no designators, one group: it is ours")
	require.Equal(t, 10, prio)
}
