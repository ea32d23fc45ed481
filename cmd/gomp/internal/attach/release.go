package attach

import "sync/atomic"

// Release runs a function once the last attachment holding it stops: it
// clears the CHAP secrets the devices' sessions log in with. A nil
// *Release holds nothing.
type Release struct {
	users atomic.Int32
	f     func()
}

// NewRelease returns a Release that runs f.
func NewRelease(f func()) *Release { return &Release{f: f} }

func (r *Release) hold() {
	if r != nil {
		r.users.Add(1)
	}
}

func (r *Release) done() {
	if r != nil && r.users.Add(-1) == 0 {
		r.f()
	}
}
