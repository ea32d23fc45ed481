package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/attach"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/gomp-dev/gomp/multipath"
	"github.com/gomp-dev/gomp/multipath/conf"
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
	if _, err := o.nbdIndex(); err != nil {
		return err
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

// nbdIndex parses --nbd /dev/nbdN (N) or auto (-1).
func (o *attachOpts) nbdIndex() (int, error) {
	index := -1
	if o.nbdDev != "" && o.nbdDev != "auto" {
		if _, err := fmt.Sscanf(o.nbdDev, "/dev/nbd%d", &index); err != nil || index < 0 {
			return 0, usagef("--nbd %q: want /dev/nbdN or auto", o.nbdDev)
		}
	}
	return index, nil
}

// exportOptions are the attach package's Options from the flags.
func (o *attachOpts) exportOptions(g *globalOpts, log *slog.Logger) (*attach.Options, error) {
	mode, cfg, err := o.tls.server()
	if err != nil {
		return nil, err
	}
	index, err := o.nbdIndex()
	if err != nil {
		return nil, err
	}
	return &attach.Options{Kernel: o.nbdDev != "", Index: index, Connections: o.connections,
		Mount: o.mount, FSType: o.fstype, MountOptions: o.mountOpts,
		Listen: o.listen, MaxConns: o.nbdMaxConns, MaxMemory: int64(o.nbdMaxMiB) << 20, TLS: mode, TLSConfig: cfg,
		ControlDir: o.controlDir, Node: o.node, Served: &g.served, Logger: log}, nil
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
	defer ms.Close()
	isids := &isidStore{dir: o.stateDir, log: g.logger()}
	g.sessions.ISID = isids.isid
	g.sessions.OnUnitAttention = g.lunSets.UnitAttention
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
	log := g.logger()
	atts, err := startAttachments(ctx, g, o, func(a *attach.Attachment) { printReady(cmd.OutOrStdout(), log, a, "") })
	if err != nil {
		return err
	}
	var names, readies []string
	for _, a := range atts {
		name, where := readyLine(cmd.OutOrStdout(), a, "")
		names = append(names, name)
		readies = append(readies, name+" "+where)
	}
	notify(log, "READY=1\nSTATUS=attached "+strings.Join(readies, ", "))
	return attach.Serve(ctx, log, atts, func() {
		notify(log, "STOPPING=1\nSTATUS=detaching "+strings.Join(names, ", "))
	})
}

// printReady prints the ready line of a device a rescan attached and
// tells systemd (STATUS) about it, as for the devices of the start.
func printReady(w io.Writer, log *slog.Logger, a *attach.Attachment, suffix string) {
	name, where := readyLine(w, a, suffix)
	notify(log, "STATUS=attached "+name+" "+where+suffix+" (rescan)")
}

// readyLine prints "ready: NAME WHERE" and suffix for a, both escaped
// (they come from the target), and returns them.
func readyLine(w io.Writer, a *attach.Attachment, suffix string) (name, where string) {
	name, where = safename.Text(a.Device().Name()), safename.Text(a.Ready())
	fmt.Fprintf(w, "ready: %s %s%s\n", name, where, suffix)
	return name, where
}
