package multipath

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func selPaths(n int) []*Path {
	ps := make([]*Path, n)
	for i := range ps {
		ps[i] = newPath(i, string(rune('a'+i)), nil)
	}
	return ps
}

// distribution runs n selections of size bytes and counts picks per path.
func distribution(s Selector, paths []*Path, n, size int) []int {
	counts := make([]int, len(paths))
	for range n {
		counts[s.Select(paths, size)]++
	}
	return counts
}

func TestNewSelector(t *testing.T) {
	for spec, name := range map[string]string{
		"round-robin 0": "round-robin 0", "round-robin": "round-robin 0",
		"queue-length 0": "queue-length 0", "service-time 0": "service-time 0", "": "service-time 0",
		"  service-time   0 ": "service-time 0",
	} {
		s, err := NewSelector(spec, 1)
		require.NoError(t, err, spec)
		require.Equal(t, name, s.Name(), spec)
	}
	for _, bad := range []string{"historical-service-time 0", "round-robin 1 x", "round-robin 2", "random"} {
		_, err := NewSelector(bad, 1)
		require.Error(t, err, bad)
	}
}

func TestRoundRobinDistribution(t *testing.T) {
	paths := selPaths(3)
	s, _ := NewSelector("round-robin 0", 1)
	var seq []int
	for range 7 {
		seq = append(seq, s.Select(paths, 4096))
	}
	require.Equal(t, []int{0, 1, 2, 0, 1, 2, 0}, seq)

	s, _ = NewSelector("round-robin 0", 3) // rr_min_io_rq 3
	seq = seq[:0]
	for range 9 {
		seq = append(seq, s.Select(paths, 4096))
	}
	require.Equal(t, []int{0, 0, 0, 1, 1, 1, 2, 2, 2}, seq)
	require.Equal(t, []int{300, 300, 300}, distribution(s, paths, 900, 512))
}

func TestQueueLengthPicksFewestInFlight(t *testing.T) {
	paths := selPaths(3)
	s, _ := NewSelector("queue-length 0", 1)
	paths[0].inFlight.Store(5)
	paths[1].inFlight.Store(2)
	paths[2].inFlight.Store(7)
	require.Equal(t, []int{0, 100, 0}, distribution(s, paths, 100, 0))

	// Ties are broken in rotation: idle paths share the load evenly.
	for _, p := range paths {
		p.inFlight.Store(0)
	}
	require.Equal(t, []int{100, 100, 100}, distribution(s, paths, 300, 0))
	paths[1].inFlight.Store(1)
	require.Equal(t, []int{50, 0, 50}, distribution(s, paths, 100, 0))
}

func TestServiceTimePicksLeastBytes(t *testing.T) {
	paths := selPaths(2)
	s, _ := NewSelector("service-time 0", 1)
	paths[0].inFlightBytes.Store(1 << 20)
	paths[1].inFlightBytes.Store(64 << 10)
	require.Equal(t, []int{0, 10}, distribution(s, paths, 10, 4096))

	// Fewer requests but more bytes loses: the estimate is by bytes.
	paths[0].inFlight.Store(1)
	paths[0].inFlightBytes.Store(1 << 20)
	paths[1].inFlight.Store(8)
	paths[1].inFlightBytes.Store(8 * 4096)
	require.Equal(t, []int{0, 10}, distribution(s, paths, 10, 4096))

	// Equal load: rotation.
	paths[0].inFlightBytes.Store(0)
	paths[1].inFlightBytes.Store(0)
	require.Equal(t, []int{50, 50}, distribution(s, paths, 100, 4096))

	// Equal estimate: the higher relative throughput wins.
	paths[0].relTput, paths[1].relTput = 2, 1
	paths[0].inFlightBytes.Store(2 * 4096)
	paths[1].inFlightBytes.Store(4096 / 2)
	// (8192+4096)/2 = 6144 vs (2048+4096)/1 = 6144: tie, path 0 is faster.
	require.Equal(t, []int{10, 0}, distribution(s, paths, 10, 4096))
}

// TestSelectorsUnderLoad drives each selector with simulated in-flight
// accounting and checks that two equal paths share the I/O.
func TestSelectorsUnderLoad(t *testing.T) {
	for _, spec := range []string{"round-robin 0", "queue-length 0", "service-time 0"} {
		paths := selPaths(2)
		s, _ := NewSelector(spec, 1)
		counts := make([]int, 2)
		var inflight []int
		for i := range 1000 {
			j := s.Select(paths, 4096)
			counts[j]++
			paths[j].inFlight.Add(1)
			paths[j].inFlightBytes.Add(4096)
			inflight = append(inflight, j)
			if i%4 == 3 { // complete the oldest
				k := inflight[0]
				inflight = inflight[1:]
				paths[k].inFlight.Add(-1)
				paths[k].inFlightBytes.Add(-4096)
			}
		}
		require.InDelta(t, 500, counts[0], 5, spec)
	}
}

func TestSelectorsDoNotAllocate(t *testing.T) {
	paths := selPaths(4)
	for _, spec := range []string{"round-robin 0", "queue-length 0", "service-time 0"} {
		s, _ := NewSelector(spec, 2)
		allocs := testing.AllocsPerRun(1000, func() { s.Select(paths, 4096) })
		require.Zero(t, allocs, spec)
	}
}

func BenchmarkSelect(b *testing.B) {
	paths := selPaths(4)
	for _, spec := range []string{"round-robin 0", "queue-length 0", "service-time 0"} {
		s, _ := NewSelector(spec, 1)
		b.Run(spec, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := paths[s.Select(paths, 4096)]
					p.inFlight.Add(1)
					p.inFlight.Add(-1)
				}
			})
		})
	}
}
