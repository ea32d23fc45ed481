package multipath

import (
	"context"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomp-dev/gomp/internal/iscsitest"
	"github.com/stretchr/testify/require"
)

// benchStackDevice opens a device over two in-memory paths (iscsitest.Pipe)
// to one fake target: the initiator's whole stack below NBD — multipath,
// iSCSI sessions, PDU framing — with the target in the same process.
func benchStackDevice(b *testing.B) *Device {
	tg := iscsitest.New(iscsitest.Config{LUNs: map[uint16]*iscsitest.LUN{1: iscsitest.NewLUN(1<<15, 512)}})
	var wg sync.WaitGroup
	dial := func(context.Context, string, string) (net.Conn, error) {
		ini, tgt := iscsitest.Pipe()
		wg.Go(func() { _ = tg.Serve(tgt) })
		return ini, nil
	}
	d, err := Open(context.Background(), Config{Target: tg.Name(), LUN: 1, Dial: dial, NOPInterval: -1,
		Portals: []string{"192.0.2.1:3260", "192.0.2.2:3260"}, Settings: Settings{PollingInterval: time.Minute}})
	require.NoError(b, err)
	b.Cleanup(func() {
		_ = d.Close(context.Background())
		tg.Close()
		wg.Wait()
	})
	return d
}

// BenchmarkStack4KQD32 is 4 KiB random I/O at queue depth 32 through the
// whole in-process stack, with the statistics the I/O path keeps (run it
// against an older tree to see what they cost).
func BenchmarkStack4KQD32(b *testing.B) {
	for _, write := range []bool{false, true} {
		name := map[bool]string{false: "read", true: "write"}[write]
		b.Run(name, func(b *testing.B) {
			d := benchStackDevice(b)
			b.ReportAllocs()
			b.SetBytes(4096)
			b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0))) // 32 goroutines
			cpu := cpuTime()
			defer func() { b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op") }()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 4096)
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				ctx := context.Background()
				for pb.Next() {
					off := r.Int64N(d.Size()/4096) * 4096
					var err error
					if write {
						_, err = d.WriteAtContext(ctx, buf, off, false)
					} else {
						_, err = d.ReadAtContext(ctx, buf, off)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// cpuTime returns the CPU time the process used so far, user and system:
// on a shared machine, a steadier measure of cost than elapsed time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPathStatsPerIO is what the statistics add to one I/O on the
// path: two clock reads and a histogram record.
func BenchmarkPathStatsPerIO(b *testing.B) {
	c := pathCounters{epoch: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		start := c.now()
		c.done(opRead, c.now()-start)
	}
}
