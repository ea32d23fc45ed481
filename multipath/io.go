package multipath

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gomp-dev/gomp/iscsi"
)

// opKind is the kind of a request.
type opKind uint8

const (
	opRead opKind = iota
	opWrite
	opFlush
	opUnmap
	opZero
)

var opNames = [...]string{"read", "write", "flush", "unmap", "write zeroes"}

func (o opKind) String() string { return opNames[o] }

// request is one caller I/O; it lives on the caller's stack.
type request struct {
	op     opKind
	p      []byte
	off    int64
	length int64 // unmap and write zeroes
	fua    bool
	unmap  bool
}

// size is what the selector weighs the request by.
func (r *request) size() int { return len(r.p) }

// maxPathErrors bounds how many path failures one I/O may meet before it
// is failed: beyond that, a command that fails on every reinstated path
// is an error of its own, not a path problem.
const maxPathErrors = 16

// ReadAt implements io.ReaderAt: ReadAtContext without a context.
func (d *Device) ReadAt(p []byte, off int64) (int, error) {
	return d.ReadAtContext(context.Background(), p, off)
}

// WriteAt implements io.WriterAt: WriteAtContext without a context or FUA.
func (d *Device) WriteAt(p []byte, off int64) (int, error) {
	return d.WriteAtContext(context.Background(), p, off, false)
}

// ReadAtContext reads len(p) bytes at byte offset off, both multiples of the
// block size. A path error is retried on another path; the error
// returned is the LUN's own (e.g. a *iscsi.SCSIError for MEDIUM ERROR),
// ErrNoPath, ErrClosed, or the caller's context error.
func (d *Device) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if err := d.check(off, int64(len(p))); err != nil || len(p) == 0 {
		return 0, err
	}
	r := request{op: opRead, p: p, off: off}
	return d.run(ctx, &r)
}

// WriteAtContext writes p at byte offset off, both multiples of the block
// size; with fua the data is durable when it returns (the FUA bit where the
// LUN honours it, else a SYNCHRONIZE CACHE after the write). It returns
// only once the target acknowledged every byte: a write that met a path
// error is written again through another path.
func (d *Device) WriteAtContext(ctx context.Context, p []byte, off int64, fua bool) (int, error) {
	if err := d.check(off, int64(len(p))); err != nil || len(p) == 0 {
		return 0, err
	}
	r := request{op: opWrite, p: p, off: off, fua: fua}
	return d.run(ctx, &r)
}

// Flush makes acknowledged writes durable (SYNCHRONIZE CACHE; the cache
// is the LUN's, so one path flushes the writes of every path).
func (d *Device) Flush(ctx context.Context) error {
	r := request{op: opFlush}
	_, err := d.run(ctx, &r)
	return err
}

// Trim discards [off, off+length) (UNMAP). It fails with
// errors.ErrUnsupported unless CanTrim.
func (d *Device) Trim(ctx context.Context, off, length int64) error {
	if d.trimRefused.Load() {
		return nil // see trimUnsupported
	}
	if !d.CanTrim() {
		return fmt.Errorf("multipath %s: trim: %w", d.name, errors.ErrUnsupported)
	}
	if err := d.check(off, length); err != nil || length == 0 {
		return err
	}
	r := request{op: opUnmap, off: off, length: length}
	_, err := d.run(ctx, &r)
	return d.trimUnsupported(err)
}

// WriteZeroes zeroes [off, off+length): WRITE SAME(16), with UNMAP when
// unmap (the range may be deallocated), when the LUN supports it, else by
// writing zero blocks.
func (d *Device) WriteZeroes(ctx context.Context, off, length int64, unmap bool) error {
	if err := d.check(off, length); err != nil || length == 0 {
		return err
	}
	if !d.Capabilities().WriteSame {
		return d.writeZeroBlocks(ctx, off, length)
	}
	r := request{op: opZero, off: off, length: length, unmap: unmap}
	_, err := d.run(ctx, &r)
	return err
}

// writeZeroBlocks emulates WRITE ZEROES with writes of a shared zero
// buffer.
func (d *Device) writeZeroBlocks(ctx context.Context, off, length int64) error {
	d.zeroOnce.Do(func() { d.zero = make([]byte, min(1<<20, d.maxIO())) })
	for length > 0 {
		n := min(length, int64(len(d.zero)))
		r := request{op: opWrite, p: d.zero[:n], off: off}
		if _, err := d.run(ctx, &r); err != nil {
			return err
		}
		off, length = off+n, length-n
	}
	return nil
}

// check validates an extent against the LUN's block size and capacity.
func (d *Device) check(off, n int64) error {
	bs := int64(d.info.BlockSize)
	switch {
	case d.closed.Load():
		return fmt.Errorf("multipath %s: %w", d.name, ErrClosed)
	case off < 0 || n < 0:
		return fmt.Errorf("multipath %s: negative offset or length (%d, %d)", d.name, off, n)
	case off%bs != 0 || n%bs != 0:
		return fmt.Errorf("multipath %s: %w: offset %d, length %d, block size %d", d.name, iscsi.ErrUnaligned, off, n, bs)
	case off > d.Size()-n:
		return fmt.Errorf("multipath %s: I/O at %d+%d beyond the %d-byte device: %w", d.name, off, n, d.Size(), io.EOF)
	}
	return nil
}

