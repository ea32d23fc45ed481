package attach

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gomp-dev/gomp/nbd/kernel"
)

// The kernel's nbd driver has a clock of its own: a request older than its
// timeout is requeued on another connection of the device (whatever the
// timeout, when there is more than one) and its socket is marked dead,
// while gomp may still hold the first copy, queued for a path or in flight
// on a stalled session. Two copies of one write, the older one landing
// last, can overwrite newer data. So gomp owns time on the kernel path: its
// own policies (no_path_retry, the checker, the I/O watchdog, command
// timeouts) decide when a request fails.
//
// The default is one connection with timeout 0: the kernel then never
// fails or requeues a request while its socket is the same; every 30 s it
// logs "Possible stuck request" for one still waiting, and once the socket
// was replaced (NBD_CMD_RECONFIGURE after a gomp restart) it requeues the
// request on the new one (Linux 5.7 and later). With more connections no
// timeout is safe from requeueing, so the kernel gets one far beyond
// gomp's policies; the price is that requests in flight when gomp dies are
// resent only when that timeout runs out.
const (
	// kernelLongTimeout is 30 days: beyond any outage a queue_if_no_path
	// user rides out, and below the 2^32 jiffies the kernel stores it in
	// (at HZ=1000, 49.7 days).
	kernelLongTimeout = 30 * 24 * time.Hour
	// kernelDeadConnTimeout is how long the kernel keeps the device, its
	// I/O queued, once every connection died (a crashed gomp restarted by
	// systemd reconfigures it within that time).
	kernelDeadConnTimeout = 120 * time.Second
	// reconfigureBackoff spaces attempts to hand the kernel new sockets.
	reconfigureBackoff = time.Second
)

// kernelTimeoutFor returns the kernel request timeout for a device with
// conns connections: none (0) for one, kernelLongTimeout for more.
func kernelTimeoutFor(conns int) time.Duration {
	if conns > 1 {
		return kernelLongTimeout
	}
	return 0
}

// kernelDevice is what the supervisor needs of an *kernel.Device.
type kernelDevice interface {
	Done() <-chan struct{}
	Wait() error
	Index() int
	Mode() kernel.AttachMode
	Path() string
	Disconnect(ctx context.Context) error
}

// kernelSupervisor keeps the kernel device served: when every connection of
// it ended with an error while gomp still serves it, it hands the kernel new
// sockets (NBD_CMD_RECONFIGURE) within the dead-connection timeout, so
// that the device, its mount and the I/O the kernel holds survive.
type kernelSupervisor struct {
	log         *slog.Logger
	reconfigure func(ctx context.Context, index int) (kernelDevice, error)

	mu  sync.Mutex // guards dev
	dev kernelDevice

	cancel context.CancelFunc
	done   chan struct{}
}

func startKernelSupervisor(dev kernelDevice, log *slog.Logger,
	reconfigure func(ctx context.Context, index int) (kernelDevice, error)) *kernelSupervisor {
	ctx, cancel := context.WithCancel(context.Background())
	s := &kernelSupervisor{log: log, reconfigure: reconfigure, dev: dev, cancel: cancel, done: make(chan struct{})}
	go s.run(ctx)
	return s
}

// device returns the kernel device now served.
func (s *kernelSupervisor) device() kernelDevice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dev
}

// stop ends supervision (before a deliberate disconnect) and returns the
// device now served.
func (s *kernelSupervisor) stop() kernelDevice {
	s.cancel()
	<-s.done
	return s.device()
}

func (s *kernelSupervisor) run(ctx context.Context) {
	defer close(s.done)
	for {
		d := s.device()
		select {
		case <-ctx.Done():
			return
		case <-d.Done():
		}
		err := d.Wait()
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			s.log.Warn("the kernel disconnected the device; it is no longer exported there", "dev", d.Path())
			return
		}
		if d.Mode() != kernel.AttachNetlink {
			s.log.Error("the kernel device's connections ended; an ioctl-attached device cannot be given new ones",
				"dev", d.Path(), "err", err)
			return
		}
		s.log.Warn("the kernel device's connections ended; handing it new sockets", "dev", d.Path(), "err", err)
		nd := s.replace(ctx, d)
		if nd == nil {
			return
		}
		s.mu.Lock()
		s.dev = nd
		s.mu.Unlock()
	}
}

// replace reconfigures d's index with new sockets, retrying until the
// kernel's dead-connection timeout has run out; nil when it could not.
func (s *kernelSupervisor) replace(ctx context.Context, d kernelDevice) kernelDevice {
	deadline := time.Now().Add(kernelDeadConnTimeout)
	for {
		nd, err := s.reconfigure(ctx, d.Index())
		if err == nil {
			s.log.Info("the kernel device has new sockets", "dev", d.Path())
			return nd
		}
		if time.Now().After(deadline) {
			s.log.Error("could not hand the kernel new sockets; its I/O fails", "dev", d.Path(), "err", err)
			return nil
		}
		s.log.Warn("reconfigure failed; retrying", "dev", d.Path(), "err", err)
		t := time.NewTimer(reconfigureBackoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
