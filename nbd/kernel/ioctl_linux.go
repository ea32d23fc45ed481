package kernel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gomp-dev/gomp/nbd"
)

// ioctlRequest is an nbd ioctl of <linux/nbd.h>, _IO(0xab, n).
type ioctlRequest uintptr

// The ioctls used here, in the order of an attach.
const (
	nbdSetSock       ioctlRequest = 0xab00 // hand over one socket (repeat for multi-conn)
	nbdSetBlksize    ioctlRequest = 0xab01 // logical block size, bytes
	nbdDoIt          ioctlRequest = 0xab03 // start the device and sleep until it stops
	nbdClearSock     ioctlRequest = 0xab04 // drop the sockets and reset the setup task
	nbdSetSizeBlocks ioctlRequest = 0xab07 // size in blocks of NBD_SET_BLKSIZE
	nbdDisconnect    ioctlRequest = 0xab08 // send NBD_CMD_DISC; NBD_DO_IT returns
	nbdSetTimeout    ioctlRequest = 0xab09 // per-request timeout, seconds
	nbdSetFlags      ioctlRequest = 0xab0a // transmission flags; without them no FLUSH/FUA/TRIM
)

var ioctlNames = map[ioctlRequest]string{
	nbdSetSock: "NBD_SET_SOCK", nbdSetBlksize: "NBD_SET_BLKSIZE", nbdDoIt: "NBD_DO_IT",
	nbdClearSock: "NBD_CLEAR_SOCK", nbdSetSizeBlocks: "NBD_SET_SIZE_BLOCKS",
	nbdDisconnect: "NBD_DISCONNECT", nbdSetTimeout: "NBD_SET_TIMEOUT", nbdSetFlags: "NBD_SET_FLAGS",
}

func (r ioctlRequest) String() string {
	if s, ok := ioctlNames[r]; ok {
		return s
	}
	return fmt.Sprintf("ioctl(%#x)", uintptr(r))
}

// ioctlSys holds the system calls of the ioctl path; nil fields are the
// real ones. Tests replace them with a fake device.
type ioctlSys struct {
	open  func(path string) (int, error)
	ioctl func(fd int, req ioctlRequest, arg uintptr) error
	close func(fd int) error
}

func (s ioctlSys) openDev(path string) (int, error) {
	if s.open != nil {
		return s.open(path)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("nbd: open %s: %w", path, err)
	}
	return fd, nil
}

func (s ioctlSys) do(fd int, req ioctlRequest, arg uintptr) error {
	if s.ioctl != nil {
		return s.ioctl(fd, req, arg)
	}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg); e != 0 {
		return e
	}
	return nil
}

func (s ioctlSys) closeFD(fd int) {
	if s.close != nil {
		s.close(fd)
		return
	}
	unix.Close(fd)
}

// ioctlStep is one configuring ioctl.
type ioctlStep struct {
	req ioctlRequest
	arg uintptr
}

// ioctlSetup lists the ioctls that configure a device before NBD_DO_IT, in
// the order the kernel needs: block size before the size in blocks, flags
// (else the kernel sends no FLUSH, FUA or TRIM), the timeout if any, then
// one NBD_SET_SOCK per connection.
func ioctlSetup(p attachParams, fds []int) []ioctlStep {
	steps := []ioctlStep{
		{nbdSetBlksize, uintptr(p.blockSize)},
		{nbdSetSizeBlocks, uintptr(p.size / uint64(p.blockSize))},
		{nbdSetFlags, uintptr(p.flags)},
	}
	if p.timeout > 0 {
		steps = append(steps, ioctlStep{nbdSetTimeout, uintptr(p.timeout)})
	}
	for _, fd := range fds {
		steps = append(steps, ioctlStep{nbdSetSock, uintptr(fd)})
	}
	return steps
}

// runIoctl configures the device at path and runs NBD_DO_IT until it stops.
// It reports the outcome of the setup on setup (nil just before NBD_DO_IT)
// and returns NBD_DO_IT's error. The kernel ties NBD_SET_SOCK to the calling
// thread, and any signal delivered to the thread sleeping in NBD_DO_IT tears
// the device down, so it all runs on a locked OS thread with every signal
// blocked. fds are closed once handed over (or on failure).
func runIoctl(sys ioctlSys, path string, p attachParams, fds []int, setup chan<- error) error {
	runtime.LockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^all.Val[i]
	}
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &all, &old); err != nil {
		closeFDs(fds)
		runtime.UnlockOSThread()
		setup <- fmt.Errorf("nbd: pthread_sigmask: %w", err)
		return nil
	}
	defer func() {
		// A thread whose mask cannot be restored is left locked: the
		// runtime then ends it with the goroutine.
		if unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return doIt(sys, path, p, fds, setup)
}

