package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/attach"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/gomp-dev/gomp/cmd/gomp/internal/node"
	"github.com/gomp-dev/gomp/iscsi"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envStateDir moves the state directory, like --state-dir.
const envStateDir = "GOMP_STATE_DIR"

// defaultStateDir is $GOMP_STATE_DIR, else /var/lib/gomp.
func defaultStateDir() string {
	if d := os.Getenv(envStateDir); d != "" {
		return d
	}
	return "/var/lib/gomp"
}

// notRecorded are attach's flags that a record cannot hold.
var notRecorded = map[string]bool{"node": true, "all": true, "state-dir": true, "help": true}

// pathFlags hold file names, which a record stores absolute: a service
// does not run in the directory "gomp node add" ran in.
var pathFlags = map[string]bool{"config": true, "chap-secret-file": true, "mutual-secret-file": true,
	"mount": true, "control-dir": true, "tls-certificates": true}

// recordFlagSet returns the attach flags a record can hold, bound to o.
func recordFlagSet(o *attachOpts) *pflag.FlagSet {
	fs := pflag.NewFlagSet("record", pflag.ContinueOnError)
	o.register(fs)
	return fs
}

// checkSetting validates one record line as the attach flag it names.
func checkSetting(key, value string) error {
	if notRecorded[key] {
		return fmt.Errorf("%q cannot be set in a node record", key)
	}
	fs := recordFlagSet(&attachOpts{})
	f := fs.Lookup(key)
	if f == nil {
		return fmt.Errorf("unknown key %q (keys are gomp attach flags: portal, target, nbd, …)", key)
	}
	if err := f.Value.Set(value); err != nil {
		return fmt.Errorf("%s %q: not a valid %s", key, value, f.Value.Type())
	}
	if key == "portal" {
		if _, _, err := iscsi.ParsePortal(value); err != nil {
			return err
		}
	}
	return nil
}

// fromNode returns the options of attach --node: the record's settings,
// with the flags given on the command line (cmdline) taking precedence.
func (o *attachOpts) fromNode(cmdline *pflag.FlagSet) (*attachOpts, error) {
	rec, err := node.Store{Dir: o.stateDir}.Load(o.node, checkSetting)
	if err != nil {
		return nil, err
	}
	ro, err := optsFromRecord(rec, cmdline)
	if ro != nil {
		ro.stateDir = o.stateDir // where a generated initiator name is kept
	}
	return ro, err
}

// optsFromRecord builds attach options from a record; flags changed on
// cmdline replace the record's values for that flag.
func optsFromRecord(rec *node.Record, cmdline *pflag.FlagSet) (*attachOpts, error) {
	o := &attachOpts{node: rec.Name}
	fs := recordFlagSet(o)
	given := map[string]bool{}
	var err error
	cmdline.Visit(func(f *pflag.Flag) {
		if notRecorded[f.Name] || fs.Lookup(f.Name) == nil || err != nil {
			return
		}
		given[f.Name] = true
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				err = fs.Set(f.Name, v)
			}
			return
		}
		err = fs.Set(f.Name, f.Value.String())
	})
	if err != nil {
		return nil, err
	}
	for _, st := range rec.Settings {
		if given[st.Key] {
			continue
		}
		if err := fs.Set(st.Key, st.Value); err != nil {
			return nil, &node.ParseError{File: rec.File, Line: st.Line, Msg: err.Error()}
		}
	}
	return o, nil
}

// notify sends an sd_notify state when gomp runs as a Type=notify systemd
// service ($NOTIFY_SOCKET); elsewhere it does nothing.
func notify(log *slog.Logger, state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		log.Warn("sd_notify failed", "state", strings.ReplaceAll(state, "\n", " "), "err", err)
	}
}

