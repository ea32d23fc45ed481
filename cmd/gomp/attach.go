package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"
	"github.com/gomp-dev/gomp/cmd/gomp/internal/unixsock"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/multipath/conf"
	"github.com/gomp-dev/gomp/nbd"
	"github.com/gomp-dev/gomp/nbd/kernel"
)

// attachOpts are gomp attach's flags.
type attachOpts struct {
	target      string
	portals     []string
	luns        []int // --lun; empty: every disk LUN
	selector    string
	config      string
	alias       string
	noPathRetry string
	chap        chapFlags
	id          identityFlags // the host's initiator name
	nbdDev      string
	listen      []string
	nbdMaxConns int // connections to --listen sockets served at once
	nbdMaxMiB   int // payload MiB buffered by all NBD connections
	mount       string
	fstype      string
	mountOpts   string
	controlDir  string
	connections int
	tune        tuningFlags // digests and timers
	tls         tlsFlags    // NBD TLS on the --listen sockets

	// Node records: not part of a record themselves.
	node     string
	all      bool
	stateDir string

	metricsListen string // per process, for every device it serves
	procs         int    // per process: GOMAXPROCS
}

func newAttachCmd(g *globalOpts) *cobra.Command {
	o := &attachOpts{}
	cmd := &cobra.Command{
		Use:   "attach --target IQN --portal P [--portal P...] [--nbd /dev/nbdX | --listen unix:PATH|tcp:HOST:PORT]",
		Short: "Log in over every portal, build the multipath device and export it over NBD",
		Long: `attach logs in to the target through each portal (one session per path),
checks that every path reaches the same LUN (WWID), builds the multipath
device and exports it: to the kernel as /dev/nbdN (--nbd) and/or on an NBD
socket for userspace clients (--listen). It prints one line once the device is
ready and runs in the foreground until SIGINT/SIGTERM or "gomp detach NAME";
then it flushes, unmounts, disconnects and logs out.`,
		Example: `  gomp attach --target iqn.2026-11.dev.gomp:lab --portal 127.0.0.1 --portal 127.0.0.2 --listen unix:/run/gomp/lab.nbd
  gomp attach --target IQN --portal 192.0.2.10 --portal 198.51.100.10 --nbd /dev/nbd0 --mount /mnt/data
  gomp attach --target IQN --portal 192.0.2.10@eth1 --portal 198.51.100.10@eth2 --nbd auto`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAttach(cmd, g, o) },
	}
	o.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&o.node, "node", "", "attach from the node record NAME (gomp node add); flags given here override it")
	f.BoolVar(&o.all, "all", false, "attach every node record with startup=automatic, each as its own device")
	f.StringVar(&o.stateDir, "state-dir", defaultStateDir(), "directory of the node records (or $"+envStateDir+")")
	f.StringVar(&o.metricsListen, "metrics-listen", "", "serve Prometheus metrics at /metrics on tcp:HOST:PORT or unix:PATH (default off)")
	f.IntVar(&o.procs, "procs", 0, "threads running gomp's code at once (GOMAXPROCS; default $GOMAXPROCS, else half the CPUs, at least 1)")
	return cmd
}

// setProcs sets GOMAXPROCS for an attaching process: n when given, else
// $GOMAXPROCS when set, else half of the CPUs the process may use, at least
// one. gomp's work per I/O is a few microseconds of protocol handling,
// serialized per connection; a Go scheduler with a P per CPU spreads the
// goroutines of one request (NBD reader, worker, iSCSI reader) over
// threads that sleep and wake each other, so fewer Ps mean fewer context
// switches per request and more I/O per CPU (the README's Performance
// section has the figures). Half the CPUs leaves the rest to the
// application doing the I/O.
func setProcs(n int, log *slog.Logger) {
	switch {
	case n > 0:
	case os.Getenv("GOMAXPROCS") != "":
		return
	default:
		n = max(1, runtime.GOMAXPROCS(0)/2)
	}
	runtime.GOMAXPROCS(n)
	log.Debug("scheduler threads", "gomaxprocs", n, "cpus", runtime.NumCPU())
}

