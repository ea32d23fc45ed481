package multipath

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
)

func TestMergeCaps(t *testing.T) {
	wb := &iscsi.LUNInfo{Cache: scsi.CacheMode{Known: true, WriteCache: true, DPOFUA: true}, CanUnmap: true, CanWriteSame: true}
	wt := &iscsi.LUNInfo{Cache: scsi.CacheMode{Known: true}}
	noFUA := &iscsi.LUNInfo{Cache: scsi.CacheMode{Known: true, WriteCache: true}, CanUnmap: true, CanWriteSame: true}
	unknown := &iscsi.LUNInfo{CanUnmap: true}
	wp := &iscsi.LUNInfo{Cache: scsi.CacheMode{Known: true, WriteCache: true, DPOFUA: true, WriteProtect: true}}
	for _, tc := range []struct {
		name  string
		infos []*iscsi.LUNInfo
		want  Capabilities
	}{
		{"write back with FUA", []*iscsi.LUNInfo{wb, wb, nil},
			Capabilities{Flush: true, FUA: true, Trim: true, WriteSame: true}},
		{"write through", []*iscsi.LUNInfo{wt, wt}, Capabilities{}},
		{"paths disagree on DPOFUA", []*iscsi.LUNInfo{wb, noFUA}, Capabilities{Flush: true, Trim: true, WriteSame: true}},
		{"paths disagree on the cache", []*iscsi.LUNInfo{wt, noFUA}, Capabilities{Flush: true}},
		{"cache unknown", []*iscsi.LUNInfo{unknown}, Capabilities{Flush: true, Trim: true}},
		{"write protected", []*iscsi.LUNInfo{wp}, Capabilities{Flush: true, ReadOnly: true}},
		{"no path identified", []*iscsi.LUNInfo{nil}, Capabilities{Flush: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeCaps(tc.infos, false)
			require.Equal(t, got.Cache.String(), got.CacheMode)
			got.Cache, got.CacheMode = scsi.CacheMode{}, ""
			require.Equal(t, tc.want, got)
		})
	}
	require.False(t, mergeCaps([]*iscsi.LUNInfo{wb}, true).Trim, "a refused UNMAP stays refused")
}