// runAttachAll attaches every automatic record, each as its own device
// with its own control socket, in this one process; "gomp detach NAME"
// detaches one, SIGTERM all. A record that cannot be read or attached is
// reported and does not stop the others; the exit status says whether
// all came up.
func runAttachAll(cmd *cobra.Command, g *globalOpts, o *attachOpts) error {
	if o.node != "" {
		return usagef("give --node NAME or --all, not both")
	}
	ctx := cmd.Context()
	log := g.logger()
	recs, failed := node.Store{Dir: o.stateDir}.All(checkSetting)
	for _, err := range failed {
		log.Error("node record not read", "err", err)
	}
	var atts []*attach.Attachment
	attached := 0
	for _, rec := range recs {
		if rec.Startup != node.StartupAutomatic {
			continue
		}
		ro, err := optsFromRecord(rec, cmd.Flags())
		if err == nil {
			ro.stateDir = o.stateDir
			var as []*attach.Attachment
			ready := func(a *attach.Attachment) { printReady(cmd.OutOrStdout(), log, a, " (node "+rec.Name+")") }
			if as, err = startAttachments(ctx, g, ro, ready); err == nil {
				for _, a := range as {
					readyLine(cmd.OutOrStdout(), a, " (node "+rec.Name+")")
				}
				atts = append(atts, as...)
				attached++
				continue
			}
		}
		err = fmt.Errorf("node %s: %w", rec.Name, err)
		log.Error("node not attached", "node", rec.Name, "err", err)
		failed = append(failed, err)
	}
	if len(atts) == 0 {
		if len(failed) == 0 {
			return fmt.Errorf("no node record with startup=automatic in %s", node.Store{Dir: o.stateDir}.Path(""))
		}
		return errors.Join(failed...)
	}
	notify(log, fmt.Sprintf("READY=1\nSTATUS=attached %d of %d automatic nodes", attached, attached+len(failed)))
	err := attach.Serve(ctx, log, atts, func() { notify(log, "STOPPING=1") })
	return errors.Join(append(failed, err)...)
}

// newNodeCmd builds "gomp node add|ls|show|rm".
func newNodeCmd(g *globalOpts) *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "node add|ls|show|rm",
		Short: "Manage node records: saved attachments, like iscsiadm -m node",
		Long: `A node record saves the flags of one gomp attach under a name, in
STATE_DIR/nodes/NAME (default /var/lib/gomp; --state-dir or $GOMP_STATE_DIR).
"gomp attach --node NAME" replays it; "gomp attach --all" attaches every record
with startup=automatic, as open-iscsi logs in to node.startup=automatic nodes
at boot. CHAP secrets are not stored: records name the secret files.`,
		Args: noArgs,
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", defaultStateDir(), "directory of the node records (or $"+envStateDir+")")
	store := func() node.Store { return node.Store{Dir: stateDir} }
	cmd.AddCommand(newNodeAddCmd(store), newNodeLsCmd(store), newNodeShowCmd(store), newNodeRmCmd(store))
	return cmd
}

// newNodeAddCmd builds "gomp node add".
func newNodeAddCmd(store func() node.Store) *cobra.Command {
	add := &cobra.Command{
		Use:   "add NAME --target IQN --portal P [--portal P...] [--startup automatic|manual] [attach flags]",
		Short: "Save a node record (replacing one of the same name)",
		Example: `  gomp node add lab --target iqn.2026-11.dev.gomp:lab --portal 198.18.0.1@eth1 --portal 198.18.1.1@eth2 \
      --nbd /dev/nbd0 --mount /srv/data --startup automatic`,
		Args: exactArgs(1, "gomp node add NAME --target IQN --portal P ..."),
	}
	ao := &attachOpts{}
	ao.register(add.Flags())
	startup := add.Flags().String("startup", node.StartupManual, "automatic: attached by gomp attach --all (at boot); manual: only by name")
	add.RunE = func(cmd *cobra.Command, args []string) error {
		rec, err := recordFromFlags(args[0], *startup, ao, cmd.Flags())
		if err != nil {
			return err
		}
		if err := store().Save(rec); err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "node %s saved in %s\n", rec.Name, store().Path(rec.Name))
		return nil
	}
	return add
}

