package multipath

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// standby makes a fake answer like a target port in standby: TEST UNIT
// READY and I/O fail with NOT READY 04/0B.
func standby(f *fakePath) {
	f.setALUAState(scsi.StateStandby)
	f.set(func(f *fakePath) {
		f.turErr, f.ioErr = senseErr(scsi.KeyNotReady, 0x04, 0x0B), senseErr(scsi.KeyNotReady, 0x04, 0x0B)
	})
}

// Both target port groups in standby on an explicit-ALUA LUN: the device
// activates the group it switched to with SET TARGET PORT GROUPS (one
// request at a time, its own group through one of its paths), and the
// queued write completes on the group that became active/optimized.
func TestExplicitALUAActivation(t *testing.T) {
	for _, explicit := range []bool{true, false} {
		t.Run(map[bool]string{true: "explicit", false: "implicit only"}[explicit], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				disk := newFakeDisk()
				p0 := newFake(disk).alua(1, scsi.StateActiveOptimized, true)
				p1 := newFake(disk).alua(2, scsi.StateActiveNonOptimized, false)
				for _, f := range []*fakePath{p0, p1} {
					f.set(func(f *fakePath) { f.info.ExplicitALUA = explicit })
				}
				p0.set(func(f *fakePath) {
					f.onSTPG = func(gs []scsi.PortGroupState) {
						if len(gs) == 1 && gs[0].ID == 1 && gs[0].State == scsi.StateActiveOptimized {
							p0.setALUAState(scsi.StateActiveOptimized)
							p0.set(func(f *fakePath) { f.turErr, f.ioErr = nil, nil })
						}
					}
				})
				cfg := testConfig(Settings{NoPathRetry: NoPathRetryQueue})
				d := openFakes(t, cfg, p0, p1)
				standby(p0)
				standby(p1)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, err := d.WriteAtContext(ctx, make([]byte, 512), 0, false)
				if !explicit {
					require.Error(t, err, "no way out of standby without explicit ALUA")
					require.Empty(t, p0.stpgs)
					require.Error(t, d.Close(context.Background()), "no flush reaches a LUN in standby")
					return
				}
				require.NoError(t, err)
				require.Equal(t, []scsi.PortGroupState{{ID: 1, State: scsi.StateActiveOptimized}}, p0.stpgs)
				for _, g := range p1.stpgs { // the checkers may have offered group 2 first
					require.Equal(t, scsi.PortGroupState{ID: 2, State: scsi.StateActiveOptimized}, g)
				}
				require.Equal(t, []string{"p0"}, activePortals(d))
				closeDev(t, d)
			})
		})
	}
}
