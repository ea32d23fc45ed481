package multipath

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/stretchr/testify/require"
)

func TestOpenMultibusWithoutALUA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		d := openFakes(t, testConfig(Settings{}), newFake(disk), newFake(disk))
		defer closeDev(t, d)
		s := d.Status()
		require.Equal(t, "multibus", s.Policy, "no ALUA: every path in one group")
		require.Equal(t, "service-time 0", s.Selector)
		require.Equal(t, testWWID, s.Name)
		require.Len(t, s.Groups, 1)
		require.Equal(t, "active", s.Groups[0].State)
		require.Equal(t, []string{"p0", "p1"}, activePortals(d))
		require.Equal(t, int64(testSize), d.Size())
	})
}

func TestOpenGroupByPrioWithALUA(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0 := newFake(disk).alua(1, scsi.StateActiveNonOptimized, false)
		p1 := newFake(disk).alua(2, scsi.StateActiveOptimized, false)
		p2 := newFake(disk).alua(3, scsi.StateActiveOptimized, false)
		d := openFakes(t, testConfig(Settings{}), p0, p1, p2)
		defer closeDev(t, d)
		s := d.Status()
		require.Equal(t, "group_by_prio", s.Policy)
		require.Len(t, s.Groups, 2)
		require.Equal(t, 50, s.Groups[0].Priority)
		require.Equal(t, 10, s.Groups[1].Priority)
		require.Equal(t, 0, s.ActiveGroup)
		require.Equal(t, []string{"p1", "p2"}, activePortals(d), "optimized paths carry the I/O")
		buf := make([]byte, 4096)
		for range 10 {
			_, err := d.ReadAtContext(context.Background(), buf, 0)
			require.NoError(t, err)
		}
		require.Zero(t, p0.ios.Load(), "the non-optimized path stays idle")
	})
}

func TestGroupingPolicies(t *testing.T) {
	mk := func(prios ...int) []*Path {
		ps := selPaths(len(prios))
		for i, p := range ps {
			p.prio, p.tpg, p.active = prios[i], 10+prios[i], true
		}
		return ps
	}
	names := func(gs []*group) [][]string {
		var out [][]string
		for _, g := range gs {
			var n []string
			for _, p := range g.paths {
				n = append(n, p.portal)
			}
			out = append(out, n)
		}
		return out
	}
	ps := mk(10, 50, 10, 50)
	require.Equal(t, [][]string{{"a", "b", "c", "d"}}, names(buildGroups(GroupMultibus, ps)))
	require.Equal(t, [][]string{{"b"}, {"d"}, {"a"}, {"c"}}, names(buildGroups(GroupFailover, ps)))
	require.Equal(t, [][]string{{"b", "d"}, {"a", "c"}}, names(buildGroups(GroupByPrio, ps)))
	require.Equal(t, [][]string{{"b", "d"}, {"a", "c"}}, names(buildGroups(GroupByTPG, ps)))
	ps[3].tpg = 99 // same priority, other port group
	require.Equal(t, [][]string{{"b"}, {"d"}, {"a", "c"}}, names(buildGroups(GroupByTPG, ps)))
}

func TestOpenRefusesWWIDMismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		other := newFake(newFakeDisk())
		other.info.WWID = "36001405bbbbbbbbbbbbbbbbbbbbbbbbb"
		var ev collectEvents
		cfg := testConfig(Settings{})
		cfg.OnEvent = ev.add
		d := openFakes(t, cfg, newFake(disk), other)
		require.Equal(t, []string{"p0"}, activePortals(d))
		require.Equal(t, "refused", pathState(d, "p1"))
		last := d.Status().Groups[0].Paths[1].LastError
		require.Contains(t, last, "p1")
		require.Contains(t, last, testWWID)
		require.Contains(t, last, other.info.WWID)
		time.Sleep(10 * time.Second) // the checker looks again, and refuses again
		buf := make([]byte, 512)
		for range 10 {
			_, err := d.ReadAtContext(context.Background(), buf, 0)
			require.NoError(t, err)
		}
		require.Zero(t, other.ios.Load(), "no I/O ever reaches the other LUN")
		require.Equal(t, "refused", pathState(d, "p1"))
		closeDev(t, d)
		require.Contains(t, ev.kinds(), "path state p1")
	})
}

func TestOpenUnreachablePathJoinsLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p1 := newFake(disk)
		p1.down = true
		d := openFakes(t, testConfig(Settings{}), newFake(disk), p1)
		defer closeDev(t, d)
		require.Equal(t, "failed", pathState(d, "p1"))
		require.Equal(t, []string{"p0"}, activePortals(d))
		p1.restore()
		time.Sleep(time.Second + time.Millisecond) // one polling interval
		require.Equal(t, []string{"p0", "p1"}, activePortals(d))
	})
}

func TestOpenFailsWithoutAnyPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := newFake(newFakeDisk()), newFake(newFakeDisk())
		a.down, b.identErr = true, senseErr(scsi.KeyIllegalRequest, 0x25, 0x00)
		cfg := testConfig(Settings{})
		cfg.Portals = []string{"p0", "p1"}
		_, err := open(context.Background(), cfg.withDefaults(), []pathIO{a, b})
		require.ErrorContains(t, err, "no path to iqn.2026-11.dev.gomp:test LUN 1")
		require.ErrorContains(t, err, "p0: ")
		require.ErrorContains(t, err, "p1: ")
		require.True(t, a.closed && b.closed)
	})
}

func TestInFlightIOMovesToOtherPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		d := openFakes(t, testConfig(Settings{}), p0, p1)
		defer closeDev(t, d)
		p1.blackhole(3 * time.Second) // silent until the "NOP ping" notices
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Go(func() {
				buf := bytes.Repeat([]byte{byte(i + 1)}, 4096)
				_, err := d.WriteAtContext(context.Background(), buf, int64(i)*4096, false)
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Equal(t, 3*time.Second, time.Since(start), "stalled writes moved on when the path died")
		require.Equal(t, "failed", pathState(d, "p1"))
		for i := range 16 {
			require.Equal(t, bytes.Repeat([]byte{byte(i + 1)}, 4096), disk.data[i*4096:(i+1)*4096])
		}
		p1.restore()
		time.Sleep(time.Second + time.Millisecond)
		require.Equal(t, []string{"p0", "p1"}, activePortals(d), "back within one polling interval")
	})
}

func TestTargetErrorIsReturnedAndPathStays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		medium := senseErr(scsi.KeyMediumError, 0x11, 0x00)
		p0.ioErr, p1.ioErr = medium, medium
		d := openFakes(t, testConfig(Settings{}), p0, p1)
		defer closeDev(t, d)
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		var se *iscsi.SCSIError
		require.ErrorAs(t, err, &se)
		require.Equal(t, scsi.KeyMediumError, se.Sense.Key)
		require.Equal(t, int64(1), p0.ios.Load()+p1.ios.Load(), "not retried on another path")
		require.Equal(t, []string{"p0", "p1"}, activePortals(d))
		p0.set(func(f *fakePath) { f.ioErr = nil })
		p1.set(func(f *fakePath) { f.ioErr = nil })
	})
}

func TestTransientErrorsAreRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p0 := newFake(newFakeDisk())
		p0.ioErr, p0.ioErrLeft = senseErr(scsi.KeyUnitAttention, 0x29, 0x00), 3
		cfg := testConfig(Settings{NoPathRetry: NoPathRetryFail})
		d := openFakes(t, cfg, p0)
		defer closeDev(t, d)
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.NoError(t, err)
		require.Equal(t, int64(4), p0.ios.Load())
		require.Equal(t, "active", pathState(d, "p0"))

		p0.set(func(f *fakePath) { f.ioErr = errBusy }) // forever
		_, err = d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.ErrorIs(t, err, ErrNoPath, "BUSY past RetryLimit fails the path")
		require.Equal(t, int64(4+1+5), p0.ios.Load(), "one try and RetryLimit (5) retries")
	})
}

func TestNoPathRetryExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		var ev collectEvents
		cfg := testConfig(Settings{NoPathRetry: 3})
		cfg.OnEvent = ev.add
		d := openFakes(t, cfg, p0, p1)
		defer closeDev(t, d)
		p0.set(func(f *fakePath) { f.down = true })
		p1.set(func(f *fakePath) { f.down = true })
		start := time.Now()
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.ErrorIs(t, err, ErrNoPath)
		require.ErrorContains(t, err, "last path error")
		require.Equal(t, 3*time.Second, time.Since(start), "queued for no_path_retry × polling_interval")
		require.False(t, d.Status().Queueing)
		_, err = d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.ErrorIs(t, err, ErrNoPath, "after expiry I/O fails at once")
		require.Equal(t, 3*time.Second, time.Since(start))

		p0.restore()
		time.Sleep(time.Second)
		require.True(t, d.Status().Queueing, "queueing restored with a path")
		_, err = d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.NoError(t, err)
		require.Subset(t, ev.kinds(), []string{"no path p0", "queueing expired", "path reinstated p0", "paths restored p0"})
	})
}

func TestNoPathRetryFailReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p0 := newFake(newFakeDisk())
		d := openFakes(t, testConfig(Settings{NoPathRetry: NoPathRetryFail}), p0)
		defer closeDev(t, d)
		p0.set(func(f *fakePath) { f.down = true })
		start := time.Now()
		_, err := d.WriteAtContext(context.Background(), make([]byte, 512), 0, false)
		require.ErrorIs(t, err, ErrNoPath)
		require.ErrorIs(t, err, iscsi.ErrConnection, "the last path error is kept")
		require.Zero(t, time.Since(start))
	})
}

// TestQueueIsAlwaysCancellable: with no_path_retry queue, queued I/O ends
// by the caller's context, DisableQueueing, or Close.
func TestQueueIsAlwaysCancellable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p0 := newFake(newFakeDisk())
		d := openFakes(t, testConfig(Settings{NoPathRetry: NoPathRetryQueue}), p0)
		p0.set(func(f *fakePath) { f.down = true })
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 3)
		go func() { _, err := d.ReadAtContext(ctx, make([]byte, 512), 0); errs <- err }()
		time.Sleep(time.Hour) // queued for an hour: still waiting
		synctest.Wait()
		require.Len(t, errs, 0)
		require.Equal(t, int64(1), d.Status().QueuedIOs)
		cancel()
		require.ErrorIs(t, <-errs, context.Canceled)

		go func() { _, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0); errs <- err }()
		time.Sleep(time.Hour)
		d.DisableQueueing()
		require.ErrorIs(t, <-errs, ErrNoPath)
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.ErrorIs(t, err, ErrNoPath, "disabled: fails at once")

		d.RestoreQueueing()
		go func() { _, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0); errs <- err }()
		time.Sleep(time.Hour)
		synctest.Wait()
		require.Len(t, errs, 0, "queueing again")
		err = d.Close(context.Background())
		require.ErrorIs(t, err, ErrNoPath, "Close reports that it could not flush")
		require.ErrorIs(t, <-errs, ErrClosed)
	})
}

func TestQueuedIOCompletesWhenPathReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0 := newFake(disk)
		d := openFakes(t, testConfig(Settings{NoPathRetry: NoPathRetryQueue}), p0)
		defer closeDev(t, d)
		p0.set(func(f *fakePath) { f.down = true })
		time.AfterFunc(time.Minute, p0.restore)
		start := time.Now()
		_, err := d.WriteAtContext(context.Background(), bytes.Repeat([]byte{7}, 512), 512, false)
		require.NoError(t, err)
		require.Less(t, time.Since(start), time.Minute+time.Second)
		require.Equal(t, byte(7), disk.data[512])
	})
}

// failoverDevice opens a failover-policy device over two fakes and moves
// I/O to p1 by taking p0 down.
func failoverDevice(t *testing.T, fb Failback) (*Device, *fakePath, *fakePath) {
	disk := newFakeDisk()
	p0, p1 := newFake(disk), newFake(disk)
	d := openFakes(t, testConfig(Settings{GroupingPolicy: GroupFailover, Failback: fb}), p0, p1)
	require.Equal(t, []string{"p0"}, activePortals(d))
	p0.set(func(f *fakePath) { f.down = true })
	_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
	require.NoError(t, err)
	require.Equal(t, []string{"p1"}, activePortals(d))
	p0.restore()
	return d, p0, p1
}

