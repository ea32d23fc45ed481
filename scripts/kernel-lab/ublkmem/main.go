//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gomp-dev/gomp/multipath"
)

// config is the command line.
type config struct {
	size    int64
	queues  int
	depth   int
	bs      int
	maxIO   int
	async   bool
	target  string
	portals portals
	lun     uint
	alias   string
}

// portals is the repeatable -portal flag.
type portals []string

func (p *portals) String() string { return strings.Join(*p, ",") }
func (p *portals) Set(v string) error {
	*p = append(*p, v)
	return nil
}

// geometry is what the device advertises: size and logical block size in
// bytes, the largest request in bytes, UBLK_ATTR_* bits, and whether it
// takes DISCARD and WRITE_ZEROES.
type geometry struct {
	size    int64
	bs      int
	maxIO   uint32
	attrs   uint32
	discard bool
	zeroes  bool
}

func main() {
	var c config
	flag.Int64Var(&c.size, "size", 256<<20, "disk size in bytes (a multiple of -bs)")
	flag.IntVar(&c.queues, "queues", 2, "hardware queues (one io_uring and thread each)")
	flag.IntVar(&c.depth, "depth", 128, "queue depth (tags per queue)")
	flag.IntVar(&c.bs, "bs", 512, "logical block size: 512, 1024, 2048 or 4096")
	flag.IntVar(&c.maxIO, "maxio", 1<<20, "largest request in bytes (each tag's buffer; a multiple of the page size)")
	flag.BoolVar(&c.async, "async", false, "serve the memory disk through the asynchronous path (worker goroutines and an eventfd), as -target does")
	flag.StringVar(&c.target, "target", "", "target IQN: serve this LUN through gomp's multipath instead of memory (-size and -bs come from the LUN)")
	flag.Var(&c.portals, "portal", "portal host or host:port of -target, one per path (repeatable)")
	flag.UintVar(&c.lun, "lun", 1, "logical unit number of -target")
	flag.StringVar(&c.alias, "alias", "", `name in the ready line (default "ublk", with -target "ublkgomp")`)
	flag.Parse()
	if err := c.check(); err != nil {
		fmt.Fprintln(os.Stderr, "ublkmem:", err)
		os.Exit(1)
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "ublkmem:", err)
		os.Exit(1)
	}
}

// check rejects flag values the driver would refuse or we cannot serve.
func (c config) check() error {
	switch {
	case c.bs < 512 || c.bs > 4096 || c.bs&(c.bs-1) != 0:
		return fmt.Errorf("-bs %d: want 512, 1024, 2048 or 4096", c.bs)
	case c.size <= 0 || c.size%int64(c.bs) != 0:
		return fmt.Errorf("-size %d: want a positive multiple of -bs %d", c.size, c.bs)
	case c.queues < 1 || c.queues > 4096:
		return fmt.Errorf("-queues %d: want 1 to 4096", c.queues)
	case c.depth < 1 || c.depth > ublkMaxQueueDepth:
		return fmt.Errorf("-depth %d: want 1 to %d", c.depth, ublkMaxQueueDepth)
	case c.maxIO < os.Getpagesize() || c.maxIO%os.Getpagesize() != 0 || c.maxIO > 32<<20:
		return fmt.Errorf("-maxio %d: want a multiple of %d up to 32 MiB", c.maxIO, os.Getpagesize())
	case c.target == "" && len(c.portals) > 0:
		return errors.New("-portal needs -target")
	case c.target != "" && len(c.portals) == 0:
		return errors.New("-target needs at least one -portal")
	case c.lun > 0xffff:
		return fmt.Errorf("-lun %d is not a LUN number", c.lun)
	case flag.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}
	return nil
}

// device is a ublk device being served: the control connection, its
// number, /dev/ublkcN and the queues with their goroutines' outcomes.
type device struct {
	ctrl    *control
	info    devInfo
	cdev    int
	queues  []*queue
	done    chan error // one value per queue goroutine that ran
	running int
	added   bool
	bdev    string
	made    bool // we made bdev's node ourselves
}