// run executes a request: pick a path, try, classify the error, and
// either return, retry, or fail the path and try another one.
func (d *Device) run(ctx context.Context, r *request) (int, error) {
	if d.closed.Load() {
		return 0, fmt.Errorf("multipath %s: %w", d.name, ErrClosed)
	}
	if e := d.gone.Load(); e != nil {
		return 0, *e
	}
	var last error
	retries, pathErrors := 0, 0
	for {
		p, err := d.pick(ctx, r.size())
		if err != nil {
			return 0, d.noPathError(r, err, last)
		}
		n, err := p.do(ctx, r)
		act := classify(ctx, err)
		if act == actRetry {
			if retries++; retries <= d.cfg.RetryLimit {
				last = err
				if err := d.backoff(ctx, retries); err != nil {
					return 0, d.ioError(r, err)
				}
				continue
			}
			act, retries = actFailPath, 0
		}
		if act == actReturn {
			if isReservationConflict(err) {
				err = d.conflict(ctx, err)
			}
			return n, d.ioError(r, err)
		}
		last = err
		d.failPath(p, err)
		if pathErrors++; pathErrors >= maxPathErrors {
			return 0, d.ioError(r, fmt.Errorf("failed on %d paths in turn: %w", pathErrors, err))
		}
		p.st.moved.Add(1)
	}
}

// pick selects the path for an I/O of size bytes from the current path
// set, waiting (queueing) when there is none. Lock-free when a path is
// usable.
func (d *Device) pick(ctx context.Context, size int) (*Path, error) {
	set := d.active.Load()
	if len(set.paths) == 0 {
		var err error
		if set, err = d.waitPath(ctx); err != nil {
			return nil, err
		}
	}
	i := d.sel.Select(set.paths, size)
	if uint(i) >= uint(len(set.paths)) {
		i = 0
	}
	return set.paths[i], nil
}

// backoff waits before retrying a transient condition: 10 ms doubling,
// at most one second.
func (d *Device) backoff(ctx context.Context, attempt int) error {
	t := time.NewTimer(min(10*time.Millisecond<<(attempt-1), time.Second))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-d.ctx.Done():
		return ErrClosed
	}
}

func (d *Device) ioError(r *request, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("multipath %s: %v at %d: %w", d.name, r.op, r.off, err)
}

// noPathError reports an I/O that found no path, with the error that
// failed its last attempt.
func (d *Device) noPathError(r *request, err, last error) error {
	if errors.Is(err, ErrNoPath) {
		d.st.noPathErrors.Add(1)
	}
	if last == nil {
		return d.ioError(r, err)
	}
	return fmt.Errorf("multipath %s: %v at %d: %w (last path error: %w)", d.name, r.op, r.off, err, last)
}

// failPath takes a path out of use after an I/O met a path error.
func (d *Device) failPath(p *Path, cause error) {
	state, msg, counted := failState(cause)
	d.mu.Lock()
	if p.active && !d.closing {
		d.failLocked(p, state, cause, msg, counted)
		d.updateLocked(trigFail, p)
	}
	d.mu.Unlock()
	p.kickChecker()
}

// failState is the state a path takes out of use after an I/O met cause on
// it: pending for an ALUA transition (NOT READY 04/0A), shown as such and
// not counted as a failure, as multipath-tools treats a transitioning
// path; down for anything else.
func failState(cause error) (state PathState, msg string, counted bool) {
	if s, _ := turState(cause); s == PathPending {
		return PathPending, "ALUA state transition", false
	}
	return PathDown, "I/O error", true
}

// failLocked marks a path failed. counted failures feed damping.
func (d *Device) failLocked(p *Path, state PathState, cause error, msg string, counted bool) {
	now := time.Now()
	p.active = false
	p.setState(state, now)
	p.changed, p.lastErr = now, cause
	if counted {
		p.recordFailure(now)
	}
	d.emitLocked(Event{Kind: EventPathFailed, Portal: p.portal, State: state, Msg: msg, Err: cause})
}

// Size returns the capacity in bytes: the LUN's at Open, or what Resize
// grew it to.
func (d *Device) Size() int64 {
	if n := d.size.Load(); n > 0 {
		return n
	}
	return d.info.Size()
}

// BlockSize returns the logical block size as the minimum, 4 KiB (or the
// block size when larger) as preferred, and 32 MiB as the largest
// request, which the paths split by the LUN's transfer limit.
func (d *Device) BlockSize() (minimum, preferred, maximum uint32) {
	bs := d.info.BlockSize
	return bs, max(bs, 4096), max(bs, 32<<20)
}

// maxIO is the largest single request, in bytes.
func (d *Device) maxIO() int {
	_, _, m := d.BlockSize()
	return int(m)
}
