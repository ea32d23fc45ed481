package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/attach"
	"github.com/gomp-dev/gomp/cmd/gomp/internal/metrics"

	"github.com/spf13/cobra"

	"github.com/gomp-dev/gomp/multipath"
)

// globalOpts are the flags every command has.
type globalOpts struct {
	verbose   bool
	logFormat string
	timeout   time.Duration

	cpuProfile string
	profile    *os.File

	daemon bool            // a long-running command: logs state changes (Info)
	logOut io.Writer       // the command's stderr
	served metrics.Devices // devices this process serves (--metrics-listen)
	// sessions are the iSCSI sessions of this process, shared by every
	// device it attaches: one per target portal.
	sessions multipath.SessionPool
	lunSets  attach.Sets // the attached targets, rescanned on REPORTED LUNS DATA HAS CHANGED
}

// startProfile starts a CPU profile to --cpuprofile, if set.
func (g *globalOpts) startProfile() error {
	if g.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(g.cpuProfile)
	if err != nil {
		return err
	}
	g.profile = f
	return pprof.StartCPUProfile(f)
}

// stopProfile stops the CPU profile startProfile started, if any, and
// closes its file.
func (g *globalOpts) stopProfile() {
	if g.profile != nil {
		pprof.StopCPUProfile()
		g.profile.Close()
	}
}

// newRootCmd builds the gomp command with its global flags and every
// subcommand.
func newRootCmd() *cobra.Command {
	g := &globalOpts{}
	root := &cobra.Command{
		Use:   "gomp",
		Short: "iSCSI initiator with built-in multipath, exported through NBD",
		Long: `gomp logs in to an iSCSI target over one or more portals, folds the paths to
each LUN into one device with failover and load balancing, and exports it.

It replaces, for one host, open-iscsi (iscsiadm) plus multipath-tools:
  iscsiadm -m discovery -t st -p IP   ->  gomp discover IP
  iscsiadm -m node -T IQN -l          ->  gomp attach --target IQN --portal IP1 --portal IP2 --nbd auto
  multipath -ll                       ->  gomp status
  lsscsi / iscsiadm -m session -P3    ->  gomp ls --target IQN --portal IP1 --portal IP2`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err: err} })
	pf := root.PersistentFlags()
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log protocol events to stderr")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.DurationVar(&g.timeout, "timeout", 30*time.Second, "time limit for logins and commands")
	pf.StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to this file")
	_ = pf.MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkLogFormat(g.logFormat); err != nil {
			return err
		}
		g.logOut = cmd.ErrOrStderr()
		return g.startProfile()
	}
	root.PersistentPostRun = func(*cobra.Command, []string) { g.stopProfile() }
	root.AddCommand(newVersionCmd(), newDiscoverCmd(g), newLsCmd(g), newAttachCmd(g),
		newStatusCmd(g), newPathCmd(g), newPersistCmd(g), newDetachCmd(g), newNodeCmd(g), newConfigCmd(),
		newStatsCmd(g), newGroupCmd(g), newQueueingCmd(g),
		newRescanCmd(g), newResizeCmd(g))
	return root
}

// logger returns the logger the flags ask for (--log-format, -v), on the
// command's stderr.
func (g *globalOpts) logger() *slog.Logger {
	out := g.logOut
	if out == nil {
		out = os.Stderr
	}
	return newLogger(out, g.logFormat, g.logLevel())
}

// newVersionCmd builds "gomp version", which prints the version set at
// build time.
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print gomp's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "gomp", version)
			return nil
		},
	}
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