func TestFailbackImmediate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _, _ := failoverDevice(t, FailbackImmediate)
		defer closeDev(t, d)
		time.Sleep(time.Second + time.Millisecond)
		require.Equal(t, []string{"p0"}, activePortals(d), "back to the first group")
	})
}

func TestFailbackManual(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _, _ := failoverDevice(t, FailbackManual)
		defer closeDev(t, d)
		time.Sleep(time.Minute)
		require.Equal(t, []string{"p1"}, activePortals(d), "manual: stays")
		require.Equal(t, "enabled", d.Status().Groups[0].State)
		require.NoError(t, d.SwitchGroup(0))
		require.Equal(t, []string{"p0"}, activePortals(d))
		require.Error(t, d.SwitchGroup(2))
	})
}

func TestFailbackDeferred(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _, _ := failoverDevice(t, Failback(10*time.Second))
		defer closeDev(t, d)
		time.Sleep(time.Second + time.Millisecond) // reinstated
		require.Equal(t, "enabled", d.Status().Groups[0].State)
		require.Equal(t, []string{"p1"}, activePortals(d))
		time.Sleep(9 * time.Second)
		require.Equal(t, []string{"p1"}, activePortals(d), "not yet")
		time.Sleep(time.Second)
		require.Equal(t, []string{"p0"}, activePortals(d), "10 s after reinstatement")
	})
}

func TestFailbackFollowover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _, _ := failoverDevice(t, FailbackFollowover)
		defer closeDev(t, d)
		time.Sleep(time.Second + time.Millisecond)
		require.Equal(t, []string{"p0"}, activePortals(d), "the group's first path came back")
	})
}

func TestPriorityChangeRegroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0 := newFake(disk).alua(1, scsi.StateActiveOptimized, false)
		p1 := newFake(disk).alua(2, scsi.StateActiveNonOptimized, false)
		d := openFakes(t, testConfig(Settings{}), p0, p1)
		defer closeDev(t, d)
		require.Equal(t, []string{"p0"}, activePortals(d))
		p0.setALUAState(scsi.StateActiveNonOptimized) // the array moves the LUN
		p1.setALUAState(scsi.StateActiveOptimized)
		time.Sleep(d.set.MaxPollingInterval + time.Second)
		require.Equal(t, []string{"p1"}, activePortals(d))
		s := d.Status()
		require.Equal(t, 50, s.Groups[0].Priority)
		require.Equal(t, "p1", s.Groups[0].Paths[0].Portal)
	})
}

func TestGhostPathsAreLastResort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		p1.turErr = senseErr(scsi.KeyNotReady, 0x04, 0x0B) // standby
		d := openFakes(t, testConfig(Settings{GroupingPolicy: GroupMultibus}), p0, p1)
		defer closeDev(t, d)
		time.Sleep(time.Second + time.Millisecond)
		require.Equal(t, "ghost", pathState(d, "p1"))
		require.Equal(t, []string{"p0"}, activePortals(d))
		p0.set(func(f *fakePath) { f.down = true })
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.NoError(t, err)
		require.Equal(t, []string{"p1"}, activePortals(d))
	})
}

func TestPendingPathKeepsItsState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		d := openFakes(t, testConfig(Settings{}), p0, p1)
		defer closeDev(t, d)
		p1.set(func(f *fakePath) { f.turErr = senseErr(scsi.KeyNotReady, 0x04, 0x0A) })
		time.Sleep(time.Second + time.Millisecond)
		require.Equal(t, "pending", pathState(d, "p1"), "in use, checked again soon")
		p1.set(func(f *fakePath) { f.turErr = senseErr(scsi.KeyIllegalRequest, 0x25, 0x00) })
		time.Sleep(time.Second)
		require.Equal(t, "disconnected", pathState(d, "p1"))
		require.Equal(t, []string{"p0"}, activePortals(d))
	})
}

// flap fails p through I/O, then lets the checker see it healthy again.
func flap(t *testing.T, d *Device, p *fakePath) {
	p.set(func(f *fakePath) { f.down = true })
	for pathState(d, "p1") != "failed" {
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.NoError(t, err)
	}
	p.restore()
	time.Sleep(time.Second + time.Millisecond)
}

