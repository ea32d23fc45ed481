package multipath

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/internal/tgtdtest"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/iscsi/scsi"
	"github.com/stretchr/testify/require"
)

// prTgtd starts a tgtd of the test's own (internal/tgtdtest) on
// 127.88.0.1 and .2, with target tid 1 open to every initiator and a
// 16 MiB LUN 1.
func prTgtd(t *testing.T) (target string, portals []string) { return prTgtdN(t, 2) }

// prTgtdN is prTgtd with n portals, 127.88.0.1 to .n.
func prTgtdN(t *testing.T, n int) (target string, portals []string) {
	if os.Getenv("GOMP_LAB") != "1" || os.Geteuid() != 0 {
		t.Skip("needs GOMP_LAB=1 and root (tgtd)")
	}
	var hosts []string
	for i := range n {
		hosts = append(hosts, fmt.Sprintf("127.88.0.%d", i+1))
	}
	d := tgtdtest.Start(t, tgtdtest.Options{Hosts: hosts})
	target = "iqn.2026-11.dev.gomp:pr"
	d.NewTarget(1, target)
	d.AddLUN(1, 1, 16<<20)
	return target, d.Portals
}

func prHost(t *testing.T, target, name string, portals []string, s Settings) *Device {
	s.PollingInterval = time.Second
	d, err := Open(context.Background(), Config{Target: target, Portals: portals, LUN: 1, InitiatorName: name,
		Settings: s, Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func requireConflict(t *testing.T, err error) {
	t.Helper()
	var se *iscsi.SCSIError
	require.True(t, errors.As(err, &se), "want RESERVATION CONFLICT, got %v", err)
	require.Equal(t, scsi.StatusReservationConflict, scsi.Status(se.Status))
}

// TestLabReservationFence: host A registers through both paths and takes
// Write Exclusive, Registrants Only; host B's writes conflict and fail no
// path; A's writes pass through both paths, also after a path of A is
// failed and comes back; B preempts A: A's writes conflict, no
// path of A is failed, and a path of A that comes back does not register
// again.
func TestLabReservationFence(t *testing.T) {
	target, portals := prTgtd(t)
	ctx := context.Background()
	a := prHost(t, target, "iqn.2026-11.dev.gomp:host-a", portals, Settings{ReservationKey: "0xa1", PathSelector: "round-robin 0"})
	b := prHost(t, target, "iqn.2026-11.dev.gomp:host-b", portals[:1], Settings{})

	start := time.Now()
	require.NoError(t, a.Register(ctx, 0, 0xa1, false, false))
	t.Logf("registered 2 paths in %v", time.Since(start))
	keys, err := a.ReadKeys(ctx)
	require.NoError(t, err)
	require.Equal(t, []uint64{0xa1, 0xa1}, keys.Keys, "one registration per I_T nexus")
	require.NoError(t, a.PersistentReserveOut(ctx, scsi.PROutReserve, scsi.PRWriteExclusiveRegistrantsOnly,
		scsi.PROutParameters{Key: 0xa1}))
	if raw, err := a.PersistentReserveIn(ctx, scsi.PRInReadFullStatus); err == nil {
		fs, err := scsi.ParseReadFullStatus(raw)
		t.Logf("READ FULL STATUS: %+v (%v)", fs, err)
	}

	buf := make([]byte, 4096)
	_, err = b.WriteAtContext(ctx, buf, 0, false)
	requireConflict(t, err)
	_, err = b.ReadAtContext(ctx, buf, 0)
	require.NoError(t, err, "Write Exclusive: B still reads")
	require.Equal(t, "active", b.Status().Groups[0].Paths[0].State, "a conflict fails no path")

	writeAll := func(n int) {
		for i := range n {
			_, err := a.WriteAtContext(ctx, buf, int64(i)*4096, false)
			require.NoError(t, err)
		}
	}
	writeAll(20)
	require.NoError(t, a.FailPath(portals[1]))
	writeAll(4)
	require.NoError(t, a.ReinstatePath(portals[1]))
	waitFor(t, 10*time.Second, "path 2 back", func() bool { return len(a.active.Load().paths) == 2 })
	writeAll(20)
	for _, g := range a.Status().Groups {
		for _, p := range g.Paths {
			require.True(t, p.Registered, p.Portal)
			require.NotZero(t, p.Completed, "both paths carried writes: %s", p.Portal)
		}
	}

	require.NoError(t, b.Register(ctx, 0, 0xb2, false, false))
	// tgtd refuses PREEMPT AND ABORT (INVALID FIELD IN CDB): PREEMPT.
	require.NoError(t, b.PersistentReserveOut(ctx, scsi.PROutPreempt, scsi.PRWriteExclusiveRegistrantsOnly,
		scsi.PROutParameters{Key: 0xb2, ServiceActionKey: 0xa1}))
	for range 4 {
		_, err = a.WriteAtContext(ctx, buf, 0, false)
		requireConflict(t, err)
	}
	require.Len(t, a.active.Load().paths, 2, "fenced, but no path of A failed")
	require.NoError(t, a.FailPath(portals[0]))
	require.NoError(t, a.ReinstatePath(portals[0]))
	waitFor(t, 10*time.Second, "path 1 back", func() bool { return len(a.active.Load().paths) == 2 })
	keys, err = a.ReadKeys(ctx)
	require.NoError(t, err)
	require.Equal(t, []uint64{0xb2}, keys.Keys, "A did not register again after the preemption")
	r, err := b.ReadReservation(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(0xb2), r.Key)
}

// TestLabRegisterParallel: REGISTER through 4 paths in parallel (Register)
// against one path after another, as the classic stack did, on tgtd over
// loopback; the times are logged (README). Each round registers and
// unregisters.
func TestLabRegisterParallel(t *testing.T) {
	target, portals := prTgtdN(t, 4)
	ctx := context.Background()
	d := prHost(t, target, "iqn.2026-11.dev.gomp:host-time", portals, Settings{})
	require.Len(t, d.usablePaths(), 4)
	const rounds = 20
	var par, seq time.Duration
	for range rounds {
		start := time.Now()
		require.NoError(t, d.Register(ctx, 0, 0xc1, false, false))
		par += time.Since(start)
		require.NoError(t, d.Register(ctx, 0xc1, 0, false, false))

		start = time.Now()
		d.pr.op.Lock()
		for _, p := range d.usablePaths() {
			for _, err := range d.registerAll(ctx, []*Path{p}, 0, 0xc1, false) {
				require.NoError(t, err)
			}
		}
		d.pr.op.Unlock()
		seq += time.Since(start)
		keys, err := d.ReadKeys(ctx)
		require.NoError(t, err)
		require.Equal(t, []uint64{0xc1, 0xc1, 0xc1, 0xc1}, keys.Keys)
		require.NoError(t, d.Register(ctx, 0xc1, 0, false, false))
	}
	t.Logf("REGISTER through 4 paths, mean of %d: in parallel %v, one after another %v",
		rounds, (par / rounds).Round(time.Microsecond), (seq / rounds).Round(time.Microsecond))
}
