package chaostest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
)

// Controller breaks the stack's paths at random: a blackhole or a reset
// of one path for a while, or tgtd deleting one path's connection. It
// faults a path only while every other path is active, so that one path
// always lives.
type Controller struct {
	Stack *Stack
	Fault *Fault
	Tgtd  Tgtd
	Rand  *rand.Rand
	// Logf receives one line per action.
	Logf func(format string, args ...any)
	// MaxHold bounds how long a blackhole or reset lasts (default 8 s).
	MaxHold time.Duration

	counts map[string]int
}

// Run applies faults until ctx ends; every fault is lifted before it
// returns. It returns the first error from nft or tgtadm.
func (c *Controller) Run(ctx context.Context) error {
	c.counts = map[string]int{}
	if c.MaxHold <= 0 {
		c.MaxHold = 8 * time.Second
	}
	defer c.Fault.Restore()
	for {
		if !c.sleep(ctx, c.between(300*time.Millisecond, 3*time.Second)) {
			return nil
		}
		if err := c.step(ctx); err != nil {
			return err
		}
	}
}

// step applies one fault to a path whose peers are all active. It first
// gives failed paths up to 15 s to come back, so that faults alternate
// between the paths rather than keep hitting one that is already down.
func (c *Controller) step(ctx context.Context) error {
	for end := time.Now().Add(15 * time.Second); c.Stack.ActivePaths() < len(c.Stack.Paths) && time.Now().Before(end); {
		if !c.sleep(ctx, 100*time.Millisecond) {
			return nil
		}
	}
	p, ok := c.eligible()
	if !ok {
		c.counts["wait (one path down)"]++
		return nil
	}
	switch r := c.Rand.IntN(100); {
	case r < 35:
		return c.hold(ctx, "blackhole", Blackhole, p)
	case r < 70:
		return c.hold(ctx, "reset", Reset, p)
	default:
		n, err := c.Tgtd.KillFrom(p.Source)
		c.counts["tgtd conn delete"]++
		c.Logf("chaos: tgtd deleted %d connection(s) of %s", n, p.Portal)
		return err
	}
}

// eligible picks a random path all of whose peers are active.
func (c *Controller) eligible() (Path, bool) {
	var ok []Path
	for _, p := range c.Stack.Paths {
		others := true
		for _, q := range c.Stack.Paths {
			if q != p && c.Stack.PathState(q.Portal) != "active" {
				others = false
			}
		}
		if others {
			ok = append(ok, p)
		}
	}
	if len(ok) == 0 {
		return Path{}, false
	}
	return ok[c.Rand.IntN(len(ok))], true
}

// hold applies verdict to p for a random while, then lifts it.
func (c *Controller) hold(ctx context.Context, name, verdict string, p Path) error {
	d := c.between(500*time.Millisecond, c.MaxHold)
	c.counts[name]++
	c.Logf("chaos: %s %s for %v (path %s)", name, p.Portal, d.Round(time.Millisecond), c.Stack.PathState(p.Portal))
	if err := c.Fault.Cut(verdict, p); err != nil {
		return err
	}
	c.sleep(ctx, d)
	err := c.Fault.Restore()
	c.Logf("chaos: %s %s lifted (path %s)", name, p.Portal, c.Stack.PathState(p.Portal))
	return err
}

func (c *Controller) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.Rand.Int64N(int64(hi-lo)))
}

// sleep waits d or until ctx ends; false when ctx ended.
func (c *Controller) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Summary lists the actions taken, by kind.
func (c *Controller) Summary() string {
	var parts []string
	for k, v := range c.counts {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