func TestFlappingPathIsDamped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		d := openFakes(t, testConfig(Settings{FlapThreshold: 3, FlapWindow: time.Minute,
			FlapHold: 30 * time.Second}), p0, p1)
		defer closeDev(t, d)
		flap(t, d, p1)
		flap(t, d, p1)
		require.Equal(t, "active", pathState(d, "p1"))
		flap(t, d, p1) // third failure within the window
		require.Equal(t, "delayed", pathState(d, "p1"))
		time.Sleep(28 * time.Second)
		require.Equal(t, "delayed", pathState(d, "p1"))
		time.Sleep(2 * time.Second)
		require.Equal(t, "active", pathState(d, "p1"), "reinstated when the hold ran out")

		flap(t, d, p1)
		flap(t, d, p1)
		p1.set(func(f *fakePath) { f.down = true })
		for pathState(d, "p1") != "failed" {
			_, _ = d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		}
		time.AfterFunc(time.Second, p1.restore)
		p0.set(func(f *fakePath) { f.down = true })
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0) // fails p0, queues
		require.NoError(t, err, "served by p1 once reinstated")
		require.Equal(t, "failed", pathState(d, "p0"))
		require.Equal(t, "active", pathState(d, "p1"), "the only usable path is never held back")
	})
}

func TestFailPathIsStickyUntilReinstated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		d := openFakes(t, testConfig(Settings{}), p0, p1)
		defer closeDev(t, d)
		require.NoError(t, d.FailPath("p1"))
		require.Error(t, d.FailPath("p9"))
		time.Sleep(time.Minute)
		require.Equal(t, "failed", pathState(d, "p1"))
		require.True(t, d.Status().Groups[0].Paths[1].Manual)
		require.Equal(t, []string{"p0"}, activePortals(d))
		require.NoError(t, d.ReinstatePath("p1"))
		require.Equal(t, []string{"p0", "p1"}, activePortals(d))

		p1.set(func(f *fakePath) { f.down = true })
		require.NoError(t, d.FailPath("p1"))
		time.Sleep(2 * time.Second) // the checker sees it faulty
		require.ErrorContains(t, d.ReinstatePath("p1"), "faulty")
		p1.restore()
		time.Sleep(time.Second + time.Millisecond)
		require.Equal(t, []string{"p0", "p1"}, activePortals(d), "reinstated by the checker once ready")
	})
}

func TestCheckerBacksOffOnHealthyPaths(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p0 := newFake(newFakeDisk())
		d := openFakes(t, testConfig(Settings{}), p0) // polling 1 s, max 4 s
		defer closeDev(t, d)
		want := map[time.Duration]int64{1: 1, 3: 2, 7: 3, 11: 4, 15: 5}
		start := time.Now()
		for _, at := range []time.Duration{1, 3, 7, 11, 15} {
			time.Sleep(at*time.Second - time.Since(start) + time.Millisecond)
			require.Equal(t, want[at], p0.turs.Load(), "at %v s", at)
		}
		p0.set(func(f *fakePath) { f.turErr = errBusy })
		time.Sleep(4 * time.Second)
		n := p0.turs.Load()
		time.Sleep(3 * time.Second)
		require.Equal(t, n+3, p0.turs.Load(), "a failed path is checked every polling interval")
	})
}

// A path whose commands stall (NOPs answered, commands never) has them
// aborted at the target after IOTimeout and the I/O moves on; only when
// the target confirms no abort is the connection dropped first.
func TestWatchdogMovesStalledIO(t *testing.T) {
	for _, tc := range []struct {
		name           string
		abortErr       error
		aborts, resets int
	}{
		{"abort confirmed: the connection stays", nil, 1, 0},
		{"abort not confirmed: the connection is dropped", errors.New("no TMF answer"), 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				disk := newFakeDisk()
				p0, p1 := newFake(disk), newFake(disk)
				cfg := testConfig(Settings{GroupingPolicy: GroupFailover})
				cfg.IOTimeout = 3 * time.Second
				d := openFakes(t, cfg, p0, p1)
				defer closeDev(t, d)
				p0.set(func(f *fakePath) { f.stalled, f.abortErr = true, tc.abortErr })
				start := time.Now()
				_, err := d.WriteAtContext(context.Background(), make([]byte, 512), 0, false)
				require.NoError(t, err)
				el := time.Since(start)
				require.GreaterOrEqual(t, el, 3*time.Second)
				require.LessOrEqual(t, el, 5*time.Second)
				require.Equal(t, tc.aborts, p0.aborts)
				require.Equal(t, tc.resets, p0.resets)
			})
		})
	}
}

func TestEventsAreDeliveredInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		var ev collectEvents
		cfg := testConfig(Settings{})
		cfg.OnEvent = ev.add
		d := openFakes(t, cfg, p0, p1)
		p1.set(func(f *fakePath) { f.down = true })
		for pathState(d, "p1") != "failed" {
			_, _ = d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		}
		p1.restore()
		time.Sleep(time.Second + time.Millisecond)
		closeDev(t, d)
		require.Equal(t, []string{"path failed p1", "path reinstated p1", "closed"}, ev.kinds())
		for _, e := range ev.ev {
			require.Equal(t, testWWID, e.Device)
		}
	})
}

func TestCloseFlushesLogsOutAndRefusesIO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		d := openFakes(t, testConfig(Settings{}), p0, p1)
		require.NoError(t, d.Close(context.Background()))
		require.Equal(t, int64(1), p0.ios.Load()+p1.ios.Load(), "one flush")
		require.True(t, p0.closed && p1.closed)
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.ErrorIs(t, err, ErrClosed)
		require.ErrorIs(t, d.Flush(context.Background()), ErrClosed)
		require.NoError(t, d.Close(context.Background()), "idempotent")
	})
}

func TestRequestValidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p0 := newFake(newFakeDisk())
		d := openFakes(t, testConfig(Settings{}), p0)
		defer closeDev(t, d)
		ctx := context.Background()
		_, err := d.ReadAtContext(ctx, make([]byte, 100), 0)
		require.ErrorIs(t, err, iscsi.ErrUnaligned)
		_, err = d.WriteAtContext(ctx, make([]byte, 512), 3, false)
		require.ErrorIs(t, err, iscsi.ErrUnaligned)
		_, err = d.ReadAtContext(ctx, make([]byte, 1024), testSize-512)
		require.ErrorIs(t, err, io.EOF)
		require.Error(t, d.Trim(ctx, -512, 512), "negative offset")
		n, err := d.ReadAtContext(ctx, nil, 0)
		require.NoError(t, err)
		require.Zero(t, n)
		require.Zero(t, p0.ios.Load(), "nothing reached a path")
	})
}

func TestWriteZeroesAndTrim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		for i := range disk.data {
			disk.data[i] = 0xff
		}
		p0 := newFake(disk)
		d := openFakes(t, testConfig(Settings{}), p0)
		ctx := context.Background()
		require.True(t, d.CanTrim() && d.CanZero() && d.CanFlush() && d.CanMultiConn())
		require.NoError(t, d.WriteZeroes(ctx, 0, 4096, true))
		require.NoError(t, d.Trim(ctx, 4096, 4096))
		require.Equal(t, make([]byte, 8192), disk.data[:8192])
		closeDev(t, d)

		p1 := newFake(disk)
		p1.info.CanWriteSame, p1.info.CanUnmap = false, false
		d = openFakes(t, testConfig(Settings{}), p1)
		defer closeDev(t, d)
		require.False(t, d.CanTrim())
		require.ErrorIs(t, d.Trim(ctx, 0, 512), errors.ErrUnsupported)
		require.NoError(t, d.WriteZeroes(ctx, 8192, 3<<20/2, false)) // emulated by writes
		require.Equal(t, int64(2), p1.ios.Load(), "1 MiB zero buffer: two writes")
		require.Equal(t, make([]byte, 8192), disk.data[8192:16384])
		min, pref, max := d.BlockSize()
		require.Equal(t, []uint32{512, 4096, 32 << 20}, []uint32{min, pref, max})
	})
}

