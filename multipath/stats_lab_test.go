package multipath

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// statsLabRegion is this test's part of the lab LUN: [780 MiB, 796 MiB).
const statsLabRegion, statsLabSize = 780 << 20, 16 << 20

// TestLabStatsUnderFailover: I/O on both lab portals; portal 2's
// connections are reset, then restored. The statistics tell the story:
// a failover and a failback, the path's failure and reinstatement, its
// session's lost connection and reconnect, I/O on both paths with
// latencies, and no time without a usable path.
func TestLabStatsUnderFailover(t *testing.T) {
	env := lab(t)
	const src = "127.0.0.21"
	d := labDevice(t, env, src, Settings{PollingInterval: time.Second, NoPathRetry: 5})
	var errs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			buf := make([]byte, 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				off := statsLabRegion + rng.Int64N(statsLabSize/4096)*4096
				if _, err := d.WriteAtContext(context.Background(), buf, off, false); err != nil {
					errs.Add(1)
				}
				if _, err := d.ReadAtContext(context.Background(), buf, off); err != nil {
					errs.Add(1)
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, 10*time.Second, "I/O on both paths", func() bool {
		st := d.Stats()
		return st.Paths[0].IOs > 0 && st.Paths[1].IOs > 0
	})

	f := newFault(t, "stats", src)
	f.cut("reject with tcp reset", env.portal2)
	waitFor(t, 10*time.Second, "portal 2 failed", func() bool { return !d.Stats().Paths[1].Up })
	time.Sleep(time.Second)
	f.restore()
	waitFor(t, 10*time.Second, "portal 2 back", func() bool { return d.Stats().Paths[1].Up })
	time.Sleep(500 * time.Millisecond) // I/O on the reinstated path again

	st := d.Stats()
	require.Zero(t, errs.Load(), "no I/O error through the failover")
	require.GreaterOrEqual(t, st.Failovers, uint64(1))
	require.GreaterOrEqual(t, st.Failbacks, uint64(1))
	require.Zero(t, st.NoPathEvents)
	require.Zero(t, st.NoPathTime)
	p1, p2 := st.Paths[0], st.Paths[1]
	require.Zero(t, p1.Failures)
	require.GreaterOrEqual(t, p2.Failures, uint64(1))
	require.GreaterOrEqual(t, p2.Reinstatements, uint64(1))
	var failed uint64
	for _, n := range p2.Errors {
		failed += n
	}
	require.LessOrEqual(t, p2.RetriedElsewhere, failed, "only failed I/O is retried elsewhere")
	require.NotNil(t, p2.Session)
	require.GreaterOrEqual(t, p2.Session.ConnectionFailures, uint64(1))
	require.GreaterOrEqual(t, p2.Session.Reconnects, uint64(1))
	for _, p := range st.Paths {
		require.Positive(t, p.Ops["write"].Count, p.Portal)
		require.Positive(t, p.Ops["read"].Count, p.Portal)
		require.Positive(t, p.Latency.P50, p.Portal)
		require.LessOrEqual(t, p.Latency.P50, p.Latency.P99, p.Portal)
		require.Equal(t, "logged-in", p.Session.State, p.Portal)
	}
	t.Logf("failovers %d, failbacks %d; %s: %d failures, %d errors %v, %d retried elsewhere, %d reconnects; p50/p99 %v/%v and %v/%v",
		st.Failovers, st.Failbacks, p2.Portal, p2.Failures, failed, p2.Errors, p2.RetriedElsewhere,
		p2.Session.Reconnects, p1.Latency.P50, p1.Latency.P99, p2.Latency.P50, p2.Latency.P99)
}