// register adds the flags that describe one attachment, the ones a node
// record can hold, to f.
func (o *attachOpts) register(f *pflag.FlagSet) {
	f.StringVar(&o.target, "target", "", "target IQN")
	f.StringArrayVar(&o.portals, "portal", nil, "portal HOST[:PORT][@IFACE|@SOURCE_IP]; repeat for each path")
	f.IntSliceVar(&o.luns, "lun", nil, "LUN numbers to attach, N[,M...] (default: every disk LUN the target maps to this host, one device each)")
	f.StringVar(&o.selector, "selector", "", "path selector: round-robin, queue-length or service-time (default service-time)")
	f.StringVar(&o.config, "config", "", "multipath.conf to read (default /etc/multipath.conf when present)")
	f.StringVar(&o.alias, "alias", "", "device name (default: alias from the config, else the WWID)")
	f.StringVar(&o.noPathRetry, "no-path-retry", "", `with no usable path: "fail" (or 0), "queue", or a number of checker intervals`)
	f.StringVar(&o.nbdDev, "nbd", "", "attach to the kernel: /dev/nbdN, or \"auto\" for the first free device")
	f.StringArrayVar(&o.listen, "listen", nil, "serve NBD on unix:PATH (mode 0600) or tcp:HOST:PORT")
	f.IntVar(&o.nbdMaxConns, "nbd-max-connections", 16, "NBD client connections served at once on --listen; more are closed")
	f.IntVar(&o.nbdMaxMiB, "nbd-max-memory", 256, "MiB of request payload all NBD connections may buffer together")
	f.StringVar(&o.mount, "mount", "", "mount the kernel device on this directory (needs --nbd)")
	f.StringVar(&o.fstype, "fstype", "ext4", "file system type for --mount")
	f.StringVar(&o.mountOpts, "mount-options", "", "mount options for --mount")
	f.StringVar(&o.controlDir, "control-dir", control.DefaultDir, "directory of the control sockets")
	f.IntVar(&o.connections, "connections", 1, "NBD connections to the kernel; more than 1 trades crash recovery for parallelism (see README)")
	o.chap.registerFlags(f)
	o.id.registerFlags(f)
	o.tune.registerFlags(f)
	o.tls.registerFlags(f)
}

func (o *attachOpts) validate() error {
	switch {
	case o.target == "" || len(o.portals) == 0:
		return usagef("attach needs --target and at least one --portal")
	case o.nbdDev == "" && len(o.listen) == 0:
		return usagef("attach needs --nbd /dev/nbdX and/or --listen unix:PATH")
	case o.mount != "" && o.nbdDev == "":
		return usagef("--mount needs --nbd")
	}
	if o.nbdMaxConns <= 0 || o.nbdMaxMiB <= 0 {
		return usagef("--nbd-max-connections and --nbd-max-memory must be positive")
	}
	for _, l := range o.listen {
		if !strings.HasPrefix(l, "unix:") && !strings.HasPrefix(l, "tcp:") {
			return usagef("--listen %q: want unix:PATH, unix:DIR/ or tcp:HOST:PORT", l)
		}
	}
	for _, n := range o.luns {
		if n < 0 || n > 16383 {
			return usagef("--lun %d: want 0 to 16383", n)
		}
	}
	return checkPortals(o.portals)
}

// checkPortals parses each --portal HOST[:PORT][@IFACE|@SOURCE_IP] and
// checks that its interface exists or its source address is the host's,
// so that a typo is a usage error naming it.
func checkPortals(portals []string) error {
	for _, p := range portals {
		_, b, err := iscsi.ParsePortal(p)
		if err != nil {
			return usagef("--portal: %v", err)
		}
		if err := b.Check(); err != nil {
			return usagef("--portal %s: %v", p, err)
		}
	}
	return nil
}