func TestBoundedRetriesWhenEveryPathFailsTheCommand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		p0, p1 := newFake(disk), newFake(disk)
		p0.ioErr, p1.ioErr = errACAActive, errACAActive // TUR stays good
		d := openFakes(t, testConfig(Settings{NoPathRetry: NoPathRetryQueue}), p0, p1)
		defer closeDev(t, d)
		_, err := d.ReadAtContext(context.Background(), make([]byte, 512), 0)
		require.ErrorContains(t, err, "failed on 16 paths in turn")
		var se *iscsi.SCSIError
		require.ErrorAs(t, err, &se)
		p0.set(func(f *fakePath) { f.ioErr = nil }) // let Close flush
		p1.set(func(f *fakePath) { f.ioErr = nil })
	})
}

func TestSnapshotJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		disk := newFakeDisk()
		d := openFakes(t, testConfig(Settings{Alias: "data"}), newFake(disk), newFake(disk))
		defer closeDev(t, d)
		_, err := d.WriteAtContext(context.Background(), make([]byte, 4096), 0, false)
		require.NoError(t, err)
		b, err := json.Marshal(d.Status())
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		require.Equal(t, "data", m["name"])
		require.Equal(t, testWWID, m["wwid"])
		require.Equal(t, "12", m["no_path_retry"])
		require.Equal(t, "immediate", m["failback"])
		p := m["groups"].([]any)[0].(map[string]any)["paths"].([]any)[0].(map[string]any)
		for _, k := range []string{"portal", "state", "checker", "dm_state", "in_flight", "completed",
			"errors", "read_bytes", "written_bytes", "last_change", "priority"} {
			require.Contains(t, p, k)
		}
	})
}

func TestDeviceIODoesNotAllocate(t *testing.T) {
	disk := newFakeDisk()
	d := openFakes(t, testConfig(Settings{}), newFake(disk), newFake(disk))
	defer closeDev(t, d)
	buf := make([]byte, 4096)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = d.ReadAtContext(ctx, buf, 8192)
		_, _ = d.WriteAtContext(ctx, buf, 8192, false)
	})
	require.Zero(t, allocs)
}

func BenchmarkDeviceReadAt(b *testing.B) {
	disk := newFakeDisk()
	cfg := testConfig(Settings{})
	cfg.Portals = []string{"p0", "p1"}
	d, err := open(context.Background(), cfg.withDefaults(), []pathIO{newFake(disk), newFake(disk)})
	require.NoError(b, err)
	defer d.Close(context.Background())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		for pb.Next() {
			_, _ = d.ReadAtContext(context.Background(), buf, 0)
		}
	})
}

func TestNormalizePortals(t *testing.T) {
	require.Equal(t, []string{"10.0.0.1:3260", "10.0.0.2:3261", "[fe80::1]:3260", "[fe80::2]:3260", "host:3260"},
		normalizePortals([]string{"10.0.0.1", "10.0.0.2:3261", "fe80::1", "[fe80::2]", "host"}))
	_, err := Open(context.Background(), Config{Target: "iqn.x", Portals: []string{"10.0.0.1", "10.0.0.1:3260"}})
	require.ErrorContains(t, err, "listed twice")
}

// TestIOOnTransitioningPathShownPending: an I/O that meets an ALUA
// transition (NOT READY 04/0A) goes to the other path, and the path is
// shown pending, not failed, and not counted for damping, while the
// checker keeps finding it transitioning.
func TestIOOnTransitioningPathShownPending(t *testing.T) {
	disk := newFakeDisk()
	p0, p1 := newFake(disk), newFake(disk)
	cfg := testConfig(Settings{PathSelector: "round-robin"})
	d := openFakes(t, cfg, p0, p1)
	defer closeDev(t, d)
	transitioning := senseErr(scsi.KeyNotReady, 0x04, 0x0A)
	p0.set(func(f *fakePath) { f.ioErr, f.turErr = transitioning, transitioning })
	buf := make([]byte, 4096)
	for range 4 { // round robin: one of them meets p0
		_, err := d.ReadAtContext(context.Background(), buf, 0)
		require.NoError(t, err)
	}
	require.Equal(t, []string{"pending", "active"}, pathStates(d))
	p0st := d.Status().Groups[0].Paths[0]
	require.Equal(t, "failed", p0st.DMState, "out of use for I/O")
	require.Zero(t, p0st.Failures, "a transition is not counted for damping")
}