// newNodeLsCmd builds "gomp node ls [--json]".
func newNodeLsCmd(store func() node.Store) *cobra.Command {
	var asJSON bool
	ls := &cobra.Command{
		Use:   "ls [--json]",
		Short: "List node records",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			recs, errs := store().All(checkSetting)
			if err := printNodes(cmd.OutOrStdout(), recs, asJSON); err != nil {
				return err
			}
			for _, err := range errs {
				fmt.Fprintln(cmd.ErrOrStderr(), "gomp: "+err.Error())
			}
			if len(errs) > 0 {
				return fmt.Errorf("%d of %d node records could not be read", len(errs), len(errs)+len(recs))
			}
			return nil
		},
	}
	ls.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return ls
}

// printNodes prints recs as a JSON list or as a table.
func printNodes(w io.Writer, recs []*node.Record, asJSON bool) error {
	if asJSON {
		list := make([]nodeJSON, 0, len(recs))
		for _, r := range recs {
			list = append(list, toJSON(r))
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTARTUP\tTARGET\tPORTALS")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Startup, r.Value("target"), strings.Join(r.Values("portal"), ","))
	}
	return tw.Flush()
}

// newNodeShowCmd builds "gomp node show NAME".
func newNodeShowCmd(store func() node.Store) *cobra.Command {
	return &cobra.Command{
		Use:   "show NAME",
		Short: "Print a node record",
		Args:  exactArgs(1, "gomp node show NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rec, err := store().Load(args[0], checkSetting)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(node.Format(rec))
			return err
		},
	}
}

// newNodeRmCmd builds "gomp node rm NAME".
func newNodeRmCmd(store func() node.Store) *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME",
		Short: "Delete a node record (an attached device stays attached)",
		Args:  exactArgs(1, "gomp node rm NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := store().Remove(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "node %s removed\n", args[0])
			return nil
		},
	}
}

// recordFromFlags builds a record from node add's flags: the attach flags
// given, file names made absolute. It refuses what attach would refuse,
// and a CHAP secret that only the environment holds (it would not be
// there at boot, and records never hold secrets).
func recordFromFlags(name, startup string, o *attachOpts, fs *pflag.FlagSet) (*node.Record, error) {
	if err := node.CheckName(name); err != nil {
		return nil, usagef("%v", err)
	}
	if startup != node.StartupAutomatic && startup != node.StartupManual {
		return nil, usagef("--startup %q: want automatic or manual", startup)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.chap.user != "" && o.chap.secretFile == "" {
		return nil, usagef("node records keep CHAP secrets in files: give --chap-secret-file")
	}
	if o.chap.mutualUser != "" && o.chap.mutualSecretFile == "" {
		return nil, usagef("node records keep CHAP secrets in files: give --mutual-secret-file")
	}
	rec := &node.Record{Name: name, Startup: startup}
	known := recordFlagSet(&attachOpts{})
	var err error
	fs.Visit(func(f *pflag.Flag) {
		if known.Lookup(f.Name) == nil || err != nil { // --startup, global flags
			return
		}
		values := []string{f.Value.String()}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			values = sv.GetSlice()
		}
		for _, v := range values {
			if pathFlags[f.Name] && v != "" {
				if v, err = filepath.Abs(v); err != nil {
					return
				}
			}
			if f.Name == "listen" {
				if p, ok := strings.CutPrefix(v, "unix:"); ok {
					if p, err = filepath.Abs(p); err != nil {
						return
					}
					v = "unix:" + p
				}
			}
			rec.Settings = append(rec.Settings, node.Setting{Key: f.Name, Value: v})
		}
	})
	return rec, err
}

// nodeJSON is a record in gomp node ls --json.
type nodeJSON struct {
	Name     string              `json:"name"`
	Startup  string              `json:"startup"`
	Target   string              `json:"target"`
	Portals  []string            `json:"portals"`
	Settings map[string][]string `json:"settings"`
	File     string              `json:"file"`
}

func toJSON(r *node.Record) nodeJSON {
	j := nodeJSON{Name: r.Name, Startup: r.Startup, Target: r.Value("target"), Portals: r.Values("portal"),
		Settings: map[string][]string{}, File: r.File}
	for _, s := range r.Settings {
		j.Settings[s.Key] = append(j.Settings[s.Key], s.Value)
	}
	return j
}

// exactArgs wants n positional arguments, else a usage error.
func exactArgs(n int, usage string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("usage: %s", usage)
		}
		return nil
	}
}