// mpConfig builds the multipath configuration from flags and config file.
func (o *attachOpts) mpConfig(g *globalOpts, log *slog.Logger) (multipath.Config, error) {
	creds, err := o.chap.credentials()
	if err != nil {
		return multipath.Config{}, err
	}
	cfg := multipath.Config{Target: o.target, Portals: o.portals, CHAP: creds, Logger: log}
	id, err := o.id.resolve(o.stateDir, log)
	if err != nil {
		clearCHAP(creds)
		return cfg, err
	}
	cfg.InitiatorName, cfg.InitiatorAlias = id.Name, id.Alias
	path := o.config
	if path == "" {
		if _, err := os.Stat("/etc/multipath.conf"); err == nil {
			path = "/etc/multipath.conf"
		}
	}
	if path != "" {
		file, warnings, err := conf.Load(path)
		if err != nil {
			return cfg, err
		}
		for _, w := range warnings {
			log.Warn("multipath.conf", "warning", w.String())
		}
		cfg.File = file
	}
	cfg.Alias = o.alias
	if o.selector != "" {
		cfg.PathSelector = o.selector
		if _, err := multipath.NewSelector(o.selector, 1); err != nil {
			return cfg, usagef("--selector: %v", err)
		}
	}
	if o.noPathRetry != "" {
		if err := cfg.NoPathRetry.UnmarshalText([]byte(o.noPathRetry)); err != nil {
			return cfg, usagef("--no-path-retry: %v", err)
		}
	}
	o.tune.apply(&cfg)
	return cfg, nil
}

func runAttach(cmd *cobra.Command, g *globalOpts, o *attachOpts) error {
	g.daemon = true
	if o.procs < 0 {
		return usagef("--procs %d: want a positive number", o.procs)
	}
	setProcs(o.procs, g.logger())
	ms, err := startMetrics(o.metricsListen, &g.served, g.logger())
	if err != nil {
		return err
	}
	defer ms.close()
	isids := &isidStore{dir: o.stateDir, log: g.logger()}
	g.sessions.ISID = isids.isid
	g.sessions.OnUnitAttention = g.lunSets.unitAttention
	defer isids.close()
	switch {
	case o.all:
		return runAttachAll(cmd, g, o)
	case o.node != "":
		rec, err := o.fromNode(cmd.Flags())
		if err != nil {
			return err
		}
		o = rec
	}
	ctx := cmd.Context()
	atts, err := startAttachments(ctx, g, o)
	if err != nil {
		return err
	}
	var names, readies []string
	for _, a := range atts {
		name, where := safename.Text(a.dev.Name()), safename.Text(a.readyTarget())
		fmt.Fprintf(cmd.OutOrStdout(), "ready: %s %s\n", name, where)
		names = append(names, name)
		readies = append(readies, name+" "+where)
	}
	log := g.logger()
	notify(log, "READY=1\nSTATUS=attached "+strings.Join(readies, ", "))
	return serveAttachments(ctx, log, atts, func() {
		notify(log, "STOPPING=1\nSTATUS=detaching "+strings.Join(names, ", "))
	})
}

// attachment is one running export of a device.
type attachment struct {
	dev       *multipath.Device
	log       *slog.Logger
	srv       *nbd.Server
	listeners []net.Listener
	kernel    *kernelSupervisor // the kernel device, when --nbd
	mounted   string
	exports   control.Exports
	control   *control.Server
	served    *deviceSet // where its metrics are served from
	stopped   bool
	creds     *iscsi.CHAP   // cleared once the last device using it is closed
	credUsers *atomic.Int32 // the attachments sharing creds
	set       *lunSet       // the devices of the same target, for rescans
}