// run creates, serves and on a signal removes the device; with -target
// it opens the LUN first and closes it after the device is gone.
func run(c config) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	// ioCtx is every request's context: cancelled only when the device
	// does not stop in time (a request stuck waiting for a path).
	ioCtx, cancelIO := context.WithCancel(context.Background())
	defer cancelIO()
	var (
		st    *store
		dev   blockDev
		geo   geometry
		alias = c.alias
	)
	if c.target != "" {
		mp, err := multipath.Open(ioCtx, multipath.Config{Target: c.target, Portals: c.portals, LUN: uint16(c.lun)})
		if err != nil {
			return err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := mp.Close(ctx); err != nil {
				fmt.Fprintln(os.Stderr, "ublkmem: close:", err)
			}
		}()
		if geo, err = lunGeometry(mp, c.maxIO); err != nil {
			return err
		}
		dev = mp
		if alias == "" {
			alias = "ublkgomp"
		}
	} else {
		var err error
		if st, err = newStore(c.size); err != nil {
			return err
		}
		defer st.close()
		geo = geometry{size: c.size, bs: c.bs, maxIO: uint32(c.maxIO), discard: true, zeroes: true}
		dev = memDev{st}
		if alias == "" {
			alias = "ublk"
		}
	}
	ctrl, err := openControl()
	if err != nil {
		return err
	}
	defer ctrl.close()
	d := &device{ctrl: ctrl, cdev: -1}
	if err := d.setUp(ioCtx, c, geo, dev, c.async || c.target != ""); err != nil {
		return errors.Join(err, d.tearDown())
	}
	fmt.Println("ready:", alias, d.bdev)
	var served error
	select {
	case <-sigs:
	case served = <-d.done:
		d.running--
		if served == nil {
			served = errors.New("a queue ended before the device was stopped")
		}
	}
	// STOP_DEV waits for the requests in flight: give them 10 s, then
	// fail them (-EIO) rather than hang
	t := time.AfterFunc(10*time.Second, cancelIO)
	defer t.Stop()
	return errors.Join(served, d.tearDown())
}

// lunGeometry is what the multipath device mp advertises: its size and
// block size, requests up to the LUN's transfer limit and maxIO, a
// volatile cache and FUA when the LUN has them, DISCARD when it unmaps,
// and WRITE_ZEROES (WRITE SAME or zero blocks).
func lunGeometry(mp *multipath.Device, maxIO int) (geometry, error) {
	info := mp.Info()
	bs := int(info.BlockSize)
	if bs < 512 || bs > 4096 || bs&(bs-1) != 0 {
		return geometry{}, fmt.Errorf("LUN block size %d: ublk takes 512 to 4096", bs)
	}
	g := geometry{size: mp.Size(), bs: bs, maxIO: uint32(maxIO), discard: mp.CanTrim(), zeroes: mp.CanZero()}
	if info.MaxTransfer >= uint32(os.Getpagesize()) && info.MaxTransfer < g.maxIO {
		g.maxIO = info.MaxTransfer
	}
	if mp.CanFlush() {
		g.attrs |= ublkAttrVolatileCache
		if mp.CanFUA() {
			g.attrs |= ublkAttrFUA
		}
	}
	if mp.ReadOnly() {
		g.attrs |= ublkAttrReadOnly
	}
	return g, nil
}

// setUp adds the device, sets its parameters, starts the queues and the
// device, and checks that the block device answers a read.
func (d *device) setUp(ctx context.Context, c config, g geometry, dev blockDev, async bool) error {
	info, err := d.ctrl.addDev(devInfo{
		nrHWQueues:    uint16(c.queues),
		queueDepth:    uint16(c.depth),
		maxIOBufBytes: uint32(c.maxIO),
		ublksrvPID:    int32(os.Getpid()),
	})
	if err != nil {
		return err
	}
	d.info, d.added = info, true
	if int(info.nrHWQueues) != c.queues {
		fmt.Fprintf(os.Stderr, "ublkmem: the kernel gave %d queues (of %d asked)\n", info.nrHWQueues, c.queues)
	}
	if err := d.ctrl.setParams(info.devID, makeParams(g, info)); err != nil {
		return err
	}
	if err := d.openQueues(ctx, dev, async); err != nil {
		return err
	}
	if err := d.startQueues(); err != nil {
		return err
	}
	if err := d.ctrl.startDev(info.devID, os.Getpid()); err != nil {
		return err
	}
	return d.checkBlock()
}

