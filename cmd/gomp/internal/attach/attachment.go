package attach

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"
	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/nbd"
	"github.com/gomp-dev/gomp/nbd/kernel"
)

// Options is how the devices of one gomp attach are exported.
type Options struct {
	// Kernel attaches each device to the kernel, as /dev/nbd<Index>, or
	// the first free device when Index is negative.
	Kernel bool
	Index  int
	// Connections is the number of kernel connections (default 1).
	Connections int
	// Mount, when set, is where the kernel device is mounted, with
	// FSType and MountOptions.
	Mount, FSType, MountOptions string
	// Listen are NBD sockets: unix:PATH, unix:DIR/ (DIR/NAME.nbd per
	// device) or tcp:HOST:PORT.
	Listen []string
	// MaxConns and MaxMemory bound the NBD connections of the sockets
	// and the payload bytes they may buffer together.
	MaxConns  int
	MaxMemory int64
	// TLS and TLSConfig are the NBD sockets' TLS policy.
	TLS       nbd.TLSMode
	TLSConfig *tls.Config
	// ControlDir holds the devices' control sockets; Node is the node
	// record attached, shown in their status.
	ControlDir, Node string
	// Served, when set, is told of every device served and stopped (the
	// metrics collector's list).
	Served Registry
	// OnAttach, when set, is called with each device a rescan attached,
	// once it is served.
	OnAttach func(*Attachment)
	Logger   *slog.Logger
}

// Registry keeps the devices a process serves.
type Registry interface {
	Add(*multipath.Device)
	Remove(*multipath.Device)
}

// Attachment is one exported device. Its methods are not safe for
// concurrent use, except Device and Ready.
type Attachment struct {
	dev       *multipath.Device
	o         *Options
	log       *slog.Logger
	srv       *nbd.Server
	listeners []net.Listener
	kernel    *kernelSupervisor // the kernel device, when Options.Kernel
	mounted   string
	exports   control.Exports
	control   *control.Server
	stopped   bool
	creds     *Release // released once the last device using it is closed
	set       *Set     // the devices of the same target, for rescans
}

// Export exports dev as o says (kernel device, sockets) and opens its
// control socket; creds, when not nil, is held until Stop. On error dev
// is closed.
func Export(ctx context.Context, o *Options, dev *multipath.Device, creds *Release) (*Attachment, error) {
	log := o.Logger
	a := &Attachment{dev: dev, o: o, log: log, creds: creds, srv: &nbd.Server{Backend: dev, ExportName: dev.Name(),
		Description: "gomp " + dev.WWID(), Logger: log, MaxConns: o.MaxConns,
		MaxTotalInFlightBytes: o.MaxMemory, TLS: o.TLS, TLSConfig: o.TLSConfig}}
	creds.hold()
	if o.Served != nil {
		o.Served.Add(dev)
	}
	if err := a.export(ctx); err != nil {
		a.Stop()
		return nil, err
	}
	a.exports.Node = o.Node
	cs, err := control.Serve(o.ControlDir, dev.Name(), dev, a.exports, log)
	if err != nil {
		a.Stop()
		return nil, err
	}
	a.control = cs
	a.followResize()
	return a, nil
}

// Device is the exported device.
func (a *Attachment) Device() *multipath.Device { return a.dev }

// Ready says where the device is exported: "/dev/nbd0 nbd+unix:///…
// mounted on /srv".
func (a *Attachment) Ready() string {
	parts := []string{}
	if a.exports.NBD != "" {
		parts = append(parts, a.exports.NBD)
	}
	if a.exports.URI != "" {
		parts = append(parts, a.exports.URI)
	}
	if a.exports.Mount != "" {
		parts = append(parts, "mounted on "+a.exports.Mount)
	}
	return strings.Join(parts, " ")
}

// export starts the NBD listeners and the kernel device.
func (a *Attachment) export(ctx context.Context) error {
	for _, l := range ListenFor(a.o.Listen, a.dev.Name()) {
		ln, uri, err := listenNBD(l, a.dev.Name(), a.srv, a.log)
		if err != nil {
			return err
		}
		a.listeners = append(a.listeners, ln)
		a.exports.Listen, a.exports.URI = l, uri
		go func() { _ = a.srv.Serve(context.Background(), ln) }()
	}
	if !a.o.Kernel {
		return nil
	}
	return a.attachKernel(ctx)
}

