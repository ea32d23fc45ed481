package multipath

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency histogram geometry: quarter-octave buckets (four per power of
// two, so a bucket is at most 19 % wide) from 2^histMinExp ns (about 1 µs)
// to 2^(histMaxExp+1) ns (about 137 s), one bucket below and one above.
const (
	histMinExp  = 10
	histMaxExp  = 36
	histSubBits = 2
	histSub     = 1 << histSubBits
	histBuckets = 1 + (histMaxExp-histMinExp+1)*histSub + 1
)

// histogram is a lock-free latency histogram: Record is two atomic adds,
// no allocation and no lock, so every I/O can feed it. Readers take a
// snapshot, which is consistent per bucket but not across buckets (a
// Record racing with the snapshot may be half counted).
type histogram struct {
	buckets [histBuckets]atomic.Uint64
	sum     atomic.Uint64 // nanoseconds
}

// histIndex returns the bucket of a latency of v ns.
func histIndex(v uint64) int {
	if v < 1<<histMinExp {
		return 0
	}
	e := bits.Len64(v) - 1 // v is in [2^e, 2^(e+1))
	if e > histMaxExp {
		return histBuckets - 1
	}
	sub := int(v>>(e-histSubBits)) & (histSub - 1)
	return 1 + (e-histMinExp)*histSub + sub
}

// histUpper returns the exclusive upper bound of bucket i in ns; the last
// bucket has none and returns its lower bound.
func histUpper(i int) uint64 {
	if i == 0 {
		return 1 << histMinExp
	}
	if i >= histBuckets-1 {
		return 1 << (histMaxExp + 1)
	}
	e := histMinExp + (i-1)/histSub
	sub := uint64((i-1)%histSub) + 1
	return 1<<e + sub<<(e-histSubBits)
}

// histLower returns the inclusive lower bound of bucket i in ns.
func histLower(i int) uint64 {
	if i == 0 {
		return 0
	}
	return histUpper(i - 1)
}

// Record adds one latency. Negative durations count as zero.
func (h *histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.buckets[histIndex(v)].Add(1)
	h.sum.Add(v)
}

// histSnapshot is a copy of a histogram's counters.
type histSnapshot struct {
	counts [histBuckets]uint64
	count  uint64
	sum    uint64
}

func (h *histogram) snapshot() histSnapshot {
	var s histSnapshot
	for i := range h.buckets {
		s.counts[i] = h.buckets[i].Load()
		s.count += s.counts[i]
	}
	s.sum = h.sum.Load()
	return s
}

// add merges o into s.
func (s *histSnapshot) add(o *histSnapshot) {
	for i := range s.counts {
		s.counts[i] += o.counts[i]
	}
	s.count += o.count
	s.sum += o.sum
}

// quantile estimates the q-quantile (0 < q <= 1) by linear interpolation
// inside the bucket that holds it; 0 for an empty histogram. Values in
// the overflow bucket are reported as its lower bound.
func (s *histSnapshot) quantile(q float64) time.Duration {
	if s.count == 0 {
		return 0
	}
	rank := q * float64(s.count)
	var seen uint64
	for i, c := range s.counts {
		if c == 0 || float64(seen+c) < rank {
			seen += c
			continue
		}
		lo, hi := histLower(i), histUpper(i)
		if i == histBuckets-1 {
			return time.Duration(lo)
		}
		frac := (rank - float64(seen)) / float64(c)
		return time.Duration(float64(lo) + frac*float64(hi-lo))
	}
	return time.Duration(histLower(histBuckets - 1))
}

// LatencyBuckets returns the upper bounds of the buckets that
// LatencyStats.Buckets reports: every power of two nanoseconds from about
// 1 µs to about 137 s. A bucket holds the latencies below its bound and
// at or above the previous one; latencies beyond the last bound count only
// in LatencyStats.Count.
func LatencyBuckets() []time.Duration {
	out := make([]time.Duration, 0, histMaxExp-histMinExp+2)
	for e := histMinExp; e <= histMaxExp+1; e++ {
		out = append(out, time.Duration(1)<<e)
	}
	return out
}

// stats turns the snapshot into its public form: count, sum, percentiles
// and the non-empty octave buckets.
func (s *histSnapshot) stats() LatencyStats {
	ls := LatencyStats{Count: s.count, Sum: time.Duration(s.sum),
		P50: s.quantile(0.50), P90: s.quantile(0.90), P99: s.quantile(0.99)}
	if s.count == 0 {
		return ls
	}
	// Bucket 0 and each group of histSub fine buckets end on a power of two.
	var n uint64
	for i := 0; i < histBuckets-1; i++ {
		n += s.counts[i]
		if (i%histSub == 0) && n > 0 {
			ls.Buckets = append(ls.Buckets, LatencyBucket{Le: time.Duration(histUpper(i)), Count: n})
			n = 0
		}
	}
	return ls
}
