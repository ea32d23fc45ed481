package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/spf13/cobra"

	"github.com/gomp-dev/gomp/internal/safename"
	"github.com/gomp-dev/gomp/multipath"
)

// newStatusCmd builds "gomp status [--json] [NAME]".
func newStatusCmd(g *globalOpts) *cobra.Command {
	var (
		asJSON bool
		dir    string
		watch  watchFlags
	)
	cmd := &cobra.Command{
		Use:   "status [--json] [--watch [--interval D]] [NAME]",
		Short: "Show attached devices and their paths, like multipath -ll",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if watch.watch {
				return runWatch(cmd, dir, args, asJSON, watch.interval)
			}
			all, err := fetchEach(cmd.Context(), dir, args, (*control.Client).Status)
			if err != nil {
				return err
			}
			return printEach(cmd.OutOrStdout(), all, asJSON, printStatus)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (a list of devices; fields in the README)")
	cmd.Flags().StringVar(&dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	watch.register(cmd.Flags())
	return cmd
}

// namesFor returns the device named in args, or every attached device.
func namesFor(ctx context.Context, dir string, args []string) ([]string, error) {
	if len(args) == 1 {
		n, err := control.Resolve(ctx, dir, args[0])
		return []string{n}, err
	}
	return control.Names(dir)
}

// fetchEach asks the device named in args, or every attached device,
// with get; no device is an empty list, not nil.
func fetchEach[T any](ctx context.Context, dir string, args []string, get func(*control.Client, context.Context) (T, error)) ([]T, error) {
	names, err := namesFor(ctx, dir, args)
	if err != nil {
		return nil, err
	}
	all := []T{}
	for _, n := range names {
		v, err := get(control.NewClient(dir, n), ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, nil
}

// printEach prints all as one indented JSON list with asJSON, else each
// element with print.
func printEach[T any](w io.Writer, all []T, asJSON bool, print func(io.Writer, T)) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	for _, v := range all {
		print(w, v)
	}
	return nil
}

// printStatus prints one device the way multipath -ll does.
func printStatus(w io.Writer, st control.Status) {
	d := st.Device
	fmt.Fprintf(w, "%s (%s) %s,%s\n", d.Name, d.WWID, safename.Text(d.Vendor), safename.Text(d.Product))
	fmt.Fprintf(w, "size=%s block=%d selector='%s' policy=%s failback=%s no_path_retry=%s queueing=%v queued=%d\n",
		humanBytes(d.Size), d.BlockSize, d.Selector, d.Policy, d.Failback, d.NoPathRetry, d.Queueing, d.QueuedIOs)
	if d.Gone != "" {
		fmt.Fprintf(w, "gone: %s\n", safename.Text(d.Gone))
	}
	var ex []string
	for _, s := range []string{st.Exports.NBD, st.Exports.URI, st.Exports.Mount} {
		if s != "" {
			ex = append(ex, s)
		}
	}
	fmt.Fprintf(w, "export: %s\n", strings.Join(ex, " "))
	if d.InitiatorName != "" {
		fmt.Fprintf(w, "initiator: %s\n", safename.Text(d.InitiatorName))
	}
	fmt.Fprintf(w, "cache: %s; offers: %s\n", d.Capabilities.CacheMode, offers(d.Capabilities))
	for gi, g := range d.Groups {
		branch, pipe := "|-+-", "| "
		if gi == len(d.Groups)-1 {
			branch, pipe = "`-+-", "  "
		}
		fmt.Fprintf(w, "%s policy='%s' prio=%d status=%s\n", branch, d.Selector, g.Priority, g.State)
		for pi, p := range g.Paths {
			leaf := "|-"
			if pi == len(g.Paths)-1 {
				leaf = "`-"
			}
			fmt.Fprintf(w, "%s %s %s %s %s in_flight=%d completed=%d errors=%d read=%s written=%s\n",
				pipe, leaf, pathLabel(p), p.DMState, p.Checker, p.InFlight, p.Completed, p.Errors,
				humanBytes(int64(p.ReadBytes)), humanBytes(int64(p.WrittenBytes)))
			if p.LastError != "" && p.DMState != "active" {
				fmt.Fprintf(w, "%s    last error: %s\n", pipe, p.LastError)
			}
		}
	}
}

// offers lists what the device offers its users, as the kernel and NBD
// clients are told: flush, fua, trim, or read-only.
func offers(c multipath.Capabilities) string {
	var out []string
	for _, o := range []struct {
		on   bool
		name string
	}{{c.ReadOnly, "read-only"}, {c.Flush, "flush"}, {c.FUA, "fua"}, {c.Trim && !c.ReadOnly, "trim"}} {
		if o.on {
			out = append(out, o.name)
		}
	}
	if len(out) == 0 {
		return "write-through"
	}
	return strings.Join(out, " ")
}

// pathLabel names a path as --portal does: its portal, and "@IFACE" or
// "@SOURCE_IP" for a bound path.
func pathLabel(p multipath.PathStatus) string {
	switch {
	case p.Interface != "":
		return p.Portal + "@" + p.Interface
	case p.Source != "":
		return p.Portal + "@" + p.Source
	}
	return p.Portal
}

// newPathCmd builds "gomp path fail|reinstate NAME PORTAL".
func newPathCmd(g *globalOpts) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "path fail|reinstate NAME PORTAL",
		Short: "Fail a path by hand, or reinstate it (multipathd fail/reinstate path)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 3 || (args[0] != "fail" && args[0] != "reinstate") {
				return usagef("usage: gomp path fail|reinstate NAME PORTAL")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := control.Find(cmd.Context(), dir, args[1])
			if err != nil {
				return err
			}
			op := c.FailPath
			if args[0] == "reinstate" {
				op = c.ReinstatePath
			}
			if err := op(cmd.Context(), args[2]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: path %s %s\n", c.Name(), args[2], map[string]string{"fail": "failed", "reinstate": "reinstated"}[args[0]])
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	return cmd
}

// newDetachCmd builds "gomp detach NAME|/dev/nbdX".
func newDetachCmd(g *globalOpts) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "detach NAME|NODE|/dev/nbdX",
		Short: "Stop a running gomp attach: flush, unmount, disconnect, log out",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("usage: gomp detach NAME|NODE|/dev/nbdX")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := control.Find(cmd.Context(), dir, args[0])
			if err != nil {
				return err
			}
			if err := c.Detach(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: detaching\n", c.Name())
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	return cmd
}
