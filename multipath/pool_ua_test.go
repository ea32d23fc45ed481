package multipath

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

// The pool's OnUnitAttention hears REPORTED LUNS DATA HAS CHANGED met by
// a checker's command, with the session's target and portal.
func TestPoolOnUnitAttention(t *testing.T) {
	const name = "iqn.2026-11.dev.gomp:pool-ua"
	tg, portal := serveTarget(t, iscsitest.Config{Name: name,
		LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(8192, 512).SetIdentity(11)}})
	type ua struct {
		target, portal string
		code           scsi.AdditionalSense
	}
	heard := make(chan ua, 4)
	pool := &SessionPool{OnUnitAttention: func(target, portal string, _ uint16, code scsi.AdditionalSense) {
		heard <- ua{target, portal, code}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	devs, err := OpenAll(ctx, Config{Target: name, Portals: []string{portal}, Pool: pool, LoginTimeout: 2 * time.Second,
		Settings: Settings{PollingInterval: 20 * time.Millisecond, MaxPollingInterval: 20 * time.Millisecond}}, nil)
	require.NoError(t, err)
	require.Len(t, devs, 1)
	defer devs[0].Close(ctx)
	for _, c := range tg.Conns() {
		c.UnitAttention(1, 0x3F, 0x0E)
	}
	select {
	case got := <-heard:
		require.Equal(t, ua{name, portal, iscsi.UAReportedLUNsChanged}, got)
	case <-ctx.Done():
		t.Fatal("no unit attention heard")
	}
}