func doIt(sys ioctlSys, path string, p attachParams, fds []int, setup chan<- error) error {
	fd, err := sys.openDev(path)
	if err != nil {
		closeFDs(fds)
		setup <- err
		return nil
	}
	defer sys.closeFD(fd)
	err = configure(sys, fd, path, p, fds)
	closeFDs(fds)
	if err != nil {
		setup <- err
		return nil
	}
	setup <- nil
	err = sys.do(fd, nbdDoIt, 0)
	if cerr := sys.do(fd, nbdClearSock, 0); cerr != nil && err == nil {
		err = fmt.Errorf("nbd: %s on %s: %w", nbdClearSock, path, cerr)
	}
	if err != nil {
		return fmt.Errorf("nbd: %s on %s: %w", nbdDoIt, path, err)
	}
	return nil
}

func configure(sys ioctlSys, fd int, path string, p attachParams, fds []int) error {
	for _, s := range ioctlSetup(p, fds) {
		if err := sys.do(fd, s.req, s.arg); err != nil {
			_ = sys.do(fd, nbdClearSock, 0) // forget sockets already set
			return fmt.Errorf("nbd: %s(%d) on %s: %w", s.req, s.arg, path, err)
		}
	}
	return nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// ioctlDisconnect sends NBD_DISCONNECT to the device at path; its NBD_DO_IT
// then returns once the server has seen NBD_CMD_DISC.
func ioctlDisconnect(sys ioctlSys, path string) error {
	fd, err := sys.openDev(path)
	if err != nil {
		return err
	}
	defer sys.closeFD(fd)
	if err := sys.do(fd, nbdDisconnect, 0); err != nil {
		return fmt.Errorf("nbd: %s on %s: %w", nbdDisconnect, path, err)
	}
	return nil
}

// attachIoctl attaches with the ioctls, trying each idle device in turn when
// p.index is -1 (one that another task is setting up answers EBUSY).
func attachIoctl(ctx context.Context, srv *nbd.Server, b nbd.Backend, p attachParams, log *slog.Logger, sys ioctlSys) (*Device, error) {
	candidates := []int{p.index}
	if p.index < 0 {
		idle, err := IdleDevices(p.sysRoot)
		if err != nil {
			return nil, err
		}
		if len(idle) == 0 {
			return nil, fmt.Errorf("nbd: attach: no idle nbd device under %s", p.sysRoot)
		}
		candidates = idle
	}
	var err error
	for _, idx := range candidates {
		var d *Device
		d, err = attachIoctlIndex(ctx, srv, b, p, idx, log, sys)
		if err == nil {
			return d, nil
		}
		if p.index >= 0 || !errors.Is(err, unix.EBUSY) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func attachIoctlIndex(ctx context.Context, srv *nbd.Server, b nbd.Backend, p attachParams, idx int, log *slog.Logger, sys ioctlSys) (*Device, error) {
	pairs, err := newSocketPairs(p.conns)
	if err != nil {
		return nil, err
	}
	d := newDevice(ctx, AttachIoctl, p, log)
	d.sys = sys
	d.setIndex(idx)
	setup := make(chan error, 1)
	fds := kernelFDs(pairs) // runIoctl closes them
	d.served.Add(1)
	go func() {
		defer d.served.Done()
		d.setErr(runIoctl(sys, d.path, p, fds, setup))
		d.stopped.Store(true)
		d.cancel() // the kernel has let go of the sockets: stop serving
	}()
	d.serve(srv, b, pairs)
	if err := <-setup; err != nil {
		d.abort()
		return nil, fmt.Errorf("nbd: attach %s: %w", d.path, err)
	}
	if err := d.waitRunning(ctx); err != nil {
		_ = ioctlDisconnect(sys, d.path)
		d.abort()
		return nil, fmt.Errorf("nbd: attach %s: %w", d.path, err)
	}
	log.Info("nbd: attached", "dev", d.path, "mode", d.mode, "size", p.size, "block_size", p.blockSize,
		"flags", p.flags, "connections", p.conns)
	return d, nil
}

// waitRunning waits until sysfs shows the device running with its size: the
// kernel writes the pid file first and sets the capacity after it, and I/O
// before that fails (a mount gets EIO).
func (d *Device) waitRunning(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		info, err := ReadDeviceInfo(d.p.sysRoot, d.index)
		if err == nil && info.Running() && info.Size == int64(d.p.size) {
			return nil
		}
		select {
		case <-d.done:
			if err := d.Wait(); err != nil {
				return err
			}
			return errors.New("device stopped while starting")
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
