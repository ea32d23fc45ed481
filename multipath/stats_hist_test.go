package multipath

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every value lands in the bucket whose bounds hold it, and the buckets
// tile the range without gaps.
func TestHistogramBuckets(t *testing.T) {
	for _, v := range []uint64{0, 1, 1023, 1024, 1279, 1280, 1535, 1536, 2047, 2048, 3000, 1e6, 123456789,
		1<<37 - 1, 1 << 37, 1 << 40, 1<<64 - 1} {
		i := histIndex(v)
		require.LessOrEqual(t, histLower(i), v, "v=%d bucket %d", v, i)
		if i < histBuckets-1 {
			require.Less(t, v, histUpper(i), "v=%d bucket %d", v, i)
		}
	}
	for i := 1; i < histBuckets; i++ {
		require.Equal(t, histUpper(i-1), histLower(i))
		require.Less(t, histLower(i), histUpper(i)+boolU(i == histBuckets-1))
		if i < histBuckets-1 {
			width := float64(histUpper(i)-histLower(i)) / float64(histLower(i))
			require.LessOrEqual(t, width, 0.25, "bucket %d is at most a quarter of its lower bound wide", i)
		}
	}
	b := LatencyBuckets()
	require.Len(t, b, histMaxExp-histMinExp+2)
	require.Equal(t, 1024*time.Nanosecond, b[0])
	require.Equal(t, time.Duration(1)<<37, b[len(b)-1])
}

func boolU(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// Percentiles from the buckets against known inputs: each must fall in
// the bucket of the exact answer (so within 25 % of it), and exact where
// every sample is alike at a bucket bound.
func TestHistogramQuantiles(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name          string
		samples       func(h *histogram)
		p50, p90, p99 time.Duration // exact answers
	}{
		{"uniform 1..1000 µs", func(h *histogram) {
			for i := 1; i <= 1000; i++ {
				h.Record(time.Duration(i) * us)
			}
		}, 500 * us, 900 * us, 990 * us},
		{"bimodal 100 µs and 10 ms", func(h *histogram) {
			for i := range 1000 {
				d := 100 * us
				if i%100 >= 95 {
					d = 10 * time.Millisecond
				}
				h.Record(d)
			}
		}, 100 * us, 100 * us, 10 * time.Millisecond},
		{"one slow outlier in 1000", func(h *histogram) {
			for range 999 {
				h.Record(50 * us)
			}
			h.Record(2 * time.Second)
		}, 50 * us, 50 * us, 50 * us},
		{"sub-microsecond", func(h *histogram) {
			for range 10 {
				h.Record(100)
			}
		}, 100, 100, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			tc.samples(&h)
			s := h.snapshot()
			for _, q := range []struct {
				q    float64
				want time.Duration
			}{{0.5, tc.p50}, {0.9, tc.p90}, {0.99, tc.p99}} {
				got := s.quantile(q.q)
				i := histIndex(uint64(q.want))
				require.GreaterOrEqual(t, uint64(got), histLower(i), "q%.2f = %v, want about %v", q.q, got, q.want)
				require.LessOrEqual(t, uint64(got), histUpper(i), "q%.2f = %v, want about %v", q.q, got, q.want)
			}
		})
	}
}

// The public form: count, sum, octave buckets that add up to the count.
func TestHistogramStats(t *testing.T) {
	var h histogram
	require.Equal(t, LatencyStats{}, func() LatencyStats { s := h.snapshot(); return s.stats() }())
	for _, d := range []time.Duration{1500, 1500, 3000, 5 * time.Millisecond, -1} {
		h.Record(d)
	}
	s := h.snapshot()
	ls := s.stats()
	require.Equal(t, uint64(5), ls.Count)
	require.Equal(t, time.Duration(1500+1500+3000)+5*time.Millisecond, ls.Sum)
	require.Equal(t, []LatencyBucket{{Le: 1024, Count: 1}, {Le: 2048, Count: 2}, {Le: 4096, Count: 1},
		{Le: 1 << 23, Count: 1}}, ls.Buckets)
	require.Equal(t, time.Duration(1500), ls.P50.Round(500))
}

// Concurrent Records lose nothing.
func TestHistogramConcurrent(t *testing.T) {
	var h histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	s := h.snapshot()
	require.Equal(t, uint64(8000), s.count)
	require.Equal(t, uint64(8000*7999/2)*uint64(time.Microsecond), s.sum)
}

func TestHistogramRecordDoesNotAllocate(t *testing.T) {
	var h histogram
	require.Zero(t, testing.AllocsPerRun(1000, func() { h.Record(123 * time.Microsecond) }))
}

// BenchmarkHistogramRecord is the hot-path cost of one latency sample,
// alone and with every CPU recording into the same histogram.
func BenchmarkHistogramRecord(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		var h histogram
		b.ReportAllocs()
		d := 37 * time.Microsecond
		for b.Loop() {
			h.Record(d)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var h histogram
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			d := 37 * time.Microsecond
			for pb.Next() {
				h.Record(d)
			}
		})
	})
}