func (a *attachment) readyTarget() string {
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
func (a *attachment) export(ctx context.Context, o *attachOpts) error {
	for _, l := range o.listenFor(a.dev.Name()) {
		ln, uri, err := listenNBD(l, a.dev.Name(), a.srv, a.log)
		if err != nil {
			return err
		}
		a.listeners = append(a.listeners, ln)
		a.exports.Listen, a.exports.URI = l, uri
		go func() { _ = a.srv.Serve(context.Background(), ln) }()
	}
	if o.nbdDev == "" {
		return nil
	}
	return a.attachKernel(ctx, o)
}

func (a *attachment) attachKernel(ctx context.Context, o *attachOpts) error {
	index := -1
	if o.nbdDev != "auto" {
		if _, err := fmt.Sscanf(o.nbdDev, "/dev/nbd%d", &index); err != nil || index < 0 {
			return usagef("--nbd %q: want /dev/nbdN or auto", o.nbdDev)
		}
	}
	conns := max(o.connections, 1)
	if conns > 1 {
		a.log.Warn("more than one kernel connection: the kernel is given a 30-day request timeout instead of none,"+
			" so a request in flight when gomp is killed waits that long after a restart", "connections", conns)
	}
	min_, _, _ := a.dev.BlockSize()
	cfg := kernel.AttachConfig{Index: index, BlockSize: min_, Connections: conns,
		Timeout: kernelTimeoutFor(conns), DeadConnTimeout: kernelDeadConnTimeout,
		BackendID: kernel.BackendID(a.dev.WWID()), Logger: a.log}
	d, err := kernel.AttachOrReconfigure(ctx, a.srv, a.dev, cfg)
	if err != nil {
		return fmt.Errorf("attach %s: %w", o.nbdDev, err)
	}
	a.kernel = startKernelSupervisor(d, a.log, func(ctx context.Context, index int) (kernelDevice, error) {
		c := cfg
		c.Index = index
		return kernel.Reconfigure(ctx, a.srv, a.dev, c)
	})
	a.exports.NBD = d.Path()
	if o.mount == "" {
		return nil
	}
	if kernel.Mounted(d.Path(), o.mount) { // re-attached: the mount survived
		a.mounted, a.exports.Mount = o.mount, o.mount
		return nil
	}
	opts := o.mountOpts
	if a.dev.ReadOnly() { // the kernel device is read-only too: a rw mount would fail
		opts = strings.TrimPrefix(opts+",ro", ",")
		a.log.Warn("the LUN is write protected: mounting read-only", "device", a.dev.Name(), "mount", o.mount)
	}
	if err := kernel.Mount(d.Path(), o.mount, o.fstype, opts); err != nil {
		return fmt.Errorf("mount %s on %s: %w", d.Path(), o.mount, err)
	}
	a.mounted, a.exports.Mount = o.mount, o.mount
	return nil
}

// listenNBD opens an NBD listener for unix:PATH or tcp:HOST:PORT.
func listenNBD(spec, name string, srv *nbd.Server, log *slog.Logger) (net.Listener, string, error) {
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		ln, err := unixsock.Listen(path, log)
		if err != nil {
			return nil, "", fmt.Errorf("--listen %s: %w", spec, err)
		}
		return ln, uriScheme(srv, true) + ":///" + name + "?socket=" + safename.Text(path), nil
	}
	addr := strings.TrimPrefix(spec, "tcp:")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--listen %s: %w", spec, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	warnTCP(log, addr, isLoopback(host), srv)
	return ln, uriScheme(srv, false) + "://" + ln.Addr().String() + "/" + name, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// stop undoes export in reverse order, once: unmount, disconnect the
// kernel device, drain the NBD server, flush and log out.
func (a *attachment) stop() error {
	if a.stopped {
		return nil
	}
	a.stopped = true
	a.served.remove(a.dev)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if a.mounted != "" {
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
	if a.credUsers == nil || a.credUsers.Add(-1) == 0 {
		clearCHAP(a.creds) // no session logs in again
	}
	if a.control != nil {
		a.control.Close()
	}
	err := errors.Join(errs...)
	if err == nil {
		a.log.Info("detached", "device", a.dev.Name())
	}
	return err
}
