package attach

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
)

// Serve runs until ctx ends (SIGINT, SIGTERM: every device is
// detached) or each device was detached ("gomp detach NAME"), and
// returns the errors of the detaches. Devices a rescan attaches later
// (Set) are served alike. stopping, when not nil, is called once,
// before the detaching that ends the process starts: on the signal or
// the detach of the last device.
func Serve(ctx context.Context, log *slog.Logger, atts []*Attachment, stopping func()) error {
	var (
		wg   sync.WaitGroup
		once sync.Once
		mu   sync.Mutex // guards the following
		left int
		done bool
		errs []error
	)
	watch := func(a *Attachment) {
		defer wg.Done()
		select {
		case <-ctx.Done():
			log.Info("signal received, detaching", "device", a.dev.Name())
		case <-a.control.Detached():
			log.Info("detach requested", "device", a.dev.Name())
		}
		mu.Lock()
		left--
		last := left == 0 || ctx.Err() != nil
		done = done || last
		mu.Unlock()
		if last && stopping != nil {
			once.Do(stopping)
		}
		err := a.Stop()
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	serve := func(a *Attachment) bool {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return false
		}
		left++
		wg.Add(1)
		go watch(a)
		return true
	}
	for _, a := range atts {
		serve(a)
	}
	rctx, cancel := context.WithCancel(ctx)
	var rescans sync.WaitGroup
	for _, set := range uniqueSets(atts) {
		rescans.Go(func() { set.run(rctx, serve) })
	}
	wg.Wait()
	cancel()
	rescans.Wait()
	return errors.Join(errs...)
}

// uniqueSets returns the Sets of atts, once each.
func uniqueSets(atts []*Attachment) []*Set {
	var sets []*Set
	for _, a := range atts {
		if a.set != nil && !slices.Contains(sets, a.set) {
			sets = append(sets, a.set)
		}
	}
	return sets
}
