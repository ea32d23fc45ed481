package multipath

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// An implicit ALUA transition moves the optimized port from one target
// port group to the other and the target announces it with ASYMMETRIC
// ACCESS STATE CHANGED (2A/06): the write that meets the unit attention
// has every path checked at once, and I/O follows the new priorities
// within a fraction of the polling interval (30 s here, and healthy
// paths back off to 4 times that), both ways; with private sessions and
// with a SessionPool's shared ones.
func TestAccessStateChangedRefreshesAtOnce(t *testing.T) {
	for _, pooled := range []bool{false, true} {
		t.Run(map[bool]string{false: "own sessions", true: "pool"}[pooled], func(t *testing.T) {
			lun := iscsitest.NewLUN(8192, 512).SetIdentity(23)
			const name = "iqn.2026-12.dev.gomp:alua-ua"
			tgA, a := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun},
				PortGroup: 1, PortGroupState: uint8(scsi.StateActiveOptimized), RelativePort: 1})
			tgB, b := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun},
				PortGroup: 2, PortGroupState: uint8(scsi.StateActiveNonOptimized), RelativePort: 2})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var ev collectEvents
			cfg := Config{Target: name, LUN: 1, Portals: []string{a, b}, LoginTimeout: 2 * time.Second,
				OnEvent: ev.add, Settings: Settings{PollingInterval: 30 * time.Second}}
			if pooled {
				cfg.Pool = &SessionPool{}
			}
			d, err := Open(ctx, cfg)
			require.NoError(t, err)
			defer closeDev(t, d)
			require.Equal(t, []string{a}, activePortals(d))

			block := make([]byte, 512)
			for _, step := range []struct {
				optimized, other *iscsitest.Target
				want             string
			}{{tgB, tgA, b}, {tgA, tgB, a}} {
				step.optimized.SetPortGroupState(uint8(scsi.StateActiveOptimized))
				step.other.SetPortGroupState(uint8(scsi.StateActiveNonOptimized))
				start := time.Now()
				_, err := d.WriteAtContext(ctx, block, 0, false) // meets the unit attention
				require.NoError(t, err)
				require.Eventually(t, func() bool { return slices.Equal(activePortals(d), []string{step.want}) },
					5*time.Second, 10*time.Millisecond, "I/O moves to %s", step.want)
				t.Logf("I/O on %s %v after the state change", step.want, time.Since(start).Round(time.Millisecond))
			}
			require.Contains(t, ev.kinds(), "access state changed "+a)
		})
	}
}
