package multipath

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
)

// Selector picks the path for each I/O among the usable paths of the
// active path group, like a dm-multipath path selector.
//
// Select is called concurrently on the I/O path, with the immutable slice
// of usable paths (never empty) and the I/O's size in bytes (0 for
// commands without data); it returns an index into paths. It must not
// block, allocate, take locks shared by all I/O, or retain paths: read the
// per-path counters (InFlight, InFlightBytes) and keep its own state in
// atomics.
type Selector interface {
	// Name returns the selector as multipath.conf spells it, e.g.
	// "service-time 0".
	Name() string
	Select(paths []*Path, size int) int
}

// NewSelector returns the selector multipath.conf's path_selector names:
// "round-robin 0", "queue-length 0" or "service-time 0" (the argument
// count may be omitted). rrMinIO is rr_min_io_rq, used by round-robin.
func NewSelector(spec string, rrMinIO int) (Selector, error) {
	f := strings.Fields(spec)
	if len(f) == 0 {
		return &serviceTime{}, nil
	}
	if len(f) > 2 {
		return nil, fmt.Errorf("path_selector %q: selector arguments are not supported", spec)
	}
	if len(f) == 2 {
		if n, err := strconv.Atoi(f[1]); err != nil || n != 0 {
			return nil, fmt.Errorf("path_selector %q: want an argument count of 0", spec)
		}
	}
	switch f[0] {
	case "round-robin":
		return &roundRobin{minIO: uint64(max(rrMinIO, 1))}, nil
	case "queue-length":
		return &queueLength{}, nil
	case "service-time":
		return &serviceTime{}, nil
	}
	return nil, fmt.Errorf("unknown path_selector %q (want round-robin, queue-length or service-time)", f[0])
}

// roundRobin sends rr_min_io_rq requests down each path in turn.
type roundRobin struct {
	minIO uint64
	n     atomic.Uint64
}

func (s *roundRobin) Name() string { return "round-robin 0" }

func (s *roundRobin) Select(paths []*Path, _ int) int {
	c := s.n.Add(1) - 1
	return int(c / s.minIO % uint64(len(paths)))
}

// queueLength picks the path with the fewest requests in flight. Ties go
// to the tied paths in turn, so idle paths share the load.
type queueLength struct {
	next atomic.Uint64
}

func (s *queueLength) Name() string { return "queue-length 0" }

func (s *queueLength) Select(paths []*Path, _ int) int {
	best, ties := 0, 0
	load := paths[0].InFlight()
	for i, p := range paths {
		switch l := p.InFlight(); {
		case l < load:
			best, load, ties = i, l, 1
		case l == load:
			ties++
		}
	}
	k := int(s.next.Add(1) % uint64(max(ties, 1)))
	for i, p := range paths { // the k-th tied path; loads may have moved meanwhile
		if p.InFlight() == load {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return best
}

// serviceTime picks the path with the least estimated service time,
// (bytes in flight + this I/O) / relative throughput, as dm-service-time
// does; a tie goes to the higher throughput, then to the tied paths in
// turn.
type serviceTime struct {
	next atomic.Uint64
}

func (s *serviceTime) Name() string { return "service-time 0" }

func (s *serviceTime) Select(paths []*Path, size int) int {
	sz := int64(size)
	best, ties := 0, 1
	for i := 1; i < len(paths); i++ {
		switch {
		case stLess(paths[i], paths[best], sz):
			best, ties = i, 1
		case !stLess(paths[best], paths[i], sz):
			ties++
		}
	}
	if ties == 1 {
		return best
	}
	k := int(s.next.Add(1) % uint64(ties))
	for i, p := range paths {
		if !stLess(p, paths[best], sz) && !stLess(paths[best], p, sz) {
			if k == 0 {
				return i
			}
			k--
		}
	}
	return best
}

// stLess reports whether a's service time is strictly below b's, or equal
// with a higher relative throughput.
func stLess(a, b *Path, size int64) bool {
	ta, tb := a.RelativeThroughput(), b.RelativeThroughput()
	la, lb := (a.InFlightBytes()+size)*tb, (b.InFlightBytes()+size)*ta
	if la != lb {
		return la < lb
	}
	return ta > tb
}
