package multipath

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// capacityReader is a path that can read its LUN's capacity again (READ
// CAPACITY(16)) and take it for its own I/O range: iscsiPath.
type capacityReader interface {
	ReadCapacity(ctx context.Context) (size int64, blockSize uint32, err error)
}

// SizeMismatchError is a path whose LUN reports another capacity than the
// device has: it is not used until it agrees (a path reaching a LUN
// smaller than the device would fail or lose I/O beyond its end).
type SizeMismatchError struct {
	Portal string
	Want   int64 // the device's size in bytes
	Got    int64 // what the path's LUN reports
}

// Error names the portal and both sizes.
func (e *SizeMismatchError) Error() string {
	return fmt.Sprintf("multipath: path %s not used: its LUN reports %d bytes, the device has %d", e.Portal, e.Got, e.Want)
}

// ResizeError is a Resize that left the device as it was: the paths did
// not agree on the capacity, the LUN shrank, its block size changed, or no
// path answered.
type ResizeError struct {
	Device string
	Sizes  map[string]int64 // portal -> capacity in bytes, of the paths that answered
	Msg    string
	Err    error // the errors of the paths that did not answer, joined
}

// Error describes why the device was not resized, naming the portals.
func (e *ResizeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "multipath %s: not resized: %s", e.Device, e.Msg)
	portals := make([]string, 0, len(e.Sizes))
	for p := range e.Sizes {
		portals = append(portals, p)
	}
	slices.Sort(portals)
	for _, p := range portals {
		fmt.Fprintf(&b, "; %s reports %d bytes", p, e.Sizes[p])
	}
	if e.Err != nil {
		fmt.Fprintf(&b, "; %v", e.Err)
	}
	return b.String()
}

func (e *ResizeError) Unwrap() error { return e.Err }

// Resize reads the LUN's capacity through every connected path (READ
// CAPACITY(16)), as multipathd's "resize map" does, and grows the device
// to it when every path that answered reports the same size. It returns
// the size before and after. A path that does not answer is left to its
// checker, which refuses it (SizeMismatchError) while its LUN reports
// another size than the device. A LUN that shrank or changed its block
// size, or paths that disagree, leave the device as it is and return a
// *ResizeError. Resize is safe for concurrent use with I/O: requests
// beyond the old end are refused until it returns.
func (d *Device) Resize(ctx context.Context) (old, size int64, err error) {
	old = d.Size()
	sizes, blockSizes, errs := d.readCapacities(ctx)
	rerr := &ResizeError{Device: d.name, Sizes: sizes, Err: errors.Join(errs...)}
	if len(sizes) == 0 {
		rerr.Msg = "no path answered READ CAPACITY"
		return old, old, rerr
	}
	size, agree := agreed(sizes)
	switch {
	case !agree:
		rerr.Msg = "the paths disagree on the capacity"
	case slices.ContainsFunc(blockSizes, func(bs uint32) bool { return bs != d.info.BlockSize }):
		rerr.Msg = fmt.Sprintf("the block size changed from %d", d.info.BlockSize)
	case size < old:
		rerr.Msg = fmt.Sprintf("the LUN shrank from %d bytes; shrinking under a user is refused", old)
	default:
		if size > old {
			d.size.Store(size)
			d.log.Info("multipath device resized", "device", d.name, "wwid", d.wwid, "old", old, "size", size,
				"paths", len(sizes))
			if f := d.onResize.Load(); f != nil {
				(*f)(old, size)
			}
		}
		return old, d.Size(), nil
	}
	return old, old, rerr
}

// readCapacities runs READ CAPACITY(16) on every connected path at once.
func (d *Device) readCapacities(ctx context.Context) (map[string]int64, []uint32, []error) {
	var (
		mu         sync.Mutex
		sizes      = map[string]int64{}
		blockSizes []uint32
		errs       []error
		wg         sync.WaitGroup
	)
	for _, p := range d.paths {
		cr, ok := p.io.(capacityReader)
		if !ok || !p.io.Connected() {
			continue
		}
		wg.Go(func() {
			n, bs, err := cr.ReadCapacity(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && bs == 0 {
				errs = append(errs, fmt.Errorf("%s: %w", p.portal, err))
				return
			}
			sizes[p.portal], blockSizes = n, append(blockSizes, bs)
		})
	}
	wg.Wait()
	return sizes, blockSizes, errs
}

// agreed returns the one size of sizes, and whether there is only one.
func agreed(sizes map[string]int64) (int64, bool) {
	var first int64 = -1
	for _, n := range sizes {
		if first >= 0 && n != first {
			return 0, false
		}
		first = n
	}
	return first, true
}

// SetOnResize sets f to be called after each resize that changed the
// device's size, with the old and the new size (in bytes), e.g. to tell a
// kernel block device. f runs on the goroutine of Resize; nil removes it.
func (d *Device) SetOnResize(f func(old, size int64)) {
	if f == nil {
		d.onResize.Store(nil)
		return
	}
	d.onResize.Store(&f)
}

// checkSize is the checker's verdict on the capacity a path's LUN reports
// (fresh from Identify): a smaller LUN than the device is refused; a
// larger one starts an automatic Resize (after CAPACITY DATA HAS CHANGED),
// which grows the device once every path agrees.
func (d *Device) checkSize(p *Path, got int64) error {
	want := d.Size()
	if got < want {
		return &SizeMismatchError{Portal: p.portal, Want: want, Got: got}
	}
	if got > want {
		d.resizeSoon()
	}
	return nil
}

// resizeSoon starts one automatic Resize in the background, unless one
// runs. Called by a checker (d.wg is held, so Close waits for it).
func (d *Device) resizeSoon() {
	if !d.resizing.CompareAndSwap(false, true) {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer d.resizing.Store(false)
		ctx, cancel := context.WithTimeout(d.ctx, 2*d.set.CheckerTimeout)
		defer cancel()
		if _, _, err := d.Resize(ctx); err != nil && d.ctx.Err() == nil {
			d.log.Warn("multipath: the LUN reports a new capacity; not resized yet", "device", d.name, "err", err)
		}
	}()
}