// capsDevice opens a device over two in-process targets serving lun.
func capsDevice(t *testing.T, lun *iscsitest.LUN) (*Device, []*iscsitest.Target) {
	t.Helper()
	const name = "iqn.2026-11.dev.gomp:caps"
	var portals []string
	var tgs []*iscsitest.Target
	for range 2 {
		tg, p := serveTarget(t, iscsitest.Config{Name: name, LUNs: map[uint16]*iscsitest.LUN{1: lun}})
		tgs, portals = append(tgs, tg), append(portals, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Open(ctx, Config{Target: name, LUN: 1, Portals: portals, LoginTimeout: 2 * time.Second,
		Settings: Settings{PollingInterval: time.Second}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d, tgs
}

// The device offers what the LUN's cache mode allows, and FUA writes are
// durable whatever it is: through the FUA bit, or a write and a flush when
// the target lacks or refuses FUA.
func TestCapabilitiesOverInMemoryTargets(t *testing.T) {
	for _, tc := range []struct {
		c    iscsitest.Caching
		want string
	}{
		{iscsitest.Caching{}, "write cache: disabled, read cache: enabled, doesn't support DPO or FUA"},
		{iscsitest.Caching{WriteCache: true}, "write cache: enabled, read cache: enabled, doesn't support DPO or FUA"},
		{iscsitest.Caching{WriteCache: true, DPOFUA: true}, "write cache: enabled, read cache: enabled, supports DPO and FUA"},
		{iscsitest.Caching{WriteCache: true, DPOFUA: true, RefuseFUA: true}, "write cache: enabled, read cache: enabled, supports DPO and FUA"},
	} {
		t.Run(fmt.Sprintf("%+v", tc.c), func(t *testing.T) {
			lun := iscsitest.NewLUN(8192, 512).SetIdentity(3)
			lun.Caching = &tc.c
			d, _ := capsDevice(t, lun)
			c := d.Status().Capabilities
			require.Equal(t, tc.want, c.CacheMode)
			require.Equal(t, tc.c.WriteCache, d.CanFlush())
			require.Equal(t, tc.c.WriteCache && tc.c.DPOFUA, d.CanFUA())
			require.False(t, d.ReadOnly())
			ctx := context.Background()
			for i := range 4 {
				want := bytes.Repeat([]byte{byte(i + 1)}, 4096)
				_, err := d.WriteAtContext(ctx, want, int64(i)*4096, true)
				require.NoError(t, err)
				got := make([]byte, len(want))
				_, err = lun.ReadAt(got, int64(i)*4096)
				require.NoError(t, err)
				require.Equal(t, want, got)
			}
			require.NoError(t, d.Flush(ctx))
			require.Equal(t, []string{"active", "active"}, pathStates(d), "a refused FUA is no path failure")
		})
	}
}

func pathStates(d *Device) []string {
	var out []string
	for _, g := range d.Status().Groups {
		for _, p := range g.Paths {
			out = append(out, p.State)
		}
	}
	return out
}

// A write-protected LUN is read-only; a write fails without failing a
// path.
func TestWriteProtectedDevice(t *testing.T) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(4)
	lun.Caching = &iscsitest.Caching{WriteCache: true, WriteProtect: true}
	d, _ := capsDevice(t, lun)
	require.True(t, d.ReadOnly())
	require.True(t, d.Status().Capabilities.ReadOnly)
	_, err := d.WriteAtContext(context.Background(), make([]byte, 512), 0, false)
	require.Error(t, err)
	require.Equal(t, []string{"active", "active"}, pathStates(d))
	_, err = d.ReadAtContext(context.Background(), make([]byte, 512), 0)
	require.NoError(t, err)
}

// A thin LUN whose target refuses UNMAP and WRITE SAME anyway: trims are
// dropped without an error, and zeroing falls back to writes.
func TestRefusedUnmapAndWriteSame(t *testing.T) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(5)
	lun.Thin = true
	lun.Unsupported = map[byte]bool{byte(scsi.OpUnmap): true, byte(scsi.OpWriteSame16): true}
	d, _ := capsDevice(t, lun)
	require.True(t, d.CanTrim())
	ctx := context.Background()
	require.NoError(t, d.Trim(ctx, 0, 4096), "a refused trim is no error")
	require.False(t, d.CanTrim())
	require.NoError(t, d.Trim(ctx, 0, 4096))
	_, err := lun.WriteAt(bytes.Repeat([]byte{7}, 8192), 0)
	require.NoError(t, err)
	require.NoError(t, d.WriteZeroes(ctx, 0, 8192, true))
	got := make([]byte, 8192)
	_, err = lun.ReadAt(got, 0)
	require.NoError(t, err)
	require.Equal(t, make([]byte, 8192), got)
	require.Equal(t, []string{"active", "active"}, pathStates(d))
}

// MODE PARAMETERS CHANGED on every path: the checker reads the cache mode
// again and the device's capabilities follow.
func TestCapabilitiesFollowModeChange(t *testing.T) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(6)
	lun.Caching = &iscsitest.Caching{WriteCache: true, DPOFUA: true}
	d, tgs := capsDevice(t, lun)
	require.True(t, d.CanFUA())
	lun.SetCaching(iscsitest.Caching{})
	for _, tg := range tgs {
		for _, c := range tg.Conns() {
			c.UnitAttention(1, 0x2A, 0x01)
		}
	}
	waitFor(t, 10*time.Second, "capabilities refreshed", func() bool { return !d.CanFlush() })
	require.False(t, d.CanFUA())
	require.Equal(t, "write cache: disabled, read cache: enabled, doesn't support DPO or FUA",
		d.Status().Capabilities.CacheMode)
}
