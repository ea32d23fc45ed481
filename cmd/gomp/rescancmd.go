package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/spf13/cobra"
)

// newRescanCmd is gomp rescan [NAME|--all], like iscsiadm -m session -R.
func newRescanCmd(_ *globalOpts) *cobra.Command {
	var (
		dir string
		all bool
	)
	cmd := &cobra.Command{
		Use:   "rescan NAME|/dev/nbdX|--all",
		Short: "List the target's LUNs again: attach new ones, fail the devices of LUNs that are gone",
		Long: `rescan asks the gomp attach serving NAME to list the LUNs its target maps to
this host again (REPORT LUNS and INQUIRY through every portal), as
"iscsiadm -m session -R" does. A LUN with a new WWID is attached as a new
device; a device whose WWID no portal reports any more fails its I/O until
it is detached. A target's REPORTED LUNS DATA HAS CHANGED does the same on
its own. --all rescans every running gomp attach.`,
		Args: func(_ *cobra.Command, args []string) error {
			if all == (len(args) == 1) || len(args) > 1 {
				return usagef("usage: gomp rescan NAME|/dev/nbdX|--all")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			names, err := targetsOf(cmd, dir, all, args)
			if err != nil {
				return err
			}
			var errs []error
			for _, name := range names {
				rep, err := control.NewClient(dir, name).Rescan(cmd.Context())
				if err != nil {
					errs = append(errs, err)
					continue
				}
				printRescan(cmd, name, rep)
				if rep.Error != "" {
					errs = append(errs, fmt.Errorf("%s: %s", name, rep.Error))
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	cmd.Flags().BoolVar(&all, "all", false, "rescan every running gomp attach")
	return cmd
}

// targetsOf resolves the device names to send a request to: NAME, or
// one device of each running gomp attach for --all (a rescan covers
// every device of its process).
func targetsOf(cmd *cobra.Command, dir string, all bool, args []string) ([]string, error) {
	if !all {
		name, err := control.Resolve(cmd.Context(), dir, args[0])
		return []string{name}, err
	}
	names, err := control.Names(dir)
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var out []string
	for _, n := range names {
		st, err := control.NewClient(dir, n).Status(cmd.Context())
		if err != nil || seen[st.PID] {
			continue
		}
		seen[st.PID] = true
		out = append(out, n)
	}
	return out, nil
}

func printRescan(cmd *cobra.Command, name string, rep control.RescanReport) {
	w := cmd.OutOrStdout()
	for _, a := range rep.Added {
		fmt.Fprintf(w, "added: %s\n", a)
	}
	for _, g := range rep.Gone {
		fmt.Fprintf(w, "gone: %s (fails I/O; gomp detach %s)\n", g, g)
	}
	if len(rep.Added)+len(rep.Gone) == 0 && rep.Error == "" {
		fmt.Fprintf(w, "%s: no change\n", name)
	}
}

// newResizeCmd is gomp resize NAME, like multipathd resize map.
func newResizeCmd(_ *globalOpts) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "resize NAME|/dev/nbdX",
		Short: "Grow a device to its LUN's new capacity once every path reports it",
		Long: `resize reads the LUN's capacity through every path (READ CAPACITY) and, when
all agree, grows the device, its kernel /dev/nbdN (NBD_CMD_RECONFIGURE, or
NBD_SET_SIZE_BLOCKS) and what new NBD clients are told, as "multipathd
resize map" does. A target's CAPACITY DATA HAS CHANGED does the same on its
own. Paths that disagree leave the device as it is; a LUN that shrank is
refused.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("usage: gomp resize NAME|/dev/nbdX")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := control.Find(cmd.Context(), dir, args[0])
			if err != nil {
				return err
			}
			res, err := c.Resize(cmd.Context())
			if err != nil {
				return err
			}
			verb := "resized"
			if res.Old == res.Size {
				verb = "unchanged"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %d -> %d bytes\n", strings.TrimSpace(c.Name()), verb, res.Old, res.Size)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	return cmd
}
