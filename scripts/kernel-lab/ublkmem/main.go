//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// config is the command line.
type config struct {
	size   int64
	queues int
	depth  int
	bs     int
	maxIO  int
}

func main() {
	var c config
	flag.Int64Var(&c.size, "size", 256<<20, "disk size in bytes (a multiple of -bs)")
	flag.IntVar(&c.queues, "queues", 2, "hardware queues (one io_uring and thread each)")
	flag.IntVar(&c.depth, "depth", 128, "queue depth (tags per queue)")
	flag.IntVar(&c.bs, "bs", 512, "logical block size: 512, 1024, 2048 or 4096")
	flag.IntVar(&c.maxIO, "maxio", 1<<20, "largest request in bytes (each tag's buffer; a multiple of the page size)")
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

// run creates, serves and on a signal removes the device.
func run(c config) error {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	st, err := newStore(c.size)
	if err != nil {
		return err
	}
	defer st.close()
	ctrl, err := openControl()
	if err != nil {
		return err
	}
	defer ctrl.close()
	d := &device{ctrl: ctrl, cdev: -1}
	if err := d.setUp(c, st); err != nil {
		return errors.Join(err, d.tearDown())
	}
	fmt.Println("ready: ublk", d.bdev)
	var served error
	select {
	case <-sigs:
	case served = <-d.done:
		d.running--
		if served == nil {
			served = errors.New("a queue ended before the device was stopped")
		}
	}
	return errors.Join(served, d.tearDown())
}

// setUp adds the device, sets its parameters, starts the queues and the
// device, and checks that the block device answers a read.
func (d *device) setUp(c config, st *store) error {
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
	if err := d.ctrl.setParams(info.devID, makeParams(c, info)); err != nil {
		return err
	}
	if err := d.openQueues(st); err != nil {
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

// makeParams describes the disk: c's block size and size, requests up to
// the kernel's buffer size, discard and write-zeroes in one segment.
func makeParams(c config, info devInfo) params {
	shift := uint8(bits.TrailingZeros(uint(c.bs)))
	return params{
		types: ublkParamTypeBasic | ublkParamTypeDiscard,
		basic: paramBasic{
			logicalBSShift:  shift,
			physicalBSShift: shift,
			ioOptShift:      shift,
			ioMinShift:      shift,
			maxSectors:      info.maxIOBufBytes >> sectorShift,
			devSectors:      uint64(c.size) >> sectorShift,
		},
		discard: paramDiscard{
			discardGranularity:    uint32(c.bs),
			maxDiscardSectors:     1 << 21,
			maxWriteZeroesSectors: 1 << 21,
			maxDiscardSegments:    1,
		},
	}
}

// openQueues opens /dev/ublkcN and sets up every queue.
func (d *device) openQueues(st *store) error {
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
		q, err := newQueue(uint16(i), int(d.info.queueDepth), int(d.info.maxIOBufBytes), fd, st)
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
