package multipath

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gomp-dev/gomp/internal/iscsitest"
)

const resizeTarget = "iqn.2026-11.dev.gomp:resize"

// resizeDevice opens LUN 1 of two in-memory targets (one per portal) with
// a fast checker, and returns it with a channel of the sizes it is
// resized to.
func resizeDevice(t *testing.T, a, b *iscsitest.LUN) (*Device, [2]*iscsitest.Target, chan int64) {
	t.Helper()
	tgA, pa := serveTarget(t, iscsitest.Config{Name: resizeTarget, LUNs: map[uint16]*iscsitest.LUN{1: a}})
	tgB, pb := serveTarget(t, iscsitest.Config{Name: resizeTarget, LUNs: map[uint16]*iscsitest.LUN{1: b}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	d, err := Open(ctx, Config{Target: resizeTarget, Portals: []string{pa, pb}, LUN: 1, LoginTimeout: 2 * time.Second,
		Settings: Settings{PollingInterval: 20 * time.Millisecond, MaxPollingInterval: 20 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	resized := make(chan int64, 4)
	d.SetOnResize(func(_, size int64) { resized <- size })
	return d, [2]*iscsitest.Target{tgA, tgB}, resized
}

// unitAttention raises ua on LUN 1 of every connection of tgs.
func unitAttention(tgs []*iscsitest.Target, asc, ascq byte) {
	for _, tg := range tgs {
		for _, c := range tg.Conns() {
			c.UnitAttention(1, asc, ascq)
		}
	}
}

func waitResized(t *testing.T, ch chan int64) int64 {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("the device was not resized")
		return 0
	}
}

// CAPACITY DATA HAS CHANGED on a grown LUN makes the checker read the
// capacity on every path and grow the device; I/O beyond the old end
// then works.
func TestResizeOnCapacityDataHasChanged(t *testing.T) {
	lun := iscsitest.NewLUN(8192, 512).SetIdentity(7)
	d, tgs, resized := resizeDevice(t, lun, lun)
	old := d.Size()
	ctx := context.Background()
	buf := bytes.Repeat([]byte("g"), 4096)
	_, err := d.WriteAtContext(ctx, buf, old, false)
	require.Error(t, err, "beyond the end")

	lun.SetBlocks(2 * 8192)
	unitAttention(tgs[:], 0x2A, 0x09)
	require.Equal(t, 2*old, waitResized(t, resized))
	require.Equal(t, 2*old, d.Size())
	require.Equal(t, 2*old, d.Status().Size)

	for off := old; off < 2*old; off += old / 2 { // several I/Os: both paths carry some
		_, err = d.WriteAtContext(ctx, buf, off, false)
		require.NoError(t, err)
		got := make([]byte, len(buf))
		_, err = d.ReadAtContext(ctx, got, off)
		require.NoError(t, err)
		require.Equal(t, buf, got)
	}
	_, _, err = d.Resize(ctx) // nothing changed: nothing to do
	require.NoError(t, err)
	require.Empty(t, resized)
}

// Paths that disagree leave the device as it is; once they agree, Resize
// (gomp resize) grows it; a path whose LUN then reports another size is
// not used until it agrees again.
func TestResizeNeedsEveryPathToAgree(t *testing.T) {
	a := iscsitest.NewLUN(8192, 512).SetIdentity(8)
	b := iscsitest.NewLUN(8192, 512).SetIdentity(8) // the same LUN as another controller sees it
	d, tgs, resized := resizeDevice(t, a, b)
	old := d.Size()
	ctx := context.Background()

	a.SetBlocks(2 * 8192)
	_, size, err := d.Resize(ctx)
	var re *ResizeError
	require.ErrorAs(t, err, &re)
	require.Contains(t, re.Error(), "disagree")
	require.Len(t, re.Sizes, 2)
	require.Equal(t, old, size)
	require.Equal(t, old, d.Size())

	b.SetBlocks(2 * 8192)
	from, size, err := d.Resize(ctx)
	require.NoError(t, err)
	require.Equal(t, [2]int64{old, 2 * old}, [2]int64{from, size})
	require.Equal(t, 2*old, waitResized(t, resized))

	b.SetBlocks(8192) // b's controller lost the resize
	unitAttention(tgs[1:], 0x2A, 0x09)
	pb := d.paths[1].portal
	require.Eventually(t, func() bool { return pathVerdict(d, pb) == "faulty" }, 10*time.Second, 5*time.Millisecond)
	var sm *SizeMismatchError
	require.True(t, errors.As(pathErr(d, pb), &sm), "%v", pathErr(d, pb))
	require.Equal(t, SizeMismatchError{Portal: pb, Want: 2 * old, Got: old}, *sm)
	_, err = d.WriteAtContext(ctx, make([]byte, 4096), old, false) // served by a
	require.NoError(t, err)

	b.SetBlocks(2 * 8192)
	unitAttention(tgs[1:], 0x2A, 0x09)
	require.Eventually(t, func() bool { return pathVerdict(d, pb) == "ready" }, 10*time.Second, 5*time.Millisecond)

	a.SetBlocks(8192) // a LUN that shrinks: refused
	_, size, err = d.Resize(ctx)
	require.ErrorAs(t, err, &re)
	require.Equal(t, 2*old, size)
}

func pathVerdict(d *Device, portal string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.paths {
		if p.portal == portal {
			if !p.active {
				return "faulty"
			}
			return p.state.String()
		}
	}
	return ""
}

func pathErr(d *Device, portal string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.paths {
		if p.portal == portal {
			return p.lastErr
		}
	}
	return nil
}