// ListenFor returns the listen values of the device name: unix:DIR/
// becomes unix:DIR/NAME.nbd.
func ListenFor(listen []string, name string) []string {
	out := make([]string, len(listen))
	for i, l := range listen {
		out[i] = l
		if dir, ok := strings.CutPrefix(l, "unix:"); ok && strings.HasSuffix(dir, "/") {
			out[i] = "unix:" + filepath.Join(dir, name+".nbd")
		}
	}
	return out
}

func (a *Attachment) attachKernel(ctx context.Context) error {
	conns := max(a.o.Connections, 1)
	if conns > 1 {
		a.log.Warn("more than one kernel connection: the kernel is given a 30-day request timeout instead of none,"+
			" so a request in flight when gomp is killed waits that long after a restart", "connections", conns)
	}
	min_, _, _ := a.dev.BlockSize()
	cfg := kernel.AttachConfig{Index: a.o.Index, BlockSize: min_, Connections: conns,
		Timeout: kernelTimeoutFor(conns), DeadConnTimeout: kernelDeadConnTimeout,
		BackendID: kernel.BackendID(a.dev.WWID()), Logger: a.log}
	d, err := kernel.AttachOrReconfigure(ctx, a.srv, a.dev, cfg)
	if err != nil {
		return fmt.Errorf("attach %s: %w", nbdName(a.o.Index), err)
	}
	a.kernel = startKernelSupervisor(d, a.log, func(ctx context.Context, index int) (kernelDevice, error) {
		c := cfg
		c.Index = index
		return kernel.Reconfigure(ctx, a.srv, a.dev, c)
	})
	a.exports.NBD = d.Path()
	if a.o.Mount == "" {
		return nil
	}
	return a.mount(d.Path())
}

// nbdName is how --nbd named the device: /dev/nbdN, or auto.
func nbdName(index int) string {
	if index < 0 {
		return "auto"
	}
	return fmt.Sprintf("/dev/nbd%d", index)
}

// mount mounts the kernel device path on Options.Mount, unless it still
// is (a re-attached device whose mount survived).
func (a *Attachment) mount(path string) error {
	dir := a.o.Mount
	if kernel.Mounted(path, dir) {
		a.mounted, a.exports.Mount = dir, dir
		return nil
	}
	opts := a.o.MountOptions
	if a.dev.ReadOnly() { // the kernel device is read-only too: a rw mount would fail
		opts = strings.TrimPrefix(opts+",ro", ",")
		a.log.Warn("the LUN is write protected: mounting read-only", "device", a.dev.Name(), "mount", dir)
	}
	if err := kernel.Mount(path, dir, a.o.FSType, opts); err != nil {
		return fmt.Errorf("mount %s on %s: %w", path, dir, err)
	}
	a.mounted, a.exports.Mount = dir, dir
	return nil
}

// followResize makes a grown device grow its kernel device too.
func (a *Attachment) followResize() {
	a.dev.SetOnResize(func(_, size int64) {
		if a.kernel == nil {
			return
		}
		kd, ok := a.kernel.device().(interface {
			Resize(context.Context, int64) error
		})
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kd.Resize(ctx, size); err != nil {
			a.log.Error("the kernel device keeps its old size", "device", a.dev.Name(), "err", err)
		}
	})
}

// Stop undoes Export in reverse order, once: unmount, disconnect the
// kernel device, drain the NBD server, flush and log out.
func (a *Attachment) Stop() error {
	if a.stopped {
		return nil
	}
	a.stopped = true
	if a.o.Served != nil {
		a.o.Served.Remove(a.dev)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if a.mounted != "" && kernel.Mounted(a.exports.NBD, a.mounted) { // unmounted by hand: nothing to undo
		errs = append(errs, kernel.Unmount(a.mounted))
	}
	if a.kernel != nil {
		errs = append(errs, a.kernel.stop().Disconnect(ctx))
	}
	errs = append(errs, a.srv.Shutdown(ctx))
	for _, ln := range a.listeners {
		ln.Close() // a unix listener removes its socket
	}
	errs = append(errs, a.dev.Close(ctx))
	a.creds.done() // no session logs in again
	if a.control != nil {
		a.control.Close()
	}
	err := errors.Join(errs...)
	if err == nil {
		a.log.Info("detached", "device", a.dev.Name())
	}
	return err
}