// makeParams describes the disk g: its block size and size, requests up
// to the smaller of g.maxIO and the kernel's buffer size, g's attributes,
// and discard and write-zeroes in one segment where g takes them.
func makeParams(g geometry, info devInfo) params {
	shift := uint8(bits.TrailingZeros(uint(g.bs)))
	p := params{
		types: ublkParamTypeBasic,
		basic: paramBasic{
			attrs:           g.attrs,
			logicalBSShift:  shift,
			physicalBSShift: shift,
			ioOptShift:      shift,
			ioMinShift:      shift,
			maxSectors:      min(g.maxIO, info.maxIOBufBytes) >> sectorShift,
			devSectors:      uint64(g.size) >> sectorShift,
		},
	}
	if g.discard || g.zeroes {
		p.types |= ublkParamTypeDiscard
		p.discard = paramDiscard{discardGranularity: uint32(g.bs)}
		if g.discard {
			p.discard.maxDiscardSectors = 1 << 21
			p.discard.maxDiscardSegments = 1
		}
		if g.zeroes {
			p.discard.maxWriteZeroesSectors = 1 << 21
		}
	}
	return p
}

// openQueues opens /dev/ublkcN and sets up every queue.
func (d *device) openQueues(ctx context.Context, dev blockDev, async bool) error {
	path := fmt.Sprintf("/dev/ublkc%d", d.info.devID)
	sys := fmt.Sprintf("/sys/class/ublk-char/ublkc%d/dev", d.info.devID)
	if err := ensureNode(path, sys, unix.S_IFCHR, 2*time.Second); err != nil {
		return fmt.Errorf("ublk: %w", err)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("ublk: open %s: %w", path, err)
	}
	d.cdev = fd
	for i := 0; i < int(d.info.nrHWQueues); i++ {
		q, err := newQueue(ctx, uint16(i), int(d.info.queueDepth), int(d.info.maxIOBufBytes), fd, dev, async)
		if err != nil {
			return fmt.Errorf("ublk: %w", err)
		}
		d.queues = append(d.queues, q)
	}
	return nil
}

// startQueues runs every queue's goroutine and waits until each has
// fetched all its tags.
func (d *device) startQueues() error {
	d.done = make(chan error, len(d.queues))
	fetched := make(chan error, len(d.queues))
	for _, q := range d.queues {
		d.running++
		go func() { d.done <- q.run(fetched) }()
	}
	var errs []error
	for range d.queues {
		errs = append(errs, <-fetched)
	}
	return errors.Join(errs...)
}

// checkBlock waits for /dev/ublkbN (making it if nothing does) and reads
// its first block through the page cache: the queues serve it.
func (d *device) checkBlock() error {
	d.bdev = fmt.Sprintf("/dev/ublkb%d", d.info.devID)
	sys := fmt.Sprintf("/sys/block/ublkb%d/dev", d.info.devID)
	made, err := ensureNodeMade(d.bdev, sys, unix.S_IFBLK, 2*time.Second)
	if err != nil {
		return fmt.Errorf("ublk: %w", err)
	}
	d.made = made
	f, err := os.Open(d.bdev)
	if err != nil {
		return fmt.Errorf("ublk: %w", err)
	}
	defer f.Close()
	if _, err := f.ReadAt(make([]byte, 512), 0); err != nil {
		return fmt.Errorf("ublk: first read of %s: %w", d.bdev, err)
	}
	return nil
}

// tearDown stops the device (which aborts the queues' commands), waits for
// the queue goroutines, releases the queues and /dev/ublkcN, and deletes
// the device. It is safe at any point of setUp.
func (d *device) tearDown() error {
	if !d.added {
		return nil
	}
	var errs []error
	if err := d.ctrl.stopDev(d.info.devID); err != nil {
		errs = append(errs, err)
	}
	if err := d.waitQueues(30 * time.Second); err != nil {
		errs = append(errs, err)
		if d.running > 0 {
			// the queues' memory is still in use: leave it, and the
			// device, to the kernel's cleanup at exit
			return errors.Join(errs...)
		}
	}
	for _, q := range d.queues {
		q.close()
	}
	if d.cdev >= 0 {
		_ = unix.Close(d.cdev)
		d.cdev = -1
	}
	if d.made {
		_ = os.Remove(d.bdev)
	}
	if err := d.ctrl.delDev(d.info.devID); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitQueues collects the outcome of every queue goroutine still running.
func (d *device) waitQueues(timeout time.Duration) error {
	var errs []error
	deadline := time.After(timeout)
	for ; d.running > 0; d.running-- {
		select {
		case err := <-d.done:
			errs = append(errs, err)
		case <-deadline:
			return errors.Join(append(errs, fmt.Errorf("ublk: %d queue(s) still running %v after STOP_DEV", d.running, timeout))...)
		}
	}
	return errors.Join(errs...)
}
