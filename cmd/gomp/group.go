package main

import (
	"fmt"
	"strconv"

	"github.com/gomp-dev/gomp/cmd/gomp/internal/control"

	"github.com/spf13/cobra"
)

// newGroupCmd builds "gomp group switch NAME N", like multipathd's
// "switchgroup map NAME group N".
func newGroupCmd(g *globalOpts) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "group switch NAME N",
		Short: "Send I/O to path group N now (multipathd switchgroup)",
		Long: `group switch sends the device's I/O to its path group N, counted from 1 in
the order "gomp status" lists the groups (multipathd's numbering). The group
must have a usable path. With failback other than manual, I/O may move back
to the best group when a path changes state later.`,
		Example: "  gomp group switch lab 2",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 3 || args[0] != "switch" {
				return usagef("usage: gomp group switch NAME N")
			}
			if n, err := strconv.Atoi(args[2]); err != nil || n < 1 {
				return usagef("gomp group switch: group %q: want a number from 1", args[2])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := control.Find(cmd.Context(), dir, args[1])
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(args[2])
			if err := c.SwitchGroup(cmd.Context(), n-1); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: I/O goes to path group %d\n", c.Name(), n)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	return cmd
}

// newQueueingCmd builds "gomp queueing disable|restore NAME", like
// multipathd's disablequeueing and restorequeueing.
func newQueueingCmd(g *globalOpts) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "queueing disable|restore NAME",
		Short: "Fail queued I/O now and stop queueing, or queue again (multipathd disablequeueing)",
		Long: `queueing disable fails the I/O that waits for a path and makes I/O that
finds no usable path fail at once, whatever no_path_retry says, until
"queueing restore" (multipathd disablequeueing / restorequeueing). Use it
to release a device whose paths will not come back, before detaching it.`,
		Example: "  gomp queueing disable lab\n  gomp queueing restore lab",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 || (args[0] != "disable" && args[0] != "restore") {
				return usagef("usage: gomp queueing disable|restore NAME")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := control.Find(cmd.Context(), dir, args[1])
			if err != nil {
				return err
			}
			op := c.DisableQueueing
			if args[0] == "restore" {
				op = c.RestoreQueueing
			}
			if err := op(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: queueing %s\n", c.Name(), map[string]string{"disable": "disabled", "restore": "restored"}[args[0]])
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "control-dir", control.DefaultDir, "directory of the control sockets")
	return cmd
}
