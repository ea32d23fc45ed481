package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/internal/chaostest"
)

// span is the part of each LUN the readers pick 4 KiB blocks from.
const span = 1 << 30

// shape is one load: conns NBD connections spread evenly over the first
// devices devices, qd reads in flight on each.
type shape struct{ devices, conns, qd int }

// readLoad reads 4 KiB blocks at random offsets from devs in shape l for
// d and returns the reads completed.
func readLoad(ctx context.Context, devs []device, l shape, d time.Duration) (int64, error) {
	clients := make([]*chaostest.Client, l.conns)
	for i := range clients {
		dev := devs[i%l.devices]
		c, err := chaostest.Dial(ctx, dev.socket, dev.name)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		clients[i] = c
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		n    atomic.Int64
		wg   sync.WaitGroup
		errs = make(chan error, l.conns*l.qd)
	)
	for w := range l.conns * l.qd {
		c := clients[w%l.conns]
		wg.Go(func() {
			if err := reader(ctx, c, &n); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return n.Load(), err
	}
	return n.Load(), nil
}

// reader reads 4 KiB blocks through c until ctx ends, counting them in n.
func reader(ctx context.Context, c *chaostest.Client, n *atomic.Int64) error {
	buf := make([]byte, 4096)
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for ctx.Err() == nil {
		off := rnd.Int64N(span/4096) * 4096
		if err := c.ReadAt(ctx, buf, off); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read at %d: %w", off, err)
		}
		n.Add(1)
	}
	return nil
}
